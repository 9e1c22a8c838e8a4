#!/usr/bin/env python3
"""Benchmark every builder: CPU vs the raw-copy limit and the usual way, parallelism, memory, publish, load,
and the projected cost of a full build of each real release.

usage: python scripts/bench.py [--size S] [--dataset NAME]... [--workdir bench/work] [--results bench/results.json]
                              [--builds-only] [--keep-outputs] [--no-publish-large | --publish-large-only] [--update] [--show]
--size multiplies the records of the synthetic trees (bench/trees.py TREES). At --size 1, each default build
takes ~30 s of CPU or more and has at least 8 shard jobs; the whole run took 77 minutes on 2 cores, 28 of them
making the trees the first time (~25 GB, kept in the work folder; a run
also needs ~20 GB of free disk for outputs, each deleted once measured). --size 0.05 is a quick run of a few
minutes (its builds are too small for the ratios to mean much: the table says which goals it does not judge).
--builds-only leaves out publish and load. The publish of a folder of 2,000 small parts (the large path:
batches on a pull request, one merge) runs after the datasets, or alone with --publish-large-only. --update
measures the --dataset(s) again and keeps the other datasets' results in the --results file (with
--builds-only, also their earlier publish and load, which the table dates).
"""
import argparse
import json
from pathlib import Path

import _path  # noqa: F401

from bench import BASE_RECORDS, run, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0, help="multiplies every tree's records (default 1)")
    parser.add_argument("--dataset", action="append", dest="datasets", choices=list(BASE_RECORDS),
                        help="repeatable; default: every dataset")
    parser.add_argument("--workdir", default="bench/work")
    parser.add_argument("--results", default="bench/results.json")
    parser.add_argument("--builds-only", action="store_true",
                        help="builds, limit, usual way, memory and projections; no publish, load or large publish")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep every build's output under WORKDIR/out (default: deleted once measured)")
    parser.add_argument("--no-publish-large", action="store_true", help="leave out the publish of 2,000 small parts")
    parser.add_argument("--publish-large-only", action="store_true",
                        help="only the publish of 2,000 small parts vs raw PUTs (no dataset is built)")
    parser.add_argument("--update", action="store_true",
                        help="measure the --dataset(s) again and keep the other datasets' results in the --results file")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each build, the limit and the usual way N times, in rounds, and take the least "
                             "wall and CPU time of each (the largest peak RSS); default 1")
    parser.add_argument("--show", action="store_true", help="print the tables of the --results file; run nothing")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.show:
        print(table(json.loads(Path(args.results).read_text())))
        return
    datasets = [] if args.publish_large_only else args.datasets or list(BASE_RECORDS)
    results = run(datasets, args.size, Path(args.workdir).resolve(), Path(args.results),
                  publish_large=not args.no_publish_large, builds_only=args.builds_only,
                  keep_outputs=args.keep_outputs, update=args.update, repeat=args.repeat)
    print(table(results))


if __name__ == "__main__":
    main()
