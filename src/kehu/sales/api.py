"""Sales routes of /api/v1/ (see kehu/api_urls.py): each topic declares its own ROUTES."""

from kehu.sales import activity_api, commerce_api, forecast_api, lead_api, opportunity_api

ROUTES = [*lead_api.ROUTES, *opportunity_api.ROUTES, *commerce_api.ROUTES, *activity_api.ROUTES, *forecast_api.ROUTES]
