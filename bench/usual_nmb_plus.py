"""The usual way, for comparison only: NMB+'s `current` config as a community loading script would build it.

A GeneratorBasedBuilder that reads gen_b/data/dataset_cleaned.parquet with pandas, opens each article's
Zenodo image with PIL and yields one dict per article, run with download_and_prepare to Parquet.
usage: python -m bench.usual_nmb_plus RAW_DIR OUT_DIR
"""
from pathlib import Path

import datasets
import pandas as pd
from PIL import Image

from bench.usual import prepare

LABELS = {"likely": 1, "likely to bias": 1, "unlikely": 0, "likely to unbias": 0}


class NmbPlusScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        string, label = datasets.Value("string"), datasets.ClassLabel(names=["likely_unbiased", "likely_biased"])
        return datasets.DatasetInfo(features=datasets.Features({
            "unique_id": string, "outlet": string, "headline": string, "article_text": string, "url": string,
            "image_description": string, "image": datasets.Image(), "text_label": label, "multimodal_label": label,
            "text_label_raw": string, "multimodal_label_raw": string}))

    def _split_generators(self, dl_manager):
        root = Path(self.config.data_dir)
        return [datasets.SplitGenerator(name="train", gen_kwargs={
            "table": root / "gen_b" / "data" / "dataset_cleaned.parquet", "images": root / "zenodo"})]

    def _generate_examples(self, table, images):
        for _, row in pd.read_parquet(table).iterrows():
            path = images / row["image"] if isinstance(row["image"], str) else None
            image = None
            if path is not None and path.is_file():
                try:
                    image = Image.open(path)
                except OSError:  # not an image Pillow can read
                    pass
            yield row["unique_id"], {
                "unique_id": row["unique_id"], "outlet": row["outlet"], "headline": row["headline"],
                "article_text": row["article_text"], "url": row["url"], "image_description": row["img_description"],
                "image": image, "text_label": LABELS.get(str(row["nlp_label"]).lower()),
                "multimodal_label": LABELS.get(str(row["nlp_img_label"]).lower()),
                "text_label_raw": row["nlp_label"], "multimodal_label_raw": row["nlp_img_label"]}


if __name__ == "__main__":
    prepare(NmbPlusScript, "nmb_plus")
