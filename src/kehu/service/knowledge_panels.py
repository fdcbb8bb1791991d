"""Suggested articles on the ticket page (registered with ticket_panels in apps.py): the top published
articles by terms shared with the ticket's subject and first message, each with why it was suggested and
an "insert link" button that puts the article's public address into the reply box."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.permissions import can
from kehu.service import knowledge_selectors
from kehu.service.models import KbArticle


def ticket_text(ticket: Any) -> str:
    """The ticket's subject and first message (the conversation is the ticket topic's `ticket.messages`,
    each with a `body`; the ticket page hands over what it loaded as `ticket.conversation`)."""
    parts = [ticket.subject or ""]
    loaded = getattr(ticket, "conversation", None)  # the ticket page's messages, oldest first: no query
    messages = getattr(ticket, "messages", None)
    if loaded is not None:
        first = loaded[0] if loaded else None
    elif messages is not None and hasattr(messages, "order_by"):
        first = messages.order_by("created_at", "pk").first()
    else:
        first = None
    body = getattr(first, "body", "") if first is not None else ""
    if body:
        parts.append(body[:5000])
    return "\n".join(parts)


def suggestions_panel(*, actor: Any, ticket: Any, **kwargs: Any) -> tuple[str, str] | None:
    """ticket_panels: (title, html) with up to three suggestions (or a line saying there are none)."""
    if not can(actor, "view", KbArticle) or not can(actor, "view", ticket):
        return None
    suggestions = knowledge_selectors.suggestions_for(actor=actor, text=ticket_text(ticket))
    centre = knowledge_selectors.help_centre_of(actor)
    base = settings.SITE_URL.rstrip("/")
    rows = [
        {
            "suggestion": s,
            "public_url": base + reverse("help:article", args=[centre.slug, s.article.pk]) if centre.is_public else "",
        }
        for s in suggestions
    ]
    html = render_to_string("service/knowledge/_suggestions.html", {"rows": rows, "ticket": ticket})
    return _("Suggested articles"), html
