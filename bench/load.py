"""What a user of a published repo waits for: load_dataset's first row and a full scan, vs pyarrow.

usage: python -m bench.load REPO CONFIG BUILT_FOLDER [MAX_ROWS]   (HF_ENDPOINT / HF_TOKEN in the environment)
Prints one JSON object. The first row decodes images (Pillow) as a user would get them; audio and video
stay bytes (their decoders need torchcodec). The scan reads the rows (at most MAX_ROWS, in split order) with
media undecoded, as pyarrow does; its rows/s is a rate, so a long dataset need not be read to the end. The cold
cache it downloads into is deleted at the end.
"""
import atexit
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-load-")  # a cold cache: everything is downloaded
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)

import datasets  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

AUDIO_VIDEO = (datasets.Audio, datasets.Video)
MEDIA = (datasets.Image, *AUDIO_VIDEO)


def without_decoding(ds, kinds):
    for column, feature in (ds.features or {}).items():
        if isinstance(feature, kinds):
            ds = ds.cast_column(column, type(feature)(decode=False))
    return ds


def seconds(work):
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main(repo: str, config: str, folder: str, max_rows: str = "0") -> None:
    limit = int(max_rows) or None
    datasets.config.USE_PARQUET_EXPORT = False

    def first_streamed_row():
        stream = datasets.load_dataset(repo, config, streaming=True)
        return next(iter(without_decoding(stream[next(iter(stream))], AUDIO_VIDEO)))

    def first_row():
        loaded = datasets.load_dataset(repo, config)
        without_decoding(loaded[next(iter(loaded))], AUDIO_VIDEO)[0]
        return loaded

    streaming_first, _ = seconds(first_streamed_row)
    first, loaded = seconds(first_row)
    every_row = (row for split in loaded.values() for row in without_decoding(split, MEDIA))
    scan, rows = seconds(lambda: sum(1 for _ in itertools.islice(every_row, limit)))
    total = sum(split.num_rows for split in loaded.values())

    def arrow_scan():
        read = 0
        for path in sorted(Path(folder, config).rglob("*.parquet"), key=split_order(loaded)):
            for batch in pq.ParquetFile(path).iter_batches():
                read += len(batch.slice(0, rows - read).to_pylist())
                if read >= rows:
                    return read
        return read

    arrow, arrow_rows = seconds(arrow_scan)
    assert arrow_rows == rows, (arrow_rows, rows)
    print(json.dumps({"streaming_first_row_seconds": streaming_first, "first_row_seconds": first,
                      "rows": total, "scan_rows": rows, "scan_seconds": scan, "scan_rows_per_s": rows / scan,
                      "pyarrow_seconds": arrow, "pyarrow_rows_per_s": rows / arrow}))


def split_order(loaded):
    """Parquet parts in the order the scan reads them: split by split as load_dataset lists them, then by name."""
    order = {name: n for n, name in enumerate(loaded)}
    return lambda path: (order.get(path.name.split("-")[0], len(order)), str(path))


if __name__ == "__main__":
    main(*sys.argv[1:])
