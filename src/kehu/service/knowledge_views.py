"""Knowledge base pages (inside the service module) and the public help centre (outside it, /help/)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.permissions import can
from kehu.core.services import require
from kehu.customers.forms import apply_service_errors
from kehu.service import knowledge_selectors, knowledge_services, knowledge_text
from kehu.service.knowledge_forms import (
    ArticleFilterForm,
    ArticleForm,
    CategoryForm,
    HelpCentreForm,
    PublicSearchForm,
)
from kehu.service.models import HelpCentre, KbArticle, KbCategory
from kehu.service.sla_views import _conflict

RECYCLE_BIN_LIMIT = 100
SORTS = {"updated_at": "-updated_at", "title": "title"}


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    links = {}
    for column, first in SORTS.items():
        if current.lstrip("-") == column:
            state = "desc" if current.startswith("-") else "asc"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", first
        links[column] = {"ordering": target, "state": state}
    return links


# Articles --------------------------------------------------------------------------------------------


@login_required
def article_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", KbArticle)
    form = ArticleFilterForm(request.GET or None, actor=actor)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    query = filters.pop("q", "")
    qs = knowledge_selectors.article_list_for(actor=actor, **filters)
    ordering = request.GET.get("ordering") or "-updated_at"
    if query:
        page = knowledge_selectors.ArticlePage(
            items=list(knowledge_selectors.ranked(qs, query)[: knowledge_selectors.SEARCH_LIMIT]), ordering=""
        )
    else:
        page = knowledge_selectors.article_page(qs, ordering=ordering, cursor=request.GET.get("cursor"))
    context = {
        "form": form,
        "page": page,
        "query": query,
        "filtered": bool(query or filters),
        "sort": _sort_links(page.ordering or ordering),
        "ordering": page.ordering,
        "can_create": can(actor, "create", KbArticle),
        "can_manage": can(actor, "administer", KbCategory),
        "search_limit": knowledge_selectors.SEARCH_LIMIT,
    }
    return render(request, "service/knowledge/list.html", context)


@login_required
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    article = knowledge_selectors.article_get_for(actor=actor, pk=pk)
    centre = knowledge_selectors.help_centre_of(actor)
    context = {
        "article": article,
        "blocks": knowledge_text.blocks(article.body),
        "can_edit": can(actor, "edit", article),
        "can_delete": can(actor, "delete", article),
        "public_url": reverse("help:article", args=[centre.slug, article.pk]) if centre.is_public else "",
    }
    return render(request, "service/knowledge/detail.html", context)


def _save_article(request: HttpRequest, form: ArticleForm, save: Any) -> KbArticle | None:
    publish = request.POST.get("action") == "publish"
    data = {
        "title": form.cleaned_data["title"],
        "body": form.cleaned_data["body"],
        "category": form.cleaned_data["category"],
    }
    if publish:
        data["status"] = KbArticle.Status.PUBLISHED
    elif request.POST.get("action") == "draft":
        data["status"] = KbArticle.Status.DRAFT
    try:
        return save(data)
    except ValidationFailed as exc:
        apply_service_errors(form, exc)
    return None


@login_required
def article_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "create", KbArticle)
    initial = {}
    if request.GET.get("category", "").isdigit():
        initial["category"] = int(request.GET["category"])
    form = ArticleForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        article = _save_article(request, form, lambda data: knowledge_services.kb_article_create(actor=actor, **data))
        if article is not None:
            messages.success(
                request,
                _("Article published.") if article.is_published else _("Draft saved: publish it when it is ready."),
            )
            return redirect("service:kb_detail", pk=article.pk)
    return render(request, "service/knowledge/form.html", {"form": form, "article": None})


@login_required
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    article = knowledge_selectors.article_get_for(actor=actor, pk=pk)
    require(actor, "edit", article)
    if request.method != "POST":
        form = ArticleForm(initial=ArticleForm.initial_for(article), actor=actor)
        return render(request, "service/knowledge/form.html", {"form": form, "article": article})
    form = ArticleForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            saved = _save_article(
                request,
                form,
                lambda data: knowledge_services.kb_article_update(
                    actor=actor, article=article, expected_version=form.cleaned_data.get("version"), data=data
                ),
            )
        except VersionConflict:
            _conflict(form, knowledge_selectors.article_get_for(actor=actor, pk=pk).version)
            saved = None
        if saved is not None:
            messages.success(request, _("Changes saved."))
            return redirect("service:kb_detail", pk=article.pk)
    return render(request, "service/knowledge/form.html", {"form": form, "article": article})


@login_required
@require_POST
def article_publish(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    article = knowledge_selectors.article_get_for(actor=actor, pk=pk)
    if request.POST.get("action") == "unpublish":
        knowledge_services.kb_article_unpublish(actor=actor, article=article)
        messages.success(request, _("The article is a draft again: the help centre no longer shows it."))
    else:
        knowledge_services.kb_article_publish(actor=actor, article=article)
        messages.success(request, _("Article published."))
    return redirect("service:kb_detail", pk=article.pk)


@login_required
@require_POST
def article_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    article = knowledge_selectors.article_get_for(actor=actor, pk=pk)
    knowledge_services.kb_article_delete(actor=actor, article=article)
    messages.success(request, _("%(title)s was moved to the recycle bin.") % {"title": article.title})
    return redirect("service:kb_list")


@login_required
@require_POST
def article_restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    article = knowledge_selectors.article_deleted_get_for(actor=actor, pk=pk)
    knowledge_services.kb_article_restore(actor=actor, article=article)
    messages.success(request, _("%(title)s was restored.") % {"title": article.title})
    return redirect("service:kb_detail", pk=article.pk)


@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", KbArticle)
    articles = knowledge_selectors.article_recycle_bin_for(actor=actor).order_by("-deleted_at", "-pk")[
        :RECYCLE_BIN_LIMIT
    ]
    return render(
        request,
        "service/knowledge/recycle_bin.html",
        {"articles": articles, "can_restore": can(actor, "restore", KbArticle), "limit": RECYCLE_BIN_LIMIT},
    )


# Categories and the help centre -------------------------------------------------------------------------


@login_required
def category_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "view", KbCategory)
    form = CategoryForm(request.POST or None)
    if request.method == "POST":
        require(actor, "create", KbCategory)
        if form.is_valid():
            try:
                category = knowledge_services.kb_category_create(
                    actor=actor, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except ValidationFailed as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Category %(name)s created.") % {"name": category.name})
                return redirect("service:kb_categories")
    centre = knowledge_selectors.help_centre_of(actor)
    can_manage = can(actor, "administer", KbCategory)
    context = {
        "form": form,
        "categories": knowledge_selectors.category_list_for(actor=actor),
        "can_manage": can_manage,
        "centre": centre,
        "centre_form": HelpCentreForm(
            initial={
                "version": centre.version,
                "slug": centre.slug,
                "title": centre.title,
                "is_public": centre.is_public,
            }
        )
        if can(actor, "edit", centre)
        else None,
        "public_url": request.build_absolute_uri(reverse("help:index", args=[centre.slug])),
    }
    return render(request, "service/knowledge/categories.html", context)


@login_required
@require_POST
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    category = knowledge_selectors.category_get_for(actor=actor, pk=pk)
    form = CategoryForm(request.POST)
    if not form.is_valid():
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}")
        return redirect("service:kb_categories")
    try:
        knowledge_services.kb_category_update(
            actor=actor,
            category=category,
            expected_version=form.cleaned_data.get("version"),
            data={"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]},
        )
    except (ValidationFailed, VersionConflict) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Changes saved."))
    return redirect("service:kb_categories")


@login_required
@require_POST
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    category = knowledge_selectors.category_get_for(actor=actor, pk=pk)
    knowledge_services.kb_category_delete(actor=actor, category=category)
    messages.success(request, _("Category %(name)s deleted; its articles are kept.") % {"name": category.name})
    return redirect("service:kb_categories")


@login_required
@require_POST
def help_centre_settings(request: HttpRequest) -> HttpResponse:
    actor = request.user
    require(actor, "edit", HelpCentre)
    form = HelpCentreForm(request.POST)
    if form.is_valid():
        try:
            knowledge_services.help_centre_update(
                actor=actor,
                expected_version=form.cleaned_data.get("version"),
                data={k: form.cleaned_data[k] for k in ("slug", "title", "is_public")},
            )
        except (ValidationFailed, VersionConflict) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Help centre settings saved."))
    else:
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}")
    return redirect("service:kb_categories")


# The public help centre (no login) ---------------------------------------------------------------------


def _public_centre(slug: str) -> HelpCentre | None:
    try:
        return knowledge_selectors.help_centre_by_slug(slug)
    except NotFound:
        return None


def _not_available(request: HttpRequest) -> HttpResponse:
    return render(request, "service/help/unavailable.html", status=404)


def help_index(request: HttpRequest, slug: str) -> HttpResponse:
    """Published articles of one organisation, by category, with search."""
    centre = _public_centre(slug)
    if centre is None:
        return _not_available(request)
    form = PublicSearchForm(request.GET or None)
    query, category = "", None
    if form.is_bound and form.is_valid():
        query, category = form.cleaned_data.get("q") or "", form.cleaned_data.get("category")
    qs = knowledge_selectors.public_articles(centre)
    categories = list(knowledge_selectors.public_categories(centre))
    if category is not None:
        qs = qs.filter(category_id=category)
    if query:
        articles = list(knowledge_selectors.ranked(qs, query)[: knowledge_selectors.SEARCH_LIMIT])
    else:
        articles = list(qs.order_by("category__position", "category_id", "title", "pk")[:500])
    for article in articles:
        article.excerpt = knowledge_text.excerpt(article.body)
    groups: dict[Any, list[KbArticle]] = {}
    for article in articles:
        groups.setdefault(article.category, []).append(article)
    context = {
        "centre": centre,
        "organization": centre.organization,
        "query": query,
        "category": category,
        "categories": categories,
        "articles": articles,
        "groups": list(groups.items()),
    }
    return render(request, "service/help/index.html", context)


def help_article(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    centre = _public_centre(slug)
    if centre is None:
        return _not_available(request)
    try:
        article = knowledge_selectors.public_article(centre, pk)
    except NotFound:
        return _not_available(request)
    context = {
        "centre": centre,
        "organization": centre.organization,
        "article": article,
        "blocks": knowledge_text.blocks(article.body),
    }
    return render(request, "service/help/article.html", context)
