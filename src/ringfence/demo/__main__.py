"""``python -m ringfence.demo``: what ``make demo`` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ringfence.demo.runner import DemoOptions, run_demo


def main() -> int:
    parser = argparse.ArgumentParser(prog="ringfence-demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".ringfence"))
    parser.add_argument("--api-port", type=int, default=8700)
    parser.add_argument("--gateway-port", type=int, default=8701)
    parser.add_argument(
        "--smoke", action="store_true", help="start everything, check it answers, then exit"
    )
    args = parser.parse_args()
    return run_demo(
        DemoOptions(
            data_dir=args.data_dir,
            api_port=args.api_port,
            gateway_port=args.gateway_port,
            smoke=args.smoke,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
