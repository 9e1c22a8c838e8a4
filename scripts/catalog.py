#!/usr/bin/env python3
"""Write a static catalog of datasets: an index (licence, policy, tasks, sizes, links) and a page per dataset.

usage: python scripts/catalog.py --out DIR [--build BUILT_DIR]... [--show-restricted] [--quiet]

Without --build, every dataset's synthetic sample is generated and built under DIR/builds/ and catalogued
(previews of every config). With --build, the given built folders are catalogued; configs whose licence
restricts redistribution (gated or private) are not previewed unless --show-restricted is given.
"""
import argparse
from pathlib import Path

import _path  # noqa: F401

from builders.cli import run
from builders.errors import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write index.html and the dataset pages to")
    parser.add_argument("--build", action="append", dest="builds", metavar="BUILT_DIR",
                        help="a folder made by scripts/build.py (repeatable); default: build the samples")
    parser.add_argument("--show-restricted", action="store_true",
                        help="preview gated and private configs too (for a catalog you keep to yourself)")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from builders.hub.catalog import build_samples, write_catalog

    log = (lambda *a: None) if args.quiet else print
    out = Path(args.out)
    if args.builds:
        missing = [b for b in args.builds if not Path(b).is_dir()]
        if missing:
            raise UsageError(f"not a built folder: {', '.join(missing)}; build one with scripts/build.py first")
        folders = [Path(b) for b in args.builds]
    else:
        folders = build_samples(out / "builds", log=log)
    index = write_catalog(folders, out, samples=not args.builds, show_restricted=args.show_restricted)
    print(f"catalog: {index.resolve()}")


if __name__ == "__main__":
    run(main)
