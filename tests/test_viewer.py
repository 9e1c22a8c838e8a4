"""The dataset viewer's limits, checked at build time: a rule each, and the measurements of a real build."""
from __future__ import annotations

import datasets
import pyarrow.parquet as pq
import pytest

from builders import pipeline, viewer
from builders.samples import flickr30k_entities as sample

FINE = {"largest_row_group": 1_000, "page_index": True, "features_metadata": True, "first_rows_bytes": 500}
FEATURES = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})


def test_media_fields_are_found_at_any_depth():
    features = datasets.Features({
        "images": datasets.List(datasets.Image()), "clip": {"audio": datasets.Audio(), "video": datasets.Video()},
        "page": datasets.Pdf(), "text": datasets.Value("string")})
    assert viewer.media_fields(features) == {"images[]": "Image", "clip.audio": "Audio", "clip.video": "Video",
                                             "page": "Pdf"}


def test_a_config_within_every_limit_has_no_warning():
    checked = viewer.check_config(FEATURES, {"train": FINE, "test": FINE})
    assert checked == {"columns": 2, "splits": 2, "largest_row_group_bytes": 1_000, "page_index": True,
                       "first_rows_bytes": 500, "media": {"image": "Image"}, "warnings": [], "notes": []}


@pytest.mark.parametrize("change, expected", [
    ({"largest_row_group": 300_000_001, "page_index": False},
     "a row group holds 300,000,001 bytes and the files have no page index: the viewer refuses reads over "
     "300,000,000 bytes (TooBigContentError)"),
    ({"features_metadata": False},
     "media fields image are not declared in the Parquet files' `huggingface` metadata"),
])
def test_what_would_fail_the_viewer_is_a_warning(change, expected):
    checked = viewer.check_config(FEATURES, {"train": dict(FINE, **change)})
    assert len(checked["warnings"]) == 1 and checked["warnings"][0].startswith(expected)


def test_a_large_row_group_with_a_page_index_is_readable():
    assert viewer.check_config(FEATURES, {"train": dict(FINE, largest_row_group=10**9)})["warnings"] == []


def test_column_split_and_config_counts():
    wide = datasets.Features({f"c{i}": datasets.Value("int8") for i in range(1_001)})
    assert viewer.check_config(wide, {"train": FINE})["warnings"] == [
        "1001 columns: the viewer shows at most 1000"]
    many = {f"s{i}": FINE for i in range(31)}
    assert viewer.check_config(FEATURES, many)["warnings"] == ["31 splits: the viewer shows at most 30 per config"]
    assert viewer.check_configs({f"c{i}": {} for i in range(4_001)}) == ["4001 configs: the viewer shows at most 4000"]
    assert viewer.check_configs({f"c{i}": {} for i in range(4_000)}) == []


def test_large_first_rows_are_a_note_not_a_warning():
    checked = viewer.check_config(FEATURES, {"train": dict(FINE, first_rows_bytes=250_000)})
    assert checked["warnings"] == [] and checked["notes"] == [
        "the first 100 rows weigh about 250,000 bytes as JSON: the viewer cuts their cells to fit 200,000 bytes"]


def test_a_build_reports_what_its_files_say(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw)
    report = pipeline.build("flickr30k_entities", raw, tmp_path / "out", configs=["captions"], progress=False,
                            log=lambda *a: None)
    checked = report["configs"]["captions"]["viewer"]
    files = [tmp_path / "out" / f for split in report["configs"]["captions"]["splits"].values()
             for f in split["files"]]
    footers = [pq.read_metadata(f) for f in files]
    assert checked["largest_row_group_bytes"] == max(m.row_group(i).total_byte_size
                                                     for m in footers for i in range(m.num_row_groups))
    assert checked["page_index"] is True and checked["media"] == {"image": "Image"} and checked["warnings"] == []
    first = pq.read_table(files[0], columns=["image_id", "captions", "caption_unrelated"]).to_pylist()
    assert first[0]["captions"][0] in [tree.images[first[0]["image_id"]].caption_text(k) for k in range(5)]
    assert checked["first_rows_bytes"] > len(first[0]["captions"][0])
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Dataset viewer: every config is within the viewer's limits" in card
    from builders.cards import render_card

    report["configs"]["captions"]["viewer"]["warnings"] = ["1001 columns: the viewer shows at most 1000"]
    assert "Dataset viewer, as checked at build time:\n\n- `captions`: 1001 columns: the viewer shows at most 1000\n" \
        in render_card(report)
