#!/usr/bin/env python3
"""Write a small raw tree in a release's real on-disk format.

usage: python scripts/make_sample_data.py NAME --out RAW_DIR [--bad-records] [--scale N]
       NAME may be "all": each dataset goes to RAW_DIR/<name>/.
"""
import argparse
from pathlib import Path

import _path  # noqa: F401

from builders.cli import run
from builders.samples import GENERATORS, make_sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help=f"dataset: {', '.join(sorted(GENERATORS))}, or all")
    parser.add_argument("--out", required=True, help="folder to write the raw tree to")
    parser.add_argument("--bad-records", action="store_true",
                        help="also write records the builder must reject (for --on-error tests)")
    parser.add_argument("--scale", type=int, default=0, help="add this many plain synthetic records")
    args = parser.parse_args()
    out = Path(args.out)
    names = sorted(GENERATORS) if args.name == "all" else [args.name]
    for name in names:
        target = out / name if args.name == "all" else out
        make_sample(name, target, bad_records=args.bad_records, scale=args.scale)
        print(f"{name}: sample raw tree written to {target}")


if __name__ == "__main__":
    run(main)
