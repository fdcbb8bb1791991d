"""Sales demo data for `kehu seed_demo`: each topic registers its own demo hooks (order 20+)."""

from kehu.sales import activity_demo, commerce_demo, forecast_demo, lead_demo, opportunity_demo  # noqa: F401
