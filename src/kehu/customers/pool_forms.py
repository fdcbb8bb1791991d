"""Forms of the public pool 公海, its settings, and the merge of duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from kehu.customers.forms import IdListField, _StyledMixin
from kehu.customers.merge import MERGE_FIELDS
from kehu.customers.models import Customer, PoolSettings
from kehu.customers.pool import REASON_MAX_LENGTH


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}),
        error_messages={"required": _("Say why the customer goes back to the pool.")},
    )
    next = forms.CharField(required=False)


class BulkReleaseForm(ReleaseForm):
    ids = IdListField(label=_("Customers"))


class PoolBulkForm(forms.Form):
    """Claim the ticked pool customers (for oneself, or with `assign` for a colleague)."""

    ACTIONS = (("claim", _("Claim")), ("assign", _("Assign")))

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(label=_("Customers"))
    owner = forms.IntegerField(required=False, label=_("Owner"))
    next = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new owner."))
        return data


class PoolSettingsForm(_StyledMixin, forms.ModelForm):
    class Meta:
        model = PoolSettings
        fields = ["auto_return_days", "max_customers_per_rep", "reclaim_cooldown_days", "recycle_bin_retention_days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


def merge_rows(customers: list[Customer]) -> list[dict[str, Any]]:
    """The fields where the customers differ, each with every customer's value shown."""
    rows = []
    for name in MERGE_FIELDS:
        field = Customer._meta.get_field(name)
        values = [getattr(c, name) for c in customers]
        if all(v == values[0] for v in values):
            continue
        shown = []
        for customer in customers:
            display = getattr(customer, f"get_{name}_display", None)
            value = getattr(customer, name)
            if display:
                text = str(display())
            elif isinstance(value, datetime):
                text = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
            else:
                text = "" if value in (None, "", {}) else str(value)
            shown.append({"customer": customer, "text": text or "—"})
        rows.append({"name": name, "label": field.verbose_name, "values": shown})
    return rows


class MergeForm(forms.Form):
    """The survivor and, per differing field, which customer's value to keep (radio buttons)."""

    survivor = forms.TypedChoiceField(label=_("Keep"), coerce=int)

    def __init__(self, *args: Any, customers: list[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customers = customers
        self.rows = merge_rows(customers)
        ids = [(c.pk, str(c.pk)) for c in customers]
        self.fields["survivor"].choices = ids
        self.fields["survivor"].initial = customers[0].pk
        for row in self.rows:
            self.fields[f"choice_{row['name']}"] = forms.TypedChoiceField(
                label=row["label"], coerce=int, choices=ids, initial=customers[0].pk
            )
        for row in self.rows:
            row["field"] = self[f"choice_{row['name']}"]

    def choices(self) -> dict[str, int]:
        return {row["name"]: self.cleaned_data[f"choice_{row['name']}"] for row in self.rows}
