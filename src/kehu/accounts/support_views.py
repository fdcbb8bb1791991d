"""The administrator's page for vendor support access, under /admin/support/: grant the vendor's staff
read-only access for a few hours, see every grant and revoke an open one. The vendor's accesses are in
the audit log (actions starting with `support.`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import support_selectors, support_services
from kehu.accounts.admin_forms import add_domain_error
from kehu.accounts.admin_views import admin_required
from kehu.accounts.support_forms import SupportGrantForm
from kehu.core.errors import DomainError

GRANTS_SHOWN = 50


@admin_required
def support(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = SupportGrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = support_services.support_grant_create(
                actor=actor, hours=form.cleaned_data["hours"], reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                _("The vendor's staff can read your organisation's data until %(until)s.")
                % {"until": formats.date_format(timezone.localtime(grant.expires_at), "Y-m-d H:i")},
            )
            return redirect("admin_area:support")
    grants = list(support_selectors.support_grant_list_for(actor=actor)[: GRANTS_SHOWN + 1])
    context = {
        "form": form,
        "grants": grants[:GRANTS_SHOWN],
        "more": len(grants) > GRANTS_SHOWN,
        "open_grant": next((g for g in grants if g.in_force), None),
    }
    return render(request, "admin_area/support.html", context)


@require_POST
@admin_required
def support_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    grant = support_selectors.support_grant_get_for(actor=actor, pk=pk)
    try:
        support_services.support_grant_revoke(actor=actor, grant=grant)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Support access revoked: the vendor's staff can no longer read your data."))
    return redirect("admin_area:support")
