"""InternVid: the builder against the sample generator's tree (laid out as `hf download` lays out the
OpenGVLab repositories), the real queries file where the InternVideo repository keeps it, and bad inputs."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import av
import datasets
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from builders import internvid as iv
from builders.errors import RecordLog
from builders.samples import internvid as sample
from conftest import realdata_dir
from helpers import folder_features, parquet_rows, quiet_build, refused_build, run_script

DATASET = "internvid"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
CAPTION_CONFIGS = ("10m_flt", "10m_div", "aes_18m", "full", "10m_flt_info")


def row_of(out: Path, config: str, youtube_id: str, start: float) -> dict:
    return next(r for r in parquet_rows(out, config, "train") if (r["youtube_id"], r["start"]) == (youtube_id, start))


# ---- caption configs, value by value -------------------------------------------------------------------

@pytest.mark.parametrize("config", CAPTION_CONFIGS)
def test_caption_rows_equal_what_the_generator_wrote(built, config):
    tree, out, _ = built
    assert parquet_rows(out, config, "train") == tree.rows(config)  # every line, in file order


def test_start_and_end_seconds_of_given_lines(built):
    _, out, _ = built
    rows = parquet_rows(out, "10m_flt", "train")
    assert (rows[0]["start"], rows[0]["end"], rows[0]["duration"]) == (134.08, 139.312, 5.232)  # 00:02:14.080
    assert (rows[1]["start"], rows[1]["end"]) == (3600.0, 3602.5)  # hours > 0
    odd = rows[3]
    assert (odd["start_timestamp"], odd["end_timestamp"]) == ("0:00:07.5", "0:00:09")  # short forms
    assert (odd["start"], odd["end"]) == (7.5, 9.0)
    zurich = row_of(out, "10m_flt", "Zz-9_yXw0Qp", 45296.789)  # 12:34:56.789
    assert (zurich["end"], zurich["duration"]) == (45301.001, 4.212)


def test_awkward_lines(built):
    tree, out, _ = built
    rows = parquet_rows(out, "10m_flt", "train")
    assert rows[1]["caption"] == " two dogs run on a beach "  # kept as written
    assert rows[4]["start"] == 0.0 and rows[4]["start_timestamp"] == "00:00:00.000"
    assert row_of(out, "10m_flt", "Zz-9_yXw0Qp", 45296.789)["caption"] == "un café à Zürich, 猎物 au crépuscule"
    crowd = row_of(out, "10m_flt", "Hh8Jj9Kk0Ll", 20.0)  # keys reversed, an unknown key, CRLF
    assert (crowd["caption"], crowd["umt_score"], crowd["aesthetic_score"]) == (
        "a crowd cheers at a football match", 0.41, 4.9)
    assert crowd["extra"] == '{"Source": "youtube"}'  # kept, not dropped
    assert row_of(out, "10m_flt", "xY7-_kLmN0p", 3610.0)["extra"] == '{"Source": 7, "Note": null}'  # a number here
    assert rows[0]["extra"] is None and rows[0]["clip_score"] is None  # FLT lines carry no CLIP_Score
    empty, snow = (row_of(out, "10m_flt", sample.FULL_VIDEO_ID, start) for start in (3.5, 0.0))
    assert empty["caption"] == ""
    assert snow["caption"] == "snow falls on a quiet street – naïve café"  # written \u-escaped
    assert (snow["umt_score"], snow["aesthetic_score"]) == (1.0, None)  # an integer score, a null score
    assert [r["youtube_id"] for r in rows].count("aB3dE5fG7hI") == 2  # the same clip twice: both kept
    assert len(rows) == len(tree.files["10m_flt"]) - 1  # the blank line is not a row
    full = parquet_rows(out, "full", "train")
    assert {r["aesthetic_score"] for r in full} == {None}  # InternVid-Full has no Aesthetic_Score key
    assert full[1]["duration"] == 0.4 and full[3]["umt_score"] is None
    info = parquet_rows(out, "10m_flt_info", "train")
    assert [(r["language"], r["category"]) for r in info] == [
        ("en", "Travel & Events"), ("fr", "People & Blogs"), (None, "Howto & Style")]  # lower-case keys too


def test_aesthetics_18m_lines_carry_a_clip_score_and_no_umt_score(built):
    tree, out, _ = built
    assert tree.path("aes_18m").name == "InternVid-18M-aes.jsonl"
    kayak = row_of(out, "aes_18m", "aB3dE5fG7hI", 134.08)
    assert (kayak["clip_score"], kayak["umt_score"], kayak["aesthetic_score"]) == (0.2712, None, 5.0381)
    assert row_of(out, "10m_flt", "aB3dE5fG7hI", 134.08)["umt_score"] == 0.4127  # the same clip in FLT: UMT score
    sunset = row_of(out, "aes_18m", "Ss5Uu6Nn7Ee", 12.0)
    assert (sunset["clip_score"], sunset["umt_score"], sunset["end"]) == (0.3105, None, 17.48)
    painter = row_of(out, "aes_18m", "Pp8Aa9Ii0Nn", 2.0)  # "CLIP_Score": null, and a key no column holds
    assert (painter["clip_score"], painter["extra"]) == (None, '{"Frames": [48, 96]}')
    assert {r["clip_score"] for r in parquet_rows(out, "full", "train")} == {None}


def test_keys_no_column_holds_are_counted_and_named(built):
    _, out, report = built
    counts = report["configs"]["10m_flt"]["splits"]["train"]["counts"]
    assert counts["lines with the key 'Source', kept in `extra` (no column holds it)"] == 2
    assert counts["lines with the key 'Note', kept in `extra` (no column holds it)"] == 1
    assert "aes_18m: the key 'Frames' is not one this builder maps to a column: its values are kept, as written, " \
        "in the `extra` column (JSON)" in report["notices"]
    readme = (out / "README.md").read_text()
    assert "| `10m_flt` | train | lines with the key 'Source', kept in `extra` (no column holds it) | 2 |" in readme
    assert "| `extra` | string | The line's keys that no column above holds" in readme


# ---- clips configs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", CAPTION_CONFIGS)
def test_clips_rows_equal_what_the_generator_wrote(built, config):
    tree, out, _ = built
    rows = parquet_rows(out, f"clips_{config}", "train")
    expected = tree.video_rows(config)
    assert [{key: row[key] for key in want} for row, want in zip(rows, expected)] == expected
    assert len(rows) == len(expected)


def test_clip_bytes_of_a_key_equal_the_tar_member(built):
    tree, out, _ = built
    with tarfile.open(tree.root / "video2dataset" / "00000.tar") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive if m.name.endswith(".mp4")}
    rows = {r["video"]["path"]: r for r in parquet_rows(out, "clips_10m_flt", "train") if r["video"]}
    for key in ("00000000_00000", "00000002_00001", "Qq1Ww2Ee3Rr_0:00:07.5_0:00:09"):  # the last key has dots
        assert rows[f"{key}.mp4"]["video"]["bytes"] == members[f"{key}.mp4"]
    assert rows["00000002_00001.mp4"]["youtube_id"] == "Mm4Nn5Oo6Pp"  # its metadata had only the url
    files_shard = row_of(out, "clips_full", "Pp0Oo9Ii8Uu", 7384.25)["video"]
    assert files_shard["bytes"] == (tree.root / "video2dataset" / "00001" / "00001000_00000.mp4").read_bytes()
    dashed = row_of(out, "clips_10m_flt", "Hh8Jj9Kk0Ll", 20.0)
    assert dashed["video"]["path"] == "Hh8Jj9Kk0Ll_00-00-20-000_00-00-25-500.mp4"
    assert dashed["video"]["bytes"] == (tree.root / dashed["video_origin"]).read_bytes()
    full = parquet_rows(out, "clips_full", "train")
    assert [r["status"] for r in full] == ["ok", "missing", "ok", "missing"]
    assert full[2]["video"]["bytes"] == (tree.root / "video2dataset" / "00001" / "00001000_00000.mp4").read_bytes()


def test_statuses_reconcile(built):
    tree, out, report = built
    for config in CAPTION_CONFIGS:
        rows = parquet_rows(out, f"clips_{config}", "train")
        statuses = [r["status"] for r in rows]
        assert len(rows) == len(parquet_rows(out, config, "train"))  # no caption row disappears
        assert statuses.count("ok") + statuses.count("missing") + statuses.count("failed") == len(rows)
        assert all((r["video"] is not None) == (r["status"] == "ok") for r in rows)
    flt = [r["status"] for r in parquet_rows(out, "clips_10m_flt", "train")]
    assert (flt.count("ok"), flt.count("failed"), flt.count("missing")) == (9, 2, 1)
    aes = {r["youtube_id"]: r for r in parquet_rows(out, "clips_aes_18m", "train")}
    assert aes["aB3dE5fG7hI"]["status"] == "ok" and aes["aB3dE5fG7hI"]["clip_score"] == 0.2712
    failed = parquet_rows(out, "clips_10m_flt", "train")[1:3]  # one failed download covering both clips of its row
    assert [r["download_error"] for r in failed] == ["failed_to_download: ERROR: [youtube]: Video unavailable"] * 2


def test_a_clip_cut_from_the_full_video_is_a_stream_copy(built):
    tree, out, _ = built
    row = row_of(out, "clips_10m_flt", sample.FULL_VIDEO_ID, 3.5)  # 3.5-6.2 s; keyframes every 2 s
    assert (row["status"], row["video_origin"], row["video_start"]) == ("ok", f"videos/{sample.FULL_VIDEO_ID}.mp4", 2.0)
    assert row["video"]["path"] == f"{sample.FULL_VIDEO_ID}_00:00:03.500_00:00:06.200.mp4"
    with av.open(io.BytesIO(row["video"]["bytes"])) as clip:
        assert [s.type for s in clip.streams] == ["video", "audio"]
        frames = [frame.time for frame in clip.decode(video=0)]
    with av.open(io.BytesIO(row["video"]["bytes"])) as clip:
        clip_packets = [bytes(p) for p in clip.demux(clip.streams.video[0]) if p.size]
    assert frames[0] == 0.0
    duration = frames[-1] + 1 / sample.FPS
    assert row["end"] - row["start"] <= duration <= row["end"] - row["start"] + sample.GOP_SECONDS  # within one GOP
    assert duration == pytest.approx(row["video_end"] - row["video_start"])
    with av.open(str(tree.root / "videos" / f"{sample.FULL_VIDEO_ID}.mp4")) as full:
        source_packets = [bytes(p) for p in full.demux(full.streams.video[0]) if p.size]
    start = source_packets.index(clip_packets[0])
    assert clip_packets == source_packets[start:start + len(clip_packets)]  # the same bytes: nothing re-encoded
    at_zero = row_of(out, "clips_10m_flt", sample.FULL_VIDEO_ID, 0.0)
    assert (at_zero["video_start"], at_zero["video_end"]) == (0.0, pytest.approx(1.8))  # B-frames: 2 frames past 1.5


# ---- card, report, loading ----------------------------------------------------------------------------------

def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: cc-by-nc-sa-4.0" in readme and "> **Not for public redistribution.**" in readme
    assert report["redistribution"] == "private"  # the clips configs hold YouTube videos
    assert "| `clips_10m_flt` | 12 | private |" in readme and "| `10m_flt` (default) | 12 | gated |" in readme
    assert "| `start` | float64 | Clip start in seconds" in readme and "| `video` | video |" in readme
    assert "wang2023internvid" in readme
    assert "| `clips_10m_flt` | train | clips missing | 1 |" in readme  # availability, per config
    assert "| `10m_flt` | train | blank lines (not records) | 1 |" in readme
    assert {k: v for k, v in report["configs"]["clips_10m_flt"]["splits"]["train"]["counts"].items()
            if not k.startswith("lines with the key")} == {
        "clips ok": 9, "clips failed": 2, "clips missing": 1, "blank lines (not records)": 1}
    # what the downloads hold, whichever subset names it: beside the rows' statuses, what a config leaves unused
    videos = [line for lines in tree.files.values() for line in lines if line is not None and line.video is not None]
    clips = {kind: {(v.youtube_id, v.start_ms, v.end_ms) for v in videos if v.video.kind == kind}
             for kind in ("stored", "failed")}
    for config in ("clips_10m_flt", "clips_full"):
        assert report["configs"][config]["counts"] == {
            "stored clips in the downloaded folders": len(clips["stored"]),
            "failed downloads recorded in the downloaded folders": len(clips["failed"]),
            "full videos in the downloaded folders": len({v.youtube_id for v in videos if v.video.kind == "cut"})}
    assert report["configs"]["10m_flt"]["counts"] == {}
    assert set(report["configs"]) == {*CAPTION_CONFIGS, "queries", *(f"clips_{c}" for c in CAPTION_CONFIGS)}
    split = report["configs"]["10m_flt"]["splits"]["train"]
    assert (split["rows"], split["records_read"], split["records_skipped"]) == (12, 12, 0)
    inputs = {i["path"] for i in report["inputs"]}
    assert {"InternVid-10M-flt.jsonl", "InternVid-Full/InternVid-full.jsonl", "Data/InternVid/queries.jsonl",
            "video2dataset/", "clips/", "videos/"} <= inputs  # caption files one folder down are found too
    assert report["on_error"] == "skip"  # the card's policy, no --on-error given
    assert folder_features(out, "clips_10m_flt")["video"] == datasets.Video()


UNREAD = {  # what the sample tree holds that no config reads, and why: nothing is left without a reason
    ".cache/": "download bookkeeping (`hf download --local-dir`",
    "InternVid-Full/.cache/": "download bookkeeping", "InternVid-10M-FLT-INFO/.cache/": "download bookkeeping",
    ".gitattributes": "Git LFS settings", "InternVid-Full/.gitattributes": "Git LFS settings",
    "InternVid-10M-FLT-INFO/.gitattributes": "Git LFS settings",
    "README.md": "the dataset card of the upstream repository", "InternVid-Full/README.md": "the dataset card",
    "InternVid-10M-FLT-INFO/README.md": "the dataset card",
    "InternVid-Full/caption_fig.jpg": "the figure of the captioning method",
    "clips/InternVId-FLT/InternVId-FLT_1.jsonl": "OpenDataLab's caption list of a clip folder",
    "video2dataset/00000.parquet": "video2dataset's table of a shard's samples",
    "video2dataset/00001.parquet": "video2dataset's table of a shard's samples",
    "video2dataset/00000_stats.json": "video2dataset's download statistics",
    "video2dataset/00001_stats.json": "video2dataset's download statistics",
    "video2dataset/00001/00001000_00000.txt": "video2dataset's caption member",
    sample.UNFINISHED_DOWNLOAD: "an unfinished download",
}


def test_every_raw_path_not_read_is_reported_with_its_reason(built, samples):
    tree, out, report = built
    unread = {u["path"]: u for u in report["unread"]}
    assert set(unread) == set(UNREAD)
    for path, reason in UNREAD.items():
        assert unread[path]["reason"].startswith(reason), unread[path]
    assert set(sample.NON_DATA_FILES) <= set(unread)
    assert unread["InternVid-Full/.cache/"]["files"] == 5  # .gitignore and a .metadata per downloaded file
    assert unread["README.md"]["bytes"] == (tree.root / "README.md").stat().st_size
    readme = (out / "README.md").read_text()
    assert "| `InternVid-Full/caption_fig.jpg` | 1 |" in readme
    assert "videos/Hh8Jj9Kk0Ll.mp4.part: an unfinished download" in "\n".join(samples.log(DATASET))


def test_a_config_not_built_names_what_it_would_read(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["10m_flt"])
    unread = {u["path"]: u["reason"] for u in report["unread"]}
    assert unread["InternVid-18M-aes.jsonl"] == \
        "read by config 'aes_18m', which this build did not make: it was not asked for (--config)"
    assert unread["Data/InternVid/queries.jsonl"].startswith("read by config 'queries'")
    assert unread["videos/Cc3Vv4Bb5Nn.mp4"].startswith("read by config 'clips_")  # a video the clips configs cut
    assert unread["video2dataset/00000.tar"].startswith("read by config 'clips_")


def test_an_absent_subset_asked_for_by_name_lists_its_file(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "InternVid-10M-DIV.jsonl").unlink()
    result = run_script("build.py", "internvid", "--data-dir", raw, "--output", tmp_path / "out", "--config", "10m_div")
    assert result.returncode == 2
    assert "missing:\n  - InternVid-10M-DIV.jsonl (InternVid-10M-DIV captions)" in result.stderr
    assert "hf download OpenGVLab/InternVid" in result.stderr  # the download steps
    lines = []
    report = quiet_build(DATASET, raw, tmp_path / "all", log=lines.append)  # every config present
    assert "10m_div" not in report["configs"] and "clips_10m_flt" in report["configs"]
    assert "config 'clips_10m_div' not built: it needs InternVid-10M-DIV.jsonl (InternVid-10M-DIV captions)" in lines


def test_a_caption_file_found_twice_is_refused(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "copy").mkdir()
    shutil.copy(raw / "InternVid-18M-aes.jsonl", raw / "copy" / "internvid-18m-AES.jsonl")  # case differs
    refused_build("internvid", raw, tmp_path / "out", "--config", "aes_18m",
                  expected="InternVid-18M-aes.jsonl is there 2 times (InternVid-18M-aes.jsonl, "
                           "copy/internvid-18m-AES.jsonl)")


# ---- byte ranges, chunks and parallel shards -----------------------------------------------------------------

def test_byte_range_shards_give_the_rows_and_line_numbers_of_whole_files(built, samples):
    """The bad-records sample in shards of 700 bytes read in chunks of 300 (conftest's MANY_SHARDS;
    test_contract.py builds it in one process and in two)."""
    _, reference, _ = built
    one, two = samples.many_shards(DATASET)
    assert len(one.report["configs"]["10m_flt"]["splits"]["train"]["files"]) > 3
    assert parquet_rows(one.out, "full", "train") == parquet_rows(reference, "full", "train")
    assert parquet_rows(two.out, "10m_flt", "train") == parquet_rows(reference, "10m_flt", "train")
    skipped = sorted((s["line"], s["reason"]) for s in two.report["skipped"] if s["config"] == "10m_flt")
    assert skipped == one.tree.bad_lines("10m_flt")  # right line numbers inside every byte range


def test_line_aligned_ranges_cover_the_file_once(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n' + b'{"a": "' + b"x" * 50 + b'"}\n{"a": 2}')
    data = path.read_bytes()
    for shard_bytes in (1, 5, 9, 10, 11, 30, 1000):
        ranges = iv.line_aligned_ranges(path, shard_bytes)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert all(data[start - 1:start] == b"\n" for start, _ in ranges[1:])
    assert iv.line_aligned_ranges(path, 10) == [(0, 10), (10, 70), (70, 78)]


def test_parse_json_lines_isolates_each_bad_line():
    schema = iv.release_schema(False)
    good = json.dumps({"YoutubeID": "aB3dE5fG7hI", "Start_timestamp": "00:00:01.000",
                       "End_timestamp": "00:00:02.000", "Caption": "ok"})
    lines = [good, "", '{"YoutubeID": "tr', good, '["not", "an", "object"]', good + " " + good, "   ",
             '{"YoutubeID": "x", "YoutubeID": "y"}', '{"UMT_Score": "high"}', good]
    data = "\n".join(lines).encode()
    table, row_lines, unparsed = iv.parse_json_lines(data, schema, iv.count_lines(data))
    assert row_lines == [0, 3, 9] and table.num_rows == 3
    assert unparsed == [(2, "invalid JSON (Missing a closing quotation mark in string.)"),
                        (4, "the line is a JSON array, not an object"),
                        (5, "the line holds 2 JSON values; expected one object per line"),
                        (7, "the key YoutubeID appears twice"),
                        (8, "UMT_Score is a string, expected a number")]
    clean = (good + "\n") * 3
    assert iv.parse_json_lines(clean.encode(), schema, 3)[1:] == (None, [])  # one parse, rows 1:1


def test_a_line_longer_than_a_chunk_and_invalid_utf8(tmp_path):
    long = json.dumps({"YoutubeID": "aB3dE5fG7hI", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.000",
                       "Caption": "word " * 3000})
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"Caption": "caf\xe9"}\n' + long.encode() + b"\n")
    batches = list(iv.read_jsonl(path, 0, path.stat().st_size, iv.release_schema(False), chunk_bytes=1000))
    rows = [row for batch in batches for row in batch.table.to_pylist()]
    assert [row["Caption"] for row in rows] == ["word " * 3000]
    unparsed = [(b.line_of(i), why) for b in batches for i, why in b.unparsed]
    assert unparsed == [(1, "the line is not valid UTF-8")]


@pytest.mark.parametrize("text,seconds", [
    ("00:02:14.080", 134.08), ("0:00:07.5", 7.5), ("00:00:09", 9.0), ("12:34:56.789", 45296.789),
    ("123:00:00.000", 442800.0), ("00:00:01.123456", 1.123456), ("00:61:00.000", None), ("00:0x:14.080", None),
    ("", None), ("14.080", None), (None, None), ("00:02:14:080", None), ("00:02:60.000", None),
])
def test_timestamp_seconds_canonical_fast_path_and_other_forms(text, seconds):
    column = pa.chunked_array([["00:00:00.000", text, "99:59:59.999"]], pa.string())
    assert iv.timestamp_seconds(column.slice(1)).to_pylist() == [seconds, 359999.999]


CANONICAL_TEXTS = st.builds(lambda h, m, s, ms: f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}", st.integers(0, 99),
                            st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
TIMESTAMP_TEXTS = st.one_of(CANONICAL_TEXTS, st.none(), st.text("0123456789:.x ²", max_size=14),
                            st.sampled_from(["0:00:07.5", "123:00:00.000", "00:60:00.000", "00:0x:14.080", "  :  :  .   ",
                                             "//://:/?.///", "00:02:14:080"]))


def timestamp_reference(text: str | None) -> float | None:
    """One value on its own: a canonical HH:MM:SS.mmm in integer milliseconds / 1000, any other through the
    regex path (a lone non-canonical value takes it whatever the vectorised paths do)."""
    if text is not None and len(text) == 12 and text.isascii() and all(
            text[i].isdigit() for i in iv.CANONICAL_DIGITS) and text[2] + text[5] + text[8] == "::." \
            and text[3] <= "5" and text[6] <= "5":
        return (int(text[:2]) * 3_600_000 + int(text[3:5]) * 60_000 + int(text[6:8]) * 1000 + int(text[9:])) / 1000
    return iv._timestamp_seconds(pa.array([text], pa.string())).to_pylist()[0]


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.lists(TIMESTAMP_TEXTS, max_size=40), st.lists(CANONICAL_TEXTS, min_size=1, max_size=40),
       st.sampled_from([pa.string(), pa.large_string()]))
def test_timestamp_seconds_of_whole_chunks_equal_each_value_alone(mixed, canonical, string_type):
    """Clean chunks (every value 12 characters, read as one view), mixed ones (gathered) and sliced arrays give
    each value what it gives alone."""
    for texts in (mixed, canonical):
        expected = [timestamp_reference(text) for text in texts]
        assert iv._timestamp_seconds(pa.array(texts, string_type)).to_pylist() == expected
        padded = pa.array(["00:00:00.000", *texts, "xx"], string_type).slice(1, len(texts))
        assert iv._timestamp_seconds(padded).to_pylist() == expected
        chunked = pa.chunked_array([texts[:len(texts) // 2], texts[len(texts) // 2:]], string_type)
        assert iv.timestamp_seconds(chunked).to_pylist() == expected


@pytest.mark.parametrize("value,seconds", [
    ("00:02:14.080", 134.08), ("0:00:07.5", 7.5), ("00-02-14-080", 134.08), ("00-02-14.080", 134.08),
    ("00-00-09", 9.0), (134.08, 134.08), ("134.08", 134.08), (7, 7.0),
])
def test_parse_timestamp_of_video2dataset_values_and_file_names(value, seconds):
    assert iv.parse_timestamp(value) == seconds


def test_clip_file_names_and_urls():
    assert iv.parse_clip_file_name("Zz-9_yXw0Qp_12:34:56.789_12:35:01.001") == ("Zz-9_yXw0Qp", 45296.789, 45301.001)
    assert iv.parse_clip_file_name("_-_-_-_-_-__00-00-20-000_00-00-25-500") == ("_-_-_-_-_-_", 20.0, 25.5)
    assert iv.parse_clip_file_name("aB3dE5fG7hI_a man kayaking") is None
    assert iv.youtube_id_from_url("https://www.youtube.com/watch?v=aB3dE5fG7hI&t=4") == "aB3dE5fG7hI"
    assert iv.youtube_id_from_url("https://youtu.be/aB3dE5fG7hI") == "aB3dE5fG7hI"
    assert iv.youtube_id_from_url("https://example.com/video") is None
    assert iv.full_video_id("Kayaking on a lake [aB3dE5fG7hI]") == "aB3dE5fG7hI"


def test_clip_files_that_cannot_be_matched_make_a_notice(tmp_path):
    folder = tmp_path / "clips" / "part_1"
    folder.mkdir(parents=True)
    (folder / "aB3dE5fG7hI_a man kayaking on a lake.mp4").write_bytes(b"not joinable")
    (folder / "aB3dE5fG7hI_00:02:14.080_00:02:19.312.mp4").write_bytes(b"joinable")
    (folder / "aB3dE5fG7hI_00:02:14.080_00:02:19.312.json").write_text("{}")  # not a video: not looked at
    index = iv.VideoIndex()
    iv.index_clip_files(index, tmp_path / "clips", tmp_path)
    name = "aB3dE5fG7hI_00:02:14.080_00:02:19.312.mp4"
    assert index.stored == {("aB3dE5fG7hI", 134080, 139312): iv.StoredClip(
        f"clips/part_1/{name}", str(folder / name), name, 0, len(b"joinable"))}
    assert index.problems == [] and index.notices == [
        "1 video file(s) under clips/ are not named <YoutubeID>_<start>_<end> and match no caption line, so they "
        "were not used (e.g. clips/part_1/aB3dE5fG7hI_a man kayaking on a lake.mp4); rename them to use them"]


# ---- bad inputs through the CLI --------------------------------------------------------------------------------

def test_bad_line_raises_with_its_line_number(bad_tree, tmp_path):
    stderr = refused_build("internvid", bad_tree.root, tmp_path / "out", "--config", "10m_flt", "--on-error", "raise",
                           expected="InternVid-10M-flt.jsonl:3: invalid JSON (Missing a closing quotation mark in string.)")
    assert "hint: fix or delete the line" in stderr


def test_skip_is_the_default_and_lists_every_bad_record_and_the_card_counts_them(bad_tree, tmp_path):
    raw, tree = bad_tree.root, bad_tree
    result = run_script("build.py", "internvid", "--data-dir", raw, "--output", tmp_path / "out", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    for config in ("10m_flt", "clips_10m_flt"):
        lines = sorted((s["line"], s["reason"]) for s in report["skipped"]
                       if s["config"] == config and s["file"] == "InternVid-10M-flt.jsonl")
        assert lines == tree.bad_lines("10m_flt")
    empty_clip = [s for s in report["skipped"] if s["reason"] == "the video file is empty"]
    assert sorted(s["config"] for s in empty_clip) == ["clips_10m_flt", "clips_10m_flt_info"]
    assert empty_clip[0]["record"] == "Gg7Ff6Ee5Dd 00:01:01.000-00:01:04.000"
    no_video = [s for s in report["skipped"] if s["record"] in tree.bad_samples]
    assert {s["config"] for s in no_video} == {f"clips_{c}" for c in CAPTION_CONFIGS}
    assert no_video[0]["file"] == "video2dataset/00000.tar:00000009.json"
    for name, config in report["configs"].items():
        base = name.removeprefix("clips_")
        expected = tree.video_rows(base) if name.startswith("clips_") else tree.rows(base)
        rows = parquet_rows(tmp_path / "out", name, "train")
        if name == "queries":
            assert rows == expected
            continue
        assert [r["youtube_id"] for r in rows] == [r["youtube_id"] for r in expected], name
    assert report["configs"]["10m_flt"]["splits"]["train"]["records_skipped"] == 6
    assert report["on_error"] == "skip"  # no --on-error: InternVid's card says skip
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "Error policy: `--on-error skip`" in readme
    assert f"{len(report['skipped'])} raw records were skipped" in readme
    assert "| `10m_flt` | train | End_timestamp 00:00:04.900 is before Start_timestamp 00:00:05.000 | 1 |" in readme


def test_a_corrupt_tar_stops_the_build_whatever_the_policy(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    tar = raw / "video2dataset" / "00000.tar"
    tar.write_bytes(tar.read_bytes()[:700])  # cut inside the first member
    result = run_script("build.py", "internvid", "--data-dir", raw, "--output", tmp_path / "out", "--on-error", "skip",
                        "--quiet")
    assert result.returncode == 2
    assert "video2dataset/00000.tar: not a readable tar file" in result.stderr and "hint:" in result.stderr


def test_a_corrupt_full_video_names_the_file_and_the_clip(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "videos" / f"{sample.FULL_VIDEO_ID}.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
    log = RecordLog("skip", "train")
    builder = iv.InternVid(config_name="clips_10m_flt", data_dir=str(raw), cache_dir=str(tmp_path / "cache"))
    shard = builder.split_shards(log)["train"][0]
    rows = sum(t.num_rows for t in builder.shard_tables(shard, log))
    assert rows == 10 and log.seen == 12
    assert [(s.record, s.file.endswith(f"videos/{sample.FULL_VIDEO_ID}.mp4")) for s in log.skipped] == [
        (f"{sample.FULL_VIDEO_ID} 00:00:03.500-00:00:06.200", True),
        (f"{sample.FULL_VIDEO_ID} 00:00:00.000-00:00:01.500", True)]
    assert log.skipped[0].reason.startswith("cannot read the video")


# ---- real data: the queries file released with InternVid ----------------------------------------------------

QUERY_SCHEMA = iv.QUERY_SCHEMA


def _real_queries() -> Path:
    return realdata_dir("internvid") / "Data" / "InternVid" / "queries.jsonl"


@pytest.mark.parametrize("shard_bytes,chunk_bytes", [(10**9, None), (40_000, 4_096), (7_919, 997)])
def test_real_queries_are_read_exactly_once_in_byte_ranges(shard_bytes, chunk_bytes):
    path = _real_queries()
    data = path.read_bytes()
    assert not data.endswith(b"\n")  # the release file has no final newline
    oracle = [json.loads(line) for line in data.decode("utf-8").split("\n")]
    ranges = iv.line_aligned_ranges(path, shard_bytes)
    rows, lines = [], []
    for start, end in ranges:
        for batch in iv.read_jsonl(path, start, end, QUERY_SCHEMA, chunk_bytes=chunk_bytes):
            assert batch.unparsed == [] and batch.table["extra"].null_count == batch.table.num_rows
            rows += batch.table.drop_columns(["extra"]).to_pylist()
            lines += [batch.line_of_row(r) for r in range(batch.table.num_rows)]
    assert rows == oracle and len(rows) == 6244
    assert lines == list(range(1, 6245))  # every line once, numbered right in every range
    assert rows[0] == {"search_word_id": "prey", "search_word": "猎物"}
    assert rows[-1] == {"search_word_id": "say word", "search_word": "说话"}


def test_a_broken_real_line_is_named_by_its_line_number_inside_a_middle_range(tmp_path):
    lines = _real_queries().read_bytes().split(b"\n")
    lines[3000] = lines[3000][:-5]  # line 3001, cut inside its Chinese text
    path = tmp_path / "queries.jsonl"
    path.write_bytes(b"\n".join(lines))
    offset = len(b"\n".join(lines[:3000])) + 1  # where line 3001 starts
    start, end = next((s, e) for s, e in iv.line_aligned_ranges(path, 20_000) if s <= offset < e)
    assert start > 0
    batches = list(iv.read_jsonl(path, start, end, QUERY_SCHEMA, chunk_bytes=2_000))
    bad = [(batch.line_of(i), why) for batch in batches for i, why in batch.unparsed]
    assert bad == [(3001, "invalid JSON (Missing a closing quotation mark in string.)")]
    assert sum(batch.table.num_rows for batch in batches) == iv.count_lines(path.read_bytes()[start:end]) - 1
    assert iv.newlines_before(path, offset) == 3000


def test_real_chinese_text_through_a_whole_build(tmp_path):
    queries = [json.loads(line) for line in _real_queries().read_text(encoding="utf-8").split("\n")]
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [json.dumps({"YoutubeID": f"q{n:010d}", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.500",
                         "Caption": query["search_word"], "UMT_Score": 0.3}, ensure_ascii=False)
             for n, query in enumerate(queries)]
    (raw / "InternVid-10M-flt.jsonl").write_text("\n".join(lines), encoding="utf-8")
    quiet_build(DATASET, raw, tmp_path / "out")
    rows = parquet_rows(tmp_path / "out", "10m_flt", "train")
    assert [r["caption"] for r in rows] == [q["search_word"] for q in queries]
    assert rows[1]["caption"] == "密封与" and rows[1]["duration"] == 1.5
    readme = (tmp_path / "out" / "README.md").read_text()  # captions only: gated as upstream, not private
    assert "extra_gated_prompt: 'InternVid captions are licensed CC BY-NC-SA 4.0" in readme
    assert "| `10m_flt` (default) | 6244 | gated |" in readme


@pytest.mark.parametrize("place", ["Data/InternVid/queries.jsonl", "InternVideo/Data/InternVid/queries.jsonl",
                                   "queries.jsonl"])
def test_the_real_queries_file_is_the_queries_config(tmp_path, place):
    """Where the InternVideo repository keeps it (alone, in a clone's folder, or on its own): read, not ignored."""
    real = _real_queries()
    raw = tmp_path / "raw"
    (raw / place).parent.mkdir(parents=True)
    shutil.copy(real, raw / place)
    report = quiet_build(DATASET, raw, tmp_path / "out")
    assert set(report["configs"]) == {"queries"} and report["unread"] == []
    rows = parquet_rows(tmp_path / "out", "queries", "train")
    oracle = [json.loads(line) for line in real.read_text(encoding="utf-8").split("\n")]
    assert [{k: r[k] for k in ("search_word_id", "search_word")} for r in rows] == oracle and len(rows) == 6244
    assert rows[0] == {"search_word_id": "prey", "search_word": "猎物", "extra": None}
    assert rows[5] == {"search_word_id": "pick cumquat/harvest cumquat", "search_word": "采摘金橘", "extra": None}
    assert rows[-1]["search_word"] == "说话"
    assert {i["path"]: i["sha256"] for i in report["inputs"]} == {
        place: "68710427ce84905ecc06c839a22614437e69dabe04377cccea4d80355804b34c"}  # the file of SOURCES.md
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "| `queries` (default) | 6244 | gated |" in readme or "| `queries` | 6244 | gated |" in readme


def test_the_real_queries_file_beside_the_sample_release(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw)
    shutil.copy(_real_queries(), raw / sample.QUERIES)  # the real file where the sample put its own
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["queries", "10m_flt"])
    assert not any(u["path"].startswith("Data/") for u in report["unread"])
    assert parquet_rows(tmp_path / "out", "queries", "train")[2] == {
        "search_word_id": "feeding ducks", "search_word": "喂鸭子", "extra": None}
    assert len(parquet_rows(tmp_path / "out", "10m_flt", "train")) == len(tree.rows("10m_flt"))


def test_the_sample_queries_equal_what_the_generator_wrote(built):
    tree, out, _ = built
    assert parquet_rows(out, "queries", "train") == tree.rows("queries")
    assert tree.rows("queries")[1] == {"search_word_id": "pick cumquat/harvest cumquat", "search_word": "采摘金橘",
                                       "extra": None}


def test_other_keys_are_taken_verbatim_from_the_line():
    schema = iv.release_schema(False)
    base = {"YoutubeID": "aB3dE5fG7hI", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.000",
            "Caption": "ok"}
    lines = [json.dumps({**base, "When": "2023-01-01 10:00:00"}),  # pyarrow alone would make it a timestamp
             json.dumps({**base, "When": 20230101, "Gone": None}),  # another type in the same chunk, a null
             json.dumps({**base, "umt_score": 0.3}),  # a score in another spelling is not assumed to be UMT_Score
             json.dumps({**base, "Caption": 'he wrote {"Gone": 1, "When": null}'}),  # keys inside a string
             json.dumps(base)]
    data = "\n".join(lines).encode()
    table, row_lines, unparsed = iv.parse_json_lines(data, schema, 5)
    assert unparsed == [] and table.num_rows == 5
    assert table["extra"].to_pylist() == ['{"When": "2023-01-01 10:00:00"}', '{"When": 20230101, "Gone": null}',
                                          '{"umt_score": 0.3}', None, None]
    assert table["UMT_Score"].to_pylist() == [None] * 5
    assert json.loads(table.schema.metadata[b"other key counts"]) == {"When": 2, "Gone": 1, "umt_score": 1}


def test_the_downloaded_videos_digest_is_their_sorted_listing(tmp_path):
    """The digest that rebuilds a clips config when the downloads change: every file below the video folders
    (a link to a file too, a linked folder not entered) in Path order, with its size and modification time."""
    import hashlib

    from builders.internvid import VideoSources

    clips = tmp_path / "clips"
    for name in ("a/b.mp4", "a-b.mp4", "a/c/d.mp4", "z.json"):
        (clips / name).parent.mkdir(parents=True, exist_ok=True)
        (clips / name).write_bytes(b"x" * len(name))
    (clips / "link.mp4").symlink_to(clips / "a-b.mp4")
    (clips / "linked").symlink_to(clips / "a", target_is_directory=True)
    expected = hashlib.sha256()
    for name in ("a/b.mp4", "a/c/d.mp4", "a-b.mp4", "link.mp4", "z.json"):
        stat = (clips / name).stat()
        expected.update(f"{clips / name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    sources = VideoSources(str(tmp_path), None, str(clips), None)
    assert sources.digest() == expected.hexdigest()[:16]
    (clips / "a" / "c" / "d.mp4").write_bytes(b"longer")
    assert sources.digest() != expected.hexdigest()[:16]
