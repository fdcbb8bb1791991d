"""The customers module's routes in the isolation matrix: customers, contacts, tags."""

from __future__ import annotations

from tests.customers.factories import make_contact, make_customer, make_tag
from tests.isolation.registry import api_route, ui_page

api_route(
    list_url="/api/v1/customers/",
    detail_url="/api/v1/customers/{id}/",
    factory=make_customer,
    module="customers",
    detail_actions=("restore", "claim", "release", "purge"),  # claim/release/purge: customers/pool_api.py
    patch_data={"name": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_customer(tenant, owner),
)
api_route(
    list_url="/api/v1/contacts/",
    detail_url="/api/v1/contacts/{id}/",
    factory=make_contact,
    module="customers",
    patch_data={"name": "changed by another organisation", "version": 1},
    # A contact is in scope exactly when its customer is.
    owned_factory=lambda tenant, owner: make_contact(tenant, make_customer(tenant, owner)),
)
api_route(list_url="/api/v1/tags/", detail_url="/api/v1/tags/{id}/", factory=make_tag, module="customers")

ui_page(
    list_url_name="customers:list",
    detail_url_name="customers:detail",
    get_url_names=("customers:timeline", "customers:panels", "customers:edit", "customers:contact_create"),
    post_url_names=("customers:edit", "customers:delete", "customers:restore", "customers:contact_create"),
    factory=make_customer,
    module="customers",
)
ui_page(
    list_url_name=None,
    detail_url_name="customers:contact_edit",
    post_url_names=("customers:contact_edit", "customers:contact_delete"),
    factory=make_contact,
    module="customers",
)
ui_page(
    list_url_name="customers:tags",
    detail_url_name=None,  # edited in place on the list: POST only
    post_url_names=("customers:tag_edit", "customers:tag_delete"),
    factory=make_tag,
    module="customers",
)
