"""Satisfaction surveys 满意度调查 (imported at the end of service/models.py).

When a ticket is resolved its requester gets one e-mail with five score links. The link carries a token
signed with django.core.signing (the survey's id and a random nonce), so it works without a login, cannot
be forged or pointed at another survey, expires, and is single use: the first score is kept.

A survey is a business record owned by the agent it rates, so that an agent sees their own ratings and a
manager those of their team (the data scope applies to `owner`). Its answer is a separate row.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, TenantQuerySet
from kehu.service.models import MODULE
from kehu.service.ticket_models import Queue, Ticket

__all__ = ["Survey", "SurveyResponse"]

SCORES = (1, 2, 3, 4, 5)


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


class Survey(BusinessModel):
    module = MODULE

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys", verbose_name=_("ticket"))
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("queue")
    )
    email = models.CharField(_("sent to"), max_length=254)
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "ticket"], name="survey_one_per_ticket")]
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="survey_org_created"),
            models.Index(fields=["organization", "owner", "created_at"], name="survey_org_owner"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id}"


class SurveyResponse(models.Model):
    """The customer's answer: a score of 1-5 (one click), then an optional comment."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="response")
    score = models.PositiveSmallIntegerField(_("score"), choices=[(s, str(s)) for s in SCORES])
    comment = models.TextField(_("comment"), blank=True)
    responded_at = models.DateTimeField(_("answered at"))
    commented_at = models.DateTimeField(_("commented at"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        indexes = [models.Index(fields=["organization", "responded_at"], name="survey_resp_org_time")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="survey_score_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}: {self.score}"
