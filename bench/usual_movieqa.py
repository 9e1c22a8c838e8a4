"""The usual way, for comparison only: MovieQA's `qa` config as a community loading script would build it.

A GeneratorBasedBuilder that json.loads the three release files, joins each question to its movie and
yields one dict per question, run with download_and_prepare to Parquet.
usage: python -m bench.usual_movieqa RAW_DIR OUT_DIR
"""
import json
from pathlib import Path

import datasets

from bench.usual import prepare

SPLITS = {"train": "train", "val": "validation", "test": "test"}


class MovieQAScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        string, int32 = datasets.Value("string"), datasets.Value("int32")
        return datasets.DatasetInfo(features=datasets.Features({
            "qid": string, "imdb_key": string, "movie_title": string, "movie_year": int32,
            "movie_genres": [string], "question": string, "answers": datasets.Sequence(string, length=5),
            "correct_index": int32, "plot_alignment": [int32], "video_clips": [string]}))

    def _split_generators(self, dl_manager):
        data = Path(self.config.data_dir) / "data"
        return [datasets.SplitGenerator(name=name, gen_kwargs={"data": data, "split": split})
                for split, name in SPLITS.items()]

    def _generate_examples(self, data, split):
        movies = {m["imdb_key"]: m for m in json.loads((data / "movies.json").read_text())}
        in_split = set(json.loads((data / "splits.json").read_text())[split])
        for record in json.loads((data / "qa.json").read_text()):
            if record["imdb_key"] not in in_split:
                continue
            movie = movies[record["imdb_key"]]
            yield record["qid"], {
                "qid": record["qid"], "imdb_key": record["imdb_key"], "movie_title": movie["name"],
                "movie_year": int(movie["year"]), "movie_genres": [g.strip() for g in movie["genre"].split(",")],
                "question": record["question"], "answers": record["answers"],
                "correct_index": -1 if record.get("correct_index") is None else record["correct_index"],
                "plot_alignment": record.get("plot_alignment"), "video_clips": record["video_clips"]}


if __name__ == "__main__":
    prepare(MovieQAScript, "movieqa")
