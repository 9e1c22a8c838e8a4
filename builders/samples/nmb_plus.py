"""A NewsMediaBias-Plus raw tree in its six on-disk forms, laid out as the releases lay them out.

Articles are declared as the build must return them (true text, the class a label string stands for,
the image's real format) together with how the release spells them (label strings, numpy list reprs,
mis-encoded text, lying file extensions); the writers below turn declarations into each form's files.

Layouts (evidence in ../shared/formats/mint1t_bigdocs_nmbplus.md §3, realdata/SOURCES.md §5, and the
authors' code and docs; what is not verified is marked so):
- gen_b/data/dataset_cleaned.parquet (the Hub's current release, path from its README config).
- zenodo/: record 13961155 ships "the dataset in Parquet format, along with the corresponding images"
  (authors' docs); its table has the 2024 columns with `image` a file path (the record's own page). The
  file names are NOT verified: the table is written as `dataset_with_labels.parquet` (the name a user
  who downloaded the record loads) and the images as `images/<unique_id>.<ext>`, or inside `images.zip`.
- gen_a/data/train-0000N-of-00002.parquet (2024 Hub release, images embedded; names assumed, the usual
  push_to_hub ones).
- VLDBench/: the GitHub repository as cloned: README.md, data/metadata.csv + metadata.parquet +
  metadata.json (the JSON cut off inside its first record, as the repository's is), data/load-data.py,
  images/<id>.png, including images no metadata row names.
- vldbench_hub/: the Hub's vector-institute/VLDBench: README.md, .gitattributes and
  data/train-00000-of-00001.parquet (name NOT verified) with the columns its card lists and the images
  embedded as a `datasets` Image.
- raw_scrape/: both of the authors' scrapers, as their code writes them. news_scrapper.py:
  scrapped_data.csv (its default name) with the text in `content` and `top_image` the path
  `<output_dir>/images/<id>.<ext>`, and deduped.csv (ids only, not an article table).
  newsscrapper-otherlist.py: `<outlet>_data.csv` in its own column order, `content` the path
  `bad_data_2/content/<id>.txt` (its default output folder) of the text in content/, `top_image` the
  bare file name `<id>.jpg` whatever the bytes are. Both save images in images/.

Awkward cases:
- gen_a: a JPEG, no image, PNG bytes under a `.jpg` path, corrupt (truncated) bytes, a 300 kB article, an
  empty article, dates `2024-03-10` / with time zone / with microseconds / empty / `NaT`, categories with
  commas and quotes, a wrapped numpy list, a plain topic label, labels `Likely` / `Unlikely` / `likely ` /
  null, a double-encoded headline, ids stored as int64 in the second file.
- gen_b + zenodo/ images: a relative path, an absolute path to a file in a nested folder, an SVG, a WebP, a
  path missing on disk, a `.jpg` holding PNG bytes, no path but a file named after the id, labels `Likely
  to Bias` / `Likely to UnBias` / `Likely to be Bias` / `Likely to be Unbiased` / `LIKELY TO BIAS` /
  `Neutral`, an empty image description, double-encoded article text.
- zenodo table: the same image folder (shared files), an article only it has, an image no article names,
  a column no field stands for (`bertopics`, from the authors' schema doc).
- VLDBench: multi-line quoted article text with quotes and commas, numpy list strings (one wrapped over
  two lines, one holding an apostrophe), the stringified PIL image column (Jpeg and Png), `NaT`, an image
  file absent from images/.
- vldbench_hub: PNG and JPEG bytes embedded, an article without image, single-category columns.
- raw_scrape (UTF-8 with BOM): multi-line content, a title in Windows-1252 bytes, double-encoded UTF-8,
  no top_image, a `.jpg` holding PNG bytes, an SVG, a WebP, a failed download; text files with
  non-ASCII text.
With bad_records: an article without id (gen_b, raw_scrape), an unclosed category list (gen_a), a CSV
record with an extra field and an image whose size contradicts the release (VLDBench), a text file
missing from content/ (raw_scrape, otherlist).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import datasets
import numpy as np
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq

from ..nmb_plus import CURRENT_FIELDS, IMAGE_STATUSES, REPAIR_KINDS, SCRAPE_FIELDS, V1_FIELDS, ZENODO_FIELDS

UTC = timezone.utc
CONFIG_FIELDS = {"current": CURRENT_FIELDS, "zenodo": ZENODO_FIELDS, "v1": V1_FIELDS, "vldbench": V1_FIELDS,
                 "vldbench_hub": V1_FIELDS, "raw_scrape": SCRAPE_FIELDS}
EXTENSION = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "svg": "svg"}


@dataclass(frozen=True)
class Img:
    """An image as the release has it: the real format of its bytes, and the file name the release gives."""

    kind: str                        # jpeg | png | webp | gif | svg | corrupt (a truncated JPEG)
    size: tuple[int, int] = (64, 48)
    name: str | None = None          # the release's path or file name for it (None: the release names none)
    stored_as: str | None = None     # where the file lies in the image folder (default images/<name or id.ext>)
    stored: bool = True              # False: the release names the file but it is not on disk
    photo: bool = False              # a noise photo of realistic size (scale records)

    @property
    def format(self) -> str:
        return "jpeg" if self.kind == "corrupt" else self.kind

    @property
    def status(self) -> str:
        return {"svg": "svg", "corrupt": "unreadable"}.get(self.kind, "ok")


@dataclass
class Article:
    """One article: the values the build must return, and how the release spells the ambiguous ones."""

    unique_id: str
    outlet: str = "CNN"
    headline: str = "A headline - CNN"
    article_text: str = "First paragraph.\n\nSecond paragraph."
    image_description: str = "A person speaks at a podium."
    url: str | None = None
    source_url: str | None = None
    canonical_link: str | None = None
    article_url: str | None = None
    first_paragraph: str | None = None
    date: str | None = None                       # as written
    published_at: datetime | None = None          # what it means
    categories: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    categories_text: str | None = None            # written instead of numpy's repr of `categories`
    text_label: tuple[str | None, int | None] = ("Likely", 1)        # (as written, class index)
    multimodal_label: tuple[str | None, int | None] = ("Unlikely", 0)
    image: Img | None = None
    pil_format: str = "Jpeg"                      # VLDBench: the format its stringified image names
    claimed_size: tuple[int, int] | None = None   # VLDBench: a size for that string other than the image's
    extra_field: bool = False                     # CSV: one field too many
    double_encoded: tuple[str, ...] = ()          # fields written as UTF-8 read as Windows-1252, re-encoded
    cp1252: tuple[str, ...] = ()                  # CSV fields written in Windows-1252
    rejected: str | None = None                   # the build's reason for rejecting it (bad records)
    other: dict | None = None                     # columns no field stands for, by name (-> other_columns)
    scraper: str = "news_scrapper"                # raw_scrape: news_scrapper | otherlist (text in a .txt file)
    text_stored: bool = True                      # otherlist: False when content/<id>.txt is missing
    image_bytes: bytes | None = None

    def spelled(self, name: str) -> str | None:
        """A text field as the release writes it."""
        value = getattr(self, name)
        return double_encode(value) if name in self.double_encoded else value

    def expected(self, config: str) -> dict:
        """The row a correct build gives for this article in `config`."""
        image = self.image
        status = "no_image" if image is None else image.status if image.stored else "file_missing"
        has_bytes, ok = image is not None and image.stored, status == "ok"
        image_fields = {
            "image": {"bytes": self.image_bytes, "path": f"{self.unique_id}.{EXTENSION[image.format]}"} if ok else None,
            "image_status": IMAGE_STATUSES.index(status), "image_format": image.format if has_bytes else None,
            "image_file": self.image_file(config) if image else None,
            "image_undecodable_bytes": self.image_bytes if has_bytes and not ok else None}
        values = {
            "unique_id": self.unique_id, "outlet": self.outlet, "headline": self.headline,
            "article_text": self.article_text, "image_description": self.image_description, "url": self.url,
            "source_url": self.source_url, "canonical_link": self.canonical_link, "article_url": self.article_url,
            "first_paragraph": self.first_paragraph,
            "date_published": None if self.date in (None, "", "NaT") else self.date, "published_at": self.published_at,
            "categories": list(self.categories), "category_scores": list(self.scores),
            "text_label": self.text_label[1], "multimodal_label": self.multimodal_label[1],
            "text_label_raw": self.text_label[0], "multimodal_label_raw": self.multimodal_label[0],
            "text_repairs": [{"field": name, "kind": REPAIR_KINDS.index(kind)} for name in CONFIG_FIELDS[config]
                             for kind, fields in zip(REPAIR_KINDS, (self.cp1252, self.double_encoded))
                             if name in fields],
            "article_text_file": self.text_file, "other_columns": json.dumps(self.other, ensure_ascii=False) if self.other else None,
            **image_fields,
        }
        return {name: values[name] for name in CONFIG_FIELDS[config]}

    @property
    def text_file(self) -> str | None:
        """The path newsscrapper-otherlist.py writes into `content` (relative to where it ran)."""
        return f"bad_data_2/content/{self.unique_id}.txt" if self.scraper == "otherlist" else None

    def image_file(self, config: str) -> str | None:
        if config == "vldbench":
            return f"sample_review/images/{self.unique_id}.png"
        return self.image.name if self.image else None


@dataclass
class SampleTree:
    root: Path
    articles: dict[str, list[Article]]            # config -> articles in file order, rejected ones included
    lines: dict[tuple[str, str], int] = field(default_factory=dict)   # (config, unique_id) -> CSV line

    def expected_rows(self, config: str) -> list[dict]:
        return [a.expected(config) for a in self.articles[config] if not a.rejected]

    def article(self, config: str, unique_id: str) -> Article:
        return next(a for a in self.articles[config] if a.unique_id == unique_id)

    def rejected(self, config: str) -> list[Article]:
        return [a for a in self.articles[config] if a.rejected]


# ---- the articles of each form -------------------------------------------------------------------------

def _v1_articles() -> list[Article]:
    guardian = dict(outlet="The Guardian US", source_url="https://www.theguardian.com")
    return [
        Article("1098444910", headline="Senate passes border deal - CNN", source_url="https://www.cnn.com",
                canonical_link="https://www.cnn.com/2024/03/10/politics/border-deal", date="2024-03-10",
                published_at=datetime(2024, 3, 10, tzinfo=UTC), categories=("Politics", "National"), scores=(0.95, 0.85),
                image=Img("jpeg", (64, 48), name="1098444910.jpg")),
        Article("1148232027", **guardian, canonical_link="https://www.theguardian.com/us-news/1",
                date="2024-03-10 14:05:00+00:00", published_at=datetime(2024, 3, 10, 14, 5, tzinfo=UTC),
                categories=("International",), scores=(0.9,), text_label=("Unlikely", 0), multimodal_label=("Likely", 1)),
        Article("1200000003", **guardian, canonical_link="https://www.theguardian.com/us-news/2", date="",
                text_label=("likely ", 1), image=Img("png", (40, 30), name="photos/1200000003.jpg")),
        Article("1200000004", outlet="Fox News", date="NaT", text_label=(None, None), multimodal_label=(None, None),
                image=Img("corrupt", (64, 48), name="1200000004.jpg")),
        Article("1200000005", outlet="Newsmax", article_text=_long_text(300_000), image_description="",
                date="2024-09-04 01:26:21.452000+00:00", published_at=datetime(2024, 9, 4, 1, 26, 21, 452000, tzinfo=UTC),
                categories=("Politics", "National", "International", "Business and Finance", "Opinion/Editorial"),
                scores=(0.95, 0.85, 0.7, 0.65, 0.6), image=Img("jpeg", (48, 64), name="1200000005.jpeg")),
        Article("1200000006", outlet="Forbes", article_text="", headline="Trump’s “border” plan — explained",
                double_encoded=("headline",), date="2024-03-11T09:00:00",
                published_at=datetime(2024, 3, 11, 9, 0, tzinfo=UTC),
                categories=("Women's Health", "Arts, Culture", "Politics"), scores=(0.9, 0.8, 0.7),
                image=Img("gif", (16, 16), name="1200000006.gif")),
        Article("1200000007", outlet="Politico", categories=("5_bipartisan, border, border deal",), scores=(0.87,),
                categories_text="5_bipartisan, border, border deal", multimodal_label=("Likely", 1),
                image=Img("jpeg", (32, 32), name="1200000007.jpg")),
    ]


def _current_articles() -> list[Article]:
    return [
        Article("1098444910", headline="Senate passes border deal - CNN",
                url="https://www.cnn.com/2024/03/10/politics/border-deal",
                text_label=("Likely to Bias", 1), multimodal_label=("Likely to UnBias", 0),
                image=Img("jpeg", (64, 48), name="images/1098444910.jpg")),
        Article("1148232027", outlet="The Guardian US", url="https://www.theguardian.com/us-news/1",
                text_label=("Likely to be Bias", 1), multimodal_label=("Likely to be Unbiased", 0),
                image=Img("png", (40, 30), name="/h/vector/nmb/images/1148232027.png",
                          stored_as="images/batch_2/1148232027.png")),
        Article("2000000001", outlet="Breitbart", url="https://www.breitbart.com/politics/1",
                text_label=("Likely to UnBias", 0), multimodal_label=("Neutral", None),
                image=Img("svg", name="images/2000000001.svg")),
        Article("2000000002", outlet="Reuters", url="https://www.reuters.com/world/2", image_description="",
                image=Img("webp", (50, 40), name="images/2000000002.webp")),
        Article("2000000003", outlet="ABC News", url="https://abcnews.go.com/3", text_label=("LIKELY TO BIAS", 1),
                image=Img("jpeg", name="images/2000000003.jpg", stored=False)),
        Article("2000000005", outlet="USA TODAY", url="https://www.usatoday.com/5",
                article_text="He said “we will act” — and didn’t.", double_encoded=("article_text",),
                image=Img("png", (30, 20), name="images/2000000005.jpg")),
        Article("2000000006", outlet="Newsweek", url="https://www.newsweek.com/6",
                image=Img("jpeg", (20, 20), name=None, stored_as="images/2000000006.jpg")),
        Article("2000000007", outlet="Daily Kos", url="https://www.dailykos.com/7", multimodal_label=("Likely to Bias", 1)),
    ]


VLDBENCH_TEXT = 'Democrats tend to do well in cities, "mostly".\n\nBelow is a transcript.\n\nStockman: I’m here.'


def _vldbench_articles() -> list[Article]:
    nyt = dict(outlet="The New York Times", source_url="https://www.nytimes.com")
    return [
        Article("3a6e10c6e5", **nyt, headline="Opinion | An Unexpected Rebranding - The New York Times",
                article_text=VLDBENCH_TEXT,
                canonical_link="https://www.nytimes.com/2024/05/29/opinion/rebranding.html",
                date="2024-05-29 00:00:00+00:00", published_at=datetime(2024, 5, 29, tzinfo=UTC),
                categories=("Politics", "Opinion/Editorial"), scores=(0.95, 0.9), multimodal_label=("Likely", 1),
                image=Img("png", (56, 30))),
        Article("ab71f6bece", outlet="Financial Times", source_url="https://www.ft.com",
                canonical_link="https://www.ft.com/content/ec95b2e3", date="2024-09-04 01:26:21.452000+00:00",
                published_at=datetime(2024, 9, 4, 1, 26, 21, 452000, tzinfo=UTC),
                categories=("Business and Finance", "National", "Technology", "International", "Opinion/Editorial"),
                scores=(0.95, 0.75, 0.7, 0.65, 0.6), pil_format="Png", image=Img("png", (56, 38))),
        Article("188c8526d3", **nyt, canonical_link="https://www.nytimes.com/2024/06/01/us/x.html", date="NaT",
                categories=("Women's Health", "Politics"), scores=(0.9, 0.8), text_label=("Unlikely", 0),
                multimodal_label=("Unlikely", 0), image=Img("png", (56, 31), stored=False)),
        Article("f20e7a8fd6", outlet="CBS News", source_url="https://www.cbsnews.com",
                canonical_link="https://www.cbsnews.com/news/y", date="2023-12-31 23:59:59+00:00",
                published_at=datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC), categories=("Politics",), scores=(0.95,),
                image=Img("png", (56, 31))),
    ]


def _zenodo_articles() -> list[Article]:
    """Zenodo's table: the 2024 columns with `image` a path into the same image folder gen_b's rows use."""
    cnn, guardian = dict(outlet="CNN", source_url="https://www.cnn.com"), dict(outlet="The Guardian US",
                                                                               source_url="https://www.theguardian.com")
    return [
        Article("1098444910", **cnn, headline="Senate passes border deal - CNN",
                canonical_link="https://www.cnn.com/2024/03/10/politics/border-deal", date="2024-03-10",
                published_at=datetime(2024, 3, 10, tzinfo=UTC), categories=("Politics", "National"),
                scores=(0.95, 0.85), text_label=("Unlikely", 0), multimodal_label=("Unlikely", 0),
                other={"bertopics": "5_bipartisan, border, border deal"},
                image=Img("jpeg", (64, 48), name="images/1098444910.jpg")),
        Article("1148232027", **guardian, canonical_link="https://www.theguardian.com/us-news/1",
                date="2024-03-17 00:00:00+00:00", published_at=datetime(2024, 3, 17, tzinfo=UTC),
                categories=("Politics",), scores=(0.9,), multimodal_label=("Likely", 1),
                other={"bertopics": "affordable housing, public housing"},
                image=Img("png", (40, 30), name="/h/vector/nmb/images/1148232027.png",
                          stored_as="images/batch_2/1148232027.png")),
        Article("2000000001", outlet="Breitbart", source_url="https://www.breitbart.com", date="NaT",
                other={"bertopics": None}, image=Img("svg", name="images/2000000001.svg")),
        Article("2000000003", outlet="ABC News", source_url="https://abcnews.go.com", date="2024-05-01",
                published_at=datetime(2024, 5, 1, tzinfo=UTC), other={"bertopics": "election"},
                image=Img("jpeg", name="images/2000000003.jpg", stored=False)),
        Article("2000000006", outlet="Newsweek", source_url="https://www.newsweek.com", date="2024-05-02",
                published_at=datetime(2024, 5, 2, tzinfo=UTC), other={"bertopics": "economy"},
                image=Img("jpeg", (20, 20), name=None, stored_as="images/2000000006.jpg")),
        Article("2000000009", outlet="Axios", source_url="https://www.axios.com", date="2024-05-03",
                published_at=datetime(2024, 5, 3, tzinfo=UTC), categories=("Technology",), scores=(0.8,),
                other={"bertopics": "ai, chips"}, image=Img("png", (36, 24), name="images/2000000009.png")),
    ]


ZENODO_ORPHAN = "images/2999999999.jpg"
"""An image in the Zenodo folder that no table row names: reported as not read."""


def _vldbench_hub_articles() -> list[Article]:
    """The Hub's VLDBench: one Parquet file, the card's columns, images embedded."""
    return [
        Article("3a6e10c6e5", outlet="The New York Times", source_url="https://www.nytimes.com",
                headline="Opinion | An Unexpected Rebranding - The New York Times", article_text=VLDBENCH_TEXT,
                date="2024-05-29 00:00:00+00:00", published_at=datetime(2024, 5, 29, tzinfo=UTC),
                categories=("Politics",), scores=(0.95,), multimodal_label=("Likely", 1),
                image=Img("png", (56, 30), name="3a6e10c6e5.png")),
        Article("ab71f6bece", outlet="Financial Times", source_url="https://www.ft.com", date="2024-09-04",
                published_at=datetime(2024, 9, 4, tzinfo=UTC), categories=("Business and Finance",), scores=(0.75,),
                text_label=("Unlikely", 0), image=Img("jpeg", (48, 32))),
        Article("c0ffee0001", outlet="CBS News", source_url="https://www.cbsnews.com", date="NaT"),
    ]


def _scrape_articles() -> list[Article]:
    """news_scrapper.py's rows, then newsscrapper-otherlist.py's (the order of their CSVs' names)."""
    def scraped(title: str, extension: str | None = None, **values) -> Article:
        uid = hashlib.sha256(title.encode("utf-8")).hexdigest()[:10]  # the scraper's id
        image = values.pop("image", None)
        if image is not None:  # top_image: str(<output_dir>/images/<id>.<extension the download took>)
            image = Img(image.kind, image.size, name=f"scrape_2024/images/{uid}.{extension}", stored=image.stored)
        return Article(uid, headline=title, date="2024-05-06 08:00:00", published_at=datetime(2024, 5, 6, 8, tzinfo=UTC),
                       article_url=f"https://news.google.com/rss/articles/{uid}",
                       canonical_link=f"https://example.com/{uid}", source_url="https://example.com",
                       text_label=(None, None), multimodal_label=(None, None), image=image, **values)

    def otherlist(title: str, text: str, image: Img | None = None, **values) -> Article:
        uid = hashlib.sha256(title.encode("utf-8")).hexdigest()[:10]
        if image is not None:  # top_image: the bare name urlretrieve saved, always <id>.jpg
            image = Img(image.kind, image.size, name=f"{uid}.jpg", stored=image.stored)
        return Article(uid, outlet="The Babylon Bee", headline=title, article_text=text,
                       first_paragraph=" ".join(text.split("\n")[:5]).strip(), date="2023-11-28 15:04:00",
                       published_at=datetime(2023, 11, 28, 15, 4, tzinfo=UTC),
                       article_url=f"https://news.google.com/rss/articles/{uid}",
                       canonical_link=f"https://babylonbee.com/news/{uid}", source_url="https://babylonbee.com",
                       text_label=(None, None), multimodal_label=(None, None), image=image, scraper="otherlist",
                       **values)
    content = "Line one of the story.\nLine two, with a comma.\nLine \"three\".\nLine four.\nLine five.\nLine six."
    return [
        scraped("Voters head to the polls", "jpg", article_text=content,
                first_paragraph=" ".join(content.split("\n")[:5]), image=Img("jpeg", (64, 48))),
        scraped("Café owners’ protest", "png", cp1252=("headline",), article_text="Owners gathered downtown.",
                first_paragraph="Owners gathered downtown.", image=Img("png", (30, 30))),
        scraped("No picture today", article_text="Text only.", first_paragraph="Text only."),
        scraped("Logo trouble", "jpg", article_text="A story.", first_paragraph="A story.", image=Img("png", (24, 24))),
        scraped("Vector art", "svg", article_text="A story.", first_paragraph="A story.", image=Img("svg")),
        scraped("Modern formats", "webp", article_text="She said “yes” – twice.", first_paragraph="She said “yes”.",
                double_encoded=("first_paragraph", "article_text"), image=Img("webp", (32, 24))),
        scraped("Broken link", "jpg", article_text="A story.", first_paragraph="A story.",
                image=Img("jpeg", stored=False)),
        otherlist("Area Man Declares Victory Over Lawn", OTHERLIST_TEXT, image=Img("jpeg", (40, 30))),
        otherlist("Local Café Launches ‘Unity’ Latte", "The café — “unity” for $7.\nNobody asked.",
                  image=Img("png", (20, 16))),
        otherlist("Nothing To See Here", "Move along.\n\nReally."),
    ]


OTHERLIST_TEXT = ('LAWN, USA — A local man said Saturday that he had "finally won", after six weekends.\n\n'
                  "Neighbors, however, disagreed.\nOne of them, reached by phone, declined to comment.\n"
                  "Line four.\nLine five.\nLine six is not in the first paragraph.")


def _bad_articles() -> dict[str, list[Article]]:
    return {
        "current": [Article("", url="https://example.com/no-id", rejected="the article has no unique_id")],
        "zenodo": [Article("", source_url="https://example.com", other={"bertopics": None},
                           rejected="the article has no unique_id")],
        "v1": [Article("1300000001", categories_text="['Politics' 'Nat", rejected="new_categories: the list "
                                                                                  "\"['Politics' 'Nat\" is not closed")],
        "vldbench": [Article("0badf1e1d5", source_url="https://x.com", canonical_link="https://x.com/1", extra_field=True,
                             image=Img("png", (56, 30)), rejected="the record has 15 fields but the header has 14"),
                     Article("0badc0ffee", source_url="https://x.com", canonical_link="https://x.com/2",
                             image=Img("png", (56, 30)), claimed_size=(80, 60),
                             rejected="the image is 56x30 but the release's image column says 80x60")],
        "raw_scrape": [Article("", headline="Nameless", article_text="A story.", rejected="the article has no unique_id"),
                       Article("0bad7e47f1", outlet="The Babylon Bee", headline="Lost Text", article_text="Never copied.",
                               first_paragraph="Never copied.", scraper="otherlist", text_stored=False,
                               text_label=(None, None), multimodal_label=(None, None),
                               rejected="`content` names the text file 'bad_data_2/content/0bad7e47f1.txt', which is "
                                        "neither at that path nor in content/ next to the CSV")],
    }


def _scale_articles(count: int, seed: int = 7) -> list[Article]:
    """Plain current-release articles with photo-sized JPEGs (640x427, ~160 kB) and ~4 kB of text, for benchmarks."""
    rng = random.Random(seed)
    outlets = ["CNN", "Fox News", "Reuters", "The New York Times", "Financial Times", "The Guardian", "Newsmax"]
    labels = [("Likely to Bias", 1), ("Likely to UnBias", 0)]
    return [Article(str(3_000_000_000 + n), outlet=rng.choice(outlets), headline=f"Story number {n}",
                    article_text=_long_text(rng.randrange(3_000, 5_000), seed=n), url=f"https://example.com/{n}",
                    text_label=rng.choice(labels), multimodal_label=rng.choice(labels),
                    image=Img("jpeg", (640, 427), name=f"images/{3_000_000_000 + n}.jpg", photo=True))
            for n in range(count)]


def _long_text(size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = ["the", "senate", "vote", "border", "policy", "said", "on", "Tuesday", "economy", "election", "court",
             "officials", "report", "campaign", "voters", "according", "to", "a", "new", "poll"]
    paragraphs, length = [], 0
    while length < size:
        paragraph = " ".join(rng.choice(words) for _ in range(60)).capitalize() + "."
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size]


# ---- the tree ---------------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0, zenodo_as: str = "dir",
         vldbench_as: str = "repository") -> SampleTree:
    """Write the raw tree. zenodo_as: dir | zip (the images extracted, or the archive as downloaded);
    vldbench_as: repository (the three metadata files of the GitHub repository, its JSON cut off as there)
    | csv | parquet | json (only that file, whole)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    articles = {"current": _current_articles() + _scale_articles(scale), "zenodo": _zenodo_articles(),
                "v1": _v1_articles(), "vldbench": _vldbench_articles(), "vldbench_hub": _vldbench_hub_articles(),
                "raw_scrape": _scrape_articles()}
    if bad_records:
        for config, bad in _bad_articles().items():
            articles[config][1:1] = bad  # among the good ones, not last
        articles["raw_scrape"].sort(key=lambda a: a.scraper != "news_scrapper")  # file order: one CSV, then the other
    for config, items in articles.items():
        for number, article in enumerate(items):
            if article.image is not None and article.image.stored:
                article.image_bytes = image_bytes(article.image, seed=number)
    shared = {_stored_path(a): a.image_bytes for a in articles["current"] if a.image and a.image.stored}
    for article in articles["zenodo"]:  # one image folder for both tables: the same file, the same bytes
        if article.image is not None and _stored_path(article) in shared:
            article.image_bytes = shared[_stored_path(article)]
    tree = SampleTree(out_dir, articles)
    write_current(out_dir, articles["current"])
    write_zenodo(out_dir, articles["zenodo"], articles["zenodo"] + articles["current"], zenodo_as)
    write_v1(out_dir, articles["v1"])
    write_vldbench(out_dir, articles["vldbench"], vldbench_as, tree.lines)
    write_vldbench_hub(out_dir, articles["vldbench_hub"])
    write_scrape(out_dir, articles["raw_scrape"], tree.lines)
    return tree


def write_current(root: Path, articles: list[Article]) -> None:
    rows = [{"unique_id": a.unique_id, "outlet": a.outlet, "headline": a.spelled("headline"),
             "article_text": a.spelled("article_text"), "img_description": a.image_description,
             "image": a.image.name if a.image else None, "url": a.url,
             "nlp_label": a.text_label[0], "nlp_img_label": a.multimodal_label[0]} for a in articles]
    (root / "gen_b" / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "gen_b" / "data" / "dataset_cleaned.parquet")


ZENODO_TABLE = "dataset_with_labels.parquet"
"""Not verified: the name under which a user who downloaded record 13961155 loads its table."""


def write_zenodo(root: Path, articles: list[Article], with_images: list[Article], zenodo_as: str) -> None:
    """The record's table of `articles`, and the images of all articles `with_images`, in one folder."""
    zenodo = root / "zenodo"
    zenodo.mkdir(exist_ok=True)
    rows = [{**_v1_record(a), "image": a.image.name if a.image else None, **(a.other or {})} for a in articles]
    pq.write_table(pa.Table.from_pylist(rows), zenodo / ZENODO_TABLE)
    files = {_stored_path(a): a.image_bytes for a in with_images if a.image and a.image.stored}
    files[ZENODO_ORPHAN] = image_bytes(Img("jpeg", (12, 12)), seed=99)
    if zenodo_as == "zip":
        with zipfile.ZipFile(zenodo / "images.zip", "w") as archive:
            for name in sorted(files):
                archive.writestr(name, files[name])
        return
    for name, data in files.items():
        (zenodo / name).parent.mkdir(parents=True, exist_ok=True)
        (zenodo / name).write_bytes(data)


def _stored_path(article: Article) -> str:
    image = article.image
    if image.stored_as:
        return image.stored_as
    name = image.name.rsplit("/", 1)[-1] if image.name else f"{article.unique_id}.{EXTENSION[image.format]}"
    return f"images/{name}"


V1_FEATURES = datasets.Features({
    "unique_id": datasets.Value("string"), "outlet": datasets.Value("string"), "headline": datasets.Value("string"),
    "article_text": datasets.Value("string"), "image_description": datasets.Value("string"), "image": datasets.Image(),
    "date_published": datasets.Value("string"), "source_url": datasets.Value("string"),
    "canonical_link": datasets.Value("string"), "new_categories": datasets.Value("string"),
    "news_categories_confidence_scores": datasets.Value("string"), "text_label": datasets.Value("string"),
    "multimodal_label": datasets.Value("string")})


def write_v1(root: Path, articles: list[Article]) -> None:
    """Two Hub Parquet files as `datasets` writes them; the second stores the ids as int64 (numeric ids)."""
    (root / "gen_a" / "data").mkdir(parents=True, exist_ok=True)
    half = (len(articles) + 1) // 2
    for number, part in enumerate((articles[:half], articles[half:])):
        rows = [_v1_record(a) for a in part]
        features = V1_FEATURES.copy()
        if number == 1:
            features["unique_id"] = datasets.Value("int64")
            for row in rows:
                row["unique_id"] = int(row["unique_id"]) if row["unique_id"] else None
        table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
        pq.write_table(table, root / "gen_a" / "data" / f"train-{number:05d}-of-00002.parquet", row_group_size=3)


def _v1_record(article: Article) -> dict:
    image = article.image
    return {
        "unique_id": article.unique_id, "outlet": article.outlet, "headline": article.spelled("headline"),
        "article_text": article.spelled("article_text"), "image_description": article.image_description,
        "image": {"bytes": article.image_bytes, "path": image.name} if image else None,
        "date_published": article.date, "source_url": article.source_url, "canonical_link": article.canonical_link,
        "new_categories": _categories_text(article), "news_categories_confidence_scores": _scores_text(article),
        "text_label": article.text_label[0], "multimodal_label": article.multimodal_label[0],
    }


def _categories_text(article: Article) -> str:
    """numpy's repr of the array pandas stored (wrapped at 75 characters), as the releases have it."""
    return article.categories_text if article.categories_text is not None else str(np.array(article.categories))


def _scores_text(article: Article) -> str:
    if article.categories_text is not None and len(article.scores) == 1:
        return str(article.scores[0])
    return str(np.array(article.scores, dtype=float)) if article.scores else "[]"


VLDBENCH_COLUMNS = ["unique_id", "outlet", "headline", "article_text", "image_description", "image", "date_published",
                    "source_url", "canonical_link", "new_categories", "news_categories_confidence_scores",
                    "text_label", "multimodal_label", "saved_image_path"]


VLDBENCH_README = "# VLDBench Evaluating multimodal disinformation with regulatory alignment\n"
VLDBENCH_ORPHAN = "images/0000fddd6f.png"
"""An image of the repository's images/ folder that no metadata row names (it holds ~3,300 for 500 rows)."""


def write_vldbench(root: Path, articles: list[Article], form: str, lines: dict) -> None:
    repo = root / "VLDBench"
    data, images = repo / "data", repo / "images"
    data.mkdir(parents=True, exist_ok=True)
    images.mkdir(exist_ok=True)
    for article in articles:
        if article.image is not None and article.image.stored:
            (images / f"{article.unique_id}.png").write_bytes(article.image_bytes)
    records = [dict(_v1_record(a), image=pil_repr(a, n), saved_image_path=f"sample_review/images/{a.unique_id}.png")
               for n, a in enumerate(articles)]
    if form == "repository":
        (repo / "README.md").write_text(VLDBENCH_README)
        (data / "load-data.py").write_text('import pandas as pd\n\ndf = pd.read_parquet("metadata.parquet")\n')
        (repo / VLDBENCH_ORPHAN).write_bytes(image_bytes(Img("png", (8, 8)), seed=98))
    if form in ("repository", "json"):
        text = json.dumps(records, indent=4)
        if form == "repository":  # pandas stopped at the first PIL object it could not write
            text = text[:text.index('"image": ') + len('"image": ')]
        (data / "metadata.json").write_text(text, encoding="utf-8")
    if form in ("repository", "parquet"):  # pandas wrote the PIL objects it could not convert as an all-null column
        table = pa.Table.from_pylist([dict(r, image=None) for r in records])
        pq.write_table(table.select(VLDBENCH_COLUMNS), data / "metadata.parquet")
    if form in ("repository", "csv"):
        rows = [[r[c] for c in VLDBENCH_COLUMNS] + (["surplus"] if a.extra_field else []) for r, a in zip(records, articles)]
        (data / "metadata.csv").write_bytes(_csv_bytes(VLDBENCH_COLUMNS, rows, articles, "vldbench", lines))


VLDBENCH_HUB_FEATURES = datasets.Features({
    "unique_id": datasets.Value("string"), "outlet": datasets.Value("string"), "headline": datasets.Value("string"),
    "article_text": datasets.Value("string"), "image_description": datasets.Value("string"), "image": datasets.Image(),
    "date_published": datasets.Value("string"), "source_url": datasets.Value("string"),
    "news_category": datasets.Value("string"), "news_category_score": datasets.Value("float64"),
    "text_label": datasets.Value("string"), "multimodal_label": datasets.Value("string")})
"""The columns the Hub card of vector-institute/VLDBench lists (its table omits unique_id and the labels, which
users' code reads): names verified only as far as the card and that code go."""


def write_vldbench_hub(root: Path, articles: list[Article]) -> None:
    hub = root / "vldbench_hub"
    (hub / "data").mkdir(parents=True, exist_ok=True)
    (hub / "README.md").write_text("# VLDBench: Evaluating Multimodal Disinformation with Regulatory Alignment\n")
    (hub / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    rows = [{"unique_id": a.unique_id, "outlet": a.outlet, "headline": a.headline, "article_text": a.article_text,
             "image_description": a.image_description,
             "image": {"bytes": a.image_bytes, "path": a.image.name} if a.image else None,
             "date_published": a.date, "source_url": a.source_url,
             "news_category": a.categories[0] if a.categories else None,
             "news_category_score": a.scores[0] if a.scores else None,
             "text_label": a.text_label[0], "multimodal_label": a.multimodal_label[0]} for a in articles]
    table = pa.Table.from_pylist(rows, schema=VLDBENCH_HUB_FEATURES.arrow_schema)
    metadata = {"huggingface": json.dumps({"info": {"features": VLDBENCH_HUB_FEATURES.to_dict()}})}
    pq.write_table(table.replace_schema_metadata(metadata), hub / "data" / "train-00000-of-00001.parquet")


def pil_repr(article: Article, number: int) -> str:
    """VLDBench's `image` column: str() of the PIL image the authors held."""
    width, height = article.claimed_size or (article.image.size if article.image else (0, 0))
    return (f"<PIL.{article.pil_format}ImagePlugin.{article.pil_format}ImageFile image mode=RGB "
            f"size={width}x{height} at 0x7D6BA13E{number:04X}>")


SCRAPE_COLUMNS = ["unique_id", "outlet", "title", "date_published", "first_paragraph", "content", "top_image",
                  "article_url", "canonical_link", "source_url"]
"""news_scrapper.py's columns, in its DataFrame's order."""
OTHERLIST_COLUMNS = ["title", "article_url", "canonical_link", "date_published", "first_paragraph", "top_image",
                     "content", "outlet", "source_url", "unique_id"]
"""newsscrapper-otherlist.py's: its row dict's keys, in order (pd.concat puts the new row's columns first)."""
OTHERLIST_CSV = "the_babylon_bee_data.csv"
"""`<outlet name, lower case, spaces as _>_data.csv`, one per outlet."""


def write_scrape(root: Path, articles: list[Article], lines: dict) -> None:
    folder = root / "raw_scrape"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "content").mkdir(exist_ok=True)
    main = [a for a in articles if a.scraper == "news_scrapper"]
    rows = [[a.unique_id, a.outlet, a.spelled("headline"), a.date, a.spelled("first_paragraph"), a.spelled("article_text"),
             a.image.name if a.image else "", a.article_url, a.canonical_link, a.source_url] for a in main]
    (folder / "scrapped_data.csv").write_bytes(b"\xef\xbb\xbf" + _csv_bytes(SCRAPE_COLUMNS, rows, main, "raw_scrape", lines))
    other = [a for a in articles if a.scraper == "otherlist"]
    rows = [[a.headline, a.article_url, a.canonical_link, a.date, a.first_paragraph, a.image.name if a.image else "",
             a.text_file, a.outlet, a.source_url, a.unique_id] for a in other]
    (folder / OTHERLIST_CSV).write_bytes(_csv_bytes(OTHERLIST_COLUMNS, rows, other, "raw_scrape", lines))
    for article in other:
        if article.text_stored:
            (folder / "content" / f"{article.unique_id}.txt").write_text(article.article_text, encoding="utf-8")
    for article in articles:
        if article.image is not None and article.image.stored:
            (folder / "images" / article.image.name.rsplit("/", 1)[-1]).write_bytes(article.image_bytes)
    (folder / "deduped.csv").write_text("unique_id\n" + "".join(f"{a.unique_id}\n" for a in articles if a.unique_id))


def _csv_bytes(header: list[str], rows: list[list], articles: list[Article], config: str, lines: dict) -> bytes:
    """The CSV as pandas writes it (minimal quoting, LF); cp1252 fields as Windows-1252 bytes; lines noted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row, article in zip(rows, articles):
        lines[(config, article.unique_id)] = buffer.getvalue().count("\n") + 1
        writer.writerow(["" if value is None else value for value in row])
    data = buffer.getvalue().encode("utf-8")
    for article in articles:
        for name in article.cp1252:
            value = getattr(article, name)
            data = data.replace(value.encode("utf-8"), value.encode("cp1252"))
    return data


# ---- formats ------------------------------------------------------------------------------------------------

def double_encode(text: str) -> str:
    """UTF-8 read as Windows-1252 (undefined bytes as Latin-1) and kept: `“` becomes `â€œ`."""
    def as_cp1252(byte: int) -> str:
        try:
            return bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            return chr(byte)
    return "".join(as_cp1252(b) for b in text.encode("utf-8"))


SVG = b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">' \
      b'<rect width="120" height="40" fill="#c00"/><text x="8" y="26" fill="#fff">NEWS</text></svg>\n'


def image_bytes(image: Img, seed: int) -> bytes:
    """Real encoded bytes of the declared format and size."""
    if image.kind == "svg":
        return SVG
    if image.photo:  # noise compresses about as badly as a busy news photo
        pixels = np.random.default_rng(seed).normal(128, 40, (image.size[1], image.size[0], 3))
        picture = PIL.Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    else:
        rng = random.Random(seed)
        picture = PIL.Image.new("RGB", image.size, tuple(rng.randrange(40, 220) for _ in range(3)))
    buffer = io.BytesIO()
    picture.save(buffer, {"corrupt": "JPEG"}.get(image.kind, image.kind.upper()), **({"quality": 85} if image.photo else {}))
    data = buffer.getvalue()
    return data[: len(data) // 2] if image.kind == "corrupt" else data
