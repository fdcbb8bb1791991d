"""Who may do what with products, price lists, quotes, orders and payments.

- Products and price lists are the organisation's catalogue: everyone with `view` in sales reads all of
  them (a rep must be able to quote any product), and changing them (create, edit, deactivate, delete,
  restore, set prices) needs `administer` in sales, because a price change reaches every quote made
  after it. No data scope applies: the catalogue has no owner that matters.
- Quotes and orders are records in their owner's data scope: the role's actions as for opportunities;
  restoring from the recycle bin needs `delete`. Status changes (send, accept, reject, revise, confirm,
  fulfil, cancel) are edits.
- Lines and planned instalments are part of their document: reading them needs `view` on it, adding,
  changing or removing them needs `edit` on it.
- Payments are part of their order too, but they are money received, so each action needs its own
  right on the order's scope: `create` to record one, `edit` to correct one, `delete` to remove one
  (a sales rep records and corrects payments; removing one is for managers), restoring needs `delete`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kehu.core.permissions import Policy, register_policy
from kehu.sales.commerce_models import (
    Instalment,
    Order,
    OrderLine,
    Payment,
    PriceList,
    PriceListItem,
    Product,
    Quote,
    QuoteLine,
)
from kehu.sales.models import MODULE

if TYPE_CHECKING:
    from kehu.accounts.models import User


class CataloguePolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "administer"
        if needed not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return target.organization_id == actor.organization_id
        return True


class DocumentPolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        return super().can(actor, "delete" if action == "restore" else action, target)


class PartOfDocumentPolicy(Policy):
    """Lines and instalments: `view` or `edit` on the document they belong to."""

    module = MODULE
    parent = ""

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "view" if action == "view" else "edit"
        if needed not in grant.actions:
            return False
        if isinstance(target, models.Model):
            return self.in_scope(actor, getattr(target, self.parent), grant.scope)
        return True


class QuotePartPolicy(PartOfDocumentPolicy):
    parent = "quote"


class OrderPartPolicy(PartOfDocumentPolicy):
    parent = "order"


class PaymentPolicy(Policy):
    """Each action on a payment needs that right in sales, on the order's scope."""

    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        needed = "delete" if action == "restore" else action
        if "view" not in grant.actions or needed not in grant.actions:
            return False
        if isinstance(target, Payment):
            return self.in_scope(actor, target.order, grant.scope)
        return True


def register() -> None:
    catalogue = CataloguePolicy()
    for model in (Product, PriceList, PriceListItem):
        register_policy(model, catalogue)
    documents = DocumentPolicy()
    register_policy(Quote, documents)
    register_policy(Order, documents)
    register_policy(QuoteLine, QuotePartPolicy())
    register_policy(OrderLine, OrderPartPolicy())
    register_policy(Instalment, OrderPartPolicy())
    register_policy(Payment, PaymentPolicy())
