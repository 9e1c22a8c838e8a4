"""Flickr30K Entities: the builder against the sample generator's tree, the real files, and bad inputs."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import PIL.Image
import pyarrow.parquet as pq
import pytest

from builders import flickr30k_entities as f30k
from builders.errors import RawDataError, RecordLog
from builders.samples import flickr30k_entities as sample
from conftest import realdata_dir
from helpers import SPLITS, parquet_rows, quiet_build, refused_build, run_script

DATASET = "flickr30k_entities"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
TYPES = f30k.PHRASE_TYPES


def rows_by_id(out: Path, config: str, split: str) -> dict[str, dict]:
    return {row["image_id"]: row for row in parquet_rows(out, config, split)}


# ---- the entities config, value by value ------------------------------------------------------------

def test_entities_rows_equal_what_the_generator_wrote(built):
    tree, out, _ = built
    for split in SPLITS:
        rows = parquet_rows(out, "entities", split)
        assert [r["image_id"] for r in rows] == tree.rows_expected(split)  # split-file order
        for row in rows:
            image = tree.images[row["image_id"]]
            assert row["image"] == {"bytes": image.jpeg, "path": f"{image.image_id}.jpg"}
            assert (row["width"], row["height"]) == image.size
            expected = image.expected_captions()
            assert [{k: c[k] for k in ("text", "phrases")} for c in row["captions"]] == expected
            assert [c["unrelated"] for c in row["captions"]] == [(image.image_id, k) in tree.unrelated
                                                                 for k in range(len(expected))]
            assert row["entities"] == image.expected_entities()


def test_entity_with_three_boxes_and_a_box_shared_by_two_entities(built):
    _, out, _ = built
    entities = {e["chain_id"]: e for e in rows_by_id(out, "entities", "validation")["12345"]["entities"]}
    # 1-based inclusive XML values minus one; the edge box (1,1)-(500,375) becomes (0,0)-(499,374)
    assert entities[701]["boxes"] == [[39, 59, 179, 369], [199, 79, 259, 249], [0, 0, 499, 374]]
    assert entities[705]["boxes"] == entities[707]["boxes"] == [[299, 199, 419, 329]]
    assert entities[706] == {"chain_id": 706, "boxes": [], "is_scene": True, "is_nobox": False}
    assert entities[703] == {"chain_id": 703, "boxes": [], "is_scene": False, "is_nobox": True}
    assert entities[709]["boxes"] == [[9, 9, 29, 29]]  # a chain no caption mentions is kept
    assert 704 not in entities  # mentioned in a caption, absent from the XML


def test_phrases_keep_types_chain_zero_and_missing_final_period(built):
    _, out, _ = built
    captions = rows_by_id(out, "entities", "validation")["12345"]["captions"]
    assert captions[1]["text"] == "A child holds her mother 's hand today"  # no final " ."
    hand, today = captions[1]["phrases"][1:]
    assert hand == {"text": "her mother 's hand", "first_word_index": 3, "chain_id": 707,
                    "types": [TYPES.index("bodyparts"), TYPES.index("people")]}
    assert today == {"text": "today", "first_word_index": 7, "chain_id": 0, "types": [TYPES.index("notvisual")]}
    there = captions[4]["phrases"][-1]
    assert (there["text"], there["chain_id"]) == ("there", 0)  # a second chain-0 phrase, kept distinct
    assert captions[2]["phrases"] == []
    boat = captions[3]["phrases"][-1]
    assert [TYPES[t] for t in boat["types"]] == ["vehicles", "scene", "other"]
    water = captions[3]["phrases"][2]
    assert (water["chain_id"], [TYPES[t] for t in water["types"]]) == (706, ["other"])  # 706 is "scene" in caption 1
    assert captions[4]["unrelated"] is True and captions[0]["unrelated"] is False


def test_awkward_images(built):
    tree, out, _ = built
    empty = rows_by_id(out, "entities", "train")["4000000001"]  # id above 2**31, kept as a string
    assert empty["entities"] == [] and (empty["width"], empty["height"]) == (375, 500)
    gray = rows_by_id(out, "entities", "test")["2199200615"]
    assert PIL.Image.open(io.BytesIO(gray["image"]["bytes"])).mode == "L"
    assert {e["chain_id"]: e["boxes"] for e in gray["entities"]} == {20334: [], 20333: []}  # empty <bndbox/>
    cafe = rows_by_id(out, "entities", "train")["98765"]
    assert cafe["captions"][1]["phrases"][1]["text"] == "a busy café"


def test_captions_config(built):
    tree, out, _ = built
    row = rows_by_id(out, "captions", "train")["98765"]
    assert row["captions"] == [tree.images["98765"].caption_text(k) for k in range(5)]
    assert row["caption_unrelated"] == [False, True, False, False, False]
    assert set(row) == {"image_id", "image", "captions", "caption_unrelated"}
    first = parquet_rows(out, "captions", "test")[0]
    assert first["image_id"] == "2199200615" and first["captions"][2] == "The animals play"


def test_karpathy_config_uses_karpathy_splits_and_original_captions(built):
    tree, out, _ = built
    assert [r["image_id"] for r in parquet_rows(out, "karpathy", "train")] == tree.karpathy["train"]
    row = rows_by_id(out, "karpathy", "train")["12345"]  # validation in Entities, train in Karpathy
    first = row["sentences"][0]
    assert first["raw"] == "A girl in a blue coat feeds some ducks at a pond."
    assert first["original"] == "A girl in a blue coat feeds some ducks at a pond ."
    assert first["tokens"][:3] == ["a", "girl", "in"]
    assert [s["unrelated"] for s in row["sentences"]] == [False, False, False, False, True]


def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: other" in readme and "license_name: flickr30k-noncommercial-research" in readme
    assert "extra_gated_fields:" in readme and "Phrase localisation" in readme
    assert "flickrentitiesijcv" in readme and "young2014image" in readme
    assert "| `entities[].boxes` | list<list<int32>[4]> |" in readme
    assert 'load_dataset("ORG/flickr30k-entities", "karpathy")' in readme
    assert "| `entities` | 2 | 1 | 1 |" in readme
    assert report["configs"]["entities"]["splits"]["train"]["rows"] == 2
    inputs = {i["path"]: i for i in report["inputs"]}
    assert "annotations.zip" in inputs and inputs["flickr30k-images/"]["files"] == len(tree.images)


def test_parquet_files_carry_features_and_datasets_options(built):
    _, out, _ = built
    parquet = pq.ParquetFile(out / "entities" / "train-00000-of-00001.parquet")
    columns = {parquet.metadata.row_group(0).column(i).path_in_schema: parquet.metadata.row_group(0).column(i)
               for i in range(parquet.metadata.num_columns)}
    assert columns["image.bytes"].compression == "UNCOMPRESSED"
    assert columns["image_id"].compression == "SNAPPY"
    assert parquet.metadata.row_group(0).column(0).has_offset_index  # page index written


def test_loads_with_datasets_from_the_built_folder(built):
    import datasets

    _, out, _ = built
    ds = datasets.load_dataset(str(out), "entities", split="validation")
    row = ds[0]
    assert row["image"].size == (500, 375)
    assert ds.features["captions"].feature["phrases"].feature["types"].feature.names == TYPES
    assert row["entities"][0]["boxes"][2] == [0, 0, 499, 374]


# ---- raw layouts: archives and extracted folders give the same rows -----------------------------------

@pytest.mark.parametrize("images_as,annotations_as", [("tar", "dir"), ("tar.gz", "zip")])
def test_archives_and_extracted_folders_give_the_same_rows(built, tmp_path, images_as, annotations_as):
    _, reference, _ = built
    sample.make(tmp_path / "raw", images_as=images_as, annotations_as=annotations_as)
    assert not (tmp_path / "raw" / "flickr30k-images").exists()
    out = tmp_path / "out"
    quiet_build(DATASET, tmp_path / "raw", out, configs=["entities"])
    for split in SPLITS:
        got, want = parquet_rows(out, "entities", split), parquet_rows(reference, "entities", split)
        if images_as == "tar":  # random access: split-file order, as from the folder
            assert got == want
        else:  # a gzip stream is read in archive order
            assert sorted(got, key=lambda r: r["image_id"]) == sorted(want, key=lambda r: r["image_id"])


def test_a_shard_job_holds_a_few_images_in_split_file_order(built, samples):
    """The sample at scale 12 in shards of 8,000 bytes of images (conftest's MANY_SHARDS; test_contract.py
    builds it in one process and in two)."""
    tree, _, _ = built
    one, _ = samples.many_shards(DATASET)
    assert len(one.report["configs"]["entities"]["splits"]["train"]["files"]) > 3
    ids = [r["image_id"] for r in parquet_rows(one.out, "entities", "train")]
    assert ids == [i for i in reversed([i.image_id for i in tree.images.values()] +
                                       [str(5_000_000_000 + n) for n in range(12)]) if i in ids]


# ---- pure parsers -------------------------------------------------------------------------------------

def test_parse_caption_official_semantics():
    caption = f30k.parse_caption("[/EN#12/other Four] dogs [/EN#0/notvisual it] [/EN#3/people/other a b c]", "s.txt", 1)
    assert caption["text"] == "Four dogs it a b c"
    assert [(p["text"], p["first_word_index"], p["chain_id"]) for p in caption["phrases"]] == \
        [("Four", 0, 12), ("it", 2, 0), ("a b c", 3, 3)]
    assert f30k.parse_caption("a word] outside", "s.txt", 1)["text"] == "a word] outside"


@pytest.mark.parametrize("line,problem", [
    ("[/EN#12/people A man", "never closed"),
    ("[/EN#x/people A man]", "malformed phrase header"),
    ("[/EN#1/robots A man]", "unknown phrase type"),
    ("[/EN#1/people A [/EN#2/other b]]", "opens inside another phrase"),
    ("[/EN#1/people ]", "empty word"),
])
def test_parse_caption_errors_name_the_line(line, problem):
    with pytest.raises(RawDataError) as error:
        f30k.parse_caption(line, "Sentences/1.txt", 4)
    assert problem in error.value.problem and error.value.line == 4 and error.value.path == "Sentences/1.txt"


@pytest.mark.parametrize("xml,problem", [
    (b"<annotation><size><width>5</width>", "malformed XML"),
    (b"<annotation><size><width>5</width><height>x</height></size></annotation>", "<height> must be an integer"),
    (b"<annotation><size><width>5</width><height>5</height></size><object><name>1</name><bndbox><xmin>4</xmin>"
     b"<ymin>1</ymin><xmax>2</xmax><ymax>3</ymax></bndbox></object></annotation>", "inverted box"),
    (b"<annotation><size><width>5</width><height>5</height></size><object><name>a</name></object></annotation>",
     "chain ids"),
    (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><annotation>&e;</annotation>', "refused XML"),
])
def test_parse_annotation_xml_errors(xml, problem):
    with pytest.raises(RawDataError) as error:
        f30k.parse_annotation_xml(xml, "Annotations/1.xml")
    assert problem in str(error.value)


def test_split_files_reject_duplicates_and_ids_in_two_splits(tmp_path):
    for name, text in {"train.txt": "1\n2\n2\n", "val.txt": "3\n1\n", "test.txt": "4\n"}.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RawDataError, match="listed in several splits"):
        f30k.read_split_files(tmp_path, RecordLog("raise"))
    log = RecordLog("skip")
    assert f30k.read_split_files(tmp_path, log) == {"train": ["2"], "validation": ["3"], "test": ["4"]}
    assert [(s.split, s.record, s.line) for s in log.skipped] == [("train", "1", 1), ("train", "2", 3),
                                                                  ("validation", "1", 2)]


def test_check_jpeg_refuses_truncated_and_foreign_files():
    jpeg = sample._jpeg(sample._hand_written_images()[0])
    assert f30k.check_jpeg(jpeg, "x.jpg") == (500, 333)
    with pytest.raises(RawDataError, match="truncated JPEG"):
        f30k.check_jpeg(jpeg[: len(jpeg) // 2], "x.jpg")
    with pytest.raises(RawDataError, match="not a JPEG"):
        f30k.check_jpeg(b"\x89PNG\r\n\x1a\n....", "x.jpg")
    # start and end markers but no JPEG inside: the same reason on every run (Pillow's names the buffer's address)
    with pytest.raises(RawDataError) as error:
        f30k.check_jpeg(b"\xff\xd8\x00 not a JPEG \xff\xd9", "x.jpg")
    assert error.value.problem == "unreadable JPEG header (no image format recognises the bytes)"


# ---- bad inputs through the CLI: exit 2, the file named -------------------------------------------------

def _replace_in_zip(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    files[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def _broken_tree(tmp_path: Path, breakage: str) -> Path:
    raw = tmp_path / "raw"
    sample.make(raw)
    if breakage == "malformed xml":
        _replace_in_zip(raw / "annotations.zip", "Annotations/12345.xml", b"<annotation>\n<size>\n<width>5</wid")
    elif breakage == "truncated jpeg":
        jpg = raw / "flickr30k-images" / "98765.jpg"
        jpg.write_bytes(jpg.read_bytes()[:2000])
    elif breakage == "missing images":
        shutil.rmtree(raw / "flickr30k-images")
    elif breakage == "bad markup":
        _replace_in_zip(raw / "annotations.zip", "Sentences/12345.txt", b"A [/EN#1/people man\nok .\n")
    return raw


@pytest.mark.parametrize("breakage,expected", [
    ("malformed xml", "annotations.zip:Annotations/12345.xml:3 (record 12345): malformed XML"),
    ("truncated jpeg", "98765.jpg (record 98765): truncated JPEG"),
    ("missing images", "flickr30k-images/<id>.jpg (or flickr30k-images.tar / flickr30k-images.tar.gz)"),
    ("bad markup", "annotations.zip:Sentences/12345.txt:1 (record 12345): phrase [/EN#1... is never closed"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, breakage, expected):
    refused_build("flickr30k_entities", _broken_tree(tmp_path, breakage), tmp_path / "out", expected=expected)


def test_split_id_without_annotation_raises_or_is_skipped_and_counted(bad_tree, tmp_path):
    raw = bad_tree.root
    failed = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "a", "--quiet")
    assert failed.returncode == 2
    assert "(record 55555): no annotation Sentences/55555.txt in the archive" in failed.stderr
    done = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "b",
                      "--on-error", "skip", "--config", "entities", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "b" / "build_report.json").read_text())
    assert report["skipped"] == [{"split": "test", "file": "annotations.zip", "record": "55555", "line": None,
                                  "reason": "no annotation Sentences/55555.txt in the archive", "config": "entities"}]
    test_split = report["configs"]["entities"]["splits"]["test"]
    assert (test_split["records_read"], test_split["rows"], test_split["records_skipped"]) == (2, 1, 1)
    readme = (tmp_path / "b" / "README.md").read_text()
    assert "1 raw records were skipped" in readme and "| `entities` | test | no annotation" in readme
    assert bad_tree.bad_ids == ["55555"]


def test_a_config_asked_for_by_name_needs_its_files(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "val.txt").unlink()
    result = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "o",
                        "--config", "entities", "--quiet")
    assert result.returncode == 2
    assert "missing:\n  - train.txt, val.txt and test.txt" in result.stderr
    assert "github.com/BryanPlummer/flickr30k_entities" in result.stderr  # the download steps


def test_unknown_dataset_and_config_are_usage_errors(tmp_path):
    result = run_script("build.py", "nope", "--data-dir", tmp_path, "--output", tmp_path / "o")
    assert result.returncode == 2 and "unknown dataset 'nope'" in result.stderr
    sample.make(tmp_path / "raw")
    result = run_script("build.py", "flickr30k_entities", "--data-dir", tmp_path / "raw", "--output", tmp_path / "o",
                        "--config", "boxes")
    assert result.returncode == 2 and "unknown config(s) for flickr30k_entities: boxes" in result.stderr


def test_karpathy_is_disabled_with_a_message_when_its_file_is_absent(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "dataset_flickr30k.json").unlink()
    result = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert "config 'karpathy' not built: it needs dataset_flickr30k.json" in result.stdout
    asked = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "o2",
                       "--config", "karpathy", "--quiet")
    assert asked.returncode == 2 and "dataset_flickr30k.json (the Karpathy split file)" in asked.stderr


# ---- real files ------------------------------------------------------------------------------------------

REAL_IDS = ["36979", "65567", "81641", "134206", "148284", "178045", "205842", "256063"]


def test_real_split_files():
    real = realdata_dir("flickr30k_entities")
    splits = f30k.read_split_files(real, RecordLog("raise"))
    assert {s: len(ids) for s, ids in splits.items()} == {"train": 29783, "validation": 1000, "test": 1000}
    assert len(set().union(*map(set, splits.values()))) == 31783
    assert {i for i in REAL_IDS} <= set(splits["train"])
    assert ("180753784", 2) in f30k.parse_unrelated_captions((real / "UNRELATED_CAPTIONS").read_text(), "U")


def _synthesized_xml(image_id: str, jpeg: Path, sentences: str) -> str:
    """Boxes for the chains the real captions mention (the release's XML files are not available)."""
    width, height = PIL.Image.open(jpeg).size
    chains = sorted({int(c) for c in __import__("re").findall(r"\[/EN#(\d+)/", sentences) if c != "0"})
    image = sample.SampleImage(image_id, "train", (width, height), captions=[], objects=[
        sample.Obj((chain,), (1 + k, 1 + k, width - k, height - k)) for k, chain in enumerate(chains)])
    return sample.format_annotation_xml(image)


def real_tree(raw: Path) -> Path:
    """The real split files, images and sentences, with boxes synthesized for their chains (no real XML exists)."""
    real = realdata_dir("flickr30k_entities")
    raw.mkdir()
    for name in ("train.txt", "val.txt", "test.txt", "UNRELATED_CAPTIONS"):
        shutil.copy(real / name, raw / name)
    shutil.copytree(real / "flickr30k-images", raw / "flickr30k-images")
    shutil.copytree(real / "Sentences", raw / "Sentences")
    (raw / "Annotations").mkdir()
    for image_id in REAL_IDS:
        (raw / "Annotations" / f"{image_id}.xml").write_text(_synthesized_xml(
            image_id, real / "flickr30k-images" / f"{image_id}.jpg", (real / "Sentences" / f"{image_id}.txt").read_text()))
    return raw


def test_real_images_and_sentences_build(tmp_path):
    real = realdata_dir("flickr30k_entities")
    raw = real_tree(tmp_path / "raw")
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["entities"], on_error="skip")
    rows = rows_by_id(tmp_path / "out", "entities", "train")
    assert sorted(rows) == sorted(REAL_IDS)
    split = report["configs"]["entities"]["splits"]["train"]
    assert (split["records_read"], split["rows"], split["records_skipped"]) == (29783, 8, 29775)
    assert set(report["configs"]["entities"]["splits"]) == {"train"}  # no real val/test image: no empty split
    assert len(report["skipped"]) == 31775
    for image_id, row in rows.items():
        assert row["image"]["bytes"] == (real / "flickr30k-images" / f"{image_id}.jpg").read_bytes()
    arm = rows["65567"]["captions"][3]["phrases"][1]
    assert arm == {"text": "a man 's arm", "first_word_index": 3, "chain_id": 255545,
                   "types": [TYPES.index("bodyparts"), TYPES.index("people")]}
    each_other = rows["36979"]["captions"][0]["phrases"][2]
    assert (each_other["text"], each_other["chain_id"], each_other["types"]) == ("each other", 0, [TYPES.index("notvisual")])
    stunts = rows["81641"]["captions"]
    assert stunts[4]["text"] == "A man doing gymnastic stunts"  # no final period in the release
    assert [(p["chain_id"], TYPES[p["types"][0]]) for p in stunts[0]["phrases"][:2]] == [(279867, "people"), (279867, "other")]
    assert (rows["148284"]["width"], rows["148284"]["height"]) == PIL.Image.open(real / "flickr30k-images" / "148284.jpg").size
