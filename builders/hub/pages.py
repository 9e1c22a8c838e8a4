"""HTML pages of datasets, as a reader sees them on the Hub: the card rendered, its metadata as tags, a preview.

Shared by the local Hub server (``/datasets/ORG/NAME``) and the static catalog (``make catalog``): both
describe a dataset as a `Snapshot` (its files by path, each readable on local disk) and get the same page.

Pages are self-contained and inert: the card's raw HTML is escaped, media are inline ``data:`` URIs, and the
Content-Security-Policy (sent as a header by the server, and as a meta tag for static files) lets a page
load nothing from elsewhere and run no script.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from markdown_it import MarkdownIt

from ..outputs import CROISSANT_FILE, README_FILE
from . import preview

# Raw HTML in a README is escaped, not rendered: a card must not run script in the page. Bare URLs become
# links and tables render, as on the Hub (GitHub-flavoured Markdown).
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable(["table", "strikethrough", "linkify"])
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"

STYLE = """
body{font-family:system-ui,sans-serif;max-width:90rem;margin:1rem auto;padding:0 1rem;color:#1f2328}
a{color:#0969da}
header{border-bottom:1px solid #d0d7de;margin-bottom:1rem}
nav{display:flex;justify-content:space-between;gap:1rem}
ul.tags{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
ul.tags li{background:#eef1f4;border-radius:1rem;padding:.15rem .7rem;font-size:.9rem}
ul.tags li b{font-weight:600;margin-right:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}
td img{max-width:12rem;max-height:12rem}
td audio{min-width:15rem}
table.preview td{min-width:4rem;max-width:40rem}
pre{background:#f6f8fa;padding:.7rem;overflow:auto}
code{background:#eff1f3;padding:.1em .3em;border-radius:.3em;font-size:.9em}
pre code{background:none;padding:0}
blockquote{border-left:.25rem solid #d0d7de;margin:1rem 0;padding:0 1rem;color:#59636e}
.note{color:#59636e}
.null{color:#8c959f;font-style:italic}
.notice{border:1px solid #d4a72c;background:#fff8c5;padding:.5rem 1rem;border-radius:.4rem}
details>summary{cursor:pointer;font-weight:600;margin:.4rem 0}
div.scroll{overflow-x:auto}
table.preview td.view{min-width:16rem}
figure{margin:0}
figure.boxes .frame{position:relative;display:inline-block;line-height:0}
figure.boxes .frame img{display:block;max-width:20rem;max-height:20rem;width:auto;height:auto}
figure.boxes svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:visible}
figure.boxes rect{fill:none;stroke-width:3px}
figure.boxes text{paint-order:stroke;stroke:#fff;font-family:system-ui,sans-serif}
ol.legend{list-style:none;padding:0;margin:.3rem 0 0;font-size:.85rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
figure.video img.poster{max-width:16rem}
.document{max-height:32rem;overflow:auto;max-width:40rem}
.document img{max-width:20rem}
.qa .question{font-weight:600;margin:0 0 .3rem}
.qa li.correct{font-weight:600;color:#1a7f37}
.qa ol.context{font-size:.85rem;color:#59636e}
.qa li.aligned{background:#fff8c5;color:#1f2328}
"""


def html_page(title: str, body: str) -> str:
    """A whole page. The policy is repeated as a meta tag so that static copies (the catalog) keep it."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
            f'<link rel="icon" href="data:,">\n<title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


@dataclass(frozen=True)
class StoredFile:
    local: Path  # where its bytes are on this machine
    size: int
    lfs: bool = False


@dataclass
class Snapshot:
    """One revision of a dataset repository, however it is stored."""

    repo_id: str
    revision: str                       # shown under the title: "main @ 1a2b3c4d5e", "built folder"
    files: dict[str, StoredFile]
    meta: dict                          # the README's YAML metadata
    body: str                           # the README's Markdown
    yaml_error: str | None = None
    gated: bool | str = False
    private: bool = False
    file_url: Callable[[str], str | None] = field(default=lambda path: None)
    croissant_url: str | None = None    # where the dataset's Croissant metadata is served (a Hub's API endpoint)


@dataclass
class PageLinks:
    home: str                           # the listing the page belongs to
    home_label: str
    session: str = ""                   # HTML shown at the right of the top bar (sign in / out)


def nav_bar(links: PageLinks) -> str:
    return f'<nav><a href="{html.escape(links.home)}">{html.escape(links.home_label)}</a>{links.session}</nav>'


def render_dataset_page(snapshot: Snapshot, links: PageLinks, withhold: Callable[[str], str | None],
                        granted: bool, notice: str = "") -> str:
    """The dataset page. ``withhold(config)`` says why a config's preview is not shown (None: shown);
    ``granted`` tells whether the reader has been given access to a gated dataset; ``notice`` is HTML
    shown under the title."""
    meta = snapshot.meta
    parts = [f"<header>{nav_bar(links)}<h1>{html.escape(snapshot.repo_id)}</h1>"
             f'<p class="note">{html.escape(snapshot.revision)}</p>{render_tags(meta, snapshot)}'
             f"{render_croissant_link(snapshot)}</header>", notice]
    if snapshot.yaml_error:
        parts.append(f'<p class="notice">The card metadata could not be read: {html.escape(snapshot.yaml_error)}</p>')
    if snapshot.gated:
        parts.append(render_gate(meta, granted=granted))
    parts.append(render_previews(snapshot, withhold))
    parts.append('<section><h2>Dataset card</h2>')
    if snapshot.body.strip():
        parts.append(f'<article class="card">\n{MARKDOWN.render(snapshot.body)}</article>')
    else:
        parts.append('<p class="note">' + ("The card has no text besides its metadata." if README_FILE in snapshot.files
                                           else "This dataset has no card (README.md).") + "</p>")
    parts.append("</section>")
    parts.append(render_file_list(snapshot))
    return html_page(f"{snapshot.repo_id} · {links.home_label}", "\n".join(parts))


# Tags ---------------------------------------------------------------------------------------------------------

TAG_FIELDS = (("task", "task_categories"), ("task id", "task_ids"), ("language", "language"),
              ("size", "size_categories"), ("license", "license"), ("licence name", "license_name"),
              ("multilinguality", "multilinguality"), ("source", "source_datasets"), ("tag", "tags"))
# The Hub's modalities, from the types in the card's ``dataset_info`` (``dtype: image``, ``list: video``...).
MODALITY_OF_DTYPE = {"image": "image", "audio": "audio", "video": "video", "pdf": "document", "string": "text"}


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def render_tags(meta: dict, snapshot: Snapshot) -> str:
    tags = [(label, value) for label, key in TAG_FIELDS for value in as_list(meta.get(key))]
    tags += [("modality", m) for m in modalities(meta)]
    if any(path.endswith(".parquet") for path in snapshot.files):
        tags.append(("format", "parquet"))
    if snapshot.gated:
        tags.append(("gated", snapshot.gated))
    if snapshot.private:
        tags.append(("visibility", "private"))
    items = "".join(f"<li><b>{html.escape(label)}</b>{html.escape(str(value))}</li>" for label, value in tags)
    return f'<ul class="tags">{items}</ul>' if items else ""


def modalities(meta: dict) -> list[str]:
    found = set()

    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("dtype", "list") and isinstance(value, str):
                    found.update([MODALITY_OF_DTYPE[value]] if value in MODALITY_OF_DTYPE else [])
                else:
                    visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(meta.get("dataset_info"))
    return sorted(found)


def render_croissant_link(snapshot: Snapshot) -> str:
    """A link to the dataset's Croissant metadata, as the Hub's dataset pages offer one: the served endpoint,
    else the repository's croissant.json file."""
    url = snapshot.croissant_url
    if url is None and CROISSANT_FILE in snapshot.files:
        url = snapshot.file_url(CROISSANT_FILE)
    if not url:
        return ""
    return (f'<p class="croissant">Machine-readable metadata: <a href="{html.escape(url)}" '
            'type="application/ld+json">Croissant</a> (Croissant 1.1 with RAI)</p>')


def render_gate(meta: dict, granted: bool) -> str:
    """What the Hub shows above a gated dataset: the conditions and what it asks for."""
    prompt = meta.get("extra_gated_prompt")
    fields = meta.get("extra_gated_fields") or {}
    asked = "".join(f"<li>{html.escape(str(name))} <span class=\"note\">({html.escape(str(kind))})</span></li>"
                    for name, kind in fields.items()) if isinstance(fields, dict) else ""
    title = "Access is gated: you have been granted access" if granted else "Access is gated"
    parts = [f'<section class="notice gate"><h2>{title}</h2>']
    if prompt:
        parts.append(f"<p>{html.escape(str(prompt))}</p>")
    if asked:
        parts.append(f"<p>The Hub asks each user for:</p><ul>{asked}</ul>")
    parts.append("</section>")
    return "".join(parts)


# Preview ------------------------------------------------------------------------------------------------------


def render_previews(snapshot: Snapshot, withhold: Callable[[str], str | None]) -> str:
    """The first rows of each config and split of the card's ``configs:`` (the first split of each open)."""
    by_config: dict[str, list[tuple[str, list[str]]]] = {}
    for config, split, patterns in config_splits(snapshot.meta):
        by_config.setdefault(config, []).append((split, patterns))
    if not by_config:
        return '<section><h2>Preview</h2><p class="note">The card lists no configs.</p></section>'
    reasons = {config: withhold(config) for config in by_config}
    if all(reasons.values()) and len(set(reasons.values())) == 1:
        return f'<section><h2>Preview</h2><p class="note">{html.escape(next(iter(reasons.values())))}</p></section>'
    sections = []
    for config, splits in by_config.items():
        sections.append(f'<h3 id="preview-{html.escape(config)}">{html.escape(config)}</h3>')
        if reasons[config]:
            sections.append(f'<p class="note">{html.escape(reasons[config])}</p>')
            continue
        sections += [f"<details{' open' if number == 0 else ''}><summary>{html.escape(split)}</summary>"
                     f"{render_split(snapshot, config, patterns)}</details>"
                     for number, (split, patterns) in enumerate(splits)]
    return "<section><h2>Preview</h2>\n" + "\n".join(sections) + "\n</section>"


def render_split(snapshot: Snapshot, config: str, patterns: list[str]) -> str:
    matches = sorted(p for p in snapshot.files if any(glob_regex(pattern).fullmatch(p) for pattern in patterns))
    parquet = [p for p in matches if p.endswith(".parquet")]
    if not parquet:
        what = "only non-Parquet files match" if matches else "no file matches"
        return f'<p class="note">No preview: {what} {html.escape(", ".join(patterns))}.</p>'
    try:
        rows = preview.read_rows([(p, snapshot.files[p].local) for p in parquet])
    except Exception as e:  # a broken file must not break the page
        return f'<p class="note">{html.escape(f"Cannot read {parquet[0]}: {e}")}</p>'
    views = preview.views_for(snapshot.meta.get("preview"), config, rows.columns)
    source = ", ".join(rows.files) or parquet[0]
    return (f'<p class="note">first rows of {html.escape(source)}</p>'
            f'<div class="scroll">{preview.render_table(rows, views)}</div>')


def config_splits(meta: dict) -> list[tuple[str, str, list[str]]]:
    """(config, split, patterns) from ``configs:``, accepting the data_files forms ``datasets`` accepts.

    The default config comes first, as in the Hub's viewer."""
    out = []
    configs = [c for c in as_list(meta.get("configs")) if isinstance(c, dict)]
    for config in sorted(configs, key=lambda c: not c.get("default")):
        name = str(config.get("config_name", "default"))
        data_dir = str(config.get("data_dir") or "").strip("/")
        data_files = config.get("data_files")
        if isinstance(data_files, dict):
            splits = [(split, as_list(paths)) for split, paths in data_files.items()]
        elif isinstance(data_files, list) and all(isinstance(d, dict) for d in data_files):
            splits = [(d.get("split", "train"), as_list(d.get("path"))) for d in data_files]
        elif data_files is not None:
            splits = [("train", as_list(data_files))]
        else:
            splits = [("train", ["**"])] if data_dir else []
        for split, patterns in splits:
            patterns = [f"{data_dir}/{p}" if data_dir else str(p) for p in patterns]
            out.append((name, str(split), patterns))
    return out


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern:
    """fsspec-style globbing as ``datasets`` resolves data_files: ``*`` stays within a folder, ``**`` crosses them."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


# Files --------------------------------------------------------------------------------------------------------


def render_file_list(snapshot: Snapshot) -> str:
    rows = []
    for path, entry in sorted(snapshot.files.items()):
        url = snapshot.file_url(path)
        name = f'<a href="{html.escape(url)}">{html.escape(path)}</a>' if url else html.escape(path)
        rows.append(f'<tr><td>{name}</td><td>{entry.size:,}</td><td>{"LFS" if entry.lfs else ""}</td></tr>')
    return (f"<section><h2>Files</h2><table><thead><tr><th>path</th><th>bytes</th><th>storage</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>") if rows else ""
