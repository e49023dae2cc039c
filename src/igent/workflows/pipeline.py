"""Process one registration through a constellation: phase 1, capacity commit, phase 2."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from igent.agents import (
    Agent,
    Task,
    capacity_block,
    incentive_block,
    match_answer,
    parse_verdict,
    purchase_order_answer,
    render_task,
    supplier_block,
)
from igent.domain import NO_MATCH_FOUND, Registration, RegistrationRecord
from igent.errors import StoreError
from igent.rules import RulesEngine, is_no_match, validate_match, validate_purchase_order
from igent.store import CapacityState
from igent.workflows.constellation import Constellation, PhaseSpec
from igent.workflows.options import RunOptions
from igent.workflows.phase import PhaseJob, PhaseResult, run_phase
from igent.workflows.timing import RegistrationTiming

MATCH_FIELDS = ("supplier_id",)
MODEL_FIELDS = frozenset(field.alias or name for name, field in Registration.model_fields.items())
PO_FIELDS = ("supplier_id", "total_price")


@dataclass
class AgentSet:
    """The agents a constellation needs, by role."""

    matcher: Agent | None = None
    match_critic: Agent | None = None
    pricer: Agent | None = None
    price_critic: Agent | None = None


@dataclass
class Outcome:
    """A finished registration: outputs, timing and grading against the rules engine."""

    registration_id: str
    record_index: int
    match: dict[str, Any]
    purchase_order: dict[str, Any] | None
    timing: RegistrationTiming
    grading: dict[str, bool | None] = field(default_factory=dict)
    audit: asyncio.Task[dict[str, Any]] | None = None

    def payload(self) -> dict[str, Any]:
        """Return the JSON committed to the ledger."""
        return {
            "registration_id": self.registration_id,
            "record_index": self.record_index,
            "match": self.match,
            "purchase_order": self.purchase_order,
            "timing": dict(vars(self.timing)),
            "grading": self.grading,
        }


class Pipeline:
    """Everything shared by the registrations of one run."""

    def __init__(
        self,
        constellation: Constellation,
        engine: RulesEngine,
        capacity: CapacityState,
        agents: AgentSet,
        options: RunOptions,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.constellation = constellation
        self.engine = engine
        self.capacity = capacity
        self.agents = agents
        self.options = options
        self.clock = clock
        self.commit_lock = asyncio.Lock()
        self._incentives = incentive_block(engine.incentives)

    def _spec(self, task: str) -> PhaseSpec:
        spec = self.constellation.phase(task)  # type: ignore[arg-type]
        if self.options.critic_skip is not None and spec.critic in ("llm", "both"):
            spec = spec.model_copy(update={"skip_critic": self.options.critic_skip})
        return spec

    def skipped(self, record: RegistrationRecord) -> Outcome:
        """Report a registration left out by ``--skip-status``."""
        status = record.registration.status if record.registration else None
        match = {
            "registration_id": record.registration_id,
            "record_index": record.record_index,
            "supplier_id": None,
            "status": "skipped",
            "reason": "skipped_status",
            "message": f"RegistrationStatus {status!r} is in --skip-status",
            "source": "skipped",
        }
        timing = RegistrationTiming(registration_id=record.registration_id)
        return Outcome(record.registration_id, record.record_index, match, None, timing)

    async def process(self, record: RegistrationRecord) -> Outcome:
        """Run both phases for ``record`` and commit its capacity reservation."""
        timing = RegistrationTiming(registration_id=record.registration_id)
        started = self.clock()
        used, version = self.capacity.snapshot()
        reference = self.engine.match(record, used)
        suppliers = self.engine.suppliers_for_zip(reference.zip_code or "")
        conversation: list[dict[str, str]] = []
        metadata = {"registration_id": record.registration_id}
        # Only the fields the rules read go to the model: exports carry personal data too.
        raw = {k: v for k, v in record.raw.items() if k in MODEL_FIELDS}
        date = self.engine.campaign_date

        def task(kind: str, **extra: Any) -> str:
            return render_task(
                Task(
                    kind=kind,  # type: ignore[arg-type]
                    registration=raw,
                    suppliers=supplier_block(suppliers),
                    capacity=capacity_block(suppliers, used),
                    campaign_date=date if kind in ("price", "review_price") else None,
                    incentives=self._incentives if kind in ("price", "review_price") else (),
                    **extra,
                )
            )

        match_spec = self._spec("match")
        if record.registration is None:
            match_spec = PhaseSpec(task="match", answerer="rules")
        p1 = await run_phase(
            PhaseJob(
                spec=match_spec,
                answerer=self.agents.matcher,
                critic=self.agents.match_critic,
                task_message=task("match") if match_spec.answerer == "llm" else "",
                review_message=lambda proposal: task("review_match", proposal=proposal),
                validate=lambda proposal: validate_match(self.engine, record, used, proposal),
                rules_answer=match_answer(reference),
                conversation=conversation,
                required_fields=MATCH_FIELDS,
                metadata=metadata,
                group_chat=self.constellation.group_chat,
                clock=self.clock,
            )
        )
        timing.phase1_s = self.clock() - started
        _add_calls(timing, p1)

        commit_started = self.clock()
        supplier_id, commit_repairs, decision, used_at_commit = await self._commit(
            record, p1, version, used
        )
        timing.capacity_update_s = self.clock() - commit_started
        timing.commit_repairs = commit_repairs

        match = {
            **match_answer(decision if decision is not None else reference),
            "record_index": record.record_index,
            "status": "matched" if supplier_id else "no_match",
            "reason": None,
            "message": "",
            "source": p1.source if commit_repairs == 0 else "commit_repair",
            "candidates": [c.model_dump() for c in (decision or reference).candidates],
        }
        if p1.answer is not None and commit_repairs == 0 and p1.source != "rules":
            match.update(
                {k: v for k, v in p1.answer.items() if k in ("num_panels", "num_batteries")}
            )
        match["supplier_id"] = supplier_id
        if supplier_id is None:
            final_reference = decision or reference
            if not final_reference.is_match:
                match["reason"], match["message"] = final_reference.reason, final_reference.message
            elif p1.source == "fallback_no_match":
                match["reason"] = "model_failed"
                match["message"] = p1.error or "the model gave no usable answer"
            else:
                match["reason"] = "llm_no_match"
                match["message"] = f"the model answered {NO_MATCH_FOUND}"

        purchase_order = None
        p2: PhaseResult | None = None
        phase2_started = self.clock()
        if supplier_id is not None and record.registration is not None:
            expected_po = self.engine.price(record.registration, supplier_id)
            price_spec = self._spec("price")
            p2 = await run_phase(
                PhaseJob(
                    spec=price_spec,
                    answerer=self.agents.pricer,
                    critic=self.agents.price_critic,
                    task_message=(
                        task("price", match={"supplier_id": supplier_id})
                        if price_spec.answerer == "llm"
                        else ""
                    ),
                    review_message=lambda proposal: task(
                        "review_price", match={"supplier_id": supplier_id}, proposal=proposal
                    ),
                    validate=lambda proposal: validate_purchase_order(
                        self.engine, record, supplier_id, proposal
                    ),
                    rules_answer=purchase_order_answer(expected_po),
                    conversation=conversation if self.constellation.group_chat else [],
                    required_fields=PO_FIELDS,
                    metadata=metadata,
                    group_chat=self.constellation.group_chat,
                    clock=self.clock,
                )
            )
            _add_calls(timing, p2)
            if p2.answer is not None:
                purchase_order = {**p2.answer, "source": p2.source}
                if p2.source in ("rules", "fallback_rules"):
                    purchase_order["lines"] = [line.model_dump() for line in expected_po.lines]
        timing.phase2_s = self.clock() - phase2_started
        timing.total_s = self.clock() - started
        grading = self._grade(record, p1, p2, match, used_at_commit, purchase_order)
        audit = None
        if match_spec.audit and self.agents.match_critic is not None:
            review = task("review_match", proposal=match_answer_from(match))
            audit = asyncio.create_task(self._audit(record.registration_id, review, metadata))
        return Outcome(
            record.registration_id,
            record.record_index,
            match,
            purchase_order,
            timing,
            grading,
            audit,
        )

    async def _audit(
        self, registration_id: str, review: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        """Ask the LLM critic to audit a committed answer, off the critical path."""
        assert self.agents.match_critic is not None
        started = self.clock()
        try:
            reply = await self.agents.match_critic.ask(
                [{"role": "user", "content": review}], metadata=metadata
            )
        except Exception as exc:  # an audit must never take the run down with it
            return {"registration_id": registration_id, "approved": None, "error": str(exc)}
        verdict = parse_verdict(
            json.dumps(reply.parsed) if isinstance(reply.parsed, dict) else reply.text
        )
        return {
            "registration_id": registration_id,
            "approved": verdict.approved,
            "issues": list(verdict.issues),
            "duration_s": round(self.clock() - started, 6),
            "prompt_tokens": reply.call.prompt_tokens,
            "completion_tokens": reply.call.completion_tokens,
            "cost_usd": reply.call.cost_usd,
        }

    async def _commit(
        self,
        record: RegistrationRecord,
        p1: PhaseResult,
        version: int,
        used_at_start: Mapping[str, int],
    ) -> tuple[str | None, int, Any, dict[str, int]]:
        """Reserve capacity for the phase 1 answer; never oversell, never commit the unusable.

        The answer is replaced by the rules' answer for the current state (a commit repair)
        when it names a supplier that cannot take it (unknown, full, unable to price it), or
        when it was right for the state it was made on but the state has moved since.
        """
        proposed = None if p1.answer is None else p1.answer.get("supplier_id")
        supplier_id = None if is_no_match(proposed) else str(proposed).strip()
        repairs = 0
        async with self.commit_lock:
            used, current_version = self.capacity.snapshot()
            decision = None
            if current_version != version and p1.answer is not None and supplier_id is not None:
                was_valid = validate_match(self.engine, record, used_at_start, p1.answer).is_valid
                if was_valid and not validate_match(self.engine, record, used, p1.answer).is_valid:
                    decision = self.engine.match(record, used)
                    supplier_id, repairs = decision.supplier_id, 1
            if supplier_id is not None and not self._can_price(record, supplier_id):
                decision = self.engine.match(record, used)
                supplier_id, repairs = decision.supplier_id, repairs + 1
            for _ in range(len(self.engine.offers.suppliers) + 1):
                if supplier_id is None:
                    break
                outcome = self.capacity.reserve(record.registration_id, supplier_id)
                if outcome.accepted:
                    break
                if outcome.already_held:
                    raise StoreError(
                        f"registration {record.registration_id!r} already holds capacity of "
                        f"another supplier than {supplier_id!r}; registration ids must be unique"
                    )
                used, _ = self.capacity.snapshot()
                decision = self.engine.match(record, used)
                supplier_id, repairs = decision.supplier_id, repairs + 1
            else:
                raise StoreError(
                    f"registration {record.registration_id!r}: no supplier accepted a "
                    "reservation; the capacity store and the offers disagree"
                )
        return supplier_id, repairs, decision, used

    def _can_price(self, record: RegistrationRecord, supplier_id: str) -> bool:
        if record.registration is None or self.engine.supplier(supplier_id) is None:
            return False
        try:
            self.engine.price(record.registration, supplier_id)
        except ValueError:
            return False
        return True

    def _grade(
        self,
        record: RegistrationRecord,
        p1: PhaseResult,
        p2: PhaseResult | None,
        match: Mapping[str, Any],
        used_at_commit: Mapping[str, int],
        purchase_order: dict[str, Any] | None,
    ) -> dict[str, bool | None]:
        """Grade the final answers with the validator against the state they committed on.

        Answers the rules engine gave (directly, as fallback or as commit repair) are right by
        construction and are not validated again.
        """
        by_rules = ("rules", "fallback_rules", "commit_repair")
        supplier_ok = True
        if match["source"] not in by_rules:
            final_match = {**match, "supplier_id": match["supplier_id"] or NO_MATCH_FOUND}
            supplier_ok = validate_match(self.engine, record, used_at_commit, final_match).is_valid
        price_ok: bool | None = None
        supplier_id = match["supplier_id"]
        if p2 is not None and p2.source in by_rules and purchase_order is not None:
            price_ok = True
        elif supplier_id is not None and record.registration is not None:
            price_ok = (
                purchase_order is not None
                and validate_purchase_order(
                    self.engine, record, supplier_id, purchase_order
                ).is_valid
            )
        return {
            "raw_supplier_ok": p1.raw_valid,
            "final_supplier_ok": supplier_ok,
            "raw_price_ok": None if p2 is None else p2.raw_valid,
            "final_price_ok": price_ok,
        }


def match_answer_from(match: Mapping[str, Any]) -> dict[str, Any]:
    """Return the match fields a matcher would have written for an output row."""
    return {
        "registration_id": match["registration_id"],
        "supplier_id": match["supplier_id"] or NO_MATCH_FOUND,
        "num_panels": match.get("num_panels"),
        "num_batteries": match.get("num_batteries", 0),
    }


def _add_calls(timing: RegistrationTiming, result: PhaseResult) -> None:
    for call in result.calls:
        timing.llm_calls += 1
        timing.agent_conversation_s += call.duration_s
        timing.prompt_tokens += call.prompt_tokens
        timing.completion_tokens += call.completion_tokens
        timing.cost_usd += call.cost_usd
        timing.chunks_read += call.chunks_read
        timing.early_stops += int(call.stopped_early)
        timing.intended_llm_s += call.intended_latency_s or 0.0
        timing.cache_hits += int(call.cached)
    timing.validation_s += result.validation_s
    timing.repairs += result.repairs
    timing.critic_rounds += result.critic_rounds
    timing.critic_skips += result.critic_skips
