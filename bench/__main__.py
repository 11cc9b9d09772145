"""`python -m bench [ingest|long|export|imports|sockets|audio|ears|live|mirror|recording|uploads|
timeview|team|list|compare ...] [--quick] [--json]`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from .common import cpu_count

FIGURES = {
    "ingest": "bench.ingest",
    "long": "bench.long",
    "export": "bench.export",
    "imports": "bench.imports",
    "sockets": "bench.sockets",
    "audio": "bench.audio",
    "ears": "bench.ears",
    "live": "bench.browser",
    "mirror": "bench.browser",
    "recording": "bench.recording",
    "uploads": "bench.recording",
    "timeview": "bench.timeview",
    "team": "bench.team",
    "list": "bench.listing",
    "compare": "bench.compare",
}


def main() -> None:
    """Run the chosen benchmarks (all by default), one line per figure or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="*", metavar="FIGURE", help=", ".join(FIGURES))
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a quick look")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    unknown = [name for name in args.which if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}: choose from {', '.join(FIGURES)}")
    chosen = args.which or list(FIGURES)
    figures = []
    for name in chosen:
        module = importlib.import_module(FIGURES[name])
        runner = getattr(module, f"run_{name}", None) or module.run
        for figure in runner(quick=args.quick):
            figures.append(figure)
            if not args.json:
                print(figure.line(), flush=True)
    if args.json:
        json.dump(
            {"cores": cpu_count(), "quick": args.quick, "figures": [f.as_dict() for f in figures]},
            sys.stdout,
            indent=2,
        )
        print()


if __name__ == "__main__":
    main()
