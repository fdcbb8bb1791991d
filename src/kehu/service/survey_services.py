"""Satisfaction surveys: sent when a ticket is resolved, answered by one click without a login.

The link's token is `django.core.signing.dumps({"s": survey id, "n": nonce})` with this module's salt: it
cannot be forged or altered (any change breaks the signature), it names exactly one survey (the nonce
must match the survey's), and it expires after SURVEY_VALID_DAYS. It is single use: the first score is
kept; the same link then only accepts a comment, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, modules
from kehu.core.errors import ValidationFailed
from kehu.service.models import MODULE, Survey, SurveyResponse, Ticket
from kehu.service.survey_models import SCORES

logger = logging.getLogger(__name__)

SALT = "kehu.service.survey"
SURVEY_VALID_DAYS = 14
COMMENT_MAX_LENGTH = 2000
SYSTEM_LABEL = "Kehu"


class SurveyLinkError(Exception):
    """A survey link that cannot be used; `reason` says why (the page explains it)."""

    def __init__(self, reason: str, survey: Survey | None = None) -> None:
        self.reason = reason  # "invalid" | "expired" | "unavailable" | "answered" | "commented"
        self.survey = survey
        super().__init__(reason)


def make_token(survey: Survey) -> str:
    return signing.dumps({"s": survey.pk, "n": survey.nonce}, salt=SALT, compress=False)


def survey_url(survey: Survey, *, base_url: str | None = None, score: int | None = None) -> str:
    path = reverse("survey:answer", args=[make_token(survey)])
    if score is not None:
        path += f"?score={score}"
    return (base_url or settings.SITE_URL).rstrip("/") + path


def survey_from_token(token: str) -> Survey:
    """The survey a link names, or SurveyLinkError (never another exception for any input)."""
    try:
        data = signing.loads(token or "", salt=SALT, max_age=timedelta(days=SURVEY_VALID_DAYS))
    except signing.SignatureExpired as exc:
        raise SurveyLinkError("expired") from exc
    except (signing.BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise SurveyLinkError("invalid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("n"), str):
        raise SurveyLinkError("invalid")
    survey = (
        Survey.objects.filter(pk=data["s"], nonce=data["n"], deleted_at__isnull=True)
        .select_related("ticket", "owner")
        .first()
    )
    if survey is None:
        raise SurveyLinkError("invalid")
    from kehu.accounts.models import Organization

    org = Organization.objects.filter(pk=survey.organization_id, is_active=True).first()
    if org is None or not modules.is_enabled(org, MODULE):
        raise SurveyLinkError("unavailable", survey)
    survey.organization = org
    if survey.expires_at <= timezone.now():
        raise SurveyLinkError("expired", survey)
    return survey


def _recipient(ticket: Ticket) -> str:
    if ticket.requester_email:
        return ticket.requester_email.strip()
    if ticket.contact_id and ticket.contact and ticket.contact.email:
        return ticket.contact.email.strip()
    if ticket.customer_id and ticket.customer and ticket.customer.email:
        return ticket.customer.email.strip()
    return ""


@transaction.atomic
def survey_send_for(*, ticket: Ticket, base_url: str | None = None) -> Survey | None:
    """Create the ticket's survey and e-mail it to the requester after commit. One survey per ticket:
    a ticket resolved again after a reopen is not surveyed twice. Nothing without an e-mail address."""
    from kehu.accounts.models import Organization

    org = Organization.objects.get(pk=ticket.organization_id)
    if not modules.is_enabled(org, MODULE):
        return None
    email = _recipient(ticket)
    if not email or "@" not in email:
        return None
    if Survey.objects.filter(organization_id=ticket.organization_id, ticket=ticket).exists():
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                organization_id=ticket.organization_id,
                ticket=ticket,
                owner_id=ticket.owner_id,
                queue_id=ticket.queue_id,
                email=email,
                expires_at=now + timedelta(days=SURVEY_VALID_DAYS),
            )
    except IntegrityError:  # sent by a concurrent resolution of the same ticket
        return None
    audit.record(
        actor=None,
        actor_label=SYSTEM_LABEL,
        action="survey.create",
        target=survey,
        changes={"ticket": ticket.pk, "email": email, "agent": ticket.owner_id},
        organization=org,
    )
    transaction.on_commit(lambda: _send(survey.pk, base_url), robust=True)
    return survey


def _send(survey_id: int, base_url: str | None) -> None:
    survey = Survey.objects.select_related("ticket", "owner").get(pk=survey_id)
    from kehu.accounts.models import Organization

    org = Organization.objects.get(pk=survey.organization_id)
    with translation.override(org.language or "zh-hans"):
        context = {
            "organization": org,
            "ticket": survey.ticket,
            "agent": survey.owner,
            "links": [(score, survey_url(survey, base_url=base_url, score=score)) for score in SCORES],
            "days": SURVEY_VALID_DAYS,
        }
        subject = _("How did we do? Your request #%(number)s: %(subject)s") % {
            "number": survey.ticket.number,
            "subject": survey.ticket.subject,
        }
        text = render_to_string("service/survey/email.txt", context)
        html = render_to_string("service/survey/email.html", context)
    message = EmailMultiAlternatives(subject[:200], text, settings.DEFAULT_FROM_EMAIL, [survey.email])
    message.attach_alternative(html, "text/html")
    message.send()
    Survey.objects.filter(pk=survey.pk).update(sent_at=timezone.now())


@dataclass(frozen=True)
class Answered:
    survey: Survey
    response: SurveyResponse
    new: bool  # False: the link had been used; the first score stands


def _clean_score(score: Any) -> int:
    try:
        value = int(score)
    except (TypeError, ValueError):
        value = 0
    if value not in SCORES:
        message = _("Choose a score from 1 to 5.")
        raise ValidationFailed(message, fields={"score": [message]})
    return value


def survey_answer(*, token: str, score: Any) -> Answered:
    """Record the customer's score. Single use: a second click keeps the first score."""
    survey = survey_from_token(token)
    value = _clean_score(score)
    existing = SurveyResponse.objects.filter(survey=survey).first()
    if existing is not None:
        return Answered(survey, existing, new=False)
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                organization_id=survey.organization_id, survey=survey, score=value, responded_at=timezone.now()
            )
            audit.record(
                actor=None,
                actor_label=survey.email,
                action="survey.answer",
                target=survey,
                changes={"score": value},
                organization=survey.organization,
            )
    except IntegrityError:  # two clicks at once: the other one was first
        return Answered(survey, SurveyResponse.objects.get(survey=survey), new=False)
    return Answered(survey, response, new=True)


def survey_comment(*, token: str, comment: Any) -> SurveyResponse:
    """Add the optional comment to an answered survey, once."""
    survey = survey_from_token(token)
    response = SurveyResponse.objects.filter(survey=survey).first()
    if response is None:
        raise SurveyLinkError("unanswered", survey)
    if response.commented_at is not None:
        raise SurveyLinkError("commented", survey)
    text = (comment or "").strip() if isinstance(comment, str) else ""
    if len(text) > COMMENT_MAX_LENGTH:
        message = _("At most %(max)d characters.") % {"max": COMMENT_MAX_LENGTH}
        raise ValidationFailed(message, fields={"comment": [message]})
    with transaction.atomic():
        updated = SurveyResponse.objects.filter(pk=response.pk, commented_at__isnull=True).update(
            comment=text, commented_at=timezone.now()
        )
        if not updated:
            raise SurveyLinkError("commented", survey)
        if text:
            audit.record(
                actor=None,
                actor_label=survey.email,
                action="survey.comment",
                target=survey,
                changes={"comment": text},
                organization=survey.organization,
            )
    response.refresh_from_db()
    return response


def on_ticket_event(ticket: Ticket, event: str, **info: Any) -> None:
    """The ticket_hooks callback (`callback(ticket, event, **info)`): a ticket that becomes resolved sends
    its survey."""
    if event != "status_changed" or not getattr(ticket, "pk", None):
        return
    if (info.get("after") or getattr(ticket, "status", None)) == Ticket.Status.RESOLVED:
        survey_send_for(ticket=ticket, base_url=info.get("base_url"))
