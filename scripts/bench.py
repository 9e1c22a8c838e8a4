#!/usr/bin/env python3
"""Benchmark every builder: throughput vs the raw-copy limit and the usual way, memory, publish, load.

usage: python scripts/bench.py [--size S] [--dataset NAME]... [--workdir bench/work] [--results bench/results.json]
                              [--publish-large-only]
--size multiplies the records of the synthetic trees (1 = the default, about 10 minutes on 2 cores for every
dataset; the trees are kept in the work folder, so a second run skips making them). The publish of a folder of
2,000 small parts (the large path: batches on a pull request, one merge) runs after the datasets, or alone with
--publish-large-only.
"""
import argparse
from pathlib import Path

import _path  # noqa: F401

from bench import BASE_RECORDS, run, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0)
    parser.add_argument("--dataset", action="append", dest="datasets", choices=list(BASE_RECORDS),
                        help="repeatable; default: every dataset")
    parser.add_argument("--workdir", default="bench/work")
    parser.add_argument("--results", default="bench/results.json")
    parser.add_argument("--publish-large-only", action="store_true",
                        help="only the publish of 2,000 small parts vs raw PUTs (no dataset is built)")
    args = parser.parse_args()
    datasets = [] if args.publish_large_only else args.datasets or list(BASE_RECORDS)
    results = run(datasets, args.size, Path(args.workdir).resolve(), Path(args.results))
    print(table(results))


if __name__ == "__main__":
    main()
