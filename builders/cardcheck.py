"""Checks a dataset card's YAML metadata against the Hub's own vocabularies.

The lists (licence ids, task categories and ids, size categories) are vendored under
``builders/hub_metadata/`` with their sources, so cards are validated offline: by the card
generator before a build is declared complete, and by the local Hub server's ``validate-yaml``.
"""
from __future__ import annotations

import csv
import functools
import re
from importlib import resources

import yaml

from .outputs import as_list

_REDISTRIBUTION_POLICIES = ("public", "gated", "private")
_REPOSITORY_SUFFIX = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38}[A-Za-z0-9])?")


def _data_file(name: str) -> str:
    return resources.files("builders").joinpath("hub_metadata", name).read_text(encoding="utf-8")


@functools.cache
def license_ids() -> frozenset[str]:
    rows = csv.DictReader(_data_file("licenses.tsv").splitlines(), delimiter="\t")
    return frozenset(row["id"] for row in rows)


@functools.cache
def task_ids_by_category() -> dict[str, frozenset[str]]:
    rows = csv.DictReader(_data_file("task_categories.tsv").splitlines(), delimiter="\t")
    by_category: dict[str, set[str]] = {}
    for row in rows:
        ids = by_category.setdefault(row["task_category"], set())
        if row["task_id"]:
            ids.add(row["task_id"])
    return {category: frozenset(ids) for category, ids in by_category.items()}


@functools.cache
def size_categories() -> tuple[str, ...]:
    return tuple(line.strip() for line in _data_file("size_categories.txt").splitlines() if line.strip())


def size_category(num_rows: int) -> str:
    """The Hub's size bucket for a row count (the largest config decides, as on the Hub)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
              (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"), (10**12, "100B<n<1T")]
    for bound, name in bounds:
        if num_rows < bound:
            return name
    return "n>1T"


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split a README into (YAML metadata, Markdown body). Raises ValueError on bad YAML."""
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        raise ValueError("the YAML block opened by '---' on the first line is never closed")
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"invalid YAML in the card metadata: {e}") from e
    if not isinstance(meta, dict):
        raise ValueError("the card metadata must be a YAML mapping")
    body = text[end + 4:]
    return meta, body.lstrip("\n")


def validate_metadata(meta: dict) -> list[str]:
    """Return the problems found in a card's YAML metadata (empty when it is valid)."""
    errors: list[str] = []
    licenses = as_list(meta.get("license"))
    known = license_ids()
    for lic in licenses:
        if lic not in known:
            errors.append(f"license: {lic!r} is not a Hub licence id (use 'other' with license_name and license_link)")
    if "other" in licenses and not meta.get("license_name"):
        errors.append("license: 'other' needs license_name (and license_link)")
    if meta.get("license_name") and "other" not in licenses:
        errors.append("license_name is only meaningful with license: other")

    categories = task_ids_by_category()
    declared_categories = as_list(meta.get("task_categories"))
    for category in declared_categories:
        if category not in categories:
            errors.append(f"task_categories: {category!r} is not a Hub task category")
    allowed_ids = set().union(*(categories.get(c, frozenset()) for c in declared_categories)) if declared_categories else set()
    all_ids = set().union(*categories.values())
    for task_id in as_list(meta.get("task_ids")):
        if task_id not in all_ids:
            errors.append(f"task_ids: {task_id!r} is not a Hub task id")
        elif declared_categories and task_id not in allowed_ids:
            errors.append(f"task_ids: {task_id!r} belongs to none of the declared task_categories")

    for size in as_list(meta.get("size_categories")):
        if size not in size_categories() and size not in ("unknown", "other"):
            errors.append(f"size_categories: {size!r} is not a Hub size category")

    configs = meta.get("configs")
    if configs is not None:
        if not isinstance(configs, list):
            errors.append("configs must be a list")
        else:
            names = [c.get("config_name") for c in configs if isinstance(c, dict)]
            if len(names) != len(configs) or None in names:
                errors.append("every configs entry needs a config_name")
            if len(set(names)) != len(names):
                errors.append("configs: duplicate config_name")
            if sum(bool(c.get("default")) for c in configs if isinstance(c, dict)) > 1:
                errors.append("configs: more than one config is marked default: true")
    gated = meta.get("extra_gated_fields")
    if gated is not None and not isinstance(gated, dict):
        errors.append("extra_gated_fields must be a mapping of field name to type")
    return errors


def validate_readme(text: str) -> list[str]:
    """Validate a whole README.md (front matter and all)."""
    try:
        meta, _ = split_front_matter(text)
    except ValueError as e:
        return [str(e)]
    return validate_metadata(meta)


def redistribution_policies() -> tuple[str, ...]:
    return _REDISTRIBUTION_POLICIES


def policy_repository_errors(meta: dict) -> list[str]:
    """What is wrong with a card's `policy_repositories` (policy -> suffix of the repository that publish.py
    --split-by-policy gives that policy's configs)."""
    suffixes = meta.get("policy_repositories")
    if suffixes is None:
        return []
    if not isinstance(suffixes, dict):
        return ["policy_repositories must map a redistribution policy to a repository-name suffix"]
    return [f"policy_repositories: {policy!r}: {suffix!r} is not a policy ({', '.join(_REDISTRIBUTION_POLICIES)}) "
            "mapped to a repository-name suffix such as 'clips'"
            for policy, suffix in suffixes.items()
            if policy not in _REDISTRIBUTION_POLICIES or not isinstance(suffix, str)
            or not _REPOSITORY_SUFFIX.fullmatch(suffix)]


def strictest_policy(policies) -> str:
    """The most restrictive of several redistribution policies (public < gated < private)."""
    return max(policies, key=_REDISTRIBUTION_POLICIES.index)
