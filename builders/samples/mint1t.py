"""A small MINT-1T raw tree in the release's real formats: the inverse of builders/mint1t.py.

- MINT-1T-HTML: Parquet in the layout of the Hub since September 2024, the flat `data_v1_1/` and `data_v1_0/`
  folders of `shard_SSS_part_PPP.parquet` (row groups of 2 rows); with html_v1_0_layout="per-dump", v1.0 as
  the July-August 2024 revisions held it instead: top-level `CC-MAIN-YYYY-WW/shard_NNNN.parquet` folders and
  `data/CC-MAIN-YYYY-WW/` (one dump in both, to be read once);
- MINT-1T-HTML-images: an img2dataset output for some of the URLs (one webdataset shard, one files shard);
- MINT-1T-PDF-CC-2024-18 and -2023-06: WebDataset tars of `<32 hex>.json` + multi-frame TIFF made with
  Pillow (JPEG-compressed frames, one LZW frame, RGBA / grey / 1x1 / 6000x20 frames, a damaged frame), and
  `image_metadata` listing the images of a shared page in another order than `images`, as the release does;
- MINT-1T-ArXiv: both tar layouts (json + tiff; json + one member per image);
- each repository's README.md, .gitattributes and card pictures, as placeholders (nothing reads them).

`make` returns what a correct build must contain. Records the builder must reject are written only with
bad_records=True; scale=N adds N plain documents per subset, with realistically sized images.
`write_listed` writes one path of a real Hub listing (shared/realdata/layouts/mint1t.txt) with content of
its kind, so that tests can lay out the release's own file names.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq

MTIME = 1_717_200_000  # fixed member mtime: the same tree byte for byte on every run

# ---- what the build must contain --------------------------------------------------------------------------


@dataclass
class Doc:
    """One document as written to the raw tree, and the row the build must make of it."""

    key: str
    subset: str
    texts: list
    refs: list                                   # the release's `images` list (URLs, tokens or member names)
    cc_dump: str | None = None
    url: str | None = None
    source_file: str = ""
    frames: list = field(default_factory=list)   # pdf/arxiv: PIL images of the TIFF (or of the members)
    tiff: bytes | None = None                    # the TIFF as written
    members: dict = field(default_factory=dict)  # arxiv per-image members: name -> bytes
    downloads: dict = field(default_factory=dict)  # html: URL -> bytes materialized by img2dataset
    statuses: list = field(default_factory=list)   # expected image_info[].status per image
    pdf_name: str | None = None
    language: dict | None = None
    previous_word_count: int | None = None
    bff_count: int | None = None
    image_metadata: list | None = None           # pdf: as written, in the release's order (not `images` order)
    image_entries: list = field(default_factory=list)  # pdf: the image_metadata entry made for each image, or None
    image_hashes: list | None = None             # html side column, in image order
    metadata: dict | None = None                 # expected `metadata` column (decoded); pdf: extra JSON keys
    expected_metadata: dict | None = None        # the `metadata` column when it is not `metadata` alone
    notes: list = field(default_factory=list)    # the expected `notes`, in order (a prefix of each)
    expected_texts: list | None = None           # the texts after the builder's repairs, when they differ
    tiff_compression: str = "jpeg"
    damaged_frame: int | None = None             # this frame's compressed data is overwritten
    json_encoding: str = "ascii"                 # "cp1252": the JSON member is written in that encoding
    json_bytes: bytes = b""

    @property
    def output_texts(self) -> list:
        return self.texts if self.expected_texts is None else self.expected_texts

    @property
    def output_metadata(self) -> dict | None:
        return self.metadata if self.expected_metadata is None else self.expected_metadata

    @property
    def image_positions(self) -> list[int]:
        return [i for i, ref in enumerate(self.refs) if ref is not None]


@dataclass
class SampleTree:
    root: Path
    docs: dict[str, Doc]                         # by key
    configs: dict[str, list[str]]                # config -> keys in build order
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (config, record, reason) with bad_records

    def rows_expected(self, config: str) -> list[str]:
        return self.configs[config]


# ---- images ----------------------------------------------------------------------------------------------

def picture(width: int, height: int, seed: int, mode: str = "RGB") -> PIL.Image.Image:
    """A gradient with a coloured block: distinct per seed, smooth enough to compress like a real figure."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, 3)
    pixels = np.stack([(x * (c + 1) * 7 // max(width, 1) + y * 3 + base[c]) % 256 for c in range(3)], axis=-1)
    x0, y0 = rng.integers(0, max(width // 2, 1)), rng.integers(0, max(height // 2, 1))
    pixels[y0:y0 + height // 3 + 1, x0:x0 + width // 3 + 1] = rng.integers(0, 256, 3)
    image = PIL.Image.fromarray(pixels.astype("uint8"), "RGB")
    if mode == "RGBA":
        image.putalpha(PIL.Image.fromarray(((x + y) % 256).astype("uint8"), "L"))
    return image.convert(mode) if mode != image.mode else image


def realistic_picture(seed: int) -> PIL.Image.Image:
    """Benchmark-sized: a few hundred kB as JPEG, like the PDF figures of the release."""
    rng = random.Random(seed)
    width, height = rng.choice([(1024, 768), (800, 1100), (1240, 620), (640, 480)])
    noise = np.random.default_rng(seed).integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    return PIL.Image.fromarray(noise, "RGB").resize((width, height), PIL.Image.BILINEAR)


def encode(image: PIL.Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **({"quality": 85} if kind == "JPEG" else {}))
    return buffer.getvalue()


def multi_frame_tiff(frames: list[PIL.Image.Image], compression: str = "jpeg") -> bytes:
    """One TIFF holding every image of a document, one frame each, as the release's tars do."""
    buffer = io.BytesIO()
    options = {"quality": 90} if compression == "jpeg" else {}
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], compression=compression, **options)
    return buffer.getvalue()


def damage_frame(tiff: bytes, index: int) -> bytes:
    """The TIFF with frame `index`'s compressed data overwritten (same length, so the structure stays valid)."""
    image = PIL.Image.open(io.BytesIO(tiff))
    image.seek(index)
    offset, size = image.tag_v2[273][0], image.tag_v2[279][0]
    return tiff[:offset] + (b"\x07\x11" * size)[:size] + tiff[offset + size:]


# ---- formats --------------------------------------------------------------------------------------------

HTML_V1_1 = pa.schema([("texts", pa.list_(pa.string())), ("images", pa.list_(pa.string())), ("url", pa.string()),
                       ("cc_dump", pa.string()), ("metadata", pa.string()), ("image_hashes", pa.list_(pa.string()))])
HTML_V1_0 = pa.schema([("texts", pa.list_(pa.string())), ("images", pa.list_(pa.string())), ("url", pa.string()),
                       ("metadata", pa.list_(pa.struct([("alt", pa.string()), ("width", pa.int64())])))])


def write_html_parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    """Hand-written shards get row groups of 2 rows (the reader must cross groups); scaled shards get row
    groups of a realistic size: tens of thousands of tiny groups make a footer of hundreds of MB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=2 if len(rows) < 100 else 1000)


def document_json(doc: Doc) -> dict:
    """The JSON member of a pdf/arxiv document (keys sorted, as in the release)."""
    record = {"texts": doc.texts, "images": doc.refs}
    optional = {"url": doc.url, "pdf_name": doc.pdf_name, "language_id_whole_page_fasttext": doc.language,
                "previous_word_count": doc.previous_word_count, "image_metadata": doc.image_metadata,
                "bff_contained_ngram_count_before_dedupe": doc.bff_count}
    record.update({k: v for k, v in optional.items() if v is not None})
    record.update(doc.metadata or {})
    return dict(sorted(record.items()))


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            archive.addfile(info, io.BytesIO(data))


def write_img2dataset(folder: Path, shards: list[tuple[str, list[dict]]]) -> None:
    """img2dataset output: per shard `NNNNN.parquet` + images in `NNNNN.tar` (webdataset) or `NNNNN/` (files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (kind, entries) in enumerate(shards):
        stem = f"{number:05d}"
        rows, members = [], []
        for index, entry in enumerate(entries):
            key = f"{stem}{index:04d}"
            rows.append({"url": entry["url"], "key": key, "status": entry["status"],
                         "error_message": entry.get("error"), "width": entry.get("width"),
                         "height": entry.get("height")})
            if entry["status"] == "success":
                members += [(f"{key}.{entry['ext']}", entry["bytes"]),
                            (f"{key}.json", json.dumps({"url": entry["url"], "key": key}).encode())]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{stem}.parquet")
        if kind == "webdataset":
            write_tar(folder / f"{stem}.tar", members)
        else:
            (folder / stem).mkdir(exist_ok=True)
            for name, data in members:
                (folder / stem / name).write_bytes(data)


# ---- the documents -------------------------------------------------------------------------------------

def interleave(texts: list[str], images: list[str], pattern: str) -> tuple[list, list]:
    """Parallel lists from a pattern of 't' / 'i' (the OBELICS convention)."""
    text_iter, image_iter = iter(texts), iter(images)
    out_texts, out_images = [], []
    for slot in pattern:
        out_texts.append(next(text_iter) if slot == "t" else None)
        out_images.append(next(image_iter) if slot == "i" else None)
    return out_texts, out_images


def hex_key(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


URL_A, URL_B = "https://img.example.com/a.jpg", "https://cdn.example.net/b.png?w=800"
URL_404 = "https://img.example.com/gone.jpg"
URL_BROKEN = "https://img.example.com/broken.jpg"
URL_ODD = "https://bilder.example.de/Größe Bild 1.jpg?size=large&lang=de"


def html_documents(scale: int, v1_0_layout: str = "flat") -> dict[str, list[Doc]]:
    """HTML documents per file (relative to MINT-1T-HTML/); v1.0 in the flat layout of September 2024 on,
    or in the per-dump folders of July-August 2024 (see `html_v1_0_documents`)."""
    many_texts = [f"Paragraph {n}: step {n} of the recipe." for n in range(31)]
    many_images = [f"https://img.example.com/step{n}.jpg" for n in range(29)] + [URL_BROKEN]
    long_texts = [f"Item {n}: " + "lorem ipsum " * (n % 7 + 1) for n in range(3000)]
    long_texts[1500] = "Z" * 2_000_000
    long_images = [f"https://img.example.com/long/{n}.png" for n in range(40)]
    v1_1 = dict(cc_dump="CC-MAIN-2024-18")
    files = {
        "data_v1_1/shard_000_part_000.parquet": [
            Doc("", "html", *interleave(["Best hiking trails near Lake Placid", "Trail 1 climbs 600 m through pine forest."],
                                        [URL_A, URL_B], "titi"), cc_dump="CC-MAIN-2023-50",
                url="https://blog.example.org/post/123", image_hashes=["a0", "b0"],
                metadata={"metadata": [{"alt": "trail map"}, {"alt": None}]}),
            Doc("", "html", *interleave(["caption-ish"], [URL_404, URL_A], "iti"), cc_dump="CC-MAIN-2023-50",
                url="https://news.example.com/a", image_hashes=["gone", "a0"]),
            Doc("", "html", *interleave(many_texts, many_images, "t" + "it" * 30), cc_dump="CC-MAIN-2024-10",
                url="https://cooking.example.com/recipe", image_hashes=[f"s{n}" for n in range(30)]),
            Doc("", "html", ["Only text here.", "Still no image."], [None, None], cc_dump="CC-MAIN-2024-10",
                url="https://text.example.com/", image_hashes=[]),
        ],
        "data_v1_1/shard_000_part_001.parquet": [
            Doc("", "html", *interleave(long_texts, long_images, ("t" * 75 + "i") * 40), **v1_1,
                url="https://long.example.com/forum", image_hashes=[f"l{n}" for n in range(40)]),
            Doc("", "html", *interleave(["Emoji 🚀🎉 and CJK 漢字かな, RTL שלום עולם مرحبا, combining e\u0301 a\u0308."],
                                        [URL_ODD], "ti"), **v1_1, url="https://unicode.example.com/ü?q=1",
                image_hashes=["u0"]),
            Doc("", "html", *interleave(["Broken metadata, no image hashes."], ["https://img.example.com/c.jpg"], "ti"),
                **v1_1, url="https://meta.example.com/1", metadata={"metadata": "{broken"},
                notes=["the metadata column is not valid JSON: kept as a string"]),
            Doc("", "html", *interleave(["Empty and relative URLs."], ["", "/img/x.jpg"], "iti"), **v1_1, url=None,
                image_hashes=["e0", "r0"]),
        ],
        "data_v1_1/shard_055_part_003.parquet": [
            Doc("", "html", *interleave(["The card's sample-data file.", "Second paragraph."], [URL_B], "tit"),
                cc_dump="CC-MAIN-2023-40", url="https://sample.example.com/x", image_hashes=["b0"],
                metadata={"metadata": {"lang": "en"}}),
        ],
        **html_v1_0_documents(v1_0_layout),
    }
    if scale:
        files["data_v1_1/shard_100_part_000.parquet"] = [
            Doc("", "html", *interleave([f"Synthetic paragraph {n}.{k} " * 40 for k in range(8)],
                                        [f"https://synthetic.example.com/{n}/{k}.jpg" for k in range(3)], "ttittitttit"),
                **v1_1, url=f"https://synthetic.example.com/{n}", image_hashes=["x", "y", "z"]) for n in range(scale)]
    return files


def html_v1_0_documents(layout: str) -> dict[str, list[Doc]]:
    """v1.0 files. "flat" (the Hub since September 2024): `data_v1_0/shard_SSS_part_PPP.parquet` with the
    v1.1 columns, the documents before the header/footer removal. "per-dump" (July-August 2024): one folder
    per dump at the top and under `data/`, files without a cc_dump column and with metadata as structs."""
    if layout == "flat":
        return {
            "data_v1_0/shard_000_part_001.parquet": [
                Doc("", "html", *interleave(["Home | Trails | About", "Best hiking trails near Lake Placid",
                                             "Trail 1 climbs 600 m through pine forest.",
                                             "\u00a9 2023 Example Blog. All rights reserved."],
                                            [URL_A, URL_B], "ttitit"), cc_dump="CC-MAIN-2023-50",
                    url="https://blog.example.org/post/123", image_hashes=["a0", "b0"],
                    metadata={"metadata": [{"alt": "trail map"}, {"alt": None}]}),
                Doc("", "html", *interleave(["Forum index", "Our stand at the 2019 fair."],
                                            ["https://forum.example.net/fair.jpg"], "tti"),
                    cc_dump="CC-MAIN-2019-04", url="https://forum.example.net/t/42", image_hashes=["f0"]),
            ],
            "data_v1_0/shard_060_part_001.parquet": [   # the name the repository's README config points to
                Doc("", "html", *interleave(["An early page of the 2017 crawl."], ["https://archive.example.org/a.png"],
                                            "it"), cc_dump="CC-MAIN-2017-22", url="https://archive.example.org/2017/05/post",
                    image_hashes=["e0"]),
            ],
        }
    if layout == "per-dump":
        return {
            "data/CC-MAIN-2023-50/shard_0000.parquet": [
                Doc("", "html", *interleave(["Old layout, metadata as a list of structs."], [URL_A], "it"),
                    cc_dump="CC-MAIN-2023-50", url="https://legacy.example.com/1",
                    metadata={"metadata": [{"alt": "a", "width": 640}]}),
                Doc("", "html", ["Legacy text-only row."], [None], cc_dump="CC-MAIN-2023-50",
                    url="https://legacy.example.com/2"),
            ],
            "CC-MAIN-2020-45/shard_0000.parquet": [
                Doc("", "html", *interleave(["First upload layout (top-level dump folder).", "More."],
                                            ["https://old.example.com/p.gif"], "tit"),
                    cc_dump="CC-MAIN-2020-45", url="https://old.example.com/"),
            ],
        }
    raise ValueError(f"unknown MINT-1T-HTML v1.0 layout {layout!r}: 'flat' or 'per-dump'")


def bad_html_rows() -> list[tuple[dict, str]]:
    """Rows breaking the interleaving invariant, with the reason the builder must give."""
    broken = [(["a", None], [None], "texts has 2 entries but images has 1"),
              (["a", None], [None, None], "position 1 holds neither a text nor an image"),
              (["a", "b"], [None, URL_A], "position 1 holds both a text and an image")]
    return [({"texts": texts, "images": images, "url": f"https://bad.example.com/{n}", "cc_dump": "CC-MAIN-2024-18",
              "metadata": None, "image_hashes": None}, reason) for n, (texts, images, reason) in enumerate(broken)]


def downloaded_images() -> tuple[list[tuple[str, list[dict]]], dict[str, bytes]]:
    """The img2dataset shards, and the bytes the build must attach to each URL fetched successfully."""
    jpeg_a = encode(picture(40, 30, 1), "JPEG")
    shards = [
        ("webdataset", [
            {"url": URL_404, "status": "failed_to_download", "error": "HTTP Error 404: Not Found"},
            {"url": URL_A, "status": "success", "bytes": jpeg_a, "ext": "jpg", "width": 40, "height": 30},
            {"url": URL_BROKEN, "status": "success", "bytes": jpeg_a[: len(jpeg_a) // 2], "ext": "jpg"},
        ]),
        ("files", [
            {"url": URL_B, "status": "failed_to_download", "error": "timeout"},   # a retry succeeded below
            {"url": URL_B, "status": "success", "bytes": encode(picture(24, 24, 2), "PNG"), "ext": "png"},
            {"url": "https://old.example.com/p.gif", "status": "success",
             "bytes": encode(picture(16, 12, 3).convert("P"), "GIF"), "ext": "gif"},
        ]),
    ]
    downloads = {e["url"]: e["bytes"] for _, entries in shards for e in entries
                 if e["status"] == "success" and e["url"] != URL_BROKEN}
    return shards, downloads


def html_statuses(doc: Doc, downloads: dict[str, bytes]) -> list[str]:
    failures = {URL_BROKEN: "undecodable", URL_404: "download_failed"}
    return ["ok" if ref in downloads else failures.get(ref, "not_downloaded") for ref in doc.refs if ref is not None]


def pdf_doc(name: str, dump: str, texts: list, tokens: list, pattern: str, frames: list,
            shared_pages_reversed: bool = False, **fields) -> Doc:
    """A PDF document whose image_metadata agrees with its tokens and frames (unless fields say otherwise).

    With shared_pages_reversed, the entries of the images sharing a page are listed in reverse order, as the
    release has them for some documents (mlfoundations/MINT-1T#9): only their page and xref tell them apart.
    """
    texts, refs = interleave(texts, tokens, pattern)
    rng = random.Random(name)
    entries = [{"height": frame.height, "page": int(token.split("_")[1]), "sha256": "%064x" % rng.getrandbits(256),
                "width": frame.width, "xref": int(token.split("_")[3])} for token, frame in zip(tokens, frames)]
    image_metadata = list(entries)
    if shared_pages_reversed:
        pages = sorted({entry["page"] for entry in entries})
        image_metadata = [entry for page in pages for entry in reversed([e for e in entries if e["page"] == page])]
    values = dict(cc_dump=dump, url=f"https://files.example.org/{name}.pdf", pdf_name=f"{name}.pdf",
                  language={"en": 0.93}, previous_word_count=sum(len(t.split()) for t in texts if t) + 12, bff_count=3,
                  image_metadata=image_metadata, image_entries=entries, frames=frames, statuses=["ok"] * len(frames))
    return Doc(hex_key(name), "pdf", texts, refs, **{**values, **fields})


def pdf_tars(scale: int) -> dict[str, list[tuple[Doc, str]]]:
    """Tars (relative to the data dir) → their documents, each with its member order."""
    d18, d06 = "CC-MAIN-2024-18", "CC-MAIN-2023-06"
    long_texts = [f"Page {n // 2} block {n}: " + "Long PDF text. " * 560 for n in range(60)]
    long = pdf_doc("fifty-pages", d18, long_texts, [f"page_{p}_image_{100 + p}" for p in (3, 10, 20, 30, 49)],
                   "t" * 12 + "it" * 5 + "t" * 43, [picture(80, 60, 20 + k) for k in range(5)])
    long.image_metadata[1], long.image_metadata[2] = long.image_metadata[2], long.image_metadata[1]  # pages out of order
    gaps = pdf_doc("metadata-gaps", d18, ["An image without its image_metadata entry, an entry without its image."],
                   ["page_0_image_4", "page_1_image_6"], "iti", [picture(20, 16, 34), picture(16, 20, 35)],
                   notes=["image 0 (page_0_image_4) has no image_metadata entry",
                          "image_metadata [0] (page 3, xref 99) match(es) no image of the document: kept in metadata"])
    stray = {"height": 10, "page": 3, "sha256": "%064x" % 99, "width": 10, "xref": 99}
    gaps.image_metadata, gaps.image_entries = [stray, gaps.image_entries[1]], [None, gaps.image_entries[1]]
    gaps.expected_metadata = {"image_metadata": [stray]}
    resized = pdf_doc("resized", d06, ["The frame is smaller than the original image."], ["page_0_image_7"], "ti",
                      [picture(64, 48, 40)], notes=["image 0: image_metadata says 1280x960, the stored image is 64x48"])
    resized.image_metadata[0].update(width=1280, height=960)
    shard0, shard1 = f"MINT-1T-PDF-CC-2024-18/{d18}-shard-0", f"MINT-1T-PDF-CC-2024-18/{d18}-shard-1"
    tars = {
        f"{shard0}/CC-MAIN-20240412101354-20240412131354-00000.tar": [
            (pdf_doc("annual-report", d18, ["Annual report 2023", "Figure 1 shows revenue.", "Outlook."],
                     ["page_0_image_8", "page_0_image_9", "page_1_image_31"], "tiitit",
                     [picture(640, 480, 11), picture(120, 90, 12), picture(64, 200, 13)],
                     shared_pages_reversed=True), "json-first"),
            (pdf_doc("single-lzw", d18, ["One LZW-compressed figure."], ["page_2_image_5"], "it",
                     [picture(50, 40, 14)], tiff_compression="tiff_lzw"), "json-first"),
            (pdf_doc("text-only", d18, ["No images in this PDF.", "Second block."], [], "tt", []), "json-first"),
            (pdf_doc("reverse-order", d18, ["Members in reverse order."], ["page_0_image_3"], "ti",
                     [picture(30, 30, 15)]), "tiff-first"),
        ],
        f"{shard0}/CC-MAIN-20240412101354-20240412131354-00001.tar": [
            (pdf_doc("modes", d18, ["RGBA, grey, 1x1 and a 6000x20 banner."],
                     ["page_0_image_1", "page_0_image_2", "page_1_image_3", "page_1_image_4"], "tiiii",
                     [picture(40, 30, 16, "RGBA"), picture(33, 21, 17, "L"), picture(1, 1, 18),
                      picture(6000, 20, 19)], shared_pages_reversed=True), "json-first"),
            (pdf_doc("surrogate", d18, ["Broken emoji \ud83d here.", "Fine \U0001F600 pair."], [], "tt", [],
                     expected_texts=["Broken emoji \ufffd here.", "Fine \U0001F600 pair."],
                     notes=["1 unpaired UTF-16 surrogate escape(s) replaced by U+FFFD"]), "json-first"),
            (pdf_doc("cp1252", d18, ["\u201cSmart quotes\u201d from Windows."], [], "t", [], json_encoding="cp1252",
                     expected_texts=["\ufffdSmart quotes\ufffd from Windows."],
                     notes=["the JSON member is not valid UTF-8"]), "json-first"),
            (pdf_doc("extra-keys", d18, ["Unknown keys pass through."], [], "t", [], language={"en": float("nan")},
                     metadata={"metadata": {"Content-Type": "application/pdf"}}), "json-first"),
            (pdf_doc("no-name", d18, ["No pdf_name and no url."], [], "t", [], pdf_name=None, url=None), "json-first"),
        ],
        f"{shard1}/CC-MAIN-20240413020121-20240413050121-00000.tar": [
            (long, "json-first"),
            (pdf_doc("damaged-frame", d18, ["The second figure's data is damaged."],
                     ["page_0_image_1", "page_0_image_2", "page_0_image_3"], "tiii",
                     [picture(48, 32, 31), picture(48, 32, 32), picture(48, 32, 33)],
                     statuses=["ok", "undecodable", "ok"], damaged_frame=1, shared_pages_reversed=True), "json-first"),
            (gaps, "json-first"),
        ],
        f"MINT-1T-PDF-CC-2023-06/{d06}-shard-0/CC-MAIN-20230126210844-20230127000844-00000.tar": [
            (resized, "json-first"),
            (pdf_doc("second-dump", d06, ["Another dump.", "Two images."], ["page_0_image_1", "page_1_image_2"],
                     "itti", [picture(36, 24, 41), picture(24, 36, 42)]), "json-first"),
        ],
    }
    if scale:
        d10 = "CC-MAIN-2024-10"
        docs = []
        for n in range(scale):
            count = 1 + n % 4
            docs.append(pdf_doc(f"synthetic-{n}", d10, [f"Synthetic page text {n}.{k} " * 120 for k in range(count + 2)],
                                [f"page_{k}_image_{10 + k}" for k in range(count)], "tt" + "it" * count,
                                [realistic_picture(1000 * n + k) for k in range(count)]))
        for start in range(0, scale, 85):  # ~85 documents per tar, as measured on the real shards
            name = f"CC-MAIN-20240229000000-20240229030000-{start // 85:05d}.tar"
            tars[f"MINT-1T-PDF-CC-2024-10/{d10}-shard-0/{name}"] = [(doc, "json-first") for doc in docs[start:start + 85]]
    return tars


def bad_pdf_tars() -> tuple[dict[str, list[tuple[str, bytes]]], list[tuple[str, str]], Doc]:
    """Tars with damaged documents (members written as listed), the (record, reason) pairs the build must
    reject, and the one good document among them."""
    d06 = "CC-MAIN-2023-06"
    frames = [picture(20, 20, 50 + k) for k in range(3)]
    too_many = pdf_doc("too-many-frames", d06, ["x"], ["page_0_image_1", "page_0_image_2"], "iti", frames[:2])
    too_few = pdf_doc("too-few-frames", d06, ["x"], ["page_0_image_1", "page_0_image_2", "page_0_image_3"], "iiti", frames)
    corrupt = pdf_doc("corrupt-tiff", d06, ["x"], ["page_0_image_1"], "ti", frames[:1])
    split = pdf_doc("split-across-tars", d06, ["x"], ["page_0_image_1"], "ti", frames[:1])
    good = pdf_doc("good-neighbour", d06, ["The rest of the tar still builds."], ["page_0_image_1"], "ti", frames[:1])
    for doc in (too_many, too_few, corrupt, split, good):
        doc.json_bytes = json_member_bytes(doc)
    good.tiff = multi_frame_tiff(good.frames)
    cut_json = "0123456789abcdef0123456789abcdef"
    folder = f"MINT-1T-PDF-CC-2023-06/{d06}-shard-1"
    tars = {
        f"{folder}/CC-MAIN-20230127000844-20230127030844-00000.tar": [
            (f"{too_many.key}.json", too_many.json_bytes), (f"{too_many.key}.tiff", multi_frame_tiff(frames)),
            (f"{too_few.key}.json", too_few.json_bytes), (f"{too_few.key}.tiff", multi_frame_tiff(frames[:2])),
            (f"{corrupt.key}.json", corrupt.json_bytes), (f"{corrupt.key}.tiff", b"II*\x00" + b"\x99" * 64),
            (f"{cut_json}.json", b'{"texts": ["cut sh'),
            (f"{split.key}.json", split.json_bytes),
            (f"{good.key}.json", good.json_bytes), (f"{good.key}.tiff", good.tiff),
        ],
        f"{folder}/CC-MAIN-20230127000844-20230127030844-00001.tar": [
            (f"{split.key}.tiff", multi_frame_tiff(frames[:1])),
        ],
    }
    good.source_file = next(iter(tars))
    rejected = [
        (too_many.key, f"{too_many.key}.tiff has 3 frame(s) but the JSON lists 2 image(s)"),
        (too_few.key, f"{too_few.key}.tiff has 2 frame(s) but the JSON lists 3 image(s)"),
        (corrupt.key, f"{corrupt.key}.tiff is not a readable TIFF"),
        (cut_json, "invalid JSON"),
        (split.key, f"the JSON lists 1 image(s) but the tar holds no {split.key}.tiff"),
        (split.key, f"{split.key}.tiff has no {split.key}.json in this tar"),
    ]
    return tars, rejected, good


def arxiv_documents(scale: int) -> dict[str, list[tuple[Doc, list[tuple[str, bytes | None]]]]]:
    """ArXiv tars → documents with their members in tar order (None stands for the document's JSON)."""
    latex = ["\\section{Introduction} We study $E=mc^2$ \\cite{einstein1905}.",
             "\\begin{equation} a^2+b^2=c^2 \\end{equation}", "Results in Table~\\ref{tab:1}.",
             "% " + "long appendix line \\\\ " * 50_000]
    old = Doc("hep-ph0001001", "arxiv", *interleave(latex[:2], ["fig_1", "fig_2"], "titi"),
              frames=[picture(60, 40, 60), picture(40, 60, 61)], statuses=["ok", "ok"])
    three = Doc("2105_05862", "arxiv", *interleave(latex, ["2105_05862_f1", "2105_05862_f2", "2105_05862_f3"], "tiititt"),
                frames=[picture(70, 50, 62), picture(50, 70, 63), picture(30, 30, 64)], statuses=["ok"] * 3)
    no_images = Doc("2105_05863", "arxiv", ["\\title{A text-only paper}", "No figures."], [None, None])
    named = Doc("2105_05870", "arxiv", *interleave(["Per-image members named in images; the first is a PNG "
                                                     "called .jpg."], ["2105_05870_0.jpg", "2105_05870_1.png"], "iti"),
                members={"2105_05870_0.jpg": encode(picture(32, 32, 65), "PNG"),
                         "2105_05870_1.png": encode(picture(16, 24, 66), "PNG")}, statuses=["ok", "ok"])
    prefixed = Doc("2105_05871", "arxiv", *interleave(["Members found by the key prefix; the second is damaged."],
                                                       ["fig1", "fig2"], "iti"),
                   members={"2105_05871_0.jpg": encode(picture(28, 20, 67), "JPEG"),
                            "2105_05871_1.jpg": b"\xff\xd8\xff\xe0 not really a jpeg"},
                   statuses=["ok", "undecodable"])
    tars = {
        "MINT-1T-ArXiv/arXiv_src_0001_001_wds.tar": [(old, [("json", None), ("tiff", None)])],
        "MINT-1T-ArXiv/arXiv_src_2105_001_wds.tar": [
            (three, [("json", None), ("tiff", None)]),
            (no_images, [("json", None)]),
            (named, [("json", None), *named.members.items()]),
            (prefixed, [*prefixed.members.items(), ("json", None)]),   # the images come before the JSON
        ],
    }
    if scale:
        tars["MINT-1T-ArXiv/arXiv_src_2404_001_wds.tar"] = [
            (Doc(f"2404_{n:05d}", "arxiv", *interleave([f"\\section{{S{k}}} text {n} " * 50 for k in range(3)],
                                                       ["f0", "f1"], "titit"),
                 frames=[realistic_picture(7_000_000 + 2 * n + k) for k in range(2)], statuses=["ok", "ok"]),
             [("json", None), ("tiff", None)]) for n in range(scale)]
    return tars


def json_member_bytes(doc: Doc) -> bytes:
    """Python's json writes ASCII with \\u escapes (so a lone surrogate stays an escape); the cp1252 sample
    is written raw in that encoding to exercise the non-UTF-8 path."""
    if doc.json_encoding == "cp1252":
        return json.dumps(document_json(doc), ensure_ascii=False).encode("cp1252")
    return json.dumps(document_json(doc)).encode("ascii")


def tar_members(doc: Doc, layout: list[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """The members of one document: ("json" / "tiff", None) stand for its JSON and its TIFF."""
    named = {"json": (f"{doc.key}.json", doc.json_bytes), "tiff": (f"{doc.key}.tiff", doc.tiff)}
    return [named[name] if data is None else (name, data) for name, data in layout]


# ---- writing the tree -------------------------------------------------------------------------------------

def make(out_dir: Path, bad_records: bool = False, scale: int = 0,
         scaled_subsets: tuple[str, ...] = ("html", "pdf", "arxiv"), html_v1_0_layout: str = "flat") -> SampleTree:
    """scale=N adds N documents to each of scaled_subsets (benchmarks of one subset scale only that one);
    html_v1_0_layout="per-dump" writes MINT-1T-HTML v1.0 as a revision of July-August 2024 held it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tree = SampleTree(out_dir, {}, {"html": [], "html-v1.0": [], "pdf": [], "arxiv": []})
    write_html(tree, scale if "html" in scaled_subsets else 0, html_v1_0_layout)
    write_pdf(tree, scale if "pdf" in scaled_subsets else 0)
    write_arxiv(tree, scale if "arxiv" in scaled_subsets else 0)
    for repository in sorted(p.name for p in out_dir.iterdir() if p.is_dir()):
        kind = "MINT-1T-PDF-CC-YYYY-WW" if repository.startswith("MINT-1T-PDF-CC-") else repository
        for name in REPOSITORY_FILES.get(kind, ()):
            write_listed(out_dir, f"{repository}/{name}")
    if bad_records:
        write_bad_records(tree)
    return tree


def write_html(tree: SampleTree, scale: int, v1_0_layout: str = "flat") -> None:
    shards, downloads = downloaded_images()
    write_img2dataset(tree.root / "MINT-1T-HTML-images", shards)
    for relative, docs in sorted(html_documents(scale, v1_0_layout).items()):
        for number, doc in enumerate(docs):
            doc.source_file = f"MINT-1T-HTML/{relative}"
            doc.key = f"{doc.source_file}#{number}"
            doc.downloads = {ref: downloads[ref] for ref in doc.refs if ref in downloads}
            doc.statuses = html_statuses(doc, downloads)
            tree.docs[doc.key] = doc
        write_html_shard(tree.root / "MINT-1T-HTML" / relative, docs)
    html = [doc for doc in tree.docs.values() if doc.subset == "html"]
    tree.configs["html"] = [d.key for d in html if "/data_v1_1/" in d.key]
    v1_0 = [d for d in html if "/data_v1_1/" not in d.key]
    if v1_0_layout == "per-dump":
        # the top-level folder of a dump that data/ holds too is the same data: the builder reads it once
        copy = tree.root / "MINT-1T-HTML/CC-MAIN-2023-50/shard_0000.parquet"
        write_html_parquet(copy, pq.read_table(tree.root / "MINT-1T-HTML/data/CC-MAIN-2023-50/shard_0000.parquet")
                           .to_pylist(), HTML_V1_0)
        v1_0.sort(key=lambda d: d.cc_dump)   # the per-dump folders are read in dump order
    tree.configs["html-v1.0"] = [d.key for d in v1_0]


def html_row(doc: Doc, flat: bool) -> dict:
    """A row of an HTML shard. The flat files of September 2024 on have cc_dump and image_hashes columns and
    their metadata as a JSON string; the per-dump files of July-August 2024 neither, and metadata as structs."""
    metadata = (doc.metadata or {}).get("metadata")
    row = {"texts": doc.texts, "images": doc.refs, "url": doc.url, "metadata": metadata}
    if flat:
        row.update(cc_dump=doc.cc_dump, image_hashes=doc.image_hashes,
                   metadata=metadata if metadata is None or isinstance(metadata, str) else json.dumps(metadata))
    return row


def write_html_shard(path: Path, docs: list[Doc]) -> None:
    flat = path.parent.name in ("data_v1_0", "data_v1_1")
    write_html_parquet(path, [html_row(doc, flat) for doc in docs], HTML_V1_1 if flat else HTML_V1_0)


# ---- paths of a real listing ---------------------------------------------------------------------------------

REPOSITORY_FILES = {
    "MINT-1T-HTML": (".gitattributes", "README.md", "interleaved-example-twitter.png", "mint-logo.png"),
    "MINT-1T-PDF-CC-YYYY-WW": (".gitattributes", "README.md", "interleaved-example-twitter.png"),
    "MINT-1T-ArXiv": (".gitattributes",),
}
"""What each upstream repository holds besides data, as its Hub file tree shows (layouts/mint1t.txt)."""

HTML_DUMPS = ("CC-MAIN-2017-22", "CC-MAIN-2018-43", "CC-MAIN-2019-04", "CC-MAIN-2020-45", "CC-MAIN-2021-17",
              "CC-MAIN-2022-33", "CC-MAIN-2023-50", "CC-MAIN-2024-18")
FLAT_HTML = re.compile(r"MINT-1T-HTML/data_v1_([01])/shard_(\d{3})_part_(\d{3})\.parquet")
PER_DUMP_HTML = re.compile(r"MINT-1T-HTML/(?:data/)?(CC-MAIN-\d{4}-\d{2})/shard_(\d{4})\.parquet")
PDF_TAR = re.compile(r"MINT-1T-PDF-CC-(\d{4}-\d{2})/CC-MAIN-\1-shard-\d+/(CC-MAIN-\d{14}-\d{14}-\d{5})\.tar")
ARXIV_TAR = re.compile(r"MINT-1T-ArXiv/arXiv_src_(\d{4})_(\d{3})_wds\.tar")


def placeholder(name: str) -> bytes:
    """Stand-in bytes for a repository's non-data file: a one-pixel PNG, or text."""
    if name.endswith(".png"):
        return encode(picture(1, 1, 0), "PNG")
    if name == ".gitattributes":
        return b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.tar filter=lfs diff=lfs merge=lfs -text\n"
    return b"---\nlicense: cc-by-4.0\npretty_name: MINT-1T\n---\n\nA placeholder for the upstream dataset card.\n"


def listed_html_documents(relative: str) -> list[Doc]:
    """Two documents for an HTML shard named in a listing. A flat file's documents take their dump from the
    shard number; v1.0 texts carry the header and footer that v1.1 removed, so one shard of each holds the
    same pages in its two versions."""
    flat, per_dump = FLAT_HTML.fullmatch(relative), PER_DUMP_HTML.fullmatch(relative)
    if flat:
        version, shard, part = flat.groups()
        stem, dump = f"shard_{shard}_part_{part}", HTML_DUMPS[(int(shard) + int(part)) % len(HTML_DUMPS)]
    elif per_dump:
        dump, number = per_dump.groups()
        version, stem = "0", f"{dump}_shard_{number}"
    else:
        raise ValueError(f"{relative} is not a MINT-1T-HTML shard name")
    site = f"https://www.example.com/{stem}"
    header, footer = (["Menu | Search"], ["Footer: contact us"]) if version == "0" else ([], [])
    return [
        Doc("", "html", *interleave([*header, f"The first page of {stem}.", *footer], [f"{site}/0.jpg"],
                                    "t" * len(header) + "ti" + "t" * len(footer)),
            cc_dump=dump, url=f"{site}/page-0", image_hashes=[f"{stem}-0"]),
        Doc("", "html", *interleave([f"A caption between two pictures of {stem}."], [f"{site}/1.png", f"{site}/2.gif"],
                                    "iti"), cc_dump=dump, url=f"{site}/page-1", image_hashes=[f"{stem}-1", f"{stem}-2"]),
    ]


def listed_pdf_documents(relative: str) -> list[Doc]:
    """Two documents for a PDF tar named in a listing; the first has two images on one page, listed in
    reverse order in its image_metadata as in the release."""
    match = PDF_TAR.fullmatch(relative)
    if not match:
        raise ValueError(f"{relative} is not a MINT-1T-PDF tar name")
    dump, stem = f"CC-MAIN-{match.group(1)}", match.group(2)
    return [
        pdf_doc(f"{stem}-0", dump, ["Title page.", "Two figures on page 1.", "End."],
                ["page_1_image_12", "page_1_image_15"], "ttiit", [picture(32, 24, 70), picture(24, 32, 71)],
                shared_pages_reversed=True),
        pdf_doc(f"{stem}-1", dump, ["A text-only PDF."], [], "t", []),
    ]


def listed_arxiv_documents(relative: str) -> list[Doc]:
    """One paper (json + one-frame TIFF) for an ArXiv tar named in a listing, with an identifier of the
    bundle's month in the old arXiv style (`hep-th0001001` for arXiv_src_0001_001)."""
    match = ARXIV_TAR.fullmatch(relative)
    if not match:
        raise ValueError(f"{relative} is not a MINT-1T-ArXiv tar name")
    month, bundle = match.groups()
    return [Doc(f"hep-th{month}{bundle}", "arxiv", *interleave([f"\\section{{Bundle {month}_{bundle}}}"], ["fig1"], "ti"),
                frames=[picture(20, 20, int(month))], statuses=["ok"])]


def write_listed(root: Path, relative: str) -> list[Doc]:
    """Write one path of a real listing under root with content of its kind (a folder for a path ending in
    '/'); return the documents written. A path of an unknown kind is an error: the listing changed."""
    path = root / relative
    if relative.endswith("/"):
        path.mkdir(parents=True, exist_ok=True)
        return []
    name = relative.rsplit("/", 1)[-1]
    if name in (".gitattributes", "README.md") or name.endswith(".png"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(placeholder(name))
        return []
    if relative.startswith("MINT-1T-HTML/"):
        docs = listed_html_documents(relative)
        for number, doc in enumerate(docs):
            doc.source_file, doc.key = relative, f"{relative}#{number}"
            doc.statuses = ["not_downloaded"] * len(doc.image_positions)
        write_html_shard(path, docs)
        return docs
    if relative.startswith("MINT-1T-PDF-"):
        return write_tar_documents(root, relative, listed_pdf_documents(relative))
    if relative.startswith("MINT-1T-ArXiv/"):
        return write_tar_documents(root, relative, listed_arxiv_documents(relative))
    raise ValueError(f"{relative}: no sample content for this kind of MINT-1T path")


def write_tar_documents(root: Path, relative: str, docs: list[Doc]) -> list[Doc]:
    """A PDF / ArXiv tar of documents, each as its JSON and (when it has images) its multi-frame TIFF."""
    members = []
    for doc in docs:
        doc.source_file, doc.json_bytes = relative, json_member_bytes(doc)
        doc.tiff = multi_frame_tiff(doc.frames) if doc.frames else None
        members += tar_members(doc, [("json", None)] + ([("tiff", None)] if doc.tiff else []))
    write_tar(root / relative, members)
    return docs


def write_pdf(tree: SampleTree, scale: int) -> None:
    for relative, docs in sorted(pdf_tars(scale).items()):
        members = []
        for doc, order in docs:
            doc.source_file = relative
            doc.json_bytes = json_member_bytes(doc)
            if doc.frames:
                doc.tiff = multi_frame_tiff(doc.frames, doc.tiff_compression)
                if doc.damaged_frame is not None:
                    doc.tiff = damage_frame(doc.tiff, doc.damaged_frame)
            layout = [("json", None)] + ([("tiff", None)] if doc.tiff else [])
            members += tar_members(doc, layout[::-1] if order == "tiff-first" else layout)
            tree.docs[doc.key] = doc
            tree.configs.setdefault(f"pdf-{doc.cc_dump}", []).append(doc.key)
        write_tar(tree.root / relative, members)
    tree.configs["pdf"] = [key for config in sorted(tree.configs) if config.startswith("pdf-")
                           for key in tree.configs[config]]


def write_arxiv(tree: SampleTree, scale: int) -> None:
    for relative, docs in sorted(arxiv_documents(scale).items()):
        members = []
        for doc, layout in docs:
            doc.source_file = relative
            doc.json_bytes = json_member_bytes(doc)
            doc.tiff = multi_frame_tiff(doc.frames) if doc.frames else None
            members += tar_members(doc, layout)
            tree.docs[doc.key] = doc
            tree.configs["arxiv"].append(doc.key)
        write_tar(tree.root / relative, members)


def write_bad_records(tree: SampleTree) -> None:
    relative = "data_v1_1/shard_099_part_000.parquet"
    bad = bad_html_rows()
    write_html_parquet(tree.root / "MINT-1T-HTML" / relative, [row for row, _ in bad], HTML_V1_1)
    tree.rejected += [("html", str(n), reason) for n, (_, reason) in enumerate(bad)]
    tars, rejected, good = bad_pdf_tars()
    for relative, members in tars.items():
        write_tar(tree.root / relative, members)
    tree.docs[good.key] = good
    for config in ("pdf", "pdf-CC-MAIN-2023-06"):
        keys = tree.configs[config]
        last_of_dump = max(i for i, key in enumerate(keys) if tree.docs[key].cc_dump == good.cc_dump)
        keys.insert(last_of_dump + 1, good.key)
        tree.rejected += [(config, record, reason) for record, reason in rejected]
