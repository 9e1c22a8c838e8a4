"""BigDocs: the builder against the sample generator's tree, real image files, bad inputs and the Hub round trip."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import datasets
import PIL.Image
import pyarrow.parquet as pq
import pytest

from builders import bigdocs
from builders.cardcheck import validate_readme
from builders.errors import RawDataError
from builders.pipeline import build
from builders.samples import bigdocs as sample
from conftest import realdata_dir
from helpers import hub_rows, parquet_rows, publish_copy, refused_build, run_script

STATUS = bigdocs.IMAGE_STATUSES.index


def quiet_build(raw, out, **kwargs):
    return build("bigdocs", raw, out, progress=False, log=lambda *a: None, **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    tree = sample.make(raw)
    out = tmp_path_factory.mktemp("out")
    return tree, out, quiet_build(raw, out)


def rows_by_id(out: Path, config: str, split: str, key: str = "sample_id") -> dict[str, dict]:
    return {row[key]: row for row in parquet_rows(out, config, split)}


# ---- every config, value by value -------------------------------------------------------------------------

def test_every_config_and_split_equals_what_the_generator_wrote(built):
    tree, out, report = built
    assert list(report["configs"]) == ["ArxivOCR", "cord-v2", "COCOtext", "TextOCR", "pubtables-1m",
                                       "bench-Screenshot2HTML", "bench-Image2SVG", "bench-GUI2UserIntent"]
    for config in tree.folders:
        assert list(report["configs"][config]["splits"]) == tree.splits(config)
        for split in tree.splits(config):
            assert parquet_rows(out, config, split) == tree.expected(config, split), (config, split)
    assert list(report["configs"]["TextOCR"]["splits"]) == ["train", "validation"]  # no test split upstream


def test_embedded_subset_keeps_bytes_and_reports_missing_images(built):
    tree, out, _ = built
    train = rows_by_id(out, "ArxivOCR", "train")
    assert list(train) == ["arxivocr.0001.00001", "arxivocr.0001.00002", "arxivocr.0001.00003",
                           "arxivocr.0002.00001", "arxivocr.0002.00002", "arxivocr.0002.00003"]  # file order, dots kept
    first = train["arxivocr.0001.00001"]
    released = pq.read_table(tree.root / "BigDocs-7.5M/ArxivOCR/train-00000-of-00002.parquet").to_pylist()[0]["image"]
    assert first["image"] == released and first["image"]["path"] == "arxivocr.0001.00001.png"
    assert (first["image_status"], first["width"], first["height"]) == (STATUS("embedded"), 64, 48)
    tiny = train["arxivocr.0001.00002"]
    assert (tiny["width"], tiny["height"], tiny["query"], tiny["image"]["path"]) == (1, 1, [], None)
    assert len(train["arxivocr.0001.00003"]["annotations"][0]) > 200_000
    gray = train["arxivocr.0002.00002"]
    assert PIL.Image.open(io.BytesIO(gray["image"]["bytes"])).mode == "L"
    assert gray["annotations"] == [sample.UNICODE_TEXT] and "مرحبا" in gray["annotations"][0]
    for missing in ("arxivocr.0002.00001", "arxivocr.0002.00003"):  # struct without bytes; null cell
        row = train[missing]
        assert (row["image"], row["image_status"], row["width"]) == (None, STATUS("missing_in_release"), None)
    assert rows_by_id(out, "ArxivOCR", "validation")["arxivocr.0100.00001"]["annotations"] == ["Abstract\nWe present ..."]


def test_scalar_query_and_unknown_columns(built):
    _, out, _ = built
    train = rows_by_id(out, "cord-v2", "train")
    assert train["cord.train.0"]["query"] == ["Parse the receipt into JSON."]  # a plain string column
    assert train["cord.train.1"]["query"] == []  # a null string
    assert json.loads(train["cord.train.0"]["annotations"][0]) == {"menu": [{"nm": "Kopi Susu", "price": "18.000"}]}
    extra = json.loads(train["cord.train.0"]["extra_fields"])
    assert extra == {"ground_truth": '{"gt_parse": {"menu": [{"nm": "Kopi Susu", "price": "18.000"}]}}'}
    assert train["cord.train.0"]["img_id"] is None
    assert rows_by_id(out, "ArxivOCR", "test")["arxivocr.0200.00001"]["extra_fields"] is None


def test_img_id_rows_are_joined_from_the_source_copies(built):
    tree, out, _ = built
    sources = tree.root / "sources"
    coco = rows_by_id(out, "COCOtext", "train")
    for sample_id, name in [("cocotext.train.0", "COCO_train2014_000000270070"),      # img_id without extension
                            ("cocotext.train.1", "COCO_train2014_000000000009")]:     # and with
        row = coco[sample_id]
        assert row["image"] == {"bytes": (sources / f"COCO/train2014/{name}.jpg").read_bytes(),
                                "path": f"train2014/{name}.jpg"}
        assert row["image_status"] == STATUS("joined")
    assert (coco["cocotext.train.0"]["width"], coco["cocotext.train.0"]["height"]) == (64, 48)
    assert coco["cocotext.train.1"]["img_id"] == "COCO_train2014_000000000009.jpg"  # kept verbatim
    absent = coco["cocotext.train.2"]
    assert (absent["image"], absent["image_status"], absent["img_id"]) == \
        (None, STATUS("not_in_source"), "COCO_train2014_000000999999")
    textocr = rows_by_id(out, "TextOCR", "train")
    with zipfile.ZipFile(sources / "TextOCR/train_val_images.zip") as archive:
        assert textocr["textocr.train.0"]["image"] == {"bytes": archive.read("train_images/03b2dbb7dff0e32d.jpg"),
                                                       "path": "train_images/03b2dbb7dff0e32d.jpg"}
    assert textocr["textocr.train.1"]["image"]["bytes"] == \
        (sources / "TextOCR/train_images/a1b2c3d4e5f60718.jpg").read_bytes()  # a loose file
    pubtables = rows_by_id(out, "pubtables-1m", "train")
    twin = pubtables["pubtables.train.0"]  # the same name in Detection and Structure: Detection wins
    assert twin["image"]["bytes"] == (sources / "PubTables-1M/PubTables-1M-Detection/images/PMC4683861_3.jpg").read_bytes()
    assert twin["image"]["bytes"] != (sources / "PubTables-1M/PubTables-1M-Structure/images/PMC4683861_3.jpg").read_bytes()
    assert pubtables["pubtables.train.1"]["image"]["path"] == "PubTables-1M-Structure/images/PMC5000000_1.jpg"
    assert (twin["dataset_name"], twin["task_name"]) == (None, None)  # columns absent from these files


def test_bench_rows(built):
    tree, out, _ = built
    intent = rows_by_id(out, "bench-GUI2UserIntent", "train", "identifier")
    two = intent["GUI2UserIntent_train_1"]
    assert [image["path"] for image in two["images"]] == [None, "second.jpg"]
    assert two["image_sizes"] == [[36, 64], [64, 36]]
    assert PIL.Image.open(io.BytesIO(two["images"][1]["bytes"])).format == "JPEG"
    assert intent["GUI2UserIntent_train_2"]["images"] == [] and intent["GUI2UserIntent_train_2"]["image_sizes"] == []
    assert (two["task"], two["source"]) == ("GUI2UserIntent", "synthetic-gui")
    hidden = rows_by_id(out, "bench-GUI2UserIntent", "test", "identifier")["GUI2UserIntent_test_0"]
    assert hidden["annotations"] == [] and hidden["queries"] == ["What is the user trying to do?"]
    assert list(rows_by_id(out, "bench-GUI2UserIntent", "validation", "identifier")) == ["GUI2UserIntent_val_0"]
    html = rows_by_id(out, "bench-Screenshot2HTML", "train", "identifier")
    assert html["Screenshot2HTML_train_0"]["annotations"] == [sample.LONG_HTML]
    assert len(sample.LONG_HTML) > 300_000
    uneven = html["Screenshot2HTML_train_1"]  # second release file; 1 query, 2 annotations: kept as lists
    assert (len(uneven["queries"]), uneven["annotations"]) == (1, ["<html><body>A</body></html>",
                                                               "<html><body>B</body></html>"])
    svg = rows_by_id(out, "bench-Image2SVG", "train", "identifier")["Image2SVG_train_0"]
    assert svg["annotations"][0].startswith("<?xml") and "<circle" in svg["annotations"][0]


def test_without_source_folders_rows_keep_img_id_and_say_why_there_is_no_image(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    shutil.rmtree(raw / "sources")
    out = tmp_path / "out"
    quiet_build(raw, out, configs=["COCOtext", "TextOCR", "pubtables-1m"])
    for config in ("COCOtext", "TextOCR", "pubtables-1m"):
        for split in tree.splits(config):
            assert parquet_rows(out, config, split) == tree.expected(config, split, with_sources=False)
    row = rows_by_id(out, "COCOtext", "train")["cocotext.train.0"]
    assert (row["image"], row["image_status"], row["img_id"]) == \
        (None, STATUS("no_source_folder"), "COCO_train2014_000000270070")


def test_scaled_tree_in_two_processes_matches_one(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw, scale=3)
    files = sorted(p.name for p in (raw / "BigDocs-7.5M/ArxivOCR").glob("train-*"))
    assert files == ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet"]
    one = quiet_build(raw, tmp_path / "one", configs=["ArxivOCR"])
    quiet_build(raw, tmp_path / "two", configs=["ArxivOCR"], num_proc=2)
    names = one["configs"]["ArxivOCR"]["splits"]["train"]["files"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    rows = parquet_rows(tmp_path / "one", "ArxivOCR", "train")
    assert rows == tree.expected("ArxivOCR", "train") and len(rows) == 9
    assert len(rows[-1]["image"]["bytes"]) > 20_000 and (rows[-1]["width"], rows[-1]["height"]) == (1000, 1294)


# ---- card, report, loading ---------------------------------------------------------------------------------

def test_card_and_report(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert validate_readme(readme) == []
    assert "license: cc-by-4.0" in readme and "- document-question-answering" in readme
    # rows without their image are counted per status in the card
    assert report["configs"]["COCOtext"]["splits"]["train"]["counts"] == {"image_status joined": 2,
                                                                         "image_status not_in_source": 1}
    assert "| `COCOtext` | train | image_status not_in_source | 1 |" in readme
    assert "| `COCOtext` | 4 | gated |" in readme and "| `cord-v2` | 4 | public |" in readme
    assert "`pubtables-1m`: PubTables-1M (Microsoft), CDLA-Permissive-2.0." in readme
    assert "Redistribution policy of this build: **gated** (configs `COCOtext`, `TextOCR`" in readme
    assert "| `image_status` | class_label (embedded, joined, missing_in_release, not_in_source, no_source_folder) |" in readme
    assert "| `image_sizes` | list<list<int32>[2]> |" in readme
    assert "| `TextOCR` | 2 | 1 | – |" in readme and "rodriguez2024bigdocs" in readme
    assert "COCO/train2014/COCO_train2014_000000270070.jpg        (or COCO/train2014.zip)" in readme  # raw layout
    assert report["redistribution"] == "gated" and report["configs"]["ArxivOCR"]["default"]
    stats = report["configs"]["ArxivOCR"]["splits"]["train"]
    assert (stats["rows"], stats["records_read"], stats["records_skipped"]) == (6, 6, 0)
    inputs = {item["path"]: item for item in report["inputs"]}
    assert inputs["sources/COCO/"]["files"] == 4 and inputs["BigDocs-7.5M/ArxivOCR/"]["files"] == 4


def test_loads_with_datasets_from_the_built_folder(built):
    _, out, _ = built
    coco = datasets.load_dataset(str(out), "COCOtext", split="train")
    assert coco.features["image_status"].names == bigdocs.IMAGE_STATUSES
    assert coco[0]["image"].size == (64, 48) and coco[2]["image"] is None
    intent = datasets.load_dataset(str(out), "bench-GUI2UserIntent", split="train")
    assert [image.size for image in intent[1]["images"]] == [(36, 64), (64, 36)]


def test_download_and_prepare_works_on_the_builder(built, tmp_path):
    tree, _, _ = built
    builder = bigdocs.BigDocs(config_name="cord-v2", data_dir=str(tree.root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare(output_dir=str(tmp_path / "arrow"), file_format="arrow")
    validation = builder.as_dataset(split="validation")
    assert validation[0]["sample_id"] == "cord.val.0" and validation[0]["image"].size == (30, 60)


# ---- pure functions ----------------------------------------------------------------------------------------

def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")


def test_list_split_files_orders_shards_and_maps_val(tmp_path):
    _touch(tmp_path, "val-00000-of-00001.parquet", "train-00001-of-00002.parquet", "train-00000-of-00002.parquet",
           "README.md", ".cache/train-00000-of-00009.parquet")
    splits = bigdocs.list_split_files(tmp_path)
    assert {s: [p.name for p in files] for s, files in splits.items()} == {
        "train": ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"],
        "validation": ["val-00000-of-00001.parquet"]}
    converter = tmp_path / "converter"
    _touch(converter, "train/0000.parquet", "train/0001.parquet", "test/0000.parquet")
    assert {s: [p.relative_to(converter).as_posix() for p in f] for s, f in bigdocs.list_split_files(converter).items()} \
        == {"train": ["train/0000.parquet", "train/0001.parquet"], "test": ["test/0000.parquet"]}


@pytest.mark.parametrize("names,problem", [
    (["train-00000-of-00003.parquet", "train-00002-of-00003.parquet"],
     "split train is incomplete: 1 of 3 files missing (train-00001-of-00003.parquet)"),
    (["train-00000-of-00002.parquet", "train-00001-of-00003.parquet"], "files from different uploads mixed"),
    (["dev-00000-of-00001.parquet"], "unknown split 'dev'"),
    (["train.parquet"], "cannot tell which split"),
])
def test_list_split_files_refuses_partial_or_unknown_files(tmp_path, names, problem):
    _touch(tmp_path, *names)
    with pytest.raises(RawDataError) as error:
        bigdocs.list_split_files(tmp_path)
    assert problem in str(error.value)


def test_column_map_accepts_variants_and_refuses_foreign_tables():
    assert bigdocs.column_map(["sample_id", "img_id", "queries", "annotation"], bigdocs.SUBSET_SCHEMA, "f") == \
        {"sample_id": "sample_id", "img_id": "img_id", "query": "queries", "annotations": "annotation"}
    assert bigdocs.column_map(["identifier", "image", "queries"], bigdocs.BENCH_SCHEMA, "f")["images"] == "image"
    with pytest.raises(RawDataError, match="no column image or img_id"):
        bigdocs.column_map(["sample_id", "query"], bigdocs.SUBSET_SCHEMA, "f")
    with pytest.raises(RawDataError, match="no column identifier, no column images"):
        bigdocs.column_map(["id", "queries"], bigdocs.BENCH_SCHEMA, "f")


def test_text_and_image_checks():
    assert bigdocs.text_list({"q": "one"}, "q") == ["one"] and bigdocs.text_list({"q": None}, "q") == []
    assert bigdocs.text_list({}, None) == [] and bigdocs.text_list({"q": ["a", None]}, "q") == ["a", None]
    with pytest.raises(RawDataError, match="expected text or a list of texts"):
        bigdocs.text_list({"q": [1, 2]}, "q")
    png, jpeg = sample.image_bytes((7, 5), 1), sample.image_bytes((5, 7), 2, "JPEG")
    assert bigdocs.inspect_image(png) == (7, 5) and bigdocs.inspect_image(jpeg) == (5, 7)
    with pytest.raises(RawDataError, match="truncated PNG"):
        bigdocs.inspect_image(png[:-12])
    with pytest.raises(RawDataError, match="truncated JPEG"):
        bigdocs.inspect_image(jpeg[:-2])
    with pytest.raises(RawDataError, match="x.jpg is not a readable image"):
        bigdocs.inspect_image(b"<svg/>", Path("sources/COCO/x.jpg"))
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../b.jpg", " "):
        with pytest.raises(RawDataError, match="not a file name inside the source dataset"):
            bigdocs.check_img_id(bad)
    bigdocs.check_img_id("csv/204-csv/590.png")


def test_source_lookup_prefers_listed_folders_then_loose_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"from a")
    (tmp_path / "x.jpg").write_bytes(b"top level")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("a/x.jpg", b"zipped")
        archive.writestr("a/y.jpg", b"only zipped")
    with bigdocs.SourceImages(tmp_path, ("a", ".")) as sources:
        assert sources.find("x")[:2] == ("a/x.png", b"from a")     # the first folder, with a suffix added
        assert sources.find("x.jpg")[:2] == ("x.jpg", b"top level")  # a loose file before a zip member
        assert sources.find("y")[:2] == ("a/y.jpg", b"only zipped")
        assert sources.find("z") is None


# ---- bad inputs through the CLI ------------------------------------------------------------------------------

def _broken_tree(tmp_path: Path, breakage: str) -> Path:
    raw = tmp_path / "raw"
    sample.make(raw)
    subset = raw / "BigDocs-7.5M"
    if breakage == "truncated parquet":
        path = subset / "cord-v2/train-00000-of-00001.parquet"
        path.write_bytes(path.read_bytes()[:300])
    elif breakage == "missing shard":
        (subset / "ArxivOCR/train-00001-of-00002.parquet").unlink()
    elif breakage == "foreign table":
        path = subset / "COCOtext/val-00000-of-00001.parquet"
        pq.write_table(pq.read_table(path).drop_columns(["sample_id"]), path)
    elif breakage == "corrupt source zip":
        (raw / "sources/TextOCR/train_val_images.zip").write_bytes(b"PK\x03\x04 not a zip")
    return raw


@pytest.mark.parametrize("breakage,expected", [
    ("truncated parquet", "BigDocs-7.5M/cord-v2/train-00000-of-00001.parquet: not a readable Parquet file"),
    ("missing shard", "BigDocs-7.5M/ArxivOCR: split train is incomplete: 1 of 2 files missing "
                      "(train-00001-of-00002.parquet)"),
    ("foreign table", "BigDocs-7.5M/COCOtext/val-00000-of-00001.parquet: no column sample_id"),
    ("corrupt source zip", "sources/TextOCR/train_val_images.zip: not a readable zip archive"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, breakage, expected):
    refused_build("bigdocs", _broken_tree(tmp_path, breakage), tmp_path / "out", expected=expected)


def test_a_config_asked_for_by_name_needs_its_folder(tmp_path):
    sample.make(tmp_path / "raw")
    result = run_script("build.py", "bigdocs", "--data-dir", tmp_path / "raw", "--output", tmp_path / "out",
                        "--config", "bench-Chart2Caption", "--quiet")
    assert result.returncode == 2
    assert "missing:\n  - BigDocs-Bench/Chart2Caption/<split>-NNNNN-of-MMMMM.parquet" in result.stderr
    assert "hf download ServiceNow/BigDocs-Bench" in result.stderr


def test_bad_records_raise_or_are_skipped_and_counted(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw, bad_records=True)
    failed = run_script("build.py", "bigdocs", "--data-dir", raw, "--output", tmp_path / "a", "--quiet",
                        "--config", "cord-v2")
    assert failed.returncode == 2
    assert "cord-v2/train-00000-of-00001.parquet (record row 2 (cord.train.2)): the image is a truncated PNG" \
        in failed.stderr
    done = run_script("build.py", "bigdocs", "--data-dir", raw, "--output", tmp_path / "b", "--on-error", "skip")
    assert done.returncode == 0, done.stderr
    assert "4 records skipped" in done.stdout
    report = json.loads((tmp_path / "b" / "build_report.json").read_text())
    skipped = {(s["config"], s["split"], s["file"], s["record"]): s["reason"] for s in report["skipped"]}
    assert set(skipped) == {(r["config"], r["split"], r["file"], r["record"]) for r in tree.rejected}
    assert skipped[("ArxivOCR", "train", "BigDocs-7.5M/ArxivOCR/train-00001-of-00002.parquet", "row 3")] == \
        "sample_id is missing"
    assert skipped[("COCOtext", "train", "BigDocs-7.5M/COCOtext/train-00000-of-00001.parquet",
                    "row 3 (cocotext.train.3)")] == "the row has no img_id"
    assert skipped[("bench-Image2SVG", "train", "BigDocs-Bench/Image2SVG/train-00000-of-00001.parquet",
                    "row 1 (Image2SVG_train_1)")].startswith("image 0 is not a readable image")
    for config, meta in report["configs"].items():
        for split, stats in meta["splits"].items():
            assert stats["records_read"] == stats["rows"] + stats["records_skipped"], (config, split)
            assert parquet_rows(tmp_path / "b", config, split) == tree.expected(config, split)
    assert report["configs"]["cord-v2"]["splits"]["train"]["records_skipped"] == 1
    readme = (tmp_path / "b" / "README.md").read_text()
    assert "4 raw records were skipped" in readme and "| `COCOtext` | train | the row has no img_id | 1 |" in readme


# ---- the local Hub round trip --------------------------------------------------------------------------------

def test_round_trip_through_the_local_hub(local_hub, built, tmp_path, fresh_hf_home):
    tree, out, _ = built
    folder = publish_copy(local_hub, out, tmp_path, "roundtrip/bigdocs")
    assert local_hub.api().repo_info("roundtrip/bigdocs", repo_type="dataset").gated  # COCOtext and TextOCR
    configs = datasets.get_dataset_config_names("roundtrip/bigdocs", token=local_hub.token)
    assert sorted(configs) == sorted(tree.folders)
    for config in tree.folders:
        loaded = hub_rows("roundtrip/bigdocs", config, local_hub.token)
        assert list(loaded) == tree.splits(config)
        assert loaded == {split: parquet_rows(folder, config, split) for split in loaded}, config


# ---- real image files ----------------------------------------------------------------------------------------

def test_real_jpeg_and_png_files_are_joined_and_embedded_verbatim(tmp_path):
    """No BigDocs file is available; real Flickr JPEGs (the kind COCO holds) and real NMB+ PNGs go through the
    join and the embedded-image paths instead, with their real encoder quirks (JFIF, comments, dpi)."""
    flickr = realdata_dir("flickr30k_entities") / "flickr30k-images"
    pngs = sorted((realdata_dir("newsmediabias_plus") / "VLDBench" / "images").glob("*.png"))
    jpegs = sorted(flickr.glob("*.jpg"))
    raw = tmp_path / "raw"
    (raw / "sources/COCO/train2014").mkdir(parents=True)
    for jpeg in jpegs:
        shutil.copy(jpeg, raw / "sources/COCO/train2014" / jpeg.name)
    coco_rows = [{"sample_id": f"cocotext.{j.stem}", "img_id": j.stem, "dataset_name": "COCOtext", "task_name": "ocr",
                  "query": ["Read the text."], "annotations": ["?"]} for j in jpegs]
    sample.write_release_file(raw / "BigDocs-7.5M/COCOtext/train-00000-of-00001.parquet", coco_rows,
                              sample.subset_features(image=False))
    arxiv_rows = [{"sample_id": f"arxivocr.{p.stem}", "image": {"bytes": p.read_bytes(), "path": p.name},
                   "dataset_name": "ArxivOCR", "task_name": "ocr", "query": [], "annotations": ["?"]} for p in pngs]
    sample.write_release_file(raw / "BigDocs-7.5M/ArxivOCR/train-00000-of-00001.parquet", arxiv_rows,
                              sample.subset_features())
    out = tmp_path / "out"
    quiet_build(raw, out, configs=["COCOtext", "ArxivOCR"])
    joined = parquet_rows(out, "COCOtext", "train")
    assert len(joined) == len(jpegs) == 8
    for row, jpeg in zip(joined, jpegs):
        assert row["image"] == {"bytes": jpeg.read_bytes(), "path": f"train2014/{jpeg.name}"}
        assert (row["width"], row["height"]) == PIL.Image.open(jpeg).size
        assert row["image_status"] == STATUS("joined")
    embedded = parquet_rows(out, "ArxivOCR", "train")
    assert len(embedded) == len(pngs) == 5
    for row, png in zip(embedded, pngs):
        assert row["image"]["bytes"] == png.read_bytes()
        assert (row["width"], row["height"]) == PIL.Image.open(png).size and row["width"] == 224
