"""Read campaign files: registrations, offers and incentives, with errors naming file and field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from igent.campaign.offers_csv import offers_document_from_csv
from igent.campaign.source import read_text
from igent.campaign.stream import iter_registration_records, mark_duplicates
from igent.domain import (
    IncentiveBook,
    OfferBook,
    RegistrationRecord,
    parse_registration_record,
)
from igent.domain.bounds import MAX_NESTING, is_plain_json, nesting_depth
from igent.errors import DataError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; write a finite number")


def _parse_document(text: str, source: str, *, check_values: bool = True) -> Any:
    """Parse JSON or YAML by extension; ``check_values`` also refuses deep nesting, NaN,
    infinity and lone surrogates (registrations check those per record instead)."""
    try:
        if source.endswith((".yaml", ".yml")):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text.removeprefix("\ufeff"), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{source}: not valid YAML: {first}") from None
    except RecursionError:
        raise DataError(
            f"{source}: nested more than {MAX_NESTING} levels deep; expected a flat document"
        ) from None
    except ValueError as exc:
        # Infinity/NaN (parse_constant) and integers of more than 4,300 digits.
        raise DataError(f"{source}: not valid JSON: {str(exc)[:160]}") from None
    if not check_values:
        return data
    if nesting_depth(data) > MAX_NESTING:
        raise DataError(
            f"{source}: nested more than {MAX_NESTING} levels deep; expected a flat document"
        )
    if not is_plain_json(data):
        raise DataError(
            f"{source}: contains a NaN or infinite number or text that is not valid UTF-8 "
            "(a lone surrogate such as \\ud800); write finite numbers and plain text"
        )
    return data


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
    """Parse an offers file's text: JSON, YAML or, for a ``.csv`` source, the CSV layout."""
    if source.lower().endswith(".csv"):
        data: Any = offers_document_from_csv(text.removeprefix("\ufeff"), source)
    else:
        data = _parse_document(text, source)
    return validate_document(OfferBook, data, source)


def load_offers(path: Path) -> OfferBook:
    """Read and validate an offers file (JSON or CSV by extension); any problem stops the run."""
    return parse_offers(read_text(path, "offers"), source=str(path))


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
    return parse_incentives(read_text(path, "incentives"), source=str(path))


def parse_registrations(text: str, source: str = "<registrations>") -> list[RegistrationRecord]:
    """Parse a registrations file; a bad record is kept as an invalid record, never dropped."""
    data = _parse_document(text, source, check_values=False)
    if isinstance(data, dict) and isinstance(data.get("registrations"), list):
        data = data["registrations"]
    if not isinstance(data, list):
        raise DataError(
            f"{source}: expected a JSON list of registrations, got {type(data).__name__}"
        )
    records = (parse_registration_record(raw, index) for index, raw in enumerate(data))
    return list(mark_duplicates(records))


def load_registrations(path: Path) -> list[RegistrationRecord]:
    """Read a whole registrations file (JSON list, NDJSON or CSV by extension)."""
    return list(iter_registration_records(path))
