"""The one audit call, and the verification of the hash chain.

Entries are appended in the caller's transaction, so a rolled-back change leaves no audit entry and
an audited change cannot commit without one. Each entry's hash covers its content and the previous
entry's hash; `verify()` recomputes the chain and names the first entry that was altered or removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from kehu.core.models import AuditChainHead, AuditEntry

# Values of fields whose name contains one of these never enter the log.
SENSITIVE_MARKERS = ("password", "token", "secret", "totp", "key_hash", "otp")
REDACTED = "***"
PLATFORM_CHAIN = "platform"


def chain_name(organization_id: int | None) -> str:
    return f"org:{organization_id}" if organization_id else PLATFORM_CHAIN


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def is_sensitive(field_name: str) -> bool:
    name = field_name.lower()
    return any(marker in name for marker in SENSITIVE_MARKERS)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of `fields`, ready to diff (foreign keys by id)."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        values[name] = _jsonable(getattr(instance, attname))
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"before": old, "after": new}} for the fields that changed, sensitive values redacted."""
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = _jsonable(before.get(name)), _jsonable(after.get(name))
        if old != new:
            if is_sensitive(name):
                old, new = REDACTED, REDACTED
            changes[name] = {"before": old, "after": new}
    return changes


def _entry_hash(entry: AuditEntry) -> str:
    payload = {
        "chain": entry.chain,
        "seq": entry.seq,
        "organization": entry.organization_id,
        "created_at": entry.created_at.isoformat(),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "ip": entry.ip,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "target_label": entry.target_label,
        "changes": entry.changes,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _entry(
    *,
    organization_id: int | None,
    actor: Any,
    action: str,
    target: models.Model | None,
    changes: dict[str, Any] | None,
    target_label: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """An entry not yet placed in its chain (seq, time and hashes are set when it is written)."""
    real_actor = actor if getattr(actor, "is_authenticated", False) else None
    clean_changes = {}
    for name, value in (changes or {}).items():
        clean_changes[name] = {"before": REDACTED, "after": REDACTED} if is_sensitive(name) else _jsonable(value)
    return AuditEntry(
        organization_id=organization_id,
        chain=chain_name(organization_id),
        actor=real_actor,
        actor_label=actor_label or (str(getattr(real_actor, "email", "")) if real_actor else ""),
        ip=getattr(actor, "request_ip", None),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label if target_label is not None else (str(target) if target else ""))[:255],
        changes=clean_changes,
    )


def _append(entries: list[AuditEntry]) -> None:
    """Write the entries now, or at the end of the innermost deferred() block."""
    pending = _deferred.get()
    if pending is not None:
        pending.extend(entries)
    else:
        _write_pending(entries)


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    organization: Any = None,
    target_label: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one entry. The actor carries the client IP it acts from (set by the middleware)."""
    if organization is None:
        organization_id = getattr(target, "organization_id", None) or getattr(actor, "organization_id", None)
    else:
        organization_id = organization.pk
    entry = _entry(
        organization_id=organization_id,
        actor=actor,
        action=action,
        target=target,
        changes=changes,
        target_label=target_label,
        actor_label=actor_label,
    )
    _append([entry])
    return entry


def _lock_head(chain: str) -> AuditChainHead:
    """The chain's head row, locked until the transaction ends (created with the chain's first entry)."""
    head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        head, _ = AuditChainHead.objects.get_or_create(chain=chain)
        head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
    return head


# The entries of the innermost deferred() block, in the order `record` was called.
_deferred: ContextVar[list[AuditEntry] | None] = ContextVar("kehu_audit_deferred", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block, `record` builds its entries (actor, target, changes as of the call) and the block's
    end writes them with one time, each chain's head locked and moved once and the entries inserted in bulk: a
    service that audits several steps of one action (the e-mail intake: the ticket, its assignment) pays
    three statements instead of three per entry. Same entries, order, hashes and chain as writing each at
    once; use it inside the caller's transaction. An exception in the block writes nothing."""
    pending: list[AuditEntry] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    _write_pending(pending)


def _write_pending(pending: list[AuditEntry]) -> None:
    """Place the entries in their chains: per chain, the head locked and moved once, the entries inserted in
    bulk. No savepoint: a failure here fails the caller's whole transaction anyway (the change and its entry
    are one), and every write of the organisation passes this line."""
    by_chain: dict[str, list[AuditEntry]] = {}
    for entry in pending:
        by_chain.setdefault(entry.chain, []).append(entry)
    with transaction.atomic(savepoint=False):
        for chain in sorted(by_chain):  # one order of locks for every writer
            head = _lock_head(chain)
            seq, prev_hash = head.last_seq, head.last_hash
            now = timezone.now()  # under the lock, as record_many
            for entry in by_chain[chain]:
                seq += 1
                entry.created_at, entry.seq, entry.prev_hash = now, seq, prev_hash
                entry.hash = prev_hash = _entry_hash(entry)
            AuditEntry.objects.bulk_create(by_chain[chain], batch_size=1000)
            head.last_seq, head.last_hash = seq, prev_hash
            head.save(update_fields=["last_seq", "last_hash"])


def record_many(
    *,
    organization_id: int,
    items: Iterable[tuple[str, models.Model, dict[str, Any]]],
    actor_label: str,
    actor: Any = None,
) -> int:
    """Append several entries of one organisation's chain at once: (action, target, changes) each, by
    `actor` (None for a system job, named by `actor_label`). The chain head is locked once and the
    entries are inserted in bulk, so a job that audits thousands of changes (the SLA sweep) stays cheap.
    Same entries, hashes and chain as calling `record` for each."""
    entries = [
        _entry(
            organization_id=organization_id,
            actor=actor,
            action=action,
            target=target,
            changes=changes,
            actor_label=actor_label,
        )
        for action, target, changes in items
    ]
    if entries:
        _append(entries)
    return len(entries)


@dataclass
class ChainProblem:
    chain: str
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry #{self.entry_id}" if self.entry_id else "a missing entry"
        return f"chain {self.chain}: {where} (seq {self.seq}): {self.reason}"


def _verify_chain(head: AuditChainHead) -> ChainProblem | None:
    prev_hash, expected_seq = "", 1
    entries: Iterator[AuditEntry] = AuditEntry.objects.filter(chain=head.chain).order_by("seq").iterator(2000)
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainProblem(head.chain, expected_seq, None, f"entry with seq {expected_seq} was removed")
        if entry.prev_hash != prev_hash:
            return ChainProblem(head.chain, entry.seq, entry.pk, "its link to the previous entry was changed")
        if _entry_hash(entry) != entry.hash:
            return ChainProblem(head.chain, entry.seq, entry.pk, "its content was altered")
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    if expected_seq - 1 != head.last_seq or prev_hash != head.last_hash:
        return ChainProblem(head.chain, expected_seq, None, "entries at the end of the chain were removed")
    return None


def verify(chains: Iterable[str] | None = None) -> list[ChainProblem]:
    """Walk every chain (or the ones named); return the first problem of each broken chain."""
    heads = AuditChainHead.objects.order_by("chain")
    if chains is not None:
        heads = heads.filter(chain__in=list(chains))
    problems = []
    for head in heads:
        problem = _verify_chain(head)
        if problem:
            problems.append(problem)
    return problems
