"""MuSe-CaR: YouTube car reviews with continuous emotion and trust signals, topics, transcripts and features.

There is no single MuSe-CaR release: what EULA signatories receive are the challenge packages of
MuSe 2020 and MuSe 2021, each a tree of comma-separated files (times in integer milliseconds):

- MuSe 2020 (`c1_muse_wild`, `c2_muse_topic`, `c3_muse_trust`, with a shared `metadata/` folder holding
  partition.csv, the class mappings and video_metadata.csv; a separate raw archive adds the normalised
  full-length audio `audio_norm/<vid>.wav` and the videos `video/<vid>.mp4`);
- MuSe 2021 (`c1_muse_wilder`, `c2_muse_sent`, each with its own `metadata/partition.csv`). The organisers'
  2021 tree keeps the Ulm-TSST packages `c3_muse_stress` and `c4_muse_physio` beside them, with partitions of
  their own that number recordings with small integers as MuSe-CaR numbers its videos: those folders, and the
  other datasets of MuSe 2022, are never searched.

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
from typing import ClassVar, Iterator

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from datasets import Audio, ClassLabel, Value, Video

from .core import ExcludeBy, MMConfig, MultimodalBuilder, RawPart, batched, group_by_size
from .errors import RawDataError, RecordLog, not_utf8
from .media import MediaError
from .media.audio import cut_audio, open_audio, probe_audio, wav_truncation
from .media.video import first_box, mp4_truncation


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
OTHER_DATASET_FOLDERS = {
    # the organisers' 2021 baseline (lstappen/MuSe2021 config.py) keeps these beside c1/c2 in one data folder
    "c3_muse_stress": "Ulm-TSST (MuSe 2021 MuSe-Stress package): another dataset, not MuSe-CaR; its partition.csv "
                      "uses ids of its own",
    "c4_muse_physio": "Ulm-TSST (MuSe 2021 MuSe-Physio package): another dataset, not MuSe-CaR; its partition.csv "
                      "uses ids of its own",
    # name seen only in a participant's paths (MUSE2021/data/raw-data-ulm-tsst/...)
    "raw-data-ulm-tsst": "Ulm-TSST raw data (MuSe 2021): another dataset, not MuSe-CaR",
    # EIHW/MuSe2022 config.py: the 2022 packages, none of them MuSe-CaR
    "c3_muse_stress_2022": "Ulm-TSST (MuSe 2022 MuSe-Stress package): another dataset, not MuSe-CaR",
    "c1_muse_humor": "Passau-SFCH (MuSe 2022 MuSe-Humor package): another dataset, not MuSe-CaR",
    "c2_muse_reaction": "Hume-Reaction (MuSe 2022 MuSe-Reaction package): another dataset, not MuSe-CaR",
}
"""Challenge folders of other datasets that sit beside the MuSe-CaR packages: never searched (their metadata/ and
partition.csv must not give MuSe-CaR its splits), listed by the build as not read, with this reason."""
TASK_CONTENT = ("label_segments", "feature_segments", "transcription_segments", "audio_segments", "metadata")
PACKAGE_PREFERENCE = ("MuSe2021", "MuSe2020")
"""When both years ship a task (MuSe-Wild and MuSe-Wilder), the 2021 package, with its re-fused labels, is used."""
SEARCH_DEPTH = 5
LABEL_STEP_MS = 250
CONTINUOUS_DIMENSIONS = {"wild": ("arousal", "valence"), "trust": ("trustworthiness", "arousal", "valence")}
CLASS_DIMENSIONS = {"topic": {"topic": TOPIC_CLASSES, "arousal": EMOTION_CLASSES, "valence": EMOTION_CLASSES},
                    "sent": {"arousal": SENT_CLASSES, "valence": SENT_CLASSES}}
FEATURE_META_COLUMNS = ("timestamp", "start", "end", "segment_id")
CONTINUOUS_COLUMNS = {"timestamp", "value", "segment_id"}
CLASS_COLUMNS = {"topic": {"start", "end", "segment_id", "class_id", "mean"},
                 "sent": {"start", "end", "segment_id", "class_id"}}
TRANSCRIPT_COLUMNS = {"word", "start", "end", "segment_id"}
AGGREGATED_TOPIC_COLUMNS = {"id", "segment_id", "label_arousal", "label_valence", "label_topic"}
PARTITION_COLUMNS = {"id", "partition", "proposal"}
VIDEO_METADATA_COLUMNS = {"id", "youtube_id", "channel_id", "speaker_id", "gender"}
PARTITION_FILE = "metadata/partition.csv"
"""How rows name the partition file their other columns come from (MuSe 2020 and 2021 both keep it in metadata/)."""
MISSING_VALUES = ("", "na", "nan", "none", "null")
CSV_FIELD_LIMIT = 2**31 - 1
"""Fields of any length are read: the csv module's limit is process-wide, and nmb_plus needs long fields."""
csv.field_size_limit(CSV_FIELD_LIMIT)

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
OTHER_COLUMNS = ([{
    "file": (Value("string"), "The file the column is in, relative to the task folder (e.g. "
                              "`label_segments/arousal/3.csv`), or `metadata/partition.csv`."),
    "column": (Value("string"), "The column's header as written (`column N` when it has no name)."),
    "values": ([Value("string")], "Its cells as written, one per row of the file that belongs to this segment (the "
                                  "video's row for partition.csv), in file order."),
}], "Columns of the release's CSV files that this builder does not map to a field, kept as text (each is also "
    "counted in a build notice); empty when every column is mapped.")


def _segment_audio(span: str):
    return (Audio(), "The segment's audio: audio_segments/<vid>/<vid>_<seg>.wav byte for byte when the package ships "
                     f"it; otherwise cut from audio_norm/<vid>.wav {span}, its samples as the file holds them, as a WAV "
                     "file (path `<vid>_<seg>_<from>-<to>ms.wav`); null when neither exists.")


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
        "other_columns": OTHER_COLUMNS,
    }


AROUSAL_DOC = "Continuous arousal gold standard in [-1, 1]."
VALENCE_DOC = "Continuous valence gold standard in [-1, 1]."
WILDER_FIELDS = _continuous_fields({"arousal": AROUSAL_DOC, "valence": VALENCE_DOC})
TRUST_FIELDS = _continuous_fields({"trustworthiness": "Continuous trustworthiness gold standard in [-1, 1].",
                                   "arousal": AROUSAL_DOC, "valence": VALENCE_DOC})


def _class_fields(labels: dict) -> dict:
    return {"video_id": VIDEO_ID, "segment_id": SEGMENT_ID, "package": PACKAGE, "fold": FOLD,
            "start_ms": START, "end_ms": END, **labels, "transcript": TRANSCRIPT,
            "audio": _segment_audio("from start_ms to end_ms"), "other_columns": OTHER_COLUMNS}


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
    "other_columns": (OTHER_COLUMNS[0], "Columns of the task's partition.csv that this builder does not map to a "
                                        "field, kept as text (every column of a feature file is a feature); empty "
                                        "when every column is mapped."),
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
    }], "Further non-empty columns of video_metadata.csv (named as in its header) and of partition.csv (named "
        "`partition.csv:<column>`), as strings."),
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


@dataclass
class MuSeCaRConfig(MMConfig):
    """A config, with what its rows are (`rows`) and, for segment rows, which task folder they come from (`task`)."""

    rows: str = "segments"
    """`segments`: one row per segment of the `task` folder (labels, transcript, audio); `features`: one row per
    segment of every task folder that ships feature_segments/; `videos`: one row per video of the partition."""
    task: str | None = None
    """The task role (a TASK_FOLDERS role: wild, trust, topic, sent) a `segments` config reads; it also keys the
    label dimensions and columns of that task. None for the other row kinds."""


VERSION = datasets.Version("1.0.0")
CONFIGS = [
    MuSeCaRConfig(name="wilder", version=VERSION, fields=WILDER_FIELDS, requires=("wild",), task="wild",
                  description="One row per segment: continuous arousal and valence at 4 Hz, transcript and audio "
                              "(MuSe-Wilder 2021, else MuSe-Wild 2020)."),
    MuSeCaRConfig(name="trust", version=VERSION, fields=TRUST_FIELDS, requires=("trust",), task="trust",
                  description="One row per segment: continuous trustworthiness, arousal and valence at 4 Hz, "
                              "transcript and audio (MuSe-Trust 2020)."),
    MuSeCaRConfig(name="topic", version=VERSION, fields=TOPIC_FIELDS, requires=("topic",), task="topic",
                  description="One row per segment: topic (10 classes) and 3-class arousal and valence, transcript "
                              "and audio (MuSe-Topic 2020)."),
    MuSeCaRConfig(name="sent", version=VERSION, fields=SENT_FIELDS, requires=("sent",), task="sent",
                  description="One row per segment: 5-class arousal and valence, transcript and audio (MuSe-Sent "
                              "2021)."),
    MuSeCaRConfig(name="features", version=VERSION, fields=FEATURES_FIELDS, requires=("features",), rows="features",
                  description="One row per task folder and segment: every shipped feature set as a float32 matrix "
                              "with its frame times."),
    MuSeCaRConfig(name="videos", version=VERSION, fields=VIDEOS_FIELDS, requires=("partition",), rows="videos",
                  description="One row per video: YouTube metadata, full-length video and normalised audio when "
                              "present."),
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
    partition_columns: tuple[tuple[int, tuple[tuple[str, str], ...]], ...] = ()
    """(video id, ((column, value), ...)) for the videos whose partition.csv row has columns no field maps."""


def _anywhere(path: str) -> tuple[str, str]:
    """Patterns matching a folder path at the top of the data directory or below any folder."""
    return path, "*/" + path


MUSE_WILD_2020 = ("MuSe-Wild 2020 (c1_muse_wild): read by the wilder config only when no MuSe-Wilder 2021 package "
                  "is present (its re-fused labels are preferred)")
MUSE_WILD_2020_LABELS = MUSE_WILD_2020 + "; its raw_annotations/ and aggregated/ are never read"


class MuSeCaR(MultimodalBuilder):
    NAME = "musecar"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIG_CLASS = MuSeCaRConfig
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "topic"
    EXCLUDABLE = {"video_id": ExcludeBy("video_id"), "youtube_id": ExcludeBy("youtube_id")}
    BATCH_BYTES = 16 * 2**20
    """Segment and video rows carry audio and video of very different sizes (see `row_bytes`). Since segments are
    cut as WAV, writing the Parquet sets the pace, and up to five batches are in flight (rows, their table, two
    queued, one being written): with 64 MiB batches the 1,000-video bench tree's `topic` held 434 MiB at its
    peak (1.21x its tenth's), with 16 MiB 297-299 (1.07x) and a third of the system time."""
    FEATURE_BATCH_VALUES: ClassVar[int] = 16 * 2**20
    """Feature rows are batched by the number of feature values they hold instead (see `shard_tables`)."""
    NOT_READ = (
        *((f"{name}/", reason) for name, reason in OTHER_DATASET_FOLDERS.items()),
        ("raw_annotations/", "MuSe 2020 per-annotator ratings before fusion: this build carries the fused gold "
                             "standards only"),
        ("annotator_id_mapping.json", "annotator ids of the MuSe 2020 raw annotations, which this build does not read"),
        *((pattern, "the per-video label files of a split in one table (id, timestamp, label_*): the per-video files "
                    "are read instead (the two are not compared)")
          for task in ("c1_muse_wild", "c3_muse_trust") for pattern in _anywhere(f"{task}/label_segments/aggregated/")),
        *((pattern, MUSE_WILD_2020_LABELS) for pattern in _anywhere("c1_muse_wild/label_segments/")),
        *((pattern, MUSE_WILD_2020) for folder in ("transcription_segments", "audio_segments")
          for pattern in _anywhere(f"c1_muse_wild/{folder}/")),
    )

    def locate_raw(self, data_dir: Path) -> dict:
        return discover(data_dir)

    def input_files(self) -> list[Path]:
        rows = self.config.rows
        paths = [p for task in self._tasks() for p in (task.partition, task.path)]
        if (rows == "videos" or self.config.task == "topic") and self.raw["metadata"]:
            paths.append(self.raw["metadata"])
        if rows == "videos":
            paths += [self.raw["partition"], *self.raw["video_dirs"]]
        if rows != "features" and self.raw["audio_norm"]:
            paths.append(self.raw["audio_norm"])
        return sorted({p for p in paths if p is not None})

    def read_paths(self) -> list[Path]:
        """The files this config reads or rejects (and the empty video folders it looks into), with each folder
        whose every entry is among them given as the folder: anything else in the data directory is reported as
        not read. Nothing is parsed here."""
        rows, metadata = self.config.rows, self.raw["metadata"]
        read: set[Path] = set()
        if rows == "videos":
            read |= {p for p in (self.raw["partition"], metadata and metadata / "video_metadata.csv") if p}
            if self.raw["audio_norm"]:
                read |= set(_numbered_files(self.raw["audio_norm"], ".wav").values())
            for folder in self.raw["video_dirs"]:
                read |= set(_numbered_files(folder, ".mp4").values())
        for task in self._tasks():
            read |= {task.partition} if task.partition else set()
            if rows == "features":
                read |= {p for feature in feature_sets(task.path)
                         for p in _numbered_files(feature.folder, ".csv").values()}
            else:
                read |= self._task_paths(task)
        if self.config.task == "topic" and metadata:
            read |= {metadata / f"{kind}_class_mapping.csv" for kind in ("topic", "emotion")}
        return _compact({p for p in read if p.exists()}, self.data_dir)

    def _task_paths(self, task: TaskFolder) -> set[Path]:
        """The files of a task folder a segment config reads: label, transcript and segment audio files, the
        normalised audio of their videos, and empty transcript or audio folders of a video."""
        paths: set[Path] = set()
        videos: set[int] = set()
        for dimension in self._label_dimensions():
            files = _numbered_files(task.path / "label_segments" / dimension, ".csv")
            paths |= set(files.values())
            videos |= set(files)
        if self.config.task == "topic":
            paths |= {task.path / "label_segments" / "aggregated" / f"{split}.csv" for split in SPLITS}
        for folder, suffix in (("transcription_segments", ".csv"), ("audio_segments", ".wav")):
            for video_id, video_folder in _numbered_dirs(task.path / folder).items():
                files = _segment_files(video_folder, suffix)
                paths |= set(files.values()) if files or any(video_folder.iterdir()) else {video_folder}
                videos.add(video_id)
        return paths | {path for path in map(self._audio_norm, videos) if path}

    def _tasks(self) -> list[TaskFolder]:
        """The task folders this config reads (every one with features for `features`, none for `videos`)."""
        if self.config.rows == "features":
            return list(self.raw["features"] or ())
        if self.config.rows == "videos" or self.raw[self.config.task] is None:
            return []
        return [self.raw[self.config.task]]

    def _task(self, label: str) -> TaskFolder:
        return next(task for task in self._tasks() if task.label == label)

    def _audio_norm(self, video_id: int) -> Path | None:
        path = self.raw["audio_norm"] / f"{video_id}.wav" if self.raw["audio_norm"] else None
        return path if path and path.is_file() else None

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[VideoShard]]:
        if self.config.rows == "videos":
            return self._video_shards(log)
        return self._task_shards(log)

    def _video_shards(self, log: RecordLog) -> dict[str, list[VideoShard]]:
        """The videos of the package's partition, per split (checked against the media files and the metadata)."""
        self._check_video_metadata(log)
        for folder in self.raw["foreign_metadata"]:
            log.notice(f"{self.relative(folder / 'partition.csv')} is not part of a MuSe-CaR package (not next "
                       "to a MuSe 2020 task folder or its raw archive, nor inside a MuSe 2021 task folder): not "
                       "read, splits come from the MuSe-CaR packages only")
        partition = read_partition(self.raw["partition"], log)
        _reject_unlisted(self._media_files(), partition, self.relative(self.raw["partition"]), log)
        described_only = sorted(set(self.video_metadata) - set(partition))
        if described_only:
            log.notice(f"video_metadata.csv describes {len(described_only)} videos that "
                       f"{self.relative(self.raw['partition'])} does not list ({', '.join(map(str, described_only))}); "
                       "without a split they are not in the videos config")
        others = self._partition_columns(self.raw["partition"], log, "other_metadata")
        return self._group_shards("", partition, self._video_bytes, others)

    def _task_shards(self, log: RecordLog) -> dict[str, list[VideoShard]]:
        """The videos each task folder has data for, per split of the folder's partition."""
        self._check_shared_files(log)
        shards: dict[str, list[VideoShard]] = {}
        for task in self._tasks():
            if task.partition is None:
                raise RawDataError(task.path, "no partition.csv for this task folder",
                                   hint="MuSe 2020 keeps it in metadata/ next to the task folders, MuSe 2021 in "
                                        "<task>/metadata/; copy it from the package")
            if task.package == "MuSe2021" and task.partition != task.path / PARTITION_FILE:
                log.notice(f"{task.label} has no {PARTITION_FILE}: its splits are taken from "
                           f"{self.relative(task.partition)} (MuSe 2020)")
            partition, files = read_partition(task.partition, log), self._video_files(task)
            _reject_unlisted(files, partition, self.relative(task.partition), log)
            with_files = {vid: assignment for vid, assignment in partition.items() if vid in files}
            others = self._partition_columns(task.partition, log, "other_columns")
            for split, items in self._group_shards(task.label, with_files, self._task_video_bytes(task),
                                                   others).items():
                shards.setdefault(split, []).extend(items)
        return shards

    def _group_shards(self, task: str, partition: dict[int, tuple[str, int | None]], size_of,
                      partition_columns: dict[int, tuple]) -> dict[str, list[VideoShard]]:
        """Videos per split, in id order, grouped into shards of about SHARD_BYTES raw bytes (`size_of` a video);
        a split without videos has no entry."""
        shards: dict[str, list[VideoShard]] = {}
        for split in SPLITS.values():
            videos = [(video_id, fold) for video_id, (video_split, fold) in partition.items() if video_split == split]
            for group in group_by_size(videos, lambda video: size_of(video[0]), self.SHARD_BYTES):
                shards.setdefault(split, []).append(VideoShard(task, tuple(group), tuple(
                    (video_id, partition_columns[video_id]) for video_id, _ in group if video_id in partition_columns)))
        return shards

    def _partition_columns(self, path: Path, log: RecordLog, field_name: str) -> dict[int, tuple]:
        """The partition's columns no field maps, per video (announced in a notice)."""
        columns, per_video = partition_other_columns(read_csv(path))
        if columns:
            log.notice(f"{self.relative(path)}: {_columns(columns)} not mapped to a field; kept in {field_name}")
        return per_video

    def _check_video_metadata(self, log: RecordLog) -> None:
        """A corrupt video_metadata.csv stops the build before any job starts; columns no field maps are announced."""
        self.video_metadata  # parsed now: a corrupt file stops the build here
        path = self.raw["metadata"] / "video_metadata.csv" if self.raw["metadata"] else None
        if path and path.is_file():
            unmapped = read_csv(path).unmapped(VIDEO_METADATA_COLUMNS)
            if unmapped:
                log.notice(f"video_metadata.csv: {_columns(name for _, name in unmapped)} not mapped to a field; "
                           "kept in other_metadata")

    def _check_shared_files(self, log: RecordLog) -> None:
        """Files shared by every video of a task are checked before any job starts."""
        if self.config.task == "wild" and self.raw["wild_alternative"] is not None:
            log.notice(f"both {self.raw['wild'].label} and {self.raw['wild_alternative'].label} found; the "
                       f"wilder config reads {self.raw['wild'].label} (the features config reads both)")
        if self.config.task == "topic":
            # parsed now: a corrupt aggregated file stops the build here
            for path, repeated in self.aggregated_topic_labels[1].items():
                log.notice(f"{self.relative(path)}: {sum(repeated.values())} rows repeat earlier rows of videos "
                           f"{', '.join(map(str, sorted(repeated)))}; kept once")
            for path, columns in self.aggregated_topic_labels[2].items():
                log.notice(f"{self.relative(path)}: {_columns(columns)} not mapped to a field; kept in other_columns")
            if self.raw["metadata"] is not None:
                check_class_mapping(self.raw["metadata"] / "topic_class_mapping.csv", "topic", TOPIC_CLASSES)
                check_class_mapping(self.raw["metadata"] / "emotion_class_mapping.csv", "emotion", EMOTION_CLASSES)

    def _video_files(self, task: TaskFolder) -> dict[int, Path]:
        """Every video the task folder has data for, with one of its files (for messages)."""
        found: dict[int, Path] = {}
        if self.config.rows == "features":
            for feature in feature_sets(task.path):
                found.update({vid: path for vid, path in _numbered_files(feature.folder, ".csv").items()
                              if vid not in found})
            return found
        for dimension in self._label_dimensions():
            found.update(_numbered_files(task.path / "label_segments" / dimension, ".csv"))
        for folder in ("transcription_segments", "audio_segments"):
            found.update({vid: path for vid, path in _numbered_dirs(task.path / folder).items() if vid not in found})
        if self.config.task == "topic":
            found.update({vid: path for vid, (path, _) in self.aggregated_topic_labels[0].items() if vid not in found})
        return found

    def _media_files(self) -> dict[int, Path]:
        found = _numbered_files(self.raw["audio_norm"], ".wav") if self.raw["audio_norm"] else {}
        for folder in self.raw["video_dirs"]:
            found.update({vid: path for vid, path in _numbered_files(folder, ".mp4").items() if vid not in found})
        return found

    def _label_dimensions(self) -> tuple[str, ...]:
        task = self.config.task
        return CONTINUOUS_DIMENSIONS[task] if task in CONTINUOUS_DIMENSIONS else tuple(CLASS_DIMENSIONS[task])

    def _task_video_bytes(self, task: TaskFolder):
        """Raw bytes a video of the task makes the shard job read (what shards are balanced on)."""
        sets = feature_sets(task.path)

        def size(video_id: int) -> int:
            if self.config.rows == "features":
                return sum(_size(f.folder / f"{video_id}.csv") for f in sets)
            segments = task.path / "audio_segments" / str(video_id)
            wavs = sum(_size(p) for p in segments.iterdir()) if segments.is_dir() else 0
            return wavs + _size(self._audio_norm(video_id))
        return size

    def _video_bytes(self, video_id: int) -> int:
        return _size(self._audio_norm(video_id)) + _size(find_video_file(self.raw["video_dirs"], video_id))

    # ---- shared files, read once per builder -------------------------------------------------------------

    @functools.cached_property
    def aggregated_topic_labels(self) -> tuple[dict[int, tuple[Path, dict[int, dict]]], dict[Path, dict[int, int]],
                                               dict[Path, list[str]]]:
        """(video id -> (file, segment labels), file -> repeated rows per video, file -> columns no field maps)
        of the aggregated files."""
        folder = self.raw["topic"].path / "label_segments" / "aggregated"
        labels: dict[int, tuple[Path, dict[int, dict]]] = {}
        repeats: dict[Path, dict[int, int]] = {}
        unmapped: dict[Path, list[str]] = {}
        for split in SPLITS:
            path = folder / f"{split}.csv"
            if path.is_file():
                table = read_csv(path)
                per_video, repeated = parse_aggregated_topic_labels(table)
                for video_id, segments in per_video.items():
                    labels.setdefault(video_id, (path, {}))[1].update(segments)
                if repeated:
                    repeats[path] = repeated
                if table.unmapped(AGGREGATED_TOPIC_COLUMNS):
                    unmapped[path] = [name for _, name in table.unmapped(AGGREGATED_TOPIC_COLUMNS)]
        return labels, repeats, unmapped

    @functools.cached_property
    def video_metadata(self) -> dict[int, dict]:
        path = self.raw["metadata"] / "video_metadata.csv" if self.raw["metadata"] else None
        return parse_video_metadata(read_csv(path)) if path and path.is_file() else {}

    # ---- rows and tables ----------------------------------------------------------------------------------

    def shard_tables(self, shard: VideoShard, log: RecordLog) -> Iterator[pa.Table]:
        """Feature rows are assembled column-wise (`feature_table`: their matrices never become Python lists), in
        batches closed at FEATURE_BATCH_VALUES feature values; segment and video rows are batched by the base
        builder (ROWS_PER_BATCH rows or BATCH_BYTES of media)."""
        if self.config.rows != "features":
            yield from super().shard_tables(shard, log)
            return
        schema = self.info.features.arrow_schema
        for rows in batched(self.shard_rows(shard, log), None, self.FEATURE_BATCH_VALUES, _feature_values):
            yield feature_table(rows, schema)

    def row_bytes(self, row: dict) -> int:
        """A segment or video row weighs its audio and video bytes."""
        return sum(len(row[key]["bytes"]) for key in ("audio", "video") if row.get(key))

    def shard_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        """The shard's rows of the config's kind (feature rows hold numpy matrices: only `feature_table` takes them)."""
        rows_of = {"segments": self._segment_rows, "features": self._feature_rows, "videos": self._video_rows}
        return rows_of[self.config.rows](shard, log)

    def _segment_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        task = self._task(shard.task)
        partition_columns = dict(shard.partition_columns)
        for video_id, fold in shard.videos:
            from_partition = _partition_other_columns(partition_columns.get(video_id, ()))
            with self._read_video(task, video_id, log) as video:
                segments = video.segment_ids()
                if video.broken and not segments:  # no other file tells its segments: the video is the record
                    log.reject_record(video.broken[0], video.broken[0].path, f"video {video_id}")
                for segment_id in segments:
                    row = log.convert(video.label_file(segment_id), f"{video_id}_{segment_id}", video.segment_row,
                                      segment_id)
                    if row is not None:
                        yield {"video_id": video_id, "segment_id": segment_id, "package": task.label, "fold": fold,
                               **row, "other_columns": row["other_columns"] + from_partition}

    def _read_video(self, task: TaskFolder, video_id: int, log: RecordLog) -> "VideoSegments":
        role = self.config.task
        continuous = role in CONTINUOUS_DIMENSIONS
        labels, broken = {}, []
        known = CONTINUOUS_COLUMNS if continuous else CLASS_COLUMNS[role]
        for dimension in self._label_dimensions():
            path = task.path / "label_segments" / dimension / f"{video_id}.csv"
            if path.is_file():
                try:
                    table = read_csv(path)
                    labels[dimension] = LabelFile(path, table, parse_continuous_labels(table)
                                                  if continuous else parse_class_labels(table),
                                                  table.unmapped(known))
                except RawDataError as error:
                    broken.append(error)
                    continue
                _announce_unmapped(log, f"{task.label}/label_segments/{dimension}", labels[dimension].unmapped)
        aggregated = self.aggregated_topic_labels[0].get(video_id) if role == "topic" else None
        return VideoSegments(task, video_id, role, labels, aggregated, self._audio_norm(video_id), broken, log)

    def _video_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        partition_columns = dict(shard.partition_columns)
        for video_id, fold in shard.videos:
            row = log.convert(self.raw["partition"], f"video {video_id}", self._video_row, video_id, fold,
                              partition_columns.get(video_id, ()))
            if row is not None:
                yield row

    def _video_row(self, video_id: int, fold: int | None, partition_columns) -> dict:
        metadata = self.video_metadata.get(video_id, {})
        video, audio = find_video_file(self.raw["video_dirs"], video_id), self._audio_norm(video_id)
        other = metadata.get("other", []) + [{"name": f"partition.csv:{column}", "value": value}
                                             for column, value in partition_columns if value.strip()]
        return {"video_id": video_id, "fold": fold, "youtube_id": metadata.get("youtube_id"),
                "channel_id": metadata.get("channel_id"), "speaker_id": metadata.get("speaker_id"),
                "gender": metadata.get("gender"), "other_metadata": other,
                "video": {"bytes": check_mp4(video), "path": video.name} if video else None,
                "audio": {"bytes": check_wav(audio), "path": audio.name} if audio else None}

    def _feature_rows(self, shard: VideoShard, log: RecordLog) -> Iterator[dict]:
        """One row per segment that any of the video's feature files names."""
        task = self._task(shard.task)
        sets = feature_sets(task.path)
        partition_columns = dict(shard.partition_columns)
        for video_id, fold in shard.videos:
            from_partition = _partition_other_columns(partition_columns.get(video_id, ()))
            files, broken = [], []
            for feature in (f for f in sets if (f.folder / f"{video_id}.csv").is_file()):
                try:
                    files.append((feature, read_feature_file(feature.folder / f"{video_id}.csv")))
                except RawDataError as error:
                    broken.append(error)
            segments = _ordered({s for _, table in files for s in table.segments})
            if broken and not segments:  # no other feature file tells its segments: the video is the record
                log.reject_record(broken[0], broken[0].path, f"video {video_id}")
            for segment_id in segments:
                segment_sets = log.convert(files[0][0].folder / f"{video_id}.csv", f"{video_id}_{segment_id}",
                                           segment_feature_sets, files, broken, segment_id)
                if segment_sets is not None:
                    yield {"video_id": video_id, "segment_id": segment_id, "package": task.label, "fold": fold,
                           "feature_sets": segment_sets, "other_columns": from_partition}


# ---- finding the packages ----------------------------------------------------------------------------------

def discover(data_dir: Path) -> dict:
    """The task folders, metadata, raw audio and videos found under data_dir (breadth first, names sorted).

    Other datasets' challenge folders (OTHER_DATASET_FOLDERS) are not searched, and a metadata/partition.csv is
    used only where a MuSe-CaR package keeps it: inside a MuSe 2021 task folder, next to the MuSe 2020 task
    folders, or in the MuSe 2020 raw archive. Any other one is listed in `foreign_metadata`.
    """
    tasks: dict[str, Path] = {}
    metadata_dirs, media_dirs, audio_norm = [], [], None
    frontier = [data_dir]
    for _ in range(SEARCH_DEPTH):
        deeper = []
        for folder in frontier:
            for child in sorted((c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")),
                                key=lambda c: c.name):
                if child.name in OTHER_DATASET_FOLDERS:
                    continue
                if child.name in TASK_FOLDERS:
                    tasks.setdefault(child.name, _unnested(child))
                elif child.name == "audio_norm":
                    audio_norm = audio_norm or child
                    media_dirs.append(child)
                elif child.name in ("video", "videos"):
                    media_dirs.append(child)
                elif child.name == "metadata" and (child / "partition.csv").is_file():
                    metadata_dirs.append(child)
                else:
                    deeper.append(child)
        frontier = deeper
    metadata = _package_metadata(tasks, metadata_dirs, media_dirs)
    video_dirs = [d for d in media_dirs if d.name != "audio_norm"]
    found = {role: [] for role in ("wild", "topic", "trust", "sent")}
    for name, path in sorted(tasks.items()):
        package, role = TASK_FOLDERS[name]
        own = path / PARTITION_FILE
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
        "foreign_metadata": tuple(m for m in metadata_dirs if m != metadata),
        "partition": metadata / "partition.csv" if metadata else first_partition,
        "audio_norm": audio_norm,
        "video_dirs": tuple(video_dirs),
    }


def _unnested(folder: Path) -> Path:
    """A task folder, or the folder of the same name inside it when an archive was extracted into a folder of its
    own name (c4_muse_physio/c4_muse_physio/ is seen in participants' trees) and the outer one holds no task data."""
    inner = folder / folder.name
    if inner.is_dir() and not any((folder / part).exists() for part in TASK_CONTENT):
        return inner
    return folder


def _package_metadata(tasks: dict[str, Path], metadata_dirs: list[Path], media_dirs: list[Path]) -> Path | None:
    """The MuSe 2020 metadata/ folder: the one next to a 2020 task folder, else the raw archive's (next to
    audio_norm/ or video/, or <root>/raw/metadata/ beside <root>/processed_tasks/); None when neither exists."""
    next_to_tasks = [path.parent / "metadata" for name, path in sorted(tasks.items())
                     if TASK_FOLDERS[name][0] == "MuSe2020"]
    in_raw_archive = [d.parent / "metadata" for d in media_dirs] + [p.parent.parent / "raw" / "metadata"
                                                                     for p in next_to_tasks]
    return next((m for m in next_to_tasks + in_raw_archive if m in metadata_dirs), None)


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


def _compact(paths: set[Path], root: Path) -> list[Path]:
    """`paths` (inside root), with every folder all of whose entries are among them given as the folder."""
    covered = set(paths)
    folders: set[Path] = set()  # every folder strictly inside root that holds one of the paths
    for path in paths:  # walked up to root, or to a folder already seen: linear in the paths, not quadratic
        chain, parent = [], path.parent
        while parent not in folders and parent != root and parent != parent.parent:
            chain.append(parent)
            parent = parent.parent
        if parent in folders or parent == root:
            folders.update(chain)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):  # deepest first
        entries = list(folder.iterdir())
        if entries and all(entry in covered for entry in entries):
            covered.add(folder)
    return sorted(p for p in covered if p.parent not in covered)


def _columns(names) -> str:
    names = list(names)
    return ("column " if len(names) == 1 else "columns ") + ", ".join(f"'{name}'" for name in names)


def _announce_unmapped(log: RecordLog, files: str, unmapped: list[tuple[int, str]]) -> None:
    """A notice naming the columns of a kind of file that no field maps, and a count of such files."""
    if unmapped:
        log.notice(f"{files}: {_columns(name for _, name in unmapped)} not mapped to a field; kept in other_columns")
        log.count(f"{files} files with columns not mapped to a field (kept in other_columns)")


def _partition_other_columns(columns: tuple[tuple[str, str], ...]) -> list[dict]:
    return [{"file": PARTITION_FILE, "column": column, "values": [value]} for column, value in columns]


# ---- one video's segments ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelFile:
    """One parsed label file of a video, with its table (for the cells of the columns no field maps)."""

    path: Path
    table: "CsvTable"
    segments: dict                              # segment id -> rows (continuous) or one entry (classes)
    unmapped: list[tuple[int, str]]

    def other_columns(self, segment_id) -> list[dict]:
        entry = self.segments.get(segment_id)
        if not self.unmapped or not entry:
            return []
        lines = [line for *_, line in entry] if isinstance(entry, list) else [entry["line"]]
        return self.table.other_columns(self.unmapped, lines, f"label_segments/{self.path.parent.name}/{self.path.name}")


class VideoSegments:
    """The label rows, transcripts and audio of one video of a task folder, assembled segment by segment.

    `broken` holds the errors of the video's label files that could not be read: every segment the other
    files know is then rejected with that error, so that each one is counted and listed."""

    def __init__(self, task: TaskFolder, video_id: int, role: str, labels: dict[str, LabelFile], aggregated,
                 audio_norm, broken: list[RawDataError], log: RecordLog):
        self.task, self.video_id, self.role = task, video_id, role
        self.labels, self.aggregated, self.broken, self.log = labels, aggregated, broken, log
        self.continuous = role in CONTINUOUS_DIMENSIONS
        self.transcripts = _segment_files(task.path / "transcription_segments" / str(video_id), ".csv")
        self.audio_files = _segment_files(task.path / "audio_segments" / str(video_id), ".wav")
        self.audio_norm_path = audio_norm
        self._audio_norm = None   # audio_norm_path opened for cutting, once a segment needs it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._audio_norm is not None:
            self._audio_norm.close()

    def segment_ids(self) -> list[int | None]:
        ids = {s for label_file in self.labels.values() for s in label_file.segments}
        ids |= set(self.transcripts) | set(self.audio_files)
        if self.aggregated:
            ids |= set(self.aggregated[1])
        return _ordered(ids)

    def label_file(self, segment_id) -> Path:
        """The file a segment's problems are reported against: its first label file, else its transcript."""
        for label_file in self.labels.values():
            if segment_id in label_file.segments:
                return label_file.path
        if self.aggregated and segment_id in self.aggregated[1]:
            return self.aggregated[0]
        return self.transcripts.get(segment_id) or self.audio_files[segment_id]

    def segment_row(self, segment_id) -> dict:
        if self.broken:
            raise copy.copy(self.broken[0])
        per_dimension = {dim: (f.path, f.segments.get(segment_id)) for dim, f in self.labels.items()}
        if self.continuous:
            labels = merge_continuous_segment(self.role, segment_id, per_dimension)
        else:
            labels = merge_class_segment(self.role, segment_id, per_dimension, self.aggregated)
        other = [column for f in self.labels.values() for column in f.other_columns(segment_id)]
        if self.aggregated and segment_id in self.aggregated[1]:
            path = self.aggregated[0]
            other += [{"file": f"label_segments/aggregated/{path.name}", "column": column, "values": [value]}
                      for column, value in self.aggregated[1][segment_id]["other"]]
        words = None
        if segment_id in self.transcripts:
            path = self.transcripts[segment_id]
            words, unmapped = read_transcript(path, segment_id)
            _announce_unmapped(self.log, f"{self.task.label}/transcription_segments",
                               [(None, column) for column, _ in unmapped])
            other += [{"file": f"transcription_segments/{self.video_id}/{path.name}", "column": column,
                       "values": values} for column, values in unmapped]
        return {**labels, "transcript": words, "audio": self._audio(segment_id, labels["start_ms"], labels["end_ms"]),
                "other_columns": other}

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
                self._audio_norm = open_audio(self.audio_norm_path)
            except MediaError as e:
                raise RawDataError(self.audio_norm_path, f"unreadable audio ({e})",
                                   hint="the file is corrupt; extract it again from the raw archive") from None
        try:  # a segment may end up to one label step after the file's end: it is cut at the end of the file
            data = cut_audio(self._audio_norm, start_ms, end_ms, overrun_ms=LABEL_STEP_MS)
        except MediaError as e:
            raise RawDataError(self.audio_norm_path, str(e),
                               hint="the audio and the label files do not belong together") from None
        return {"bytes": data, "path": f"{self.video_id}_{segment_id}_{start_ms}-{end_ms}ms.wav"}


def _ordered(segment_ids) -> list:
    """Segment ids in numeric order; None (frames outside any segment) last."""
    return sorted(segment_ids, key=lambda s: (s is None, s or 0))


# ---- pure parsing functions ----------------------------------------------------------------------------------

@dataclass
class CsvTable:
    """A CSV file's header (names stripped and lower-cased; `header` as written) and its rows with their line
    numbers."""

    path: Path
    columns: list[str]
    rows: list[tuple[int, list[str]]]
    header: list[str]

    def index(self, name: str, required: bool = True) -> int | None:
        if name in self.columns:
            return self.columns.index(name)
        if required:
            raise RawDataError(self.path, f"no column {name!r} (columns: {', '.join(self.columns)})", line=1,
                               hint="MuSe files have a header row; columns are matched by name")
        return None

    def unmapped(self, known: set[str], known_positions=()) -> list[tuple[int, str]]:
        """(position, name as written) of the columns that are neither named in `known` nor at `known_positions`.
        A column without a name that is empty in every row is the trailing comma of an export, not a column."""
        result = []
        for position, name in enumerate(self.columns):
            if name in known or position in known_positions:
                continue
            if not name and not any(row[position].strip() for _, row in self.rows):
                continue
            result.append((position, self.header[position].strip() or f"column {position + 1}"))
        return result

    @functools.cached_property
    def _by_line(self) -> dict[int, list[str]]:
        return dict(self.rows)

    def other_columns(self, unmapped: list[tuple[int, str]], lines: list[int], file: str) -> list[dict]:
        """The cells of the rows at `lines` in the `unmapped` columns, as other_columns entries naming `file`."""
        return [{"file": file, "column": name, "values": [self._by_line[line][position] for line in lines]}
                for position, name in unmapped]


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
    return CsvTable(path, columns, rows, header)


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

    Columns are found by `partition_columns` (a notice says when they are taken by position). A video listed twice in the same split is kept once (its
    fold becomes null if the two rows disagree); a video listed in two splits is rejected, and kept with the
    split None so that its files are not reported a second time as unlisted.
    """
    table = read_csv(path)
    entries = parse_partition(table)
    if partition_columns(table).by_position:
        log.notice(f"{path.parent.name}/{path.name}: no `Id` and `Proposal` columns ({', '.join(table.header)}); "
                   "read as the organisers' 2021 parser reads it: first column = video id, last column = split")
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


@dataclass(frozen=True)
class PartitionColumns:
    video_id: int
    split: int
    fold: int | None
    by_position: bool                           # no `Id` / split column by name: first and last column


def partition_columns(table: CsvTable) -> PartitionColumns:
    """Where a partition table keeps the video id, the split and the fold.

    By name: `Id`, and `Proposal` (2020; a numeric `Partition` is then the fold) or a `Partition` column of split
    names (toolbox examples). The header of the 2021 MuSe-CaR partition files is not known: the organisers' 2021
    parser takes the first column as the id and the last as the split, and so does this one when the names do
    not tell, provided the last column holds split names only.
    """
    split_names = set(SPLITS)
    id_column, partition = table.index("id", required=False), table.index("partition", required=False)
    if id_column is not None and "proposal" in table.columns:
        return PartitionColumns(id_column, table.index("proposal"), partition, False)
    if id_column is not None and partition is not None and \
            all(row[partition].strip() in split_names for _, row in table.rows):
        return PartitionColumns(id_column, partition, None, False)
    last = len(table.columns) - 1
    if last > 0 and table.rows and all(row[last].strip() in split_names for _, row in table.rows):
        return PartitionColumns(0, last, None, True)
    raise RawDataError(table.path, "no split column: expected `Proposal` or a `Partition` column of "
                                   "train/devel/test", line=1, hint="this is not a MuSe partition.csv")


def parse_partition(table: CsvTable) -> list[tuple[int, str, int | None, int]]:
    """(video id, split, fold, line) per row of a partition table (see `partition_columns`)."""
    where = partition_columns(table)
    id_name = "Id" if not where.by_position else f"column 1 ({table.header[0]})"
    entries = []
    for line, row in table.rows:
        split = row[where.split].strip()
        if split not in SPLITS:
            raise RawDataError(table.path, f"unknown split {split!r} (expected train, devel or test)", line=line)
        video_id = parse_int(row[where.video_id], table.path, line, id_name)
        fold = parse_int(row[where.fold], table.path, line, "Partition", optional=True) if where.fold is not None \
            else None
        entries.append((video_id, SPLITS[split], fold, line))
    return entries


def partition_other_columns(table: CsvTable) -> tuple[list[str], dict[int, tuple[tuple[str, str], ...]]]:
    """(the partition's columns no field maps, video id -> ((column, cell), ...) from its first row)."""
    where = partition_columns(table)
    unmapped = table.unmapped(set() if where.by_position else PARTITION_COLUMNS,
                              {where.video_id, where.split} if where.by_position else ())
    per_video: dict[int, tuple[tuple[str, str], ...]] = {}
    if unmapped:
        for line, row in table.rows:
            video_id = parse_int(row[where.video_id], table.path, line, "Id")
            per_video.setdefault(video_id, tuple((name, row[position]) for position, name in unmapped))
    return [name for _, name in unmapped], per_video


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
    """label_segments/aggregated/<split>.csv → (video id -> segment id -> {dimension: class id or None, line,
    other: [(column, cell)] of the columns no field maps}, video id -> rows repeated).

    The 2020 train.csv repeats, row for row, the segments of the videos partition.csv lists twice: such
    repeats are kept once; a segment repeated with other labels makes the file unusable.
    """
    video, segment = table.index("id"), table.index("segment_id")
    columns = {dim: table.index(f"label_{dim}") for dim in CLASS_DIMENSIONS["topic"]}
    unmapped = table.unmapped(AGGREGATED_TOPIC_COLUMNS)
    labels: dict[int, dict[int, dict]] = {}
    repeated: dict[int, int] = {}
    for line, row in table.rows:
        video_id = parse_int(row[video], table.path, line, "id")
        segment_id = parse_int(row[segment], table.path, line, "segment_id")
        entry = {dim: parse_int(row[i], table.path, line, f"label_{dim}", optional=True) for dim, i in columns.items()}
        earlier = labels.setdefault(video_id, {}).get(segment_id)
        if earlier is None:
            labels[video_id][segment_id] = {**entry, "line": line,
                                            "other": [(name, row[position]) for position, name in unmapped]}
        elif {dim: earlier[dim] for dim in entry} == entry:
            repeated[video_id] = repeated.get(video_id, 0) + 1
        else:
            raise RawDataError(table.path, f"video {video_id} segment {segment_id} is listed again with other labels "
                               f"(first on line {earlier['line']})", line=line,
                               hint="the aggregated file is corrupt; extract it again from the package")
    return labels, repeated


def merge_continuous_segment(role: str, segment_id, per_dimension: dict) -> dict:
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
    for dim in CONTINUOUS_DIMENSIONS[role]:
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


def merge_class_segment(role: str, segment_id, per_dimension: dict, aggregated) -> dict:
    """One segment's class labels from the per-video files, checked against the aggregated file (MuSe-Topic)."""
    classes = CLASS_DIMENSIONS[role]
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
    if role == "topic":
        for dim in ("arousal", "valence"):
            entry = per_dimension.get(dim, (None, None))[1]
            result[f"{dim}_mean"] = entry["mean"] if entry else None
    return result


def read_transcript(path: Path, segment_id: int) -> tuple[list[dict], list[tuple[str, list[str]]]]:
    """transcription_segments/<vid>/<vid>_<seg>.csv → (words, [(column, cells)] of the columns no field maps).

    Columns word, start, end are read by name; segment_id is checked when present."""
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
    unmapped = [(name, [row[position] for _, row in table.rows])
                for position, name in table.unmapped(TRANSCRIPT_COLUMNS)]
    return words, unmapped


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
                entry["other"].append({"name": table.header[position].strip() or f"column {position + 1}",
                                       "value": text})
        if speaker is not None:
            entry["speaker_id"] = parse_int(row[speaker], table.path, line, "Speaker_Id", optional=True)
        result[video_id] = entry
    return result


# ---- media ----------------------------------------------------------------------------------------------------

def check_wav(path: Path) -> bytes:
    """The file's bytes, after checking that soundfile reads its header and that it holds samples."""
    data = path.read_bytes()
    audio = probe_audio(data)
    if audio.unreadable:
        raise RawDataError(path, f"not a readable audio file ({audio.unreadable})",
                           hint="the file is corrupt; extract it again")
    if audio.frames <= 0:
        raise RawDataError(path, "the audio file holds no samples", hint="the file is truncated; extract it again")
    truncation = wav_truncation(data)
    if truncation:
        raise RawDataError(path, f"truncated audio file: {truncation}", hint="the file was cut short; extract it again")
    return data


def check_mp4(path: Path) -> bytes:
    data = path.read_bytes()
    if first_box(data) != b"ftyp":
        raise RawDataError(path, "not an MP4 file (no ftyp box)", hint="the file is corrupt or not the release's video")
    truncation = mp4_truncation(data)
    if truncation:
        raise RawDataError(path, f"truncated MP4: {truncation}", hint="the file was cut short; extract it again")
    return data


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


def segment_feature_sets(files: list[tuple[FeatureSet, FeatureTable]], broken: list[RawDataError],
                         segment_id) -> list[dict]:
    """The feature sets one segment of a video has, from the video's feature files; while one of its files is
    unreadable (`broken`) no segment of the video is written: it would lack that feature set."""
    if broken:
        raise copy.copy(broken[0])
    return [table.segment(feature, segment_id) for feature, table in files if segment_id in table.segments]


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

def _feature_values(row: dict) -> int:
    """How many feature values a features row holds (what its batches are closed on)."""
    return sum(entry["values"][0].size for entry in row["feature_sets"])


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
    columns["other_columns"] = pa.array([row["other_columns"] for row in rows], schema.field("other_columns").type)
    return pa.Table.from_arrays([columns[name].cast(schema.field(name).type) for name in schema.names], schema=schema)
