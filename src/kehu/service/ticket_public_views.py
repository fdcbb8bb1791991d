"""The public web form: /help/<token>/ticket/, no sign-in, outside the module gate (kehu/urls.py includes it
outside the "service" namespace), refusing when the organisation has not enabled service.

CSRF stays on. The page is served from our own origin and is not meant to be framed by other sites (it
keeps `frame-ancestors 'none'`), so the GET sets Django's CSRF cookie first-party and the POST carries the
token like every other form: a forged cross-site POST cannot make a browser file tickets in the name of a
visitor. Spam is held off by a honeypot field and a per-IP rate limit in the shared cache; the address
itself is unguessable (32 random bytes per queue) and can be replaced from the queue page.
"""

from __future__ import annotations

import logging

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from kehu.core.errors import ValidationFailed
from kehu.core.middleware import client_ip
from kehu.service import ticket_public
from kehu.service.ticket_forms import PublicTicketForm, apply_service_errors

log = logging.getLogger("kehu.service.webform")
SALT = "kehu.service.ticket-form"


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "service/ticket/public_unavailable.html", status=404)


@never_cache
@require_http_methods(["GET", "POST"])
def public_form(request: HttpRequest, token: str) -> HttpResponse:
    queue = ticket_public.public_queue_for(token)
    if queue is None:
        return _unavailable(request)
    form = PublicTicketForm(request.POST or None, organization_id=queue.organization_id)
    context = {"queue": queue, "form": form, "organization_name": queue.organization.name}
    if request.method != "POST":
        return render(request, "service/ticket/public_form.html", context)
    ip = client_ip(request)
    if ticket_public.rate_limited(ip):
        log.warning("ticket form of queue %s: rate limit reached for %s", queue.pk, ip)
        context["problem"] = _("Too many requests from your network. Please try again in a few minutes.")
        return render(request, "service/ticket/public_form.html", context, status=429)
    if form.is_spam:
        log.info("ticket form of queue %s: honeypot filled by %s; nothing saved", queue.pk, ip)
        return redirect(reverse("ticket_public:thanks", args=[token]))
    if not form.is_valid():
        return render(request, "service/ticket/public_form.html", context, status=400)
    try:
        ticket = ticket_public.web_form_submit(queue=queue, data=form.cleaned_data, ip=ip)
    except ValidationFailed as exc:
        apply_service_errors(form, exc)
        return render(request, "service/ticket/public_form.html", context, status=400)
    receipt = signing.dumps({"q": queue.pk, "n": ticket.number}, salt=SALT)
    return redirect(reverse("ticket_public:thanks", args=[token]) + f"?r={receipt}")


@never_cache
@require_http_methods(["GET"])
def public_thanks(request: HttpRequest, token: str) -> HttpResponse:
    queue = ticket_public.public_queue_for(token)
    if queue is None:
        return _unavailable(request)
    number = None
    try:
        receipt = signing.loads(request.GET.get("r", ""), salt=SALT, max_age=3600)
        if receipt.get("q") == queue.pk:
            number = receipt.get("n")
    except signing.BadSignature:
        pass
    return render(
        request,
        "service/ticket/public_thanks.html",
        {"queue": queue, "number": number, "organization_name": queue.organization.name},
    )
