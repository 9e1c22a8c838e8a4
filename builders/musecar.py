"""MuSe-CaR: YouTube car reviews with continuous emotion and trust signals, topics, transcripts and features.

There is no single MuSe-CaR release: what EULA signatories receive are the challenge packages of
MuSe 2020 and MuSe 2021, each a tree of comma-separated files (times in integer milliseconds):

- MuSe 2020 (`c1_muse_wild`, `c2_muse_topic`, `c3_muse_trust`, with a shared `metadata/` folder holding
  partition.csv, the class mappings and video_metadata.csv; a separate raw archive adds the normalised
  full-length audio `audio_norm/<vid>.wav` and the videos `video/<vid>.mp4`);
- MuSe 2021 (`c1_muse_wilder`, `c2_muse_sent`, each with its own `metadata/partition.csv`).

Every task folder has `label_segments/<dimension>/<vid>.csv`, and may have `feature_segments/`,
`transcription_segments/<vid>/<vid>_<seg>.csv` (one word per row) and `audio_segments/<vid>/<vid>_<seg>.wav`.
The packages are found anywhere under the data directory (organisers' archives nest them in
`data/processed_tasks/`, `data/raw/`, ...) and the two years are told apart by their folder names. Columns are
read by name: 2020 and 2021 order them differently (`timestamp,value,segment_id` vs `timestamp,segment_id,value`).
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import soundfile
from datasets import Audio, ClassLabel, Value, Video

from .core import MMConfig, MultimodalBuilder, RawPart
from .errors import RawDataError, RecordLog, not_utf8
from .media import mp4_truncation, wav_truncation


# ---- metadata --------------------------------------------------------------------------------------

TOPIC_CLASSES = ["performance", "interior-features", "quality-aeshetic", "comfort", "handling", "safety",
                 "general-information", "cost", "user-experience", "exterior-features"]
"""MuSe 2020 topic classes in class-id order, with the release's spelling (`quality-aeshetic` sic)."""
EMOTION_CLASSES = ["low", "medium", "high"]
SENT_CLASSES = ["0", "1", "2", "3", "4"]
"""MuSe 2021 MuSe-Sent classes are cluster ids of segment-level signal statistics, not ordered levels."""

SPLITS = {"train": "train", "devel": "validation", "test": "test"}
TASK_FOLDERS = {  # folder name -> (package, task role)
    "c1_muse_wild": ("MuSe2020", "wild"), "muse-wild": ("MuSe2020", "wild"),
    "c2_muse_topic": ("MuSe2020", "topic"), "c3_muse_trust": ("MuSe2020", "trust"),
    "c1_muse_wilder": ("MuSe2021", "wild"), "c2_muse_sent": ("MuSe2021", "sent"),
}
PACKAGE_PREFERENCE = ("MuSe2021", "MuSe2020")
"""When both years ship a task (MuSe-Wild and MuSe-Wilder), the 2021 package, with its re-fused labels, is used."""
SEARCH_DEPTH = 5
LABEL_STEP_MS = 250
CONTINUOUS_DIMENSIONS = {"wilder": ("arousal", "valence"), "trust": ("trustworthiness", "arousal", "valence")}
CLASS_DIMENSIONS = {"topic": {"topic": TOPIC_CLASSES, "arousal": EMOTION_CLASSES, "valence": EMOTION_CLASSES},
                    "sent": {"arousal": SENT_CLASSES, "valence": SENT_CLASSES}}
FEATURE_META_COLUMNS = ("timestamp", "start", "end", "segment_id")
MISSING_VALUES = ("", "na", "nan", "none", "null")
CSV_FIELD_LIMIT = 2**31 - 1
"""Fields of any length are read: the csv module's limit is process-wide, and nmb_plus needs long fields."""
csv.field_size_limit(CSV_FIELD_LIMIT)
SHARD_BYTES = 400 * 10**6
"""Videos of a split are grouped into shard jobs of about this many raw bytes (Parquet parts stay < 500 MB)."""
BATCH_BYTES = 64 * 2**20
FEATURE_BATCH_VALUES = 16 * 2**20

# ---- features, with the docs the card's field table is made of ---------------------------------------

VIDEO_ID = (Value("int32"), "MuSe-CaR video id: the number in the release's file names, shared by every task and year.")
SEGMENT_ID = (Value("int32"), "Segment id within the video (1-based `segment_id` of the release).")
PACKAGE = (Value("string"), "Challenge package and task folder the row was read from, e.g. `MuSe2021/c1_muse_wilder`.")
FOLD = (Value("int32"), "Fold number from the `Partition` column of partition.csv (MuSe 2020: 1 = test, 3 = devel, "
                        "2/4/5 = train); null when the package has no fold column or lists the video in two folds.")
START = (Value("int32"), "Segment start in ms from the video start; null when no label file gives it.")
END = (Value("int32"), "Segment end in ms from the video start; null when no label file gives it.")
TRANSCRIPT = ([{
    "word": (Value("string"), "A word or a punctuation token, as transcribed (punctuation is its own token)."),
    "start_ms": (Value("int32"), "Word start in ms from the video start."),
    "end_ms": (Value("int32"), "Word end in ms from the video start (punctuation tokens last 1 ms)."),
}], "The segment's word-level transcript (transcription_segments/<vid>/<vid>_<seg>.csv) in file order; null when the "
    "release has no transcription file for the segment.")


def _segment_audio(span: str):
    return (Audio(), "The segment's audio: audio_segments/<vid>/<vid>_<seg>.wav byte for byte when the package ships "
                     f"it; otherwise cut losslessly from audio_norm/<vid>.wav {span} and stored as FLAC (path "
                     "`<vid>_<seg>_<from>-<to>ms.flac`); null when neither exists.")


def _series(doc: str):
    return ([Value("float32")], doc + " One value per entry of `timestamps_ms` (null where the file has no value "
                                      "at that time); null when the release has no label file for the video "
                                      "(test labels are masked or absent).")


def _continuous_fields(dimensions: dict[str, str]) -> dict:
    return {
        "video_id": VIDEO_ID, "segment_id": SEGMENT_ID, "package": PACKAGE, "fold": FOLD,
        "start_ms": (Value("int32"), "Timestamp of the segment's first label row (ms); null without labels."),
        "end_ms": (Value("int32"), "Timestamp of the segment's last label row (ms); null without labels."),
        "timestamps_ms": ([Value("int32")], "Label times in ms from the video start (4 Hz, 250 ms apart inside a "
                                            "segment), the union over the label files of the segment."),
        **{dim: _series(doc) for dim, doc in dimensions.items()},
        "transcript": TRANSCRIPT,
        "audio": _segment_audio("from start_ms to end_ms + 250 ms (one label step, so that the last label's "
                                "interval is included)"),
    }


AROUSAL_DOC = "Continuous arousal gold standard in [-1, 1]."
VALENCE_DOC = "Continuous valence gold standard in [-1, 1]."
WILDER_FIELDS = _continuous_fields({"arousal": AROUSAL_DOC, "valence": VALENCE_DOC})
TRUST_FIELDS = _continuous_fields({"trustworthiness": "Continuous trustworthiness gold standard in [-1, 1].",
                                   "arousal": AROUSAL_DOC, "valence": VALENCE_DOC})


def _class_fields(labels: dict) -> dict:
    return {"video_id": VIDEO_ID, "segment_id": SEGMENT_ID, "package": PACKAGE, "fold": FOLD,
            "start_ms": START, "end_ms": END, **labels, "transcript": TRANSCRIPT,
            "audio": _segment_audio("from start_ms to end_ms")}


MASKED = "; null when masked (test) or unusable."
TOPIC_FIELDS = _class_fields({
    "topic": (ClassLabel(names=TOPIC_CLASSES), "Topic of the segment (10 official classes, upstream spelling)" + MASKED),
    "arousal": (ClassLabel(names=EMOTION_CLASSES), "Arousal class: tertile of the segment's mean continuous arousal"
                                                   + MASKED),
    "valence": (ClassLabel(names=EMOTION_CLASSES), "Valence class: tertile of the segment's mean continuous valence"
                                                   + MASKED),
    "arousal_mean": (Value("float32"), "Segment mean of continuous arousal (`mean` column); null when not shipped."),
    "valence_mean": (Value("float32"), "Segment mean of continuous valence (`mean` column); null when not shipped."),
})
SENT_FIELDS = _class_fields({
    "arousal": (ClassLabel(names=SENT_CLASSES), "MuSe-Sent arousal class (cluster id 0-4, not ordinal)" + MASKED),
    "valence": (ClassLabel(names=SENT_CLASSES), "MuSe-Sent valence class (cluster id 0-4, not ordinal)" + MASKED),
})
FEATURES_FIELDS = {
    "video_id": VIDEO_ID,
    "segment_id": (Value("int32"), "Segment id; null for the frames the feature files place outside any segment."),
    "package": PACKAGE, "fold": FOLD,
    "feature_sets": ([{
        "name": (Value("string"), "Feature set: the folder name (egemaps, deepspectrum, vggish, vggface, au, bert, ...)."),
        "alignment": (Value("string"), "MuSe 2020 alignment folder (label_aligned, unaligned, egemaps_aligned, "
                                       "fasttext_aligned, ...); null in MuSe 2021, which has one alignment."),
        "dim": (Value("int32"), "Number of feature columns."),
        "timestamps_ms": ([Value("int32")], "Frame times in ms (`timestamp` column; `start` for word-aligned files)."),
        "end_timestamps_ms": ([Value("int32")], "Word end times in ms for word-aligned files (`end` column); null "
                                                "otherwise."),
        "values": ([[Value("float32")]], "One row of `dim` values per frame, in the file's column order; empty and "
                                         "NaN cells are null. All-zero rows (e.g. vggface without a face) are kept."),
    }], "The feature sets shipped for this segment, ordered by alignment and name."),
}
VIDEOS_FIELDS = {
    "video_id": VIDEO_ID,
    "fold": FOLD,
    "youtube_id": (Value("string"), "YouTube video id (video_metadata.csv `Youtube_Id`); null when not listed."),
    "channel_id": (Value("string"), "YouTube channel id (`Channel_Id`); null when not listed."),
    "speaker_id": (Value("int32"), "Reviewer id (`Speaker_Id`); null when not listed."),
    "gender": (Value("string"), "Reviewer gender as annotated (`Gender`: M or F); null when not listed."),
    "other_metadata": ([{
        "name": (Value("string"), "Column name in video_metadata.csv."),
        "value": (Value("string"), "The value, as written."),
    }], "Further non-empty columns of video_metadata.csv, as strings."),
    "video": (Video(), "The full-length video (video/<vid>.mp4, or videos/<vid>.mp4 in MuSe 2021) byte for byte; "
                       "null when absent."),
    "audio": (Audio(), "The normalised full-length audio (audio_norm/<vid>.wav) byte for byte; null when absent."),
}

# ---- configs -----------------------------------------------------------------------------------------

RAW_PARTS = {
    "wild": RawPart("c1_muse_wilder/ (MuSe 2021) or c1_muse_wild/ (MuSe 2020) with label_segments/arousal and valence"),
    "trust": RawPart("c3_muse_trust/ (MuSe 2020) with label_segments/trustworthiness"),
    "topic": RawPart("c2_muse_topic/ (MuSe 2020) with label_segments/topic or label_segments/aggregated"),
    "sent": RawPart("c2_muse_sent/ (MuSe 2021) with label_segments/arousal and valence"),
    "features": RawPart("feature_segments/ in a task folder (c1_muse_wild, c1_muse_wilder, c2_muse_sent, ...)"),
    "partition": RawPart("metadata/partition.csv (MuSe 2020) or <task>/metadata/partition.csv (MuSe 2021)"),
}
CONFIG_TASK = {"wilder": "wild", "trust": "trust", "topic": "topic", "sent": "sent"}

VERSION = datasets.Version("1.0.0")
CONFIGS = [
    MMConfig(name="wilder", version=VERSION, fields=WILDER_FIELDS, requires=("wild",),
             description="One row per segment: continuous arousal and valence at 4 Hz, transcript and audio "
                         "(MuSe-Wilder 2021, else MuSe-Wild 2020)."),
    MMConfig(name="trust", version=VERSION, fields=TRUST_FIELDS, requires=("trust",),
             description="One row per segment: continuous trustworthiness, arousal and valence at 4 Hz, transcript "
                         "and audio (MuSe-Trust 2020)."),
    MMConfig(name="topic", version=VERSION, fields=TOPIC_FIELDS, requires=("topic",),
             description="One row per segment: topic (10 classes) and 3-class arousal and valence, transcript and "
                         "audio (MuSe-Topic 2020)."),
    MMConfig(name="sent", version=VERSION, fields=SENT_FIELDS, requires=("sent",),
             description="One row per segment: 5-class arousal and valence, transcript and audio (MuSe-Sent 2021)."),
    MMConfig(name="features", version=VERSION, fields=FEATURES_FIELDS, requires=("features",),
             description="One row per task folder and segment: every shipped feature set as a float32 matrix with "
                         "its frame times."),
    MMConfig(name="videos", version=VERSION, fields=VIDEOS_FIELDS, requires=("partition",),
             description="One row per video: YouTube metadata, full-length video and normalised audio when present."),
]


@dataclass(frozen=True)
class TaskFolder:
    """One challenge task folder of a package, and the partition file that assigns its videos to splits."""

    package: str
    name: str
    path: Path
    partition: Path | None

    @property
    def label(self) -> str:
        return f"{self.package}/{self.name}"


@dataclass(frozen=True)
class VideoShard:
    """Videos of one split (with their fold), read from one task folder."""

    task: str                                   # TaskFolder.label; "" for the videos config
    videos: tuple[tuple[int, int | None], ...]


class MuSeCaR(MultimodalBuilder):
    NAME = "musecar"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "topic"

    def locate_raw(self, data_dir: Path) -> dict:
        return discover(data_dir)

    def input_files(self) -> list[Path]:
        name = self.config.name
        paths = [p for task in self._tasks() for p in (task.partition, task.path)]
        if name in ("topic", "videos") and self.raw["metadata"]:
            paths.append(self.raw["metadata"])
        if name == "videos":
            paths += [self.raw["partition"], *self.raw["video_dirs"]]
        if name != "features" and self.raw["audio_norm"]:
            paths.append(self.raw["audio_norm"])
        return sorted({p for p in paths if p is not None})

    def _tasks(self) -> list[TaskFolder]:
        """The task folders this config reads (every one with features for `features`, none for `videos`)."""
        name = self.config.name
        if name == "features":
            return list(self.raw["features"] or ())
        return [self.raw[CONFIG_TASK[name]]] if name in CONFIG_TASK and self.raw[CONFIG_TASK[name]] else []

    def _task(self, label: str) -> TaskFolder:
        return next(task for task in self._tasks() if task.label == label)

    def _audio_norm(self, video_id: int) -> Path | None:
        path = self.raw["audio_norm"] / f"{video_id}.wav" if self.raw["audio_norm"] else None
        return path if path and path.is_file() else None

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[VideoShard]]:
        if self.config.name == "videos":
            self.video_metadata  # a corrupt shared file stops the build before any job starts
            partition = read_partition(self.raw["partition"], log)
            _reject_unlisted(self._media_files(), partition, self.relative(self.raw["partition"]), log)
            described_only = sorted(set(self.video_metadata) - set(partition))
            if described_only:
                log.notice(f"video_metadata.csv describes {len(described_only)} videos that "
                           f"{self.relative(self.raw['partition'])} does not list ({', '.join(map(str, described_only))}); "
                           "without a split they are not in the videos config")
            return _group_shards("", partition, self._video_bytes)
        self._check_shared_files(log)
        shards: dict[str, list[VideoShard]] = {}
        for task in self._tasks():
            if task.partition is None:
                raise RawDataError(task.path, "no partition.csv for this task folder",
                                   hint="MuSe 2020 keeps it in metadata/ next to the task folders, MuSe 2021 in "
                                        "<task>/metadata/; copy it from the package")
            partition, files = read_partition(task.partition, log), self._video_files(task)
            _reject_unlisted(files, partition, self.relative(task.partition), log)
            with_files = {vid: assignment for vid, assignment in partition.items() if vid in files}
            for split, items in _group_shards(task.label, with_files, self._task_video_bytes(task)).items():
                shards.setdefault(split, []).extend(items)
        return shards

    def _check_shared_files(self, log: RecordLog) -> None:
        """Files shared by every video of a task are checked before any job starts."""
        if self.config.name == "wilder" and self.raw["wild_alternative"] is not None:
            log.notice(f"both {self.raw['wild'].label} and {self.raw['wild_alternative'].label} found; the "
                       f"wilder config reads {self.raw['wild'].label} (the features config reads both)")
        if self.config.name == "topic":
            # parsed now: a corrupt aggregated file stops the build here
            for path, repeated in self.aggregated_topic_labels[1].items():
                log.notice(f"{self.relative(path)}: {sum(repeated.values())} rows repeat earlier rows of videos "
                           f"{', '.join(map(str, sorted(repeated)))}; kept once")
            if self.raw["metadata"] is not None:
                check_class_mapping(self.raw["metadata"] / "topic_class_mapping.csv", "topic", TOPIC_CLASSES)
                check_class_mapping(self.raw["metadata"] / "emotion_class_mapping.csv", "emotion", EMOTION_CLASSES)

    def _video_files(self, task: TaskFolder) -> dict[int, Path]:
        """Every video the task folder has data for, with one of its files (for messages)."""
        found: dict[int, Path] = {}
        if self.config.name == "features":
            for feature in feature_sets(task.path):
                found.update({vid: path for vid, path in _numbered_files(feature.folder, ".csv").items()
                              if vid not in found})
            return found
        for dimension in self._label_dimensions():
            found.update(_numbered_files(task.path / "label_segments" / dimension, ".csv"))
        for folder in ("transcription_segments", "audio_segments"):
            found.update({vid: path for vid, path in _numbered_dirs(task.path / folder).items() if vid not in found})
        if self.config.name == "topic":
            found.update({vid: path for vid, (path, _) in self.aggregated_topic_labels[0].items() if vid not in found})
        return found

    def _media_files(self) -> dict[int, Path]:
        found = _numbered_files(self.raw["audio_norm"], ".wav") if self.raw["audio_norm"] else {}
        for folder in self.raw["video_dirs"]:
            found.update({vid: path for vid, path in _numbered_files(folder, ".mp4").items() if vid not in found})
        return found

    def _label_dimensions(self) -> tuple[str, ...]:
        name = self.config.name
        return CONTINUOUS_DIMENSIONS[name] if name in CONTINUOUS_DIMENSIONS else tuple(CLASS_DIMENSIONS[name])

    def _task_video_bytes(self, task: TaskFolder):
        """Raw bytes a video of the task makes the shard job read (what shards are balanced on)."""
        sets = feature_sets(task.path)

        def size(video_id: int) -> int:
            if self.config.name == "features":
                return sum(_size(f.folder / f"{video_id}.csv") for f in sets)
            segments = task.path / "audio_segments" / str(video_id)
            wavs = sum(_size(p) for p in segments.iterdir()) if segments.is_dir() else 0
            return wavs + _size(self._audio_norm(video_id))
        return size

    def _video_bytes(self, video_id: int) -> int:
        return _size(self._audio_norm(video_id)) + _size(find_video_file(self.raw["video_dirs"], video_id))

    # ---- shared files, read once per builder -------------------------------------------------------------

    @functools.cached_property
    def aggregated_topic_labels(self) -> tuple[dict[int, tuple[Path, dict[int, dict]]], dict[Path, dict[int, int]]]:
        """(video id -> (file, segment labels), file -> repeated rows per video) of the aggregated files."""
        folder = self.raw["topic"].path / "label_segments" / "aggregated"
        labels: dict[int, tuple[Path, dict[int, dict]]] = {}
        repeats: dict[Path, dict[int, int]] = {}
        for split in SPLITS:
            path = folder / f"{split}.csv"
            if path.is_file():
                per_video, repeated = parse_aggregated_topic_labels(read_csv(path))
                for video_id, segments in per_video.items():
                    labels.setdefault(video_id, (path, {}))[1].update(segments)
                if repeated:
                    repeats[path] = repeated
        return labels, repeats

    @functools.cached_property
    def video_metadata(self) -> dict[int, dict]:
        path = self.raw["metadata"] / "video_metadata.csv" if self.raw["metadata"] else None
        return parse_video_metadata(read_csv(path)) if path and path.is_file() else {}

    # ---- table assembly ----------------------------------------------------------------------------------

    def shard_tables(self, shard: VideoShard, log: RecordLog) -> Iterator[pa.Table]:
        schema = self.info.features.arrow_schema
        if self.config.name == "features":
            for rows in _batched_by(self._feature_rows(shard, log), FEATURE_BATCH_VALUES, _feature_row_values):
                yield feature_table(rows, schema)
            return
        for rows in _batched_by(self.shard_rows(shard, log), BATCH_BYTES, _media_bytes, self.ROWS_PER_BATCH):
            yield pa.Table.from_pylist(rows, schema=schema)

    def shard_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        if self.config.name == "videos":
            for video_id, fold in shard.videos:
                row = None
                with log.record(self.raw["partition"], f"video {video_id}"):
                    row = self._video_row(video_id, fold)
                if row is not None:
                    yield row
            return
        task = self._task(shard.task)
        for video_id, fold in shard.videos:
            with self._read_video(task, video_id) as video:
                segments = video.segment_ids()
                if video.broken and not segments:  # no other file tells its segments: the video is the record
                    with log.record(video.broken[0].path, f"video {video_id}"):
                        raise video.broken[0]
                for segment_id in segments:
                    row = None
                    with log.record(video.label_file(segment_id), f"{video_id}_{segment_id}"):
                        row = {"video_id": video_id, "segment_id": segment_id, "package": task.label, "fold": fold,
                               **video.segment_row(segment_id)}
                    if row is not None:
                        yield row

    def _read_video(self, task: TaskFolder, video_id: int) -> "VideoSegments":
        name = self.config.name
        labels, broken = {}, []
        for dimension in self._label_dimensions():
            path = task.path / "label_segments" / dimension / f"{video_id}.csv"
            if path.is_file():
                try:
                    table = read_csv(path)
                    labels[dimension] = (path, parse_continuous_labels(table) if name in CONTINUOUS_DIMENSIONS
                                         else parse_class_labels(table))
                except RawDataError as error:
                    broken.append(error)
        aggregated = self.aggregated_topic_labels[0].get(video_id) if name == "topic" else None
        return VideoSegments(task, video_id, name, labels, aggregated, self._audio_norm(video_id), broken)

    def _video_row(self, video_id: int, fold: int | None) -> dict:
        metadata = self.video_metadata.get(video_id, {})
        video, audio = find_video_file(self.raw["video_dirs"], video_id), self._audio_norm(video_id)
        return {"video_id": video_id, "fold": fold, "youtube_id": metadata.get("youtube_id"),
                "channel_id": metadata.get("channel_id"), "speaker_id": metadata.get("speaker_id"),
                "gender": metadata.get("gender"), "other_metadata": metadata.get("other", []),
                "video": {"bytes": check_mp4(video), "path": video.name} if video else None,
                "audio": {"bytes": check_wav(audio), "path": audio.name} if audio else None}

    def _feature_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        task = self._task(shard.task)
        sets = feature_sets(task.path)
        for video_id, fold in shard.videos:
            files, broken = [], []
            for feature in (f for f in sets if (f.folder / f"{video_id}.csv").is_file()):
                try:
                    files.append((feature, read_feature_file(feature.folder / f"{video_id}.csv")))
                except RawDataError as error:
                    broken.append(error)
            segments = _ordered({s for _, table in files for s in table.segments})
            if broken and not segments:  # no other feature file tells its segments: the video is the record
                with log.record(broken[0].path, f"video {video_id}"):
                    raise broken[0]
            for segment_id in segments:
                row = None
                with log.record(files[0][0].folder / f"{video_id}.csv", f"{video_id}_{segment_id}"):
                    if broken:  # a segment with a feature set missing is not written
                        raise copy.copy(broken[0])
                    row = {"video_id": video_id, "segment_id": segment_id, "package": task.label, "fold": fold,
                           "feature_sets": [table.segment(feature, segment_id) for feature, table in files
                                            if segment_id in table.segments]}
                if row is not None:
                    yield row


# ---- finding the packages ----------------------------------------------------------------------------------

def discover(data_dir: Path) -> dict:
    """The task folders, metadata, raw audio and videos found under data_dir (breadth first, names sorted)."""
    tasks: dict[str, Path] = {}
    metadata_dirs, video_dirs, audio_norm = [], [], None
    frontier = [data_dir]
    for _ in range(SEARCH_DEPTH):
        deeper = []
        for folder in frontier:
            for child in sorted((c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")),
                                key=lambda c: c.name):
                if child.name in TASK_FOLDERS:
                    tasks.setdefault(child.name, child)
                elif child.name == "audio_norm":
                    audio_norm = audio_norm or child
                elif child.name in ("video", "videos"):
                    video_dirs.append(child)
                elif child.name == "metadata" and (child / "partition.csv").is_file():
                    metadata_dirs.append(child)
                else:
                    deeper.append(child)
        frontier = deeper
    metadata = _package_metadata(tasks, metadata_dirs)
    found = {role: [] for role in ("wild", "topic", "trust", "sent")}
    for name, path in sorted(tasks.items()):
        package, role = TASK_FOLDERS[name]
        own = path / "metadata" / "partition.csv"
        partition = own if own.is_file() else (metadata / "partition.csv" if metadata else None)
        found[role].append(TaskFolder(package, name, path, partition))
        if (path / "videos").is_dir():
            video_dirs.append(path / "videos")
    for role in found:
        found[role].sort(key=lambda t: PACKAGE_PREFERENCE.index(t.package))
    every_task = [task for role in found.values() for task in role]
    with_features = tuple(sorted((t for t in every_task if (t.path / "feature_segments").is_dir()),
                                 key=lambda t: (t.package, t.name)))
    first_partition = next((t.partition for t in every_task if t.partition), None)
    return {
        **{role: tasks_of_role[0] if tasks_of_role else None for role, tasks_of_role in found.items()},
        "wild_alternative": found["wild"][1] if len(found["wild"]) > 1 else None,
        "features": with_features or None,
        "metadata": metadata,
        "partition": metadata / "partition.csv" if metadata else first_partition,
        "audio_norm": audio_norm,
        "video_dirs": tuple(video_dirs),
    }


def _package_metadata(tasks: dict[str, Path], metadata_dirs: list[Path]) -> Path | None:
    """The MuSe 2020 metadata/ folder: the one next to a 2020 task folder, else the shallowest one found."""
    for name, path in sorted(tasks.items()):
        if TASK_FOLDERS[name][0] == "MuSe2020" and path.parent / "metadata" in metadata_dirs:
            return path.parent / "metadata"
    return metadata_dirs[0] if metadata_dirs else None


@dataclass(frozen=True)
class FeatureSet:
    name: str
    alignment: str | None
    folder: Path


def feature_sets(task_path: Path) -> list[FeatureSet]:
    """feature_segments/<feature>/ (2021) or feature_segments/<alignment>/<feature>/ (2020), sorted."""
    root = task_path / "feature_segments"
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if any(child.glob("*.csv")):
            found.append(FeatureSet(child.name, None, child))
        else:
            found += [FeatureSet(sub.name, child.name, sub) for sub in sorted(p for p in child.iterdir() if p.is_dir())]
    return sorted(found, key=lambda f: (f.alignment or "", f.name))


def find_video_file(video_dirs: tuple[Path, ...], video_id: int) -> Path | None:
    return next((d / f"{video_id}.mp4" for d in video_dirs if (d / f"{video_id}.mp4").is_file()), None)


_NUMBERED = re.compile(r"(\d+)")
_SEGMENT_FILE = re.compile(r"(\d+)_(\d+)")


def _numbered_files(folder: Path, suffix: str) -> dict[int, Path]:
    """<vid><suffix> files of a folder by video id (other names are not release files and are ignored)."""
    if not folder.is_dir():
        return {}
    return {int(p.stem): p for p in folder.iterdir() if p.suffix == suffix and _NUMBERED.fullmatch(p.stem)}


def _numbered_dirs(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    return {int(p.name): p for p in folder.iterdir() if p.is_dir() and _NUMBERED.fullmatch(p.name)}


def _segment_files(folder: Path, suffix: str) -> dict[int, Path]:
    """<vid>_<seg><suffix> files of a video's folder by segment id (3_10 is segment 10, after 3_9)."""
    if not folder.is_dir():
        return {}
    return {int(m.group(2)): p for p in folder.iterdir()
            if p.suffix == suffix and (m := _SEGMENT_FILE.fullmatch(p.stem)) and m.group(1) == folder.name}


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.is_file() else 0


def _reject_unlisted(files: dict[int, Path], partition: dict, partition_path: str, log: RecordLog) -> None:
    """Files of a video the partition does not list have no split: each such video is a rejected record."""
    for video_id in sorted(set(files) - set(partition)):
        log.reject(RawDataError(files[video_id], f"video {video_id} has files but is not listed in {partition_path}",
                                record=str(video_id), hint="its split is unknown; add it to partition.csv"))


def _group_shards(task: str, partition: dict[int, tuple[str, int | None]], size_of) -> dict[str, list[VideoShard]]:
    """Videos per split, in id order, grouped into shards of about SHARD_BYTES raw bytes."""
    shards: dict[str, list[VideoShard]] = {}
    for split in SPLITS.values():
        group, total = [], 0
        for video_id, (video_split, fold) in partition.items():
            if video_split != split:
                continue
            size = size_of(video_id)
            if group and total + size > SHARD_BYTES:
                shards.setdefault(split, []).append(VideoShard(task, tuple(group)))
                group, total = [], 0
            group.append((video_id, fold))
            total += size
        if group:
            shards.setdefault(split, []).append(VideoShard(task, tuple(group)))
    return shards


# ---- one video's segments ------------------------------------------------------------------------------------

class VideoSegments:
    """The label rows, transcripts and audio of one video of a task folder, assembled segment by segment.

    `broken` holds the errors of the video's label files that could not be read: every segment the other
    files know is then rejected with that error, so that each one is counted and listed."""

    def __init__(self, task: TaskFolder, video_id: int, config: str, labels: dict, aggregated, audio_norm,
                 broken: list[RawDataError]):
        self.task, self.video_id, self.config = task, video_id, config
        self.labels, self.aggregated, self.broken = labels, aggregated, broken
        self.continuous = config in CONTINUOUS_DIMENSIONS
        self.transcripts = _segment_files(task.path / "transcription_segments" / str(video_id), ".csv")
        self.audio_files = _segment_files(task.path / "audio_segments" / str(video_id), ".wav")
        self.audio_norm_path = audio_norm
        self._audio_norm: soundfile.SoundFile | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._audio_norm is not None:
            self._audio_norm.close()

    def segment_ids(self) -> list[int | None]:
        ids = {s for _, segments in self.labels.values() for s in segments}
        ids |= set(self.transcripts) | set(self.audio_files)
        if self.aggregated:
            ids |= set(self.aggregated[1])
        return _ordered(ids)

    def label_file(self, segment_id) -> Path:
        """The file a segment's problems are reported against: its first label file, else its transcript."""
        for path, segments in self.labels.values():
            if segment_id in segments:
                return path
        if self.aggregated and segment_id in self.aggregated[1]:
            return self.aggregated[0]
        return self.transcripts.get(segment_id) or self.audio_files[segment_id]

    def segment_row(self, segment_id) -> dict:
        if self.broken:
            raise copy.copy(self.broken[0])
        per_dimension = {dim: (path, segments.get(segment_id)) for dim, (path, segments) in self.labels.items()}
        if self.continuous:
            labels = merge_continuous_segment(self.config, segment_id, per_dimension)
        else:
            labels = merge_class_segment(self.config, segment_id, per_dimension, self.aggregated)
        transcript = self.transcripts.get(segment_id)
        return {**labels, "transcript": read_transcript(transcript, segment_id) if transcript else None,
                "audio": self._audio(segment_id, labels["start_ms"], labels["end_ms"])}

    def _audio(self, segment_id, start_ms, end_ms) -> dict | None:
        if segment_id in self.audio_files:
            path = self.audio_files[segment_id]
            return {"bytes": check_wav(path), "path": path.name}
        if self.audio_norm_path is None or start_ms is None or end_ms is None:
            return None
        if self.continuous:  # a label is sampled every 250 ms: include the last one's interval
            end_ms += LABEL_STEP_MS
        if self._audio_norm is None:
            try:
                self._audio_norm = soundfile.SoundFile(self.audio_norm_path)
            except (soundfile.LibsndfileError, RuntimeError) as e:
                raise RawDataError(self.audio_norm_path, f"unreadable audio ({e})",
                                   hint="the file is corrupt; extract it again from the raw archive") from None
        data, suffix = cut_audio(self._audio_norm, start_ms, end_ms, self.audio_norm_path)
        return {"bytes": data, "path": f"{self.video_id}_{segment_id}_{start_ms}-{end_ms}ms.{suffix}"}


def _ordered(segment_ids) -> list:
    """Segment ids in numeric order; None (frames outside any segment) last."""
    return sorted(segment_ids, key=lambda s: (s is None, s or 0))


# ---- pure parsing functions ----------------------------------------------------------------------------------

@dataclass
class CsvTable:
    """A CSV file's header (names stripped and lower-cased) and its rows with their line numbers."""

    path: Path
    columns: list[str]
    rows: list[tuple[int, list[str]]]

    def index(self, name: str, required: bool = True) -> int | None:
        if name in self.columns:
            return self.columns.index(name)
        if required:
            raise RawDataError(self.path, f"no column {name!r} (columns: {', '.join(self.columns)})", line=1,
                               hint="MuSe files have a header row; columns are matched by name")
        return None


def read_csv(path: Path) -> CsvTable:
    """A release CSV (UTF-8, optional BOM, LF or CRLF, quoted fields allowed); rows of the wrong width are errors."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_utf8(path, e, hint="the file is corrupt; extract it again") from None
    except OSError as e:
        raise RawDataError(path, f"unreadable text file ({e})", hint="the file is corrupt; extract it again") from None
    lines = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(lines, None)
        if header is None:
            raise RawDataError(path, "empty file (no header row)", hint="the file is truncated; extract it again")
        columns = [name.strip().lower() for name in header]
        rows = []
        for record in lines:
            if not any(field.strip() for field in record):
                continue
            if len(record) != len(columns):
                raise RawDataError(path, f"{len(record)} fields where the header has {len(columns)}",
                                   line=lines.line_num, hint="the line is truncated or has a stray comma")
            rows.append((lines.line_num, record))
    except csv.Error as e:
        raise RawDataError(path, f"malformed CSV ({e})", line=lines.line_num) from None
    return CsvTable(path, columns, rows)


def _missing(text: str) -> bool:
    return text.strip().lower() in MISSING_VALUES


def parse_int(text: str, path, line: int, column: str, optional: bool = False) -> int | None:
    """An integer cell; integral floats ("4750.0") are accepted, empty or NA cells give None when optional."""
    if optional and _missing(text):
        return None
    try:
        value = float(text)
        if value.is_integer():
            return int(value)
    except ValueError:
        pass
    raise RawDataError(path, f"column {column!r}: expected an integer, got {text!r}", line=line,
                       hint="the file is corrupt; extract it again from the package")


def parse_float(text: str, path, line: int, column: str) -> float | None:
    if _missing(text):
        return None
    try:
        return float(text)
    except ValueError:
        raise RawDataError(path, f"column {column!r}: expected a number, got {text!r}", line=line,
                           hint="the file is corrupt; extract it again from the package") from None


def read_partition(path: Path, log: RecordLog) -> dict[int, tuple[str | None, int | None]]:
    """partition.csv → video id -> (split, fold) in id order.

    Splits come from `Proposal` (2020) or a `Partition` column holding split names (2021, toolbox examples);
    fold numbers from a numeric `Partition` column. A video listed twice in the same split is kept once (its
    fold becomes null if the two rows disagree); a video listed in two splits is rejected, and kept with the
    split None so that its files are not reported a second time as unlisted.
    """
    table = read_csv(path)
    entries = parse_partition(table)
    result: dict[int, tuple[str, int | None]] = {}
    lines: dict[int, int] = {}
    rejected: set[int] = set()
    for video_id, split, fold, line in entries:
        if video_id in rejected:
            continue
        if video_id not in result:
            result[video_id], lines[video_id] = (split, fold), line
            continue
        first_split, first_fold = result[video_id]
        if first_split != split:
            result[video_id] = (None, None)
            rejected.add(video_id)
            log.reject(RawDataError(path, f"video {video_id} is listed in two splits ({first_split} on line "
                                    f"{lines[video_id]}, {split})", line=line, record=str(video_id),
                                    hint="keep one line per video"))
            continue
        if first_fold != fold:
            result[video_id] = (split, None)
        log.notice(f"{path.parent.name}/{path.name}: video {video_id} is listed twice (lines {lines[video_id]} "
                   f"and {line})" + ("" if first_fold == fold else f" with folds {first_fold} and {fold} "
                                                                    "(fold set to null)") + "; kept once")
    return dict(sorted(result.items()))


def parse_partition(table: CsvTable) -> list[tuple[int, str, int | None, int]]:
    """(video id, split, fold, line) per row of a partition table, columns matched by name."""
    id_column = table.index("id")
    partition = table.index("partition", required=False)
    split_names = {"train", "devel", "test"}
    if "proposal" in table.columns:
        split_column, fold_column = table.index("proposal"), partition
    elif partition is not None and all(row[partition].strip() in split_names for _, row in table.rows):
        split_column, fold_column = partition, None
    else:
        raise RawDataError(table.path, "no split column: expected `Proposal` or a `Partition` column of "
                                       "train/devel/test", line=1, hint="this is not a MuSe partition.csv")
    entries = []
    for line, row in table.rows:
        split = row[split_column].strip()
        if split not in split_names:
            raise RawDataError(table.path, f"unknown split {split!r} (expected train, devel or test)", line=line)
        video_id = parse_int(row[id_column], table.path, line, "Id")
        fold = parse_int(row[fold_column], table.path, line, "Partition", optional=True) if fold_column is not None \
            else None
        entries.append((video_id, SPLITS[split], fold, line))
    return entries


def check_class_mapping(path: Path, column: str, expected: list[str]) -> None:
    """topic_class_mapping.csv / emotion_class_mapping.csv must name the classes this builder declares."""
    if not path.is_file():
        return
    table = read_csv(path)
    names_at = table.index(column)
    ids_at = table.index("class_id", required=False)
    names = {}
    for position, (line, row) in enumerate(table.rows):
        class_id = parse_int(row[ids_at], path, line, "class_id") if ids_at is not None else position
        names[class_id] = row[names_at].strip()
    if [names.get(i) for i in range(len(names))] != expected:
        raise RawDataError(path, f"classes {names} differ from the release's {expected}",
                           hint="this builder declares the official class names; an edited mapping file would "
                                "silently relabel the data")


def parse_continuous_labels(table: CsvTable) -> dict[int | None, list[tuple[int, float | None, int]]]:
    """label_segments/<dimension>/<vid>.csv → segment id -> [(timestamp, value or None, line)], in file order."""
    timestamp, value, segment = table.index("timestamp"), table.index("value"), table.index("segment_id")
    segments: dict[int | None, list] = {}
    for line, row in table.rows:
        segment_id = parse_int(row[segment], table.path, line, "segment_id", optional=True)
        segments.setdefault(segment_id, []).append(
            (parse_int(row[timestamp], table.path, line, "timestamp"),
             parse_float(row[value], table.path, line, "value"), line))
    return segments


def parse_class_labels(table: CsvTable) -> dict[int, dict]:
    """label_segments/<dimension>/<vid>.csv of MuSe-Topic / MuSe-Sent → segment id -> labels.

    Without a `segment_id` column, row k is segment k + 1 (as the 2021 baseline reads them).
    """
    class_id, segment = table.index("class_id"), table.index("segment_id", required=False)
    start, end, mean = (table.index(name, required=False) for name in ("start", "end", "mean"))
    segments: dict[int, dict] = {}
    for position, (line, row) in enumerate(table.rows):
        segment_id = parse_int(row[segment], table.path, line, "segment_id") if segment is not None else position + 1
        if segment_id in segments:
            raise RawDataError(table.path, f"segment {segment_id} is listed twice", line=line)
        segments[segment_id] = {
            "class_id": parse_int(row[class_id], table.path, line, "class_id", optional=True),
            "start_ms": parse_int(row[start], table.path, line, "start", optional=True) if start is not None else None,
            "end_ms": parse_int(row[end], table.path, line, "end", optional=True) if end is not None else None,
            "mean": parse_float(row[mean], table.path, line, "mean") if mean is not None else None,
            "line": line,
        }
    return segments


def parse_aggregated_topic_labels(table: CsvTable) -> tuple[dict[int, dict[int, dict]], dict[int, int]]:
    """label_segments/aggregated/<split>.csv → (video id -> segment id -> {dimension: class id or None, line},
    video id -> rows repeated).

    The 2020 train.csv repeats, row for row, the segments of the videos partition.csv lists twice: such
    repeats are kept once; a segment repeated with other labels makes the file unusable.
    """
    video, segment = table.index("id"), table.index("segment_id")
    columns = {dim: table.index(f"label_{dim}") for dim in CLASS_DIMENSIONS["topic"]}
    labels: dict[int, dict[int, dict]] = {}
    repeated: dict[int, int] = {}
    for line, row in table.rows:
        video_id = parse_int(row[video], table.path, line, "id")
        segment_id = parse_int(row[segment], table.path, line, "segment_id")
        entry = {dim: parse_int(row[i], table.path, line, f"label_{dim}", optional=True) for dim, i in columns.items()}
        earlier = labels.setdefault(video_id, {}).get(segment_id)
        if earlier is None:
            labels[video_id][segment_id] = {**entry, "line": line}
        elif {dim: earlier[dim] for dim in entry} == entry:
            repeated[video_id] = repeated.get(video_id, 0) + 1
        else:
            raise RawDataError(table.path, f"video {video_id} segment {segment_id} is listed again with other labels "
                               f"(first on line {earlier['line']})", line=line,
                               hint="the aggregated file is corrupt; extract it again from the package")
    return labels, repeated


def merge_continuous_segment(config: str, segment_id, per_dimension: dict) -> dict:
    """One segment's series: the union of the label files' timestamps, each dimension aligned to it."""
    present = {dim: (path, rows) for dim, (path, rows) in per_dimension.items() if rows}
    for dim, (path, rows) in present.items():
        seen = set()
        for timestamp, _, line in rows:
            if timestamp in seen:
                raise RawDataError(path, f"timestamp {timestamp} appears twice in segment {segment_id}", line=line,
                                   hint="the label file is corrupt; extract it again")
            seen.add(timestamp)
    timestamps = sorted({t for _, rows in present.values() for t, _, _ in rows})
    result = {"start_ms": timestamps[0] if timestamps else None, "end_ms": timestamps[-1] if timestamps else None,
              "timestamps_ms": timestamps}
    for dim in CONTINUOUS_DIMENSIONS[config]:
        if dim in present:
            values = {t: v for t, v, _ in present[dim][1]}
            result[dim] = [values.get(t) for t in timestamps]
        else:
            result[dim] = None
    return result


def label_name(path: Path) -> str:
    """A label file as a message names another one: `<dimension>/<video>.csv` (reasons reach the card, which
    must not show where the maintainer keeps the raw data)."""
    return f"{path.parent.name}/{path.name}"


def merge_class_segment(config: str, segment_id, per_dimension: dict, aggregated) -> dict:
    """One segment's class labels from the per-video files, checked against the aggregated file (MuSe-Topic)."""
    classes = CLASS_DIMENSIONS[config]
    bounds = {}
    for dim, (path, entry) in per_dimension.items():
        if entry is None:
            continue
        for key in ("start_ms", "end_ms"):
            if entry[key] is not None and bounds.setdefault(key, (entry[key], path))[0] != entry[key]:
                raise RawDataError(path, f"segment {segment_id}: {key[:-3]} {entry[key]} differs from "
                                   f"{bounds[key][0]} in {label_name(bounds[key][1])}", line=entry["line"],
                                   hint="the label files of one video must describe the same segments")
    result = {"start_ms": bounds.get("start_ms", (None,))[0], "end_ms": bounds.get("end_ms", (None,))[0]}
    aggregated_path, aggregated_segments = aggregated or (None, {})
    summary = aggregated_segments.get(segment_id, {})
    for dim, names in classes.items():
        path, entry = per_dimension.get(dim, (None, None))
        value = entry["class_id"] if entry else None
        from_summary = summary.get(dim)
        if value is not None and from_summary is not None and value != from_summary:
            raise RawDataError(aggregated_path, f"segment {segment_id}: label_{dim} {from_summary} but "
                               f"{label_name(path)} says {value}", line=summary["line"],
                               hint="the aggregated and per-video label files disagree; extract both again")
        value = value if value is not None else from_summary
        if value is not None and not 0 <= value < len(names):
            where, line = (path, entry["line"]) if entry else (aggregated_path, summary["line"])
            raise RawDataError(where, f"segment {segment_id}: {dim} class {value} is not one of 0-{len(names) - 1}",
                               line=line, hint="the label file is corrupt; extract it again from the package")
        result[dim] = value
    if config == "topic":
        for dim in ("arousal", "valence"):
            entry = per_dimension.get(dim, (None, None))[1]
            result[f"{dim}_mean"] = entry["mean"] if entry else None
    return result


def read_transcript(path: Path, segment_id: int) -> list[dict]:
    """transcription_segments/<vid>/<vid>_<seg>.csv → words (columns word, start, end; segment_id checked if given)."""
    table = read_csv(path)
    word, start, end = table.index("word"), table.index("start"), table.index("end")
    segment = table.index("segment_id", required=False)
    words = []
    for line, row in table.rows:
        if segment is not None and parse_int(row[segment], path, line, "segment_id") != segment_id:
            raise RawDataError(path, f"segment_id {row[segment]} in the transcript of segment {segment_id}",
                               line=line, hint="the file name and its segment_id column must agree")
        words.append({"word": row[word], "start_ms": parse_int(row[start], path, line, "start"),
                      "end_ms": parse_int(row[end], path, line, "end")})
    return words


def parse_video_metadata(table: CsvTable) -> dict[int, dict]:
    """metadata/video_metadata.csv → video id -> known fields and other non-empty columns (unnamed columns
    of the release's trailing commas are ignored when empty)."""
    known = ("youtube_id", "channel_id", "gender")
    video = table.index("id")
    speaker = table.index("speaker_id", required=False)
    result = {}
    for line, row in table.rows:
        video_id = parse_int(row[video], table.path, line, "Id")
        entry: dict = {"other": []}
        for position, (column, text) in enumerate(zip(table.columns, row)):
            text = text.strip()
            if position in (video, speaker):
                continue
            if column in known:
                entry[column] = text or None
            elif text:
                entry["other"].append({"name": column or f"column {position + 1}", "value": text})
        if speaker is not None:
            entry["speaker_id"] = parse_int(row[speaker], table.path, line, "Speaker_Id", optional=True)
        result[video_id] = entry
    return result


# ---- media ----------------------------------------------------------------------------------------------------

def check_wav(path: Path) -> bytes:
    """The file's bytes, after checking that soundfile reads its header and that it holds samples."""
    data = path.read_bytes()
    try:
        info = soundfile.info(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError) as e:
        raise RawDataError(path, f"not a readable audio file ({e})", hint="the file is corrupt; extract it again") \
            from None
    if info.frames <= 0:
        raise RawDataError(path, "the audio file holds no samples", hint="the file is truncated; extract it again")
    truncation = wav_truncation(data)
    if truncation:
        raise RawDataError(path, f"truncated audio file: {truncation}", hint="the file was cut short; extract it again")
    return data


def check_mp4(path: Path) -> bytes:
    data = path.read_bytes()
    if data[4:8] != b"ftyp":
        raise RawDataError(path, "not an MP4 file (no ftyp box)", hint="the file is corrupt or not the release's video")
    truncation = mp4_truncation(data)
    if truncation:
        raise RawDataError(path, f"truncated MP4: {truncation}", hint="the file was cut short; extract it again")
    return data


LOSSLESS_FLAC = {"PCM_S8", "PCM_16", "PCM_24"}
NATIVE_DTYPE = {"PCM_S8": "int16", "PCM_16": "int16", "PCM_24": "int32", "PCM_U8": "int16", "PCM_32": "int32"}


def cut_audio(source: soundfile.SoundFile, start_ms: int, end_ms: int, path: Path) -> tuple[bytes, str]:
    """Samples [start_ms, end_ms) of an open audio file, as FLAC (PCM sources) or WAV of the source's subtype.

    Integer samples are read and written in the source's own width, so the cut is lossless. A segment may end
    up to one label step (250 ms) after the file's end; it is cut at the end of the file.
    """
    rate = source.samplerate
    first, last = start_ms * rate // 1000, end_ms * rate // 1000
    duration_ms = source.frames * 1000 // rate
    if end_ms <= start_ms or first >= source.frames or end_ms > duration_ms + 250:
        raise RawDataError(path, f"segment {start_ms}-{end_ms} ms lies outside the audio ({duration_ms} ms)",
                           hint="the audio and the label files do not belong together")
    source.seek(first)
    samples = source.read(min(last, source.frames) - first, dtype=NATIVE_DTYPE.get(source.subtype, "float64"),
                          always_2d=True)
    lossless = source.subtype in LOSSLESS_FLAC
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="FLAC" if lossless else "WAV", subtype=source.subtype)
    return buffer.getvalue(), "flac" if lossless else "wav"


# ---- feature files --------------------------------------------------------------------------------------------

@dataclass
class FeatureTable:
    """One feature file: frame times, segment ids and the feature matrix with its null mask."""

    path: Path
    timestamps: np.ndarray
    ends: np.ndarray | None
    segment_ids: np.ndarray                     # float64, NaN where the file leaves segment_id empty
    values: np.ndarray                          # float32 (frames x dim), NaN where null
    nulls: np.ndarray                           # bool (frames x dim)

    @functools.cached_property
    def segments(self) -> dict:
        """Segment id (None: outside any segment) -> row indices."""
        result = {}
        for value in np.unique(self.segment_ids[~np.isnan(self.segment_ids)]):
            result[int(value)] = np.flatnonzero(self.segment_ids == value)
        outside = np.flatnonzero(np.isnan(self.segment_ids))
        if len(outside):
            result[None] = outside
        return result

    def segment(self, feature: FeatureSet, segment_id) -> dict:
        rows = self.segments[segment_id]
        return {"name": feature.name, "alignment": feature.alignment, "dim": self.values.shape[1],
                "timestamps_ms": self.timestamps[rows], "end_timestamps_ms": None if self.ends is None
                else self.ends[rows], "values": (self.values[rows], self.nulls[rows])}


def read_feature_file(path: Path) -> FeatureTable:
    """feature_segments/.../<vid>.csv: `timestamp` (or `start`, `end`), `segment_id`, then the feature columns."""
    header = read_csv_header(path)
    meta = [c for c in header if c.strip().lower() in FEATURE_META_COLUMNS]
    types = {c: pa.float64() if c in meta else pa.float32() for c in header}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=["", "NA", "NaN", "nan", "None", "null"], strings_can_be_null=True))
    except (pa.ArrowInvalid, OSError) as e:
        raise RawDataError(path, f"unreadable feature file ({e})".replace("\n", " "),
                           hint="every cell after the meta columns must be a number or empty") from None
    by_name = {c.strip().lower(): table.column(c) for c in meta}
    time_column = by_name.get("timestamp") or by_name.get("start")
    if time_column is None or "segment_id" not in by_name:
        raise RawDataError(path, f"needs `timestamp` (or `start`) and `segment_id` columns, has {header[:4]}...",
                           line=1, hint="MuSe feature files start with their meta columns")
    features = [table.column(c) for c in header if c not in meta]
    values = np.column_stack([c.to_numpy(zero_copy_only=False) for c in features]).astype(np.float32) \
        if features else np.zeros((table.num_rows, 0), np.float32)
    nulls = np.column_stack([c.is_null().to_numpy(zero_copy_only=False) for c in features]) \
        if features else np.zeros((table.num_rows, 0), bool)
    ends = by_name.get("end") if "timestamp" not in by_name else None
    return FeatureTable(path, _integral(time_column, path, "timestamp"),
                        _integral(ends, path, "end") if ends is not None else None,
                        by_name["segment_id"].to_numpy(zero_copy_only=False).astype(np.float64),
                        values, nulls)


def read_csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RawDataError(path, f"unreadable header row ({e})", line=1,
                           hint="the file is corrupt; extract it again") from None
    if not header:
        raise RawDataError(path, "empty file (no header row)", hint="the file is truncated; extract it again")
    return header


def _integral(column: pa.ChunkedArray, path: Path, name: str) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(np.isnan(values) | (values != np.round(values)))
    if len(bad):
        raise RawDataError(path, f"column {name!r}: expected integer milliseconds, got {values[bad[0]]!r}",
                           line=int(bad[0]) + 2, hint="the file is corrupt; extract it again")
    return values.astype(np.int32)


# ---- row and table assembly ----------------------------------------------------------------------------------

def _media_bytes(row: dict) -> int:
    return sum(len(row[k]["bytes"]) for k in ("audio", "video") if row.get(k))


def _feature_row_values(row: dict) -> int:
    return sum(entry["values"][0].size for entry in row["feature_sets"])


def _batched_by(rows, limit: int, size_of, max_rows: int | None = None) -> Iterator[list[dict]]:
    """Rows in batches closed once they hold `limit` units (bytes, values) or `max_rows` rows."""
    batch, total = [], 0
    for row in rows:
        batch.append(row)
        total += size_of(row)
        if total >= limit or (max_rows and len(batch) >= max_rows):
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _offsets(lengths) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32), pa.int32())


def feature_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows of the features config straight into Arrow: the matrices never become Python lists."""
    entries = [entry for row in rows for entry in row["feature_sets"]]
    set_type = schema.field("feature_sets").type.value_type
    frames = [entry["timestamps_ms"] for entry in entries]
    matrices = [entry["values"][0] for entry in entries]
    flat = np.concatenate([m.reshape(-1) for m in matrices]) if matrices else np.zeros(0, np.float32)
    mask = np.concatenate([entry["values"][1].reshape(-1) for entry in entries]) if entries else np.zeros(0, bool)
    frame_values = pa.ListArray.from_arrays(
        _offsets([entry["dim"] for entry in entries for _ in range(len(entry["timestamps_ms"]))]),
        pa.array(flat, pa.float32(), mask=mask))
    ends = [entry["end_timestamps_ms"] for entry in entries]
    set_arrays = {
        "name": pa.array([entry["name"] for entry in entries], pa.string()),
        "alignment": pa.array([entry["alignment"] for entry in entries], pa.string()),
        "dim": pa.array([entry["dim"] for entry in entries], pa.int32()),
        "timestamps_ms": pa.ListArray.from_arrays(_offsets([len(f) for f in frames]),
                                                  pa.array(np.concatenate(frames) if frames else [], pa.int32())),
        "end_timestamps_ms": pa.ListArray.from_arrays(
            _offsets([0 if e is None else len(e) for e in ends]),
            pa.array(np.concatenate([e for e in ends if e is not None] or [np.zeros(0, np.int32)]), pa.int32()),
            mask=pa.array([e is None for e in ends], pa.bool_())),
        "values": pa.ListArray.from_arrays(_offsets([len(f) for f in frames]), frame_values),
    }
    sets = pa.StructArray.from_arrays([set_arrays[field.name].cast(field.type) for field in set_type],
                                      fields=list(set_type))
    columns = {name: pa.array([row[name] for row in rows], schema.field(name).type)
               for name in ("video_id", "segment_id", "package", "fold")}
    columns["feature_sets"] = pa.ListArray.from_arrays(_offsets([len(row["feature_sets"]) for row in rows]), sets)
    return pa.Table.from_arrays([columns[name].cast(schema.field(name).type) for name in schema.names], schema=schema)
