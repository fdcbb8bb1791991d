"""Tickets, their conversation and files, queues, canned replies and agents' availability (service module,
topic "ticket") in the isolation matrix. A ticket is in scope through its assignee (queues widen it: see
kehu/service/ticket_visibility.py); a message or a file exactly when its ticket is."""

from __future__ import annotations

from kehu.service import ticket_config_services, ticket_selectors
from tests.isolation.registry import api_route, api_singleton, ui_page
from tests.service.ticket_factories import (
    make_agent_status,
    make_attachment,
    make_canned,
    make_message,
    make_queue,
    make_ticket,
)

api_route(
    list_url="/api/v1/tickets/",
    detail_url="/api/v1/tickets/{id}/",
    factory=make_ticket,
    module="service",
    detail_actions=("restore", "reply", "note", "assign", "take", "resolve", "close", "reopen", "messages"),
    patch_data={"subject": "changed by another organisation", "version": 1},
    owned_factory=lambda tenant, owner: make_ticket(tenant, owner),
)
api_route(
    list_url="/api/v1/ticket-messages/",
    detail_url="/api/v1/ticket-messages/{id}/",
    factory=make_message,
    module="service",
    patch_data={"body": "changed by another organisation"},
    owned_factory=lambda tenant, owner: make_message(tenant, make_ticket(tenant, owner)),
)
api_route(
    list_url="/api/v1/ticket-attachments/",
    detail_url="/api/v1/ticket-attachments/{id}/",
    factory=make_attachment,
    module="service",
    detail_actions=("download",),
    owned_factory=lambda tenant, owner: make_attachment(tenant, make_ticket(tenant, owner)),
)
api_route(
    list_url="/api/v1/queues/",
    detail_url="/api/v1/queues/{id}/",
    factory=make_queue,
    module="service",
    detail_actions=("poll", "new-web-address"),
    patch_data={"name": "changed by another organisation", "version": 1},
)
api_route(
    list_url="/api/v1/canned-replies/",
    detail_url="/api/v1/canned-replies/{id}/",
    factory=make_canned,
    module="service",
    detail_actions=("render",),
    patch_data={"title": "changed by another organisation", "version": 1},
)
api_route(list_url="/api/v1/agent-statuses/", detail_url=None, factory=make_agent_status, module="service")

ui_page(
    list_url_name="service:ticket_list",
    detail_url_name="service:ticket_detail",
    get_url_names=(
        "service:ticket_edit",
        "service:ticket_canned",
        "service:ticket_customer_timeline",
        "service:ticket_side_panels",
    ),
    post_url_names=(
        "service:ticket_edit",
        "service:ticket_delete",
        "service:ticket_restore",
        "service:ticket_reply",
        "service:ticket_take",
        "service:ticket_assign",
        "service:ticket_status",
    ),
    factory=make_ticket,
    module="service",
    post_data={"subject": "changed by another organisation", "body": "x", "kind": "note", "status": "closed"},
)
ui_page(
    list_url_name=None,
    detail_url_name="service:ticket_attachment",
    factory=make_attachment,
    module="service",
)
ui_page(
    list_url_name="service:queue_list",
    detail_url_name=None,
    get_url_names=("service:queue_edit",),
    post_url_names=("service:queue_edit", "service:queue_delete", "service:queue_web_address", "service:queue_poll"),
    factory=make_queue,
    module="service",
)
ui_page(
    list_url_name="service:canned_list",
    detail_url_name=None,
    get_url_names=("service:canned_edit",),
    post_url_names=("service:canned_edit", "service:canned_delete"),
    factory=make_canned,
    module="service",
    post_data={"title": "changed by another organisation", "body": "x", "version": 1},
)


def set_service_settings(tenant):
    """Settings of the tenant's own, unlike the defaults every other organisation has."""
    return ticket_config_services.service_settings_update(actor=tenant.admin, data={"auto_close_after_days": 21})


def shown_service_settings(tenant) -> dict[str, int]:
    current = ticket_selectors.service_settings_for(organization_id=tenant.org.pk)
    return {"auto_close_after_days": current.auto_close_after_days}


api_singleton(
    url="/api/v1/service-settings/",
    factory=set_service_settings,
    shown=shown_service_settings,
    put_data={"auto_close_after_days": 3},
    module="service",
)
