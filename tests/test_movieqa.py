"""MovieQA: the builder against the sample generator's tree, the real release files, and bad inputs."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import tarfile
from array import array
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import srt
from hypothesis import example, given, settings
from hypothesis import strategies as st

from builders import movieqa as mqa
from builders.core import MultimodalBuilder
from builders.errors import RawDataError, RecordLog
from builders.samples import movieqa as sample
from conftest import realdata_dir
from helpers import SPLITS, folder_features, parquet_rows, quiet_build, run_script

DATASET = "movieqa"  # its samples: conftest's built, bad_tree; what all builders must do: test_contract.py
CONFIGS = ["qa", "qa_plot", "qa_subtitles", "qa_video", "movies"]


def rows_by_qid(out: Path, config: str, split: str) -> dict[str, dict]:
    return {row["qid"]: row for row in parquet_rows(out, config, split)}


def expected_question(tree: sample.SampleTree, qa: sample.SampleQA) -> dict:
    movie = tree.movies[qa.imdb_key]
    return {"qid": qa.qid, "imdb_key": qa.imdb_key, "movie_title": movie.title, "movie_year": movie.year,
            "movie_genres": list(movie.genres), "question": qa.question, "answers": list(qa.answers),
            "correct_index": qa.expected_correct_index, "plot_alignment": qa.alignment,
            "video_clips": list(qa.video_clips), "extra": None}


def question_part(row: dict) -> dict:
    return {key: row[key] for key in mqa.QA_FIELDS}


# ---- every config on the sample tree, value by value ---------------------------------------------------

def test_qa_rows_equal_what_the_generator_wrote(built):
    tree, out, _ = built
    for split in SPLITS:
        rows = parquet_rows(out, "qa", split)
        assert rows == [expected_question(tree, qa) for qa in tree.good(split)]  # qa.json order
    assert [r["qid"] for r in parquet_rows(out, "qa", "train")] == ["train:5", "train:0", "train:6", "train:9", "train:10"]


def test_question_fields_with_awkward_values(built):
    _, out, _ = built
    train, val, test = (rows_by_qid(out, "qa", s) for s in SPLITS)
    assert train["train:5"]["answers"][1] == ""                     # an empty option keeps its slot
    assert val["val:0"]["correct_index"] == 3                       # written "3" in the record
    assert val["val:0"]["question"] == "What does Zoë open?"        # \u00eb escape in qa.json
    assert [test[q]["correct_index"] for q in ("test:0", "test:1")] == [-1, -1]  # withheld (null)
    assert test["test:0"]["plot_alignment"] is None                 # no such key in the record
    assert train["train:9"]["plot_alignment"] == []
    assert (train["train:0"]["movie_title"], train["train:0"]["movie_year"]) == ("Example: The Movie", 2001)
    assert test["test:0"]["movie_genres"] == ["Action", "Sci-Fi", "War"]


def test_qa_plot_aligned_sentences_are_those_the_generator_wrote(built):
    tree, out, _ = built
    for split in SPLITS:
        for row, qa in zip(parquet_rows(out, "qa_plot", split), tree.good(split), strict=True):
            movie = tree.movies[qa.imdb_key]
            lines = movie.split_plot_lines
            aligned = None if lines is None or qa.alignment is None else [lines[i] for i in qa.alignment]
            assert question_part(row) == expected_question(tree, qa)
            assert row["aligned_sentences"] == aligned
            assert row["plot_sentences"] == lines
            assert row["plot"] == (None if movie.plot is None else list(movie.plot))
    train = rows_by_qid(out, "qa_plot", "train")
    # plot_alignment counts the blank line between the paragraphs: line 3 is the first of the second paragraph
    # (the non-blank lines' index 3 would be "Ben tells her the truth about her father.")
    assert train["train:0"]["plot_alignment"] == [3]
    assert train["train:0"]["aligned_sentences"] == ["She meets Ben at the station."]
    assert train["train:6"]["aligned_sentences"] == ["Ben tells her the truth about her father.",
                                                     "Anna returns to the city after ten years."]
    assert train["train:10"]["aligned_sentences"] == ["Nobody asks why.", "He listens."]
    assert train["train:10"]["plot_sentences"] == ["A detective never speaks.", "He listens.", "", "Nobody asks why.", ""]
    assert rows_by_qid(out, "qa_plot", "validation")["val:0"]["aligned_sentences"] is None  # no split plot
    assert rows_by_qid(out, "qa_plot", "test")["test:1"]["plot"] is None  # declared in movies.json, file absent


def test_qa_subtitles_cues_are_exactly_those_inside_the_clips(built):
    tree, out, _ = built
    for split in SPLITS:
        for row, qa in zip(parquet_rows(out, "qa_subtitles", split), tree.good(split), strict=True):
            assert question_part(row) == expected_question(tree, qa)
            assert row["subtitles"] == tree.expected_cues(qa), qa.qid
    train = rows_by_qid(out, "qa_subtitles", "train")
    straddle = train["train:0"]  # clips 0.40-2.36 s and 2.40-3.96 s; cue 3 (2.7-4.1 s) straddles the end
    assert straddle["subtitle_scope"] == "clips"
    assert straddle["clip_times"] == [{"clip": sample.C1, "start": 0.4, "end": 2.36},
                                      {"clip": sample.C2, "start": 2.4, "end": 3.96}]
    assert [c["index"] for c in straddle["subtitles"]] == [1, 2, 3]
    assert straddle["subtitles"][2] == {"index": 3, "start": 2.7, "end": 4.1, "text": "- Where were you?\n- ♪ Out ♪"}
    missing_clip = train["train:6"]  # frames 100-149: 4.00-5.96 s, though the clip file is absent
    assert [(c["index"], c["text"]) for c in missing_clip["subtitles"]] == [(3, "- Where were you?\n- ♪ Out ♪"),
                                                                           (4, "1999")]
    assert train["train:5"]["subtitle_scope"] == "movie" and len(train["train:5"]["subtitles"]) == 5
    assert (train["train:9"]["subtitle_scope"], train["train:9"]["subtitles"]) == (None, None)  # no .srt
    no_frame_times = rows_by_qid(out, "qa_subtitles", "test")["test:0"]
    assert no_frame_times["subtitle_scope"] == "movie"
    assert no_frame_times["clip_times"] == [{"clip": sample.C4, "start": None, "end": None}]
    validation = parquet_rows(out, "qa_subtitles", "validation")
    assert validation[0]["qid"] == "val:0" and validation[0]["subtitles"][3]["text"] == "It’s over—bye."


def test_qa_video_holds_the_original_clip_bytes(built):
    tree, out, _ = built
    assert set(parquet_rows(out, "qa_video", "train")[0]) == set(mqa.QA_VIDEO_FIELDS)
    for split in ("train", "test"):
        for row, qa in zip(parquet_rows(out, "qa_video", split), tree.good(split, video_only=True), strict=True):
            assert question_part(row) == expected_question(tree, qa)
            files = [tree.clip_bytes(c) for c in qa.video_clips]
            assert row["videos"] == [{"bytes": f, "path": c} if f else None for c, f in zip(qa.video_clips, files)]
            assert [c["status"] for c in row["clips"]] == \
                ["missing" if f is None else "empty" if not f else "ok" for f in files]
    assert not (out / "qa_video" / "validation-00000-of-00001.parquet").exists()  # no val question has clips
    first = rows_by_qid(out, "qa_video", "train")["train:0"]
    assert first["videos"][0]["bytes"][4:8] == b"ftyp"
    assert first["clips"][0] == {"name": sample.C1, "start_frame": 10, "end_frame": 59, "start": 0.4, "end": 2.36,
                                 "shots": [[10, 33], [34, 59]], "status": "ok"}
    assert first["clips"][1]["shots"] is None and first["videos"][1] is None  # the 0-byte file
    assert rows_by_qid(out, "qa_video", "train")["train:6"]["clips"][0]["status"] == "missing"
    test_clip = rows_by_qid(out, "qa_video", "test")["test:0"]["clips"][0]
    assert (test_clip["start"], test_clip["end"], test_clip["status"]) == (None, None, "ok")  # no .matidx


def test_movies_rows(built):
    tree, out, _ = built
    order = json.loads((tree.root / "data" / "splits.json").read_text())
    for split, name in zip(SPLITS, ("train", "val", "test")):
        rows = parquet_rows(out, "movies", split)
        assert [r["imdb_key"] for r in rows] == order[name]  # splits.json order
        for row in rows:
            movie = tree.movies[row["imdb_key"]]
            assert (row["title"], row["year"], row["genres"]) == (movie.title, movie.year, list(movie.genres))
            assert row["plot"] == (None if movie.plot is None else list(movie.plot))
            assert row["split_plot"] == movie.split_plot_lines
            assert row["extra"] is None
            assert row["script"] == movie.script
            assert row["video_clips"] == sorted(movie.clips)
            for kind in ("subtitles", "dvs"):
                track = getattr(movie, kind)
                if track is None:
                    assert row[kind] is None
                    continue
                want = track.expected()
                assert (row[kind]["encoding"], row[kind]["cues"]) == (want["encoding"], want["cues"])
                assert [{k: s[k] for k in ("line", "timing", "text")} for s in row[kind]["skipped_cues"]] == \
                    want["skipped_cues"]
    anna = rows_by_qid_movies(out, "train")["tt0000001"]
    assert "INT. CAFÉ - NIGHT" in anna["script"]  # cp1252 script, indentation kept
    assert anna["video_clips"] == [sample.C1, sample.C2]  # the referenced-but-missing clip is not on disk
    assert rows_by_qid_movies(out, "test")["tt0000003"]["dvs"]["cues"][0] == \
        {"index": 1, "start": 62.345, "end": 65.678, "text": "SOMEONE walks into the room."}


def rows_by_qid_movies(out: Path, split: str) -> dict[str, dict]:
    return {row["imdb_key"]: row for row in parquet_rows(out, "movies", split)}


def test_subtitle_quirks_of_the_cp1252_file(built):
    _, out, _ = built
    lyon = rows_by_qid_movies(out, "validation")["tt0000002"]["subtitles"]
    assert lyon["encoding"] == "cp1252"
    cues = lyon["cues"]
    assert cues[0] == {"index": 1, "start": 1.05, "end": 2.098,  # 2-digit ms read as integer ms
                       "text": "Café au lait, s'il vous plaît."}  # trailing spaces, then a line of spaces
    assert cues[1] == {"index": 7, "start": 5.0, "end": 4.1, "text": "Wait."}  # ends before it starts; tags, TAB
    assert cues[2]["index"] == 2 and cues[2]["start"] < cues[1]["start"]  # index restart, out of order, kept
    assert cues[3]["text"] == "It’s over—bye."  # \x92 and \x97, and no final newline
    (skipped,) = lyon["skipped_cues"]
    assert (skipped["line"], skipped["timing"], skipped["text"]) == (14, "00:00:07,000 --> 00:00:0*****9", "Broken time.")
    assert "unreadable timestamp" in skipped["reason"]
    anna = rows_by_qid_movies(out, "train")["tt0000001"]["subtitles"]
    assert anna["encoding"] == "utf-8-sig" and anna["cues"][1]["text"] == ""  # empty cue, then two blank lines
    assert anna["cues"][3] == {"index": 4, "start": 4.2, "end": 5.0, "text": "1999"}  # digits-only text line
    assert rows_by_qid_movies(out, "test")["tt0000003"]["subtitles"]["cues"][0]["index"] == 0


def test_card_and_report_values(built):
    _, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: other" in readme and "license_name: movieqa-research-terms" in readme
    assert "tapaswi2016movieqa" in readme and "Video question answering" in readme
    assert "| `qa` (default) | 8 | private |" in readme and "| `qa_video` | 3 | private |" in readme
    assert "| `videos` | list<video> |" in readme and "| `subtitles[].start` | float64 |" in readme
    assert "correct_index` is -1" in readme and "<qid> <answer index>" in readme  # how to evaluate test
    assert "| `movies` | 2 | 1 | 1 |" in readme
    assert report["redistribution"] == "private"  # the policy of the movie material: published privately
    assert sorted(report["configs"]) == sorted(CONFIGS)
    assert folder_features(out, "qa_video")["videos"] == datasets.List(datasets.Video())
    inputs = {i["path"] for i in report["inputs"]}
    assert {"data/qa.json", "data/movies.json", "data/splits.json", "story/subtt/", "story/video_clips/"} <= inputs


def test_video_tars_are_read_in_place(built, tmp_path):
    tree, reference, _ = built
    # the same tree with each movie's clips packed as the release ships them, video_clips/<imdb_key>.tar:
    # the very bytes of the reference build (x264 need not encode a clip identically in two runs)
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    for folder in sorted(p for p in (raw / "story" / "video_clips").iterdir() if p.is_dir()):
        with tarfile.open(folder.with_suffix(".tar"), "w") as archive:
            for clip in sorted(folder.iterdir()):
                archive.add(clip, arcname=f"{folder.name}/{clip.name}")
        shutil.rmtree(folder)
    assert not list(raw.rglob("*.mp4"))
    quiet_build(DATASET, raw, tmp_path / "out", configs=["qa_video", "movies"])
    for config in ("qa_video", "movies"):
        for split in SPLITS:
            assert parquet_rows(tmp_path / "out", config, split) == parquet_rows(reference, config, split)


def test_shard_jobs_of_a_few_questions_or_of_about_one_question_with_clips(samples):
    """The sample at scale 12 in jobs of 5 questions, or of 3 MB of clips (conftest's MANY_SHARDS;
    test_contract.py builds it in one process and in two)."""
    (tree, out, report), _ = samples.many_shards(DATASET)
    for config in ("qa", "qa_video"):
        assert len(report["configs"][config]["splits"]["train"]["files"]) >= 3
    video = parquet_rows(out, "qa_video", "train")
    assert [r["qid"] for r in video] == [q.qid for q in tree.good("train", video_only=True)]
    synthetic = video[2]
    assert synthetic["qid"] == "train:1000" and len(synthetic["videos"][0]["bytes"]) > 500_000
    assert synthetic["videos"][0]["bytes"] == tree.clip_bytes(synthetic["video_clips"][0])


# ---- pure parsers -----------------------------------------------------------------------------------------

def test_a_corrupted_start_time_does_not_join_the_previous_cue():
    text = "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n2\n00:15:*****9 --> 00:15:50,000\nLost.\n\n" \
           "3\n00:00:05,000 --> 00:00:06,000\nBye."
    cues, skipped = mqa.parse_srt(text)
    assert [c["text"] for c in cues] == ["Hello.", "Bye."]
    assert [(s["line"], s["text"]) for s in skipped] == [(6, "Lost.")]
    folded = list(srt.parse(text))[0].content  # why blocks are not split by the srt library
    assert folded == "Hello.\n\n2\n00:15:*****9 --> 00:15:50,000\nLost."


def test_cues_without_numbers_or_blank_lines():
    cues, skipped = mqa.parse_srt("00:00:01.000 --> 00:00:02.000\nA\n00:00:03,000 --> 00:00:04,000\n2000\n")
    assert skipped == [] and [(c["index"], c["start"], c["text"]) for c in cues] == [(None, 1.0, "A"), (None, 3.0, "2000")]


def test_decoding_prefers_utf8_then_cp1252_then_latin1():
    assert mqa.decode_text("\ufeffZoë\r\n".encode("utf-8")) == ("Zoë\n", "utf-8-sig")
    assert mqa.decode_text("don’t".encode("cp1252")) == ("don’t", "cp1252")
    assert mqa.decode_text(b"\x81caf\xe9") == ("\x81café", "latin-1")  # 0x81 is undefined in cp1252
    assert mqa.story_lines("One\x85two\n\n  Three  \n".encode("latin-1")) == ["One…two", "Three"]  # cp1252 0x85


def test_json_records_carry_their_line_numbers():
    records = mqa.read_json_list(b'[\n  {"a": 1}, \n  {\n    "b": [\n2]}\n]', "qa.json")
    assert records == [(2, {"a": 1}), (3, {"b": [2]})]
    with pytest.raises(RawDataError) as error:
        mqa.read_json_list(b'[\n  {"a": 1}, \n  {"b": ', "qa.json")
    assert error.value.line == 3 and "not valid JSON" in error.value.problem


@pytest.mark.parametrize("change,problem", [
    ({"answers": ["a", "b"]}, "2 answers, expected a list of 5 strings"),
    ({"correct_index": 5}, "correct_index 5 is not an answer index 0-4"),
    ({"correct_index": None}, "correct_index None is not an answer index"),
    ({"plot_alignment": [1, -2]}, "is not a list of sentence indices"),
    ({"video_clips": ["tt0000001.sf-10.video.mp4"]}, "is not named <imdb>.sf-NNNNNN.ef-NNNNNN.video.mp4"),
    ({"video_clips": ["tt0000009.sf-000010.ef-000059.video.mp4"]}, "does not belong to tt0000001"),
])
def test_question_record_errors(change, problem):
    record = {"qid": "train:1", "imdb_key": "tt0000001", "question": "Q?", "answers": list("abcde"),
              "correct_index": 0, "video_clips": [], **change}
    with pytest.raises(RawDataError) as error:
        mqa.parse_question(record, "qa.json", 12, "train")
    assert problem in error.value.problem and (error.value.line, error.value.record) == (12, "train:1")


def test_frame_time_and_shot_files_are_checked():
    assert mqa.parse_matidx(b"0 0.000\n1 0.042\n", "m") == [0.0, 0.042]
    with pytest.raises(RawDataError, match="frame 2 where frame 1 was expected") as error:
        mqa.parse_matidx(b"0 0.000\n2 0.083\n", "m")
    assert error.value.line == 2
    with pytest.raises(RawDataError, match="expected '<first frame> <last frame>'"):
        mqa.parse_shot_boundaries(b"10 33\n34\n", "s")
    with pytest.raises(RawDataError, match="starts at frame 150 but the frame-time map has only 150 frames"):
        mqa.clip_seconds("tt1.sf-000150.ef-000160.video.mp4", [0.0] * 150, "m")


# ---- bad inputs through the CLI ---------------------------------------------------------------------------

def cli_build(raw, out, *extra):
    return run_script("build.py", "movieqa", "--data-dir", raw, "--output", out, "--quiet", *extra)


def test_malformed_records_stop_the_build_naming_file_line_and_record(tmp_path):
    raw = tmp_path / "raw"
    tree = sample.make(raw, bad_records=True)
    listing = cli_build(raw, tmp_path / "a")  # the split check runs first, while listing the splits
    assert listing.returncode == 2, listing.stderr
    line = qa_line(raw, "val:3")
    assert f"qa.json:{line} (record val:3): the qid says split 'val' but splits.json puts tt0000001 in 'train'" \
        in listing.stderr
    assert "hint:" in listing.stderr and "Traceback" not in listing.stderr
    sample.write_questions(raw, [q for q in tree.questions if q.qid != "val:3"])
    parsing = cli_build(raw, tmp_path / "b", "--config", "qa")
    assert parsing.returncode == 2
    assert f"qa.json:{qa_line(raw, 'train:7')} (record train:7): 4 answers, expected a list of 5 strings" \
        in parsing.stderr
    assert not (tmp_path / "b" / "README.md").exists()


def qa_line(raw: Path, qid: str) -> int:
    lines = (raw / "data" / "qa.json").read_text().split("\n")
    return next(n for n, text in enumerate(lines, 1) if f'"qid": "{qid}"' in text) - 1  # the record's "{" line


def test_skip_lists_each_bad_record_and_the_card_counts_them(bad_tree, tmp_path):
    raw, tree = bad_tree.root, bad_tree
    done = cli_build(raw, tmp_path / "out", "--on-error", "skip")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    skipped = {(s["config"], s["record"]): s for s in report["skipped"]}
    assert sorted(skipped) == sorted((c, q) for c in ("qa", "qa_plot", "qa_subtitles") for q in ("train:7", "val:3"))
    assert skipped["qa", "train:7"] == {"split": "train", "file": "data/qa.json", "record": "train:7",
                                        "line": qa_line(raw, "train:7"), "config": "qa",
                                        "reason": "4 answers, expected a list of 5 strings"}
    assert skipped["qa_plot", "val:3"]["split"] == "validation"
    for config in ("qa", "qa_plot", "qa_subtitles"):
        for split, stats in report["configs"][config]["splits"].items():
            assert stats["rows"] == len(tree.good(split))
            assert stats["records_skipped"] == (1 if split in ("train", "validation") else 0)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "6 raw records were skipped" in readme
    assert "| `qa` | train | 4 answers, expected a list of 5 strings | 1 |" in readme
    assert [r["qid"] for r in parquet_rows(tmp_path / "out", "qa", "validation")] == ["val:0"]


def test_a_corrupt_shared_index_stops_the_build_even_with_skip(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    qa = raw / "data" / "qa.json"
    qa.write_bytes(qa.read_bytes()[:700])  # truncated inside a record
    result = cli_build(raw, tmp_path / "out", "--on-error", "skip")
    assert result.returncode == 2
    assert "qa.json:" in result.stderr and "not valid JSON" in result.stderr and "download it again" in result.stderr


def test_a_corrupt_frame_time_map_rejects_the_questions_that_need_it(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    matidx = raw / "story" / "matidx" / "tt0000001.matidx"
    matidx.write_text(matidx.read_text().replace("12 0.480\n", "12 0,48\n"))
    result = cli_build(raw, tmp_path / "out", "--config", "qa_subtitles")
    assert result.returncode == 2
    assert "tt0000001.matidx:13 (record train:0): expected '<frame> <seconds>', got '12 0,48'" in result.stderr
    report = quiet_build(DATASET, raw, tmp_path / "skip", configs=["qa_subtitles"], on_error="skip")
    assert sorted(s["record"] for s in report["skipped"]) == ["train:0", "train:6"]  # the questions with clips


def test_absent_parts_disable_the_configs_that_need_them(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    shutil.rmtree(raw / "story" / "subtt")
    shutil.rmtree(raw / "story" / "video_clips")
    result = run_script("build.py", "movieqa", "--data-dir", raw, "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "config 'qa_subtitles' not built: it needs story/subtt/<imdb_key>.srt (extract subtt.tar.gz)" in result.stdout
    assert "config 'qa_video' not built: it needs video clips <imdb_key>.sf-NNNNNN.ef-NNNNNN.video.mp4" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["movies", "qa", "qa_plot"]
    asked = cli_build(raw, tmp_path / "out2", "--config", "qa_video")
    assert asked.returncode == 2 and "story/video_clips/<imdb_key>.tar" in asked.stderr
    assert "http://movieqa.cs.toronto.edu" in asked.stderr  # the download steps


# ---- plot_alignment: line numbers of the split-plot file --------------------------------------------------

def test_split_plot_files_are_split_as_the_official_loader_splits_them():
    """Python 2 `open(path).readlines()` then `strip()`: bytes split at '\\n' only, a final '\\n' ends the last
    line (no empty line after it), ASCII whitespace stripped (CRLF's '\\r' too); blank lines are kept here."""
    assert mqa.file_lines(b"One.\r\nTwo. \r\n\r\n \t\nThree.\rStill three.\n") == \
        ["One.", "Two.", "", "", "Three.\rStill three."]
    assert mqa.file_lines(b"A.\n\nB.") == ["A.", "", "B."]  # no final line feed
    assert mqa.file_lines(b"A.\n\n") == ["A.", ""]           # a blank last line is a line
    assert mqa.file_lines("\u00a0\nZo\u00eb \u2028x\n".encode()) == ["\u00a0", "Zo\u00eb \u2028x"]  # not ASCII space
    assert mqa.file_lines(b"") == []
    assert mqa.story_lines(b"A.\n\n \nB.\n") == ["A.", "B."]  # plots: the loader's list without blank lines


@pytest.mark.parametrize("alignment,problem", [
    ([1, 2], "plot_alignment [1, 2]: 2 points at line 3 of story/split_plot/tt0000001.split.wiki, which is blank"),
    ([0, 5], "plot_alignment [0, 5]: 5 points past the end of story/split_plot/tt0000001.split.wiki (5 lines)"),
])
def test_an_alignment_on_a_blank_line_or_past_the_end_is_a_located_error(tmp_path, alignment, problem):
    raw = tmp_path / "raw"
    tree = sample.make(raw)
    tree.question("train:5").plot_alignment = alignment
    sample.write_questions(raw, tree.questions)
    result = cli_build(raw, tmp_path / "out", "--config", "qa_plot")
    assert result.returncode == 2
    assert f"qa.json:{qa_line(raw, 'train:5')} (record train:5): {problem}" in result.stderr
    assert "0-based line numbers of the split-plot file, blank lines counted" in result.stderr
    report = quiet_build(DATASET, raw, tmp_path / "skip", configs=["qa", "qa_plot"], on_error="skip")
    assert [(s["config"], s["split"], s["file"], s["record"], s["reason"]) for s in report["skipped"]] == \
        [("qa_plot", "train", "data/qa.json", "train:5", problem)]
    assert report["configs"]["qa_plot"]["splits"]["train"]["records_skipped"] == 1
    assert "train:5" not in rows_by_qid(tmp_path / "skip", "qa_plot", "train")
    assert rows_by_qid(tmp_path / "skip", "qa", "train")["train:5"]["plot_alignment"] == alignment  # kept as written


# ---- nothing in the data directory is ignored silently -------------------------------------------------------

NOT_RECOGNISED = "not recognised by this builder"


def unread_reasons(report: dict) -> dict[str, str]:
    return {u["path"]: u["reason"] for u in report["unread"]}


def test_the_repository_files_are_listed_as_not_read(built):
    _, _, report = built
    unread = unread_reasons(report)
    assert sorted(unread) == sorted(sample.REPOSITORY_FILES)  # every data file is read by some config
    assert not any(reason.startswith(NOT_RECOGNISED) for reason in unread.values())
    assert unread["story/MD5SUM"].startswith("MD5 checksums of the tarballs as downloaded")
    assert unread["data_loader.py"].startswith("the benchmark's Python 2 loaders")
    assert unread["story/burst_at_0.5fps.sh"].startswith("a helper script of the benchmark")


def test_a_build_of_some_configs_names_who_reads_the_rest(built, tmp_path):
    tree, _, _ = built
    report = quiet_build(DATASET, tree.root, tmp_path / "out", configs=["qa"])
    story = {path: reason for path, reason in unread_reasons(report).items() if path.endswith("/")}
    by = {path: reason.split("'")[1] for path, reason in story.items()}
    assert by == {"story/plot/": "qa_plot", "story/split_plot/": "qa_plot", "story/subtt/": "qa_subtitles",
                  "story/matidx/": "qa_subtitles", "story/shot_boundaries/": "qa_video",
                  "story/video_clips/": "qa_video", "story/script/": "movies", "story/dvs/": "movies"}
    assert story["story/subtt/"] == "read by config 'qa_subtitles', which this build did not make: it was not " \
                                    "asked for (--config)"


def test_leftovers_strays_and_unknown_folders_are_listed(built, tmp_path):
    tree, _, _ = built
    raw = tmp_path / "raw"
    shutil.copytree(tree.root, raw)
    spare_clip = "story/video_clips/tt0000001/tt0000001.sf-000200.ef-000249.video.mp4"
    additions = {
        "story/splitplot.tar.gz": "a downloaded story or video-metadata tarball",  # the name before Dec 2016
        "story/matidx.tar.gz": "a downloaded story or video-metadata tarball",
        "story/video_0.5fps/": "frames burst from the clips",
        "story/audio_clips/": "AAC audio ripped from the clips",
        "annotations-original.csv": "the MPII-MD transcriptions",
        "story/subtt/tt0000099.srt": "a story file of a movie that movies.json does not list",
        "story/plot_video_alignment/": NOT_RECOGNISED,        # a story kind this builder does not know
        "story/split_plot/old/tt0000001.split.wiki": "another copy of a story file",  # found after the first
        "backup/tt0000001.srt": "another copy of a story file",  # found first, but movies.json names the other
    }
    for path in [*additions, spare_clip]:
        target = raw / path / "tt0000001" / "001.jpg" if path.endswith("/") else raw / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    report = quiet_build(DATASET, raw, tmp_path / "out")
    unread = unread_reasons(report)
    assert sorted(unread) == sorted([*sample.REPOSITORY_FILES, *additions])
    for path, reason in additions.items():
        assert unread[path].startswith(reason), path
    movies = rows_by_qid_movies(tmp_path / "out", "train")
    assert spare_clip.rsplit("/", 1)[1] in movies["tt0000001"]["video_clips"]  # read (listed) by `movies` only
    assert movies["tt0000001"]["split_plot"][0] == "Anna returns to the city after ten years."  # not the copies
    assert movies["tt0000001"]["subtitles"]["cues"][0]["text"] == "Previously, in the city..."
    video = unread_reasons(quiet_build(DATASET, raw, tmp_path / "video", configs=["qa_video"]))
    assert video[spare_clip] == "a clip no question refers to (the `movies` config lists its name)"
    notices = [n for n in report["notices"] if "movies.json does not list" in n]
    assert notices and all(n.endswith(": story files of movies that movies.json does not list are not read "
                                      "(listed as unread): 1, e.g. story/subtt/tt0000099.srt") for n in notices)


def test_unknown_record_keys_are_kept_in_extra_and_counted(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    qa = json.loads((raw / "data" / "qa.json").read_text())
    next(r for r in qa if r["qid"] == "train:0").update(difficulty=2, plot_video_alignment={"3": ["clip"]})
    (raw / "data" / "qa.json").write_text(sample.py2_json(qa))
    movies = json.loads((raw / "data" / "movies.json").read_text())
    anna = next(m for m in movies if m["imdb_key"] == "tt0000001")
    anna["rating"] = "PG-13"
    anna["text"]["split_plot"] = "story/split_plot/tt0000001.split.wiki"
    (raw / "data" / "movies.json").write_text(sample.py2_json(movies))
    out = tmp_path / "out"
    report = quiet_build(DATASET, raw, out, configs=["qa", "qa_plot", "movies"])
    for config in ("qa", "qa_plot"):
        rows = rows_by_qid(out, config, "train")
        assert json.loads(rows["train:0"]["extra"]) == {"difficulty": 2, "plot_video_alignment": {"3": ["clip"]}}
        assert rows["train:5"]["extra"] is None
        assert report["configs"][config]["splits"]["train"]["counts"] == {
            "qa.json records with the key 'difficulty', which this build does not map (kept in `extra`)": 1,
            "qa.json records with the key 'plot_video_alignment', which this build does not map (kept in `extra`)": 1}
    movie = rows_by_qid_movies(out, "train")["tt0000001"]
    assert json.loads(movie["extra"]) == {"rating": "PG-13", "text": {"split_plot": "story/split_plot/tt0000001.split.wiki"}}
    assert movie["title"] == "Example: The Movie"  # the known keys are read as before
    assert report["configs"]["movies"]["splits"]["train"]["counts"] == {
        "movies.json records with the key 'rating', which this build does not map (kept in `extra`)": 1,
        "movies.json records with the key 'text.split_plot', which this build does not map (kept in `extra`)": 1}
    assert "qa: movies.json: keys this build does not map (rating, text.split_plot) in 1 of 4 records; they are kept " \
           "in the `extra` column of the `movies` config" in report["notices"]


# ---- the fast paths against the reference -------------------------------------------------------------------

def qa_tables(builder: mqa.MovieQA, shard, on_error: str, reference: bool) -> tuple[list, RecordLog]:
    """The `qa` tables of a shard: the columnar path, or the core's row by row from `shard_rows` (the reference)."""
    log = RecordLog(on_error, shard.split)
    make = MultimodalBuilder.shard_tables if reference else mqa.MovieQA.shard_tables
    return list(make(builder, shard, log)), log


@pytest.mark.parametrize("variant", ["clean", "bad", "odd"])
def test_the_columnar_qa_tables_equal_the_row_by_row_ones(samples, tmp_path, variant, monkeypatch):
    """The same tables (so the same batches, rows and content hash) and the same log: records read, skipped with
    their reasons, counts. "odd": records the fast path leaves to the reference (an unmapped key, an index as text,
    an error), at the start, inside and at the end of 100-row batches."""
    raw = samples.bad_tree(DATASET).root if variant == "bad" else samples.tree(DATASET, scale=250,
                                                                              scaled_clips=False).root
    if variant == "odd":
        raw = Path(shutil.copytree(raw, tmp_path / "raw"))
        qa = json.loads((raw / "data" / "qa.json").read_text())
        train = [r for r in qa if r["qid"].startswith("train:")]
        for number, record in enumerate(train):
            if number % 37 == 0:
                record["difficulty"] = number
            if number % 41 == 1:
                record["correct_index"] = str(record["correct_index"])
            if number % 53 == 2:
                record["answers"] = record["answers"][:4]
            if number % 59 == 3:
                record["video_clips"] = None
        train[99]["plot_alignment"] = [True]
        (raw / "data" / "qa.json").write_text(sample.py2_json(qa))
    on_error = "raise" if variant == "clean" else "skip"
    monkeypatch.setattr(mqa.MovieQA, "QA_ROWS_PER_BATCH", 100)  # several batches per shard job, cut alike
    builder = mqa.MovieQA(config_name="qa", data_dir=str(raw))
    shards = builder.split_shards(RecordLog(on_error))
    assert sum(len(s.positions) for items in shards.values() for s in items) > (5 if variant == "bad" else 250)
    skipped, counted, cut_shards = 0, 0, 0
    for shard in (shard for items in shards.values() for shard in items):
        fast, fast_log = qa_tables(builder, shard, on_error, reference=False)
        slow, slow_log = qa_tables(builder, shard, on_error, reference=True)
        assert [t.num_rows for t in fast] == [t.num_rows for t in slow]
        assert all(t.num_rows <= 100 for t in slow)
        cut_shards += len(slow) > 1
        assert all(a.equals(b, check_metadata=True) for a, b in zip(fast, slow))
        assert fast_log == slow_log
        skipped, counted = skipped + len(slow_log.skipped), counted + sum(slow_log.counts.values())
    assert cut_shards > 0 or variant == "bad"
    if variant == "odd":
        assert (skipped, counted) == (6, 7)  # the cut answer lists and the boolean alignment; 'difficulty'


def test_qa_rows_go_in_files_of_a_shard_job_and_row_groups_of_a_batch_each(samples, tmp_path, monkeypatch):
    """Text rows of ~500 bytes: a shard job's questions are one file, in row groups of QA_ROWS_PER_BATCH (not one
    per 100 rows); a split's last job and each job's last group are shorter."""
    monkeypatch.setattr(mqa.MovieQA, "QA_QUESTIONS_PER_SHARD", 100)
    monkeypatch.setattr(mqa.MovieQA, "QA_ROWS_PER_BATCH", 40)
    raw = samples.tree(DATASET, scale=250, scaled_clips=False).root
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["qa"])
    for split, info in report["configs"]["qa"]["splits"].items():
        files = sorted((tmp_path / "out" / "qa").glob(f"{split}-*.parquet"))
        groups = [[footer.row_group(g).num_rows for g in range(footer.num_row_groups)]
                  for footer in (pq.ParquetFile(path).metadata for path in files)]
        jobs = [min(100, info["rows"] - start) for start in range(0, info["rows"], 100)]
        assert groups == [[min(40, rows - start) for start in range(0, rows, 40)] for rows in jobs], split
    assert report["configs"]["qa"]["splits"]["train"]["rows"] > 200  # more than two jobs, their last group cut


def test_a_bad_record_deep_in_a_shard_job_is_named_by_its_line(samples, tmp_path, monkeypatch):
    """A job reads its records by the byte ranges its shard carries; its errors still name the record's line."""
    monkeypatch.setattr(mqa.MovieQA, "QA_QUESTIONS_PER_SHARD", 40)
    monkeypatch.setattr(mqa, "READ_RECORDS", 7)
    raw = Path(shutil.copytree(samples.tree(DATASET, scale=250, scaled_clips=False).root, tmp_path / "raw"))
    qa = json.loads((raw / "data" / "qa.json").read_text())
    train = [r for r in qa if r["qid"].startswith("train:")]
    bad = [train[95], train[203]]  # in the third and sixth jobs of train, inside a piece
    for record in bad:
        record["answers"] = record["answers"][:4]
    text = sample.py2_json(qa)
    (raw / "data" / "qa.json").write_text(text)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["qa"], on_error="skip", num_proc=2)
    skipped = sorted((s["record"], s["line"]) for s in report["skipped"])
    starts = [text[:text.index(f'"{record["qid"]}"')].rfind("{") for record in bad]  # the record's opening brace
    assert skipped == sorted((record["qid"], text[:start].count("\n") + 1) for record, start in zip(bad, starts))


def test_the_fast_path_takes_the_ordinary_records(built):
    tree, _, _ = built
    builder = mqa.MovieQA(config_name="qa", data_dir=str(tree.root))
    split_of = builder.split_of
    taken = {record["qid"] for record in builder.qa_file.records(range(len(builder.qa_file)))
             if mqa.question_values(record, split_of[record["imdb_key"]], builder.movies) is not None}
    assert "val:0" not in taken  # its correct_index is written "3": parse_question reads it
    assert {"train:5", "train:0", "train:6", "test:0", "test:1"} <= taken


def test_qa_json_is_scanned_a_chunk_at_a_time_and_its_records_read_again_by_place(tmp_path):
    path = tmp_path / "qa.json"
    path.write_bytes('\ufeff[\n  {"qid": "train:1", "imdb_key": "tt1", "q": "Zoë?", "video_clips": ["a"]}, \n  {\n'
                     '    "b": [\n2]}\n, {"qid": "test:1", "imdb_key": "tt2", "video_clips": ["c"]}, 17]'.encode())
    index = mqa.QAIndex(path, movies_with_video=frozenset({"tt2", "tt3"}))
    records = index.file
    assert [(start, end) for start, end, _ in mqa.scan_json_list(path, chunk_bytes=5)] == \
        list(zip(records.starts, records.ends)) and records.starts[0] == 7  # past the BOM, '[', line feed, 2 spaces
    assert path.read_bytes()[records.starts[1]:records.ends[1]] == b'{\n    "b": [\n2]}'
    assert records.starts.typecode == records.ends.typecode == "I"  # 4-byte offsets: the file is under 4 GiB
    assert records.records([0, 1, 3]) == [{"qid": "train:1", "imdb_key": "tt1", "q": "Zoë?", "video_clips": ["a"]},
                                          {"b": [2]}, 17]
    assert records.records([2]) == [{"qid": "test:1", "imdb_key": "tt2", "video_clips": ["c"]}]
    assert records._lines is None and [records.line(p) for p in range(4)] == [2, 3, 6, 6]
    # a shard job reads its pieces (runs of neighbours) with what the plan gives it: the file's path and stamp
    shard = mqa.QAShard.of("train", [0, 1, 3], records)
    assert list(shard.pieces) == [0, 2, 7, records.ends[1], 3, 4, records.starts[3], records.ends[3]]
    jobs_view = pickle.loads(pickle.dumps(mqa.QARecords(path, records.stamp)))
    assert list(jobs_view.read(shard)) == [(0, {"qid": "train:1", "imdb_key": "tt1", "q": "Zoë?", "video_clips": ["a"]}),
                                           (1, {"b": [2]}), (3, 17)]
    assert [jobs_view.line(p) for p in (3, 0, 1)] == [6, 2, 3]
    assert list(index.qid_splits) == [0, mqa.NO_SPLIT, 2, mqa.NO_SPLIT] and list(index.movies) == [0, -1, 1, -1]
    assert index.movies.typecode == "h"  # 2-byte movie numbers: fewer than 32,768 movies
    parts = mqa.index_parts(path, frozenset())
    assert parts.qid_hashes.typecode == "I" and parts.qid_hashes[0] == hash("train:1") & 0xFFFFFFFF
    assert list(index.with_video) == [1, 0, 1, 0] and index.with_clips == {"tt1", "tt2"}
    assert index.clips_asked == {"tt2": {"c"}, "tt3": set()}  # tt1's clip is not in the tree: its name is not kept
    assert list(index.settled({"tt1": "train", "tt2": "validation"})) == [0, mqa.NO_SPLIT, mqa.NO_SPLIT, mqa.NO_SPLIT]

    def make(line):
        if line is None:
            raise RawDataError("qa.json", "bad")
        return line
    assert records.located(1, make) == 3
    # what only read_json_list reads (a form feed as whitespace, a trailing comma) is read the same
    path.write_bytes(b'[\x0c{"a": 1},\x0c{"b": 2},]')
    assert mqa.QAIndex(path).file.records([0, 1]) == [{"a": 1}, {"b": 2}]
    for bad in (b'{"a": 1}', b'[1,,]', b'[1] x', b'\xff', b'[1, 2', b''):
        path.write_bytes(bad)
        with pytest.raises(RawDataError) as scanned:
            list(mqa.scan_json_list(path, chunk_bytes=2))
        with pytest.raises(RawDataError) as reference:
            mqa.read_json_list(bad, "qa.json")
        assert (scanned.value.problem, scanned.value.line) == (reference.value.problem, reference.value.line)


def test_offsets_past_4_gib_take_8_bytes():
    assert mqa.offsets_array(2**32 - 1).typecode == "I" and mqa.offsets_array(2**32).typecode == "q"
    far = mqa.QAFile(Path("qa.json"), (5 * 2**32 + 9, 0), array("q", [1, 5 * 2**32]), array("q", [9, 5 * 2**32 + 9]))
    shard = mqa.QAShard.of("train", [0, 1], far)
    assert list(shard.pieces) == [0, 2, 1, 5 * 2**32 + 9]


def test_a_qa_shard_holds_runs_of_neighbours_cut_at_read_records(monkeypatch):
    monkeypatch.setattr(mqa, "READ_RECORDS", 2)
    records = mqa.QAFile(Path("qa.json"), (200, 0), array("I", range(0, 110, 10)), array("I", range(5, 115, 10)))
    shard = mqa.QAShard.of("train", np.array([0, 1, 2, 7, 8, 10]), records)
    assert list(shard.spans()) == [(0, 2, 0, 15), (2, 3, 20, 25), (7, 9, 70, 85), (10, 11, 100, 105)]
    assert shard.positions == [0, 1, 2, 7, 8, 10] and pickle.loads(pickle.dumps(shard)) == shard


def test_movie_numbers_take_two_bytes_until_there_are_too_many(tmp_path, monkeypatch):
    monkeypatch.setattr(mqa, "MAX_SHORT_ID", 1)  # two movies fit
    path = tmp_path / "qa.json"
    keys = ["tt1", "tt2", "tt1", 5, "tt3", "tt2"]
    path.write_text(json.dumps([{"qid": f"train:{i}", "imdb_key": key} for i, key in enumerate(keys)]))
    assert list(mqa.index_parts(path, frozenset()).movies) == [0, 1, 0, -1, 2, 1]
    assert mqa.index_parts(path, frozenset()).movies.typecode == "i"
    stops = [mqa.index_parts(path, frozenset()).starts[3], None]  # the second stretch brings the third movie
    stretches = [mqa.index_stretch(path, None, stops[0], frozenset()),
                 mqa.index_stretch(path, stops[0], None, frozenset())]
    assert [s.movies.typecode for s in stretches] == ["h", "h"]
    joined = mqa.join_stretches(stretches, stops)
    assert joined.movies.typecode == "i" and list(joined.movies) == [0, 1, 0, -1, 2, 1]


def test_a_shard_job_reads_records_with_odd_whitespace_between_them_one_by_one(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text('[{"a": 1},\x0c\n{"b": 2},\n\u2028 [3]]', encoding="utf-8")  # a form feed, a line separator
    index = mqa.QAIndex(path)
    shard = mqa.QAShard.of("train", [0, 1, 2], index.file)
    assert len(shard.pieces) == 4  # one piece, which json.loads does not take whole
    jobs_view = mqa.QARecords(path, index.file.stamp)
    assert list(jobs_view.read(shard)) == [(0, {"a": 1}), (1, {"b": 2}), (2, [3])]
    assert [jobs_view.line(p) for p in (0, 1, 2)] == [1, 2, 3] == [index.file.line(p) for p in (0, 1, 2)]


def test_a_repeated_qid_loses_to_the_first_record_of_it_the_config_takes(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    path = raw / "data" / "qa.json"
    records = json.loads(path.read_text())
    split_of = mqa.MovieQA(config_name="qa", data_dir=str(raw)).split_of
    train = next(r for r in records if r["qid"].startswith("train:"))
    val_movie = next(key for key, split in split_of.items() if split == "validation")
    wrong_split = dict(train, qid="val:900")  # a train movie's question under a val qid: rejected
    right = dict(train, qid="val:900", imdb_key=val_movie, video_clips=[])
    path.write_text(json.dumps(records + [dict(train), wrong_split, right, dict(right)], indent=1))
    builder = mqa.MovieQA(config_name="qa", data_dir=str(raw))
    log = RecordLog("skip")
    shards = builder.split_shards(log)
    n = len(records)
    kept = {int(p) for items in shards.values() for shard in items for p in shard.positions}
    assert kept == set(range(n)) | {n + 2}  # the sample's records, and the one val:900 of a val movie
    lines = [builder.qa_file.line(p) for p in range(len(builder.qa_file))]
    assert [(s["record"], s["line"], s["reason"]) for s in log.as_dicts()][-3:] == [
        (train["qid"], lines[n], f"qid {train['qid']} repeats the record of line {lines[records.index(train)]}"),
        ("val:900", lines[n + 1], f"the qid says split 'val' but splits.json puts {train['imdb_key']} in 'train'"),
        ("val:900", lines[n + 3], f"qid val:900 repeats the record of line {lines[n + 2]}")]
    assert builder.qa_index.same_qids == sorted([[records.index(train), n], [n + 1, n + 2, n + 3]])


def test_records_of_equal_qid_hashes_are_told_apart_by_their_qids(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"qid": "a"}, {"qid": "b"}, 3, {"qid": "a"}, {"qid": 5}, {"qid": "b"}, {"qid": "c"}]))
    records = mqa.QAIndex(path).file
    assert mqa.same_qid_groups(np.zeros(7, np.int64), records) == [[0, 3], [1, 5]]
    assert mqa.same_qid_groups(np.arange(7), records) == []


# qa.json records of every shape the planner's settling looks at: well-formed qids (of the movie's split or of
# another) and qids and keys of any other kind, from small pools so that qids repeat, well-formed or not; clips or
# none; and non-objects
QA_MOVIES = ["tt0000001", "tt0000002", "tt0000003", "tt0000004"]
SETTLING_PREFIXES = list(mqa.SPLITS)  # train, val, test
# str.isdigit takes ² and ٣ (Arabic-Indic three) as digits, and so do both paths
QID_NUMBERS = ["0", "1", "12", "007", "\u00b2", "\u0663", "", "-1", "1.5", " 1", "x", ":1"]
WELL_FORMED_NUMBERS = st.sampled_from(QID_NUMBERS[:6])
QIDS = st.one_of(st.builds("{}:{}".format, st.sampled_from(SETTLING_PREFIXES), WELL_FORMED_NUMBERS),
                 st.builds("{}:{}".format, st.sampled_from([*SETTLING_PREFIXES, "validation", "dev", "Train", " train",
                                                            ""]), st.sampled_from(QID_NUMBERS)),
                 st.sampled_from(["train", "train1", "train-1", "val\uff1a1"]),  # no colon, or a full-width one
                 st.text(max_size=6), st.none(), st.integers(0, 3), st.just(["train:1"]))
IMDB_KEYS = st.one_of(st.sampled_from([*QA_MOVIES, "tt9999999", "", "TT0000001"]), st.none(), st.integers(0, 3),
                      st.just(["tt0000001"]))
CLIP_NAMES = [f"{key}.sf-000010.ef-000059.video.mp4" for key in QA_MOVIES[:2]] + ["x.mp4"]
VIDEO_CLIPS = st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(CLIP_NAMES), st.integers(0, 2)), max_size=3),
                        st.text(max_size=2), st.just({}))
OTHER_FIELDS = st.fixed_dictionaries({}, optional={"video_clips": VIDEO_CLIPS, "question": st.text(max_size=4)})
QA_RECORDS = st.one_of(
    st.builds(lambda qid, key, other: {"qid": qid, "imdb_key": key, **other}, QIDS, IMDB_KEYS, OTHER_FIELDS),
    st.fixed_dictionaries({}, optional={"qid": QIDS, "imdb_key": IMDB_KEYS, "video_clips": VIDEO_CLIPS}),
    st.sampled_from([None, 7, True, 1.5, "train:1", [], ["train:1", "tt0000001"]]))  # not an object
HUB_SPLITS = st.sampled_from(list(mqa.SPLITS.values()))
# splits.json puts the first three movies in a split; the fourth in one or in none; tt9999999 in none
SPLIT_OF = st.fixed_dictionaries({key: HUB_SPLITS for key in QA_MOVIES[:3]}, optional={QA_MOVIES[3]: HUB_SPLITS})


@st.composite
def qa_json_and_split_of(draw) -> tuple[list, dict[str, str]]:
    """splits.json's split of each movie (SPLIT_OF) and qa.json's records: ordinary ones (a well-formed qid of its
    movie's split, what a release holds), QA_RECORDS, and here and there another record of an earlier one's qid
    (of the same movie or another, with other clips or none): the repeats the planner looks for."""
    split_of = draw(SPLIT_OF)
    prefix_of = {hub: prefix for prefix, hub in mqa.SPLITS.items()}
    ordinary = st.builds(lambda key, number, other: {"qid": f"{prefix_of.get(split_of.get(key), 'train')}:{number}",
                                                     "imdb_key": key, **other},
                         st.sampled_from(QA_MOVIES), WELL_FORMED_NUMBERS, OTHER_FIELDS)
    records = draw(st.lists(st.one_of(ordinary, QA_RECORDS), max_size=12))
    for _ in range(draw(st.integers(0, 3)) if records else 0):
        earlier = draw(st.integers(0, len(records) - 1))
        again = records[earlier]
        if type(again) is dict:
            again = {**again, **draw(st.fixed_dictionaries({}, optional={"imdb_key": IMDB_KEYS,
                                                                         "video_clips": VIDEO_CLIPS}))}
        records.insert(draw(st.integers(earlier + 1, len(records))), again)
    return records, split_of


QA_JSON_WRITERS = {"py2": sample.py2_json, "utf-8": lambda value: json.dumps(value, ensure_ascii=False)}
EXAMPLES = int(os.environ.get("MM_FUZZ_EXAMPLES", "200"))  # as tests/test_fuzz_parsers.py: more for a long run


def checking_path_split(index: mqa.QAIndex, position: int, record, split_of: dict[str, str]) -> str | None:
    """The split the checking path gives a record (question_split, located as the planner calls it); None where
    it rejects the record."""
    try:
        return index.file.located(position, lambda line: mqa.question_split(record, index.file.path, line, split_of))
    except RawDataError:
        return None


@settings(max_examples=EXAMPLES, deadline=None, derandomize="MM_FUZZ_EXAMPLES" not in os.environ, database=None)
@given(qa_json_and_split_of(), st.sets(st.sampled_from([*QA_MOVIES, "tt9999999"])),
       st.sampled_from(sorted(QA_JSON_WRITERS)))
# always tried: a digit str.isdigit takes, a Hub name as prefix, a qid of another split, no imdb_key, no object, a
# repeat with clips
@example(([{"qid": "train:1", "imdb_key": "tt0000001"}, {"qid": "train:\u00b2", "imdb_key": "tt0000001"},
           {"qid": "validation:1", "imdb_key": "tt0000002"}, {"qid": "val:1", "imdb_key": "tt0000001"},
           {"qid": "test:1"}, 7, {"qid": "train:1", "imdb_key": "tt0000001", "video_clips": [CLIP_NAMES[0]]}],
          {"tt0000001": "train", "tt0000002": "validation"}), {"tt0000001"}, "py2")
def test_the_columnar_split_settling_equals_the_per_record_reference(tmp_path_factory, qa_json, with_video, writer):
    """QAIndex.settled (the planner's numpy path) settles a record exactly where settled_split does, to the same
    split, and leaves unsettled only records question_split rejects: the planner asserts that last part at run
    time, but only on the trees it builds. Among the settled records, each later record of a qid is a repeat of
    the first (QAIndex.repeats, which finds them among equal qid hashes)."""
    records, split_of = qa_json
    path = tmp_path_factory.mktemp("settled") / "qa.json"  # a new file each example: qa_index caches by path
    path.write_text(QA_JSON_WRITERS[writer](records), encoding="utf-8")
    index = mqa.qa_index(path, frozenset(with_video))  # as MovieQA.qa_index makes it
    read_again = index.file.records(range(len(index.file)))  # what the checking path reads
    assert repr(read_again) == repr(records)
    hub_splits = list(mqa.SPLITS.values())
    codes = index.settled(split_of)
    settled = [None if code == mqa.NO_SPLIT else hub_splits[code] for code in codes.tolist()]
    assert settled == [mqa.settled_split(r.get("qid"), r.get("imdb_key"), split_of) if type(r) is dict else None
                       for r in read_again]
    assert settled == [checking_path_split(index, p, r, split_of) for p, r in enumerate(read_again)]
    first_of: dict[str, int] = {}  # qid -> the first settled record of it (a settled record's qid is a string)
    for position in (p for p, split in enumerate(settled) if split is not None):
        first_of.setdefault(records[position]["qid"], position)
    assert index.repeats(codes != mqa.NO_SPLIT) == {  # the mask the planner passes
        p: first_of[r["qid"]] for p, (r, split) in enumerate(zip(records, settled))
        if split is not None and first_of[r["qid"]] != p}


def index_fields(index) -> tuple:
    """Everything a QAIndex (or the QAIndexParts it is made of) holds of qa.json's records."""
    starts = index.file.starts if isinstance(index, mqa.QAIndex) else index.starts
    ends = index.file.ends if isinstance(index, mqa.QAIndex) else index.ends
    return (list(starts), list(ends), bytes(index.qid_splits), list(index.movies), bytes(index.with_video),
            index.movie_keys, index.with_clips, index.clips_asked,
            index.same_qids if isinstance(index, mqa.QAIndex) else list(index.qid_hashes))


# question texts that look like the boundary of two records, for stretches to start in by mistake
BOUNDARY_LOOKALIKES = st.sampled_from(["}, {", '}, {"qid": "train:1", "imdb_key": "tt0000001"}, {', "{", "}],[{"])


@settings(max_examples=EXAMPLES, deadline=None, derandomize="MM_FUZZ_EXAMPLES" not in os.environ, database=None)
@given(qa_json_and_split_of(), st.sets(st.sampled_from([*QA_MOVIES, "tt9999999"])),
       st.sampled_from(sorted(QA_JSON_WRITERS)), st.integers(1, 9), st.data())
def test_qa_json_read_in_stretches_joins_only_where_they_start_at_records(tmp_path_factory, qa_json, with_video,
                                                                         writer, chunk_bytes, data):
    """Stretches of qa.json, started at any '{' (a record's or one inside a string or a record), join only where
    each started at a record, and then to what one pass reads; started at records, they always join."""
    records = [dict(r, question=data.draw(BOUNDARY_LOOKALIKES)) if type(r) is dict and data.draw(st.booleans())
               else r for r in qa_json[0]]
    path = tmp_path_factory.mktemp("stretches") / "qa.json"
    path.write_text(QA_JSON_WRITERS[writer](records), encoding="utf-8")
    with_video = frozenset(with_video)
    one_pass = mqa.index_parts(path, with_video)
    braces = [i for i, byte in enumerate(path.read_bytes()) if byte == ord("{")]
    starts = sorted(set(data.draw(st.lists(st.sampled_from(braces), max_size=3)))) if braces else []
    stops = starts + [None]
    try:
        parts = [mqa.index_stretch(path, start, stop, with_video, chunk_bytes)
                 for start, stop in zip([None] + starts, stops)]
        joined = mqa.join_stretches(parts, stops)
    except Exception:  # as index_stretches takes it: a start inside a string can make any error
        joined = None
    if set(starts) <= set(one_pass.starts):
        assert joined is not None
    if joined is not None:
        assert index_fields(joined) == index_fields(one_pass)


def test_a_large_qa_json_is_indexed_by_forked_processes_as_by_one(tmp_path, monkeypatch):
    monkeypatch.setattr(mqa, "PARALLEL_SCAN_BYTES", 0)
    path = tmp_path / "qa.json"
    records = [{"qid": f"{prefix}:{n}", "imdb_key": f"tt000000{n % 7}", "question": f"Zoë {n}?",
                "video_clips": [f"tt000000{n % 7}.sf-{n:06d}.ef-{n + 9:06d}.video.mp4"] if n % 3 else []}
               for n in range(600) for prefix in ("train", "val", "test")]
    records[700] = dict(records[3], imdb_key="tt0000009")  # a repeated qid
    with_video = frozenset({"tt0000001", "tt0000002"})
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    one_pass = mqa.QAIndex(path, with_video)
    assert len(mqa.stretch_starts(path, 3)) == 3 and mqa.index_stretches(path, mqa.stretch_starts(path, 3),
                                                                         with_video) is not None
    assert index_fields(mqa.QAIndex(path, with_video, processes=3)) == index_fields(one_pass)
    assert one_pass.same_qids == [[3, 700]] and one_pass.movie_keys[:2] == ["tt0000000", "tt0000001"]
    # a question that looks like the boundary of two records, where the second process would start: it starts
    # inside a string, its stretch does not join, and the file is read in one pass
    records[900] = dict(records[900], question="x" + "}, {" * 20_000)
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    one_pass = mqa.QAIndex(path, with_video)
    starts = mqa.stretch_starts(path, 2)
    assert starts[1] not in one_pass.file.starts and mqa.index_stretches(path, starts, with_video) is None
    assert index_fields(mqa.QAIndex(path, with_video, processes=2)) == index_fields(one_pass)


def test_a_two_process_build_reads_qa_json_in_two_stretches(tmp_path, monkeypatch):
    monkeypatch.setattr(mqa, "PARALLEL_SCAN_BYTES", 0)
    stretched, read_in_stretches = [], mqa.index_stretches  # (a spy: the stretches are read as they would be)
    monkeypatch.setattr(mqa, "index_stretches", lambda path, starts, *rest: stretched.append(len(starts)) or
                        read_in_stretches(path, starts, *rest))
    sample.make(tmp_path / "raw", scale=3)
    one = quiet_build("movieqa", tmp_path / "raw", tmp_path / "one", configs=["qa"])
    monkeypatch.setattr(mqa, "_qa_indexes", {})  # the index this process keeps of the file
    two = quiet_build("movieqa", tmp_path / "raw", tmp_path / "two", configs=["qa"], num_proc=2)
    assert stretched == [2]
    assert {s: v["content_hash"] for s, v in two["configs"]["qa"]["splits"].items()} == \
        {s: v["content_hash"] for s, v in one["configs"]["qa"]["splits"].items()}


def test_a_shard_job_refuses_a_qa_json_changed_after_planning(tmp_path):
    path = tmp_path / "qa.json"
    path.write_bytes(b'[{"a": 1}]')
    records = mqa.QAIndex(path).file
    path.write_bytes(b'[{"a": 12}]')
    with pytest.raises(RawDataError, match="changed after the build was planned"):
        records.records([0])


def test_a_record_error_names_the_line_of_the_record(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    text = (raw / "data" / "qa.json").read_text().replace('"question": "Where does Anna meet Ben?"',
                                                            '"question": 7')
    (raw / "data" / "qa.json").write_text(text)
    line = text[:text.index('"question": 7')].count("\n") + 1
    with pytest.raises(RawDataError) as error:
        quiet_build(DATASET, raw, tmp_path / "out", configs=["qa"])
    assert (error.value.record, error.value.problem) == ("train:0", "question must be a string, got 7")
    assert error.value.line == next(n for n, r in mqa.read_json_list((raw / "data" / "qa.json").read_bytes(), "q")
                                    if r.get("qid") == "train:0") and error.value.line < line


def reference_whole_folders(paths: set[Path], data_dir: Path) -> list[Path]:
    """whole_folders as it was written first, on Paths (the reference for the one on text)."""
    paths = set(paths)
    while True:
        by_folder: dict[Path, set[Path]] = {}
        for path in paths:
            if path.parent != data_dir and data_dir in path.parents:
                by_folder.setdefault(path.parent, set()).add(path)
        complete = {folder: inside for folder, inside in by_folder.items()
                    if inside == {folder / name for name in os.listdir(folder)}}
        if not complete:
            return sorted(paths)
        for folder, inside in complete.items():
            paths = (paths - inside) | {folder}


def test_whole_folders_and_the_raw_index_agree_with_the_reference(built, tmp_path):
    tree, _, _ = built
    raw = Path(shutil.copytree(tree.root, tmp_path / "raw"))
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    for step in (1, 2, 3, 7):
        chosen = set(files[::step]) | {raw / "data" / "qa.json"}
        assert mqa.whole_folders(chosen, raw) == reference_whole_folders(chosen, raw)
    (raw / "spare" / "plot").mkdir(parents=True)  # second copies are listed apart
    shutil.copy(raw / "story" / "plot" / "tt0000001.wiki", raw / "spare" / "plot")
    index = mqa.index_raw_files(raw)
    assert index == reference_index_raw_files(raw) and index[1]["plot"] == [raw / "story" / "plot" / "tt0000001.wiki"]
    assert mqa.index_raw_files(raw)[0] is index[0]  # the same listing: the index made before
    (raw / "story" / "plot" / "tt0000777.wiki").write_text("A new plot.\n")
    assert mqa.index_raw_files(raw)[0]["plot"]["tt0000777"] == raw / "story" / "plot" / "tt0000777.wiki"
    assert mqa.index_raw_files(raw) == reference_index_raw_files(raw)


def reference_index_raw_files(data_dir: Path) -> tuple[dict, dict]:
    """index_raw_files as it was written first, one pattern after the other (the reference for the combined one)."""
    found = {kind: {} for kind in mqa.RAW_FILE_NAMES}
    copies = {kind: [] for kind in mqa.RAW_FILE_NAMES}
    for folder, subfolders, names in os.walk(data_dir):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            for kind, pattern in mqa.RAW_FILE_NAMES.items():
                match = pattern.fullmatch(name)
                if match:
                    if found[kind].setdefault(match.group(1), Path(folder) / name) != Path(folder) / name:
                        copies[kind].append(Path(folder) / name)
                    break
    return found, copies


# ---- publishing ------------------------------------------------------------------------------------------

def test_even_the_questions_alone_are_refused_on_a_public_repository(local_hub, built, tmp_path):
    tree, _, _ = built
    quiet_build(DATASET, tree.root, tmp_path / "qa", configs=["qa"])
    public = run_script("publish.py", tmp_path / "qa", "--repo", "roundtrip/movieqa-questions", "--public",
                        env={"HF_TOKEN": local_hub.token})
    assert public.returncode == 2 and "does not allow public redistribution" in public.stderr
    assert not local_hub.api().repo_exists("roundtrip/movieqa-questions", repo_type="dataset")


# ---- the real release files (MM_REALDATA) -------------------------------------------------------------------

REAL_SUBTITLES = {  # imdb key: (split, encoding, a cue number, its text exactly)
    "tt0082198": ("validation", "utf-8", 1, "Between the time\nwhen the oceans drank Atlantis..."),
    "tt0804522": ("train", "utf-8", 57, "Fatima...you came."),
    "tt0409847": ("train", "cp1252", 12, "Translation by § §  kikka_fata"),
    "tt1182345": ("test", "cp1252", 770, "Bring me back a piña colada. All right, pal?"),
    "tt0381061": ("train", "cp1252", 2, "M doesn’t mind you earning\na little money on the side, Dryden."),
    "tt0493464": ("train", "utf-8-sig", 1, "Happy birthday, dear Janice."),
    "tt0289043": ("test", "utf-8", 193, "We've got Mum's crème de menthe."),
    "tt0898367": ("validation", "utf-8-sig", 0, ""),
}
MOJIBAKE = ("Ã", "â€", "Â", "\ufffd", "\ufeff", "ï»¿")


def test_real_subtitles_decode_without_mojibake_and_cue_counts_reconcile():
    real = realdata_dir("movieqa")
    for key, (_, encoding, number, text) in REAL_SUBTITLES.items():
        data = (real / "story" / "subtt" / f"{key}.srt").read_bytes()
        track = mqa.parse_subtitle_file(data)
        assert track["encoding"] == encoding, key
        assert len(track["cues"]) + len(track["skipped_cues"]) == data.count(b"-->"), key
        assert next(c["text"] for c in track["cues"] if c["index"] == number) == text, key
        assert not any(bad in c["text"] for c in track["cues"] for bad in MOJIBAKE), key
    road = mqa.parse_subtitle_file((real / "story" / "subtt" / "tt0898367.srt").read_bytes())["cues"]
    assert road[0] == {"index": 0, "start": 5.115, "end": 83.456, "text": ""}  # after the BOM; two blank lines follow
    moon = mqa.parse_subtitle_file((real / "story" / "subtt" / "tt1182345.srt").read_bytes())["cues"]
    assert next(c for c in moon if c["index"] == 22)["text"] == "I don't—"
    bond = mqa.parse_subtitle_file((real / "story" / "subtt" / "tt0381061.srt").read_bytes())["cues"]
    assert next(c for c in bond if c["index"] == 94)["text"] == \
        "I thought “M” was randomly assigned.\nI had no idea it stood for –"
    aliens = mqa.parse_subtitle_file((real / "story" / "subtt" / "tt0409847.srt").read_bytes())["cues"]
    assert aliens[0] == {"index": 0, "start": 1.567, "end": 191.38, "text": ""}  # "0 " and trailing spaces


def test_real_subtitles_agree_with_the_srt_library():
    """On the real files (which the library reads strictly) every cue matches its number, times and text."""
    real = realdata_dir("movieqa")
    for key in REAL_SUBTITLES:
        data = (real / "story" / "subtt" / f"{key}.srt").read_bytes()
        ours = mqa.parse_subtitle_file(data)["cues"]
        theirs = list(srt.parse(mqa.decode_text(data)[0]))
        assert [(c["index"], c["start"], c["end"]) for c in ours] == \
            [(s.index, s.start.total_seconds(), s.end.total_seconds()) for s in theirs], key
        assert [c["text"] for c in ours] == \
            ["\n".join(mqa._TAG.sub("", line).rstrip() for line in s.content.split("\n")).strip("\n") for s in theirs]


def test_real_movies_and_splits():
    real = realdata_dir("movieqa")
    movies = mqa.parse_movies((real / "data" / "movies.json").read_bytes(), "movies.json")
    split_of = mqa.parse_splits((real / "data" / "splits.json").read_bytes(), "splits.json", movies)
    assert len(movies) == 408
    assert {s: list(split_of.values()).count(s) for s in SPLITS} == {"train": 269, "validation": 56, "test": 83}
    assert sum(m.declared["script"] is not None for m in movies.values()) == 199
    assert all(m.declared["dvs"] is None for m in movies.values())
    assert not any(m.extra for m in movies.values())  # the documented keys are all there is
    assert movies["tt2614684"].title == "'71" and movies["tt2614684"].genres == ("Action", "Drama", "Thriller")
    assert {key: split_of[key] for key in REAL_SUBTITLES} == {key: v[0] for key, v in REAL_SUBTITLES.items()}


def test_real_index_files_drive_the_build(tmp_path):
    """qa.json is not available: questions in the real record shape about the 8 movies whose subtitles we have."""
    real = realdata_dir("movieqa")
    raw = tmp_path / "raw"
    for folder in ("data", "story/subtt"):  # file by file: the real folders are read-only
        (raw / folder).mkdir(parents=True)
        for file in (real / folder).iterdir():
            shutil.copyfile(file, raw / folder / file.name)
    shutil.copyfile(real / "story" / "MD5SUM", raw / "story" / "MD5SUM")
    prefixes = {"train": "train", "validation": "val", "test": "test"}
    questions = [sample.SampleQA(f"{prefixes[split]}:{100 + n}", key, f"What happens in {key}?",
                                 ("a", "b", "c", "d", "e"), None if split == "test" else n % 5, [n])
                 for n, (key, (split, *_)) in enumerate(REAL_SUBTITLES.items())]
    questions.sort(key=lambda q: SPLITS.index(q.split))
    sample.write_questions(raw, questions)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["qa", "qa_subtitles", "movies"])
    assert {s: v["rows"] for s, v in report["configs"]["movies"]["splits"].items()} == \
        {"train": 269, "validation": 56, "test": 83}
    assert [(u["path"], u["reason"].split(" (")[0]) for u in report["unread"]] == \
        [("story/MD5SUM", "MD5 checksums of the tarballs as downloaded")]  # the release's checksum file
    for split in SPLITS:
        rows = parquet_rows(tmp_path / "out", "qa_subtitles", split)
        assert [r["imdb_key"] for r in rows] == [q.imdb_key for q in questions if q.split == split]
        for row in rows:
            data = (real / "story" / "subtt" / f"{row['imdb_key']}.srt").read_bytes()
            assert row["subtitle_scope"] == "movie" and row["subtitles"] == mqa.parse_subtitle_file(data)["cues"]
    movies = {r["imdb_key"]: r for s in SPLITS for r in parquet_rows(tmp_path / "out", "movies", s)}
    assert {k for k, r in movies.items() if r["subtitles"] is not None} == set(REAL_SUBTITLES)
    assert movies["tt0381061"]["title"] == "Casino Royale" and movies["tt0381061"]["plot"] is None
    assert rows_by_qid(tmp_path / "out", "qa", "test")["test:103"]["correct_index"] == -1
