"""The fixed names and small conventions of a built folder (DESIGN.md, "Output layout"), shared by the build
and the serving side, in a module light enough for any tool.

publish.py reads a built folder without importing `datasets`; only re-rendering a card needs it.
"""
import hashlib
import json
import os
import uuid
from pathlib import Path

STAGING_DIR = ".staging"
REPORT_FILE = "build_report.json"
README_FILE = "README.md"
CROISSANT_FILE = "croissant.json"
SPLIT_ORDER = ("train", "validation", "test")
"""Splits are listed in this order, others after them by name."""


def split_sort_key(split: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def write_atomic(path, data: bytes) -> None:
    """Write a small local file so that no reader sees it half-written: a uniquely named `.tmp` file beside it
    (so concurrent writers never share one), renamed over the old file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # not mkstemp: keep the umask's permissions
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def git_blob_oid(data: bytes) -> str:
    """How git (and the Hub) names a regular file's content: clients compare it to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def as_list(value) -> list:
    """A metadata value or a raw location that may be one item, a list or tuple of them, or absent."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def report_text(report: dict) -> str:
    """build_report.json as written to a built folder."""
    return json.dumps(report, indent=1, ensure_ascii=False) + "\n"


def human_bytes(num: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(num) < 1000 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1000
    return f"{num} B"
