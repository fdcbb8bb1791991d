"""The base view set that owns `get_queryset`/`get_object`, so that no subclass can forget the tenant
boundary: a record outside the actor's organisation or scope is 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import viewsets

from kehu.core import modules
from kehu.core.errors import NotFound


class ScopedViewSet(viewsets.GenericViewSet):
    """Base of every API view set over organisation data.

    Subclasses say what to list through `list_for(actor)` (a selector that starts from
    `visible_to(actor)`); they must not override `get_queryset`/`get_object`, which is checked at
    class creation, so the tenant and scope boundary cannot be bypassed by accident.
    """

    module: str = modules.PLATFORM

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get_queryset", "get_object"):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} must not override {name}; implement list_for() instead.")

    def list_for(self, actor: Any) -> Any:
        raise ImproperlyConfigured(f"{type(self).__name__} must define list_for(actor), a selector call.")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.list_for(self.request.user)

    def get_object(self) -> Any:
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            obj = self.get_queryset().get(**{self.lookup_field: int(lookup)})
        except (ValueError, TypeError, self.get_queryset().model.DoesNotExist) as exc:
            raise NotFound() from exc
        self.check_object_permissions(self.request, obj)
        return obj


class SingletonViewSet(ScopedViewSet):
    """One object per organisation at a list address (settings): GET reads it, PUT replaces it (`replace`)."""

    filter_backends = ()
    pagination_class = None

    @classmethod
    def as_view(cls, actions: dict[str, str] | None = None, **initkwargs: Any) -> Any:
        # The router maps only GET (and POST) at a list address; a singleton is replaced with PUT there.
        if actions and actions.get("get") == "list":
            actions = {**actions, "put": "replace"}
        return super().as_view(actions, **initkwargs)
