"""BigDocs: document images with OCR, parsing, captioning, QA and image-to-code targets.

Raw releases, downloaded from the Hub by hand (`hf download <repo> --repo-type dataset --local-dir RAW/<folder>`):

- BigDocs-7.5M (`ServiceNow/BigDocs-7.5M`, in RAW/BigDocs-7.5M): one folder per subset (`ArxivOCR/`,
  `cord-v2/`, ...) of Parquet files named `<split>-NNNNN-of-MMMMM.parquet`, splits `train`, `val`, `test`.
  A row carries its image (`image`) or an `img_id` naming an image of a third-party dataset (COCO,
  TextOCR, PubTables-1M, ...) that BigDocs does not redistribute: the user supplies their own copy under
  `RAW/sources/<source>/` and the builder joins it in, recording per row where the image came from.
- BigDocs-Bench (`ServiceNow/BigDocs-Bench`, or its mirror `BigDocs/BigDocs-Bench`, in RAW/BigDocs-Bench):
  one folder per task, same file naming. The two repositories hold different tasks and spell some
  folders differently (`Table2LaTex` / `Table2LaTeX`, `GUI-VQA` / `GUIVQA`, `Image2Flow_(GraphViz)` /
  `FlowChart2GraphViz`, ...): a task is one config whichever spelling the download has, and a download
  holding two spellings of one task is refused (they are two uploads of it).

No BigDocs column is documented first-party. Columns are recognised by name and type (the row's id, its
image or img_id, prompts and targets); every other column is carried through with its own type in a
field of its own, and a notice names it. Image bytes are copied verbatim: only their header and end
marker are checked.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Image, List, Value
from datasets.features.features import LargeList, generate_from_arrow_type

from .archives import MEDIA_MEMBER_LIMIT, ZipDirectory, kept_directory
from .core import ExcludeBy, MMConfig, MultimodalBuilder, RawPart
from .errors import RawDataError, RecordLog
from .fields import FieldDoc, documented
from .media.image import probe_image
from .outputs import SPLIT_ORDER
from .parquet import batch_reader

# ---- metadata --------------------------------------------------------------------------------------

RELEASE_75M = "BigDocs-7.5M"
RELEASE_BENCH = "BigDocs-Bench"
SOURCES_DIR = "sources"
SERVICENOW_BENCH = "ServiceNow/BigDocs-Bench"
MIRROR_BENCH = "BigDocs/BigDocs-Bench"

SPLIT_NAMES = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
SHARD_FILE = re.compile(r"(?P<split>[A-Za-z]+)-(?P<index>\d+)-of-(?P<count>\d+)\.parquet")

IMAGE_STATUSES = ["embedded", "joined", "missing_in_release", "not_in_source", "no_source_folder"]
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")


@dataclass(frozen=True)
class Subset:
    """A BigDocs-7.5M subset folder, and where the images of its img_id rows come from."""

    folder: str
    description: str
    source: str | None = None          # RAW/sources/<source>/ holds the user's copy of the original images
    image_dirs: tuple[str, ...] = (".",)  # folders inside that copy, searched in this order
    redistribution: str | None = None

    @property
    def config_name(self) -> str:
        return self.folder


@dataclass(frozen=True)
class BenchTask:
    """A BigDocs-Bench task: its name in the paper (the config is `bench-<name>`), and the folder that
    holds it in each repository (None: the repository has no such task at the revision named in the card)."""

    name: str
    description: str
    servicenow: str | None   # ServiceNow/BigDocs-Bench, main = d4100e5
    mirror: str | None       # BigDocs/BigDocs-Bench, main = 12ede45

    @property
    def config_name(self) -> str:
        return "bench-" + re.sub(r"[^A-Za-z0-9-]+", "_", self.name).strip("_")

    @property
    def folders(self) -> tuple[str, ...]:
        """Every spelling of the task's folder, ServiceNow's first."""
        return tuple(dict.fromkeys(f for f in (self.servicenow, self.mirror) if f))

    def repositories(self, folder: str) -> str:
        """Which repositories spell the task's folder so, for messages."""
        return " and ".join(repo for repo, name in ((SERVICENOW_BENCH, self.servicenow), (MIRROR_BENCH, self.mirror))
                            if name == folder)


JOINED_POLICY = "gated"  # joined images keep per-image (some non-commercial) or share-alike terms

SUBSETS = (
    Subset("ArxivOCR", "OCR of arXiv pages (the page image as PNG, and its text)."),
    Subset("ArxivTableCap", "Table captioning (an arXiv table image as PNG, and its caption)."),
    Subset("cord-v2", "Receipt parsing, CORD v2 (a receipt image as PNG, and its structured fields)."),
    Subset("COCOtext", "Text in natural images (COCO-Text); the photos are joined at build time from a local "
                       "COCO train2014.",
           source="COCO", image_dirs=("train2014", "."), redistribution=JOINED_POLICY),
    Subset("TextOCR", "Text in natural images (TextOCR); the photos are joined at build time from a local "
                      "TextOCR copy.",
           source="TextOCR", image_dirs=("train_images", "train", "."), redistribution=JOINED_POLICY),
    Subset("pubtables-1m", "Tables in PubMed Central pages (PubTables-1M); the page images are joined at build "
                           "time from a local PubTables-1M copy (Detection images preferred).",
           source="PubTables-1M", image_dirs=("PubTables-1M-Detection/images", "PubTables-1M-Structure/images",
                                              "images", ".")),
    Subset("TabFact", "Table fact verification (TabFact); images joined at build time from a local copy.",
           source="Table-Fact-Checking", redistribution=JOINED_POLICY),
    Subset("WikiTQ", "Table question answering (WikiTableQuestions); images joined at build time from a local copy.",
           source="WikiTableQuestions", redistribution=JOINED_POLICY),
    Subset("Open4Business", "Business documents (Open4Business); images joined at build time from a local copy.",
           source="Open4Business", redistribution=JOINED_POLICY),
)

# Folder names as the repositories' root file trees show them (ServiceNow/BigDocs-Bench main d4100e5,
# 7 tasks; BigDocs/BigDocs-Bench main 12ede45, 12 tasks). The paper's table has ten tasks; Text2SVG is
# in the mirror only.
BENCH_TASKS = (
    BenchTask("Screenshot2HTML", "Web page screenshot → its HTML code.", None, "Screenshot2HTML"),
    BenchTask("Table2LaTeX", "Table image → LaTeX code.", "Table2LaTex", "Table2LaTeX"),
    BenchTask("Image2SVG", "Raster image → SVG code.", None, "Image2SVG"),
    BenchTask("Text2SVG", "SVG code generation named after text (a task of the mirror only, not in the paper's "
                          "task table; what its inputs are is unverified).", None, "Text2SVG"),
    BenchTask("Image2Flow_(GraphViz)", "Flowchart image → GraphViz DOT code.", "Image2Flow_(GraphViz)",
              "FlowChart2GraphViz"),
    BenchTask("Image2Flow_(JSON)", "Flowchart image → JSON graph.", "Image2Flow_(JSON)", "FlowChart2JSON"),
    BenchTask("Chart2Markdown", "Chart image → Markdown table of its data.", None, "Chart2Markdown"),
    BenchTask("Chart2Caption", "Chart image → caption.", None, "Chart2Caption"),
    BenchTask("GUI2UserIntent", "GUI screenshot(s) → the user's intent.", "GUI2UserIntent", "GUI2UserIntent"),
    BenchTask("GUI2Summary", "GUI screenshot → summary of the screen.", "GUI2Summary", "GUI2Summary"),
    BenchTask("GUI-VQA", "Questions about a GUI screenshot.", "GUI-VQA", "GUIVQA"),
    BenchTask("GUI2BBox", "GUI screenshot and an element description → its bounding box.", "GUI2BBox", "GUI2BBox"),
)

# ---- features, with the docs the card's field table is made of --------------------------------------

EXTRA_FIELDS = (Value("string"), "Release columns that could not keep a type of their own (their type differs "
                                 "between files of this config, or has no `datasets` equivalent), as a JSON "
                                 "object with sorted keys; null when there are none. Nothing of the release is "
                                 "dropped.")
RELEASE_COLUMN_DOC = ("Release column `{source}`, carried through as released with its own type: this builder "
                      "does not recognise it{why} (BigDocs documents no column names, so its meaning is "
                      "unverified). In {files} of {total} files of this config; null in rows of the others.")

SUBSET_FIELDS = {
    "sample_id": (Value("string"), "The release's sample id, verbatim (it may contain dots); null when the "
                                   "file has no `sample_id` column."),
    "image": (Image(), "The document image: the release's bytes (PNG) or, for img_id rows, the file of the "
                       "local copy of the source dataset the build joined, byte for byte; `path` is the release's "
                       "path or the file's path inside that copy. Null unless `image_status` is embedded or joined."),
    "image_status": (ClassLabel(names=IMAGE_STATUSES),
                     "Where the image came from: embedded in the release; joined from RAW/sources/<source>/; "
                     "missing_in_release (the release row has no bytes, or its file has neither an image nor "
                     "an img_id column); not_in_source (the local source copy has no file for img_id); "
                     "no_source_folder (no source copy was supplied to the build)."),
    "img_id": (Value("string"), "For subsets distributed without images: the id of the image in the third-party "
                                "dataset, verbatim (with or without extension); null for embedded subsets."),
    "width": (Value("int32"), "Image width in pixels, from the image header (null without image)."),
    "height": (Value("int32"), "Image height in pixels, from the image header (null without image)."),
    "dataset_name": (Value("string"), "The release's `dataset_name` (null when the column is absent)."),
    "task_name": (Value("string"), "The release's `task_name` (null when the column is absent)."),
    "query": ([(Value("string"), "One prompt.")], "The prompts (`query`; a single string becomes a one-item list; "
                                                  "empty when the column is absent)."),
    "annotations": ([(Value("string"), "One target text.")],
                    "The target texts (`annotations`; a single string becomes a one-item list; empty when the "
                    "column is absent)."),
}

BENCH_FIELDS = {
    "identifier": (Value("string"), "The release's identifier, e.g. `GUI2UserIntent_train_0`; null when the file "
                                    "has no `identifier` column."),
    "images": ([Image()], "The input images, in release order, bytes verbatim (a row may have none or several; "
                          "empty when the file has no `images` column)."),
    "image_sizes": ([List(Value("int32"), length=2)], "[width, height] in pixels of each image, same order."),
    "queries": ([(Value("string"), "One prompt.")],
                "The prompts, as released (a single string becomes a one-item list)."),
    "annotations": ([(Value("string"), "One target (HTML, LaTeX, SVG, DOT, JSON, Markdown or text).")],
                    "The targets, as released; not aligned with `queries` by position, and empty where the "
                    "answers are withheld."),
    "task": (Value("string"), "The release's task name."),
    "source": (Value("string"), "The release's `source` value: where the row comes from."),
}


@dataclass(frozen=True)
class ReleaseSchema:
    """The release columns the builder recognises: output field → accepted column names (the documented
    one first) and the kind of value the column must hold to be read as that field."""

    columns: dict[str, tuple[str, ...]]
    kinds: dict[str, str]   # "text", "texts" (text or list of texts), "image", "images" (image or list of images)
    identifier: str


SUBSET_SCHEMA = ReleaseSchema(
    {"sample_id": ("sample_id",), "image": ("image",), "img_id": ("img_id",), "dataset_name": ("dataset_name",),
     "task_name": ("task_name",), "query": ("query", "queries"), "annotations": ("annotations", "annotation")},
    {"sample_id": "text", "image": "image", "img_id": "text", "dataset_name": "text", "task_name": "text",
     "query": "texts", "annotations": "texts"},
    identifier="sample_id")
BENCH_SCHEMA = ReleaseSchema(
    {"identifier": ("identifier",), "images": ("images", "image"), "queries": ("queries", "query"),
     "annotations": ("annotations", "annotation"), "task": ("task",), "source": ("source",)},
    {"identifier": "text", "images": "images", "queries": "texts", "annotations": "texts", "task": "text",
     "source": "text"},
    identifier="identifier")
KIND_NAMES = {"text": "text", "texts": "text or a list of texts", "image": "an image",
              "images": "an image or a list of images"}

# ---- configs ------------------------------------------------------------------------------------------

VERSION = datasets.Version("1.0.0")
SPECS: dict[str, Subset | BenchTask] = {**{s.config_name: s for s in SUBSETS},
                                        **{t.config_name: t for t in BENCH_TASKS}}
RAW_PARTS = {
    **{s.config_name: RawPart(f"{RELEASE_75M}/{s.folder}/<split>-NNNNN-of-MMMMM.parquet (ServiceNow/BigDocs-7.5M)")
       for s in SUBSETS},
    **{t.config_name: RawPart(" or ".join(f"{RELEASE_BENCH}/{folder}/<split>-NNNNN-of-MMMMM.parquet "
                                          f"({t.repositories(folder)})" for folder in t.folders))
       for t in BENCH_TASKS},
}
CONFIGS = [
    *(MMConfig(name=s.config_name, version=VERSION, fields=SUBSET_FIELDS, requires=(s.config_name,),
               redistribution=s.redistribution, description=f"BigDocs-7.5M {s.folder}: {s.description}")
      for s in SUBSETS),
    *(MMConfig(name=t.config_name, version=VERSION, fields=BENCH_FIELDS, requires=(t.config_name,),
               description=f"BigDocs-Bench {t.name}: {t.description} Folder: "
                           + "; ".join(f"`{f}/` in {t.repositories(f)}" for f in t.folders) + ".")
      for t in BENCH_TASKS),
]


@dataclass(frozen=True)
class ParquetShard:
    """One release Parquet file (path relative to the data directory) and its size, for the fingerprint."""

    file: str
    size: int


@dataclass(frozen=True)
class ReleaseColumn:
    """A release column the builder does not recognise, carried into an output field of its own."""

    source: str                 # the column's name in the release files
    field: str                  # its output field: the same name, or release_<name> when that is taken
    feature: Any                # its `datasets` feature; None: kept as JSON in extra_fields instead
    files: int                  # how many of the config's files have it
    why: str = ""               # why a column with a known name is not read as that field


@dataclass(frozen=True)
class ColumnPlan:
    """What planning learnt from every file's schema, for the shard jobs: one output schema for all files."""

    columns: tuple[ReleaseColumn, ...] = ()
    files: int = 0


class BigDocs(MultimodalBuilder):
    NAME = "bigdocs"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "ArxivOCR"
    EXCLUDABLE = {"sample_id": ExcludeBy("sample_id", "identifier"), "image_id": ExcludeBy("img_id")}
    NOT_READ = (
        ("README.md", "an upstream README (the Hub dataset card of BigDocs-7.5M or BigDocs-Bench): documentation, "
                      "not data; this build writes its own card"),
        ("get_bigdocs_75m.py", "ServiceNow's script that fills in the img_id images from local copies of the "
                               "source datasets: not run, this builder joins them itself from sources/<source>/"),
    )

    plan: ColumnPlan = ColumnPlan()   # set by split_shards, or adopted from the planner by a shard job

    @property
    def spec(self) -> Subset | BenchTask:
        return SPECS[self.config.name]

    @property
    def schema(self) -> ReleaseSchema:
        return BENCH_SCHEMA if isinstance(self.spec, BenchTask) else SUBSET_SCHEMA

    def locate_raw(self, data_dir: Path) -> dict:
        """Each subset / task folder holding Parquet files (every spelling found), and each source copy.

        The releases sit in RAW/BigDocs-7.5M and RAW/BigDocs-Bench, or directly in RAW (a Hub snapshot
        passed as --data-dir): subset and task folder names do not collide.
        """
        roots = {release: data_dir / release if (data_dir / release).is_dir() else data_dir
                 for release in (RELEASE_75M, RELEASE_BENCH)}
        found: dict[str, Any] = {"spellings": {}, "folders": {}}
        for subset in SUBSETS:
            found[subset.config_name] = _parquet_folder(roots[RELEASE_75M] / subset.folder)
            found["folders"][subset.config_name] = [f for f in [roots[RELEASE_75M] / subset.folder] if f.is_dir()]
            if subset.source:
                folder = data_dir / SOURCES_DIR / subset.source
                found[f"{SOURCES_DIR}/{subset.source}"] = folder if folder.is_dir() else None
        for task in BENCH_TASKS:
            present = [folder for name in task.folders if (folder := _parquet_folder(roots[RELEASE_BENCH] / name))]
            found[task.config_name] = present[0] if present else None
            found["spellings"][task.config_name] = present
            found["folders"][task.config_name] = [f for name in task.folders
                                                  if (f := roots[RELEASE_BENCH] / name).is_dir()]
        return found

    def source_folder(self) -> Path | None:
        source = getattr(self.spec, "source", None)
        return self.raw.get(f"{SOURCES_DIR}/{source}") if source else None

    def input_files(self) -> list[Path]:
        return [p for p in (self.raw[self.config.name], self.source_folder()) if p is not None]

    def read_paths(self) -> list[Path]:
        """The config's release files, and the parts of its source copy that img_ids are looked up in.

        A config that cannot be built (no Parquet files, two spellings of its task, a partial download)
        names its folders whole, so that the build's list of unread paths says whose they are.
        """
        folder = self.raw[self.config.name]
        if folder is None or len(self.raw["spellings"].get(self.config.name, [])) > 1:
            return [*self.raw["folders"][self.config.name], *self.source_paths()]
        try:
            files = [path for paths in list_split_files(folder).values() for path in paths]
        except RawDataError:
            files = [folder]
        return [*files, *self.source_paths()]

    def source_paths(self) -> list[Path]:
        """Where img_ids are looked up: the source copy's image folders, and the files at its top (loose
        images when "." is searched, and the .zip archives, whose members are looked up by the same names)."""
        root = self.source_folder()
        if root is None:
            return []
        image_dirs = getattr(self.spec, "image_dirs", ())
        paths = [root / d for d in image_dirs if d != "." and (root / d).is_dir()]
        paths += sorted(p for p in root.iterdir() if p.is_file() and ("." in image_dirs or p.suffix == ".zip"))
        return paths

    # ---- shard listing: one shard job per release file ------------------------------------------------

    def task_folder(self, log: RecordLog) -> Path:
        """The config's folder; for a Bench task, the one spelling present (two are refused)."""
        present = self.raw["spellings"].get(self.config.name, [])
        if len(present) > 1:
            task = self.spec
            listed = "; ".join(f"{self.relative(f)}/ ({_count(len(list(f.rglob('*.parquet'))), 'Parquet file')}, "
                               f"the folder name of {task.repositories(f.name)})" for f in present)
            raise RawDataError(present[0].parent, f"task {task.name} is there twice: {listed}",
                               hint="they are two uploads of the task (ServiceNow/BigDocs-Bench held GUI-VQA/ and "
                                    "GUIVQA/ side by side at revision cabc2a1): building both would repeat its "
                                    "rows and picking one would choose a version for you. Move the one you do "
                                    "not want out of the data directory")
        folder = self.raw[self.config.name]
        if isinstance(self.spec, BenchTask) and len(self.spec.folders) > 1:
            log.notice(f"task folder read: {self.relative(folder)}/, the folder name of "
                       f"{self.spec.repositories(folder.name)}")
        return folder

    def split_shards(self, log: RecordLog) -> dict[str, list[ParquetShard]]:
        splits = list_split_files(self.task_folder(log))
        schemas = [read_schema(p) for files in splits.values() for p in files]
        self.plan, notices = plan_columns(schemas, self.schema, taken={*self.config.fields, "extra_fields"})
        for notice in notices:
            log.notice(notice)
        self.info.features = self.documented_features()[0]
        return {split: [ParquetShard(self.relative(p), p.stat().st_size) for p in files]
                for split, files in splits.items()}

    def shared_state(self) -> ColumnPlan:
        return self.plan

    def adopt_shared_state(self, state: ColumnPlan) -> None:
        self.plan = state
        self.info.features = self.documented_features()[0]

    def documented_features(self) -> tuple[datasets.Features, list[FieldDoc]]:
        """The recognised fields, then one field per release column the files have beyond them, then
        extra_fields: the same schema for every file of the config, whichever columns each file has."""
        kept = {c.field: (_documented_spec(c.feature, c.field),
                          RELEASE_COLUMN_DOC.format(source=c.source, why=c.why, files=c.files, total=self.plan.files))
                for c in self.plan.columns if c.feature is not None}
        return documented({**self.config.fields, **kept, "extra_fields": EXTRA_FIELDS})

    # ---- rows ------------------------------------------------------------------------------------------

    def shard_rows(self, shard: ParquetShard, log: RecordLog) -> Iterator[dict]:
        path = self.data_dir / shard.file
        columns = recognise_columns(read_schema(path), self.schema)
        kept = {c.source: c for c in self.plan.columns}
        bench = self.schema is BENCH_SCHEMA
        identifier = columns.fields.get(self.schema.identifier)

        def row_of(record: dict, sources: SourceImages) -> dict:
            row = bench_row(record, columns.fields) if bench else subset_row(record, columns.fields, sources)
            row.update(release_values(record, columns.others, kept))
            return row

        with SourceImages(self.source_folder(), getattr(self.spec, "image_dirs", ())) as sources:
            for number, record in read_records(path):
                row = log.convert(path, record_name(record.get(identifier), number), row_of, record, sources)
                if row is None:
                    continue
                if not bench:  # how many rows lack their image, and why, belongs in the card
                    log.count(f"image_status {IMAGE_STATUSES[row['image_status']]}")
                yield row


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# ---- raw files ----------------------------------------------------------------------------------------------

def _parquet_folder(folder: Path) -> Path | None:
    """The folder when it holds release Parquet files (directly or in <split>/ folders), else None."""
    if folder.is_dir() and (any(folder.glob("*.parquet")) or any(folder.glob("*/*.parquet"))):
        return folder
    return None


def list_split_files(folder: Path) -> dict[str, list[Path]]:
    """Split → its Parquet files in shard order; refuses unknown split names and incomplete shard sets.

    Files are `<split>-NNNNN-of-MMMMM.parquet` (the Hub upload) or `<split>/<name>.parquet` (the Hub's
    parquet-converter layout). A shard set with a missing file is a partial download: building it would
    silently lose its rows, so it is refused with the names of the missing files.
    """
    numbered: dict[str, list[tuple[int, int, Path]]] = {}
    plain: dict[str, list[Path]] = {}
    candidates = [p for p in [*folder.glob("*.parquet"), *folder.glob("*/*.parquet")]
                  if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    for path in sorted(candidates):
        match = SHARD_FILE.fullmatch(path.name) if path.parent == folder else None
        if match:
            raw_split = match["split"]
        elif path.parent != folder:
            raw_split = path.parent.name
        else:
            raise RawDataError(path, "cannot tell which split this file belongs to",
                               hint="release files are named <split>-NNNNN-of-MMMMM.parquet (or sit in a "
                                    "train/, val/ or test/ folder)")
        split = SPLIT_NAMES.get(raw_split.lower())
        if split is None:
            raise RawDataError(path, f"unknown split {raw_split!r}", hint="BigDocs splits are train, val and test")
        if match:
            numbered.setdefault(split, []).append((int(match["index"]), int(match["count"]), path))
        else:
            plain.setdefault(split, []).append(path)
    result = {}
    for split in SPLIT_ORDER:
        files = plain.get(split, [])
        if split in numbered:
            files = _complete_shard_set(split, numbered[split], folder) + files
        if files:
            result[split] = files
    return result


def _complete_shard_set(split: str, shards: list[tuple[int, int, Path]], folder: Path) -> list[Path]:
    counts = sorted({count for _, count, _ in shards})
    if len(counts) > 1:
        uploads = "; ".join(f"-of-{count:05d}: " + ", ".join(sorted(p.name for _, c, p in shards if c == count)[:3])
                            for count in counts)
        raise RawDataError(folder, f"split {split}: files from different uploads mixed ({uploads})",
                           hint="keep the files of one release revision only; download the folder again")
    present = {index for index, _, _ in shards}
    stem = shards[0][2].name.split("-", 1)[0]
    missing = [f"{stem}-{i:05d}-of-{counts[0]:05d}.parquet" for i in range(counts[0]) if i not in present]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise RawDataError(folder, f"split {split} is incomplete: {len(missing)} of {counts[0]} files missing "
                                   f"({shown})", hint="a partial download; fetch the missing files again")
    return [path for _, _, path in sorted(shards)]


def read_schema(path: Path) -> pa.Schema:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"not a readable Parquet file ({e})",
                           hint="the file is corrupt or truncated; download it again") from None
    repeated = sorted({name for name in schema.names if schema.names.count(name) > 1})
    if repeated:
        raise RawDataError(path, f"the file has several columns named {', '.join(repeated)}",
                           hint="a Parquet file with repeated column names cannot be read by name; "
                                "download it again")
    return schema


def read_records(path: Path, batch_size: int = 64) -> Iterator[tuple[int, dict]]:
    """(0-based row number, row as a dict) for every row, streamed by batches (files reach ~500 MB)."""
    number = 0
    try:
        for batch in batch_reader(path).iter_batches(batch_size=batch_size):
            for record in batch.to_pylist():
                yield number, record
                number += 1
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"the Parquet file is corrupt after row {number} ({e})",
                           hint="download the file again") from None


def record_name(identifier, number: int) -> str:
    """How skipped records are listed: the 0-based row number in its file, and its id when it has one."""
    return f"row {number}" + (f" ({identifier})" if identifier else "")


# ---- columns: the recognised ones, and one schema for the others --------------------------------------------

@dataclass(frozen=True)
class FileColumns:
    """How one release file's columns are read."""

    fields: dict[str, str]        # output field → the column that holds it
    misfits: dict[str, str]       # column with a field's name but another kind of value → that field
    others: tuple[str, ...]       # every column not read as a field, in file order


def fits(kind: str, data_type: pa.DataType) -> bool:
    """Whether a column of this Arrow type holds values of this kind (an all-null column holds any)."""
    if pa.types.is_null(data_type):
        return True
    if pa.types.is_dictionary(data_type):
        return fits(kind, data_type.value_type)
    listed = pa.types.is_list(data_type) or pa.types.is_large_list(data_type)
    if kind == "text":
        return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)
    if kind == "texts":
        return fits("text", data_type) or (listed and fits("text", data_type.value_type))
    if kind == "image":
        if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
            return True
        return (pa.types.is_struct(data_type) and data_type.get_field_index("bytes") >= 0
                and fits("image", data_type.field("bytes").type)
                and not pa.types.is_null(data_type.field("bytes").type))
    if kind == "images":
        return fits("image", data_type) or (listed and fits("image", data_type.value_type))
    raise ValueError(kind)


def recognise_columns(schema: pa.Schema, release: ReleaseSchema) -> FileColumns:
    """Each recognised field's column: the first accepted name present whose values are of the field's kind.
    A column with an accepted name but other values (a `query` of numbers) is not read as that field: it is
    kept as released, like any column this builder does not know."""
    fields, misfits = {}, {}
    for field, names in release.columns.items():
        for name in names:
            if name not in schema.names or name in fields.values():
                continue
            data_type = schema.field(name).type
            if fits(release.kinds[field], data_type):
                fields[field] = name
                break
            misfits[name] = field
    others = tuple(name for name in schema.names if name not in fields.values())
    return FileColumns(fields, misfits, others)


def column_features(schema: pa.Schema) -> dict[str, Any]:
    """Each column's `datasets` feature: the one the file's `huggingface` metadata declares when it matches the
    column's Arrow type (an Image stays an Image), else the Arrow type's own; None when there is none."""
    declared: dict = {}
    if schema.metadata and b"huggingface" in schema.metadata:
        try:
            info = json.loads(schema.metadata[b"huggingface"]).get("info") or {}
            declared = datasets.Features.from_dict(info.get("features") or {})
        except (ValueError, TypeError, KeyError, AttributeError):
            declared = {}  # unreadable metadata: the Arrow types alone say what the columns are
    features = {}
    for field in schema:
        data_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        feature = declared.get(field.name)
        try:
            if feature is None or datasets.Features({field.name: feature}).arrow_schema.field(0).type != data_type:
                feature = generate_from_arrow_type(data_type)
            datasets.Features({field.name: feature}).arrow_schema  # noqa: B018 (a feature must give a schema)
        except (ValueError, TypeError, NotImplementedError):
            feature = None
        features[field.name] = feature
    return features


def merge_features(first, second):
    """One feature for a column two files type as `first` and `second`, or None when there is none (an
    all-null column takes the other's type; Arrow widens what it can, int32 and int64 say)."""
    if first is None or second is None:
        return None
    if first == second:
        return first
    if first == Value("null"):
        return second
    if second == Value("null"):
        return first
    storage = [datasets.Features({"c": f}).arrow_schema.field("c").type for f in (first, second)]
    if storage[0] == storage[1]:  # one file declares what the other stores plainly (an Image, a struct of bytes)
        return second if first == generate_from_arrow_type(storage[0]) else first
    if isinstance(first, (List, LargeList)) and type(first) is type(second) \
            and getattr(first, "length", -1) == getattr(second, "length", -1):
        inner = merge_features(first.feature, second.feature)
        if inner is None:
            return None
        return List(inner, length=first.length) if isinstance(first, List) else LargeList(inner)
    if isinstance(first, dict) and isinstance(second, dict) and list(first) == list(second):
        merged = {name: merge_features(first[name], second[name]) for name in first}
        return None if any(f is None for f in merged.values()) else merged
    try:
        types = [datasets.Features({"c": f}).arrow_schema for f in (first, second)]
        return generate_from_arrow_type(pa.unify_schemas(types, promote_options="permissive").field("c").type)
    except (pa.ArrowException, ValueError, TypeError):
        return None


def plan_columns(schemas: list[pa.Schema], release: ReleaseSchema, taken: set[str]) -> tuple[ColumnPlan, list[str]]:
    """One output schema for all of a config's files, and the notices that say what it holds.

    A column the builder does not recognise gets a field of its own, with the type it has in the files;
    a file without it gives nulls there, so the schema is the same whichever files a shard job reads.
    Its field is named after it, or `release_<name>` when the name is one of the builder's own fields.
    A column whose files disagree on its type (a string here, a number there), or whose type has no
    `datasets` equivalent, goes to extra_fields as JSON instead. Columns keep the order in which the
    files (split by split, shard by shard) first show them.
    """
    features: dict[str, Any] = {}
    files: dict[str, int] = {}
    types: dict[str, list[str]] = {}
    why: dict[str, str] = {}
    absent = {field: 0 for field in release.columns}
    for schema in schemas:
        columns = recognise_columns(schema, release)
        for field in release.columns:  # a column of the field's name but of another type is said once, below
            absent[field] += field not in columns.fields and field not in columns.misfits.values()
        by_column = column_features(schema)
        for name in columns.others:
            feature = by_column[name]
            if name in files:
                features[name] = merge_features(features[name], feature)
            else:
                features[name] = feature
                files[name], types[name] = 0, []
            files[name] += 1
            type_name = str(schema.field(name).type)
            if type_name not in types[name]:
                types[name].append(type_name)
            if name in columns.misfits:
                field = columns.misfits[name]
                why.setdefault(name, f" as `{field}`: its type is {schema.field(name).type}, not "
                                     f"{KIND_NAMES[release.kinds[field]]}")
    used = set(taken)
    kept = []
    for name in files:
        field = name
        while field in used:
            field = f"release_{field}"
        used.add(field)
        kept.append(ReleaseColumn(name, field, features[name], files[name], why.get(name, "")))
    plan = ColumnPlan(tuple(kept), len(schemas))

    notices = []
    typed = [c for c in kept if c.feature is not None and not c.why]
    if typed:
        notices.append(f"{_count(len(typed), 'column')} not recognised, kept as released, each in a field of its "
                       "own type: " + "; ".join(
                           f"`{c.source}` ({'/'.join(types[c.source])}, {c.files} of {len(schemas)} files"
                           + (f", as `{c.field}`" if c.field != c.source else "") + ")" for c in typed)
                       + (" (null in rows of files without it)" if any(c.files < len(schemas) for c in typed) else ""))
    for column in kept:
        if column.why:
            notices.append(f"column `{column.source}` is not read{column.why}; it is kept as released"
                           + (f" in `{column.field}`" if column.feature is not None else " in extra_fields"))
        if column.feature is None:
            notices.append(f"column `{column.source}` is kept as JSON text in extra_fields: "
                           + (f"its type differs between files ({', '.join(types[column.source])})"
                              if len(types[column.source]) > 1
                              else f"its type {types[column.source][0]} has no `datasets` equivalent"))
    without_image = sum(not {"image", "img_id"} & set(recognise_columns(schema, release).fields)
                        for schema in schemas) if "img_id" in release.columns else 0
    if without_image:
        notices.append(f"neither an `image` nor an `img_id` column in {without_image} of {len(schemas)} files: "
                       "those rows have no image (status missing_in_release)")
    consequences = {release.identifier: "those rows have no id (reports name them by row number)",
                    "images": "those rows have no images"}
    for field, count in absent.items():
        if count and field not in ("image", "img_id"):
            empty = f"`{field}` is {'empty' if release.kinds[field] == 'texts' else 'null'} there"
            notices.append(f"no `{release.columns[field][0]}` column (of {KIND_NAMES[release.kinds[field]]}) in "
                           f"{count} of {len(schemas)} files: " + consequences.get(field, empty))
    return plan, notices


def _documented_spec(feature, path: str):
    """A feature as the documented spec `builders.fields` takes: a struct's members get a doc each."""
    if isinstance(feature, dict):
        return {name: (_documented_spec(member, f"{path}.{name}"), f"`{name}` of `{path}`, as released.")
                for name, member in feature.items()}
    return feature


def release_values(record: dict, others: tuple[str, ...], kept: dict[str, ReleaseColumn]) -> dict:
    """The row's values of the release columns the builder does not recognise: each in its own field, or
    (when the files disagree on its type) in extra_fields. Fields of columns this file lacks stay null."""
    present = set(others)  # a column another file does not read as a field may be this file's recognised one
    values = {column.field: record.get(column.source) if column.source in present else None
              for column in kept.values() if column.feature is not None}
    extra = {name: record[name] for name in others if name not in kept or kept[name].feature is None}
    values["extra_fields"] = json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str) if extra else None
    return values


class SourceImages:
    """The user's copy of a third-party dataset: folders and .zip archives under RAW/sources/<source>/.

    An img_id is looked up in the source's image folders in order of preference, as given and with each
    image suffix appended; loose files come before archive members. Lookups are direct (no index of the
    copy is built), so a job touches only the files its rows name.
    """

    def __init__(self, root: Path | None, image_dirs: tuple[str, ...]):
        self.root, self.image_dirs = root, image_dirs
        self.archives: list[ZipDirectory] = []

    def __enter__(self):
        for path in sorted(self.root.glob("*.zip")) if self.root else []:
            try:
                self.archives.append(kept_directory(path))
            except (zipfile.BadZipFile, OSError) as e:
                raise RawDataError(path, f"not a readable zip archive ({e})",
                                   hint="download the source archive again, or extract it here") from None
        return self

    def __exit__(self, *exc):
        pass  # the archives stay open for the process's next shard job (kept_directory)

    @property
    def present(self) -> bool:
        return self.root is not None

    def find(self, img_id: str) -> tuple[str, bytes, Path] | None:
        """(path inside the source copy, bytes, file to name in errors) for img_id, or None."""
        names = [img_id] if img_id.lower().endswith(IMAGE_SUFFIXES) else [img_id + s for s in IMAGE_SUFFIXES]
        candidates = [str(PurePosixPath(folder, name)) for folder in self.image_dirs for name in names]
        for candidate in candidates:
            file = self.root / candidate
            if file.is_file():
                return candidate, file.read_bytes(), file
        for archive in self.archives:
            for candidate in candidates:
                found = archive.find(candidate)
                if found is not None:
                    where = f"{archive.path}:{candidate}"
                    try:
                        return candidate, archive.read(found, MEDIA_MEMBER_LIMIT, where), Path(where)
                    except (zipfile.BadZipFile, OSError, EOFError) as e:
                        raise RawDataError(where, f"corrupt archive member ({e})",
                                           hint="download the source archive again") from None
        return None


# ---- pure parsing functions ---------------------------------------------------------------------------------

def subset_row(record: dict, columns: dict[str, str], sources: SourceImages) -> dict:
    """A BigDocs-7.5M row's recognised fields: the image embedded or joined by img_id, with its status."""
    sample_id = required_text(record, columns["sample_id"]) if "sample_id" in columns else None
    embedded = image_cell(record.get(columns["image"])) if "image" in columns else None
    img_id = optional_text(record, columns.get("img_id"))
    image, size = None, None
    if embedded is not None:
        status = "embedded"
        size = inspect_image(embedded["bytes"])
        image = embedded
    elif img_id is not None:
        check_img_id(img_id)
        found = sources.find(img_id) if sources.present else None
        status = "joined" if found else "not_in_source" if sources.present else "no_source_folder"
        if found:
            name, data, file = found
            size = inspect_image(data, file)
            image = {"bytes": data, "path": name}
    elif "image" in columns or "img_id" not in columns:
        status = "missing_in_release"
    else:
        raise RawDataError(None, "the row has no img_id", hint="rows of this subset name their image in img_id")
    return {
        "sample_id": sample_id, "image": image, "image_status": IMAGE_STATUSES.index(status), "img_id": img_id,
        "width": size[0] if size else None, "height": size[1] if size else None,
        "dataset_name": optional_text(record, columns.get("dataset_name")),
        "task_name": optional_text(record, columns.get("task_name")),
        "query": text_list(record, columns.get("query")),
        "annotations": text_list(record, columns.get("annotations")),
    }


def bench_row(record: dict, columns: dict[str, str]) -> dict:
    """A BigDocs-Bench row's recognised fields: every image embedded (a missing or broken one rejects the row)."""
    identifier = required_text(record, columns["identifier"]) if "identifier" in columns else None
    cell = record.get(columns["images"]) if "images" in columns else None
    cells = cell if isinstance(cell, list) else [] if cell is None else [cell]
    images, sizes = [], []
    for position, item in enumerate(cells):
        image = image_cell(item)
        if image is None:
            raise RawDataError(None, f"image {position} of the row has no bytes",
                               hint="every BigDocs-Bench image is embedded; the file is damaged, download it again")
        sizes.append(list(inspect_image(image["bytes"], what=f"image {position}")))
        images.append(image)
    return {
        "identifier": identifier, "images": images, "image_sizes": sizes,
        "queries": text_list(record, columns.get("queries")),
        "annotations": text_list(record, columns.get("annotations")),
        "task": optional_text(record, columns.get("task")), "source": optional_text(record, columns.get("source")),
    }


def image_cell(cell) -> dict | None:
    """{"bytes", "path"} from a release image cell (an Image struct, or plain bytes); None without bytes."""
    if isinstance(cell, dict):
        return {"bytes": cell["bytes"], "path": cell.get("path")} if cell.get("bytes") else None
    if isinstance(cell, (bytes, bytearray)) and cell:
        return {"bytes": bytes(cell), "path": None}
    if cell is None or cell == b"":
        return None
    raise RawDataError(None, f"the image cell holds a {type(cell).__name__}, expected image bytes",
                       hint="image columns are structs {bytes, path}")


def inspect_image(data: bytes, file: Path | None = None, what: str = "the image") -> tuple[int, int]:
    """(width, height) from the header, refusing bytes that are no image or lack their end marker.

    Truncation is detected by the missing end marker rather than by decoding, which would cost more
    than the rest of the build.
    """
    where = file.name if file else what
    hint = "replace the file with the original" if file else "the release file is damaged; download it again"
    image = probe_image(data)
    if image.unreadable:
        raise RawDataError(file, f"{where} is not a readable image ({image.unreadable})", hint=hint)
    if image.truncated:
        raise RawDataError(file, f"{where} is a truncated {image.format} (no end marker)", hint=hint)
    return image.size


def check_img_id(img_id: str) -> None:
    """An img_id names a file inside the source copy; it must not lead out of it."""
    path = PurePosixPath(img_id.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not img_id.strip():
        raise RawDataError(None, f"img_id {img_id!r} is not a file name inside the source dataset",
                           hint="img_id values are image file names such as COCO_train2014_000000270070.jpg")


def required_text(record: dict, column: str) -> str:
    value = record.get(column)
    if not isinstance(value, str) or not value.strip():
        raise RawDataError(None, f"{column} is {'missing' if value is None else repr(value)}",
                           hint=f"every row needs a non-empty {column}")
    return value


def optional_text(record: dict, column: str | None) -> str | None:
    value = record.get(column) if column else None
    if value is not None and not isinstance(value, str):
        raise RawDataError(None, f"{column} holds a {type(value).__name__}, expected text")
    return value


def text_list(record: dict, column: str | None) -> list[str]:
    """A text column as a list: lists are kept as released, a single string becomes a one-item list."""
    value = record.get(column) if column else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(item is None or isinstance(item, str) for item in value):
        return value
    raise RawDataError(None, f"{column} holds {type(value).__name__} values, expected text or a list of texts")
