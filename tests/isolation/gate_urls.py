"""A URLconf for the module-gate test: the real one plus a test-only view set in the customers module."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from kehu.accounts import selectors
from kehu.accounts.models import Team
from kehu.core.viewsets import ScopedViewSet


class GateProbeViewSet(ScopedViewSet):
    module = "customers"
    queryset = Team.objects.none()

    def list_for(self, actor: Any) -> Any:
        return selectors.team_list_for(actor=actor)

    def list(self, request: Request) -> Response:
        return Response({"results": [t.pk for t in self.get_queryset()], "next": None})

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response({"id": self.get_object().pk})


router = SimpleRouter()
router.register("gate-probe", GateProbeViewSet, basename="gate-probe")

urlpatterns = [
    path("api/test/", include(router.urls)),
    path("", include("kehu.urls")),
]
