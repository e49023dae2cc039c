"""Read campaign files: registrations, offers and incentives, with errors naming file and field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from igent.domain import (
    IncentiveBook,
    OfferBook,
    RegistrationRecord,
    parse_registration_record,
)
from igent.errors import DataError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise DataError(f"{what} file {str(path)!r} cannot be read: {exc}") from exc


def _parse_document(text: str, source: str) -> Any:
    try:
        if source.endswith((".yaml", ".yml")):
            return yaml.safe_load(text)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML: {exc}") from exc


def _location(loc: Sequence[int | str], data: Any) -> str:
    """Render a pydantic error location, adding ids ("SupplierOffers[1] (SupplierID 'S2')")."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and "SupplierID" in node:
                parts.append(f" (SupplierID {node['SupplierID']!r})")
        else:
            parts.append(f".{step}" if parts else str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts)


def validate_document(model: type[ModelT], data: Any, source: str) -> ModelT:
    """Validate ``data`` as ``model``; a failure names the file, the path and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = _location(err["loc"], data) or "(top level)"
            if err["type"] == "missing":
                problems.append(f"{where}: field is missing")
            else:
                message = err["msg"].removeprefix("Value error, ")
                shown = repr(err["input"])[:80]
                problems.append(message if shown in message else f"{message} (got {shown})")
                problems[-1] = f"{where}: {problems[-1]}"

        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise DataError(f"{source}: " + "; ".join(problems) + more) from exc


def parse_offers(text: str, source: str = "<offers>") -> OfferBook:
    """Parse an offers file's text."""
    return validate_document(OfferBook, _parse_document(text, source), source)


def load_offers(path: Path) -> OfferBook:
    """Read and validate an offers file; any problem stops the run."""
    return parse_offers(_read_text(path, "offers"), source=str(path))


def parse_incentives(text: str, source: str = "<incentives>") -> IncentiveBook:
    """Parse an incentives file's text (YAML or JSON by extension); empty means none."""
    data = _parse_document(text, source)
    if data is None:
        return IncentiveBook()
    if isinstance(data, list):
        data = {"incentives": data}
    return validate_document(IncentiveBook, data, source)


def load_incentives(path: Path | None) -> IncentiveBook:
    """Read and validate an incentives file; None gives no incentives."""
    if path is None:
        return IncentiveBook()
    return parse_incentives(_read_text(path, "incentives"), source=str(path))


def parse_registrations(text: str, source: str = "<registrations>") -> list[RegistrationRecord]:
    """Parse a registrations file; a bad record is kept as an invalid record, never dropped."""
    data = _parse_document(text, source)
    if isinstance(data, dict) and isinstance(data.get("registrations"), list):
        data = data["registrations"]
    if not isinstance(data, list):
        raise DataError(
            f"{source}: expected a JSON list of registrations, got {type(data).__name__}"
        )
    records = [parse_registration_record(raw, index) for index, raw in enumerate(data)]
    return _mark_duplicates(records)


def _mark_duplicates(records: list[RegistrationRecord]) -> list[RegistrationRecord]:
    """Turn a repeated RegistrationNumber into an invalid record; the first one stands.

    Capacity reservations and results are keyed by registration id, so a second record with
    the same id would otherwise overwrite the first or take capacity twice.
    """
    first_seen: dict[str, int] = {}
    marked = []
    for record in records:
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
        marked.append(record)
    return marked


def load_registrations(path: Path) -> list[RegistrationRecord]:
    """Read a registrations file."""
    return parse_registrations(_read_text(path, "registrations"), source=str(path))
