"""What every builder must do, checked on each dataset's sample release (the `samples` of conftest.py).

- The builder class itself is a `datasets.ArrowBasedBuilder`: `download_and_prepare()` and `as_dataset()` with
  `data_dir` the raw tree give the rows of the pipeline build, config by config and split by split.
- A build is deterministic: building again, in one process or two, gives the same bytes; so does a build cut
  into many shard jobs per split (MANY_SHARDS), whose rows are those of one job per split.
- Every raw record read is a row or a skipped record, in every split: on the clean sample (all of them rows)
  and on the sample with bad records (`make_sample_data.py --bad-records`) built with `--on-error skip`.
- The built folder holds what its report lists, the inputs it names as they are on disk, and a card that is
  the report rendered, saying what the data holds.
- Published with scripts/publish.py to the local Hub (conftest's `published_samples`), with the access the
  report's policy asks for, every config loads with `load_dataset` as built, and the default one streams.

The per-dataset files check values (a phrase's box, a label's timestamp, a skipped record's reason); what
they would all check alike is here, for every dataset.
"""
from __future__ import annotations

import gc
import hashlib
from collections import Counter

import datasets
import pyarrow.parquet as pq
import pytest

from builders import builder_class, cards, dataset_names
from builders.cardcheck import validate_readme
from builders.croissant import CROISSANT_FILE
from builders.outputs import README_FILE, REPORT_FILE, STAGING_DIR, report_text
from conftest import MANY_SHARDS
from helpers import (SPLITS, as_loaded, assert_same_build, assert_same_rows, folder_features, loaded_rows, parquet_rows,
                     quiet_build, without_timings)

pytestmark = pytest.mark.parametrize("name", dataset_names())


def listed_files(report: dict) -> dict[str, list[str]]:
    """The Parquet files of each config/split the report lists."""
    return {f"{config}/{split}": stats["files"] for config, meta in report["configs"].items()
            for split, stats in meta["splits"].items()}


# ---- the builder class on its own ------------------------------------------------------------------------------

def test_download_and_prepare_on_the_builder_gives_the_rows_of_the_build(name, samples, tmp_path):
    tree, out, report = samples.build(name)
    for config, meta in report["configs"].items():
        builder = builder_class(name)(config_name=config, data_dir=str(tree.root), cache_dir=str(tmp_path / "cache"))
        assert isinstance(builder, datasets.ArrowBasedBuilder)
        builder.download_and_prepare(output_dir=str(tmp_path / "arrow" / config), file_format="arrow")
        assert list(builder.info.splits) == list(meta["splits"]), config
        for split in meta["splits"]:
            prepared = builder.as_dataset(split=split)
            assert prepared.features == folder_features(out, config), (config, split)
            assert_same_rows(as_loaded(prepared), loaded_rows(out, config, split), (config, split))


# ---- determinism -----------------------------------------------------------------------------------------------

def test_building_again_in_two_processes_gives_the_same_bytes(name, samples, tmp_path):
    _, out, report = samples.build(name)
    again = quiet_build(name, samples.raw(name), tmp_path / "again", num_proc=2)
    assert gc.get_freeze_count() == 0  # what was frozen for the workers' fork is the collector's again
    assert without_timings(again) == without_timings(report)
    assert_same_build(tmp_path / "again", out)  # the same rows in the same order, in the same Parquet bytes


def test_many_shard_jobs_in_one_or_two_processes_give_the_same_bytes(name, samples):
    one, two = samples.many_shards(name)
    assert max(len(files) for files in listed_files(one.report).values()) > 1  # several jobs for some split
    assert without_timings(two.report) == without_timings(one.report)
    assert_same_build(two.out, one.out)
    if not MANY_SHARDS[name].sample:  # the plain sample: the rows of one shard job per split
        _, reference, _ = samples.build(name)
        for place in listed_files(one.report):
            config, split = place.split("/")
            assert_same_rows(parquet_rows(one.out, config, split), parquet_rows(reference, config, split), place)


# ---- records read, rows and skipped records ------------------------------------------------------------------

def assert_every_record_is_accounted_for(report: dict) -> None:
    """records read = rows + records skipped + records excluded in every split (a split all of whose records were
    left out is an empty split); the skipped and excluded lists hold that many records per split."""
    for config, meta in report["configs"].items():
        for split, stats in meta["splits"].items():
            assert stats["records_read"] == stats["rows"] + stats["records_skipped"] + stats["records_excluded"], \
                (config, split)
        for split, stats in meta.get("empty_splits", {}).items():
            assert split not in meta["splits"], split
            assert stats["records_read"] == stats["records_skipped"] + stats["records_excluded"] > 0, split
        excluded = Counter()
        for item in report["excluded"]:
            if item["config"] == config:
                excluded[item["split"]] += item["count"]
        assert dict(excluded) == {split: stats["records_excluded"] for split, stats in
                                  [*meta["splits"].items(), *meta.get("empty_splits", {}).items()]
                                  if stats["records_excluded"]}, config
        per_split = {split: stats["records_skipped"] for split, stats in
                     [*meta["splits"].items(), *meta.get("empty_splits", {}).items()] if stats["records_skipped"]}
        listed = Counter(item["split"] for item in report["skipped"] if item["config"] == config and item["split"])
        assert dict(listed) == per_split, config


def test_the_clean_sample_converts_every_record(name, samples):
    _, _, report = samples.build(name)
    assert_every_record_is_accounted_for(report)
    assert report["skipped"] == []
    for meta in report["configs"].values():
        assert meta.get("empty_splits", {}) == {}
        assert all(stats["records_skipped"] == 0 for stats in meta["splits"].values())


def test_with_bad_records_every_record_read_is_a_row_or_skipped(name, samples):
    _, out, report = samples.bad_build(name)
    assert report["on_error"] == "skip" and report["skipped"]
    assert_every_record_is_accounted_for(report)
    assert_the_folder_holds_what_the_report_lists(out, report)


# ---- the built folder, its inputs, its card --------------------------------------------------------------------

def assert_the_folder_holds_what_the_report_lists(out, report: dict) -> None:
    """The report on disk as returned; the Parquet files it lists (named <config>/<split>-NNNNN-of-MMMMM),
    each split's rows in them, the features it declares; nothing else but the card and croissant.json."""
    assert (out / REPORT_FILE).read_text() == report_text(report)
    listed = listed_files(report)
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert present == {README_FILE, REPORT_FILE, CROISSANT_FILE, *(f for files in listed.values() for f in files)}
    assert not (out / STAGING_DIR).exists()
    for place, files in listed.items():
        config, split = place.split("/")
        assert files == [f"{place}-{i:05d}-of-{len(files):05d}.parquet" for i in range(len(files))]
        rows = sum(pq.ParquetFile(out / f).metadata.num_rows for f in files)
        assert rows == report["configs"][config]["splits"][split]["rows"], place
    for config, meta in report["configs"].items():
        assert b"huggingface" in pq.read_schema(out / next(iter(meta["splits"].values()))["files"][0]).metadata
        assert datasets.Features._from_yaml_list(meta["features"]) == folder_features(out, config), config


def test_the_folder_holds_what_the_report_lists_and_names_its_inputs(name, samples):
    tree, out, report = samples.build(name)
    assert_the_folder_holds_what_the_report_lists(out, report)
    inputs = {item["path"]: item for item in report["inputs"]}
    assert inputs
    for path, item in inputs.items():
        if path.endswith("/"):  # a folder: its files, counted and summed
            files = [p for p in (tree.root / path).rglob("*") if p.is_file()]
            assert (item["files"], item["bytes"]) == (len(files), sum(p.stat().st_size for p in files)), path
        else:
            data = (tree.root / path).read_bytes()
            assert (item["bytes"], item["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), path
    for item in report["unread"]:  # what was not read is there, and is not an input
        assert (tree.root / item["path"]).exists() and item["path"] not in inputs, item
        assert item["reason"], item


def md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def assert_the_card_says_what_the_report_holds(name: str, out, report: dict) -> None:
    readme = (out / README_FILE).read_text()
    assert validate_readme(readme) == []
    assert readme == cards.render_card(report)
    assert f"Redistribution policy of this build: **{report['redistribution']}**" in readme
    assert f"Error policy: `--on-error {report['on_error']}`" in readme
    configs = report["configs"]
    split_names = [split for split in SPLITS if any(split in meta["splits"] for meta in configs.values())]
    assert {split for meta in configs.values() for split in meta["splits"]} == set(split_names)
    for config, meta in configs.items():
        rows = sum(stats["rows"] for stats in meta["splits"].values())
        default = " (default)" if meta["default"] else ""
        assert f"| `{config}`{default} | {rows} | {meta['redistribution']} |" in readme, config  # Configurations
        cells = [str(meta["splits"][s]["rows"]) if s in meta["splits"] else "–" for s in split_names]
        assert f"| `{config}` | {' | '.join(cells)} |" in readme, config  # Splits
        for split, stats in meta.get("empty_splits", {}).items():
            assert f"Split `{split}` of `{config}` is absent: all {stats['records_read']} of its records were " \
                   "skipped" in readme
        for split, counts in [("-", meta.get("counts", {})),
                              *((split, stats.get("counts", {})) for split, stats in meta["splits"].items())]:
            for what, count in counts.items():  # "Also counted during the build"
                assert f"| `{config}` | {split} | {md_cell(what)} | {count} |" in readme, (config, what)
    if report["skipped"]:
        assert f"{len(report['skipped'])} raw records were skipped" in readme
        groups = Counter((item["config"], item["split"] or "-", item["reason"].splitlines()[0])
                         for item in report["skipped"])
        for (config, split, reason), count in groups.items():
            assert f"| `{config}` | {split} | {md_cell(reason)} | {count} |" in readme
    else:
        assert "None: every record of the raw release was converted." in readme
    for notice in report["notices"]:
        assert f"- {notice}" in readme
    for item in report["unread"][:50]:  # the card's table; build_report.json lists them all
        assert f"| `{md_cell(item['path'])}` | {item['files']} |" in readme, item


def test_the_card_is_the_report_rendered_and_says_what_the_data_holds(name, samples):
    _, out, report = samples.build(name)
    assert report["on_error"] == cards.default_on_error(name)  # no --on-error: the card's policy
    assert_the_card_says_what_the_report_holds(name, out, report)
    _, bad_out, bad_report = samples.bad_build(name)
    assert_the_card_says_what_the_report_holds(name, bad_out, bad_report)


# ---- the Hub round trip ----------------------------------------------------------------------------------------

def test_published_every_config_loads_from_the_hub_as_built(name, samples, local_hub, published_samples,
                                                            sample_builds, fresh_hf_home):
    repo, folder, report = published_samples[name], sample_builds[name], samples.build(name).report
    info = local_hub.api().repo_info(repo, repo_type="dataset")
    policy = report["redistribution"]
    assert (info.private, bool(info.gated)) == (policy == "private", policy == "gated")
    assert sorted(datasets.get_dataset_config_names(repo, token=local_hub.token)) == sorted(report["configs"])
    for config, meta in report["configs"].items():
        loaded = datasets.load_dataset(repo, config, token=local_hub.token)
        assert list(loaded) == list(meta["splits"]), config
        for split, part in loaded.items():
            assert part.features == folder_features(folder, config), (config, split)
            assert_same_rows(as_loaded(part), loaded_rows(folder, config, split), (config, split))
    default = next(config for config, meta in report["configs"].items() if meta["default"])
    split = next(iter(report["configs"][default]["splits"]))
    streamed = datasets.load_dataset(repo, default, split=split, streaming=True, token=local_hub.token)
    assert_same_rows(as_loaded(streamed.take(2)), loaded_rows(folder, default, split)[:2], default)
