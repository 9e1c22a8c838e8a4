"""MuSe-CaR: the builder against the sample generator's packages, the real MuSe 2020 topic package and bad
inputs (what every builder must do, the Hub round trip among it, is in test_contract.py)."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile
from hypothesis import given, settings, strategies as st

from builders import musecar
from builders.errors import RawDataError, RecordLog
from builders import coverage
from builders.pipeline import make_builder
from builders.samples import musecar as sample
from conftest import realdata_dir
from helpers import SPLITS, folder_features, parquet_rows, quiet_build, refused_build, run_script

DATASET = "musecar"  # what all builders must do: test_contract.py
SEGMENT_CONFIGS = ("wilder", "trust", "topic", "sent")
ALL_CONFIGS = (*SEGMENT_CONFIGS, "features", "videos")


@pytest.fixture(scope="module")
def built(samples):
    """The sample at scale 1: its generated video 1000 is a second train video with every kind of file."""
    return samples.build(DATASET, scale=1)


def check_audio(stored: dict | None, expected: dict | None) -> None:
    """Shipped segments are the release's bytes; cut segments are WAV holding exactly the cut samples."""
    if expected is None:
        assert stored is None
        return
    assert stored["path"] == expected["path"]
    samples, rate = soundfile.read(io.BytesIO(stored["bytes"]), dtype="int16")
    assert rate == sample.RATE
    if "wav" in expected:
        assert stored["bytes"] == expected["wav"]
        assert soundfile.info(io.BytesIO(stored["bytes"])).format == "WAV"
    else:
        info = soundfile.info(io.BytesIO(stored["bytes"]))
        assert (info.format, info.subtype) == ("WAV", "PCM_16")  # audio_norm's own format, not re-encoded
        assert samples.shape == expected["cut"].shape and np.array_equal(samples, expected["cut"])


def assert_segment_rows(out: Path, config: str, expected: dict[str, list[dict]]) -> None:
    assert sorted(p.name.split("-")[0] for p in (out / config).glob("*.parquet")) == sorted(expected)
    for split, rows in expected.items():
        got = parquet_rows(out, config, split)
        assert [{k: v for k, v in r.items() if k != "audio"} for r in got] == \
               [{k: v for k, v in r.items() if k != "audio"} for r in rows], (config, split)
        for stored, want in zip(got, rows):
            check_audio(stored["audio"], want["audio"])


def row_of(out: Path, config: str, split: str, video_id: int, segment_id) -> dict:
    return next(r for r in parquet_rows(out, config, split)
                if r["video_id"] == video_id and r.get("segment_id") == segment_id)


# ---- every config on the sample tree, value by value ---------------------------------------------------------

@pytest.mark.parametrize("config", SEGMENT_CONFIGS)
def test_segment_configs_equal_what_the_generator_wrote(built, config):
    tree, out, _ = built
    assert_segment_rows(out, config, tree.expected[config])


def test_features_config_equals_what_the_generator_wrote(built):
    tree, out, _ = built
    for split, rows in tree.expected["features"].items():
        assert parquet_rows(out, "features", split) == rows, split


def test_videos_config_keeps_metadata_and_media_bytes(built):
    tree, out, _ = built
    for split, rows in tree.expected["videos"].items():
        assert parquet_rows(out, "videos", split) == rows, split
    listed_only = row_of(out, "videos", "train", 260, None)   # in partition.csv, no file anywhere
    assert (listed_only["youtube_id"], listed_only["speaker_id"], listed_only["video"], listed_only["audio"]) == \
        ("HSvgYBDQ6gQ", 65, None, None)
    assert row_of(out, "videos", "test", 121, None)["gender"] is None  # empty Gender cell
    assert row_of(out, "videos", "validation", 17, None)["audio"] is None  # a video but no audio_norm
    assert sample.METADATA_ONLY[0] not in {r["video_id"] for split in SPLITS
                                            for r in parquet_rows(out, "videos", split)}   # no split: reported


def test_metadata_of_unlisted_videos_and_deduplicated_rows_are_notices(built):
    _, out, report = built
    notices = report["notices"]
    assert "videos: video_metadata.csv describes 1 videos that MuSe2020/data/processed_tasks/metadata/partition.csv " \
           "does not list (299); without a split they are not in the videos config" in notices
    assert "topic: metadata/partition.csv: video 3 is listed twice (lines 2 and 3) with folds 2 and 5 " \
           "(fold set to null); kept once" in notices
    assert any(n.startswith("topic: MuSe2020/data/processed_tasks/c2_muse_topic/label_segments/aggregated/train.csv: ")
               and n.endswith("rows repeat earlier rows of videos 3; kept once") for n in notices)
    readme = (out / "README.md").read_text()
    assert "Notices from the build:" in readme and "describes 1 videos that" in readme


def test_segment_3_of_a_generated_video_carries_the_arousal_series_written(built):
    tree, out, _ = built
    label_file = tree.root / "MuSe2021/c1_muse_wilder/label_segments/arousal/1000.csv"
    written = [(int(r["timestamp"]), float(r["value"])) for r in csv.DictReader(label_file.open())
               if r["segment_id"] == "3"]
    row = row_of(out, "wilder", "train", 1000, 3)
    assert row["timestamps_ms"] == [t for t, _ in written] == list(range(41500, 61251, 250))
    assert row["arousal"] == [float(np.float32(v)) for _, v in written]
    assert (row["start_ms"], row["end_ms"]) == (41500, 61250)
    audio, rate = soundfile.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
    assert rate == 16000 and len(audio) == (61500 - 41500) * 16  # cut up to one label step after the last label
    assert row["audio"]["path"] == "1000_3_41500-61500ms.wav"


# ---- awkward cases -------------------------------------------------------------------------------------------

def test_partition_duplicates_folds_and_splits(built):
    _, out, _ = built
    topic = {(r["video_id"], r["segment_id"]): r for r in parquet_rows(out, "topic", "train")}
    assert topic[(3, 1)]["fold"] is None            # listed twice, folds 2 and 5
    assert row_of(out, "topic", "validation", 17, 1)["fold"] == 3   # listed twice identically
    assert row_of(out, "topic", "test", 121, 1)["fold"] == 1
    assert row_of(out, "wilder", "train", 3, 1)["fold"] is None     # MuSe 2021 has no fold column
    assert {r["video_id"] for r in parquet_rows(out, "topic", "train")} == {3, 40, 1000}   # 260: no files


def test_topic_labels_class_names_means_and_aggregated_only_video(built):
    _, out, _ = built
    first = row_of(out, "topic", "train", 3, 1)
    names = musecar.TOPIC_CLASSES
    assert (names[first["topic"]], first["arousal"], first["valence"]) == ("general-information", 2, 1)
    assert first["arousal_mean"] == pytest.approx(0.119) and first["valence_mean"] is None
    assert names[row_of(out, "topic", "train", 3, 10)["topic"]] == "quality-aeshetic"
    only_aggregated = row_of(out, "topic", "train", 40, 2)
    assert (only_aggregated["topic"], only_aggregated["arousal"], only_aggregated["valence"]) == (8, 1, 1)
    assert (only_aggregated["start_ms"], only_aggregated["end_ms"], only_aggregated["transcript"],
            only_aggregated["audio"]) == (None, None, None, None)


def test_masked_and_absent_test_labels_are_null(built):
    _, out, _ = built
    topic = row_of(out, "topic", "test", 121, 1)
    assert (topic["topic"], topic["arousal"], topic["valence"]) == (None, None, None)
    assert (topic["start_ms"], topic["end_ms"]) == (1000, 2500)      # the masked file still gives the bounds
    wilder = row_of(out, "wilder", "test", 121, 1)
    assert wilder["arousal"] is None                                 # arousal/121.csv absent
    assert wilder["valence"] == [None] * 7 and wilder["timestamps_ms"] == list(range(1000, 2501, 250))
    sent = parquet_rows(out, "sent", "test")
    assert [(r["video_id"], r["segment_id"], r["arousal"], r["start_ms"], r["audio"]) for r in sent] == \
        [(121, 1, None, None, None)]                                 # known from its transcript only
    assert sent[0]["transcript"][1] == {"word": "economy", "start_ms": 1300, "end_ms": 1900}
    assert [(r["video_id"], r["segment_id"], r["arousal"]) for r in parquet_rows(out, "sent", "validation")] == \
        [(17, 1, 2), (17, 2, 1)]


def test_sent_na_class_and_cluster_names(built):
    _, out, _ = built
    unusable = row_of(out, "sent", "train", 3, 2)
    assert (unusable["arousal"], unusable["valence"]) == (None, 3)
    assert row_of(out, "sent", "train", 3, 1)["arousal"] == 4
    ds = datasets.load_dataset(str(out), "sent", split="train")
    assert ds.features["arousal"].names == ["0", "1", "2", "3", "4"]


def test_transcripts_punctuation_quotes_and_missing_files(built):
    _, out, _ = built
    words = row_of(out, "topic", "train", 3, 1)["transcript"]
    assert [w["word"] for w in words] == ["the", "BMW", "M3", ",", "$52,000", "."]
    comma = words[3]
    assert comma["end_ms"] - comma["start_ms"] == 1                 # punctuation lasts 1 ms
    assert row_of(out, "topic", "train", 3, 2)["transcript"] is None          # 3_2.csv missing
    assert row_of(out, "topic", "validation", 17, 2)["transcript"] == []      # header-only file
    assert row_of(out, "sent", "validation", 17, 1)["transcript"] is None     # empty transcription folder
    assert [r["segment_id"] for r in parquet_rows(out, "topic", "train") if r["video_id"] == 3] == [1, 2, 10]


def test_feature_rows_without_segment_nan_rows_zero_faces_and_word_alignment(built):
    _, out, _ = built
    outside = row_of(out, "features", "train", 3, None)
    assert outside["package"] == "MuSe2021/c2_muse_sent"
    assert outside["feature_sets"][0]["timestamps_ms"] == [0, 250] and outside["feature_sets"][0]["name"] == "au"
    wilder = next(r for r in parquet_rows(out, "features", "train")
                  if (r["package"], r["video_id"], r["segment_id"]) == ("MuSe2021/c1_muse_wilder", 3, 1))
    egemaps, vggish = wilder["feature_sets"]
    assert (egemaps["name"], egemaps["alignment"], egemaps["dim"], vggish["dim"]) == ("egemaps", None, 3, 2)
    assert egemaps["values"][1] == [None, None, None]                # the NaN row: empty cells
    wild = next(r for r in parquet_rows(out, "features", "train")
                if (r["package"], r["video_id"], r["segment_id"]) == ("MuSe2020/c1_muse_wild", 3, 1))
    by_name = {f["name"]: f for f in wild["feature_sets"]}
    assert [f["name"] for f in wild["feature_sets"]] == ["egemaps", "vggface", "lld"]   # label_aligned < unaligned
    assert by_name["vggface"]["values"][0] == [0.0, 0.0, 0.0]       # no face in that frame
    assert by_name["lld"]["timestamps_ms"] == list(range(1000, 1100, 10))
    fasttext = next(r for r in parquet_rows(out, "features", "train")
                    if (r["package"], r["video_id"], r["segment_id"]) == ("MuSe2020/c2_muse_topic", 3, 1))
    words = fasttext["feature_sets"][0]
    assert words["timestamps_ms"][:2] == [1010, 1200] and words["end_timestamps_ms"][:2] == [1200, 1650]


def test_shipped_and_cut_audio_decode_to_the_right_length_and_rate(built):
    tree, out, _ = built
    cut = row_of(out, "topic", "train", 3, 10)["audio"]        # no audio_segments in c2: cut from audio_norm
    samples, rate = soundfile.read(io.BytesIO(cut["bytes"]), dtype="int16")
    assert (rate, len(samples), cut["path"]) == (16000, (7000 - 5250) * 16, "3_10_5250-7000ms.wav")
    assert np.array_equal(samples, sample.signal(3, 8000)[5250 * 16:7000 * 16])
    assert row_of(out, "topic", "validation", 17, 1)["audio"] is None   # no audio anywhere for video 17
    first = parquet_rows(out, "topic", "train")[0]
    samples, rate = soundfile.read(io.BytesIO(first["audio"]["bytes"]), dtype="int16")
    assert rate == 16000 and len(samples) == (3000 - 1000) * 16
    assert folder_features(out, "topic")["topic"].names[first["topic"]] == "general-information"


def test_the_2020_package_alone_builds_wild_from_c1_with_shipped_wavs(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    tree = sample.make(raw, packages=("MuSe2020",))
    report = quiet_build(DATASET, raw, out)
    assert set(report["configs"]) == {"wilder", "trust", "topic", "features", "videos"}   # no sent without 2021
    tasks = "MuSe2020/data/processed_tasks/"
    assert [u["path"] for u in report["unread"]] == [        # what the package has beside the gold standards
        tasks + "c1_muse_wild/annotator_id_mapping.json", tasks + "c1_muse_wild/label_segments/aggregated/",
        tasks + "c1_muse_wild/label_segments/raw_annotations/", tasks + "c3_muse_trust/label_segments/aggregated/"]
    assert report["unread"][2]["reason"] == "MuSe 2020 per-annotator ratings before fusion: this build carries the " \
                                            "fused gold standards only"
    for config in ("wilder", "trust", "topic"):
        assert_segment_rows(out, config, tree.expected[config])
    for split, rows in tree.expected["features"].items():
        assert parquet_rows(out, "features", split) == rows
    gap = row_of(out, "wilder", "train", 3, 10)                       # arousal/3.csv lacks 6000 ms
    assert gap["package"] == "MuSe2020/c1_muse_wild"
    at = gap["timestamps_ms"].index(6000)
    assert gap["arousal"][at] is None and gap["valence"][at] is not None
    audio = gap["audio"]
    assert audio["path"] == "3_10.wav"
    assert audio["bytes"] == (raw / "MuSe2020/data/processed_tasks/c1_muse_wild/audio_segments/3/3_10.wav").read_bytes()
    assert row_of(out, "trust", "validation", 17, 1)["trustworthiness"][0] == \
        pytest.approx(sample.label_value("MuSe2020", "trustworthiness", 17, 500))    # a CRLF label file


def test_the_2021_package_alone(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    tree = sample.make(raw, packages=("MuSe2021",))      # with the Ulm-TSST packages beside it, as the organisers'
    report = quiet_build(DATASET, raw, out)
    assert set(report["configs"]) == {"wilder", "sent", "features", "videos"}
    for config in ("wilder", "sent"):
        assert_segment_rows(out, config, tree.expected[config])
    for config in ("features", "videos"):
        for split, rows in tree.expected[config].items():
            assert parquet_rows(out, config, split) == rows, (config, split)
    assert ulm_tsst_entries(report) == ULM_TSST_UNREAD and len(report["unread"]) == 3   # all else is read


# ---- MuSe 2021 with the Ulm-TSST packages beside it -----------------------------------------------------------

ULM_TSST = "MuSe2021/c3_muse_stress", "MuSe2021/c4_muse_physio", "MuSe2021/raw-data-ulm-tsst"
ULM_TSST_UNREAD = {
    "MuSe2021/c3_muse_stress/": (19, "Ulm-TSST (MuSe 2021 MuSe-Stress package): another dataset, not MuSe-CaR; its "
                                    "partition.csv uses ids of its own"),
    "MuSe2021/c4_muse_physio/": (25, "Ulm-TSST (MuSe 2021 MuSe-Physio package): another dataset, not MuSe-CaR; its "
                                    "partition.csv uses ids of its own"),
    "MuSe2021/raw-data-ulm-tsst/": (6, "Ulm-TSST raw data (MuSe 2021): another dataset, not MuSe-CaR"),
}


def ulm_tsst_entries(report) -> dict:
    return {u["path"]: (u["files"], u["reason"]) for u in report["unread"] if "tsst" in u["reason"].lower()}


def test_videos_splits_and_ids_come_from_musecar_partitions_only(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    tree = sample.make(raw, packages=("MuSe2021",))
    stress = musecar.read_partition(raw / "MuSe2021/c3_muse_stress/metadata/partition.csv", RecordLog())
    assert stress[3] == ("test", None) and 64 in stress                  # the Ulm-TSST partition disagrees
    quiet_build(DATASET, raw, out, configs=["videos"])
    splits = {r["video_id"]: split for split in SPLITS for r in parquet_rows(out, "videos", split)}
    assert splits == {3: "train", 17: "validation", 121: "test"}         # c1_muse_wilder/metadata/partition.csv
    assert splits == {v.video_id: v.hf_split for v in tree.videos.values() if v.in_2021 and "c1_muse_wilder" in v.tasks}


@pytest.fixture(scope="module")
def tree_2021(tmp_path_factory):
    return sample.make(tmp_path_factory.mktemp("raw2021"), packages=("MuSe2021",))


@pytest.mark.parametrize("packages,config", [("both", config) for config in ALL_CONFIGS] +
                         [("2021", config) for config in ("wilder", "sent", "features", "videos")])
def test_nothing_of_ulm_tsst_is_an_input_or_read(built, tree_2021, packages, config):
    tree = built[0] if packages == "both" else tree_2021
    builder = make_builder("musecar", config, tree.root)
    paths = builder.input_files() + builder.read_paths()
    others = [tree.root / folder for folder in ULM_TSST]
    assert paths and tuple(tree.ulm_tsst) == tuple(others)
    assert [p for p in paths for other in others if p == other or other in p.parents or p in other.parents] == []


def test_every_raw_path_is_read_or_named_with_its_reason(built):
    tree, _, report = built
    wild = "MuSe2020/data/processed_tasks/c1_muse_wild/"
    unread = {u["path"]: u["reason"] for u in report["unread"]}
    assert ulm_tsst_entries(report) == ULM_TSST_UNREAD
    for path, (files, _) in ULM_TSST_UNREAD.items():
        assert files == sum(1 for p in (tree.root / path).rglob("*") if p.is_file())
    assert {path: reason for path, reason in unread.items() if path not in ULM_TSST_UNREAD} == {
        wild + "annotator_id_mapping.json": "annotator ids of the MuSe 2020 raw annotations, which this build does not "
                                            "read",
        wild + "label_segments/": musecar.MUSE_WILD_2020_LABELS,       # the wilder config reads MuSe-Wilder 2021
        wild + "transcription_segments/": musecar.MUSE_WILD_2020,
        wild + "audio_segments/": musecar.MUSE_WILD_2020,
        "MuSe2020/data/processed_tasks/c3_muse_trust/label_segments/aggregated/":
            "the per-video label files of a split in one table (id, timestamp, label_*): the per-video files are read "
            "instead (the two are not compared)"}
    readme = (built[1] / "README.md").read_text()
    assert "MuSe2021/c3_muse_stress/" in readme and "Ulm-TSST (MuSe 2021 MuSe-Stress package)" in readme


def reference_compact(paths: set[Path], root: Path) -> list[Path]:
    """musecar._compact as it was first written (every parent of every path, each checked against root's
    parents): the reference for the linear one."""
    covered = set(paths)
    folders = {parent for path in paths for parent in path.parents if root in parent.parents}
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        entries = list(folder.iterdir())
        if entries and all(entry in covered for entry in entries):
            covered.add(folder)
    return sorted(p for p in covered if p.parent not in covered)


def test_compact_equals_the_reference_on_the_sample_tree(built):
    root = built.tree.root
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for config in ALL_CONFIGS:
        read = {p for p in make_builder(DATASET, config, root).read_paths() for p in ([p] if p.is_file() else
                                                                                      p.rglob("*")) if p.is_file()}
        assert musecar._compact(read, root) == reference_compact(read, root)
    for step in (1, 2, 3, 7):
        chosen = set(files[::step]) | {Path("/etc/hostname"), root.parent / "elsewhere.csv"}
        assert musecar._compact(chosen, root) == reference_compact(chosen, root)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(st.sets(st.lists(st.sampled_from("abc"), min_size=1, max_size=4).map("/".join), min_size=1, max_size=25),
       st.data())
def test_compact_equals_the_reference_on_generated_trees(names, data):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "raw"
        files = []
        for name in sorted(names):
            path = root / (name + ".f")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            files.append(path)
        chosen = set(data.draw(st.lists(st.sampled_from(files), unique=True)))
        if data.draw(st.booleans()):
            chosen.add(root.parent / "outside.f")
        assert musecar._compact(chosen, root) == reference_compact(chosen, root)


def test_stray_files_inside_the_folders_read_are_listed(tmp_path):
    """Only release names are read (<vid>.csv, <vid>/<vid>_<seg>.csv): anything else in those folders is reported."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    sample.make(raw, packages=("MuSe2021",), ulm_tsst=False)
    wilder = raw / "MuSe2021/c1_muse_wilder"
    write(wilder / "label_segments/arousal/notes.txt", "arousal re-fused in May")
    write(wilder / "transcription_segments/3/3_1 (copy).csv", "word,start,end\n")
    (wilder / "transcription_segments/3/old").mkdir()
    write(wilder / "transcription_segments/3/old/3_1.csv", "word,start,end\n")
    report = quiet_build(DATASET, raw, out)
    assert [(u["path"], u["reason"]) for u in report["unread"]] == [
        ("MuSe2021/c1_muse_wilder/label_segments/arousal/notes.txt", coverage.UNRECOGNISED),
        ("MuSe2021/c1_muse_wilder/transcription_segments/3/3_1 (copy).csv", coverage.UNRECOGNISED),
        ("MuSe2021/c1_muse_wilder/transcription_segments/3/old/", coverage.UNRECOGNISED)]


def test_a_second_partition_outside_the_packages_is_not_read(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    sample.make(raw, packages=("MuSe2021",), ulm_tsst=False)
    (raw / "notes/metadata").mkdir(parents=True)
    write(raw / "notes/metadata/partition.csv", "Id,Proposal\n3,test\n64,train\n")
    report = quiet_build(DATASET, raw, out, configs=["videos", "wilder"])
    splits = {r["video_id"]: split for split in SPLITS for r in parquet_rows(out, "videos", split)}
    assert splits == {3: "train", 17: "validation", 121: "test"}
    assert "videos: notes/metadata/partition.csv is not part of a MuSe-CaR package (not next to a MuSe 2020 task " \
           "folder or its raw archive, nor inside a MuSe 2021 task folder): not read, splits come from the MuSe-CaR " \
           "packages only" in report["notices"]
    assert [(u["path"], u["reason"]) for u in report["unread"] if not u["reason"].startswith("read by config")] == \
        [("notes/", coverage.UNRECOGNISED)]


def test_task_folders_extracted_into_a_folder_of_their_own_name(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    tree = sample.make(raw, packages=("MuSe2021",), ulm_tsst=False)
    for name in ("c1_muse_wilder", "c2_muse_sent"):         # as participants' c4_muse_physio/c4_muse_physio/
        (raw / "MuSe2021" / name).rename(raw / "MuSe2021" / "tmp")
        (raw / "MuSe2021" / name).mkdir()
        (raw / "MuSe2021" / "tmp").rename(raw / "MuSe2021" / name / name)
    report = quiet_build(DATASET, raw, out)
    for config in ("wilder", "sent"):
        assert_segment_rows(out, config, tree.expected[config])
    for split, rows in tree.expected["features"].items():
        assert parquet_rows(out, "features", split) == rows, split
    assert report["unread"] == []


def test_the_2020_metadata_in_the_raw_archive(tmp_path):
    """data/raw/metadata/ instead of data/processed_tasks/metadata/, a place the organisers' 2020 code also reads."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    tree = sample.make(raw, packages=("MuSe2020",))
    (raw / "MuSe2020/data/processed_tasks/metadata").rename(raw / "MuSe2020/data/raw/metadata")
    quiet_build(DATASET, raw, out, configs=["topic", "videos"])
    assert_segment_rows(out, "topic", tree.expected["topic"])
    for split, rows in tree.expected["videos"].items():
        assert parquet_rows(out, "videos", split) == rows, split


# ---- columns no field maps are kept ----------------------------------------------------------------------------

def add_column(path: Path, name: str, cells) -> None:
    """Append a column to a release CSV, `cells(row index)` giving each row's value."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + f",{name}"] + [f"{line},{cells(i)}" for i, line in enumerate(lines[1:])])
                    + "\n")


@pytest.fixture(scope="module")
def extra_columns(tmp_path_factory):
    raw, out = tmp_path_factory.mktemp("extra"), tmp_path_factory.mktemp("extra_out")
    sample.make(raw, ulm_tsst=False)
    wilder, topic = raw / "MuSe2021/c1_muse_wilder", raw / "MuSe2020/data/processed_tasks/c2_muse_topic"
    add_column(wilder / "label_segments/arousal/3.csv", "Raters", lambda i: f"r{i}")
    add_column(wilder / "transcription_segments/3/3_1.csv", "confidence", lambda i: f"0.{i}")
    partition = wilder / "metadata/partition.csv"
    assert partition.read_text() == "Id,Proposal\n3,train\n17,devel\n121,test\n"
    partition.write_text("Id,Speaker,Proposal\n3,s7,train\n17,s8,devel\n121,,test\n")
    add_column(topic / "label_segments/aggregated/train.csv", "annotator", lambda i: f"a{i}")
    add_column(topic.parent / "metadata/partition.csv", "Note", lambda i: f"n{i}")       # 3 is on rows 0 and 1
    add_column(topic.parent / "metadata/video_metadata.csv", "Views", lambda i: f"{i}000")
    add_column(raw / "MuSe2021/c2_muse_sent/label_segments/arousal/3.csv", "mean", lambda i: f"0.{i}5")
    return raw, out, quiet_build(DATASET, raw, out)


def test_unmapped_columns_are_kept_in_other_columns(extra_columns):
    raw, out, _ = extra_columns
    row = row_of(out, "wilder", "train", 3, 1)
    assert row["other_columns"] == [
        {"file": "label_segments/arousal/3.csv", "column": "Raters", "values": [f"r{i}" for i in range(9)]},
        {"file": "transcription_segments/3/3_1.csv", "column": "confidence", "values": [f"0.{i}" for i in range(6)]},
        {"file": "metadata/partition.csv", "column": "Speaker", "values": ["s7"]}]
    later = row_of(out, "wilder", "train", 3, 2)["other_columns"]      # its label rows come after segment 1's
    assert later[0]["values"] == [f"r{i}" for i in range(9, 9 + len(later[0]["values"]))]
    assert row_of(out, "wilder", "test", 121, 1)["other_columns"] == [
        {"file": "metadata/partition.csv", "column": "Speaker", "values": [""]}]
    features = next(r for r in parquet_rows(out, "features", "validation")
                    if (r["package"], r["video_id"], r["segment_id"]) == ("MuSe2021/c1_muse_wilder", 17, 1))
    assert features["other_columns"] == [{"file": "metadata/partition.csv", "column": "Speaker", "values": ["s8"]}]
    topic = row_of(out, "topic", "train", 3, 10)
    assert topic["other_columns"] == [
        {"file": "label_segments/aggregated/train.csv", "column": "annotator", "values": ["a2"]},
        {"file": "metadata/partition.csv", "column": "Note", "values": ["n0"]}]
    assert row_of(out, "trust", "validation", 17, 1)["other_columns"] == [
        {"file": "metadata/partition.csv", "column": "Note", "values": ["n2"]}]
    assert row_of(out, "videos", "train", 3, None)["other_metadata"] == [
        {"name": "Views", "value": "0000"}, {"name": "partition.csv:Note", "value": "n0"}]
    sent = row_of(out, "sent", "train", 3, 2)        # `mean` is a MuSe-Topic field, not a MuSe-Sent one
    assert sent["other_columns"] == [{"file": "label_segments/arousal/3.csv", "column": "mean", "values": ["0.15"]}]
    assert row_of(out, "topic", "train", 3, 1)["arousal_mean"] == pytest.approx(0.119)
    assert row_of(out, "topic", "train", 3, 1)["other_columns"][0] == \
        {"file": "label_segments/aggregated/train.csv", "column": "annotator", "values": ["a0"]}


def test_unmapped_columns_are_build_notices_and_counts(extra_columns):
    raw, out, report = extra_columns
    notices = report["notices"]
    for notice in ("wilder: MuSe2021/c1_muse_wilder/label_segments/arousal: column 'Raters' not mapped to a field; "
                   "kept in other_columns",
                   "wilder: MuSe2021/c1_muse_wilder/transcription_segments: column 'confidence' not mapped to a field; "
                   "kept in other_columns",
                   "wilder: MuSe2021/c1_muse_wilder/metadata/partition.csv: column 'Speaker' not mapped to a field; "
                   "kept in other_columns",
                   "features: MuSe2021/c1_muse_wilder/metadata/partition.csv: column 'Speaker' not mapped to a field; "
                   "kept in other_columns",
                   "topic: MuSe2020/data/processed_tasks/c2_muse_topic/label_segments/aggregated/train.csv: column "
                   "'annotator' not mapped to a field; kept in other_columns",
                   "sent: MuSe2021/c2_muse_sent/label_segments/arousal: column 'mean' not mapped to a field; kept in "
                   "other_columns",
                   "videos: MuSe2020/data/processed_tasks/metadata/partition.csv: column 'Note' not mapped to a field; "
                   "kept in other_metadata",
                   "videos: video_metadata.csv: column 'Views' not mapped to a field; kept in other_metadata"):
        assert notice in notices
    counts = report["configs"]["wilder"]["splits"]["train"]["counts"]
    assert counts == {"MuSe2021/c1_muse_wilder/label_segments/arousal files with columns not mapped to a field "
                      "(kept in other_columns)": 1,
                      "MuSe2021/c1_muse_wilder/transcription_segments files with columns not mapped to a field "
                      "(kept in other_columns)": 1}
    assert "column 'Raters' not mapped to a field" in (out / "README.md").read_text()


def test_card_and_report_values(built):
    tree, out, report = built
    readme = (out / "README.md").read_text()
    assert "license: other" in readme and "license_name: muse-car-eula" in readme
    assert "> **Not for public redistribution.**" in readme and "Redistribution policy of this build: **private**" in readme
    wilder = tree.expected["wilder"]
    assert "| `topic` (default) |" in readme
    assert f"| `wilder` | {len(wilder['train'])} | {len(wilder['validation'])} | {len(wilder['test'])} |" in readme
    assert "| `feature_sets[].values` | list<list<float32>> |" in readme
    assert "| `topic` | class_label (performance, interior-features, quality-aeshetic," in readme
    assert "stappen2021multimodal" in readme
    assert sorted(report["configs"]) == sorted(ALL_CONFIGS)
    inputs = {i["path"] for i in report["inputs"]}
    assert {"MuSe2020/data/processed_tasks/metadata/partition.csv", "MuSe2021/c1_muse_wilder/",
            "MuSe2020/data/raw/audio_norm/", "MuSe2021/c2_muse_sent/videos/"} <= inputs


# ---- pure parsers ----------------------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def test_partition_columns_by_name_in_either_year(tmp_path):
    log = RecordLog("raise")
    assert musecar.read_partition(write(tmp_path / "a.csv", "Id,Partition,Proposal\n5,2,train\n1,1,test\n"), log) == \
        {1: ("test", 1), 5: ("train", 2)}
    assert musecar.read_partition(write(tmp_path / "b.csv", "Proposal,Id\r\ndevel,7\r\n"), log) == {7: ("validation", None)}
    assert musecar.read_partition(write(tmp_path / "c.csv", "id,partition\n11,train\n"), log) == {11: ("train", None)}
    with pytest.raises(RawDataError, match="no split column"):
        musecar.read_partition(write(tmp_path / "d.csv", "Id,Fold\n1,2\n"), log)


def test_partition_columns_by_position_when_the_names_do_not_tell(tmp_path):
    """The 2021 MuSe-CaR partition header is unverified: the organisers' parser reads row[0] and row[-1]."""
    log = RecordLog("raise")
    path = write(tmp_path / "a.csv", "Video,Speaker,Set\n3,s1,train\n17,s2,devel\n")
    assert musecar.read_partition(path, log) == {3: ("train", None), 17: ("validation", None)}
    assert log.notices == [f"{tmp_path.name}/a.csv: no `Id` and `Proposal` columns (Video, Speaker, Set); read as the organisers' 2021 "
                           "parser reads it: first column = video id, last column = split"]
    assert musecar.partition_other_columns(musecar.read_csv(path)) == \
        (["Speaker"], {3: (("Speaker", "s1"),), 17: (("Speaker", "s2"),)})
    named = musecar.read_csv(write(tmp_path / "b.csv", "Id,Partition,Proposal,Speaker\n3,2,train,s1\n"))
    assert musecar.partition_other_columns(named) == (["Speaker"], {3: (("Speaker", "s1"),)})
    with pytest.raises(RawDataError, match="no split column"):       # a last column of fold numbers is no split
        musecar.read_partition(write(tmp_path / "c.csv", "Video,Fold\n3,2\n"), log)


def test_aggregated_repeats_are_kept_once_and_conflicts_refused(tmp_path):
    header = "id,segment_id,label_arousal,label_valence,label_topic\n"
    table = musecar.read_csv(write(tmp_path / "a.csv", header + "3,1,2,1,6\n3,2,0,2,0\n3,1,2,1,6\n"))
    assert {s: e["topic"] for s, e in musecar.parse_aggregated_topic_labels(table)[0][3].items()} == {1: 6, 2: 0}
    table = musecar.read_csv(write(tmp_path / "b.csv", header + "3,1,2,1,6\n3,1,2,1,7\n"))
    with pytest.raises(RawDataError, match=r"segment 1 is listed again with other labels \(first on line 2\)"):
        musecar.parse_aggregated_topic_labels(table)


def test_a_video_in_two_splits_is_rejected_per_policy(tmp_path):
    path = write(tmp_path / "p.csv", "Id,Proposal\n1,train\n2,train\n1,test\n")
    with pytest.raises(RawDataError, match=r"video 1 is listed in two splits \(train on line 2, test\)"):
        musecar.read_partition(path, RecordLog("raise"))
    log = RecordLog("skip")
    assert musecar.read_partition(path, log) == {1: (None, None), 2: ("train", None)}  # 1: rejected, no split
    assert [(s.record, s.line) for s in log.skipped] == [("1", 4)]


def test_continuous_labels_read_by_name_in_both_orders(tmp_path):
    old = musecar.parse_continuous_labels(musecar.read_csv(write(tmp_path / "a.csv", "timestamp,value,segment_id\n"
                                                                 "4750,0.1204,1\n5000,,1\n9250,-0.0422,2\n")))
    new = musecar.parse_continuous_labels(musecar.read_csv(write(tmp_path / "b.csv", "timestamp,segment_id,value\n"
                                                                 "4750,1,0.1204\n5000,1,\n9250,2,-0.0422\n")))
    assert old == new == {1: [(4750, 0.1204, 2), (5000, None, 3)], 2: [(9250, -0.0422, 4)]}


@pytest.mark.parametrize("text,problem,line", [
    ("timestamp,value\n1,2\n", "no column 'segment_id'", 1),
    ("timestamp,value,segment_id\n1,0.1,1\n1,x,1\n", "column 'value': expected a number, got 'x'", 3),
    ("timestamp,value,segment_id\r\n1,0.5\r\n", "2 fields where the header has 3", 2),
    ("", "empty file", None),
])
def test_label_file_errors_name_the_line(tmp_path, text, problem, line):
    with pytest.raises(RawDataError) as error:
        musecar.parse_continuous_labels(musecar.read_csv(write(tmp_path / "l.csv", text)))
    assert problem in str(error.value) and error.value.line == line


def test_class_labels_without_segment_column_follow_row_order(tmp_path):
    labels = musecar.parse_class_labels(musecar.read_csv(write(tmp_path / "s.csv", "class_id\n4\nNA\n")))
    assert {k: v["class_id"] for k, v in labels.items()} == {1: 4, 2: None}


def test_a_segment_outside_the_audio_is_a_raw_data_error_of_the_audio_file(tmp_path):
    """The cut itself is builders.media.audio.cut_audio (tests/test_media.py); MuSe-CaR's policy rejects the segment."""
    path = tmp_path / "a.wav"
    path.write_bytes(sample.wav_bytes(sample.signal(1, 1000)))
    task = musecar.TaskFolder("MuSe2021", "c2_muse_topic", tmp_path, None)
    with musecar.VideoSegments(task, 1, "topic", {}, None, path, [], RecordLog()) as segments:
        audio = segments._audio(10, 900, 1200)     # within one label step of the end
        assert audio["path"] == "1_10_900-1200ms.wav"
        assert soundfile.info(io.BytesIO(audio["bytes"])).frames == 100 * 16
        with pytest.raises(RawDataError, match="outside the audio") as error:
            segments._audio(10, 900, 1300)
    assert "do not belong together" in str(error.value) and str(path) in str(error.value)


# ---- bad inputs through the CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_tree(samples):
    return samples.tree(DATASET, bad_records=True, scale=1)   # video 1000 keeps the train splits non-empty


@pytest.mark.parametrize("config,expected", [
    ("topic", "c2_muse_topic/transcription_segments/3/3_10.csv:3 (record 3_10): column 'end': expected an integer"),
    ("wilder", "c1_muse_wilder/label_segments/valence/999.csv (record 999): video 999 has files but is not listed in "
               "MuSe2021/c1_muse_wilder/metadata/partition.csv"),   # split listing comes before the jobs
    ("sent", "c2_muse_sent/label_segments/arousal/3.csv:4 (record 3_10): segment 10: arousal class 7 is not one of 0-4"),
    ("videos", "MuSe2020/data/raw/video/3.mp4 (record video 3): not an MP4 file"),
])
def test_bad_records_stop_the_build_with_exit_2(bad_tree, tmp_path, config, expected):
    refused_build("musecar", bad_tree.root, tmp_path / "out", "--config", config, expected=expected)


def test_on_error_skip_lists_every_bad_record_and_the_card_counts_them(bad_tree, tmp_path):
    out = tmp_path / "out"
    result = run_script("build.py", "musecar", "--data-dir", bad_tree.root, "--output", out, "--on-error", "skip",
                        "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "build_report.json").read_text())
    skipped = sorted((s["config"], s["split"] or "", s["file"], s["record"], s["reason"]) for s in report["skipped"])
    expected = sorted((config, b["split"] or "", b["file"], b["record"], b["reason"])
                      for config, items in bad_tree.bad.items() for b in items)
    assert skipped == expected and len(skipped) == 7   # video 3's broken wilder file rejects its 3 segments
    for config, count in (("wilder", 3), ("topic", 1), ("sent", 1), ("videos", 1)):
        assert report["configs"][config]["splits"]["train"]["records_skipped"] == count, config
    assert [r["video_id"] for r in parquet_rows(out, "wilder", "train")] == [1000] * 4   # no segment of video 3
    readme = (out / "README.md").read_text()
    assert "7 raw records were skipped" in readme
    assert "| `sent` | train | segment 10: arousal class 7 is not one of 0-4 | 1 |" in readme
    assert "| `wilder` | - | video 999 has files but is not listed in MuSe2021/c1_muse_wilder/metadata/partition.csv |" \
        in readme
    kept = [(r["video_id"], r["segment_id"]) for r in parquet_rows(out, "topic", "train")]
    assert (3, 10) not in kept and (3, 1) in kept


@pytest.mark.parametrize("breakage,expected", [
    ("partition", "metadata/partition.csv:1: no split column"),
    ("mapping", "metadata/topic_class_mapping.csv: classes"),
    ("aggregated", "aggregated/train.csv:1: no column 'label_topic'"),
])
def test_broken_shared_files_stop_the_build_even_when_skipping(tmp_path, breakage, expected):
    raw = tmp_path / "raw"
    sample.make(raw, packages=("MuSe2020",))
    metadata = raw / "MuSe2020/data/processed_tasks/metadata"
    if breakage == "partition":
        write(metadata / "partition.csv", "Id,Fold\n3,2\n")
    elif breakage == "mapping":
        path = metadata / "topic_class_mapping.csv"
        path.write_text(path.read_text().replace("quality-aeshetic", "quality-aesthetic"))
    else:
        path = raw / "MuSe2020/data/processed_tasks/c2_muse_topic/label_segments/aggregated/train.csv"
        path.write_text(path.read_text().replace("label_topic", "label_topics"))
    result = run_script("build.py", "musecar", "--data-dir", raw, "--output", tmp_path / "out", "--config", "topic",
                        "--on-error", "skip", "--quiet")
    assert result.returncode == 2 and expected in result.stderr, result.stderr


def test_a_config_whose_task_folder_is_absent(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw, packages=("MuSe2021",))
    result = run_script("build.py", "musecar", "--data-dir", raw, "--output", tmp_path / "out", "--config", "trust",
                        "--quiet")
    assert result.returncode == 2
    assert "missing:\n  - c3_muse_trust/ (MuSe 2020) with label_segments/trustworthiness" in result.stderr
    assert "contact.muse2020@gmail.com" in result.stderr                # the download steps


# ---- publishing ------------------------------------------------------------------------------------------------

def test_a_public_publish_is_refused_before_anything_changes(built, local_hub, tmp_path):
    out = shutil.copytree(built.out, tmp_path / "built")
    readme = (out / "README.md").read_bytes()
    refused = run_script("publish.py", out, "--repo", "org/musecar-public", "--public",
                         env={"HF_TOKEN": local_hub.token})
    assert refused.returncode == 2 and "policy 'private'" in refused.stderr
    assert (out / "README.md").read_bytes() == readme  # refused before anything changed
    assert not local_hub.api().repo_exists("org/musecar-public", repo_type="dataset")


# ---- the real MuSe 2020 topic package -----------------------------------------------------------------------------

REAL_SPLITS = {1: "test", 15: "validation", 23: "train"}


def read_real_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    real = realdata_dir("muse_car")
    out = tmp_path_factory.mktemp("real")
    return real, out, quiet_build(DATASET, real, out)


def test_real_package_builds_topic_and_videos(real_build):
    real, out, report = real_build
    assert set(report["configs"]) == {"topic", "videos"}              # no c1/c3/2021 folders, no features
    topic = report["configs"]["topic"]["splits"]
    # train.csv has 4,313 rows: the 106 segments of the 4 videos listed twice in partition.csv are repeated
    assert {s: topic[s]["rows"] for s in topic} == {"train": 4207, "validation": 1335, "test": 1260}
    videos = report["configs"]["videos"]["splits"]
    assert {s: videos[s]["rows"] for s in videos} == {"train": 165, "validation": 62, "test": 64}  # 291 unique ids
    assert report["skipped"] == []
    # every file of the package is read; the toolbox examples beside it are not a package, and their toy
    # partition.csv (11 train, 47 test; the real one says 11 test, 47 train) gives no split
    assert [(u["path"], u["files"], u["reason"]) for u in report["unread"]] == \
        [("muse_toolbox/", 10, coverage.UNRECOGNISED)]
    assert "videos: muse_toolbox/examples/metadata/partition.csv is not part of a MuSe-CaR package (not next to a " \
           "MuSe 2020 task folder or its raw archive, nor inside a MuSe 2021 task folder): not read, splits come " \
           "from the MuSe-CaR packages only" in report["notices"]
    assert 11 in {r["video_id"] for r in parquet_rows(out, "videos", "test")}
    assert 47 in {r["video_id"] for r in parquet_rows(out, "videos", "train")}


def test_real_topic_labels_and_transcripts_equal_the_csvs(real_build):
    real, out, _ = real_build
    task = real / "data/processed_tasks/c2_muse_topic"
    for video_id, split in REAL_SPLITS.items():
        rows = [r for r in parquet_rows(out, "topic", split) if r["video_id"] == video_id]
        per_dimension = {dim: {int(r["segment_id"]): r for r in read_real_csv(task / f"label_segments/{dim}/{video_id}.csv")}
                         for dim in ("topic", "arousal", "valence")}
        assert [r["segment_id"] for r in rows] == sorted(per_dimension["topic"])
        for row in rows:
            expected = per_dimension["topic"][row["segment_id"]]
            assert (row["start_ms"], row["end_ms"]) == (int(expected["start"]), int(expected["end"]))
            for dim in ("topic", "arousal", "valence"):
                assert row[dim] == int(per_dimension[dim][row["segment_id"]]["class_id"]), (video_id, dim)
            words = read_real_csv(task / f"transcription_segments/{video_id}/{video_id}_{row['segment_id']}.csv")
            assert row["transcript"] == [{"word": w["word"], "start_ms": int(w["start"]), "end_ms": int(w["end"])}
                                         for w in words]
            assert row["audio"] is None and row["package"] == "MuSe2020/c2_muse_topic"
    first = next(r for r in parquet_rows(out, "topic", "test") if (r["video_id"], r["segment_id"]) == (1, 1))
    assert musecar.TOPIC_CLASSES[first["topic"]] == "general-information" and first["fold"] == 1
    assert [w["word"] for w in first["transcript"][:5]] == ["the", "BMW", "M3", ",", "Siri's"]


def test_real_aggregated_only_videos_and_duplicated_partition_rows(real_build):
    real, out, _ = real_build
    aggregated = read_real_csv(real / "data/processed_tasks/c2_muse_topic/label_segments/aggregated/train.csv")
    by_key = {(int(r["id"]), int(r["segment_id"])): r for r in aggregated}
    rows = parquet_rows(out, "topic", "train")
    assert len(rows) == len(by_key)
    for row in rows:
        source = by_key[(row["video_id"], row["segment_id"])]
        assert (row["topic"], row["arousal"], row["valence"]) == \
            (int(source["label_topic"]), int(source["label_arousal"]), int(source["label_valence"]))
    folds = {r["video_id"]: r["fold"] for r in parquet_rows(out, "videos", "train")}
    assert folds[194] is None and folds[23] == 2                       # 194 is listed in folds 2 and 5
    meta = {r["video_id"]: r for r in parquet_rows(out, "videos", "test")}
    assert (meta[1]["youtube_id"], meta[1]["channel_id"], meta[1]["speaker_id"], meta[1]["gender"]) == \
        ("SF7cOAuG6qQ", "UC-GJbheknHZhSM7-Jgn63jg", 1, "M")
    assert meta[1]["other_metadata"] == [] and meta[1]["video"] is None


def test_real_class_mappings_match_the_declared_names():
    real = realdata_dir("muse_car") / "data/processed_tasks/metadata"
    musecar.check_class_mapping(real / "topic_class_mapping.csv", "topic", musecar.TOPIC_CLASSES)
    musecar.check_class_mapping(real / "emotion_class_mapping.csv", "emotion", musecar.EMOTION_CLASSES)  # CRLF


def test_real_toolbox_partition_reads_its_split_column():
    toolbox = realdata_dir("muse_car") / "muse_toolbox/examples/metadata/partition.csv"
    assert musecar.read_partition(toolbox, RecordLog("raise")) == {11: ("train", None), 32: ("train", None),
                                                                   47: ("test", None)}
