"""igent's message protocol: the task blocks agents send and the answer shapes they expect.

A task message is plain text made of ``### NAME`` blocks, each holding compact JSON::

    ### TASK
    "match"
    ### REGISTRATION
    {"RegistrationNumber": "R-000001", "Contact_Zip": "55101", ...}
    ### SUPPLIERS
    [{"SupplierID": "S1", "Capacity": 40, "ServiceAreas": [...], "Offers": [...]}, ...]
    ### CAPACITY
    [{"supplier_id": "S1", "used": 3, "capacity": 40, "used_pct": 0.075}, ...]

Pricing tasks add ``MATCH``, ``CAMPAIGN_DATE`` and ``INCENTIVES``; review (critic) tasks add
``PROPOSAL``. Only the suppliers serving the registration's ZIP are sent. The simulator
(igent.sim) parses the same blocks, so the two stay in step through this module.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from igent.domain import (
    NO_MATCH_FOUND,
    IncentiveBook,
    MatchDecision,
    PurchaseOrder,
    Supplier,
    used_pct,
)

TaskKind = Literal["match", "price", "review_match", "review_price"]
TASK_KINDS: tuple[TaskKind, ...] = ("match", "price", "review_match", "review_price")
_BLOCK = re.compile(r"^### ([A-Z_]+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Task:
    """Everything an agent needs to answer for one registration."""

    kind: TaskKind
    registration: Mapping[str, Any]
    suppliers: Sequence[Mapping[str, Any]]
    capacity: Sequence[Mapping[str, Any]] = ()
    campaign_date: dt.date | None = None
    incentives: Sequence[Mapping[str, Any]] = ()
    match: Mapping[str, Any] | None = None
    proposal: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def capacity_used(self) -> dict[str, int]:
        """The capacity block as supplier_id -> used."""
        return {str(row["supplier_id"]): int(row["used"]) for row in self.capacity}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def supplier_block(suppliers: Sequence[Supplier]) -> list[dict[str, Any]]:
    """Render suppliers in the offers-file format."""
    return [s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in suppliers]


def capacity_block(
    suppliers: Sequence[Supplier], capacity_used: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Render the live capacity of ``suppliers``."""
    rows = []
    for supplier in suppliers:
        used = capacity_used.get(supplier.supplier_id, 0)
        rows.append(
            {
                "supplier_id": supplier.supplier_id,
                "used": used,
                "capacity": supplier.capacity,
                "used_pct": round(float(used_pct(used, supplier.capacity)), 6),
            }
        )
    return rows


def incentive_block(incentives: IncentiveBook) -> list[dict[str, Any]]:
    """Render incentives in the incentives-file format."""
    return [i.model_dump(mode="json", exclude_none=True) for i in incentives.incentives]


def render_task(task: Task) -> str:
    """Render a task as the text of a user message."""
    blocks: list[tuple[str, Any]] = [
        ("TASK", task.kind),
        ("REGISTRATION", dict(task.registration)),
        ("SUPPLIERS", list(task.suppliers)),
        ("CAPACITY", list(task.capacity)),
    ]
    if task.match is not None:
        blocks.append(("MATCH", dict(task.match)))
    if task.campaign_date is not None:
        blocks.append(("CAMPAIGN_DATE", task.campaign_date.isoformat()))
    if task.kind in ("price", "review_price"):
        blocks.append(("INCENTIVES", list(task.incentives)))
    if task.proposal is not None:
        blocks.append(("PROPOSAL", task.proposal))
    return "\n".join(f"### {name}\n{_dumps(value)}" for name, value in blocks)


def parse_task(text: str) -> Task:
    """Parse a task message; raise ValueError when it is not one."""
    headers = list(_BLOCK.finditer(text))
    if not headers:
        raise ValueError("no '### TASK' block")
    blocks: dict[str, Any] = {}
    for position, header in enumerate(headers):
        end = headers[position + 1].start() if position + 1 < len(headers) else len(text)
        body = text[header.end() : end].strip()
        try:
            blocks[header.group(1)] = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"block {header.group(1)!r} is not JSON: {exc}") from exc
    kind = blocks.pop("TASK", None)
    if kind not in TASK_KINDS:
        raise ValueError(f"TASK is {kind!r}; expected one of {', '.join(TASK_KINDS)}")
    date_text = blocks.pop("CAMPAIGN_DATE", None)
    return Task(
        kind=kind,
        registration=blocks.pop("REGISTRATION", {}),
        suppliers=blocks.pop("SUPPLIERS", []),
        capacity=blocks.pop("CAPACITY", []),
        campaign_date=dt.date.fromisoformat(date_text) if date_text else None,
        incentives=blocks.pop("INCENTIVES", []),
        match=blocks.pop("MATCH", None),
        proposal=blocks.pop("PROPOSAL", None),
        extra=blocks,
    )


def find_task(messages: Sequence[Mapping[str, Any]]) -> Task | None:
    """Return the task of the last user message that carries one."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and "### TASK" in content:
            try:
                return parse_task(content)
            except ValueError:
                continue
    return None


def match_answer(decision: MatchDecision) -> dict[str, Any]:
    """The match JSON a correct matcher writes for ``decision``."""
    return {
        "registration_id": decision.registration_id,
        "supplier_id": decision.supplier_id or NO_MATCH_FOUND,
        "num_panels": decision.num_panels,
        "num_batteries": decision.num_batteries,
    }


def purchase_order_answer(order: PurchaseOrder) -> dict[str, Any]:
    """The PO JSON a correct pricer writes for ``order``."""
    battery = order.lines[1] if len(order.lines) > 1 else None
    answer: dict[str, Any] = {
        "registration_id": order.registration_id,
        "supplier_id": order.supplier_id,
        "num_panels": order.num_panels,
        "num_batteries": order.num_batteries,
        "payment_type": order.payment_type,
        "solar_tier_quantity": order.lines[0].tier_quantity,
        "solar_price": order.solar_price,
        "battery_tier_quantity": battery.tier_quantity if battery else None,
        "battery_price": order.battery_price,
        "total_price": order.total_price,
        "incentives": [{"name": i.name, "amount": i.amount} for i in order.incentives],
        "incentives_total": order.incentives_total,
        "net_price": order.net_price,
    }
    if order.payment_type == "Loan":
        answer["interest_rate"] = order.interest_rate
        answer["loan_term_months"] = order.loan_term_months
    return answer


MATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "registration_id": {"type": "string"},
        "supplier_id": {"type": "string", "description": f'or "{NO_MATCH_FOUND}"'},
        "num_panels": {"type": ["integer", "null"]},
        "num_batteries": {"type": "integer"},
    },
    "required": ["registration_id", "supplier_id", "num_panels", "num_batteries"],
}

PURCHASE_ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "registration_id": {"type": "string"},
        "supplier_id": {"type": "string"},
        "num_panels": {"type": "integer"},
        "num_batteries": {"type": "integer"},
        "payment_type": {"type": "string", "enum": ["Cash", "Loan"]},
        "solar_tier_quantity": {"type": "integer"},
        "solar_price": {"type": "number"},
        "battery_tier_quantity": {"type": ["integer", "null"]},
        "battery_price": {"type": "number"},
        "total_price": {"type": "number"},
        "interest_rate": {"type": ["number", "null"]},
        "loan_term_months": {"type": ["integer", "null"]},
        "incentives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "amount": {"type": "number"}},
                "required": ["name", "amount"],
            },
        },
        "net_price": {"type": "number"},
    },
    "required": [
        "registration_id",
        "supplier_id",
        "num_panels",
        "num_batteries",
        "payment_type",
        "solar_price",
        "battery_price",
        "total_price",
        "incentives",
        "net_price",
    ],
}
