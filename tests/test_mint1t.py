"""MINT-1T: the builder against the sample generator's tree, bad inputs and viewer safety (what every builder
must do, the Hub round trip among it, is in test_contract.py)."""
from __future__ import annotations

import io
import json
import math
import shutil
import uuid
from pathlib import Path

import datasets
import fsspec
import numpy as np
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import mint1t
from builders import parquet as parquet_module
from builders.core import MultimodalBuilder
from builders.errors import RawDataError, RecordLog
from builders.parquet import PartWriter, arrow_bytes
from builders.pipeline import make_builder
from builders.samples import mint1t as sample
from conftest import realdata_dir
from helpers import parquet_rows, quiet_build, refused_build, run_script

DATASET = "mint1t"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
BUILT_CONFIGS = ["html", "html-v1.0", "pdf", "pdf-CC-MAIN-2023-06", "pdf-CC-MAIN-2024-18", "arxiv"]


def rows_by_key(out: Path, config: str) -> dict[str, dict]:
    return {row["key"]: row for row in parquet_rows(out, config, "train")}


def doc_by_name(tree, name: str):
    return tree.docs[sample.hex_key(name)]


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(data)))


def entropy_coded_data(jpeg_strip: bytes) -> bytes:
    """The compressed pixels of a one-scan JPEG stream: after the SOS segment, before EOI."""
    sos = jpeg_strip.index(b"\xff\xda")
    return jpeg_strip[sos + 2 + int.from_bytes(jpeg_strip[sos + 2:sos + 4], "big"):-2]


def tiff_frame(tiff: bytes, index: int) -> np.ndarray:
    image = PIL.Image.open(io.BytesIO(tiff))
    image.seek(index)
    return np.asarray(image)


# ---- every config, value by value ---------------------------------------------------------------------

def expected_image_info(doc) -> list[dict]:
    names = [ref for ref in doc.refs if ref is not None]
    info = []
    for k, (name, status) in enumerate(zip(names, doc.statuses)):
        entry = {"status": status, "name": None if doc.subset == "html" else name,
                 "page": None, "xref": None, "sha256": None, "metadata": None}
        declared = doc.image_entries[k] if doc.image_entries else None   # the entry made for this image
        if declared and doc.subset == "pdf":
            entry.update(page=declared["page"], xref=declared["xref"], sha256=declared["sha256"])
            if (declared["width"], declared["height"]) != doc.frames[k].size:   # kept, since it differs
                entry["metadata"] = {"width": declared["width"], "height": declared["height"]}
        if doc.image_hashes:
            entry["metadata"] = {"image_hashes": doc.image_hashes[k]}
        info.append(entry)
    return info


def assert_images(row: dict, doc) -> None:
    """Image k of the row is the k-th image of the raw document: TIFF frame k, a member, or a download."""
    slots = [row["images"][i] for i in doc.image_positions]
    assert all(row["images"][i] is None for i, text in enumerate(row["texts"]) if text is not None)
    members = list(doc.members.values())
    for k, (image, status, info) in enumerate(zip(slots, doc.statuses, row["image_info"])):
        if status != "ok":
            assert image is None and info["error"], (doc.key, k)
            continue
        if doc.tiff is not None:
            assert np.array_equal(decoded(image["bytes"]), tiff_frame(doc.tiff, k)), (doc.key, k)
            assert (info["width"], info["height"]) == PIL.Image.open(io.BytesIO(image["bytes"])).size
        elif members:
            assert image == {"bytes": members[k], "path": list(doc.members)[k]}
        else:
            assert image["bytes"] == doc.downloads[doc.refs[doc.image_positions[k]]]
        assert info["error"] is None


@pytest.mark.parametrize("config", BUILT_CONFIGS)
def test_every_config_equals_what_the_generator_wrote(built, config):
    tree, out, _ = built
    rows = parquet_rows(out, config, "train")
    assert [r["key"] for r in rows] == tree.rows_expected(config)
    for row in rows:
        doc = tree.docs[row["key"]]
        assert (row["subset"], row["cc_dump"], row["url"], row["source_file"]) == \
            (doc.subset, doc.cc_dump, doc.url, doc.source_file)
        assert row["texts"] == doc.output_texts
        assert row["image_urls"] == (doc.refs if doc.subset == "html" else [None] * len(doc.refs))
        assert len(row["images"]) == len(row["texts"])
        assert [dict({k: i[k] for k in ("status", "name", "page", "xref", "sha256")},
                     metadata=i["metadata"] and json.loads(i["metadata"])) for i in row["image_info"]] == \
            expected_image_info(doc)
        assert_images(row, doc)
        assert (json.loads(row["metadata"]) if row["metadata"] else None) == doc.output_metadata
        assert len(row["notes"]) == len(doc.notes) and all(n.startswith(e) for n, e in zip(row["notes"], doc.notes))
        assert (row["pdf_name"], row["previous_word_count"], row["bff_contained_ngram_count_before_dedupe"]) == \
            (doc.pdf_name, doc.previous_word_count, doc.bff_count)
        expected_scores = [(k, v) for k, v in (doc.language or {}).items()] or None
        got_scores = row["language_scores"] and [(s["language"], s["score"]) for s in row["language_scores"]]
        assert str(got_scores) == str(expected_scores)  # str() so that NaN equals NaN


# ---- TIFF frames: the k-th image is frame k, stored without re-encoding --------------------------------------

def test_kth_image_of_a_pdf_document_is_frame_k_of_its_tiff(built):
    tree, out, _ = built
    doc = doc_by_name(tree, "annual-report")
    row = rows_by_key(out, "pdf")[doc.key]
    images = [row["images"][i] for i in doc.image_positions]
    assert doc.image_positions == [1, 2, 4]
    assert [i["path"] for i in images] == [f"{doc.key}_{k}.jpg" for k in range(3)]
    source = PIL.Image.open(io.BytesIO(doc.tiff))
    for k, image in enumerate(images):
        source.seek(k)
        assert np.array_equal(decoded(image["bytes"]), np.asarray(source))
        # the JPEG holds the TIFF's compressed strips byte for byte: nothing was decoded and re-encoded
        for offset, size in zip(source.tag_v2[273], source.tag_v2[279]):
            assert entropy_coded_data(doc.tiff[offset:offset + size]) in image["bytes"]
    assert len(PIL.Image.open(io.BytesIO(doc.tiff)).tag_v2[273]) > 1  # the 640x480 frame has several strips
    assert [(i["width"], i["height"], i["page"], i["xref"]) for i in row["image_info"]] == \
        [(640, 480, 0, 8), (120, 90, 0, 9), (64, 200, 1, 31)]


def test_each_pdf_image_gets_its_own_image_metadata_entry(built):
    """The release lists the images of one page in another order than `images` (mlfoundations/MINT-1T#9):
    the entry of an image is the one with its page and xref, whatever its position."""
    tree, out, _ = built
    rows = rows_by_key(out, "pdf")
    doc = doc_by_name(tree, "annual-report")
    written = json.loads(doc.json_bytes)["image_metadata"]
    assert [(e["page"], e["xref"]) for e in written] == [(0, 9), (0, 8), (1, 31)]   # page 0 out of `images` order
    sha = {e["xref"]: e["sha256"] for e in written}
    info = rows[doc.key]["image_info"]
    assert [(i["name"], i["sha256"]) for i in info] == \
        [("page_0_image_8", sha[8]), ("page_0_image_9", sha[9]), ("page_1_image_31", sha[31])]
    assert rows[doc.key]["notes"] == [] and all(i["metadata"] is None for i in info)   # sizes agree: nothing kept
    modes = rows[doc_by_name(tree, "modes").key]   # two pages of two images, each listed backwards
    assert [(i["page"], i["xref"], i["width"], i["height"]) for i in modes["image_info"]] == \
        [(0, 1, 40, 30), (0, 2, 33, 21), (1, 3, 1, 1), (1, 4, 6000, 20)]
    assert modes["notes"] == []
    long = rows[doc_by_name(tree, "fifty-pages").key]   # entries of pages 10 and 20 swapped
    assert [(i["page"], i["xref"]) for i in long["image_info"]] == [(3, 103), (10, 110), (20, 120), (30, 130), (49, 149)]
    assert long["notes"] == [] and sum(len(t) for t in long["texts"] if t) > 500_000


def test_image_metadata_without_its_image_and_images_without_one_are_kept_and_counted(built):
    tree, out, report = built
    doc = doc_by_name(tree, "metadata-gaps")
    row = rows_by_key(out, "pdf")[doc.key]
    assert [(i["name"], i["page"], i["xref"], i["sha256"]) for i in row["image_info"]] == \
        [("page_0_image_4", None, None, None), ("page_1_image_6", 1, 6, doc.image_entries[1]["sha256"])]
    assert json.loads(row["metadata"]) == {"image_metadata": [{"height": 10, "page": 3, "sha256": "%064x" % 99,
                                                               "width": 10, "xref": 99}]}
    assert row["notes"] == ["image 0 (page_0_image_4) has no image_metadata entry",
                            "image_metadata [0] (page 3, xref 99) match(es) no image of the document: kept in metadata"]
    for config in ("pdf", "pdf-CC-MAIN-2024-18"):
        counts = report["configs"][config]["splits"]["train"]["counts"]
        assert counts[mint1t.NO_ENTRY] == 1 and counts[mint1t.UNMATCHED_ENTRIES] == 1
        assert counts["documents with the unknown JSON key 'metadata' (kept in metadata)"] == 1   # extra-keys
    assert "pdf: unknown key 'metadata' in the document JSON of MINT-1T tars: kept by name in the `metadata` " \
           "JSON column" in report["notices"]
    readme = (out / "README.md").read_text()
    assert mint1t.NO_ENTRY in readme and mint1t.UNMATCHED_ENTRIES in readme


def test_rgba_grey_tiny_and_banner_frames(built):
    tree, out, _ = built
    doc = doc_by_name(tree, "modes")
    row = rows_by_key(out, "pdf")[doc.key]
    images = [i for i in row["images"] if i]
    assert [i["path"].rsplit(".", 1)[1] for i in images] == ["tiff", "jpg", "jpg", "jpg"]  # RGBA JPEG has no JPEG form
    modes = [PIL.Image.open(io.BytesIO(i["bytes"])).mode for i in images]
    assert modes == ["RGBA", "L", "RGB", "RGB"]
    assert [(i["width"], i["height"]) for i in row["image_info"]] == [(40, 30), (33, 21), (1, 1), (6000, 20)]
    lzw = rows_by_key(out, "pdf")[doc_by_name(tree, "single-lzw").key]["images"][0]   # texts / images = i t
    assert lzw["path"].endswith(".tiff") and lzw["bytes"][:4] == b"II*\x00"
    assert np.array_equal(decoded(lzw["bytes"]), tiff_frame(doc_by_name(tree, "single-lzw").tiff, 0))


def test_a_frame_that_fails_to_decode_is_null_with_its_reason(built):
    tree, out, _ = built
    doc = doc_by_name(tree, "damaged-frame")
    row = rows_by_key(out, "pdf")[doc.key]
    assert [i is not None for i in row["images"]] == [False, True, False, True]
    damaged = row["image_info"][1]
    assert damaged["status"] == "undecodable" and (damaged["width"], damaged["height"]) == (48, 32)
    assert damaged["error"] == f"{doc.key}_1: the JPEG data is damaged (no start-of-image marker)"
    with pytest.raises(OSError):  # Pillow cannot decode that frame either
        tiff_frame(doc.tiff, 1)


# ---- awkward but valid documents --------------------------------------------------------------------------

def test_html_documents(built):
    tree, out, _ = built
    rows = rows_by_key(out, "html")
    long = rows["MINT-1T-HTML/data_v1_1/shard_000_part_001.parquet#0"]
    assert len(long["texts"]) == 3040 and sum(t is None for t in long["texts"]) == 40
    assert long["texts"][1520] == "Z" * 2_000_000 and long["texts"][75] is None
    odd = rows["MINT-1T-HTML/data_v1_1/shard_000_part_001.parquet#1"]
    assert odd["image_urls"][1] == "https://bilder.example.de/Größe Bild 1.jpg?size=large&lang=de"
    assert "שלום" in odd["texts"][0] and odd["url"] == "https://unicode.example.com/ü?q=1"
    empty = rows["MINT-1T-HTML/data_v1_1/shard_000_part_001.parquet#3"]
    assert empty["image_urls"] == ["", None, "/img/x.jpg"] and empty["url"] is None
    no_images = rows["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet#3"]
    assert no_images["image_info"] == [] and no_images["images"] == [None, None]
    first = rows["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet#0"]
    assert [i and i["path"] for i in first["images"]] == [None, "00000/000000001.jpg", None, "00001/000010001.png"]
    failed = rows["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet#1"]["image_info"][0]
    assert (failed["status"], failed["error"]) == ("download_failed", "failed_to_download: HTTP Error 404: Not Found")
    broken = rows["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet#2"]["image_info"][-1]
    assert broken["status"] == "undecodable" and "not a readable image" in broken["error"]


def test_html_v1_0_is_the_flat_data_v1_0_folder_with_the_dump_from_its_column(built):
    tree, out, report = built
    rows = parquet_rows(out, "html-v1.0", "train")
    assert [r["key"] for r in rows] == ["MINT-1T-HTML/data_v1_0/shard_000_part_001.parquet#0",
                                        "MINT-1T-HTML/data_v1_0/shard_000_part_001.parquet#1",
                                        "MINT-1T-HTML/data_v1_0/shard_060_part_001.parquet#0"]
    assert [r["cc_dump"] for r in rows] == ["CC-MAIN-2023-50", "CC-MAIN-2019-04", "CC-MAIN-2017-22"]
    page = rows[0]   # the page of the first v1.1 document, before its header and footer were removed
    v1_1 = rows_by_key(out, "html")["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet#0"]
    assert page["url"] == v1_1["url"] == "https://blog.example.org/post/123"
    assert page["texts"][0] == "Home | Trails | About" and page["texts"][5] == "\u00a9 2023 Example Blog. All rights reserved."
    assert page["texts"][1:5] == v1_1["texts"]
    assert [i and i["path"] for i in page["images"]] == [None, None, "00000/000000001.jpg", None, "00001/000010001.png", None]
    assert [json.loads(i["metadata"]) for i in page["image_info"]] == [{"image_hashes": "a0"}, {"image_hashes": "b0"}]
    assert {"MINT-1T-HTML/data_v1_0/", "MINT-1T-HTML/data_v1_1/"} <= {i["path"] for i in report["inputs"]}
    assert report["configs"]["html-v1.0"]["splits"]["train"]["counts"] == {}   # every file has its cc_dump column


@pytest.fixture(scope="module")
def per_dump(tmp_path_factory):
    """A download pinned to a revision of July-August 2024: v1.0 in per-dump folders, no data_v1_0/."""
    raw = tmp_path_factory.mktemp("per-dump")
    tree = sample.make(raw, html_v1_0_layout="per-dump")
    out = tmp_path_factory.mktemp("per-dump-out")
    return tree, out, quiet_build(DATASET, raw, out, configs=["html-v1.0"])


def test_a_revision_with_per_dump_folders_is_read_and_a_dump_present_twice_once(per_dump):
    tree, out, report = per_dump
    rows = parquet_rows(out, "html-v1.0", "train")
    assert [r["key"] for r in rows] == tree.rows_expected("html-v1.0") == \
        ["MINT-1T-HTML/CC-MAIN-2020-45/shard_0000.parquet#0", "MINT-1T-HTML/data/CC-MAIN-2023-50/shard_0000.parquet#0",
         "MINT-1T-HTML/data/CC-MAIN-2023-50/shard_0000.parquet#1"]
    assert [r["cc_dump"] for r in rows] == ["CC-MAIN-2020-45", "CC-MAIN-2023-50", "CC-MAIN-2023-50"]  # from the folders
    assert rows[0]["texts"] == ["First upload layout (top-level dump folder).", None, "More."]
    assert json.loads(rows[1]["metadata"]) == {"metadata": [{"alt": "a", "width": 640}]}   # a struct column
    assert report["notices"] == ["html-v1.0: MINT-1T-HTML/CC-MAIN-2023-50/ (HTML v1.0 as uploaded in July-August "
                                 "2024) is not read: the same dump is read from data/CC-MAIN-2023-50/"]
    unread = {u["path"]: u["reason"] for u in report["unread"]}
    assert unread["MINT-1T-HTML/CC-MAIN-2023-50/"] == mint1t.PER_DUMP_NOT_READ
    assert unread["MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet"].startswith(
        "read by config 'html', which this build did not make")
    assert report["configs"]["html-v1.0"]["splits"]["train"]["counts"] == {}   # the folders give the dump


def test_data_v1_0_is_read_instead_of_per_dump_folders_left_beside_it(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw)
    for relative, docs in sample.html_v1_0_documents("per-dump").items():
        sample.write_html_shard(raw / "MINT-1T-HTML" / relative, docs)
    # v1.0 per dump under data_v1_0/: what the notes once assumed, seen in no revision
    shutil.copytree(raw / "MINT-1T-HTML/data/CC-MAIN-2023-50", raw / "MINT-1T-HTML/data_v1_0/CC-MAIN-2023-50")
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["html-v1.0"])
    assert [r["key"] for r in parquet_rows(tmp_path / "out", "html-v1.0", "train")] == tree.rows_expected("html-v1.0")
    assert report["notices"] == [
        "html-v1.0: MINT-1T-HTML/data_v1_0/CC-MAIN-2023-50/ is not read: the release keeps data_v1_0/ flat, and no "
        "revision is known to have had sub-folders there",
        "html-v1.0: MINT-1T-HTML/data/CC-MAIN-2023-50/ (HTML v1.0 as uploaded in July-August 2024) is not read: "
        "data_v1_0/ is read instead",
        "html-v1.0: MINT-1T-HTML/CC-MAIN-2020-45/ (HTML v1.0 as uploaded in July-August 2024) is not read: "
        "data_v1_0/ is read instead"]
    unread = {u["path"]: u["reason"] for u in report["unread"]}
    assert unread["MINT-1T-HTML/CC-MAIN-2020-45/"] == unread["MINT-1T-HTML/data/"] == mint1t.PER_DUMP_NOT_READ
    assert unread["MINT-1T-HTML/data_v1_0/CC-MAIN-2023-50/"].startswith("a folder inside data_v1_0/ or data_v1_1/")


def test_a_flat_file_without_cc_dump_or_with_unknown_columns_says_so(tmp_path):
    """The cc_dump column is known only from downstream readers: a file without it builds, with null dumps
    that are counted and noticed; a column nobody described is kept by name in `metadata` and counted."""
    raw = tmp_path / "raw"
    docs = sample.listed_html_documents("MINT-1T-HTML/data_v1_0/shard_001_part_001.parquet")
    rows = [dict(sample.html_row(doc, flat=True), language="en") for doc in docs]
    for row in rows:
        del row["cc_dump"]
    sample.write_html_parquet(raw / "MINT-1T-HTML/data_v1_0/shard_001_part_001.parquet", rows,
                              pa.schema([f for f in sample.HTML_V1_1 if f.name != "cc_dump"] + [("language", pa.string())]))
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["html-v1.0"])
    built_rows = parquet_rows(tmp_path / "out", "html-v1.0", "train")
    assert [(r["cc_dump"], r["url"], json.loads(r["metadata"])) for r in built_rows] == [
        (None, "https://www.example.com/shard_001_part_001/page-0", {"language": "en"}),
        (None, "https://www.example.com/shard_001_part_001/page-1", {"language": "en"})]
    assert report["configs"]["html-v1.0"]["splits"]["train"]["counts"] == {
        mint1t.NO_DUMP_COLUMN: 2, "documents with the unknown column 'language' (kept in metadata)": 2}
    assert report["notices"] == [
        "html-v1.0: unknown column 'language' in MINT-1T-HTML shards: kept by name in the `metadata` JSON column",
        "html-v1.0: MINT-1T-HTML shards without a cc_dump column: their documents have a null cc_dump (the dump is "
        "not known from a flat data_v1_0/ or data_v1_1/ file without it)"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert mint1t.NO_DUMP_COLUMN in readme


# ---- HTML: the column-wise tables are the per-document path's ------------------------------------------------

def html_paths(builder, shard, on_error: str = "skip") -> list[tuple]:
    """(tables, log) of the per-document path (the core's batching of `shard_rows`, i.e. `html_rows`) and of the
    column-wise one (`Mint1T.shard_tables`, i.e. `html_tables`); an error instead of tables under raise."""
    results = []
    for tables_of in (MultimodalBuilder.shard_tables, type(builder).shard_tables):
        log = RecordLog(on_error, "train")
        try:
            results.append((list(tables_of(builder, shard, log)), log))
        except RawDataError as error:
            results.append((str(error), log))
    return results


def assert_same_html_tables(builder, shard, on_error: str = "skip") -> tuple[list, RecordLog]:
    """The same rows in the same tables (a table is a row group: the same batch boundaries), weighing the same
    (`arrow_bytes` decides row groups and parts), the same Parquet bytes, and the same records, skips, counts and
    notices logged; or, under raise, the same error (the job then stops: its log is not reported). The
    per-document path's (tables or error, log) is returned."""
    (expected, expected_log), (got, got_log) = html_paths(builder, shard, on_error)
    if isinstance(expected, str) or isinstance(got, str):
        assert got == expected
        return expected, expected_log
    assert [t.num_rows for t in got] == [t.num_rows for t in expected]
    assert all(g.equals(e) for g, e in zip(got, expected))
    assert [arrow_bytes(t) for t in got] == [arrow_bytes(t) for t in expected]
    assert written(builder, got) == written(builder, expected)
    assert (got_log.seen, got_log.as_dicts(), list(got_log.counts.items()), got_log.notices) == \
        (expected_log.seen, expected_log.as_dicts(), list(expected_log.counts.items()), expected_log.notices)
    return expected, expected_log


def written(builder, tables: list[pa.Table]) -> tuple[list[str], str]:
    """The sha256 of each Parquet part the tables make, and their row digest."""
    writer = PartWriter(builder.info.features, fsspec.filesystem("memory"), f"/html-{uuid.uuid4().hex}", "part")
    for table in tables:
        writer.write(table)
    return [part.sha256 for part in writer.close()], writer.digest.hexdigest()


@pytest.mark.parametrize("batch_bytes,batch_rows", [(mint1t.Mint1T.BATCH_BYTES, mint1t.HTML_BATCH_ROWS), (2000, 3),
                                                    (1, 1)])
def test_html_tables_are_made_column_wise_as_the_per_document_path_makes_them(built, bad_tree, per_dump, monkeypatch,
                                                                               batch_bytes, batch_rows):
    """Every HTML file of the samples (flat v1.1 and v1.0, per-dump v1.0 with struct metadata and no cc_dump column,
    the bad records), with the build's batches and with batches of a few rows and bytes."""
    monkeypatch.setattr(mint1t, "HTML_BATCH_ROWS", batch_rows)
    skipped, files = [], 0
    for raw, config in ((built.tree.root, "html"), (built.tree.root, "html-v1.0"), (bad_tree.root, "html"),
                        (per_dump[0].root, "html-v1.0")):
        builder = make_builder(DATASET, config, raw, "skip")
        builder.BATCH_BYTES = batch_bytes
        for shard in builder.split_shards(RecordLog("skip"))["train"]:
            _, log = assert_same_html_tables(builder, shard)
            skipped += [s.reason for s in log.skipped]
            files += 1
            if raw == bad_tree.root and "shard_099" in shard.path:
                assert "texts has 2 entries but images has 1" in assert_same_html_tables(builder, shard, "raise")[0]
    assert files == 11 and skipped == [reason for part, _, reason in bad_tree.rejected if part == "html"]


def test_only_the_documents_a_check_flags_are_made_one_by_one(built, monkeypatch):
    """The column-wise path is the one taken: `html_row` makes the row of the one sample document whose metadata
    is not JSON (its note), and of no other."""
    made, html_row = [], mint1t.html_row
    monkeypatch.setattr(mint1t, "html_row", lambda record, *args: made.append(record["url"]) or html_row(record, *args))
    builder = make_builder(DATASET, "html", built.tree.root, "skip")
    rows = [row for shard in builder.split_shards(RecordLog("skip"))["train"]
            for table in builder.shard_tables(shard, RecordLog("skip")) for row in table.to_pylist()]
    assert len(rows) == 9 and made == ["https://meta.example.com/1"]
    assert [row["notes"] for row in rows if row["url"] == made[0]] == \
        [["the metadata column is not valid JSON: kept as a string"]]


def test_json_members_that_need_repair(built):
    tree, out, _ = built
    rows = rows_by_key(out, "pdf")
    surrogate = rows[doc_by_name(tree, "surrogate").key]
    assert surrogate["texts"] == ["Broken emoji \ufffd here.", "Fine \U0001F600 pair."]
    cp1252 = rows[doc_by_name(tree, "cp1252").key]
    assert cp1252["texts"] == ["\ufffdSmart quotes\ufffd from Windows."]
    assert cp1252["notes"][0].startswith("the JSON member is not valid UTF-8 (first bad byte at offset ")
    extra = rows[doc_by_name(tree, "extra-keys").key]
    assert math.isnan(extra["language_scores"][0]["score"])
    assert json.loads(extra["metadata"]) == {"metadata": {"Content-Type": "application/pdf"}}


def test_arxiv_layouts(built):
    tree, out, _ = built
    rows = rows_by_key(out, "arxiv")
    named = rows["2105_05870"]
    assert [i["path"] for i in named["images"] if i] == ["2105_05870_0.jpg", "2105_05870_1.png"]
    assert PIL.Image.open(io.BytesIO(named["images"][0]["bytes"])).format == "PNG"  # kept as the release has it
    prefixed = rows["2105_05871"]   # members before the JSON, matched by <key>_<k>
    assert [i["name"] for i in prefixed["image_info"]] == ["fig1", "fig2"]
    assert prefixed["image_info"][1]["status"] == "undecodable" and prefixed["images"][2] is None
    assert rows["2105_05862"]["texts"][5] == "Results in Table~\\ref{tab:1}."
    assert len(rows["2105_05862"]["texts"][6]) > 1_000_000
    assert rows["2105_05863"]["images"] == [None, None]
    fourth = parquet_rows(out, "arxiv", "train")[3]
    assert PIL.Image.open(io.BytesIO(fourth["images"][2]["bytes"])).format == "PNG"


def test_pdf_config_is_the_union_of_the_dump_configs(built):
    _, out, report = built
    union = [r["key"] for r in parquet_rows(out, "pdf", "train")]
    assert union == [r["key"] for c in ("pdf-CC-MAIN-2023-06", "pdf-CC-MAIN-2024-18") for r in parquet_rows(out, c, "train")]
    assert "pdf-CC-MAIN-2023-14" not in report["configs"]


# ---- viewer safety: small row groups, every one readable ------------------------------------------------------

def read_every_row_group(out: Path) -> int:
    groups = 0
    for file in sorted(out.rglob("*.parquet")):
        parquet = pq.ParquetFile(file)
        for index in range(parquet.num_row_groups):
            group = parquet.metadata.row_group(index)
            assert group.total_byte_size <= 2 * parquet_module.ROW_GROUP_BYTES or group.num_rows == 1
            table = parquet.read_row_group(index)
            assert table.num_rows == parquet.metadata.row_group(index).num_rows
            groups += 1
    return groups


def test_every_row_group_reads_with_pyarrow_and_datasets(built):
    tree, out, _ = built
    assert read_every_row_group(out) >= 12
    for config in BUILT_CONFIGS:
        streamed = datasets.load_dataset(str(out), config, split="train", streaming=True)
        keys = [row["key"] for row in streamed]
        assert keys == tree.rows_expected(config)
    pdf = datasets.load_dataset(str(out), "pdf", split="train")
    row = pdf[tree.rows_expected("pdf").index(doc_by_name(tree, "annual-report").key)]
    assert row["images"][1].size == (640, 480) and row["images"][0] is None
    assert pdf[0]["key"] == tree.rows_expected("pdf")[0] and pdf[0]["images"][1].size == (64, 48)
    assert pdf.features["metadata"] == datasets.Json() and row["image_info"][0]["metadata"] is None


def test_the_long_document_alone_in_tiny_row_groups(tmp_path, monkeypatch, built):
    tree, _, _ = built
    raw = tmp_path / "raw"
    sample.make(raw)
    # a row-group bound far below the long document's size: each group then holds a single row
    monkeypatch.setattr(parquet_module, "ROW_GROUP_BYTES", 50_000)
    out = tmp_path / "out"
    quiet_build(DATASET, raw, out, configs=["html"])
    long_file = pq.ParquetFile(out / "html" / "train-00001-of-00003.parquet")
    assert long_file.num_row_groups == 4 and long_file.metadata.row_group(0).num_rows == 1
    assert long_file.read_row_group(0).column("texts")[0].as_py()[1520] == "Z" * 2_000_000
    read_every_row_group(out)
    streamed = datasets.load_dataset(str(out), "html", split="train", streaming=True)
    assert [len(row["texts"]) for row in streamed][4] == 3040


# ---- the card and the report -----------------------------------------------------------------------------

def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: cc-by-4.0" in readme and "awadalla2024mint1t" in readme
    assert "| `pdf` | 14 | public |" in readme and "| `html` (default) | 9 | public |" in readme
    assert "| `image_info[].status` | string |" in readme and "| `metadata` | json |" in readme
    assert "remain subject to their owners' rights" in readme
    assert sorted(report["configs"]) == sorted(BUILT_CONFIGS)
    for config in BUILT_CONFIGS:
        assert report["configs"][config]["splits"]["train"]["rows"] == len(tree.rows_expected(config))
    inputs = {i["path"]: i for i in report["inputs"]}
    # the dump folder's listing: its 3 tars, and the README, .gitattributes and picture that are not read
    assert inputs["MINT-1T-PDF-CC-2024-18/"]["files"] == 6 and "listing_sha256" in inputs["MINT-1T-ArXiv/"]


def test_what_the_build_does_not_read_is_listed_with_its_reason(built):
    _, out, report = built
    reasons = dict(mint1t.Mint1T.NOT_READ)
    card, lfs, picture = reasons["MINT-1T-*/README.md"], reasons["MINT-1T-*/.gitattributes"], reasons["MINT-1T-*/*.png"]
    sidecar = reasons["MINT-1T-HTML-images/*.json"]
    assert {u["path"]: u["reason"] for u in report["unread"]} == {
        "MINT-1T-ArXiv/.gitattributes": lfs,
        "MINT-1T-HTML/.gitattributes": lfs, "MINT-1T-HTML/README.md": card,
        "MINT-1T-HTML/interleaved-example-twitter.png": picture, "MINT-1T-HTML/mint-logo.png": picture,
        "MINT-1T-HTML-images/00001/000010001.json": sidecar, "MINT-1T-HTML-images/00001/000010002.json": sidecar,
        **{f"MINT-1T-PDF-CC-{dump}/{name}": reason for dump in ("2023-06", "2024-18")
           for name, reason in ((".gitattributes", lfs), ("README.md", card), ("interleaved-example-twitter.png", picture))},
    }
    assert "MINT-1T-HTML/README.md" in (out / "README.md").read_text()


def test_read_paths_are_the_files_read(built, tmp_path):
    tree, _, _ = built

    def read(config: str) -> list[str]:
        builder = mint1t.Mint1T(config_name=config, data_dir=str(tree.root), cache_dir=str(tmp_path))
        return [path.relative_to(tree.root).as_posix() for path in builder.read_paths()]

    images = ["MINT-1T-HTML-images/00000.parquet", "MINT-1T-HTML-images/00000.tar", "MINT-1T-HTML-images/00001.parquet",
              "MINT-1T-HTML-images/00001/000010001.png", "MINT-1T-HTML-images/00001/000010002.gif"]
    assert read("html") == [f"MINT-1T-HTML/data_v1_1/{name}.parquet" for name in
                            ("shard_000_part_000", "shard_000_part_001", "shard_055_part_003")] + images
    assert read("html-v1.0") == ["MINT-1T-HTML/data_v1_0/shard_000_part_001.parquet",
                                 "MINT-1T-HTML/data_v1_0/shard_060_part_001.parquet"] + images
    assert read("arxiv") == ["MINT-1T-ArXiv/arXiv_src_0001_001_wds.tar", "MINT-1T-ArXiv/arXiv_src_2105_001_wds.tar"]
    assert read("pdf-CC-MAIN-2023-06") == [
        "MINT-1T-PDF-CC-2023-06/CC-MAIN-2023-06-shard-0/CC-MAIN-20230126210844-20230127000844-00000.tar"]
    assert read("pdf-CC-MAIN-2023-14") == []   # not downloaded


# ---- bad inputs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config,expected", [
    ("html", "shard_099_part_000.parquet (record 0): texts has 2 entries but images has 1"),
    ("pdf-CC-MAIN-2023-06", "CC-MAIN-20230127000844-20230127030844-00000.tar (record {too_many}): {too_many}.tiff "
                            "has 3 frame(s) but the JSON lists 2 image(s)"),
])
def test_bad_records_stop_the_build_with_exit_2(bad_tree, tmp_path, config, expected):
    expected = expected.format(too_many=sample.hex_key("too-many-frames"))
    refused_build("mint1t", bad_tree.root, tmp_path / "out", "--config", config, "--on-error", "raise",
                  expected=expected)


def test_skip_lists_every_rejected_record(bad_tree, tmp_path):
    """Without --on-error, MINT-1T builds skip-and-count (its card's policy): every rejection is listed."""
    out = tmp_path / "out"
    result = run_script("build.py", "mint1t", "--data-dir", bad_tree.root, "--output", out,
                        "--config", "html", "--config", "pdf", "--config", "pdf-CC-MAIN-2023-06", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "build_report.json").read_text())
    skipped = [(s["config"], s["record"], s["reason"]) for s in report["skipped"]]
    assert len(skipped) == len(bad_tree.rejected) == 15
    for config, record, reason in bad_tree.rejected:
        assert any(c == config and r == record and got.startswith(reason) for c, r, got in skipped), (config, record)
    cut = next(s for s in report["skipped"] if s["record"] == "0123456789abcdef0123456789abcdef")
    assert cut["file"].endswith("-00000.tar:0123456789abcdef0123456789abcdef.json") and cut["line"] == 1
    for config in ("html", "pdf", "pdf-CC-MAIN-2023-06"):
        assert [r["key"] for r in parquet_rows(out, config, "train")] == bad_tree.rows_expected(config)
    assert report["configs"]["pdf"]["splits"]["train"]["records_skipped"] == 6
    good = rows_by_key(out, "pdf")[sample.hex_key("good-neighbour")]
    assert np.array_equal(decoded(good["images"][1]["bytes"]), tiff_frame(bad_tree.docs[good["key"]].tiff, 0))
    readme = (out / "README.md").read_text()
    assert report["on_error"] == "skip" and "Error policy: `--on-error skip` (this dataset's default" in readme
    assert "15 raw records were skipped" in readme
    assert "| `html` | train | texts has 2 entries but images has 1 | 1 |" in readme


def test_a_truncated_tar_is_an_error_whatever_the_policy(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    tar = next((raw / "MINT-1T-ArXiv").glob("arXiv_src_2105*.tar"))
    tar.write_bytes(tar.read_bytes()[:3000])
    result = run_script("build.py", "mint1t", "--data-dir", raw, "--output", tmp_path / "out", "--config", "arxiv",
                        "--on-error", "skip", "--quiet")
    assert result.returncode == 2
    assert "arXiv_src_2105_001_wds.tar: the tar is corrupt or truncated" in result.stderr


def test_a_missing_subset_names_the_files_and_the_download_steps(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    shutil.rmtree(raw / "MINT-1T-ArXiv")
    result = run_script("build.py", "mint1t", "--data-dir", raw, "--output", tmp_path / "out", "--config", "arxiv",
                        "--quiet")
    assert result.returncode == 2
    assert "missing:\n  - MINT-1T-ArXiv/arXiv_src_YYMM_NNN_wds.tar" in result.stderr
    assert "hf download mlfoundations/MINT-1T-ArXiv" in result.stderr


# ---- pure parsers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("texts,images,problem", [
    (["a"], [None, "u"], "texts has 1 entries but images has 2"),
    (["a", None, "b"], [None, None, None], "position 1 holds neither a text nor an image"),
    ([None, 3], ["u", None], "texts[1] is a int, expected a string or null"),
    ("abc", [], "texts and images must both be lists"),
])
def test_check_interleaving(texts, images, problem):
    with pytest.raises(RawDataError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        mint1t.check_interleaving(texts, images)


def test_parse_document_json_errors_and_repairs():
    with pytest.raises(RawDataError) as error:
        mint1t.parse_document_json(b'{"texts": [\n  "a",\n  oops]}', "x.tar:k.json")
    assert error.value.line == 3 and error.value.path == "x.tar:k.json"
    with pytest.raises(RawDataError, match="no 'images' list"):
        mint1t.parse_document_json(b'{"texts": ["a"]}', "x.tar:k.json")
    document, notes = mint1t.parse_document_json(b'{"texts": ["\\udc00\\ud83d\\ude00"], "images": [null]}', "k")
    assert document["texts"] == ["\ufffd\U0001F600"] and notes == ["1 unpaired UTF-16 surrogate escape(s) replaced by U+FFFD"]


def test_tar_members_of_a_document_are_never_joined_across_tars(tmp_path):
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    tiff = sample.multi_frame_tiff([sample.picture(8, 8, 1)])
    sample.write_tar(first, [("k.json", b'{"texts": ["t", null], "images": [null, "i"]}'), ("orphan.tiff", tiff)])
    sample.write_tar(second, [("k.tiff", tiff)])
    found = [(s.key, s.tiff is not None, s.error and s.error.problem) for s in mint1t.tar_samples(str(first))]
    assert found == [("k", False, None), ("orphan", False, "orphan.tiff has no orphan.json in this tar")]
    assert [(s.key, s.error.problem) for s in mint1t.tar_samples(str(second))] == \
        [("k", "k.tiff has no k.json in this tar")]


def test_duplicate_keys_and_surplus_members_in_a_tar(tmp_path):
    tar = tmp_path / "dup.tar"
    tiff = sample.multi_frame_tiff([sample.picture(8, 8, 1)])
    text_only = b'{"texts": ["t"], "images": [null]}'
    sample.write_tar(tar, [("k.json", text_only), ("k.json", text_only), ("k.tiff", tiff)])
    found = [(s.key, s.document is not None, s.error and s.error.problem) for s in mint1t.tar_samples(str(tar))]
    assert found == [("k", True, None), ("k", False, "a second k.json in this tar"),
                     ("k", False, "k.tiff is one member too many: k.json lists 0 image(s), all found before it")]


def test_fields_of_an_unexpected_type_are_kept_in_metadata_with_a_note():
    document = {"texts": [None, "t"], "images": ["page_0_image_5", None], "previous_word_count": "812",
                "image_metadata": [{"page": 0.0, "xref": 5, "sha256": 7, "width": 8, "height": 8, "dpi": 72},
                                   {"page": "first", "xref": 5, "sha256": "s", "width": 8, "height": 8}]}
    tiff = sample.multi_frame_tiff([sample.picture(8, 8, 1)])
    shard = mint1t.Shard("pdf", "x.tar", "x.tar", "CC-MAIN-2024-18")
    log = RecordLog()
    row = mint1t.tar_row(mint1t.TarSample("k", document, tiff=tiff), shard, log)
    assert row["previous_word_count"] is None
    assert json.loads(row["metadata"]) == {"previous_word_count": "812", "image_metadata": [document["image_metadata"][1]]}
    info = row["image_info"][0]
    assert (info["page"], info["xref"], info["sha256"]) == (0, 5, None)
    assert json.loads(info["metadata"]) == {"dpi": 72, "sha256": 7}
    assert row["notes"] == ["image_metadata[0].sha256 is 7, not a string: kept in metadata",
                            "image_metadata [1] (page 'first', xref 5) match(es) no image of the document: kept in metadata",
                            "previous_word_count is '812', not an integer: kept in metadata"]
    assert log.counts == {mint1t.UNMATCHED_ENTRIES: 1,
                          "image_metadata entries with the unknown key 'dpi' (kept in image_info[].metadata)": 1}


def test_image_metadata_is_matched_by_page_and_xref_not_by_position():
    """Entries in another order than `images`, an image drawn twice with one entry, an entry of no image."""
    document = {"texts": [None, None, "t", None], "images": ["page_0_image_9", "page_0_image_8", None, "page_0_image_9"],
                "image_metadata": [{"height": 6, "page": 0, "sha256": "8" * 64, "width": 8, "xref": 8},
                                   {"height": 4, "page": 2, "sha256": "1" * 64, "width": 4, "xref": 1},
                                   {"height": 8, "page": 0, "sha256": "9" * 64, "width": 6, "xref": 9}]}
    frames = [sample.picture(6, 8, 1), sample.picture(8, 6, 2), sample.picture(6, 8, 3)]
    shard = mint1t.Shard("pdf", "x.tar", "x.tar", "CC-MAIN-2024-18")
    log = RecordLog()
    row = mint1t.tar_row(mint1t.TarSample("k", document, tiff=sample.multi_frame_tiff(frames)), shard, log)
    assert [(i["name"], i["page"], i["xref"], i["sha256"], i["width"], i["height"], i["metadata"])
            for i in row["image_info"]] == [("page_0_image_9", 0, 9, "9" * 64, 6, 8, None),
                                            ("page_0_image_8", 0, 8, "8" * 64, 8, 6, None),
                                            ("page_0_image_9", 0, 9, "9" * 64, 6, 8, None)]
    assert json.loads(row["metadata"]) == {"image_metadata": [document["image_metadata"][1]]}
    assert row["notes"] == [
        "image 2 (page_0_image_9) shares the image_metadata entry of an earlier image with the same page and xref",
        "image_metadata [1] (page 2, xref 1) match(es) no image of the document: kept in metadata"]
    assert log.counts == {mint1t.UNMATCHED_ENTRIES: 1,
                          "images sharing the image_metadata entry of an earlier image (same page and xref)": 1}
    # a PDF document without image_metadata: each image is said to have no entry
    bare = dict(document, image_metadata=None)
    row = mint1t.tar_row(mint1t.TarSample("k", bare, tiff=sample.multi_frame_tiff(frames)), shard, log := RecordLog())
    assert [i["page"] for i in row["image_info"]] == [None, None, None] and log.counts == {mint1t.NO_ENTRY: 3}
    # names that are not page tokens (arxiv) can only be matched by position, one entry per image
    arxiv = {"texts": [None, "t"], "images": ["fig1", None], "image_metadata": [{"page": 2, "xref": 3}],
             "arxiv_id": "0001.0001"}
    row = mint1t.tar_row(mint1t.TarSample("a", arxiv, tiff=sample.multi_frame_tiff(frames[:1])),
                         mint1t.Shard("arxiv", "y.tar", "y.tar"), log := RecordLog())
    assert (row["image_info"][0]["page"], row["image_info"][0]["xref"], row["notes"]) == (2, 3, [])
    assert json.loads(row["metadata"]) == {"arxiv_id": "0001.0001"}   # a key nobody described: kept and counted
    assert log.counts["documents with the unknown JSON key 'arxiv_id' (kept in metadata)"] == 1
    assert log.notices == ["unknown key 'arxiv_id' in the document JSON of MINT-1T tars: kept by name in the "
                           "`metadata` JSON column"]


# ---- the release's own file names (shared/realdata/layouts/mint1t.txt) --------------------------------------

def listed_paths() -> list[str]:
    """The paths of the real Hub listing, each once (a file may be named by two pages)."""
    listing = realdata_dir("layouts") / "mint1t.txt"
    lines = [line for line in listing.read_text().splitlines() if line and not line.startswith("#")]
    return list(dict.fromkeys(line.split("\t")[0] for line in lines))


@pytest.fixture(scope="module")
def real_layout(tmp_path_factory):
    """Every path of the listing laid out, data files filled by the sample generator, the rest placeholders."""
    raw = tmp_path_factory.mktemp("listed")
    paths = listed_paths()
    for path in paths:
        sample.write_listed(raw, path)
    out = tmp_path_factory.mktemp("listed-out")
    return paths, out, quiet_build(DATASET, raw, out)


def test_the_hub_layout_of_every_subset_builds(real_layout):
    paths, out, report = real_layout
    assert "MINT-1T-HTML/data_v1_0/shard_060_part_001.parquet" in paths and len(paths) == 63
    # 9 v1.1 and 11 v1.0 shards of two documents, 2 PDF tars of two, 12 ArXiv tars of one paper
    assert {config: c["splits"]["train"]["rows"] for config, c in report["configs"].items()} == \
        {"html": 18, "html-v1.0": 22, "pdf": 4, "pdf-CC-MAIN-2023-23": 2, "pdf-CC-MAIN-2024-18": 2, "arxiv": 12}
    v1_0 = rows_by_key(out, "html-v1.0")["MINT-1T-HTML/data_v1_0/shard_060_part_001.parquet#0"]
    assert (v1_0["cc_dump"], v1_0["url"]) == ("CC-MAIN-2022-33", "https://www.example.com/shard_060_part_001/page-0")
    assert v1_0["texts"] == ["Menu | Search", "The first page of shard_060_part_001.", None, "Footer: contact us"]
    assert v1_0["image_urls"][2] == "https://www.example.com/shard_060_part_001/0.jpg"
    v1_1 = rows_by_key(out, "html")["MINT-1T-HTML/data_v1_1/shard_060_part_001.parquet#0"]
    assert (v1_1["cc_dump"], v1_1["url"], v1_1["texts"]) == (v1_0["cc_dump"], v1_0["url"], v1_0["texts"][1:3])
    assert [r["key"] for r in parquet_rows(out, "html", "train")][:2] == \
        ["MINT-1T-HTML/data_v1_1/shard_011_part_001.parquet#0", "MINT-1T-HTML/data_v1_1/shard_011_part_001.parquet#1"]
    pdf = parquet_rows(out, "pdf", "train")
    assert [r["source_file"] for r in pdf[::2]] == [
        "MINT-1T-PDF-CC-2023-23/CC-MAIN-2023-23-shard-0/CC-MAIN-20230527223515-20230528013515-00000.tar",
        "MINT-1T-PDF-CC-2024-18/CC-MAIN-2024-18-shard-0/CC-MAIN-20240412101354-20240412131354-00000.tar"]
    first = pdf[0]
    assert (first["key"], first["cc_dump"], first["url"]) == (
        sample.hex_key("CC-MAIN-20230527223515-20230528013515-00000-0"), "CC-MAIN-2023-23",
        "https://files.example.org/CC-MAIN-20230527223515-20230528013515-00000-0.pdf")
    # the two images of page 1 are listed backwards in image_metadata: each still gets its own entry
    assert [(i["page"], i["xref"], i["width"], i["height"]) for i in first["image_info"]] == [(1, 12, 32, 24), (1, 15, 24, 32)]
    assert first["notes"] == []
    assert [r["key"] for r in parquet_rows(out, "arxiv", "train")] == [f"hep-th00{m:02d}001" for m in range(1, 13)]


def test_the_hub_layout_leaves_only_what_is_not_data(real_layout):
    """The repositories' README, .gitattributes and card pictures, and the PDF shard folders the listing
    shows without their tars, are listed as not read, each with the builder's reason."""
    paths, out, report = real_layout
    reasons = dict(mint1t.Mint1T.NOT_READ)
    card, lfs, picture = reasons["MINT-1T-*/README.md"], reasons["MINT-1T-*/.gitattributes"], reasons["MINT-1T-*/*.png"]
    empty_shard = reasons["MINT-1T-PDF-CC-*/CC-MAIN-*-shard-*/"]
    expected = {"MINT-1T-ArXiv/.gitattributes": lfs, "MINT-1T-HTML/.gitattributes": lfs, "MINT-1T-HTML/README.md": card,
                "MINT-1T-HTML/interleaved-example-twitter.png": picture, "MINT-1T-HTML/mint-logo.png": picture}
    for dump, shards in (("2023-23", 7), ("2024-18", 9)):
        repository = f"MINT-1T-PDF-CC-{dump}"
        expected.update({f"{repository}/.gitattributes": lfs, f"{repository}/README.md": card,
                         f"{repository}/interleaved-example-twitter.png": picture})
        expected.update({f"{repository}/CC-MAIN-{dump}-shard-{n}/": empty_shard for n in range(1, shards)})
    assert {u["path"]: u["reason"] for u in report["unread"]} == expected
    assert next(u for u in report["unread"] if u["path"] == "MINT-1T-PDF-CC-2023-23/CC-MAIN-2023-23-shard-1/")["files"] == 0


# ---- real files ------------------------------------------------------------------------------------------------

def test_real_photographs_survive_the_tiff_to_jpeg_rewrap(tmp_path):
    """No MINT-1T shard is available (SOURCES.md §5); real Flickr30K photos stand in for PDF figures:
    packed into a Pillow JPEG TIFF like the release's, every frame must come out pixel-identical."""
    real = realdata_dir("flickr30k_entities")
    photos = [PIL.Image.open(path).convert("RGB") for path in sorted((real / "flickr30k-images").glob("*.jpg"))[:4]]
    assert len(photos) == 4
    tiff = sample.multi_frame_tiff(photos)
    pictures = mint1t.tiff_pictures(tiff, "real", len(photos))
    for k, (photo, picture) in enumerate(zip(photos, pictures)):
        assert picture.path == f"real_{k}.jpg" and (picture.width, picture.height) == photo.size
        assert np.array_equal(decoded(picture.data), tiff_frame(tiff, k))


def test_a_frame_whose_size_tag_is_not_an_integer_is_an_undecodable_image_not_a_crash():
    from builders.media.tiff import WIDTH, read_tiff

    tiff = sample.multi_frame_tiff([sample.picture(8, 8, 1), sample.picture(8, 8, 2)])
    first, second = read_tiff(tiff)
    first.entries[WIDTH] = (2, 4, b"wide")  # an ASCII value where the width belongs
    picture = mint1t.frame_picture(tiff, first, "doc_0")
    assert (picture.status, picture.error, picture.data) == (mint1t.UNDECODABLE,
                                                              f"doc_0: tag {WIDTH} has non-integer type 2", None)
    assert mint1t.frame_picture(tiff, second, "doc_1").path == "doc_1.jpg"


def test_a_row_weighs_its_texts_and_metadata_in_utf8_bytes():
    """The per-document weight (`row_weight`) counts what the column-wise path reads off the offsets: UTF-8
    bytes, not characters; a lone surrogate (which a repaired PDF member never keeps) weighs 3, not an error."""
    row = {"texts": ["é", None, "ab", "\U0001F600"], "images": [None, {"bytes": b"xyz"}], "metadata": "ü"}
    assert mint1t.row_weight(row) == 2 + 2 + 4 + 3 + 2 + 200
    assert mint1t.utf8_bytes("\ud800") == 3 and mint1t.utf8_bytes("plain") == 5
    assert mint1t.row_weight({"texts": [], "images": [], "metadata": None}) == 200
