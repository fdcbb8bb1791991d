"""Service routes of /api/v1/ (see kehu/api_urls.py): each topic declares its own ROUTES."""

from kehu.service import knowledge_api, sla_api, ticket_api

ROUTES = [*ticket_api.ROUTES, *sla_api.ROUTES, *knowledge_api.ROUTES]
