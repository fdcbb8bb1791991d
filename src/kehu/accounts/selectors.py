"""Reads of users, teams, roles, tokens: every one starts from `visible_to(actor)`."""

from typing import Any

from django.db.models import Q, QuerySet

from kehu.accounts.models import ApiToken, Role, Team, User
from kehu.core.errors import NotFound
from kehu.core.permissions import can


def user_list_for(*, actor: User, search: str = "", status: str = "", team_id: Any = None) -> QuerySet[User]:
    qs = User.objects.visible_to(actor).select_related("team", "role")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(email__icontains=search) | Q(phone__icontains=search))
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "invited":
        qs = qs.filter(is_active=False, invited_at__isnull=False, joined_at__isnull=True, deactivated_at__isnull=True)
    elif status == "deactivated":
        qs = qs.filter(deactivated_at__isnull=False)
    if team_id:
        qs = qs.filter(team_id=team_id)
    return qs


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, qs.model.DoesNotExist) as exc:
        raise NotFound() from exc


def user_get_for(*, actor: User, pk: Any) -> User:
    return _get(User.objects.visible_to(actor).select_related("team", "role"), pk)


def team_list_for(*, actor: User) -> QuerySet[Team]:
    return Team.objects.visible_to(actor).select_related("manager", "parent")


def team_get_for(*, actor: User, pk: Any) -> Team:
    return _get(team_list_for(actor=actor), pk)


def role_list_for(*, actor: User) -> QuerySet[Role]:
    return Role.objects.visible_to(actor)


def role_get_for(*, actor: User, pk: Any) -> Role:
    return _get(role_list_for(actor=actor), pk)


def token_list_for(*, actor: User) -> QuerySet[ApiToken]:
    """Administrators see every token of the organisation; everyone else their own."""
    qs = ApiToken.objects.visible_to(actor).select_related("user")
    if not can(actor, "administer", "platform"):
        qs = qs.filter(user=actor)
    return qs


def token_get_for(*, actor: User, pk: Any) -> ApiToken:
    return _get(token_list_for(actor=actor), pk)


# Administration pages (added for the organisation administrator's UI) --------------------------------


def team_tree_for(*, actor: User) -> QuerySet[Team]:
    """Teams in tree order (by path), each with `member_count` (all members: they block deletion)."""
    from django.db.models import Count

    return team_list_for(actor=actor).annotate(member_count=Count("members")).order_by("path")


def role_list_with_counts_for(*, actor: User) -> QuerySet[Role]:
    """Roles with `user_count`, the number of users (of any status) who hold the role."""
    from django.db.models import Count

    return role_list_for(actor=actor).annotate(user_count=Count("users"))


def organization_get_for(*, actor: User) -> Any:
    """A fresh copy of the actor's organisation, so that an edit that fails validation does not leave
    half-applied values on `request.user.organization` (which the page shell also renders)."""
    from kehu.accounts.models import Organization

    if actor.organization_id is None or not can(actor, "view", "platform"):
        raise NotFound()
    return Organization.objects.get(pk=actor.organization_id)
