"""Ticket pages' forms: they parse and present; the services decide (and validate again before writing)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core import choice_lists, custom_fields
from kehu.core.form_rendering import PythonWidgetRenderer
from kehu.core.permissions import can
from kehu.customers.forms import IdListField, _StyledMixin, apply_service_errors  # noqa: F401 (re-exported)
from kehu.customers.models import Contact, Customer, Tag
from kehu.service import ticket_selectors
from kehu.service.ticket_models import KINDS, Queue, Ticket, TicketMessage
from kehu.service.ticket_services import TICKET_TYPE

CUSTOMER_CHOICES_LIMIT = 300


def _blank(choices: Any, label: Any = "—") -> list[tuple[Any, Any]]:
    return [("", label), *list(choices)]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); the services check each file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class TicketFilterForm(custom_fields.CustomFilterFormMixin, forms.Form):
    """The list's filters (UI query string and API query parameters alike)."""

    # The filter bar's selects (queues, assignees, tags) are written in Python, as the customer list's are:
    # through Django's widget templates they cost a fifth of the list page (benchmarks/RESULTS.md).
    default_renderer = PythonWidgetRenderer()

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=ticket_selectors.SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("Number, subject, email…"), "type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_blank([("active", _("Unsolved (new, open, pending)")), *Ticket.Status.choices], _("Any status")),
    )
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=_blank(Ticket.Priority.choices, _("Any priority"))
    )
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=_blank([], _("Any type")))
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=_blank(Ticket.Channel.choices, _("Any channel"))
    )
    queue = forms.IntegerField(label=_("Queue"), required=False, min_value=1)
    assignee = forms.CharField(label=_("Assignee"), required=False, max_length=20)
    customer = forms.IntegerField(label=_("Customer"), required=False, min_value=1)
    tag = forms.IntegerField(label=_("Tag"), required=False, min_value=1)

    def __init__(self, *args: Any, actor: Any = None, with_choices: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignees: list[Any] = []
        # Custom-field filters (kehu.core.custom_fields): read only when a page shows them or a query asks.
        wanted = with_choices or any(str(name).startswith("custom.") for name in (self.data or {}))
        self.custom_definitions = (
            custom_fields.definitions_for(actor.organization_id, TICKET_TYPE) if actor is not None and wanted else []
        )
        self.fields.update(
            custom_fields.filter_form_fields(self.custom_definitions, actor=actor if with_choices else None)
        )
        if actor is not None and (with_choices or (self.data or {}).get("kind")):
            # The organisation's ticket types; deactivated ones still find old tickets.
            kinds = [(o.key, o.label) for o in choice_lists.options(actor.organization_id, KINDS)]
            self.fields["kind"].choices = _blank(kinds, _("Any type"))
        if with_choices and actor is not None:
            queues = ticket_selectors.queue_choices_for(actor=actor)
            self.fields["queue"].widget = forms.Select(choices=_blank(queues, _("Any queue")))
            self.assignees = ticket_selectors.assignee_refs_for(actor=actor)  # the page's bulk form reuses it
            people = [(str(u.pk), str(u)) for u in self.assignees]
            self.fields["assignee"].widget = forms.Select(
                choices=_blank([("me", _("Me")), ("unassigned", _("Unassigned")), *people], _("Anyone"))
            )
            if can(actor, "view", Tag):
                tags = [(t.pk, t.name) for t in Tag.objects.visible_to(actor).order_by("name")]
                self.fields["tag"].widget = forms.Select(choices=_blank(tags, _("Any tag")))
            else:
                del self.fields["tag"]
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs.setdefault("aria-label", str(field.label))
        self.fields["customer"].widget = forms.HiddenInput()

    def clean_assignee(self) -> str:
        value = (self.cleaned_data.get("assignee") or "").strip()
        if value and value not in ("me", "unassigned") and not value.isdigit():
            raise forms.ValidationError(_("Choose me, unassigned or a colleague."))
        return value


def _customer_choices(actor: Any, current: Customer | None) -> list[tuple[Any, str]]:
    if not can(actor, "view", Customer):
        return []
    customers = list(Customer.objects.visible_to(actor).order_by("-updated_at", "-pk")[:CUSTOMER_CHOICES_LIMIT])
    if current is not None and all(c.pk != current.pk for c in customers):
        customers.insert(0, current)
    return [(c.pk, c.name) for c in customers]


class TicketForm(_StyledMixin, forms.Form):
    """Create (an agent logs a call or a request) and edit. `version` carries what the user opened."""

    ASSIGN_AUTO, ASSIGN_ME = "auto", "me"

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    subject = forms.CharField(label=_("Subject"), max_length=255)
    body = forms.CharField(
        label=_("What the customer said"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=50_000,
    )
    kind = forms.ChoiceField(label=_("Type"), choices=[])  # the organisation's types, set in __init__
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.Priority.choices, initial=Ticket.Priority.NORMAL)
    channel = forms.ChoiceField(label=_("Channel"), choices=Ticket.Channel.choices, initial=Ticket.Channel.PHONE)
    queue = forms.TypedChoiceField(label=_("Queue"), coerce=int, required=False, empty_value=None)
    customer = forms.TypedChoiceField(label=_("Customer"), coerce=int, required=False, empty_value=None)
    contact = forms.TypedChoiceField(label=_("Contact"), coerce=int, required=False, empty_value=None)
    requester_name = forms.CharField(label=_("Requester name"), required=False, max_length=100)
    requester_email = forms.CharField(
        label=_("Requester email"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"}),
        help_text=_("Public replies are e-mailed here. A known contact's email links the customer."),
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    tags = forms.TypedMultipleChoiceField(
        label=_("Tags"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    files = MultipleFileField(label=_("Files"))

    def __init__(self, *args: Any, actor: Any, ticket: Ticket | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor, self.ticket = actor, ticket
        editing = ticket is not None
        # The organisation's active ticket types (kehu.core.choice_lists); an old ticket keeps a deactivated one.
        current_kind = ticket.kind if editing else ""
        self.fields["kind"].choices = choice_lists.choices(actor.organization_id, KINDS, current=current_kind)
        self.fields["kind"].initial = choice_lists.default(actor.organization_id, KINDS, Ticket.Kind.INQUIRY)
        self.queues = {q.pk: q for q in ticket_selectors.queue_list_for(actor=actor)}
        self.fields["queue"].choices = _blank([(pk, q.name) for pk, q in self.queues.items()])
        current_customer = ticket.customer if editing and ticket.customer_id else None
        self.fields["customer"].choices = _blank(_customer_choices(actor, current_customer))
        self.contacts: dict[int, Contact] = {}
        if editing and ticket.customer_id and can(actor, "view", Contact):
            self.contacts = {c.pk: c for c in Contact.objects.visible_to(actor).filter(customer_id=ticket.customer_id)}
        self.fields["contact"].choices = _blank([(pk, c.name) for pk, c in self.contacts.items()])
        self.tags = {t.pk: t for t in Tag.objects.visible_to(actor).order_by("name")} if can(actor, "view", Tag) else {}
        self.fields["tags"].choices = [(pk, t.name) for pk, t in self.tags.items()]
        if not self.tags:
            del self.fields["tags"]
        self.assignees: dict[str, Any] = {}
        if editing:
            for name in ("body", "assignee", "files"):
                del self.fields[name]
            self.fields["version"].required = True
        else:
            del self.fields["version"]
            del self.fields["contact"]
            choices = [(self.ASSIGN_AUTO, _("By the queue's method")), (self.ASSIGN_ME, _("Me"))]
            if can(actor, "assign", Ticket):
                self.assignees = {
                    str(u.pk): u for u in ticket_selectors.assignee_choices_for(actor=actor) if u.pk != actor.pk
                }
                choices += [(pk, str(u)) for pk, u in self.assignees.items()]
            self.fields["assignee"].choices = choices
            self.fields["assignee"].initial = self.ASSIGN_ME
        self.custom_definitions = custom_fields.definitions_for(actor.organization_id, TICKET_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, actor=actor))
        if not editing and not self.is_bound:
            self.initial.update(custom_fields.form_initial(self.custom_definitions, None, creating=True))
        self.style()

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            name: data[name]
            for name in ("subject", "kind", "priority", "channel", "requester_name", "requester_email")
            if name in data
        }
        out["queue"] = self.queues.get(data.get("queue")) if data.get("queue") else None
        customer_pk = data.get("customer")
        out["customer"] = None
        if customer_pk:
            out["customer"] = Customer.objects.visible_to(self.actor).filter(pk=customer_pk).first()
        if "contact" in self.fields:
            contact = self.contacts.get(data.get("contact")) if data.get("contact") else None
            out["contact"] = (
                contact if contact and out["customer"] and contact.customer_id == out["customer"].pk else None
            )
        if "tags" in self.fields:
            out["tags"] = [self.tags[pk] for pk in data.get("tags") or [] if pk in self.tags]
        if self.custom_definitions:
            out["custom"] = custom_fields.form_values(self.custom_definitions, data)
        return out

    def create_kwargs(self) -> dict[str, Any]:
        data = self.service_data()
        data["body"] = self.cleaned_data.get("body", "")
        data["files"] = self.cleaned_data.get("files") or []
        choice = self.cleaned_data.get("assignee") or self.ASSIGN_ME
        if choice == self.ASSIGN_ME:
            data["assign_to_me"] = True
        elif choice != self.ASSIGN_AUTO:
            data["owner"] = self.assignees.get(choice)
        return data

    @staticmethod
    def initial_for(ticket: Ticket) -> dict[str, Any]:
        initial = {
            name: getattr(ticket, name)
            for name in ("subject", "kind", "priority", "channel", "requester_name", "requester_email")
        }
        initial.update(
            version=ticket.version,
            queue=ticket.queue_id,
            customer=ticket.customer_id,
            contact=ticket.contact_id,
            tags=[t.pk for t in ticket.tags.all()],
        )
        definitions = custom_fields.definitions_for(ticket.organization_id, TICKET_TYPE)
        initial.update(custom_fields.form_initial(definitions, ticket.custom))
        return initial


class ReplyForm(_StyledMixin, forms.Form):
    """The box under the conversation: a public reply, an internal note, or the customer's words logged."""

    kind = forms.ChoiceField(
        label=_("Type"),
        choices=TicketMessage.Kind.choices,
        initial=TicketMessage.Kind.REPLY,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=50_000)
    status = forms.ChoiceField(
        label=_("Then the ticket is"),
        required=False,
        choices=[
            (Ticket.Status.OPEN, Ticket.Status.OPEN.label),
            (Ticket.Status.PENDING, _("Pending (waiting for the customer)")),
            (Ticket.Status.RESOLVED, _("Resolved")),
        ],
    )
    files = MultipleFileField(label=_("Files"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()
        self.fields["kind"].widget.attrs["class"] = "form-check-input"


class AssignForm(forms.Form):
    owner = forms.CharField(required=False, max_length=20)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)


class BulkForm(forms.Form):
    ACTIONS = (("assign", _("Assign")), ("close", _("Close")), ("delete", _("Delete")))

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(label=_("Tickets"))
    owner = forms.CharField(required=False, max_length=20, label=_("Assignee"))
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ids"].error_messages.update(
            required=_("Select at least one ticket."), invalid=_("Select tickets from the list.")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new assignee (or “unassigned”)."))
        return data


class QueueForm(_StyledMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.CharField(
        label=_("Email address"),
        required=False,
        max_length=254,
        help_text=_("Mail to this address (over SMTP or read from the mailbox below) becomes tickets of this queue."),
    )
    manager = forms.TypedChoiceField(label=_("Manager"), coerce=int, required=False, empty_value=None)
    members = forms.TypedMultipleChoiceField(
        label=_("Members"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    assignment = forms.ChoiceField(label=_("Automatic assignment"), choices=Queue.Assignment.choices)
    is_default = forms.BooleanField(
        label=_("Default queue"), required=False, help_text=_("Takes the mail of switched-off queues.")
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    web_form_enabled = forms.BooleanField(label=_("Public web form"), required=False)
    imap_enabled = forms.BooleanField(label=_("Read the mailbox over IMAP"), required=False)
    imap_host = forms.CharField(label=_("IMAP server"), required=False, max_length=255)
    imap_port = forms.IntegerField(label=_("IMAP port"), initial=993, min_value=1, max_value=65535)
    imap_ssl = forms.BooleanField(label=_("SSL/TLS"), required=False, initial=True)
    imap_user = forms.CharField(label=_("IMAP user name"), required=False, max_length=254)
    imap_password = forms.CharField(
        label=_("IMAP password"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again; leave empty to keep the stored one."),
    )
    imap_folder = forms.CharField(label=_("IMAP folder"), required=False, max_length=100, initial="INBOX")

    def __init__(self, *args: Any, actor: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {u.pk: u for u in ticket_selectors.assignee_choices_for(actor=actor)}
        choices = [(pk, str(u)) for pk, u in self.people.items()]
        self.fields["manager"].choices = _blank(choices)
        self.fields["members"].choices = choices
        # One skill list per active ticket type of the organisation (kehu.core.choice_lists).
        self.kinds = [
            (o.key, o.label) for o in choice_lists.options(actor.organization_id, KINDS, include_inactive=False)
        ]
        for kind, label in self.kinds:
            self.fields[f"skill_{kind}"] = forms.TypedMultipleChoiceField(
                label=label, coerce=int, required=False, choices=choices, widget=forms.CheckboxSelectMultiple
            )
        if editing:
            self.fields["version"].required = True
        else:
            del self.fields["version"]
        self.style()

    @property
    def skill_fields(self) -> list[Any]:
        return [self[f"skill_{kind}"] for kind, _label in self.kinds]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {
            name: data[name]
            for name in (
                "name",
                "email",
                "assignment",
                "is_default",
                "is_active",
                "web_form_enabled",
                "imap_enabled",
                "imap_host",
                "imap_port",
                "imap_ssl",
                "imap_user",
                "imap_folder",
            )
        }
        out["manager"] = self.people.get(data.get("manager")) if data.get("manager") else None
        out["members"] = [self.people[pk] for pk in data.get("members") or [] if pk in self.people]
        out["skills"] = {
            kind: data.get(f"skill_{kind}") or [] for kind, _label in self.kinds if data.get(f"skill_{kind}")
        }
        if data.get("imap_password"):
            out["imap_password"] = data["imap_password"]
        return out

    @staticmethod
    def initial_for(queue: Queue) -> dict[str, Any]:
        initial = {
            name: getattr(queue, name)
            for name in (
                "name",
                "email",
                "assignment",
                "is_default",
                "is_active",
                "web_form_enabled",
                "imap_enabled",
                "imap_host",
                "imap_port",
                "imap_ssl",
                "imap_user",
                "imap_folder",
                "version",
            )
        }
        initial["manager"] = queue.manager_id
        initial["members"] = [u.pk for u in queue.members.all()]
        for kind, keys in (queue.skills or {}).items():
            initial[f"skill_{kind}"] = keys
        return initial


class CannedForm(_StyledMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        help_text=_(
            "Placeholders: {{customer_name}}, {{contact_name}}, {{requester_name}}, {{ticket_number}}, "
            "{{ticket_subject}}, {{agent_name}}, {{queue_name}}, {{organization_name}}."
        ),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["version"].required = True
        else:
            del self.fields["version"]
        self.style()


class PublicTicketForm(_StyledMixin, forms.Form):
    """The public web form. `website` is a honeypot: hidden from people, filled in by bots."""

    name = forms.CharField(label=_("Your name"), max_length=100)
    email = forms.EmailField(label=_("Your email"), max_length=254)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("How can we help?"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10_000)
    kind = forms.ChoiceField(label=_("Type"), choices=[])  # the organisation's active types, set in __init__
    website = forms.CharField(required=False, label=_("Leave this empty"), max_length=200)

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = choice_lists.choices(organization_id, KINDS)
        self.fields["kind"].initial = choice_lists.default(organization_id, KINDS, Ticket.Kind.INQUIRY)
        # The ticket fields an administrator marked public (kehu.core.custom_fields), after the message.
        self.custom_definitions = custom_fields.public_definitions_for(organization_id, TICKET_TYPE)
        self.fields.update(custom_fields.form_fields(self.custom_definitions, organization_id=organization_id))
        self.fields["website"] = self.fields.pop("website")
        self.style()
        self.fields["website"].widget.attrs.update(tabindex="-1", autocomplete="off")

    @property
    def custom_fields(self) -> list[Any]:
        return [self[d.param] for d in self.custom_definitions]

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("custom.") and k != "website"}
        if self.custom_definitions:
            data["custom"] = custom_fields.form_values(self.custom_definitions, self.cleaned_data)
        return data

    @property
    def is_spam(self) -> bool:
        return bool((self.data.get("website") or "").strip())


class ServiceSettingsForm(_StyledMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    auto_close_after_days = forms.IntegerField(
        label=_("Close resolved tickets after (days without a customer reply)"),
        min_value=0,
        max_value=365,
        help_text=_("A customer's reply after that opens a follow-up ticket. 0 turns this off."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()
