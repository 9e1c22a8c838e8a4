"""A static catalog of built datasets: an index (licence, redistribution policy, tasks, sizes, links) and one page
per dataset with its card and a preview, the same pages the local Hub serves (builders/hub/pages.py).

The catalog is plain files: open ``index.html`` or serve the folder with any web server. It honours the
licences like the Hub does: a config whose policy is ``gated`` or ``private`` gets no preview, since a
static page cannot ask who reads it, unless the maker says the catalog stays with them (``show_restricted``).
The synthetic sample data (``builders/samples``) is ours, so a catalog of samples previews everything.
"""
from __future__ import annotations

import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .. import cardcheck, pipeline
from ..cards import load_card_metadata
from ..outputs import human_bytes
from ..samples import GENERATORS, make_sample
from . import pages
from .publish import read_built_folder

INDEX = "index.html"
SAMPLES_NOTE = ("Built from the synthetic sample data of multimodal-builders (builders/samples), not from the "
                "real release: the rows show the format, not the content.")


@dataclass
class Entry:
    """One built dataset in the catalog."""

    folder: Path
    report: dict
    card: dict       # dataset_cards/<name>.yaml
    meta: dict       # the README's YAML
    body: str
    page: str        # file name of its page in the catalog

    @property
    def rows(self) -> int:
        return sum(s["rows"] for c in self.report["configs"].values() for s in c["splits"].values())

    @property
    def parquet_bytes(self) -> int:
        return sum(s["parquet_bytes"] for c in self.report["configs"].values() for s in c["splits"].values())


def read_entry(folder: Path) -> Entry:
    report = read_built_folder(folder)
    meta, body = cardcheck.split_front_matter((folder / pipeline.README_FILE).read_text(encoding="utf-8"))
    return Entry(folder, report, load_card_metadata(report["dataset"]), meta, body, f"{report['dataset']}.html")


def build_samples(work: Path, names: list[str] | None = None, log=print) -> list[Path]:
    """Generate the sample raw tree of each dataset and build it into ``work/<name>``; returns the built folders."""
    folders = []
    for name in names or sorted(GENERATORS):
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        log(f"building the {name} sample")
        with tempfile.TemporaryDirectory(prefix=f"{name}-raw-") as raw:
            make_sample(name, raw)
            pipeline.build(name, raw, out, progress=False, log=lambda *a: None,
                           repo_id=f"ORG/{load_card_metadata(name)['repo_name']}")
        folders.append(out)
    return folders


def write_catalog(folders: list[Path], out: Path, *, samples: bool, show_restricted: bool = False) -> Path:
    """Write ``out/index.html`` and one page per built folder; returns the index path."""
    out.mkdir(parents=True, exist_ok=True)
    entries = sorted((read_entry(Path(f)) for f in folders), key=lambda e: e.card["pretty_name"].lower())
    links = pages.PageLinks(home=INDEX, home_label="catalog")
    banner = f'<p class="notice">{html.escape(SAMPLES_NOTE)}</p>' if samples else ""
    for entry in entries:
        page = pages.render_dataset_page(snapshot(entry, out), links, withheld(entry, samples or show_restricted),
                                         granted=samples or show_restricted, notice=banner)
        (out / entry.page).write_text(page, encoding="utf-8")
    index = out / INDEX
    index.write_text(render_index(entries, banner), encoding="utf-8")
    return index


def snapshot(entry: Entry, out: Path) -> pages.Snapshot:
    files = {path: pages.StoredFile(entry.folder / path, (entry.folder / path).stat().st_size,
                                    path.endswith(".parquet"))
             for path in sorted(pipeline_files(entry))}
    inside = entry.folder.resolve().is_relative_to(out.resolve())
    base = entry.folder.resolve().relative_to(out.resolve()).as_posix() if inside else None
    policy = entry.report["redistribution"]
    return pages.Snapshot(
        repo_id=entry.report["repo_id"], revision=f"built folder {entry.folder.name}", files=files, meta=entry.meta,
        body=entry.body, gated="auto" if policy == "gated" else False, private=policy == "private",
        # Files are linked when they sit inside the catalog (the sample builds), so the links work when served.
        file_url=(lambda path: f"{quote(base)}/{quote(path)}") if base else (lambda path: None))


def pipeline_files(entry: Entry) -> list[str]:
    names = [pipeline.README_FILE, pipeline.REPORT_FILE]
    for config in entry.report["configs"].values():
        for split in config["splits"].values():
            names += split["files"]
    return names


def withheld(entry: Entry, show_all: bool):
    """Why a config's preview is left out of the catalog (None: it is shown)."""
    configs = entry.report["configs"]

    def reason(config: str) -> str | None:
        policy = configs.get(config, {}).get("redistribution", entry.report["redistribution"])
        if show_all or policy == "public":
            return None
        return (f"No preview: the {config} config is {policy} (its licence restricts redistribution), and this "
                "catalog may be read by anyone. Make it with --show-restricted for a catalog kept to yourself.")

    return reason


def render_index(entries: list[Entry], banner: str) -> str:
    rows = []
    for entry in entries:
        card, report = entry.card, entry.report
        licence = card["license_name"] if card["license"] == "other" else card["license"]
        licence_cell = (f'<a href="{html.escape(card["license_link"])}">{html.escape(licence)}</a>'
                        if card.get("license_link") else html.escape(licence))
        policies = sorted({c["redistribution"] for c in report["configs"].values()},
                          key=cardcheck.redistribution_policies().index)
        configs = ", ".join(f"<code>{html.escape(name)}</code>" for name in report["configs"])
        rows.append(
            f'<tr><td><a href="{quote(entry.page)}">{html.escape(card["pretty_name"])}</a><br>'
            f'<span class="note">{html.escape(report["dataset"])}</span></td>'
            f"<td>{licence_cell}</td><td>{html.escape(' / '.join(policies))}</td>"
            f"<td>{html.escape(', '.join(card['task_categories']))}</td>"
            f"<td>{configs}</td><td>{entry.rows:,}</td>"
            f"<td>{html.escape(', '.join(pages.as_list(entry.meta.get('size_categories'))))}</td>"
            f"<td>{human_bytes(entry.parquet_bytes)}</td>"
            f'<td><a href="{quote(entry.page)}">card</a> · <a href="{html.escape(card["homepage"])}">homepage</a>'
            "</td></tr>")
    table = ("<table><thead><tr><th>dataset</th><th>licence</th><th>redistribution</th><th>tasks</th>"
             "<th>configs</th><th>rows</th><th>size category</th><th>Parquet</th><th>links</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    header = '<header><h1>Dataset catalog</h1><p class="note">multimodal-builders: every built dataset, ' \
             "its licence and how it may be shared.</p></header>"
    return pages.html_page("Dataset catalog", f"{header}{banner}<div class=\"scroll\">{table}</div>")
