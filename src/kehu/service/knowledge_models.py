"""The knowledge base 知识库: categories and articles, and the organisation's public help centre (imported
at the end of service/models.py).

Articles are business records (author = owner, soft delete and recycle bin). Published articles are shared
knowledge: everyone with `view` in service reads them whatever their data scope; drafts follow the data
scope of their author. `search_text` holds the lower-cased title, category and body that search matches
(maintained by the services); LIKE over it finds 1- and 2-character Chinese fragments on both databases.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import BusinessModel, BusinessQuerySet, TenantQuerySet, scope_filter
from kehu.service.models import MODULE

__all__ = ["HelpCentre", "KbArticle", "KbCategory"]

LIVE = Q(deleted_at__isnull=True)


class KbCategory(models.Model):
    """A shelf of the knowledge base (账户与登录, 发票与退款): organisation configuration."""

    module = MODULE

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("knowledge base category")
        verbose_name_plural = _("knowledge base categories")
        ordering = ["position", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="kb_category_unique_name")]

    def __str__(self) -> str:
        return self.name


class KbArticleQuerySet(BusinessQuerySet):
    def visible_to(self, actor: Any) -> KbArticleQuerySet:
        """Published articles of the organisation, and drafts within the actor's data scope."""
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=True)
        scope = scope_filter(actor, actor.grant_for(self.model.module).scope)
        if not scope:  # the whole organisation: an empty Q would vanish from the OR below
            return qs
        return qs.filter(Q(status=KbArticle.Status.PUBLISHED) | scope)

    def in_recycle_bin_for(self, actor: Any) -> KbArticleQuerySet:
        from kehu.core.permissions import can

        if actor is None or not can(actor, "view", self.model):
            return self.none()
        qs = self.filter(organization_id=actor.organization_id, deleted_at__isnull=False)
        return qs.filter(scope_filter(actor, actor.grant_for(self.model.module).scope))


class KbArticle(BusinessModel):
    """An article: a title and a body in plain text (blank lines separate paragraphs; lines starting with
    "- " are list items, "## " a heading, and http(s) addresses become links; no HTML is ever rendered)."""

    module = MODULE

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    category = models.ForeignKey(
        KbCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
        verbose_name=_("category"),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    search_text = models.TextField(default="", blank=True, editable=False)

    objects = KbArticleQuerySet.as_manager()

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "updated_at", "id"], condition=LIVE, name="kb_article_org_updated"),
            models.Index(
                fields=["organization", "status", "category", "updated_at"],
                condition=LIVE,
                name="kb_article_org_status",
            ),
            models.Index(fields=["organization", "title"], condition=LIVE, name="kb_article_org_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("service:kb_detail", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


def new_help_slug() -> str:
    return secrets.token_urlsafe(9).lower().replace("_", "x").replace("-", "x")


class HelpCentre(models.Model):
    """The organisation's public help centre: /help/<slug>/ lists its published articles to anyone, while
    the organisation has the service module enabled and the help centre switched on."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    slug = models.SlugField(_("address"), max_length=50, unique=True, default=new_help_slug)
    title = models.CharField(_("title"), max_length=100, blank=True)
    is_public = models.BooleanField(_("public"), default=True)
    version = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("help centre")
        verbose_name_plural = _("help centres")

    def __str__(self) -> str:
        return self.title or self.slug
