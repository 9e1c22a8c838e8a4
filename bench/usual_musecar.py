"""The usual way, for comparison only: MuSe-CaR's `topic` config as a community loading script would build it.

A GeneratorBasedBuilder that reads every label and transcript CSV with pandas, cuts each segment's audio
from audio_norm/<vid>.wav with soundfile and writes it as WAV (as `datasets.Audio` encodes an array), and
yields one dict per segment, run with download_and_prepare to Parquet. The audio column is declared as its
storage struct: `datasets.Audio` encodes examples through torchcodec, which this project does not install.
usage: python -m bench.usual_musecar RAW_DIR OUT_DIR
"""
import io
from pathlib import Path

import datasets
import pandas as pd
import soundfile

from bench.usual import prepare
from builders.musecar import EMOTION_CLASSES, TOPIC_CLASSES

SPLITS = {"train": "train", "devel": "validation", "test": "test"}


class MuSeCaRTopicScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        int32, float32 = datasets.Value("int32"), datasets.Value("float32")
        return datasets.DatasetInfo(features=datasets.Features({
            "video_id": int32, "segment_id": int32, "fold": int32, "start_ms": int32, "end_ms": int32,
            "topic": datasets.ClassLabel(names=TOPIC_CLASSES), "arousal": datasets.ClassLabel(names=EMOTION_CLASSES),
            "valence": datasets.ClassLabel(names=EMOTION_CLASSES), "arousal_mean": float32, "valence_mean": float32,
            "transcript": [{"word": datasets.Value("string"), "start_ms": int32, "end_ms": int32}],
            "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}}))

    def _split_generators(self, dl_manager):
        root = Path(self.config.data_dir)
        task = next(root.rglob("c2_muse_topic"))
        partition = pd.read_csv(task.parent / "metadata" / "partition.csv").drop_duplicates("Id", keep=False)
        audio = next(root.rglob("audio_norm"))
        return [datasets.SplitGenerator(name=name, gen_kwargs={
            "task": task, "audio": audio, "videos": partition[partition["Proposal"] == split]})
            for split, name in SPLITS.items()]

    def _generate_examples(self, task, audio, videos):
        for video_id, fold in zip(videos["Id"], videos["Partition"]):
            labels = task / "label_segments"
            if not (labels / "topic" / f"{video_id}.csv").exists():
                continue
            segments = pd.read_csv(labels / "topic" / f"{video_id}.csv").set_index("segment_id")
            for dimension in ("arousal", "valence"):
                if (labels / dimension / f"{video_id}.csv").exists():
                    values = pd.read_csv(labels / dimension / f"{video_id}.csv").set_index("segment_id")
                    segments[dimension], segments[f"{dimension}_mean"] = values["class_id"], values.get("mean")
            for segment_id, segment in segments.iterrows():
                words = task / "transcription_segments" / str(video_id) / f"{video_id}_{segment_id}.csv"
                transcript = pd.read_csv(words) if words.exists() else None
                start, end = int(segment["start"]), int(segment["end"])
                samples, rate = soundfile.read(audio / f"{video_id}.wav", start=start * 16, stop=end * 16,
                                               dtype="int16")
                wav = io.BytesIO()
                soundfile.write(wav, samples, rate, format="WAV")
                yield f"{video_id}_{segment_id}", {
                    "video_id": video_id, "segment_id": segment_id, "fold": fold, "start_ms": start, "end_ms": end,
                    "topic": none_if_nan(segment["class_id"]), "arousal": none_if_nan(segment.get("arousal")),
                    "valence": none_if_nan(segment.get("valence")),
                    "arousal_mean": segment.get("arousal_mean"), "valence_mean": segment.get("valence_mean"),
                    "transcript": None if transcript is None else [
                        {"word": w, "start_ms": s, "end_ms": e}
                        for w, s, e in zip(transcript["word"], transcript["start"], transcript["end"])],
                    "audio": {"bytes": wav.getvalue(), "path": f"{video_id}_{segment_id}.wav"}}


def none_if_nan(value):
    return None if value is None or pd.isna(value) else int(value)


if __name__ == "__main__":
    prepare(MuSeCaRTopicScript, "musecar")
