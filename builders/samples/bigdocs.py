"""A synthetic BigDocs raw tree: both Hub releases as Parquet, and the user's copies of source images.

Layout (see ../../dataset_cards/bigdocs.yaml, raw_layout):

    BigDocs-7.5M/ README.md get_bigdocs_75m.py   (not read by the builder)
      ArxivOCR/train-00000-of-00002.parquet train-00001-of-00002.parquet val-… test-…   (PNG embedded)
      cord-v2/train-… val-… test-…                 (query as a plain string, an extra ground_truth column)
      COCOtext/train-… val-…                       (img_id, no image column)
      TextOCR/train-… val-…                        (img_id; no test split)
      pubtables-1m/train-…                         (img_id; no dataset_name / task_name columns)
    BigDocs-Bench/ README.md
      GUI2UserIntent/ Screenshot2HTML/ (train in two files) Image2SVG/   train-… val-… test-…
    sources/
      COCO/train2014/COCO_train2014_*.jpg
      TextOCR/train_val_images.zip (train_images/<16 hex>.jpg) and one loose train_images/<16 hex>.jpg
      PubTables-1M/PubTables-1M-Detection/images/ and PubTables-1M-Structure/images/ (one name in both)

Files carry the `huggingface` schema metadata, as the Hub uploads do. Awkward-but-valid rows: sample ids
with dots, a 1×1 PNG, a grayscale PNG, a 200 KB OCR text, an empty query list, LaTeX / RTL / CJK / emoji
text, an image struct without bytes and an image cell that is null, a scalar query and a null one, an
unknown column; img_id with and without extension, an img_id absent from the source copy, a file name in
both PubTables-1M archives (Detection wins), one only in Structure, images from a zip and from a loose
file; Bench rows with one, two and no images, a 300 KB HTML target, an SVG target, queries and
annotations of different lengths, a test row with no annotations. With bad_records: a null sample_id,
a truncated PNG, a COCOtext row without img_id, and a Bench image that is not an image.
"""
from __future__ import annotations

import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import PIL.Image
import PIL.ImageDraw
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Image, List, Value

from ..bigdocs import IMAGE_STATUSES, RELEASE_75M, RELEASE_BENCH, SOURCES_DIR

SPLIT_FILE_NAMES = {"train": "train", "validation": "val", "test": "test"}
SCALE_ROWS_PER_FILE = 100


# ---- the release's file schemas (what the Hub uploads declare) ---------------------------------------------

def subset_features(image: bool = True, scalar_query: bool = False, names: bool = True,
                     extra: tuple[str, ...] = ()) -> datasets.Features:
    columns = {"sample_id": Value("string")}
    columns.update({"image": Image()} if image else {"img_id": Value("string")})
    if names:
        columns.update({"dataset_name": Value("string"), "task_name": Value("string")})
    columns["query"] = Value("string") if scalar_query else List(Value("string"))
    columns["annotations"] = List(Value("string"))
    columns.update({name: Value("string") for name in extra})
    return datasets.Features(columns)


BENCH_FEATURES = datasets.Features({"identifier": Value("string"), "images": List(Image()),
                                    "queries": List(Value("string")), "annotations": List(Value("string")),
                                    "task": Value("string"), "source": Value("string")})


# ---- records and what the build must make of them -----------------------------------------------------------

@dataclass
class Doc:
    """A BigDocs-7.5M row as released, and the image the build must end up with."""

    sample_id: str | None
    query: list[str] | str | None
    annotations: list[str]
    image: dict | None = None              # the release's image cell {bytes, path}
    img_id: str | None = None
    dataset_name: str | None = None
    task_name: str | None = None
    extra: dict = field(default_factory=dict)
    status: str = "embedded"               # what the build reports with the source copies in place
    result: dict | None = None             # the image the build must emit (bytes, path)
    size: tuple[int, int] | None = None

    def release_row(self, features: datasets.Features) -> dict:
        row = {"sample_id": self.sample_id, "image": self.image, "img_id": self.img_id,
               "dataset_name": self.dataset_name, "task_name": self.task_name, "query": self.query,
               "annotations": self.annotations, **self.extra}
        return {name: row[name] for name in features}

    def expected(self, with_sources: bool = True) -> dict:
        joinable = self.img_id is not None and self.image is None
        status, image, size = self.status, self.result, self.size
        if joinable and not with_sources:
            status, image, size = "no_source_folder", None, None
        query = [self.query] if isinstance(self.query, str) else self.query or []
        return {"sample_id": self.sample_id, "image": image, "image_status": IMAGE_STATUSES.index(status),
                "img_id": self.img_id, "width": size[0] if size else None, "height": size[1] if size else None,
                "dataset_name": self.dataset_name, "task_name": self.task_name, "query": query,
                "annotations": self.annotations,
                "extra_fields": json.dumps(self.extra, sort_keys=True, ensure_ascii=False) if self.extra else None}


@dataclass
class BenchRow:
    """A BigDocs-Bench row as released; every image is embedded, so the build keeps the row as it is."""

    identifier: str | None
    images: list[tuple[bytes, str | None, tuple[int, int]]]   # bytes, path, size
    queries: list[str]
    annotations: list[str]
    task: str
    source: str

    def release_row(self) -> dict:
        return {"identifier": self.identifier, "images": [{"bytes": b, "path": p} for b, p, _ in self.images],
                "queries": self.queries, "annotations": self.annotations, "task": self.task, "source": self.source}

    def expected(self) -> dict:
        return {"identifier": self.identifier, "images": [{"bytes": b, "path": p} for b, p, _ in self.images],
                "image_sizes": [list(s) for _, _, s in self.images], "queries": self.queries,
                "annotations": self.annotations, "task": self.task, "source": self.source, "extra_fields": None}


@dataclass
class Folder:
    """A subset or task folder: its files per split (each a list of rows) and their schema."""

    release: str
    name: str
    config: str
    features: datasets.Features
    files: dict[str, list[list]]               # split → files → rows (Doc or BenchRow)
    bad: dict[str, list] = field(default_factory=dict)   # split → rows appended to the last file (bad_records)


@dataclass
class SampleTree:
    root: Path
    folders: dict[str, Folder]                 # config → folder
    rejected: list[dict] = field(default_factory=list)   # {config, split, file, record} (bad_records only)

    def expected(self, config: str, split: str, with_sources: bool = True) -> list[dict]:
        rows = [row for file in self.folders[config].files.get(split, []) for row in file]
        return [row.expected() if isinstance(row, BenchRow) else row.expected(with_sources) for row in rows]

    def splits(self, config: str) -> list[str]:
        return list(self.folders[config].files)


# ---- images -------------------------------------------------------------------------------------------------

def image_bytes(size: tuple[int, int], seed: int, kind: str = "PNG", mode: str = "RGB") -> bytes:
    """A small real image with a few coloured bars, so previews show something."""
    rng = random.Random(seed)
    picture = PIL.Image.new("RGB", size, tuple(rng.randrange(150, 256) for _ in range(3)))
    draw = PIL.ImageDraw.Draw(picture)
    for _ in range(3):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle([x, y, min(size[0] - 1, x + size[0] // 3), y + 1], fill=tuple(rng.randrange(90) for _ in range(3)))
    buffer = io.BytesIO()
    picture.convert(mode).save(buffer, kind)
    return buffer.getvalue()


def page_png(seed: int) -> bytes:
    """A rendered-page look-alike: lines of dark, textured word boxes on white, about 290 kB as PNG (real
    ArxivOCR pages are antialiased text, which compresses poorly too)."""
    rng = random.Random(seed)
    size = (1000, 1294)
    ink = PIL.Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).point(lambda v: v // 16 * 8)
    mask = PIL.Image.new("L", size, 0)
    draw = PIL.ImageDraw.Draw(mask)
    for top in range(90, 1200, 22):
        x = 90
        while x < 880:
            width = rng.randrange(12, 70)
            draw.rectangle([x, top, min(x + width, 910), top + 11], fill=255)
            x += width + rng.randrange(6, 12)
    buffer = io.BytesIO()
    PIL.Image.composite(ink, PIL.Image.new("L", size, 255), mask).save(buffer, "PNG")
    return buffer.getvalue()


def _embedded(size, seed, path=None, kind="PNG", mode="RGB") -> dict:
    return {"bytes": image_bytes(size, seed, kind, mode), "path": path}


# ---- the hand-written content --------------------------------------------------------------------------------

LONG_OCR = "\n".join(f"{n}. The measured cross-section agrees with the prediction to within {n % 7 + 1}%." * 3
                     for n in range(1, 1200))  # ~200 kB
UNICODE_TEXT = ("Théorème 2.1 : $\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$ \\cite{gauss1809}; "
                "مرحبا بالعالم — 数学の定理 — 🙂 — n\u0303o")
LONG_HTML = ("<!DOCTYPE html>\n<html><head><title>Shop</title></head><body>\n"
             + "".join(f'<div class="item" id="i{n}"><h2>Item {n}</h2><p>Price: {n}.99 €</p></div>\n'
                       for n in range(5200)) + "</body></html>")  # ~300 kB
SVG_TEXT = ('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
            '<circle cx="16" cy="16" r="12" fill="#e33"/><path d="M8 16h16" stroke="#fff"/></svg>')
OCR_QUERY = ["Read all the text in the image."]


def _arxiv_ocr() -> tuple[dict, dict]:
    def doc(sample_id, annotations, image, size=(64, 48), query=OCR_QUERY):
        embedded = image is not None and image["bytes"] is not None
        return Doc(sample_id, query, annotations, image=image, dataset_name="ArxivOCR", task_name="ocr",
                   status="embedded" if embedded else "missing_in_release", result=image if embedded else None,
                   size=size if embedded else None)

    files = {
        "train": [
            [doc("arxivocr.0001.00001", ["Introduction\nWe study the decay of ..."],
                 _embedded((64, 48), 1, "arxivocr.0001.00001.png")),
             doc("arxivocr.0001.00002", ["."], _embedded((1, 1), 2), size=(1, 1), query=[]),
             doc("arxivocr.0001.00003", [LONG_OCR], _embedded((40, 56), 3), size=(40, 56))],
            [doc("arxivocr.0002.00001", ["Lost page"], {"bytes": None, "path": "arxivocr.0002.00001.png"}),
             doc("arxivocr.0002.00002", [UNICODE_TEXT], _embedded((48, 64), 5, mode="L"), size=(48, 64)),
             doc("arxivocr.0002.00003", ["No image at all"], None)],
        ],
        "validation": [[doc("arxivocr.0100.00001", ["Abstract\nWe present ..."], _embedded((64, 48), 6))]],
        "test": [[doc("arxivocr.0200.00001", ["Conclusion\nOur results ..."], _embedded((50, 70), 7), size=(50, 70))]],
    }
    bad = {"train": [doc(None, ["A row without sample_id"], _embedded((64, 48), 8))]}
    return files, bad


def _cord() -> tuple[dict, dict]:
    def receipt(sample_id, menu, seed, query="Parse the receipt into JSON."):
        cell, size = _embedded((30, 60), seed, f"{sample_id}.png"), (30, 60)
        ground_truth = json.dumps({"gt_parse": {"menu": menu}})
        return Doc(sample_id, query, [json.dumps({"menu": menu}, ensure_ascii=False)], image=cell,
                   dataset_name="cord-v2", task_name="receipt_parsing", extra={"ground_truth": ground_truth},
                   result=cell, size=size)

    files = {
        "train": [[receipt("cord.train.0", [{"nm": "Kopi Susu", "price": "18.000"}], 11),
                   receipt("cord.train.1", [{"nm": "Nasi Goreng", "price": "25.000"}], 12, query=None)]],
        "validation": [[receipt("cord.val.0", [{"nm": "Es Teh", "price": "5.000"}], 13)]],
        "test": [[receipt("cord.test.0", [{"nm": "Roti Bakar", "price": "12.500"}], 14)]],
    }
    truncated = receipt("cord.train.2", [{"nm": "Truncated", "price": "0"}], 15)
    truncated.image = {"bytes": truncated.image["bytes"][:-30], "path": truncated.image["path"]}
    return files, {"train": [truncated]}


@dataclass
class SourceFile:
    """A file of the user's source copy: where it sits (a folder path, or zip name + member) and its bytes."""

    path: str
    data: bytes
    archive: str | None = None


def _joined(subset, sample_id, img_id, source_file: SourceFile | None, size=None, names=True) -> Doc:
    return Doc(sample_id, ["Transcribe the text in the image."], [f"text of {sample_id}"], img_id=img_id,
               dataset_name=subset if names else None, task_name="ocr" if names else None,
               status="joined" if source_file else "not_in_source",
               result={"bytes": source_file.data, "path": source_file.path} if source_file else None,
               size=size if source_file else None)


def _photo(path, seed, size, archive=None) -> tuple[SourceFile, tuple[int, int]]:
    return SourceFile(path, image_bytes(size, seed, "JPEG"), archive), size


def _coco() -> tuple[dict, dict, list[SourceFile]]:
    a, size_a = _photo("train2014/COCO_train2014_000000270070.jpg", 21, (64, 48))
    b, size_b = _photo("train2014/COCO_train2014_000000000009.jpg", 22, (48, 64))
    c, size_c = _photo("train2014/COCO_train2014_000000100001.jpg", 23, (40, 30))
    unused, _ = _photo("train2014/COCO_train2014_000000555555.jpg", 24, (20, 20))
    files = {
        "train": [[_joined("COCOtext", "cocotext.train.0", "COCO_train2014_000000270070", a, size_a),
                   _joined("COCOtext", "cocotext.train.1", "COCO_train2014_000000000009.jpg", b, size_b),
                   _joined("COCOtext", "cocotext.train.2", "COCO_train2014_000000999999", None)]],
        "validation": [[_joined("COCOtext", "cocotext.val.0", "COCO_train2014_000000100001", c, size_c)]],
    }
    bad = {"train": [_joined("COCOtext", "cocotext.train.3", None, None)]}
    return files, bad, [a, b, c, unused]


def _textocr() -> tuple[dict, list[SourceFile]]:
    zipped, size_z = _photo("train_images/03b2dbb7dff0e32d.jpg", 31, (56, 42), archive="train_val_images.zip")
    loose, size_l = _photo("train_images/a1b2c3d4e5f60718.jpg", 32, (42, 56))
    val, size_v = _photo("train_images/0f1e2d3c4b5a6978.jpg", 33, (30, 30), archive="train_val_images.zip")
    files = {
        "train": [[_joined("TextOCR", "textocr.train.0", "03b2dbb7dff0e32d", zipped, size_z),
                   _joined("TextOCR", "textocr.train.1", "a1b2c3d4e5f60718.jpg", loose, size_l)]],
        "validation": [[_joined("TextOCR", "textocr.val.0", "0f1e2d3c4b5a6978", val, size_v)]],
    }
    return files, [zipped, loose, val]


def _pubtables() -> tuple[dict, list[SourceFile]]:
    detection, size_d = _photo("PubTables-1M-Detection/images/PMC4683861_3.jpg", 41, (60, 80))
    structure_twin, _ = _photo("PubTables-1M-Structure/images/PMC4683861_3.jpg", 42, (30, 20))
    structure_only, size_s = _photo("PubTables-1M-Structure/images/PMC5000000_1.jpg", 43, (44, 22))
    files = {"train": [[_joined("pubtables-1m", "pubtables.train.0", "PMC4683861_3.jpg", detection, size_d, names=False),
                        _joined("pubtables-1m", "pubtables.train.1", "PMC5000000_1", structure_only, size_s,
                                names=False)]]}
    return files, [detection, structure_twin, structure_only]


def _bench_image(seed, size, kind="PNG", path=None):
    return image_bytes(size, seed, kind), path, size


def _gui_intent() -> dict:
    def row(n, split, images, annotations=("Buy a train ticket to Montréal",)):
        return BenchRow(f"GUI2UserIntent_{split}_{n}", images, ["What is the user trying to do?"], list(annotations),
                        "GUI2UserIntent", "synthetic-gui")

    files = {
        "train": [[row(0, "train", [_bench_image(51, (36, 64))]),
                   row(1, "train", [_bench_image(52, (36, 64)), _bench_image(53, (64, 36), "JPEG", "second.jpg")]),
                   row(2, "train", [], ["Nothing to see"])]],
        "validation": [[row(0, "val", [_bench_image(54, (36, 64))])]],
        "test": [[row(0, "test", [_bench_image(55, (36, 64))], annotations=())]],
    }
    return files


def _screenshot2html() -> dict:
    def row(n, split, seed, queries, annotations):
        return BenchRow(f"Screenshot2HTML_{split}_{n}", [_bench_image(seed, (80, 120))], queries, annotations,
                        "Screenshot2HTML", "synthetic-web")

    files = {
        "train": [[row(0, "train", 61, ["Write the HTML of this page."], [LONG_HTML])],
                  [row(1, "train", 62, ["Write the HTML of this page."], ["<html><body>A</body></html>",
                                                                        "<html><body>B</body></html>"])]],
        "validation": [[row(0, "val", 63, ["Write the HTML."], ["<p>val</p>"])]],
        "test": [[row(0, "test", 64, ["Write the HTML."], ["<p>test</p>"])]],
    }
    return files


def _image2svg() -> tuple[dict, dict]:
    def row(n, split, seed, annotations=(SVG_TEXT,)):
        return BenchRow(f"Image2SVG_{split}_{n}", [_bench_image(seed, (32, 32))], ["Convert the image to SVG."],
                        list(annotations), "Image2SVG", "synthetic-icons")

    files = {"train": [[row(0, "train", 71)]], "validation": [[row(0, "val", 72)]], "test": [[row(0, "test", 73)]]}
    broken = row(1, "train", 74)
    broken.images = [(b"\x89PNG\r\n\x1a\n" + b"not really a PNG", "broken.png", (0, 0))]
    return files, {"train": [broken]}


def _scaled_docs(count: int) -> list[list[Doc]]:
    """Plain ArxivOCR-like pages (1000×1294 PNG, ~290 kB each) in files of SCALE_ROWS_PER_FILE rows."""
    docs = []
    for n in range(count):
        cell = {"bytes": page_png(1000 + n), "path": f"arxivocr.9{n:06d}.png"}
        docs.append(Doc(f"arxivocr.9{n // 1000:03d}.{n % 1000:05d}", OCR_QUERY, [f"Page {n}: " + "lorem ipsum " * 200],
                        image=cell, dataset_name="ArxivOCR", task_name="ocr", result=cell, size=(1000, 1294)))
    return [docs[i:i + SCALE_ROWS_PER_FILE] for i in range(0, len(docs), SCALE_ROWS_PER_FILE)]


# ---- writing the tree ----------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0) -> SampleTree:
    out_dir.mkdir(parents=True, exist_ok=True)
    arxiv_files, arxiv_bad = _arxiv_ocr()
    arxiv_files["train"] += _scaled_docs(scale)
    cord_files, cord_bad = _cord()
    coco_files, coco_bad, coco_sources = _coco()
    textocr_files, textocr_sources = _textocr()
    pubtables_files, pubtables_sources = _pubtables()
    folders = [
        Folder(RELEASE_75M, "ArxivOCR", "ArxivOCR", subset_features(), arxiv_files, arxiv_bad),
        Folder(RELEASE_75M, "cord-v2", "cord-v2", subset_features(scalar_query=True, extra=("ground_truth",)),
               cord_files, cord_bad),
        Folder(RELEASE_75M, "COCOtext", "COCOtext", subset_features(image=False), coco_files, coco_bad),
        Folder(RELEASE_75M, "TextOCR", "TextOCR", subset_features(image=False), textocr_files),
        Folder(RELEASE_75M, "pubtables-1m", "pubtables-1m", subset_features(image=False, names=False), pubtables_files),
        Folder(RELEASE_BENCH, "GUI2UserIntent", "bench-GUI2UserIntent", BENCH_FEATURES, _gui_intent()),
        Folder(RELEASE_BENCH, "Screenshot2HTML", "bench-Screenshot2HTML", BENCH_FEATURES, _screenshot2html()),
        Folder(RELEASE_BENCH, "Image2SVG", "bench-Image2SVG", BENCH_FEATURES, *_image2svg()),
    ]
    tree = SampleTree(out_dir, {f.config: f for f in folders})
    for folder in folders:
        tree.rejected += _write_folder(out_dir, folder, bad_records)
    _write_sources(out_dir / SOURCES_DIR / "COCO", coco_sources)
    _write_sources(out_dir / SOURCES_DIR / "TextOCR", textocr_sources)
    _write_sources(out_dir / SOURCES_DIR / "PubTables-1M", pubtables_sources)
    (out_dir / RELEASE_75M / "README.md").write_text("# BigDocs-7.5M\n(sample copy of the card)\n", encoding="utf-8")
    (out_dir / RELEASE_75M / "get_bigdocs_75m.py").write_text("# upstream helper script (not executed)\n")
    (out_dir / RELEASE_BENCH / "README.md").write_text("# BigDocs-Bench\n(sample copy of the card)\n", encoding="utf-8")
    return tree


def _write_folder(out_dir: Path, folder: Folder, bad_records: bool) -> list[dict]:
    """Write each split's files; with bad_records, the bad rows go at the end of the split's last file."""
    rejected = []
    for split, files in folder.files.items():
        extra = folder.bad.get(split, []) if bad_records else []
        for index, rows in enumerate(files):
            last = index == len(files) - 1
            name = f"{SPLIT_FILE_NAMES[split]}-{index:05d}-of-{len(files):05d}.parquet"
            path = out_dir / folder.release / folder.name / name
            written = rows + (extra if last else [])
            write_release_file(path, [_release_row(r, folder.features) for r in written], folder.features)
            rejected += [{"config": folder.config, "split": split, "file": f"{folder.release}/{folder.name}/{name}",
                          "record": f"row {len(rows) + k}" + (f" ({_identifier(r)})" if _identifier(r) else "")}
                         for k, r in enumerate(extra if last else [])]
    return rejected


def _release_row(row, features):
    return row.release_row() if isinstance(row, BenchRow) else row.release_row(features)


def _identifier(row) -> str | None:
    return row.identifier if isinstance(row, BenchRow) else row.sample_id


def write_release_file(path: Path, rows: list[dict], features: datasets.Features) -> None:
    """A release Parquet file as the Hub upload writes it: the features in the `huggingface` metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    pq.write_table(table, path, row_group_size=2)


def _write_sources(folder: Path, files: list[SourceFile]) -> None:
    for file in files:
        if file.archive is None:
            (folder / file.path).parent.mkdir(parents=True, exist_ok=True)
            (folder / file.path).write_bytes(file.data)
    for archive in sorted({f.archive for f in files if f.archive}):
        with zipfile.ZipFile(folder / archive, "w") as bundle:  # stored: JPEGs do not compress
            for file in files:
                if file.archive == archive:
                    bundle.writestr(file.path, file.data)
