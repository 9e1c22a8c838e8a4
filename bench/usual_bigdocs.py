"""The usual way, for comparison only: BigDocs' `ArxivOCR` subset as a community loading script would build it.

A GeneratorBasedBuilder that reads the subset's Parquet files with pandas, opens every image with PIL (for
its size, and yields it as a PIL image) and yields one dict per row, run with download_and_prepare to
Parquet. usage: python -m bench.usual_bigdocs RAW_DIR OUT_DIR
"""
import io
from pathlib import Path

import datasets
import pandas as pd
from PIL import Image

from bench.usual import prepare

SPLITS = {"train": "train", "val": "validation", "test": "test"}


class BigDocsScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        string, int32 = datasets.Value("string"), datasets.Value("int32")
        return datasets.DatasetInfo(features=datasets.Features({
            "sample_id": string, "image": datasets.Image(), "width": int32, "height": int32, "dataset_name": string,
            "task_name": string, "query": [string], "annotations": [string]}))

    def _split_generators(self, dl_manager):
        folder = Path(self.config.data_dir) / "BigDocs-7.5M" / "ArxivOCR"
        return [datasets.SplitGenerator(name=name, gen_kwargs={"files": sorted(folder.glob(f"{split}-*.parquet"))})
                for split, name in SPLITS.items()]

    def _generate_examples(self, files):
        for path in files:
            for _, row in pd.read_parquet(path).iterrows():
                image = open_image(row["image"])
                yield row["sample_id"], {
                    "sample_id": row["sample_id"], "image": image, "width": image and image.width,
                    "height": image and image.height, "dataset_name": row["dataset_name"], "task_name": row["task_name"],
                    "query": list(row["query"]), "annotations": list(row["annotations"])}


def open_image(cell):
    """The row's image, or None when the release has none or its bytes are not an image."""
    try:
        return Image.open(io.BytesIO(cell["bytes"]))
    except (TypeError, OSError):
        return None


if __name__ == "__main__":
    prepare(BigDocsScript, "bigdocs")
