"""Ordered, named SQL migrations of the ledger (``NNNN_name.sql``), shipped as package data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    """One migration file: its version number, name and SQL."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Return every migration in version order."""
    found = []
    for entry in resources.files(__package__).iterdir():
        stem, dot, ext = entry.name.partition(".")
        number, _, name = stem.partition("_")
        if ext != "sql" or not dot or not number.isdigit():
            continue
        found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"ledger migrations repeat a version number: {versions}")
    return found
