"""Scale benchmark: the whole rules run, start to exit, at 1k / 10k / 100k (1M) registrations.

Usage: python benchmarks/scale.py [--quick | --full] [--sizes 1000,10000] [--json OUT]

Each size runs ``python -m igent.workflows rules`` as a child process pinned to one core and
reports its wall time, registrations per second, peak RSS (``os.wait4`` rusage of that child)
and its time per registration relative to the 10k run (1.0 = linear). The data is a seeded
generated campaign in the export format: the registrations of a 10k campaign copied with new
registration numbers (streamed to disk, never held whole), capacity raised so all can match.

--quick runs 1k and 10k (CI), the default adds 100k, --full adds 1M.
"""

from __future__ import annotations

import argparse
import json
import os
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


def run_once(paths: dict[str, Path], out: Path) -> dict[str, float]:
    """Run the rules constellation in a child; return wall, CPU and peak RSS."""
    command = [
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGENT_")}
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
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="igent-scale-") as tmp:
        root = args.keep or Path(tmp)
        for size in sizes:
            paths = write_campaign(root / "data", size)
            row = {"registrations": size, **run_once(paths, root / f"run-{size}")}
            row["per_s"] = size / row["wall_s"]
            row["us_per_registration"] = row["wall_s"] / size * 1e6
            rows.append(row)
            paths["registrations"].unlink()
    base = next((r for r in rows if r["registrations"] == SEED_SIZE), None)
    print(
        f"{'registrations':>13} {'wall s':>8} {'cpu s':>8} {'regs/s':>9} {'peak RSS MiB':>13} "
        f"{'vs 10k':>7}"
    )
    for row in rows:
        row["ratio_vs_10k"] = (
            row["us_per_registration"] / base["us_per_registration"] if base else None
        )
        ratio = f"{row['ratio_vs_10k']:.2f}" if row["ratio_vs_10k"] is not None else "-"
        print(
            f"{row['registrations']:>13,} {row['wall_s']:>8.2f} {row['cpu_s']:>8.2f} "
            f"{row['per_s']:>9,.0f} {row['peak_rss_mib']:>13.0f} {ratio:>7}"
        )
        if row["matched"] != row["registrations"]:
            print(f"  note: {row['matched']} of {row['registrations']} matched")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
