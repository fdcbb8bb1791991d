"""The global search box: modules register providers; each returns the records the actor may see."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kehu.core import modules
from kehu.core.permissions import can


@dataclass(frozen=True)
class SearchHit:
    title: str
    subtitle: str
    url: str
    kind: str


class Hits(list):
    """A provider's hits, and `more_url` when the box searched only the newest records of that type (a
    bounded walk, search_backends.newest_walked) and older ones may match: the list that searches them all."""

    more_url: str = ""


def bounded_hits(hits: list[SearchHit], *, complete: bool, list_url: str, query: str) -> Hits:
    """`hits` with the link to `list_url` searching `query` when the box's walk was not `complete`."""
    result = Hits(hits)
    if not complete:
        result.more_url = f"{list_url}?{urlencode({'search': query})}"
    return result


Provider = Callable[..., list[SearchHit]]
_providers: list[tuple[str, Provider, Any]] = []


def register_provider(module_key: str, provider: Provider, *, label: Any = None) -> None:
    """`provider(actor=..., query=..., limit=...)` returns hits visible to the actor. Its hits are shown
    under `label` (default: the module's name), so a module with several record types shows a group each.
    A provider that searched only the newest records returns Hits with `more_url` (bounded_hits): its
    group is shown, with a link to the list, even when the walk found nothing."""
    _providers.append((module_key, provider, label))


def global_search(*, actor: Any, query: str, limit: int = 10) -> list[tuple[str, list[SearchHit]]]:
    query = (query or "").strip()
    if not query:
        return []
    groups = []
    for module_key, provider, label in _providers:
        if not can(actor, "view", module_key):
            continue
        hits = provider(actor=actor, query=query, limit=limit)
        if hits or getattr(hits, "more_url", ""):
            groups.append((str(label or modules.get(module_key).label), hits))
    return groups
