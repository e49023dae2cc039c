"""Process one registration through a constellation: phase 1, capacity commit, phase 2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from igent.agents import (
    Agent,
    AgentCallError,
    Task,
    capacity_block,
    incentive_block,
    match_answer,
    purchase_order_answer,
    render_task,
    supplier_block,
)
from igent.domain import NO_MATCH_FOUND, MatchDecision, Registration, RegistrationRecord
from igent.errors import ModelCallError, StoreError
from igent.llm import ChatClient
from igent.rules import RulesEngine, is_no_match, validate_match, validate_purchase_order
from igent.store import CapacityState, EncodedDict, encode_json
from igent.workflows.booking import (
    RULES_SOURCES,
    Stop,
    outside_candidates,
    settle,
    unsafe_purchase_order,
)
from igent.workflows.constellation import Constellation, PhaseSpec
from igent.workflows.explanation import candidates_for, disagreement, grade_match
from igent.workflows.options import RunOptions
from igent.workflows.phase import (
    Deadline,
    PhaseJob,
    PhaseResult,
    fatal_error,
    is_fatal,
    reply_verdict,
)
from igent.workflows.timing import RegistrationTiming, timing_payload

if TYPE_CHECKING:
    from igent.domain import PurchaseOrder

MATCH_FIELDS = ("supplier_id",)
FREE_TEXT_FIELDS = frozenset({"campaign_name", "status"})
"""Registration fields no rule reads: free text never reaches a prompt."""
MODEL_FIELDS = frozenset(
    field.alias or name
    for name, field in Registration.model_fields.items()
    if name not in FREE_TEXT_FIELDS
)
PO_FIELDS = ("supplier_id", "total_price")
PRICE_CACHE_LIMIT = 20_000
"""Distinct order shapes whose output JSON is kept (~2.5 KB each: at most ~50 MB)."""


@dataclass
class AgentSet:
    """The agents a constellation needs, by role."""

    matcher: Agent | None = None
    match_critic: Agent | None = None
    pricer: Agent | None = None
    price_critic: Agent | None = None


@dataclass(frozen=True)
class _Booking:
    """What phase 1 holds capacity for, where that answer came from, and the rules' view."""

    supplier_id: str | None
    repairs: int
    source: str
    rules: MatchDecision
    used: dict[str, int]
    message: str
    order: _Priced | None = None
    """The rules' purchase order for ``supplier_id``, priced once while booking."""


@dataclass(frozen=True)
class _Priced:
    """The rules' purchase order as output JSON, without its registration id (shared)."""

    answer: dict[str, Any]
    lines: list[dict[str, Any]]
    _tails: dict[str, str] = field(default_factory=dict)
    """Encoded output PO after its registration id, by answer source."""

    @classmethod
    def from_order(cls, order: PurchaseOrder) -> _Priced:
        answer = purchase_order_answer(order)
        del answer["registration_id"]
        return cls(answer, [line.model_dump() for line in order.lines])

    def for_registration(self, registration_id: str) -> dict[str, Any]:
        """Return the PO answer of ``registration_id`` (``purchase_order_answer``'s order)."""
        return {"registration_id": registration_id, **self.answer}

    def output(self, registration_id: str, source: str) -> EncodedDict:
        """Return the output PO of ``registration_id`` with its JSON, the rest encoded once."""
        tail = self._tails.get(source)
        if tail is None:
            # encode_json({...}) is "{" + items joined by ", ": drop the brace, keep the rest
            tail = encode_json({**self.answer, "source": source, "lines": self.lines})[1:]
            self._tails[source] = tail
        order = {"registration_id": registration_id, **self.answer, "source": source}
        order["lines"] = self.lines
        text = '{"registration_id": ' + encode_json(registration_id) + ", " + tail
        return EncodedDict(order, text)


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
            "timing": timing_payload(self.timing),
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
        # Rules orders as output JSON by the engine's price key: a repeated shape (panels,
        # batteries, payment, income class, incentives) costs a lookup (bounded).
        self._priced: dict[Any, _Priced] = {}
        # Audits run off the critical path but share the endpoint: never all at once.
        self._audit_slots = asyncio.Semaphore(self._audit_limit())
        self.fatal: ModelCallError | None = None
        """The first audit call refused for good (401/403/404): the run stops with it."""

    def _audit_limit(self) -> int:
        limit = max(1, self.options.concurrency)
        critic = self.agents.match_critic
        endpoint_limit = _endpoint_concurrency(critic.client) if critic is not None else None
        return min(limit, endpoint_limit) if endpoint_limit else limit

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

    @property
    def checked(self) -> bool:
        """Return True when the validator checks what is booked (no ``--trust-model``)."""
        return not self.options.trust_model

    async def process(self, record: RegistrationRecord) -> Outcome:
        """Run both phases for ``record`` and hold capacity for what it books.

        The match and its purchase order are booked together or not at all: a registration
        that ends ``failed`` or ``unapproved`` releases its hold and books nothing.
        """
        if self.fatal is not None:  # an audit was refused for good: no more registrations
            raise self.fatal
        timing = RegistrationTiming(registration_id=record.registration_id)
        started = self.clock()
        deadline = Deadline(self.options.deadline_s)
        used, version = self.capacity.snapshot()
        reference = self.engine.match(record, used)
        conversation: list[dict[str, str]] = []
        metadata = {"registration_id": record.registration_id}
        date = self.engine.campaign_date

        def task(kind: str, **extra: Any) -> str:
            # Built only when a model is asked (never on the rules-only path). Only the fields
            # the rules read go to the model: exports carry personal data and free text
            # (campaign names, statuses) that could carry instructions.
            raw = {k: v for k, v in record.raw.items() if k in MODEL_FIELDS}
            suppliers = self.engine.suppliers_for_zip(reference.zip_code or "")
            return render_task(
                Task(
                    kind=kind,  # type: ignore[arg-type]
                    registration=raw,
                    suppliers=supplier_block(suppliers),
                    capacity=capacity_block(suppliers, used),
                    campaign_date=date if kind in ("price", "review_price") else None,
                    incentives=self._incentives if kind in ("price", "review_price") else (),
                    **extra,
                ),
                diet=self.options.prompt_diet,
                order=self.options.prompt_order,
            )

        match_spec = self._spec("match")
        if record.registration is None:
            match_spec = PhaseSpec(task="match", answerer="rules")
        rules_match = match_answer(reference)
        p1 = _rules_phase(match_spec, rules_match) or await deadline.run(
            PhaseJob(
                spec=match_spec,
                answerer=self.agents.matcher,
                critic=self.agents.match_critic,
                task_message=task("match") if match_spec.answerer == "llm" else "",
                review_message=lambda proposal: task("review_match", proposal=proposal),
                validate=lambda proposal: validate_match(self.engine, record, used, proposal),
                rules_answer=rules_match,
                conversation=conversation,
                required_fields=MATCH_FIELDS,
                metadata=metadata,
                group_chat=self.constellation.group_chat,
                clock=self.clock,
            )
        )
        timing.phase1_s = self.clock() - started
        _add_calls(timing, p1)
        stop = settle(p1, match_spec, rules_match, checked=self.checked)
        if stop is not None:
            return self._unfinished(record, reference, timing, started, p1, None, stop)

        commit_started = self.clock()
        booking = await self._commit(record, p1, reference, version, used)
        timing.capacity_update_s = self.clock() - commit_started
        timing.commit_repairs = booking.repairs
        supplier_id = booking.supplier_id
        rules_now = booking.rules
        match = {
            **match_answer(rules_now),
            "record_index": record.record_index,
            "status": "matched" if supplier_id else "no_match",
            "reason": None,
            "message": booking.message or _fallback_note(p1, booking.source),
            "source": booking.source,
            "candidates": candidates_for(rules_now, supplier_id),
        }
        if p1.answer is not None and booking.source not in RULES_SOURCES:
            match.update(
                {k: v for k, v in p1.answer.items() if k in ("num_panels", "num_batteries")}
            )
        match["supplier_id"] = supplier_id
        if supplier_id is None:
            if not rules_now.is_match:
                match["reason"], match["message"] = rules_now.reason, rules_now.message
            else:
                match["reason"] = "llm_no_match"
                match["message"] = booking.message or f"the model answered {NO_MATCH_FOUND}"

        purchase_order: dict[str, Any] | None = None
        p2: PhaseResult | None = None
        phase2_started = self.clock()
        if supplier_id is not None and record.registration is not None:
            expected_po = booking.order or _Priced.from_order(
                self.engine.price(record.registration, supplier_id)
            )
            rules_po = expected_po.for_registration(record.registration_id)
            price_spec = self._spec("price")
            p2 = _rules_phase(price_spec, rules_po) or await deadline.run(
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
                    rules_answer=rules_po,
                    conversation=conversation if self.constellation.group_chat else [],
                    required_fields=PO_FIELDS,
                    metadata=metadata,
                    group_chat=self.constellation.group_chat,
                    clock=self.clock,
                )
            )
            _add_calls(timing, p2)
            stop = settle(p2, price_spec, rules_po, checked=self.checked)
            if stop is None:
                stop = self._check_purchase_order(record, supplier_id, p2, rules_po)
            if stop is not None:
                # The booking and its purchase order go together: no PO, no booking.
                self.capacity.release(record.registration_id)
                timing.phase2_s = self.clock() - phase2_started
                return self._unfinished(record, rules_now, timing, started, p1, p2, stop)
            assert p2.answer is not None
            note = _fallback_note(p2, p2.source) if p2.source in RULES_SOURCES else ""
            if p2.source in RULES_SOURCES and not note and p2.answer is rules_po:
                purchase_order = expected_po.output(record.registration_id, p2.source)
            else:
                purchase_order = {**p2.answer, "source": p2.source}
                if p2.source in RULES_SOURCES:
                    purchase_order["lines"] = expected_po.lines
                    if note:
                        purchase_order["message"] = note
        timing.phase2_s = self.clock() - phase2_started
        timing.total_s = self.clock() - started
        grading = grade_match(self.engine, record, p1, p2, match, booking.used, purchase_order)
        match["grading"] = grading
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

    def _check_purchase_order(
        self,
        record: RegistrationRecord,
        supplier_id: str,
        p2: PhaseResult,
        rules_po: dict[str, Any],
    ) -> Stop | None:
        """Replace a model's PO that may not be booked by the rules PO (validator_override)."""
        if p2.answer is None:
            return Stop("failed", "model_no_answer", p2.error or "no purchase order")
        if p2.source in RULES_SOURCES:
            return None
        problem = unsafe_purchase_order(p2.answer, supplier_id)
        if problem is None and self.checked:
            report = validate_purchase_order(self.engine, record, supplier_id, p2.answer)
            problem = None if report.is_valid else "; ".join(report.violations)
        if problem is not None:
            p2.answer, p2.source = rules_po, "validator_override"
            p2.error = f"the model's purchase order breaks the rules: {problem}"
        return None

    def _unfinished(
        self,
        record: RegistrationRecord,
        reference: MatchDecision,
        timing: RegistrationTiming,
        started: float,
        p1: PhaseResult,
        p2: PhaseResult | None,
        stop: Stop,
    ) -> Outcome:
        """Report a registration that books nothing: ``failed`` or ``unapproved``."""
        timing.total_s = self.clock() - started
        match = {
            "registration_id": record.registration_id,
            "record_index": record.record_index,
            "supplier_id": None,
            "status": stop.status,
            "reason": stop.reason,
            "message": stop.message,
            "source": (p2 or p1).source,
            "candidates": [c.as_row() for c in reference.candidates],
        }
        grading: dict[str, bool | None] = {
            "raw_supplier_ok": p1.raw_valid,
            "final_supplier_ok": None,
            "raw_price_ok": None if p2 is None else p2.raw_valid,
            "final_price_ok": None,
        }
        match["grading"] = grading
        return Outcome(record.registration_id, record.record_index, match, None, timing, grading)

    async def _audit(
        self, registration_id: str, review: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        """Ask the LLM critic to audit a committed answer, off the critical path.

        A call the endpoint refuses for good (401/403/404) stops the run, as everywhere else;
        any other failure is an audit error, never an approval or a disagreement.
        """
        assert self.agents.match_critic is not None
        async with self._audit_slots:
            if self.fatal is not None:
                raise self.fatal
            started = self.clock()
            try:
                reply = await self.agents.match_critic.ask(
                    [{"role": "user", "content": review}], metadata=metadata
                )
            except ModelCallError as exc:
                if is_fatal(exc):
                    self.fatal = fatal_error(exc)
                    raise self.fatal from exc
                return _audit_error(registration_id, exc, self.clock() - started)
            except Exception as exc:  # an audit must never take the run down with it
                return _audit_error(registration_id, exc, self.clock() - started)
        verdict = reply_verdict(reply.verdict, reply.text, metadata)
        return {
            "registration_id": registration_id,
            "approved": verdict.approved,
            "issues": list(verdict.issues),
            "error": verdict.error,
            "duration_s": round(self.clock() - started, 6),
            "prompt_tokens": reply.call.prompt_tokens,
            "completion_tokens": reply.call.completion_tokens,
            "cost_usd": reply.call.cost_usd,
        }

    async def _commit(
        self,
        record: RegistrationRecord,
        p1: PhaseResult,
        reference: MatchDecision,
        version: int,
        used_at_start: Mapping[str, int],
    ) -> _Booking:
        """Hold capacity for the phase 1 answer; never oversell, never book the unusable.

        The answer is replaced by the rules' answer for the current state (a commit repair)
        when it names a supplier that cannot take it (unknown, full, unable to price it), or
        when it was right for the state it was made on but the state has moved since. A model
        answer the validator rejects (or, with ``--trust-model``, a supplier outside the
        eligible candidates) is replaced by the rules' answer (``validator_override``).
        """
        proposed = None if p1.answer is None else p1.answer.get("supplier_id")
        supplier_id = None if is_no_match(proposed) else str(proposed).strip()
        repairs = 0
        source: str = p1.source
        message = ""
        async with self.commit_lock:
            used, current_version = self.capacity.snapshot()
            decision: MatchDecision | None = None
            if current_version != version and p1.answer is not None and supplier_id is not None:
                was_valid = validate_match(self.engine, record, used_at_start, p1.answer).is_valid
                if was_valid and not validate_match(self.engine, record, used, p1.answer).is_valid:
                    decision = self.engine.match(record, used)
                    supplier_id, repairs, source = decision.supplier_id, 1, "commit_repair"
            if decision is None and p1.answer is not None and source not in RULES_SOURCES:
                decision = self.engine.match(record, used)
                problems = self._rejections(record, used, decision, p1.answer, supplier_id)
                if problems:
                    message = disagreement(supplier_id, decision, problems)
                    supplier_id, source = decision.supplier_id, "validator_override"
                elif supplier_id != decision.supplier_id:
                    message = disagreement(supplier_id, decision, self._why_rules(decision))
            order = None if supplier_id is None else self._price(record, supplier_id)
            if supplier_id is not None and order is None:
                decision = self.engine.match(record, used)
                supplier_id, repairs, source = decision.supplier_id, repairs + 1, "commit_repair"
            priced_for = supplier_id if order is not None else None
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
                supplier_id, repairs, source = decision.supplier_id, repairs + 1, "commit_repair"
            else:
                raise StoreError(
                    f"registration {record.registration_id!r}: no supplier accepted a "
                    "reservation; the capacity store and the offers disagree"
                )
        rules = decision if decision is not None else reference
        order = order if supplier_id is not None and priced_for == supplier_id else None
        return _Booking(supplier_id, repairs, source, rules, used, message, order)

    def _rejections(
        self,
        record: RegistrationRecord,
        used: Mapping[str, int],
        rules: MatchDecision,
        answer: Mapping[str, Any],
        supplier_id: str | None,
    ) -> list[str]:
        """Return why a model's match may not be booked (empty when it may)."""
        if self.checked:
            return validate_match(self.engine, record, used, answer).violations
        problem = outside_candidates(rules, supplier_id)
        return [problem] if problem else []

    def _why_rules(self, rules: MatchDecision) -> list[str]:
        chosen = [c for c in rules.candidates if c.outcome == "chosen"]
        return [f"{c.supplier_id!r} has the {c.reason}" for c in chosen] or [rules.message]

    def _price(self, record: RegistrationRecord, supplier_id: str) -> _Priced | None:
        """Return the rules' purchase order with ``supplier_id``, or None if it cannot price."""
        registration = record.registration
        if registration is None or self.engine.supplier(supplier_id) is None:
            return None
        key = self.engine.price_key(registration, supplier_id)
        priced = self._priced.get(key)
        if priced is not None:
            return priced
        try:
            priced = _Priced.from_order(self.engine.price(registration, supplier_id))
        except ValueError:
            return None
        if len(self._priced) < PRICE_CACHE_LIMIT:
            self._priced[key] = priced
        return priced


def match_answer_from(match: Mapping[str, Any]) -> dict[str, Any]:
    """Return the match fields a matcher would have written for an output row."""
    return {
        "registration_id": match["registration_id"],
        "supplier_id": match["supplier_id"] or NO_MATCH_FOUND,
        "num_panels": match.get("num_panels"),
        "num_batteries": match.get("num_batteries", 0),
    }


def _rules_phase(spec: PhaseSpec, rules_answer: dict[str, Any]) -> PhaseResult | None:
    """Return the rules' answer of a phase the rules answer (as `run_phase` would), else None.

    The rules-only path skips building a `PhaseJob` and its prompts for every registration.
    """
    if spec.answerer != "rules":
        return None
    return PhaseResult(answer=rules_answer, source="rules", final_valid=True)


def _fallback_note(result: PhaseResult, source: str) -> str:
    """Say why the rules answered in the model's place, when they did."""
    if source == result.source and source != "rules" and source in RULES_SOURCES and result.error:
        return f"the rules answer was booked ({source}): {result.error}"
    return ""


def _endpoint_concurrency(client: ChatClient) -> int | None:
    """Return the endpoint's ``max_concurrency`` behind ``client`` and its wrappers, if set."""
    seen: ChatClient | None = client
    for _ in range(4):  # wrappers (cache, transcripts) keep the client they wrap
        endpoint = getattr(seen, "endpoint", None)
        limit = getattr(endpoint, "max_concurrency", None)
        if isinstance(limit, int):
            return limit
        seen = getattr(seen, "_inner", None)
        if seen is None:
            return None
    return None


def _audit_error(registration_id: str, exc: Exception, duration_s: float) -> dict[str, Any]:
    """Record an audit that gave no verdict; a failed call keeps its tokens and cost."""
    call = exc.call if isinstance(exc, AgentCallError) else None
    return {
        "registration_id": registration_id,
        "approved": None,
        "error": str(exc),
        "duration_s": round(duration_s, 6),
        "prompt_tokens": call.prompt_tokens if call else 0,
        "completion_tokens": call.completion_tokens if call else 0,
        "cost_usd": call.cost_usd if call else 0.0,
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
