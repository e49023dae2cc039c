"""Scale benchmark: the whole rules run, start to exit, at 1k / 10k / 100k (1M) registrations.

Usage: python benchmarks/scale.py [--quick | --full] [--sizes 1000,10000] [--json OUT]
                                  [--before SRC] [--repeat N]

Each size runs ``python -m igent.workflows rules`` as a child process pinned to one core and
reports its wall time, registrations per second, peak RSS (``os.wait4`` rusage of that child)
and its time per registration relative to the 10k run (1.0 = linear). The data is a seeded
generated campaign in the export format: the registrations of a 10k campaign copied with new
registration numbers (streamed to disk, never held whole), capacity raised so all can match.

--quick runs 1k and 10k (CI), the default adds 100k, --full adds 1M. ``--before SRC`` also
runs another checkout's ``src`` directory (e.g. ``git archive`` of an older commit) on the same
data, alternating with this one, so a before/after comparison shares the machine's load;
``--repeat N`` runs each N times and keeps the fastest by CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from igent.campaign.generator import generate_campaign

SEED_SIZE = 10_000
QUICK, DEFAULT, FULL = (
    (1_000, 10_000),
    (1_000, 10_000, 100_000),
    (1_000, 10_000, 100_000, 1_000_000),
)


def write_campaign(directory: Path, size: int) -> dict[str, Path]:
    """Write ``size`` registrations (copies of a 10k seed campaign) and offers with room."""
    seed = generate_campaign(
        num_registrations=min(size, SEED_SIZE), num_suppliers=8, scenario="diverse", seed=1
    )
    offers = seed.offers
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = size  # every registration can match
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "registrations": directory / f"registrations-{size}.json",
        "offers": directory / "offers.json",
        "incentives": directory / "incentives.json",
    }
    paths["offers"].write_text(json.dumps(offers))
    paths["incentives"].write_text(json.dumps(seed.incentives))
    with paths["registrations"].open("w", encoding="utf-8") as handle:
        handle.write("[\n")
        for index in range(size):
            record = dict(seed.registrations[index % len(seed.registrations)])
            record["RegistrationNumber"] = f"R-{index + 1:07d}"
            handle.write(("" if index == 0 else ",\n") + json.dumps(record))
        handle.write("\n]\n")
    return paths


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def child_env(src: Path | None) -> dict[str, str]:
    """The environment of a measured run: no IGENT_* settings, and Python's bytecode cache on.

    An installed package starts from its cached bytecode; with PYTHONDONTWRITEBYTECODE set
    (some CI and sandbox images set it) every run would compile igent's sources again, about
    0.1 s that is the environment's, not igent's. ``compile_sources`` fills the cache first.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IGENT_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def compile_sources(src: Path | None) -> None:
    """Import the run's modules once in a child, so the measured runs read cached bytecode."""
    subprocess.run(
        [sys.executable, "-c", "import igent.workflows.__main__, igent.cli.run"],
        env=child_env(src),
        check=True,
    )


def rules_command(paths: dict[str, Path], out: Path) -> list[str]:
    """The measured command: the rules constellation over ``paths``, outputs in ``out``."""
    return [
        sys.executable,
        "-m",
        "igent.workflows",
        "rules",
        "--registrations",
        str(paths["registrations"]),
        "--offers",
        str(paths["offers"]),
        "--incentives",
        str(paths["incentives"]),
        "--campaign-date",
        "2026-06-01",
        "--quiet",
        "--json",
        "--out",
        str(out),
    ]


def run_once(paths: dict[str, Path], out: Path, src: Path | None = None) -> dict[str, float]:
    """Run the rules constellation in a child (``src`` on its path); return wall, CPU, RSS."""
    command = rules_command(paths, out)
    env = child_env(src)
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_pin_to_one_core,  # noqa: PLW1509 - no threads in this parent
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"run failed ({child.returncode}): {error[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "wall_s": wall_s,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "matched": summary["matched"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="1k and 10k only (CI).")
    group.add_argument("--full", action="store_true", help="Also 1,000,000 registrations.")
    group.add_argument("--sizes", default=None, help="Comma-separated sizes.")
    parser.add_argument("--json", type=Path, default=None, help="Write the rows as JSON here.")
    parser.add_argument("--keep", type=Path, default=None, help="Keep data and runs here.")
    parser.add_argument(
        "--before", type=Path, default=None, help="Also run this src directory (before)."
    )
    parser.add_argument("--repeat", type=int, default=1, help="Runs per size; fastest kept.")
    args = parser.parse_args()
    sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else QUICK
        if args.quick
        else FULL
        if args.full
        else DEFAULT
    )
    trees: dict[str, Path | None] = {"this": None}
    if args.before is not None:
        trees = {"before": args.before.resolve(), "after": None}
    for src in trees.values():
        compile_sources(src)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="igent-scale-") as tmp:
        root = args.keep or Path(tmp)
        for size in sizes:
            paths = write_campaign(root / "data", size)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for _ in range(max(1, args.repeat)):
                for name, src in trees.items():  # alternate: both see the same load
                    run_dir = root / (f"run-{size}" if src is None else f"run-{name}-{size}")
                    runs[name].append(run_once(paths, run_dir, src))
            for name, measured in runs.items():
                best = min(measured, key=lambda r: r["cpu_s"])
                row = {"tree": name, "registrations": size, **best}
                row["per_s"] = size / row["wall_s"]
                row["us_per_registration"] = row["wall_s"] / size * 1e6
                row["cpu_us_per_registration"] = row["cpu_s"] / size * 1e6
                rows.append(row)
            paths["registrations"].unlink()
    print(
        f"{'tree':>6} {'registrations':>13} {'wall s':>8} {'cpu s':>8} {'regs/s':>9} "
        f"{'cpu us/reg':>10} {'peak RSS MiB':>13} {'vs 10k':>7}"
    )
    for row in rows:
        base = next(
            (r for r in rows if r["registrations"] == SEED_SIZE and r["tree"] == row["tree"]),
            None,
        )
        row["ratio_vs_10k"] = (
            row["us_per_registration"] / base["us_per_registration"] if base else None
        )
        ratio = f"{row['ratio_vs_10k']:.2f}" if row["ratio_vs_10k"] is not None else "-"
        print(
            f"{row['tree']:>6} {row['registrations']:>13,} {row['wall_s']:>8.2f} "
            f"{row['cpu_s']:>8.2f} {row['per_s']:>9,.0f} {row['cpu_us_per_registration']:>10.0f} "
            f"{row['peak_rss_mib']:>13.0f} {ratio:>7}"
        )
        if row["matched"] != row["registrations"]:
            print(f"  note: {row['matched']} of {row['registrations']} matched")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
