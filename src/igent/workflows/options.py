"""Run options: every optimisation of the plan is a switch, with the plan's "before" as the
other setting; ``RunOptions.baseline()`` selects all the "before" settings at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal, cast

from igent.agents import PromptOrder
from igent.workflows.constellation import SkipPolicy

CacheMode = Literal["off", "read", "read-write"]


@dataclass(frozen=True)
class RunOptions:
    """How a run executes; defaults are the optimised settings."""

    parallel_loading: bool = True
    capacity_cache: bool = True
    # Group commit: one ledger transaction (and one JSONL append) per batch of results.
    batch_size: int = 256
    flush_interval_s: float = 0.05
    early_extraction: bool = True
    critic_skip: SkipPolicy | None = None
    cache_mode: CacheMode = "off"
    concurrency: int = 1
    max_items: int | None = None
    skip_status: frozenset[str] = field(default_factory=frozenset)
    campaign_date: dt.date | None = None
    transcripts: bool = True
    # Failure handling and the validator at booking (pipeline helper's fields).
    trust_model: bool = False
    """Book the plan's constellations' answers without the validator (benchmark baseline)."""
    timeout_s: float | None = None
    """Per model call, seconds; None = the endpoint's setting, else 60."""
    max_attempts: int | None = None
    """Attempts per model call (retries + 1); None = the endpoint's setting, else 4."""
    deadline_s: float | None = None
    """Per registration, seconds; None = no deadline."""
    # Latency switches of issue 13 (integration helper's fields).
    structured_output: bool = True
    """Send the answer's JSON schema where the endpoint supports it (off: prompt-only JSON)."""
    field_stop: bool = True
    """Validator-gated matcher: stop reading the stream once supplier_id is complete."""
    hedge: bool = False
    """Send a second request when no first token came by the endpoint's TTFT p90."""
    prompt_diet: bool = True
    """Matcher gets candidate rows (off: the predecessor's prompt, whole offers and CAPACITY)."""
    prompt_order: PromptOrder = "static-first"
    """Blocks shared across registrations first, for prompt caching (or registration-first)."""

    @classmethod
    def baseline(cls, **overrides: object) -> RunOptions:
        """The plan's "before": sequential loading, capacity reread from disk, a commit and a
        write per result, wait for the full reply, critic always, no cache."""
        return replace(
            cls(
                parallel_loading=False,
                capacity_cache=False,
                batch_size=1,
                early_extraction=False,
                critic_skip="never",
                cache_mode="off",
                trust_model=True,  # the plan booked its agents' answers unchecked
            ),
            **overrides,  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        """Return the options as JSON-friendly values (for run.json and reports)."""
        return {
            "parallel_loading": self.parallel_loading,
            "capacity_cache": self.capacity_cache,
            "batch_size": self.batch_size,
            "flush_interval_s": self.flush_interval_s,
            "early_extraction": self.early_extraction,
            "critic_skip": self.critic_skip,
            "cache_mode": self.cache_mode,
            "concurrency": self.concurrency,
            "max_items": self.max_items,
            "skip_status": sorted(self.skip_status),
            "campaign_date": self.campaign_date.isoformat() if self.campaign_date else None,
            "transcripts": self.transcripts,
            "trust_model": self.trust_model,
            "timeout_s": self.timeout_s,
            "max_attempts": self.max_attempts,
            "deadline_s": self.deadline_s,
            "structured_output": self.structured_output,
            "field_stop": self.field_stop,
            "hedge": self.hedge,
            "prompt_diet": self.prompt_diet,
            "prompt_order": self.prompt_order,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RunOptions:
        """Rebuild options saved by :meth:`to_json`."""
        values = dict(data)
        values["skip_status"] = frozenset(cast(Iterable[str], values.get("skip_status") or ()))
        date_text = values.get("campaign_date")
        values["campaign_date"] = dt.date.fromisoformat(str(date_text)) if date_text else None
        return cls(**values)  # type: ignore[arg-type]
