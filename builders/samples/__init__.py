"""Synthetic raw trees in each release's real on-disk format: the inverse of each builder's parser.

Each module exposes `make(out_dir, bad_records=False, scale=0)`, which writes the raw tree and returns
what a correct build must contain, so tests assert values against it.
"""
from __future__ import annotations

import importlib
from pathlib import Path

GENERATORS = {name: f"builders.samples.{name}" for name in (
    "flickr30k_entities", "movieqa", "musecar", "internvid", "mint1t", "bigdocs", "nmb_plus")}


def make_sample(name: str, out_dir, bad_records: bool = False, scale: int = 0, **options):
    """options: a generator's own keywords (e.g. MovieQA's `scaled_clips`)."""
    if name not in GENERATORS:
        raise ValueError(f"no sample generator for {name!r}; known: {', '.join(sorted(GENERATORS))}")
    module = importlib.import_module(GENERATORS[name])
    return module.make(Path(out_dir), bad_records=bad_records, scale=scale, **options)
