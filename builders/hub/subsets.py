"""What one repository receives from a built folder: a subset of its configs, configs kept from the repository,
and the repositories of a dataset published as one repository per redistribution policy.

Everything here works on build reports (the folder's build_report.json, the repository's), so a card,
croissant.json and the licence guard are derived for exactly the configs a repository holds.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import yaml

from ..cardcheck import policy_repository_errors, redistribution_policies, strictest_policy
from ..errors import UsageError

CARDS_DIR = Path(__file__).resolve().parents[2] / "dataset_cards"
PER_CONFIG_LISTS = ("skipped", "excluded")
"""Report entries that name their config (`config` key) and follow it into a subset."""


def card_yaml(dataset: str) -> dict:
    """dataset_cards/<dataset>.yaml, read without builders.cards (which imports `datasets`)."""
    path = CARDS_DIR / f"{dataset}.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None) or {}


def selected(names, patterns) -> tuple[list[str], list[str]]:
    """The names that the patterns (names or globs) select, in their order, and the patterns selecting none."""
    chosen = [name for name in names if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    return chosen, [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name in names)]


def matching_configs(report: dict, patterns) -> list[str]:
    """The built configs that the names or globs select, in the build's order. A pattern that selects nothing
    is an error naming what the folder holds (a typo must not publish less than meant)."""
    built = list(report["configs"])
    chosen, unmatched = selected(built, patterns)
    if unmatched:
        failed = set(report.get("failed_configs") or ())
        why = [f"{p!r} ({'it failed to build' if p in failed else 'no such config'})" for p in unmatched]
        raise UsageError(f"--config {', '.join(why)}: this folder holds the configs {', '.join(built)}")
    return chosen


def report_for_configs(report: dict, names) -> dict:
    """The build report of the configs `names` only: their configs, skipped and excluded records and notices,
    their strictest policy, and a default among them. What the whole build read (inputs, unread paths, tools)
    stays as it was: it describes the raw folder, not a config."""
    names = set(names)
    configs = {name: dict(config) for name, config in report["configs"].items() if name in names}
    every_config = set(report["configs"]) | set(report.get("failed_configs") or ())
    subset = dict(report, configs=_with_default(configs, report), notices=[
        notice for notice in report.get("notices", []) if _notice_config(notice, every_config) in (None, *configs)])
    for key in PER_CONFIG_LISTS:
        subset[key] = [item for item in report.get(key, []) if item.get("config") in configs]
    subset["redistribution"] = strictest_policy(c["redistribution"] for c in configs.values())
    subset.pop("failed_configs", None)  # the configs published built completely
    return subset


def with_kept_configs(report: dict, repository_report: dict, repository_files, repo_id: str, log) -> dict:
    """`report` plus the configs the repository already holds and this publish does not replace (publish.py
    --keep-other-configs), as the repository's build_report.json describes them, so that its card and
    croissant.json describe every config a user can load from it. A config whose files are no longer all on
    the Hub is left out of the card, with a warning."""
    if repository_report.get("dataset") != report["dataset"]:
        raise UsageError(f"{repo_id} holds a build of {repository_report.get('dataset')!r}, not of "
                         f"{report['dataset']!r}: --keep-other-configs keeps configs of the same dataset only")
    present = set(repository_files)
    kept = {}
    for name, config in repository_report.get("configs", {}).items():
        if name in report["configs"]:
            continue
        missing = [f for split in config["splits"].values() for f in split["files"] if f not in present]
        if missing:
            log(f"warning: config {name} of {repo_id} lacks {len(missing)} of its files on the Hub (e.g. "
                f"{missing[0]}): it is left out of the card")
            continue
        kept[name] = dict(config)
    if not kept:
        return report
    merged = dict(report, configs=_with_default({**kept, **report["configs"]}, report),
                  kept_configs=sorted(kept), notices=report.get("notices", []) + [
                      notice for notice in repository_report.get("notices", [])
                      if _notice_config(notice, set(repository_report.get("configs", {}))) in kept])
    for key in PER_CONFIG_LISTS:
        merged[key] = report.get(key, []) + [item for item in repository_report.get(key, [])
                                             if item.get("config") in kept]
    merged["redistribution"] = strictest_policy(c["redistribution"] for c in merged["configs"].values())
    return merged


def policy_groups(report: dict) -> dict[str, list[str]]:
    """The configs of each redistribution policy present, strictest policy first."""
    groups: dict[str, list[str]] = {}
    for policy in reversed(redistribution_policies()):
        names = [name for name, config in report["configs"].items() if config["redistribution"] == policy]
        if names:
            groups[policy] = names
    return groups


def repository_per_policy(repo_id: str, dataset: str, policies) -> dict[str, str]:
    """Where each policy's configs go with --split-by-policy: the dataset card's own policy to `repo_id`, any
    other to `repo_id-<suffix>`, the suffix from the card's `policy_repositories` (InternVid: private -> clips)
    or else the policy's name. The names depend on the policy only, so later publishes find the same
    repositories whichever configs they carry."""
    meta = card_yaml(dataset)
    errors = policy_repository_errors(meta)
    if errors:
        raise UsageError(f"dataset_cards/{dataset}.yaml: " + "; ".join(errors))
    suffixes = meta.get("policy_repositories") or {}
    return {policy: repo_id if policy == meta.get("redistribution") else f"{repo_id}-{suffixes.get(policy, policy)}"
            for policy in policies}


def _with_default(configs: dict, report: dict) -> dict:
    """The configs in the builder's order, with one default: the builder's if present, else the first."""
    from .. import builder_class  # the builder's config order and default (imports `datasets`)
    from ..pipeline import default_config

    cls = builder_class(report["dataset"])
    order = {config.name: i for i, config in enumerate(cls.BUILDER_CONFIGS)}
    ordered = dict(sorted(configs.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))
    default = default_config(cls, ordered)
    return {name: dict(config, default=name == default) for name, config in ordered.items()}


def _notice_config(notice: str, names) -> str | None:
    """The config a notice is about ("<config>: ..."), or None for a notice about the whole build."""
    head, sep, _ = notice.partition(": ")
    return head if sep and head in names else None
