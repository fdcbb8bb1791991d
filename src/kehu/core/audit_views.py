"""The audit log for organisation administrators: a filtered, keyset-paginated table and a streamed
CSV export. Every read goes through `audit_selectors.audit_list_for`; the export is itself audited."""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, audit_labels, modules
from kehu.core.audit_selectors import audit_list_for
from kehu.core.models import AuditEntry
from kehu.core.services import require

PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))
EXPORT_CHUNK = 2000
# Audit actions start with one of these; offered as suggestions in the action filter.
ACTION_PREFIXES = ("auth.", "user.", "team.", "role.", "organization.", "token.", "audit.", "support.")


def _target_type_choices() -> list[tuple[str, str]]:
    """Every Kehu model, by the label the audit log stores (`app.model`)."""
    choices = [
        (model._meta.label_lower, f"{model._meta.verbose_name} ({model._meta.label_lower})")
        for model in apps.get_models()
        if model.__module__.startswith("kehu.") and model is not AuditEntry
    ]
    return [("", gettext_lazy("All record types")), *sorted(choices, key=lambda c: c[0])]


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=gettext_lazy("Action starts with"), required=False, max_length=64)
    actor = forms.IntegerField(label=gettext_lazy("Actor"), required=False, min_value=1)
    target_type = forms.ChoiceField(label=gettext_lazy("Record type"), required=False)
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, actor_choices: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_type"].choices = _target_type_choices()
        self.fields["actor"].widget = forms.Select(choices=[("", _("Anyone")), *actor_choices])
        self.fields["action"].widget.attrs.update({"list": "audit-actions", "placeholder": "user."})
        self.fields["q"].widget.attrs["placeholder"] = _("Record or actor")
        self.fields["q"].widget.input_type = "search"
        for name, field in self.fields.items():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = (
                "form-select form-select-sm mw-100" if is_select else "form-control form-control-sm"
            )
            if name in self.errors:
                field.widget.attrs["class"] += " is-invalid"

    def selector_filters(self, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
        """Valid filters for the selector; dates are whole days in the organisation's time zone."""
        data: dict[str, Any] = {}
        if self.is_bound:
            self.is_valid()  # cleaned_data then holds exactly the valid fields
            data = self.cleaned_data
        since = until = None
        if data.get("date_from"):
            since = datetime.combine(data["date_from"], time.min, tzinfo=tz)
        if data.get("date_to"):
            until = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=tz)
        return {
            "action": (data.get("action") or "").strip(),
            "actor_id": data.get("actor"),
            "target_type": data.get("target_type") or "",
            "search": (data.get("q") or "").strip(),
            "since": since,
            "until": until,
        }


def _org_tz(actor: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(actor.organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _actor_choices(actor: Any) -> list[tuple[Any, str]]:
    from kehu.accounts.selectors import user_list_for

    users = user_list_for(actor=actor).select_related(None).order_by("name", "email").only("id", "name", "email")
    return [(u.pk, f"{u.name} <{u.email}>" if u.name else u.email) for u in users]


def _parse_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """`<microseconds since the epoch>.<id>` of the last row shown; anything else means the first page."""
    if not raw:
        return None
    try:
        micros, pk = raw.split(".", 1)
        # Integer arithmetic: a float division would lose the microseconds the keyset compares.
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def _cursor_of(entry: AuditEntry) -> str:
    delta = entry.created_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{entry.pk}"


def _ordered(qs: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
    # Newest first; the id breaks ties between entries written in the same microsecond.
    return qs.order_by("-created_at", "-id")


def change_rows(changes: Any, target_type: str = "") -> list[dict[str, Any]]:
    """An entry's changes as rows: `field: before -> after` for diffs, `field: value` for facts; with the
    record's type, each field and each value of a field with choices by its name in the reader's language
    (audit_labels.field_label, value_label)."""
    rows = []
    if not isinstance(changes, dict):
        return [{"field": "", "value": _display(changes), "is_diff": False}]
    for name, value in changes.items():
        field = audit_labels.field_label(target_type, name)

        def shown(stored: Any, name: str = name) -> str:
            return _display(audit_labels.value_label(target_type, name, stored))

        if isinstance(value, dict) and set(value) == {"before", "after"}:
            rows.append(
                {"field": field, "before": shown(value["before"]), "after": shown(value["after"]), "is_diff": True}
            )
        else:
            rows.append({"field": field, "value": shown(value), "is_diff": False})
    return rows


def _display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_display(v)}" for k, v in value.items()) or "—"
    return str(value)


def _changes_text(changes: Any) -> str:
    parts = []
    for row in change_rows(changes):
        if row["is_diff"]:
            parts.append(f"{row['field']}: {row['before']} → {row['after']}")
        else:
            parts.append(f"{row['field']}: {row['value']}" if row["field"] else row["value"])
    return "\n".join(parts)


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "administer", modules.PLATFORM)
    tz = _org_tz(actor)
    form = AuditFilterForm(request.GET or None, actor_choices=_actor_choices(actor))
    filters = form.selector_filters(tz)
    qs = _ordered(audit_list_for(actor=actor, **filters))
    cursor = _parse_cursor(request.GET.get("before"))
    if cursor is not None:
        moment, pk = cursor
        qs = qs.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
    entries = list(qs[: PAGE_SIZE + 1])
    older = None
    if len(entries) > PAGE_SIZE:
        entries = entries[:PAGE_SIZE]
        older = _cursor_of(entries[-1])
    for entry in entries:
        entry.change_rows = change_rows(entry.changes, entry.target_type)
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "entries": entries,
        "older": older,
        "query": query.urlencode(),
        "is_first_page": cursor is None,
        "filtered": any(v for v in filters.values()),
        "org_tz": tz.key,
        "action_prefixes": ACTION_PREFIXES,
    }
    return render(request, "audit/list.html", context)


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    # A leading =, +, - or @ would make Excel run the cell as a formula (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _export_header() -> list[str]:
    return [
        _("Time"),
        _("Actor"),
        _("IP address"),
        _("Action"),
        _("Record type"),
        _("Record ID"),
        _("Record"),
        _("Changes"),
    ]


def _export_rows(qs: QuerySet[AuditEntry], tz: zoneinfo.ZoneInfo, header: list[str]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # the BOM makes Excel read UTF-8 (Chinese names) correctly
    yield writer.writerow(header)
    for entry in qs.iterator(chunk_size=EXPORT_CHUNK):
        yield writer.writerow(
            [
                _cell(timezone.localtime(entry.created_at, tz).strftime("%Y-%m-%d %H:%M:%S")),
                _cell(entry.actor_label),
                _cell(entry.ip),
                _cell(entry.action),
                _cell(entry.target_type),
                _cell(entry.target_id),
                _cell(entry.target_label),
                _cell(_changes_text(entry.changes)),
            ]
        )


@login_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    actor = request.user
    require(actor, "administer", modules.PLATFORM)
    tz = _org_tz(actor)
    form = AuditFilterForm(request.GET or None, actor_choices=[])  # the actor filter is a plain id here
    filters = form.selector_filters(tz)
    qs = _ordered(audit_list_for(actor=actor, **filters))
    # Recorded before streaming, so the export is in the log even if the download is interrupted.
    audit.record(
        actor=actor,
        action="audit.export",
        target_label=_("Audit log"),
        changes={"filters": {k: v for k, v in filters.items() if v}},
    )
    stamp = timezone.localtime(timezone.now(), tz).strftime("%Y%m%d-%H%M")
    # The header is translated now: the rows are produced after this view has returned.
    rows = _export_rows(qs, tz, _export_header())
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kehu-audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
