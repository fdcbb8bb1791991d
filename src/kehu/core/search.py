"""The global search box: modules register providers; each returns the records the actor may see."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kehu.core import modules
from kehu.core.permissions import can


@dataclass(frozen=True)
class SearchHit:
    title: str
    subtitle: str
    url: str
    kind: str


Provider = Callable[..., list[SearchHit]]
_providers: list[tuple[str, Provider, Any]] = []


def register_provider(module_key: str, provider: Provider, *, label: Any = None) -> None:
    """`provider(actor=..., query=..., limit=...)` returns hits visible to the actor. Its hits are shown
    under `label` (default: the module's name), so a module with several record types shows a group each."""
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
        if hits:
            groups.append((str(label or modules.get(module_key).label), hits))
    return groups
