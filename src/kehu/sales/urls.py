"""Pages of the sales module. Each topic keeps its pages in its own file; they share the namespace "sales",
which the middleware's module gate answers 403 for when the organisation has not enabled sales."""

from kehu.sales import activity_urls, commerce_urls, forecast_urls, lead_urls, list_views, opportunity_urls

app_name = "sales"

urlpatterns = [
    *lead_urls.urlpatterns,
    *opportunity_urls.urlpatterns,
    *commerce_urls.urlpatterns,
    *activity_urls.urlpatterns,
    *forecast_urls.urlpatterns,
    *list_views.urlpatterns,  # saved views of the lead, opportunity, quote and order lists
]
