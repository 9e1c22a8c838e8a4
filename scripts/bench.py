#!/usr/bin/env python3
"""Benchmark every builder: throughput vs the raw-copy limit and the usual way, memory, publish, load.

usage: python scripts/bench.py [--size S] [--dataset NAME]... [--workdir bench/work] [--results bench/results.json]
--size multiplies the records of the synthetic trees (1 = the default, about 10 minutes on 2 cores for every
dataset; the trees are kept in the work folder, so a second run skips making them).
"""
import argparse
from pathlib import Path

import _path  # noqa: F401

from builders.bench import BASE_RECORDS, run, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0)
    parser.add_argument("--dataset", action="append", dest="datasets", choices=list(BASE_RECORDS),
                        help="repeatable; default: every dataset")
    parser.add_argument("--workdir", default="bench/work")
    parser.add_argument("--results", default="bench/results.json")
    args = parser.parse_args()
    results = run(args.datasets or list(BASE_RECORDS), args.size, Path(args.workdir).resolve(), Path(args.results))
    print(table(results))


if __name__ == "__main__":
    main()
