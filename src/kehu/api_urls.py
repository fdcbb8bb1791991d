"""/api/v1/: one router for the platform and every module.

The platform's view sets are registered below. A module plugs in without editing this file: its own
`api.py` declares

    ROUTES = [("customers", CustomerViewSet, "customer"), ...]   # (prefix, view set, basename)

and every installed Kehu app's `api.py` is imported here and its ROUTES registered on the router.
Every route must also be registered in the isolation test matrix (tests/isolation/routes/); a test
walks this URLconf and fails for a route that is missing there.

Unknown paths under /api/v1/ answer 404 in the one error shape, not with an HTML page.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.utils.translation import gettext as _
from rest_framework.routers import SimpleRouter

from kehu.accounts.api import ApiTokenViewSet, MeView, RoleViewSet, TeamViewSet, UserViewSet
from kehu.accounts.support_api import SupportGrantViewSet
from kehu.core.audit_api import AuditEntryViewSet
from kehu.core.choice_list_api import ChoiceOptionViewSet
from kehu.core.custom_field_api import CustomFieldViewSet, SavedViewViewSet
from kehu.core.import_api import ImportJobViewSet

app_name = "api"

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("teams", TeamViewSet, basename="team")
router.register("roles", RoleViewSet, basename="role")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("audit-entries", AuditEntryViewSet, basename="audit-entry")
router.register("support-grants", SupportGrantViewSet, basename="support-grant")  # vendor support access
# Custom fields and saved views: generic over every module's record types.
router.register("custom-fields", CustomFieldViewSet, basename="custom-field")
router.register("saved-views", SavedViewViewSet, basename="saved-view")
router.register("imports", ImportJobViewSet, basename="import-job")  # import jobs of any record type
router.register("choice-options", ChoiceOptionViewSet, basename="choice-option")  # editable lists (tiers, ...)

PLATFORM_APPS = ("kehu.core", "kehu.accounts")


def _register_module_routes() -> None:
    for app_config in apps.get_app_configs():
        name = app_config.name
        if not name.startswith("kehu.") or name in PLATFORM_APPS or find_spec(f"{name}.api") is None:
            continue
        module = import_module(f"{name}.api")  # an import error here must fail loudly, not hide a module's API
        for prefix, viewset, basename in getattr(module, "ROUTES", ()):
            router.register(prefix, viewset, basename=basename)


_register_module_routes()


def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": _("There is no API endpoint at this address."), "fields": {}}},
        status=404,
    )


urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
    re_path(r"^.*$", not_found, name="not-found"),
]
