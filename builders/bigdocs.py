"""BigDocs: document images with OCR, parsing, captioning, QA and image-to-code targets.

Raw release (downloaded from the Hub by hand, e.g. `hf download ServiceNow/BigDocs-7.5M --repo-type dataset
--local-dir RAW/BigDocs-7.5M`):

- BigDocs-7.5M: one folder per subset (`ArxivOCR/`, `cord-v2/`, `COCOtext/`, ...) of Parquet files named
  `<split>-NNNNN-of-MMMMM.parquet`, splits `train`, `val`, `test`. Rows carry a `sample_id`, the task text
  (`query`, `annotations`) and either the image itself (`image`, a `datasets` Image struct of PNG bytes)
  or an `img_id` naming an image of a third-party dataset (COCO, TextOCR, PubTables-1M, ...) that BigDocs
  does not redistribute: the user supplies their own copy under `RAW/sources/<source>/` and the builder
  joins it in, recording per row whether the image was embedded, joined or is missing.
- BigDocs-Bench: one folder per task (`Screenshot2HTML/`, `GUI2UserIntent/`, ...), same file naming; rows
  carry an `identifier`, a list of embedded `images`, `queries`, `annotations`, `task` and `source`.

Columns are read by name; text columns may be a string or a list of strings, unknown columns are kept
as JSON. Image bytes are copied verbatim, only their header and end marker are checked.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import datasets
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Image, List, Value

from .archives import MEDIA_MEMBER_LIMIT, read_zip_member
from .core import MMConfig, MultimodalBuilder, RawPart
from .errors import RawDataError, RecordLog
from .media import image_truncated

# ---- metadata --------------------------------------------------------------------------------------

RELEASE_75M = "BigDocs-7.5M"
RELEASE_BENCH = "BigDocs-Bench"
SOURCES_DIR = "sources"

SPLIT_NAMES = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
SPLIT_ORDER = ("train", "validation", "test")
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


@dataclass(frozen=True)
class BenchTask:
    """A BigDocs-Bench task folder (the first name is the current one, the others older spellings)."""

    folders: tuple[str, ...]
    description: str

    @property
    def config_name(self) -> str:
        return "bench-" + re.sub(r"[^A-Za-z0-9-]+", "_", self.folders[0]).strip("_")


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

BENCH_TASKS = (
    BenchTask(("Screenshot2HTML",), "Web page screenshot → its HTML code."),
    BenchTask(("Table2LaTeX",), "Table image → LaTeX code."),
    BenchTask(("Image2SVG",), "Raster image → SVG code."),
    BenchTask(("Image2Flow_(GraphViz)", "FlowChart2GraphViz"), "Flowchart image → GraphViz DOT code."),
    BenchTask(("Image2Flow_(JSON)", "FlowChart2JSON"), "Flowchart image → JSON graph."),
    BenchTask(("Chart2Markdown",), "Chart image → Markdown table of its data."),
    BenchTask(("Chart2Caption",), "Chart image → caption."),
    BenchTask(("GUI2UserIntent",), "GUI screenshot(s) → the user's intent."),
    BenchTask(("GUI2Summary",), "GUI screenshot → summary of the screen."),
    BenchTask(("GUI-VQA",), "Questions about a GUI screenshot."),
    BenchTask(("GUI2BBox",), "GUI screenshot and an element description → its bounding box."),
)

# ---- features, with the docs the card's field table is made of --------------------------------------

EXTRA_FIELDS = (Value("string"), "Release columns this builder does not know, as a JSON object with sorted keys "
                                 "(null when there are none); nothing of the release is dropped.")

SUBSET_FIELDS = {
    "sample_id": (Value("string"), "The release's sample id, verbatim (it may contain dots)."),
    "image": (Image(), "The document image: the release's bytes (PNG) or, for img_id rows, the file of the "
                       "local copy of the source dataset the build joined, byte for byte; `path` is the release's "
                       "path or the file's path inside that copy. Null unless `image_status` is embedded or joined."),
    "image_status": (ClassLabel(names=IMAGE_STATUSES),
                     "Where the image came from: embedded in the release; joined from RAW/sources/<source>/; "
                     "missing_in_release (the release row has no bytes); not_in_source (the local source copy has "
                     "no file for img_id); no_source_folder (no source copy was supplied to the build)."),
    "img_id": (Value("string"), "For subsets distributed without images: the id of the image in the third-party "
                                "dataset, verbatim (with or without extension); null for embedded subsets."),
    "width": (Value("int32"), "Image width in pixels, from the image header (null without image)."),
    "height": (Value("int32"), "Image height in pixels, from the image header (null without image)."),
    "dataset_name": (Value("string"), "The release's `dataset_name` (null when the column is absent)."),
    "task_name": (Value("string"), "The release's `task_name` (null when the column is absent)."),
    "query": ([(Value("string"), "One prompt.")], "The prompts (`query`; a single string becomes a one-item list)."),
    "annotations": ([(Value("string"), "One target text.")],
                    "The target texts (`annotations`; a single string becomes a one-item list)."),
    "extra_fields": EXTRA_FIELDS,
}

BENCH_FIELDS = {
    "identifier": (Value("string"), "The release's identifier, e.g. `GUI2UserIntent_train_0`."),
    "images": ([Image()], "The input images, in release order, bytes verbatim (a row may have none or several)."),
    "image_sizes": ([List(Value("int32"), length=2)], "[width, height] in pixels of each image, same order."),
    "queries": ([(Value("string"), "One prompt.")],
                "The prompts, as released (a single string becomes a one-item list)."),
    "annotations": ([(Value("string"), "One target (HTML, LaTeX, SVG, DOT, JSON, Markdown or text).")],
                    "The targets, as released; not aligned with `queries` by position, and empty where the "
                    "answers are withheld."),
    "task": (Value("string"), "The release's task name."),
    "source": (Value("string"), "The release's `source` value: where the row comes from."),
    "extra_fields": EXTRA_FIELDS,
}


@dataclass(frozen=True)
class Schema:
    """Release column names per output field (variant spellings after the current one), and the fields a
    file must have: at least one field of each required group."""

    columns: dict[str, tuple[str, ...]]
    required: tuple[tuple[str, ...], ...]

    @property
    def identifier(self) -> str:
        return self.required[0][0]


SUBSET_SCHEMA = Schema(
    {"sample_id": ("sample_id",), "image": ("image",), "img_id": ("img_id",), "dataset_name": ("dataset_name",),
     "task_name": ("task_name",), "query": ("query", "queries"), "annotations": ("annotations", "annotation")},
    required=(("sample_id",), ("image", "img_id"), ("query", "annotations")))
BENCH_SCHEMA = Schema(
    {"identifier": ("identifier",), "images": ("images", "image"), "queries": ("queries", "query"),
     "annotations": ("annotations", "annotation"), "task": ("task",), "source": ("source",)},
    required=(("identifier",), ("images",), ("queries", "annotations")))

# ---- configs ------------------------------------------------------------------------------------------

VERSION = datasets.Version("1.0.0")
SPECS: dict[str, Subset | BenchTask] = {**{s.folder: s for s in SUBSETS}, **{t.config_name: t for t in BENCH_TASKS}}
RAW_PARTS = {
    **{s.folder: RawPart(f"{RELEASE_75M}/{s.folder}/<split>-NNNNN-of-MMMMM.parquet (ServiceNow/BigDocs-7.5M)")
       for s in SUBSETS},
    **{t.config_name: RawPart(f"{RELEASE_BENCH}/{t.folders[0]}/<split>-NNNNN-of-MMMMM.parquet "
                              f"(ServiceNow/BigDocs-Bench)") for t in BENCH_TASKS},
}
CONFIGS = [
    *(MMConfig(name=s.folder, version=VERSION, fields=SUBSET_FIELDS, requires=(s.folder,),
               redistribution=s.redistribution, description=f"BigDocs-7.5M {s.folder}: {s.description}")
      for s in SUBSETS),
    *(MMConfig(name=t.config_name, version=VERSION, fields=BENCH_FIELDS, requires=(t.config_name,),
               description=f"BigDocs-Bench {t.folders[0]}: {t.description}") for t in BENCH_TASKS),
]


@dataclass(frozen=True)
class ParquetShard:
    """One release Parquet file (path relative to the data directory) and its size, for the fingerprint."""

    file: str
    size: int


class BigDocs(MultimodalBuilder):
    NAME = "bigdocs"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "ArxivOCR"

    @property
    def spec(self) -> Subset | BenchTask:
        return SPECS[self.config.name]

    @property
    def schema(self) -> Schema:
        return BENCH_SCHEMA if isinstance(self.spec, BenchTask) else SUBSET_SCHEMA

    def locate_raw(self, data_dir: Path) -> dict:
        """Each subset / task folder holding Parquet files, and each source copy under sources/.

        The releases sit in RAW/BigDocs-7.5M and RAW/BigDocs-Bench, or directly in RAW (a Hub snapshot
        passed as --data-dir): subset and task folder names do not collide.
        """
        roots = {release: data_dir / release if (data_dir / release).is_dir() else data_dir
                 for release in (RELEASE_75M, RELEASE_BENCH)}
        found = {s.folder: _parquet_folder(roots[RELEASE_75M] / s.folder) for s in SUBSETS}
        for task in BENCH_TASKS:
            found[task.config_name] = next(filter(None, (_parquet_folder(roots[RELEASE_BENCH] / name)
                                                         for name in task.folders)), None)
        for subset in SUBSETS:
            if subset.source:
                folder = data_dir / SOURCES_DIR / subset.source
                found[f"{SOURCES_DIR}/{subset.source}"] = folder if folder.is_dir() else None
        return found

    def source_folder(self) -> Path | None:
        source = getattr(self.spec, "source", None)
        return self.raw.get(f"{SOURCES_DIR}/{source}") if source else None

    def input_files(self) -> list[Path]:
        return [p for p in (self.raw[self.config.name], self.source_folder()) if p is not None]

    # ---- shard listing: one shard job per release file ------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[ParquetShard]]:
        shards = {}
        for split, files in list_split_files(self.raw[self.config.name]).items():
            for path in files:
                column_map(read_schema(path).names, self.schema, path)  # a file we cannot read fails the plan
            shards[split] = [ParquetShard(self.relative(p), p.stat().st_size) for p in files]
        return shards

    # ---- rows ------------------------------------------------------------------------------------------

    def shard_rows(self, shard: ParquetShard, log: RecordLog) -> Iterator[dict]:
        path = self.data_dir / shard.file
        columns = column_map(read_schema(path).names, self.schema, path)
        bench = self.schema is BENCH_SCHEMA
        with SourceImages(self.source_folder(), getattr(self.spec, "image_dirs", ())) as sources:
            for number, record in read_records(path):
                row = None
                with log.record(path, record_name(record.get(columns[self.schema.identifier]), number)):
                    row = bench_row(record, columns) if bench else subset_row(record, columns, sources)
                if row is not None:
                    if not bench:  # how many rows lack their image, and why, belongs in the card
                        log.count(f"image_status {IMAGE_STATUSES[row['image_status']]}")
                    yield row


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
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"not a readable Parquet file ({e})",
                           hint="the file is corrupt or truncated; download it again") from None


def read_records(path: Path, batch_size: int = 64) -> Iterator[tuple[int, dict]]:
    """(0-based row number, row as a dict) for every row, streamed by batches (files reach ~500 MB)."""
    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            for record in batch.to_pylist():
                yield number, record
                number += 1
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"the Parquet file is corrupt after row {number} ({e})",
                           hint="download the file again") from None


def column_map(names: list[str], schema: Schema, path) -> dict[str, str]:
    """Output field → the release column that holds it; refuses files that are not BigDocs tables."""
    found = {field: next((c for c in options if c in names), None) for field, options in schema.columns.items()}
    found = {field: column for field, column in found.items() if column is not None}
    absent = [" or ".join(schema.columns[f][0] for f in group) for group in schema.required
              if not any(f in found for f in group)]
    if absent:
        raise RawDataError(path, f"no column {', no column '.join(absent)} (columns: {', '.join(names)})",
                           hint="this does not look like a BigDocs file; check the folder it sits in")
    return found


def record_name(identifier, number: int) -> str:
    """How skipped records are listed: the 0-based row number in its file, and its id when it has one."""
    return f"row {number}" + (f" ({identifier})" if identifier else "")


class SourceImages:
    """The user's copy of a third-party dataset: folders and .zip archives under RAW/sources/<source>/.

    An img_id is looked up in the source's image folders in order of preference, as given and with each
    image suffix appended; loose files come before archive members. Lookups are direct (no index of the
    copy is built), so a job touches only the files its rows name.
    """

    def __init__(self, root: Path | None, image_dirs: tuple[str, ...]):
        self.root, self.image_dirs = root, image_dirs
        self.archives: list[tuple[zipfile.ZipFile, set[str]]] = []

    def __enter__(self):
        for path in sorted(self.root.glob("*.zip")) if self.root else []:
            try:
                archive = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as e:
                raise RawDataError(path, f"not a readable zip archive ({e})",
                                   hint="download the source archive again, or extract it here") from None
            self.archives.append((archive, set(archive.namelist())))
        return self

    def __exit__(self, *exc):
        for archive, _ in self.archives:
            archive.close()

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
        for archive, members in self.archives:
            for candidate in candidates:
                if candidate in members:
                    try:
                        where = f"{archive.filename}:{candidate}"
                        return candidate, read_zip_member(archive, candidate, MEDIA_MEMBER_LIMIT, where), Path(where)
                    except (zipfile.BadZipFile, OSError, EOFError) as e:
                        raise RawDataError(f"{archive.filename}:{candidate}", f"corrupt archive member ({e})",
                                           hint="download the source archive again") from None
        return None


# ---- pure parsing functions ---------------------------------------------------------------------------------

def subset_row(record: dict, columns: dict[str, str], sources: SourceImages) -> dict:
    """A BigDocs-7.5M row: the image embedded or joined by img_id, with its status."""
    sample_id = required_text(record, columns["sample_id"])
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
    elif "image" in columns:
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
        "extra_fields": extra_fields(record, columns),
    }


def bench_row(record: dict, columns: dict[str, str]) -> dict:
    """A BigDocs-Bench row: every image embedded (a missing or broken one rejects the row)."""
    identifier = required_text(record, columns["identifier"])
    cell = record.get(columns["images"])
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
        "extra_fields": extra_fields(record, columns),
    }


def image_cell(cell) -> dict | None:
    """{"bytes", "path"} from a release image cell (an Image struct, or plain bytes); None without bytes."""
    if isinstance(cell, dict):
        return {"bytes": cell["bytes"], "path": cell.get("path")} if cell.get("bytes") else None
    if isinstance(cell, (bytes, bytearray)) and cell:
        return {"bytes": bytes(cell), "path": None}
    if cell is None:
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
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            width, height, kind = image.width, image.height, image.format
    except PIL.UnidentifiedImageError:  # its message holds our buffer's address, which differs per run
        raise RawDataError(file, f"{where} is not a readable image (no image format recognises the bytes)",
                           hint=hint) from None
    except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise RawDataError(file, f"{where} is not a readable image ({e})", hint=hint) from None
    if image_truncated(data, kind):
        raise RawDataError(file, f"{where} is a truncated {kind} (no end marker)", hint=hint)
    return width, height


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


def extra_fields(record: dict, columns: dict[str, str]) -> str | None:
    extra = {name: value for name, value in record.items() if name not in columns.values()}
    return json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str) if extra else None
