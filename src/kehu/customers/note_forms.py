"""Forms of the note box, the note edit page and the attachment upload. They parse; the services decide
(size, type and content of files are checked by the service, and its errors shown on the field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed
from kehu.core.form_rendering import PythonWidgetRenderer
from kehu.customers import uploads
from kehu.customers.note_services import BODY_MAX_LENGTH

MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by the service (uploads.check_upload)."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_FILES:
            raise forms.ValidationError(_("Attach at most %(max)d files at once.") % {"max": MAX_FILES})
        if self.required and not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return list(files)


def _accept() -> str:
    return ",".join(f".{ext}" for ext in uploads.allowed_extensions())


def files_help() -> str:
    return str(
        _("Up to %(mb)d MB each: %(types)s.")
        % {"mb": uploads.max_bytes() // (1024 * 1024), "types": ", ".join(uploads.allowed_extensions())}
    )


def apply_errors(form: forms.BaseForm, exc: ValidationFailed) -> None:
    """A service error next to its field ("file" is the form's "files")."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.fields.items():
        target = "files" if name == "file" else name
        target = target if target in form.fields else None
        for message in messages:
            form.add_error(target, message if target else f"{name}: {message}")


class NoteForm(forms.Form):
    """The note box: text (with @mentions from the picker), optionally a contact, optionally files."""

    default_renderer = PythonWidgetRenderer()  # on every customer's page

    body = forms.CharField(
        label=_("Note"),
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a note… type @ to mention a colleague")}),
    )
    contact = forms.TypedChoiceField(label=_("About contact"), required=False, coerce=int, empty_value=None)
    files = MultipleFileField(label=_("Attach files"))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, contacts: list[Any], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contacts = {c.pk: c for c in contacts}
        self.fields["contact"].choices = [("", "—"), *[(c.pk, str(c)) for c in contacts]]
        if not contacts:
            del self.fields["contact"]
        if editing:
            self.fields["version"].required = True
            del self.fields["files"]
        else:
            del self.fields["version"]
            self.fields["files"].help_text = files_help()
            self.fields["files"].widget.attrs["accept"] = _accept()
        self.fields["body"].widget.attrs.update({"class": "form-control", "data-mention-input": ""})
        if "contact" in self.fields:
            self.fields["contact"].widget.attrs["class"] = "form-select form-select-sm"
        if "files" in self.fields:
            self.fields["files"].widget.attrs["class"] = "form-control form-control-sm"

    def clean_contact(self) -> Any:
        pk = self.cleaned_data.get("contact")
        if pk is None:
            return None
        contact = self.contacts.get(pk)
        if contact is None:
            raise forms.ValidationError(_("Choose a contact of this customer."))
        return contact


class AttachmentForm(forms.Form):
    default_renderer = PythonWidgetRenderer()  # on every customer's page

    files = MultipleFileField(label=_("Files"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = files_help()
        self.fields["files"].widget.attrs.update({"accept": _accept(), "class": "form-control form-control-sm"})
