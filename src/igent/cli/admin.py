"""Small command groups: constellations, capacity, data generation and the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from igent.campaign.generator import generate_campaign, write_campaign
from igent.errors import ConfigError
from igent.settings import Settings
from igent.sim import PROFILES, SimConfig, serve
from igent.store import Ledger
from igent.workflows import builtin_constellations, resolve_constellation

stdout = Console()
stderr = Console(stderr=True, soft_wrap=True)
Opt = typer.Option

constellations_app = typer.Typer(
    help="List and show constellations.", no_args_is_help=True, add_completion=False
)
capacity_app = typer.Typer(
    help="Show or reset a run's capacity store.", no_args_is_help=True, add_completion=False
)
data_app = typer.Typer(
    help="Generate synthetic campaigns.", no_args_is_help=True, add_completion=False
)
sim_app = typer.Typer(
    help="The local OpenAI-compatible simulator.", no_args_is_help=True, add_completion=False
)


@constellations_app.command("list")
def constellations_list() -> None:
    """List the built-in constellations (and those in IGENT_CONSTELLATION_DIR)."""
    found = dict(builtin_constellations())
    user_dir = Settings().constellation_dir
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            constellation = resolve_constellation(str(path))
            found[constellation.name] = constellation
    table = Table("name", "phases", "description")
    for name, constellation in sorted(found.items()):
        phases = " -> ".join(
            f"{p.task}:{p.answerer}"
            + (f"+{p.critic}" if p.critic != "none" else "")
            + ("+audit" if p.audit else "")
            for p in constellation.phases
        )
        table.add_row(name, phases, constellation.description)
    stdout.print(table)


@constellations_app.command("show")
def constellations_show(name: Annotated[str, typer.Argument(help="Name or YAML path.")]) -> None:
    """Print a constellation as YAML."""
    constellation = resolve_constellation(name, Settings().constellation_dir)
    typer.echo(yaml.safe_dump(constellation.model_dump(mode="json"), sort_keys=False).rstrip())


def _ledger(run_dir: Path) -> Ledger:
    path = run_dir / "ledger.sqlite"
    if not path.exists():
        raise ConfigError(f"{str(run_dir)!r} holds no ledger.sqlite; pass a run directory")
    return Ledger(path)


@capacity_app.command("show")
def capacity_show(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
) -> None:
    """Show used / capacity per supplier."""
    with _ledger(run_dir) as ledger:
        rows = ledger.capacity()
    if as_json:
        typer.echo(json.dumps({s: {"used": u, "capacity": c} for s, (u, c) in rows.items()}))
        return
    table = Table("supplier", "used", "capacity", "used pct")
    for supplier_id, (used, capacity) in rows.items():
        pct = f"{used / capacity * 100:.1f} %" if capacity else "full"
        table.add_row(supplier_id, str(used), str(capacity), pct)
    stdout.print(table)


@capacity_app.command("reset")
def capacity_reset(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    yes: Annotated[bool, Opt("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop every reservation and result of a run (its outputs stay on disk)."""
    if not yes:
        typer.confirm(f"reset all reservations and results in {run_dir}?", abort=True)
    with _ledger(run_dir) as ledger:
        dropped = ledger.reset()
    stderr.print(f"dropped {dropped} reservations")


@data_app.command("generate")
def data_generate(
    out: Annotated[Path, Opt(help="Data directory to write into.")] = Path("data"),
    name: Annotated[str, Opt(help="Scenario file name.")] = "generated",
    registrations: Annotated[int, Opt(help="Number of registrations.")] = 100,
    suppliers: Annotated[int, Opt(help="Number of suppliers.")] = 4,
    scenario: Annotated[str, Opt(help="overlap, diverse, no_battery or scarce.")] = "overlap",
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    invalid_rate: Annotated[float, Opt(help="Share of registrations with no panel count.")] = 0.0,
) -> None:
    """Write a seeded synthetic campaign as D/registrations/N.json, D/offers/N.json, ..."""
    if scenario not in ("overlap", "diverse", "no_battery", "scarce"):
        raise ConfigError(f"--scenario {scenario!r}: expected overlap, diverse, no_battery, scarce")
    campaign = generate_campaign(
        num_registrations=registrations,
        num_suppliers=suppliers,
        scenario=scenario,  # type: ignore[arg-type]
        seed=seed,
        invalid_rate=invalid_rate,
    )
    paths = write_campaign(campaign, out, name)
    for kind, path in paths.items():
        stderr.print(f"{kind}: {path}")


@sim_app.command("serve")
def sim_serve(
    profile: Annotated[
        str, Opt(help=f"Latency profile: {', '.join(sorted(PROFILES))}.")
    ] = "gpt-4o",
    port: Annotated[int, Opt(help="Port on 127.0.0.1 (0 = any free port).")] = 0,
    time_scale: Annotated[float, Opt(help="Multiply every delay.")] = 1.0,
    seed: Annotated[int, Opt(help="Seed of every random draw.")] = 0,
    error_rate: Annotated[float, Opt(help="Share of wrong matcher answers.")] = 0.0,
    no_prose: Annotated[bool, Opt("--no-prose", help="Answer with bare JSON.")] = False,
) -> None:
    """Serve the simulator on 127.0.0.1 and print its base URL."""
    if profile not in PROFILES:
        raise ConfigError(f"--profile {profile!r}: expected one of {', '.join(sorted(PROFILES))}")
    config = SimConfig(
        profile=profile, time_scale=time_scale, seed=seed, error_rate=error_rate, prose=not no_prose
    )

    def ready(base_url: str) -> None:
        typer.echo(base_url)
        stderr.print(
            f"simulator ({profile}, time scale {time_scale:g}) at {base_url}; Ctrl-C to stop"
        )

    serve(port=port, config=config, on_ready=ready)
