"""What the Hub's dataset viewer needs, checked when the build ends instead of discovered on the Hub.

The viewer reads the published Parquet directly. It refuses a read that needs more Arrow data than
`MAX_ARROW_BYTES` from row groups without a page index (`TooBigContentError`, "max=286.10 MiB"), shows at
most `MAX_COLUMNS` columns (`TooManyColumnsError`), `MAX_CONFIGS` configs and `MAX_SPLITS` splits per
config, cuts the cells of its first rows to fit `FIRST_ROWS_BYTES`, and knows a column is an image, audio,
video or PDF only from the `huggingface` schema metadata (or the card's `dataset_info`). Each config gets
the measurements and, for what would fail, a warning that build_report.json and the card carry.
"""
from __future__ import annotations

import json

import datasets
import fsspec

from .parquet import batch_reader

MAX_ARROW_BYTES = 300_000_000
FIRST_ROWS = 100
FIRST_ROWS_BYTES = 200_000
MAX_COLUMNS = 1_000
MAX_CONFIGS = 4_000
MAX_SPLITS = 30
MEDIA_TYPES = (datasets.Image, datasets.Audio, datasets.Video, datasets.Pdf)
MEDIA_CELL_BYTES = 200
"""What a media cell weighs in the first-rows response: the viewer sends an asset URL, not the bytes."""


def media_fields(features: datasets.Features) -> dict[str, str]:
    """Every media field, nested ones included, by path (`images[]`, `clip.audio`) -> its type name."""
    found: dict[str, str] = {}

    def walk(feature, path: str) -> None:
        if isinstance(feature, MEDIA_TYPES):
            found[path] = type(feature).__name__
        elif isinstance(feature, (datasets.List, datasets.LargeList)):
            walk(feature.feature, path + "[]")
        elif isinstance(feature, dict):
            for name, inner in feature.items():
                walk(inner, f"{path}.{name}" if path else name)

    walk(features, "")
    return found


def first_rows_bytes(fs: fsspec.AbstractFileSystem, path: str, features: datasets.Features) -> int:
    """About how large the viewer's first-rows response of a split is: its first rows as JSON, media as URLs."""
    media_columns = {path.split(".")[0].split("[")[0] for path in media_fields(features)}
    plain = [name for name in features if name not in media_columns]
    with fs.open(path, "rb") as handle:
        batch = next(batch_reader(handle).iter_batches(batch_size=FIRST_ROWS, columns=plain), None)
    if batch is None:
        return 0
    text = json.dumps(batch.to_pylist(), default=str, ensure_ascii=False)
    return len(text.encode("utf-8")) + batch.num_rows * len(media_columns) * MEDIA_CELL_BYTES


def check_config(features: datasets.Features, splits: dict[str, dict]) -> dict:
    """The viewer's view of one config: measurements, warnings (what would fail) and notes. `splits` maps each
    split to `largest_row_group`, `page_index`, `features_metadata` and `first_rows_bytes`."""
    largest = max(split["largest_row_group"] for split in splits.values())
    page_index = all(split["page_index"] for split in splits.values())
    first_rows = max(split["first_rows_bytes"] for split in splits.values())
    media = media_fields(features)
    warnings = []
    if len(features) > MAX_COLUMNS:
        warnings.append(f"{len(features)} columns: the viewer shows at most {MAX_COLUMNS}")
    if len(splits) > MAX_SPLITS:
        warnings.append(f"{len(splits)} splits: the viewer shows at most {MAX_SPLITS} per config")
    if media and not all(split["features_metadata"] for split in splits.values()):
        warnings.append(f"media fields {', '.join(media)} are not declared in the Parquet files' `huggingface` "
                        "metadata: the viewer shows them as plain structs")
    if largest > MAX_ARROW_BYTES and not page_index:
        warnings.append(f"a row group holds {largest:,} bytes and the files have no page index: the viewer "
                        f"refuses reads over {MAX_ARROW_BYTES:,} bytes (TooBigContentError)")
    notes = []
    if first_rows > FIRST_ROWS_BYTES:
        notes.append(f"the first {FIRST_ROWS} rows weigh about {first_rows:,} bytes as JSON: the viewer cuts "
                     f"their cells to fit {FIRST_ROWS_BYTES:,} bytes")
    return {"columns": len(features), "splits": len(splits), "largest_row_group_bytes": largest,
            "page_index": page_index, "first_rows_bytes": first_rows, "media": media,
            "warnings": warnings, "notes": notes}


def check_configs(configs: dict[str, dict]) -> list[str]:
    """Warnings about the dataset as a whole."""
    if len(configs) > MAX_CONFIGS:
        return [f"{len(configs)} configs: the viewer shows at most {MAX_CONFIGS}"]
    return []
