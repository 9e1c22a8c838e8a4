"""NewsMediaBias-Plus: the builder against the sample generator's four raw forms, the real files, and bad inputs."""
from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import pickle
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import datasets
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import nmb_plus as nmb
from builders.errors import RawDataError
from builders.samples import nmb_plus as sample
from conftest import realdata_dir
from helpers import parquet_rows, quiet_build, refused_build, run_script

DATASET = "nmb_plus"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
CONFIGS = ("current", "zenodo", "v1", "vldbench", "vldbench_hub", "raw_scrape")
UTC = timezone.utc
OK, NO_IMAGE, FILE_MISSING, SVG, UNREADABLE = range(5)
CP1252_BYTES, DOUBLE_ENCODED = range(2)


def rows_by_id(out: Path, config: str) -> dict[str, dict]:
    return {row["unique_id"]: row for row in parquet_rows(out, config, "train")}


# ---- every config, value by value -------------------------------------------------------------------------

@pytest.mark.parametrize("config", CONFIGS)
def test_rows_equal_what_the_generator_wrote(built, config):
    tree, out, _ = built
    rows = parquet_rows(out, config, "train")
    assert [r["unique_id"] for r in rows] == [a.unique_id for a in tree.articles[config]]  # release order
    assert rows == tree.expected_rows(config)


def test_labels_are_normalised_across_releases_and_the_strings_kept(built):
    _, out, _ = built
    current, v1 = rows_by_id(out, "current"), rows_by_id(out, "v1")
    assert (current["1098444910"]["text_label"], current["1098444910"]["multimodal_label"]) == (1, 0)  # to Bias / to UnBias
    assert (current["1148232027"]["text_label_raw"], current["1148232027"]["multimodal_label"]) == ("Likely to be Bias", 0)
    assert current["2000000003"]["text_label"] == 1  # "LIKELY TO BIAS"
    neutral = current["2000000001"]
    assert (neutral["multimodal_label"], neutral["multimodal_label_raw"]) == (None, "Neutral")
    assert (v1["1200000003"]["text_label"], v1["1200000003"]["text_label_raw"]) == (1, "likely ")
    assert (v1["1148232027"]["text_label"], v1["1148232027"]["multimodal_label"]) == (0, 1)  # Unlikely / Likely
    assert v1["1200000004"]["text_label"] is None and v1["1200000004"]["text_label_raw"] is None
    features = datasets.Features.from_arrow_schema(pq.read_schema(out / "current" / "train-00000-of-00001.parquet"))
    assert features["text_label"].names == ["likely_unbiased", "likely_biased"]
    assert features["multimodal_label"].int2str(0) == "likely_unbiased"


def test_images_keep_the_release_bytes_with_a_status(built):
    tree, out, _ = built
    zenodo = tree.root / "zenodo" / "images"
    current = rows_by_id(out, "current")
    svg = current["2000000001"]
    assert (svg["image"], svg["image_status"], svg["image_format"]) == (None, SVG, "svg")
    assert svg["image_undecodable_bytes"] == (zenodo / "2000000001.svg").read_bytes()
    lying = current["2000000005"]  # a .jpg holding PNG bytes
    assert lying["image"] == {"bytes": (zenodo / "2000000005.jpg").read_bytes(), "path": "2000000005.png"}
    assert (lying["image_format"], lying["image_file"]) == ("png", "images/2000000005.jpg")
    nested = current["1148232027"]  # an absolute path of the authors' machine, a subfolder in the archive
    assert nested["image"]["bytes"] == (zenodo / "batch_2" / "1148232027.png").read_bytes()
    assert nested["image_file"] == "/h/vector/nmb/images/1148232027.png"
    missing = current["2000000003"]
    assert (missing["image_status"], missing["image_file"]) == (FILE_MISSING, "images/2000000003.jpg")
    assert current["2000000006"]["image_status"] == OK and current["2000000006"]["image_file"] is None  # found by id
    assert current["2000000007"]["image_status"] == NO_IMAGE
    assert current["2000000002"]["image"]["path"] == "2000000002.webp"
    corrupt = rows_by_id(out, "v1")["1200000004"]
    assert (corrupt["image"], corrupt["image_status"], corrupt["image_format"]) == (None, UNREADABLE, "jpeg")
    assert corrupt["image_undecodable_bytes"] == tree.article("v1", "1200000004").image_bytes
    logo = next(r for r in parquet_rows(out, "raw_scrape", "train") if r["headline"] == "Logo trouble")
    uid = logo["unique_id"]  # the scraper saved PNG bytes as <id>.jpg and wrote the path it saved them at
    assert logo["image_file"] == f"scrape_2024/images/{uid}.jpg"
    assert logo["image"] == {"bytes": (tree.root / "raw_scrape" / "images" / f"{uid}.jpg").read_bytes(),
                             "path": f"{uid}.png"}


def test_categories_and_scores_come_from_numpy_list_strings(built):
    _, out, _ = built
    v1 = rows_by_id(out, "v1")
    assert v1["1200000006"]["categories"] == ["Women's Health", "Arts, Culture", "Politics"]  # quotes and commas
    assert v1["1200000006"]["category_scores"] == [0.9, 0.8, 0.7]
    wrapped = v1["1200000005"]  # numpy wrapped the repr over two lines
    assert wrapped["categories"][-1] == "Opinion/Editorial" and wrapped["category_scores"] == [0.95, 0.85, 0.7, 0.65, 0.6]
    topic = v1["1200000007"]  # a plain topic label, not a list
    assert (topic["categories"], topic["category_scores"]) == (["5_bipartisan, border, border deal"], [0.87])
    assert v1["1200000004"]["categories"] == [] and v1["1200000004"]["category_scores"] == []
    assert rows_by_id(out, "vldbench")["188c8526d3"]["categories"] == ["Women's Health", "Politics"]
    vldbench = parquet_rows(out, "vldbench", "train")
    assert vldbench[0]["unique_id"] == "3a6e10c6e5" and vldbench[1]["categories"][2] == "Technology"


def test_dates_as_written_and_parsed(built):
    _, out, _ = built
    v1 = rows_by_id(out, "v1")
    assert v1["1098444910"]["published_at"] == datetime(2024, 3, 10, tzinfo=UTC)
    assert v1["1148232027"]["date_published"] == "2024-03-10 14:05:00+00:00"
    assert v1["1200000005"]["published_at"] == datetime(2024, 9, 4, 1, 26, 21, 452000, tzinfo=UTC)
    assert v1["1200000006"]["published_at"] == datetime(2024, 3, 11, 9, 0, tzinfo=UTC)  # no zone: taken as UTC
    assert (v1["1200000003"]["date_published"], v1["1200000004"]["date_published"]) == (None, None)  # "" and NaT


def test_text_encoding_repairs_are_made_and_listed(built):
    _, out, _ = built
    headline = rows_by_id(out, "v1")["1200000006"]
    assert headline["headline"] == "Trump’s “border” plan — explained"
    assert headline["text_repairs"] == [{"field": "headline", "kind": DOUBLE_ENCODED}]
    assert rows_by_id(out, "current")["2000000005"]["article_text"] == "He said “we will act” — and didn’t."
    scraped = {r["headline"]: r for r in parquet_rows(out, "raw_scrape", "train")}
    assert scraped["Café owners’ protest"]["text_repairs"] == [{"field": "headline", "kind": CP1252_BYTES}]
    modern = scraped["Modern formats"]
    assert (modern["first_paragraph"], modern["article_text"]) == ("She said “yes”.", "She said “yes” – twice.")
    assert modern["text_repairs"] == [{"field": "first_paragraph", "kind": DOUBLE_ENCODED},
                                      {"field": "article_text", "kind": DOUBLE_ENCODED}]  # in field order
    assert scraped["Voters head to the polls"]["text_repairs"] == []


def test_vldbench_multiline_text_and_the_stringified_image_column(built):
    tree, out, _ = built
    row = rows_by_id(out, "vldbench")["3a6e10c6e5"]
    assert row["article_text"] == sample.VLDBENCH_TEXT and row["article_text"].count("\n") == 4
    assert row["image"]["bytes"] == (tree.root / "VLDBench" / "images" / "3a6e10c6e5.png").read_bytes()
    assert row["image_file"] == "sample_review/images/3a6e10c6e5.png"
    missing = rows_by_id(out, "vldbench")["188c8526d3"]  # the column names an image, images/ lacks it
    assert (missing["image_status"], missing["image"]) == (FILE_MISSING, None)


def test_scraper_rows_keep_first_paragraph_and_urls(built):
    tree, out, _ = built
    article = tree.articles["raw_scrape"][0]
    row = rows_by_id(out, "raw_scrape")[article.unique_id]
    assert row["first_paragraph"] == "Line one of the story. Line two, with a comma. Line \"three\". Line four. Line five."
    assert row["article_text"].count("\n") == 5
    assert row["article_url"] == f"https://news.google.com/rss/articles/{article.unique_id}"
    assert "text_label" not in row


def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: cc-by-nc-2.0" in readme and "extra_gated_prompt:" in readme
    # rows without a decodable image are counted per status in the card
    assert report["configs"]["current"]["splits"]["train"]["counts"] == {
        "image_status file_missing": 1, "image_status no_image": 1, "image_status ok": 5, "image_status svg": 1}
    assert "| `current` | train | image_status svg | 1 |" in readme
    assert "raza2024vilbias" in readme and "arXiv:2502.11361" in readme
    assert "| `image_status` | class_label (ok, no_image, file_missing, svg, unreadable) |" in readme
    assert "| `text_repairs[].kind` | class_label (cp1252_bytes, double_encoded_utf8) |" in readme
    assert 'load_dataset("ORG/newsmediabias-plus", "vldbench")' in readme
    assert "| `current` (default) | 8 | gated |" in readme
    assert "task_categories:\n- text-classification" in readme
    assert sorted(report["configs"]) == sorted(CONFIGS)
    for config in CONFIGS:
        assert report["configs"][config]["splits"]["train"]["rows"] == len(tree.articles[config])
    inputs = {i["path"] for i in report["inputs"]}
    assert {"gen_b/data/dataset_cleaned.parquet", "zenodo/", "zenodo/dataset_with_labels.parquet",
            "VLDBench/data/metadata.csv", "raw_scrape/scrapped_data.csv", "raw_scrape/the_babylon_bee_data.csv",
            "gen_a/data/train-00001-of-00002.parquet", "vldbench_hub/data/train-00000-of-00001.parquet"} <= inputs
    assert "raw_scrape/deduped.csv" not in inputs  # news_scrapper.py's list of seen ids is not an article table


def test_loads_with_datasets_and_every_row_decodes(built):
    _, out, _ = built
    ds = datasets.load_dataset(str(out), "current", split="train")
    assert [row["image"].size if row["image"] else None for row in ds] == \
        [(64, 48), (40, 30), None, (50, 40), None, (30, 20), (20, 20), None]
    assert ds.features["image_status"].int2str(ds[2]["image_status"]) == "svg"
    v1 = datasets.load_dataset(str(out), "v1", split="train")
    assert v1[0]["published_at"] == datetime(2024, 3, 10, tzinfo=UTC)


# ---- the Zenodo download, VLDBench on the Hub, the scraper's text files ---------------------------------------

def zenodo_image(raw: Path, name: str) -> bytes:
    """An image of the Zenodo download, extracted or inside the archive."""
    folder = raw / "zenodo"
    if (folder / name).is_file():
        return (folder / name).read_bytes()
    with zipfile.ZipFile(folder / "images.zip") as archive:
        return archive.read(name)


@pytest.mark.parametrize("zenodo_as", ["dir", "zip"])
def test_the_zenodo_download_alone_builds(tmp_path, zenodo_as):
    tree = sample.make(tmp_path / "full", zenodo_as=zenodo_as)
    raw = tmp_path / "raw"
    shutil.copytree(tmp_path / "full" / "zenodo", raw / "zenodo")  # what a user with only the record has
    report = quiet_build(DATASET, raw, tmp_path / "out")
    assert list(report["configs"]) == ["zenodo"]
    rows = rows_by_id(tmp_path / "out", "zenodo")
    assert list(rows) == [a.unique_id for a in tree.articles["zenodo"]]
    cnn = rows["1098444910"]
    assert cnn["image"] == {"bytes": zenodo_image(raw, "images/1098444910.jpg"), "path": "1098444910.jpg"}
    assert (cnn["image_file"], cnn["text_label_raw"], cnn["text_label"]) == ("images/1098444910.jpg", "Unlikely", 0)
    assert (cnn["categories"], cnn["published_at"]) == (["Politics", "National"], datetime(2024, 3, 10, tzinfo=UTC))
    assert json.loads(cnn["other_columns"]) == {"bertopics": "5_bipartisan, border, border deal"}
    assert rows["2000000009"]["image"]["bytes"] == zenodo_image(raw, "images/2000000009.png")  # only Zenodo has it
    assert rows["2000000006"]["image_status"] == OK and rows["2000000006"]["image_file"] is None  # found by its id
    assert rows["1148232027"]["image"]["bytes"] == zenodo_image(raw, "images/batch_2/1148232027.png")
    assert rows["2000000003"]["image_status"] == FILE_MISSING and rows["2000000001"]["image_status"] == SVG
    assert "zenodo: zenodo/dataset_with_labels.parquet: 1 column(s) no field stands for, kept in `other_columns`: " \
           "bertopics" in report["notices"]
    unused = {"dir": {"zenodo/images/2000000002.webp", "zenodo/images/2000000005.jpg", "zenodo/images/2999999999.jpg"},
              "zip": set()}[zenodo_as]  # gen_b's images, and one of nobody's; a zip is read as a whole
    assert {u["path"] for u in report["unread"]} == unused
    assert any("3 image file(s) (or archive members) belong to no article" in n for n in report["notices"])


def test_archive_members_that_are_not_images_are_named(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root / "zenodo", raw / "zenodo")
    with zipfile.ZipFile(raw / "zenodo" / "images.zip", "w") as archive:
        archive.writestr("images/README.txt", "the images of the record")
        archive.writestr("__MACOSX/images/._2000000009.png", b"\x00\x05\x16\x07")
        archive.writestr("images/2000000009.png", (raw / "zenodo" / "images" / "2000000009.png").read_bytes())
    (raw / "zenodo" / "images" / "2000000009.png").unlink()
    report = quiet_build(DATASET, raw, tmp_path / "out")
    assert rows_by_id(tmp_path / "out", "zenodo")["2000000009"]["image"]["bytes"].startswith(b"\x89PNG")
    assert "zenodo: zenodo: 2 archive member(s) that are not images, not read: images.zip:__MACOSX/images/" \
           "._2000000009.png, images.zip:images/README.txt" in report["notices"]


def test_the_zenodo_table_and_the_current_release_share_one_image_folder(built):
    tree, out, report = built
    zenodo, current = rows_by_id(out, "zenodo"), rows_by_id(out, "current")
    for uid in ("1098444910", "1148232027", "2000000006"):
        assert zenodo[uid]["image"] == current[uid]["image"] and zenodo[uid]["image"]["bytes"]
    assert [u["path"] for u in report["unread"] if u["path"].startswith("zenodo/")] == ["zenodo/images/2999999999.jpg"]


def test_vldbench_hub_embedded_images_are_copied_verbatim(built):
    tree, out, _ = built
    source = pq.read_table(tree.root / "vldbench_hub" / "data" / "train-00000-of-00001.parquet").to_pylist()
    rows = parquet_rows(out, "vldbench_hub", "train")
    assert [r["unique_id"] for r in rows] == [s["unique_id"] for s in source]
    png, jpeg, none = rows
    assert png["image"] == {"bytes": source[0]["image"]["bytes"], "path": "3a6e10c6e5.png"}
    assert png["image_file"] == "3a6e10c6e5.png" and png["image"]["bytes"].startswith(b"\x89PNG")
    assert jpeg["image"] == {"bytes": source[1]["image"]["bytes"], "path": "ab71f6bece.jpg"} and jpeg["image_file"] is None
    assert (none["image"], none["image_status"]) == (None, NO_IMAGE)
    # the card's single-category columns
    assert (png["categories"], png["category_scores"], jpeg["categories"]) == (["Politics"], [0.95], ["Business and Finance"])
    assert (png["multimodal_label"], jpeg["text_label"]) == (1, 0) and png["article_text"] == sample.VLDBENCH_TEXT


def test_otherlist_rows_read_their_text_from_the_file_content_names(built):
    tree, out, _ = built
    rows = rows_by_id(out, "raw_scrape")
    others = [a for a in tree.articles["raw_scrape"] if a.scraper == "otherlist"]
    assert len(others) == 3
    for article in others:
        row = rows[article.unique_id]
        text = (tree.root / "raw_scrape" / "content" / f"{article.unique_id}.txt").read_text(encoding="utf-8")
        assert (row["article_text"], row["article_text_file"]) == (text, f"bad_data_2/content/{article.unique_id}.txt")
    lawn = rows[hashlib.sha256(b"Area Man Declares Victory Over Lawn").hexdigest()[:10]]
    assert lawn["article_text"] == sample.OTHERLIST_TEXT and lawn["article_text"].count("\n") == 6
    assert lawn["first_paragraph"].startswith('LAWN, USA — A local man said Saturday that he had "finally won"')
    assert lawn["image_file"] == f"{lawn['unique_id']}.jpg"  # otherlist writes the bare file name
    assert lawn["image"]["bytes"] == (tree.root / "raw_scrape" / "images" / lawn["image_file"]).read_bytes()
    latte = next(r for r in rows.values() if r["headline"] == "Local Café Launches ‘Unity’ Latte")
    assert latte["article_text"] == "The café — “unity” for $7.\nNobody asked." and latte["text_repairs"] == []
    assert latte["image"]["path"].endswith(".png")  # PNG bytes that urlretrieve saved as .jpg
    assert not any(r["article_text"].lower().endswith(".txt") for r in rows.values())  # never a path as text
    assert all(rows[a.unique_id]["article_text_file"] is None for a in tree.articles["raw_scrape"]
               if a.scraper == "news_scrapper")


def test_a_missing_text_file_is_a_located_error(tmp_path):
    tree = sample.make(tmp_path / "raw")
    article = next(a for a in tree.articles["raw_scrape"] if a.scraper == "otherlist")
    (tmp_path / "raw" / "raw_scrape" / "content" / f"{article.unique_id}.txt").unlink()
    line = tree.lines[("raw_scrape", article.unique_id)]
    refused_build("nmb_plus", tmp_path / "raw", tmp_path / "o", "--config", "raw_scrape",
                  expected=f"raw_scrape/{sample.OTHERLIST_CSV}:{line} (record {article.unique_id}): `content` names "
                           f"the text file 'bad_data_2/content/{article.unique_id}.txt', which is neither")


def test_content_paths_are_told_from_text_and_found_next_to_the_csv(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "abc.txt").write_text("x")
    found = tmp_path / "content" / "abc.txt"
    for written in ("bad_data_2/content/abc.txt", "content/abc.txt", "/home/someone/out/content/abc.txt",
                    "C:\\scrape\\content\\abc.txt", "../../content/abc.txt"):
        assert nmb.locate_content_file(nmb.content_file_name(written), tmp_path) == found, written
    assert nmb.locate_content_file("bad_data_2/content/other.txt", tmp_path) is None
    for text in ("The article.", "Read the notes.txt\nand more", "", None):
        assert nmb.content_file_name(text) is None, text


# ---- nothing is left unread or unmapped silently -------------------------------------------------------------

def test_every_raw_path_not_read_is_reported_with_its_reason(built):
    _, _, report = built
    unread = {u["path"]: u["reason"] for u in report["unread"]}
    assert set(unread) == {"VLDBench/README.md", "VLDBench/data/load-data.py", "VLDBench/data/metadata.json",
                           "VLDBench/data/metadata.parquet", "VLDBench/images/0000fddd6f.png", "raw_scrape/deduped.csv",
                           "vldbench_hub/.gitattributes", "vldbench_hub/README.md", "zenodo/images/2999999999.jpg"}
    assert unread["VLDBench/data/metadata.json"].startswith("VLDBench ships one table in three formats")
    assert "cut off at 7,428 bytes" in unread["VLDBench/data/metadata.parquet"]
    assert unread["raw_scrape/deduped.csv"].startswith("news_scrapper.py's dedupe list")
    assert unread["VLDBench/README.md"] == unread["vldbench_hub/README.md"] == nmb.NOT_READ[0][1]
    assert unread["VLDBench/images/0000fddd6f.png"] == "an image file no article of config 'vldbench' names"
    assert unread["zenodo/images/2999999999.jpg"] == "an image file no article of config 'current' names"
    assert "vldbench: VLDBench/images: 1 image file(s) (or archive members) belong to no article of this config's " \
           "table: not read (listed with the unread raw paths)" in report["notices"]


def test_files_of_configs_not_built_and_unknown_files_are_reported(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    (raw / "raw_scrape" / "notes.xlsx").write_bytes(b"PK\x03\x04")
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["raw_scrape"])
    unread = {u["path"]: u for u in report["unread"]}
    assert unread["raw_scrape/notes.xlsx"]["reason"].startswith("not recognised by this builder")
    def reason(path: str) -> str:  # a folder none of whose files is read may be listed as one entry
        return next(u["reason"] for p, u in unread.items() if path == p or (p.endswith("/") and path.startswith(p)))
    assert reason("gen_b/data/dataset_cleaned.parquet").startswith("read by config 'current', which this build did not")
    assert reason("gen_a/data/train-00001-of-00002.parquet").startswith("read by config 'v1'")
    assert reason("VLDBench/data/metadata.csv").startswith("read by config 'vldbench'")
    assert reason("zenodo/images/1098444910.jpg").startswith("read by config 'current'")
    assert reason("zenodo/images/2000000009.png").startswith("read by config 'zenodo'")  # only Zenodo's table names it
    assert not any(path.startswith(("raw_scrape/content/", "raw_scrape/images/")) for path in unread)


def test_unmapped_columns_are_kept_with_their_values_and_named(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    path = raw / "gen_b" / "data" / "dataset_cleaned.parquet"
    table = pq.read_table(path)
    count = table.num_rows
    table = table.append_column("date_published", pa.array(["2024-03-10"] * count))  # a field `current` has not
    table = table.append_column("thumbnail", pa.array([b"\x00\xff"] * count, pa.binary()))
    pq.write_table(table, path)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["current"])
    row = rows_by_id(tmp_path / "out", "current")["1098444910"]
    assert json.loads(row["other_columns"]) == {"date_published": "2024-03-10", "thumbnail": {"base64": "AP8="}}
    assert "current: gen_b/data/dataset_cleaned.parquet: 2 column(s) no field stands for, kept in `other_columns`: " \
           "date_published, thumbnail" in report["notices"]
    assert "date_published, thumbnail" in (tmp_path / "out" / "README.md").read_text()


def test_the_config_not_built_takes_the_planners_index_of_the_same_image_folder(built, tmp_path, monkeypatch):
    """Building `current` alone, the unread scan asks what `zenodo` would read: the same zenodo/ folder's index is
    taken from the planner, not made again, and what it finds is the same."""
    tree, _, _ = built
    made, make = [], nmb.ImageStore.__init__

    def counted(store, root):
        made.append(Path(root).relative_to(tree.root).as_posix())
        make(store, root)

    monkeypatch.setattr(nmb.ImageStore, "__init__", counted)
    report = quiet_build(DATASET, tree.root, tmp_path / "out", configs=["current"])
    assert made.count("zenodo") == 1 and made.count("VLDBench/images") == 1  # vldbench's folder is its own
    reasons = {u["path"]: u["reason"] for u in report["unread"]}
    only_zenodo = "read by config 'zenodo', which this build did not make: it was not asked for (--config)"
    assert reasons["zenodo/dataset_with_labels.parquet"] == only_zenodo
    assert "zenodo/images/1098444910.jpg" not in reasons  # read by `current`
    # 2000000009 is named by a Zenodo article only: the config that reads it is named rather than the built
    # config's own reason, which is left for files no config reads
    assert reasons["zenodo/images/2000000009.png"] == only_zenodo
    assert reasons["zenodo/images/2999999999.jpg"] == "an image file no article of config 'current' names"

    def builder(config):
        return nmb.NmbPlus(config_name=config, data_dir=str(tree.root))
    assert builder("zenodo").shares_state_with("current") and builder("current").shares_state_with("zenodo")
    assert not builder("vldbench").shares_state_with("current") and not builder("current").shares_state_with("v1")
    assert not builder("v1").shares_state_with("vldbench_hub")  # both embed their images: no state


# ---- other raw layouts and sharding give the same rows -------------------------------------------------------

@pytest.mark.parametrize("zenodo_as,vldbench_as", [("zip", "parquet"), ("dir", "json")])
def test_zenodo_zip_and_vldbench_formats_give_the_same_rows(built, tmp_path, zenodo_as, vldbench_as):
    _, reference, _ = built
    sample.make(tmp_path / "raw", zenodo_as=zenodo_as, vldbench_as=vldbench_as)
    assert not (tmp_path / "raw" / "VLDBench" / "data" / "metadata.csv").exists()
    assert (tmp_path / "raw" / "zenodo" / "images").exists() == (zenodo_as == "dir")
    quiet_build(DATASET, tmp_path / "raw", tmp_path / "out", configs=["current", "vldbench"])
    for config in ("current", "vldbench"):
        assert parquet_rows(tmp_path / "out", config, "train") == parquet_rows(reference, config, "train")


def test_csv_shards_of_two_records_start_inside_the_file(samples):
    """The sample in shards of 2 records (conftest's MANY_SHARDS; test_contract.py builds it in one process and
    in two, and compares its rows with those of one shard per split)."""
    (_, _, report), _ = samples.many_shards(DATASET)
    raw_scrape = report["configs"]["raw_scrape"]["splits"]["train"]
    assert len(raw_scrape["files"]) == 4 + 2  # 7 rows in one CSV, 3 in the other


def write_table_file(path: Path, ids: list[str], row_group_size: int) -> None:
    texts = [f"article {unique_id} " * 50 for unique_id in ids]  # several pages per column chunk
    pq.write_table(pa.table({"unique_id": ids, "headline": [f"h{i}" for i in ids], "article_text": texts}), path,
                   row_group_size=row_group_size, data_page_size=4096)


def shard_ids(shard: nmb.ParquetRows) -> list[str]:
    return [record["unique_id"] for _, _, record in nmb.iter_records(shard, {"unique_id", "headline"})]


def test_parquet_shard_jobs_read_their_rows_forward_in_any_order(tmp_path):
    """Jobs cut a row group in many places; a thread's reader keeps its place for the next job, and starts the
    group again for a job before it (a rerun, a worker given jobs out of order) or after the file changed."""
    path = tmp_path / "dataset_cleaned.parquet"
    ids = [f"{i:010d}" for i in range(2_345)]
    write_table_file(path, ids, row_group_size=1_000)  # groups of 1,000, 1,000 and 345 rows
    cuts = [(0, 1), (1, 250), (250, 999), (999, 1_001), (1_001, 2_000), (2_000, 2_345)]
    shards = [nmb.ParquetRows(str(path), start, stop) for start, stop in cuts]
    for order in (cuts, cuts[::-1], cuts[1::2] + cuts[::2], [cuts[3], cuts[3], cuts[2]]):
        for start, stop in order:
            assert shard_ids(nmb.ParquetRows(str(path), start, stop)) == ids[start:stop]
    early = nmb.iter_records(shards[2], {"unique_id"})
    assert [next(early)[2]["unique_id"] for _ in range(3)] == ids[250:253]
    early.close()  # a job that stops early: the next job after it, and one before it, still get their rows
    assert shard_ids(shards[3]) == ids[999:1_001] and shard_ids(shards[2]) == ids[250:999]

    names = [f"x{i:09d}" for i in range(2_345)]
    write_table_file(path, names, row_group_size=1_000)
    os.utime(path, ns=(0, 10**18))  # a rewrite within the mtime's resolution is told apart by it too
    assert shard_ids(shards[3]) == names[999:1_001]  # after the rows of the last job read from the old file
    assert shard_ids(shards[1]) == names[1:250]


def test_parquet_readers_are_the_threads_own(tmp_path):
    path = tmp_path / "dataset_cleaned.parquet"
    ids = [f"{i:010d}" for i in range(3_000)]
    write_table_file(path, ids, row_group_size=3_000)
    jobs = [nmb.ParquetRows(str(path), start, start + 300) for start in range(0, 3_000, 300)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        read = list(pool.map(shard_ids, jobs + jobs[::-1]))
    assert read == [ids[job.start:job.stop] for job in jobs + jobs[::-1]]


def test_a_damaged_row_group_is_a_located_error(tmp_path):
    path = tmp_path / "dataset_cleaned.parquet"
    ids = [f"{i:010d}" for i in range(2_000)]
    write_table_file(path, ids, row_group_size=1_000)
    metadata = pq.read_metadata(path)
    text = metadata.row_group(1).column(2)  # article_text of the second group: its pages' bytes overwritten
    data = bytearray(path.read_bytes())
    start = text.data_page_offset + 100
    data[start:start + 2_000] = b"\xff" * 2_000
    path.write_bytes(bytes(data))
    assert shard_ids(nmb.ParquetRows(str(path), 0, 1_000)) == ids[:1_000]
    with pytest.raises(RawDataError) as caught:
        list(nmb.iter_records(nmb.ParquetRows(str(path), 1_000, 2_000), {"unique_id", "article_text"}))
    assert caught.value.path == str(path) and "row group 1 cannot be read" in str(caught.value)
    assert "download it again" in str(caught.value)


def test_scale_adds_plain_articles_with_photo_sized_images(tmp_path):
    tree = sample.make(tmp_path / "raw", scale=3)
    added = tree.articles["current"][-3:]
    assert all(80_000 < len(a.image_bytes) < 400_000 and len(a.article_text) >= 3_000 for a in added)
    quiet_build(DATASET, tmp_path / "raw", tmp_path / "out", configs=["current"])
    rows = rows_by_id(tmp_path / "out", "current")
    assert rows[added[0].unique_id]["image"]["bytes"] == added[0].image_bytes


# ---- pure parsers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("Likely", 1), ("Unlikely", 0), ("likely ", 1), (" UNLIKELY", 0), ("Likely to Bias", 1), ("Likely to UnBias", 0),
    ("Likely to be Bias", 1), ("Likely to be Unbiased", 0), ("likely_to_unbias", 0), ("Neutral", None), ("", None),
    (None, None), (float("nan"), None),
])
def test_normalise_label(value, expected):
    assert nmb.normalise_label(value) == expected


def test_parse_category_and_score_lists():
    assert nmb.parse_category_list("['Politics' 'National'\n 'Opinion/Editorial']", "c") == \
        ["Politics", "National", "Opinion/Editorial"]
    assert nmb.parse_category_list("['a', \"it's\"]", "c") == ["a", "it's"]  # a Python list repr
    assert nmb.parse_category_list("[]", "c") == [] and nmb.parse_category_list(None, "c") == []
    assert nmb.parse_score_list("[0.95 0.7  0.6 ]", "s") == [0.95, 0.7, 0.6]
    assert nmb.parse_score_list("[0.9, 0.8]", "s") == [0.9, 0.8] and nmb.parse_score_list(0.5, "s") == [0.5]
    with pytest.raises(RawDataError, match="unexpected 'Politics'"):
        nmb.parse_category_list("[Politics]", "new_categories")
    with pytest.raises(RawDataError, match="not a list of numbers"):
        nmb.parse_score_list("[0.9 high]", "scores")


def test_parse_published():
    assert nmb.parse_published("2024-03-10 14:05:00+02:00") == \
        ("2024-03-10 14:05:00+02:00", datetime(2024, 3, 10, 12, 5, tzinfo=UTC))
    assert nmb.parse_published("NaT") == (None, None) and nmb.parse_published("  ") == (None, None)
    assert nmb.parse_published("last Tuesday") == ("last Tuesday", None)


def test_repair_text_leaves_ordinary_text_alone():
    for text in ("café Pokémon™ naïve – “quoted”", "Ã alone", "résumé, Ångström, 10 °C, 5 €"):
        assert nmb.repair_text(text, prose=True) == (text, [])
    assert nmb.repair_text(sample.double_encode("Zoë’s café"), prose=True) == ("Zoë’s café", ["double_encoded_utf8"])
    assert nmb.repair_text(sample.double_encode("“x”"), prose=False) == (sample.double_encode("“x”"), [])
    escaped = "Caf\xe9".encode("cp1252").decode("utf-8", "surrogateescape")
    assert nmb.repair_text(escaped, prose=False) == ("Café", ["cp1252_bytes"])


def test_inspect_image_reads_the_bytes_not_the_extension():
    png = sample.image_bytes(sample.Img("png", (7, 5)), seed=1)
    assert nmb.inspect_image(png) == ("png", "ok", (7, 5))
    assert nmb.inspect_image(png[:40]) == ("png", "unreadable", None)
    assert nmb.inspect_image(b"\xef\xbb\xbf  " + sample.SVG) == ("svg", "svg", None)
    assert nmb.inspect_image(b"<html>not found</html>") == (None, "unreadable", None)
    assert nmb.inspect_image(b"") == (None, "unreadable", None)


def test_parse_pil_repr_and_safe_relative_paths():
    assert nmb.parse_pil_repr("<PIL.JpegImagePlugin.JpegImageFile image mode=RGB size=224x117 at 0x7D6BA13E4E50>") == \
        ("jpeg", 224, 117)
    assert nmb.parse_pil_repr("images/1.png") is None
    assert nmb._safe_relative("../../etc/passwd") == "etc/passwd"
    assert nmb._safe_relative("C:\\data\\images\\1.jpg") == "data/images/1.jpg"


# ---- the fast paths against the reference -------------------------------------------------------------------

def reference_image_locations(root: Path) -> dict[str, tuple[str, str] | None]:
    """ImageStore's index as it was first made, through rglob and Paths (the reference for the scan on text):
    None for a file below root (read at root/relative), (archive, member) for a zip's member."""
    store = nmb.ImageStore.__new__(nmb.ImageStore)
    store.root, store.locations, store.not_images = root, {}, []
    files = (p for p in root.rglob("*") if p.is_file() and nmb.is_image_candidate(p.relative_to(root).as_posix()))
    for path in sorted(files):
        if PurePosixPath(path.name).suffix.lower() == ".zip":  # members as zipfile lists them
            with zipfile.ZipFile(path) as archive:
                members = sorted(m for m in archive.namelist() if not m.endswith("/"))
            for member in (m for m in members if nmb.is_image_candidate(m)):
                store.locations.setdefault(member, (str(path), member))
        else:
            store.locations[path.relative_to(root).as_posix()] = None
    return store.locations


def test_the_image_index_is_the_one_rglob_and_paths_made(built, tmp_path):
    """Sorted as Paths sort ('a/b' before 'a-b'), hidden files, READMEs and tables left out, a zip's members,
    a link to a file kept and a linked folder not entered."""
    tree, _, _ = built
    root = Path(shutil.copytree(tree.root / "zenodo", tmp_path / "zenodo"))
    for relative in ("a/b.jpg", "a-b.jpg", "a/c/d.png", ".hidden/e.jpg", "f/.g.jpg", "README", "h/readme.md",
                     "i/table.parquet", "j.JPEG", "k", "l.", ".m"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    with zipfile.ZipFile(root / "more.ZIP", "w") as archive:
        archive.writestr("n/o.jpg", b"x")
        archive.writestr("n/README.txt", b"x")
        archive.writestr("n/", b"")
        archive.writestr("n/é.jpg", b"x")
        archive.writestr("n/Z.png", b"x")
    (root / "linked.jpg").symlink_to(root / "a" / "b.jpg")
    (root / "linked-folder").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    store = nmb.ImageStore(root)
    assert store.locations == reference_image_locations(root)
    assert list(store.locations) == list(reference_image_locations(root))  # the order decides by_name and by_stem
    assert "linked.jpg" in store.locations and not any(k.startswith("linked-folder") for k in store.locations)
    assert store.not_images == ["more.ZIP:n/README.txt"]
    assert store.file_of("a/c/d.png") == str(root / "a" / "c" / "d.png") and store.file_of("n/o.jpg") == str(root / "more.ZIP")
    assert store.read("a/c/d.png") == (str(root / "a" / "c" / "d.png"), b"x")
    assert store.read("linked.jpg") == (str(root / "linked.jpg"), b"x")


def test_images_read_from_a_zip_and_one_gone_since_planning_is_a_located_error(tmp_path):
    root = tmp_path / "zenodo"
    root.mkdir()
    with zipfile.ZipFile(root / "images.zip", "w") as archive:
        archive.writestr("images/1.jpg", b"\xff\xd8 one")
        archive.writestr("images/2.png", b"\x89PNG two")
    store = nmb.ImageStore(root)
    assert store.read("images/2.png") == (f"{root / 'images.zip'}:images/2.png", b"\x89PNG two")
    with zipfile.ZipFile(root / "images.zip", "w") as archive:  # rewritten after the index was made
        archive.writestr("images/2.png", b"\x89PNG two")
    with pytest.raises(RawDataError, match="no image images/1.jpg in the archive any more") as error:
        fresh = pickle.loads(pickle.dumps(store))  # a shard job's copy: opens the archive as it is now
        fresh.read("images/1.jpg")
    assert error.value.path == str(root / "images.zip")


def test_the_shard_jobs_take_the_planners_image_index(built):
    tree, _, _ = built
    planner = nmb.NmbPlus(config_name="current", data_dir=str(tree.root))
    state = planner.shared_state()
    assert state["images"] is planner.images
    planner.images.read(next(iter(planner.images.locations)))  # an archive opened by a read is not pickled
    copy = pickle.loads(pickle.dumps(state))["images"]
    assert copy.locations == planner.images.locations and copy._archives == {}
    job = nmb.NmbPlus(config_name="current", data_dir=str(tree.root))
    job.adopt_shared_state(state)
    assert job.images is planner.images
    assert nmb.NmbPlus(config_name="v1", data_dir=str(tree.root)).shared_state() is None  # images embedded


# ---- bad inputs through the CLI: exit 2, the file and record named --------------------------------------------

def expected_skip(tree, config: str, article) -> tuple:
    """(config, file, record, line, reason) of a record the build must reject, from the generator's data."""
    if config in ("current", "zenodo", "v1"):
        file = {"current": "gen_b/data/dataset_cleaned.parquet", "zenodo": "zenodo/dataset_with_labels.parquet",
                "v1": "gen_a/data/train-00000-of-00002.parquet"}[config]
        return config, file, article.unique_id or f"row {tree.articles[config].index(article)}", None, article.rejected
    if article.claimed_size:  # the error is about the image file, not about a line of the CSV
        return config, f"VLDBench/images/{article.unique_id}.png", article.unique_id, None, article.rejected
    file = ("VLDBench/data/metadata.csv" if config == "vldbench" else "raw_scrape/scrapped_data.csv"
            if article.scraper == "news_scrapper" else f"raw_scrape/{sample.OTHERLIST_CSV}")
    return config, file, article.unique_id or None, tree.lines[(config, article.unique_id)], article.rejected


@pytest.mark.parametrize("config", [c for c in CONFIGS if c != "vldbench_hub"])  # each with a bad record
def test_a_bad_record_stops_the_build_naming_file_and_record(bad_tree, tmp_path, config):
    _, file, record, line, reason = expected_skip(bad_tree, config, bad_tree.rejected(config)[0])
    location = file + (f":{line}" if line else "") + (f" (record {record})" if record else "")
    refused_build("nmb_plus", bad_tree.root, tmp_path / "o", "--config", config, expected=f"{location}: {reason}")


def test_skip_lists_every_bad_record_and_the_card_counts_them(bad_tree, tmp_path):
    result = run_script("build.py", "nmb_plus", "--data-dir", bad_tree.root, "--output", tmp_path / "o",
                        "--on-error", "skip", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "o" / "build_report.json").read_text())
    assert {(s["config"], s["file"], s["record"], s["line"], s["reason"]) for s in report["skipped"]} == \
        {expected_skip(bad_tree, config, article) for config in CONFIGS for article in bad_tree.rejected(config)}
    for config in CONFIGS:
        split = report["configs"][config]["splits"]["train"]
        assert split["records_read"] == len(bad_tree.articles[config])
        assert split["records_skipped"] == len(bad_tree.rejected(config))
        assert [r["unique_id"] for r in parquet_rows(tmp_path / "o", config, "train")] == \
            [r["unique_id"] for r in bad_tree.expected_rows(config)]
    readme = (tmp_path / "o" / "README.md").read_text()
    assert "7 raw records were skipped" in readme
    assert "| `vldbench` | train | the record has 15 fields but the header has 14 | 1 |" in readme


def _broken_tree(tmp_path: Path, breakage: str) -> Path:
    raw = tmp_path / "raw"
    sample.make(raw, vldbench_as="json" if breakage == "truncated json" else "csv")
    if breakage == "truncated json":
        path = raw / "VLDBench" / "data" / "metadata.json"
        path.write_bytes(path.read_bytes()[:1500])
    elif breakage == "corrupt parquet":
        path = raw / "gen_b" / "data" / "dataset_cleaned.parquet"
        path.write_bytes(path.read_bytes()[:-200])
    elif breakage == "missing label column":
        path = raw / "gen_b" / "data" / "dataset_cleaned.parquet"
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["nlp_label"]), path)
    elif breakage == "unclosed quote":
        path = raw / "raw_scrape" / "scrapped_data.csv"
        path.write_bytes(path.read_bytes() + b'ffffffffff,CNN,"A title that never ends\n')
    elif breakage == "missing images":
        shutil.rmtree(raw / "zenodo")
    return raw


@pytest.mark.parametrize("breakage,config,expected", [
    ("truncated json", "vldbench", "VLDBench/data/metadata.json:"),
    ("corrupt parquet", "current", "gen_b/data/dataset_cleaned.parquet: not a readable Parquet file"),
    ("missing label column", "current", "dataset_cleaned.parquet: no column for text_label"),
    ("unclosed quote", "raw_scrape", "raw_scrape/scrapped_data.csv:{last_line}: malformed CSV"),
    ("missing images", "current", "zenodo/: the images of Zenodo record 13961155"),
])
def test_a_bad_file_stops_the_build_whatever_the_policy(tmp_path, breakage, config, expected):
    raw = _broken_tree(tmp_path, breakage)
    result = run_script("build.py", "nmb_plus", "--data-dir", raw, "--output", tmp_path / "o", "--config", config,
                        "--on-error", "skip", "--quiet")
    assert result.returncode == 2, result.stderr
    last_line = (raw / "raw_scrape" / "scrapped_data.csv").read_bytes().count(b"\n")  # where the appended record starts
    assert expected.format(last_line=last_line) in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    if breakage == "truncated json":
        assert "the JSON ends" in result.stderr and "byte offset" in result.stderr and "truncated" in result.stderr
    if breakage == "missing images":
        assert "zenodo.org/records/13961155" in result.stderr  # the download steps


# ---- real files -----------------------------------------------------------------------------------------------------

REAL_IMAGES = ["3a6e10c6e5", "ab71f6bece", "188c8526d3", "f20e7a8fd6", "9904a077c9"]


def test_real_vldbench_metadata_csv_builds_with_its_images(tmp_path):
    real = realdata_dir("newsmediabias_plus")
    report = quiet_build(DATASET, real, tmp_path / "out")
    assert list(report["configs"]) == ["vldbench"]  # the other forms are not in the real sample
    assert {u["path"]: u["reason"][:15] for u in report["unread"]} == {  # the UI test CSV is not a release file
        "Newsmediabias-plus/": "not recognised ", "VLDBench/data/metadata.json": "VLDBench ships ",
        "VLDBench/data/metadata.parquet": "VLDBench ships "}
    rows = parquet_rows(tmp_path / "out", "vldbench", "train")
    assert len(rows) == 500 and [r["unique_id"] for r in rows[:5]] == REAL_IMAGES
    for row in rows[:5]:
        data = (real / "VLDBench" / "images" / f"{row['unique_id']}.png").read_bytes()
        assert row["image"] == {"bytes": data, "path": f"{row['unique_id']}.png"} and row["image_format"] == "png"
        assert PIL.Image.open(io.BytesIO(data)).width == 224
    assert all(r["image_status"] == FILE_MISSING and r["image_file"].startswith("sample_review/images/") for r in rows[5:])
    first = rows[0]
    assert first["headline"] == "Opinion | An Unexpected Rebranding of the Democratic Party - The New York Times"
    assert first["article_text"].startswith("Democrats tend to do well in cities; Republicans tend to do well in rural")
    assert "\n\nBelow is a lightly edited transcript of the audio piece." in first["article_text"]
    assert (first["categories"], first["category_scores"]) == (["Politics", "Opinion/Editorial"], [0.95, 0.9])
    assert first["published_at"] == datetime(2024, 5, 29, tzinfo=UTC)
    assert (first["text_label"], first["multimodal_label"], first["text_label_raw"]) == (1, 1, "Likely")
    assert first["canonical_link"] == "https://www.nytimes.com/2024/05/29/opinion/chris-gibbs-ohio-voters-democrats.html"
    assert sum(r["text_label"] for r in rows) == 378 and sum(r["multimodal_label"] for r in rows) == 281
    assert sum(r["published_at"] is None for r in rows) == 13  # NaT
    assert all(r["text_repairs"] == [] for r in rows)


def test_real_vldbench_repository_layout_names_what_it_leaves(tmp_path):
    """The repository as cloned: the real data/ and images/ files, and its non-data paths (real names)."""
    real = realdata_dir("newsmediabias_plus")
    repo = tmp_path / "raw" / "VLDBench"
    shutil.copytree(real / "VLDBench", repo)
    for name in ("README.md", "code/GLM.py", "code/judge-vision.py", "docs/index.html", "data/load-data.py", ".DS_Store"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("not data\n")
    report = quiet_build(DATASET, tmp_path / "raw", tmp_path / "out")
    assert list(report["configs"]) == ["vldbench"] and report["configs"]["vldbench"]["splits"]["train"]["rows"] == 500
    unread = {u["path"]: u for u in report["unread"]}
    assert set(unread) == {"VLDBench/README.md", "VLDBench/code/", "VLDBench/docs/", "VLDBench/data/load-data.py",
                           "VLDBench/data/metadata.json", "VLDBench/data/metadata.parquet", "VLDBench/.DS_Store"}
    assert unread["VLDBench/code/"]["files"] == 2 and "evaluation code" in unread["VLDBench/code/"]["reason"]
    assert unread["VLDBench/data/metadata.json"]["bytes"] == 7428  # the repository's cut-off JSON, not read
    assert not any("image file(s)" in n for n in report["notices"])  # the five images are the first five rows'


def test_real_vldbench_rows_in_the_hub_layout_keep_their_image_bytes(tmp_path):
    """No file of vector-institute/VLDBench is available: real rows and images, laid out as its card describes
    (Parquet, the images embedded as a datasets Image), must come out with the very same bytes."""
    real = realdata_dir("newsmediabias_plus")
    records = [r for _, _, r in nmb.iter_records(nmb.plan_csv(real / "VLDBench" / "data" / "metadata.csv", ())[0],
                                                  set(nmb.V1_FIELDS) | {"saved_image_path"}, keep_others=False)][:5]
    rows = [{"unique_id": r["unique_id"], "outlet": r["outlet"], "headline": r["headline"],
             "article_text": r["article_text"], "image_description": r["image_description"],
             "image": {"bytes": (real / "VLDBench" / "images" / f"{r['unique_id']}.png").read_bytes(), "path": None},
             "date_published": r["date_published"], "source_url": r["source_url"],
             "news_category": nmb.parse_category_list(r["categories"], "c")[0],
             "news_category_score": nmb.parse_score_list(r["category_scores"], "s")[0],
             "text_label": r["text_label"], "multimodal_label": r["multimodal_label"]} for r in records]
    hub = tmp_path / "raw" / "vldbench_hub" / "data"
    hub.mkdir(parents=True)
    features = sample.VLDBENCH_HUB_FEATURES
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
    pq.write_table(table, hub / "train-00000-of-00001.parquet")
    quiet_build(DATASET, tmp_path / "raw", tmp_path / "out")
    built_rows = parquet_rows(tmp_path / "out", "vldbench_hub", "train")
    assert [r["unique_id"] for r in built_rows] == REAL_IMAGES
    first = built_rows[0]
    assert hashlib.sha256(first["image"]["bytes"]).hexdigest() == \
        "1ddb972b6b1d92ffd8cb8b073297634105a9c02a9b97f5d8e934d349a7ef5d22"  # realdata/SOURCES.md, images/3a6e10c6e5.png
    assert first["image"]["path"] == "3a6e10c6e5.png" and first["image_file"] is None
    assert first["headline"] == "Opinion | An Unexpected Rebranding of the Democratic Party - The New York Times"
    assert (first["categories"], first["category_scores"], first["text_label_raw"]) == (["Politics"], [0.95], "Likely")
    for row in built_rows:
        assert row["image"]["bytes"] == (real / "VLDBench" / "images" / f"{row['unique_id']}.png").read_bytes()


def test_real_metadata_parquet_builds_too(tmp_path):
    real = realdata_dir("newsmediabias_plus")
    raw = tmp_path / "raw" / "VLDBench"
    (raw / "data").mkdir(parents=True)
    shutil.copy(real / "VLDBench" / "data" / "metadata.parquet", raw / "data")
    shutil.copytree(real / "VLDBench" / "images", raw / "images")
    assert pq.read_schema(raw / "data" / "metadata.parquet").field("image").type == pa.null()
    quiet_build(DATASET, tmp_path / "raw", tmp_path / "out")
    rows = parquet_rows(tmp_path / "out", "vldbench", "train")
    assert len(rows) == 500
    first = rows[0]
    assert (first["unique_id"], first["outlet"]) == ("4f38951a2d", "Financial Times")
    assert first["categories"] == ["Business and Finance", "National", "Technology"]
    assert first["category_scores"] == [0.95, 0.75, 0.7]
    assert first["published_at"] == datetime(2024, 9, 4, 1, 26, 21, 452000, tzinfo=UTC)
    assert (first["text_label"], first["multimodal_label"]) == (1, 0)
    assert first["image_status"] == FILE_MISSING  # this sample's images are not among the five in the repository


def test_real_truncated_metadata_json_names_the_offset(tmp_path):
    real = realdata_dir("newsmediabias_plus")
    raw = tmp_path / "raw" / "VLDBench"
    (raw / "data").mkdir(parents=True)
    shutil.copy(real / "VLDBench" / "data" / "metadata.json", raw / "data")
    shutil.copytree(real / "VLDBench" / "images", raw / "images")
    result = run_script("build.py", "nmb_plus", "--data-dir", tmp_path / "raw", "--output", tmp_path / "o", "--quiet")
    assert result.returncode == 2
    assert ("VLDBench/data/metadata.json:8: the JSON ends early at byte offset 7428 (line 8, column 18), expecting "
            "value: the file is truncated") in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_real_ui_csv_bom_and_double_encoded_utf8_are_repaired():
    real = realdata_dir("newsmediabias_plus")
    path = real / "Newsmediabias-plus" / "code" / "utils" / "ui" / "testing.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    header, *records = nmb.iter_csv_records(path)
    assert header.fields == ["Unique_id", "Text", "Annotation"]  # the BOM is not part of the first name
    assert len(records) == 10 and records[0].fields[0] == "620a41da1f"
    repaired = {r.fields[0]: nmb.repair_text(r.fields[1], prose=True) for r in records}
    assert all(kinds == ["double_encoded_utf8"] for _, kinds in repaired.values())
    assert not any("â€" in text for text, _ in repaired.values())
    cookie = repaired["620a41da1f"][0]
    assert cookie.startswith("Introduction and Scope  This Cookie Notice (the “Notice”) is designed")
    assert "last year’s State of the Union" in repaired["934068554d"][0]
