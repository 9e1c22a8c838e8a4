#!/usr/bin/env python3
"""Build a dataset from its raw release into a Hub-ready folder (Parquet shards + README.md + build_report.json).

usage: python scripts/build.py NAME --data-dir RAW_DIR --output OUT [--config C]... [--num-proc N]
                               [--engine local|ray] [--ray-address ADDR] [--storage-options JSON]
                               [--on-error raise|skip] [--exclude FILE]... [--repo ORG/NAME] [--quiet]
OUT is a folder or an fsspec URL (file://, s3://bucket/prefix, ...); see docs/SCALING.md for cluster builds.
"""
import argparse
import json

import _path  # noqa: F401

from builders import dataset_names
from builders.cli import run, use_memory_pool
from builders.errors import ON_ERROR_CHOICES


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help=f"dataset: {', '.join(dataset_names())}")
    parser.add_argument("--data-dir", required=True, help="folder holding the raw release")
    parser.add_argument("--output", required=True,
                        help="folder or fsspec URL (s3://bucket/prefix, ...) to write the Hub-ready dataset to")
    parser.add_argument("--config", action="append", dest="configs", help="build only this config (repeatable)")
    parser.add_argument("--num-proc", type=int, default=1,
                        help="shard jobs run in this many processes (--engine ray: CPUs of the local Ray instance)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this machine; ray: Ray tasks (a local Ray instance, or --ray-address)")
    parser.add_argument("--ray-address", help="an existing Ray cluster (e.g. ray://head:10001 or head:6379)")
    parser.add_argument("--storage-options", type=json_object, default={},
                        help="JSON object of fsspec options for the output, e.g. '{\"endpoint_url\": \"...\"}' "
                             "(credentials are better left to the environment)")
    parser.add_argument("--on-error", choices=ON_ERROR_CHOICES,
                        help="raise: stop a config at its first bad record; skip: count and list bad records "
                             "(default: the dataset card's policy, skip for web-scale corpora, else raise)")
    parser.add_argument("--exclude", action="append", default=[], metavar="FILE",
                        help="a takedown / exclusion list: lines '<kind> <value>  # reason', kinds as the dataset's "
                             "card declares (repeatable; dataset_cards/<name>.exclude is always applied)")
    parser.add_argument("--repo", help="the Hub repository the card's examples should name (default ORG/<name>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or notices")
    return parser.parse_args(argv)


def json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"anon\": false}'")
    return value


def main():
    args = parse_args()
    use_memory_pool(args.name, args.configs)  # before pyarrow is imported
    from builders.pipeline import build

    report = build(args.name, args.data_dir, args.output, configs=args.configs, num_proc=args.num_proc,
                   on_error=args.on_error, engine=args.engine, repo_id=args.repo, progress=not args.quiet,
                   log=(lambda *a: None) if args.quiet else print, storage_options=args.storage_options,
                   ray_address=args.ray_address, exclude=args.exclude)
    if not args.quiet:
        for name, config in report["configs"].items():
            counts = ", ".join(f"{split} {s['rows']}" for split, s in config["splits"].items())
            print(f"{name}: {counts}")
        if report["skipped"]:
            print(f"{len(report['skipped'])} records skipped (listed in build_report.json)")
        if report["excluded"]:
            print(f"{sum(e['count'] for e in report['excluded'])} records excluded on request "
                  "(counted per reason in build_report.json)")
        print(f"built {args.output} in {report['timings']['wall_seconds']:.1f} s")


if __name__ == "__main__":
    run(main)
