"""PythonWidgetRenderer writes the same HTML as Django's widget templates."""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from kehu.core.form_rendering import PythonWidgetRenderer


class Sample(forms.Form):
    text = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": 'A "quote" & <tag>'}))
    search = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search", "class": "x"}))
    number = forms.IntegerField(required=False, min_value=1)
    decimal = forms.DecimalField(required=False)
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    email = forms.EmailField(required=False)
    hidden = forms.CharField(required=False, widget=forms.HiddenInput)
    flag = forms.CharField(required=False, widget=forms.TextInput(attrs={"disabled": True, "readonly": False}))
    choice = forms.ChoiceField(required=False, choices=[("", "Any"), ("a", "A & B"), (1, "<one>")])
    grouped = forms.ChoiceField(
        required=False, choices=[("", "—"), ("Group <1>", [("x", "X"), ("y", "Y")]), ("z", mark_safe("<b>Z</b>"))]
    )
    multi = forms.MultipleChoiceField(required=False, choices=[("a", "A"), ("b", "B")])
    ticks = forms.MultipleChoiceField(required=False, choices=[("a", "A")], widget=forms.CheckboxSelectMultiple)
    area = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "data-mention-input": ""}))
    upload = forms.FileField(required=False, widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png"}))
    boolean = forms.NullBooleanField(required=False)


def _render(form: forms.Form) -> list[str]:
    return [str(form[name]) for name in form.fields]


def test_it_renders_what_django_renders() -> None:
    for data in (
        None,
        {"text": '<x> "y"', "number": "3", "choice": "a", "grouped": "y", "multi": ["a", "b"], "area": "<b>&"},
    ):
        django_html = _render(Sample(data, renderer=DjangoTemplates()))
        python_html = _render(Sample(data, renderer=PythonWidgetRenderer()))
        assert python_html == django_html
