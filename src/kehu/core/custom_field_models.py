"""Custom field definitions: typed fields an administrator adds to a record type of the organisation.

The values live in the record's own `custom` JSON column; `kehu.core.custom_fields` validates them on
write and builds forms, filters and columns from these definitions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core import modules
from kehu.core.models import BusinessModel, BusinessQuerySet
from kehu.core.permissions import Policy, register_policy

if TYPE_CHECKING:
    from kehu.accounts.models import User

# Lower-case letters, digits and single underscores, starting with a letter: safe as a JSON key, as a
# query parameter and as a Django lookup segment (`custom__<key>`, which a double underscore would split).
KEY_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
KEY_MAX_LENGTH = 40


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    INTEGER = "integer", _("Whole number")
    DECIMAL = "decimal", _("Decimal number")
    DATE = "date", _("Date")
    DATETIME = "datetime", _("Date and time")
    SINGLE_SELECT = "single_select", _("Single select")
    MULTI_SELECT = "multi_select", _("Multi select")
    BOOLEAN = "boolean", _("Yes / no")
    USER = "user", _("User")
    URL = "url", _("URL")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


SELECT_TYPES = (FieldType.SINGLE_SELECT, FieldType.MULTI_SELECT)


class CustomFieldDefinitionQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> CustomFieldDefinitionQuerySet:
        """Definitions are the organisation's schema: the tenant boundary applies, the data scope does not.
        Which record types the actor may see is the selector's filter."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        return self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)


class CustomFieldDefinition(BusinessModel):
    module = modules.PLATFORM

    record_type = models.CharField(_("record type"), max_length=64)
    key = models.CharField(_("key"), max_length=KEY_MAX_LENGTH)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=20, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(_("required"), default=False)
    default = models.JSONField(_("default"), null=True, blank=True)
    help_text = models.CharField(_("help text"), max_length=255, blank=True)
    options = models.JSONField(_("options"), default=list, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # Offered to visitors on the record type's public form (the help centre's ticket form); only record
    # types registered with `public_form=True` have one.
    public = models.BooleanField(_("on the public form"), default=False)

    objects = CustomFieldDefinitionQuerySet.as_manager()

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["record_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "record_type", "key"], name="customfield_unique_key"),
        ]
        indexes = [models.Index(fields=["organization", "record_type", "position"], name="customfield_org_type")]

    def __str__(self) -> str:
        return self.label

    @property
    def param(self) -> str:
        """The name of this field in forms, query parameters, columns and error fields."""
        return f"custom.{self.key}"


class CustomFieldDefinitionPolicy(Policy):
    """Every member may read the definitions of the record types they may view (forms and lists need them);
    adding, changing and removing them needs `administer` in the module that owns the record type."""

    module = modules.PLATFORM

    def can(self, actor: User, action: str, target: Any) -> bool:
        from kehu.core import custom_fields
        from kehu.core.permissions import can

        if isinstance(target, CustomFieldDefinition):
            if target.organization_id != actor.organization_id:
                return False
            record_type = custom_fields.get_record_type(target.record_type)
            if record_type is None:
                return False
            if action == "view":
                return can(actor, "view", record_type.model)
            return can(actor, "administer", record_type.module)
        if action == "view":
            return "view" in actor.grant_for(modules.PLATFORM).actions
        return any(can(actor, "administer", rt.module) for rt in custom_fields.record_types())


register_policy(CustomFieldDefinition, CustomFieldDefinitionPolicy())
