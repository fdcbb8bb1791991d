"""knowledge routes of /api/v1/ (collected by service/api.py): knowledge base categories and articles.

Published articles are read by everyone with `view` in service; drafts, and every change, follow the
role's data scope over the author. `?search=` matches every word (1- and 2-character Chinese fragments
included); `GET /kb-articles/suggest/?text=…` (or `?ticket=<id>`) returns the articles that share the most
terms with a ticket, with the shared terms."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from kehu.core.api import ErrorSerializer, RecordField
from kehu.core.errors import NotFound
from kehu.core.viewsets import ScopedViewSet
from kehu.service import knowledge_selectors, knowledge_services
from kehu.service.knowledge_panels import ticket_text
from kehu.service.models import MODULE, KbArticle, KbCategory, Ticket


def errors(*statuses: int) -> dict[int, type[serializers.Serializer]]:
    return {code: ErrorSerializer for code in statuses}


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class VersionField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("help_text", "The version you read; a stale one answers 409 version_conflict.")
        super().__init__(**kwargs)


# Categories ------------------------------------------------------------------------------------------


class CategoryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    position = serializers.IntegerField()
    version = serializers.IntegerField()


class CategoryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class CategoryUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    position = serializers.IntegerField(min_value=0, required=False)
    version = VersionField()


class KbCategoryViewSet(ScopedViewSet):
    """Knowledge base categories: read with `view` in service, changed with `administer`. Deleting a
    category keeps its articles (without a category)."""

    module = MODULE
    queryset = KbCategory.objects.none()
    ordering_fields = ["position", "name", "id"]
    ordering = "position"

    def list_for(self, actor: Any) -> Any:
        return knowledge_selectors.category_list_for(actor=actor)

    @extend_schema(responses={200: CategoryOutputSerializer(many=True), **errors(401, 403)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CategoryOutputSerializer(page, many=True).data)

    @extend_schema(responses={200: CategoryOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CategoryOutputSerializer(self.get_object()).data)

    @extend_schema(request=CategoryCreateSerializer, responses={201: CategoryOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(CategoryCreateSerializer, request)
        category = knowledge_services.kb_category_create(actor=request.user, **data)
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CategoryUpdateSerializer, responses={200: CategoryOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        category = self.get_object()
        data = _validated(CategoryUpdateSerializer, request)
        version = data.pop("version")
        category = knowledge_services.kb_category_update(
            actor=request.user, category=category, expected_version=version, data=data
        )
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        knowledge_services.kb_category_delete(actor=request.user, category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Articles --------------------------------------------------------------------------------------------


class KbAuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ArticleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(help_text="Plain text; blank lines separate paragraphs.")
    category = serializers.IntegerField(source="category_id", allow_null=True)
    status = serializers.ChoiceField(choices=KbArticle.Status.choices)
    author = KbAuthorSerializer(source="owner", allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    public_url = serializers.SerializerMethodField(help_text="The help centre page, while published and public.")

    def get_public_url(self, article: KbArticle) -> str | None:
        centre = self.context.get("centre")
        if centre is None or not centre.is_public or not article.is_published:
            return None
        path = reverse("help:article", args=[centre.slug, article.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ArticleCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=knowledge_services.TITLE_MAX_LENGTH)
    body = serializers.CharField(max_length=knowledge_services.BODY_MAX_LENGTH)
    category = RecordField(getter=knowledge_selectors.category_get_for, required=False, allow_null=True)
    status = serializers.ChoiceField(choices=KbArticle.Status.choices, default=KbArticle.Status.DRAFT)


class ArticleUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=knowledge_services.TITLE_MAX_LENGTH, required=False)
    body = serializers.CharField(max_length=knowledge_services.BODY_MAX_LENGTH, required=False)
    category = RecordField(getter=knowledge_selectors.category_get_for, required=False, allow_null=True)
    status = serializers.ChoiceField(choices=KbArticle.Status.choices, required=False)
    version = VersionField()


class ArticleFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=100, allow_blank=True)
    category = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=KbArticle.Status.choices, required=False)
    author = serializers.IntegerField(required=False, min_value=1)


class SuggestFilterSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, max_length=10000, allow_blank=True)
    ticket = serializers.IntegerField(
        required=False, min_value=1, help_text="Use this ticket's subject and first message."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("text") and not attrs.get("ticket"):
            raise serializers.ValidationError({"text": [_("Give the ticket's text or its id.")]})
        return attrs


class SuggestionSerializer(serializers.Serializer):
    article = ArticleOutputSerializer()
    score = serializers.IntegerField(help_text="Shared terms, those in the title counted twice.")
    shared = serializers.ListField(child=serializers.CharField(), help_text="The terms the ticket and article share.")


class KbArticleViewSet(ScopedViewSet):
    """Knowledge base articles 知识库文章: draft or published; DELETE moves an article to the recycle bin."""

    module = MODULE
    queryset = KbArticle.objects.none()
    ordering_fields = ["updated_at", "created_at", "title"]
    ordering = "-updated_at"

    def list_for(self, actor: Any) -> Any:
        if self.action != "list":
            return knowledge_selectors.article_list_for(actor=actor)
        filters = ArticleFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return knowledge_selectors.article_list_for(actor=actor, **filters.validated_data)

    def _context(self) -> dict[str, Any]:
        return {"request": self.request, "centre": knowledge_selectors.help_centre_of(self.request.user)}

    def _out(self, article: KbArticle) -> dict[str, Any]:
        return ArticleOutputSerializer(article, context=self._context()).data

    @extend_schema(
        parameters=[ArticleFilterSerializer],
        responses={200: ArticleOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ArticleOutputSerializer(page, many=True, context=self._context()).data)

    @extend_schema(responses={200: ArticleOutputSerializer, **errors(401, 403, 404)})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._out(self.get_object()))

    @extend_schema(request=ArticleCreateSerializer, responses={201: ArticleOutputSerializer, **errors(400, 401, 403)})
    def create(self, request: Request) -> Response:
        data = _validated(ArticleCreateSerializer, request)
        article = knowledge_services.kb_article_create(actor=request.user, **data)
        return Response(self._out(article), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ArticleUpdateSerializer, responses={200: ArticleOutputSerializer, **errors(400, 401, 403, 404, 409)}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        article = self.get_object()
        data = _validated(ArticleUpdateSerializer, request)
        version = data.pop("version")
        article = knowledge_services.kb_article_update(
            actor=request.user, article=article, expected_version=version, data=data
        )
        return Response(self._out(article))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        knowledge_services.kb_article_delete(actor=request.user, article=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ArticleOutputSerializer, **errors(401, 403, 404)})
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        article = knowledge_services.kb_article_publish(actor=request.user, article=self.get_object())
        return Response(self._out(article))

    @extend_schema(request=None, responses={200: ArticleOutputSerializer, **errors(401, 403, 404)})
    @action(detail=True, methods=["post"])
    def unpublish(self, request: Request, pk: str | None = None) -> Response:
        article = knowledge_services.kb_article_unpublish(actor=request.user, article=self.get_object())
        return Response(self._out(article))

    @extend_schema(
        parameters=[SuggestFilterSerializer],
        responses={200: SuggestionSerializer(many=True), **errors(400, 401, 403, 404)},
    )
    @action(detail=False, methods=["get"])
    def suggest(self, request: Request) -> Response:
        """Up to three published articles sharing the most terms with the ticket's text."""
        filters = SuggestFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        text = filters.validated_data.get("text") or ""
        if filters.validated_data.get("ticket"):
            ticket = Ticket.objects.visible_to(request.user).filter(pk=filters.validated_data["ticket"]).first()
            if ticket is None:
                raise NotFound()
            text = f"{ticket_text(ticket)}\n{text}"
        suggestions = knowledge_selectors.suggestions_for(actor=request.user, text=text)
        full = knowledge_selectors.article_list_for(actor=request.user).in_bulk([s.article.pk for s in suggestions])
        context = self._context()
        return Response(
            [
                {
                    "article": ArticleOutputSerializer(full[s.article.pk], context=context).data,
                    "score": s.score,
                    "shared": s.shared,
                }
                for s in suggestions
                if s.article.pk in full
            ]
        )


ROUTES = [
    ("kb-categories", KbCategoryViewSet, "kb-category"),
    ("kb-articles", KbArticleViewSet, "kb-article"),
]
