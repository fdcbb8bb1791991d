"""Vendor support access: grants (an organisation administrator's decision), their expiry, and the
support sessions of platform staff. Every step, and every request platform staff make during a session,
is audited in the organisation's own chain, so its administrators see who looked at what and when."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import SUPPORT_HOURS_MAX, SUPPORT_HOURS_MIN, SupportActor, SupportGrant, User
from kehu.accounts.policies import is_platform_staff
from kehu.core import audit
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.services import require

REASON_MAX_LENGTH = 500
# The longest request path kept in an access entry (query strings can be long; the path says enough).
ACCESS_PATH_MAX_LENGTH = 500


def _hours_error() -> str:
    return _("Enter a whole number of hours from %(min)d to %(max)d.") % {
        "min": SUPPORT_HOURS_MIN,
        "max": SUPPORT_HOURS_MAX,
    }


def _clean_hours(hours: Any) -> int:
    try:
        value = int(hours)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(hours, bool) or str(hours).strip() != str(value):
        raise ValidationFailed(_hours_error(), fields={"hours": [_hours_error()]})
    if not SUPPORT_HOURS_MIN <= value <= SUPPORT_HOURS_MAX:
        raise ValidationFailed(_hours_error(), fields={"hours": [_hours_error()]})
    return value


def _clean_reason(reason: Any) -> str:
    text = str(reason or "").strip()
    if not text:
        message = _("Say why the vendor needs access, for example the support ticket it is about.")
        raise ValidationFailed(message, fields={"reason": [message]})
    if len(text) > REASON_MAX_LENGTH:
        message = _("Keep the reason under %(n)d characters.") % {"n": REASON_MAX_LENGTH}
        raise ValidationFailed(message, fields={"reason": [message]})
    return text


def support_grants_expire(*, organization_id: int | None = None, now: Any = None) -> int:
    """Record the end of every grant past its expiry (all organisations, or one). Idempotent: a grant's
    end is written by one conditional UPDATE, and only the run that wrote it adds the audit entry."""
    now = now or timezone.now()
    lapsed = SupportGrant.objects.dangerously_all_organizations().lapsed(now).select_related("organization")
    if organization_id is not None:
        lapsed = lapsed.filter(organization_id=organization_id)
    count = 0
    for grant in list(lapsed[:1000]):
        with transaction.atomic():
            closed = SupportGrant.objects.dangerously_all_organizations().filter(pk=grant.pk, ended_at__isnull=True)
            if not closed.update(ended_at=grant.expires_at, end_reason=SupportGrant.EndReason.EXPIRED):
                continue
            audit.record(
                actor=None,
                action="support_grant.expire",
                target=grant,
                organization=grant.organization,
                actor_label="system",
                changes={"expires_at": grant.expires_at},
            )
            count += 1
    return count


@transaction.atomic
def support_grant_create(*, actor: User, hours: Any, reason: Any) -> SupportGrant:
    """Grant the vendor's staff read-only access to the whole organisation for `hours` (1–72)."""
    require(actor, "create", SupportGrant)
    hours = _clean_hours(hours)
    reason = _clean_reason(reason)
    support_grants_expire(organization_id=actor.organization_id)
    if SupportGrant.objects.visible_to(actor).filter(ended_at__isnull=True).exists():
        message = _("The vendor already has access. Revoke that grant before granting a new one.")
        raise ValidationFailed(message, code="support_grant_open")
    now = timezone.now()
    grant = SupportGrant(
        organization_id=actor.organization_id,
        granted_by=actor,
        reason=reason,
        hours=hours,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    try:
        with transaction.atomic():
            grant.save()
    except IntegrityError as exc:  # two administrators granting at the same moment
        message = _("The vendor already has access. Revoke that grant before granting a new one.")
        raise ValidationFailed(message, code="support_grant_open") from exc
    audit.record(
        actor=actor,
        action="support_grant.create",
        target=grant,
        changes={"hours": hours, "reason": reason, "expires_at": grant.expires_at},
    )
    return grant


@transaction.atomic
def support_grant_revoke(*, actor: User, grant: SupportGrant) -> SupportGrant:
    """End a grant before its expiry; a support session under it ends with the next request."""
    require(actor, "edit", grant)
    support_grants_expire(organization_id=grant.organization_id)
    now = timezone.now()
    ended = SupportGrant.objects.visible_to(actor).filter(pk=grant.pk, ended_at__isnull=True)
    if not ended.update(ended_at=now, end_reason=SupportGrant.EndReason.REVOKED, ended_by=actor):
        grant.refresh_from_db()
        raise ValidationFailed(_("This grant has already ended."), code="support_grant_ended")
    grant.refresh_from_db()
    audit.record(
        actor=actor,
        action="support_grant.revoke",
        target=grant,
        changes={"expires_at": grant.expires_at, "ended_at": now},
    )
    return grant


# Support sessions of platform staff ---------------------------------------------------------------------


def _grant_by_id(grant_id: Any) -> SupportGrant | None:
    """Platform side: a grant of any organisation (the caller has checked that the user is platform staff)."""
    try:
        pk = int(grant_id)
    except (TypeError, ValueError):
        return None
    return SupportGrant.objects.dangerously_all_organizations().select_related("organization").filter(pk=pk).first()


def _grant_in_force(grant_id: Any) -> SupportGrant | None:
    grant = _grant_by_id(grant_id)
    if grant is None:
        return None
    if grant.ended_at is None and grant.expires_at <= timezone.now():
        support_grants_expire(organization_id=grant.organization_id)  # record the expiry now, not at the next job
        return None
    if not grant.in_force or not grant.organization.is_active:
        return None
    return grant


@transaction.atomic
def support_session_start(*, staff: Any, grant_id: Any) -> SupportGrant:
    """Platform staff open the organisation of an active grant, read-only. Anyone else is refused."""
    if not is_platform_staff(staff):
        raise PermissionDenied(_("Only the vendor's platform staff can open a support session."))
    grant = _grant_in_force(grant_id)
    if grant is None:
        raise ValidationFailed(_("This support grant has ended or was revoked."), code="support_grant_ended")
    audit.record(
        actor=staff,
        action="support.session_start",
        target=grant,
        organization=grant.organization,
        changes={"expires_at": grant.expires_at},
    )
    return grant


def support_session_end(*, staff: Any, grant_id: Any, reason: str = "exit") -> None:
    """Platform staff leave a support session (the button in the banner, or signing out)."""
    if not is_platform_staff(staff):
        return
    grant = _grant_by_id(grant_id)
    if grant is None:
        return
    audit.record(
        actor=staff,
        action="support.session_end",
        target=grant,
        organization=grant.organization,
        changes={"reason": reason},
    )


def support_actor_for(*, staff: Any, grant_id: Any) -> SupportActor | None:
    """The read-only support actor for this request, or None when the session must end: the user is not
    platform staff, or the grant ended, expired or was revoked. Checked on every request."""
    if not is_platform_staff(staff):
        return None
    grant = _grant_in_force(grant_id)
    if grant is None:
        return None
    return SupportActor.for_session(staff=staff, grant=grant)


def support_access_record(*, actor: SupportActor, method: str, path: str) -> None:
    """One audit entry per request of a support session, in the organisation's chain."""
    audit.record(
        actor=actor.staff,
        action="support.access",
        target=actor.support_grant,
        organization=actor.organization,
        changes={"method": method, "path": path[:ACCESS_PATH_MAX_LENGTH]},
    )
