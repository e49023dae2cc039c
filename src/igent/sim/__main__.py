"""Run the simulator: ``python -m igent.sim --port 0``; the first stdout line is the base URL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from igent.sim.config import SimConfig
from igent.sim.profiles import PROFILES
from igent.sim.runner import serve


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m igent.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--profile", default="gpt-4o", choices=list(PROFILES), help="latency")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiplies all delays")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument("--error-rate", type=float, default=None, help="matcher wrong answers")
    parser.add_argument("--no-prose", action="store_true", help="answer with bare JSON")
    parser.add_argument(
        "--config-json", default=None, help="a full SimConfig as JSON; overrides the options"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse options, print the base URL once listening, and serve until interrupted."""
    args = _parse_args(argv)
    if args.config_json:
        config = SimConfig.model_validate_json(args.config_json)
    else:
        config = SimConfig(
            profile=args.profile,
            time_scale=args.time_scale,
            seed=args.seed,
            prose=not args.no_prose,
            error_rate=args.error_rate,
        )

    def announce(base_url: str) -> None:
        sys.stdout.write(base_url + "\n")
        sys.stdout.flush()

    serve(args.host, args.port, config, on_ready=announce)


if __name__ == "__main__":
    main()
