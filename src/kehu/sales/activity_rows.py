"""Activity rows (my day, the record pages' panels, the row a quick complete answers with) as HTML built in
Python, like the board's cards (opportunity_cards.py) and the customer list's cells: "my day" shows up
to 4 × 100 rows, and including a template per row was three quarters of the page's time (1.9 s p95 on a
loaded machine, benchmarks/RESULTS.md "Sales at scale (session 3)"). Every value goes through format_html.

Context a row reads (as the template did): `activity` (with `can_edit` and `overdue` set by the view),
`compact`, `show_owner`, `note`, `here` (the page to come back to) and the request (CSRF token, path).
"""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from kehu.sales.opportunity_cards import url_pattern


def overdue(activity: Any) -> bool:
    return bool(getattr(activity, "overdue", False))


class RowRenderer:
    """Renders the rows of one list: links, labels, the CSRF token and the return path read once."""

    def __init__(self, *, request: Any, compact: bool = False, show_owner: bool = False, here: str = "") -> None:
        self.compact, self.show_owner = compact, show_owner
        self.here = here or (request.get_full_path() if request is not None else "")
        self.csrf = get_token(request) if request is not None else ""
        self.detail = url_pattern("sales:activity_detail")
        self.complete = url_pattern("sales:activity_complete")
        # Translated once per list, not once per row (a lazy label resolves its translation on every use).
        self.kinds = {value: str(label) for value, label in type(self).kind_choices()}
        self.labels = {
            "done": _("Done"),
            "cancelled": _("Cancelled"),
            "overdue": _("Overdue"),
            "mark": _("Mark as done"),
            "button": pgettext("button", "Done"),
        }

    @staticmethod
    def kind_choices() -> list[tuple[str, Any]]:
        from kehu.sales.activity_models import Activity

        return list(Activity.Kind.choices)

    def _kind(self, activity: Any) -> str:
        return self.kinds.get(activity.kind) or activity.get_kind_display()

    def _when(self, activity: Any) -> SafeString:
        at = activity.scheduled_at
        if at is None:
            return format_html(
                '<time datetime="" class="text-nowrap{}"></time>', " text-danger" if overdue(activity) else ""
            )
        local = timezone.localtime(at)
        return format_html(
            '<time datetime="{}" class="text-nowrap{}">{}</time>',
            local.isoformat(),
            " text-danger" if overdue(activity) else "",
            local.strftime("%m-%d %H:%M" if self.compact else "%Y-%m-%d %H:%M"),
        )

    def _details(self, activity: Any) -> SafeString:
        parts = [self._when(activity)]
        if self.compact:
            if activity.contact_id:
                parts.append(format_html(" · {}", activity.contact))
        else:
            if activity.duration_minutes:
                minutes = activity.duration_minutes
                text = ngettext("%(minutes)s minute", "%(minutes)s minutes", minutes) % {"minutes": minutes}
                parts.append(format_html(" · {}", text))
            parts.append(format_html(" · {}", self._kind(activity)))
            label = activity.link_label
            if label:
                parts.append(format_html(" · {}", label))
        if self.show_owner and activity.owner_id:
            parts.append(format_html(' · <i class="bi bi-person"></i> {}', activity.owner))
        return format_html_join("", "{}", ((part,) for part in parts))

    def _badge(self, activity: Any) -> SafeString:
        if activity.status == "done":
            return format_html(
                '<span class="badge text-bg-success-subtle text-success-emphasis">{}</span>', self.labels["done"]
            )
        if activity.status == "cancelled":
            return format_html('<span class="badge text-bg-secondary">{}</span>', self.labels["cancelled"])
        if overdue(activity):
            return format_html(
                '<span class="badge text-bg-danger-subtle text-danger-emphasis" data-testid="overdue">{}</span>',
                self.labels["overdue"],
            )
        return SafeString("")

    def _complete_form(self, activity: Any) -> SafeString:
        if not (getattr(activity, "can_edit", False) and activity.status == "planned"):
            return SafeString("")
        url = self.complete.format(activity.pk)
        return format_html(
            '<form method="post" action="{}" class="ms-auto" hx-post="{}" hx-target="closest li" hx-swap="outerHTML">'
            "{}"
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="next" value="{}">'
            '<button class="btn btn-sm btn-outline-success text-nowrap" data-testid="complete" title="{}"'
            ' aria-label="{}"><i class="bi bi-check2"></i>{}</button></form>',
            url,
            url,
            SafeString('<input type="hidden" name="compact" value="1">') if self.compact else "",
            self.csrf,
            self.here,
            self.labels["mark"],
            self.labels["mark"],
            SafeString("")
            if self.compact
            else format_html('<span class="d-none d-md-inline"> {}</span>', self.labels["button"]),
        )

    def row(self, activity: Any, *, note: str = "") -> SafeString:
        status_class = {"done": " is-done", "cancelled": " is-cancelled"}.get(activity.status, "")
        outcome = ""
        if activity.outcome:
            outcome = format_html('<div class="small mt-1 text-break">{}</div>', Truncator(activity.outcome).chars(200))
        note_html = ""
        if note:
            note_html = format_html(
                '<div class="small text-warning-emphasis mt-1" role="status" data-testid="row-note">{}</div>', note
            )
        return format_html(
            '<li class="list-group-item d-flex gap-2 align-items-start kehu-activity{}{}" data-activity="{}"'
            ' data-status="{}">\n'
            '  <i class="bi bi-{} mt-1 {}" title="{}"></i>\n'
            '  <div class="flex-grow-1 min-w-0">\n'
            '    <div class="d-flex flex-wrap gap-2 align-items-baseline">\n'
            '      <a class="fw-medium text-break kehu-activity-subject" href="{}">{}</a>\n      {}\n    </div>\n'
            '    <div class="small text-body-secondary">{}</div>\n    {}{}\n  </div>\n  {}\n</li>',
            " px-0" if self.compact else "",
            status_class,
            activity.pk,
            activity.status,
            activity.icon,
            "text-danger" if overdue(activity) else "text-body-secondary",
            self._kind(activity),
            self.detail.format(activity.pk),
            activity.subject,
            self._badge(activity),
            self._details(activity),
            outcome,
            note_html,
            self._complete_form(activity),
        )

    def rows(self, activities: list[Any]) -> SafeString:
        return format_html_join("", "{}", ((self.row(activity),) for activity in activities))


def renderer_from_context(context: Any) -> RowRenderer:
    """A renderer for a template's context (the variables _list.html and _row.html were given)."""
    return RowRenderer(
        request=context.get("request"),
        compact=bool(context.get("compact")),
        show_owner=bool(context.get("show_owner")),
        here=context.get("here") or "",
    )
