"""Every change to organisations, users, teams, roles and tokens: one function per action, each in a
transaction with its audit entry; email goes out after commit."""

from __future__ import annotations

import copy
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from kehu.accounts.models import ApiToken, Organization, Role, Team, User
from kehu.accounts.roles import DEFAULT_ROLES
from kehu.core import audit, modules
from kehu.core.errors import DomainError, PermissionDenied, SeatLimitReached, ValidationFailed
from kehu.core.permissions import Scope
from kehu.core.services import apply_changes, require, validate

TOKEN_PREFIX = "kehu_"


# Organisations ---------------------------------------------------------------------------------------


@transaction.atomic
def organization_create(
    *,
    actor: Any,
    name: str,
    admin_email: str,
    admin_password: str | None,
    admin_name: str = "",
    modules_enabled: list[str] | None = None,
    time_zone: str = "Asia/Shanghai",
    currency: str = "CNY",
    language: str = "zh-hans",
) -> Organization:
    """A new tenant with the default roles and its first administrator."""
    known = {m.key for m in modules.licensable_modules()}
    enabled = list(known) if modules_enabled is None else list(modules_enabled)
    unknown = set(enabled) - known
    if unknown:
        raise ValidationFailed(
            _("Unknown modules: %(names)s") % {"names": ", ".join(sorted(unknown))},
            fields={"modules": [_("Choose from: %(names)s") % {"names": ", ".join(sorted(known))}]},
        )
    org = Organization(
        name=name.strip(), time_zone=time_zone, currency=currency, language=language, enabled_modules=sorted(enabled)
    )
    validate(org)
    org.save()
    for key, (role_name, description, permissions) in DEFAULT_ROLES.items():
        with translation.override(language):
            Role.objects.create(
                organization=org,
                key=key,
                name=_(role_name),
                description=_(description),
                permissions=copy.deepcopy(permissions),
                is_system=True,
            )
    audit.record(
        actor=actor,
        action="organization.create",
        target=org,
        organization=org,
        changes={"name": org.name, "modules": org.enabled_modules},
    )
    admin = _user_new(org=org, email=admin_email, name=admin_name, role=org.roles.get(key="administrator"))
    admin.set_password(admin_password)
    admin.joined_at = timezone.now()
    admin.save()
    audit.record(
        actor=actor,
        action="user.create",
        target=admin,
        organization=org,
        changes={"email": admin.email, "role": "administrator"},
    )
    return org


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, data: dict[str, Any]) -> Organization:
    require(actor, "administer", modules.PLATFORM)
    if organization.pk != actor.organization_id:
        raise DomainError(code="not_found")
    if "enabled_modules" in data:
        known = {m.key for m in modules.licensable_modules()}
        data["enabled_modules"] = sorted(set(data["enabled_modules"]) & known)
    changes = apply_changes(organization, data)
    validate(organization)
    organization.save()
    if changes:
        audit.record(actor=actor, action="organization.update", target=organization, changes=changes)
    return organization


@transaction.atomic
def organization_license_update(*, actor: Any, organization: Organization, data: dict[str, Any]) -> Organization:
    """The vendor's side of an organisation: enabled modules, seats, active. Platform staff only (they
    belong to no organisation); the entry goes to the organisation's own audit chain so that its
    administrators see what the vendor changed."""
    if not (getattr(actor, "is_staff", False) and getattr(actor, "is_active", False)) or actor.organization_id:
        raise PermissionDenied()
    allowed = {"enabled_modules", "seats", "is_active"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(_("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if "enabled_modules" in data:
        known = {m.key for m in modules.licensable_modules()}
        bad = set(data["enabled_modules"]) - known
        if bad:
            raise ValidationFailed(
                _("Unknown modules: %(names)s") % {"names": ", ".join(sorted(bad))},
                fields={"enabled_modules": [_("Choose from: %(names)s") % {"names": ", ".join(sorted(known))}]},
            )
        data["enabled_modules"] = sorted(set(data["enabled_modules"]))
    changes = apply_changes(organization, data)
    validate(organization)
    organization.save()
    if changes:
        audit.record(
            actor=actor,
            action="organization.license_update",
            target=organization,
            organization=organization,
            changes=changes,
        )
    return organization


# Users -----------------------------------------------------------------------------------------------


def _seats_used(org: Organization) -> int:
    return (
        User.objects.filter(organization=org, is_active=True).count()
        + User.objects.filter(
            organization=org,
            is_active=False,
            invited_at__isnull=False,
            joined_at__isnull=True,
            deactivated_at__isnull=True,
        ).count()
    )


def _check_seat(org: Organization) -> None:
    # Read the limit fresh and lock the organisation row, so two concurrent invitations cannot both
    # take the last seat.
    seats = Organization.objects.select_for_update().values_list("seats", flat=True).get(pk=org.pk)
    if seats is not None and _seats_used(org) >= seats:
        raise SeatLimitReached()


def _user_new(
    *, org: Organization, email: str, name: str, role: Role | None, team: Team | None = None, phone: str = ""
) -> User:
    email = User.objects.normalize_email(email or "").strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationFailed(
            _("A user with this email already exists."), fields={"email": [_("A user with this email already exists.")]}
        )
    user = User(organization=org, email=email, name=name, role=role, team=team, phone=phone)
    validate(user, exclude=["password"])
    return user


def _same_org(actor: User, *records: Any) -> None:
    for record in records:
        if record is not None and record.organization_id != actor.organization_id:
            raise ValidationFailed(_("That choice is not part of your organisation."))


@transaction.atomic
def user_create(
    *,
    actor: Any,
    organization: Organization,
    email: str,
    password: str,
    role: Role,
    name: str = "",
    team: Team | None = None,
) -> User:
    """Create an active user with a password (command line and administrators)."""
    if getattr(actor, "organization_id", None) is not None:
        require(actor, "create", User)
        _same_org(actor, role, team)
    _check_seat(organization)
    user = _user_new(org=organization, email=email, name=name, role=role, team=team)
    password_validate(password, user=user)
    user.set_password(password)
    user.joined_at = timezone.now()
    user.save()
    audit.record(
        actor=actor,
        action="user.create",
        target=user,
        organization=organization,
        changes={"email": user.email, "role": role.key, "team": team.name if team else None},
    )
    return user


@transaction.atomic
def user_invite(
    *,
    actor: User,
    email: str,
    role: Role,
    name: str = "",
    team: Team | None = None,
    base_url: str = "http://127.0.0.1:8000",
) -> tuple[User, str]:
    """Invite a colleague: an inactive user and a one-time link, mailed after commit. Returns the link too,
    so an administrator without working email can hand it over."""
    require(actor, "create", User)
    _same_org(actor, role, team)
    org = actor.organization
    _check_seat(org)
    user = _user_new(org=org, email=email, name=name, role=role, team=team)
    user.set_unusable_password()
    user.is_active = False
    user.invited_at = timezone.now()
    user.save()
    link = base_url.rstrip("/") + invitation_path(user)
    audit.record(
        actor=actor,
        action="user.invite",
        target=user,
        changes={"email": user.email, "role": role.key, "team": team.name if team else None},
    )
    language = org.language
    # robust: without a working mail server the invitation still stands; the administrator hands over the link.
    transaction.on_commit(lambda: _send_invitation(user=user, inviter=actor, link=link, language=language), robust=True)
    return user, link


def invitation_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse(
        "accounts:invitation_accept", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)}
    )


def _send_invitation(*, user: User, inviter: User, link: str, language: str) -> None:
    with translation.override(language):
        context = {"user": user, "inviter": inviter, "organization": inviter.organization, "link": link}
        subject = _("%(inviter)s invited you to %(org)s on Kehu CRM") % {
            "inviter": inviter,
            "org": inviter.organization,
        }
        body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


@transaction.atomic
def invitation_accept(*, user: User, token: str, password: str, name: str = "") -> User:
    if not user.is_pending_invitation or not default_token_generator.check_token(user, token):
        raise DomainError(_("This invitation link is invalid or has already been used."), code="invalid_invitation")
    password_validate(password, user=user)
    user.set_password(password)
    if name:
        user.name = name
    user.is_active = True
    user.joined_at = timezone.now()
    user.save()
    audit.record(actor=user, action="user.invitation_accept", target=user)
    return user


def invitation_user(*, uidb64: str, token: str) -> User | None:
    """The invited user a link from `invitation_path` names, or None when the link is invalid, expired or
    already used (one answer for all three, so a link reveals nothing about other accounts)."""
    from django.utils.encoding import force_str
    from django.utils.http import urlsafe_base64_decode

    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = User.objects.select_related("organization").filter(pk=pk).first()
    if user is None or not user.is_pending_invitation or not default_token_generator.check_token(user, token):
        return None
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, data: dict[str, Any]) -> User:
    allowed = {"name", "phone", "team", "role", "language"}
    if actor.pk == user.pk and set(data) <= {"name", "phone", "language"}:
        pass  # everyone edits their own profile
    else:
        require(actor, "edit", user)
        _same_org(actor, data.get("role"), data.get("team"))
        if user.pk == actor.pk and "role" in data and data["role"] != user.role:
            raise ValidationFailed(
                _("You cannot change your own role."), fields={"role": [_("You cannot change your own role.")]}
            )
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(_("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))})
    changes = apply_changes(user, data)
    validate(user, exclude=["password"])
    user.save()
    if changes:
        audit.record(actor=actor, action="user.update", target=user, changes=changes)
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """Keeps the user's records and frees the seat; their sessions and tokens stop working."""
    require(actor, "edit", user)
    if user.pk == actor.pk:
        raise ValidationFailed(_("You cannot deactivate yourself."))
    if not user.is_active and user.deactivated_at:
        return user
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at"])
    audit.record(
        actor=actor, action="user.deactivate", target=user, changes={"is_active": {"before": True, "after": False}}
    )
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    require(actor, "edit", user)
    if user.is_active:
        return user
    _check_seat(user.organization)
    user.is_active = True
    user.deactivated_at = None
    if user.joined_at is None:  # a cancelled invitation that is renewed by reactivation
        user.joined_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at", "joined_at"])
    audit.record(
        actor=actor, action="user.reactivate", target=user, changes={"is_active": {"before": False, "after": True}}
    )
    return user


def password_validate(password: str, *, user: User | None = None) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    org = getattr(user, "organization", None)
    errors = []
    if org is not None and len(password or "") < org.password_min_length:
        errors.append(_("The password must be at least %(n)d characters long.") % {"n": org.password_min_length})
    try:
        validate_password(password or "", user=user)
    except ValidationError as exc:
        errors.extend(exc.messages)
    if errors:
        raise ValidationFailed(" ".join(errors), fields={"password": errors})


@transaction.atomic
def password_change(*, actor: User, current: str, new: str) -> None:
    if not actor.check_password(current):
        raise ValidationFailed(
            _("The current password is wrong."), fields={"current": [_("The current password is wrong.")]}
        )
    password_validate(new, user=actor)
    actor.set_password(new)
    actor.save(update_fields=["password"])
    audit.record(actor=actor, action="user.password_change", target=actor)


@transaction.atomic
def password_reset(*, user: User, new: str) -> None:
    """Set a new password through an emailed reset link. Proving control of the mailbox also lifts a
    lock-out, so a locked-out user is not stuck until it expires."""
    password_validate(new, user=user)
    user.set_password(new)
    user.failed_logins, user.locked_until = 0, None
    user.save(update_fields=["password", "failed_logins", "locked_until"])
    audit.record(actor=user, action="user.password_reset", target=user)


# Login, lock-out, two-factor -----------------------------------------------------------------------


def login_failed(*, email: str, user: User | None, ip: str | None, reason: str = "bad_password") -> None:
    """Count a failed login; lock the account after too many in a row."""
    with transaction.atomic():
        changes: dict[str, Any] = {"email": email, "reason": reason}
        if user is not None:
            user = User.objects.select_for_update().get(pk=user.pk)
            user.failed_logins += 1
            if user.failed_logins >= settings.LOGIN_LOCKOUT_FAILURES:
                user.locked_until = timezone.now() + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
                changes["locked_until"] = user.locked_until
            user.save(update_fields=["failed_logins", "locked_until"])
        anonymous = _Anonymous(ip)
        audit.record(
            actor=anonymous,
            action="auth.login_failed",
            target=user,
            organization=getattr(user, "organization", None),
            actor_label=email[:254],
            changes=changes,
        )


def login_rejected(*, email: str, ip: str | None) -> datetime | None:
    """After authenticate() refused `email`: count the failure, unless the account is already locked
    (attempts during a lock-out do not extend it). Returns when the lock ends if the account is locked."""
    email = (email or "").strip().lower()
    user = User.objects.filter(email=email).first()
    if user is not None and is_locked(user):
        return user.locked_until
    login_failed(email=email, user=user, ip=ip)
    if user is not None:
        user.refresh_from_db(fields=["locked_until"])
        if is_locked(user):
            return user.locked_until
    return None


def login_succeeded(*, user: User) -> None:
    with transaction.atomic():
        if user.failed_logins or user.locked_until:
            user.failed_logins, user.locked_until = 0, None
            user.save(update_fields=["failed_logins", "locked_until"])
        audit.record(actor=user, action="auth.login", target=user)


def logged_out(*, user: User) -> None:
    audit.record(actor=user, action="auth.logout", target=user)


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > timezone.now()


class _Anonymous:
    """An actor with no user: carries the IP for the audit entry of a failed login."""

    is_authenticated = False
    organization_id = None

    def __init__(self, ip: str | None) -> None:
        self.request_ip = ip


def totp_begin(*, actor: User) -> str:
    """A new secret for the authenticator app; enabled only once a code from it is confirmed."""
    actor.totp_secret = pyotp.random_base32()
    actor.save(update_fields=["totp_secret"])
    return actor.totp_secret


def totp_uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name="Kehu CRM")


def totp_verify(user: User, code: str) -> bool:
    return bool(user.totp_secret) and pyotp.TOTP(user.totp_secret).verify(
        (code or "").strip().replace(" ", ""), valid_window=1
    )


@transaction.atomic
def totp_confirm(*, actor: User, code: str) -> None:
    if not totp_verify(actor, code):
        raise ValidationFailed(
            _("The code is not correct. Check the time on your phone and try again."),
            fields={"code": [_("The code is not correct.")]},
        )
    actor.totp_enabled = True
    actor.save(update_fields=["totp_enabled"])
    audit.record(actor=actor, action="user.2fa_enable", target=actor)


@transaction.atomic
def totp_disable(*, actor: User, user: User) -> None:
    if actor.pk != user.pk:
        require(actor, "edit", user)
    if user.organization and user.organization.require_2fa and actor.pk == user.pk:
        raise ValidationFailed(_("Your organisation requires two-factor authentication."))
    user.totp_enabled, user.totp_secret = False, ""
    user.save(update_fields=["totp_enabled", "totp_secret"])
    audit.record(actor=actor, action="user.2fa_disable", target=user)


# Teams -----------------------------------------------------------------------------------------------


def _team_paths_rebuild(org_id: int) -> None:
    teams = {t.pk: t for t in Team.objects.filter(organization_id=org_id)}

    def path_of(team: Team, seen: set[int]) -> str:
        if team.parent_id is None:
            return f"/{team.pk}/"
        if team.parent_id in seen:
            raise ValidationFailed(
                _("A team cannot be inside itself."), fields={"parent": [_("A team cannot be inside itself.")]}
            )
        return path_of(teams[team.parent_id], seen | {team.pk}) + f"{team.pk}/"

    for team in teams.values():
        new_path = path_of(team, set())
        if new_path != team.path:
            Team.objects.filter(pk=team.pk).update(path=new_path)


def _team_name_check(team: Team) -> None:
    siblings = Team.objects.filter(organization_id=team.organization_id, parent_id=team.parent_id, name=team.name)
    if siblings.exclude(pk=team.pk).exists():
        message = _("A team with this name already exists here.")
        raise ValidationFailed(message, fields={"name": [message]})


@transaction.atomic
def team_create(*, actor: User, name: str, parent: Team | None = None, manager: User | None = None) -> Team:
    require(actor, "create", Team)
    _same_org(actor, parent, manager)
    team = Team(organization_id=actor.organization_id, name=name.strip(), parent=parent, manager=manager)
    _team_name_check(team)
    validate(team)
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as exc:
        raise ValidationFailed(
            _("A team with this name already exists here."),
            fields={"name": [_("A team with this name already exists here.")]},
        ) from exc
    _team_paths_rebuild(actor.organization_id)
    team.refresh_from_db()
    audit.record(
        actor=actor,
        action="team.create",
        target=team,
        changes={
            "name": team.name,
            "parent": parent.name if parent else None,
            "manager": manager.email if manager else None,
        },
    )
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, data: dict[str, Any]) -> Team:
    require(actor, "edit", team)
    _same_org(actor, data.get("parent"), data.get("manager"))
    changes = apply_changes(team, data)
    _team_name_check(team)
    validate(team)
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as exc:
        raise ValidationFailed(
            _("A team with this name already exists here."),
            fields={"name": [_("A team with this name already exists here.")]},
        ) from exc
    _team_paths_rebuild(actor.organization_id)
    team.refresh_from_db()
    if changes:
        audit.record(actor=actor, action="team.update", target=team, changes=changes)
    return team


@transaction.atomic
def team_delete(*, actor: User, team: Team) -> None:
    require(actor, "delete", team)
    if team.children.exists():
        raise ValidationFailed(_("Move or delete the sub-teams first."))
    if team.members.exists():
        raise ValidationFailed(_("Move the members to another team first."))
    audit.record(actor=actor, action="team.delete", target=team, changes={"name": team.name})
    team.delete()


# Roles -----------------------------------------------------------------------------------------------


def _clean_permissions(permissions: dict[str, Any]) -> dict[str, Any]:
    clean, errors = {}, []
    scopes = set(Scope.values)
    for key, spec in (permissions or {}).items():
        try:
            module = modules.get(key)
        except KeyError:
            errors.append(_("Unknown module: %(m)s") % {"m": key})
            continue
        actions = [a for a in module.actions if a in set(spec.get("actions", []))]
        bad = set(spec.get("actions", [])) - set(module.actions)
        if bad:
            errors.append(_("Unknown actions for %(m)s: %(a)s") % {"m": key, "a": ", ".join(sorted(bad))})
        scope = spec.get("scope", Scope.OWN)
        if scope not in scopes:
            errors.append(_("Unknown data scope for %(m)s: %(s)s") % {"m": key, "s": scope})
        if actions:
            clean[key] = {"actions": actions, "scope": scope}
    if errors:
        raise ValidationFailed(" ".join(errors), fields={"permissions": errors})
    return clean


def _role_key(org_id: int, name: str) -> str:
    from django.utils.text import slugify

    base = slugify(name)[:40] or "role"
    key, n = base, 1
    while Role.objects.filter(organization_id=org_id, key=key).exists():
        n += 1
        key = f"{base}_{n}"
    return key


def _role_save(role: Role) -> None:
    # Checked before full_clean, whose constraint check would report it without naming the field.
    if Role.objects.filter(organization_id=role.organization_id, name=role.name).exclude(pk=role.pk).exists():
        raise ValidationFailed(
            _("A role with this name already exists."), fields={"name": [_("A role with this name already exists.")]}
        )
    validate(role, exclude=["key"])
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as exc:
        raise ValidationFailed(
            _("A role with this name already exists."), fields={"name": [_("A role with this name already exists.")]}
        ) from exc


@transaction.atomic
def role_create(*, actor: User, name: str, permissions: dict[str, Any], description: str = "") -> Role:
    require(actor, "create", Role)
    role = Role(
        organization_id=actor.organization_id,
        name=name.strip(),
        description=description,
        permissions=_clean_permissions(permissions),
        key=_role_key(actor.organization_id, name),
    )
    _role_save(role)
    audit.record(
        actor=actor, action="role.create", target=role, changes={"name": role.name, "permissions": role.permissions}
    )
    return role


@transaction.atomic
def role_copy(*, actor: User, role: Role, name: str) -> Role:
    require(actor, "view", role)
    return role_create(
        actor=actor, name=name, permissions=copy.deepcopy(role.permissions), description=role.description
    )


@transaction.atomic
def role_update(*, actor: User, role: Role, data: dict[str, Any]) -> Role:
    require(actor, "edit", role)
    if "permissions" in data:
        data["permissions"] = _clean_permissions(data["permissions"])
        if role.is_system and role.key == "administrator":
            raise ValidationFailed(_("The administrator role cannot be changed; copy it instead."))
    changes = apply_changes(role, {k: v for k, v in data.items() if k in {"name", "description", "permissions"}})
    _role_save(role)
    if changes:
        # Permission changes are audited with their full before/after.
        audit.record(actor=actor, action="role.update", target=role, changes=changes)
    return role


@transaction.atomic
def role_delete(*, actor: User, role: Role) -> None:
    require(actor, "delete", role)
    if role.is_system:
        raise ValidationFailed(_("Roles shipped with Kehu cannot be deleted."))
    if role.users.exists():
        raise ValidationFailed(_("Give the users of this role another role first."))
    audit.record(actor=actor, action="role.delete", target=role, changes={"name": role.name})
    role.delete()


# API tokens ------------------------------------------------------------------------------------------


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def token_create(
    *, actor: User, user: User | None = None, name: str = "API", scope: str = "read", expires_days: int | None = None
) -> tuple[ApiToken, str]:
    """Returns the token and its secret; only a hash is stored, so the secret is shown once."""
    user = user or actor
    if user.pk != actor.pk:
        require(actor, "administer", modules.PLATFORM)
    if user.organization_id is None:
        raise ValidationFailed(_("Platform staff have no organisation data to reach through the API."))
    if scope not in ApiToken.TokenScope.values:
        raise ValidationFailed(_("Scope must be read or write."), fields={"scope": [_("Scope must be read or write.")]})
    if expires_days is not None and expires_days <= 0:
        raise ValidationFailed(
            _("Expiry must be a positive number of days."), fields={"expires": [_("Must be positive.")]}
        )
    days = expires_days if expires_days is not None else settings.API_TOKEN_DEFAULT_EXPIRY.days
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization_id=user.organization_id,
        user=user,
        name=name[:100] or "API",
        prefix=raw[:12],
        key_hash=token_hash(raw),
        scope=scope,
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(
        actor=actor,
        action="token.create",
        target=token,
        changes={"user": user.email, "scope": scope, "expires_at": token.expires_at},
    )
    return token, raw


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    require(actor, "edit", token)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="token.revoke", target=token)
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    token = (
        ApiToken.objects.usable()
        .select_related("user", "user__organization", "user__role", "user__team")
        .filter(key_hash=token_hash(raw))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # throttled write on a hot path
    return token
