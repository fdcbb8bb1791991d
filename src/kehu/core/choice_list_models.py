"""The options of an organisation's editable lists (customer tiers, lifecycle stages, ticket types ...).

One row per option of one list of one organisation. The built-in options of a list come from the code
(`kehu.core.choice_lists`); their rows keep an empty `label` until an administrator renames them, so
they read in each user's language. Records store the option's `key`, which never changes.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core import modules
from kehu.core.models import TenantQuerySet

__all__ = ["ChoiceOption"]


class ChoiceOptionQuerySet(TenantQuerySet):
    def visible_to(self, actor: Any) -> ChoiceOptionQuerySet:
        """The organisation's options of the lists whose module the actor may view. Options are shared
        configuration: the tenant boundary applies, the data scope does not."""
        from kehu.core import choice_lists
        from kehu.core.permissions import can

        if actor is None or getattr(actor, "organization_id", None) is None:
            return self.none()
        keys = [spec.key for spec in choice_lists.all_lists() if can(actor, "view", spec.module)]
        return self.filter(organization_id=actor.organization_id, list_key__in=keys)


class ChoiceOption(models.Model):
    # The module that answers permission questions is the list's (ChoiceOptionPolicy), not this one.
    module = modules.PLATFORM

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    list_key = models.CharField(_("list"), max_length=40)
    key = models.CharField(_("key"), max_length=20)
    label = models.CharField(_("label"), max_length=50, blank=True)
    builtin = models.BooleanField(_("built-in"), default=False)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = ChoiceOptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("list option")
        verbose_name_plural = _("list options")
        ordering = ["list_key", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "list_key", "key"], name="choiceoption_unique_key"),
        ]

    def __str__(self) -> str:
        return self.display_label

    @property
    def display_label(self) -> str:
        """The administrator's label, or the built-in's in the reader's language."""
        from kehu.core import choice_lists

        if self.label:
            return self.label
        return choice_lists.builtin_label(self.list_key, self.key)
