"""Saved views of a list: filters, sort order and columns under a name, personal or shared with the
organisation. Generic over record types, so every list of every module reuses them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core import modules
from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet
from kehu.core.permissions import Policy, register_policy

if TYPE_CHECKING:
    from kehu.accounts.models import User


class SavedViewQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> SavedViewQuerySet:
        """The actor's own views and the views shared with the whole organisation; never another
        organisation's, never a colleague's personal one."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        return qs.filter(Q(owner_id=actor.pk) | Q(shared=True))


class SavedView(BusinessModel):
    module = modules.PLATFORM

    record_type = models.CharField(_("record type"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    ordering = models.CharField(_("sort order"), max_length=64, blank=True)
    columns = models.JSONField(_("columns"), default=list, blank=True)
    shared = models.BooleanField(_("shared with the organisation"), default=False)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "record_type", "owner"], name="savedview_org_type_owner")]

    def __str__(self) -> str:
        return self.name


class SavedViewDefault(models.Model):
    """The view a user's list opens with, per record type (a shared view can be anyone's default)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=64)
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user", "record_type"], name="savedview_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.record_type}={self.view_id}"


class SavedViewPolicy(Policy):
    """Anyone who may view a record type keeps views of its list and may share them; a view is changed or
    removed by its owner, or (when shared) by an administrator of the record type's module."""

    module = modules.PLATFORM

    def can(self, actor: User, action: str, target: Any) -> bool:
        from kehu.core.permissions import can
        from kehu.core.saved_views import list_model

        if not isinstance(target, SavedView):
            return "view" in actor.grant_for(modules.PLATFORM).actions
        if target.organization_id != actor.organization_id:
            return False
        model = list_model(target.record_type)
        if model is None or not can(actor, "view", model):
            return False
        mine = target.owner_id == actor.pk
        if action == "view":
            return mine or target.shared
        if mine:
            return True
        return target.shared and can(actor, "administer", getattr(model, "module", modules.PLATFORM))


register_policy(SavedView, SavedViewPolicy())
