"""InternVid: machine-generated captions of YouTube clips, and the clips a user has downloaded.

Raw release (downloaded by hand from the gated Hugging Face repositories of OpenGVLab): one JSON Lines
file per subset, one clip per line, with the keys `YoutubeID`, `Start_timestamp` and `End_timestamp`
(strings `HH:MM:SS.mmm`) and `Caption`, plus scores that differ by subset: `UMT_Score` (clip-caption
similarity; the only score the Full card names), `Aesthetic_Score`, and in the Aesthetics-18M lines
`CLIP_Score` where the other subsets have `UMT_Score`. The key names come from code that reads the files,
not from a published schema, so every score is optional and a key this builder does not know is kept
(in `extra`) and named in a build notice rather than dropped. The INFO variant adds the video's
`Language` and `Category`. Each caption file may sit in the raw folder itself (`hf download ...
--local-dir RAW`) or one folder down (`--local-dir RAW/InternVid-Full`), beside the repository's
README.md and other non-data files, which are reported as not read.

The files are large (InternVid-Full has about 230M lines in 45 GB), so each is cut into byte ranges
aligned to line boundaries and each range is parsed in chunks by pyarrow's JSON reader; line numbers are
counted only when a bad line must be named.

The search queries the authors released in their GitHub repository (`Data/InternVid/queries.jsonl`) are
the `queries` config.

The videos are YouTube content the authors do not distribute. A user who fetched some of them may
have any of: video2dataset output (`NNNNN.tar` WebDataset shards with `<key>.mp4` / `.json` / `.txt`,
or `NNNNN/` folders with the same files), a folder of clip files named `<YoutubeID>_<start>_<end>.mp4`,
or full videos named by YouTube id, from which clips are cut here by stream copy (never re-encoded).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tarfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from datasets import Value, Video

from .archives import TEXT_MEMBER_LIMIT, read_tar_member
from .core import ExcludeBy, MMConfig, MultimodalBuilder, RawPart, batched
from .coverage import sorted_files_below
from .errors import RawDataError, RecordLog
from .media import MediaError
from .media.video import cut_clip, has_signature, mp4_truncation

# ---- metadata --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subset:
    file_name: str       # as released; matched case-insensitively (copies differ in case: -flt / -FLT)
    description: str
    has_info: bool = False


SUBSETS = {
    "10m_flt": Subset("InternVid-10M-flt.jsonl",
                      "InternVid-10M-FLT: 10.6M clips kept by filtering (1 s to 120 s, best clip-caption "
                      "similarity) and diversity sampling; the subset most models train on."),
    "10m_div": Subset("InternVid-10M-DIV.jsonl",
                      "InternVid-10M-DIV: 10.6M clips drawn with probability inversely proportional to the "
                      "number of clips of their video (diversity sampling)."),
    "aes_18m": Subset("InternVid-18M-aes.jsonl",
                      "InternVid-Aesthetics-18M: 18M clips selected by aesthetic score, recommended for "
                      "video generation; its lines carry a CLIP score where the other subsets carry a UMT score."),
    "full": Subset("InternVid-full.jsonl",
                   "InternVid-Full: every captioned clip (about 230M); the release has no aesthetic scores."),
    "10m_flt_info": Subset("InternVid-10M-FLT-INFO.jsonl",
                           "InternVid-10M-FLT with the language and YouTube category of each clip's video.",
                           has_info=True),
}

QUERIES_FILE = "queries.jsonl"
QUERIES_PLACES = (QUERIES_FILE, f"Data/InternVid/{QUERIES_FILE}")
"""Where the queries file is looked for, from the raw folder or one folder down: on its own, or where the
InternVideo repository keeps it."""

VIDEO_FOLDERS = ("video2dataset", "clips", "videos")
VIDEO_EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}
"""Video file extensions looked for, and the container a cut clip is written in (that of its source)."""

V2D_FAILURES = ("failed_to_download", "failed_to_subsample")
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")

NOT_READ = (
    ("README.md", "the dataset card of the upstream repository (each OpenGVLab repository has one), not data"),
    ("caption_fig.jpg", "the figure of the captioning method shown on the upstream card, not data"),
    (".cache/", "download bookkeeping (`hf download --local-dir` writes .cache/huggingface/), not data"),
    ("video2dataset/*.parquet", "video2dataset's table of a shard's samples: the same samples as the shard's "
                                "<key>.json members, which are read"),
    ("video2dataset/*_stats.json", "video2dataset's download statistics of a shard (counts, timings); each "
                                   "sample's status is read from its <key>.json"),
    ("video2dataset/*.txt", "video2dataset's caption member of a sample: a copy of the caption line's Caption, "
                            "which is read from the caption file"),
    ("clips/*.jsonl", "OpenDataLab's caption list of a clip folder: lines of the subset's caption file, which is "
                      "read from that file"),
    ("*.part", "an unfinished download (yt-dlp's .part file): not used; finish the download to use it"),
    ("*.ytdl", "yt-dlp's state file of an unfinished download, not data"),
    ("*.info.json", "yt-dlp's metadata of a downloaded video (--write-info-json), not used"),
)
"""Raw paths recognised and deliberately left, with why (matched as in `builders.coverage.matches`)."""

CHUNK_BYTES = 16 * 2**20
"""A shard is parsed in chunks of whole lines of about this size, which bounds memory."""
PARSE_BLOCK_BYTES = 2**20
"""pyarrow's JSON block size within a chunk (its unit of multi-threading)."""

# ---- features, with the docs the card's field table is made of --------------------------------------

CAPTION_FIELDS = {
    "youtube_id": (Value("string"), "YouTube id of the source video (`YoutubeID`): "
                                    "https://www.youtube.com/watch?v=<youtube_id>."),
    "start": (Value("float64"), "Clip start in seconds from the start of the video, parsed from `Start_timestamp`."),
    "end": (Value("float64"), "Clip end in seconds from the start of the video, parsed from `End_timestamp`."),
    "duration": (Value("float64"), "`end - start` in seconds (rounded to the microsecond)."),
    "caption": (Value("string"), "Machine-generated English caption (`Caption`), as written, leading or trailing "
                                 "spaces included."),
    "umt_score": (Value("float64"), "Clip-caption similarity computed by UMT (`UMT_Score`; higher is better); "
                                    "null when the line has none, as in the Aesthetics-18M lines, which carry "
                                    "`clip_score` instead."),
    "clip_score": (Value("float64"), "Clip-caption similarity computed by CLIP (`CLIP_Score`, higher is better), "
                                     "the score the Aesthetics-18M lines carry in place of `UMT_Score`; its model "
                                     "and scale are not documented upstream. Null when the line has none (the "
                                     "other subsets)."),
    "aesthetic_score": (Value("float64"), "LAION aesthetic predictor score of the clip (`Aesthetic_Score`, about "
                                          "1-10); null when the line has none, as in every InternVid-Full line."),
}
INFO_FIELDS = {
    "language": (Value("string"), "Language of the source video from its YouTube metadata (`Language`)."),
    "category": (Value("string"), "YouTube category of the source video (`Category`, e.g. \"Travel & Events\")."),
}
TIMESTAMP_FIELDS = {
    "start_timestamp": (Value("string"), "`Start_timestamp` as written in the release (the form video2dataset "
                                         "and clip file names use)."),
    "end_timestamp": (Value("string"), "`End_timestamp` as written in the release."),
}
EXTRA_FIELD = {
    "extra": (Value("string"), "The line's keys that no column above holds, as a JSON object (the values the "
                               "line gives, written back as JSON); null when the line has none. Each such key is "
                               "named in a build notice and counted."),
}
QUERY_FIELDS = {
    "search_word_id": (Value("string"), "A YouTube search query used to find InternVid's videos, in English "
                                        "(`search_word_id`: despite its name, a phrase such as \"feeding ducks\", "
                                        "not a number)."),
    "search_word": (Value("string"), "The same query in Chinese (`search_word`), as released."),
}
VIDEO_FIELDS = {
    "video": (Video(), "The clip's video bytes, never re-encoded: the video2dataset member or clip file byte for "
                       "byte, or a stream copy cut from the full video; null unless `status` is ok."),
    "status": (Value("string"), "ok (the video is here), failed (video2dataset recorded a failed download) or "
                                "missing (no downloaded copy of this clip)."),
    "download_error": (Value("string"), "For failed clips, video2dataset's status and error message "
                                        "(e.g. \"failed_to_download: ERROR: [youtube]: Video unavailable\")."),
    "video_origin": (Value("string"), "Where the bytes come from, relative to the raw folder: the video2dataset "
                                      "shard, the clip file, or the full video the clip was cut from."),
    "video_start": (Value("float64"), "For clips cut here: where the cut really starts in the source video, in "
                                      "seconds (the keyframe at or before `start`); null for clips downloaded "
                                      "already cut, whose tool's precision is unknown."),
    "video_end": (Value("float64"), "For clips cut here: where the copied video frames end in the source video, in "
                                    "seconds (at `end`, or a few frames later when the codec reorders frames); "
                                    "null otherwise."),
}

# ---- configs ------------------------------------------------------------------------------------------

RAW_PARTS = {
    **{name: RawPart(f"{subset.file_name} ({subset.description.split(':')[0]} captions)")
       for name, subset in SUBSETS.items()},
    "queries": RawPart(f"{QUERIES_FILE} (the YouTube search queries, Data/InternVid/{QUERIES_FILE} of "
                       "github.com/OpenGVLab/InternVideo)"),
    "downloaded_videos": RawPart("downloaded videos: video2dataset/ (video2dataset output, NNNNN.tar or NNNNN/), "
                                 "clips/ (<YoutubeID>_<start>_<end>.mp4 files) or videos/ (full videos "
                                 "<YoutubeID>.mp4)"),
}


@dataclass
class InternVidConfig(MMConfig):
    subset: str = ""           # a caption subset, or "" for the queries
    with_videos: bool = False


def _configs() -> list[InternVidConfig]:
    """A captions config per subset, the queries, then a clips config per subset."""
    version = datasets.Version("1.0.0")
    fields = {name: {**CAPTION_FIELDS, **(INFO_FIELDS if subset.has_info else {}), **TIMESTAMP_FIELDS, **EXTRA_FIELD}
              for name, subset in SUBSETS.items()}
    captions = [InternVidConfig(name=name, version=version, fields=fields[name], requires=(name,), subset=name,
                                description=subset.description) for name, subset in SUBSETS.items()]
    queries = InternVidConfig(name="queries", version=version, fields={**QUERY_FIELDS, **EXTRA_FIELD},
                              requires=("queries",),
                              description="The YouTube search queries the authors released as used to find part "
                                          "of InternVid's videos (Data/InternVid/queries.jsonl), in English and "
                                          "Chinese. They are not linked to clips.")
    clips = [InternVidConfig(name=f"clips_{name}", version=version, fields={**fields[name], **VIDEO_FIELDS},
                             requires=(name, "downloaded_videos"), subset=name, with_videos=True,
                             redistribution="private",
                             description=f"Every caption row of {name} with its clip from the user's downloaded "
                                         "videos and a status (ok / failed / missing). YouTube content: not for "
                                         "redistribution.")
             for name in SUBSETS]
    return [*captions, queries, *clips]


@dataclass(frozen=True)
class CaptionRange:
    """Whole lines [start, end) of a caption file, in bytes: one shard job."""

    path: str
    start: int
    end: int
    videos: str = ""     # clips configs: digest of the downloaded videos' listing (a changed download rebuilds)


@dataclass(frozen=True)
class VideoSources:
    """The folders of downloaded videos present in the raw folder."""

    data_dir: str
    video2dataset: str | None
    clips: str | None
    videos: str | None

    def folders(self) -> list[Path]:
        return [Path(p) for p in (self.video2dataset, self.clips, self.videos) if p]

    def digest(self) -> str:
        """Changes when any file under the folders is added, removed, resized or touched."""
        listing = hashlib.sha256()
        for folder in self.folders():
            for _, path in sorted_files_below(folder):  # rglob's files in Path order, without a Path each
                stat = os.stat(path)
                listing.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        return listing.hexdigest()[:16]

    def files_read(self) -> list[Path]:
        """The files the video index takes clips from, found by name alone (no archive is opened, so that
        listing what a build reads stays cheap): video2dataset tars whole, the metadata and videos of its
        folder shards, clip files named after a clip, and full videos."""
        files = []
        if self.video2dataset:
            for shard in video2dataset_shards(Path(self.video2dataset)):
                files += [shard] if shard.is_file() else sorted(
                    p for p in shard.iterdir() if p.is_file() and (p.suffix == ".json" or is_video_file(p)))
        if self.clips:
            files += [p for p in _video_files(Path(self.clips)) if parse_clip_file_name(p.stem)]
        if self.videos:
            files += _video_files(Path(self.videos))
        return files


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_video_file(p) and p.is_file())


class InternVid(MultimodalBuilder):
    NAME = "internvid"
    VERSION = datasets.Version("1.0.0")
    RAW_PARTS = RAW_PARTS
    NOT_READ = NOT_READ
    BUILDER_CONFIG_CLASS = InternVidConfig
    BUILDER_CONFIGS = _configs()
    DEFAULT_CONFIG_NAME = "10m_flt"
    EXCLUDABLE = {"youtube_id": ExcludeBy("youtube_id")}  # every clip of the video, in every config
    SHARD_BYTES = 256 * 2**20
    """Each caption file is cut into byte ranges of about this size: one shard job each."""
    CLIP_SHARD_BYTES = 2 * 2**20
    """The same for the clips configs, whose rows carry videos: 2 MB of captions (about 9,000 clips, some GB
    of video) keep a job to minutes, which a cluster can balance and a lost worker redoes cheaply."""
    ROWS_PER_BATCH = None
    BATCH_BYTES = 64 * 2**20
    """A caption table is one parsed chunk (CHUNK_BYTES of lines); a clips table closes at this many video
    bytes (`row_bytes`) or at the end of its chunk, never at a number of rows."""

    def locate_raw(self, data_dir: Path) -> dict:
        """Each caption file in the raw folder or one folder down (a repository downloaded with
        `--local-dir RAW/<repository>`), the queries file likewise or where InternVideo keeps it, and the
        video folders. A file found twice is an error: which copy to build would be a guess."""
        places = [data_dir, *(p for p in sorted(data_dir.iterdir())
                              if p.is_dir() and p.name not in VIDEO_FOLDERS and not p.name.startswith("."))]
        files: dict[str, list[Path]] = {}
        for folder in places:
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    files.setdefault(path.name.lower(), []).append(path)
        raw: dict = {name: self._one_copy(files.get(subset.file_name.lower(), []), data_dir)
                     for name, subset in SUBSETS.items()}
        raw["queries"] = self._one_copy([folder / place for folder in places for place in QUERIES_PLACES
                                         if (folder / place).is_file()], data_dir)
        folders = {name: data_dir / name if (data_dir / name).is_dir() else None for name in VIDEO_FOLDERS}
        raw["downloaded_videos"] = VideoSources(str(data_dir), *(str(p) if p else None for p in folders.values())) \
            if any(folders.values()) else None
        return raw

    @staticmethod
    def _one_copy(paths: list[Path], data_dir: Path) -> Path | None:
        if len(paths) > 1:
            copies = ", ".join(p.relative_to(data_dir).as_posix() for p in paths)
            raise RawDataError(data_dir, f"{paths[0].name} is there {len(paths)} times ({copies})",
                               hint="keep one copy in the raw folder: which one to build would be a guess")
        return paths[0] if paths else None

    def source(self) -> Path:
        """The JSON Lines file whose lines are this config's rows."""
        return self.raw[self.config.subset or "queries"]

    def input_files(self) -> list[Path]:
        files = [self.source()]
        if self.config.with_videos:
            files += self.raw["downloaded_videos"].folders()
        return files

    def read_paths(self) -> list[Path]:
        """What is read, also asked of a config whose raw parts are missing (to name what it would read)."""
        files = [self.source()]
        if self.config.with_videos and self.raw["downloaded_videos"]:
            files += self.raw["downloaded_videos"].files_read()
        return [path for path in files if path is not None]

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[CaptionRange]]:
        path = self.source()
        if path.stat().st_size == 0:
            raise RawDataError(path, "the file is empty", hint="the download failed; download the file again")
        videos = ""
        if self.config.with_videos:
            videos = self.raw["downloaded_videos"].digest()
            index = self.video_index
            for problem in index.problems:
                log.reject(problem, split="train")
            for notice in index.notices:
                log.notice(notice)
            # what the downloads hold, beside the rows' `clips ok/failed/missing`: the difference is clips and
            # videos of other subsets (or of no caption), which this config does not use
            for what, n in (("stored clips in the downloaded folders", len(index.stored)),
                            ("failed downloads recorded in the downloaded folders", len(index.failed)),
                            ("full videos in the downloaded folders", len(index.full_videos))):
                if n:
                    log.count(what, n)
        return {"train": [CaptionRange(str(path), start, end, videos)
                          for start, end in line_aligned_ranges(
                              path, self.CLIP_SHARD_BYTES if self.config.with_videos else self.SHARD_BYTES)]}

    @functools.cached_property
    def video_index(self) -> VideoIndex:
        """The index of the downloaded videos: built once, when the build is planned."""
        return index_videos(self.raw["downloaded_videos"])

    def shared_state(self) -> VideoIndex | None:
        return self.video_index if self.config.with_videos else None

    def adopt_shared_state(self, state: VideoIndex) -> None:
        self.video_index = state

    # ---- table assembly --------------------------------------------------------------------------------

    def shard_tables(self, shard: CaptionRange, log: RecordLog) -> Iterator[pa.Table]:
        """Rows of one byte range, chunk by chunk; bad lines go through the log one by one.

        Good rows are parsed and counted in bulk (`log.add_records`): a per-row context manager would cost
        more than the parsing itself at 230M rows.
        """
        if self.config.subset:
            has_info = SUBSETS[self.config.subset].has_info
            schema = release_schema(has_info)
            assemble = functools.partial(caption_columns, has_info=has_info)
        else:
            schema, assemble = QUERY_SCHEMA, query_columns
        index = self.video_index if self.config.with_videos else None
        for batch in read_jsonl(shard.path, shard.start, shard.end, schema):
            columns, problems = assemble(batch.table)
            errors = [(batch.line_of(i), problem, None) for i, problem in batch.unparsed]
            errors += [(batch.line_of_row(row), problem, record) for row, problem, record in problems]
            for line, problem, record in sorted(errors, key=lambda error: error[0]):
                log.reject_record(RawDataError(shard.path, problem, line=line, record=record,
                                               hint="fix or delete the line (--on-error skip lists every bad line)"))
            if batch.blank_lines:
                log.count("blank lines (not records)", batch.blank_lines)
            count_other_keys(batch.table, log)
            if index is None:
                log.add_records(len(columns["extra"]))
                yield self._table(columns)
            else:
                yield from self._with_videos(columns, index, log)

    def _with_videos(self, columns: dict, index: VideoIndex, log: RecordLog) -> Iterator[pa.Table]:
        """The caption rows with their video cells, in tables of about BATCH_BYTES of video.

        Each row goes through the log here: a video that cannot be read or cut is a bad record.
        """
        youtube_ids, starts, ends, start_texts, end_texts = (
            columns[name].to_pylist() for name in ("youtube_id", "start", "end", "start_timestamp", "end_timestamp"))

        def clip_label(row: int) -> tuple[None, str]:
            return None, f"{youtube_ids[row]} {start_texts[row]}-{end_texts[row]}"

        def with_cell(row: int) -> tuple[int, dict]:
            clip_name = f"{youtube_ids[row]}_{start_texts[row]}_{end_texts[row]}"
            cell = index.video_cell(youtube_ids[row], starts[row], ends[row], clip_name)
            log.count(f"clips {cell['status']}")
            return row, cell

        kept = log.converted(range(len(youtube_ids)), clip_label, with_cell)
        for batch in batched(kept, self.ROWS_PER_BATCH, self.BATCH_BYTES, lambda kept_row: self.row_bytes(kept_row[1])):
            rows, cells = zip(*batch)
            yield self._video_table(columns, rows, cells)

    def row_bytes(self, cell: dict) -> int:
        """What a clips row weighs: its video bytes (the caption columns are small beside them)."""
        return len(cell["video"]["bytes"]) if cell["video"] else 0

    def _video_table(self, columns: dict, rows: tuple[int, ...], cells: tuple[dict, ...]) -> pa.Table:
        indices = pa.array(rows, pa.int64())
        taken = {name: column.take(indices) for name, column in columns.items()}
        schema = self.info.features.arrow_schema
        for name in VIDEO_FIELDS:
            taken[name] = pa.array([cell[name] for cell in cells], schema.field(name).type)
        return self._table(taken)

    def _table(self, columns: dict) -> pa.Table:
        schema = self.info.features.arrow_schema
        return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


# ---- shard listing ------------------------------------------------------------------------------------------

def line_aligned_ranges(path, shard_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about shard_bytes covering the file, each starting at the beginning of a line.

    Only the bytes around each boundary are read, so listing a 45 GB file costs a few seeks.
    """
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as file:
        while bounds[-1] + shard_bytes < size:
            file.seek(bounds[-1] + shard_bytes - 1)  # a newline right before the target keeps the target
            boundary = _next_line_start(file)
            if boundary >= size:
                break
            bounds.append(boundary)
    bounds.append(size)
    return [(start, end) for start, end in zip(bounds, bounds[1:]) if end > start]


def _next_line_start(file) -> int:
    """The offset just past the next newline at or after the file's position (the file size if none)."""
    while block := file.read(64 * 1024):
        newline = block.find(b"\n")
        if newline >= 0:
            return file.tell() - len(block) + newline + 1
    return file.tell()


# ---- JSON Lines in chunks ----------------------------------------------------------------------------------

@dataclass
class JsonlBatch:
    """The lines of one chunk that parsed (as a table), the ones that did not, and their line numbers."""

    table: pa.Table
    unparsed: list[tuple[int, str]]          # (index of the line in the chunk, why it is not a JSON object)
    row_lines: list[int] | None              # index in the chunk of each row's line; None: row i is line i
    first_line: Callable[[], int]            # 1-based number of the chunk's first line in the file
    lines: int                               # lines in the chunk

    @property
    def blank_lines(self) -> int:
        return self.lines - self.table.num_rows - len(self.unparsed)

    def line_of(self, index: int) -> int:
        return self.first_line() + index

    def line_of_row(self, row: int) -> int:
        return self.line_of(row if self.row_lines is None else self.row_lines[row])


def read_jsonl(path, start: int, end: int, schema: pa.Schema, chunk_bytes: int | None = None) -> Iterator[JsonlBatch]:
    """Parse the whole lines in bytes [start, end) of a JSON Lines file, chunk by chunk, with pyarrow.

    Keys are read by name (`schema`); the others are kept in an EXTRA column. Memory stays at about one chunk
    (more only for a single line longer than a chunk). The number of lines before `start` is counted the
    first time a line number is asked for, so a clean range is read exactly once.
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    lines_before_range = functools.cache(lambda: newlines_before(path, start))
    position, lines_done = start, 0
    with open(path, "rb") as file:
        while position < end:
            data, size = _whole_lines(file, position, end, chunk_bytes)
            lines = count_lines(data, size)
            table, row_lines, unparsed = parse_json_lines(memoryview(data)[:size], schema, lines)
            first = functools.partial(lambda done: lines_before_range() + done + 1, lines_done)
            yield JsonlBatch(table, unparsed, row_lines, first, lines)
            position, lines_done = position + size, lines_done + lines


def _whole_lines(file, position: int, end: int, chunk_bytes: int) -> tuple[bytes, int]:
    """(bytes read at `position`, length of the whole lines they start with): about chunk_bytes, more
    for a line longer than that. The partial line after them is read again with the next chunk, which
    costs less than carrying it over by concatenation."""
    size = min(chunk_bytes, end - position)
    while True:
        file.seek(position)
        data = file.read(size)
        if len(data) < size:
            raise RawDataError(file.name, f"the file ends at byte {position + len(data)}, before byte {end} seen "
                                          "when the build was planned",
                               hint="the file changed during the build; rerun it")
        if position + size == end:
            return data, size
        whole = data.rfind(b"\n") + 1
        if whole:
            return data, whole
        size = min(2 * size, end - position)


def count_lines(data: bytes, size: int | None = None) -> int:
    """Lines in data[:size], the last one counted even without its newline (a file without a final newline)."""
    size = len(data) if size is None else size
    return data.count(b"\n", 0, size) + (1 if size and data[size - 1] != ord("\n") else 0)


def parse_json_lines(data, schema: pa.Schema, lines: int) -> tuple[pa.Table, list[int] | None, list[tuple[int, str]]]:
    """(rows of the lines that hold one JSON object, their line indices or None if 1:1, bad lines with why).

    `data` (bytes-like) holds `lines` lines. The rows have the columns of `schema`, then EXTRA: the line's
    other keys as a JSON object text, or null. The whole chunk is parsed at once; only when that fails,
    or when blank lines (which pyarrow skips) or several objects on one line break the row-per-line
    correspondence, are the lines bisected to find the culprits: a few extra parses of ever smaller
    pieces, never a Python loop over good lines. Other keys cost a Python pass over the chunk's lines, and
    only in a chunk that has some.
    """
    table, _ = _read_json(data, schema, PARSE_BLOCK_BYTES)
    texts = None
    if table is not None and table.num_rows == lines:
        tables, row_lines, unparsed = [table], None, []
    else:
        texts = bytes(data).split(b"\n")[:lines]
        tables, row_lines, unparsed = [], [], []
        non_blank = [index for index, line in enumerate(texts) if line.strip()]
        if non_blank:
            _bisect_lines(texts, non_blank, schema, tables, row_lines, unparsed)
    table = pa.concat_tables([t.select(schema.names) for t in tables]) if tables else schema.empty_table()
    if any(t.num_columns > len(schema) for t in tables):
        texts = texts or bytes(data).split(b"\n")[:lines]
        extra, counts = _other_keys(texts, row_lines or range(table.num_rows), tables, schema)
        table = table.replace_schema_metadata({OTHER_KEY_COUNTS: json.dumps(counts)})
    else:
        extra = pa.nulls(table.num_rows, pa.string())
    return table.append_column(EXTRA, extra), row_lines, sorted(unparsed)


EXTRA = "extra"
OTHER_KEY_COUNTS = "other key counts"
"""Schema metadata of a parsed chunk: how many of its lines have each key the schema does not name."""
_JSON_OUT = json.JSONEncoder(ensure_ascii=False)


def _other_keys(texts: list[bytes], lines, tables: list[pa.Table], schema: pa.Schema) -> tuple[pa.Array, dict]:
    """For each row (its line in `texts`), the keys `schema` does not name as a JSON object text with their
    values as parsed, or null; and how many rows have each key.

    The values are taken from the text, not from pyarrow's columns, which turn a date string into a
    timestamp, an integer into a float beside fractions, and cannot tell a null value from an absent key.
    Only the lines that have such a key are parsed again: those where pyarrow found a value, or where the
    key's name stands in key position (after `{` or `,`; inside a string a quote is escaped). The one case
    missed is a key written \\u-escaped in a line where its value is null."""
    lines = list(lines)
    others = sorted({name for t in tables for name in t.schema.names[len(schema):]})
    texts_of_rows = pa.array([texts[line] for line in lines], pa.binary())
    has_other = pa.chunked_array([_any_valid(t, t.schema.names[len(schema):]) for t in tables], pa.bool_())
    for key in others:
        has_other = pc.or_(has_other, pc.match_substring_regex(texts_of_rows, rf'[{{,]\s*"{re.escape(key)}"\s*:'))
    extra, counts, known = [None] * len(lines), {}, frozenset(schema.names)
    for row in np.flatnonzero(has_other.to_numpy(zero_copy_only=False)):
        other = {key: value for key, value in json.loads(texts[lines[row]]).items() if key not in known}
        for key in other:
            counts[key] = counts.get(key, 0) + 1
        extra[row] = _JSON_OUT.encode(other) if other else None
    return pa.array(extra, pa.string()), counts


def _any_valid(table: pa.Table, names: list[str]) -> pa.Array:
    valid = pa.array(np.zeros(table.num_rows, bool))
    for name in names:
        valid = pc.or_(valid, pc.is_valid(table[name]).combine_chunks())
    return valid


def count_other_keys(table: pa.Table, log: RecordLog) -> None:
    """Name and count, per key, the lines of a parsed chunk whose keys no column holds (kept in `extra`)."""
    counts = json.loads((table.schema.metadata or {}).get(OTHER_KEY_COUNTS.encode(), b"{}"))
    for key, count in sorted(counts.items()):
        log.count(f"lines with the key {key!r}, kept in `extra` (no column holds it)", count)
        log.notice(f"the key {key!r} is not one this builder maps to a column: its values are kept, as written, "
                   "in the `extra` column (JSON)")


def _bisect_lines(lines, indices, schema, tables, row_lines, unparsed) -> None:
    piece = b"\n".join(lines[i] for i in indices)
    block = PARSE_BLOCK_BYTES if len(indices) > 1 else max(PARSE_BLOCK_BYTES, len(piece) + 1)
    table, problem = _read_json(piece, schema, block)
    if table is not None and table.num_rows == len(indices):
        tables.append(table)
        row_lines.extend(indices)
    elif len(indices) == 1:
        unparsed.append((indices[0], problem or f"the line holds {table.num_rows} JSON values; expected one "
                                                 "object per line"))
    else:
        middle = len(indices) // 2
        _bisect_lines(lines, indices[:middle], schema, tables, row_lines, unparsed)
        _bisect_lines(lines, indices[middle:], schema, tables, row_lines, unparsed)


_STARTS_WITH_NULL = re.compile(rb"\s*null")


def _read_json(data: bytes, schema: pa.Schema, block_size: int) -> tuple[pa.Table | None, str | None]:
    """The lines as a table: the keys `schema` names with its types, then any other keys with types pyarrow
    infers (only their presence is used; two lines giving one of them different types fail the parse, which
    the bisection then resolves)."""
    if _STARTS_WITH_NULL.match(data):
        # pyarrow's JSON reader (26.0) dies with a segmentation fault on a buffer whose first value is null
        return None, "the line is a JSON null, not an object"
    try:
        table = pj.read_json(pa.BufferReader(pa.py_buffer(data)), read_options=pj.ReadOptions(block_size=block_size),
                             parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"))
    except UnicodeDecodeError:
        return None, "the line is not valid UTF-8"
    except pa.ArrowInvalid as error:
        return None, describe_json_error(str(error))
    try:
        table.validate(full=True)  # the JSON reader does not check that strings are UTF-8
    except pa.ArrowInvalid:
        return None, "the line is not valid UTF-8"
    return table, None


def describe_json_error(message: str) -> str:
    """pyarrow's JSON error, said in terms of the line and its keys."""
    text = re.sub(r" in row \d+$", "", message.removeprefix("JSON parse error: ")).strip()
    changed = re.fullmatch(r"Column\(/?(.*)\) changed from (\w+) to (\w+)", text)
    if changed and not changed[1]:
        return f"the line is a JSON {changed[3]}, not an object"
    if changed:
        return f"{changed[1]} is a {changed[3]}, expected a {changed[2]}"
    twice = re.fullmatch(r"Column\(/(.*)\) was specified twice", text)
    if twice:
        return f"the key {twice[1]} appears twice"
    return f"invalid JSON ({text})"


_newline_counts: dict[tuple, dict[int, int]] = {}
"""Per process and file version: byte offset -> newlines before it, so later counts resume from there."""


def newlines_before(path, offset: int) -> int:
    """Newlines in the file's first `offset` bytes (the number of lines before a line starting there)."""
    stat = os.stat(path)
    known = _newline_counts.setdefault((os.fspath(path), stat.st_size, stat.st_mtime_ns), {0: 0})
    base = max(o for o in known if o <= offset)
    count, position = known[base], base
    with open(path, "rb") as file:
        file.seek(base)
        while position < offset and (block := file.read(min(CHUNK_BYTES, offset - position))):
            count += block.count(b"\n")
            position += len(block)
    known[offset] = count
    return count


# ---- caption lines ------------------------------------------------------------------------------------------

REQUIRED_KEYS = ("YoutubeID", "Start_timestamp", "End_timestamp", "Caption")
SCORE_KEYS = {"umt_score": "UMT_Score", "clip_score": "CLIP_Score", "aesthetic_score": "Aesthetic_Score"}
"""Score columns and the keys they come from, optional in every subset. The spellings are those of code that
reads the released files (no schema is published); another spelling lands in `extra` with a notice."""
INFO_KEYS = {"language": ("Language", "language"), "category": ("Category", "category")}
"""INFO fields and the key spellings accepted for them, first found wins (the released spelling is unverified)."""
QUERY_SCHEMA = pa.schema([("search_word_id", pa.string()), ("search_word", pa.string())])

TIMESTAMP = r"(?P<h>\d+):(?P<m>[0-5]?\d):(?P<s>[0-5]?\d(?:\.\d+)?)"
"""HH:MM:SS.mmm as released, tolerating one-digit fields and a missing or shorter fraction (0:00:07.5)."""
DASHED_TIMESTAMP = re.compile(r"(\d+)-(\d{1,2})-(\d{1,2})(?:[.-](\d+))?")
"""The same in file names whose colons (and dot) were replaced by '-' (colons are illegal on Windows)."""


def release_schema(has_info: bool) -> pa.Schema:
    fields = [(key, pa.string()) for key in REQUIRED_KEYS] + [(key, pa.float64()) for key in SCORE_KEYS.values()]
    if has_info:
        fields += [(key, pa.string()) for keys in INFO_KEYS.values() for key in keys]
    return pa.schema(fields)


def timestamp_seconds(texts: pa.ChunkedArray) -> pa.ChunkedArray:
    """Seconds (float64) of HH:MM:SS.fff strings; null where not one."""
    return pa.chunked_array([_timestamp_seconds(chunk) for chunk in texts.chunks], pa.float64())


CANONICAL_DIGITS = [0, 1, 3, 4, 6, 7, 9, 10, 11]
"""Where `HH:MM:SS.mmm` has digits; the weights below turn them into milliseconds."""
CANONICAL_WEIGHTS = np.array([36_000_000, 3_600_000, 600_000, 60_000, 10_000, 1_000, 100, 10, 1])


def _timestamp_seconds(texts: pa.Array) -> pa.Array:
    """The canonical 12-character form is decoded from the string bytes with numpy; any other form
    (short, hours > 99, invalid) goes through the TIMESTAMP regex. The regex alone would cost more
    than parsing the JSON.

    When every value is 12 characters (a clean chunk), the values lie back to back in the data buffer and
    are read as one (rows x 12) view; otherwise the 12-character values are gathered. Digits are checked in
    uint8, where a byte below '0' wraps above 9."""
    size = len(texts)
    seconds, parsed = np.zeros(size), np.zeros(size, bool)
    offsets_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    offsets = np.frombuffer(texts.buffers()[1], offsets_type, size + 1, texts.offset * np.dtype(offsets_type).itemsize)
    values = texts.buffers()[2]
    data = np.frombuffer(values, np.uint8) if values is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if size and texts.null_count == 0 and (lengths == 12).all():
        candidates, chars = None, data[offsets[0]:offsets[-1]].reshape(size, 12)
    else:
        candidates = np.flatnonzero((lengths == 12) & texts.is_valid().to_numpy(zero_copy_only=False))
        chars = data[offsets[candidates][:, None] + np.arange(12)]
    if len(chars):
        digits = chars[:, CANONICAL_DIGITS] - np.uint8(ord("0"))
        canonical = (digits <= 9).all(axis=1) & (digits[:, 2] <= 5) & (digits[:, 4] <= 5) \
            & (chars[:, 2] == ord(":")) & (chars[:, 5] == ord(":")) & (chars[:, 8] == ord("."))
        rows = np.flatnonzero(canonical) if candidates is None else candidates[canonical]
        seconds[rows] = digits[canonical].astype(np.int64) @ CANONICAL_WEIGHTS / 1000
        parsed[rows] = True
    others = np.flatnonzero(~parsed)
    if others.size:
        parts = pc.extract_regex(texts.take(others), f"^{TIMESTAMP}$")
        h, m, s = (pc.cast(pc.struct_field(parts, name), pa.float64()) for name in ("h", "m", "s"))
        values = pc.round(pc.add(pc.add(pc.multiply(h, 3600), pc.multiply(m, 60)), s), 6)
        seconds[others] = values.to_numpy(zero_copy_only=False)   # nulls become NaN
        parsed[others] = values.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(seconds, pa.float64(), mask=~parsed)


def caption_columns(raw: pa.Table, has_info: bool) -> tuple[dict[str, pa.ChunkedArray], list[tuple[int, str, str]]]:
    """The config's caption columns for the valid lines, and (row, problem, YoutubeID) for the others."""
    start, end = timestamp_seconds(raw["Start_timestamp"]), timestamp_seconds(raw["End_timestamp"])
    checks = [pc.is_null(start), pc.is_null(end), pc.is_null(raw["YoutubeID"]), pc.is_null(raw["Caption"]),
              pc.fill_null(pc.less(end, start), False),
              pc.fill_null(pc.equal(pc.utf8_length(raw["YoutubeID"]), 0), False)]
    invalid = functools.reduce(pc.or_, checks)
    problems = []
    if pc.any(invalid).as_py():
        bad_rows = np.flatnonzero(invalid.to_numpy(zero_copy_only=False))
        for row in bad_rows:
            line = raw.slice(row, 1).to_pylist()[0]
            problems.append((int(row), line_problem(line, start[row].as_py(), end[row].as_py()), line["YoutubeID"]))
        valid = pc.invert(invalid)
        raw, start, end = raw.filter(valid), start.filter(valid), end.filter(valid)
    columns = {
        "youtube_id": raw["YoutubeID"], "start": start, "end": end, "duration": pc.round(pc.subtract(end, start), 6),
        "caption": raw["Caption"], **{name: raw[key] for name, key in SCORE_KEYS.items()},
        "start_timestamp": raw["Start_timestamp"], "end_timestamp": raw["End_timestamp"], EXTRA: raw[EXTRA],
    }
    if has_info:
        for name, keys in INFO_KEYS.items():
            columns[name] = pc.coalesce(*(raw[key] for key in keys))
    return columns, problems


def query_columns(raw: pa.Table) -> tuple[dict[str, pa.ChunkedArray], list[tuple[int, str, str]]]:
    """The queries config's columns for the lines that have both keys, and (row, problem, query) for the others."""
    invalid = pc.or_(pc.is_null(raw["search_word_id"]), pc.is_null(raw["search_word"]))
    problems = []
    if pc.any(invalid).as_py():
        for row in np.flatnonzero(invalid.to_numpy(zero_copy_only=False)):
            line = raw.slice(row, 1).to_pylist()[0]
            missing = [key for key in QUERY_SCHEMA.names if line[key] is None]
            problems.append((int(row), f"missing {', '.join(missing)} (absent or null)", line["search_word_id"]))
        raw = raw.filter(pc.invert(invalid))
    return {name: raw[name] for name in (*QUERY_SCHEMA.names, EXTRA)}, problems


def line_problem(line: dict, start: float | None, end: float | None) -> str:
    missing = [key for key in REQUIRED_KEYS if line[key] is None]
    if missing:
        return f"missing {', '.join(missing)} (absent or null)"
    if not line["YoutubeID"]:
        return "YoutubeID is empty"
    for key, seconds in (("Start_timestamp", start), ("End_timestamp", end)):
        if seconds is None:
            return f"{key} {line[key]!r} is not a timestamp HH:MM:SS.mmm"
    return f"End_timestamp {line['End_timestamp']} is before Start_timestamp {line['Start_timestamp']}"


def parse_timestamp(value) -> float:
    """Seconds of a clip bound as video2dataset and file names write it: HH:MM:SS.mmm or a number of seconds.

    File names often replace the colons (and the dot) with '-'. Raises ValueError when it is neither.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    dashed = DASHED_TIMESTAMP.fullmatch(text)
    if dashed:
        text = f"{dashed[1]}:{dashed[2]}:{dashed[3]}" + (f".{dashed[4]}" if dashed[4] else "")
    match = re.fullmatch(TIMESTAMP, text)
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return round(int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"]), 6)


def clip_key(youtube_id: str, start: float, end: float) -> tuple[str, int, int]:
    """A clip's identity, to the millisecond: captions, video2dataset and file names round differently."""
    return youtube_id, round(start * 1000), round(end * 1000)


# ---- downloaded videos --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredClip:
    origin: str          # shown in rows: the video2dataset shard or the clip file, relative to the raw folder
    container: str       # the file holding the bytes (a tar, or the clip file itself)
    name: str            # the member or file name (the video's `path`)
    offset: int          # where the bytes start in `container`
    size: int


@dataclass
class VideoIndex:
    """Every clip the user's downloads hold, keyed by clip identity, plus the full videos by id."""

    stored: dict[tuple[str, int, int], StoredClip] = field(default_factory=dict)
    failed: dict[tuple[str, int, int], str] = field(default_factory=dict)
    full_videos: dict[str, tuple[Path, str]] = field(default_factory=dict)    # id -> (path, origin)
    problems: list[RawDataError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def video_cell(self, youtube_id: str, start: float, end: float, clip_name: str) -> dict:
        """The video columns of one caption row: a stored clip, else a cut of the full video, else why not."""
        key = clip_key(youtube_id, start, end)
        cell = {"video": None, "status": "missing", "download_error": None, "video_origin": None,
                "video_start": None, "video_end": None}
        if key in self.stored:
            clip = self.stored[key]
            return {**cell, "status": "ok", "video_origin": clip.origin,
                    "video": {"bytes": read_stored_clip(clip), "path": clip.name}}
        if youtube_id in self.full_videos:
            path, origin = self.full_videos[youtube_id]
            try:
                data, video_start, video_end = cut_clip(path, start, end, VIDEO_EXTENSIONS[path.suffix.lower()])
            except MediaError as error:
                raise RawDataError(path, str(error), hint=CUT_HINTS[error.kind]) from None
            return {**cell, "status": "ok", "video_origin": origin, "video_start": video_start,
                    "video_end": video_end, "video": {"bytes": data, "path": clip_name + path.suffix}}
        if key in self.failed:
            return {**cell, "status": "failed", "download_error": self.failed[key]}
        return cell


def index_videos(sources: VideoSources) -> VideoIndex:
    """Every clip and full video in the downloaded folders (reads each video2dataset shard's headers)."""
    index = VideoIndex()
    root = Path(sources.data_dir)
    if sources.video2dataset:
        for shard in video2dataset_shards(Path(sources.video2dataset)):
            index_video2dataset_shard(index, shard, shard.relative_to(root).as_posix())
    if sources.clips:
        index_clip_files(index, Path(sources.clips), root)
    if sources.videos:
        for path in _video_files(Path(sources.videos)):
            youtube_id = full_video_id(path.stem)
            index.full_videos.setdefault(youtube_id, (path, path.relative_to(root).as_posix()))
    return index


def video2dataset_shards(folder: Path) -> list[Path]:
    """`NNNNN.tar` files (output_format webdataset) and `NNNNN/` folders (output_format files)."""
    return sorted(p for p in folder.rglob("*") if (p.is_file() and p.suffix == ".tar")
                  or (p.is_dir() and p.name.isdigit()))


def index_video2dataset_shard(index: VideoIndex, shard: Path, origin: str) -> None:
    """Add a shard's samples: `<key>.json` metadata, `<key>.mp4` (absent for failed downloads), `.txt` unused.

    A sample's key is its member name without the extension (the last dot: keys may contain dots).
    """
    metadata: dict[str, bytes] = {}
    videos: dict[str, tuple[str, int, int]] = {}
    for name, read, offset, size in _shard_members(shard):
        key, _, extension = name.rpartition(".")
        if extension == "json":
            try:
                metadata[key] = read()
            except RawDataError as error:
                error.record = key
                index.problems.append(error)
        elif f".{extension.lower()}" in VIDEO_EXTENSIONS:
            videos[key] = (name, offset, size)
    for key in sorted(videos.keys() - metadata.keys()):
        index.problems.append(RawDataError(f"{shard}:{videos[key][0]}", "a video without its .json metadata",
                                           record=key, hint="the shard is incomplete; download it again"))
    for key in sorted(metadata):
        try:
            add_video2dataset_sample(index, metadata[key], videos.get(key), shard, origin)
        except RawDataError as error:
            error.path, error.record = f"{shard}:{key}.json", key
            index.problems.append(error)


def _shard_members(shard: Path) -> Iterator[tuple[str, Callable[[], bytes], int, int]]:
    """(member name, read its bytes, data offset, size) for each file of a tar or folder shard."""
    if shard.is_dir():
        for path in sorted(p for p in shard.iterdir() if p.is_file()):
            yield path.name, path.read_bytes, 0, path.stat().st_size
        return
    try:
        with tarfile.open(shard, "r:") as archive:
            for member in archive:
                if member.isfile():
                    where = f"{shard}:{member.name}"
                    yield (member.name, functools.partial(read_tar_member, archive, member, TEXT_MEMBER_LIMIT, where),
                           member.offset_data, member.size)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise RawDataError(shard, f"not a readable tar file ({error})",
                           hint="the shard is corrupt or truncated; download it again with video2dataset") from None


def add_video2dataset_sample(index: VideoIndex, metadata: bytes, video: tuple | None, shard: Path, origin: str) -> None:
    try:
        sample = json.loads(metadata)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RawDataError(shard, f"the sample metadata is not valid JSON ({error})") from None
    if not isinstance(sample, dict):
        raise RawDataError(shard, "the sample metadata is not a JSON object")
    youtube_id = sample.get("YoutubeID") or youtube_id_from_url(sample.get("url"))
    if not isinstance(youtube_id, str):
        raise RawDataError(shard, f"no YoutubeID and no YouTube url ({sample.get('url')!r})",
                           hint="video2dataset keeps the input columns: give it the url or YoutubeID column")
    try:
        spans = [(parse_timestamp(start), parse_timestamp(end)) for start, end in sample.get("clips") or []]
    except (ValueError, TypeError):
        raise RawDataError(shard, f"clips must be a list of [start, end] pairs, got {sample.get('clips')!r}") from None
    if not spans:
        raise RawDataError(shard, "no clips: the sample cannot be matched to a caption line",
                           hint="run video2dataset with clip_col, or put whole videos in videos/ to cut them here")
    status = sample.get("status")
    if status == "success":
        if video is None:
            raise RawDataError(shard, "the status is success but the shard has no video for this key",
                               hint="the shard is incomplete; download it again")
        if len(spans) != 1:
            raise RawDataError(shard, f"a downloaded clip must have one [start, end] span, got {len(spans)}")
        name, offset, size = video
        container = shard / name if shard.is_dir() else shard
        index.stored.setdefault(clip_key(youtube_id, *spans[0]), StoredClip(origin, str(container), name, offset, size))
    elif status in V2D_FAILURES:
        for span in spans:
            index.failed.setdefault(clip_key(youtube_id, *span), f"{status}: {sample.get('error_message')}")
    else:
        raise RawDataError(shard, f"unknown status {status!r}", hint=f"expected success or {', '.join(V2D_FAILURES)}")


def youtube_id_from_url(url) -> str | None:
    """The video id of a youtube.com/watch?v=, youtu.be/ or /shorts/ url."""
    if not isinstance(url, str):
        return None
    parsed = urllib.parse.urlparse(url)
    candidates = urllib.parse.parse_qs(parsed.query).get("v", []) + [parsed.path.rstrip("/").rsplit("/", 1)[-1]]
    return next((c for c in candidates if YOUTUBE_ID.fullmatch(c)), None)


CLIP_FILE_NAME = re.compile(r"(?P<id>[A-Za-z0-9_-]{11})_(?P<start>[\d:.-]+)_(?P<end>[\d:.-]+)")


def parse_clip_file_name(stem: str) -> tuple[str, float, float] | None:
    """(YoutubeID, start, end) of `<YoutubeID>_<start>_<end>`; None for other names."""
    match = CLIP_FILE_NAME.fullmatch(stem)
    if match is None:
        return None
    try:
        return match["id"], parse_timestamp(match["start"]), parse_timestamp(match["end"])
    except ValueError:
        return None


def index_clip_files(index: VideoIndex, folder: Path, root: Path) -> None:
    """Add the clip files found anywhere under `folder`; files whose name tells no clip make a notice."""
    unmatched = []
    for path in _video_files(folder):
        clip = parse_clip_file_name(path.stem)
        relative = path.relative_to(root).as_posix()
        if clip is None:
            unmatched.append(relative)
        else:
            index.stored.setdefault(clip_key(*clip), StoredClip(relative, str(path), path.name, 0, path.stat().st_size))
    if unmatched:
        index.notices.append(f"{len(unmatched)} video file(s) under clips/ are not named <YoutubeID>_<start>_<end> "
                             f"and match no caption line, so they were not used (e.g. {unmatched[0]}); rename them "
                             "to use them")


def full_video_id(stem: str) -> str:
    """A full video's YouTube id: the file name, or the `[id]` that ends yt-dlp's default names."""
    bracketed = re.search(r"\[([A-Za-z0-9_-]{11})\]$", stem)
    return bracketed[1] if bracketed else stem


# ---- video bytes ----------------------------------------------------------------------------------------

CUT_HINTS = {"unreadable": "the file is corrupt; download it again",
             "no_video_stream": "download the video, not only its audio",
             "outside": "the download is incomplete or another video; download it again"}
"""What to do when a clip cannot be cut from a full video, by MediaError kind."""


def read_stored_clip(clip: StoredClip) -> bytes:
    where = f"{clip.container}:{clip.name}" if clip.container.endswith(".tar") else clip.container
    with open(clip.container, "rb") as file:
        file.seek(clip.offset)
        data = file.read(clip.size)
    if len(data) != clip.size:
        raise RawDataError(where, f"the video is cut short ({len(data)} of {clip.size} bytes)",
                           hint="the file is truncated; download it again")
    check_video_bytes(data, clip.name, where)
    return data


def check_video_bytes(data: bytes, name: str, where) -> None:
    """Refuse empty files and files whose first bytes are not of the container their extension names."""
    if not data:
        raise RawDataError(where, "the video file is empty", hint="the download failed; download it again")
    container = VIDEO_EXTENSIONS[Path(name).suffix.lower()]
    if not has_signature(data, container):
        raise RawDataError(where, f"not a {container} file (its first bytes are {data[:8].hex()})",
                           hint="the file is corrupt or misnamed; download it again")
    truncation = mp4_truncation(data) if container in ("mp4", "mov") else None
    if truncation:
        raise RawDataError(where, f"truncated MP4: {truncation}", hint="the download was cut short; download it again")
