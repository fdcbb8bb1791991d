"""Activity rows ("my day", the record pages' panels), built with f-strings over escaped values
(sales/activity_rows.py), are byte for byte what the former format_html implementation gave: the reference
below is that implementation, kept here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.middleware.csrf import get_token
from django.test import RequestFactory
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from kehu.sales import activity_selectors as selectors
from kehu.sales import activity_services as services
from kehu.sales.activity_rows import RowRenderer, overdue
from kehu.sales.opportunity_cards import url_pattern
from tests.customers.factories import make_contact, make_customer
from tests.sales.activity_factories import make_activity

pytestmark = pytest.mark.django_db

TRICKY = [
    "<script>alert('x')</script>",
    'Tom & "Jerry" <b>',
    "拜访云帆 & 签约 <二期>",
    "O'Brien's {} %(name)s",
    "&amp; already escaped",
]


class FormatHtmlRows:
    """The rows as activity_rows.py built them before (format_html for every piece)."""

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


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_rows_are_the_markup_format_html_gave(tenant_a, language):
    rep = tenant_a.users["sales_rep"]
    rep.name = '李四 <销售> & "O\'Neil"'
    rep.save(update_fields=["name"])
    customer = make_customer(tenant_a, rep, name='云帆 <科技> & "Sons"')
    contact = make_contact(tenant_a, customer, name="王五 'Wang' <b>")
    now = timezone.now()
    made = []
    for n, subject in enumerate(TRICKY):
        made.append(
            make_activity(
                tenant_a,
                rep,
                customer=customer,
                contact=contact if n % 2 else None,
                subject=subject,
                starts_at=now + timedelta(hours=2 * n - 3),  # two overdue, three later today or tomorrow
                duration_minutes=30 * n,
            )
        )
    services.activity_log(actor=rep, subject=TRICKY[1], customer=customer, outcome="谈妥 <报价> & " + "长" * 250)
    services.activity_cancel(actor=rep, activity=made[4], outcome="客户 'busy'")
    now = timezone.now()  # after the logged call's done_at
    day = selectors.my_day_for(actor=rep, now=now)
    activities = [*day.overdue, *day.due_today, *day.done_today, *day.upcoming]
    assert len(activities) == len(TRICKY)  # the cancelled one is on no list: add it from its own read
    activities.append(selectors.activity_get_for(actor=rep, pk=made[4].pk))
    for activity in activities:
        activity.can_edit = True
        activity.overdue = activity.is_overdue(now)
    assert sum(a.overdue for a in activities) == 2
    request = RequestFactory().get("/sales/my-day/?a=1&b=<x>")
    get_token(request)

    with translation.override(language), timezone.override(selectors.org_timezone(tenant_a.org)):
        for options in (
            {},
            {"compact": True},
            {"show_owner": True},
            {"compact": True, "show_owner": True, "here": "/sales/customers/1/?q=\"&'"},
        ):
            new, old = RowRenderer(request=request, **options), FormatHtmlRows(request=request, **options)
            old.csrf = new.csrf  # get_token masks the secret afresh each call
            html = new.rows(activities)
            assert isinstance(html, SafeString)
            assert html == old.rows(activities)
            for activity in activities:
                for note in ("", "已保存 <note> & 'x'"):
                    assert new.row(activity, note=note) == old.row(activity, note=note)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert html.count('data-testid="complete"') == 4  # the planned ones (the done and the cancelled: none)
