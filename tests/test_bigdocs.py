"""BigDocs: the builder against the sample generator's tree, the real release layout, the two BigDocs-Bench
repositories' folder names, columns it does not know, real image files and bad inputs (what every builder must
do, the Hub round trip among it, is in test_contract.py)."""
from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import datasets
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import bigdocs
from builders.coverage import UNRECOGNISED
from builders.errors import RawDataError
from builders.pipeline import BuildIncomplete, make_builder
from builders.samples import bigdocs as sample
from conftest import realdata_dir
from helpers import parquet_rows, quiet_build, refused_build, run_script

DATASET = "bigdocs"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
STATUS = bigdocs.IMAGE_STATUSES.index
SERVICENOW_CONFIGS = ["bench-Table2LaTeX", "bench-Image2Flow_GraphViz", "bench-Image2Flow_JSON",
                      "bench-GUI2UserIntent", "bench-GUI2Summary", "bench-GUI-VQA", "bench-GUI2BBox"]
SUBSET_CONFIGS = ["ArxivOCR", "ArxivTableCap", "cord-v2", "COCOtext", "TextOCR", "pubtables-1m", "TabFact", "WikiTQ",
                  "Open4Business"]
BENCH_CONFIGS = [t.config_name for t in bigdocs.BENCH_TASKS]


def incomplete_build(raw, out, **kwargs) -> tuple[BuildIncomplete, dict]:
    """A build in which some configs fail: the error, and the build report written for the others."""
    with pytest.raises(BuildIncomplete) as failed:
        quiet_build(DATASET, raw, out, **kwargs)
    return failed.value, json.loads((out / "build_report.json").read_text())


def rows_by_id(out: Path, config: str, split: str, key: str = "sample_id") -> dict[str, dict]:
    return {row[key]: row for row in parquet_rows(out, config, split)}


def notices(report: dict, config: str) -> list[str]:
    return [n.split(": ", 1)[1] for n in report["notices"] if n.startswith(f"{config}: ")]


def unread(report: dict) -> dict[str, str]:
    return {item["path"]: item["reason"] for item in report["unread"]}


# ---- every config, value by value -------------------------------------------------------------------------

def test_every_config_and_split_equals_what_the_generator_wrote(built):
    tree, out, report = built
    assert list(report["configs"]) == SUBSET_CONFIGS + SERVICENOW_CONFIGS  # ServiceNow's seven tasks by default
    assert sorted(report["configs"]) == sorted(tree.folders)
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


def test_scalar_query_and_a_column_the_builder_does_not_know(built):
    _, out, report = built
    train = rows_by_id(out, "cord-v2", "train")
    assert train["cord.train.0"]["query"] == ["Parse the receipt into JSON."]  # a plain string column
    assert train["cord.train.1"]["query"] == []  # a null string
    assert json.loads(train["cord.train.0"]["annotations"][0]) == {"menu": [{"nm": "Kopi Susu", "price": "18.000"}]}
    # the release's ground_truth column is kept in a field of its own, with its own type
    assert train["cord.train.0"]["ground_truth"] == '{"gt_parse": {"menu": [{"nm": "Kopi Susu", "price": "18.000"}]}}'
    assert pq.read_schema(next((out / "cord-v2").glob("train-*.parquet"))).field("ground_truth").type == pa.string()
    assert (train["cord.train.0"]["extra_fields"], train["cord.train.0"]["img_id"]) == (None, None)
    assert notices(report, "cord-v2") == ["1 column not recognised, kept as released, each in a field of its own "
                                          "type: `ground_truth` (string, 3 of 3 files)"]
    assert "ground_truth" not in pq.read_schema(next((out / "ArxivOCR").glob("test-*.parquet"))).names
    validation = parquet_rows(out, "cord-v2", "validation")[0]
    assert validation["sample_id"] == "cord.val.0"
    assert PIL.Image.open(io.BytesIO(validation["image"]["bytes"])).size == (30, 60)
    assert validation["ground_truth"] == '{"gt_parse": {"menu": [{"nm": "Es Teh", "price": "5.000"}]}}'


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
    wikitq = rows_by_id(out, "WikiTQ", "test")["wikitq.test.00000"]  # no source copy was given for WikiTQ
    assert (wikitq["image"], wikitq["image_status"], wikitq["img_id"]) == \
        (None, STATUS("no_source_folder"), "wikitq.test.00000.png")


def test_bench_rows(built):
    tree, out, report = built
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
    latex = rows_by_id(out, "bench-Table2LaTeX", "train", "identifier")  # read from ServiceNow's Table2LaTex/
    assert latex["Table2LaTeX_train_0"]["annotations"] == [sample.LONG_LATEX] and len(sample.LONG_LATEX) > 300_000
    uneven = latex["Table2LaTeX_train_1"]  # second release file; 1 query, 2 annotations: kept as lists
    assert (len(uneven["queries"]), uneven["annotations"]) == (1, ["\\begin{tabular}{l}A\\end{tabular}",
                                                               "\\begin{tabular}{l}B\\end{tabular}"])
    dot = rows_by_id(out, "bench-Image2Flow_GraphViz", "validation", "identifier")["Image2Flow_(GraphViz)_val_0"]
    assert dot["annotations"] == ["digraph G {\n  start -> step0;\n  step0 -> end;\n}"]
    released = pq.read_table(tree.root / "BigDocs-Bench/GUI-VQA/test-00000-of-00001.parquet").to_pylist()[0]
    vqa = parquet_rows(out, "bench-GUI-VQA", "test")[0]
    assert vqa["images"] == released["images"] and vqa["annotations"] == ["Continue 0"]
    assert notices(report, "bench-Table2LaTeX") == [
        "task folder read: BigDocs-Bench/Table2LaTex/, the folder name of ServiceNow/BigDocs-Bench"]
    assert notices(report, "bench-GUI2BBox") == []  # one spelling in both repositories: nothing to say


def test_without_source_folders_rows_keep_img_id_and_say_why_there_is_no_image(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    shutil.rmtree(raw / "sources")
    out = tmp_path / "out"
    quiet_build(DATASET, raw, out, configs=["COCOtext", "TextOCR", "pubtables-1m"])
    for config in ("COCOtext", "TextOCR", "pubtables-1m"):
        for split in tree.splits(config):
            assert parquet_rows(out, config, split) == tree.expected(config, split, with_sources=False)
    row = rows_by_id(out, "COCOtext", "train")["cocotext.train.0"]
    assert (row["image"], row["image_status"], row["img_id"]) == \
        (None, STATUS("no_source_folder"), "COCO_train2014_000000270070")


def test_a_scaled_tree_adds_release_files_and_photo_sized_images(samples):
    """The sample at scale 3 (conftest's MANY_SHARDS; test_contract.py builds it in one process and in two)."""
    (tree, out, _), _ = samples.many_shards(DATASET)
    files = sorted(p.name for p in (tree.root / "BigDocs-7.5M/ArxivOCR").glob("train-*"))
    assert files == ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet"]
    rows = parquet_rows(out, "ArxivOCR", "train")
    assert rows == tree.expected("ArxivOCR", "train") and len(rows) == 9
    assert len(rows[-1]["image"]["bytes"]) > 20_000 and (rows[-1]["width"], rows[-1]["height"]) == (1000, 1294)


# ---- the real release layout ----------------------------------------------------------------------------------

# ServiceNow/BigDocs-Bench commit 0cae5c0 ("Upload dataset", Dec 10, 2024) added Table2LaTex/train-00000 ...
# train-00015-of-00016.parquet and val-00000-of-00001.parquet; the stored folder page the listing was
# transcribed from is cut after train-00011.
TABLE2LATEX_UNLISTED = [*(f"BigDocs-Bench/Table2LaTex/train-{i:05d}-of-00016.parquet" for i in range(12, 16)),
                        "BigDocs-Bench/Table2LaTex/val-00000-of-00001.parquet"]
LAYOUT_ROWS = {  # config → split → rows: one row per file the listing names (with Table2LaTex completed)
    "ArxivTableCap": {"train": 12, "validation": 1, "test": 1}, "TextOCR": {"train": 1, "validation": 1},
    "pubtables-1m": {"train": 10, "validation": 2, "test": 2}, "TabFact": {"train": 1, "validation": 1, "test": 1},
    "WikiTQ": {"train": 1, "validation": 1, "test": 1},
    "bench-Table2LaTeX": {"train": 16, "validation": 1, "test": 1},
    "bench-Image2Flow_GraphViz": {"train": 3, "validation": 1, "test": 1},
    "bench-Image2Flow_JSON": {"train": 3, "validation": 1, "test": 1},
    **{c: {"train": 1, "validation": 1, "test": 1} for c in ("bench-GUI2UserIntent", "bench-GUI2Summary",
                                                             "bench-GUI-VQA", "bench-GUI2BBox")},
}


def real_listing() -> list[str]:
    return sample.read_listing((realdata_dir("layouts") / "bigdocs.txt").read_text(encoding="utf-8"))


def built_rows(report: dict) -> dict[str, dict[str, int]]:
    return {config: {split: stats["rows"] for split, stats in meta["splits"].items()}
            for config, meta in report["configs"].items()}


def test_the_real_layout_builds_every_config_it_holds(tmp_path):
    paths = real_listing()
    assert "BigDocs-Bench/Table2LaTex/" in paths and not any("Table2LaTeX" in p for p in paths)
    tree = sample.lay_out_listing(tmp_path / "raw", paths + TABLE2LATEX_UNLISTED)
    report = quiet_build(DATASET, tmp_path / "raw", tmp_path / "out")
    assert built_rows(report) == LAYOUT_ROWS
    for config, splits in LAYOUT_ROWS.items():
        for split in splits:
            assert parquet_rows(tmp_path / "out", config, split) == tree.expected(config, split, with_sources=False)
    last = parquet_rows(tmp_path / "out", "bench-Table2LaTeX", "train")[15]
    assert last["identifier"] == "Table2LaTeX_train_15"
    assert last["annotations"] == ["\\begin{tabular}{lr}Item & 15 \\\\ \\end{tabular}"]
    released = pq.read_table(tmp_path / "raw/BigDocs-Bench/Table2LaTex/train-00015-of-00016.parquet").to_pylist()
    assert last["images"] == released[0]["images"] and last["image_sizes"] == [[28, 20]]
    pubtables = [row["sample_id"] for row in parquet_rows(tmp_path / "out", "pubtables-1m", "validation")]
    assert pubtables == ["pubtables-1m.val.00000", "pubtables-1m.val.00001"]  # val-00000, val-00001: file order
    assert {row["image_status"] for row in parquet_rows(tmp_path / "out", "pubtables-1m", "train")} == \
        {STATUS("no_source_folder")}
    assert "task folder read: BigDocs-Bench/Table2LaTex/, the folder name of ServiceNow/BigDocs-Bench" in \
        notices(report, "bench-Table2LaTeX")
    # nothing of the listing is left unexplained: the Hub repositories' own files, and the subset folders
    # whose files the listing does not show (laid out empty), each with a reason
    reasons = unread(report)
    assert set(reasons) == {"BigDocs-7.5M/.gitattributes", "BigDocs-7.5M/README.md", "BigDocs-7.5M/get_bigdocs_75m.py",
                            "BigDocs-Bench/.gitattributes", "BigDocs-Bench/README.md", "BigDocs-7.5M/ArxivOCR/",
                            "BigDocs-7.5M/COCOtext/", "BigDocs-7.5M/Open4Business/", "BigDocs-7.5M/cord-v2/"}
    assert reasons["BigDocs-7.5M/get_bigdocs_75m.py"].startswith("ServiceNow's script that fills in the img_id images")
    assert reasons["BigDocs-Bench/README.md"].startswith("an upstream README")
    assert reasons["BigDocs-7.5M/cord-v2/"] == ("read by config 'cord-v2', which this build did not make: it needs "
                                                "BigDocs-7.5M/cord-v2/<split>-NNNNN-of-MMMMM.parquet "
                                                "(ServiceNow/BigDocs-7.5M)")
    assert UNRECOGNISED not in reasons.values()


def test_the_real_layout_as_listed_refuses_the_partial_table2latex_and_builds_the_rest(tmp_path):
    """The listing shows 12 of Table2LaTex's 16 train files: a download like that is partial."""
    sample.lay_out_listing(tmp_path / "raw", real_listing())
    failed, report = incomplete_build(tmp_path / "raw", tmp_path / "out")
    assert list(failed.failures) == ["bench-Table2LaTeX"]
    failure = report["failed_configs"]["bench-Table2LaTeX"]
    assert failure["file"] == "BigDocs-Bench/Table2LaTex"
    assert failure["problem"] == ("split train is incomplete: 4 of 16 files missing (train-00012-of-00016.parquet, "
                                  "train-00013-of-00016.parquet, train-00014-of-00016.parquet, "
                                  "train-00015-of-00016.parquet)")
    assert "partial download" in failure["hint"]
    assert built_rows(report) == {c: rows for c, rows in LAYOUT_ROWS.items() if c != "bench-Table2LaTeX"}
    assert unread(report)["BigDocs-Bench/Table2LaTex/"] == \
        "read by config 'bench-Table2LaTeX', which this build did not make: it failed, see failed_configs"
    assert not (tmp_path / "out" / "README.md").exists()


# ---- the two BigDocs-Bench repositories --------------------------------------------------------------------------

def test_the_mirror_spellings_build_the_same_configs(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw, bench="mirror")
    assert sorted(p.name for p in (raw / "BigDocs-Bench").iterdir() if p.is_dir()) == [
        "Chart2Caption", "Chart2Markdown", "FlowChart2GraphViz", "FlowChart2JSON", "GUI2BBox", "GUI2Summary",
        "GUI2UserIntent", "GUIVQA", "Image2SVG", "Screenshot2HTML", "Table2LaTeX", "Text2SVG"]
    out = tmp_path / "out"
    report = quiet_build(DATASET, raw, out, configs=BENCH_CONFIGS)
    assert list(report["configs"]) == BENCH_CONFIGS  # twelve tasks, Text2SVG among them
    for config in BENCH_CONFIGS:
        for split in tree.splits(config):
            assert parquet_rows(out, config, split) == tree.expected(config, split), (config, split)
    read = {config: notices(report, config) for config in BENCH_CONFIGS}
    assert read["bench-Table2LaTeX"] == [
        "task folder read: BigDocs-Bench/Table2LaTeX/, the folder name of BigDocs/BigDocs-Bench"]
    assert read["bench-GUI-VQA"] == ["task folder read: BigDocs-Bench/GUIVQA/, the folder name of BigDocs/BigDocs-Bench"]
    assert read["bench-Image2Flow_JSON"] == [
        "task folder read: BigDocs-Bench/FlowChart2JSON/, the folder name of BigDocs/BigDocs-Bench"]
    assert read["bench-Text2SVG"] == [] and read["bench-Screenshot2HTML"] == []
    svg = parquet_rows(out, "bench-Text2SVG", "train")[0]
    assert (svg["identifier"], svg["queries"]) == ("Text2SVG_train_0", ["Draw a red circle of radius 0 as SVG."])
    assert svg["annotations"][0].startswith("<?xml") and 'r="1"' in svg["annotations"][0]
    html = rows_by_id(out, "bench-Screenshot2HTML", "train", "identifier")
    assert html["Screenshot2HTML_train_0"]["annotations"] == [sample.LONG_HTML]
    assert rows_by_id(out, "bench-Image2SVG", "test", "identifier")["Image2SVG_test_0"]["annotations"] == \
        [sample.SVG_TEXT]
    assert "BigDocs-Bench/GUIVQA/" not in unread(report)


def test_two_spellings_of_one_task_are_refused_and_the_other_configs_build(tmp_path):
    """ServiceNow/BigDocs-Bench held GUI-VQA/ and GUIVQA/ side by side at revision cabc2a1."""
    raw = tmp_path / "raw"
    sample.make(raw)
    shutil.copytree(raw / "BigDocs-Bench/GUI-VQA", raw / "BigDocs-Bench/GUIVQA")
    failed, report = incomplete_build(raw, tmp_path / "out", configs=["bench-GUI-VQA", "bench-GUI2BBox"])
    assert list(failed.failures) == ["bench-GUI-VQA"] and list(report["configs"]) == ["bench-GUI2BBox"]
    failure = report["failed_configs"]["bench-GUI-VQA"]
    assert failure["file"] == "BigDocs-Bench"
    assert failure["problem"] == ("task GUI-VQA is there twice: BigDocs-Bench/GUI-VQA/ (3 Parquet files, the folder "
                                  "name of ServiceNow/BigDocs-Bench); BigDocs-Bench/GUIVQA/ (3 Parquet files, the "
                                  "folder name of BigDocs/BigDocs-Bench)")
    assert "Move the one you do not want out of the data directory" in failure["hint"]
    reasons = unread(report)
    for folder in ("BigDocs-Bench/GUI-VQA/", "BigDocs-Bench/GUIVQA/"):
        assert reasons[folder] == \
            "read by config 'bench-GUI-VQA', which this build did not make: it failed, see failed_configs"


def test_folders_the_builder_does_not_know_are_reported(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    shutil.copytree(raw / "BigDocs-Bench/GUI2BBox", raw / "BigDocs-Bench/Chart2Table")   # a task of a later release
    shutil.copytree(raw / "BigDocs-7.5M/WikiTQ", raw / "BigDocs-7.5M/DocLayNet")
    (raw / "BigDocs-7.5M/WikiTQ/notes.txt").write_text("downloaded on Monday")
    (raw / "sources/COCO/annotations").mkdir()
    (raw / "sources/COCO/annotations/cocotext.v2.json").write_text("{}")
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["WikiTQ", "COCOtext", "bench-GUI2BBox"])
    reasons = unread(report)
    for path in ("BigDocs-Bench/Chart2Table/", "BigDocs-7.5M/DocLayNet/", "BigDocs-7.5M/WikiTQ/notes.txt",
                 "sources/COCO/annotations/"):  # COCOtext looks in train2014/ and the folder's top only
        assert reasons[path] == UNRECOGNISED, path
    assert [u["files"] for u in report["unread"] if u["path"] == "BigDocs-Bench/Chart2Table/"] == [3]
    assert reasons["BigDocs-Bench/GUI-VQA/test-00000-of-00001.parquet"] == \
        "read by config 'bench-GUI-VQA', which this build did not make: it was not asked for (--config)"


def test_read_paths_name_the_files_read_and_the_source_folders_looked_up(built):
    tree, _, _ = built

    def read(config):
        paths = make_builder("bigdocs", config, tree.root).read_paths()
        return sorted(Path(p).relative_to(tree.root).as_posix() for p in paths)
    assert read("TextOCR") == ["BigDocs-7.5M/TextOCR/train-00000-of-00001.parquet",
                               "BigDocs-7.5M/TextOCR/val-00000-of-00001.parquet", "sources/TextOCR/train_images",
                               "sources/TextOCR/train_val_images.zip"]
    assert read("COCOtext")[-1:] == ["sources/COCO/train2014"]
    assert read("bench-Table2LaTeX") == [f"BigDocs-Bench/Table2LaTex/{name}" for name in (
        "test-00000-of-00001.parquet", "train-00000-of-00002.parquet", "train-00001-of-00002.parquet",
        "val-00000-of-00001.parquet")]
    assert read("bench-Chart2Caption") == []  # no such folder in ServiceNow's repository


# ---- columns the builder does not know ----------------------------------------------------------------------------

def write_table(path: Path, columns: dict, schema: pa.Schema | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


def test_a_file_with_other_column_names_builds_keeping_every_column_with_its_type(tmp_path):
    """No BigDocs-7.5M column is documented first-party: a file whose columns are all unknown still builds."""
    raw, png = tmp_path / "raw", sample.image_bytes((5, 4), 9)
    image = datasets.Features({"img": datasets.Image()}).arrow_schema.field("img").type
    meta = pa.struct([("page", pa.int32()), ("lang", pa.string())])
    first = pa.schema([("id", pa.string()), ("img", image), ("prompt", pa.list_(pa.string())), ("meta", meta),
                       ("page", pa.int32()), ("score", pa.float64()), ("mixed", pa.string())],
                      metadata=datasets.Features({"img": datasets.Image()}).arrow_schema.metadata)
    write_table(raw / "BigDocs-7.5M/WikiTQ/train-00000-of-00002.parquet", {
        "id": ["w.0"], "img": [{"bytes": png, "path": "w0.png"}], "prompt": [["Which year?"]],
        "meta": [{"page": 3, "lang": "en"}], "page": [3], "score": [0.5], "mixed": ["a"]}, first)
    write_table(raw / "BigDocs-7.5M/WikiTQ/train-00001-of-00002.parquet", {
        "id": ["w.1"], "img": [{"bytes": png, "path": "w1.png"}], "prompt": [["Which team?"]],
        "meta": pa.array([{"page": 4, "lang": "fr"}], meta), "page": pa.array([2**40], pa.int64()), "mixed": [7],
        "flags": pa.array([[("ok", 1)]], pa.map_(pa.string(), pa.int32()))})
    out = tmp_path / "out"
    report = quiet_build(DATASET, raw, out, configs=["WikiTQ"], num_proc=2)
    rows = parquet_rows(out, "WikiTQ", "train")
    schema = pq.read_schema(next((out / "WikiTQ").glob("train-*.parquet")))
    assert schema.names == [*bigdocs.SUBSET_FIELDS, "id", "img", "prompt", "meta", "page", "score", "extra_fields"]
    assert (schema.field("page").type, schema.field("meta").type, schema.field("score").type) == \
        (pa.int64(), meta, pa.float64())  # int32 in one file and int64 in the other: widened
    features = datasets.Features.from_arrow_schema(schema)
    assert features["img"] == datasets.Image() and features["prompt"] == datasets.List(datasets.Value("string"))
    assert rows[0] == {
        "sample_id": None, "image": None, "image_status": STATUS("missing_in_release"), "img_id": None,
        "width": None, "height": None, "dataset_name": None, "task_name": None, "query": [], "annotations": [],
        "id": "w.0", "img": {"bytes": png, "path": "w0.png"}, "prompt": ["Which year?"],
        "meta": {"page": 3, "lang": "en"}, "page": 3, "score": 0.5, "extra_fields": '{"mixed": "a"}'}
    assert (rows[1]["id"], rows[1]["page"], rows[1]["score"]) == ("w.1", 2**40, None)  # no score column there
    assert json.loads(rows[1]["extra_fields"]) == {"flags": [["ok", 1]], "mixed": 7}
    assert notices(report, "WikiTQ") == [
        "6 columns not recognised, kept as released, each in a field of its own type: `id` (string, 2 of 2 files); "
        "`img` (struct<bytes: binary, path: string>, 2 of 2 files); `prompt` (list<element: string>, 2 of 2 files); "
        "`meta` (struct<page: int32, lang: string>, 2 of 2 files); `page` (int32/int64, 2 of 2 files); "
        "`score` (double, 1 of 2 files) (null in rows of files without it)",
        "column `mixed` is kept as JSON text in extra_fields: its type differs between files (string, int64)",
        "column `flags` is kept as JSON text in extra_fields: its type map<string, int32 ('flags')> has no "
        "`datasets` equivalent",
        "neither an `image` nor an `img_id` column in 2 of 2 files: those rows have no image (status "
        "missing_in_release)",
        "no `sample_id` column (of text) in 2 of 2 files: those rows have no id (reports name them by row number)",
        "no `dataset_name` column (of text) in 2 of 2 files: `dataset_name` is null there",
        "no `task_name` column (of text) in 2 of 2 files: `task_name` is null there",
        "no `query` column (of text or a list of texts) in 2 of 2 files: `query` is empty there",
        "no `annotations` column (of text or a list of texts) in 2 of 2 files: `annotations` is empty there"]
    readme = (out / "README.md").read_text()
    assert "| `score` | float64 | Release column `score`, carried through as released with its own type" in readme
    assert "| `meta.lang` | string | `lang` of `meta`, as released. |" in readme


def test_a_known_column_name_holding_other_values_is_kept_under_a_release_name(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    path = raw / "BigDocs-7.5M/ArxivOCR/val-00000-of-00001.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("query"), "query", pa.array([[1, 2]])), path)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["ArxivOCR"])
    row = parquet_rows(tmp_path / "out", "ArxivOCR", "validation")[0]
    assert (row["query"], row["release_query"], row["annotations"]) == ([], [1, 2], ["Abstract\nWe present ..."])
    assert parquet_rows(tmp_path / "out", "ArxivOCR", "test")[0]["release_query"] is None
    assert notices(report, "ArxivOCR") == ["column `query` is not read as `query`: its type is list<element: int64>, "
                                           "not text or a list of texts; it is kept as released in `release_query`"]


def test_a_bench_file_without_an_images_column_builds_without_images(built, tmp_path):
    """ServiceNow's GUI files are small (8.6 to 27.8 MB for about 79K rows): they may name their screenshots
    instead of embedding them. Whatever column does, it is kept."""
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    folder = raw / "BigDocs-Bench/GUI2Summary"
    for path in folder.glob("*.parquet"):
        table = pq.read_table(path)
        paths = pa.array([f"screens/{i}.png" for i in range(table.num_rows)])
        pq.write_table(table.drop_columns(["images"]).append_column("image_path", paths), path)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["bench-GUI2Summary"])
    row = parquet_rows(tmp_path / "out", "bench-GUI2Summary", "train")[0]
    assert (row["identifier"], row["images"], row["image_path"]) == ("GUI2Summary_train_0", [], "screens/0.png")
    assert row["annotations"] == ["A login screen with 0 text fields and a button."]
    assert "no `images` column (of an image or a list of images) in 3 of 3 files: those rows have no images" in \
        notices(report, "bench-GUI2Summary")


def test_recognise_columns_by_name_and_type():
    schema = pa.schema([("sample_id", pa.string()), ("img_id", pa.large_string()), ("queries", pa.string()),
                        ("annotation", pa.list_(pa.string())), ("image", pa.string())])
    columns = bigdocs.recognise_columns(schema, bigdocs.SUBSET_SCHEMA)
    assert columns.fields == {"sample_id": "sample_id", "img_id": "img_id", "query": "queries",
                              "annotations": "annotation"}
    assert (columns.others, columns.misfits) == (("image",), {"image": "image"})  # a string is no image
    bench = bigdocs.recognise_columns(pa.schema([("identifier", pa.string()), ("image", pa.binary()),
                                                 ("queries", pa.null())]), bigdocs.BENCH_SCHEMA)
    assert bench.fields == {"identifier": "identifier", "images": "image", "queries": "queries"}
    assert bigdocs.fits("images", pa.list_(datasets.Features({"i": datasets.Image()}).arrow_schema.field("i").type))
    assert not bigdocs.fits("image", pa.struct([("bytes", pa.null()), ("path", pa.string())]))


# ---- card, report, loading ---------------------------------------------------------------------------------

def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
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
    # which repository holds which task, as the card says
    assert "ServiceNow/BigDocs-Bench (main, d4100e5): GUI-VQA GUI2BBox GUI2Summary GUI2UserIntent" in readme
    assert "Text2SVG" in readme and "task folder read: BigDocs-Bench/Table2LaTex/" in readme
    assert report["redistribution"] == "gated" and report["configs"]["ArxivOCR"]["default"]
    stats = report["configs"]["ArxivOCR"]["splits"]["train"]
    assert (stats["rows"], stats["records_read"], stats["records_skipped"]) == (6, 6, 0)
    inputs = {item["path"]: item for item in report["inputs"]}
    assert inputs["sources/COCO/"]["files"] == 4 and inputs["BigDocs-7.5M/ArxivOCR/"]["files"] == 4
    assert set(unread(report)) == {"BigDocs-7.5M/.gitattributes", "BigDocs-7.5M/README.md",
                                   "BigDocs-7.5M/get_bigdocs_75m.py", "BigDocs-Bench/.gitattributes",
                                   "BigDocs-Bench/README.md"}


def test_loads_with_datasets_from_the_built_folder(built):
    _, out, _ = built
    coco = datasets.load_dataset(str(out), "COCOtext", split="train")
    assert coco.features["image_status"].names == bigdocs.IMAGE_STATUSES
    assert coco[0]["image"].size == (64, 48) and coco[2]["image"] is None
    intent = datasets.load_dataset(str(out), "bench-GUI2UserIntent", split="train")
    assert [image.size for image in intent[1]["images"]] == [(36, 64), (64, 36)]
    cord = datasets.load_dataset(str(out), "cord-v2", split="validation")
    assert cord.features["ground_truth"] == datasets.Value("string") and cord[0]["ground_truth"].startswith('{"gt')


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
        first = sources.archives
    with bigdocs.SourceImages(tmp_path, ("a", ".")) as sources:  # the next job of this process: the same archive
        assert sources.archives == first and sources.archives[0] is first[0]
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:  # replaced since: read again
        archive.writestr("a/y.jpg", b"a new copy")
    os.utime(tmp_path / "bundle.zip", ns=(1, 1))
    with bigdocs.SourceImages(tmp_path, ("a", ".")) as sources:
        assert sources.archives[0] is not first[0] and sources.find("y")[:2] == ("a/y.jpg", b"a new copy")


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
    elif breakage == "repeated column":
        path = subset / "COCOtext/val-00000-of-00001.parquet"
        table = pq.read_table(path)
        pq.write_table(table.append_column("img_id", table.column("img_id")), path)
    elif breakage == "corrupt source zip":
        (raw / "sources/TextOCR/train_val_images.zip").write_bytes(b"PK\x03\x04 not a zip")
    return raw


@pytest.mark.parametrize("breakage,config,expected", [
    ("truncated parquet", "cord-v2", "BigDocs-7.5M/cord-v2/train-00000-of-00001.parquet: not a readable Parquet file"),
    ("missing shard", "ArxivOCR", "BigDocs-7.5M/ArxivOCR: split train is incomplete: 1 of 2 files missing "
                                  "(train-00001-of-00002.parquet)"),
    ("repeated column", "COCOtext", "BigDocs-7.5M/COCOtext/val-00000-of-00001.parquet: the file has several columns "
                                    "named img_id"),
    ("corrupt source zip", "TextOCR", "sources/TextOCR/train_val_images.zip: not a readable zip archive"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, breakage, config, expected):
    refused_build("bigdocs", _broken_tree(tmp_path, breakage), tmp_path / "out", "--config", config, expected=expected)


def test_a_config_asked_for_by_name_needs_its_folder(tmp_path):
    sample.make(tmp_path / "raw")
    result = run_script("build.py", "bigdocs", "--data-dir", tmp_path / "raw", "--output", tmp_path / "out",
                        "--config", "bench-Chart2Caption", "--quiet")
    assert result.returncode == 2
    assert "missing:\n  - BigDocs-Bench/Chart2Caption/<split>-NNNNN-of-MMMMM.parquet (BigDocs/BigDocs-Bench)" \
        in result.stderr
    assert "hf download BigDocs/BigDocs-Bench" in result.stderr


def test_bad_records_raise_or_are_skipped_and_counted(bad_tree, tmp_path):
    raw, tree = bad_tree.root, bad_tree
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
    assert skipped[("bench-Table2LaTeX", "train", "BigDocs-Bench/Table2LaTex/train-00001-of-00002.parquet",
                    "row 1 (Table2LaTeX_train_1)")].startswith("image 0 is not a readable image")
    for config, meta in report["configs"].items():
        for split in meta["splits"]:
            assert parquet_rows(tmp_path / "b", config, split) == tree.expected(config, split)
    assert report["configs"]["cord-v2"]["splits"]["train"]["records_skipped"] == 1
    readme = (tmp_path / "b" / "README.md").read_text()
    assert "4 raw records were skipped" in readme and "| `COCOtext` | train | the row has no img_id | 1 |" in readme


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
    quiet_build(DATASET, raw, out, configs=["COCOtext", "ArxivOCR"])
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
