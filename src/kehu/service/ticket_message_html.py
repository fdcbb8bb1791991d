"""The ticket page's conversation, rendered in Python: the markup service/ticket/_message.html gave for each
message (a long conversation included the template once per message, the page's dearest part after the
layout). Every value goes through core/fast_html.esc (what the template's autoescaping did);
tests/service/test_ticket_message_html.py renders the template as the reference and compares the bytes.
"""

from __future__ import annotations

from typing import Any

from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kehu.core.fast_html import esc
from kehu.service.templatetags.ticket_tags import date_formatter

_MARKER = 987654321987


class MessageRenderer:
    """Renders the messages of one page: labels translated and the attachment address reversed once."""

    def __init__(self) -> None:
        self.customer = esc(_("Customer"))
        self.note = esc(_("Internal note"))
        self.reply = esc(_("Public reply"))
        self.sent = esc(_("sent"))
        self.sending = esc(_("sending…"))
        self.not_sent = _("not sent: %(error)s")
        self.download = esc(reverse("service:ticket_attachment", args=[_MARKER])).replace(str(_MARKER), "{}")
        self.zone = timezone.get_current_timezone()
        self.minute, self.second = date_formatter("Y-m-d H:i"), date_formatter("Y-m-d H:i:s")

    def _local(self, value: Any) -> Any:
        # What the template's date filter is given: the time in the current time zone.
        return timezone.localtime(value, self.zone) if timezone.is_aware(value) else value

    def _header(self, message: Any) -> str:
        kind = message.kind
        if kind == "customer":
            name = message.author_name or message.author_email
            email = ""
            if message.author_name and message.author_email:
                email = f' <span class="text-body-secondary">&lt;{esc(message.author_email)}&gt;</span>'
            return (
                '\n      <i class="bi bi-person-circle text-primary"></i>\n'
                f"      <strong>{esc(name)}</strong>{email}\n"
                f'      <span class="badge text-bg-light border">{self.customer}</span>\n    '
            )
        author = message.author
        who = esc(author if author is not None else message.author_name)
        if kind == "note":
            return (
                '\n      <i class="bi bi-lock text-warning"></i>\n'
                f"      <strong>{who}</strong>\n"
                f'      <span class="badge text-bg-warning">{self.note}</span>\n    '
            )
        if message.sent_at:
            state = (
                '<span class="text-body-secondary" title="'
                f'{esc(self.second(self._local(message.sent_at)))}">'
                f'<i class="bi bi-envelope-check"></i> {self.sent}</span>\n      '
            )
        elif message.send_error:
            state = (
                '<span class="text-danger" data-testid="send-error"><i class="bi bi-envelope-exclamation"></i> '
                f"{self.not_sent % {'error': esc(message.send_error)}}</span>\n      "
            )
        else:
            state = f'<span class="text-body-secondary"><i class="bi bi-hourglass"></i> {self.sending}</span>'
        return (
            '\n      <i class="bi bi-reply text-success"></i>\n'
            f"      <strong>{who}</strong>\n"
            f'      <span class="badge text-bg-success">{self.reply}</span>\n'
            f"      {state}\n    "
        )

    def _files(self, message: Any) -> str:
        files = message.attachments.all()
        if not files:
            return ""
        items = "".join(
            f'<li class="list-inline-item"><a href="{self.download.format(file.pk)}"><i class="bi bi-paperclip"></i>'
            f' {esc(file.original_name)}</a> <span class="text-body-secondary">({esc(filesizeformat(file.size))})'
            "</span></li>"
            for file in files
        )
        return f'\n  <ul class="list-inline small mt-2 mb-0">\n    {items}\n  </ul>\n  '

    def message(self, message: Any) -> str:
        kind = esc(message.kind)
        created = self._local(message.created_at)
        return (
            f'\n<article class="kehu-ticket-message kehu-ticket-message-{kind} border rounded p-3 mb-2"'
            f' id="message-{esc(message.pk)}" data-kind="{kind}" data-testid="message">\n'
            '  <header class="d-flex flex-wrap gap-2 align-items-baseline small mb-2">\n'
            f"    {self._header(message)}\n"
            f'    <time class="ms-auto text-body-secondary" datetime="{esc(created.isoformat())}">'
            f"{esc(self.minute(created))}</time>\n"
            "  </header>\n"
            f'  <div class="kehu-ticket-body" data-testid="message-body">{linebreaksbr(message.body)}</div>\n'
            f"  {self._files(message)}\n"
            "</article>\n"
        )


def conversation_html(messages: list[Any]) -> SafeString:
    """The conversation's messages, oldest first, as the page shows them."""
    renderer = MessageRenderer()
    return mark_safe("".join(renderer.message(m) for m in messages))  # noqa: S308 - every value is escaped
