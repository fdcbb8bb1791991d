"""Activity rows (my day, the record pages' panels, the row a quick complete answers with) as HTML built in
Python, like the board's cards (opportunity_cards.py) and the customer list's cells: "my day" shows up
to 4 × 100 rows, and including a template per row was three quarters of the page's time (1.9 s p95 on a
loaded machine, benchmarks/RESULTS.md "Sales at scale (session 3)"). Every value is escaped (core/fast_html.esc,
what format_html did, at a fraction of its cost).

Context a row reads (as the template did): `activity` (with `can_edit` and `overdue` set by the view),
`compact`, `show_owner`, `note`, `here` (the page to come back to) and the request (CSRF token, path).
"""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from kehu.core.fast_html import esc
from kehu.sales.opportunity_cards import url_pattern


def overdue(activity: Any) -> bool:
    return bool(getattr(activity, "overdue", False))


class RowRenderer:
    """Renders the rows of one list: links, labels, the CSRF token and the return path read once."""

    def __init__(self, *, request: Any, compact: bool = False, show_owner: bool = False, here: str = "") -> None:
        self.compact, self.show_owner = compact, show_owner
        # Escaped once here (values put into attributes and text as they are below); a link pattern's {}
        # takes an integer id, which escaping leaves as it is.
        self.here = esc(here or (request.get_full_path() if request is not None else ""))
        self.csrf = esc(get_token(request) if request is not None else "")
        self.detail = esc(url_pattern("sales:activity_detail"))
        self.complete = esc(url_pattern("sales:activity_complete"))
        # Translated once per list, not once per row (a lazy label resolves its translation on every use).
        self.kinds = {value: esc(str(label)) for value, label in type(self).kind_choices()}
        self.labels = {
            "done": esc(_("Done")),
            "cancelled": esc(_("Cancelled")),
            "overdue": esc(_("Overdue")),
            "mark": esc(_("Mark as done")),
            "button": esc(pgettext("button", "Done")),
        }

    @staticmethod
    def kind_choices() -> list[tuple[str, Any]]:
        from kehu.sales.activity_models import Activity

        return list(Activity.Kind.choices)

    def _kind(self, activity: Any) -> str:
        return self.kinds.get(activity.kind) or esc(activity.get_kind_display())

    def _when(self, activity: Any) -> str:
        danger = " text-danger" if overdue(activity) else ""
        at = activity.scheduled_at
        if at is None:
            return f'<time datetime="" class="text-nowrap{danger}"></time>'
        local = timezone.localtime(at)
        shown = local.strftime("%m-%d %H:%M" if self.compact else "%Y-%m-%d %H:%M")
        return f'<time datetime="{esc(local.isoformat())}" class="text-nowrap{danger}">{esc(shown)}</time>'

    def _details(self, activity: Any) -> str:
        parts = [self._when(activity)]
        if self.compact:
            if activity.contact_id:
                parts.append(f" · {esc(activity.contact)}")
        else:
            if activity.duration_minutes:
                minutes = activity.duration_minutes
                text = ngettext("%(minutes)s minute", "%(minutes)s minutes", minutes) % {"minutes": minutes}
                parts.append(f" · {esc(text)}")
            parts.append(f" · {self._kind(activity)}")
            label = activity.link_label
            if label:
                parts.append(f" · {esc(label)}")
        if self.show_owner and activity.owner_id:
            parts.append(f' · <i class="bi bi-person"></i> {esc(activity.owner)}')
        return "".join(parts)

    def _badge(self, activity: Any) -> str:
        if activity.status == "done":
            return f'<span class="badge text-bg-success-subtle text-success-emphasis">{self.labels["done"]}</span>'
        if activity.status == "cancelled":
            return f'<span class="badge text-bg-secondary">{self.labels["cancelled"]}</span>'
        if overdue(activity):
            return (
                '<span class="badge text-bg-danger-subtle text-danger-emphasis" data-testid="overdue">'
                f"{self.labels['overdue']}</span>"
            )
        return ""

    def _complete_form(self, activity: Any) -> str:
        if not (getattr(activity, "can_edit", False) and activity.status == "planned"):
            return ""
        url = self.complete.format(activity.pk)
        mark = self.labels["mark"]
        compact = '<input type="hidden" name="compact" value="1">' if self.compact else ""
        button = "" if self.compact else f'<span class="d-none d-md-inline"> {self.labels["button"]}</span>'
        return (
            f'<form method="post" action="{url}" class="ms-auto" hx-post="{url}" hx-target="closest li"'
            f' hx-swap="outerHTML">{compact}'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">'
            f'<input type="hidden" name="next" value="{self.here}">'
            f'<button class="btn btn-sm btn-outline-success text-nowrap" data-testid="complete" title="{mark}"'
            f' aria-label="{mark}"><i class="bi bi-check2"></i>{button}</button></form>'
        )

    def row(self, activity: Any, *, note: str = "") -> SafeString:
        return mark_safe(self._row(activity, note))  # noqa: S308 - every value in _row is escaped

    def _row(self, activity: Any, note: str = "") -> str:
        """The row's markup as a str, every value through esc(): the same bytes format_html gave (the tests
        compare), at a fraction of its cost on a page of up to 400 rows."""
        status = activity.status
        status_class = {"done": " is-done", "cancelled": " is-cancelled"}.get(status, "")
        outcome = ""
        if activity.outcome:
            outcome = f'<div class="small mt-1 text-break">{esc(Truncator(activity.outcome).chars(200))}</div>'
        note_html = ""
        if note:
            note_html = (
                f'<div class="small text-warning-emphasis mt-1" role="status" data-testid="row-note">{esc(note)}</div>'
            )
        pk = activity.pk
        return (
            f'<li class="list-group-item d-flex gap-2 align-items-start kehu-activity{" px-0" if self.compact else ""}'
            f'{status_class}" data-activity="{pk}" data-status="{esc(status)}">\n'
            f'  <i class="bi bi-{esc(activity.icon)} mt-1 {"text-danger" if overdue(activity) else "text-body-secondary"}"'
            f' title="{self._kind(activity)}"></i>\n'
            '  <div class="flex-grow-1 min-w-0">\n'
            '    <div class="d-flex flex-wrap gap-2 align-items-baseline">\n'
            f'      <a class="fw-medium text-break kehu-activity-subject" href="{self.detail.format(pk)}">'
            f"{esc(activity.subject)}</a>\n      {self._badge(activity)}\n    </div>\n"
            f'    <div class="small text-body-secondary">{self._details(activity)}</div>\n    {outcome}{note_html}\n'
            f"  </div>\n  {self._complete_form(activity)}\n</li>"
        )

    def rows(self, activities: list[Any]) -> SafeString:
        return mark_safe("".join(self._row(activity) for activity in activities))  # noqa: S308 - escaped in _row


def renderer_from_context(context: Any) -> RowRenderer:
    """A renderer for a template's context (the variables _list.html and _row.html were given)."""
    return RowRenderer(
        request=context.get("request"),
        compact=bool(context.get("compact")),
        show_owner=bool(context.get("show_owner")),
        here=context.get("here") or "",
    )
