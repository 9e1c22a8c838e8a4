"""Card quality for every dataset, over its sample build as published to the local Hub.

Every card must have all its sections with the values the data says, valid YAML against the Hub's
vocabularies, and Python snippets that run as written against the Hub they name.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from builders import builder_class, cardcheck, preview_spec
from builders.cards import load_card_metadata
from builders.samples import GENERATORS

DATASETS = sorted(GENERATORS)
SECTIONS = ("Intended applications", "Configurations", "How to load", "Data fields", "Splits", "Sizes",
            "Records skipped during the build", "How to obtain the raw data", "Licence and terms",
            "Limitations and biases", "Citation")


def read_card(folder):
    return cardcheck.split_front_matter((folder / "README.md").read_text(encoding="utf-8"))


def sections(body: str) -> dict[str, str]:
    """Level-2 sections of a card body: heading -> text (the text before the first one is under "")."""
    out, current = {"": []}, ""
    for line in body.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            assert current not in out, f"section {current!r} appears twice"
            out[current] = []
        else:
            out[current].append(line)
    return {name: "\n".join(lines).strip() for name, lines in out.items()}


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables in ``text``, keyed by their first cell (backticks removed)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows[cells[0].strip("`").removesuffix("` (default)")] = cells[1:]
    return rows


def parquet_rows(folder, config: str) -> dict[str, int]:
    counts = {}
    for path in sorted((folder / config).glob("*.parquet")):
        split = path.name.split("-")[0]
        counts[split] = counts.get(split, 0) + pq.ParquetFile(path).metadata.num_rows
    return counts


def parquet_columns(folder, config: str) -> list[str]:
    return pq.ParquetFile(next((folder / config).glob("*.parquet"))).schema_arrow.names


def python_snippets(body: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", body, flags=re.S | re.M)


@pytest.mark.parametrize("name", DATASETS)
def test_card_has_every_section_with_the_values_of_the_data(name, sample_builds, published_samples):
    folder, card, repo_id = sample_builds[name], load_card_metadata(name), published_samples[name]
    report = json.loads((folder / "build_report.json").read_text())
    _, body = read_card(folder)
    found = sections(body)
    assert [s for s in SECTIONS if s not in found] == []
    assert all(found[s] for s in SECTIONS), [s for s in SECTIONS if not found[s]]

    # Title and summary, then what the data is for.
    assert found[""].startswith(f"# {card['pretty_name']}\n\n{card['summary'].strip()}")
    for application in card["applications"]:
        assert f"- {application}" in found["Intended applications"]

    # How to load: one snippet per config, naming the repository it is published in.
    configs = list(report["configs"])
    snippets = python_snippets(found["How to load"])
    assert [re.search(r'load_dataset\("([^"]+)", "([^"]+)"\)', s).groups() for s in snippets] == \
        [(repo_id, config) for config in configs]

    if "loading_notes" in card:  # a paragraph of its own, not glued to the access conditions
        assert f"\n\n{card['loading_notes'].strip()}" in found["How to load"]

    # Fields: every Parquet column of every config is in its field table, with a doc.
    fields = re.split(r"^### ", found["Data fields"], flags=re.M)
    for config in configs:
        table = table_rows(next(part for part in fields if part.startswith(f"`{config}`")))
        columns = parquet_columns(folder, config)
        assert [c for c in columns if c not in table] == [], config
        assert [path for path, cells in table.items() if not cells[1].strip()] == [], config

    # Splits and sizes: the row counts of the Parquet files.
    splits, sizes = table_rows(found["Splits"]), table_rows(found["Sizes"])
    split_names = splits["config"]
    for config in configs:
        rows = parquet_rows(folder, config)
        assert dict(zip(split_names, splits[config])) == {s: str(rows.get(s, "–")) for s in split_names}, config
        assert sizes[config][0] == str(sum(rows.values())), config
        assert sizes[config][1] == str(len(list((folder / config).glob("*.parquet")))), config

    # Raw data, licence and terms, limitations and biases, citation: as the card file decided.
    assert card["raw_download"].strip().splitlines()[0] in found["How to obtain the raw data"]
    assert f"python scripts/build.py {name} --data-dir RAW --output OUT" in found["How to obtain the raw data"]
    licence = found["Licence and terms"]
    assert (card["license_name"] if card["license"] == "other" else card["license"]) in licence
    assert f"Redistribution policy of this build: **{report['redistribution']}**" in licence
    assert " ".join(card["license_terms"].split()) in " ".join(licence.split())
    for limitation in card["limitations"]:
        assert f"- {limitation}" in found["Limitations and biases"]
    assert " ".join(card["biases"].split()) in " ".join(found["Limitations and biases"].split())
    bibtex = re.fullmatch(r"```bibtex\n(.*)\n```", found["Citation"], flags=re.S).group(1)
    assert bibtex == card["citation"].strip() and bibtex.startswith("@") and bibtex.count("{") == bibtex.count("}")


@pytest.mark.parametrize("name", DATASETS)
def test_card_yaml_is_valid_and_says_what_the_data_is(name, sample_builds, published_samples):
    folder, card = sample_builds[name], load_card_metadata(name)
    report = json.loads((folder / "build_report.json").read_text())
    meta, _ = read_card(folder)
    assert cardcheck.validate_readme((folder / "README.md").read_text(encoding="utf-8")) == []
    assert meta["license"] == card["license"] and meta["task_categories"] == card["task_categories"]
    largest = max(sum(parquet_rows(folder, config).values()) for config in report["configs"])
    assert meta["size_categories"] == [cardcheck.size_category(largest)]
    assert [c["config_name"] for c in meta["configs"]] == sorted(report["configs"])
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == \
        [builder_class(name).DEFAULT_CONFIG_NAME]
    if report["redistribution"] == "gated":
        assert meta["extra_gated_prompt"] == card["gating_prompt"].strip()


@pytest.mark.parametrize("name", [n for n in DATASETS if load_card_metadata(n).get("preview")])
def test_preview_views_name_columns_the_data_has(name, sample_builds):
    """A view whose columns are misspelt would silently not apply: each must apply, reading real columns."""
    folder = sample_builds[name]
    meta, _ = read_card(folder)
    assert meta["preview"] == load_card_metadata(name)["preview"]
    configs = {c["config_name"]: parquet_columns(folder, c["config_name"]) for c in meta["configs"]}
    for entry in meta["preview"]:
        matching = [c for c in configs if any(fnmatch.fnmatchcase(c, p) for p in entry.get("configs", ["*"]))]
        applied = [c for c in matching if preview_spec.views_for([entry], c, configs[c])]
        assert applied == matching and applied, (entry, matching)
        named = set(preview_spec.spec_columns(entry).values())
        assert named <= {column for c in matching for column in configs[c]}, entry


# Each snippet runs in a fresh namespace, as if pasted alone, in one process per card (imports are slow).
SNIPPET_RUNNER = r"""
import contextlib, io, json, sys, traceback
results = []
for code in json.load(sys.stdin):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<card snippet>", "exec"), {"__name__": "__main__"})
        results.append({"ok": True, "stdout": out.getvalue()})
    except Exception:
        results.append({"ok": False, "stdout": out.getvalue(), "error": traceback.format_exc()})
print("RESULTS " + json.dumps(results))
"""


@pytest.mark.parametrize("name", DATASETS)
def test_every_python_snippet_of_the_card_runs_against_the_hub(name, local_hub, published_samples, sample_builds,
                                                               tmp_path):
    folder = sample_builds[name]
    report = json.loads((folder / "build_report.json").read_text())
    _, body = read_card(folder)
    snippets = python_snippets(body)
    assert len(snippets) >= len(report["configs"])
    env = {**os.environ, "HF_TOKEN": local_hub.token, "HF_HOME": str(tmp_path / "hf_home"),
           "HF_DATASETS_CACHE": str(tmp_path / "datasets")}
    run = subprocess.run([sys.executable, "-c", SNIPPET_RUNNER], input=json.dumps(snippets), capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.split("RESULTS ", 1)[1])
    failures = [(snippet, result["error"]) for snippet, result in zip(snippets, results) if not result["ok"]]
    assert failures == []
    # The load snippets print the DatasetDict: its splits and row counts are those of the build.
    printed = {re.search(r'load_dataset\("[^"]+", "([^"]+)"\)', s).group(1): r["stdout"]
               for s, r in zip(snippets, results) if "load_dataset(" in s}
    for config in report["configs"]:
        rows = parquet_rows(folder, config)
        shown = dict(re.findall(r"(\w+): Dataset\(\{.*?num_rows: (\d+)", printed[config], flags=re.S))
        assert {split: int(n) for split, n in shown.items()} == rows, config


def test_a_card_with_manual_gating_says_each_request_is_reviewed(sample_builds):
    from builders.cards import render_card

    report = json.loads((sample_builds["musecar"] / "build_report.json").read_text())
    report["redistribution"] = "gated"  # MuSe-CaR is private; were it gated, its EULA would make it manual
    assert "the maintainers review each request" in render_card(report)
    flickr = json.loads((sample_builds["flickr30k_entities"] / "build_report.json").read_text())
    assert "accept the terms on its page, then log in" in render_card(flickr)
