"""What every usual-way script shares: running its GeneratorBasedBuilder as a user of a loading script would."""
import sys
import tempfile

import datasets


def prepare(script: type[datasets.GeneratorBasedBuilder], dataset_name: str) -> None:
    """usage: python -m bench.usual_<name> RAW_DIR OUT_DIR: download_and_prepare to Parquet in OUT_DIR."""
    raw, out = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="bench-usual-") as cache:
        builder = script(data_dir=raw, cache_dir=cache, dataset_name=dataset_name)
        builder.download_and_prepare(output_dir=out, file_format="parquet", download_mode="force_redownload")
