"""Reads of the knowledge base: lists, search, suggestions for a ticket, the public help centre.

Search: the query is split into words (at most MAX_WORDS); each word, normalised by the core search
parser (NFKC, lower case, control characters removed), must occur in the article's `search_text`. LIKE
matching finds any fragment, 1- and 2-character Chinese ones included, on SQLite and PostgreSQL alike (a
knowledge base holds thousands of articles, not millions: the organisation's rows are read through the
(organization, status, ...) index). Title matches rank first, then the newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from kehu.core.errors import NotFound
from kehu.core.search_backends import parse
from kehu.service import knowledge_text
from kehu.service.knowledge_services import help_centre_for
from kehu.service.models import HelpCentre, KbArticle, KbCategory

MAX_WORDS = 5
SEARCH_LIMIT = 50
SUGGESTION_LIMIT = 3
SUGGESTION_POOL = 500  # newest published articles compared with a ticket
SUGGESTION_MIN_SCORE = 2


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


def search_words(query: str | None) -> list[str]:
    words = []
    for word in (query or "").split():
        terms = parse(word)
        if terms is not None and terms.needle not in words:
            words.append(terms.needle)
    return words[:MAX_WORDS]


def matching(qs: QuerySet[KbArticle], query: str | None) -> QuerySet[KbArticle]:
    """Articles of `qs` containing every word of `query` (unranked; the API pages through it)."""
    for word in search_words(query):
        qs = qs.filter(search_text__contains=word)
    return qs


def ranked(qs: QuerySet[KbArticle], query: str | None) -> QuerySet[KbArticle]:
    """`matching`, title matches first, newest first within each."""
    words = search_words(query)
    qs = matching(qs, query)
    if not words:
        return qs.order_by("-updated_at", "-id")
    in_title = Q()
    for word in words:
        in_title &= Q(title__icontains=word)
    return qs.annotate(
        _rank=Case(When(in_title, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("_rank", "-updated_at", "-id")


# Categories and articles -------------------------------------------------------------------------------


def category_list_for(*, actor: Any) -> QuerySet[KbCategory]:
    return KbCategory.objects.visible_to(actor).order_by("position", "name", "id")


def category_get_for(*, actor: Any, pk: Any) -> KbCategory:
    return _get(category_list_for(actor=actor), pk)


def article_list_for(
    *, actor: Any, category: Any = None, status: str | None = None, search: str | None = None, author: Any = None
) -> QuerySet[KbArticle]:
    qs = KbArticle.objects.visible_to(actor).select_related("category", "owner")
    if category is not None:
        qs = qs.filter(category_id=getattr(category, "pk", category))
    if status:
        qs = qs.filter(status=status)
    if author is not None:
        qs = qs.filter(owner_id=getattr(author, "pk", author))
    if search:
        qs = matching(qs, search)
    return qs


def article_get_for(*, actor: Any, pk: Any) -> KbArticle:
    return _get(article_list_for(actor=actor), pk)


def article_recycle_bin_for(*, actor: Any) -> QuerySet[KbArticle]:
    return KbArticle.objects.in_recycle_bin_for(actor).select_related("category", "owner", "updated_by")


def article_deleted_get_for(*, actor: Any, pk: Any) -> KbArticle:
    return _get(article_recycle_bin_for(actor=actor), pk)


# Suggestions for a ticket -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    article: KbArticle
    score: int
    shared: list[str]  # the terms the ticket and the article share, title terms first


def suggestions_for(*, actor: Any, text: str, limit: int = SUGGESTION_LIMIT) -> list[Suggestion]:
    """The published articles that share the most terms with `text` (a ticket's subject and first
    message). Terms are 2-character windows of Chinese text and English words of 3+ letters; a term in the
    title counts twice. At least SUGGESTION_MIN_SCORE points, so one common word suggests nothing."""
    wanted = knowledge_text.terms(text)
    if not wanted:
        return []
    pool = (
        KbArticle.objects.visible_to(actor)
        .filter(status=KbArticle.Status.PUBLISHED)
        .only("pk", "title", "search_text", "updated_at", "category_id", "organization_id", "status", "owner_id")
        .order_by("-updated_at", "-id")[:SUGGESTION_POOL]
    )
    scored = []
    for article in pool:
        title_terms = knowledge_text.terms(article.title) & wanted
        body_terms = knowledge_text.terms(article.search_text) & wanted
        score = len(body_terms | title_terms) + len(title_terms)
        if score >= SUGGESTION_MIN_SCORE:
            shared = sorted(title_terms) + sorted(body_terms - title_terms)
            scored.append(Suggestion(article, score, shared[:8]))
    scored.sort(key=lambda s: (-s.score, -s.article.updated_at.timestamp(), -s.article.pk))
    return scored[:limit]


# The public help centre -------------------------------------------------------------------------------


def help_centre_by_slug(slug: str) -> HelpCentre:
    """The public help centre at /help/<slug>/: 404 unless it exists, is public, and its organisation is
    active with the service module enabled."""
    from kehu.core import modules

    centre = (
        HelpCentre.objects.filter(slug=(slug or "")[:50].lower(), is_public=True).select_related("organization").first()
    )
    if centre is None or not centre.organization.is_active or not modules.is_enabled(centre.organization, "service"):
        raise NotFound()
    return centre


def public_articles(centre: HelpCentre) -> QuerySet[KbArticle]:
    """Published articles of the help centre's organisation: the only rows the public pages read."""
    return KbArticle.objects.filter(
        organization_id=centre.organization_id, deleted_at__isnull=True, status=KbArticle.Status.PUBLISHED
    ).select_related("category")


def public_categories(centre: HelpCentre) -> QuerySet[KbCategory]:
    return KbCategory.objects.filter(organization_id=centre.organization_id).order_by("position", "name", "id")


def public_article(centre: HelpCentre, pk: Any) -> KbArticle:
    return _get(public_articles(centre), pk)


def help_centre_of(actor: Any) -> HelpCentre:
    return help_centre_for(actor.organization)


# Keyset pages of the article list ----------------------------------------------------------------------

ORDERINGS = ("-updated_at", "updated_at", "title", "-title")
PAGE_SIZE = 50


@dataclass
class ArticlePage:
    items: list[KbArticle]
    ordering: str
    next_cursor: str | None = None


def _encode(ordering: str, article: KbArticle) -> str:
    import base64
    import json

    value = getattr(article, ordering.lstrip("-"))
    payload = {"o": ordering, "v": value.isoformat() if hasattr(value, "isoformat") else value, "i": article.pk}
    return base64.urlsafe_b64encode(json.dumps(payload, ensure_ascii=False).encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str) -> tuple[Any, int] | None:
    """(value, pk) of a cursor of this ordering, or None for anything else (a stale or forged cursor
    simply starts at the first page)."""
    import base64
    import binascii
    import json
    from datetime import datetime

    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if payload["o"] != ordering:
            return None
        value, pk = payload["v"], int(payload["i"])
        if not isinstance(value, str) or "\x00" in value:
            return None
        if ordering.lstrip("-") == "updated_at":
            value = datetime.fromisoformat(value)
        return value, pk
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None


def article_page(qs: QuerySet[KbArticle], *, ordering: str, cursor: str | None, limit: int = PAGE_SIZE) -> ArticlePage:
    """One page after `cursor` in `ordering` (then id), without a COUNT."""
    ordering = ordering if ordering in ORDERINGS else ORDERINGS[0]
    name, descending = ordering.lstrip("-"), ordering.startswith("-")
    position = _decode(cursor, ordering) if cursor else None
    if position is not None:
        value, pk = position
        op = "lt" if descending else "gt"
        qs = qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk}))
    order = (f"-{name}", "-pk") if descending else (name, "pk")
    rows = list(qs.order_by(*order)[: limit + 1])
    page = ArticlePage(items=rows[:limit], ordering=ordering)
    if len(rows) > limit:
        page.next_cursor = _encode(ordering, rows[limit - 1])
    return page
