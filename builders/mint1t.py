"""MINT-1T: interleaved image–text documents from HTML pages, PDFs and ArXiv papers, one row per document.

Raw release (downloaded from the Hub by hand), one folder per upstream repository:
- `MINT-1T-HTML/`: Parquet shards of web documents whose images are URLs. Since September 2024 both
  revisions are flat folders of `shard_SSS_part_PPP.parquet`: `data_v1_1/` (v1.1, boilerplate removed) and
  `data_v1_0/` (v1.0), each row naming its dump in a `cc_dump` column. The July–August 2024 uploads held
  v1.0 in per-dump folders `CC-MAIN-YYYY-WW/shard_NNNN.parquet` at the top and under `data/`; a download
  pinned to such a revision is read too.
- `MINT-1T-HTML-images/` (optional): the HTML image URLs materialized by img2dataset (`NNNNN.parquet`
  with url / key / status, and the bytes in `NNNNN.tar` or `NNNNN/`); images are joined by URL.
- `MINT-1T-PDF-CC-YYYY-WW/CC-MAIN-YYYY-WW-shard-N/*.tar`: WebDataset tars, one `<key>.json` (the
  document) and one multi-frame JPEG-compressed `<key>.tiff` per document; frame k is the k-th image.
- `MINT-1T-ArXiv/arXiv_src_YYMM_NNN_wds.tar`: the same pairs, or a JSON with one member per image.

Every subset becomes the same OBELICS-style schema: parallel `texts` / `images` lists in which exactly
one of the two is non-null at each position. Tars are read as streams, Parquet by batches; nothing is
extracted to disk, and TIFF frames are re-wrapped without decoding (see `builders.media.tiff`).
"""
from __future__ import annotations

import json
import math
import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets import Image, Json, Value

from .archives import MEDIA_MEMBER_LIMIT, read_tar_member
from .core import (ExcludeBy, MMConfig, MultimodalBuilder, RawPart, batched, binary_array, storage_schema,
                   table_from_columns, table_from_rows)
from .errors import RawDataError, RecordLog
from .media.image import probe_image
from .media.tiff import HEIGHT, WIDTH, TiffFrame, frame_image, read_tiff
from .parquet import batch_reader

# ---- metadata --------------------------------------------------------------------------------------

PDF_DUMPS = ("CC-MAIN-2023-06", "CC-MAIN-2023-14", "CC-MAIN-2023-23", "CC-MAIN-2023-40", "CC-MAIN-2023-50",
             "CC-MAIN-2024-10", "CC-MAIN-2024-18")
HTML_DIR, HTML_IMAGES_DIR, ARXIV_DIR = "MINT-1T-HTML", "MINT-1T-HTML-images", "MINT-1T-ArXiv"
HTML_V1_1_DIR, HTML_V1_0_DIR = "data_v1_1", "data_v1_0"
HTML_PER_DUMP_LAYOUTS = ("data", ".")
"""Where the July–August 2024 uploads kept v1.0 in per-dump folders (`data/*/*` and `CC-MAIN-YYYY-WW/*` in
the repository's README configs then), most recent first: a dump found in both is read from the first."""
PDF_DIR_PATTERN = re.compile(r"MINT-1T-PDF-CC-(\d{4}-\d{2})")
DUMP_PATTERN = re.compile(r"CC-MAIN-\d{4}-\d{2}")
PDF_TOKEN = re.compile(r"page_(\d+)_image_(\d+)")

TIFF_EXTENSIONS = ("tiff", "tif")
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "bmp")

# Image statuses (image_info[].status)
OK, NOT_DOWNLOADED, DOWNLOAD_FAILED, UNDECODABLE = "ok", "not_downloaded", "download_failed", "undecodable"

# ---- features, with the docs the card's field table is made of --------------------------------------

FIELDS = {
    "key": (Value("string"), "Document key: the WebDataset key of the tar members (pdf: 32 hex digits; arxiv: the "
                             "member base name), or `<parquet file>#<row>` for html, whose release has no id."),
    "subset": (Value("string"), "`html`, `pdf` or `arxiv`: the MINT-1T subset the document comes from."),
    "cc_dump": (Value("string"), "CommonCrawl dump (`CC-MAIN-YYYY-WW`): html from the file's `cc_dump` column (null, "
                                 "and counted, in a file without one), or from the dump folder for the per-dump "
                                 "folders of July–August 2024; pdf from the repository name; null for arxiv."),
    "url": (Value("string"), "URL of the web page (html) or of the PDF (pdf); null when the release gives none."),
    "source_file": (Value("string"), "The raw file the document was read from, relative to the data directory."),
    "texts": ([(Value("string"), "A text block, or null where an image sits.")],
              "The document's text blocks, interleaved with its images: `texts[i]` is null exactly where "
              "position i holds an image."),
    "images": ([(Image(), "An image, or null at text positions and where no bytes are available "
                          "(see `image_info[].status`).")],
               "Images at their positions in the document, same length as `texts`. pdf/arxiv: the release's "
               "bytes (TIFF frames re-wrapped without decoding, see the card); html: only when the URLs were "
               "materialized with img2dataset."),
    "image_urls": ([(Value("string"), "The image's URL as in the release (may be relative, empty or contain "
                                      "spaces), or null.")],
                   "html: the release's `images` list (URLs at image positions, null at text positions); pdf and "
                   "arxiv embed their images, so every entry is null."),
    "image_info": ([{
        "name": (Value("string"), "The release's `images` entry for embedded images: the pdf token "
                                  "`page_<page>_image_<xref>`, or the arxiv token / member name; null for html."),
        "status": (Value("string"), "`ok` (bytes stored), `not_downloaded` (html URL absent from the img2dataset "
                                    "folder, or no folder), `download_failed` (img2dataset reported a failure) or "
                                    "`undecodable` (the bytes are not a readable image; the image is null)."),
        "error": (Value("string"), "Why the image is missing or undecodable; null when status is `ok`."),
        "width": (Value("int32"), "Width in pixels of the stored image (from its header; no decoding); null without bytes."),
        "height": (Value("int32"), "Height in pixels of the stored image; null without bytes."),
        "page": (Value("int32"), "pdf: 0-based page of the PDF the image is on (`image_metadata[].page` of the entry "
                                 "whose page and xref are those of the image's token `page_<page>_image_<xref>`; null "
                                 "when no entry has them)."),
        "xref": (Value("int32"), "pdf: PDF object number of the image (`image_metadata[].xref`, of the same entry)."),
        "sha256": (Value("string"), "pdf: `image_metadata[].sha256`, computed upstream on the original image "
                                    "bytes before TIFF conversion, so it does not match the stored bytes."),
        "metadata": (Json(), "Any other per-image field of the release, by its release name (html: "
                             "`image_hashes` / `images_metadata` entries; pdf: other `image_metadata` keys)."),
    }], "One entry per image position, in document order (the k-th entry describes the k-th non-null "
        "position of `image_urls` / the k-th TIFF frame). pdf: the release's `image_metadata` entry of each image "
        "is found by its page and xref, not by position (the release lists the images of one page in another "
        "order than `images`)."),
    "pdf_name": (Value("string"), "pdf: file name of the PDF (`pdf_name`)."),
    "language_scores": ([{
        "language": (Value("string"), "Language code."),
        "score": (Value("float64"), "fastText probability (may be NaN as in the release)."),
    }], "pdf: `language_id_whole_page_fasttext`, the fastText language identification of the whole document."),
    "previous_word_count": (Value("int64"), "pdf: word count before paragraph deduplication (`previous_word_count`)."),
    "bff_contained_ngram_count_before_dedupe": (Value("int64"), "pdf: n-grams already seen by the BFF Bloom-filter "
                                                                "deduplication (`bff_contained_ngram_count_before_dedupe`)."),
    "metadata": (Json(), "Every other field of the release's record, by its release name: html the `metadata` "
                         "column (parsed when it is JSON) and any extra column; pdf/arxiv the other JSON keys, and "
                         "the `image_metadata` entries that describe no image of the document."),
    "notes": ([(Value("string"), "One repair, e.g. bytes that were not UTF-8.")],
              "What the build had to repair in this record (empty for almost every document)."),
}

# ---- configs ------------------------------------------------------------------------------------------

RAW_PARTS = {
    "html": RawPart(f"{HTML_DIR}/{HTML_V1_1_DIR}/shard_SSS_part_PPP.parquet (MINT-1T-HTML v1.1)"),
    "html-v1.0": RawPart(f"{HTML_DIR}/{HTML_V1_0_DIR}/shard_SSS_part_PPP.parquet (MINT-1T-HTML v1.0; a revision of "
                         "July-August 2024 with per-dump folders CC-MAIN-YYYY-WW/shard_NNNN.parquet, at the top of "
                         "MINT-1T-HTML/ or under data/, is read too)"),
    "pdf": RawPart("MINT-1T-PDF-CC-YYYY-WW/CC-MAIN-YYYY-WW-shard-N/*.tar (at least one PDF dump)"),
    **{f"pdf-{dump}": RawPart(f"MINT-1T-PDF-CC-{dump[8:]}/{dump}-shard-N/*.tar") for dump in PDF_DUMPS},
    "arxiv": RawPart(f"{ARXIV_DIR}/arXiv_src_YYMM_NNN_wds.tar"),
}

VERSION = datasets.Version("1.0.0")
CONFIGS = [
    MMConfig(name="html", version=VERSION, fields=FIELDS, requires=("html",),
             description="Web documents of MINT-1T-HTML v1.1 (data_v1_1, boilerplate removed); images as URLs, "
                         "with bytes when materialized."),
    MMConfig(name="html-v1.0", version=VERSION, fields=FIELDS, requires=("html-v1.0",),
             description="Web documents of MINT-1T-HTML v1.0 (data_v1_0), before the boilerplate removal."),
    MMConfig(name="pdf", version=VERSION, fields=FIELDS, requires=("pdf",),
             description="PDF documents of every MINT-1T-PDF-CC-* dump present, with their images."),
    *[MMConfig(name=f"pdf-{dump}", version=VERSION, fields=FIELDS, requires=(f"pdf-{dump}",),
               description=f"PDF documents of MINT-1T-PDF-CC-{dump[8:]} only.") for dump in PDF_DUMPS],
    MMConfig(name="arxiv", version=VERSION, fields=FIELDS, requires=("arxiv",),
             description="ArXiv papers (text from the LaTeX sources) with their figures."),
]


@dataclass(frozen=True)
class Shard:
    """One raw file: an HTML Parquet shard or a PDF / ArXiv tar."""

    subset: str
    path: str
    relative: str
    cc_dump: str | None = None        # known from the folder name (pdf; html v1.0)
    html_images: str | None = None    # the img2dataset folder, for html


PER_DUMP_NOT_READ = ("HTML v1.0 as uploaded in July-August 2024, one folder per dump: read only when data_v1_0/ "
                     "holds no Parquet file, and a dump both here and under data/ is read from data/ only")


class Mint1T(MultimodalBuilder):
    NAME = "mint1t"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "html"
    EXCLUDABLE = {"url": ExcludeBy("url"), "url_prefix": ExcludeBy("url", prefix=True),
                  "document_key": ExcludeBy("key")}
    ROWS_PER_BATCH = None
    BATCH_BYTES = 8 * 2**20
    """Rows are grouped into tables of about this many bytes (`row_bytes`), whatever their number: one table
    is one Parquet row group (the writer splits tables above its own bound), so HTML rows do not end up in
    thousands of tiny groups. An HTML build holds about ten tables' worth at once (the one being assembled
    and its intermediate columns, two waiting for the writer, the one being written): at 32 MiB a shard job
    peaked at 650-700 MiB, at 8 MiB at 440-450 MiB (of which ~150 MiB are the imports), for the same CPU."""
    NOT_READ: ClassVar[tuple[tuple[str, str], ...]] = (
        ("MINT-1T-*/README.md", "the upstream repository's dataset card: its facts are on this card, it holds "
                                "no document"),
        ("MINT-1T-*/.gitattributes", "Git LFS settings of the upstream repository, not data"),
        ("MINT-1T-*/*.png", "a picture shown on the upstream dataset card (interleaved-example-twitter.png, "
                            "mint-logo.png), not a document"),
        ("MINT-1T-*/.cache/", "download bookkeeping written by `hf download --local-dir`, not data"),
        ("MINT-1T-HTML/CC-MAIN-*/", PER_DUMP_NOT_READ),
        ("MINT-1T-HTML/data/", PER_DUMP_NOT_READ),
        ("MINT-1T-HTML/data/CC-MAIN-*/", PER_DUMP_NOT_READ),
        ("MINT-1T-HTML/data_v1_*/*/", "a folder inside data_v1_0/ or data_v1_1/, which the release keeps flat "
                                      "(shard_SSS_part_PPP.parquet): no revision is known to have sub-folders there"),
        ("MINT-1T-PDF-CC-*/CC-MAIN-*-shard-*/", "a PDF shard folder holding no .tar (a shard not downloaded): only "
                                                 "the tars are read"),
        ("MINT-1T-HTML-images/*_stats.json", "img2dataset's statistics of one shard: the per-URL status is read "
                                             "from the shard's Parquet file"),
        ("MINT-1T-HTML-images/*.json", "img2dataset's JSON sidecar of one image: the same url, key and status as "
                                       "the shard's Parquet file"),
        ("MINT-1T-HTML-images/*.txt", "img2dataset's caption sidecar of one image: MINT-1T's texts come from the "
                                      "HTML shards"),
    )
    """Paths under --data-dir recognised and deliberately left (fnmatch on the path relative to it)."""

    def locate_raw(self, data_dir: Path) -> dict:
        html = data_dir / HTML_DIR
        pdf_dirs = {f"CC-MAIN-{m.group(1)}": p for p in sorted(data_dir.iterdir())
                    if p.is_dir() and (m := PDF_DIR_PATTERN.fullmatch(p.name)) and any(p.rglob("*.tar"))}
        arxiv = data_dir / ARXIV_DIR
        return {
            "html": html / HTML_V1_1_DIR if any((html / HTML_V1_1_DIR).glob("*.parquet")) else None,
            "html-v1.0": html if html_v1_0_files(html) else None,
            "html-images": data_dir / HTML_IMAGES_DIR if (data_dir / HTML_IMAGES_DIR).is_dir() else None,
            "pdf": data_dir if pdf_dirs else None,
            "pdf-dumps": pdf_dirs,
            **{f"pdf-{dump}": pdf_dirs.get(dump) for dump in PDF_DUMPS},
            "arxiv": arxiv if arxiv.is_dir() and any(arxiv.rglob("*.tar")) else None,
        }

    def input_files(self) -> list[Path]:
        """Folders, not files: the pipeline then records a listing digest instead of hashing terabytes."""
        name = self.config.name
        if self.missing_parts():
            return []
        images = [self.raw["html-images"]] if self.raw["html-images"] else []
        if name == "html":
            return [self.raw["html"]] + images
        if name == "html-v1.0":
            return sorted({Path(path).parent for path, _ in html_v1_0_files(self.raw["html-v1.0"])}) + images
        if name == "pdf":
            return list(self.raw["pdf-dumps"].values())
        return [self.raw[name]]

    def read_paths(self) -> list[Path]:
        """The files read, one by one: the folders of `input_files` also hold what is not read (a repository's
        README, img2dataset's JSON sidecars)."""
        if self.missing_parts():
            return []
        shards = [Path(shard.path) for shard in self.split_shards(RecordLog("skip"))["train"]]
        images = img2dataset_files(self.raw["html-images"]) if self.raw["html-images"] else []
        return shards + (images if self.config.name.startswith("html") else [])

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[Shard]]:
        name = self.config.name
        images = str(self.raw["html-images"]) if self.raw["html-images"] else None
        if name == "html":
            shards = [self._shard("html", path, images=images) for path in natural_sorted(self.raw["html"].glob("*.parquet"))]
            for folder in sorted(p.name for p in self.raw["html"].iterdir() if p.is_dir()):
                log.notice(f"{HTML_DIR}/{HTML_V1_1_DIR}/{folder}/ is not read: the release keeps {HTML_V1_1_DIR}/ flat")
        elif name == "html-v1.0":
            html = self.raw[name]
            files = html_v1_0_files(html)
            shards = [self._shard("html", Path(path), dump, images) for path, dump in files]
            for notice in html_v1_0_layout_notices(html, files):
                log.notice(notice)
        elif name == "arxiv":
            shards = [self._shard("arxiv", path) for path in natural_sorted(self.raw["arxiv"].rglob("*.tar"))]
        else:
            dumps = self.raw["pdf-dumps"] if name == "pdf" else {name[4:]: self.raw[name]}
            shards = [self._shard("pdf", path, dump) for dump, folder in sorted(dumps.items())
                      for path in natural_sorted(folder.rglob("*.tar"))]
        return {"train": shards}

    def _shard(self, subset: str, path: Path, cc_dump: str | None = None, images: str | None = None) -> Shard:
        return Shard(subset, str(path), self.relative(path), cc_dump, images)

    # ---- rows ------------------------------------------------------------------------------------------

    def shard_rows(self, shard: Shard, log: RecordLog) -> Iterator[dict]:
        return html_rows(shard, log) if shard.subset == "html" else tar_rows(shard, log)

    def shard_tables(self, shard: Shard, log: RecordLog) -> Iterator[pa.Table]:
        """HTML files are assembled column-wise (`html_tables`, the same tables as the core's batching of
        `shard_rows`); tars row by row, batched by the core."""
        if shard.subset == "html":
            return html_tables(shard, log, self.info.features.arrow_schema, self.BATCH_BYTES)
        return super().shard_tables(shard, log)

    def row_bytes(self, row: dict) -> int:
        return row_weight(row)


def row_weight(row: dict) -> int:
    """What a row weighs for BATCH_BYTES: the UTF-8 bytes of its texts and metadata, its image bytes, plus a little
    for the other fields. Bytes, not characters: the column-wise path reads them off the offsets, where counting
    characters scanned every text again (a tenth of an HTML build's CPU)."""
    texts = sum(utf8_bytes(t) for t in row["texts"] if t)
    images = sum(len(i["bytes"]) for i in row["images"] if i)
    return texts + images + utf8_bytes(row["metadata"] or "") + 200


def utf8_bytes(text: str) -> int:
    """The length of `text` in UTF-8, as Arrow stores it (a lone surrogate, which never reaches Arrow, weighs 3)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# ---- raw files --------------------------------------------------------------------------------------------

def natural_sorted(paths) -> list[Path]:
    """Paths in human order (shard-2 before shard-10), which is also the release's order."""
    def key(path: Path):
        return [int(part) if part.isdecimal() else part for part in re.split(r"(\d+)", path.as_posix())]
    return sorted(paths, key=key)


def html_v1_0_files(html: Path) -> list[tuple[str, str | None]]:
    """(parquet file, dump folder or None) of MINT-1T-HTML v1.0: the flat `data_v1_0/` of September 2024 on,
    whose rows name their dump; without it, the per-dump folders of a revision of July-August 2024."""
    flat = natural_sorted((html / HTML_V1_0_DIR).glob("*.parquet"))
    if flat:
        return [(str(path), None) for path in flat]
    return [(str(path), dump) for dump, folder in sorted(per_dump_folders(html).items())
            for path in natural_sorted(folder.glob("*.parquet"))]


def per_dump_folders(html: Path) -> dict[str, Path]:
    """Dump -> its folder in the per-dump layouts; a dump present in two is one copy of the same data, read
    from the most recent layout only."""
    chosen: dict[str, Path] = {}
    for layout in HTML_PER_DUMP_LAYOUTS:
        folder = html / layout
        if not folder.is_dir():
            continue
        for dump_dir in sorted(folder.iterdir()):
            if dump_dir.is_dir() and DUMP_PATTERN.fullmatch(dump_dir.name) and any(dump_dir.glob("*.parquet")):
                chosen.setdefault(dump_dir.name, dump_dir)
    return chosen


def html_v1_0_layout_notices(html: Path, files: list[tuple[str, str | None]]) -> list[str]:
    """What of MINT-1T-HTML's v1.0 folders the build leaves, and why (the unread-path report lists them too)."""
    read = {Path(path).parent for path, _ in files}
    notices = []
    v1_0 = html / HTML_V1_0_DIR
    if v1_0.is_dir():
        for folder in sorted(p.name for p in v1_0.iterdir() if p.is_dir()):
            notices.append(f"{HTML_DIR}/{HTML_V1_0_DIR}/{folder}/ is not read: the release keeps {HTML_V1_0_DIR}/ "
                           "flat, and no revision is known to have had sub-folders there")
    left = [folder for layout in HTML_PER_DUMP_LAYOUTS if (html / layout).is_dir()
            for folder in sorted((html / layout).iterdir())
            if folder.is_dir() and DUMP_PATTERN.fullmatch(folder.name) and folder not in read
            and any(folder.glob("*.parquet"))]
    for folder in left:
        relative = folder.relative_to(html).as_posix()
        why = (f"{HTML_V1_0_DIR}/ is read instead" if any(dump is None for _, dump in files)
               else f"the same dump is read from {per_dump_folders(html)[folder.name].relative_to(html).as_posix()}/")
        notices.append(f"{HTML_DIR}/{relative}/ (HTML v1.0 as uploaded in July-August 2024) is not read: {why}")
    return notices


def img2dataset_files(folder: Path) -> list[Path]:
    """What `DownloadedImages` reads of an img2dataset folder: each shard's Parquet file and its images
    (members of NNNNN.tar, else files of NNNNN/), not the JSON / caption sidecars."""
    paths = []
    for metadata in natural_sorted(folder.glob("*.parquet")):
        paths.append(metadata)
        tar, images = folder / f"{metadata.stem}.tar", folder / metadata.stem
        if tar.is_file():
            paths.append(tar)
        elif images.is_dir():
            paths += natural_sorted(p for p in images.iterdir() if p.suffix[1:].lower() in IMAGE_EXTENSIONS)
    return paths


# ---- html ---------------------------------------------------------------------------------------------------

HTML_COLUMNS = ("texts", "images", "url", "cc_dump")
HTML_PER_IMAGE_COLUMNS = ("image_hashes", "images_metadata")
"""Side columns reported in image-only order (the k-th entry describes the k-th URL)."""
HTML_KNOWN_COLUMNS = (*HTML_COLUMNS, "metadata", *HTML_PER_IMAGE_COLUMNS)
NO_DUMP_COLUMN = "documents with a null cc_dump: their file has no cc_dump column"
HTML_BATCH_ROWS = 1024
"""Documents read from a file at a time (a record batch)."""


@dataclass
class HtmlFile:
    """One MINT-1T-HTML Parquet file opened for reading, and what all its documents share."""

    shard: Shard
    parquet: pq.ParquetFile
    unknown: list[str]                      # columns the notes do not list: kept by name in `metadata`
    no_dump: bool                           # no cc_dump column, and no dump folder either
    downloads: DownloadedImages | None      # the img2dataset folder's images of this file's URLs

    def count_rows(self, log: RecordLog, rows: int) -> None:
        """What `rows` documents made into rows share with every other document of the file, counted."""
        if rows:
            for column in self.unknown:
                log.count(f"documents with the unknown column '{column}' (kept in metadata)", rows)
            if self.no_dump:
                log.count(NO_DUMP_COLUMN, rows)


def open_html(shard: Shard, log: RecordLog) -> HtmlFile:
    """The file, checked for its two list columns; unknown columns and a missing cc_dump are said once."""
    try:
        parquet = batch_reader(shard.path)
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(shard.path, f"not a readable Parquet file ({e})",
                           hint="download this shard of MINT-1T-HTML again") from None
    columns = parquet.schema_arrow.names
    missing = [c for c in ("texts", "images") if c not in columns]
    if missing:
        raise RawDataError(shard.path, f"no column(s) {', '.join(missing)}; columns are {', '.join(columns)}",
                           hint="this is not a MINT-1T-HTML shard")
    # columns the notes do not list are kept by name in `metadata`; each one is said once and counted per document
    unknown = [c for c in columns if c not in HTML_KNOWN_COLUMNS]
    for column in unknown:
        log.notice(f"unknown column '{column}' in MINT-1T-HTML shards: kept by name in the `metadata` JSON column")
    no_dump = "cc_dump" not in columns and shard.cc_dump is None
    if no_dump:
        log.notice("MINT-1T-HTML shards without a cc_dump column: their documents have a null cc_dump (the "
                   "dump is not known from a flat data_v1_0/ or data_v1_1/ file without it)")
    downloads = DownloadedImages(Path(shard.html_images), parquet) if shard.html_images else None
    return HtmlFile(shard, parquet, unknown, no_dump, downloads)


def html_rows(shard: Shard, log: RecordLog) -> Iterator[dict]:
    """The rows of one HTML file, document by document: the reference `html_tables` is tested against."""
    html = open_html(shard, log)
    records = (record for batch in html_batches(html.parquet, shard.path) for record in batch.to_pylist())
    for row_number, record in enumerate(records):
        row = html_record_row(html, record, row_number, log)
        if row is not None:
            yield row


def html_record_row(html: HtmlFile, record: dict, row_number: int, log: RecordLog) -> dict | None:
    """One document's row made in Python (`html_row`) inside its record guard; None when it was skipped."""
    row = log.convert(html.shard.path, row_number, html_row, record, html.shard, row_number, html.downloads)
    if row is not None:
        html.count_rows(log, 1)
    return row


def html_batches(parquet: pq.ParquetFile, path: str) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches; a damaged page stops the build whatever the policy (the file is shared)."""
    try:
        yield from parquet.iter_batches(batch_size=HTML_BATCH_ROWS)
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"the Parquet file is damaged ({e})",
                           hint="download this shard of MINT-1T-HTML again") from None


def html_urls(parquet: pq.ParquetFile) -> pa.Array:
    """The distinct image URLs of the file (read a batch at a time: a release file has ~500,000)."""
    distinct = [pc.unique(pc.drop_null(pc.list_flatten(batch.column(0))))
                for batch in parquet.iter_batches(batch_size=16384, columns=["images"])]
    return pc.unique(pa.concat_arrays(distinct)).cast(pa.string()) if distinct else pa.array([], pa.string())


def html_row(record: dict, shard: Shard, row_number: int, downloads: DownloadedImages | None) -> dict:
    texts, urls = record["texts"], record["images"]
    check_interleaving(texts, urls)
    notes: list[str] = []
    metadata = {}
    for column, value in record.items():
        if column in HTML_COLUMNS or column in HTML_PER_IMAGE_COLUMNS:
            continue
        if column == "metadata":
            value = parse_json_text(value, "the metadata column", notes)
        if value is not None:
            metadata[column] = value
    image_urls = [u for u in urls if u is not None]
    per_image = per_image_fields({c: record[c] for c in HTML_PER_IMAGE_COLUMNS if c in record},
                                 len(image_urls), metadata, notes)
    pictures = [downloads.picture(url) if downloads else Picture(status=NOT_DOWNLOADED, error="no img2dataset folder")
                for url in image_urls]
    for picture, extra in zip(pictures, per_image):
        picture.metadata = extra or None
    cc_dump = typed(record, "cc_dump", str, metadata, notes)
    if shard.cc_dump and cc_dump and cc_dump != shard.cc_dump:
        notes.append(f"cc_dump is {cc_dump!r:.40} in a file of the folder {shard.cc_dump}: the column's value is kept")
    return assemble_row(
        key=f"{shard.relative}#{row_number}", subset="html", cc_dump=cc_dump or shard.cc_dump,
        url=typed(record, "url", str, metadata, notes), source_file=shard.relative, texts=texts, image_urls=urls,
        pictures=pictures, metadata=metadata, notes=notes)


def per_image_fields(columns: dict[str, list | None], count: int, metadata: dict, notes: list[str]) -> list[dict]:
    """Per-image side columns zipped by image order; a column of another length is kept whole in metadata."""
    fields = [{} for _ in range(count)]
    for column, values in columns.items():
        if values is None:
            continue
        if len(values) != count:
            metadata[column] = values
            notes.append(f"{column} has {len(values)} entries for {count} images: kept whole in metadata")
            continue
        for entry, value in zip(fields, values):
            entry[column] = value
    return fields


class DownloadedImages:
    """Image bytes an img2dataset run fetched for the URLs of one HTML shard, joined by URL.

    img2dataset writes, per shard NNNNN, `NNNNN.parquet` (url, key, status, error_message, …) and the images
    as members of `NNNNN.tar` (webdataset output) or files in `NNNNN/` (files output), named `<key>.<ext>`.
    Tar members are read by offset from an index of their headers: the HTML order is not the tar order.
    """

    def __init__(self, folder: Path, html: pq.ParquetFile):
        """The entries of the URLs of one HTML file: of a folder listing more URLs than the file has documents,
        the others are left (the file's distinct URLs are read to know them); a smaller folder is kept whole."""
        self.folder = folder
        self.entries: dict[str, tuple[str, str, str | None]] = {}   # url -> (shard stem, key, failure or None)
        listings = {path: pq.read_metadata(path) for path in natural_sorted(folder.glob("*.parquet"))}
        wanted = html_urls(html) if sum(m.num_rows for m in listings.values()) > html.metadata.num_rows else None
        for metadata, footer in listings.items():
            names = footer.schema.to_arrow_schema().names
            if not {"url", "key", "status"} <= set(names):
                raise RawDataError(metadata, f"not an img2dataset metadata file: columns are {', '.join(names)}",
                                   hint="img2dataset writes url, key, status and error_message per shard")
            table = pq.read_table(metadata, columns=[c for c in ("url", "key", "status", "error_message") if c in names])
            if wanted is not None:   # looked up in a hash set of the smaller side
                sought = wanted
                if len(wanted) > len(table):
                    sought = wanted.filter(pc.is_in(wanted, value_set=table.column("url").combine_chunks()))
                table = table.filter(pc.is_in(table.column("url"), value_set=sought))
            errors = table.column("error_message").to_pylist() if "error_message" in table.column_names else [None] * len(table)
            for url, key, status, error in zip(table.column("url").to_pylist(), table.column("key").to_pylist(),
                                               table.column("status").to_pylist(), errors):
                failure = None if status == "success" else f"{status}: {error or 'no message'}"
                if url not in self.entries or (self.entries[url][2] is not None and failure is None):
                    self.entries[url] = (metadata.stem, str(key), failure)
        self.urls = pa.array(list(self.entries), pa.string())   # the URLs it lists, for pc.is_in
        self._indexes: dict[str, dict[str, tuple[str, str, int, int]]] = {}

    def picture(self, url: str) -> Picture:
        if url not in self.entries:
            return Picture(status=NOT_DOWNLOADED, error="URL not in the img2dataset folder")
        stem, key, failure = self.entries[url]
        if failure:
            return Picture(status=DOWNLOAD_FAILED, error=failure)
        location = self._index(stem).get(key)
        if location is None:
            return Picture(status=NOT_DOWNLOADED, error=f"img2dataset reports success but {stem}/{key}.* is missing")
        name, file, offset, size = location
        with open(file, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        return stored_picture(data, f"{stem}/{name}")

    def _index(self, stem: str) -> dict[str, tuple[str, str, int, int]]:
        """key -> (image file name, file holding it, offset, size) for the images of one img2dataset shard."""
        if stem not in self._indexes:
            index = {}
            tar, folder = self.folder / f"{stem}.tar", self.folder / stem
            if tar.is_file():
                with tarfile.open(tar, "r:") as archive:
                    for member in archive:
                        name = member.name.rsplit("/", 1)[-1]
                        key, _, ext = name.rpartition(".")
                        if member.isfile() and ext.lower() in IMAGE_EXTENSIONS:
                            index[key] = (name, str(tar), member.offset_data, member.size)
            elif folder.is_dir():
                for file in folder.iterdir():
                    if file.suffix[1:].lower() in IMAGE_EXTENSIONS:
                        index[file.stem] = (file.name, str(file), 0, file.stat().st_size)
            self._indexes[stem] = index
        return self._indexes[stem]


# ---- html, column-wise ----------------------------------------------------------------------------------------
#
# A release file holds ~150,000 documents of ~3 kB: made one by one (`html_rows`), their rows cost several times
# reading and writing them. `html_tables` makes the same tables with pyarrow compute over each record batch: the
# checks that can fail are vectorised, and only the rare documents they flag (broken interleaving, a side column
# of another length than the images, metadata that is not JSON, another dump than the folder's) go through
# `html_row` one by one, so that errors, skipped records, notes and counts are exactly the per-document path's.

STRING_TYPES = (pa.string(), pa.large_string())


def html_tables(shard: Shard, log: RecordLog, schema: pa.Schema, batch_bytes: int) -> Iterator[pa.Table]:
    """The tables that batching `html_rows` by `row_weight` makes: the same rows, cut at the same rows."""
    html = open_html(shard, log)
    batches = html_batches(html.parquet, shard.path)
    if not columnar_readable(html.parquet.schema_arrow):   # column types no release file has: one by one
        rows = (row for batch in batches for _, row in html_batch_rows(html, batch, 0, log, range(batch.num_rows)))
        for rows_of_table in batched(rows, None, batch_bytes, row_weight):
            yield table_from_rows(rows_of_table, schema)
        return
    cutter, first_row = ByteBatches(batch_bytes), 0
    for batch in batches:
        table, weights = html_batch_table(html, batch, first_row, log, schema)
        first_row += batch.num_rows
        yield from cutter.add(table, weights)
    yield from cutter.finish()


def columnar_readable(schema: pa.Schema) -> bool:
    """Whether `html_columns` reads every column: lists of strings, strings, and anything else as metadata."""
    def strings(kind: pa.DataType) -> bool:
        return kind in STRING_TYPES or pa.types.is_null(kind)

    def string_lists(kind: pa.DataType) -> bool:
        return (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and kind.value_type in STRING_TYPES

    kinds = {name: schema.field(name).type for name in set(schema.names)}
    return (len(kinds) == len(schema.names) and string_lists(kinds["texts"]) and string_lists(kinds["images"])
            and all(strings(kinds[name]) for name in ("url", "cc_dump") if name in kinds)
            and all(string_lists(kinds[name]) or pa.types.is_null(kinds[name])
                    for name in HTML_PER_IMAGE_COLUMNS if name in kinds))


def html_batch_rows(html: HtmlFile, batch: pa.RecordBatch, first_row: int, log: RecordLog,
                    numbers) -> Iterator[tuple[int, dict]]:
    """(number in the batch, row) of some documents of a record batch, made one by one (`html_row`)."""
    for number in map(int, numbers):
        record = batch.slice(number, 1).to_pylist()[0]
        row = html_record_row(html, record, first_row + number, log)
        if row is not None:
            yield number, row


def html_batch_table(html: HtmlFile, batch: pa.RecordBatch, first_row: int, log: RecordLog,
                     schema: pa.Schema) -> tuple[pa.Table, np.ndarray]:
    """The rows of one record batch and their weights (`row_weight`): column-wise, but for the flagged ones."""
    flagged = flagged_documents(html, batch)
    metadata = document_metadata(batch, flagged)
    good = np.flatnonzero(~flagged)
    fast = batch if len(good) == batch.num_rows else batch.filter(pa.array(~flagged))
    table, weights = html_columns(html, fast, good + first_row, [metadata[i] for i in good], schema)
    log.add_records(len(good))
    html.count_rows(log, len(good))
    slow = list(html_batch_rows(html, batch, first_row, log, np.flatnonzero(flagged))) if flagged.any() else []
    if not slow:
        return table, weights
    # the rows made one by one go back to their places among the others
    numbers = np.concatenate([good, [number for number, _ in slow]])
    order = pa.array(np.argsort(numbers, kind="stable"))
    rows = [row for _, row in slow]
    table = pa.concat_tables([table, table_from_rows(rows, schema)]).take(order)
    weights = np.concatenate([weights, [row_weight(row) for row in rows]])[order.to_numpy()]
    return table, weights


def flagged_documents(html: HtmlFile, batch: pa.RecordBatch) -> np.ndarray:
    """Which documents of the batch the per-document path must make: those whose texts / images are not
    parallel lists with exactly one string at each position, whose per-image side columns have another
    length than their images, or whose cc_dump is not the one of their dump folder (a note)."""
    texts, urls = string_lists(batch.column("texts")), string_lists(batch.column("images"))
    lengths = list_lengths(texts)
    good = (lengths >= 0) & (lengths == list_lengths(urls))
    text_at = value_positions(texts, good)
    url_at = value_positions(urls, good)
    is_text = valid_values(texts)[text_at]
    is_image = valid_values(urls)[url_at]
    documents = np.repeat(np.flatnonzero(good), lengths[good])
    good[documents[is_text == is_image]] = False
    images = np.bincount(documents, weights=is_image, minlength=len(good)).astype(np.int64)
    for name in HTML_PER_IMAGE_COLUMNS:
        if name in batch.schema.names and not pa.types.is_null(batch.schema.field(name).type):
            entries = list_lengths(batch.column(name))
            good &= (entries < 0) | (entries == images)
    if html.shard.cc_dump and "cc_dump" in batch.schema.names:
        dumps = batch.column("cc_dump").cast(pa.string())
        other = pc.and_(pc.not_equal(dumps, ""), pc.not_equal(dumps, html.shard.cc_dump)).fill_null(False)
        good &= ~other.to_numpy(zero_copy_only=False)
    return ~good


def document_metadata(batch: pa.RecordBatch, flagged: np.ndarray) -> list[str | None]:
    """Each document's `metadata` JSON text: the metadata column parsed and any unknown column by name, as
    `html_row` and `to_json` make it. A document whose metadata is not JSON, or holds a number JSON cannot
    (NaN), is flagged instead: its note is made one by one."""
    names = [name for name in batch.schema.names if name not in HTML_COLUMNS and name not in HTML_PER_IMAGE_COLUMNS]
    texts: list[str | None] = [None] * batch.num_rows
    if names == ["metadata"] and batch.schema.field("metadata").type in STRING_TYPES:  # the release's files
        for number, text in enumerate(batch.column("metadata").to_pylist()):
            if text is None or flagged[number]:
                continue
            try:
                value = json.loads(text)
                if value is not None:
                    texts[number] = '{"metadata": ' + json.dumps(value, ensure_ascii=False, allow_nan=False) + "}"
            except (ValueError, TypeError):
                flagged[number] = True
        return texts
    columns = [(name, batch.column(name).to_pylist()) for name in names]
    for number in np.flatnonzero(~flagged):
        metadata = {}
        try:
            for name, values in columns:
                value = values[number]
                if name == "metadata" and isinstance(value, str):
                    value = json.loads(value)
                if value is not None:
                    metadata[name] = value
            texts[number] = json.dumps(metadata, ensure_ascii=False, allow_nan=False) if metadata else None
        except (ValueError, TypeError):
            flagged[number] = True
    return texts


def html_columns(html: HtmlFile, batch: pa.RecordBatch, numbers: np.ndarray, metadata: list[str | None],
                 schema: pa.Schema) -> tuple[pa.Table, np.ndarray]:
    """Rows of documents that pass every check, assembled column by column, and their weights (`row_weight`).

    `images` and `image_info` are lists built from offsets: the document's positions for `images`, its image
    positions (where its `images` list holds a URL, in order) for `image_info`."""
    rows, storage = batch.num_rows, storage_schema(schema)
    texts, urls = string_lists(batch.column("texts")), string_lists(batch.column("images"))
    flat_texts, flat_urls = pc.list_flatten(texts), pc.list_flatten(urls)
    offsets = np.concatenate([[0], np.cumsum(list_lengths(texts))])
    is_image = valid_values(flat_urls)
    image_offsets = np.concatenate([[0], np.cumsum(is_image)])[offsets]
    pictures = html_pictures(html, flat_urls.filter(pa.array(is_image)))
    slot_type, info_type = storage.field("images").type.value_type, storage.field("image_info").type.value_type
    slots = image_slots(len(flat_texts), np.flatnonzero(is_image), pictures.stored, slot_type)
    info = pa.StructArray.from_arrays(
        [pa.nulls(pictures.count, pa.string()), pictures.status, pictures.error, pictures.width, pictures.height,
         pa.nulls(pictures.count, pa.int32()), pa.nulls(pictures.count, pa.int32()),
         pa.nulls(pictures.count, pa.string()), image_metadata(batch, image_offsets)], fields=list(info_type))
    metadata_texts = pa.array(metadata, pa.string())
    columns = {
        "key": pc.binary_join_element_wise(f"{html.shard.relative}#", pa.array(numbers).cast(pa.string()), ""),
        "subset": constant("html", rows), "cc_dump": html_dumps(html, batch), "url": string_column(batch, "url"),
        "source_file": constant(html.shard.relative, rows), "texts": texts,
        "images": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), slots),
        "image_urls": urls,
        "image_info": pa.ListArray.from_arrays(pa.array(image_offsets, pa.int32()), info),
        "metadata": metadata_texts,
        "notes": pa.ListArray.from_arrays(pa.array(np.zeros(rows + 1, np.int32)), pa.array([], pa.string())),
    }
    table = table_from_columns(columns, schema, rows)
    text_bytes = np.concatenate([[0], np.cumsum(pc.binary_length(flat_texts).fill_null(0).to_numpy())])[offsets]
    weights = np.diff(text_bytes) + pc.binary_length(metadata_texts).fill_null(0).to_numpy() + 200
    if pictures.stored:
        document_of = np.searchsorted(image_offsets, list(pictures.stored), side="right") - 1
        np.add.at(weights, document_of, [len(picture.data) for picture in pictures.stored.values()])
    return table, weights


def html_dumps(html: HtmlFile, batch: pa.RecordBatch) -> pa.Array:
    """The cc_dump column, or the dump folder's name where it is null or empty (`cc_dump or shard.cc_dump`)."""
    dumps = string_column(batch, "cc_dump")
    return pc.if_else(pc.fill_null(pc.equal(dumps, ""), True), pa.scalar(html.shard.cc_dump, pa.string()), dumps)


def image_slots(count: int, image_at: np.ndarray, stored: dict[int, Picture], slot_type: pa.DataType) -> pa.Array:
    """The `images` entries of all positions: null but where an image's bytes are stored. Under a null entry
    the children hold empty values, as `pa.Table.from_pylist` leaves them (`parquet.arrow_bytes` counts them)."""
    data, paths = [b""] * count, [""] * count
    for k, picture in stored.items():
        data[image_at[k]], paths[image_at[k]] = picture.data, picture.path
    empty = np.ones(count, bool)
    empty[image_at[list(stored)]] = False
    children = [binary_array(data), pa.array(paths, pa.string())] if stored else \
        [empty_strings(count, pa.binary()), empty_strings(count, pa.string())]
    return pa.StructArray.from_arrays(children, fields=list(slot_type), mask=pa.array(empty))


def empty_strings(count: int, kind: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(kind, count, [None, pa.py_buffer(np.zeros(count + 1, np.int32)), pa.py_buffer(b"")])


@dataclass
class HtmlPictures:
    """The images of a batch's documents, in order: what `image_info` says of each, and those with bytes."""

    count: int
    status: pa.Array
    error: pa.Array
    width: pa.Array
    height: pa.Array
    stored: dict[int, Picture]   # image number -> its picture, when the img2dataset folder holds its bytes


def html_pictures(html: HtmlFile, urls: pa.Array) -> HtmlPictures:
    """What `DownloadedImages.picture` says of each URL; only URLs the img2dataset folder lists are looked up."""
    count = len(urls)
    missing = "no img2dataset folder" if html.downloads is None else "URL not in the img2dataset folder"
    listed = [] if html.downloads is None or not count else \
        np.flatnonzero(pc.is_in(urls, value_set=html.downloads.urls).to_numpy(zero_copy_only=False))
    if not len(listed):
        return HtmlPictures(count, constant(NOT_DOWNLOADED, count), constant(missing, count),
                            pa.nulls(count, pa.int32()), pa.nulls(count, pa.int32()), {})
    pictures = [Picture(status=NOT_DOWNLOADED, error=missing)] * count
    for k, url in zip(listed, urls.take(pa.array(listed)).to_pylist()):
        pictures[k] = html.downloads.picture(url)
    return HtmlPictures(count, pa.array([p.status for p in pictures], pa.string()),
                        pa.array([p.error for p in pictures], pa.string()),
                        pa.array([p.width for p in pictures], pa.int32()),
                        pa.array([p.height for p in pictures], pa.int32()),
                        {k: p for k, p in enumerate(pictures) if p.data is not None})


def image_metadata(batch: pa.RecordBatch, image_offsets: np.ndarray) -> pa.Array:
    """Each image's `image_info[].metadata` JSON: its entry of each per-image side column its document has, by
    column name (`per_image_fields`); null for the images of a document that has none."""
    count = int(image_offsets[-1])
    document_of = np.repeat(np.arange(batch.num_rows), np.diff(image_offsets))
    described, members = np.zeros(count, bool), []
    for name in HTML_PER_IMAGE_COLUMNS:
        if name not in batch.schema.names or pa.types.is_null(batch.schema.field(name).type):
            continue
        column = string_lists(batch.column(name))
        has = column.is_valid().to_numpy(zero_copy_only=False)[document_of]
        entries = pc.list_flatten(column)   # one per image of the documents that have the column (checked)
        if not has.all():
            entries = entries.take(pa.array(np.cumsum(has) - 1, mask=~has))
        member = pc.binary_join_element_wise(f', "{name}": ', json_strings(entries).fill_null("null"), "")
        members.append(member if has.all() else pc.if_else(pa.array(has), member, ""))
        described |= has
    if not members:
        return pa.nulls(count, pa.string())
    joined = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*members, ""), 2)   # less the first ", "
    return pc.binary_join_element_wise("{", joined, "}", empty_or_null(described), "")


def empty_or_null(valid: np.ndarray) -> pa.Array:
    """"" where `valid`, else null: joined to strings (binary_join_element_wise), it makes them null there with
    no bytes behind the null, as `pa.array` leaves a null (`pc.if_else` keeps the bytes, which the
    weight of a table counts: `parquet.arrow_bytes`)."""
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), len(valid), [bitmap, pa.py_buffer(np.zeros(len(valid) + 1, np.int32)),
                                                           pa.py_buffer(b"")])


JSON_ESCAPED = r'[\x00-\x1f"\\]'
"""Characters json.dumps escapes in a string with ensure_ascii=False."""


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as json.dumps writes it (null stays null): quoted, with the rare escaped ones made by json."""
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    escaped = pc.match_substring_regex(values, JSON_ESCAPED).fill_null(False)
    if not pc.any(escaped).as_py():
        return quoted
    texts = values.filter(escaped).to_pylist()
    return pc.replace_with_mask(quoted, escaped, pa.array([json.dumps(t, ensure_ascii=False) for t in texts],
                                                          pa.string()))


class ByteBatches:
    """Tables cut where `core.batched` closes a batch: after the row whose weight makes the total reach `limit`."""

    def __init__(self, limit: int):
        self.limit, self.pieces, self.total = limit, [], 0

    def add(self, table: pa.Table, weights: np.ndarray) -> Iterator[pa.Table]:
        start = 0
        while start < table.num_rows:
            totals = self.total + np.cumsum(weights[start:])
            full = np.flatnonzero(totals >= self.limit)
            if not len(full):
                self.pieces.append(table.slice(start))
                self.total = int(totals[-1])
                return
            stop = start + int(full[0]) + 1
            self.pieces.append(table.slice(start, stop - start))
            yield self._take()
            start = stop

    def finish(self) -> Iterator[pa.Table]:
        if self.pieces:
            yield self._take()

    def _take(self) -> pa.Table:
        """The pieces as one table, chunked as they came: written, it makes the bytes one chunk would make, and it
        weighs the same (`parquet.arrow_bytes`)."""
        table = pa.concat_tables(self.pieces)
        self.pieces, self.total = [], 0
        return table


# ---- column helpers ----

def string_lists(array: pa.Array) -> pa.Array:
    return array if array.type == pa.list_(pa.string()) else array.cast(pa.list_(pa.string()))


def list_lengths(array: pa.Array) -> np.ndarray:
    """Each list's length, -1 for a null list."""
    return pc.list_value_length(array).fill_null(-1).to_numpy().astype(np.int64)


def value_positions(array: pa.Array, chosen: np.ndarray) -> np.ndarray:
    """The indexes in `array.values` of the entries of the chosen lists, in order."""
    offsets = array.offsets.to_numpy().astype(np.int64)
    starts, lengths = offsets[:-1][chosen], np.diff(offsets)[chosen]
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum(), dtype=np.int64)


def valid_values(array: pa.Array) -> np.ndarray:
    """Which values (of a list array: which entries of its `values`) are not null."""
    values = array.values if isinstance(array, pa.ListArray) else array
    return values.is_valid().to_numpy(zero_copy_only=False)


def constant(value: str, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), count)


def string_column(batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    return batch.column(name).cast(pa.string())


# ---- pdf and arxiv tars -------------------------------------------------------------------------------------

@dataclass
class TarSample:
    """The members of one document in a tar: its JSON (parsed) and its TIFF or image members."""

    key: str
    document: dict | None = None
    notes: list[str] = field(default_factory=list)
    tiff: bytes | None = None
    members: dict[str, bytes] = field(default_factory=dict)     # image members by name, in tar order
    error: RawDataError | None = None

    @property
    def wanted(self) -> int:
        return sum(ref is not None for ref in self.document["images"])

    def named(self, name: str) -> bool:
        return name in self.document["images"]

    def claims(self, name: str, stem: str, ext: str) -> bool:
        """Whether a TIFF or image member belongs to this document (by key, by name, or as `<key>_<k>`)."""
        if ext in TIFF_EXTENSIONS:
            return stem == self.key
        return self.named(name) or stem == self.key or (
            stem[:len(self.key) + 1] in (self.key + "_", self.key + ".") and stem[len(self.key) + 1:].isdigit())

    def attach(self, name: str, ext: str, data: bytes) -> None:
        if ext in TIFF_EXTENSIONS:
            self.tiff = data
        else:
            self.members[name] = data

    @property
    def complete(self) -> bool:
        return self.tiff is not None or len(self.members) >= self.wanted


def tar_rows(shard: Shard, log: RecordLog) -> Iterator[dict]:
    """The rows of one PDF / ArXiv tar, each document a record (a damaged one is raised or skipped by policy)."""
    return log.converted(tar_samples(shard.path), lambda sample: (shard.path, sample.key),
                         lambda sample: tar_row(sample, shard, log))


def tar_samples(path: str) -> Iterator[TarSample]:
    """The documents of one tar, read as a stream: a document is yielded as soon as its JSON and its images
    have been seen, whatever their order; members never claimed by a JSON of this tar are yielded as errors."""
    pending: dict[str, TarSample] = {}
    strays: dict[str, tuple[str, str, bytes]] = {}     # unclaimed member name -> (stem, ext, bytes)
    finished: dict[str, int] = {}      # key of each document yielded -> its number of images
    unreadable: set[str] = set()       # keys already rejected: their other members are part of that rejection
    try:
        with tarfile.open(path, "r|") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                name = member.name.rsplit("/", 1)[-1]
                stem, _, ext = name.rpartition(".")
                ext = ext.lower()
                try:
                    data = read_tar_member(archive, member, MEDIA_MEMBER_LIMIT, f"{path}:{member.name}")
                except RawDataError as error:  # the document is rejected once, its other members with it
                    error.record = stem
                    unreadable.add(stem)
                    pending.pop(stem, None)
                    yield TarSample(stem, error=error)
                    continue
                if stem in unreadable:
                    continue
                if ext == "json":
                    if stem in pending or stem in finished:
                        yield TarSample(stem, error=RawDataError(
                            path, f"a second {name} in this tar", record=stem,
                            hint="document keys must be unique within a tar; the tar is damaged"))
                        continue
                    sample = TarSample(stem)
                    try:
                        sample.document, sample.notes = parse_document_json(data, f"{path}:{name}")
                    except RawDataError as error:
                        sample.error = error
                        unreadable.add(stem)
                        yield sample
                        continue
                    for stray in [n for n, (s, e, _) in strays.items() if sample.claims(n, s, e)]:
                        sample.attach(stray, strays[stray][1], strays.pop(stray)[2])
                elif ext in TIFF_EXTENSIONS or ext in IMAGE_EXTENSIONS:
                    sample = next((s for s in pending.values() if s.claims(name, stem, ext)), None)
                    if sample is None:
                        strays[name] = (stem, ext, data)
                        continue
                    sample.attach(name, ext, data)
                else:
                    yield TarSample(stem, error=RawDataError(
                        path, f"unexpected member {name} (neither .json, .tiff nor an image)", record=stem,
                        hint="MINT-1T tars hold <key>.json with <key>.tiff or image members"))
                    continue
                if sample.complete:
                    pending.pop(sample.key, None)
                    finished[sample.key] = sample.wanted
                    yield sample
                else:
                    pending[sample.key] = sample
    except (tarfile.TarError, EOFError, OSError) as e:
        raise RawDataError(path, f"the tar is corrupt or truncated ({e})",
                           hint="download this tar again (its size must match the Hub's)") from None
    yield from pending.values()
    for name, (stem, _, _) in strays.items():
        if stem in unreadable:
            continue
        problem = (f"{name} is one member too many: {stem}.json lists {finished[stem]} image(s), all found before it"
                   if stem in finished else f"{name} has no {stem}.json in this tar")
        yield TarSample(stem, error=RawDataError(path, problem, record=stem,
                                                 hint="a document's members must all be in the same tar"))


PDF_TYPED_KEYS = ("texts", "images", "image_metadata", "url", "pdf_name", "language_id_whole_page_fasttext",
                  "previous_word_count", "bff_contained_ngram_count_before_dedupe")


def tar_row(sample: TarSample, shard: Shard, log: RecordLog) -> dict:
    """The row of one document; what it keeps of unknown keys and unmatched image metadata is counted in `log`.
    A document whose members could not be read raises the error `tar_samples` found."""
    if sample.error:
        raise sample.error
    document, notes = sample.document, list(sample.notes)
    texts, refs = document["texts"], document["images"]
    check_interleaving(texts, refs)
    names = [ref for ref in refs if ref is not None]
    if sample.tiff is not None:
        pictures = tiff_pictures(sample.tiff, sample.key, len(names))
    else:
        pictures = member_pictures(sample, names)
    for picture, name in zip(pictures, names):
        picture.name = name
    metadata = {k: v for k, v in document.items() if k not in PDF_TYPED_KEYS}
    events = Counter(f"documents with the unknown JSON key '{key}' (kept in metadata)" for key in metadata)
    events.update(describe_pdf_images(document.get("image_metadata"), pictures, metadata, notes))
    language = document.get("language_id_whole_page_fasttext")
    row = assemble_row(
        key=sample.key, subset=shard.subset, cc_dump=shard.cc_dump, url=typed(document, "url", str, metadata, notes),
        source_file=shard.relative, texts=texts, image_urls=[None] * len(refs), pictures=pictures,
        pdf_name=typed(document, "pdf_name", str, metadata, notes),
        language_scores=language_scores(language, metadata, notes),
        previous_word_count=typed(document, "previous_word_count", int, metadata, notes),
        bff_contained_ngram_count_before_dedupe=typed(document, "bff_contained_ngram_count_before_dedupe", int,
                                                      metadata, notes),
        metadata=metadata, notes=notes)
    for key in document:
        if key not in PDF_TYPED_KEYS:
            log.notice(f"unknown key '{key}' in the document JSON of MINT-1T tars: kept by name in the `metadata` "
                       "JSON column")
    for what, n in sorted(events.items()):
        log.count(what, n)
    return row


def tiff_pictures(tiff: bytes, key: str, count: int) -> list[Picture]:
    try:
        frames = read_tiff(tiff)
    except ValueError as e:
        raise RawDataError(None, f"{key}.tiff is not a readable TIFF ({e})",
                           hint="download the tar again; if it persists the release's file is damaged") from None
    if len(frames) != count:
        raise RawDataError(None, f"{key}.tiff has {len(frames)} frame(s) but the JSON lists {count} image(s)",
                           hint="frame k must be the k-th non-null entry of `images`; revisions before the Hub's "
                                "'fix-tiff-mismatch' commits have such documents: download the current revision")
    return [frame_picture(tiff, frame, f"{key}_{k}") for k, frame in enumerate(frames)]


def member_pictures(sample: TarSample, names: list[str]) -> list[Picture]:
    """Images stored one per member: matched by the names in `images`, else in the order of their `_<k>` suffix."""
    if names and all(n in sample.members for n in names):
        chosen = [(n, sample.members[n]) for n in names]
    else:
        chosen = [(n, sample.members[n]) for n in natural_sorted_names(sample.members)]
    if len(chosen) != len(names):
        raise RawDataError(None, f"the JSON lists {len(names)} image(s) but the tar holds no {sample.key}.tiff and "
                                 f"{len(chosen)} image member(s)",
                           hint="each image needs a frame of <key>.tiff or its own member in the same tar")
    return [stored_picture(data, name) for name, data in chosen]


def natural_sorted_names(names) -> list[str]:
    return [p.as_posix() for p in natural_sorted(Path(n) for n in names)]


IMAGE_METADATA_TYPED = ("page", "xref", "sha256", "width", "height")
NO_ENTRY = "images without an image_metadata entry of their page and xref"
UNMATCHED_ENTRIES = "image_metadata entries matching no image (kept in metadata)"


def describe_pdf_images(image_metadata, pictures: list[Picture], metadata: dict, notes: list[str]) -> Counter:
    """Type each picture's `image_metadata` entry into it; return the events to count.

    A PDF image's entry is the one with the page and xref of its token `page_<page>_image_<xref>`: entries
    are not in `images` order when several images share a page (the maintainer, mlfoundations/MINT-1T#9),
    so a position would give an image its neighbour's hash and size. A token without an entry and an entry
    without a token are both noted and counted; such entries are kept in `metadata`. Names that are not
    PDF tokens (arxiv) can only be matched by position, and only when there is one entry per image.
    """
    events: Counter = Counter()
    tokens = [PDF_TOKEN.fullmatch(p.name or "") for p in pictures]
    if image_metadata is None and not any(tokens):
        return events
    entries = [] if image_metadata is None else image_metadata
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        metadata["image_metadata"] = image_metadata
        notes.append("image_metadata is not a list of objects: kept whole in metadata")
        events["documents whose image_metadata is not a list of objects (kept in metadata)"] += 1
        return events
    if any(tokens):
        chosen, shared = entries_by_page_and_xref(tokens, entries)
        for k in shared:
            notes.append(f"image {k} ({pictures[k].name}) shares the image_metadata entry of an earlier image "
                         "with the same page and xref")
            events["images sharing the image_metadata entry of an earlier image (same page and xref)"] += 1
    elif len(entries) == len(pictures):
        chosen = list(range(len(entries)))
        if entries:
            events["documents whose image_metadata is matched by position (image names are not "
                   "page_P_image_XREF)"] += 1
    else:
        metadata["image_metadata"] = image_metadata
        notes.append(f"image_metadata has {len(entries)} entries for {len(pictures)} images whose names are not "
                     "page_P_image_XREF tokens: kept whole in metadata")
        events["documents whose image_metadata cannot be matched to their images (kept in metadata)"] += 1
        return events
    for k, (index, picture) in enumerate(zip(chosen, pictures)):
        if index is None:
            notes.append(f"image {k} ({picture.name}) has no image_metadata entry")
            events[NO_ENTRY] += 1
            continue
        entry = entries[index]
        extra = {key: value for key, value in entry.items() if key not in IMAGE_METADATA_TYPED}
        events.update(f"image_metadata entries with the unknown key '{key}' (kept in image_info[].metadata)"
                      for key in extra)
        where = f"image_metadata[{index}]."
        picture.page = typed(entry, "page", int, extra, notes, where)
        picture.xref = typed(entry, "xref", int, extra, notes, where)
        picture.sha256 = typed(entry, "sha256", str, extra, notes, where)
        declared = (entry.get("width"), entry.get("height"))
        if declared != (None, None) and declared != (picture.width, picture.height):
            extra.update(width=declared[0], height=declared[1])
            if picture.width is not None:
                notes.append(f"image {k}: image_metadata says {declared[0]}x{declared[1]}, "
                             f"the stored image is {picture.width}x{picture.height}")
        picture.metadata = extra or None
    unmatched = sorted(set(range(len(entries))) - set(chosen))
    if unmatched:
        metadata["image_metadata"] = [entries[i] for i in unmatched]
        described = ", ".join(f"[{i}] (page {entries[i].get('page')!r:.20}, xref {entries[i].get('xref')!r:.20})"
                              for i in unmatched)
        notes.append(f"image_metadata {described} match(es) no image of the document: kept in metadata")
        events[UNMATCHED_ENTRIES] += len(unmatched)
    return events


def entries_by_page_and_xref(tokens: list, entries: list[dict]) -> tuple[list[int | None], list[int]]:
    """For each token (a `PDF_TOKEN` match, or None), the index of its entry or None; and the images that
    share the entry of an earlier one (the same picture drawn twice on a page, with a single entry)."""
    free: dict[tuple[int, int], list[int]] = {}
    for index, entry in enumerate(entries):
        place = (as_int(entry.get("page")), as_int(entry.get("xref")))
        if None not in place:
            free.setdefault(place, []).append(index)
    taken: dict[tuple[int, int], int] = {}
    chosen: list[int | None] = []
    shared: list[int] = []
    for k, token in enumerate(tokens):
        if token is None:
            chosen.append(None)
            continue
        place = (int(token.group(1)), int(token.group(2)))
        if free.get(place):
            taken[place] = free[place].pop(0)
            chosen.append(taken[place])
        else:
            chosen.append(taken.get(place))
            if place in taken:
                shared.append(k)
    return chosen, shared


def language_scores(value, metadata: dict, notes: list[str]) -> list[dict] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in value.values()):
        return [{"language": str(language), "score": float(score)} for language, score in value.items()]
    metadata["language_id_whole_page_fasttext"] = value
    notes.append("language_id_whole_page_fasttext is not a {language: score} object: kept in metadata")
    return None


def typed(record: dict, key: str, kind: type, metadata: dict, notes: list[str], where: str = ""):
    """A release field of the expected type, or None with the value kept in `metadata` and a note."""
    value = record.get(key)
    if value is None:
        return None
    converted = as_int(value) if kind is int else value if isinstance(value, kind) else None
    if converted is None:
        metadata[key] = value
        notes.append(f"{where}{key} is {value!r:.40}, not {'an integer' if kind is int else 'a string'}: "
                     "kept in metadata")
    return converted


def as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# ---- pure parsing functions ---------------------------------------------------------------------------------

_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_document_json(data: bytes, where: str) -> tuple[dict, list[str]]:
    """A document JSON member → (document, repairs). Invalid UTF-8 and unpaired surrogate escapes (both
    unrepresentable in Arrow) become U+FFFD and are noted; NaN / Infinity are accepted as Python's json writes them."""
    notes = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        notes.append(f"the JSON member is not valid UTF-8 (first bad byte at offset {e.start}): "
                     "undecodable bytes were replaced by U+FFFD")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise RawDataError(where, f"invalid JSON ({e.msg})", line=e.lineno,
                           hint="the member is damaged; download the tar again") from None
    if not isinstance(document, dict):
        raise RawDataError(where, f"the JSON is a {type(document).__name__}, expected an object")
    if _LONE_SURROGATE_ESCAPE.search(data):
        document, replaced = replace_surrogates(document)
        if replaced:
            notes.append(f"{replaced} unpaired UTF-16 surrogate escape(s) replaced by U+FFFD")
    for key in ("texts", "images"):
        if not isinstance(document.get(key), list):
            raise RawDataError(where, f"the JSON has no {key!r} list",
                               hint="MINT-1T documents hold parallel 'texts' and 'images' lists")
    return document, notes


def replace_surrogates(value) -> tuple[object, int]:
    """The value with every lone surrogate in its strings (keys included) replaced, and how many there were."""
    if isinstance(value, str):
        fixed, count = _SURROGATE.subn("\ufffd", value)
        return fixed, count
    if isinstance(value, list):
        items = [replace_surrogates(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        items = [(replace_surrogates(k), replace_surrogates(v)) for k, v in value.items()]
        return {k: v for (k, _), (v, _) in items}, sum(a + b for (_, a), (_, b) in items)
    return value, 0


def check_interleaving(texts, images) -> None:
    """The OBELICS invariant: equal lengths and exactly one of text / image at every position."""
    if not isinstance(texts, list) or not isinstance(images, list):
        raise RawDataError(None, "texts and images must both be lists",
                           hint="the record is damaged; skip it with --on-error skip")
    if len(texts) != len(images):
        raise RawDataError(None, f"texts has {len(texts)} entries but images has {len(images)}",
                           hint="the lists must be parallel; skip the record with --on-error skip")
    for i, (text, image) in enumerate(zip(texts, images)):
        if (text is None) == (image is None):
            which = "neither a text nor an image" if text is None else "both a text and an image"
            raise RawDataError(None, f"position {i} holds {which}",
                               hint="exactly one of texts[i] / images[i] must be non-null")
        if not isinstance(text if text is not None else image, str):
            field_name = "texts" if text is not None else "images"
            raise RawDataError(None, f"{field_name}[{i}] is a {type(text if text is not None else image).__name__}, "
                                     "expected a string or null")


def parse_json_text(value, what: str, notes: list[str]):
    """A string column holding JSON → its value; text that is not JSON is kept as the string, with a note."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        notes.append(f"{what} is not valid JSON: kept as a string")
        return value


# ---- images: TIFF frames and single images ------------------------------------------------------------------

@dataclass
class Picture:
    """One image position of a document: its bytes (or why there are none) and what the release says about it."""

    data: bytes | None = None
    path: str | None = None
    status: str = OK
    error: str | None = None
    width: int | None = None
    height: int | None = None
    name: str | None = None
    page: int | None = None
    xref: int | None = None
    sha256: str | None = None
    metadata: dict | None = None


def stored_picture(data: bytes, path: str) -> Picture:
    """A standalone image file kept as is; checked from its header only (decoding all would dominate the build)."""
    image = probe_image(data)
    if image.problem:
        return Picture(status=UNDECODABLE, error=f"{path}: {image.problem}")
    width, height = image.size
    return Picture(data, path, width=width, height=height)


def frame_picture(tiff: bytes, frame: TiffFrame, stem: str) -> Picture:
    """One TIFF frame as a standalone image, its compressed data copied verbatim (see `media.tiff.frame_image`)."""
    try:
        width, height = frame.int(WIDTH), frame.int(HEIGHT)
    except ValueError as e:  # a damaged size tag: the frame cannot be placed, the document is still kept
        return Picture(status=UNDECODABLE, error=f"{stem}: {e}")
    try:
        data, extension = frame_image(tiff, frame)
    except ValueError as e:
        return Picture(status=UNDECODABLE, error=f"{stem}: {e}", width=width, height=height)
    return Picture(data, f"{stem}.{extension}", width=width, height=height)


# ---- row assembly ---------------------------------------------------------------------------------------------

def assemble_row(*, key: str, subset: str, cc_dump: str | None, url: str | None, source_file: str, texts: list,
                 image_urls: list, pictures: list[Picture], metadata: dict, notes: list[str], pdf_name=None,
                 language_scores=None, previous_word_count=None, bff_contained_ngram_count_before_dedupe=None) -> dict:
    """A row of the shared schema; `pictures` describe the image positions (where `texts` is null) in order."""
    images, slots = [], iter(pictures)
    for text in texts:
        picture = next(slots) if text is None else None
        images.append({"bytes": picture.data, "path": picture.path} if picture and picture.data is not None else None)
    return {
        "key": key, "subset": subset, "cc_dump": cc_dump, "url": url, "source_file": source_file,
        "texts": texts, "images": images, "image_urls": image_urls,
        "image_info": [{"name": p.name, "status": p.status, "error": p.error, "width": p.width, "height": p.height,
                        "page": p.page, "xref": p.xref, "sha256": p.sha256,
                        "metadata": to_json(p.metadata, f"image {k} metadata", notes)}
                       for k, p in enumerate(pictures)],
        "pdf_name": pdf_name, "language_scores": language_scores, "previous_word_count": previous_word_count,
        "bff_contained_ngram_count_before_dedupe": bff_contained_ngram_count_before_dedupe,
        "metadata": to_json(metadata or None, "metadata", notes),
        "notes": notes,
    }


def to_json(value, what: str, notes: list[str]) -> str | None:
    """Standard JSON text for a Json column; NaN / Infinity, which JSON cannot hold, become null (noted)."""
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except ValueError:
        notes.append(f"non-finite numbers in {what} stored as null")
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
