"""Service demo data for `kehu seed_demo`: each topic registers its own demo hooks (order 40+)."""

from kehu.service import knowledge_demo, sla_demo, ticket_demo  # noqa: F401
