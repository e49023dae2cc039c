"""``igent keys create``: make an API key for the service (printed once, stored hashed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from igent.cli.serve import settings_with

Opt = typer.Option
keys_app = typer.Typer(help="API keys of the campaign service.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, Opt(help="operator (may write) or viewer (read only).", case_sensitive=False)
    ],
    name: Annotated[str, Opt(help="A label, e.g. who holds the key.")] = "",
    data_dir: Annotated[Path | None, Opt(help="Service data directory (as igent serve).")] = None,
    db: Annotated[str | None, Opt(help="Service database (as igent serve --db).")] = None,
) -> None:
    """Create a key and print it once on stdout; only its hash is stored."""
    from igent.errors import ConfigError
    from igent.service.auth import create_key
    from igent.store.postgres_service import open_service_tables

    chosen = role.lower()
    if chosen not in ("operator", "viewer"):
        raise ConfigError(f"--role {role!r} is not a role; expected 'operator' or 'viewer'")
    settings = settings_with(data_dir, db)
    target = settings.database_target()
    tables = open_service_tables(target)
    try:
        key, row = create_key(tables, _role(chosen), name)
    finally:
        tables.close()
    print(key)
    print(
        f"created {row.role} key {row.key_id!r} in {tables.path}; it is shown "
        "only now, store it safely",
        file=sys.stderr,
    )


def _role(text: str) -> Literal["operator", "viewer"]:
    return "operator" if text == "operator" else "viewer"
