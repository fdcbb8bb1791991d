"""The organisation administrator's pages: users, teams, roles, organisation settings.

Every page needs `administer` on the platform module; records of another organisation are 404 through
the selectors. Views parse, call a service or selector, and render; the rules live in the services.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors, services
from kehu.accounts.admin_forms import (
    ACTION_COLUMNS,
    OrganizationForm,
    RoleCopyForm,
    RoleForm,
    TeamForm,
    UserEditForm,
    UserFilterForm,
    UserInviteForm,
    add_domain_error,
)
from kehu.accounts.models import Role, User
from kehu.core import modules
from kehu.core.errors import DomainError
from kehu.core.services import require

USERS_PAGE_SIZE = 50
_CURSOR_SALT = "kehu.admin_area.users"


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and allowed to administer the organisation; anyone else gets the 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request.user, "administer", modules.PLATFORM)
        return view(request, *args, **kwargs)

    return wrapper


def _seats(actor: User) -> dict[str, Any]:
    """Seats in use count active users and open invitations, as the seat check in the services does."""
    used = (
        selectors.user_list_for(actor=actor, status="active").count()
        + selectors.user_list_for(actor=actor, status="invited").count()
    )
    limit = actor.organization.seats
    return {"used": used, "limit": limit, "full": limit is not None and used >= limit}


def _is_htmx_target(request: HttpRequest, target: str) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target


# Users -----------------------------------------------------------------------------------------------


def _keyset_page(qs: QuerySet, ordering: tuple[str, ...], cursor: str | None, size: int) -> tuple[list, str | None]:
    """One page after `cursor` in `ordering` (a field and the id as tie-breaker); no OFFSET, no COUNT.

    The cursor is signed so that a hand-edited one is ignored (first page) instead of failing.
    """
    field = ordering[0].lstrip("-")
    descending = ordering[0].startswith("-")
    if cursor:
        try:
            value, last_id = signing.loads(cursor, salt=_CURSOR_SALT)
            if field == "created_at":
                value = parse_datetime(value)
            op = "lt" if descending else "gt"
            qs = qs.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": int(last_id)}))
        except (signing.BadSignature, ValueError, TypeError):
            pass
    rows = list(qs[: size + 1])
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    last = rows[-1]
    value = getattr(last, field)
    next_cursor = signing.dumps([value.isoformat() if field == "created_at" else value, last.pk], salt=_CURSOR_SALT)
    return rows, next_cursor


@admin_required
def users(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = UserFilterForm(request.GET or None, actor=actor)
    qs = selectors.user_list_for(actor=actor, **form.filters()).order_by(*form.ordering())
    rows, next_cursor = _keyset_page(qs, form.ordering(), request.GET.get("after"), USERS_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("after", None)
    base_query = query.copy()
    base_query.pop("sort", None)
    context = {
        "filter_form": form,
        "users": rows,
        "next_cursor": next_cursor,
        "query": query.urlencode(),  # for "next page": the filters and the sort
        "base_query": base_query.urlencode(),  # for the sortable headers: the filters only
        "sort": form.sort_key(),
        "is_first_page": not request.GET.get("after"),
        "filtered": any(form.filters().values()),
        "seats": _seats(actor),
    }
    if _is_htmx_target(request, "users-table"):
        return render(request, "admin_area/_users_table.html", context)
    return render(request, "admin_area/users.html", context)


@admin_required
def user_invite(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = UserInviteForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            invitee, link = services.user_invite(
                actor=actor,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                team=form.cleaned_data["team"],
                base_url=request.build_absolute_uri("/"),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return render(request, "admin_area/user_invited.html", {"invitee": invitee, "link": link})
    return render(request, "admin_area/user_invite.html", {"form": form, "seats": _seats(actor)})


def _invitation_link(request: HttpRequest, user: User) -> str | None:
    """A fresh link for a pending invitation, so an administrator can hand it over again."""
    if not user.is_pending_invitation:
        return None
    return request.build_absolute_uri(services.invitation_path(user))


def _user_page(request: HttpRequest, user: User, form: UserEditForm) -> HttpResponse:
    context = {"subject": user, "form": form, "invitation_link": _invitation_link(request, user)}
    return render(request, "admin_area/user_edit.html", context)


@admin_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    user = selectors.user_get_for(actor=actor, pk=pk)
    form = UserEditForm(request.POST or None, actor=actor, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(actor=actor, user=user, data=form.changed_values())
        except DomainError as exc:
            add_domain_error(form, exc)
            user = selectors.user_get_for(actor=actor, pk=pk)  # the service may have half-applied the values
        else:
            messages.success(request, _("Saved the changes to %(user)s.") % {"user": user})
            return redirect("admin_area:user_edit", pk=user.pk)
    return _user_page(request, user, form)


def _user_action(request: HttpRequest, pk: int, action: Callable[..., Any], done: str) -> HttpResponse:
    actor = request.user
    user = selectors.user_get_for(actor=actor, pk=pk)
    try:
        action(actor=actor, user=user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"user": user})
    return redirect("admin_area:user_edit", pk=user.pk)


@require_POST
@admin_required
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_action(request, pk, services.user_deactivate, _("%(user)s is deactivated; their seat is free."))


@require_POST
@admin_required
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_action(request, pk, services.user_reactivate, _("%(user)s is active again."))


@require_POST
@admin_required
def user_reset_2fa(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_action(
        request,
        pk,
        services.totp_disable,
        _("Two-factor authentication of %(user)s is reset; they set it up again at their next sign-in."),
    )


# Teams -----------------------------------------------------------------------------------------------


@admin_required
def teams(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_area/teams.html", {"teams": selectors.team_tree_for(actor=request.user)})


@admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = TeamForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=actor, **form.values())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Team %(team)s created.") % {"team": team})
            return redirect("admin_area:teams")
    return render(request, "admin_area/team_form.html", {"form": form, "team": None})


@admin_required
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    team = selectors.team_get_for(actor=actor, pk=pk)
    form = TeamForm(request.POST or None, actor=actor, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_update(actor=actor, team=team, data=form.values())
        except DomainError as exc:
            add_domain_error(form, exc)
            team = selectors.team_get_for(actor=actor, pk=pk)
        else:
            messages.success(request, _("Saved the changes to team %(team)s.") % {"team": team})
            return redirect("admin_area:teams")
    return render(request, "admin_area/team_form.html", {"form": form, "team": team})


@require_POST
@admin_required
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    team = selectors.team_get_for(actor=actor, pk=pk)
    try:
        services.team_delete(actor=actor, team=team)
    except DomainError as exc:
        form = TeamForm(actor=actor, team=team)
        return render(request, "admin_area/team_form.html", {"form": form, "team": team, "delete_error": exc.message})
    messages.success(request, _("Team %(team)s deleted.") % {"team": team})
    return redirect("admin_area:teams")


# Roles -----------------------------------------------------------------------------------------------


def _is_locked_role(role: Role | None) -> bool:
    # The administrator role keeps every permission so that someone can always run the organisation.
    return role is not None and role.is_system and role.key == "administrator"


def _role_page(request: HttpRequest, form: RoleForm, role: Role | None, **extra: Any) -> HttpResponse:
    context = {
        "form": form,
        "role": role,
        "locked": _is_locked_role(role),
        "columns": ACTION_COLUMNS,
        **extra,
    }
    return render(request, "admin_area/role_form.html", context)


@admin_required
def roles(request: HttpRequest) -> HttpResponse:
    return render(request, "admin_area/roles.html", {"roles": selectors.role_list_with_counts_for(actor=request.user)})


@admin_required
def role_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = RoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role = services.role_create(
                actor=actor,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                permissions=form.permissions(),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Role %(role)s created.") % {"role": role})
            return redirect("admin_area:role_edit", pk=role.pk)
    return _role_page(request, form, None)


@admin_required
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    role = selectors.role_get_for(actor=actor, pk=pk)
    locked = _is_locked_role(role)
    form = RoleForm(request.POST or None, role=role, read_only=locked)
    if request.method == "POST" and locked:
        messages.error(request, _("The administrator role cannot be changed; copy it instead."))
        return redirect("admin_area:role_edit", pk=role.pk)
    if request.method == "POST" and form.is_valid():
        data = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data["description"],
            "permissions": form.permissions(),
        }
        try:
            services.role_update(actor=actor, role=role, data=data)
        except DomainError as exc:
            add_domain_error(form, exc)
            role = selectors.role_get_for(actor=actor, pk=pk)
        else:
            messages.success(request, _("Saved the role %(role)s.") % {"role": role})
            return redirect("admin_area:role_edit", pk=role.pk)
    return _role_page(request, form, role)


@admin_required
def role_copy(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    role = selectors.role_get_for(actor=actor, pk=pk)
    form = RoleCopyForm(request.POST or None, initial={"name": _("Copy of %(role)s") % {"role": role.name}})
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.role_copy(actor=actor, role=role, name=form.cleaned_data["name"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request, _("Role %(role)s created as a copy. Adjust its permissions below.") % {"role": copy}
            )
            return redirect("admin_area:role_edit", pk=copy.pk)
    return render(request, "admin_area/role_copy.html", {"form": form, "role": role})


@require_POST
@admin_required
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    role = selectors.role_get_for(actor=actor, pk=pk)
    try:
        services.role_delete(actor=actor, role=role)
    except DomainError as exc:
        form = RoleForm(role=role, read_only=_is_locked_role(role))
        return _role_page(request, form, role, delete_error=exc.message)
    messages.success(request, _("Role %(role)s deleted.") % {"role": role})
    return redirect("admin_area:roles")


# Organisation ----------------------------------------------------------------------------------------


@admin_required
def organization(request: HttpRequest) -> HttpResponse:
    actor = request.user
    org = selectors.organization_get_for(actor=actor)
    form = OrganizationForm(request.POST or None, organization=org)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(actor=actor, organization=org, data=form.changed_values())
        except DomainError as exc:
            add_domain_error(form, exc)
            org = selectors.organization_get_for(actor=actor)
        else:
            messages.success(request, _("Saved the organisation settings."))
            return redirect("admin_area:organization")
    licensed = {m.key for m in modules.licensable_modules()}
    context = {
        "form": form,
        "org": org,
        "seats": _seats(actor),
        "always_on": [m for m in modules.all_modules() if m.key not in licensed],
    }
    return render(request, "admin_area/organization.html", context)
