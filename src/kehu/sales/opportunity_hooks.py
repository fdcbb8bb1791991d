"""What opportunities plug into elsewhere (called from the app's ready()): custom fields, the customer's
timeline and page, and the merge of duplicate customers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kehu.core import custom_fields
    from kehu.customers import merge, panels, timeline
    from kehu.sales import opportunity_selectors, opportunity_services, opportunity_views
    from kehu.sales.models import Opportunity

    custom_fields.register_record_type(opportunity_services.OPPORTUNITY_TYPE, _("Opportunity"), Opportunity)
    timeline.register(
        opportunity_selectors.opportunity_timeline, module="sales", exists=opportunity_selectors.opportunity_rows
    )
    merge.register(opportunity_services.move_to_customer, name="opportunities")
    panels.register(opportunity_views.customer_panel, module="sales", order=10)
