"""Notes and attachments of customers in the isolation matrix (a note or file is in scope exactly when its
customer is)."""

from __future__ import annotations

from tests.customers.factories import make_customer
from tests.customers.note_factories import make_attachment, make_note
from tests.isolation.registry import api_route, ui_page

api_route(
    list_url="/api/v1/notes/",
    detail_url="/api/v1/notes/{id}/",
    factory=make_note,
    module="customers",
    patch_data={"body": "changed by another organisation", "version": 1},
    detail_actions=("restore",),  # of a note in the recycle bin: customers_bin_and_settings.py
    owned_factory=lambda tenant, owner: make_note(tenant, make_customer(tenant, owner)),
)
api_route(
    list_url="/api/v1/attachments/",
    detail_url="/api/v1/attachments/{id}/",
    factory=make_attachment,
    module="customers",
    detail_actions=("download", "restore"),  # download is GET only: a POST answers 405 (the matrix checks that)
    owned_factory=lambda tenant, owner: make_attachment(tenant, make_customer(tenant, owner)),
)

ui_page(
    list_url_name=None,
    detail_url_name="customers:note_edit",
    post_url_names=("customers:note_edit", "customers:note_delete"),
    factory=make_note,
    module="customers",
    post_data={"body": "changed by another organisation", "version": 1},
)
ui_page(
    list_url_name=None,
    detail_url_name="customers:attachment_download",
    post_url_names=("customers:attachment_delete",),
    factory=make_attachment,
    module="customers",
)
ui_page(
    list_url_name=None,
    # The mention picker, the note box and the upload of a customer's page (they take the customer's id).
    detail_url_name="customers:mention_suggestions",
    post_url_names=("customers:note_create", "customers:attachment_upload"),
    factory=make_customer,
    module="customers",
    post_data={"body": "written by another organisation"},
)
