"""Small helpers shared by the test modules."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

PROJECT = Path(__file__).resolve().parent.parent


def parquet_rows(out: Path, config: str, split: str) -> list[dict]:
    """All rows of one split of a built folder, in file order, read with pyarrow."""
    files = sorted((Path(out) / config).glob(f"{split}-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def run_script(script: str, *args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one of scripts/*.py as a user would, capturing its output."""
    return subprocess.run([sys.executable, str(PROJECT / "scripts" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=PROJECT,
                          env={**os.environ, **(env or {})})
