"""Takedown / exclusion lists: the records they name are left out of every build and counted per reason.

The ids are real ones of each kind: Flickr photo ids of the release, a YouTube id of an InternVid clip
(with the clip's own timestamps and scores), VLDBench article ids and outlet URLs, MovieQA keys."""
from __future__ import annotations

import csv
import io
import json
import shutil

import pyarrow as pa
import pytest

from builders import cards, pipeline
from builders.errors import UsageError
from builders.exclusions import ExcludeBy, Exclusion, drop_excluded, read_list
from builders.samples import make_sample
from conftest import realdata_dir
from helpers import SPLITS, parquet_rows, quiet_build, run_script

KINDS = {"image_id": ExcludeBy("image_id"), "url_prefix": ExcludeBy("url", "source_url", prefix=True)}


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# ---- the list and the filter ------------------------------------------------------------------------------------

def test_a_list_names_kind_value_and_reason(tmp_path):
    listed = write(tmp_path / "takedowns.txt", "# honoured requests\n\nimage_id 36979   # the photographer asked\n"
                                               "url_prefix https://www.nytimes.com/\n")
    assert read_list(listed, KINDS) == [
        Exclusion("image_id", "36979", "the photographer asked", "takedowns.txt:3"),
        Exclusion("url_prefix", "https://www.nytimes.com/", "listed in takedowns.txt", "takedowns.txt:4")]


@pytest.mark.parametrize("line", ["youtube_id qJrOyggIB-w", "image_id", "image_id 1 2"])
def test_a_bad_line_names_the_file_and_line_and_the_kinds(tmp_path, line):
    listed = write(tmp_path / "takedowns.txt", f"image_id 36979\n{line}\n")
    with pytest.raises(UsageError, match=rf"takedowns.txt:2: expected '<kind> <value>  # reason' with kind one of "
                                         rf"image_id, url_prefix .*got '{line}'"):
        read_list(listed, KINDS)


def test_rows_are_dropped_by_exact_id_or_prefix_and_counted_per_first_reason():
    table = pa.table({"image_id": ["36979", "65567", None, "81641"],
                      "url": ["https://a.example/x", "https://b.example/", "https://a.example/y", None]})
    exclusions = (Exclusion("image_id", "81641", "asked", "l:1"), Exclusion("image_id", "36979", "asked", "l:2"),
                  Exclusion("url_prefix", "https://a.example/", "site", "l:3"))
    kept, dropped = drop_excluded(table, KINDS, exclusions)
    assert kept.to_pylist() == [{"image_id": "65567", "url": "https://b.example/"}]
    assert dropped == {"asked": 2, "site": 1}  # 36979 matches both: counted once, for its id
    numbers = pa.table({"image_id": [36979, 7]})  # ids stored as numbers are compared as text
    assert drop_excluded(numbers, KINDS, exclusions)[0].to_pylist() == [{"image_id": 7}]
    assert drop_excluded(table, KINDS, ())[0] is table


# ---- builds -----------------------------------------------------------------------------------------------------

def flickr_real_tree(tmp_path):
    from test_flickr30k_entities import REAL_IDS, real_tree

    return real_tree(tmp_path / "raw"), REAL_IDS


def test_flickr_photos_named_by_a_list_leave_every_config(tmp_path):
    raw, real_ids = flickr_real_tree(tmp_path)
    listed = write(tmp_path / "takedowns.txt", "image_id 36979  # the photographer asked (request 2026-11-02)\n"
                                               "image_id 81641  # the photographer asked (request 2026-11-02)\n")
    report = quiet_build("flickr30k_entities", raw, tmp_path / "out", configs=["entities", "captions"],
                         on_error="skip", exclude=[listed])
    for config in ("entities", "captions"):
        rows = parquet_rows(tmp_path / "out", config, "train")
        assert sorted(r["image_id"] for r in rows) == sorted(set(real_ids) - {"36979", "81641"})
        train = report["configs"][config]["splits"]["train"]
        assert (train["records_read"], train["rows"], train["records_excluded"]) == (29783, 6, 2)
        assert train["records_read"] == train["rows"] + train["records_skipped"] + train["records_excluded"]
    assert report["excluded"] == [
        {"config": c, "split": "train", "reason": "the photographer asked (request 2026-11-02)", "count": 2}
        for c in ("entities", "captions")]
    assert report["exclusion_lists"] == [{"file": "takedowns.txt", "entries": 2}]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "4 records were excluded on request (takedown or exclusion lists: `takedowns.txt`)" in card
    assert "| `entities` | train | the photographer asked (request 2026-11-02) | 2 |" in card
    assert "open a discussion on this repository naming them by `image_id`" in card
    metadata = json.loads((tmp_path / "out" / "croissant.json").read_text())
    assert "4 records were excluded on request (takedown or exclusion lists): the photographer asked (request " \
           "2026-11-02) (4)." in metadata["rai:dataCollectionMissingData"]


def test_the_list_kept_with_the_card_is_applied_by_default(tmp_path, monkeypatch):
    raw, _ = flickr_real_tree(tmp_path)
    shelf = tmp_path / "dataset_cards"
    shutil.copytree(cards.CARDS_DIR, shelf)
    write(shelf / "flickr30k_entities.exclude", "image_id 256063  # honoured once, honoured in every rebuild\n")
    monkeypatch.setattr(cards, "CARDS_DIR", shelf)
    report = quiet_build("flickr30k_entities", raw, tmp_path / "out", configs=["captions"], on_error="skip")
    assert "256063" not in [r["image_id"] for r in parquet_rows(tmp_path / "out", "captions", "train")]
    assert report["exclusion_lists"] == [{"file": "dataset_cards/flickr30k_entities.exclude", "entries": 1}]
    assert report["excluded"][0]["reason"] == "honoured once, honoured in every rebuild"
    from builders.flickr30k_entities import Flickr30kEntities  # download_and_prepare applies it too

    assert [e.value for e in Flickr30kEntities(config_name="captions").exclusions] == ["256063"]


def test_a_changed_list_rebuilds_every_shard_job():
    job = pipeline.ShardJob("flickr30k_entities", "captions", "train", 0, ("a",), "/raw", "raise", "v1")
    listed = pipeline.ShardJob(*[getattr(job, f) for f in ("dataset", "config", "split", "index", "shard",
                                                             "data_dir", "on_error", "code_version")],
                               exclusions=(Exclusion("image_id", "36979", "asked", "l:1"),))
    assert job.fingerprint != listed.fingerprint


REAL_CLIP = {"YoutubeID": "qJrOyggIB-w", "Start_timestamp": "00:07:33.689", "End_timestamp": "00:07:51.085",
             "Caption": "a screen shot of heroes of the storm with people in action",
             "Aesthetic_Score": 4.29296875, "UMT_Score": 0.4501953125}
"""An InternVid-10M-FLT clip as quoted in Data-Juicer's InternVid format converter (its real id and values)."""


def test_every_clip_of_a_youtube_video_named_by_a_list_leaves(tmp_path):
    raw = tmp_path / "raw"
    make_sample("internvid", raw)
    captions = next(raw.rglob("InternVid-10M-flt.jsonl"))
    text = captions.read_bytes()
    captions.write_bytes(text + (b"" if text.endswith(b"\n") else b"\n") + (json.dumps(REAL_CLIP) + "\n").encode())
    kept = quiet_build("internvid", raw, tmp_path / "all", configs=["10m_flt"])
    rows = parquet_rows(tmp_path / "all", "10m_flt", "train")
    real = [r for r in rows if r["youtube_id"] == "qJrOyggIB-w"]
    assert [(r["caption"], r["umt_score"]) for r in real] == [(REAL_CLIP["Caption"], REAL_CLIP["UMT_Score"])]
    listed = write(tmp_path / "takedowns.txt", "youtube_id qJrOyggIB-w  # the creator asked (InternVideo#324)\n")
    result = run_script("build.py", "internvid", "--data-dir", raw, "--output", tmp_path / "out", "--config",
                        "10m_flt", "--exclude", listed)
    assert result.returncode == 0, result.stderr
    assert "1 records excluded on request (counted per reason in build_report.json)" in result.stdout
    left = parquet_rows(tmp_path / "out", "10m_flt", "train")
    assert left == [r for r in rows if r["youtube_id"] != "qJrOyggIB-w"]
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["excluded"] == [{"config": "10m_flt", "split": "train", "count": 1,
                                   "reason": "the creator asked (InternVideo#324)"}]
    assert report["configs"]["10m_flt"]["splits"]["train"]["records_read"] == \
        kept["configs"]["10m_flt"]["splits"]["train"]["records_read"]


def test_articles_by_id_and_an_outlet_by_url_prefix(tmp_path):
    real = realdata_dir("newsmediabias_plus")
    raw = tmp_path / "raw"
    shutil.copytree(real / "VLDBench", raw / "VLDBench")
    articles = list(csv.DictReader(io.StringIO((real / "VLDBench" / "data" / "metadata.csv").read_text())))
    outlet = "https://www.theguardian.com"  # VLDBench's source_url is the outlet's site
    expected = [a["unique_id"] for a in articles
                if a["unique_id"] != "3a6e10c6e5" and not a["source_url"].startswith(outlet)]
    assert 0 < len(expected) < len(articles) - 1  # the prefix takes out some articles, not all
    listed = write(tmp_path / "takedowns.txt", "article_id 3a6e10c6e5  # the publisher asked\n"
                                               f"url_prefix {outlet}  # the outlet asked\n")
    report = quiet_build("nmb_plus", raw, tmp_path / "out", configs=["vldbench"], exclude=[listed])
    assert [r["unique_id"] for r in parquet_rows(tmp_path / "out", "vldbench", "train")] == expected
    by_reason = {e["reason"]: e["count"] for e in report["excluded"]}
    assert by_reason == {"the publisher asked": 1,
                         "the outlet asked": sum(a["source_url"].startswith(outlet) and a["unique_id"] != "3a6e10c6e5"
                                                 for a in articles)}


def test_a_movie_and_a_question_by_their_keys(tmp_path):
    from test_movieqa import REAL_SUBTITLES

    from builders.samples import movieqa as sample

    real = realdata_dir("movieqa")
    raw = tmp_path / "raw"
    shutil.copytree(real / "data", raw / "data")
    prefixes = {"train": "train", "validation": "val", "test": "test"}
    questions = [sample.SampleQA(f"{prefixes[split]}:{n}", key, f"What happens in {key}?", ("a", "b", "c", "d", "e"),
                                 None if split == "test" else n % 5, [])
                 for n, (key, (split, *_)) in enumerate(REAL_SUBTITLES.items())]
    questions.sort(key=lambda q: SPLITS.index(q.split))
    sample.write_questions(raw, questions)
    other = next(q for q in questions if q.imdb_key != "tt0082198")
    listed = write(tmp_path / "takedowns.txt", f"imdb_key tt0082198  # rights holder\nquestion_id {other.qid}\n")
    report = quiet_build("movieqa", raw, tmp_path / "out", configs=["qa", "movies"], exclude=[listed])
    assert [r["imdb_key"] for s in ("train", "validation", "test") for r in parquet_rows(tmp_path / "out", "movies", s)
            if r["imdb_key"] == "tt0082198"] == []
    assert sum(report["configs"]["movies"]["splits"][s]["rows"] for s in ("train", "validation", "test")) == 407
    left = [r["qid"] for s in SPLITS for r in parquet_rows(tmp_path / "out", "qa", s)]
    assert left == [q.qid for q in questions if q.imdb_key != "tt0082198" and q.qid != other.qid]
    assert {(e["config"], e["reason"]) for e in report["excluded"]} == {
        ("movies", "rights holder"), ("qa", "rights holder"), ("qa", "listed in takedowns.txt")}


def test_a_list_of_another_kind_is_refused_before_anything_is_built(tmp_path):
    raw = tmp_path / "raw"
    make_sample("flickr30k_entities", raw)
    listed = write(tmp_path / "takedowns.txt", "youtube_id qJrOyggIB-w\n")
    result = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "out",
                        "--exclude", listed)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "takedowns.txt:1: expected '<kind> <value>  # reason' with kind one of image_id" in result.stderr
    assert not (tmp_path / "out").exists()


def test_every_card_declares_the_kinds_its_builder_matches():
    from builders import builder_class, dataset_names

    for name in dataset_names():
        assert sorted(cards.load_card_metadata(name)["excludable"]) == sorted(builder_class(name).EXCLUDABLE), name
