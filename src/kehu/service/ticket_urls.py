"""ticket pages of the service module (included by service/urls.py)."""

from django.urls import path

from kehu.service import ticket_config_views, ticket_views

urlpatterns = [
    path("tickets/", ticket_views.ticket_list, name="ticket_list"),
    path("tickets/new/", ticket_views.ticket_create, name="ticket_create"),
    path("tickets/bulk/", ticket_views.ticket_bulk, name="ticket_bulk"),
    path("tickets/recycle-bin/", ticket_views.ticket_recycle_bin, name="ticket_recycle_bin"),
    path("tickets/<int:pk>/", ticket_views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/edit/", ticket_views.ticket_edit, name="ticket_edit"),
    path("tickets/<int:pk>/delete/", ticket_views.ticket_delete, name="ticket_delete"),
    path("tickets/<int:pk>/restore/", ticket_views.ticket_restore, name="ticket_restore"),
    path("tickets/<int:pk>/reply/", ticket_views.ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/take/", ticket_views.ticket_take, name="ticket_take"),
    path("tickets/<int:pk>/assign/", ticket_views.ticket_assign, name="ticket_assign"),
    path("tickets/<int:pk>/status/", ticket_views.ticket_status, name="ticket_status"),
    path("tickets/<int:pk>/canned/", ticket_views.ticket_canned, name="ticket_canned"),
    path(
        "tickets/<int:pk>/customer-timeline/",
        ticket_views.ticket_customer_timeline,
        name="ticket_customer_timeline",
    ),
    path("tickets/<int:pk>/side-panels/", ticket_views.ticket_side_panels, name="ticket_side_panels"),
    path("ticket-files/<int:pk>/", ticket_views.attachment_download, name="ticket_attachment"),
    path("queues/", ticket_config_views.queue_list, name="queue_list"),
    path("queues/new/", ticket_config_views.queue_create, name="queue_create"),
    path("queues/<int:pk>/edit/", ticket_config_views.queue_edit, name="queue_edit"),
    path("queues/<int:pk>/delete/", ticket_config_views.queue_delete, name="queue_delete"),
    path("queues/<int:pk>/web-address/", ticket_config_views.queue_web_address, name="queue_web_address"),
    path("queues/<int:pk>/poll/", ticket_config_views.queue_poll, name="queue_poll"),
    path("canned-replies/", ticket_config_views.canned_list, name="canned_list"),
    path("canned-replies/new/", ticket_config_views.canned_create, name="canned_create"),
    path("canned-replies/<int:pk>/edit/", ticket_config_views.canned_edit, name="canned_edit"),
    path("canned-replies/<int:pk>/delete/", ticket_config_views.canned_delete, name="canned_delete"),
    path("away/", ticket_config_views.agent_away, name="agent_away"),
    path("settings/", ticket_config_views.service_settings, name="service_settings"),
]
