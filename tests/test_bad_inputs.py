"""The bad-input corpus: every builder's sample tree, broken in small named ways, built both ways.

Each breakage reads as a row of the table below: which dataset and config, what is damaged, the
fragment the problem must contain, and what the build must do:
- REJECTS n records: with --on-error raise the build stops with a RawDataError naming the file and the
  line or record; with --on-error skip it completes, the n records are in build_report.json with that
  reason, the card counts them, and every split still satisfies records_read = rows + records_skipped;
- STOPS: the damage spoils a file every record depends on, so both policies stop with the error;
- KEEPS: the release's own flaw is kept and described in the row (a status column), as the card says.
`at` says what locates the problem: its "line", its "record", or the "file" as a whole (an archive or
Parquet file that cannot be opened, a missing file).

Most cases run in-process through `builders.pipeline.build`; one per dataset also goes through
scripts/build.py to check exit code 2 and the printed message.
"""
from __future__ import annotations

import json
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pytest

from builders.errors import RawDataError
from helpers import (cut, edit, edit_json, edit_parquet, edit_tar, edit_zip_member, parquet_rows, quiet_build, remove,
                     replaced, run_script, tar_member, write)

STOPS, KEEPS = "stops", "keeps"
HUGE = 3 * 2**20  # characters in the "huge line" cases
MESSAGE_LIMIT = 2000  # a message may quote the input, never all of it


@dataclass(frozen=True)
class Breakage:
    dataset: str
    name: str
    damage: Callable[[Path], str]
    config: str
    problem: str                     # fragment of the error's problem (or, for KEEPS, of nothing: see `kept`)
    rejects: int | str = 1           # records rejected, or STOPS / KEEPS
    at: str = "record"               # "line", "record" or "file"
    extra_records: int = 0           # records the damage adds to the input (a repeated line)
    kept: Callable[[list[dict], dict], bool] | None = None   # KEEPS: (rows, report) show the flaw

    @property
    def id(self) -> str:
        return f"{self.dataset}-{self.name}"


B = Breakage  # short, so that each row of the table fits on a line or two


def text_edit(old: str, new: str):
    return replaced(old.encode(), new.encode())


def huge_dimensions(data: bytes) -> bytes:
    """A JPEG or PNG whose header declares 65535 x 65535 pixels (an image bomb: 4.3 gigapixels to decode)."""
    if data.startswith(b"\x89PNG"):
        start = data.index(b"IHDR")
        chunk = b"IHDR" + struct.pack(">II", 65535, 65535) + data[start + 12:start + 17]
        return data[:start] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[start + 21:]
    frame = data.index(b"\xff\xc0")
    return data[:frame + 5] + struct.pack(">HH", 65535, 65535) + data[frame + 9:]


def row_of(rows: list[dict], **match) -> dict:
    return next(row for row in rows if all(row[key] == value for key, value in match.items()))


def reported_at(where: str, damage):
    """A damage whose error is located at another file than the one damaged (e.g. the file it contradicts)."""
    def damage_reported_elsewhere(raw: Path) -> str:
        damage(raw)
        return where
    return damage_reported_elsewhere


def copy(source: str, target: str):
    def damage(raw: Path) -> str:
        shutil.copyfile(raw / source, raw / target)
        return target
    return damage


def csv_cell(relative: str, row: int, column: str, value: bytes):
    """Overwrite one cell of a CSV file without quoting (row 1 is the first data row)."""
    def change(data: bytes) -> bytes:
        lines = data.split(b"\n")
        cells = lines[row].split(b",")
        cells[lines[0].strip().split(b",").index(column.encode())] = value
        lines[row] = b",".join(cells)
        return b"\n".join(lines)
    return edit(relative, change)


def conflicting_topic_row(data: bytes) -> bytes:
    """The first data row of an aggregated topic file again, with another topic label."""
    header, first = data.splitlines()[:2]
    cells = first.split(b",")
    column = header.split(b",").index(b"label_topic")
    cells[column] = b"9" if cells[column] != b"9" else b"8"
    return b",".join(cells) + b"\n"


def numbers_as_query(rows: list[dict]) -> pa.Schema:
    for row in rows:
        row["query"] = [1, 2]
    return pa.Table.from_pylist(rows).schema


def without_status(rows: list[dict]) -> pa.Schema:
    for row in rows:
        del row["status"]
    return pa.Table.from_pylist(rows).schema


def unreadable_image(unique_id: str):
    """A KEEPS check: the article is kept with image_status unreadable and its bytes set aside."""
    def kept(rows, report):
        row = row_of(rows, unique_id=unique_id)
        return row["image_status"] == 4 and row["image"] is None and row["image_undecodable_bytes"]
    return kept


# ---- Flickr30K Entities ------------------------------------------------------------------------------------

F30K_IMAGES = "flickr30k-images"
F30K = [
    B("flickr30k_entities", "truncated-jpeg", cut(f"{F30K_IMAGES}/12345.jpg"), "entities", "truncated JPEG"),
    B("flickr30k_entities", "html-instead-of-jpeg", write(f"{F30K_IMAGES}/98765.jpg", b"<html>404</html>"),
      "captions", "not a JPEG file"),
    B("flickr30k_entities", "empty-jpeg", write(f"{F30K_IMAGES}/2199200615.jpg", b""), "entities", "not a JPEG file"),
    B("flickr30k_entities", "image-bomb-header", edit(f"{F30K_IMAGES}/12345.jpg", huge_dimensions), "captions",
      "exceeds limit of"),
    B("flickr30k_entities", "missing-image", remove(f"{F30K_IMAGES}/4000000001.jpg"), "captions",
      "image missing or unreadable"),
    B("flickr30k_entities", "truncated-xml", edit_zip_member("annotations.zip", "Annotations/12345.xml",
                                                             lambda data: data[:len(data) // 2]),
      "entities", "malformed XML", at="line"),
    B("flickr30k_entities", "non-numeric-box", edit_zip_member("annotations.zip", "Annotations/12345.xml",
                                                               text_edit("<xmin>40</xmin>", "<xmin>forty</xmin>")),
      "entities", "<xmin> must be an integer"),
    B("flickr30k_entities", "xml-size-disagrees", edit_zip_member("annotations.zip", "Annotations/12345.xml",
                                                                  text_edit("<width>500</width>", "<width>640</width>")),
      "entities", "the XML says the image is 640x375"),
    B("flickr30k_entities", "unclosed-phrase", edit_zip_member("annotations.zip", "Sentences/98765.txt",
                                                               text_edit("other coffee]", "other coffee")),
      "captions", "is never closed", at="line"),
    B("flickr30k_entities", "latin-1-sentences", edit_zip_member("annotations.zip", "Sentences/98765.txt",
                                                                 lambda data: data.decode().encode("latin-1")),
      "entities", "not UTF-8 text", at="line"),
    B("flickr30k_entities", "id-listed-twice", edit("test.txt", lambda data: data + b"2199200615\n"), "entities",
      "id 2199200615 is listed twice", at="line", extra_records=1),
    B("flickr30k_entities", "id-in-two-splits", edit("train.txt", lambda data: data + b"12345\n"), "captions",
      "id 12345 is listed in several splits", rejects=2, at="line", extra_records=1),
    B("flickr30k_entities", "file-name-in-split-file", edit("val.txt", lambda data: data + b"12345.jpg\n"),
      "entities", "expected an image id", rejects=STOPS, at="line"),
    B("flickr30k_entities", "huge-line", edit("UNRELATED_CAPTIONS", lambda data: data + b"\n" + b"9" * HUGE + b" x"),
      "entities", "expected '<imageID> <sentence number 1-5>'", rejects=STOPS, at="line"),
    B("flickr30k_entities", "missing-annotations", remove("annotations.zip"), "entities", "annotations.zip",
      rejects=STOPS, at="file"),
    B("flickr30k_entities", "corrupt-zip", write("annotations.zip", b"PK\x03\x04 not really a zip"), "captions",
      "not a readable zip archive", rejects=STOPS, at="file"),
    B("flickr30k_entities", "truncated-karpathy-json", cut("dataset_flickr30k.json"), "karpathy", "invalid JSON",
      rejects=STOPS, at="line"),
    B("flickr30k_entities", "malformed-token-file", edit("results_20130124.token", lambda data: data + b"garbage\n"),
      "karpathy", "expected '<id>.jpg#<n><TAB><caption>'", rejects=STOPS, at="line"),
]

# ---- MovieQA ------------------------------------------------------------------------------------------------

QA, MOVIES, SPLITS = "data/qa.json", "data/movies.json", "data/splits.json"
CLIP = "story/video_clips/tt0000001/tt0000001.sf-000010.ef-000059.video.mp4"


def question(qid: str, change):
    def on_document(document):
        change(next(record for record in document if record["qid"] == qid))
    return on_document


MOVIEQA = [
    B("movieqa", "truncated-qa-json", cut(QA), "qa", "not valid JSON", rejects=STOPS, at="line"),
    B("movieqa", "four-answers", edit_json(QA, question("train:5", lambda r: r["answers"].pop())), "qa",
      "4 answers, expected a list of 5 strings", at="line"),
    B("movieqa", "correct-index-out-of-range", edit_json(QA, question("train:0", lambda r: r.update(correct_index=7))),
      "qa_plot", "correct_index 7 is not an answer index", at="line"),
    B("movieqa", "duplicate-qid", edit_json(QA, lambda d: d.append(dict(d[0]))), "qa", "qid train:5 repeats the record",
      at="line", extra_records=1),
    B("movieqa", "qid-in-another-split", edit_json(QA, question("train:5", lambda r: r.update(qid="test:55"))), "qa",
      "the qid says split 'test' but splits.json puts tt0000001 in 'train'", at="line"),
    B("movieqa", "unknown-movie", edit_json(QA, question("train:6", lambda r: r.update(imdb_key="tt9999999"))), "qa",
      "imdb_key 'tt9999999' is not a movie", at="line"),
    B("movieqa", "latin-1-byte-in-qa", edit(QA, replaced(b"Where does Anna meet Ben?", b"Where does Ann\xe9 meet Ben?")),
      "qa", "not UTF-8 text", rejects=STOPS, at="line"),
    B("movieqa", "empty-qa-json", write(QA, b""), "qa", "expected a JSON list", rejects=STOPS, at="line"),
    B("movieqa", "movie-listed-twice", edit_json(MOVIES, lambda d: d.append(dict(d[0]))), "qa",
      "tt0000001 is listed twice", rejects=STOPS, at="line"),
    B("movieqa", "movie-in-two-splits", edit_json(SPLITS, lambda d: d["test"].append("tt0000001")), "qa",
      "tt0000001 is listed in both", rejects=STOPS, at="record"),
    B("movieqa", "huge-year", edit_json(MOVIES, lambda d: d[1].update(year="1999" + "x" * HUGE)), "qa",
      "year", rejects=STOPS, at="line"),
    B("movieqa", "corrupt-frame-times", edit("story/matidx/tt0000001.matidx", replaced(b"3 0.120", b"3 zero")),
      "qa_subtitles", "expected '<frame> <seconds>'", rejects=2, at="line"),
    B("movieqa", "corrupt-shot-boundaries", edit("story/shot_boundaries/tt0000001.sf-000010.ef-000059.video.sbd",
                                                 replaced(b"34 59", b"34 fifty-nine")),
      "qa_video", "expected '<first frame> <last frame>'", at="line"),
    B("movieqa", "garbled-subtitle-timing", edit("story/subtt/tt0000001.srt",
                                                 replaced(b"00:00:02,000 --> 00:00:02,600", b"00:00:0*,000 --> 00:00:02,600")),
      "movies", "", rejects=KEEPS,
      kept=lambda rows, report: [c["timing"] for c in row_of(rows, imdb_key="tt0000001")["subtitles"]["skipped_cues"]]
      == ["00:00:0*,000 --> 00:00:02,600"] and sum(report["configs"]["movies"]["splits"]["train"]["counts"].values()) == 1),
    B("movieqa", "alignment-on-a-blank-line", edit_json(QA, question("train:5", lambda r: r.update(plot_alignment=[1, 2]))),
      "qa_plot", "2 points at line 3 of story/split_plot/tt0000001.split.wiki, which is blank", at="line"),
    B("movieqa", "split-plot-cut-short", reported_at(QA, edit("story/split_plot/tt0000001.split.wiki",
                                                              lambda data: data.split(b"\n\n")[0] + b"\n")),
      "qa_plot", "points past the end of story/split_plot/tt0000001.split.wiki (2 lines)", rejects=2, at="line"),
    B("movieqa", "truncated-clip", cut(CLIP), "qa_video", "", rejects=KEEPS,
      kept=lambda rows, report: {c["name"]: c["status"] for r in rows for c in r["clips"]}[CLIP.rsplit("/", 1)[1]]
      == "truncated"),
]

# ---- MuSe-CaR -------------------------------------------------------------------------------------------------

WILDER, M2020 = "MuSe2021/c1_muse_wilder", "MuSe2020/data/processed_tasks"
MUSECAR = [
    B("musecar", "transcript-row-too-short", edit(f"{WILDER}/transcription_segments/3/3_1.csv",
                                                  lambda data: data + b"1,2\n"), "wilder",
      "fields where the header has", at="line"),
    B("musecar", "non-numeric-label", csv_cell(f"{WILDER}/label_segments/arousal/3.csv", 2, "value", b"high"),
      "wilder", "column 'value': expected a number, got 'high'", rejects=3),
    B("musecar", "class-out-of-range", edit("MuSe2021/c2_muse_sent/label_segments/arousal/3.csv",
                                            replaced(b"1000,3000,1,4", b"1000,3000,1,9")),
      "sent", "arousal class 9 is not one of 0-4", at="line"),
    B("musecar", "labels-disagree", reported_at(f"{M2020}/c2_muse_topic/label_segments/aggregated/train.csv", edit(
        f"{M2020}/c2_muse_topic/label_segments/topic/3.csv", replaced(b"1000,3000,1,6", b"1000,3000,1,5"))),
      "topic", "segment 1: label_topic 6 but topic/3.csv says 5", at="line"),
    B("musecar", "latin-1-label-file", edit(f"{WILDER}/label_segments/valence/3.csv", lambda data: data + b"caf\xe9\n"),
      "wilder", "not UTF-8 text", rejects=3, at="line"),
    B("musecar", "empty-label-file", write(f"{WILDER}/label_segments/valence/17.csv", b""), "wilder",
      "empty file (no header row)", rejects=2),
    B("musecar", "corrupt-full-audio", write("MuSe2020/data/raw/audio_norm/3.wav", b"RIFF\x00\x00\x00\x00WAVEjunk"),
      "videos", "not a readable audio file"),
    B("musecar", "html-instead-of-mp4", write("MuSe2020/data/raw/video/17.mp4", b"<html>not found</html>"), "videos",
      "not an MP4 file"),
    B("musecar", "truncated-mp4", cut("MuSe2020/data/raw/video/3.mp4"), "videos", "truncated MP4"),
    B("musecar", "non-numeric-feature", edit(f"{WILDER}/feature_segments/egemaps/3.csv",
                                             lambda data: data.replace(b"\n", b"\nabc", 1)[:-1] + data[-1:]),
      "features", "unreadable feature file", rejects=3),
    # the video's segments become one record: without a split, its files are not read
    B("musecar", "video-in-two-splits", edit(f"{WILDER}/metadata/partition.csv", lambda data: data + b"3,devel\n"),
      "wilder", "video 3 is listed in two splits", at="line", extra_records=-2),
    B("musecar", "conflicting-aggregated-labels", edit(f"{M2020}/c2_muse_topic/label_segments/aggregated/train.csv",
                                                       lambda data: data + conflicting_topic_row(data)),
      "topic", "is listed again with other labels", rejects=STOPS, at="line"),
    B("musecar", "missing-partition", remove(f"{M2020}/metadata/partition.csv"), "topic",
      "no partition.csv for this task folder", rejects=STOPS, at="file"),
    B("musecar", "huge-field", edit(f"{WILDER}/transcription_segments/3/3_10.csv",
                                    lambda data: data + b'"' + b"w" * HUGE + b'",6000,6100\n'), "wilder", "", rejects=KEEPS,
      kept=lambda rows, report: any(w["word"] == "w" * HUGE for r in rows for w in r["transcript"] or [])),
]


# ---- InternVid ------------------------------------------------------------------------------------------------

FLT = "InternVid-10M-flt.jsonl"
FIRST_CLIP = b'"Start_timestamp": "00:02:14.080", "End_timestamp": "00:02:19.312"'
INTERNVID = [
    B("internvid", "truncated-last-line", cut(FLT, 0.97), "10m_flt", "invalid JSON", at="line"),
    B("internvid", "array-line", edit(FLT, lambda data: data + b"\n[1, 2]"), "10m_flt", "the line is a JSON array",
      at="line", extra_records=1),
    B("internvid", "null-line-first", edit(FLT, lambda data: b"null\n" + data), "10m_flt", "the line is a JSON null",
      at="line", extra_records=1),
    B("internvid", "bad-timestamp", edit(FLT, replaced(b"00:02:14.080", b"00:02:1x.080")), "10m_flt",
      "is not a timestamp", at="line"),
    B("internvid", "end-before-start", edit(FLT, replaced(b"00:02:19.312", b"00:01:19.312")), "10m_flt",
      "is before Start_timestamp", at="line"),
    B("internvid", "missing-caption", edit(FLT, replaced(b'"Caption": "a man in a red jacket is kayaking on a calm lake", ',
                                                         b"")), "10m_flt", "missing Caption", at="line"),
    B("internvid", "invalid-utf8", edit(FLT, replaced(b"kayaking", b"kay\xffking")), "10m_flt", "not valid UTF-8",
      at="line"),
    B("internvid", "key-twice", edit(FLT, replaced(b'{"YoutubeID": "aB3dE5fG7hI", ',
                                                   b'{"YoutubeID": "aB3dE5fG7hI", "YoutubeID": "x", ')),
      "10m_flt", "the key YoutubeID appears twice", at="line"),
    B("internvid", "huge-line", edit(FLT, lambda data: data + b'\n{"YoutubeID": "' + b"y" * HUGE), "10m_flt",
      "invalid JSON", at="line", extra_records=1),
    B("internvid", "empty-file", write(FLT, b""), "10m_flt", "the file is empty", rejects=STOPS, at="file"),
    B("internvid", "bad-video2dataset-metadata", edit_tar("video2dataset/00000.tar", lambda members: members.__setitem__(
        2, (members[2][0], b"{not json"))), "clips_10m_flt", "the sample metadata is not valid JSON", at="record",
      extra_records=1),  # a video2dataset sample is counted as a record (of train) only when it is rejected
    B("internvid", "truncated-video2dataset-tar", cut("video2dataset/00000.tar", 0.3), "clips_10m_flt",
      "not a readable tar file", rejects=STOPS, at="file"),
    B("internvid", "truncated-clip-file", cut("clips/InternVId-FLT/InternVId-FLT_1/Hh8Jj9Kk0Ll_00-00-20-000_00-00-25-500.mp4"),
      "clips_10m_flt", "truncated MP4"),
]

# ---- MINT-1T ----------------------------------------------------------------------------------------------------

PDF_TAR = "MINT-1T-PDF-CC-2023-06/CC-MAIN-2023-06-shard-0/CC-MAIN-20230126210844-20230127000844-00000.tar"
PDF_CONFIG = "pdf-CC-MAIN-2023-06"
ARXIV_TAR = "MINT-1T-ArXiv/arXiv_src_2105_001_wds.tar"
HTML_SHARD = "MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet"


def member_named(suffix: str, change):
    """An edit_tar change applied to the member whose name ends with `suffix`."""
    def on_members(members):
        position = next(i for i, (info, _) in enumerate(members) if info.name.endswith(suffix))
        result = change(members[position][1])
        if result is None:
            del members[position]
        else:
            members[position] = (members[position][0], result)
    return on_members


def json_edit(change):
    def on_bytes(data: bytes) -> bytes:
        document = json.loads(data)
        change(document)
        return json.dumps(document).encode()
    return on_bytes


MINT1T = [
    B("mint1t", "truncated-tar", cut(PDF_TAR, 0.6), PDF_CONFIG, "the tar is corrupt or truncated", rejects=STOPS,
      at="file"),
    B("mint1t", "invalid-document-json", edit_tar(PDF_TAR, member_named("816eb9678798af65239f336c8da5e576.json",
                                                                         lambda data: b"{not json")),
      PDF_CONFIG, "invalid JSON"),
    B("mint1t", "texts-longer-than-images", edit_tar(PDF_TAR, member_named(
        "816eb9678798af65239f336c8da5e576.json", json_edit(lambda d: d["texts"].append("more")))), PDF_CONFIG,
      "texts has"),
    B("mint1t", "tiff-frames-missing", edit_tar(PDF_TAR, member_named(
        "816eb9678798af65239f336c8da5e576.json", json_edit(lambda d: (d["texts"].append(None), d["images"].append("x")))
    )), PDF_CONFIG, "frame(s) but the JSON lists"),
    B("mint1t", "document-key-twice", edit_tar(PDF_TAR, lambda m: m.append(
        tar_member("207d9f73bc65c7eeae713124f256ef3b.json", m[2][1]))), PDF_CONFIG, "a second", extra_records=1),
    B("mint1t", "stray-image-member", edit_tar(PDF_TAR, lambda m: m.append(tar_member("orphan.tiff", m[1][1]))),
      PDF_CONFIG, "has no orphan.json in this tar", extra_records=1),
    B("mint1t", "unexpected-member", edit_tar(PDF_TAR, lambda m: m.append(tar_member("notes.txt", b"hello"))),
      PDF_CONFIG, "unexpected member notes.txt", extra_records=1),
    B("mint1t", "truncated-png-member", edit_tar(ARXIV_TAR, member_named("2105_05870_1.png", lambda data: data[:-40])),
      "arxiv", "", rejects=KEEPS, kept=lambda rows, report: [(i["status"], i["error"]) for i in row_of(
          rows, key="2105_05870")["image_info"]][1] == ("undecodable", "2105_05870_1.png: truncated PNG (no end marker)")),
    B("mint1t", "image-bomb-member", edit_tar(ARXIV_TAR, member_named("2105_05870_0.jpg", huge_dimensions)),
      "arxiv", "", rejects=KEEPS, kept=lambda rows, report: "exceeds limit of" in row_of(
          rows, key="2105_05870")["image_info"][0]["error"]),
    B("mint1t", "image-member-missing", edit_tar(ARXIV_TAR, member_named("2105_05870_1.png", lambda data: None)),
      "arxiv", "image member(s)"),
    B("mint1t", "empty-tar", write(PDF_TAR, b""), PDF_CONFIG, "the tar is corrupt or truncated", rejects=STOPS,
      at="file"),
    B("mint1t", "corrupt-html-parquet", write(HTML_SHARD, b"PAR1 but nothing else"), "html",
      "not a readable Parquet file", rejects=STOPS, at="file"),
    B("mint1t", "text-and-image-at-once", edit_parquet(HTML_SHARD, lambda rows: rows[0]["images"].__setitem__(0, "x")),
      "html", "holds both a text and an image"),
    B("mint1t", "img2dataset-without-status", edit_parquet("MINT-1T-HTML-images/00000.parquet", without_status),
      "html", "not an img2dataset metadata file", rejects=STOPS,
      at="file"),
]

# ---- BigDocs ------------------------------------------------------------------------------------------------------

ARXIV_OCR = "BigDocs-7.5M/ArxivOCR"


def first_row(change):
    def on_rows(rows):
        change(rows[0])
    return on_rows


def numbers_kept_as_released_query(rows: list[dict], report: dict) -> bool:
    """A `query` column of numbers is not read as the prompts: it is kept as released, with its type, and said."""
    damaged = row_of(rows, sample_id="arxivocr.0100.00001")
    return (damaged["query"], damaged["release_query"]) == ([], [1, 2]) and any(
        "column `query` is not read as `query`" in notice for notice in report["notices"])


BIGDOCS = [
    B("bigdocs", "truncated-parquet", cut(f"{ARXIV_OCR}/train-00001-of-00002.parquet"), "ArxivOCR",
      "not a readable Parquet file", rejects=STOPS, at="file"),
    B("bigdocs", "missing-shard", remove(f"{ARXIV_OCR}/train-00001-of-00002.parquet"), "ArxivOCR",
      "split train is incomplete: 1 of 2 files missing (train-00001-of-00002.parquet)", rejects=STOPS, at="file"),
    B("bigdocs", "null-sample-id", edit_parquet(f"{ARXIV_OCR}/train-00000-of-00002.parquet",
                                                first_row(lambda r: r.update(sample_id=None))), "ArxivOCR",
      "sample_id is missing"),
    B("bigdocs", "truncated-png", edit_parquet(f"{ARXIV_OCR}/test-00000-of-00001.parquet", first_row(
        lambda r: r["image"].update(bytes=r["image"]["bytes"][:-30]))), "ArxivOCR", "truncated PNG"),
    B("bigdocs", "image-bomb-header", edit_parquet(f"{ARXIV_OCR}/test-00000-of-00001.parquet", first_row(
        lambda r: r["image"].update(bytes=huge_dimensions(r["image"]["bytes"])))), "ArxivOCR", "exceeds limit of"),
    B("bigdocs", "not-an-image", edit_parquet(f"{ARXIV_OCR}/val-00000-of-00001.parquet", first_row(
        lambda r: r["image"].update(bytes=b"<svg/>"))), "ArxivOCR", "is not a readable image"),
    B("bigdocs", "img-id-escapes-source", edit_parquet("BigDocs-7.5M/COCOtext/train-00000-of-00001.parquet",
                                                       first_row(lambda r: r.update(img_id="../../../etc/passwd"))),
      "COCOtext", "is not a file name inside the source dataset"),
    B("bigdocs", "truncated-joined-image", cut("sources/COCO/train2014/COCO_train2014_000000270070.jpg"), "COCOtext",
      "is not a readable image"),
    B("bigdocs", "corrupt-source-zip", write("sources/TextOCR/train_val_images.zip", b"PK\x05\x06broken"), "TextOCR",
      "not a readable zip archive", rejects=STOPS, at="file"),
    B("bigdocs", "unknown-split", copy(f"{ARXIV_OCR}/val-00000-of-00001.parquet", f"{ARXIV_OCR}/dev-00000-of-00001.parquet"),
      "ArxivOCR", "unknown split 'dev'", rejects=STOPS, at="file"),
    B("bigdocs", "mixed-uploads", copy(f"{ARXIV_OCR}/train-00000-of-00002.parquet",
                                        f"{ARXIV_OCR}/train-00002-of-00003.parquet"), "ArxivOCR",
      "files from different uploads mixed", rejects=STOPS, at="file"),
    B("bigdocs", "numbers-as-query", edit_parquet(f"{ARXIV_OCR}/val-00000-of-00001.parquet", numbers_as_query),
      "ArxivOCR", "", rejects=KEEPS, kept=numbers_kept_as_released_query),
    B("bigdocs", "empty-parquet", write(f"{ARXIV_OCR}/test-00000-of-00001.parquet", b""), "ArxivOCR",
      "not a readable Parquet file", rejects=STOPS, at="file"),
    B("bigdocs", "bench-image-without-bytes", edit_parquet("BigDocs-Bench/GUI2UserIntent/train-00000-of-00001.parquet",
                                                           first_row(lambda r: r["images"][0].update(bytes=None))),
      "bench-GUI2UserIntent", "image 0 of the row has no bytes"),
]


# ---- NMB+ ---------------------------------------------------------------------------------------------------------

SCRAPE_CSV, CURRENT = "raw_scrape/scrapped_data.csv", "gen_b/data/dataset_cleaned.parquet"
OTHERLIST_CSV, OTHERLIST_ID = "raw_scrape/the_babylon_bee_data.csv", "fc7a03941b"   # "Area Man Declares Victory ..."
V1_PART, VLDBENCH_HUB = "gen_a/data/train-00000-of-00002.parquet", "vldbench_hub/data/train-00000-of-00001.parquet"


def every(*damages):
    """Several damages at once; the first one names where the problem is reported."""
    def damage(raw: Path) -> str:
        return [d(raw) for d in damages][0]
    return damage


NMB_PLUS = [
    B("nmb_plus", "unclosed-quote", edit(SCRAPE_CSV, lambda data: data + b'9999999999,CNN,"never closed\n'),
      "raw_scrape", "malformed CSV", rejects=STOPS, at="line"),
    B("nmb_plus", "record-without-id", edit_parquet(CURRENT, first_row(lambda r: r.update(unique_id=None))),
      "current", "the article has no unique_id"),
    B("nmb_plus", "unclosed-category-list", edit_parquet(V1_PART, first_row(
        lambda r: r.update(new_categories="['Politics' 'National'"))), "v1", "is not closed"),
    B("nmb_plus", "more-scores-than-categories", edit_parquet(V1_PART, first_row(
        lambda r: r.update(news_categories_confidence_scores="[0.9 0.8 0.7]"))), "v1",
      "2 categories but 3 confidence scores"),
    B("nmb_plus", "image-bomb-header", edit("zenodo/images/1098444910.jpg", huge_dimensions), "current", "",
      rejects=KEEPS, kept=unreadable_image("1098444910")),
    B("nmb_plus", "truncated-image", cut("zenodo/images/1098444910.jpg"), "current", "", rejects=KEEPS,
      kept=unreadable_image("1098444910")),
    B("nmb_plus", "truncated-parquet", cut(CURRENT), "current", "not a readable Parquet file", rejects=STOPS,
      at="file"),
    # the repository's own metadata.json is cut off: it is what is left when the other two formats are missing
    B("nmb_plus", "only-the-truncated-metadata-json", reported_at(
        "VLDBench/data/metadata.json", every(remove("VLDBench/data/metadata.csv"), remove("VLDBench/data/metadata.parquet"))),
      "vldbench", "the file is truncated", rejects=STOPS, at="line"),
    B("nmb_plus", "record-with-too-few-fields", edit(SCRAPE_CSV, lambda data: data + b"abc,CNN\n"), "raw_scrape",
      "the record has 2 fields but the header has", at="line", extra_records=1),
    B("nmb_plus", "corrupt-zenodo-zip", write("zenodo/images.zip", b"PK\x05\x06broken"), "current",
      "not a readable zip archive", rejects=STOPS, at="file"),
    B("nmb_plus", "image-size-disagrees", reported_at("VLDBench/images/3a6e10c6e5.png", edit(
        "VLDBench/data/metadata.csv", lambda data: data.replace(b"size=", b"size=9", 1))), "vldbench",
      "but the release's image column says"),
    B("nmb_plus", "no-scrape-csv-left", reported_at("raw_scrape/*.csv", every(write(SCRAPE_CSV, b""),
                                                                               write(OTHERLIST_CSV, b""))),
      "raw_scrape", "raw_scrape/*.csv", rejects=STOPS, at="file"),
    B("nmb_plus", "huge-article", edit(SCRAPE_CSV, lambda data: data + b'abcdef0123,CNN,Long,2024-05-06,first,"'
                                       + b"long " * (HUGE // 5) + b'",,,,\n'), "raw_scrape", "", rejects=KEEPS,
      kept=lambda rows, report: len(row_of(rows, unique_id="abcdef0123")["article_text"]) >= HUGE - 5),
    B("nmb_plus", "text-file-missing", reported_at(OTHERLIST_CSV, remove(f"raw_scrape/content/{OTHERLIST_ID}.txt")),
      "raw_scrape", "`content` names the text file", at="line"),
    B("nmb_plus", "truncated-zenodo-table", cut("zenodo/dataset_with_labels.parquet"), "zenodo",
      "not a readable Parquet file", rejects=STOPS, at="file"),
    B("nmb_plus", "embedded-bytes-not-an-image", edit_parquet(VLDBENCH_HUB, first_row(
        lambda r: r["image"].update(bytes=b"<html>gone</html>"))), "vldbench_hub", "", rejects=KEEPS,
      kept=unreadable_image("3a6e10c6e5")),
]


CORPUS = F30K + MOVIEQA + MUSECAR + INTERNVID + MINT1T + BIGDOCS + NMB_PLUS
CLI_CASES = {"flickr30k_entities-truncated-xml", "movieqa-four-answers", "musecar-class-out-of-range",
             "internvid-bad-timestamp", "mint1t-invalid-document-json", "bigdocs-null-sample-id",
             "nmb_plus-record-with-too-few-fields"}


def test_the_corpus_covers_every_builder_ten_times():
    from builders import dataset_names

    per_dataset = {name: sum(case.dataset == name for case in CORPUS) for name in dataset_names()}
    assert min(per_dataset.values()) >= 10, per_dataset
    assert len({case.id for case in CORPUS}) == len(CORPUS)
    assert {case.id for case in CORPUS} >= CLI_CASES


# ---- running the corpus ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_reads(samples):
    """Records read per (dataset, config) in the clean sample's build (conftest's samples): what a damaged build
    must still account for."""
    return lambda dataset, config: total_records_read(samples.build(dataset).report, config)


def total_records_read(report: dict, config: str) -> int:
    stats = report["configs"][config]
    unsplit = sum(1 for s in report["skipped"] if s["config"] == config and s["split"] is None)
    return sum(s["records_read"] for s in [*stats["splits"].values(), *stats["empty_splits"].values()]) + unsplit


def damaged_copy(case: Breakage, samples, tmp_path) -> tuple[Path, str]:
    """A copy of the dataset's clean sample tree (conftest's samples), damaged as the case says."""
    raw = tmp_path / "raw"
    shutil.copytree(samples.raw(case.dataset), raw)
    return raw, case.damage(raw)


def check_error(error: RawDataError, case: Breakage, where: str) -> None:
    """The error says what is wrong, in which file, and at which line or record."""
    assert case.problem in error.problem, error
    assert len(str(error)) < MESSAGE_LIMIT, f"the message is {len(str(error))} characters long"
    if case.at == "file" and where not in (error.path or ""):  # a missing file, or one of a set of files
        assert Path(where).name in str(error), f"{where} not named in: {error}"
        return
    assert where in (error.path or ""), f"{where} not named in: {error}"
    if case.at == "line":
        assert error.line is not None and error.line > 0, f"no line in: {error}"
    elif case.at == "record":
        assert error.record is not None, f"no record in: {error}"


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_on_error_raise_stops_at_the_first_bad_record(case, samples, tmp_path):
    raw, where = damaged_copy(case, samples, tmp_path)
    if case.rejects == KEEPS:
        report = quiet_build(case.dataset, raw, tmp_path / "out", configs=[case.config], on_error="raise")
        rows = [row for split in report["configs"][case.config]["splits"]
                for row in parquet_rows(tmp_path / "out", case.config, split)]
        assert case.kept(rows, report), "the damaged record is not kept with its flaw described"
        return
    with pytest.raises(RawDataError) as raised:
        quiet_build(case.dataset, raw, tmp_path / "out", configs=[case.config], on_error="raise")
    check_error(raised.value, case, where)
    assert not (tmp_path / "out" / "README.md").exists()


@pytest.mark.parametrize("case", [c for c in CORPUS if c.rejects != KEEPS], ids=lambda case: case.id)
def test_on_error_skip_lists_every_skipped_record(case, samples, clean_reads, tmp_path):
    raw, where = damaged_copy(case, samples, tmp_path)
    out = tmp_path / "out"
    if case.rejects == STOPS:
        with pytest.raises(RawDataError) as raised:
            quiet_build(case.dataset, raw, out, configs=[case.config], on_error="skip")
        check_error(raised.value, case, where)
        return
    report = quiet_build(case.dataset, raw, out, configs=[case.config], on_error="skip")
    skipped = [s for s in report["skipped"] if s["config"] == case.config]
    assert len(skipped) == case.rejects, skipped
    for item in skipped:
        assert case.problem in item["reason"] and item["file"], item
        assert item["line"] is not None if case.at == "line" else item["record"] is not None, item
    assert any(where in item["file"] for item in skipped), skipped
    stats = report["configs"][case.config]
    for split, numbers in [*stats["splits"].items(), *stats["empty_splits"].items()]:
        assert numbers["records_read"] == numbers.get("rows", 0) + numbers["records_skipped"], split
        assert numbers["records_skipped"] == sum(1 for s in skipped if s["split"] == split), split
    rows_written = sum(s["rows"] for s in stats["splits"].values())
    assert total_records_read(report, case.config) == rows_written + len(skipped)
    assert total_records_read(report, case.config) == clean_reads(case.dataset, case.config) + case.extra_records, \
        "records were lost: the damaged build read fewer records than the clean one"
    assert rows_written == sum(len(parquet_rows(out, case.config, split)) for split in stats["splits"])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"{len(report['skipped'])} raw records were skipped" in card
    for (split, reason), count in _groups(skipped).items():
        assert f"| `{case.config}` | {split} | {reason} | {count} |" in card, (split, reason, count)
    on_disk = (out / "build_report.json").read_text(encoding="utf-8")
    assert json.loads(on_disk)["skipped"] == report["skipped"]
    assert str(raw) not in card and str(raw) not in on_disk, "the card shows where the raw data is kept"


def _groups(skipped: list[dict]) -> dict[tuple[str, str], int]:
    groups: dict[tuple[str, str], int] = {}
    for item in skipped:
        key = (item["split"] or "-", item["reason"].splitlines()[0].replace("|", "\\|"))
        groups[key] = groups.get(key, 0) + 1
    return groups


@pytest.mark.parametrize("case", [c for c in CORPUS if c.id in CLI_CASES], ids=lambda case: case.id)
def test_build_py_exits_2_with_a_located_message(case, samples, tmp_path):
    raw, where = damaged_copy(case, samples, tmp_path)
    result = run_script("build.py", case.dataset, "--data-dir", raw, "--output", tmp_path / "out",
                        "--config", case.config, "--on-error", "raise", "--quiet")
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: ") and "Traceback" not in message, message
    assert where in message and case.problem in message, message
    location = message.splitlines()[0].split(": ", 2)[1]
    assert (":" in location.rsplit(where, 1)[1]) if case.at == "line" else "(record " in message, message
