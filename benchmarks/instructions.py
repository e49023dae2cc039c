"""Instructions per registration of the rules run, counted by valgrind (independent of load).

Usage: python benchmarks/instructions.py [SRC ...] [--small 1000] [--large 3000]

Runs ``python -m igent.workflows rules`` under ``valgrind --tool=callgrind`` on the scale
benchmark's data at two sizes and prints, per tree (``SRC`` directories, e.g. a ``git archive``
of an older commit; none = the installed igent), the instructions per registration ((large -
small) / (large - small registrations)) and the fixed part (start-up). Machines shared with
other work make CPU times vary by 10-30 %; instruction counts vary by about 1 %. Needs valgrind
(Debian: ``apt-get install valgrind``); each run takes ~20-40 s.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from scale import child_env, compile_sources, rules_command, write_campaign


def count(paths: dict[str, Path], out: Path, src: Path | None) -> int:
    """Return the instructions (callgrind ``Ir``) of one rules run over ``paths``."""
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}.callgrind",
        *rules_command(paths, out),
    ]
    done = subprocess.run(command, env=child_env(src), capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="src directories (default: installed)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=3_000)
    args = parser.parse_args()
    trees: list[Path | None] = [t.resolve() for t in args.trees] or [None]
    with tempfile.TemporaryDirectory(prefix="igent-ir-") as tmp:
        root = Path(tmp)
        large = write_campaign(root / "data", args.large)
        records = json.loads(large["registrations"].read_text(encoding="utf-8"))
        small = {**large, "registrations": root / "data" / "small.json"}
        small["registrations"].write_text(json.dumps(records[: args.small]), encoding="utf-8")
        data = {args.small: small, args.large: large}  # the small run is the large one's head
        for index, src in enumerate(trees):
            compile_sources(src)
            low, high = (count(data[size], root / f"run-{index}-{size}", src) for size in data)
            per = (high - low) / (args.large - args.small)
            print(
                f"{str(src or 'installed'):>40}  {per:>12,.0f} instructions/registration  "
                f"fixed {low - per * args.small:,.0f}"
            )


if __name__ == "__main__":
    main()
