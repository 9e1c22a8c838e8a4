"""The usual way, for comparison only: InternVid's `10m_flt` captions as a community loading script would build them.

A GeneratorBasedBuilder that json.loads every line of InternVid-10M-flt.jsonl, parses its timestamps and
yields one dict per clip, run with download_and_prepare to Parquet.
usage: python -m bench.usual_internvid RAW_DIR OUT_DIR
"""
import json
from pathlib import Path

import datasets

from bench.usual import prepare


def seconds(timestamp: str) -> float:
    hours, minutes, rest = timestamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


class InternVidScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        string, float64 = datasets.Value("string"), datasets.Value("float64")
        return datasets.DatasetInfo(features=datasets.Features({
            "youtube_id": string, "start": float64, "end": float64, "duration": float64, "caption": string,
            "umt_score": float64, "aesthetic_score": float64, "start_timestamp": string, "end_timestamp": string}))

    def _split_generators(self, dl_manager):
        path = next(p for p in Path(self.config.data_dir).iterdir() if p.name.lower() == "internvid-10m-flt.jsonl")
        return [datasets.SplitGenerator(name="train", gen_kwargs={"path": path})]

    def _generate_examples(self, path):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f):
                if not line.strip():
                    continue
                record = json.loads(line)
                start, end = seconds(record["Start_timestamp"]), seconds(record["End_timestamp"])
                yield number, {
                    "youtube_id": record["YoutubeID"], "start": start, "end": end, "duration": round(end - start, 6),
                    "caption": record["Caption"], "umt_score": record.get("UMT_Score"),
                    "aesthetic_score": record.get("Aesthetic_Score"), "start_timestamp": record["Start_timestamp"],
                    "end_timestamp": record["End_timestamp"]}


if __name__ == "__main__":
    prepare(InternVidScript, "internvid")
