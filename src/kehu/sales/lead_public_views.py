"""The public web-to-lead form: /forms/<token>/, no sign-in, outside the module gate (kehu/urls.py includes
it outside the "sales" namespace), refusing when the organisation has not enabled sales.

The page is meant to be embedded in an <iframe> on the organisation's own website, so it is the one page
that other sites may frame: X-Frame-Options is lifted and its Content-Security-Policy names the allowed
ancestors (the form's origins, or any site); every other page keeps `frame-ancestors 'none'`.

CSRF: the POST is exempt. Inside an iframe on another site the CSRF cookie is a third-party cookie, which
browsers withhold (SameSite=Lax) or block, so Django's check would refuse every real visitor. CSRF guards
a signed-in user's authority; this page has none to abuse: it runs with no session, creates only a new lead
of the form's organisation, and changes nothing else. Abuse is held off instead by a honeypot field, a
signed stamp proving the page was loaded in the last day, the per-IP rate limit and validation.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kehu.core.errors import ValidationFailed
from kehu.core.middleware import client_ip
from kehu.sales import lead_webforms
from kehu.sales.lead_forms import STAMP, PublicLeadForm, signer_for

log = logging.getLogger("kehu.sales.webforms")


def _csp(request: HttpRequest, form: lead_webforms.WebForm | None) -> str:
    ancestors = (form.embed_origins if form is not None else "") or "*"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"font-src 'self' data:; connect-src 'self'; frame-ancestors {ancestors}; base-uri 'self'; form-action 'self'"
    )


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Content-Security-Policy"] = _csp(request, context.get("webform"))
    response["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


def _not_available(request: HttpRequest) -> HttpResponse:
    return _render(request, "sales/lead/public_unavailable.html", {"webform": None}, status=404)


@csrf_exempt
@xframe_options_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def public_form(request: HttpRequest, token: str) -> HttpResponse:
    webform = lead_webforms.public_form_for(token)
    if webform is None:
        return _not_available(request)
    if request.method != "POST":
        return _render(
            request, "sales/lead/public_form.html", {"webform": webform, "form": PublicLeadForm(webform=webform)}
        )
    ip = client_ip(request)
    form = PublicLeadForm(request.POST, webform=webform)
    context = {"webform": webform, "form": form}
    if lead_webforms.rate_limited(ip):
        context["problem"] = _("Too many submissions from your network. Please try again in a few minutes.")
        log.warning("web form %s: rate limit reached for %s", webform.pk, ip)
        return _render(request, "sales/lead/public_form.html", context, status=429)
    if form.is_spam:
        log.info("web form %s: honeypot filled by %s; nothing saved", webform.pk, ip)
        return redirect("lead_forms:thanks", token=webform.token)
    if not form.stamp_is_valid():
        data = request.POST.copy()
        data[STAMP] = signer_for(webform.token).sign("1")
        context["form"] = PublicLeadForm(data, webform=webform)
        context["form"].is_valid()
        context["problem"] = _("This page was open too long. Please check your details and send them again.")
        return _render(request, "sales/lead/public_form.html", context, status=400)
    if not form.is_valid():
        return _render(request, "sales/lead/public_form.html", context, status=400)
    try:
        lead_webforms.webform_submit(form=webform, data=form.lead_data(), ip=ip)
    except ValidationFailed as exc:
        shown = False
        for name, reasons in exc.fields.items():
            if name in form.fields:
                for reason in reasons:
                    form.add_error(name, reason)
                shown = True
        if not shown:
            log.warning("web form %s refused a submission: %s", webform.pk, exc.message)
            form.add_error(None, _("This form cannot take submissions right now. Please contact us another way."))
        return _render(request, "sales/lead/public_form.html", context, status=400)
    return redirect("lead_forms:thanks", token=webform.token)


@xframe_options_exempt
@never_cache
@require_http_methods(["GET"])
def public_thanks(request: HttpRequest, token: str) -> HttpResponse:
    webform = lead_webforms.public_form_for(token)
    if webform is None:
        return _not_available(request)
    text = webform.thank_you or str(lead_webforms.DEFAULT_THANK_YOU)
    return _render(request, "sales/lead/public_thanks.html", {"webform": webform, "text": text})
