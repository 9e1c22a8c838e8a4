"""The first rows of a dataset as HTML, with their media shown: what the Hub's viewer gives a reader.

Everything here is generic. A cell holding media (``{"bytes", "path"}`` as ``datasets`` stores Image, Audio
and Video) is shown by what its bytes are, never by its file name: images as ``<img>``, audio as a player,
video as a poster frame decoded with PyAV (for display only; the data keeps the original bytes).
What a plain table cannot show, because it joins several columns (boxes over an image, an interleaved
document, a question with its aligned context), is declared as data in the card's ``preview:`` metadata
(`builders.preview_spec`, which checks it on the build side) and drawn here by `render_view`.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import av
import PIL.Image
import pyarrow.parquet as pq

from ..media.image import sniff_format
from ..preview_spec import LITERAL_KEYS, VIEWS, check_spec, spec_columns, views_for  # noqa: F401 (re-exported)

PREVIEW_ROWS = 5
PREVIEW_TEXT = 300             # characters of a table cell before it is cut
PREVIEW_DOCUMENT_TEXT = 800    # characters of one text of a document
PREVIEW_LIST_ITEMS = 5
PREVIEW_MEDIA_BYTES = 1 << 20  # larger media are shown as a size, to keep pages light
POSTER_WIDTH = 320
# Distinct, saturated colours, so a box stands out from photographs and from its neighbours.
BOX_COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
               "#bfef45", "#fabed4")

# --------------------------------------------------------------------------------------------------------------
# Reading rows
# --------------------------------------------------------------------------------------------------------------


@dataclass
class PreviewRows:
    columns: list[str]
    rows: list[dict]
    class_names: dict[str, list[str]]  # top-level ClassLabel columns -> their names
    files: list[str]                   # the files the rows came from


def read_rows(paths: list[tuple[str, Path]], limit: int = PREVIEW_ROWS) -> PreviewRows:
    """The first ``limit`` rows of a split, across its files in order: (name in the repo, local path) pairs."""
    columns, rows, class_names, used = [], [], {}, []
    for name, path in paths:
        # without pre_buffer: the first rows of a 500 MB part, not the part (builders.parquet.batch_reader says
        # why; the serving side does not import the build side's writer, and with it `datasets`)
        parquet = pq.ParquetFile(path, pre_buffer=False)
        if not columns:
            columns = parquet.schema_arrow.names
            class_names = _class_names(parquet.schema_arrow.metadata or {})
        batch = next(parquet.iter_batches(batch_size=limit - len(rows)), None)
        if batch is not None and batch.num_rows:
            rows += batch.to_pylist()[:limit - len(rows)]
            used.append(name)
        if len(rows) >= limit:
            break
    return PreviewRows(columns, rows, class_names, used)


def _class_names(schema_metadata: dict) -> dict[str, list[str]]:
    """Class names from the ``huggingface`` schema metadata, so a label shows as ``2 (name)`` not ``2``."""
    try:
        features = json.loads(schema_metadata[b"huggingface"])["info"]["features"]
    except (KeyError, ValueError, TypeError):
        return {}
    return {column: feature["names"] for column, feature in features.items()
            if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" and "names" in feature}


# --------------------------------------------------------------------------------------------------------------
# Rendering rows
# --------------------------------------------------------------------------------------------------------------


def render_table(preview: PreviewRows, views: list[dict]) -> str:
    """The rows as a table; each view takes the place of the columns it shows, in front."""
    replaced = {column for view in views for key, column in spec_columns(view).items()
                if key in VIEWS[view["view"]]["replaces"]}
    columns = [c for c in preview.columns if c not in replaced]
    head = "".join(f"<th>{html.escape(view_title(view))}</th>" for view in views)
    head += "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in preview.rows:
        cells = [f'<td class="view">{render_view(view, row)}</td>' for view in views]
        cells += [f"<td>{render_column(row.get(c), preview.class_names.get(c))}</td>" for c in columns]
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not preview.rows:
        body.append(f'<tr><td colspan="{max(len(views) + len(columns), 1)}" class="note">no rows</td></tr>')
    return f'<table class="preview"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def view_title(view: dict) -> str:
    columns = spec_columns(view)
    if view["view"] == "boxes":
        return f"{columns['image']} with {columns['objects']}"
    if view["view"] == "document":
        return "document (" + " + ".join(columns[k] for k in ("texts", "images")) + ")"
    return "question and answers"


def render_column(value, class_names: list[str] | None) -> str:
    if class_names is not None and isinstance(value, int) and 0 <= value < len(class_names):
        return f"{value} ({html.escape(class_names[value])})"
    return render_cell(value)


def render_cell(value) -> str:
    if value is None:
        return '<span class="null">null</span>'
    if is_media(value):
        return render_media(value.get("bytes"), value.get("path"))
    if isinstance(value, (bytes, bytearray)):
        return render_media(bytes(value), None)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{html.escape(str(k))}: {render_cell(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        shown = ", ".join(render_cell(v) for v in value[:PREVIEW_LIST_ITEMS])
        more = f", … {len(value) - PREVIEW_LIST_ITEMS} more" if len(value) > PREVIEW_LIST_ITEMS else ""
        return f"[{shown}{more}]"
    if isinstance(value, float):
        return f"{value:.6g}"  # float32 columns come back as doubles: 0.119, not 0.11900000274181366
    return html.escape(cut(str(value), PREVIEW_TEXT))


def is_media(value) -> bool:
    """How ``datasets`` stores Image, Audio, Video and Pdf cells."""
    return isinstance(value, dict) and "bytes" in value and set(value) <= {"bytes", "path"}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


# Media --------------------------------------------------------------------------------------------------------


def render_media(data: bytes | None, path: str | None) -> str:
    label = html.escape(path or "")
    if data is None:
        return f'<span class="note">{label or "no bytes"}</span>'
    too_large = f'<span class="note">{label} ({len(data):,} bytes: too large to preview)</span>'
    mime = image_mime(data)
    if mime:
        if len(data) > PREVIEW_MEDIA_BYTES:
            return too_large
        if image_size(data) is None:
            return f'<span class="note">{label} ({len(data):,} bytes: not a decodable image)</span>'
        return f'<img src="{data_uri(mime, data)}" alt="{label}">'
    mime = audio_mime(data)
    if mime:
        if len(data) > PREVIEW_MEDIA_BYTES:
            return too_large
        return f'<audio controls preload="metadata" src="{data_uri(mime, data)}" title="{label}"></audio>'
    poster = video_poster(data) if is_video_container(data) else None  # only the poster goes in the page
    if poster is not None:
        return (f'<figure class="video"><img class="poster" src="{data_uri("image/jpeg", poster)}" '
                f'alt="poster frame of {label}"><figcaption>video {label} ({len(data):,} bytes)</figcaption>'
                "</figure>")
    return f'<span class="note">{label} ({len(data):,} bytes)</span>'


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


BROWSER_IMAGES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def image_mime(data: bytes) -> str | None:
    """Only these formats, recognised by their bytes, become <img>: never trust a path's extension, and never
    show an SVG (it could run a script)."""
    return BROWSER_IMAGES.get(sniff_format(data))


def audio_mime(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def is_video_container(data: bytes) -> bool:
    """MP4/MOV (an ``ftyp`` box), Matroska/WebM (EBML) or AVI."""
    return (data[4:8] == b"ftyp" or data.startswith(b"\x1a\x45\xdf\xa3")
            or (data[:4] == b"RIFF" and data[8:12] == b"AVI "))


def cached_by_content(maxsize: int):
    """Memoise a function of media bytes by their hash (keys stay small, unlike lru_cache's own)."""
    def decorate(function):
        results: OrderedDict[bytes, object] = OrderedDict()
        lock = threading.Lock()  # the server renders pages in several threads

        @functools.wraps(function)
        def wrapper(data: bytes):
            key = hashlib.sha256(data).digest()
            with lock:
                if key in results:
                    results.move_to_end(key)
                    return results[key]
            value = function(data)
            with lock:
                results[key] = value
                while len(results) > maxsize:
                    results.popitem(last=False)
            return value

        return wrapper
    return decorate


@cached_by_content(maxsize=512)
def video_poster(data: bytes) -> bytes | None:
    """The first decodable frame as a small JPEG, or None when the bytes hold no decodable video."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                return None
            frame = next(container.decode(video=0), None)
            if frame is None:
                return None
            image = frame.to_image()
    except (av.FFmpegError, OSError, ValueError):
        return None
    image.thumbnail((POSTER_WIDTH, POSTER_WIDTH))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


@cached_by_content(maxsize=4096)
def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image that decodes, else None: a browser shows a broken icon for the others."""
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            size = image.size
            image.draft("RGB", (64, 64))  # JPEGs decode at a fraction of their size: cheap, and still complete
            image.load()
            return size
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError):
        return None


# Views --------------------------------------------------------------------------------------------------------


def render_view(view: dict, row: dict) -> str:
    return {"boxes": render_boxes, "document": render_document, "qa": render_qa}[view["view"]](view, row)


def collect(value, path: str) -> list:
    """Values at ``path`` below ``value``: ``a.b`` reads fields, ``a[]`` steps into every item of a list."""
    found = [value]
    for part in path.split("."):
        step_in = part.endswith("[]")
        name = part.removesuffix("[]")
        found = [item.get(name) for item in found if isinstance(item, dict)]
        if step_in:
            found = [item for items in found if isinstance(items, list) for item in items]
    return [item for item in found if item is not None]


def one(row: dict, path: str):
    values = collect(row, path)
    return values[0] if values else None


def render_boxes(view: dict, row: dict) -> str:
    image = one(row, view["image"])
    if not is_media(image) or not image.get("bytes"):
        return render_cell(image)
    data = image["bytes"]
    size = image_size(data)
    mime = image_mime(data)
    if size is None or mime is None or len(data) > PREVIEW_MEDIA_BYTES:
        return render_media(data, image.get("path"))
    width, height = size
    labels = _box_labels(view, row)
    font = max(10, round(width / 22))  # in image pixels: the labels scale with the image
    shapes, legend = [], []
    for number, item in enumerate(collect(row, view["objects"] + "[]")):
        colour = BOX_COLOURS[number % len(BOX_COLOURS)]
        boxes = _boxes(item.get(view["box"]) if isinstance(item, dict) else None, view.get("box_format", "xyxy"))
        texts = _box_texts(view, item, labels) or [f"object {number}"]
        label, short = " · ".join(texts), html.escape(cut(texts[0], 40))
        for x0, y0, x1, y1 in boxes:
            shapes.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" stroke="{colour}" '
                          f'data-box="{x0},{y0},{x1},{y1}" vector-effect="non-scaling-stroke"><title>'
                          f"{html.escape(label)}</title></rect>"
                          f'<text x="{x0 + 3}" y="{y0 + font}" font-size="{font}" fill="{colour}" '
                          f'stroke-width="{font / 4:.1f}">{short}</text>')
        count = f"{len(boxes)} box{'es' if len(boxes) != 1 else ''}" if boxes else "no box"
        legend.append(f'<li><span class="swatch" style="background:{colour}"></span>{html.escape(cut(label, 120))}'
                      f' <span class="note">({count})</span></li>')
    return (f'<figure class="boxes"><div class="frame"><img src="{data_uri(mime, data)}" width="{width}" '
            f'height="{height}" alt="{html.escape(image.get("path") or "")}">'
            f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true">{"".join(shapes)}</svg>'
            f'</div><figcaption><ol class="legend">{"".join(legend)}</ol></figcaption></figure>')


def _box_texts(view: dict, item, labels: dict) -> list[str]:
    """An object's own ``label`` field, else the texts joined to it by ``label_key``."""
    if not isinstance(item, dict):
        return []
    if "label" in view and item.get(view["label"]) is not None:
        return [str(item[view["label"]])]
    return labels.get(item.get(view["label_key"]), []) if "label_key" in view else []


def _box_labels(view: dict, row: dict) -> dict:
    """key -> distinct label texts, in order of appearance, from the items ``labels`` names."""
    if "labels" not in view:
        return {}
    out: dict = {}
    for item in collect(row, view["labels"]):
        if isinstance(item, dict) and item.get(view["label_text"]) is not None:
            texts = out.setdefault(item.get(view["label_key"]), [])
            if item[view["label_text"]] not in texts:
                texts.append(item[view["label_text"]])
    return out


def _boxes(value, box_format: str) -> list[tuple]:
    """One box or a list of boxes -> [(x0, y0, x1, y1)]; anything not four numbers is left out."""
    if not isinstance(value, list):
        return []
    candidates = [value] if len(value) == 4 and all(isinstance(v, (int, float)) for v in value) else value
    out = []
    for box in candidates:
        if isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box):
            x0, y0, a, b = box
            out.append((x0, y0, x0 + a, y0 + b) if box_format == "xywh" else (x0, y0, a, b))
    return out


def render_document(view: dict, row: dict) -> str:
    texts = row.get(view["texts"]) or []
    images = row.get(view["images"]) or []
    urls = (row.get(view["image_urls"]) or []) if "image_urls" in view else []
    parts = []
    for position in range(max(len(texts), len(images))):
        text = texts[position] if position < len(texts) else None
        image = images[position] if position < len(images) else None
        url = urls[position] if position < len(urls) else None
        if text is not None:
            parts.append(f"<p>{html.escape(cut(text, PREVIEW_DOCUMENT_TEXT))}</p>")
        if is_media(image) and image.get("bytes"):
            parts.append(f'<div class="doc-image">{render_media(image["bytes"], image.get("path"))}</div>')
        elif text is None:
            source = f": {html.escape(url)}" if url else ""
            parts.append(f'<p class="note doc-missing">[image {position} not in the data{source}]</p>')
    if not parts:
        return '<span class="null">empty document</span>'
    return f'<div class="document">{"".join(parts)}</div>'


ALIGNED = ' class="aligned" title="aligned to the question"'


def render_qa(view: dict, row: dict) -> str:
    question = row.get(view["question"])
    answers = row.get(view["answers"]) or []
    correct = row.get(view["correct"]) if "correct" in view else None
    items = []
    for index, answer in enumerate(answers):
        is_correct = index == correct
        mark = ' class="correct" title="correct answer"' if is_correct else ""
        text = html.escape(answer) if answer else '<span class="null">empty</span>'
        items.append(f"<li{mark}>{text}{' ✓' if is_correct else ''}</li>")
    parts = [f'<p class="question">{html.escape(str(question))}</p>',
             f'<ol class="answers" start="0">{"".join(items)}</ol>']
    if "correct" in view and not (isinstance(correct, int) and 0 <= correct < len(answers)):
        parts.append(f'<p class="note">correct answer not given ({html.escape(str(correct))})</p>')
    aligned = row.get(view["aligned"]) if "aligned" in view else None
    context = row.get(view["context"]) if "context" in view else None
    if context:
        marked = set(aligned or [])
        sentences = "".join(f"<li{ALIGNED if index in marked else ''}>{html.escape(cut(sentence, PREVIEW_TEXT))}</li>"
                            for index, sentence in enumerate(context))
        parts.append(f'<ol class="context" start="0">{sentences}</ol>')
    elif aligned:
        indices = html.escape(", ".join(map(str, aligned)))
        parts.append(f'<p class="note">aligned to {html.escape(view["aligned"])} {indices}</p>')
    return f'<div class="qa">{"".join(parts)}</div>'
