"""The base of every business record, and the append-only audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.permissions import Scope


class TenantQuerySet(models.QuerySet):
    """Rows that belong to one organisation (users, teams, roles, tokens): the tenant boundary only."""

    def visible_to(self, actor: Any) -> TenantQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id)

    def dangerously_all_organizations(self) -> TenantQuerySet:
        """Every row of every organisation. Only for migrations, platform jobs and tests."""
        return self.all()


class BusinessQuerySet(TenantQuerySet):
    def visible_to(self, actor: Any) -> BusinessQuerySet:
        """The records `actor` may see: their organisation, not deleted, within the role's data scope.

        Fails closed: no actor, no organisation, a disabled module or no `view` grant returns nothing.
        """
        from kehu.core.permissions import can

        model = self.model
        if actor is None or not can(actor, "view", model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        return qs.filter(scope_filter(actor, actor.grant_for(model.module).scope))

    def own_for(self, actor: Any) -> BusinessQuerySet:
        """The actor's own records: exactly `visible_to(actor).filter(owner=actor)`, because every data scope
        covers one's own records, but without the scope's OR branches, which make PostgreSQL misjudge how
        many rows match ("my tickets", "my day": a walk of the owner's index instead of a scan)."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id, deleted_at__isnull=True, owner_id=actor.pk)

    def deleted(self) -> BusinessQuerySet:
        return self.filter(deleted_at__isnull=False)


def scope_filter(actor: Any, scope: str, owner_field: str = "owner") -> models.Q:
    """The rows of `scope` as seen by `actor`, through the user in `owner_field` ("" when the rows are users)."""

    def through(suffix: str) -> str:
        return f"{owner_field}__{suffix}" if owner_field else suffix

    own = {f"{owner_field}_id" if owner_field else "pk": actor.pk}
    if scope == Scope.ORGANIZATION:
        return models.Q()
    if scope == Scope.OWN or actor.team_id is None:
        return models.Q(**own)
    # Team scopes: the team's members are read first (one small query) and the rows filtered by that list
    # of owner ids. A join to users and teams in the rows' query leaves PostgreSQL guessing how many rows
    # the team owns (it guessed 121 of 600,000 at a million customers, and sorted them all: 1.3 s for a
    # filtered list sorted by name); with the ids it uses the owner statistics and the right index.
    ids = _team_member_ids(actor, scope)
    return models.Q(**{f"{owner_field}_id__in" if owner_field else "pk__in": ids})


def owner_in_scope(actor: Any, scope: str, owner_id: int | None) -> bool:
    """Whether scope_filter(actor, scope) admits a row owned by `owner_id` (None: no owner): the same rule,
    asked of one row the caller holds instead of in a statement."""
    if scope == Scope.ORGANIZATION:
        return True
    if scope == Scope.OWN or actor.team_id is None:
        return owner_id == actor.pk
    return owner_id in _team_member_ids(actor, scope)


def _team_member_ids(actor: Any, scope: str) -> list[int]:
    """The ids of the users in the actor's team (scope TEAM) or team tree, read once per actor object: a
    page asks for several record types' visibility (a customer's page: the customer, contacts, notes,
    files, timeline), and the actor object lives for one request or one job."""
    from kehu.accounts.models import User

    memo = actor.__dict__.setdefault("_kehu_team_members", {})
    key = (scope, actor.team_id)
    if key not in memo:
        members = User.objects.filter(organization_id=actor.organization_id)
        if scope == Scope.TEAM:
            members = members.filter(team_id=actor.team_id)
        else:
            members = members.filter(team__path__startswith=actor.team.path)
        memo[key] = list(members.values_list("pk", flat=True))
    return memo[key]


class BusinessModel(models.Model):
    """Every business row: tenant, owner, who and when, optimistic-lock version, soft delete.

    Indexes and unique constraints of subclasses lead with `organization` so that the schema can be
    sharded by organisation later without a redesign.
    """

    module: str = "platform"

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditChainHead(models.Model):
    """The last entry of one audit chain (one per organisation, one for the platform).

    Appending locks this row, so entries of one chain are written one at a time and in order.
    """

    chain = models.CharField(max_length=40, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.chain} @ {self.last_seq}"


class AuditEntry(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chain = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=254, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=255, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique")]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_time"),
            # A record's timeline reads its entries newest first.
            models.Index(fields=["organization", "target_type", "target_id", "-created_at"], name="audit_org_target"),
            models.Index(fields=["organization", "action", "-created_at"], name="audit_org_action_time"),
        ]
        ordering = ["-created_at", "-seq"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Audit entries are append-only.")


class Notification(models.Model):
    """An in-app notification for one user (mentions, assignments, joined colleagues, ...)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=255)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "recipient", "read_at", "-created_at"], name="notif_inbox")]

    def __str__(self) -> str:
        return self.title


# Custom fields and saved views (generic over record types): models in their own files.
from kehu.core.choice_list_models import *  # noqa: E402,F403  (editable option lists)
from kehu.core.custom_field_models import *  # noqa: E402,F403
from kehu.core.import_models import *  # noqa: E402,F403  (import jobs)
from kehu.core.saved_view_models import *  # noqa: E402,F403
