"""Writing the knowledge base: categories, articles (draft, publish, delete, restore) and the public help
centre's settings. One function per action, each checking the permission, validating with field-named
errors, saving with the optimistic-lock version and auditing in the same transaction."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ValidationFailed
from kehu.core.services import require, save_versioned
from kehu.service import knowledge_text
from kehu.service.models import HelpCentre, KbArticle, KbCategory
from kehu.service.sla_services import _check_version, _clean_name, _invalid, _save_versioned

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 50000
ARTICLE_FIELDS = ("title", "body", "category", "status")


# Categories ------------------------------------------------------------------------------------------


def _clean_description(value: Any) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if len(text) > 255:
        raise _invalid("description", _("At most %(max)d characters.") % {"max": 255})
    return text


def _category_name_taken(organization_id: int, name: str, exclude_pk: Any = None) -> bool:
    qs = KbCategory.objects.filter(organization_id=organization_id, name=name)
    return qs.exclude(pk=exclude_pk).exists() if exclude_pk else qs.exists()


@transaction.atomic
def kb_category_create(*, actor: Any, name: str, description: str = "") -> KbCategory:
    require(actor, "create", KbCategory)
    name = _clean_name(name)
    if _category_name_taken(actor.organization_id, name):
        raise _invalid("name", _("A category with this name already exists."))
    last = KbCategory.objects.filter(organization_id=actor.organization_id).aggregate(m=Max("position"))["m"]
    category = KbCategory.objects.create(
        organization_id=actor.organization_id,
        name=name,
        description=_clean_description(description),
        position=(last or 0) + 1,
    )
    audit.record(actor=actor, action="kb_category.create", target=category, changes={"name": name})
    return category


@transaction.atomic
def kb_category_update(
    *, actor: Any, category: KbCategory, expected_version: int | None, data: dict[str, Any]
) -> KbCategory:
    require(actor, "edit", category)
    _check_version(category, expected_version)
    unknown = sorted(set(data) - {"name", "description", "position"})
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={n: [_("This field cannot be set here.")] for n in unknown},
        )
    before = audit.snapshot(category, ["name", "description", "position"])
    if "name" in data:
        category.name = _clean_name(data["name"])
        if _category_name_taken(category.organization_id, category.name, category.pk):
            raise _invalid("name", _("A category with this name already exists."))
    if "description" in data:
        category.description = _clean_description(data["description"])
    if "position" in data:
        try:
            category.position = max(int(data["position"]), 0)
        except (TypeError, ValueError) as exc:
            raise _invalid("position", _("Enter a whole number.")) from exc
    changes = audit.diff(before, audit.snapshot(category, ["name", "description", "position"]))
    if not changes:
        return category
    _save_versioned(category, expected_version=expected_version, fields=["name", "description", "position"])
    audit.record(actor=actor, action="kb_category.update", target=category, changes=changes)
    return category


@transaction.atomic
def kb_category_delete(*, actor: Any, category: KbCategory) -> int:
    """Delete a category; its articles stay, without a category. Returns how many articles it held."""
    require(actor, "delete", category)
    count = KbArticle.objects.filter(organization_id=category.organization_id, category=category).update(category=None)
    audit.record(
        actor=actor, action="kb_category.delete", target=category, changes={"name": category.name, "articles": count}
    )
    category.delete()
    return count


# Articles --------------------------------------------------------------------------------------------


def _clean_article(article: KbArticle, data: dict[str, Any], actor: Any) -> None:
    unknown = sorted(set(data) - set(ARTICLE_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be set here: %(names)s") % {"names": ", ".join(unknown)},
            fields={n: [_("This field cannot be set here.")] for n in unknown},
        )
    if "title" in data:
        title = " ".join(((data["title"] or "") if isinstance(data["title"], str) else "").split())
        if not title:
            raise _invalid("title", _("Give the article a title."))
        if len(title) > TITLE_MAX_LENGTH:
            raise _invalid("title", _("At most %(max)d characters.") % {"max": TITLE_MAX_LENGTH})
        article.title = title
    if "body" in data:
        body = ((data["body"] or "") if isinstance(data["body"], str) else "").strip()
        if not body:
            raise _invalid("body", _("Write the article's text."))
        if len(body) > BODY_MAX_LENGTH:
            raise _invalid(
                "body",
                _("An article may have at most %(max)d characters (it has %(count)d).")
                % {"max": BODY_MAX_LENGTH, "count": len(body)},
            )
        article.body = body
    if "category" in data:
        category = data["category"]
        if category is not None and not isinstance(category, KbCategory):
            category = KbCategory.objects.filter(organization_id=actor.organization_id, pk=category).first()
            if category is None:
                raise _invalid("category", _("No such category."))
        if category is not None and category.organization_id != actor.organization_id:
            raise _invalid("category", _("No such category."))
        article.category = category
    if "status" in data:
        if data["status"] not in KbArticle.Status.values:
            raise _invalid("status", _("Choose draft or published."))
        if data["status"] != article.status:
            article.status = data["status"]
            if article.is_published:
                article.published_at = timezone.now()
    article.search_text = knowledge_text.search_text(article.title, article.body)


@transaction.atomic
def kb_article_create(*, actor: Any, **data: Any) -> KbArticle:
    require(actor, "create", KbArticle)
    data.setdefault("title", "")
    data.setdefault("body", "")
    article = KbArticle(organization_id=actor.organization_id, owner=actor, created_by=actor, updated_by=actor)
    _clean_article(article, data, actor)
    article.save()
    audit.record(
        actor=actor,
        action="kb_article.create",
        target=article,
        changes={"title": article.title, "status": article.status, "category": article.category_id},
    )
    return article


@transaction.atomic
def kb_article_update(
    *, actor: Any, article: KbArticle, expected_version: int | None, data: dict[str, Any]
) -> KbArticle:
    require(actor, "edit", article)
    _check_version(article, expected_version)
    fields = ["title", "body", "category", "status", "published_at"]
    before = audit.snapshot(article, fields)
    _clean_article(article, data, actor)
    changes = audit.diff(before, audit.snapshot(article, fields))
    if not changes:
        return article
    save_versioned(article, actor=actor, expected_version=expected_version, fields=[*fields, "search_text"])
    changes.pop("published_at", None)
    if "body" in changes:  # the log keeps the new text, not two copies of a long article
        changes["body"] = {"after": article.body}
    audit.record(actor=actor, action="kb_article.update", target=article, changes=changes)
    return article


def kb_article_publish(*, actor: Any, article: KbArticle, expected_version: int | None = None) -> KbArticle:
    return kb_article_update(
        actor=actor, article=article, expected_version=expected_version, data={"status": KbArticle.Status.PUBLISHED}
    )


def kb_article_unpublish(*, actor: Any, article: KbArticle, expected_version: int | None = None) -> KbArticle:
    return kb_article_update(
        actor=actor, article=article, expected_version=expected_version, data={"status": KbArticle.Status.DRAFT}
    )


@transaction.atomic
def kb_article_delete(*, actor: Any, article: KbArticle, expected_version: int | None = None) -> KbArticle:
    """Soft delete: the article leaves the knowledge base and the help centre, and waits in the recycle bin."""
    require(actor, "delete", article)
    article.deleted_at = timezone.now()
    save_versioned(article, actor=actor, expected_version=expected_version, fields=["deleted_at"])
    audit.record(actor=actor, action="kb_article.delete", target=article, changes={"title": article.title})
    return article


@transaction.atomic
def kb_article_restore(*, actor: Any, article: KbArticle) -> KbArticle:
    require(actor, "restore", article)
    now = timezone.now()
    KbArticle.objects.filter(pk=article.pk).update(deleted_at=None, updated_at=now, updated_by=actor)
    article.deleted_at, article.updated_at = None, now
    audit.record(actor=actor, action="kb_article.restore", target=article, changes={"title": article.title})
    return article


# Help centre -----------------------------------------------------------------------------------------

_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$")


def help_centre_for(organization: Any) -> HelpCentre:
    """The organisation's help centre settings (made on first need, public, with a random address)."""
    centre = HelpCentre.objects.filter(organization_id=organization.pk).first()
    if centre is None:
        centre, _created = HelpCentre.objects.get_or_create(organization_id=organization.pk)
    return centre


@transaction.atomic
def help_centre_update(*, actor: Any, expected_version: int | None, data: dict[str, Any]) -> HelpCentre:
    centre = help_centre_for(actor.organization)
    require(actor, "edit", centre)
    _check_version(centre, expected_version)
    before = audit.snapshot(centre, ["slug", "title", "is_public"])
    if "slug" in data:
        slug = (data["slug"] or "").strip().lower()
        if not _SLUG_RE.match(slug):
            raise _invalid("slug", _("Use 3-50 lower-case letters, digits and hyphens (not at either end)."))
        if HelpCentre.objects.filter(slug=slug).exclude(pk=centre.pk).exists():
            raise _invalid("slug", _("This address is taken; choose another."))
        centre.slug = slug
    if "title" in data:
        title = (data["title"] or "").strip()
        if len(title) > 100:
            raise _invalid("title", _("At most %(max)d characters.") % {"max": 100})
        centre.title = title
    if "is_public" in data:
        centre.is_public = bool(data["is_public"])
    changes = audit.diff(before, audit.snapshot(centre, ["slug", "title", "is_public"]))
    if not changes:
        return centre
    _save_versioned(centre, expected_version=expected_version, fields=["slug", "title", "is_public"])
    audit.record(actor=actor, action="help_centre.update", target=centre, changes=changes)
    return centre
