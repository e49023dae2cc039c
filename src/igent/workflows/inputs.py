"""Locate and load a run's input files: offers and incentives in memory, registrations streamed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.domain import (
    IncentiveBook,
    OfferBook,
    RegistrationRecord,
    parse_registration_record,
)
from igent.errors import ConfigError, DataError


@dataclass(frozen=True)
class InputPaths:
    """The three files of a campaign run."""

    registrations: Path
    offers: Path
    incentives: Path | None = None

    @classmethod
    def from_data_dir(cls, data_dir: Path, scenario: str) -> InputPaths:
        """Find ``D/registrations/S.json``, ``D/offers/S.json``, ``D/incentives/S.{yaml,json}``."""
        registrations = data_dir / "registrations" / f"{scenario}.json"
        offers = data_dir / "offers" / f"{scenario}.json"
        for path in (registrations, offers):
            if not path.exists():
                raise ConfigError(
                    f"scenario {scenario!r}: {str(path)!r} does not exist; --data-dir D "
                    "--scenario S expects D/registrations/S.json and D/offers/S.json"
                )
        incentives = next(
            (
                data_dir / "incentives" / f"{scenario}{ext}"
                for ext in (".yaml", ".yml", ".json")
                if (data_dir / "incentives" / f"{scenario}{ext}").exists()
            ),
            None,
        )
        return cls(registrations, offers, incentives)

    def to_json(self) -> dict[str, str | None]:
        """Return the paths as strings (absolute, so a resume finds them)."""
        return {
            "registrations": str(self.registrations.resolve()),
            "offers": str(self.offers.resolve()),
            "incentives": str(self.incentives.resolve()) if self.incentives else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> InputPaths:
        """Rebuild paths saved by :meth:`to_json`."""
        incentives = data.get("incentives")
        return cls(
            Path(str(data["registrations"])),
            Path(str(data["offers"])),
            Path(incentives) if incentives else None,
        )


@dataclass(frozen=True)
class RunInputs:
    """Loaded campaign data."""

    records: list[RegistrationRecord]
    offers: OfferBook
    incentives: IncentiveBook


def load_inputs(paths: InputPaths, *, parallel: bool = True) -> RunInputs:
    """Load the three files; ``parallel`` reads them on three threads at once."""
    if not parallel:
        return RunInputs(
            load_registrations(paths.registrations),
            load_offers(paths.offers),
            load_incentives(paths.incentives),
        )
    with ThreadPoolExecutor(max_workers=3) as pool:
        records = pool.submit(load_registrations, paths.registrations)
        offers = pool.submit(load_offers, paths.offers)
        incentives = pool.submit(load_incentives, paths.incentives)
        return RunInputs(records.result(), offers.result(), incentives.result())


def demo_input_paths() -> InputPaths:
    """The bundled demo campaign (50 registrations, 4 suppliers) shipped with igent."""
    from igent.campaign.demo import demo_campaign_paths

    paths = demo_campaign_paths()
    return InputPaths(paths["registrations"], paths["offers"], paths.get("incentives"))


@dataclass(frozen=True)
class CampaignBooks:
    """The parts of a campaign kept in memory: offers and incentives."""

    offers: OfferBook
    incentives: IncentiveBook


def load_books(paths: InputPaths, *, parallel: bool = True) -> CampaignBooks:
    """Load offers and incentives (registrations are streamed, see iter_registrations)."""
    if not parallel:
        return CampaignBooks(load_offers(paths.offers), load_incentives(paths.incentives))
    with ThreadPoolExecutor(max_workers=2) as pool:
        offers = pool.submit(load_offers, paths.offers)
        incentives = pool.submit(load_incentives, paths.incentives)
        return CampaignBooks(offers.result(), incentives.result())


def file_digest(path: Path) -> str:
    """Return the sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"input file {str(path)!r} cannot be read: {exc}") from exc
    return digest.hexdigest()


def input_fingerprint(paths: InputPaths) -> dict[str, str | None]:
    """Return the sha256 of each input file (what a resume compares)."""
    return {
        "registrations": file_digest(paths.registrations),
        "offers": file_digest(paths.offers),
        "incentives": file_digest(paths.incentives) if paths.incentives else None,
    }


def iter_registrations(path: Path) -> Iterator[RegistrationRecord]:
    """Stream a registrations file record by record, never holding it whole in memory.

    A repeated RegistrationNumber becomes an invalid record (the first one stands), as in
    ``load_registrations``.
    """
    first_seen: dict[str, int] = {}
    for record in _iter_registration_records(path):
        registration_id = record.registration_id
        if record.registration is not None and registration_id in first_seen:
            record = RegistrationRecord(
                record_index=record.record_index,
                raw=record.raw,
                registration=None,
                error=f"registration #{record.record_index} ({registration_id!r}): field "
                f"'RegistrationNumber' repeats record #{first_seen[registration_id]}; ids must "
                "be unique",
            )
        first_seen.setdefault(registration_id, record.record_index)
        yield record


# --- Stand-in until igent.campaign.loader.iter_registration_records lands (input helper);
# --- the lead switches _iter_registration_records to it at merge.
def _iter_registration_records(path: Path) -> Iterator[RegistrationRecord]:
    """Yield records of a JSON list (ijson), NDJSON / JSON Lines, else the in-memory loader."""
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        yield from _iter_ndjson(path)
    elif suffix == ".json":
        yield from _iter_json_list(path)
    else:
        yield from load_registrations(path)


def _open(path: Path) -> Any:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError(f"registrations file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise DataError(f"registrations file {str(path)!r} cannot be read: {exc}") from exc


def _iter_ndjson(path: Path) -> Iterator[RegistrationRecord]:
    with _open(path) as handle:
        index = 0
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataError(f"{path}: line {line_number} is not a JSON object: {exc}") from exc
            yield parse_registration_record(raw, index)
            index += 1


def _iter_json_list(path: Path) -> Iterator[RegistrationRecord]:
    import ijson  # type: ignore[import-untyped]

    with _open(path) as handle:
        head = handle.read(4096).lstrip()
        handle.seek(0)
        prefix = "registrations.item" if head.startswith(b"{") else "item"
        if not head.startswith((b"[", b"{")):
            raise DataError(f"{path}: expected a JSON list of registrations")
        try:
            for index, raw in enumerate(ijson.items(handle, prefix, use_float=True)):
                yield parse_registration_record(raw, index)
        except ijson.JSONError as exc:
            raise DataError(f"{path}: not valid JSON: {exc}") from exc
