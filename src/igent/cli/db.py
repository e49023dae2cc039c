"""``igent db upgrade`` / ``igent db status``: the ledger database's schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from igent.cli.worker import DbOpt, required_url

db_app = typer.Typer(help="The ledger database (SQLite or PostgreSQL).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Apply the missing schema migrations, in order (also done at every start)."""
    from igent.store.backend import open_store

    store = open_store(required_url(db, "IGENT_DATABASE_URL", "--db"))
    try:
        version = store.schema_version()  # type: ignore[attr-defined]
    finally:
        store.close()
    print(f"ledger schema at version {version}")


@db_app.command("status")
def db_status(
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the schema version and each campaign's capacity use."""
    import json

    from igent.store.backend import open_store

    store = open_store(required_url(db, "IGENT_DATABASE_URL", "--db"))
    try:
        report = {
            "schema_version": store.schema_version(),  # type: ignore[attr-defined]
            "campaigns": {
                c: {s.supplier_id: [s.used, s.capacity] for s in store.suppliers(c)}
                for c in store.campaigns()
            },
        }
    finally:
        store.close()
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print(f"ledger schema at version {report['schema_version']}")
    for campaign_id, suppliers in report["campaigns"].items():
        used = sum(u for u, _ in suppliers.values())
        capacity = sum(c for _, c in suppliers.values())
        print(f"  {campaign_id}: {used} of {capacity} booked over {len(suppliers)} suppliers")
