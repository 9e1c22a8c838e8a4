"""A MovieQA raw tree in the release's exact syntax, with its awkward cases.

Movies, questions and subtitle cues are declared as data and written by format functions (Python-2
style JSON, SRT blocks with their quirks, frame-time maps); each declaration also says what the parser
must give back, independently of the parser.

Awkward cases covered (see ../shared/formats/flickr30k_entities_movieqa.md §5.3): movies.json and
splits.json with trailing spaces and no final newline; qids out of order and not contiguous; an empty
answer option; a val correct_index written as a string; test questions with correct_index null and no
plot_alignment key; an empty plot_alignment; split plots with a blank line between paragraphs (and one
with a blank last line), and alignments after a blank line (plot_alignment counts every line of the
file); a plot declared in movies.json whose file is absent; a movie without a split plot, one without subtitles, one without script, one without video; subtitles in UTF-8 with BOM,
UTF-8 without BOM and cp1252 (curly apostrophe, em dash, no final newline); cue numbering from 0, an
index restart, an out-of-order cue, a cue ending before it starts, 2-digit milliseconds, a corrupted
`*****` timestamp, an empty cue followed by two blank lines, a separator line of spaces, trailing spaces
after index and timing lines, a trailing TAB, <i> and <font> tags, a digits-only text line; a question
whose clips straddle a cue; a 0-byte clip; a clip referenced but missing; a video question on a movie
without frame-time map; shot boundaries for one clip; a DVS file; a cp1252 script.
With bad_records: a question with four answers, and a question whose qid split disagrees with its movie's.

Beside the data the tree holds what a clone of MovieQA_benchmark also holds (README.md, CHANGELOG, the
Python loaders, story/MD5SUM and the helper scripts; stand-in text), which a build must list as not read.

The split-plot files' layout is inferred, not seen: no real one is public. The plot files' paragraphs are
separated by blank lines, the README calls `plot_alignment` "split_plot file line numbers", and code that
uses the alignments reads the raw lines and checks for a blank line before an aligned one; so the sample
keeps a blank line between paragraphs of the sentence-per-line file.
"""
from __future__ import annotations

import hashlib
import io
from fractions import Fraction
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from .video import yuv420p_frame

NO_KEY = object()
"""A record field that qa.json leaves out (not null)."""


@dataclass(frozen=True)
class Cue:
    """One SRT block: what is written, and what the parser must read from it."""

    index: int | None
    start: float
    end: float
    lines: tuple[str, ...] = ()
    text: str | None = None           # expected text when it is not the lines joined (tags, trailing spaces)
    timing: str | None = None         # the timing line written verbatim instead of the formatted one
    index_line: str | None = None     # the index line written verbatim (e.g. with a trailing space)
    gap: str = "\n"                   # what follows the text: one blank line, several, or a line of spaces
    broken: bool = False              # the timing line is unreadable: the builder skips the cue

    def block(self) -> str:
        index = "" if self.index is None else (self.index_line or str(self.index)) + "\n"
        timing = self.timing or f"{srt_time(self.start)} --> {srt_time(self.end)}"
        return index + timing + "\n" + "".join(line + "\n" for line in self.lines) + self.gap

    def expected(self) -> dict:
        text = self.text if self.text is not None else "\n".join(self.lines)
        return {"index": self.index, "start": self.start, "end": self.end, "text": text}


@dataclass(frozen=True)
class SubtitleFile:
    cues: tuple[Cue, ...]
    encoding: str                     # utf-8, utf-8-sig (BOM) or cp1252
    final_newline: bool = True

    def render(self) -> bytes:
        text = "".join(cue.block() for cue in self.cues)
        if not self.final_newline:
            text = text.rstrip("\n")
        return text.encode(self.encoding)

    def expected(self) -> dict:
        """What the builder must read: encoding, kept cues, and the skipped ones (without the reason's wording)."""
        skipped, line = [], 1
        for cue in self.cues:
            timing_line = line + (cue.index is not None)
            if cue.broken:
                skipped.append({"line": timing_line, "timing": cue.timing, "text": "\n".join(cue.lines)})
            line += cue.block().count("\n")
        return {"encoding": self.encoding, "cues": [c.expected() for c in self.cues if not c.broken],
                "skipped_cues": skipped}


def srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d},{millis % 1000:03d}"


@dataclass
class SampleMovie:
    imdb_key: str
    title: str
    year: int
    genres: tuple[str, ...]
    split: str                                   # splits.json name: train, val or test
    plot: tuple[str, ...] | None = None          # paragraphs; None: declared in movies.json, file absent
    split_plot: tuple[str, ...] | None = None    # file lines as written, each ended by a line feed ("" = blank);
                                                 # None: no file
    subtitles: SubtitleFile | None = None        # None: declared in movies.json, file absent
    script: str | None = None
    script_encoding: str = "utf-8"
    dvs: SubtitleFile | None = None
    fps: float | None = None                     # frame-time map at this rate; None: no .matidx file
    frames: int = 0
    clips: dict[str, bytes] = field(default_factory=dict)          # clip files on disk (b"" = a 0-byte file)
    shots: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def split_plot_lines(self) -> list[str] | None:
        """What the builder must read: every line of the file, stripped, blank lines kept (plot_alignment
        indexes them)."""
        return None if self.split_plot is None else [line.strip() for line in self.split_plot]

    def frame_time(self, frame: int) -> float:
        return float(f"{min(frame, self.frames - 1) / self.fps:.3f}")

    def record(self) -> dict:
        """The movies.json record, keys in the release's order."""
        key = self.imdb_key
        return {"genre": ", ".join(self.genres),
                "text": {"plot": f"story/plot/{key}.wiki", "subtitle": f"story/subtt/{key}.srt",
                         "dvs": f"story/dvs/{key}.dvs" if self.dvs else None,
                         "script": f"story/script/{key}.script" if self.script else None},
                "imdb_key": key, "name": self.title, "year": str(self.year)}


@dataclass
class SampleQA:
    qid: str
    imdb_key: str
    question: str
    answers: tuple[str, ...]
    correct_index: object                        # as written: int, None (test) or a digit string
    plot_alignment: object = NO_KEY              # list, or NO_KEY when the record has no such key
    video_clips: tuple[str, ...] = ()
    bad: str | None = None                       # why the builder must reject the record

    @property
    def split(self) -> str:
        return {"train": "train", "val": "validation", "test": "test"}[self.qid.split(":")[0]]

    @property
    def expected_correct_index(self) -> int:
        return -1 if self.correct_index is None else int(self.correct_index)

    @property
    def alignment(self) -> list[int] | None:
        return None if self.plot_alignment is NO_KEY else list(self.plot_alignment)

    def record(self) -> dict:
        record = {"qid": self.qid, "question": self.question, "answers": list(self.answers),
                  "imdb_key": self.imdb_key, "correct_index": self.correct_index}
        if self.plot_alignment is not NO_KEY:
            record["plot_alignment"] = list(self.plot_alignment)
        record["video_clips"] = list(self.video_clips)  # key order as third-party code lists a record's keys
        return record


@dataclass
class SampleTree:
    root: Path
    movies: dict[str, SampleMovie]
    questions: list[SampleQA]                    # qa.json order, rejected records included

    def good(self, split: str, video_only: bool = False) -> list[SampleQA]:
        return [q for q in self.questions if q.split == split and not q.bad and (q.video_clips or not video_only)]

    def question(self, qid: str) -> SampleQA:
        return next(q for q in self.questions if q.qid == qid)

    def clip_bytes(self, name: str) -> bytes | None:
        return self.movies[name.split(".")[0]].clips.get(name)

    def clip_window(self, name: str) -> tuple[float, float] | None:
        movie = self.movies[name.split(".")[0]]
        first, last = (int(name.split(".")[i][3:]) for i in (1, 2))
        return None if movie.fps is None else (movie.frame_time(first), movie.frame_time(last))

    def expected_cues(self, qa: SampleQA) -> list[dict] | None:
        """Cues sharing a moment with any of the question's clips; all cues without clips or frame times."""
        movie = self.movies[qa.imdb_key]
        if movie.subtitles is None:
            return None
        cues = movie.subtitles.expected()["cues"]
        windows = [self.clip_window(c) for c in qa.video_clips]
        if not windows or None in windows:
            return cues
        return [c for c in cues if any(min(c["start"], c["end"]) <= t1 and max(c["start"], c["end"]) >= t0
                                       for t0, t1 in windows)]


# ---- the hand-written movies and questions ------------------------------------------------------------

C1 = "tt0000001.sf-000010.ef-000059.video.mp4"      # a real 2 s clip
C2 = "tt0000001.sf-000060.ef-000099.video.mp4"      # a 0-byte file
C3 = "tt0000001.sf-000100.ef-000149.video.mp4"      # referenced by qa.json, absent from the raw data
C4 = "tt0000003.sf-000200.ef-000274.video.mp4"      # a real clip of a movie without frame-time map


def _hand_written_movies() -> list[SampleMovie]:
    anna = SubtitleFile(encoding="utf-8-sig", cues=(
        Cue(1, 0.4, 1.9, ("<i>Previously, in the city...</i>",), text="Previously, in the city..."),
        Cue(2, 2.0, 2.6, gap="\n\n"),
        Cue(3, 2.7, 4.1, ("- Where were you?", "- ♪ Out ♪")),
        Cue(4, 4.2, 5.0, ("1999",)),
        Cue(5, 6.0, 7.5, ("I kept your letters.",)),
    ))
    lyon = SubtitleFile(encoding="cp1252", final_newline=False, cues=(
        Cue(1, 1.05, 2.098, ("Café au lait, s'il vous plaît.",), index_line="1 ",
            timing="00:00:01,50 --> 00:00:02,98 ", gap=" \n"),
        Cue(7, 5.0, 4.1, ('<font color="#00ff00">Wait.</font>\t',), text="Wait."),
        Cue(2, 4.05, 6.0, ("Too late.",)),
        Cue(3, 0, 0, ("Broken time.",), timing="00:00:07,000 --> 00:00:0*****9", broken=True),
        Cue(4, 8.0, 9.0, ("It’s over—bye.",)),
    ))
    station = SubtitleFile(encoding="utf-8", cues=(
        Cue(0, 1.0, 3.0, ("MAN (V.O.):", "Señor, the train leaves at six (sharp)")),
        Cue(1, 3.5, 5.0, ("We leave at dawn.",)),
        Cue(2, 5.2, 7.0, ("- Ready?", "- Ready.")),
    ))
    described = SubtitleFile(encoding="utf-8", cues=(
        Cue(1, 62.345, 65.678, ("SOMEONE walks into the room.",)),
        Cue(2, 66.0, 68.5, ("He looks at the map.",)),
    ))
    return [
        SampleMovie("tt0000001", "Example: The Movie", 2001, ("Drama", "Thriller"), "train",
                    plot=("Anna returns to the city after ten years. She finds her old flat taken.",
                          "She meets Ben at the station, and he tells her the truth about her father."),
                    split_plot=("Anna returns to the city after ten years.", "She finds her old flat taken.", "",
                                "She meets Ben at the station.", "Ben tells her the truth about her father."),
                    subtitles=anna, script=_SCRIPT, script_encoding="cp1252", fps=25.0, frames=150,
                    clips={C1: _mp4(50, 64, 48, seed=1), C2: b""}, shots={C1: [(10, 33), (34, 59)]}),
        SampleMovie("tt0000002", "Second Example", 1999, ("Comedy",), "val",
                    plot=("Zoë opens a café in Lyon and waits for a letter that never comes.",), subtitles=lyon),
        SampleMovie("tt0000003", "The Third Example (Part II)", 2015, ("Action", "Sci-Fi", "War"), "test",
                    subtitles=station, dvs=described, clips={C4: _mp4(75, 64, 48, seed=3)}),
        SampleMovie("tt0000004", "Silent Example", 1942, ("Film-Noir",), "train",
                    plot=("A detective never speaks. He listens.", "Nobody asks why."),
                    split_plot=("A detective never speaks.", "He listens.", "", "Nobody asks why.", "")),
    ]


_SCRIPT = """\
                              EXAMPLE: THE MOVIE

                                  Written by
                                   A. Writer


          INT. CAFÉ - NIGHT

          ANNA (30s) waits by the window.

                              ANNA
                    Where were you?

"""


def _hand_written_questions() -> list[SampleQA]:
    options = ("She is sick", "She has to work", "She sees her ex", "She is bored", "Her car is towed")
    return [
        SampleQA("train:5", "tt0000001", "Why does Anna leave the party early?",
                 ("She is sick", "", "She sees her ex", "She is bored", "Her car is towed"), 2, [1]),
        SampleQA("train:0", "tt0000001", "Where does Anna meet Ben?",
                 ("At a party", "At the station", "In a café", "At work", "On a boat"), 1, [3], (C1, C2)),
        SampleQA("train:6", "tt0000001", "What year does Anna remember?",
                 ("1989", "2001", "1999", "2010", "1995"), 2, [4, 0], (C3,)),
        SampleQA("train:9", "tt0000004", "Why does the detective never speak?",
                 ("He is shy", "He lost his voice", "He listens instead", "He is bored", "Nobody knows"), 2, []),
        SampleQA("train:10", "tt0000004", "Does anybody ask why?",
                 ("Yes", "No", "Only Anna", "Only Ben", "Everybody"), 1, [3, 1]),
        SampleQA("val:0", "tt0000002", "What does Zoë open?",
                 ("A bakery", "A bar", "A shop", "A café", "A school"), "3", [1]),
        SampleQA("test:0", "tt0000003", "When does the train leave?",
                 ("At dawn", "At six", "At noon", "At midnight", "Never"), None, NO_KEY, (C4,)),
        SampleQA("test:1", "tt0000003", "Who walks into the room?", options, None),
    ]


def _bad_questions() -> list[SampleQA]:
    return [
        SampleQA("train:7", "tt0000001", "How many answers does this have?", ("One", "Two", "Three", "Four"), 0,
                 bad="4 answers, expected a list of 5 strings"),
        SampleQA("val:3", "tt0000001", "Which split is this?", ("a", "b", "c", "d", "e"), 0,
                 bad="the qid says split 'val' but splits.json puts tt0000001 in 'train'"),
    ]


# ---- plain synthetic movies for scaled-up trees (benchmarks) -------------------------------------------

QUESTIONS_PER_MOVIE = 10
SYNTHETIC_FPS = 23.976
SYNTHETIC_MINUTES = 30


def _synthetic(count: int, clip_files: bool = True) -> tuple[list[SampleMovie], list[SampleQA]]:
    """`count` questions over movies of realistic story sizes; every other question has two ~1 MB clips
    (named in qa.json; their files are written only with clip_files)."""
    rng = np.random.default_rng(7)
    pool = [_mp4(75, 480, 272, seed=100 + k, noisy=True) for k in range(3)] if count and clip_files else []
    frames = int(SYNTHETIC_MINUTES * 60 * SYNTHETIC_FPS)
    movies, questions = [], []
    for m in range((count + QUESTIONS_PER_MOVIE - 1) // QUESTIONS_PER_MOVIE):
        key = f"tt{9_000_000 + m:07d}"
        starts = np.arange(2.0, SYNTHETIC_MINUTES * 60 - 5, 5.0)
        cues = tuple(Cue(k + 1, float(t), float(t) + 3.5, (f"Line {k + 1} of the dialogue in {key},",
                                                           "spoken over two lines."))
                     for k, t in enumerate(starts))
        movie = SampleMovie(key, f"Synthetic Movie {m}", 1990 + m % 25, ("Drama",), "train",
                            plot=tuple(f"Paragraph {p} of the plot of {key}. " * 6 for p in range(12)),
                            split_plot=_synthetic_split_plot(key),
                            subtitles=SubtitleFile(cues, "utf-8"), fps=SYNTHETIC_FPS, frames=frames)
        movies.append(movie)
        for q in range(m * QUESTIONS_PER_MOVIE, min(count, (m + 1) * QUESTIONS_PER_MOVIE)):
            clips = ()
            if q % 2 == 0:
                first = int(rng.integers(0, frames - 400))
                clips = (f"{key}.sf-{first:06d}.ef-{first + 149:06d}.video.mp4",
                         f"{key}.sf-{first + 150:06d}.ef-{first + 299:06d}.video.mp4")
                if clip_files:
                    movie.clips.update({name: pool[(q + k) % len(pool)] for k, name in enumerate(clips)})
            questions.append(SampleQA(f"train:{1000 + q}", key, f"Synthetic question {q} about {key}?",
                                      tuple(f"Answer {a} to question {q}" for a in range(5)), q % 5,
                                      [SYNTHETIC_ALIGNABLE[q % len(SYNTHETIC_ALIGNABLE)]], clips))
    return movies, questions


SYNTHETIC_PARAGRAPHS, SYNTHETIC_SENTENCES = 12, 5
SYNTHETIC_ALIGNABLE = [p * (SYNTHETIC_SENTENCES + 1) + s for p in range(SYNTHETIC_PARAGRAPHS)
                       for s in range(SYNTHETIC_SENTENCES)]
"""Line numbers of the synthetic split plots' sentences (a blank line follows each paragraph but the last)."""


def _synthetic_split_plot(key: str) -> tuple[str, ...]:
    lines: list[str] = []
    for p in range(SYNTHETIC_PARAGRAPHS):
        lines += [""] if p else []
        lines += [f"Sentence {s} of paragraph {p} of the plot of {key}." for s in range(SYNTHETIC_SENTENCES)]
    return tuple(lines)


# ---- writing the tree -----------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0, videos_as: str = "dir",
         scaled_clips: bool = True) -> SampleTree:
    """Write the raw tree under out_dir (the MovieQA_benchmark folder). videos_as: dir | tar.
    scaled_clips=False leaves out the clip files of the `scale` questions (benchmarks of the text configs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    movies = _hand_written_movies()
    questions = _hand_written_questions()
    if bad_records:
        questions[5:5] = _bad_questions()[:1]  # the last train question, and the second val one
        questions[7:7] = _bad_questions()[1:]
    more_movies, more_questions = _synthetic(scale, scaled_clips)
    movies += more_movies
    train = sum(q.split == "train" for q in questions)
    questions = questions[:train] + more_questions + questions[train:]  # the release lists train, then val, then test
    (out_dir / "data").mkdir(exist_ok=True)
    (out_dir / "data" / "movies.json").write_text(py2_json([m.record() for m in movies]), encoding="utf-8")
    splits = {name: [m.imdb_key for m in movies if m.split == name] for name in ("test", "train", "val")}
    splits["train"].reverse()  # the release's lists are not sorted
    (out_dir / "data" / "splits.json").write_text(py2_json(splits), encoding="utf-8")
    write_questions(out_dir, questions)
    for movie in movies:
        _write_story(out_dir / "story", movie, videos_as)
    for path, text in REPOSITORY_FILES.items():
        _write(out_dir / path, text.encode("utf-8"))
    return SampleTree(out_dir, {m.imdb_key: m for m in movies}, questions)


_TARBALLS = ("plot.tar.gz", "script.tar.gz", "split_plot.tar.gz", "subtt.tar.gz")
REPOSITORY_FILES = {
    "README.md": "# MovieQA\n\n(stand-in for the benchmark repository's README)\n",
    "CHANGELOG": "### Changelog\n\n- stand-in for the benchmark repository's change log\n",
    ".gitignore": "*~\n*.pyc\n.idea\n.swp\nstory/\n",
    "__init__.py": "# stand-in for the benchmark's package file\n",
    "config.py": '"""Stand-in for the benchmark\'s file paths."""\n',
    "data_loader.py": '"""Stand-in for the benchmark\'s data loader."""\n',
    "story_loader.py": '"""Stand-in for the benchmark\'s story loader."""\n',
    "download_dvs_stories.py": '"""Stand-in for the benchmark\'s DVS download script."""\n',
    "story/MD5SUM": "".join(f"{hashlib.md5(name.encode()).hexdigest()}  {name}\n" for name in _TARBALLS),
    "story/burst_at_0.5fps.sh": "#!/bin/bash\n# stand-in for the benchmark's frame-bursting script\n",
    "story/rip_audio_from_video_clips.sh": "#!/bin/bash\n# stand-in for the benchmark's audio-ripping script\n",
}
"""What a clone of MovieQA_benchmark holds besides data (its last commit's files; contents are stand-ins)."""


def py2_json(value) -> str:
    """json.dump(indent=2) as Python 2 wrote it: ', ' separators (a space before each line break), no final newline."""
    return json.dumps(value, indent=2, separators=(", ", ": "))


def write_questions(out_dir: Path, questions: list[SampleQA]) -> None:
    (out_dir / "data" / "qa.json").write_text(py2_json([q.record() for q in questions]), encoding="utf-8")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_story(story: Path, movie: SampleMovie, videos_as: str) -> None:
    key = movie.imdb_key
    if movie.plot is not None:  # paragraphs separated by blank lines, and a blank line at the end
        _write(story / "plot" / f"{key}.wiki", "".join(p + "\n\n" for p in movie.plot).encode("utf-8"))
    if movie.split_plot is not None:
        _write(story / "split_plot" / f"{key}.split.wiki", "".join(s + "\n" for s in movie.split_plot).encode("utf-8"))
    if movie.subtitles is not None:
        _write(story / "subtt" / f"{key}.srt", movie.subtitles.render())
    if movie.script is not None:
        _write(story / "script" / f"{key}.script", movie.script.encode(movie.script_encoding))
    if movie.dvs is not None:
        _write(story / "dvs" / f"{key}.dvs", movie.dvs.render())
    if movie.fps is not None:
        _write(story / "matidx" / f"{key}.matidx",
               "".join(f"{i} {i / movie.fps:.3f}\n" for i in range(movie.frames)).encode("ascii"))
    for clip, shots in movie.shots.items():
        _write(story / "shot_boundaries" / clip.replace(".mp4", ".sbd"),
               "".join(f"{a} {b}\n" for a, b in shots).encode("ascii"))
    if not movie.clips:
        return
    if videos_as == "dir":
        for name, data in movie.clips.items():
            _write(story / "video_clips" / key / name, data)
        return
    (story / "video_clips").mkdir(parents=True, exist_ok=True)
    with tarfile.open(story / "video_clips" / f"{key}.tar", "w") as archive:
        for name, data in sorted(movie.clips.items()):
            info = tarfile.TarInfo(f"{key}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _mp4(frames: int, width: int, height: int, seed: int, noisy: bool = False) -> bytes:
    """A real H.264 MP4 at 25 fps: a colour ramp (tiny files), or moving noise (files as large as real clips)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 25)
        for i in range(frames):
            if noisy:
                picture = np.roll(base, 3 * i, axis=1) ^ rng.integers(0, 40, base.shape, dtype=np.uint8)
            else:
                picture = np.full((height, width, 3), (seed * 40 % 256, 4 * i % 256, 128), dtype=np.uint8)
            for packet in stream.encode(yuv420p_frame(picture, pts=i)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
