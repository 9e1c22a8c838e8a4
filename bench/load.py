"""What a user of a published repo waits for: load_dataset's first row and a full scan, vs pyarrow.

usage: python -m bench.load REPO CONFIG BUILT_FOLDER   (HF_ENDPOINT / HF_TOKEN in the environment)
Prints one JSON object. The first row decodes images (Pillow) as a user would get them; audio and video
stay bytes (their decoders need torchcodec). The full scan reads every row with media undecoded, as
pyarrow does.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-load-")  # a cold cache: everything is downloaded

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


def main(repo: str, config: str, folder: str) -> None:
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
    scan, rows = seconds(lambda: sum(1 for split in loaded.values() for _ in without_decoding(split, MEDIA)))
    files = sorted(Path(folder, config).glob("*.parquet"))
    arrow, arrow_rows = seconds(lambda: sum(len(batch.to_pylist()) for path in files
                                            for batch in pq.ParquetFile(path).iter_batches()))
    assert arrow_rows == rows, (arrow_rows, rows)
    print(json.dumps({"streaming_first_row_seconds": streaming_first, "first_row_seconds": first,
                      "scan_rows": rows, "scan_seconds": scan, "scan_rows_per_s": rows / scan,
                      "pyarrow_seconds": arrow, "pyarrow_rows_per_s": rows / arrow}))


if __name__ == "__main__":
    main(*sys.argv[1:])
