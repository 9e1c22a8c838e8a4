"""The fixed names in a built folder (DESIGN.md, "Output layout"), in a module light enough for any tool.

publish.py reads a built folder without importing `datasets`; only re-rendering a card needs it.
"""
import json

STAGING_DIR = ".staging"
REPORT_FILE = "build_report.json"
README_FILE = "README.md"


def report_text(report: dict) -> str:
    """build_report.json as written to a built folder."""
    return json.dumps(report, indent=1, ensure_ascii=False) + "\n"


def human_bytes(num: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(num) < 1000 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1000
    return f"{num} B"
