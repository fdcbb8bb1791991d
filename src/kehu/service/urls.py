"""Pages of the service module. Each topic keeps its pages in its own file; they share the namespace
"service", which the middleware's module gate answers 403 for when the organisation has not enabled it.
Public pages (the web form, surveys, the help centre) live outside this namespace: see kehu/urls.py."""

from kehu.service import knowledge_urls, sla_urls, ticket_urls

app_name = "service"

urlpatterns = [*ticket_urls.urlpatterns, *sla_urls.urlpatterns, *knowledge_urls.urlpatterns]
