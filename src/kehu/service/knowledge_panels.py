"""Suggested articles on the ticket page (registered with ticket_panels in apps.py): the top published
articles by terms shared with the ticket's subject and first message, each with why it was suggested and
an "insert link" button that puts the article's public address into the reply box."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from kehu.core.permissions import can
from kehu.service import knowledge_selectors
from kehu.service.models import KbArticle


def ticket_text(ticket: Any) -> str:
    """The ticket's subject and first message (the conversation is the ticket topic's: its first message
    is read through whichever related name it has)."""
    parts = [ticket.subject or ""]
    for name in ("messages", "conversation", "entries"):
        related = getattr(ticket, name, None)
        if related is not None and hasattr(related, "order_by"):
            first = related.order_by("created_at", "pk").first()
            body = getattr(first, "body", "") or getattr(first, "text", "") if first is not None else ""
            if body:
                parts.append(body[:5000])
            break
    return "\n".join(parts)


def suggestions_panel(request: Any, ticket: Any, **kwargs: Any) -> str:
    actor = request.user
    if not can(actor, "view", KbArticle) or not can(actor, "view", ticket):
        return ""
    suggestions = knowledge_selectors.suggestions_for(actor=actor, text=ticket_text(ticket))
    centre = knowledge_selectors.help_centre_of(actor)
    return render_to_string(
        "service/knowledge/_suggestions.html",
        {"suggestions": suggestions, "ticket": ticket, "centre": centre},
        request=request,
    )
