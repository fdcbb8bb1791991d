"""The administrator's form that grants the vendor support access. Shapes only: the rules (1–72 hours, a
reason, one open grant at a time) live in support_services, whose errors land on the fields they name."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.admin_forms import BootstrapMixin
from kehu.accounts.models import SUPPORT_HOURS_MAX, SUPPORT_HOURS_MIN


class SupportGrantForm(BootstrapMixin, forms.Form):
    hours = forms.IntegerField(
        label=_("Hours"),
        min_value=SUPPORT_HOURS_MIN,
        max_value=SUPPORT_HOURS_MAX,
        initial=4,
        help_text=_("From 1 to 72 hours. You can revoke the access earlier."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why the vendor needs access, for example the support ticket it is about."),
    )
