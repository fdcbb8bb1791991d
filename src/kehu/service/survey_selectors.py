"""Reads of satisfaction surveys and their roll-up per agent, queue and period. Every read starts from
`visible_to(actor)`: an agent sees the ratings of their own tickets, a manager those of the team."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.service.models import Survey
from kehu.service.sla_selectors import Period, _labels
from kehu.service.survey_models import SCORES


def survey_list_for(
    *, actor: Any, agent: Any = None, queue: Any = None, period: Period | None = None, answered: bool | None = None
) -> QuerySet[Survey]:
    qs = Survey.objects.visible_to(actor).select_related("ticket", "owner", "queue", "response")
    if agent is not None:
        qs = qs.filter(owner_id=getattr(agent, "pk", agent))
    if queue is not None:
        qs = qs.filter(queue_id=getattr(queue, "pk", queue))
    if period is not None:
        qs = qs.filter(created_at__gte=period.since, created_at__lt=period.until)
    if answered is not None:
        qs = qs.filter(response__isnull=not answered)
    return qs


def survey_get_for(*, actor: Any, pk: Any) -> Survey:
    try:
        return survey_list_for(actor=actor).get(pk=int(pk))
    except (ValueError, TypeError, OverflowError, Survey.DoesNotExist) as exc:
        raise NotFound() from exc


@dataclass
class CsatRow:
    key: Any
    label: str
    sent: int = 0
    answered: int = 0
    average: float | None = None
    satisfied: int = 0  # scores 4 and 5
    distribution: list[int] = field(default_factory=lambda: [0] * len(SCORES))

    @property
    def csat_pct(self) -> float | None:
        """CSAT: the share of answers that are 4 or 5."""
        return round(100 * self.satisfied / self.answered, 1) if self.answered else None

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.sent, 1) if self.sent else None


def csat_for(*, actor: Any, period: Period, group_by: str = "owner") -> list[CsatRow]:
    """Per agent or queue: surveys sent in the period, answers, average score, CSAT and the 1-5 spread."""
    if group_by not in ("owner", "queue"):
        raise ValueError(group_by)
    key = f"{group_by}_id"
    qs = Survey.objects.visible_to(actor).filter(created_at__gte=period.since, created_at__lt=period.until)
    aggregates: dict[str, Any] = {
        "sent": Count("pk"),
        "answered": Count("response"),
        "average": Avg("response__score"),
        "satisfied": Count("response", filter=Q(response__score__gte=4)),
    }
    for score in SCORES:
        aggregates[f"s{score}"] = Count("response", filter=Q(response__score=score))
    rows = list(qs.order_by().values(key).annotate(**aggregates))
    labels = _labels(group_by, {r[key] for r in rows if r[key]}, actor)
    out = [
        CsatRow(
            key=r[key],
            label=labels.get(r[key], "") or (_("Unassigned") if group_by == "owner" else _("No queue")),
            sent=r["sent"],
            answered=r["answered"],
            average=round(float(r["average"]), 2) if r["average"] is not None else None,
            satisfied=r["satisfied"],
            distribution=[r[f"s{score}"] for score in SCORES],
        )
        for r in rows
    ]
    out.sort(key=lambda row: (row.key is None, row.label))
    return out


def csat_total(rows: list[CsatRow]) -> CsatRow:
    total = CsatRow(key="total", label=_("Total"))
    for row in rows:
        total.sent += row.sent
        total.answered += row.answered
        total.satisfied += row.satisfied
        total.distribution = [a + b for a, b in zip(total.distribution, row.distribution, strict=True)]
    weighted = sum(score * count for score, count in zip(SCORES, total.distribution, strict=True))
    total.average = round(weighted / total.answered, 2) if total.answered else None
    return total
