"""MuSe-CaR challenge packages (MuSe 2020 and MuSe 2021) in the organisers' file formats, with their awkward cases.

The truth is declared per video: its split and fold, its segments (bounds, classes, words) and which task
folders ship which files. Continuous labels, feature values and audio samples are deterministic functions
of (package, video, time), so the expected rows are computed here from the truth, independently of the parser.

Tree: `MuSe2020/data/processed_tasks/{metadata,c1_muse_wild,c2_muse_topic,c3_muse_trust}`,
`MuSe2020/data/raw/{audio_norm,video}` and `MuSe2021/{c1_muse_wilder,c2_muse_sent}`. As in the organisers' 2021
data folder (lstappen/MuSe2021 config.py: c1_muse_wilder, c2_muse_sent, c3_muse_stress, c4_muse_physio under one
base path), the Ulm-TSST packages sit beside the MuSe-CaR ones (`ulm_tsst=True`, the default):
`MuSe2021/c3_muse_stress/{metadata/partition.csv,label_segments/{arousal,valence},feature_segments/egemaps}` and
`MuSe2021/c4_muse_physio/{metadata/partition.csv,label_segments/anno12_EDA,feature_segments/{BPM,ECG,resp}}`, plus
`MuSe2021/raw-data-ulm-tsst/transcription_segments` (a name seen in a participant's paths). Their partitions
disagree with MuSe-CaR's on purpose: ids MuSe-CaR does not have (64-66) and other splits for 3, 17 and 121.
The 2020 c1_muse_wild and c3_muse_trust folders also carry what the builder does not read: per-split
`label_segments/aggregated/*.csv` [columns V], per-annotator `label_segments/raw_annotations/<dim>/<vid>.csv` and
`annotator_id_mapping.json` [both I: inferred from a baseline team's comments, location of the JSON unverified].

Awkward cases (../shared/formats/musecar_internvid.md §1.11, ../shared/realdata/SOURCES.md): both years with
their column orders (`timestamp,value,segment_id` vs `timestamp,segment_id,value`), the 2020 partition with
`Id,Partition,Proposal`, a video listed twice with two folds (fold becomes null) and one listed twice
identically, a listed video without any file (260), a video with aggregated topic labels only (40),
masked test labels (empty cells) and absent test label files, an NA MuSe-Sent class, a label file with a
missing timestamp inside a segment, gaps between segments, a CRLF class mapping and a CRLF label file,
the unnamed index column of the mapping files, the aggregated topic rows of a video listed with two folds
written twice (as in the real 2020 train.csv), trailing empty columns in video_metadata.csv, segment
files sorted numerically (3_10 after 3_2), a missing transcript (3_2), a header-only transcript, an empty
transcription folder, 1 ms punctuation tokens and a quoted "," token, feature rows without segment id,
a NaN feature row, an all-zero face row, feature sets of different widths, a 10 ms-hop unaligned feature,
word-aligned fasttext features (`start,end`), a video with a video file but no normalised audio (17),
video metadata of a video no partition lists (299).
With bad_records: a malformed transcript line, a non-numeric label value, an out-of-range class, label
files of a video missing from the partition, and an MP4 that is not one.
"""
from __future__ import annotations

import csv
import functools
import io
import math
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile

from .video import yuv420p_frame

RATE = 16000
STEP_MS = 250
PACKAGE_DIRS = {"MuSe2020": Path("MuSe2020/data/processed_tasks"), "MuSe2021": Path("MuSe2021")}
RAW_DIR = Path("MuSe2020/data/raw")
METADATA_ONLY = (299, "9ulUXv5VAGs", "UC6S0jAvcapqJ48ZzLfva12g", "70", "M")
"""A video_metadata.csv row of a video no partition lists (the real 2020 file has 12 such rows)."""
ULM_TSST_PARTITION = ((3, "test"), (17, "train"), (64, "train"), (65, "devel"), (66, "test"), (121, "devel"))
"""Ulm-TSST ids and splits: 3, 17 and 121 are MuSe-CaR ids in other splits, 64-66 ids MuSe-CaR's sample lacks."""
ULM_TSST_FOLDERS = ("c3_muse_stress", "c4_muse_physio", "raw-data-ulm-tsst")
TOPIC_CLASSES = ["performance", "interior-features", "quality-aeshetic", "comfort", "handling", "safety",
                 "general-information", "cost", "user-experience", "exterior-features"]


@dataclass(frozen=True)
class Task:
    """What one task folder ships, in its year's format."""

    package: str
    name: str
    kind: str                                  # continuous | topic | sent
    dimensions: tuple[str, ...] = ()
    transcripts: bool = False
    audio_segments: bool = False
    features: tuple[tuple[str | None, str, int], ...] = ()   # (alignment, name, dim)

    @property
    def label(self) -> str:
        return f"{self.package}/{self.name}"

    @property
    def folder(self) -> Path:
        return PACKAGE_DIRS[self.package] / self.name


TASKS = {t.name: t for t in [
    Task("MuSe2020", "c1_muse_wild", "continuous", ("arousal", "valence"), transcripts=True, audio_segments=True,
         features=(("label_aligned", "egemaps", 4), ("label_aligned", "vggface", 3), ("unaligned", "lld", 2))),
    Task("MuSe2020", "c2_muse_topic", "topic", ("topic", "arousal", "valence"), transcripts=True,
         features=(("fasttext_aligned", "fasttext", 2),)),
    Task("MuSe2020", "c3_muse_trust", "continuous", ("trustworthiness", "arousal", "valence")),
    Task("MuSe2021", "c1_muse_wilder", "continuous", ("arousal", "valence"), transcripts=True,
         features=((None, "egemaps", 3), (None, "vggish", 2))),
    Task("MuSe2021", "c2_muse_sent", "sent", ("arousal", "valence"), transcripts=True, features=((None, "au", 2),)),
]}
CONFIG_TASKS = {"wilder": ("c1_muse_wilder", "c1_muse_wild"), "trust": ("c3_muse_trust",),
                "topic": ("c2_muse_topic",), "sent": ("c2_muse_sent",)}


@dataclass
class Segment:
    segment_id: int
    start_ms: int
    end_ms: int
    topic: int | None = None
    arousal: int | None = None                 # MuSe-Topic 3-class
    valence: int | None = None
    arousal_mean: float | None = None          # written as the `mean` column of the topic arousal file
    sent_arousal: int | None = None            # MuSe-Sent 5-class (None: NA, unusable)
    sent_valence: int | None = None
    words: tuple[tuple[str, int, int], ...] | None = None   # None: no transcription file

    def label_times(self) -> list[int]:
        return list(range(self.start_ms, self.end_ms + 1, STEP_MS))


@dataclass
class SampleVideo:
    video_id: int
    split: str                                 # the release's name: train | devel | test
    folds: tuple[int, ...]                     # one per row of the 2020 partition (two rows: listed twice)
    segments: list[Segment]
    tasks: tuple[str, ...] = tuple(TASKS)      # task folders with files for this video
    masked: bool = False                       # test: label cells written empty
    absent_labels: tuple[tuple[str, str], ...] = ()   # (task, dimension) label files not shipped
    untranscribed: tuple[str, ...] = ()        # tasks with an empty transcription folder for this video
    aggregated_only: bool = False              # MuSe-Topic labels only in label_segments/aggregated
    in_2021: bool = True
    audio_norm_ms: int | None = None           # duration of audio_norm/<vid>.wav; None: absent
    video_file: bool = False
    metadata: tuple[str, str, str, str] | None = None   # Youtube_Id, Channel_Id, Speaker_Id, Gender

    @property
    def fold(self) -> int | None:
        return self.folds[0] if len(set(self.folds)) == 1 else None

    @property
    def hf_split(self) -> str:
        return {"train": "train", "devel": "validation", "test": "test"}[self.split]

    def has_labels(self, task: str, dimension: str) -> bool:
        return task in self.tasks and (task, dimension) not in self.absent_labels and not self.aggregated_only


@dataclass
class SampleTree:
    root: Path
    videos: dict[int, SampleVideo]
    packages: tuple[str, ...]
    ulm_tsst: tuple[Path, ...] = ()             # the Ulm-TSST folders written beside MuSe 2021 (none may be read)
    expected: dict[str, dict[str, list[dict]]] = field(default_factory=dict)   # config -> split -> rows
    bad: dict[str, list[dict]] = field(default_factory=dict)   # config -> skipped records the build must list


# ---- deterministic signals -----------------------------------------------------------------------------------

def _seed(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def label_value(package: str, dimension: str, video_id: int, timestamp: int) -> float:
    """The gold-standard value a package's label file holds (4 decimals, as the organisers print them)."""
    phase = _seed(package, dimension, video_id) % 628 / 100
    return round(0.8 * math.sin(timestamp / 900 + phase), 4)


def feature_value(task: str, feature: str, video_id: int, timestamp: int, column: int) -> float:
    phase = _seed(task, feature, video_id, column) % 628 / 100
    return round(2 * math.sin(timestamp / 400 * (column + 1) + phase), 4)


@functools.lru_cache(maxsize=4)  # the expected rows ask for each segment of a video in turn
def signal(video_id: int, duration_ms: int) -> np.ndarray:
    """16 kHz mono PCM16 samples of a video's normalised audio (read-only): a tone plus noise, different per video."""
    rng = np.random.default_rng(video_id)
    t = np.arange(duration_ms * RATE // 1000) / RATE
    wave = 6000 * np.sin(2 * np.pi * (180 + video_id % 50) * t) + rng.normal(0, 800, t.size)
    samples = np.clip(wave, -32768, 32767).astype(np.int16)
    samples.flags.writeable = False
    return samples


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@functools.cache
def mp4_bytes(video_id: int) -> bytes:
    """A real 1 s, 64x48, 4 fps H.264 MP4 whose colour depends on the video id."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 4)
        colour = np.array([video_id * 37 % 256, video_id * 91 % 256, 128], np.uint8)
        for index in range(4):
            container.mux(stream.encode(yuv420p_frame(np.tile(colour, (48, 64, 1)), pts=index)))
        container.mux(stream.encode())
    return buffer.getvalue()


# ---- the truth ------------------------------------------------------------------------------------------------

def _hand_written_videos() -> list[SampleVideo]:
    return [
        SampleVideo(3, "train", (2, 5), audio_norm_ms=8000, video_file=True,
                    metadata=("ezwqBjFZMUQ", "UC-GJbheknHZhSM7-Jgn63jg", "2", "F"), segments=[
            Segment(1, 1000, 3000, topic=6, arousal=2, valence=1, arousal_mean=0.119, sent_arousal=4, sent_valence=1,
                    words=(("the", 1010, 1200), ("BMW", 1200, 1650), ("M3", 1650, 2100), (",", 2100, 2101),
                           ("$52,000", 2101, 2800), (".", 2800, 2801))),
            Segment(2, 3500, 5000, topic=0, arousal=0, valence=2, arousal_mean=-0.3021, sent_arousal=None,
                    sent_valence=3),
            Segment(10, 5250, 7000, topic=2, arousal=1, valence=0, arousal_mean=0.0, sent_arousal=0, sent_valence=2,
                    words=(("comfy", 5300, 5900), ("!", 5900, 5901))),
        ]),
        SampleVideo(17, "devel", (3, 3), video_file=True, untranscribed=("c2_muse_sent",),
                    metadata=("_ysyl5jCSXQ", "UC-GJbheknHZhSM7-Jgn63jg", "2", "F"), segments=[
            Segment(1, 500, 2500, topic=4, arousal=1, valence=0, sent_arousal=2, sent_valence=2,
                    words=(("handling", 600, 1100), ("is", 1100, 1300), ("sharp", 1300, 1800))),
            Segment(2, 2750, 4000, topic=9, arousal=2, valence=2, sent_arousal=1, sent_valence=0, words=()),
        ]),
        SampleVideo(121, "test", (1,), masked=True, audio_norm_ms=5000,
                    absent_labels=(("c2_muse_topic", "arousal"), ("c2_muse_topic", "valence"),
                                   ("c1_muse_wilder", "arousal"), ("c2_muse_sent", "arousal"),
                                   ("c2_muse_sent", "valence")),
                    metadata=("SF7cOAuG6qQ", "UC-GJbheknHZhSM7-Jgn63jg", "1", ""), segments=[
            Segment(1, 1000, 2500, words=(("fuel", 1010, 1300), ("economy", 1300, 1900), (".", 1900, 1901))),
            Segment(2, 2750, 4250),
        ]),
        SampleVideo(40, "train", (4,), tasks=("c2_muse_topic",), aggregated_only=True, in_2021=False,
                    metadata=("Meif6leYjmc", "UC-GJbheknHZhSM7-Jgn63jg", "2", "F"), segments=[
            Segment(1, 0, 0, topic=7, arousal=0, valence=1), Segment(2, 0, 0, topic=8, arousal=1, valence=1)]),
        SampleVideo(260, "train", (4,), tasks=(), segments=[], in_2021=False,
                    metadata=("HSvgYBDQ6gQ", "UC6S0jAvcapqJ48ZzLfva12g", "65", "M")),
    ]


def _generated_videos(count: int) -> list[SampleVideo]:
    """Plain training videos for scaled-up trees: four 20 s segments each, with segment and full audio."""
    videos = []
    for n in range(count):
        video_id = 1000 + n
        segments = [Segment(k + 1, 500 + k * 20500, 20250 + k * 20500, topic=(video_id + k) % 10, arousal=k % 3,
                            valence=(k + 1) % 3, sent_arousal=(video_id + k) % 5, sent_valence=k % 5,
                            words=tuple((f"word{w}", 500 + k * 20500 + w * 400, 800 + k * 20500 + w * 400)
                                        for w in range(40)))
                    for k in range(4)]
        videos.append(SampleVideo(video_id, "train", (2 + n % 3,), segments=segments, audio_norm_ms=83000,
                                  metadata=(f"gen{video_id:07d}", "UCgenerated", str(100 + n % 7), "MF"[n % 2])))
    return videos


# ---- writing the tree -----------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0,
         packages: tuple[str, ...] = ("MuSe2020", "MuSe2021"), ulm_tsst: bool = True) -> SampleTree:
    """Write the packages under out_dir; return the truth and the rows a build must produce.

    `ulm_tsst`: with MuSe 2021, also write the Ulm-TSST packages beside it (nothing of them may be read)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    videos = _hand_written_videos() + _generated_videos(scale)
    tree = SampleTree(out_dir, {v.video_id: v for v in videos}, tuple(packages))
    tasks = [t for t in TASKS.values() if t.package in packages]
    if "MuSe2020" in packages:
        _write_metadata_2020(out_dir / PACKAGE_DIRS["MuSe2020"] / "metadata", videos)
        _write_raw_media(out_dir / RAW_DIR, videos)
    for task in tasks:
        _write_task(out_dir / task.folder, task, [v for v in videos if task.name in v.tasks])
    if "MuSe2021" in packages:
        _write_file(out_dir / TASKS["c2_muse_sent"].folder / "videos" / "3.mp4", mp4_bytes(3))
        if ulm_tsst:
            tree.ulm_tsst = _write_ulm_tsst(out_dir / PACKAGE_DIRS["MuSe2021"])
    tree.expected = {config: expected_rows(tree, config) for config in
                     ("wilder", "trust", "topic", "sent", "features", "videos")}
    tree.expected = {config: rows for config, rows in tree.expected.items() if rows is not None}
    if bad_records:
        tree.bad = _write_bad_records(out_dir, tree)
    return tree


def _write_file(path: Path, data: bytes | str, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.replace("\n", newline).encode("utf-8")
    path.write_bytes(data)


def format_csv(header: list[str], rows: list[list], newline: str = "\n") -> str:
    """CSV as pandas writes it: minimal quoting, empty cells for None, the given line ending."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return buffer.getvalue()


def _partition_2020(videos: list[SampleVideo]) -> str:
    rows = [[v.video_id, fold, v.split] for v in videos for fold in v.folds]
    return format_csv(["Id", "Partition", "Proposal"], rows)


def _write_metadata_2020(folder: Path, videos: list[SampleVideo]) -> None:
    _write_file(folder / "partition.csv", _partition_2020(videos))
    _write_file(folder / "topic_class_mapping.csv",
                format_csv(["", "topic", "class_id"], [[i, name, i] for i, name in enumerate(TOPIC_CLASSES)]))
    _write_file(folder / "emotion_class_mapping.csv",
                format_csv(["", "emotion", "class_id"], [[i, name, i] for i, name in enumerate(["low", "medium", "high"])],
                           newline="\r\n"))
    described = [[v.video_id, *v.metadata] for v in sorted(videos, key=lambda v: v.video_id) if v.metadata]
    described.append(list(METADATA_ONLY))
    _write_file(folder / "video_metadata.csv", format_csv(
        ["Id", "Youtube_Id", "Channel_Id", "Speaker_Id", "Gender", "", ""], [row + ["", ""] for row in described]))


def _write_raw_media(folder: Path, videos: list[SampleVideo]) -> None:
    for video in videos:
        if video.audio_norm_ms:
            _write_file(folder / "audio_norm" / f"{video.video_id}.wav",
                        wav_bytes(signal(video.video_id, video.audio_norm_ms)))
        if video.video_file:
            _write_file(folder / "video" / f"{video.video_id}.mp4", mp4_bytes(video.video_id))


def _label_rows(task: Task, video: SampleVideo, dimension: str) -> list[tuple[int, int, float | None]]:
    """(timestamp, segment id, value) rows of a continuous label file; 3_10 lacks 6000 ms in one file."""
    rows = []
    for segment in video.segments:
        for t in segment.label_times():
            if (task.name, dimension, video.video_id, t) == ("c1_muse_wild", "arousal", 3, 6000):
                continue
            rows.append((t, segment.segment_id,
                         None if video.masked else label_value(task.package, dimension, video.video_id, t)))
    return rows


def format_continuous_labels(package: str, rows: list[tuple[int, int, float | None]], newline: str = "\n") -> str:
    if package == "MuSe2020":
        return format_csv(["timestamp", "value", "segment_id"],
                          [[t, None if v is None else f"{v:.4f}", s] for t, s, v in rows], newline)
    return format_csv(["timestamp", "segment_id", "value"],
                      [[t, s, None if v is None else f"{v:.4f}"] for t, s, v in rows], newline)


def _class_value(task: Task, segment: Segment, dimension: str) -> int | None:
    if task.kind == "sent":
        return segment.sent_arousal if dimension == "arousal" else segment.sent_valence
    return getattr(segment, dimension)


def format_class_labels(task: Task, video: SampleVideo, dimension: str) -> str:
    with_mean = task.kind == "topic" and dimension == "arousal"
    header = ["start", "end", "segment_id", "class_id"] + (["mean"] if with_mean else [])
    rows = []
    for segment in video.segments:
        value = None if video.masked else _class_value(task, segment, dimension)
        row = [segment.start_ms, segment.end_ms, segment.segment_id, value]
        if with_mean:
            row.append(None if video.masked or segment.arousal_mean is None else f"{segment.arousal_mean:.4f}")
        rows.append(row)
    return format_csv(header, rows)


def format_transcript(package: str, segment: Segment) -> str:
    """2020 files are `start,end,segment_id,word` (as in the real c2 package); 2021 files `word,start,end`."""
    if package == "MuSe2020":
        return format_csv(["start", "end", "segment_id", "word"],
                          [[s, e, segment.segment_id, w] for w, s, e in segment.words])
    return format_csv(["word", "start", "end"], [list(word) for word in segment.words])


def _feature_frames(task: Task, alignment: str | None, feature: str, video: SampleVideo):
    """(times, ends or None, segment id or None, values) per frame of one feature file."""
    frames = []
    if alignment == "fasttext_aligned":
        for segment in video.segments:
            for _, start, end in segment.words or ():
                frames.append((start, end, segment.segment_id))
    elif alignment == "unaligned":
        frames = [(t, None, s.segment_id) for s in video.segments for t in range(s.start_ms, s.start_ms + 100, 10)]
    else:
        if feature == "au":  # MuSe-Sent features start before the first segment, without a segment id
            frames = [(t, None, None) for t in (0, 250)]
        frames += [(t, None, s.segment_id) for s in video.segments for t in s.label_times()]
    dim = dict((name, d) for _, name, d in task.features)[feature]
    result = []
    for t, end, segment_id in frames:
        values = [feature_value(task.name, feature, video.video_id, t, k) for k in range(dim)]
        if (task.name, feature, video.video_id, t) == ("c1_muse_wild", "vggface", 3, 1000):
            values = [0.0] * dim          # no face found in this frame
        if (task.name, feature, video.video_id, t) == ("c1_muse_wilder", "egemaps", 3, 1250):
            values = [None] * dim         # NaN row
        result.append((t, end, segment_id, values))
    return result


def format_feature_file(frames, dim: int) -> str:
    word_aligned = frames and frames[0][1] is not None
    header = (["start", "end"] if word_aligned else ["timestamp"]) + ["segment_id"] + [str(k) for k in range(dim)]
    rows = [([t, end] if word_aligned else [t]) + [segment_id] + [None if v is None else f"{v:.4f}" for v in values]
            for t, end, segment_id, values in frames]
    return format_csv(header, rows)


def _write_task(folder: Path, task: Task, videos: list[SampleVideo]) -> None:
    if task.package == "MuSe2021":
        _write_file(folder / "metadata" / "partition.csv",
                    format_csv(["Id", "Proposal"], [[v.video_id, v.split] for v in videos if v.in_2021]))
        videos = [v for v in videos if v.in_2021]
    for video in videos:
        vid = video.video_id
        if video.aggregated_only:
            continue
        for dimension in task.dimensions:
            if not video.has_labels(task.name, dimension):
                continue
            path = folder / "label_segments" / dimension / f"{vid}.csv"
            if task.kind == "continuous":
                newline = "\r\n" if (task.name, vid) == ("c3_muse_trust", 17) else "\n"
                _write_file(path, format_continuous_labels(task.package, _label_rows(task, video, dimension), newline))
            else:
                _write_file(path, format_class_labels(task, video, dimension))
        if task.transcripts and (task.name != "c1_muse_wilder" or vid == 3):
            transcripts = folder / "transcription_segments" / str(vid)
            transcripts.mkdir(parents=True, exist_ok=True)
            for segment in video.segments:
                if segment.words is not None and task.name not in video.untranscribed:
                    _write_file(transcripts / f"{vid}_{segment.segment_id}.csv",
                                format_transcript(task.package, segment))
        if task.audio_segments and video.audio_norm_ms:
            samples = signal(vid, video.audio_norm_ms)
            for segment in video.segments:
                _write_file(folder / "audio_segments" / str(vid) / f"{vid}_{segment.segment_id}.wav",
                            wav_bytes(samples[segment.start_ms * RATE // 1000: segment.end_ms * RATE // 1000]))
        for alignment, feature, dim in task.features:
            sub = Path(alignment, feature) if alignment else Path(feature)
            _write_file(folder / "feature_segments" / sub / f"{vid}.csv",
                        format_feature_file(_feature_frames(task, alignment, feature, video), dim))
    if task.package == "MuSe2020" and task.kind == "continuous":
        _write_unread_2020_files(folder, task, videos)
    if task.kind == "topic":
        for split in ("train", "devel", "test"):
            rows = [[v.video_id, s.segment_id, *(None if v.masked else getattr(s, d)
                                                  for d in ("arousal", "valence", "topic"))]
                    for v in videos if v.split == split for _ in set(v.folds) for s in v.segments]
            _write_file(folder / "label_segments" / "aggregated" / f"{split}.csv",
                        format_csv(["id", "segment_id", "label_arousal", "label_valence", "label_topic"], rows))


def _write_ulm_tsst(root: Path) -> tuple[Path, ...]:
    """The Ulm-TSST packages of MuSe 2021 in the 2021 formats (`Id,Proposal`; `timestamp,segment_id,value`)."""
    partition = format_csv(["Id", "Proposal"], [list(row) for row in ULM_TSST_PARTITION])
    for folder, dimensions, features in (("c3_muse_stress", ("arousal", "valence"), ("egemaps",)),
                                         ("c4_muse_physio", ("anno12_EDA",), ("BPM", "ECG", "resp"))):
        _write_file(root / folder / "metadata" / "partition.csv", partition)
        for subject, _ in ULM_TSST_PARTITION:
            times = range(0, 2000, 500)
            for dimension in dimensions:
                rows = [(t, 1, label_value("Ulm-TSST", dimension, subject, t)) for t in times]
                _write_file(root / folder / "label_segments" / dimension / f"{subject}.csv",
                            format_continuous_labels("MuSe2021", rows))
            for feature in features:
                _write_file(root / folder / "feature_segments" / feature / f"{subject}.csv",
                            format_feature_file([(t, None, 1, [feature_value(folder, feature, subject, t, 0)])
                                                 for t in times], 1))
    for subject, _ in ULM_TSST_PARTITION:
        _write_file(root / "raw-data-ulm-tsst" / "transcription_segments" / str(subject) / f"{subject}_1.csv",
                    format_csv(["word", "start", "end"], [["ich", 0, 300], ["habe", 300, 700]]))
    return tuple(root / folder for folder in ULM_TSST_FOLDERS)


def _write_unread_2020_files(folder: Path, task: Task, videos: list[SampleVideo]) -> None:
    """What a MuSe 2020 continuous task folder ships beside the per-video gold standards, which this builder leaves:
    the per-split aggregated labels and, for c1_muse_wild, the raw annotations and the annotator id mapping."""
    for split in ("train", "devel", "test"):
        rows = []
        for video in videos:
            if video.split != split or video.aggregated_only:
                continue
            series = {d: {t: v for t, _, v in _label_rows(task, video, d)} for d in task.dimensions
                      if video.has_labels(task.name, d)}
            times = sorted({t for values in series.values() for t in values})
            rows += [[video.video_id, t, *(None if d not in series or series[d].get(t) is None
                                           else f"{series[d][t]:.4f}" for d in task.dimensions)] for t in times]
        _write_file(folder / "label_segments" / "aggregated" / f"{split}.csv",
                    format_csv(["id", "timestamp", *(f"label_{d}" for d in task.dimensions)], rows))
    if task.name != "c1_muse_wild":
        return
    for video in videos:
        rows = [[t, s, *(round(v * 1000) + k for k in range(3)), f"{v:.4f}"]
                for t, s, v in _label_rows(task, video, "arousal") if v is not None]
        if rows:
            _write_file(folder / "label_segments" / "raw_annotations" / "arousal" / f"{video.video_id}.csv",
                        format_csv(["timestamp", "segment_id", "1", "2", "9", "label_arousal"], rows))
    _write_file(folder / "annotator_id_mapping.json", '{"1": 1, "2": 2, "9": 7}\n')


def _write_bad_records(out_dir: Path, tree: SampleTree) -> dict[str, list[dict]]:
    """Records the builder must reject, and how the build report lists them."""
    bad: dict[str, list[dict]] = {}

    def record(config, split, path: Path, record_id, reason):
        bad.setdefault(config, []).append({"split": split, "file": path.relative_to(out_dir).as_posix(),
                                           "record": record_id, "reason": reason})

    if "MuSe2020" in tree.packages:
        transcript = out_dir / TASKS["c2_muse_topic"].folder / "transcription_segments" / "3" / "3_10.csv"
        _write_file(transcript, format_csv(["start", "end", "segment_id", "word"],
                                           [[5300, 5900, 10, "comfy"], [5900, "59O1", 10, "!"]]))
        record("topic", "train", transcript, "3_10", "column 'end': expected an integer, got '59O1'")
        not_mp4 = out_dir / RAW_DIR / "video" / "3.mp4"
        _write_file(not_mp4, b"<html>video unavailable</html>")
        record("videos", "train", not_mp4, "video 3", "not an MP4 file (no ftyp box)")
    if "MuSe2021" in tree.packages:
        wilder = out_dir / TASKS["c1_muse_wilder"].folder / "label_segments"
        arousal = wilder / "arousal" / "3.csv"
        rows = _label_rows(TASKS["c1_muse_wilder"], tree.videos[3], "arousal")
        _write_file(arousal, format_continuous_labels("MuSe2021", rows).replace(f",{rows[2][2]:.4f}\n", ",abc\n", 1))
        for segment in tree.videos[3].segments:  # the valence file and transcripts still tell the segments
            record("wilder", "train", arousal, f"3_{segment.segment_id}", "column 'value': expected a number, got 'abc'")
        orphan = wilder / "valence" / "999.csv"
        _write_file(orphan, format_continuous_labels("MuSe2021", [(1000, 1, 0.5)]))
        record("wilder", None, orphan, "999", "video 999 has files but is not listed in "
               f"{(TASKS['c1_muse_wilder'].folder / 'metadata' / 'partition.csv').as_posix()}")
        sent = out_dir / TASKS["c2_muse_sent"].folder / "label_segments" / "arousal" / "3.csv"
        _write_file(sent, sent.read_text().replace("5250,7000,10,0", "5250,7000,10,7"))
        record("sent", "train", sent, "3_10", "segment 10: arousal class 7 is not one of 0-4")
    return bad


# ---- the rows a build must produce ------------------------------------------------------------------------------

def _config_task(tree: SampleTree, config: str) -> Task | None:
    return next((TASKS[name] for name in CONFIG_TASKS[config] if TASKS[name].package in tree.packages), None)


def _videos_of(tree: SampleTree, task: Task) -> list[SampleVideo]:
    return sorted((v for v in tree.videos.values() if task.name in v.tasks and (task.package == "MuSe2020" or v.in_2021)),
                  key=lambda v: v.video_id)


def _fold(task: Task, video: SampleVideo) -> int | None:
    return video.fold if task.package == "MuSe2020" else None


def _transcript(task: Task, video: SampleVideo, segment: Segment):
    shipped = task.transcripts and (task.name != "c1_muse_wilder" or video.video_id == 3)
    if not shipped or segment.words is None or task.name in video.untranscribed:
        return None
    return [{"word": w, "start_ms": s, "end_ms": e} for w, s, e in segment.words]


def expected_audio(tree: SampleTree, task: Task, video: SampleVideo, segment: Segment, start_ms, end_ms) -> dict | None:
    """{"wav": the shipped bytes} or {"cut": the samples cut from audio_norm, "path": ...}."""
    if not video.audio_norm_ms or "MuSe2020" not in tree.packages:  # audio_norm/ is in the 2020 raw archive
        return None
    samples = signal(video.video_id, video.audio_norm_ms)
    if task.audio_segments:
        return {"wav": wav_bytes(samples[segment.start_ms * RATE // 1000: segment.end_ms * RATE // 1000]),
                "path": f"{video.video_id}_{segment.segment_id}.wav"}
    if start_ms is None:
        return None
    end = end_ms + (STEP_MS if task.kind == "continuous" else 0)
    return {"cut": samples[start_ms * RATE // 1000: min(end * RATE // 1000, samples.size)],
            "path": f"{video.video_id}_{segment.segment_id}_{start_ms}-{end}ms.wav"}


def _f32(value: float | None) -> float | None:
    return None if value is None else float(np.float32(value))


def expected_rows(tree: SampleTree, config: str) -> dict[str, list[dict]] | None:
    if config == "videos":
        return _expected_videos(tree)
    if config == "features":
        return _expected_features(tree)
    task = _config_task(tree, config)
    if task is None:
        return None
    rows: dict[str, list[dict]] = {}
    for video in _videos_of(tree, task):
        for segment in video.segments:
            base = {"video_id": video.video_id, "segment_id": segment.segment_id, "package": task.label,
                    "fold": _fold(task, video)}
            labels = (_continuous_labels(task, video, segment) if task.kind == "continuous"
                      else _class_labels(task, video, segment))
            row = {**base, **labels, "transcript": _transcript(task, video, segment)}
            if not _shipped(task, video, segment, row):
                continue
            row["audio"] = expected_audio(tree, task, video, segment, labels["start_ms"], labels["end_ms"])
            row["other_columns"] = []           # the generator writes only the columns the builder maps
            rows.setdefault(video.hf_split, []).append(row)
    return rows


def _shipped(task: Task, video: SampleVideo, segment: Segment, row: dict) -> bool:
    """Whether any file of the task mentions the segment (labels, aggregated labels, transcript or audio)."""
    labelled = any(video.has_labels(task.name, d) for d in task.dimensions)
    return (labelled or (task.kind == "topic" and video.aggregated_only) or row["transcript"] is not None
            or (task.audio_segments and bool(video.audio_norm_ms)))


def _continuous_labels(task: Task, video: SampleVideo, segment: Segment) -> dict:
    series = {}
    for dimension in task.dimensions:
        if video.has_labels(task.name, dimension):
            series[dimension] = {t: v for t, s, v in _label_rows(task, video, dimension) if s == segment.segment_id}
    times = sorted({t for values in series.values() for t in values})
    return {"start_ms": times[0] if times else None, "end_ms": times[-1] if times else None,
            "timestamps_ms": times,
            **{d: [_f32(series[d].get(t)) for t in times] if d in series else None for d in task.dimensions}}


def _class_labels(task: Task, video: SampleVideo, segment: Segment) -> dict:
    from_files = any(video.has_labels(task.name, d) for d in task.dimensions)
    labels = {"start_ms": segment.start_ms if from_files else None, "end_ms": segment.end_ms if from_files else None}
    for dimension in task.dimensions:
        shipped = video.has_labels(task.name, dimension) or (task.kind == "topic" and video.aggregated_only)
        labels[dimension] = None if video.masked or not shipped else _class_value(task, segment, dimension)
    if task.kind == "topic":
        shipped = video.has_labels(task.name, "arousal") and not video.masked
        labels["arousal_mean"] = _f32(segment.arousal_mean) if shipped else None
        labels["valence_mean"] = None
    return labels


def _expected_features(tree: SampleTree) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    tasks = sorted((t for t in TASKS.values() if t.package in tree.packages and t.features),
                   key=lambda t: (t.package, t.name))
    for task in tasks:
        for video in _videos_of(tree, task):
            by_segment: dict = {}
            for alignment, feature, dim in sorted(task.features, key=lambda f: (f[0] or "", f[1])):
                frames = _feature_frames(task, alignment, feature, video)
                for segment_id in dict.fromkeys(f[2] for f in frames):
                    mine = [f for f in frames if f[2] == segment_id]
                    by_segment.setdefault(segment_id, []).append({
                        "name": feature, "alignment": alignment, "dim": dim,
                        "timestamps_ms": [f[0] for f in mine],
                        "end_timestamps_ms": [f[1] for f in mine] if alignment == "fasttext_aligned" else None,
                        "values": [[_f32(v) for v in f[3]] for f in mine]})
            for segment_id in sorted(by_segment, key=lambda s: (s is None, s or 0)):
                rows.setdefault(video.hf_split, []).append({
                    "video_id": video.video_id, "segment_id": segment_id, "package": task.label,
                    "fold": _fold(task, video), "feature_sets": by_segment[segment_id], "other_columns": []})
    return rows


def _expected_videos(tree: SampleTree) -> dict[str, list[dict]]:
    """Every video of the 2020 partition with its metadata and raw media; without 2020, the 2021 partition."""
    with_2020 = "MuSe2020" in tree.packages
    rows: dict[str, list[dict]] = {}
    for video in sorted(tree.videos.values(), key=lambda v: v.video_id):
        if not with_2020 and not (video.in_2021 and "c1_muse_wilder" in video.tasks):
            continue
        youtube, channel, speaker, gender = video.metadata if with_2020 and video.metadata else (None,) * 4
        has_video = video.video_file if with_2020 else video.video_id == 3   # c2_muse_sent/videos/3.mp4
        rows.setdefault(video.hf_split, []).append({
            "video_id": video.video_id, "fold": video.fold if with_2020 else None, "youtube_id": youtube,
            "channel_id": channel, "speaker_id": int(speaker) if speaker else None, "gender": gender or None,
            "other_metadata": [],
            "video": {"bytes": mp4_bytes(video.video_id), "path": f"{video.video_id}.mp4"} if has_video else None,
            "audio": {"bytes": wav_bytes(signal(video.video_id, video.audio_norm_ms)), "path": f"{video.video_id}.wav"}
            if with_2020 and video.audio_norm_ms else None})
    return rows
