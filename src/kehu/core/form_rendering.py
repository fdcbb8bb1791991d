"""A form renderer that writes Django's plain input and select widgets in Python.

Django renders every widget through templates, and a <select> includes one template per option plus one
per attribute list: a list page's filter bar (type, tier, stage, source, tag, owner: about sixty options)
spent more on that than on its rows. `PythonWidgetRenderer` produces the same markup as Django's
`django/forms/widgets/{input,attrs,select,select_option,textarea}.html` and of a file input without a current
file (`clearable_file_input.html`) for the widgets built on them, and hands every other template (checkbox
lists, a file input showing its current file, a project override) to Django unchanged.

Use it on a form whose page is hot: `default_renderer = PythonWidgetRenderer()` on the form class.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, SafeString, mark_safe

# Widget templates that are exactly {% include "django/forms/widgets/input.html" %}.
_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "search", "number", "email", "url", "password", "hidden", "date", "datetime", "time")
)
_SELECT_TEMPLATE = "django/forms/widgets/select.html"
_TEXTAREA_TEMPLATE = "django/forms/widgets/textarea.html"
_FILE_TEMPLATE = "django/forms/widgets/clearable_file_input.html"
_OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _text(value: Any) -> str:
    """{{ value|stringformat:'s' }}: the value as text, escaped unless it is already safe."""
    return str(value) if isinstance(value, SafeData) else escape(str(value))


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html: False drops the attribute, True writes it bare."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{_text(value)}"')
    return "".join(out)


def _input(widget: dict[str, Any]) -> str:
    value = "" if widget["value"] is None else f' value="{_text(widget["value"])}"'
    name, kind = conditional_escape(widget["name"]), conditional_escape(widget["type"])
    return f'<input type="{kind}" name="{name}"{value}{_attrs(widget["attrs"])}>'


def _textarea(widget: dict[str, Any]) -> str:
    value = conditional_escape(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'


def _file(widget: dict[str, Any]) -> str | None:
    """clearable_file_input.html without a current file (a new upload): its <input> alone."""
    if widget.get("is_initial"):
        return None  # the current file's link and "clear" box: Django renders them
    name, kind = conditional_escape(widget["name"]), conditional_escape(widget["type"])
    return f'<input type="{kind}" name="{name}"{_attrs(widget["attrs"])}>'


def _select(widget: dict[str, Any]) -> str | None:
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _OPTION_TEMPLATE:
                return None  # a custom option template: Django renders the whole widget
            parts.append(
                f'\n  <option value="{_text(option["value"])}"{_attrs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"  # the option template's own line end
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class PythonWidgetRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> SafeString:
        widget = context.get("widget")
        html: str | None = None
        if isinstance(widget, dict):
            if template_name in _INPUT_TEMPLATES and widget.get("template_name") == template_name:
                html = _input(widget)
            elif template_name == _SELECT_TEMPLATE:
                html = _select(widget)
            elif template_name == _TEXTAREA_TEMPLATE:
                html = _textarea(widget)
            elif template_name == _FILE_TEMPLATE:
                html = _file(widget)
        if html is None:
            return super().render(template_name, context, request=request)
        return mark_safe(html)  # noqa: S308 - every value above is escaped
