"""Enqueue a campaign's registrations for the workers, and follow them to the end."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import dramatiq

from igent.campaign.loader import load_incentives
from igent.domain import RegistrationRecord
from igent.errors import ConfigError
from igent.store import Store, StoredDecision
from igent.worker.actors import registration_message
from igent.worker.spec import CampaignSpec, publish_spec
from igent.workflows.decide import decision_key
from igent.workflows.inputs import InputPaths, iter_registrations


@dataclass(frozen=True)
class Enqueued:
    """What an enqueue sent: the campaign, its spec digest, and the registration keys."""

    campaign_id: str
    digest: str
    sent: int
    already_decided: int
    keys: frozenset[str]


def campaign_spec(
    paths: InputPaths,
    campaign_id: str,
    *,
    constellation: str,
    model: str | None,
    campaign_date: dt.date,
    skip_status: Collection[str] = (),
    deadline_s: float = 300.0,
) -> CampaignSpec:
    """Build the spec of a campaign from its offers and incentives files."""
    try:
        offers = json.loads(paths.offers.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"offers file {str(paths.offers)!r} cannot be read: {exc}") from exc
    incentives = load_incentives(paths.incentives).model_dump(mode="json")
    return CampaignSpec(
        campaign_id=campaign_id,
        offers=offers,
        incentives=incentives,
        campaign_date=campaign_date,
        constellation=constellation,
        model=model,
        skip_status=tuple(sorted(skip_status)),
        deadline_s=deadline_s,
    )


def enqueue_campaign(
    actor: dramatiq.Actor[..., None],
    store: Store,
    spec: CampaignSpec,
    registrations: Path,
    *,
    copies: int = 1,
) -> Enqueued:
    """Publish ``spec`` and send one message per undecided registration (``copies`` each)."""
    digest = publish_spec(store, spec)
    decided = store.decided_ids(spec.campaign_id)
    skipped = 0
    keys = set()

    def undecided() -> Iterable[RegistrationRecord]:
        nonlocal skipped
        for record in iter_registrations(registrations):
            key = decision_key(record)
            keys.add(key)
            if key in decided:
                skipped += 1
            else:
                yield record

    sent = send_records(actor, spec, digest, undecided(), copies=copies)
    return Enqueued(spec.campaign_id, digest, sent, skipped, frozenset(keys))


def send_records(
    actor: dramatiq.Actor[..., None],
    spec: CampaignSpec,
    digest: str,
    records: Iterable[RegistrationRecord],
    *,
    copies: int = 1,
) -> int:
    """Send one message per record (``copies`` each) against the published spec ``digest``.

    The CLI (a registrations file) and the service (a batch upload) both send through here.
    """
    sent = 0
    for record in records:
        payload = registration_message(
            spec.campaign_id,
            record.raw,
            record.record_index,
            spec_digest=digest,
            deadline_s=spec.deadline_s,
        )
        if record.registration is None and record.error:
            payload["error"] = record.error  # e.g. a repeated id: invalid here, invalid there
        for _ in range(copies):
            actor.send(payload)
        sent += 1
    return sent


def committed_decisions(
    store: Store, campaign_id: str, keys: Collection[str]
) -> dict[str, StoredDecision]:
    """Return the committed decision (final or ``failed``) of each of ``keys`` that has one."""
    decided = store.decided_ids(campaign_id, final_only=False)
    found = {}
    for key in keys:
        if key in decided and (stored := store.decision(campaign_id, key)) is not None:
            found[key] = stored
    return found


def wait_for_decisions(
    store: Store,
    campaign_id: str,
    keys: Collection[str],
    *,
    timeout_s: float,
    poll_s: float = 0.25,
    on_progress: Callable[[int, int], None] | None = None,
    include_failed: bool = True,
) -> int:
    """Wait until every key has a decision (``failed`` ones count when ``include_failed``).

    Returns how many are decided; raises ConfigError naming the count when time runs out.
    """
    wanted = set(keys)
    deadline = time.monotonic() + timeout_s
    while True:
        decided = store.decided_ids(campaign_id, final_only=not include_failed)
        if include_failed:
            done = len(wanted & set(decided))
        else:
            done = sum(1 for k in wanted if k in decided)
        if on_progress is not None:
            on_progress(done, len(wanted))
        if done >= len(wanted):
            return done
        if time.monotonic() > deadline:
            raise ConfigError(
                f"campaign {campaign_id!r}: {len(wanted) - done} of {len(wanted)} registrations "
                f"are not decided after {timeout_s:g} s; are workers running (igent worker)?"
            )
        time.sleep(poll_s)


__all__ = [
    "Enqueued",
    "campaign_spec",
    "committed_decisions",
    "enqueue_campaign",
    "send_records",
    "wait_for_decisions",
]
