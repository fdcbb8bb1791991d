from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kehu.core import views as core_views

admin.site.site_header = "Kehu CRM — platform administration"
admin.site.site_title = "Kehu platform"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("search/", core_views.search, name="search"),
    path("notifications/", core_views.notifications, name="notifications"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("kehu.accounts.urls")),
    path("admin/", include("kehu.accounts.admin_urls")),
    path("audit/", include("kehu.core.audit_urls")),
    path("lists/", include("kehu.core.choice_list_urls")),  # editable option lists (tiers, stages, ticket types)
    path("customers/", include("kehu.customers.urls")),
    path("sales/", include("kehu.sales.urls")),
    path("service/", include("kehu.service.urls")),
    path("forms/", include("kehu.sales.lead_public_urls")),  # public web-to-lead forms (no sign-in)
    path("help/", include("kehu.service.ticket_public_urls")),  # public ticket web forms (no sign-in)
    # Public pages of the service module (no login): the help centre and the satisfaction survey.
    path("help/", include("kehu.service.knowledge_public_urls")),
    path("survey/", include("kehu.service.survey_urls")),
    path("platform/", admin.site.urls),
    path("api/v1/", include("kehu.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
