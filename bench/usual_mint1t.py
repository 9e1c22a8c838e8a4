"""The usual way, for comparison only: MINT-1T's `html` config as a community loading script would build it.

A GeneratorBasedBuilder that reads each MINT-1T-HTML v1.1 shard with pandas, json.loads its metadata and
yields one dict per document (interleaved texts and image URLs; images stay null, as in the release), run
with download_and_prepare to Parquet. usage: python -m bench.usual_mint1t RAW_DIR OUT_DIR
"""
import json
from pathlib import Path

import datasets
import pandas as pd

from bench.usual import prepare


class Mint1tHtmlScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.1.0")

    def _info(self):
        string = datasets.Value("string")
        return datasets.DatasetInfo(features=datasets.Features({
            "key": string, "cc_dump": string, "url": string, "texts": [string], "images": [datasets.Image()],
            "image_urls": [string], "image_hashes": [string], "metadata": string}))

    def _split_generators(self, dl_manager):
        shards = sorted((Path(self.config.data_dir) / "MINT-1T-HTML" / "data_v1_1").glob("*.parquet"))
        return [datasets.SplitGenerator(name="train", gen_kwargs={"shards": shards})]

    def _generate_examples(self, shards):
        for shard in shards:
            for number, row in pd.read_parquet(shard).iterrows():
                yield f"{shard.name}#{number}", {
                    "key": f"MINT-1T-HTML/data_v1_1/{shard.name}#{number}", "cc_dump": row["cc_dump"],
                    "url": row["url"], "texts": list(row["texts"]), "images": [None] * len(row["images"]),
                    "image_urls": list(row["images"]),
                    "image_hashes": None if row["image_hashes"] is None else list(row["image_hashes"]),
                    "metadata": json.dumps(parsed(row["metadata"]))}


def parsed(text):
    """The metadata column's JSON, or the text as it is when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


if __name__ == "__main__":
    prepare(Mint1tHtmlScript, "mint1t")
