"""The limit a builder is measured against: read the same raw bytes and write them to Parquet, no parsing.

usage: python -m bench.limit OUT_DIR INPUT...   (INPUT = a file, or a folder read recursively)
Rows are (path, bytes) chunks of at most 16 MB, written as our builders write media (uncompressed, PLAIN,
content-defined chunking, page index), in parts of at most 500 MB and row groups of about 64 MiB.
"""
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from builders.parquet import MAX_SHARD_BYTES, ROW_GROUP_BYTES

CHUNK = 16 * 2**20
SCHEMA = pa.schema({"path": pa.string(), "data": pa.binary()})


def chunks(inputs):
    for root in map(Path, inputs):
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            with open(path, "rb") as f:
                while data := f.read(CHUNK):
                    yield str(path), data


def writer(out: Path, part: int) -> pq.ParquetWriter:
    return pq.ParquetWriter(out / f"limit-{part:05d}.parquet", SCHEMA, compression={"path": "snappy", "data": "none"},
                            use_dictionary=["path"], column_encoding={"data": "PLAIN"}, write_page_index=True,
                            use_content_defined_chunking=datasets.config.DEFAULT_CDC_OPTIONS)


def main(out: str, *inputs: str) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    part, current, written = 0, None, 0
    batch, size = [], 0

    def flush():
        nonlocal part, current, written, batch, size
        if current is None or written + size > MAX_SHARD_BYTES:
            if current is not None:
                current.close()
                part += 1
            current, written = writer(out, part), 0
        current.write_table(pa.table({"path": [p for p, _ in batch], "data": [d for _, d in batch]}, schema=SCHEMA))
        written += size
        batch, size = [], 0

    for path, data in chunks(inputs):
        batch.append((path, data))
        size += len(data)
        if size >= ROW_GROUP_BYTES:
            flush()
    if batch:
        flush()
    if current is not None:
        current.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
