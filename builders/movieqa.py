"""MovieQA: multiple-choice questions about 408 movies, joined to their plots, subtitles and video clips.

Raw release (downloaded by hand): the `MovieQA_benchmark` repository's `data/qa.json`, `data/movies.json`
and `data/splits.json`, plus the story tarballs handed out after registration (plot, split_plot, subtt,
script; DVS written by `download_dvs_stories.py` from MPII-MD), the video metadata (`<imdb>.matidx`
frame→seconds maps and `<clip>.video.sbd` shot boundaries) and one `video_clips/<imdb>.tar` per video
movie. The tarballs' internal prefixes are not documented, so story files and clips are found by file
name anywhere under the data directory; video tars are read in place (members are never extracted).
What a config does not read (the repository's code and docs, story/MD5SUM, the downloaded tarballs, story
files of movies movies.json does not list, second copies of a story file, anything unknown) is listed by
the build with a reason.

`plot_alignment` holds "split_plot file line numbers" (the benchmark README): 0-based indices into the
raw lines of story/split_plot/<imdb>.split.wiki, blank lines included, which is how code that uses the
alignments reads them. The official story loader drops blank lines, so its sentence list is not what the
alignment indexes once a file has one; an alignment on a blank line or past the end is a located error.

Subtitles are not uniformly encoded (UTF-8 with and without BOM, cp1252, latin-1) and carry the quirks
of hand-made SRT files; a cue whose timing line cannot be read is skipped and listed with its movie,
never the whole file. Video clips are copied byte for byte.
"""
from __future__ import annotations

import codecs
import concurrent.futures
import copy
import functools
import json
import multiprocessing
import os
import re
import sys
import tarfile
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import datasets
import numpy as np
import pyarrow as pa
import srt
from datasets import List, Value, Video

from .core import (ExcludeBy, MMConfig, MultimodalBuilder, RawPart, collector_paused, group_by_count, group_by_size,
                   storage_schema, table_from_columns)
from .errors import RawDataError, RecordLog, not_utf8
from .media.video import has_signature, mp4_truncation

T = TypeVar("T")

# ---- metadata --------------------------------------------------------------------------------------

SPLITS = {"train": "train", "val": "validation", "test": "test"}
"""Split names of splits.json and of the qid prefixes → the Hub split names."""

TEST_ANSWER = -1
"""correct_index of questions whose answer the release withholds (every test question)."""

CLIP_NAME = re.compile(r"(tt\d+)\.sf-(\d+)\.ef-(\d+)\.video\.mp4")
RAW_FILE_NAMES = {  # kind -> file name pattern; group 1 is the key the file is looked up by
    "qa": re.compile(r"(qa)\.json"),
    "movies": re.compile(r"(movies)\.json"),
    "splits": re.compile(r"(splits)\.json"),
    "plot": re.compile(r"(tt\d+)\.wiki"),
    "split_plot": re.compile(r"(tt\d+)\.split\.wiki"),
    "subtitles": re.compile(r"(tt\d+)\.srt"),
    "script": re.compile(r"(tt\d+)\.script"),
    "dvs": re.compile(r"(tt\d+)\.dvs"),
    "frame_times": re.compile(r"(tt\d+)\.matidx"),
    "shot_boundaries": re.compile(r"(tt\d+\.sf-\d+\.ef-\d+\.video)\.sbd"),
    "video": re.compile(r"(tt\d+\.sf-\d+\.ef-\d+\.video\.mp4)"),
    "video_tar": re.compile(r"(tt\d+)\.tar"),
}
MOVIE_TEXT_KEYS = {"plot": "plot", "subtitles": "subtitle", "script": "script", "dvs": "dvs"}
"""Story kinds whose path movies.json declares (`text.<key>`), relative to the data directory."""
QA_KEYS = ("qid", "question", "answers", "imdb_key", "correct_index", "plot_alignment", "video_clips")
MOVIE_KEYS = ("genre", "text", "imdb_key", "name", "year")
"""The record keys the README documents and the releases hold; any other key is kept in `extra` and counted."""

LINE_WHITESPACE = " \t\n\r\x0b\x0c"
"""What the official loader's Python 2 `str.strip()` removes from a line (bytes, so no Unicode spaces)."""

NOT_READ = (
    ("README.md", "the benchmark repository's README (documentation, not data)"),
    ("CHANGELOG", "the benchmark repository's change log (documentation, not data)"),
    (".gitignore", "the benchmark repository's git settings, not data"),
    ("*.py", "the benchmark's Python 2 loaders and scripts, not data (this build reads the files they load)"),
    ("*.pyc", "compiled Python of the benchmark's code, not data"),
    ("*.sh", "a helper script of the benchmark (frame bursting, audio ripping, story download), not data"),
    ("MD5SUM", "MD5 checksums of the tarballs as downloaded (check them with `md5sum -c` before extracting); "
               "build_report.json holds checksums of what the build reads"),
    ("*.tar.gz", "a downloaded story or video-metadata tarball (plot, split_plot or splitplot, subtt, script, "
                 "matidx, shot_boundaries): the build reads the files extracted from it, not the archive"),
    ("video_0.5fps/", "frames burst from the clips by story/burst_at_0.5fps.sh: derived from the clips, which "
                      "qa_video holds byte for byte"),
    ("audio_clips/", "AAC audio ripped from the clips by story/rip_audio_from_video_clips.sh: derived from the "
                     "clips, which qa_video holds byte for byte"),
    ("annotations-original.csv", "the MPII-MD transcriptions download_dvs_stories.py fetches; the build reads the "
                                 "story/dvs/<imdb_key>.dvs files it writes from them"),
)
"""Files of a MovieQA_benchmark folder that are not data, or that the build reads in another form."""
SECOND_COPY = ("another copy of a story file: the build reads the one movies.json declares, else the first found "
               "in path order")

# ---- features, with the docs the card's field table is made of --------------------------------------

CUES = ([{
    "index": (Value("int32"), "Cue number as written in the file (null when the cue has none); files start at "
                              "0, 1, 2 or 57, and numbers jump or restart, so it is not a position."),
    "start": (Value("float64"), "Start time in seconds, as written (milliseconds field read as an integer)."),
    "end": (Value("float64"), "End time in seconds, as written; a few release cues end before they start."),
    "text": (Value("string"), "Cue text, lines joined by '\\n', formatting tags such as <i> and <font> removed, "
                              "trailing spaces dropped; empty for the release's text-less cues."),
}], "Subtitle cues in file order (not re-sorted: a few release files have cues out of time order).")

SKIPPED_CUES = ([{
    "line": (Value("int32"), "1-based line of the cue's timing line in the file."),
    "timing": (Value("string"), "The timing line as written."),
    "text": (Value("string"), "The cue's text (tags kept), which is not in `cues`."),
    "reason": (Value("string"), "Why the cue could not be read."),
}], "Cues skipped because their timing line cannot be read (e.g. a corrupted `00:15:*****9`).")

QA_FIELDS = {
    "qid": (Value("string"), "Question id from qa.json, '<train|val|test>:<number>' (numbers are not contiguous)."),
    "imdb_key": (Value("string"), "IMDb id of the movie the question is about."),
    "movie_title": (Value("string"), "Movie title (movies.json `name`)."),
    "movie_year": (Value("int32"), "Release year (movies.json `year`)."),
    "movie_genres": ([Value("string")], "IMDb genres (movies.json `genre`, split at commas)."),
    "question": (Value("string"), "The question, as the annotators wrote it (typos kept)."),
    "answers": (List(Value("string"), length=5),
                "The five answer options in release order; an option can be the empty string."),
    "correct_index": (Value("int32"), "0-based index of the correct answer; -1 for test questions, whose answers the "
                                      "release withholds (scored by the benchmark's evaluation server)."),
    "plot_alignment": ([Value("int32")], "The split-plot lines that answer the question (qa.json `plot_alignment`, "
                                         "'split_plot file line numbers'): 0-based line numbers in "
                                         "story/split_plot/<imdb>.split.wiki, blank lines counted; null when the "
                                         "record has no such key."),
    "video_clips": ([Value("string")], "Names of the question's video clips (`<imdb>.sf-<first frame>.ef-<last "
                                       "frame>.video.mp4`); empty for text-only questions."),
    "extra": (Value("string"), "Keys of the qa.json record this build does not map, as a JSON object (the build "
                               "counts them in a notice); null when the record has none, as in every known release."),
}

QA_PLOT_FIELDS = {
    **QA_FIELDS,
    "aligned_sentences": ([Value("string")], "The split-plot lines `plot_alignment` points to, in its order (each "
                                             "holds a sentence: an alignment on a blank line is refused); null when "
                                             "the movie has no split plot or the record no alignment."),
    "plot_sentences": ([Value("string")], "Every line of split_plot/<imdb>.split.wiki in file order, surrounding "
                                          "whitespace stripped, blank lines kept as '' so that `plot_alignment` "
                                          "indexes this list directly (the official loader drops them); null when "
                                          "the file is absent."),
    "plot": ([Value("string")], "The whole plot synopsis, one paragraph per item (non-blank lines of "
                                "plot/<imdb>.wiki, as the official loader reads them); null when the file is "
                                "absent."),
}

QA_SUBTITLES_FIELDS = {
    **QA_FIELDS,
    "subtitle_scope": (Value("string"), "'clips': cues overlapping the question's clips; 'movie': every cue of the "
                                        "movie (the question has no clips, or the movie no frame-time map); null "
                                        "when the movie has no subtitle file."),
    "clip_times": ([{
        "clip": (Value("string"), "Clip name, as in `video_clips`."),
        "start": (Value("float64"), "Time of the clip's first frame in the movie, seconds (from <imdb>.matidx)."),
        "end": (Value("float64"), "Time of the clip's last frame, seconds (clamped to the frame-time map)."),
    }], "The time range of each clip; empty without clips, times null without a frame-time map."),
    "subtitles": CUES,
}

QA_VIDEO_FIELDS = {
    **QA_FIELDS,
    "videos": ([Video()], "The clips' MP4 files byte for byte (never re-encoded), in `video_clips` order; null "
                          "for a clip that is missing, empty, not an MP4 file or truncated (see `clips[].status`)."),
    "clips": ([{
        "name": (Value("string"), "Clip name, as in `video_clips`."),
        "start_frame": (Value("int32"), "First movie frame of the clip (0-based, from the name)."),
        "end_frame": (Value("int32"), "Last movie frame of the clip, inclusive (from the name)."),
        "start": (Value("float64"), "Time of the first frame in the movie, seconds (null without a frame-time map)."),
        "end": (Value("float64"), "Time of the last frame, seconds (null without a frame-time map)."),
        "shots": ([List(Value("int32"), length=2)],
                  "Shot boundaries [first frame, last frame] in absolute movie frames, from <clip>.video.sbd; "
                  "null when the file is absent."),
        "status": (Value("string"), "'ok', or why `videos` has null here: 'missing' (no such file in the raw data), "
                                    "'empty' (0 bytes), 'not mp4' or 'truncated' (its boxes run past the end of "
                                    "the file: a download cut short)."),
    }], "Per clip, in `video_clips` order: frames, times, shots and availability."),
}

SUBTITLE_TRACK = {
    "encoding": (Value("string"), "How the file was decoded: utf-8, utf-8-sig (with BOM), cp1252 or latin-1."),
    "cues": CUES,
    "skipped_cues": SKIPPED_CUES,
}

MOVIE_FIELDS = {
    "imdb_key": (Value("string"), "IMDb id of the movie."),
    "title": (Value("string"), "Movie title (movies.json `name`)."),
    "year": (Value("int32"), "Release year (movies.json `year`)."),
    "genres": ([Value("string")], "IMDb genres (movies.json `genre`, split at commas)."),
    "plot": ([Value("string")], "Plot synopsis, one paragraph per item (non-blank lines); null when the file is "
                                "absent."),
    "split_plot": ([Value("string")], "The same synopsis one sentence per line: every line of the split-plot file, "
                                      "blank lines kept as '' (what `plot_alignment` indexes); null when the file "
                                      "is absent."),
    "subtitles": (SUBTITLE_TRACK, "The subtitle file (subtt/<imdb>.srt); null when absent."),
    "script": (Value("string"), "The IMSDb screenplay as written (indentation kept); null for movies without one."),
    "dvs": (SUBTITLE_TRACK, "Descriptive video service sentences with their times (dvs/<imdb>.dvs, written by "
                            "the release's MPII-MD download script); null for movies without them."),
    "video_clips": ([Value("string")], "Names of the movie's clip files found in the raw data, sorted."),
    "extra": (Value("string"), "Keys of the movies.json record (and of its `text` object, under \"text\") this "
                               "build does not map, as a JSON object (counted in a notice); null when there are "
                               "none, as in the known releases."),
}

# ---- configs ------------------------------------------------------------------------------------------

RAW_PARTS = {
    "qa": RawPart("data/qa.json (from the MovieQA_benchmark repository)"),
    "movies": RawPart("data/movies.json (from the MovieQA_benchmark repository)"),
    "splits": RawPart("data/splits.json (from the MovieQA_benchmark repository)"),
    "plot": RawPart("story/plot/<imdb_key>.wiki (extract plot.tar.gz)"),
    "split_plot": RawPart("story/split_plot/<imdb_key>.split.wiki (extract split_plot.tar.gz)"),
    "subtitles": RawPart("story/subtt/<imdb_key>.srt (extract subtt.tar.gz)"),
    "video": RawPart("video clips <imdb_key>.sf-NNNNNN.ef-NNNNNN.video.mp4 (story/video_clips/<imdb_key>.tar, "
                     "as downloaded or extracted)"),
}

VERSION = datasets.Version("1.0.0")
QA_PARTS = ("qa", "movies", "splits")
CONFIGS = [
    MMConfig(name="qa", version=VERSION, fields=QA_FIELDS, requires=QA_PARTS,
             description="One row per question: the question, its five answers, the correct one (withheld for "
                         "test), its movie, plot alignment and clip names."),
    MMConfig(name="qa_plot", version=VERSION, fields=QA_PLOT_FIELDS, requires=QA_PARTS + ("plot", "split_plot"),
             description="Every question with the plot sentences it is aligned to and the whole plot synopsis."),
    MMConfig(name="qa_subtitles", version=VERSION, fields=QA_SUBTITLES_FIELDS, requires=QA_PARTS + ("subtitles",),
             description="Every question with the subtitle cues that overlap its video clips (the whole movie's "
                         "cues for questions without clips)."),
    MMConfig(name="qa_video", version=VERSION, fields=QA_VIDEO_FIELDS, requires=QA_PARTS + ("video",),
             description="The questions answerable from video, with their clips' original MP4 files, frame "
                         "ranges, times and shot boundaries."),
    MMConfig(name="movies", version=VERSION, fields=MOVIE_FIELDS, requires=("movies", "splits"),
             description="One row per movie: metadata, plot, split plot, subtitle cues, script and DVS where "
                         "present, and its clip names."),
]
STORY_KINDS = {  # what each config reads besides the data/*.json files
    "qa": (), "qa_plot": ("plot", "split_plot"), "qa_subtitles": ("subtitles", "frame_times"),
    "qa_video": ("video", "video_tar", "frame_times", "shot_boundaries"),
    "movies": ("plot", "split_plot", "subtitles", "script", "dvs", "video", "video_tar"),
}


READ_RECORDS = 1000
"""A shard job reads and parses its qa.json records this many neighbours at a time (`QAShard.pieces`)."""


@dataclass(frozen=True)
class QAShard:
    """Questions of one split: where they are in qa.json, and where their clips are."""

    split: str
    pieces: array  # array("q"): (first position, past the last, first byte, past the last byte) of each run of
                   # at most READ_RECORDS neighbouring records: all a shard job needs to read its own, so that no
                   # job holds the planner's index of the whole file (8 bytes a question)
    clips: tuple[tuple[str, str, int, int], ...] = ()   # (clip name, file or tar, byte offset, size)

    @classmethod
    def of(cls, split: str, positions: Sequence[int], records: "QAFile", clips: tuple = ()) -> "QAShard":
        """The shard of these ascending positions (not empty) of `records`."""
        pieces, starts, ends = array("q"), records.starts, records.ends
        for first, stop in neighbour_runs(positions):
            for begin in range(first, stop, READ_RECORDS):
                end = min(stop, begin + READ_RECORDS)
                pieces.extend((begin, end, starts[begin], ends[end - 1]))
        return cls(split, pieces, clips)

    def spans(self) -> Iterator[tuple[int, int, int, int]]:
        """The pieces, as (first position, past the last, first byte, past the last byte)."""
        pieces = self.pieces
        return ((pieces[i], pieces[i + 1], pieces[i + 2], pieces[i + 3]) for i in range(0, len(pieces), 4))

    @property
    def positions(self) -> list[int]:
        return [position for first, stop, _, _ in self.spans() for position in range(first, stop)]


@dataclass(frozen=True)
class MovieShard:
    split: str
    imdb_keys: tuple[str, ...]


@dataclass(frozen=True)
class Movie:
    imdb_key: str
    title: str
    year: int
    genres: tuple[str, ...]
    declared: dict        # story kind -> path from movies.json `text` (or None)
    extra: dict = field(default_factory=dict)   # keys the build does not map (unknown `text` keys under "text")


@dataclass(frozen=True)
class Question:
    qid: str
    imdb_key: str
    question: str
    answers: tuple[str, ...]
    correct_index: int
    plot_alignment: tuple[int, ...] | None
    video_clips: tuple[str, ...]
    extra: dict = field(default_factory=dict)   # record keys the build does not map


class MovieQA(MultimodalBuilder):
    NAME = "movieqa"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "qa"
    EXCLUDABLE = {"imdb_key": ExcludeBy("imdb_key"), "question_id": ExcludeBy("qid")}
    NOT_READ = NOT_READ
    QUESTIONS_PER_SHARD = 1000
    """Questions per shard job of qa_plot and qa_subtitles (each row holds a plot or subtitle cues); qa_video
    groups its questions by clip bytes (SHARD_BYTES)."""
    QA_QUESTIONS_PER_SHARD = 20_000
    """Questions per shard job (so per Parquet file) of the `qa` config, whose rows are ~500 bytes of text: the
    release's splits are a file each. At 1,000 a job took ~14 ms, and handing jobs to the worker processes kept
    each of a two-process build's idle 15-25% of the time; the bench's 1.3M questions made 1,303 files of 70 kB."""
    MOVIES_PER_SHARD = 25
    BATCH_BYTES = 64 * 2**20
    """Rows with video also close a batch at this many clip bytes (`row_bytes`): 100 rows of clips can weigh GB."""
    QA_ROWS_PER_BATCH = 1000
    """The `qa` config's rows (~500 bytes of text each) go in tables, so row groups, of this many, and a shard
    job parses its records this many at a time. In tables of 100 rows, the costs paid per table (the row digest,
    Arrow assembly, a Parquet row group) were a third of the build's CPU."""

    def locate_raw(self, data_dir: Path) -> dict:
        found, copies = index_raw_files(data_dir)
        raw: dict[str, Any] = {"files": found, "copies": copies}
        for kind in ("qa", "movies", "splits"):
            canonical = data_dir / "data" / f"{kind}.json"
            raw[kind] = canonical if canonical.is_file() else found[kind].get(kind)
        for part in ("plot", "split_plot", "subtitles"):
            raw[part] = found[part] or None
        raw["video"] = (found["video"] or found["video_tar"]) or None
        return raw

    def input_files(self) -> list[Path]:
        paths = [self.raw[part] for part in self.config.requires if part in ("qa", "movies", "splits")]
        for kind in STORY_KINDS[self.config.name]:
            files = self.raw["files"][kind]
            if files:  # one entry per kind: the folder holding all its files (hashed as a listing, not read)
                paths.append(Path(os.path.commonpath([str(p.parent) for p in files.values()])))
        return sorted(set(paths))

    def read_paths(self) -> list[Path]:
        """The files this config reads. `input_files` names each story kind's folder; a config reads from it
        only the files of the movies (and clips) it joins, so a stray or duplicate file there is reported."""
        return whole_folders(self.files_read, self.data_dir)

    def unread_reasons(self) -> dict[str, list[Path]]:
        """Why this config passes over files of the kinds it reads (anything else unread is reported by the
        pipeline, with the reasons of NOT_READ or of the configs that read it)."""
        reasons: dict[str, list[Path]] = {}
        for kind in STORY_KINDS[self.config.name]:
            for key, path in self.raw["files"][kind].items():
                if path not in self.files_read:
                    reasons.setdefault(self._passed_over(kind, key, path), []).append(path)
            copies = [path for path in self.raw["copies"][kind] if path not in self.files_read]
            if copies:  # (one of them is read when movies.json declares it)
                reasons.setdefault(SECOND_COPY, []).extend(copies)
        return reasons

    def _passed_over(self, kind: str, key: str, path: Path) -> str:
        if key.split(".")[0] not in self.movies:
            return "a story file of a movie that movies.json does not list"
        if kind not in ("video", "video_tar") and self.stories.path(kind, key) != path:
            return SECOND_COPY  # movies.json declares another file of this kind for the movie
        if kind == "video_tar":
            return "a video tar none of whose clips a question refers to, or whose clips are also extracted " \
                   "(the extracted files are read; the `movies` config lists the clip names)"
        if kind == "video":
            return "a clip no question refers to (the `movies` config lists its name)"
        return "a file of a movie or clip no question of this config needs"

    @functools.cached_property
    def files_read(self) -> set[Path]:
        paths = [self.raw[part] for part in self.config.requires if part in ("qa", "movies", "splits")]
        kinds = STORY_KINDS[self.config.name]
        if not kinds:  # `qa` reads no story file: no loop over every question to find the movies asked about
            return set(paths)
        if self.config.name == "movies":
            asked = with_video = set(self.movies)
            clips = {name: path for name, path in self.raw["files"]["video"].items()
                     if CLIP_NAME.fullmatch(name).group(1) in self.movies}
            paths += [path for key, path in self.raw["files"]["video_tar"].items() if key in self.movies]
        else:
            movies, index = self.movies, self.qa_summary
            asked = {key for key in index.movie_keys if key in movies}
            with_video = {key for key in index.with_clips if key in movies}
            sources = locate_clips(self.raw["files"]) if "video" in kinds else {}
            clips = {name: Path(sources[name][0]) for key, names in index.clips_asked.items() if key in movies
                     for name in names if name in sources}
        for kind in kinds:
            if kind in ("video", "video_tar"):
                continue
            keys = ({name.removesuffix(".mp4") for name in clips} if kind == "shot_boundaries"
                    else with_video if kind == "frame_times" else asked)
            paths += [path for key in sorted(keys) if (path := self.stories.path(kind, key)) is not None]
        if "video" in kinds:
            paths += clips.values()
        return set(paths)

    @functools.cached_property
    def movies(self) -> dict[str, Movie]:
        return parsed_release_file(self.raw["movies"], parse_movies)

    @functools.cached_property
    def split_of(self) -> dict[str, str]:
        return parse_splits(read_bytes(self.raw["splits"]), self.raw["splits"], self.movies)

    @property
    def qa_index(self) -> "QAIndex":
        """The planner's index of qa.json (made once per process: `qa_index`)."""
        return qa_index(self.raw["qa"], self._movies_with_video, self.planning_processes)

    @property
    def qa_summary(self) -> "QAIndex":
        """What `files_read` needs of the index: its movies and clips, also once the planners are done."""
        return qa_index(self.raw["qa"], self._movies_with_video, self.planning_processes, records=False)

    @functools.cached_property
    def _movies_with_video(self) -> frozenset[str]:
        files = self.raw["files"]
        return frozenset({CLIP_NAME.fullmatch(name).group(1) for name in files["video"]} | set(files["video_tar"]))

    @property
    def qa_file(self) -> "QAFile":
        return self.qa_index.file

    @functools.cached_property
    def qa_records(self) -> "QARecords":
        """qa.json as the shard jobs read it (a job's builder adopts the planner's: `shared_state`)."""
        return QARecords(self.raw["qa"], self.qa_file.stamp)

    @functools.cached_property
    def stories(self) -> "StoryReader":
        return StoryReader(self.data_dir, self.raw["files"], self.movies)

    def shared_state(self) -> dict:
        """The raw file index, the parsed movies.json and splits.json, and qa.json as planned (its size and
        modification time; each shard carries where its records lie): indexing the story tree and parsing qa.json
        again in every shard job made a build's time grow with the square of the number of questions."""
        names = ("raw", "movies", "split_of") + (() if self.config.name == "movies" else ("qa_records",))
        return {name: getattr(self, name) for name in names}

    def adopt_shared_state(self, state: dict) -> None:
        self.__dict__.update(state)  # the cached properties' values

    @classmethod
    def planning_done(cls) -> None:
        release_qa_indexes()

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list]:
        unmapped = sorted({name for movie in self.movies.values() for name in unmapped_names(movie.extra)})
        if unmapped:
            holders = sum(bool(movie.extra) for movie in self.movies.values())
            log.notice(f"movies.json: keys this build does not map ({', '.join(unmapped)}) in {holders} of "
                       f"{len(self.movies)} records; they are kept in the `extra` column of the `movies` config")
        strays = sorted(self.relative(path) for kind in STORY_KINDS[self.config.name]
                        for key, path in self.raw["files"][kind].items() if key.split(".")[0] not in self.movies)
        if strays:
            log.notice(f"story files of movies that movies.json does not list are not read (listed as unread): "
                       f"{len(strays)}, e.g. {strays[0]}")
        if self.config.name == "movies":
            by_split = {split: [key for key, s in self.split_of.items() if s == split] for split in SPLITS.values()}
            return {split: [MovieShard(split, tuple(group)) for group in group_by_count(keys, self.MOVIES_PER_SHARD)]
                    for split, keys in by_split.items() if keys}
        positions = self._questions_by_split(log, video_only=self.config.name == "qa_video")
        if self.config.name != "qa_video":
            per_shard = self.QA_QUESTIONS_PER_SHARD if self.config.name == "qa" else self.QUESTIONS_PER_SHARD
            records = self.qa_file  # (a property: the index's cache is looked up, its file stat-ed, at each use)
            return {split: [QAShard.of(split, group, records) for group in group_by_count(ps, per_shard)]
                    for split, ps in positions.items() if len(ps)}
        sources = locate_clips(self.raw["files"])
        return {split: self._video_shards(split, ps.tolist(), sources) for split, ps in positions.items() if len(ps)}

    def _questions_by_split(self, log: RecordLog, video_only: bool) -> dict[str, np.ndarray]:
        """qa.json positions per split; records whose split cannot be settled, or whose qid an earlier record
        has, are rejected here (in the order of the file)."""
        index, split_of, path = self.qa_index, self.split_of, self.raw["qa"]
        # a well-formed record is settled without reading it again (`QAIndex.settled`); anything else takes the
        # checking path, which says what is wrong
        codes = index.settled(split_of)
        asked = np.frombuffer(index.with_video, np.uint8).astype(bool) if video_only else np.ones(len(codes), bool)
        rejected: dict[int, tuple[RawDataError, Any]] = {}  # position -> (error, record)
        unsettled = np.flatnonzero(asked & (codes == NO_SPLIT)).tolist()
        for position, record in zip(unsettled, index.file.records(unsettled)):
            try:
                split = index.file.located(position, lambda line: question_split(record, path, line, split_of))
                raise AssertionError(f"qa.json record {position}: question_split settles {split}, settled() did not")
            except RawDataError as error:
                rejected[position] = error, record
        repeats = index.repeats(asked & (codes != NO_SPLIT))
        for position, first in repeats.items():
            record = index.file.record(position)
            rejected[position] = RawDataError(path, f"qid {record['qid']} repeats the record of line "
                                              f"{index.file.line(first)}", line=index.file.line(position),
                                              record=record["qid"], hint="qids are unique; remove one of the two "
                                                                         "records"), record
        for position in sorted(rejected):
            error, record = rejected[position]
            log.reject(error, split=probable_split(record, split_of))
        if repeats:
            asked[list(repeats)] = False
        return {split: np.flatnonzero(asked & (codes == code)) for code, split in enumerate(SPLITS.values())}

    def _video_shards(self, split: str, positions: list[int], sources: dict) -> list[QAShard]:
        """Questions in shard jobs of about SHARD_BYTES of clips (a clip shared by questions counts for each)."""
        records = self.qa_file
        clips = dict(zip(positions, map(clip_names, records.records(positions))))

        def clip_bytes(position: int) -> int:
            return sum(sources[c][2] for c in clips[position] if c in sources)

        shards = []
        for group in group_by_size(positions, clip_bytes, self.SHARD_BYTES):
            names = {c for p in group for c in clips[p]}
            shards.append(QAShard.of(split, group, records,
                                     tuple((n, *sources[n]) for n in sorted(names) if n in sources)))
        return shards

    # ---- table assembly --------------------------------------------------------------------------------

    def row_bytes(self, row: dict) -> int:
        """What a row weighs: its clips' bytes (0 outside qa_video)."""
        return sum(len(video["bytes"]) for video in row.get("videos", ()) if video)

    def batch_limits(self) -> tuple[int | None, int | None]:
        return (self.QA_ROWS_PER_BATCH, None) if self.config.name == "qa" else super().batch_limits()

    def shard_tables(self, shard, log: RecordLog) -> Iterator[pa.Table]:
        if self.config.name == "qa":
            yield from self._qa_tables(shard, log)
        else:
            yield from super().shard_tables(shard, log)

    def _qa_tables(self, shard: QAShard, log: RecordLog) -> Iterator[pa.Table]:
        """The `qa` config's tables, made column by column instead of from a dict per row (which cost more than
        the rest of the job), in the batches the core's `shard_tables` makes (`batch_limits`). A record
        `question_values` does not take (an error to report, a key to count) goes through `_question_row`, the
        reference, in its place."""
        schema = self.info.features.arrow_schema
        storage = storage_schema(schema)
        assert storage.names == list(QA_FIELDS), "question_values gives the columns in QA_FIELDS order"
        movies = self.movies
        columns: list[list] = [[] for _ in storage.names]
        rows = taken = 0
        max_rows, _ = self.batch_limits()

        def table() -> pa.Table:
            return table_from_columns({field.name: pa.array(column, type=field.type)
                                       for column, field in zip(columns, storage)}, schema, len(columns[0]))

        for position, record in self.qa_records.read(shard):
            values = question_values(record, shard.split, movies)
            if values is None:
                row = log.convert(*self._question_record(position, record), self._question_row, position, record,
                                  shard.split, None, log)
                if row is None:
                    continue
                values = [row[name] for name in storage.names]
            else:
                taken += 1
            for column, value in zip(columns, values):
                column.append(value)
            rows += 1
            if rows == max_rows:
                log.add_records(taken)
                yield table()
                columns, rows, taken = [[] for _ in storage.names], 0, 0
        log.add_records(taken)
        if rows:
            yield table()

    def shard_rows(self, shard, log: RecordLog) -> Iterator[dict]:
        if isinstance(shard, MovieShard):
            yield from log.converted(shard.imdb_keys, lambda imdb_key: (self.raw["movies"], imdb_key),
                                     lambda imdb_key: self._movie_row(imdb_key, log))
            return
        clips = ClipReader(shard.clips)
        yield from log.converted(self.qa_records.read(shard),
                                 lambda pair: self._question_record(*pair),
                                 lambda pair: self._question_row(*pair, shard.split, clips, log))

    def _movie_row(self, imdb_key: str, log: RecordLog) -> dict:
        movie = self.movies[imdb_key]
        row = movie_row(movie, self.stories)
        for name in unmapped_names(movie.extra):
            log.count(f"movies.json records with the key '{name}', which this build does not map (kept in `extra`)")
        for track in ("subtitles", "dvs"):
            if row[track] and row[track]["skipped_cues"]:
                log.count(f"{track} cues with an unreadable timing line (listed in {track}.skipped_cues)",
                          len(row[track]["skipped_cues"]))
        return row

    def _question_record(self, position: int, record: Any) -> tuple[Path, str]:
        """The file and record a question's errors name (its qid, or its place in qa.json)."""
        return self.raw["qa"], record_label(record, position)

    def _question_row(self, position: int, record: Any, split: str, clips: "ClipReader", log: RecordLog) -> dict:
        records, path = self.qa_records, self.raw["qa"]
        question = records.located(position, lambda line: parse_question(record, path, line, split))
        row = question_row(question, self.movies[question.imdb_key])
        if self.config.name == "qa_plot":
            row.update(records.located(position, lambda line: plot_fields(question, line, path, self.stories)))
        elif self.config.name == "qa_subtitles":
            row.update(subtitle_fields(question, self.stories))
        elif self.config.name == "qa_video":
            row.update(video_fields(question, self.stories, clips))
        for key in question.extra:
            log.count(f"qa.json records with the key '{key}', which this build does not map (kept in `extra`)")
        return row


# ---- raw sources --------------------------------------------------------------------------------------------

RAW_FILE_NAME = re.compile("|".join(f"(?P<{kind}>{pattern.pattern})" for kind, pattern in RAW_FILE_NAMES.items()))
"""The RAW_FILE_NAMES patterns in one: the first kind whose pattern matches a whole name is the alternative that
matches; the key is the group right after the kind's."""

_indexes: dict[str, tuple[list, tuple]] = {}
"""data_dir -> (its listing, its index) of the last tree indexed: a build makes a builder per config, and
each one's coverage needs the index."""


def index_raw_files(data_dir: Path) -> tuple[dict[str, dict[str, Path]], dict[str, list[Path]]]:
    """kind -> key -> path for every release file under data_dir, found by name (the first in path order),
    and kind -> the other files of the same names (a second extraction, a backup), which are not read.

    The index depends on the names only, so a tree listed as before gets the index made before (the same
    objects: callers never change them)."""
    listing = []
    for folder, subfolders, names in os.walk(data_dir):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        listing.append((folder, sorted(names)))
    cached = _indexes.get(os.fspath(data_dir))
    if cached is not None and cached[0] == listing:
        return cached[1]
    found: dict[str, dict[str, Path]] = {kind: {} for kind in RAW_FILE_NAMES}
    copies: dict[str, list[Path]] = {kind: [] for kind in RAW_FILE_NAMES}
    key_group = {kind: RAW_FILE_NAME.groupindex[kind] + 1 for kind in RAW_FILE_NAMES}
    for folder, names in listing:
        folder_path = Path(folder)
        for name in names:
            match = RAW_FILE_NAME.fullmatch(name)
            if match:
                kind, path = match.lastgroup, folder_path / name
                if found[kind].setdefault(match.group(key_group[kind]), path) is not path:
                    copies[kind].append(path)
    _indexes.clear()  # one tree at a time: a process that builds many trees keeps none of the others
    _indexes[os.fspath(data_dir)] = (listing, (found, copies))
    return found, copies


def whole_folders(paths: set[Path], data_dir: Path) -> list[Path]:
    """`paths` with every folder below data_dir whose entries are all in it named instead of its entries (so a
    build that leaves a story kind to another config reports one folder, not each of its 408 files).
    Worked out on the paths' text, which a Path keeps normalised (Paths only once per folder)."""
    texts = {os.fspath(path): path for path in paths}

    @functools.cache
    def below(folder: str) -> bool:
        return Path(folder) != data_dir and data_dir in Path(folder).parents

    while True:
        by_folder: dict[str, set[str]] = {}  # folder -> the names in it
        for text in texts:
            folder, separator, name = text.rpartition(os.sep)
            folder = folder or separator  # os.path.split's folder: '/' for '/x', '' for 'x'
            if below(folder):
                by_folder.setdefault(folder, set()).add(name)
        complete = [folder for folder, names in by_folder.items() if names == folder_entries(folder)]
        if not complete:
            return sorted(texts.values())
        for folder in complete:
            for name in by_folder[folder]:
                del texts[os.path.join(folder, name)]
            texts[folder] = Path(folder)


def folder_entries(folder: str) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def unreadable(path: Path, error: OSError) -> RawDataError:
    return RawDataError(path, f"cannot read the file ({error.strerror})", hint="check the file's permissions")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise unreadable(path, e) from None


def open_raw(path: Path):
    try:
        return open(path, "rb")
    except OSError as e:
        raise unreadable(path, e) from None


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time) of a raw file: what tells a file changed, without reading it."""
    try:
        status = path.stat()
    except OSError as e:
        raise unreadable(path, e) from None
    return status.st_size, status.st_mtime_ns


def newline_offsets(path: Path) -> np.ndarray:
    """The byte offset of every line feed of a file, read a chunk at a time."""
    found, offset = [], 0
    with open_raw(path) as file:
        while chunk := file.read(QA_SCAN_BYTES):
            found.append(np.flatnonzero(np.frombuffer(chunk, np.uint8) == ord("\n")) + offset)
            offset += len(chunk)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


QA_SCAN_BYTES = 4 * 2**20
"""qa.json is read this many bytes at a time (`scan_json_list`)."""
JSON_SPACE = re.compile(r"\s*")  # the whitespace read_json_list allows around items (Unicode's, not only JSON's)
JSON_SEPARATOR = re.compile(r"\s*(,\s*)?")
NUMBER_CONTINUATION = frozenset("0123456789.eE+-")


class MalformedList(Exception):
    """`scan_json_list` met what `read_json_list` rejects: the file is read again whole, for its located error."""


class TextWindow:
    """The decoded text of part of a file, read on a chunk at a time, with the file offsets of its places."""

    def __init__(self, file, chunk_bytes: int, start: int = 0):
        """The text from file offset `start` (a character's first byte; a BOM is looked for only at 0)."""
        self.file, self.chunk_bytes = file, chunk_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        file.seek(start)
        head = file.read(max(chunk_bytes, len(codecs.BOM_UTF8)))
        bom = start == 0 and head.startswith(codecs.BOM_UTF8)
        self.offset = start + (len(codecs.BOM_UTF8) if bom else 0)  # the file offset of text[0]
        self.eof = not head
        self.text = self.utf8.decode(head[self.offset - start:], final=self.eof)
        self.ascii = self.text.isascii()  # then a place in the text is its offset from text[0] in the file
        self._cursor = (0, self.offset)   # (place, file offset) last worked out in a text that is not ASCII

    def more(self, size: int = 0) -> bool:
        """Reads on (at least a chunk, or `size` bytes); False once the file is read."""
        if self.eof:
            return False
        data = self.file.read(max(self.chunk_bytes, size))
        self.eof = not data
        added = self.utf8.decode(data, final=self.eof)
        self.text += added
        self.ascii = self.ascii and added.isascii()
        return True

    def drop(self, upto: int) -> None:
        """Forgets the text before place `upto`."""
        self.offset = self.file_offset(upto)
        self.text = self.text[upto:]
        self.ascii = self.text.isascii()
        self._cursor = (0, self.offset)

    def file_offset(self, place: int) -> int:
        """The file offset of text[place]; places asked for in a text that is not ASCII only grow (until a drop)."""
        if self.ascii:
            return self.offset + place
        last, offset = self._cursor
        offset += len(self.text[last:place].encode("utf-8"))
        self._cursor = (place, offset)
        return offset

    def match(self, pattern: re.Pattern, place: int) -> re.Match:
        """`pattern` matched at `place`, reading on while the match runs to the end of the text."""
        found = pattern.match(self.text, place)
        while found.end() == len(self.text) and self.more():
            found = pattern.match(self.text, place)
        return found


def scan_json_list(path: Path, chunk_bytes: int = QA_SCAN_BYTES) -> Iterator[tuple[int, int, Any]]:
    """(first byte, end byte, item) of each item of a file holding one JSON list, read `chunk_bytes` at a time:
    the items `read_json_list` reads, in its order, and its error for a file it rejects (then read whole: an
    error's line is worked out as that function does)."""
    try:
        with open_raw(path) as file:
            yield from _scan_json_list(TextWindow(file, chunk_bytes))
        return
    except (MalformedList, UnicodeDecodeError):
        pass
    read_json_list(read_bytes(path), path)
    raise AssertionError(f"{path}: scan_json_list rejects what read_json_list reads")


def _scan_json_list(window: TextWindow, at_item: bool = False,
                    stop: int | None = None) -> Iterator[tuple[int, int, Any]]:
    """The items of the list in `window`'s text; `at_item`: the text starts at an item, not at the list's '['.
    With `stop`, the scan ends at the first item starting at or past that file offset and returns its offset (a
    stretch of the list, `index_stretch`); otherwise at the list's end, returning None."""
    # the loop runs once a question (a million times on the bench's tree): the window's text and the scanner are
    # held in locals, refreshed whenever the window reads on
    scan_once, separator = json.JSONDecoder().scan_once, JSON_SEPARATOR.match  # raw_decode without its wrapper
    if at_item:
        place = 0
    else:
        place = window.match(JSON_SPACE, 0).end()
        if not window.text.startswith("[", place):
            raise MalformedList
        place = window.match(JSON_SPACE, place + 1).end()
    text = window.text
    while not text.startswith("]", place):
        if stop is not None and window.file_offset(place) >= stop:
            return window.file_offset(place)
        try:
            item, end = scan_once(text, place)
            # an item is whole once text follows it that cannot go on a number: a number cut at the end of the
            # text ("1" of "1.5", "1e5" or "12") parses as a shorter one
            whole = window.eof or (end < len(text) and not (type(item) in (int, float)
                                                            and text[end] in NUMBER_CONTINUATION))
        except (StopIteration, json.JSONDecodeError):  # StopIteration: no value starts at `place`
            if window.eof:
                raise MalformedList from None
            whole = False
        if not whole:  # the item runs past the text read: forget what is before it, read twice as much, parse again
            window.drop(place)
            window.more(2 * len(window.text))
            place, text = 0, window.text
            continue
        if window.ascii:
            yield window.offset + place, window.offset + end, item
        else:
            yield window.file_offset(place), window.file_offset(end), item
        found = separator(text, end)
        if found.end() == len(text) and not window.eof:
            found = window.match(JSON_SEPARATOR, end)  # reads on
            text = window.text
        place = found.end()
        if found.group(1) is None and not text.startswith("]", place):
            raise MalformedList
    window.drop(place + 1)
    while True:
        if window.text.strip():
            raise MalformedList
        window.drop(len(window.text))
        if not window.more():
            return None


_parsed_files: dict[tuple[str, str], tuple[bytes, Any]] = {}
_parsed_files_lock = threading.Lock()  # the build reads the configs it does not make in a second thread


def parsed_release_file(path: Path, parse) -> Any:
    """`parse(data, path)` of movies.json, made once while the file's bytes stay the same: a build makes a builder
    per config, and each one's coverage needs it. What is made is never changed."""
    data = read_bytes(path)
    key = (parse.__qualname__, os.fspath(path))
    with _parsed_files_lock:
        cached = _parsed_files.get(key)
    if cached is not None and cached[0] == data:
        return cached[1]
    value = parse(data, path)
    with _parsed_files_lock:
        _parsed_files[key] = (data, value)
        while len(_parsed_files) > 4:  # the files of one tree; a process that builds many keeps no others
            del _parsed_files[next(iter(_parsed_files))]
    return value


class _Locating:
    """Records of qa.json whose errors name the line each starts on (`line`)."""

    def line(self, position: int) -> int:
        raise NotImplementedError

    def located(self, position: int, make: Callable[[int | None], T]) -> T:
        """`make(line)`, where `line` is the line of record `position` and serves only error messages: it is
        looked up only when `make(None)` raises, and `make` is called again with it for the located error."""
        try:
            return make(None)
        except RawDataError:
            return make(self.line(position))


def check_stamp(path: Path, stamp: tuple[int, int]) -> None:
    if file_stamp(path) != stamp:
        raise RawDataError(path, "the file changed after the build was planned",
                           hint="rerun the build; do not change the raw data while it runs")


def parsed_list(data: bytes, count: int, path: Path) -> list | None:
    """`data`, items of a JSON list and what is between them, parsed by one `json.loads`; None unless it gives
    `count` items (the whitespace only read_json_list allows, a form feed, may be between two of them)."""
    text = decode_json(b"[" + data + b"]", path)
    try:
        with collector_paused():
            records = json.loads(text)
    except ValueError:
        return None
    return records if type(records) is list and len(records) == count else None


class QAFile(_Locating):
    """Where each qa.json record lies in the file (byte ranges found by the planner's `QAIndex`), for the planner
    to read records again (the shards carry their own ranges: `QAShard.pieces`)."""

    def __init__(self, path: Path, stamp: tuple[int, int], starts: array, ends: array):
        self.path, self.stamp, self.starts, self.ends = path, stamp, starts, ends  # `offsets_array`s
        self._lines: Any = None

    def __len__(self) -> int:
        return len(self.starts)

    def records(self, positions: Sequence[int]) -> list:
        """The records at these positions (ascending), parsed from their bytes: each run of consecutive records
        is read in one piece, and the pieces are parsed by one `json.loads`."""
        check_stamp(self.path, self.stamp)
        starts, ends, runs = self.starts, self.ends, []
        with open_raw(self.path) as file:
            for first, stop in neighbour_runs(positions):
                file.seek(starts[first])
                runs.append(file.read(ends[stop - 1] - starts[first]))
        records = parsed_list(b",".join(runs), len(positions), self.path)
        return self._one_by_one(positions) if records is None else records

    def _one_by_one(self, positions: Sequence[int]) -> list:
        decoder, records = json.JSONDecoder(), []
        with open_raw(self.path) as file:
            for position in positions:
                file.seek(self.starts[position])
                data = file.read(self.ends[position] - self.starts[position])
                records.append(decoder.decode(decode_json(data, self.path)))
        return records

    def record(self, position: int) -> Any:
        return self._one_by_one([position])[0]

    def line(self, position: int) -> int:
        """The line record `position` starts on (only error messages need it: worked out on the first one)."""
        if self._lines is None:
            self._lines = np.searchsorted(newline_offsets(self.path), np.asarray(self.starts)) + 1
        return int(self._lines[position])


class QARecords(_Locating):
    """qa.json as a shard job reads it: its shard's pieces (`QAShard.pieces`), each read in one go and parsed by one
    `json.loads`. Pickled as the path and the file's size and modification time at planning (the jobs' shared
    state, whose digest is part of each job's fingerprint: an edited qa.json is a new plan, and a job refuses a
    file changed since the plan)."""

    def __init__(self, path: Path, stamp: tuple[int, int]):
        self.path, self.stamp = path, stamp
        self._pieces: list[tuple[int, int, int, int]] = []  # the pieces of the shard being read, for `line`
        self._starts: dict[int, int] = {}                    # position -> first byte, of the pieces scanned
        self._counted = (0, 0)  # (file offset, newlines before it): kept from job to job of this process, which
                                # mostly come in file order

    def __reduce__(self):
        return QARecords, (self.path, self.stamp)

    def read(self, shard: QAShard) -> Iterator[tuple[int, Any]]:
        """(position, record) of each of the shard's questions, a piece at a time."""
        check_stamp(self.path, self.stamp)
        self._pieces, self._starts = [], {}
        for piece in shard.spans():
            first, stop, begin, end = piece
            self._pieces.append(piece)
            with open_raw(self.path) as file:
                file.seek(begin)
                data = file.read(end - begin)
            records = parsed_list(data, stop - first, self.path)
            if records is None:
                records = [record for _, record in self._scanned(piece)]
            yield from zip(range(first, stop), records)

    def _scanned(self, piece: tuple[int, int, int, int]) -> list[tuple[int, Any]]:
        """(first byte, record) of each record of a piece, scanned one by one; their places are kept for `line`."""
        first, stop, begin, end = piece
        with open_raw(self.path) as file:
            scanned = [(start, record) for start, _, record in
                       _scan_json_list(TextWindow(file, QA_SCAN_BYTES, begin), at_item=True, stop=end)]
        if len(scanned) != stop - first:
            raise RawDataError(self.path, f"records {first}-{stop - 1} are not where the plan found them",
                               hint="rerun the build; do not change the raw data while it runs")
        self._starts.update(zip(range(first, stop), (start for start, _ in scanned)))
        return scanned

    def line(self, position: int) -> int:
        """The line record `position` (of a piece read) starts on: its newlines counted from the last counted
        place (a job's errors come in file order), or from the start of the file."""
        if position not in self._starts:
            self._scanned(next(piece for piece in self._pieces if piece[0] <= position < piece[1]))
        start = self._starts[position]
        offset, newlines = self._counted if self._counted[0] <= start else (0, 0)
        with open_raw(self.path) as file:
            file.seek(offset)
            while offset < start:
                chunk = file.read(min(2**20, start - offset))
                if not chunk:
                    break
                newlines, offset = newlines + chunk.count(b"\n"), offset + len(chunk)
        self._counted = (offset, newlines)
        return newlines + 1


QID_SPLITS = {prefix: code for code, prefix in enumerate(SPLITS)}
"""qid prefix -> the split's code in `QAIndex.qid_splits` (the order of SPLITS, whose values are the Hub names)."""
NO_SPLIT = len(SPLITS)


def offsets_array(file_size: int) -> array:
    """An empty array for byte offsets into a file of `file_size` bytes: of 4-byte items below 4 GiB (the
    release's qa.json is 10 MB; the bench's million questions 483 MB), else of 8. Half the planner's index."""
    return array("I" if file_size < 2**32 else "q")


MAX_SHORT_ID = 2**15 - 1
"""The largest movie number `QAIndexParts.movies` holds in 2 bytes."""


class QAIndexParts:
    """What `QAIndex` keeps of the records of qa.json, or of one stretch of it (`index_stretch`)."""

    def __init__(self, movies_with_video: frozenset[str], file_size: int):
        self.starts, self.ends = offsets_array(file_size), offsets_array(file_size)
        self.qid_splits = bytearray()   # QID_SPLITS code of a '<prefix>:<digits>' qid, NO_SPLIT for any other
        self.movies = array("h")        # the record's imdb_key as an index into movie_keys; -1 if not a string
                                        # (2 bytes: the release names 408 movies; 4 past 32,767, `_widened`)
        self.with_video = bytearray()   # 1 for a record whose video_clips is not empty (qa_video's questions)
        self.qid_hashes = array("I")    # hash() of a string qid, its low 32 bits: repeats are looked for among
                                        # equal ones (at 1M questions ~120 records are read again for nothing)
        self.movie_keys: list[str] = []  # every movie a record names, in the order met
        self.with_clips: set[str] = set()  # the movies some record lists clips of
        self.clips_asked: dict[str, set[str]] = {key: set() for key in movies_with_video}
        """imdb_key -> the clip names its records list, for the movies with clip files or a video tar in the tree
        (`movies_with_video`): the clips a config can read. Names of clips the tree does not have are not kept
        (a tree of 10x the questions, each with its own clips, held 190 MB of them)."""
        self.next_start: int | None = None  # where the record after a stretch starts (None: the list ended)

    def add_all(self, scan: Iterator[tuple[int, int, Any]]) -> Any:
        """Adds the (start, end, record) of `scan`, a `_scan_json_list`; returns what it returns."""
        starts, ends, qid_splits, movies = self.starts, self.ends, self.qid_splits, self.movies
        with_video, qid_hashes, movie_keys, clips_asked = self.with_video, self.qid_hashes, self.movie_keys, \
            self.clips_asked
        movie_ids = {key: i for i, key in enumerate(movie_keys)}
        returned: list = []
        for start, end, record in _returning(scan, returned):
            starts.append(start)
            ends.append(end)
            qid, key, clips = ((record.get("qid"), record.get("imdb_key"), record.get("video_clips"))
                               if type(record) is dict else (None, None, None))
            code, qid_hash = NO_SPLIT, 0
            if type(qid) is str:
                prefix, _, number = qid.partition(":")
                if number.isdigit():
                    code = QID_SPLITS.get(prefix, NO_SPLIT)
                qid_hash = hash(qid) & 0xFFFFFFFF
            qid_splits.append(code)
            qid_hashes.append(qid_hash)
            with_video.append(1 if clips else 0)
            if type(key) is str:
                movie = movie_ids.get(key)
                if movie is None:
                    movie = movie_ids[key] = len(movie_keys)
                    movie_keys.append(key)
                    if movie == MAX_SHORT_ID + 1:
                        movies = self._widened()
                if type(clips) is list and clips:  # clip_names inlined: one loop over every question of the release
                    names = [c for c in clips if type(c) is str]
                    if names:
                        self.with_clips.add(key)
                        if key in clips_asked:
                            clips_asked[key].update(names)
            else:
                movie = -1
            movies.append(movie)
        return returned[0]

    def _widened(self) -> array:
        """`movies` in 4-byte items, for numbers past MAX_SHORT_ID."""
        if self.movies.typecode == "h":
            self.movies = array("i", self.movies)
        return self.movies

    def join(self, later: "QAIndexParts") -> None:
        """Appends the next stretch's records (its movies renumbered into this one's)."""
        ids = {key: i for i, key in enumerate(self.movie_keys)}
        renumbered = np.array([ids.setdefault(key, len(ids)) for key in later.movie_keys] + [-1], np.int32)
        self.movie_keys[:] = ids
        if len(ids) > MAX_SHORT_ID + 1:
            self._widened()
        self.movies.frombytes(renumbered[np.asarray(later.movies)].astype(self.movies.typecode).tobytes())  # -1 stays
        for mine, theirs in ((self.starts, later.starts), (self.ends, later.ends), (self.qid_hashes, later.qid_hashes)):
            mine.extend(theirs)
        self.qid_splits += later.qid_splits
        self.with_video += later.with_video
        self.with_clips |= later.with_clips
        for key, names in later.clips_asked.items():
            self.clips_asked[key] |= names
        self.next_start = later.next_start


def _returning(generator: Iterator, into: list) -> Iterator:
    """`generator`'s items; what it returns is appended to `into`."""
    into.append((yield from generator))


PARALLEL_SCAN_BYTES = 64 * 2**20
"""A qa.json this large is read in stretches by several processes when the planner has them (`index_parts`):
read by one, the bench's 483 MB file kept a two-process build's second process idle for 6.5 s."""
RECORD_OPENING = re.compile(rb"\}\s*,\s*\{")


def index_parts(path: Path, movies_with_video: frozenset[str], processes: int = 1) -> QAIndexParts:
    """`QAIndex`'s arrays for qa.json: read in `processes` stretches at once where it is large and processes can be
    forked (they must hash the qids as this one does), else in one pass."""
    if processes > 1 and sys.platform == "linux":
        joined = index_stretches(path, stretch_starts(path, processes), movies_with_video)
        if joined is not None:
            return joined
    parts = QAIndexParts(movies_with_video, file_stamp(path)[0])
    parts.add_all(scan_json_list(path))
    return parts


def stretch_starts(path: Path, count: int) -> list[int | None]:
    """Where `count` processes could start reading qa.json: its start (None), then near each further count-th of
    the file the first byte of what looks like a record, a '{' after '},' (it may be inside a string: the
    stretches then do not join, `join_stretches`). Only the start for a file under PARALLEL_SCAN_BYTES."""
    size = path.stat().st_size
    starts: list[int | None] = [None]
    if size < PARALLEL_SCAN_BYTES:
        return starts
    with open_raw(path) as file:
        for k in range(1, count):
            file.seek(size * k // count)
            found = RECORD_OPENING.search(file.read(2**20))
            start = found and size * k // count + found.end() - 1
            if start and start > (starts[-1] or 0):
                starts.append(start)
    return starts


def index_stretch(path: Path, start: int | None, stop: int | None, movies_with_video: frozenset[str],
                  chunk_bytes: int = QA_SCAN_BYTES) -> QAIndexParts:
    """The records of qa.json from `start` (a record's first byte; None: the file's start) to the first one
    starting at or past `stop` (None: the end of the list), whose offset it keeps in `next_start`."""
    parts = QAIndexParts(movies_with_video, file_stamp(path)[0])
    with open_raw(path) as file:
        window = TextWindow(file, chunk_bytes, start or 0)
        parts.next_start = parts.add_all(_scan_json_list(window, at_item=start is not None, stop=stop))
    return parts


def index_stretches(path: Path, starts: list[int | None], movies_with_video: frozenset[str]) -> QAIndexParts | None:
    """The stretches from `starts` read at once, each but the first in a forked process, and joined; None for a
    single start, or when they fail or do not join: the caller then reads the file in one pass, which says
    what is wrong with a file that is."""
    if len(starts) < 2:
        return None
    stops = starts[1:] + [None]
    try:
        with concurrent.futures.ProcessPoolExecutor(len(starts) - 1, mp_context=multiprocessing.get_context("fork")) \
                as pool:
            later = [pool.submit(index_stretch, path, start, stop, movies_with_video)
                     for start, stop in zip(starts[1:], stops[1:])]
            parts = [index_stretch(path, None, stops[0], movies_with_video)] + [f.result() for f in later]
    except Exception:  # (a start inside a string can make any error; the one pass reports the file's own)
        return None
    return join_stretches(parts, stops)


def join_stretches(parts: list[QAIndexParts], stops: list[int | None]) -> QAIndexParts | None:
    """The stretches as one, if each ended where the next began; None otherwise. The first stretch starts at the
    file's start, so its records are qa.json's: if its next record starts where the second stretch does, the
    second started at a record too, and so on."""
    if any(part.next_start != stop for part, stop in zip(parts, stops)):
        return None
    joined = parts[0]
    for part in parts[1:]:
        joined.join(part)
    return joined


class QAIndex:
    """qa.json read as a stream (`scan_json_list`): where each record lies (`file`) and the little of it the
    planner needs, in arrays of a few bytes a record. The records themselves are parsed again by the shard job
    that writes them, so the planner's memory does not follow the file (parsed whole, the bench's 483 MB qa.json
    took 2.4 GB). With `processes`, a large file is read in that many stretches at once (`index_parts`)."""

    def __init__(self, path: Path, movies_with_video: frozenset[str] = frozenset(), processes: int = 1):
        stamp = file_stamp(path)
        parts = index_parts(path, movies_with_video, processes)
        self.qid_splits = parts.qid_splits
        self.movies = parts.movies
        self.with_video = parts.with_video
        self.movie_keys = parts.movie_keys
        self.with_clips = parts.with_clips
        self.clips_asked = parts.clips_asked
        self.file = QAFile(path, stamp, parts.starts, parts.ends)
        self.same_qids = same_qid_groups(np.asarray(parts.qid_hashes), self.file)
        """The positions of each group of records with the same string qid (a release has none)."""
        self.released = False

    def release(self) -> None:
        """Drops what is kept of each record, keeping the movies and clips (`files_read` asks for them while the
        jobs run; planning again makes a new index)."""
        self.file = self.qid_splits = self.movies = self.with_video = self.same_qids = None
        self.released = True

    def settled(self, split_of: dict[str, str]) -> np.ndarray:
        """Each record's split code where `settled_split` settles it (a well-formed qid of a movie splits.json
        puts in the qid's split), NO_SPLIT where it does not (`question_split` says what is wrong)."""
        hub_codes = {hub: code for code, hub in enumerate(SPLITS.values())}
        movie_split = np.array([hub_codes.get(split_of.get(key), NO_SPLIT) for key in self.movie_keys] + [NO_SPLIT],
                               np.uint8)  # the last entry is the records without an imdb_key string (index -1)
        codes = np.frombuffer(self.qid_splits, np.uint8)
        return np.where(codes == movie_split[np.asarray(self.movies)], codes, NO_SPLIT).astype(np.uint8)

    def repeats(self, accepted: np.ndarray) -> dict[int, int]:
        """Each accepted record (a mask over positions) whose qid an earlier accepted one has -> that earlier one."""
        repeats: dict[int, int] = {}
        for group in self.same_qids:
            kept = [position for position in group if accepted[position]]
            repeats.update((position, kept[0]) for position in kept[1:])
        return repeats


HASH_BLOCK = 2**18
"""Records whose qid hash repeats are looked for this many at a time (`same_qid_groups`)."""


def same_qid_groups(hashes: np.ndarray, records: QAFile) -> list[list[int]]:
    """The positions of each group of records with the same string qid, found among equal `hashes` (their qids'
    hashes) and read again to compare the qids themselves."""
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    by_hash: dict[int, list[int]] = {}
    for offset in range(0, len(hashes), HASH_BLOCK):  # isin's sort of a whole million took 50 MiB more
        block = hashes[offset:offset + HASH_BLOCK]
        shared = np.flatnonzero(np.isin(block, repeated))
        for position, qid_hash in zip((shared + offset).tolist(), block[shared].tolist()):
            by_hash.setdefault(qid_hash, []).append(position)
    groups: list[list[int]] = []
    for positions in by_hash.values():
        by_qid: dict[str, list[int]] = {}
        for position, record in zip(positions, records.records(positions)):
            qid = record.get("qid") if type(record) is dict else None
            if type(qid) is str:
                by_qid.setdefault(qid, []).append(position)
        groups += [group for group in by_qid.values() if len(group) > 1]
    return sorted(groups)


_qa_indexes: dict[tuple[str, frozenset[str]], tuple[tuple[int, int], QAIndex]] = {}
_qa_indexes_lock = threading.Lock()  # held while scanning: the coverage thread waits for the planner's index


def qa_index(path: Path, movies_with_video: frozenset[str], processes: int = 1, records: bool = True) -> QAIndex:
    """The `QAIndex` of qa.json, made once per process while the file's size and modification time stay the same:
    a build makes a builder per config, and each one's coverage needs it. `records` False: one released once the
    build's planning was done (`release_qa_indexes`) will do."""
    key = (os.fspath(path), movies_with_video)
    with _qa_indexes_lock:
        cached = _qa_indexes.get(key)
        if cached is not None and cached[0] == file_stamp(path) and not (records and cached[1].released):
            return cached[1]
        stamp = file_stamp(path)
        index = QAIndex(path, movies_with_video, processes)
        _qa_indexes.clear()  # the file of one tree; a process that builds many keeps no other
        _qa_indexes[key] = (stamp, index)
        return index


def release_qa_indexes() -> None:
    """Releases what the planners' indexes keep of each record (`QAIndex.release`): the shard jobs do not need it,
    and it was 12 bytes a question for as long as the jobs ran (15 MiB at the bench's 1.3M)."""
    with _qa_indexes_lock:
        for _, index in _qa_indexes.values():
            index.release()


def locate_clips(found: dict[str, dict[str, Path]]) -> dict[str, tuple[str, int, int]]:
    """Clip name -> (file or tar, byte offset, size); extracted files win over members of a video tar."""
    sources: dict[str, tuple[str, int, int]] = {}
    for tar_path in found["video_tar"].values():
        sources.update(clips_in_tar(tar_path))
    sources.update({name: (str(path), 0, path.stat().st_size) for name, path in found["video"].items()})
    return sources


def clips_in_tar(tar_path: Path) -> dict[str, tuple[str, int, int]]:
    """Clip name -> (tar, data offset, size) for the clips of an uncompressed video tar (reads headers only)."""
    clips = {}
    try:
        with tarfile.open(tar_path, "r:") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and CLIP_NAME.fullmatch(name):
                    clips[name] = (str(tar_path), member.offset_data, member.size)
    except (tarfile.TarError, OSError) as e:
        raise RawDataError(tar_path, f"not a readable tar archive ({e})",
                           hint="download this video_clips tar again (its MD5 is in story/MD5SUM)") from None
    return clips


class ClipReader:
    """The bytes of the clips a shard references, read from their file or tar member."""

    def __init__(self, sources: tuple[tuple[str, str, int, int], ...]):
        self.sources = {name: (path, offset, size) for name, path, offset, size in sources}

    def read(self, name: str) -> bytes | None:
        if name not in self.sources:
            return None
        path, offset, size = self.sources[name]
        try:
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read(size)
        except OSError as e:
            raise RawDataError(path, f"cannot read clip {name} ({e.strerror})",
                               hint="the clip was listed when the build started; check the file") from None
        if len(data) != size:
            raise RawDataError(path, f"{name} is cut short ({len(data)} of {size} bytes)",
                               hint="the clip file or tar changed or is truncated; download it again")
        return data


class StoryReader:
    """Per-movie story files, parsed once per shard job (errors too: every question of the movie gets it)."""

    def __init__(self, data_dir: Path, found: dict[str, dict[str, Path]], movies: dict[str, Movie]):
        self.data_dir, self.found, self.movies = data_dir, found, movies
        self._cache: dict[tuple[str, str], Any] = {}

    def path(self, kind: str, key: str) -> Path | None:
        """The file of this kind for a movie (or clip): where movies.json says, else found by name."""
        declared = self.movies[key].declared.get(kind) if key in self.movies else None
        found = self.found[kind].get(key)
        if declared:
            # usually the file found by name: the same Path, without making it again
            same = found is not None and os.fspath(found) == os.path.join(self.data_dir, declared)
            path = found if same else self.data_dir / declared
            if path.is_file():
                return path
        return found

    def _parsed(self, kind: str, key: str, parse):
        if (kind, key) not in self._cache:
            path = self.path(kind, key)
            try:
                self._cache[kind, key] = None if path is None else parse(read_bytes(path), path)
            except RawDataError as error:
                self._cache[kind, key] = error
        value = self._cache[kind, key]
        if isinstance(value, RawDataError):
            raise copy.copy(value)  # each question's record log stamps its own qid on the error
        return value

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return str(path)

    def plot(self, key: str) -> list[str] | None:
        return self._parsed("plot", key, lambda data, _: story_lines(data))

    def split_plot(self, key: str) -> list[str] | None:
        return self._parsed("split_plot", key, lambda data, _: file_lines(data))

    def script(self, key: str) -> str | None:
        return self._parsed("script", key, lambda data, _: decode_text(data)[0])

    def track(self, kind: str, key: str) -> dict | None:
        return self._parsed(kind, key, lambda data, _: parse_subtitle_file(data))

    def frame_times(self, key: str) -> list[float] | None:
        return self._parsed("frame_times", key, parse_matidx)

    def shots(self, clip_name: str) -> list[list[int]] | None:
        return self._parsed("shot_boundaries", clip_name.removesuffix(".mp4"), parse_shot_boundaries)


# ---- pure parsing functions ---------------------------------------------------------------------------------

def neighbour_runs(positions: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending positions cut where one does not follow the one before, as (first, past the last) of each run."""
    positions = np.asarray(positions, np.int64)
    if not len(positions):
        return []
    cuts = np.flatnonzero(np.diff(positions) != 1) + 1
    firsts, lasts = positions[np.r_[0, cuts]], positions[np.r_[cuts - 1, len(positions) - 1]]
    return list(zip(firsts.tolist(), (lasts + 1).tolist()))


def read_json_list(data: bytes, path) -> list[tuple[int, Any]]:
    """A file holding one JSON list → (line number, item) for each item; the whole file must parse."""
    text = decode_json(data, path)
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"\s*")
    position = whitespace.match(text).end()
    if not text.startswith("[", position):
        raise RawDataError(path, "expected a JSON list", line=text.count("\n", 0, position) + 1,
                           hint="qa.json and movies.json hold one list of records")
    position, line, counted, items = whitespace.match(text, position + 1).end(), 1, 0, []
    while not text.startswith("]", position):
        line, counted = line + text.count("\n", counted, position), position
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as e:
            raise RawDataError(path, f"not valid JSON ({e.msg})", line=e.lineno,
                               hint="the file is corrupt or truncated; download it again") from None
        items.append((line, item))
        position = whitespace.match(text, position).end()
        if text.startswith(",", position):
            position = whitespace.match(text, position + 1).end()
        elif not text.startswith("]", position):
            raise RawDataError(path, "expected ',' or ']' after a record", line=text.count("\n", 0, position) + 1,
                               hint="the file is corrupt or truncated; download it again")
    if text[position + 1:].strip():
        raise RawDataError(path, "unexpected text after the list", line=text.count("\n", 0, position) + 1)
    return items


def decode_json(data: bytes, path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_utf8(path, e) from None


def parse_movies(data: bytes, path) -> dict[str, Movie]:
    """movies.json → imdb_key -> Movie. The file is shared by every record, so any problem stops the build."""
    movies = {}
    for line, record in read_json_list(data, path):
        def fail(problem):
            return RawDataError(path, problem, line=line, hint="movies.json is the release's movie index; "
                                                                "download it again from MovieQA_benchmark")
        if not isinstance(record, dict):
            raise fail("a movie record must be a JSON object")
        missing = [k for k in ("imdb_key", "name", "year", "genre", "text") if k not in record]
        if missing:
            raise fail(f"movie record lacks {', '.join(missing)}")
        key, year, text = record["imdb_key"], str(record["year"]), record["text"]
        if not isinstance(key, str) or not re.fullmatch(r"tt\d+", key):
            raise fail(f"imdb_key {key!r} is not an IMDb id (tt + digits)")
        if key in movies:
            raise fail(f"{key} is listed twice")
        if not year.isdecimal():
            raise fail(f"{key}: year {year[:40]!r} is not a number")
        if not isinstance(text, dict) or \
                not all(isinstance(text.get(k), (str, type(None))) for k in MOVIE_TEXT_KEYS.values()):
            raise fail(f"{key}: text must map story types to paths or null")
        genres = tuple(g.strip() for g in str(record["genre"] or "").split(",") if g.strip())
        declared = {kind: text.get(name) for kind, name in MOVIE_TEXT_KEYS.items()}
        extra = {k: v for k, v in record.items() if k not in MOVIE_KEYS}
        unknown_text = {k: v for k, v in text.items() if k not in MOVIE_TEXT_KEYS.values()}
        if unknown_text:
            extra["text"] = unknown_text
        movies[key] = Movie(key, str(record["name"]), int(year), genres, declared, extra)
    return movies


def parse_splits(data: bytes, path, movies: dict[str, Movie]) -> dict[str, str]:
    """splits.json → imdb_key -> Hub split, in file order; the lists must partition movies.json."""
    text = decode_json(data, path)
    try:
        lists = json.loads(text)
    except json.JSONDecodeError as e:
        raise RawDataError(path, f"not valid JSON ({e.msg})", line=e.lineno, hint="download it again") from None
    if not isinstance(lists, dict) or set(lists) - set(SPLITS) or not all(isinstance(v, list) for v in lists.values()):
        raise RawDataError(path, f"expected lists of imdb keys under {', '.join(SPLITS)}",
                           hint="splits.json maps train / val / test to lists of movies")
    split_of: dict[str, str] = {}
    for name, keys in lists.items():
        for key in keys:
            if not isinstance(key, str):
                raise RawDataError(path, f"{name}: {json.dumps(key)[:60]} is not an imdb key",
                                   hint="splits.json lists imdb keys (strings such as tt0109830)")
            if key in split_of:
                raise RawDataError(path, f"{key} is listed in both {split_of[key]} and {SPLITS[name]}", record=key,
                                   hint="splits are by movie and disjoint; download splits.json again")
            if key not in movies:
                raise RawDataError(path, f"{key} is not in movies.json", record=key,
                                   hint="use the same release's movies.json")
            split_of[key] = SPLITS[name]
    unassigned = [key for key in movies if key not in split_of]
    if unassigned:
        raise RawDataError(path, f"{len(unassigned)} movies of movies.json are in no split, e.g. {unassigned[0]}",
                           hint="use the movies.json and splits.json of the same release")
    return split_of


def settled_split(qid, imdb_key, split_of: dict[str, str]) -> str | None:
    """The Hub split of a well-formed question: a qid '<train|val|test>:<number>' of a movie that splits.json puts
    in that split. None for anything else (`question_split` says what is wrong)."""
    if type(qid) is not str or type(imdb_key) is not str:
        return None
    prefix, _, number = qid.partition(":")
    split = SPLITS.get(prefix)
    return split if split is not None and split_of.get(imdb_key) == split and number.isdigit() else None


def question_split(record, path, line: int, split_of: dict[str, str]) -> str:
    """The Hub split of a qa.json record: its qid prefix, which must agree with its movie's split."""
    if not isinstance(record, dict):
        raise RawDataError(path, "a question record must be a JSON object", line=line)
    qid, imdb_key = record.get("qid"), record.get("imdb_key")
    split = settled_split(qid, imdb_key, split_of)
    if split is not None:
        return split
    prefix, _, number = qid.partition(":") if isinstance(qid, str) else ("", "", "")
    if prefix not in SPLITS or not number.isdigit():
        raise RawDataError(path, f"qid {qid!r} is not '<train|val|test>:<number>'", line=line, record=qid,
                           hint="the qid prefix is the question's split")
    if not isinstance(imdb_key, str) or imdb_key not in split_of:
        raise RawDataError(path, f"imdb_key {imdb_key!r} is not a movie of movies.json / splits.json", line=line,
                           record=qid, hint="use the qa.json, movies.json and splits.json of the same release")
    if SPLITS[prefix] != split_of[imdb_key]:
        reverse = {v: k for k, v in SPLITS.items()}
        raise RawDataError(path, f"the qid says split '{prefix}' but splits.json puts {imdb_key} in "
                           f"'{reverse[split_of[imdb_key]]}'", line=line, record=qid,
                           hint="splits are by movie; the record or splits.json is from another release")
    return SPLITS[prefix]


def probable_split(record, split_of: dict[str, str]) -> str | None:
    """The split a rejected record would most likely have belonged to (for the report's counts)."""
    if not isinstance(record, dict):
        return None
    prefix = record["qid"].partition(":")[0] if isinstance(record.get("qid"), str) else ""
    return SPLITS.get(prefix) or split_of.get(record.get("imdb_key"))


def clip_names(record: dict) -> list[str]:
    """The clip names a record lists, ignoring what is not a name (parse_question rejects those records)."""
    clips = record.get("video_clips")
    if type(clips) is not list or not clips:
        return []
    return [c for c in clips if type(c) is str]


def record_label(record, position: int) -> str:
    qid = record.get("qid") if isinstance(record, dict) else None
    return qid if isinstance(qid, str) else f"#{position + 1}"


def parse_question(record: dict, path, line: int, split: str) -> Question:
    """One qa.json record, checked: five answer strings, a correct index (withheld for test), clip names."""
    qid = record["qid"]

    def fail(problem, hint="the record is malformed; use an unmodified qa.json"):
        return RawDataError(path, problem, line=line, record=qid, hint=hint)

    question, answers = record.get("question"), record.get("answers")
    if not isinstance(question, str):
        raise fail(f"question must be a string, got {question!r}")
    if not isinstance(answers, list) or len(answers) != 5 or not all(isinstance(a, str) for a in answers):
        count = len(answers) if isinstance(answers, list) else "no list of"
        raise fail(f"{count} answers, expected a list of 5 strings")
    correct = record.get("correct_index")
    if isinstance(correct, str) and correct.isdecimal():  # early val records (changelog: 'should be int')
        correct = int(correct)
    if correct is None and split == "test":
        correct = TEST_ANSWER
    elif isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct < 5:
        raise fail(f"correct_index {record.get('correct_index')!r} is not an answer index 0-4")
    alignment = record.get("plot_alignment")
    if alignment is not None and (not isinstance(alignment, list) or
                                  not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in alignment)):
        raise fail(f"plot_alignment {alignment!r} is not a list of sentence indices")
    clips = record.get("video_clips") or []
    if not isinstance(clips, list):
        raise fail(f"video_clips {clips!r} is not a list of clip names")
    for clip in clips:
        match = CLIP_NAME.fullmatch(clip) if isinstance(clip, str) else None
        if match is None:
            raise fail(f"video clip {clip!r} is not named <imdb>.sf-NNNNNN.ef-NNNNNN.video.mp4")
        if match.group(1) != record["imdb_key"] or int(match.group(2)) > int(match.group(3)):
            raise fail(f"video clip {clip} does not belong to {record['imdb_key']} or ends before it starts")
    return Question(qid, record["imdb_key"], question, tuple(answers), correct,
                    None if alignment is None else tuple(alignment), tuple(clips),
                    {k: v for k, v in record.items() if k not in QA_KEYS})


def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a story file with '\\n' line ends, and the encoding used (see `decode_story`)."""
    text, label = decode_story(data)
    return text.replace("\r\n", "\n").replace("\r", "\n"), label


def decode_story(data: bytes) -> tuple[str, str]:
    """Text of a story file as written and the encoding used: UTF-8 (BOM stripped), else cp1252, else latin-1.

    cp1252 is tried before latin-1 because the release's non-UTF-8 files use its curly quotes and dashes
    (bytes 0x91-0x97); a file with a byte cp1252 leaves undefined can only be latin-1.
    """
    body, bom = (data[3:], True) if data.startswith(codecs.BOM_UTF8) else (data, False)
    for encoding in ("utf-8", "cp1252"):
        try:
            text = body.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text, encoding = body.decode("latin-1"), "latin-1"
    label = "utf-8-sig" if bom and encoding == "utf-8" else encoding
    return text, label


def file_lines(data: bytes) -> list[str]:
    """The lines of a plot or split-plot file as the official story loader sees them before it drops the
    blank ones: Python 2 `open(path).readlines()` (bytes split at '\\n' only, so a final '\\n' ends the last
    line and a lone '\\r' splits nothing), each `strip()`ped of ASCII whitespace (a '\\r' of CRLF included).
    str.splitlines would also break at U+0085 and U+2028, which the bytes can hold."""
    text = decode_story(data)[0]
    lines = text.split("\n")
    if lines[-1] == "":  # the final line end, or an empty file
        lines.pop()
    return [line.strip(LINE_WHITESPACE) for line in lines]


def story_lines(data: bytes) -> list[str]:
    """Non-blank lines, as the official story loader reads plots (and split plots, which `plot_alignment`
    does not index that way)."""
    return [line for line in file_lines(data) if line]


_TIMING_LINE = re.compile(r"\s*(\d\S*)\s*-->\s*(\S+).*")
_TAG = re.compile(r"<[^<>]*>")


def parse_subtitle_file(data: bytes) -> dict:
    """A .srt (or .dvs) file → {encoding, cues, skipped_cues}."""
    text, encoding = decode_text(data)
    cues, skipped = parse_srt(text)
    return {"encoding": encoding, "cues": cues, "skipped_cues": skipped}


def parse_srt(text: str) -> tuple[list[dict], list[dict]]:
    """Cues of an SRT text, and the cues skipped because their timing line cannot be read.

    A cue starts at every timing line ('<start> --> <end>'), with the digits-only line just above it as its
    number when there is one; its text runs up to the next cue. Splitting at timing lines rather than at
    blank lines keeps empty cues, cues separated by several blank lines or a line of spaces, and text lines
    that are only digits. The srt library reads the timestamps (',' or '.' before 2- or 3-digit
    milliseconds); its whole-file parser would fold a cue with a corrupted start time into the previous
    cue's text, which is why blocks are found here.
    """
    lines = text.split("\n")
    timings = [n for n, line in enumerate(lines) if _TIMING_LINE.fullmatch(line)]
    timing_set = set(timings)
    starts = [n - 1 if n > 0 and lines[n - 1].strip().isdecimal() and n - 1 not in timing_set else n for n in timings]
    cues, skipped = [], []
    for k, timing in enumerate(timings):
        end_of_text = starts[k + 1] if k + 1 < len(timings) else len(lines)
        body = [line.rstrip() for line in lines[timing + 1:end_of_text]]
        index = int(lines[timing - 1]) if starts[k] != timing else None
        start_text, end_text = _TIMING_LINE.fullmatch(lines[timing]).groups()
        try:
            start, end = srt_seconds(start_text), srt_seconds(end_text)
        except srt.TimestampParseError as e:
            skipped.append({"line": timing + 1, "timing": lines[timing], "text": "\n".join(body).strip("\n"),
                            "reason": f"unreadable timestamp ({e})"})
            continue
        text_lines = [_TAG.sub("", line).rstrip() for line in body]
        cues.append({"index": index, "start": start, "end": end, "text": "\n".join(text_lines).strip("\n")})
    return cues, skipped


def srt_seconds(timestamp: str) -> float:
    return srt.srt_timestamp_to_timedelta(timestamp).total_seconds()


def parse_matidx(data: bytes, path) -> list[float]:
    """<imdb>.matidx (one '<frame> <seconds>' line per movie frame, from frame 0) → seconds per frame."""
    times: list[float] = []
    for number, line in enumerate(data.decode("latin-1").split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            frame, seconds = int(parts[0]), float(parts[1])
        except ValueError:
            raise RawDataError(path, f"expected '<frame> <seconds>', got {line!r}", line=number,
                               hint="the frame-time file is corrupt; extract it again") from None
        if frame != len(times):
            raise RawDataError(path, f"frame {frame} where frame {len(times)} was expected", line=number,
                               hint="frames are listed once each, in order from 0; extract the file again")
        times.append(seconds)
    return times


def parse_shot_boundaries(data: bytes, path) -> list[list[int]]:
    """<clip>.video.sbd → [first frame, last frame] per shot (absolute movie frames)."""
    shots = []
    for number, line in enumerate(data.decode("latin-1").split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not all(p.isdecimal() for p in parts):
            raise RawDataError(path, f"expected '<first frame> <last frame>', got {line!r}", line=number,
                               hint="the shot-boundary file is corrupt; extract it again")
        shots.append([int(parts[0]), int(parts[1])])
    return shots


def clip_frames(name: str) -> tuple[int, int]:
    match = CLIP_NAME.fullmatch(name)
    return int(match.group(2)), int(match.group(3))


def clip_seconds(name: str, frame_times: list[float], path) -> tuple[float, float]:
    """Movie time of a clip's first and last frame; the last frame is clamped to the frame-time map."""
    first, last = clip_frames(name)
    if first >= len(frame_times):
        raise RawDataError(path, f"clip {name} starts at frame {first} but the frame-time map has only "
                           f"{len(frame_times)} frames", hint="the clip and the matidx file are from different "
                                                               "versions of the movie; extract both again")
    return frame_times[first], frame_times[min(last, len(frame_times) - 1)]


def mp4_status(data: bytes | None) -> str:
    if data is None:
        return "missing"
    if not data:
        return "empty"
    if not has_signature(data, "mp4"):
        return "not mp4"
    return "truncated" if mp4_truncation(data) else "ok"


# ---- row assembly -----------------------------------------------------------------------------------------

QA_KEY_SET = frozenset(QA_KEYS)


def question_values(record, split: str, movies: dict[str, Movie]) -> tuple | None:
    """The `qa` row of a record whose split and qid are settled (`question_split`), as `question_row(parse_question
    (...))` makes it, in QA_FIELDS order; None for a record that needs more: an error to report, a key this build
    does not map (counted), a correct_index written as text. `parse_question` deals with those."""
    if type(record) is not dict or not QA_KEY_SET.issuperset(record):
        return None
    question, answers, correct = record.get("question"), record.get("answers"), record.get("correct_index")
    if type(question) is not str or type(answers) is not list or len(answers) != 5:
        return None
    for answer in answers:
        if type(answer) is not str:
            return None
    if type(correct) is int:
        if not 0 <= correct < 5:
            return None
    elif correct is None and split == "test":
        correct = TEST_ANSWER
    else:
        return None
    alignment = record.get("plot_alignment")
    if alignment is not None:
        if type(alignment) is not list:
            return None
        for index in alignment:
            if type(index) is not int or index < 0:
                return None
    clips = record.get("video_clips") or []
    if type(clips) is not list:
        return None
    imdb_key = record["imdb_key"]
    for clip in clips:
        match = CLIP_NAME.fullmatch(clip) if type(clip) is str else None
        if match is None or match.group(1) != imdb_key or int(match.group(2)) > int(match.group(3)):
            return None
    movie = movies[imdb_key]
    return (record["qid"], imdb_key, movie.title, movie.year, list(movie.genres), question, answers, correct,
            alignment, clips, None)

def question_row(question: Question, movie: Movie) -> dict:
    return {
        "qid": question.qid, "imdb_key": question.imdb_key, "movie_title": movie.title, "movie_year": movie.year,
        "movie_genres": list(movie.genres), "question": question.question, "answers": list(question.answers),
        "correct_index": question.correct_index,
        "plot_alignment": None if question.plot_alignment is None else list(question.plot_alignment),
        "video_clips": list(question.video_clips), "extra": extra_json(question.extra),
    }


def unmapped_names(extra: dict) -> list[str]:
    """The unmapped keys of a record, those of movies.json's `text` object as `text.<key>`."""
    return [name for key in extra for name in ([f"text.{k}" for k in extra[key]] if key == "text" else [key])]


def extra_json(extra: dict) -> str | None:
    return json.dumps(extra, ensure_ascii=False) if extra else None


def plot_fields(question: Question, line: int, qa_path, stories: StoryReader) -> dict:
    lines = stories.split_plot(question.imdb_key)
    aligned = None
    if lines is not None and question.plot_alignment is not None:
        for index in question.plot_alignment:
            if index < len(lines) and lines[index]:
                continue
            file = stories.relative(stories.path("split_plot", question.imdb_key))
            where = (f"at line {index + 1} of {file}, which is blank" if index < len(lines)
                     else f"past the end of {file} ({len(lines)} lines)")
            raise RawDataError(qa_path, f"plot_alignment {list(question.plot_alignment)}: {index} points {where}",
                               line=line, record=question.qid,
                               hint="plot_alignment holds 0-based line numbers of the split-plot file, blank lines "
                                    "counted; this split plot and qa.json are from different releases or edited")
        aligned = [lines[i] for i in question.plot_alignment]
    return {"aligned_sentences": aligned, "plot_sentences": lines, "plot": stories.plot(question.imdb_key)}


def subtitle_fields(question: Question, stories: StoryReader) -> dict:
    track = stories.track("subtitles", question.imdb_key)
    frame_times = stories.frame_times(question.imdb_key) if question.video_clips else None
    windows = [clip_seconds(c, frame_times, stories.path("frame_times", question.imdb_key))
               if frame_times is not None else (None, None) for c in question.video_clips]
    clip_times = [{"clip": c, "start": start, "end": end} for c, (start, end) in zip(question.video_clips, windows)]
    if track is None:
        return {"subtitle_scope": None, "clip_times": clip_times, "subtitles": None}
    if not question.video_clips or frame_times is None:
        return {"subtitle_scope": "movie", "clip_times": clip_times, "subtitles": track["cues"]}
    return {"subtitle_scope": "clips", "clip_times": clip_times,
            "subtitles": [cue for cue in track["cues"] if overlaps(cue, windows)]}


def overlaps(cue: dict, windows: list[tuple[float, float]]) -> bool:
    """Whether the cue shares a moment with any window (a cue written end-first spans end..start)."""
    low, high = min(cue["start"], cue["end"]), max(cue["start"], cue["end"])
    return any(low <= window_end and high >= window_start for window_start, window_end in windows)


def video_fields(question: Question, stories: StoryReader, clips: ClipReader) -> dict:
    frame_times = stories.frame_times(question.imdb_key)
    videos, details = [], []
    for name in question.video_clips:
        data = clips.read(name)
        status = mp4_status(data)
        videos.append({"bytes": data, "path": name} if status == "ok" else None)
        start, end = (clip_seconds(name, frame_times, stories.path("frame_times", question.imdb_key))
                      if frame_times is not None else (None, None))
        first, last = clip_frames(name)
        details.append({"name": name, "start_frame": first, "end_frame": last, "start": start, "end": end,
                        "shots": stories.shots(name), "status": status})
    return {"videos": videos, "clips": details}


def movie_row(movie: Movie, stories: StoryReader) -> dict:
    key = movie.imdb_key
    tar_path = stories.found["video_tar"].get(key)
    clips = {name for name in stories.found["video"] if CLIP_NAME.fullmatch(name).group(1) == key}
    return {
        "imdb_key": key, "title": movie.title, "year": movie.year, "genres": list(movie.genres),
        "plot": stories.plot(key), "split_plot": stories.split_plot(key),
        "subtitles": stories.track("subtitles", key), "script": stories.script(key), "dvs": stories.track("dvs", key),
        "video_clips": sorted(clips.union(clips_in_tar(tar_path) if tar_path else ())), "extra": extra_json(movie.extra),
    }
