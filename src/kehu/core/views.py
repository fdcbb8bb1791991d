"""The shell's own pages: home, global search, notifications, language switch."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST

from kehu.core import audit_selectors
from kehu.core.notifications import notification_list_for, notifications_mark_read
from kehu.core.search import global_search


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "recent_activity": audit_selectors.my_recent_activity(actor=user, limit=10),
        "unread": notification_list_for(actor=user).filter(read_at__isnull=True)[:5],
    }
    return render(request, "core/home.html", context)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    return render(
        request, "core/search.html", {"query": query, "groups": global_search(actor=request.user, query=query)}
    )


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notifications_mark_read(actor=request.user)
    items = notification_list_for(actor=request.user)[:20]
    return render(request, "core/_notifications.html", {"items": items})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; signed-in users keep the choice on their profile."""
    from django.conf import settings

    language = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if language and check_for_language(language) and language in dict(settings.LANGUAGES):
        signed_in = request.user.is_authenticated and not getattr(request.user, "is_support_actor", False)
        if signed_in and request.user.language != language:
            from kehu.accounts.services import user_update

            user_update(actor=request.user, user=request.user, data={"language": language})
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=False,
        )
    return response
