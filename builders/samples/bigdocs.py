"""A synthetic BigDocs raw tree in the releases' real layouts, and the user's copies of source images.

Layout (as the Hub's file trees show it: ../../../shared/realdata/layouts/bigdocs.txt, and the card's
raw_layout):

    BigDocs-7.5M/ README.md .gitattributes get_bigdocs_75m.py      (not data: not read by the builder)
      ArxivOCR/ ArxivTableCap/ COCOtext/ Open4Business/ TabFact/ TextOCR/ WikiTQ/ cord-v2/ pubtables-1m/
        {train,val,test}-NNNNN-of-MMMMM.parquet                (TextOCR: train and val only)
    BigDocs-Bench/ README.md .gitattributes
      bench="servicenow" (the default), ServiceNow/BigDocs-Bench main: GUI-VQA/ GUI2BBox/ GUI2Summary/
        GUI2UserIntent/ Image2Flow_(GraphViz)/ Image2Flow_(JSON)/ Table2LaTex/
      bench="mirror", BigDocs/BigDocs-Bench main: Chart2Caption/ Chart2Markdown/ FlowChart2GraphViz/
        FlowChart2JSON/ GUI2BBox/ GUI2Summary/ GUI2UserIntent/ GUIVQA/ Image2SVG/ Screenshot2HTML/ Table2LaTeX/
        Text2SVG/
    sources/
      COCO/train2014/COCO_train2014_*.jpg
      TextOCR/train_val_images.zip (train_images/<16 hex>.jpg) and one loose train_images/<16 hex>.jpg
      PubTables-1M/PubTables-1M-Detection/images/ and PubTables-1M-Structure/images/ (one name in both)

`lay_out_listing` lays out any listing of release paths instead (the real one, in the layout test),
filling each Parquet file with one row of its subset or task.

The column names are those downstream users describe (no BigDocs column is documented first-party);
files carry the `huggingface` schema metadata, as the Hub uploads do. Awkward-but-valid rows: sample ids
with dots, a 1×1 PNG, a grayscale PNG, a 200 KB OCR text, an empty query list, LaTeX / RTL / CJK / emoji
text, an image struct without bytes and an image cell that is null, a scalar query and a null one, a
column the builder does not know (cord-v2's `ground_truth`); img_id with and without extension, an img_id
absent from the source copy, a file name in both PubTables-1M archives (Detection wins), one only in
Structure, images from a zip and from a loose file; img_id subsets without a source copy; Bench rows with
one, two and no images, a 300 KB LaTeX target, queries and annotations of different lengths, a test row
with no annotations (and, in the mirror, a 300 KB HTML target and an SVG target). With bad_records: a null
sample_id, a truncated PNG, a COCOtext row without img_id, and a Bench image that is not an image.
"""
from __future__ import annotations

import io
import json
import random
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import PIL.Image
import PIL.ImageDraw
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Image, List, Value

from ..bigdocs import (BENCH_TASKS, IMAGE_STATUSES, RELEASE_75M, RELEASE_BENCH, SHARD_FILE, SOURCES_DIR, SPLIT_NAMES,
                       SUBSETS, BenchTask, Subset)

SPLIT_FILE_NAMES = {"train": "train", "validation": "val", "test": "test"}
SCALE_ROWS_PER_FILE = 100
BENCH_REPOSITORIES = ("servicenow", "mirror")
PLACEHOLDERS = {  # files of the Hub repositories that are not data
    "README.md": "---\nlicense: cc-by-4.0\n---\n# {release}\n(placeholder for the Hub dataset card)\n",
    ".gitattributes": "*.parquet filter=lfs diff=lfs merge=lfs -text\n",
    "get_bigdocs_75m.py": "# placeholder for ServiceNow's helper script (never run by the builder)\n",
}


def bench_folders(repository: str = "servicenow") -> dict[str, BenchTask]:
    """The task folders of a BigDocs-Bench repository, by the folder name it uses."""
    if repository not in BENCH_REPOSITORIES:
        raise ValueError(f"bench must be one of {BENCH_REPOSITORIES}, not {repository!r}")
    return {getattr(task, repository): task for task in BENCH_TASKS if getattr(task, repository)}


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
        # the builder keeps a column it does not know in a field of the same name, with the column's type
        return {"sample_id": self.sample_id, "image": image, "image_status": IMAGE_STATUSES.index(status),
                "img_id": self.img_id, "width": size[0] if size else None, "height": size[1] if size else None,
                "dataset_name": self.dataset_name, "task_name": self.task_name, "query": query,
                "annotations": self.annotations, **self.extra, "extra_fields": None}


@dataclass
class BenchRow:
    """A BigDocs-Bench row as released; every image is embedded, so the build keeps the row as it is."""

    identifier: str | None
    images: list[tuple[bytes, str | None, tuple[int, int]]]   # bytes, path, size
    queries: list[str]
    annotations: list[str]
    task: str
    source: str

    def release_row(self, features: datasets.Features | None = None) -> dict:
        return {"identifier": self.identifier, "images": [{"bytes": b, "path": p} for b, p, _ in self.images],
                "queries": self.queries, "annotations": self.annotations, "task": self.task, "source": self.source}

    def expected(self, with_sources: bool = True) -> dict:
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
        return [row.expected(with_sources) for file in self.folders[config].files.get(split, []) for row in file]

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


def _seed(text: str) -> int:
    return zlib.crc32(text.encode())


# ---- the hand-written content --------------------------------------------------------------------------------

LONG_OCR = "\n".join(f"{n}. The measured cross-section agrees with the prediction to within {n % 7 + 1}%." * 3
                     for n in range(1, 1200))  # ~200 kB
UNICODE_TEXT = ("Théorème 2.1 : $\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$ \\cite{gauss1809}; "
                "مرحبا بالعالم — 数学の定理 — 🙂 — n\u0303o")
LONG_HTML = ("<!DOCTYPE html>\n<html><head><title>Shop</title></head><body>\n"
             + "".join(f'<div class="item" id="i{n}"><h2>Item {n}</h2><p>Price: {n}.99 €</p></div>\n'
                       for n in range(5200)) + "</body></html>")  # ~300 kB
LONG_LATEX = ("\\begin{tabular}{lrrr}\n\\toprule\nSample & $\\mu$ & $\\sigma$ & $n$ \\\\\n\\midrule\n"
              + "".join(f"S{n:05d} & {n % 97}.{n % 10} & {n % 13}.{n % 7} & {n} \\\\\n" for n in range(10000))
              + "\\bottomrule\n\\end{tabular}")  # ~300 kB
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


def _gui_intent(task: BenchTask) -> tuple[dict, dict]:
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
    return files, {}


def _table2latex(task: BenchTask) -> tuple[dict, dict]:
    def row(n, split, seed, queries, annotations):
        return BenchRow(f"Table2LaTeX_{split}_{n}", [_bench_image(seed, (80, 40))], queries, annotations,
                        "Table2LaTeX", "synthetic-tables")

    files = {
        "train": [[row(0, "train", 61, ["Write the LaTeX code of this table."], [LONG_LATEX])],
                  [row(1, "train", 62, ["Write the LaTeX code of this table."],
                       ["\\begin{tabular}{l}A\\end{tabular}", "\\begin{tabular}{l}B\\end{tabular}"])]],
        "validation": [[row(0, "val", 63, ["Write the LaTeX."], ["\\begin{tabular}{c}val\\end{tabular}"])]],
        "test": [[row(0, "test", 64, ["Write the LaTeX."], ["\\begin{tabular}{c}test\\end{tabular}"])]],
    }
    broken = row(1, "train", 65, ["Write the LaTeX."], ["\\begin{tabular}{c}x\\end{tabular}"])
    broken.images = [(b"\x89PNG\r\n\x1a\n" + b"not really a PNG", "broken.png", (0, 0))]
    return files, {"train": [broken]}


def _screenshot2html(task: BenchTask) -> tuple[dict, dict]:
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
    return files, {}


def _image2svg(task: BenchTask) -> tuple[dict, dict]:
    def row(n, split, seed):
        return BenchRow(f"Image2SVG_{split}_{n}", [_bench_image(seed, (32, 32))], ["Convert the image to SVG."],
                        [SVG_TEXT], "Image2SVG", "synthetic-icons")

    return {"train": [[row(0, "train", 71)]], "validation": [[row(0, "val", 72)]], "test": [[row(0, "test", 73)]]}, {}


HAND_WRITTEN_TASKS = {"GUI2UserIntent": _gui_intent, "Table2LaTeX": _table2latex, "Screenshot2HTML": _screenshot2html,
                      "Image2SVG": _image2svg}

# ---- one row per file, for every other subset and task --------------------------------------------------------

BENCH_TARGETS = {  # task → (prompt, target of row n)
    "Screenshot2HTML": ("Write the HTML of this page.", lambda n: f"<html><body><h1>Page {n}</h1></body></html>"),
    "Table2LaTeX": ("Write the LaTeX code of this table.", lambda n: f"\\begin{{tabular}}{{lr}}Item & {n} \\\\ "
                                                                    "\\end{tabular}"),
    "Image2SVG": ("Convert the image to SVG.", lambda n: SVG_TEXT.replace('r="12"', f'r="{n % 12 + 1}"')),
    "Text2SVG": ("Draw a red circle of radius {n} as SVG.", lambda n: SVG_TEXT.replace('r="12"', f'r="{n % 12 + 1}"')),
    "Image2Flow_(GraphViz)": ("Write the GraphViz code of this flowchart.",
                              lambda n: f"digraph G {{\n  start -> step{n};\n  step{n} -> end;\n}}"),
    "Image2Flow_(JSON)": ("Write this flowchart as JSON.", lambda n: json.dumps(
        {"nodes": ["start", f"step{n}", "end"], "edges": [["start", f"step{n}"], [f"step{n}", "end"]]})),
    "Chart2Markdown": ("Write the data of this chart as a Markdown table.",
                       lambda n: f"| year | value |\n|---|---|\n| 2020 | {n} |\n| 2021 | {n + 1} |"),
    "Chart2Caption": ("Write a caption for this chart.", lambda n: f"Sales grew by {n}% from 2020 to 2021."),
    "GUI2UserIntent": ("What is the user trying to do?", lambda n: f"Open settings page {n}"),
    "GUI2Summary": ("Summarise this screen.", lambda n: f"A login screen with {n} text fields and a button."),
    "GUI-VQA": ("What is written on the highlighted button?", lambda n: f"Continue {n}"),
    "GUI2BBox": ("Where is the search field?", lambda n: f"[0.{n % 9 + 1}0, 0.12, 0.45, 0.20]"),
}
SUBSET_TEXTS = {  # subset → (task_name, prompt)
    "ArxivOCR": ("ocr", OCR_QUERY[0]), "ArxivTableCap": ("table_captioning", "Write a caption for this table."),
    "cord-v2": ("receipt_parsing", "Parse the receipt into JSON."), "COCOtext": ("ocr", "Read the text in the photo."),
    "TextOCR": ("ocr", "Read the text in the photo."), "pubtables-1m": ("table_structure", "Find the table."),
    "TabFact": ("fact_verification", "Is the statement supported by the table?"),
    "WikiTQ": ("table_qa", "Which year had the highest value?"),
    "Open4Business": ("document_summarisation", "Summarise this business document."),
}


def generic_doc(subset: Subset, split: str, index: int) -> Doc:
    """The one row of file `index` of a subset's split: its image embedded, or named by an img_id that no
    source copy holds (none is written for it)."""
    sample_id = f"{subset.folder.lower()}.{SPLIT_FILE_NAMES[split]}.{index:05d}"
    task_name, prompt = SUBSET_TEXTS[subset.folder]
    text = {"query": [prompt], "annotations": [f"Answer for {sample_id}."], "dataset_name": subset.folder,
            "task_name": task_name}
    if subset.source is None:
        cell = _embedded((24, 16), _seed(sample_id), f"{sample_id}.png")
        return Doc(sample_id, image=cell, result=cell, size=(24, 16), **text)
    img_id = {"COCOtext": f"COCO_train2014_{_seed(sample_id) % 10**12:012d}",
              "TextOCR": f"{_seed(sample_id):08x}{_seed(sample_id[::-1]):08x}",
              "pubtables-1m": f"PMC{_seed(sample_id) % 10**7}_{index % 5}.jpg"}.get(subset.folder, f"{sample_id}.png")
    return Doc(sample_id, img_id=img_id, status="no_source_folder", **text)


def generic_bench_row(task: BenchTask, split: str, index: int) -> BenchRow:
    """The one row of file `index` of a task's split: one embedded PNG, a prompt and a target."""
    prompt, target = BENCH_TARGETS[task.name]
    identifier = f"{task.name}_{SPLIT_FILE_NAMES[split]}_{index}"
    return BenchRow(identifier, [_bench_image(_seed(identifier), (28, 20))], [prompt.format(n=index)], [target(index)],
                    task.name, "synthetic")


def _generic_files(make_row, spec, splits: dict[str, int]) -> dict:
    return {split: [[make_row(spec, split, index)] for index in range(count)] for split, count in splits.items()}


THREE_SPLITS = {"train": 1, "validation": 1, "test": 1}


def _scaled_docs(count: int) -> list[list[Doc]]:
    """Plain ArxivOCR-like pages (1000×1294 PNG, ~290 kB each) in files of SCALE_ROWS_PER_FILE rows."""
    docs = []
    for n in range(count):
        cell = {"bytes": page_png(1000 + n), "path": f"arxivocr.9{n:06d}.png"}
        docs.append(Doc(f"arxivocr.9{n // 1000:03d}.{n % 1000:05d}", OCR_QUERY, [f"Page {n}: " + "lorem ipsum " * 200],
                        image=cell, dataset_name="ArxivOCR", task_name="ocr", result=cell, size=(1000, 1294)))
    return [docs[i:i + SCALE_ROWS_PER_FILE] for i in range(0, len(docs), SCALE_ROWS_PER_FILE)]


# ---- writing the tree ----------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0, bench: str = "servicenow") -> SampleTree:
    """The sample tree: BigDocs-7.5M's nine subsets, and BigDocs-Bench as `bench` names it ("servicenow":
    ServiceNow/BigDocs-Bench main, the default; "mirror": BigDocs/BigDocs-Bench main)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arxiv_files, arxiv_bad = _arxiv_ocr()
    arxiv_files["train"] += _scaled_docs(scale)
    cord_files, cord_bad = _cord()
    coco_files, coco_bad, coco_sources = _coco()
    textocr_files, textocr_sources = _textocr()
    pubtables_files, pubtables_sources = _pubtables()
    subsets = {s.folder: s for s in SUBSETS}
    folders = [
        Folder(RELEASE_75M, "ArxivOCR", "ArxivOCR", subset_features(), arxiv_files, arxiv_bad),
        Folder(RELEASE_75M, "ArxivTableCap", "ArxivTableCap", subset_features(),
               _generic_files(generic_doc, subsets["ArxivTableCap"], THREE_SPLITS)),
        Folder(RELEASE_75M, "cord-v2", "cord-v2", subset_features(scalar_query=True, extra=("ground_truth",)),
               cord_files, cord_bad),
        Folder(RELEASE_75M, "COCOtext", "COCOtext", subset_features(image=False), coco_files, coco_bad),
        Folder(RELEASE_75M, "TextOCR", "TextOCR", subset_features(image=False), textocr_files),
        Folder(RELEASE_75M, "pubtables-1m", "pubtables-1m", subset_features(image=False, names=False), pubtables_files),
        *(Folder(RELEASE_75M, name, name, subset_features(image=False),
                 _generic_files(generic_doc, subsets[name], THREE_SPLITS))
          for name in ("TabFact", "WikiTQ", "Open4Business")),
    ]
    for folder_name, task in bench_folders(bench).items():
        write = HAND_WRITTEN_TASKS.get(task.name)
        files, bad = write(task) if write else (_generic_files(generic_bench_row, task, THREE_SPLITS), {})
        folders.append(Folder(RELEASE_BENCH, folder_name, task.config_name, BENCH_FEATURES, files, bad))
    tree = SampleTree(out_dir, {f.config: f for f in folders})
    for folder in folders:
        tree.rejected += _write_folder(out_dir, folder, bad_records)
    _write_sources(out_dir / SOURCES_DIR / "COCO", coco_sources)
    _write_sources(out_dir / SOURCES_DIR / "TextOCR", textocr_sources)
    _write_sources(out_dir / SOURCES_DIR / "PubTables-1M", pubtables_sources)
    for release, names in ((RELEASE_75M, ("README.md", ".gitattributes", "get_bigdocs_75m.py")),
                           (RELEASE_BENCH, ("README.md", ".gitattributes"))):
        for name in names:
            (out_dir / release / name).write_text(PLACEHOLDERS[name].format(release=release), encoding="utf-8")
    return tree


def lay_out_listing(out_dir: Path, paths: list[str]) -> SampleTree:
    """Lay out release paths (relative to the data directory, as in the layout listings): a path ending in
    '/' is an empty folder, a Parquet file gets one row of its subset or task per file, and the Hub
    repositories' other files (README.md, .gitattributes, get_bigdocs_75m.py) a placeholder."""
    subsets = {s.folder: s for s in SUBSETS}
    tasks = {folder: task for task in BENCH_TASKS for folder in task.folders}
    files: dict[str, dict[str, dict[int, list]]] = {}
    folders: dict[str, Folder] = {}
    for relative in paths:
        path = out_dir / relative
        if relative.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        parts = relative.split("/")
        match = SHARD_FILE.fullmatch(parts[-1])
        if not match:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(PLACEHOLDERS[parts[-1]].format(release=parts[0]), encoding="utf-8")
            continue
        release, name = parts[0], parts[1]
        split, index = SPLIT_NAMES[match["split"]], int(match["index"])
        if release == RELEASE_75M:
            spec = subsets[name]
            rows = [generic_doc(spec, split, index)]
            features = subset_features(image=spec.source is None)
        else:
            spec = tasks[name]
            rows = [generic_bench_row(spec, split, index)]
            features = BENCH_FEATURES
        write_release_file(path, [row.release_row(features) for row in rows], features)
        folders.setdefault(spec.config_name, Folder(release, name, spec.config_name, features, {}))
        files.setdefault(spec.config_name, {}).setdefault(split, {})[index] = rows
    for config, by_split in files.items():
        folders[config].files = {split: [by_split[split][i] for i in sorted(by_split[split])]
                                 for split in SPLIT_FILE_NAMES if split in by_split}
    return SampleTree(out_dir, folders)


def read_listing(text: str) -> list[str]:
    """The paths of a layout listing (`# ` comment lines, then `path[TAB size]` per line)."""
    return [line.split("\t", 1)[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


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
            write_release_file(path, [row.release_row(folder.features) for row in written], folder.features)
            rejected += [{"config": folder.config, "split": split, "file": f"{folder.release}/{folder.name}/{name}",
                          "record": f"row {len(rows) + k}" + (f" ({_identifier(r)})" if _identifier(r) else "")}
                         for k, r in enumerate(extra if last else [])]
    return rejected


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
