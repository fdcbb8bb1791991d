"""The organisation's editable option lists (kehu.core.choice_lists) in the isolation matrix: the API
and the administration pages."""

from __future__ import annotations

from kehu.core.choice_list_models import ChoiceOption
from tests.isolation.registry import api_route, ui_page


def make_option(tenant) -> ChoiceOption:
    count = ChoiceOption.objects.filter(organization=tenant.org).count()
    return ChoiceOption.objects.create(
        organization=tenant.org, list_key="customer_tier", key=f"VIP{count}", label=f"贵宾{count}", position=10 + count
    )


api_route(
    list_url="/api/v1/choice-options/",
    detail_url="/api/v1/choice-options/{id}/",
    factory=make_option,
    module="platform",  # the lists of a disabled module are left out (gated per list, not per route)
    detail_actions=("move",),
    patch_data={"label": "changed by another organisation"},
)

ui_page(
    list_url_name="choice_lists:list",
    detail_url_name="choice_lists:edit",
    post_url_names=("choice_lists:edit", "choice_lists:toggle", "choice_lists:move", "choice_lists:delete"),
    factory=make_option,
    module="platform",  # the lists of a disabled module are left out (gated per list, not per route)
    post_data={"label": "changed by another organisation"},
)
