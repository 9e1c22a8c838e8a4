"""An InternVid raw tree in the release's exact formats, with its awkward cases: the inverse of the parser.

The layout is what `hf download` gives (each repository with its README.md, .gitattributes and the
.cache/huggingface/ bookkeeping of `--local-dir`): OpenGVLab/InternVid in the raw folder itself
(`InternVid-10M-flt.jsonl`, `InternVid-10M-DIV.jsonl`, `InternVid-18M-aes.jsonl`), OpenGVLab/InternVid-Full
one folder down (`InternVid-Full/`, with the `caption_fig.jpg` of its Hub tree) and likewise
`InternVid-10M-FLT-INFO/`; the search queries where the InternVideo repository keeps them
(`Data/InternVid/queries.jsonl`). File names follow the Hub tree (InternVid-Full) and code that reads the
files (the others); the Aesthetics-18M lines carry `CLIP_Score` and no `UMT_Score`, as the code that reads
them does (see the card for what is unverified).

Clip bounds are declared in milliseconds and written as the release writes them (`HH:MM:SS.mmm`, or the
short forms some lines use), so the expected seconds never come from the parser. Videos are real MP4 files
made with PyAV (H.264 with B-frames and AAC audio, a keyframe every two seconds).

Awkward but valid (see ../shared/formats/musecar_internvid.md §2.7 and §3.3-3.5): two clips of one video,
hours > 0, a caption with leading and trailing spaces, an empty caption, non-ASCII captions written raw and
\\u-escaped, timestamps `0:00:07.5` and `0:00:09`, a clip starting at 00:00:00.000, a sub-second clip, a
blank line, a CRLF line, keys in another order, unknown extra keys (one of them with a string in one line
and a number in another, one with a null value), an integer score, a null and an absent aesthetic score
(InternVid-Full has none), a null CLIP score, the same clip twice in one file and in several subsets, INFO
keys in the maintainers' and in lower case, no final newline. Videos: a video2dataset tar with a failed
download (json + txt, no mp4) covering two clips, a row cut into two clips, a key containing dots, a
sample identified by its url only, a `files`-format shard folder, the .parquet and _stats.json beside;
clip files named with colons and with dashes, nested as OpenDataLab ships them with the folder's caption
list beside; a full video cut here, and an unfinished download (.part) beside it.

With bad_records: a truncated line, an end before its start, a bad timestamp, a missing key, a caption
that is a number, two objects on one line, a clip file that is empty, and a video2dataset sample that
says success but has no video.
"""
from __future__ import annotations

import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..internvid import SUBSETS

GOP_SECONDS = 2.0
FPS = 10
ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SAMPLES_PER_SHARD = 1000          # video2dataset's default number_sample_per_shard


@dataclass
class Video:
    """How a line's clip is available: kind, and what the clips config must hold for it."""

    kind: str                  # stored | cut | failed | missing
    origin: str | None = None
    path: str | None = None
    data: bytes | None = None
    error: str | None = None
    video_start: float | None = None
    by_url: bool = False       # video2dataset metadata without YoutubeID (url only)

    @property
    def status(self) -> str:
        return "ok" if self.kind in ("stored", "cut") else self.kind


@dataclass
class Line:
    youtube_id: str
    start_ms: int
    end_ms: int
    caption: str
    umt: float | int | None = 0.35
    aesthetic: float | None = 4.5
    has_aesthetic: bool = True         # False: the key is absent (InternVid-Full)
    has_umt: bool = True               # False: the key is absent (Aesthetics-18M)
    clip: float | int | None = None    # CLIP_Score, written when has_clip (Aesthetics-18M)
    has_clip: bool = False
    info: dict | None = None           # INFO keys and values as written (e.g. {"Language": "en"})
    other: dict | None = None          # keys the release documents nowhere, written as given
    short_timestamps: bool = False     # 0:00:07.5 / 0:00:09 forms
    ascii_only: bool = False           # non-ASCII characters \\u-escaped
    reorder: bool = False              # keys in reverse order, the other keys first
    crlf: bool = False
    video: Video = field(default_factory=lambda: Video("missing"))
    bad_text: str | None = None        # a malformed line, written verbatim
    problem: str | None = None         # the error a bad line must give
    number: int = 0                    # its line number in the file (set when written)

    @property
    def start_text(self) -> str:
        return format_timestamp(self.start_ms, self.short_timestamps)

    @property
    def end_text(self) -> str:
        return format_timestamp(self.end_ms, self.short_timestamps)

    def json_line(self) -> str:
        if self.bad_text is not None:
            return self.bad_text
        record = {"YoutubeID": self.youtube_id, "Start_timestamp": self.start_text,
                  "End_timestamp": self.end_text, "Caption": self.caption}
        if self.has_umt:
            record["UMT_Score"] = self.umt
        if self.has_clip:
            record["CLIP_Score"] = self.clip
        if self.has_aesthetic:
            record["Aesthetic_Score"] = self.aesthetic
        record.update(self.info or {})
        if self.reorder:
            record = {**(self.other or {}), **dict(reversed(list(record.items())))}
        else:
            record.update(self.other or {})
        return json.dumps(record, ensure_ascii=self.ascii_only) + ("\r" if self.crlf else "")

    def expected_row(self, has_info: bool) -> dict:
        row = {"youtube_id": self.youtube_id, "start": self.start_ms / 1000, "end": self.end_ms / 1000,
               "duration": (self.end_ms - self.start_ms) / 1000, "caption": self.caption,
               "umt_score": float(self.umt) if self.has_umt and self.umt is not None else None,
               "clip_score": float(self.clip) if self.has_clip and self.clip is not None else None,
               "aesthetic_score": self.aesthetic if self.has_aesthetic else None}
        if has_info:
            info = {key.lower(): value for key, value in (self.info or {}).items()}
            row.update(language=info.get("language"), category=info.get("category"))
        return {**row, "start_timestamp": self.start_text, "end_timestamp": self.end_text,
                "extra": json.dumps(self.other, ensure_ascii=False) if self.other else None}

    def expected_video_row(self, has_info: bool) -> dict:
        """The clips config's row, less what only the cut can tell (a cut clip's bytes, and `video_end`)."""
        video = self.video
        row = {**self.expected_row(has_info), "status": video.status, "download_error": video.error,
               "video_origin": video.origin, "video_start": video.video_start}
        if video.kind != "cut":
            row["video"] = {"bytes": video.data, "path": video.path} if video.data is not None else None
        return row


@dataclass
class SampleTree:
    root: Path
    files: dict[str, list[Line | None]]      # caption config -> its lines in file order (None: a blank line)
    queries: list[dict] = field(default_factory=list)                    # the queries file's objects, in order
    bad_clip_rows: dict[str, list[Line]] = field(default_factory=dict)   # clips config -> lines whose video is bad
    bad_samples: list[str] = field(default_factory=list)                 # video2dataset keys the build rejects

    def path(self, config: str) -> Path:
        return self.root / CAPTION_FILES[config]

    def lines(self, config: str) -> list[Line]:
        return [line for line in self.files[config] if line is not None and line.problem is None]

    def rows(self, config: str) -> list[dict]:
        if config == "queries":
            return [{**query, "extra": None} for query in self.queries]
        return [line.expected_row(SUBSETS[config].has_info) for line in self.lines(config)]

    def video_rows(self, config: str) -> list[dict]:
        bad = self.bad_clip_rows.get(f"clips_{config}", [])
        return [line.expected_video_row(SUBSETS[config].has_info) for line in self.lines(config)
                if not any(line is b for b in bad)]

    def bad_lines(self, config: str) -> list[tuple[int, str]]:
        return [(line.number, line.problem) for line in self.files[config] if line is not None and line.problem]


def format_timestamp(ms: int, short: bool = False) -> str:
    """HH:MM:SS.mmm as released; short: unpadded hours and no trailing zeros (0:00:07.5, 0:00:09)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    if not short:
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    fraction = f"{millis:03d}".rstrip("0")
    return f"{hours}:{minutes:02d}:{seconds:02d}" + (f".{fraction}" if fraction else "")


# ---- videos --------------------------------------------------------------------------------------------

def make_mp4(seconds: float, seed: int, size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    """A real H.264 + AAC MP4: a keyframe every GOP_SECONDS, B-frames, frames tinted by `seed`.

    Frames are built in YUV directly: PyAV's RGB conversion is not bit-exact from run to run.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4", options={"fflags": "+bitexact"}) as output:
        video = output.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.thread_count = 1
        gop = str(int(GOP_SECONDS * FPS))
        video.options = {"g": gop, "keyint_min": gop, "sc_threshold": "0", "bf": "2", "threads": "1"}
        audio = output.add_stream("aac", rate=16000, layout="mono")
        for index in range(round(seconds * FPS)):
            planes = np.full((height * 3 // 2, width), 128, np.uint8)
            planes[:height] = (seed * 40 + index * 5) % 256
            if noise:  # 8x8 blocks of noise: about 0.7 Mbit/s, as a 360p YouTube download
                planes[:height] = np.kron(rng.integers(0, 256, (height // 8, width // 8)), np.ones((8, 8)))
            planes[:height, index % width] = 255
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
        output.mux(video.encode())
        samples = 1024
        for index in range(int(seconds * 16000) // samples):
            times = np.arange(index * samples, (index + 1) * samples) / 16000
            tone = (0.2 * np.sin(2 * np.pi * (220 + 20 * seed) * times)).astype(np.float32).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, index * samples
            output.mux(audio.encode(frame))
        output.mux(audio.encode())
    return buffer.getvalue()


def in_video2dataset(origin: str, key: str, seed: int, by_url: bool = False) -> Video:
    """A clip stored in a video2dataset shard under `key` (by_url: its metadata has no YoutubeID)."""
    return Video("stored", origin=origin, path=f"{key}.mp4", data=make_mp4(1.0, seed), by_url=by_url)


def as_clip_file(line: Line, seed: int, dashed: bool = False) -> Video:
    """A clip file named after the line, with its colons kept (OpenDataLab) or replaced by dashes."""
    bounds = (line.start_text, line.end_text)
    if dashed:
        bounds = tuple(text.replace(":", "-").replace(".", "-") for text in bounds)
    name = f"{line.youtube_id}_{bounds[0]}_{bounds[1]}.mp4"
    return Video("stored", origin=f"{CLIP_FOLDER}/{name}", path=name, data=make_mp4(1.0, seed))


FULL_VIDEO_ID = "Cc3Vv4Bb5Nn"
TAR = "video2dataset/00000.tar"
FILES_SHARD = "video2dataset/00001"
CLIP_FOLDER = "clips/InternVId-FLT/InternVId-FLT_1"
UNFINISHED_DOWNLOAD = "videos/Hh8Jj9Kk0Ll.mp4.part"

# ---- the layout of the downloads ----------------------------------------------------------------------------

REPOSITORIES = {  # folder in the raw tree -> (Hub repository, its files other than the caption files)
    "": ("OpenGVLab/InternVid", (".gitattributes", "README.md")),
    "InternVid-Full": ("OpenGVLab/InternVid-Full", (".gitattributes", "README.md", "caption_fig.jpg")),
    "InternVid-10M-FLT-INFO": ("OpenGVLab/InternVid-10M-FLT-INFO", (".gitattributes", "README.md")),
}
CAPTION_FILES = {
    "10m_flt": "InternVid-10M-flt.jsonl",
    "10m_div": "InternVid-10M-DIV.jsonl",
    "aes_18m": "InternVid-18M-aes.jsonl",
    "full": "InternVid-Full/InternVid-full.jsonl",
    "10m_flt_info": "InternVid-10M-FLT-INFO/InternVid-10M-FLT-INFO.jsonl",
}
"""Where each caption file is: the names of SUBSETS, in the folder of the repository that has it."""
QUERIES = "Data/InternVid/queries.jsonl"
NON_DATA_FILES = sorted([f"{folder}/{name}".lstrip("/") for folder, (_, names) in REPOSITORIES.items()
                         for name in names])
"""The repositories' files that are not data, as laid out (the builder reports each as not read)."""


# ---- the caption files -----------------------------------------------------------------------------------

def _caption_files() -> dict[str, list[Line | None]]:
    """The lines of each caption file (None: a blank line), sharing clips across subsets as the release does."""
    kayak = Line("aB3dE5fG7hI", 134_080, 139_312, "a man in a red jacket is kayaking on a calm lake", 0.4127, 5.0381,
                 video=in_video2dataset(TAR, "00000000_00000", 1))
    failure = Video("failed", error="failed_to_download: ERROR: [youtube]: Video unavailable")
    odd = Line("Qq1Ww2Ee3Rr", 7_500, 9_000, "odd timestamp forms", 0.31, 4.2, short_timestamps=True)
    odd.video = in_video2dataset(TAR, f"{odd.youtube_id}_{odd.start_text}_{odd.end_text}", 2)  # a key with dots
    onions = Line("Mm4Nn5Oo6Pp", 0, 3_440, "a chef slices onions on a wooden board", 0.3889, 4.221,
                  video=in_video2dataset(TAR, "00000002_00000", 3))
    zurich = Line("Zz-9_yXw0Qp", 45_296_789, 45_301_001, "un café à Zürich, 猎物 au crépuscule", 0.29, 5.5)
    zurich.video = as_clip_file(zurich, 5)
    crowd = Line("Hh8Jj9Kk0Ll", 20_000, 25_500, "a crowd cheers at a football match", 0.41, 4.9, reorder=True,
                 crlf=True, other={"Source": "youtube"})
    crowd.video = as_clip_file(crowd, 6, dashed=True)
    cut = f"videos/{FULL_VIDEO_ID}.mp4"
    portrait = ("Gg7Ff6Ee5Dd", 61_000, 64_000, "a woman paints a portrait", 0.38, 5.1)
    flt = [
        kayak,
        Line("xY7-_kLmN0p", 3_600_000, 3_602_500, " two dogs run on a beach ", 0.35, 4.1, video=failure),
        Line("xY7-_kLmN0p", 3_610_000, 3_615_250, "a dog shakes off water", 0.3301, 4.25, video=failure,
             other={"Source": 7, "Note": None}),  # a number where another line has a string, and a null
        odd,
        onions,
        None,
        Line("Mm4Nn5Oo6Pp", 3_440, 6_000, "the chef puts the onions in a pan", 0.36, 4.0,
             video=in_video2dataset(TAR, "00000002_00001", 4, by_url=True)),
        zurich,
        crowd,
        Line(FULL_VIDEO_ID, 3_500, 6_200, "", 0.33, 4.4, video=Video("cut", origin=cut, video_start=2.0)),
        Line(FULL_VIDEO_ID, 0, 1_500, "snow falls on a quiet street – naïve café", 1, None, ascii_only=True,
             video=Video("cut", origin=cut, video_start=0.0)),
        Line(kayak.youtube_id, kayak.start_ms, kayak.end_ms, kayak.caption, kayak.umt, kayak.aesthetic,
             video=kayak.video),
        Line(*portrait),
    ]
    full = [
        Line(onions.youtube_id, onions.start_ms, onions.end_ms, onions.caption, onions.umt, has_aesthetic=False,
             video=onions.video),
        Line("Ab_-12CdEfG", 10_000, 10_400, "a door closes", 0.21, has_aesthetic=False),
        Line("Pp0Oo9Ii8Uu", 7_384_250, 7_391_000, "fireworks light up the sky over a river", 0.44,
             has_aesthetic=False, video=in_video2dataset(FILES_SHARD, "00001000_00000", 7)),
        Line("Rr5Tt6Yy7Uu", 95_000, 98_120, " ".join(["a long caption that goes on"] * 40), None,
             has_aesthetic=False),
    ]
    info = [
        Line(kayak.youtube_id, kayak.start_ms, kayak.end_ms, kayak.caption, kayak.umt, kayak.aesthetic,
             info={"Language": "en", "Category": "Travel & Events"}, video=kayak.video),
        Line(zurich.youtube_id, zurich.start_ms, zurich.end_ms, zurich.caption, zurich.umt, zurich.aesthetic,
             info={"language": "fr", "category": "People & Blogs"}, video=zurich.video),
        Line(*portrait, info={"Category": "Howto & Style"}),
    ]
    div = [
        Line(onions.youtube_id, onions.start_ms, onions.end_ms, onions.caption, onions.umt, onions.aesthetic,
             video=onions.video),
        Line("Dd2Ii3Vv4Ss", 7_201_125, 7_204_000, "a choir sings in a church", 0.27, 3.9),
    ]
    aes = [  # CLIP_Score in place of UMT_Score
        Line(kayak.youtube_id, kayak.start_ms, kayak.end_ms, kayak.caption, None, 5.0381, has_umt=False,
             clip=0.2712, has_clip=True, video=kayak.video),
        Line("Ss5Uu6Nn7Ee", 12_000, 17_480, "a sunset over the sea with sailing boats", None, 6.1204,
             has_umt=False, clip=0.3105, has_clip=True),
        Line("Pp8Aa9Ii0Nn", 2_000, 4_250, "a painter mixes colours on a palette", None, 5.6, has_umt=False,
             clip=None, has_clip=True, other={"Frames": [48, 96]}),
    ]
    return {"10m_flt": flt, "10m_div": div, "aes_18m": aes, "full": full, "10m_flt_info": info}


def _queries() -> list[dict]:
    """Lines in the form of the released queries file (English phrase and its Chinese form)."""
    return [{"search_word_id": "feeding ducks", "search_word": "喂鸭子"},
            {"search_word_id": "pick cumquat/harvest cumquat", "search_word": "采摘金橘"},
            {"search_word_id": "opening christmas gifts (with others)", "search_word": "一起拆圣诞礼物"}]


def _bad_lines() -> list[tuple[int, Line]]:
    """(position in the FLT file, bad line): spread through the file, not only at its end."""
    def bad(text: str, problem: str) -> Line:
        return Line("", 0, 0, "", bad_text=text, problem=problem)

    return [
        (2, bad('{"YoutubeID": "Tr8ncAtEd01", "Start_timestamp": "00:00:01.000", "End_ti',
                "invalid JSON (Missing a closing quotation mark in string.)")),
        (5, bad(json.dumps({"YoutubeID": "Zz-9_yXw0Qp", "Start_timestamp": "00:00:05.000",
                            "End_timestamp": "00:00:04.900", "Caption": "bad span", "UMT_Score": 0.3}),
                "End_timestamp 00:00:04.900 is before Start_timestamp 00:00:05.000")),
        (8, bad(json.dumps({"YoutubeID": "Bb1Tt2Ss3Mm", "Start_timestamp": "00:00:xx.000",
                            "End_timestamp": "00:00:09.000", "Caption": "bad time", "UMT_Score": 0.3}),
                "Start_timestamp '00:00:xx.000' is not a timestamp HH:MM:SS.mmm")),
        (9, bad(json.dumps({"YoutubeID": "Nn0Ee1Nn2Dd", "Start_timestamp": "00:00:01.000", "Caption": "no end"}),
                "missing End_timestamp (absent or null)")),
        (12, bad(json.dumps({"YoutubeID": "Nn3Uu4Mm5Bb", "Start_timestamp": "00:00:01.000",
                             "End_timestamp": "00:00:02.000", "Caption": 42}),
                 "Caption is a number, expected a string")),
        (14, bad('{"YoutubeID": "Tw0Ob1Ec2Ts", "Caption": "a"} {"YoutubeID": "Tw0Ob1Ec2Ts", "Caption": "b"}',
                 "the line holds 2 JSON values; expected one object per line")),
    ]


def _scaled_lines(count: int, seed: int, video_every: int = 0) -> list[Line]:
    """Plain synthetic lines (benchmarks); every `video_every`-th has a 2 s 360p clip of realistic size in a
    video2dataset tar (the same clip's bytes each time: encoding thousands would dominate the benchmark)."""
    rng = random.Random(seed)
    words = ["a", "man", "woman", "dog", "walks", "runs", "on", "the", "beach", "street", "in", "park", "with",
             "ball", "car", "red", "blue", "slowly", "near", "water", "cooking", "food", "kitchen", "plays"]
    clip = make_mp4(2.0, 99, size=(640, 360), noise=True) if count and video_every else b""
    lines = []
    for n in range(count):
        youtube_id = "".join(rng.choice(ID_CHARACTERS) for _ in range(11))
        start = rng.randrange(0, 3_000_000)
        video = Video("missing")
        if video_every and n % video_every == 0:
            shard = 2 + n // video_every // SAMPLES_PER_SHARD
            video = Video("stored", origin=f"video2dataset/{shard:05d}.tar", path=f"{shard:03d}{n:05d}_00000.mp4",
                          data=clip)
        lines.append(Line(youtube_id, start, start + rng.randrange(1_000, 20_000),
                          " ".join(rng.choice(words) for _ in range(rng.randrange(6, 25))),
                          round(rng.uniform(0.2, 0.5), 4), round(rng.uniform(3.0, 7.0), 4), video=video))
    return lines


# ---- writing the tree -------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0, scaled_videos: bool = True) -> SampleTree:
    """scaled_videos=False gives the `scale` lines no clips (benchmarks of the captions configs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = _caption_files()
    if bad_records:
        for position, line in _bad_lines():
            files["10m_flt"].insert(position, line)
    files["10m_flt"] += _scaled_lines(scale, seed=7, video_every=2 if scaled_videos else 0)
    files["full"] += _scaled_lines(scale, seed=8)
    for config, lines in files.items():
        (out_dir / CAPTION_FILES[config]).parent.mkdir(parents=True, exist_ok=True)
        _write_jsonl(out_dir / CAPTION_FILES[config], lines)
    _write_repository_files(out_dir)
    tree = SampleTree(out_dir, files, queries=_queries())
    (out_dir / QUERIES).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / QUERIES).write_bytes("\n".join(json.dumps(q, ensure_ascii=False) for q in tree.queries).encode())
    lines = [line for config in files for line in tree.lines(config)]
    _write_video2dataset(out_dir, lines, bad_records)
    _write_clip_files(out_dir, lines)
    (out_dir / "videos").mkdir(exist_ok=True)
    (out_dir / "videos" / f"{FULL_VIDEO_ID}.mp4").write_bytes(make_mp4(10.0, 0))
    (out_dir / UNFINISHED_DOWNLOAD).write_bytes(make_mp4(1.0, 9)[:300])
    if bad_records:  # an empty clip file for the portrait clip, which FLT and INFO list
        portraits = {config: [line for line in tree.lines(config) if line.youtube_id == "Gg7Ff6Ee5Dd"]
                     for config in ("10m_flt", "10m_flt_info")}
        portrait = portraits["10m_flt"][0]
        (out_dir / CLIP_FOLDER / f"{portrait.youtube_id}_{portrait.start_text}_{portrait.end_text}.mp4").write_bytes(b"")
        tree.bad_clip_rows = {f"clips_{config}": lines for config, lines in portraits.items()}
        tree.bad_samples = ["00000009"]
    return tree


def _write_repository_files(out_dir: Path) -> None:
    """What `hf download <repository> --local-dir <folder>` puts beside the caption files: the repository's
    other files (placeholders with the same names) and its download bookkeeping."""
    for folder, (repository, names) in REPOSITORIES.items():
        for name in names:
            content = {".gitattributes": b"*.jsonl filter=lfs diff=lfs merge=lfs -text\n",
                       "README.md": f"---\nlicense: cc-by-nc-sa-4.0\n---\n# {repository}\n".encode(),
                       "caption_fig.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"}[name]
            (out_dir / folder / name).write_bytes(content)
        bookkeeping = out_dir / folder / ".cache" / "huggingface"
        (bookkeeping / "download").mkdir(parents=True, exist_ok=True)
        (bookkeeping / ".gitignore").write_text("*\n")
        downloaded = [path for path in CAPTION_FILES.values() if Path(path).parent == Path(folder)]
        for name in [*names, *(Path(path).name for path in downloaded)]:
            (bookkeeping / "download" / f"{name}.metadata").write_text(
                "5ad1f2e0c3b4a59687d8e9f0a1b2c3d4e5f60718\n\"0123456789abcdef\"\n1717545600.0\n")


def _write_jsonl(path: Path, lines: list[Line | None]) -> None:
    """One JSON object per line; the release files have no final newline."""
    texts = []
    for number, line in enumerate(lines, 1):
        if line is not None:
            line.number = number
        texts.append("" if line is None else line.json_line())
    path.write_bytes("\n".join(texts).encode("utf-8"))


def _write_video2dataset(out_dir: Path, lines: list[Line], bad_records: bool) -> None:
    """The shards video2dataset writes for these lines' clips: stored ones, and one failed download."""
    shards: dict[str, dict[str, dict]] = {}        # shard (tar or folder) -> key -> sample
    for line in lines:
        if line.video.kind == "stored" and line.video.origin.startswith("video2dataset/"):
            key = line.video.path.rsplit(".", 1)[0]
            samples = shards.setdefault(line.video.origin, {})
            if key not in samples:  # a clip several subsets list was downloaded once, for its first line
                samples[key] = _sample(line, key, [[line.start_text, line.end_text]], "success", line.video.data,
                                       by_url=line.video.by_url)
    failed = [line for line in lines if line.video.kind == "failed"]
    spans = list(dict.fromkeys((line.start_text, line.end_text) for line in failed))  # the row's clips, once each
    shards[TAR]["00000001"] = _sample(failed[0], "00000001", [list(span) for span in spans], "failed_to_download",
                                      error="ERROR: [youtube]: Video unavailable")
    if bad_records:
        shards[TAR]["00000009"] = _sample(lines[0], "00000009", [["00:09:00.000", "00:09:01.000"]], "success")
    folder = out_dir / "video2dataset"
    folder.mkdir(exist_ok=True)
    for origin, samples in sorted(shards.items()):
        members = {}
        for key in sorted(samples):
            metadata, data = samples[key]
            if data is not None:
                members[f"{key}.mp4"] = data
            members[f"{key}.txt"] = metadata["caption"].encode("utf-8")
            members[f"{key}.json"] = json.dumps(metadata, indent=4).encode("utf-8")
        if origin.endswith(".tar"):
            _write_tar(out_dir / origin, members)
        else:  # output_format files: the same members in a folder
            (out_dir / origin).mkdir(parents=True, exist_ok=True)
            for name, data in members.items():
                (out_dir / origin / name).write_bytes(data)
        stem = Path(origin).name.removesuffix(".tar")
        _write_shard_tables(folder / f"{stem}.parquet", folder / f"{stem}_stats.json",
                            [samples[key][0] for key in sorted(samples)])


def _sample(line: Line, key: str, clips: list, status: str, data: bytes | None = None, error: str | None = None,
            by_url: bool = False) -> tuple[dict, bytes | None]:
    """(metadata as video2dataset writes it to <key>.json, the video bytes or None)."""
    later_clip = "_" in key and not key.endswith("_00000") and key.rsplit("_", 1)[1].isdigit()
    metadata = {"url": f"https://www.youtube.com/watch?v={line.youtube_id}", "caption": line.caption,
                "clips": clips, **({} if by_url else {"YoutubeID": line.youtube_id}), "UMT_Score": line.umt,
                "key": key, "status": status, "error_message": error,
                "yt_meta_dict": {} if later_clip else None}   # emptied for a row's second and later clips
    return metadata, data


def _write_tar(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _write_shard_tables(parquet: Path, stats: Path, samples: list[dict]) -> None:
    """The .parquet (input columns, key, status, error_message) and _stats.json video2dataset writes beside."""
    columns = ("YoutubeID", "UMT_Score", "clips", "caption", "url", "key", "status", "error_message")
    pq.write_table(pa.Table.from_pylist([{c: s.get(c) for c in columns} for s in samples]), parquet)
    statuses = [s["status"] for s in samples]
    stats.write_text(json.dumps({
        "count": len(samples), "successes": statuses.count("success"),
        "failed_to_download": statuses.count("failed_to_download"), "failed_to_subsample": 0,
        "duration": 12.5, "bytes_downloaded": 0, "start_time": 1700000000.0, "end_time": 1700000012.5,
        "status_dict": {status: statuses.count(status) for status in sorted(set(statuses))}}, indent=4))


def _write_clip_files(out_dir: Path, lines: list[Line]) -> None:
    """The clip files, and beside each clip folder OpenDataLab's caption list of its clips."""
    listed: dict[Path, dict[str, str]] = {}
    for line in lines:
        if line.video.kind == "stored" and line.video.origin.startswith("clips/"):
            (out_dir / line.video.origin).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / line.video.origin).write_bytes(line.video.data)
            folder = (out_dir / line.video.origin).parent
            listed.setdefault(folder, {}).setdefault(line.video.origin, line.json_line().rstrip("\r"))
    for folder, texts in listed.items():
        folder.with_name(f"{folder.name}.jsonl").write_text("\n".join(texts.values()) + "\n", encoding="utf-8")
