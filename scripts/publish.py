#!/usr/bin/env python3
"""Publish a built dataset folder to the Hub (or build it first from a raw release).

usage: python scripts/publish.py OUT_DIR --repo ORG/NAME [--config NAME_OR_GLOB ...] [--keep-other-configs]
                                 [--split-by-policy] [--private|--public] [--create-pr] [--dry-run]
                                 [--tag vX.Y.Z] [--card-edits keep|overwrite] [--files-per-commit N]
                                 [--allow-many-files] [--rate-limit-patience SECONDS]
       python scripts/publish.py NAME --data-dir RAW_DIR --repo ORG/NAME [--output OUT_DIR] [build options] ...
--config publishes some configs of the folder (a card, croissant.json and build_report.json for exactly
those); --split-by-policy publishes one repository per redistribution policy (ORG/NAME for the card's own
policy, ORG/NAME-<suffix> for the others), each card linking the others. A small publish is one commit; a larger one is committed in batches to a pull request that is merged in one
step (a rerun resumes it). Honours HF_ENDPOINT and HF_TOKEN (or the stored login); never prints the token.
"""
import argparse
import os
from pathlib import Path

import _path  # noqa: F401

from builders.cli import run
from builders.errors import ON_ERROR_CHOICES, UsageError

# publish.py's defaults (builders.hub.publish, imported only after --quiet has silenced huggingface_hub's bars)
FILES_PER_COMMIT, RATE_LIMIT_PATIENCE = 500, 7200


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a built folder, or a dataset name together with --data-dir")
    parser.add_argument("--repo", required=True, help="ORG/NAME of the dataset repository")
    visibility = parser.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="private", action="store_true", default=None)
    visibility.add_argument("--public", dest="private", action="store_false")
    parser.add_argument("--create-pr", action="store_true",
                        help="publish to a pull request and stop before merging it into main")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; upload nothing")
    parser.add_argument("--tag", help="tag the published commit as this release (e.g. v1.0.0); the card's "
                                      "loading snippets then pin it with revision=")
    parser.add_argument("--card-edits", choices=("keep", "overwrite"),
                        help="when the card was edited on the Hub since the last publish: keep its body (under "
                             "regenerated metadata) or overwrite it; without this option such a publish stops")
    parser.add_argument("--files-per-commit", type=int, default=FILES_PER_COMMIT,
                        help=f"changes per commit of a large publish (default {FILES_PER_COMMIT}; the Hub takes at "
                             "most 25,000 LFS files per commit)")
    parser.add_argument("--allow-many-files", action="store_true",
                        help="publish even if the repository would hold more than the Hub's recommended 100,000 files")
    parser.add_argument("--rate-limit-patience", type=float, default=RATE_LIMIT_PATIENCE, metavar="SECONDS",
                        help="how long to wait out the Hub's rate limit (429) in all before stopping "
                             f"(default {RATE_LIMIT_PATIENCE}); a rerun resumes")
    parser.add_argument("--see-also", action="append", default=[], metavar="ORG/NAME",
                        help="another repository holding other configs of this dataset (repeatable): the card "
                             "links it, for a dataset published as one repository per config group")
    parser.add_argument("--data-dir", help="raw release folder: build SOURCE (a dataset name) first")
    parser.add_argument("--output", help="where to build when --data-dir is given (default out/<name>)")
    parser.add_argument("--config", action="append", dest="configs", default=[], metavar="NAME_OR_GLOB",
                        help="publish only these configs (repeatable; globs such as 'clips_*' in quotes); with "
                             "--data-dir, build only these. Without --keep-other-configs the repository then "
                             "holds exactly these configs: files of others on it are deleted")
    parser.add_argument("--keep-other-configs", action="store_true",
                        help="leave the repository's files of configs outside --config alone; its card then "
                             "describes them too (from the repository's build_report.json)")
    parser.add_argument("--split-by-policy", action="store_true",
                        help="one repository per redistribution policy present: --repo for the dataset's own "
                             "policy, --repo-<suffix> for the others (e.g. ORG/internvid-clips, private), each "
                             "card linking the others; the plan is printed first (see also --dry-run)")
    parser.add_argument("--num-proc", type=int, default=1)
    parser.add_argument("--exclude", action="append", default=[], metavar="FILE",
                        help="with --data-dir: a takedown / exclusion list for the build (see build.py)")
    parser.add_argument("--on-error", choices=ON_ERROR_CHOICES,
                        help="raise: stop a config at its first bad record; skip: count and list bad records "
                             "(default: the dataset card's policy, skip for web-scale corpora, else raise)")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    if args.quiet:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from builders.hub.publish import publish, publish_per_policy

    log = (lambda *a: None) if args.quiet else print
    folder = Path(args.source)
    if args.data_dir:
        from builders.pipeline import build

        folder = Path(args.output or Path("out") / args.source)
        build(args.source, args.data_dir, folder, configs=built_configs(args.source, args.configs) or None,
              num_proc=args.num_proc, on_error=args.on_error, repo_id=args.repo, progress=not args.quiet, log=log,
              exclude=args.exclude)
    elif not folder.is_dir():
        raise UsageError(f"{folder} is not a built folder; to build and publish a raw release, "
                         "pass the dataset name and --data-dir")
    options = dict(create_pr=args.create_pr, dry_run=args.dry_run, log=log, tag=args.tag, card_edits=args.card_edits,
                   files_per_commit=args.files_per_commit, allow_many_files=args.allow_many_files,
                   rate_limit_patience=args.rate_limit_patience, see_also=tuple(args.see_also), configs=args.configs,
                   keep_other_configs=args.keep_other_configs)
    if args.split_by_policy:
        for result in publish_per_policy(folder, args.repo, args.private, **options):
            log(f"dataset page: {result.page_url}")
        return
    result = publish(folder, args.repo, private=args.private, **options)
    log(f"dataset page: {result.page_url}")


def built_configs(dataset: str, patterns: list[str]) -> list[str]:
    """The builder's configs that --config names or globs choose, for a build before the publish."""
    from builders import builder_class
    from builders.hub.subsets import selected

    names = [config.name for config in builder_class(dataset).BUILDER_CONFIGS]
    chosen, unknown = selected(names, patterns)
    if unknown:
        raise UsageError(f"--config {', '.join(unknown)}: {dataset} has no such config; its configs are "
                         f"{', '.join(names)}")
    return chosen


if __name__ == "__main__":
    run(main)
