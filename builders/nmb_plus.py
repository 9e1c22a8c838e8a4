"""NewsMediaBias-Plus (NMB+): news articles with their top image and bias / disinformation likelihood labels.

The Vector Institute scraped about 50 English-language outlets (2023-05 → 2024-09) and labelled each
article twice: from its text, and from its first paragraph together with its top image. The data
exists on disk in six forms, each a config here, each in its own folder of the data directory:

- `gen_b/`: the current Hub release (Feb 2025), `data/dataset_cleaned.parquet`, nine columns with the
  image as a file path; the image bytes come from the Zenodo download in `zenodo/`.
- `zenodo/`: Zenodo record 13961155 (Oct 2024), "the dataset in Parquet format, along with the
  corresponding images" (the authors' docs): its table, whose `image` column is a file path, and the
  images, as a folder or as the downloaded .zip. Its file names are not verified, so any Parquet file
  there is a table and any other file (or .zip member) that is not documentation is an image.
- `gen_a/`: the 2024 Hub release, `data/train-NNNNN-of-NNNNN.parquet`, 13 columns with the image
  embedded as a `datasets` Image struct.
- `VLDBench/`: the VLDBench benchmark sample of the GitHub repository (`data/metadata.csv` |
  `.parquet` | `.json` with the 13 columns plus `saved_image_path`, the image column a stringified PIL
  object) and `images/<id>.png`.
- `vldbench_hub/`: the Hub's vector-institute/VLDBench, Parquet with the images embedded.
- `raw_scrape/`: the scraper's own output, a CSV per run, `images/<unique_id>.<ext>` whose extension
  may not match the bytes (some are SVG), and, for `newsscrapper-otherlist.py`, `content/<id>.txt`:
  that script stores in `content` the path of the text file, not the text.

Label strings drifted between releases (`Likely`, `Likely to Bias`, `Likely to be Unbiased`, ...): they
are normalised into one ClassLabel and the release's string is kept next to it. Text read from CSV
is repaired where the release mangled its encoding (cp1252 bytes, UTF-8 decoded twice), and every
repair is listed in the row. Images keep the release's bytes; an image Pillow cannot decode (SVG,
corrupt bytes) is not put in the Image column but kept as bytes with its status. A column no field
stands for is kept, as JSON, in `other_columns`, and named in a build notice.
"""
from __future__ import annotations

import ast
import base64
import csv
import functools
import json
import math
import os
import re
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path, PureWindowsPath
from typing import Any, Iterable, Iterator

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Image, Json, Value

from .archives import MEDIA_MEMBER_LIMIT, ZipDirectory
from .core import ExcludeBy, MMConfig, MultimodalBuilder, RawPart, batched, first_existing, group_by_count
from .coverage import sorted_files_below
from .errors import RawDataError, RecordLog, not_utf8
from .media.image import EXTENSIONS, image_truncated, probe_image, sniff_format
from .outputs import as_list
from .parquet import batch_reader

# ---- metadata --------------------------------------------------------------------------------------

LABEL_NAMES = ["likely_unbiased", "likely_biased"]
IMAGE_STATUSES = ["ok", "no_image", "file_missing", "svg", "unreadable"]
REPAIR_KINDS = ["cp1252_bytes", "double_encoded_utf8"]

SHARD_ROWS = 1000
"""Records per shard job: with the images of the 2024 release embedded, about 100-200 MB of Parquet."""

CSV_FIELD_LIMIT = 2**31 - 1
"""A whole article is one CSV field: the csv module's default limit (128 KiB) would refuse long articles.
The limit is process-wide; musecar sets the same value, so the order of imports does not matter."""
csv.field_size_limit(CSV_FIELD_LIMIT)

VLDBENCH_METADATA = ("metadata.csv", "metadata.parquet", "metadata.json")
"""VLDBench ships the same table in three formats; the first one present is read."""

NOT_IMAGE_SUFFIXES = frozenset({".parquet", ".csv", ".tsv", ".json", ".jsonl", ".md", ".txt", ".py", ".ipynb",
                                ".html", ".htm", ".yaml", ".yml", ".pdf"})
"""Files in an image folder or archive that are never images (a table, a README): not looked up as images.
Anything else is, whatever its extension, because the scraper's extensions lie."""

COLUMN_ALIASES = {
    "unique_id": ("unique_id",),
    "outlet": ("outlet",),
    "headline": ("headline", "title"),
    "article_text": ("article_text", "content"),
    "first_paragraph": ("first_paragraph",),
    "image_description": ("image_description", "img_description"),
    "image": ("image", "top_image"),
    "saved_image_path": ("saved_image_path",),
    "date_published": ("date_published",),
    "url": ("url",),
    "article_url": ("article_url",),
    "source_url": ("source_url",),
    "canonical_link": ("canonical_link",),
    "categories": ("new_categories", "news_categories", "news_category"),
    "category_scores": ("news_categories_confidence_scores", "new_categories_confidence_scores",
                        "news_category_score"),
    "text_label": ("text_label", "nlp_label"),
    "multimodal_label": ("multimodal_label", "nlp_img_label"),
}
"""Output field -> the column names the releases use for it (matched case-insensitively, first found wins).
`news_category` / `news_category_score` are the names the Hub card of vector-institute/VLDBench lists."""

LOOKUP_FIELDS = ("image", "saved_image_path")
"""Fields read to find an article's image, whether or not the config outputs them."""

TEXT_FIELDS = ("outlet", "headline", "first_paragraph", "article_text", "image_description", "url", "article_url",
               "source_url", "canonical_link")
"""Fields whose encoding is repaired; only the prose ones (the first five) for UTF-8 decoded twice."""
PROSE_FIELDS = TEXT_FIELDS[:5]

CONTENT_FILE = re.compile(r"[^\r\n]{0,4000}\.txt", re.IGNORECASE)
"""A `content` value that is the path of a text file (`newsscrapper-otherlist.py` writes
`str(<output_dir>/content/<unique_id>.txt)`) rather than the article: one line ending in `.txt`."""

# ---- features, with the docs the card's field table is made of --------------------------------------

UNIQUE_ID = (Value("string"), "The release's article id, kept as a string (numeric in the Hub releases, 10 hex "
                              "characters of sha256(title) in the scraper and VLDBench).")
OUTLET = (Value("string"), "News outlet, as the release names it (e.g. `CNN`, `The Guardian US`).")
HEADLINE = (Value("string"), "Headline: the page title, often ending in ` - <outlet>` (`title` in the scraper CSV).")
ARTICLE_TEXT = (Value("string"), "Full article text, paragraphs separated by blank lines; can be empty "
                                 "(`content` in the scraper CSV, or the text file `content` names).")
IMAGE_DESCRIPTION = (Value("string"), "LLM-generated description of the top image (`img_description` in the "
                                      "current release); empty when the release has none.")
DATE_FIELDS = {
    "date_published": (Value("string"), "Publication date as written in the release (formats vary: `2024-03-10`, "
                                        "`2024-03-10 14:05:00+00:00`, with microseconds); null when empty or `NaT`."),
    "published_at": (Value("timestamp[us, tz=UTC]"), "`date_published` parsed, in UTC; a value without a time zone "
                                                     "is taken as UTC and a bare date as midnight; null when unparseable."),
}
IMAGE_FIELDS = {
    "image": (Image(), "The article's top image: the release's bytes, not re-encoded, when Pillow can decode them "
                       "(path `<unique_id>.<extension of the real format>`); null otherwise (see `image_status`)."),
    "image_status": (ClassLabel(names=IMAGE_STATUSES),
                     "ok: in `image`; no_image: the release has no image for the article; file_missing: the "
                     "release names an image file that is not in the raw data; svg: a vector image Pillow cannot "
                     "decode, bytes in `image_undecodable_bytes`; unreadable: bytes that are not a decodable "
                     "image (corrupt, truncated), kept in `image_undecodable_bytes`."),
    "image_format": (Value("string"), "Format read from the bytes' signature (jpeg, png, webp, gif, svg, ...), which "
                                      "need not match the file extension; null when unknown or no bytes."),
    "image_file": (Value("string"), "The image file as the release names it (embedded path, `image`, "
                                    "`saved_image_path` or `top_image`); null when it names none."),
    "image_undecodable_bytes": (Value("binary"), "The release's bytes when they are not a decodable image (status "
                                                 "svg or unreadable); null otherwise."),
}
LABEL_FIELDS = {
    "text_label": (ClassLabel(names=LABEL_NAMES), "Bias / disinformation likelihood judged from the article text "
                                                  "(`text_label`, `nlp_label` in the current release); null when the "
                                                  "release's value is missing or is none of the known forms."),
    "multimodal_label": (ClassLabel(names=LABEL_NAMES), "The same judged from the first paragraph and the top image "
                                                        "(`multimodal_label`, `nlp_img_label` in the current release)."),
    "text_label_raw": (Value("string"), "The release's text label string, unnormalised (`Likely`, `Likely to Bias`, "
                                        "`Likely to be Unbiased`, ...)."),
    "multimodal_label_raw": (Value("string"), "The release's multimodal label string, unnormalised."),
}
TEXT_REPAIRS = ([{
    "field": (Value("string"), "The repaired field."),
    "kind": (ClassLabel(names=REPAIR_KINDS), "cp1252_bytes: bytes that were not UTF-8 read as Windows-1252; "
                                             "double_encoded_utf8: UTF-8 that had been decoded as Windows-1252 and "
                                             "encoded again (`â€œ` back to `“`)."),
}], "Encoding repairs made to this row's text, in field order; empty when the release's text was used as is.")
CATEGORY_FIELDS = {
    "categories": ([(Value("string"), "A news category.")],
                   "News categories, parsed from the release's numpy-style list string "
                   "(`['Politics' 'Opinion/Editorial']`); a value that is not a list is one category."),
    "category_scores": ([(Value("float64"), "A confidence score.")],
                        "Confidence of each category, same order as `categories` (`[0.95 0.9 ]` in the release); "
                        "empty when the release gives none."),
}
OTHER_COLUMNS = (Json(), "Every column of the release that no field of this config stands for, by its release name "
                         "(values as JSON; binary values as `{\"base64\": ...}`); null when the file has none. Each "
                         "such column is also named in a build notice.")
ARTICLE_HEAD = {"unique_id": UNIQUE_ID, "outlet": OUTLET, "headline": HEADLINE, "article_text": ARTICLE_TEXT}
SOURCE_URL = (Value("string"), "The outlet's home page (e.g. `https://www.ft.com`), despite the name.")
CANONICAL_LINK = (Value("string"), "The article's canonical URL.")
V1_FIELDS = {
    **ARTICLE_HEAD, **DATE_FIELDS, "source_url": SOURCE_URL, "canonical_link": CANONICAL_LINK,
    **CATEGORY_FIELDS, "image_description": IMAGE_DESCRIPTION, **IMAGE_FIELDS, **LABEL_FIELDS,
    "text_repairs": TEXT_REPAIRS, "other_columns": OTHER_COLUMNS,
}
ZENODO_FIELDS = {
    **ARTICLE_HEAD, **DATE_FIELDS, "source_url": SOURCE_URL, "canonical_link": CANONICAL_LINK,
    "url": (Value("string"), "The article's URL when the table has a `url` column (the Feb 2025 schema); null "
                             "otherwise (the Zenodo page documents `source_url` and `canonical_link` instead)."),
    **CATEGORY_FIELDS, "image_description": IMAGE_DESCRIPTION, **IMAGE_FIELDS, **LABEL_FIELDS,
    "text_repairs": TEXT_REPAIRS, "other_columns": OTHER_COLUMNS,
}
CURRENT_FIELDS = {
    **ARTICLE_HEAD, "url": (Value("string"), "The article's URL."), "image_description": IMAGE_DESCRIPTION,
    **IMAGE_FIELDS, **LABEL_FIELDS, "text_repairs": TEXT_REPAIRS, "other_columns": OTHER_COLUMNS,
}
SCRAPE_FIELDS = {
    "unique_id": UNIQUE_ID, "outlet": OUTLET, "headline": HEADLINE,
    "first_paragraph": (Value("string"), "The scraper's `first_paragraph`: the first five lines of the text joined."),
    "article_text": ARTICLE_TEXT,
    "article_text_file": (Value("string"), "The text file `content` names, as written (`newsscrapper-otherlist.py` "
                                           "stores the article in `<output_dir>/content/<unique_id>.txt` and its path "
                                           "in the CSV); its text is in `article_text`. Null when `content` held "
                                           "the text itself (`news_scrapper.py`)."),
    **DATE_FIELDS,
    "article_url": (Value("string"), "The URL the scraper fetched (`article_url`)."),
    "canonical_link": (Value("string"), "The page's canonical URL."),
    "source_url": (Value("string"), "The outlet's home page."),
    **IMAGE_FIELDS, "text_repairs": TEXT_REPAIRS, "other_columns": OTHER_COLUMNS,
}

# ---- configs ------------------------------------------------------------------------------------------

RAW_PARTS = {
    "current_table": RawPart("gen_b/data/dataset_cleaned.parquet (the current Hub release of "
                             "vector-institute/newsmediabias-plus)"),
    "zenodo_table": RawPart("zenodo/*.parquet: the table of Zenodo record 13961155 (any Parquet file in zenodo/)"),
    "zenodo_images": RawPart("zenodo/: the images of Zenodo record 13961155, extracted or as the downloaded .zip"),
    "v1_tables": RawPart("gen_a/data/*.parquet (the 2024 Hub release: 13 columns, images embedded)"),
    "vldbench_metadata": RawPart("VLDBench/data/metadata.csv (or metadata.parquet / metadata.json)"),
    "vldbench_images": RawPart("VLDBench/images/<unique_id>.png"),
    "vldbench_hub": RawPart("vldbench_hub/**/*.parquet (the Hub's vector-institute/VLDBench, images embedded)"),
    "scrape_csv": RawPart("raw_scrape/*.csv with the scraper's columns (unique_id, title, content, top_image, ...)"),
    "scrape_images": RawPart("raw_scrape/images/ (the scraper's downloaded images)"),
}
IMAGE_PARTS = ("zenodo_images", "vldbench_images", "scrape_images")
"""Folders of which only the files some article names are read."""
IMAGE_FOLDER_OF = {"current": "zenodo_images", "zenodo": "zenodo_images", "vldbench": "vldbench_images",
                   "raw_scrape": "scrape_images"}
"""The raw part each config looks its image files up in (the other configs embed their images)."""

REQUIRED_COLUMNS = {
    "current": ("unique_id", "headline", "article_text", "image", "text_label", "multimodal_label"),
    "zenodo": ("unique_id", "headline", "article_text", "text_label", "multimodal_label"),
    "v1": ("unique_id", "headline", "article_text", "image", "text_label", "multimodal_label"),
    "vldbench": ("unique_id", "headline", "article_text", "text_label", "multimodal_label"),
    "vldbench_hub": ("unique_id", "headline", "article_text", "image", "text_label", "multimodal_label"),
    "raw_scrape": ("unique_id", "headline", "article_text"),
}

VERSION = datasets.Version("1.0.0")
CONFIGS = [
    MMConfig(name="current", version=VERSION, fields=CURRENT_FIELDS, requires=("current_table", "zenodo_images"),
             description="The current release (Hub, Feb 2025: dataset_cleaned.parquet) joined with its images "
                         "from the Zenodo download."),
    MMConfig(name="zenodo", version=VERSION, fields=ZENODO_FIELDS, requires=("zenodo_table", "zenodo_images"),
             description="Zenodo record 13961155 on its own (Oct 2024): its Parquet table, the image column a file "
                         "path, joined with the images shipped beside it."),
    MMConfig(name="v1", version=VERSION, fields=V1_FIELDS, requires=("v1_tables",),
             description="The 2024 release (Hub until Feb 2025): 13 columns with the images embedded, dates and "
                         "news categories."),
    MMConfig(name="vldbench", version=VERSION, fields=V1_FIELDS, requires=("vldbench_metadata", "vldbench_images"),
             description="The VLDBench benchmark sample of NMB+ in its GitHub repository (VectorInstitute/VLDBench): "
                         "the 2024 columns, images from its images/ folder."),
    MMConfig(name="vldbench_hub", version=VERSION, fields=V1_FIELDS, requires=("vldbench_hub",),
             description="VLDBench as published on the Hub (vector-institute/VLDBench): Parquet with the images "
                         "embedded, their bytes copied as they are."),
    MMConfig(name="raw_scrape", version=VERSION, fields=SCRAPE_FIELDS, requires=("scrape_csv", "scrape_images"),
             description="The scraper's output (CSV, images/ and, from newsscrapper-otherlist.py, content/*.txt), "
                         "before labelling: no labels, first paragraph and fetched URL kept."),
]

NOT_READ = (
    ("README*", "documentation of the upstream release or repository, not data"),
    ("VLDBench/data/metadata.[jp]*", "VLDBench ships one table in three formats; the first present of metadata.csv, "
                                 "metadata.parquet, metadata.json is read and the others hold the same rows (the "
                                 "repository's metadata.json is cut off at 7,428 bytes)"),
    ("VLDBench/data/load-data.py", "the repository's example loading script, not data"),
    ("VLDBench/code/", "the benchmark's evaluation code, not data"),
    ("VLDBench/docs/", "the benchmark's website, not data"),
    ("raw_scrape/deduped.csv", "news_scrapper.py's dedupe list (--dedupe_csv_name): ids of articles collected "
                               "before, read as articles only when it has the article columns"),
)


@dataclass(frozen=True)
class ParquetRows:
    """Rows [start, stop) of a Parquet file."""

    path: str
    start: int
    stop: int


@dataclass(frozen=True)
class CsvRecords:
    """The records of a CSV file between two byte offsets (record boundaries found while planning)."""

    path: str
    start: int
    stop: int
    first_line: int
    header: tuple[str, ...]


@dataclass(frozen=True)
class JsonRecords:
    """Records [start, stop) of a JSON file holding a list of records."""

    path: str
    start: int
    stop: int


class NmbPlus(MultimodalBuilder):
    NAME = "nmb_plus"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "current"
    EXCLUDABLE = {"article_id": ExcludeBy("unique_id"), "url": ExcludeBy("source_url", "url", "article_url"),
                  "url_prefix": ExcludeBy("source_url", "url", "article_url", prefix=True)}
    NOT_READ = NOT_READ

    def locate_raw(self, data_dir: Path) -> dict:
        vldbench, scrape, zenodo = data_dir / "VLDBench", data_dir / "raw_scrape", data_dir / "zenodo"
        return {
            "current_table": first_existing(data_dir / "gen_b" / "data" / "dataset_cleaned.parquet", accept=Path.is_file),
            "zenodo_table": _files(zenodo, "*.parquet"),
            "zenodo_images": _image_folder(zenodo),
            "v1_tables": _files(data_dir / "gen_a", "*.parquet"),
            "vldbench_metadata": first_existing(*(vldbench / "data" / name for name in VLDBENCH_METADATA),
                                                accept=Path.is_file),
            "vldbench_images": _image_folder(vldbench / "images"),
            "vldbench_hub": _files(data_dir / "vldbench_hub", "*.parquet"),
            "scrape_csv": tuple(p for p in sorted(scrape.glob("*.csv")) if is_scrape_csv(p)) or None,
            "scrape_images": _image_folder(scrape / "images"),
        }

    def input_files(self) -> list[Path]:
        paths = []
        for part in self.config.requires:
            location = self.raw.get(part)
            paths += list(location) if isinstance(location, tuple) else [location] if location else []
        return paths

    def read_paths(self) -> list[Path | str]:
        """The tables, and of the image folder (and content/ folder) only the files some article names."""
        tables = [path for part in self.config.requires if part not in IMAGE_PARTS
                  for path in as_list(self.raw.get(part))]
        return tables + sorted(self.references.files)

    def unread_reasons(self) -> dict[str, list[str]]:
        unused = sorted(self.references.unused_files)
        return {f"an image file no article of config '{self.config.name}' names": unused} if unused else {}

    @functools.cached_property
    def images(self) -> ImageStore | None:
        """The folder (or archive) the config's image files are looked up in; None when they are embedded (or
        the folder is missing, which `check_raw` refuses before a build)."""
        location = self.raw.get(IMAGE_FOLDER_OF.get(self.config.name, ""))
        return ImageStore(location) if location else None

    def shared_state(self) -> dict | None:
        """The image index: made again in every shard job, it cost each job a walk of the whole image folder
        (a build's time grew with the square of the number of articles)."""
        return None if self.images is None else {"images": self.images}

    def adopt_shared_state(self, state: dict) -> None:
        self.__dict__.update(state)  # the cached property's value

    def shares_state_with(self, config: str) -> bool:
        """`current` and `zenodo` find their images in zenodo/: the coverage of the one not built would index
        the folder again (14 MiB more at 30,000 images, held while the shard jobs run)."""
        return IMAGE_FOLDER_OF.get(config, "none") == IMAGE_FOLDER_OF.get(self.config.name)

    @property
    def used_fields(self) -> set[str]:
        """The fields a column can stand for in this config: its own, and those read to find the image."""
        return set(self.config.fields) | set(LOOKUP_FIELDS)

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list]:
        shards = self._planned = self._plan()
        for path, names in table_columns(shard for items in shards.values() for shard in items):
            kept = unmapped_columns(names, self.used_fields)
            if kept:
                log.notice(f"{self.relative(path)}: {len(kept)} column(s) no field stands for, kept in "
                           f"`other_columns`: {', '.join(kept)}")
        if self.images is not None and self.images.not_images:
            names = self.images.not_images
            log.notice(f"{self.relative(self.images.root)}: {len(names)} archive member(s) that are not images, not "
                       f"read: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
        unused = self.references.unused_images
        if unused:
            log.notice(f"{self.relative(self.images.root)}: {unused} image file(s) (or archive members) belong to "
                       f"no article of this config's table: not read (listed with the unread raw paths)")
        return shards

    def _plan(self) -> dict[str, list]:
        required = REQUIRED_COLUMNS[self.config.name]
        if self.config.name == "current":
            return {"train": plan_parquet(self.raw["current_table"], required)}
        if self.config.name in ("zenodo", "v1", "vldbench_hub"):
            part = {"zenodo": "zenodo_table", "v1": "v1_tables", "vldbench_hub": "vldbench_hub"}[self.config.name]
            shards: dict[str, list] = {}
            for path in self.raw[part]:
                shards.setdefault(split_of(path), []).extend(plan_parquet(path, required))
            return shards
        if self.config.name == "vldbench":
            return {"train": plan_table_file(self.raw["vldbench_metadata"], required)}
        return {"train": [shard for path in self.raw["scrape_csv"] for shard in plan_csv(path, required)]}

    @functools.cached_property
    def references(self) -> References:
        """The image files (or archives) and text files the articles name, found as `shard_rows` finds them."""
        images, texts_named = self.images, "article_text_file" in self.config.fields
        if images is None and not texts_named:  # images embedded: nothing outside the tables
            return References(frozenset(), 0)
        shards = getattr(self, "_planned", None) or self._plan()
        needed = {"unique_id", *LOOKUP_FIELDS} | ({"article_text"} if texts_named else set())
        found, texts = set(), set()
        for shard in (shard for items in shards.values() for shard in items):
            folder = Path(shard.path).parent
            for _, _, record in iter_records(shard, needed, keep_others=False):
                if isinstance(record, RawDataError):
                    continue
                names = image_lookup_names(record)
                if images is not None and names is not None:
                    key = images.find(names, normalise_id(record.get("unique_id")))
                    if key is not None:
                        found.add(key)
                name = content_file_name(record.get("article_text")) if texts_named else None
                text = name and locate_content_file(name, folder)
                if text:
                    texts.add(os.fspath(text))
        files = {images.file_of(key) for key in found} if images else set()
        unused = {images.file_of(key) for key in images.locations if key not in found} - files if images else set()
        return References(frozenset(files | texts), len(images.locations) - len(found) if images else 0,
                          frozenset(unused))

    # ---- table assembly --------------------------------------------------------------------------------

    def shard_rows(self, shard, log: RecordLog) -> Iterator[dict]:
        fields, images = list(self.info.features), self.images  # an unreadable archive fails the job, not a record
        folder = Path(shard.path).parent

        def article(item: tuple[str | None, int | None, dict[str, Any] | RawDataError]) -> dict:
            _, line, record = item
            if isinstance(record, RawDataError):
                raise record
            try:
                if "article_text_file" in fields:
                    record = with_text_from_file(record, folder)
                return assemble_article(record, images, fields)
            except RawDataError as error:
                if error.path is None:  # about the record itself, not about an image file it names
                    error.path, error.line = shard.path, line
                raise

        records = iter_records(shard, self.used_fields)
        for row in log.converted(records, locate=lambda item: (shard.path, item[0]), make=article):
            log.count(f"image_status {IMAGE_STATUSES[row['image_status']]}")  # rows without an image, and why
            yield row


@dataclass(frozen=True)
class References:
    """What the articles of a config name outside their table: files read, and image files nobody names."""

    files: frozenset[str]  # paths as strings: a Path per image interns its parts for the rest of the process
    unused_images: int
    unused_files: frozenset[str] = frozenset()  # image files no article names (not members of a read archive)


# ---- raw sources ------------------------------------------------------------------------------------------

def _files(folder: Path, pattern: str) -> tuple[Path, ...] | None:
    return tuple(sorted(p for p in folder.rglob(pattern) if p.is_file())) or None if folder.is_dir() else None


def is_image_candidate(name: str) -> bool:
    """A file an image folder or archive may hold an image in: not hidden, not documentation or a table."""
    base = name.rsplit("/", 1)[-1]
    return (bool(base) and not base.startswith(".") and not base.upper().startswith("README")
            and "__MACOSX/" not in name and suffix(base).lower() not in NOT_IMAGE_SUFFIXES)


def suffix(name: str) -> str:
    """`PurePosixPath(name).suffix` of a name without '/' (its rule, without making a path)."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _image_folder(folder: Path) -> Path | None:
    """The folder when it holds a possible image (or a .zip of them), else None."""
    if not folder.is_dir():
        return None
    return folder if any(p.is_file() and is_image_candidate(p.name) for p in folder.rglob("*")) else None


def split_of(path: Path) -> str:
    """The split a Hub Parquet file belongs to, from its name (`train-00000-of-00002.parquet`)."""
    prefix = path.name.split("-", 1)[0].lower()
    return {"val": "validation", "validation": "validation", "test": "test"}.get(prefix, "train")


def is_scrape_csv(path: Path) -> bool:
    """A scraper output CSV, as opposed to the scraper's list of already-seen ids kept in the same folder."""
    try:
        header = next(iter_csv_records(path)).fields
    except (StopIteration, RawDataError):
        return False
    return {"unique_id", "title", "content"} <= {name.strip().lower() for name in header}


def column_map(names: list[str], required: tuple[str, ...], path) -> dict[str, str]:
    """Output field -> the file's column for it; a file lacking a required column is refused as a whole."""
    by_lower = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    mapping = {}
    for field, aliases in COLUMN_ALIASES.items():
        column = next((by_lower[alias] for alias in aliases if alias in by_lower), None)
        if column is not None:
            mapping[field] = column
    missing = [field for field in required if field not in mapping]
    if missing:
        raise RawDataError(path, f"no column for {', '.join(missing)} (the file has: {', '.join(names)})",
                           hint="this is not an NMB+ table of the expected release, or it is truncated; "
                                f"accepted names: {'; '.join('/'.join(COLUMN_ALIASES[f]) for f in missing)}")
    return mapping


def unmapped_columns(names: Iterable[str], used: set[str]) -> list[str]:
    """The columns, in file order, that stand for none of the `used` fields (unknown, or a field the config lacks)."""
    names = list(names)
    taken = {column for field, column in column_map(names, (), None).items() if field in used}
    return [name for name in names if name not in taken]


def table_columns(shards: Iterable) -> Iterator[tuple[str, list[str]]]:
    """(file, its column names) for each file the shards come from, once, in order."""
    seen = set()
    for shard in shards:
        if shard.path in seen:
            continue
        seen.add(shard.path)
        if isinstance(shard, CsvRecords):
            yield shard.path, list(shard.header)
        elif isinstance(shard, JsonRecords):
            yield shard.path, _json_keys(read_json_records(Path(shard.path)))
        else:
            yield shard.path, pq.read_schema(shard.path).names


def _json_keys(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(key for record in records for key in record))


def plan_parquet(path: Path, required: tuple[str, ...]) -> list[ParquetRows]:
    try:
        metadata = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as e:
        raise RawDataError(path, f"not a readable Parquet file ({e})",
                           hint="the download is incomplete or corrupt; download the file again") from None
    column_map(metadata.schema.to_arrow_schema().names, required, path)
    # the groups of a range are ranges: each gives its shard's first row and the row after its last
    return [ParquetRows(str(path), rows.start, rows.stop)
            for rows in group_by_count(range(metadata.num_rows), SHARD_ROWS)]


def plan_csv(path: Path, required: tuple[str, ...]) -> list[CsvRecords]:
    """Shards of SHARD_ROWS records; the boundaries are byte offsets, so each job reads only its records."""
    records = iter_csv_records(path)
    try:
        header = next(records)
    except StopIteration:
        raise RawDataError(path, "the CSV file is empty", hint="expected a header line and one line per article") from None
    column_map(header.fields, required, path)
    shards, start, first_line = [], header.end, header.next_line
    for group in batched(records, SHARD_ROWS):
        last = group[-1]
        # a shorter last group is the end of the file: its shard runs to the file's end, trailing lines included
        stop = last.end if len(group) == SHARD_ROWS else path.stat().st_size
        shards.append(CsvRecords(str(path), start, stop, first_line, tuple(header.fields)))
        start, first_line = last.end, last.next_line
    return shards


def plan_table_file(path: Path, required: tuple[str, ...]) -> list:
    """VLDBench metadata in whichever of its three formats is present."""
    if path.suffix == ".parquet":
        return plan_parquet(path, required)
    if path.suffix == ".csv":
        return plan_csv(path, required)
    records = read_json_records(path)
    column_map(sorted({key for record in records for key in record}), required, path)
    return [JsonRecords(str(path), rows.start, rows.stop) for rows in group_by_count(range(len(records)), SHARD_ROWS)]


@dataclass(frozen=True)
class CsvRecord:
    line: int                 # physical line on which the record starts (1-based)
    fields: list[str]
    end: int                  # byte offset just after the record
    next_line: int            # physical line after the record


def iter_csv_records(path, start: int = 0, stop: int | None = None, first_line: int = 1) -> Iterator[CsvRecord]:
    """The records of a CSV between two byte offsets, quoted multi-line fields included.

    Lines are decoded as UTF-8 with `surrogateescape`, so bytes that are not UTF-8 survive parsing and
    are repaired per field later (`repair_text`); a UTF-8 byte-order mark at the start is dropped.
    """
    with open(path, "rb") as file:
        lines = _LineReader(file, start, stop)
        reader = csv.reader(lines, strict=True)
        while True:
            line = first_line + lines.count
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise RawDataError(path, f"malformed CSV ({e})", line=line,
                                   hint="a quoted field is not closed: the file is truncated or its quoting is "
                                        "broken; download or export it again") from None
            if fields:
                yield CsvRecord(line, fields, lines.offset, first_line + lines.count)


class _LineReader:
    """Lines of a binary file from a byte offset, with the offset and the number of lines consumed."""

    def __init__(self, file, start: int, stop: int | None):
        self.file, self.stop = file, stop
        self.offset, self.count = start, 0
        file.seek(start)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.stop is not None and self.offset >= self.stop:
            raise StopIteration
        raw = self.file.readline()
        if not raw:
            raise StopIteration
        text = raw.decode("utf-8", "surrogateescape")
        if self.offset == 0:
            text = text.removeprefix("\ufeff")
        self.offset += len(raw)
        self.count += 1
        return text


def read_json_records(path: Path) -> list[dict]:
    data = path.read_bytes()
    try:
        document = json.loads(data)
    except UnicodeDecodeError as e:
        raise not_utf8(path, e) from None
    except json.JSONDecodeError as e:
        offset = len(e.doc[:e.pos].encode("utf-8"))
        where = f"byte offset {offset} (line {e.lineno}, column {e.colno})"
        if e.pos >= len(e.doc.rstrip()):
            problem = f"the JSON ends early at {where}, {e.msg.lower()}: the file is truncated"
        elif e.msg.startswith("Unterminated string"):
            problem = f"the JSON ends inside the string that starts at {where}: the file is truncated"
        else:
            problem = f"invalid JSON at {where}: {e.msg}"
        raise RawDataError(path, problem, line=e.lineno,
                           hint="download the file again, or use metadata.csv / metadata.parquet, which hold the "
                                "same columns") from None
    if not isinstance(document, list) or not all(isinstance(record, dict) for record in document):
        raise RawDataError(path, f"expected a list of records, got {type(document).__name__}",
                           hint="VLDBench's metadata.json is written with orient='records'")
    return document


def iter_records(shard, used: set[str], keep_others: bool = True
                 ) -> Iterator[tuple[str | None, int | None, dict[str, Any] | RawDataError]]:
    """(record name for messages, CSV line or None, record keyed by output field or the error that spoiled it).

    Only the `used` fields are read; with `keep_others`, the columns standing for none of them go, by their
    release name, into the record's `other_columns`."""
    if isinstance(shard, CsvRecords):
        header = list(shard.header)
        mapping = {f: c for f, c in column_map(header, (), shard.path).items() if f in used or f == "unique_id"}
        positions = {field: header.index(column) for field, column in mapping.items()}
        others = [header.index(c) for c in unmapped_columns(header, used)] if keep_others else []
        for record in iter_csv_records(shard.path, shard.start, shard.stop, shard.first_line):
            id_position = positions["unique_id"]
            name = normalise_id(record.fields[id_position]) if id_position < len(record.fields) else None
            if len(record.fields) != len(header):
                yield name, record.line, RawDataError(
                    shard.path, f"the record has {len(record.fields)} fields but the header has {len(header)}",
                    line=record.line, hint="a field holds an unquoted comma or quote; fix the quoting of this record")
            else:
                values = {field: record.fields[i] for field, i in positions.items()}
                if others:
                    values["other_columns"] = {header[i]: record.fields[i] for i in others}
                yield name, record.line, values
    elif isinstance(shard, JsonRecords):
        records = read_json_records(Path(shard.path))
        keys = _json_keys(records)
        mapping = {f: c for f, c in column_map(keys, (), shard.path).items() if f in used or f == "unique_id"}
        others = unmapped_columns(keys, used) if keep_others else []
        for index in range(shard.start, shard.stop):
            record = {field: records[index].get(column) for field, column in mapping.items()}
            if others:
                record["other_columns"] = {key: records[index][key] for key in others if key in records[index]}
            yield normalise_id(record.get("unique_id")) or f"record {index}", None, record
    else:
        yield from _parquet_records(shard, used, keep_others)


def _parquet_records(shard: ParquetRows, used: set[str], keep_others: bool) -> Iterator[tuple[str, None, dict]]:
    file = pq.ParquetFile(shard.path)
    names = file.schema_arrow.names
    mapping = {f: c for f, c in column_map(names, (), shard.path).items() if f in used or f == "unique_id"}
    others = unmapped_columns(names, used) if keep_others else []
    columns = tuple(name for name in names if name in set(mapping.values()) or name in others)
    first = 0
    for group in range(file.num_row_groups):
        size = file.metadata.row_group(group).num_rows
        low, high = max(shard.start - first, 0), min(shard.stop - first, size)
        if low < high:
            index = first + low
            for batch in RowGroupReader.of_thread(shard.path, group, columns, low).batches(low, high):
                for values in batch.to_pylist():
                    record = {field: values[column] for field, column in mapping.items()}
                    if others:
                        record["other_columns"] = {column: values[column] for column in others}
                    yield normalise_id(record.get("unique_id")) or f"row {index}", None, record
                    index += 1
        first += size


class RowGroupReader:
    """Reads one row group of a table file forward, a batch at a time, and keeps its place for the thread's next
    shard job. dataset_cleaned.parquet can be one large row group cut into many jobs: when each job read and
    decoded all of it for its slice, a build's time grew with the square of the file; when each process kept it
    decoded, the process's memory grew with the file. A job after this one's rows reads on; a job before them
    (a rerun, or a worker given jobs out of order) reads the group again from its start."""

    _of_thread = threading.local()

    def __init__(self, path: str, group: int, columns: tuple[str, ...]):
        self.path, self.group = path, group
        self.key = self.key_of(path, group, columns)
        self.position = 0  # the group's row that `_rest` (else the next batch read) starts with
        self._rest: pa.RecordBatch | None = None
        try:
            file = batch_reader(path)
            self._read = file.iter_batches(batch_size=MultimodalBuilder.ROWS_PER_BATCH, row_groups=[group],
                                           columns=list(columns), use_threads=False)
        except (pa.ArrowException, OSError) as e:
            raise self.unreadable(e) from None

    @staticmethod
    def key_of(path: str, group: int, columns: tuple[str, ...]) -> tuple:
        stat = os.stat(path)  # a file changed since the reader was made is read again
        return path, stat.st_size, stat.st_mtime_ns, group, columns

    @classmethod
    def of_thread(cls, path: str, group: int, columns: tuple[str, ...], low: int) -> RowGroupReader:
        """The thread's reader, if it reads this group and has not passed row `low`; else a new one."""
        reader = getattr(cls._of_thread, "reader", None)
        if reader is None or reader.key != cls.key_of(path, group, columns) or reader.position > low:
            reader = cls._of_thread.reader = cls(path, group, columns)
        return reader

    def batches(self, low: int, high: int) -> Iterator[pa.RecordBatch]:
        """Rows [low, high) of the group, in batches; the place is moved before each batch is handed out, so a
        job that stops early leaves the reader where its rows ended."""
        while self.position < high:
            batch, self._rest = self._rest, None
            if batch is None:
                batch = self._next_batch()
            start, end = max(low - self.position, 0), min(high - self.position, len(batch))
            if end < len(batch):
                self._rest = batch.slice(end)
            self.position += end
            if start < end:
                yield batch.slice(start, end - start)

    def _next_batch(self) -> pa.RecordBatch:
        try:
            return next(self._read)
        except StopIteration:
            raise RawDataError(self.path, f"row group {self.group} ends at row {self.position}, before the rows its "
                                          "metadata counts", hint="the file is corrupt; download it again") from None
        except (pa.ArrowException, OSError) as e:
            raise self.unreadable(e) from None

    def unreadable(self, error: Exception) -> RawDataError:
        return RawDataError(self.path, f"row group {self.group} cannot be read ({error})",
                            hint="the file is corrupt; download it again")


# ---- the scraper's text files -----------------------------------------------------------------------------

def content_file_name(value) -> str | None:
    """The text file a scraper CSV's `content` names (newsscrapper-otherlist.py), or None when it is the text."""
    if isinstance(value, str) and CONTENT_FILE.fullmatch(value.strip()):
        return value.strip()
    return None


def locate_content_file(name: str, folder: Path) -> Path | None:
    """The file, looked for next to the CSV: the path as written (relative), else `content/<file name>`.

    The script writes `<output_dir>/content/<id>.txt` relative to where it ran, and its CSV into
    `<output_dir>`, so the path as written is rarely right from the CSV's folder but its file name is."""
    relative = _safe_relative(name)
    for path in (folder / relative, folder / "content" / relative.rsplit("/", 1)[-1]):
        if relative and path.is_file():
            return path
    return None


def with_text_from_file(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The record with the article's text read from the file `content` names, if it names one."""
    name = content_file_name(record.get("article_text"))
    if name is None:
        return {**record, "article_text_file": None}
    path = locate_content_file(name, folder)
    if path is None:
        raise RawDataError(None, f"`content` names the text file {name!r}, which is neither at that path nor in "
                                 f"content/ next to the CSV",
                           hint="newsscrapper-otherlist.py writes the articles to <output_dir>/content/<id>.txt: copy "
                                "that content/ folder next to the CSV")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RawDataError(path, f"cannot read the article's text file ({e.strerror})",
                           hint="the file is damaged; copy it again from the scraper's content/ folder") from None
    # undecodable bytes are kept as surrogates and repaired (read as Windows-1252) like the CSV's own fields
    return {**record, "article_text": data.decode("utf-8", "surrogateescape").removeprefix("\ufeff"),
            "article_text_file": name}


# ---- images on disk ---------------------------------------------------------------------------------------

class ImageStore:
    """The image files of a folder and of the .zip archives in it, found by relative path, file name or stem."""

    def __init__(self, root: Path):
        self.root = root
        # relative path -> None for a file below root (its path is root/relative), (archive, member) for a member
        # of a .zip: no path string or tuple per loose image (30,000 of them are ~6 MB of every process's memory)
        self.locations: dict[str, tuple[str, str] | None] = {}
        self.not_images: list[str] = []  # archive members that are not images (a README): never read
        for relative, path in sorted_files_below(root):
            if not is_image_candidate(relative):
                continue
            if suffix(relative.rsplit("/", 1)[-1]).lower() == ".zip":
                self._index_zip(Path(path))
            else:
                self.locations[relative] = None
        self._archives: dict[str, ZipDirectory] = {}  # opened by `read`, per process

    def __getstate__(self) -> dict:  # the shard jobs' shared state: the index, not the open archives
        return {**self.__dict__, "_archives": {}}

    @functools.cached_property
    def by_name(self) -> dict[str, str]:
        """Relative path by file name, made when an article's name is not a stored path (a name found in two
        folders resolves to the first in path order)."""
        by_name: dict[str, str] = {}
        for relative in self.locations:
            by_name.setdefault(relative.rsplit("/", 1)[-1], relative)
        return by_name

    @functools.cached_property
    def by_stem(self) -> dict[str, str]:
        """Relative path by file name without its suffix (the article's id), made when first needed."""
        by_stem: dict[str, str] = {}
        for relative in self.locations:
            by_stem.setdefault(relative.rsplit("/", 1)[-1].rsplit(".", 1)[0], relative)
        return by_stem

    def _index_zip(self, path: Path) -> None:
        try:  # the directory as the jobs read it: zipfile's ZipInfo per member is ~700 bytes (25 MB at 40,900 images)
            with ZipDirectory(path, key=str) as archive:
                members = [name.decode("utf-8", "surrogatepass") for name in archive.keys.tolist()]
        except (zipfile.BadZipFile, OSError) as e:
            raise RawDataError(path, f"not a readable zip archive ({e})",
                               hint="download the Zenodo archive again, or extract it into zenodo/") from None
        self.not_images += [f"{path.name}:{m}" for m in members if not is_image_candidate(m)]
        for member in members:  # sorted, each name once, folders left out
            if not is_image_candidate(member):
                continue
            self.locations.setdefault(member, (str(path), member))

    def find(self, names: list[str], unique_id: str | None) -> str | None:
        """The stored image for the release's file names (tried in order), else the file named after the id."""
        for name in names:
            relative = _safe_relative(name)
            if relative in self.locations:
                return relative
            if relative.rsplit("/", 1)[-1] in self.by_name:
                return self.by_name[relative.rsplit("/", 1)[-1]]
        return self.by_stem.get(unique_id) if unique_id else None

    def file_of(self, relative: str) -> str:
        """The file on disk that holds the image: itself, or the archive it is a member of."""
        member_of = self.locations[relative]
        return member_of[0] if member_of else os.path.join(self.root, relative)

    def read(self, relative: str) -> tuple[str, bytes]:
        member_of = self.locations[relative]
        if member_of is None:
            path = os.path.join(self.root, relative)
            try:
                with open(path, "rb") as file:
                    return path, file.read()
            except OSError as e:
                raise RawDataError(path, f"cannot read image {path} ({e})",
                                   hint="the file or archive is damaged; download it again") from None
        archive, member = member_of
        try:
            if archive not in self._archives:  # its directory as arrays, as Flickr30K's annotations.zip is kept
                self._archives[archive] = ZipDirectory(archive, key=str)
            directory = self._archives[archive]
            where = f"{archive}:{member}"
            found = directory.find(member)
            if found is None:  # indexed at planning, gone since
                raise RawDataError(archive, f"no image {member} in the archive any more",
                                   hint="the archive changed during the build; build again")
            return where, directory.read(found, MEDIA_MEMBER_LIMIT, where)
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise RawDataError(archive, f"cannot read image {member} ({e})",
                               hint="the file or archive is damaged; download it again") from None


def _safe_relative(name: str) -> str:
    """A release's image path as a relative POSIX path: Windows separators, absolute prefixes and '..' dropped."""
    posix = PureWindowsPath(name).as_posix() if "\\" in name else name
    # split, not a PurePosixPath: this runs for every name of every article (~0.5 s of a 30,000-article build)
    return "/".join(p for p in posix.split("/") if p not in ("", ".", "..") and not p.endswith(":"))


# ---- pure parsing functions ---------------------------------------------------------------------------------

def normalise_id(value) -> str | None:
    """Ids as strings; an id a float column holds (1098444910.0) loses its '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def normalise_label(value) -> int | None:
    """A label string of any release -> 0 (likely_unbiased), 1 (likely_biased) or None (missing or unknown).

    Seen: `Likely` / `Unlikely` (2024 release, VLDBench), `Likely to Bias` / `Likely to UnBias` (current
    release), `Likely to be Bias` / `Likely to be Unbiased` (downstream copies), with case and space drift.
    """
    if value is None:
        return None
    words = re.sub(r"[\s_\-]+", " ", str(value)).strip().lower().split()
    if not words:
        return None
    if "unbias" in "".join(words) or words[0] == "unlikely":
        return 0
    if words[0] == "likely":
        return 1
    return None


_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", re.S)
_SEPARATORS = re.compile(r"[\s,]*")


def parse_category_list(value, column: str) -> list[str]:
    """`['Politics' 'Opinion/Editorial']` (numpy repr, wrapped over lines when long) or a Python list repr."""
    if isinstance(value, list):
        return [str(item) for item in value]
    text = "" if value is None else str(value).strip()
    if not text or text == "[]":
        return []
    if not text.startswith("["):
        return [text]  # a single topic label (`5_bipartisan, border, border deal`)
    if not text.endswith("]"):
        raise RawDataError(None, f"{column}: the list {text[:60]!r} is not closed",
                           hint="expected a list string such as ['Politics' 'National']")
    items, position, body = [], 0, text[1:-1]
    while True:
        position = _SEPARATORS.match(body, position).end()
        if position == len(body):
            return items
        token = _QUOTED.match(body, position)
        if token is None:
            raise RawDataError(None, f"{column}: unexpected {body[position:position + 20]!r} in {text[:60]!r}",
                               hint="expected quoted names separated by spaces, e.g. ['Politics' 'National']")
        items.append(ast.literal_eval(token.group()))
        position = token.end()


def parse_score_list(value, column: str) -> list[float]:
    """`[0.95 0.9 ]` (numpy repr), `[0.95, 0.9]`, a single number, or a list (its nulls kept)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, list):
        text, items = repr(value), value
    else:
        text = "" if value is None else str(value).strip()
        items = [t for t in re.split(r"[\s,]+", text.removeprefix("[").removesuffix("]")) if t]
    try:
        return [None if item is None else _number(item) for item in items]
    except (TypeError, ValueError):
        raise RawDataError(None, f"{column}: {text[:60]!r} is not a list of numbers",
                           hint="expected a list string such as [0.95 0.9 ]") from None


def _number(item) -> float:
    if isinstance(item, bool):
        raise TypeError("a boolean is not a score")
    return float(item)


def parse_published(value) -> tuple[str | None, datetime | None]:
    """(the date as written, or None for empty / NaT; the moment in UTC, or None when it does not parse)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.isoformat(sep=" "), moment.astimezone(timezone.utc)
    text = "" if value is None else str(value).strip()
    if text in ("", "NaT", "nan", "None"):
        return None, None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text, None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return text, moment.astimezone(timezone.utc)


_PIL_REPR = re.compile(r"<PIL\.(\w+)ImagePlugin\.\w+ image mode=(\w+) size=(\d+)x(\d+) at 0x[0-9A-Fa-f]+>")


def parse_pil_repr(value: str) -> tuple[str, int, int] | None:
    """(format, width, height) from a stringified PIL image (VLDBench's `image` column), else None."""
    match = _PIL_REPR.fullmatch(value.strip())
    return (match.group(1).lower(), int(match.group(3)), int(match.group(4))) if match else None


# ---- text encoding repairs ------------------------------------------------------------------------------------

def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined are read as Latin-1, like browsers do
        return chr(byte)


_BYTE_AS_CP1252 = {byte: _cp1252_char(byte) for byte in range(0x80, 0x100)}
_CP1252_AS_BYTE = {char: byte for byte, char in _BYTE_AS_CP1252.items()}
_CONTINUATION = "[" + re.escape("".join(_BYTE_AS_CP1252[b] for b in range(0x80, 0xC0))) + "]"
_DOUBLE_ENCODED = re.compile(f"[\u00c2-\u00df]{_CONTINUATION}|[\u00e0-\u00ef]{_CONTINUATION}{{2}}"
                             f"|[\u00f0-\u00f4]{_CONTINUATION}{{3}}")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def repair_text(text: str, prose: bool) -> tuple[str, list[str]]:
    """The text with its encoding repaired, and the kinds of repair made.

    Bytes that were not UTF-8 (kept as lone surrogates by the CSV reader) are read as Windows-1252.
    In prose, each sequence that is UTF-8 decoded as Windows-1252 (`â€œ`, `Ã©`) is decoded back; a
    sequence that does not form valid UTF-8 is left as it is, so ordinary accented text is untouched.
    ASCII text (most articles; `isascii` is a flag of the string) has neither: both patterns need a non-ASCII
    character.
    """
    if text.isascii():
        return text, []
    repairs = []
    if _ESCAPED_BYTE.search(text):
        text = _ESCAPED_BYTE.sub(lambda m: _BYTE_AS_CP1252[ord(m.group()) - 0xDC00], text)
        repairs.append("cp1252_bytes")
    if prose:
        fixed = _DOUBLE_ENCODED.sub(_decode_twice_encoded, text)
        if fixed != text:
            text = fixed
            repairs.append("double_encoded_utf8")
    return text, repairs


def _decode_twice_encoded(match: re.Match) -> str:
    try:
        return bytes(_CP1252_AS_BYTE[c] for c in match.group()).decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


# ---- images -------------------------------------------------------------------------------------------------

def inspect_image(data: bytes) -> tuple[str | None, str, tuple[int, int] | None]:
    """(format, status ok | svg | unreadable, size) of image bytes, without decoding the pixels.

    Truncation is detected from the end markers of JPEG and PNG rather than by decoding, which would
    cost more than the rest of the build.
    """
    found = sniff_format(data)
    if found == "svg":
        return found, "svg", None
    if found and image_truncated(data, found.upper()):
        return found, "unreadable", None
    image = probe_image(data)
    if image.unreadable:
        return found, "unreadable", None
    return found or (image.format or "").lower() or None, "ok", image.size


def image_columns(unique_id: str, data: bytes | None, name: str | None, promised: bool) -> tuple[dict, tuple | None]:
    """The image fields for one article from the release's bytes (None when none were found), and the size.

    `promised`: the release says the article has an image, so no bytes means file_missing, not no_image.
    """
    if data is None:
        status = "file_missing" if promised else "no_image"
        return {"image": None, "image_status": IMAGE_STATUSES.index(status), "image_format": None,
                "image_file": name, "image_undecodable_bytes": None}, None
    found, status, size = inspect_image(data)
    extension = EXTENSIONS.get(found or "", found or "bin")
    return {"image": {"bytes": data, "path": f"{unique_id}.{extension}"} if status == "ok" else None,
            "image_status": IMAGE_STATUSES.index(status), "image_format": found, "image_file": name,
            "image_undecodable_bytes": None if status == "ok" else data}, size


# ---- row assembly ---------------------------------------------------------------------------------------------

def assemble_article(record: dict[str, Any], images: ImageStore | None, fields: list[str]) -> dict:
    """The row with the given fields from a record keyed by output field."""
    unique_id = normalise_id(record.get("unique_id"))
    if unique_id is None:
        raise RawDataError(None, "the article has no unique_id",
                           hint="every article needs an id; remove the record or fill in its id")
    row: dict[str, Any] = {"unique_id": unique_id, "text_repairs": [],
                           "article_text_file": record.get("article_text_file"),
                           "other_columns": to_json(record.get("other_columns") or None)}
    for field in (f for f in fields if f in TEXT_FIELDS):
        value = record.get(field)
        if isinstance(value, str):
            value, kinds = repair_text(value, prose=field in PROSE_FIELDS)
            row["text_repairs"] += [{"field": field, "kind": REPAIR_KINDS.index(kind)} for kind in kinds]
        row[field] = value
    if "image_description" in row:
        row["image_description"] = row["image_description"] or ""
    row["date_published"], row["published_at"] = parse_published(record.get("date_published"))
    row["categories"] = parse_category_list(record.get("categories"), "new_categories")
    row["category_scores"] = parse_score_list(record.get("category_scores"), "news_categories_confidence_scores")
    if row["categories"] and row["category_scores"] and len(row["categories"]) != len(row["category_scores"]):
        raise RawDataError(None, f"{len(row['categories'])} categories but {len(row['category_scores'])} "
                                 f"confidence scores", hint="each category has one score; the record is corrupt")
    for field in ("text_label", "multimodal_label"):
        raw = record.get(field)
        row[f"{field}_raw"] = None if raw is None else str(raw)
        row[field] = normalise_label(raw)
    row.update(article_image(unique_id, record, images))
    return {field: row[field] for field in fields}


def to_json(value) -> str | None:
    """JSON text for `other_columns`: bytes as {"base64": ...}, dates as ISO 8601, NaN as null."""
    if value is None:
        return None
    return json.dumps(_jsonable(value), ensure_ascii=False, allow_nan=False)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # decimals, time deltas: their text


def image_lookup_names(record: dict[str, Any]) -> list[str] | None:
    """The file names the record gives its image under (in lookup order); None when the image is embedded."""
    value = record.get("image")
    if isinstance(value, (dict, bytes)):
        return None
    described = parse_pil_repr(value) if isinstance(value, str) else None
    return [n for n in (None if described else value, record.get("saved_image_path"))
            if isinstance(n, str) and n.strip()]


def article_image(unique_id: str, record: dict[str, Any], images: ImageStore | None) -> dict:
    """The image fields: bytes embedded in the record, or the file the record names, looked up in the store."""
    value = record.get("image")
    if isinstance(value, dict):  # the 2024 release, VLDBench on the Hub: a datasets Image struct
        path = value.get("path") or None
        return image_columns(unique_id, value.get("bytes"), path, promised=bool(path))[0]
    if isinstance(value, bytes):
        return image_columns(unique_id, value, None, promised=True)[0]
    names = image_lookup_names(record)
    described = parse_pil_repr(value) if isinstance(value, str) else None
    found = images.find(names, unique_id) if images else None
    where, data = images.read(found) if found else (None, None)
    columns, size = image_columns(unique_id, data, names[0] if names else None, promised=bool(names or described))
    if described and size and size != described[1:]:
        raise RawDataError(where, f"the image is {size[0]}x{size[1]} but the release's image column says "
                                  f"{described[1]}x{described[2]}",
                           hint="the file belongs to another article; restore the release's images/ folder")
    return columns
