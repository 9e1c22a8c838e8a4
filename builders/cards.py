"""Dataset cards: what a human decided (dataset_cards/<name>.yaml) + what the build measured → README.md.

The YAML header is produced with the same helpers `push_to_hub` uses (`DatasetCardData`,
`DatasetInfosDict`, `MetadataConfigs`), so `load_dataset` reads our `configs:` and `dataset_info:`
exactly as it reads its own. The body comes from one shared Jinja2 template. The card is rendered
from build_report.json alone, so publish.py can re-render it for the repository it publishes to.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import datasets
import jinja2
import yaml
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from . import preview_spec
from .cardcheck import policy_repository_errors, redistribution_policies, size_category, validate_metadata
from .errors import ON_ERROR_CHOICES
from .outputs import human_bytes, split_sort_key

CARDS_DIR = Path(__file__).resolve().parent.parent / "dataset_cards"
TEMPLATE = "_template.md.j2"

REQUIRED_KEYS = ("pretty_name", "summary", "license", "redistribution", "redistribution_reason",
                 "applications", "task_categories", "language", "homepage", "citation", "raw_download",
                 "limitations", "biases", "repo_name", *("creators", "date_published", "data_collection",
                 "data_collection_type", "annotation_protocol", "personal_sensitive_information",
                 "out_of_scope_uses"))
"""The last seven are the Responsible-AI facts croissant.json carries (Croissant RAI): who made the data, when
it was published, how it was collected and annotated, what personal or sensitive information it holds, and
what it must not be used for. Unknowns are said plainly in the text, never left out."""
RAI_LIST_KEYS = ("data_collection_type", "personal_sensitive_information", "out_of_scope_uses",
                 "annotation_platform", "annotation_analysis", "machine_annotation_tools", "annotator_demographics")
RAI_TEXT_KEYS = ("data_collection", "annotation_protocol", "social_impact")
# The values the Croissant RAI specification recommends for rai:dataCollectionType.
COLLECTION_TYPES = ("Surveys", "Secondary Data analysis", "Physical data collection", "Direct measurement",
                    "Document analysis", "Manual Human Curator", "Software Collection", "Experiments",
                    "Web Scraping", "Web API", "Focus groups", "Self-reporting", "Customer feedback data",
                    "User-generated content data", "Passive Data Collection", "Others")
CREATOR_TYPES = ("Person", "Organization")
ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
# Hub metadata keys copied verbatim from the card file into the README YAML, in this order.
HUB_KEYS = ("license", "license_name", "license_link", "pretty_name", "language", "task_categories",
            "task_ids", "annotations_creators", "language_creators", "multilinguality",
            "source_datasets", "paperswithcode_id", "tags")


class CardError(ValueError):
    """A dataset card file (ours, not the raw data) is incomplete or invalid."""


@functools.cache
def load_card_metadata(name: str) -> dict:
    path = CARDS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise CardError(f"{path}: no card metadata for dataset {name!r}")
    meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise CardError(f"{path}: missing required keys: {', '.join(missing)}")
    if meta["redistribution"] not in redistribution_policies():
        raise CardError(f"{path}: redistribution must be one of {redistribution_policies()}")
    if meta.get("on_error", "raise") not in ON_ERROR_CHOICES:
        raise CardError(f"{path}: on_error must be one of {ON_ERROR_CHOICES}")
    if meta.get("gating", "auto") not in ("auto", "manual"):
        raise CardError(f"{path}: gating must be 'auto' or 'manual'")
    if meta["redistribution"] == "gated" and not meta.get("gating_prompt"):
        raise CardError(f"{path}: a gated dataset needs a gating_prompt")
    errors = validate_metadata({key: meta[key] for key in HUB_KEYS if key in meta})
    errors += preview_spec.check_spec(meta.get("preview"))
    errors += rai_errors(meta)
    errors += policy_repository_errors(meta)
    if errors:
        raise CardError(f"{path}: " + "; ".join(errors))
    return meta


def rai_errors(meta: dict) -> list[str]:
    """What is wrong with the card's Responsible-AI keys (the ones croissant.json carries)."""
    errors = []
    for key in RAI_LIST_KEYS:
        value = meta.get(key)
        if value is not None and not (isinstance(value, list) and value
                                      and all(isinstance(item, str) and item.strip() for item in value)):
            errors.append(f"{key} must be a non-empty list of texts")
    for key in RAI_TEXT_KEYS:
        if key in meta and not (isinstance(meta[key], str) and meta[key].strip()):
            errors.append(f"{key} must be a non-empty text")
    unknown = [kind for kind in meta.get("data_collection_type") or [] if kind not in COLLECTION_TYPES]
    if unknown:
        errors.append(f"data_collection_type: {', '.join(map(repr, unknown))} not among the Croissant RAI values "
                      f"({', '.join(COLLECTION_TYPES)})")
    creators = meta.get("creators")
    if not isinstance(creators, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip()
            and c.get("type", "Person") in CREATOR_TYPES and set(c) <= {"name", "type", "url", "affiliation"}
            for c in creators):
        errors.append("creators must be a list of {name, type: Person|Organization, url?, affiliation?}")
    dates = [meta.get("date_published"), *(meta.get("data_collection_timeframe") or [])]
    bad = [str(d) for d in dates if d is not None and not ISO_DATE.fullmatch(str(d))]
    if bad:
        errors.append(f"dates must be ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD), quoted: {', '.join(bad)}")
    if meta.get("license") == "other" and not meta.get("license_link"):
        errors.append("a licence `other` needs license_link (the licence URL croissant.json gives)")
    return errors


def default_on_error(name: str) -> str:
    """The record error policy a build of `name` uses when none is given: the card's `on_error` (web-scale
    corpora say `skip`: one upstream defect among millions of documents must not stop a cluster build),
    else `raise`."""
    return load_card_metadata(name).get("on_error", "raise")


def exclusion_list(name: str) -> Path | None:
    """The standing takedown / exclusion list of a dataset, kept beside its card, if there is one."""
    path = CARDS_DIR / f"{name}.exclude"
    return path if path.is_file() else None


def suggested_repo_id(name: str, org: str = "ORG") -> str:
    return f"{org}/{load_card_metadata(name)['repo_name']}"


def card_yaml_metadata(report: dict) -> DatasetCardData:
    """The README YAML: Hub metadata, size category, configs and dataset_info, gating fields."""
    meta = load_card_metadata(report["dataset"])
    configs = report["configs"]
    largest = max(sum(s["rows"] for s in c["splits"].values()) for c in configs.values())
    card_data = DatasetCardData(**{key: meta[key] for key in HUB_KEYS if key in meta},
                                size_categories=[size_category(largest)])
    if report["redistribution"] == "gated":  # the card's policy, or a gated config's
        if not meta.get("gating_prompt"):
            raise CardError(f"dataset_cards/{report['dataset']}.yaml: a gated config needs a gating_prompt")
        card_data["extra_gated_prompt"] = meta["gating_prompt"].strip()
        card_data["extra_gated_fields"] = meta.get("gating_fields") or {"I agree to the terms above": "checkbox"}
    if meta.get("preview"):  # how dataset pages show rows (builders/preview_spec.py); the Hub ignores the key
        card_data["preview"] = meta["preview"]
    infos = {}
    for config_name, config in configs.items():
        splits = SplitDict(dataset_name=report["dataset"])
        for split_name, split in config["splits"].items():
            splits.add(SplitInfo(name=split_name, num_bytes=split["arrow_bytes"], num_examples=split["rows"],
                                 dataset_name=report["dataset"]))
        infos[config_name] = datasets.DatasetInfo(
            features=datasets.Features._from_yaml_list(config["features"]), splits=splits,
            download_size=sum(s["parquet_bytes"] for s in config["splits"].values()),
            dataset_size=sum(s["arrow_bytes"] for s in config["splits"].values()))
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    MetadataConfigs({
        name: {"data_files": [{"split": split, "path": info.get("pattern", f"{name}/{split}-*")}
                              for split, info in config["splits"].items()],
               **({"default": True} if config["default"] else {})}
        for name, config in configs.items()
    }).to_dataset_card_data(card_data)
    errors = validate_metadata(card_data.to_dict())
    if errors:
        raise CardError("generated card metadata is invalid: " + "; ".join(errors))
    return card_data


def render_card(report: dict) -> str:
    """The whole README.md for a build report."""
    meta = load_card_metadata(report["dataset"])
    card_data = card_yaml_metadata(report)
    body = _environment().get_template(TEMPLATE).render(
        card=meta, report=report, repo_id=report["repo_id"], configs=report["configs"],
        split_names=_split_names(report), skipped=_skipped_summary(report), counted=_counted(report),
    )
    return f"---\n{card_data.to_yaml()}\n---\n\n{body.strip()}\n"


def _split_names(report: dict) -> list[str]:
    return sorted({split for config in report["configs"].values() for split in config["splits"]}, key=split_sort_key)


def _skipped_summary(report: dict) -> list[dict]:
    """Skipped records grouped by config, split and reason (the full list is in build_report.json)."""
    groups: dict[tuple, int] = {}
    for item in report.get("skipped", []):
        key = (item["config"], item.get("split") or "-", item["reason"].splitlines()[0])
        groups[key] = groups.get(key, 0) + 1
    return [{"config": c, "split": s, "reason": r, "count": n} for (c, s, r), n in sorted(groups.items())]


def _counted(report: dict) -> list[dict]:
    """Events the builders tallied (not skipped records), per config and split ("-" = while listing)."""
    rows = []
    for name, config in report["configs"].items():
        places = [("-", config.get("counts", {}))] + [(s, v.get("counts", {})) for s, v in config["splits"].items()]
        rows += [{"config": name, "split": split, "what": what, "count": n}
                 for split, counts in places for what, n in sorted(counts.items())]
    return rows


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(CARDS_DIR), undefined=jinja2.StrictUndefined,
                             extensions=["jinja2.ext.do"],
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["human_bytes"] = human_bytes
    env.filters["md_cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    return env
