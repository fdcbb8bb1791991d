"""Forms of the knowledge base pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.service import knowledge_selectors
from kehu.service.knowledge_services import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from kehu.service.models import KbArticle, KbCategory
from kehu.service.sla_forms import style


def _blank(choices: Any, label: Any) -> list[tuple[Any, Any]]:
    return [("", label), *list(choices)]


class ArticleFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Words in the title or text…")}),
    )
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(KbArticle.Status.choices, _("Any status"))
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = [(c.pk, c.name) for c in knowledge_selectors.category_list_for(actor=actor)]
        self.fields["category"].choices = _blank(categories, _("Any category"))
        style(self)
        for field in self.fields.values():
            field.widget.attrs["class"] += (
                " form-control-sm" if "form-control" in field.widget.attrs["class"] else " form-select-sm"
            )
            field.widget.attrs.setdefault("aria-label", str(field.label))


class ArticleForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=KbCategory.objects.none(), required=False, empty_label=_("No category")
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_(
            'Plain text: a blank line starts a new paragraph, "## " a heading, "- " a list item; web addresses '
            "become links."
        ),
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = knowledge_selectors.category_list_for(actor=actor)
        style(self)

    @staticmethod
    def initial_for(article: KbArticle) -> dict[str, Any]:
        return {
            "version": article.version,
            "title": article.title,
            "category": article.category_id,
            "body": article.body,
        }


class CategoryForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)


class HelpCentreForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    slug = forms.CharField(label=_("Address"), max_length=50, help_text=_("The public page is /help/<address>/."))
    title = forms.CharField(label=_("Title"), max_length=100, required=False)
    is_public = forms.BooleanField(
        label=_("Public: anyone with the address can read published articles"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)


class PublicSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    category = forms.IntegerField(required=False, min_value=1)
