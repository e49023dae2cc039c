"""Stream a registrations file record by record: a JSON list, NDJSON or CSV (by extension).

A file of a million registrations is never held whole in memory: JSON lists are read with
ijson, NDJSON and CSV line by line. A bad record becomes an invalid record (NO MATCH
``invalid_registration``); a bad file (not UTF-8, not JSON, truncated) is a DataError naming
the file, the position and why.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson  # type: ignore[import-untyped]

from igent.campaign.depth import JsonDepthGuard
from igent.campaign.source import Utf8Reader, iter_lines, open_input, read_text
from igent.domain import RegistrationRecord, parse_registration_record
from igent.errors import DataError

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_CHUNK = 64 * 1024


def iter_registration_records(path: Path) -> Iterator[RegistrationRecord]:
    """Yield the records of a registrations file in order, repeated ids marked invalid."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from igent.campaign.loader import parse_registrations

        yield from parse_registrations(read_text(path, "registrations"), source=str(path))
        return
    with open_input(path, "registrations") as stream:
        if suffix == ".csv":
            raws = _csv_objects(stream, str(path))
        elif suffix in NDJSON_SUFFIXES:
            raws = _ndjson_objects(stream, str(path))
        else:
            raws = _json_objects(stream, str(path))
        yield from mark_duplicates(_records(raws))


def _records(raws: Iterable[Any]) -> Iterator[RegistrationRecord]:
    for index, raw in enumerate(raws):
        if isinstance(raw, _BadRow):
            yield RegistrationRecord(index, {}, None, f"registration #{index}: {raw.why}")
        else:
            yield parse_registration_record(raw, index)


@dataclass(frozen=True)
class _BadRow:
    """A row that cannot be read as an object; it becomes an invalid record."""

    why: str


def _json_objects(stream: BinaryIO, source: str) -> Iterator[Any]:
    """Yield the items of a JSON list, or of the list under "registrations"."""
    reader = Utf8Reader(stream, source, JsonDepthGuard(source))
    first = reader.read(_CHUNK)
    start = first.lstrip()[:1]
    if start not in (b"[", b"{"):
        shown = first.lstrip()[:40].decode("utf-8", "replace")
        raise DataError(
            f"{source}: expected a JSON list of registrations, got {shown!r}"
            if first.strip()
            else f"{source}: the file is empty; expected a JSON list of registrations"
        )
    replay = _Replay(first, reader)
    try:
        if start == b"[":
            yield from ijson.items(replay, "item", use_float=True, buf_size=_CHUNK)
            return
        # The {"registrations": [...]} form is read whole: it is rare and small in practice.
        document = dict(ijson.kvitems(replay, "", use_float=True, buf_size=_CHUNK))
    except ijson.JSONError as exc:
        raise _not_json(source, reader, exc) from None
    registrations = document.get("registrations")
    if not isinstance(registrations, list):
        raise DataError(
            f"{source}: expected a JSON list of registrations or an object with a "
            f"'registrations' list, got keys {sorted(document)[:5]}"
        )
    yield from registrations


class _Replay:
    """Hand back an already read first chunk, then read on."""

    def __init__(self, first: bytes, reader: Utf8Reader) -> None:
        self._first: bytes | None = first
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        """Return the first chunk once, then the reader's bytes."""
        if size == 0:  # ijson probes read(0) to tell bytes from text
            return b""
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return self._reader.read(size)


def _not_json(source: str, reader: Utf8Reader, exc: Exception) -> DataError:
    lines = str(exc).strip().splitlines()
    why = lines[0] if lines else type(exc).__name__
    near = lines[1].strip()[:60] if len(lines) > 1 else ""
    where = f"in bytes {reader.chunk_start}-{reader.offset}"
    return DataError(
        f"{source}: not valid JSON {where}: {why}" + (f" (near {near!r})" if near else "")
    )


def _ndjson_objects(stream: BinaryIO, source: str) -> Iterator[Any]:
    """Yield one JSON value per non-blank line."""
    for number, offset, text in iter_lines(stream, source):
        if not text.strip():
            continue
        try:
            yield json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:120]
            column = f" column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise DataError(
                f"{source}: line {number}{column} (byte {offset}) is not a JSON object: {why}"
            ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; write a finite number")


def _csv_objects(stream: BinaryIO, source: str) -> Iterator[dict[str, str] | _BadRow]:
    """Yield one object per data row of a CSV file with a header row."""
    lines = iter_lines(stream, source)
    rows = csv.reader(_texts(lines))
    try:
        header = next(rows, None)
        if header is None:
            raise DataError(f"{source}: the file is empty; expected a CSV header row")
        names = [name.strip() for name in header]
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names):
                yield _BadRow(
                    f"line {rows.line_num} has {len(row)} cells but the header has "
                    f"{len(names)}; quote cells that contain commas"
                )
                continue
            yield dict(zip(names, row, strict=False))
    except csv.Error as exc:
        raise DataError(f"{source}: line {rows.line_num} is not valid CSV: {exc}") from None


def _texts(lines: Iterable[tuple[int, int, str]]) -> Iterator[str]:
    for _, _, text in lines:
        yield text


def mark_duplicates(records: Iterable[RegistrationRecord]) -> Iterator[RegistrationRecord]:
    """Turn a repeated RegistrationNumber into an invalid record; the first one stands.

    Capacity reservations and results are keyed by registration id, so a second record with
    the same id would otherwise overwrite the first or take capacity twice.
    """
    first_seen: dict[str, int] = {}
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
        yield record
