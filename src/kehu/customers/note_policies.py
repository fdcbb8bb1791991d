"""Who may do what with notes and attachments.

- view: whoever may view the customer (the data scope applies to the customer's owner);
- create (write a note, upload a file): the `create` right in customers, on a customer in scope;
- edit and delete: the author / uploader while they still see the customer, or whoever may `administer`
  customers (an organisation administrator) within their scope. A colleague never rewrites another's
  note: the note is the author's statement, and the edit is versioned and audited;
- restore (from the recycle bin): whoever may delete it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kehu.core.permissions import Policy, register_policy
from kehu.customers.models import MODULE
from kehu.customers.note_models import Attachment, Note

if TYPE_CHECKING:
    from kehu.accounts.models import User


class PartOfCustomerPolicy(Policy):
    module = MODULE

    def can(self, actor: User, action: str, target: Any) -> bool:
        actions = actor.grant_for(self.module).actions
        if "view" not in actions:
            return False
        record = target if isinstance(target, Note | Attachment) else None
        if action == "view":
            allowed = True
        elif action == "create":
            allowed = "create" in actions
        elif action in ("edit", "delete", "restore"):
            # Asked about the model class ("may they edit some notes?"), authorship cannot be known yet.
            is_author = record is None or record.created_by_id == actor.pk
            allowed = "administer" in actions or ("create" in actions and is_author)
        else:
            allowed = action in actions
        if not allowed:
            return False
        if record is not None:
            return self.in_scope(actor, record.customer, actor.grant_for(self.module).scope)
        return True


def register() -> None:
    policy = PartOfCustomerPolicy()
    register_policy(Note, policy)
    register_policy(Attachment, policy)
