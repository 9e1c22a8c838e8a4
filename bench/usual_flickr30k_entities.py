"""The usual way, for comparison only: Flickr30K Entities as a community loading script would build it.

A GeneratorBasedBuilder that opens every image with PIL, parses with the official utilities' logic
(ElementTree, string splitting), yields one dict per example, and is run with download_and_prepare to
Parquet. usage: python -m bench.usual_flickr30k_entities RAW_DIR OUT_DIR
"""
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import datasets
from PIL import Image

from bench.usual import prepare

TYPES = ["people", "clothing", "bodyparts", "animals", "vehicles", "instruments", "scene", "other", "notvisual"]


class Flickr30kEntitiesScript(datasets.GeneratorBasedBuilder):
    VERSION = datasets.Version("1.0.0")

    def _info(self):
        return datasets.DatasetInfo(features=datasets.Features({
            "image_id": datasets.Value("string"), "image": datasets.Image(),
            "width": datasets.Value("int32"), "height": datasets.Value("int32"),
            "captions": [{"text": datasets.Value("string"), "phrases": [{
                "text": datasets.Value("string"), "first_word_index": datasets.Value("int32"),
                "chain_id": datasets.Value("int32"), "types": [datasets.ClassLabel(names=TYPES)]}]}],
            "entities": [{"chain_id": datasets.Value("int32"),
                          "boxes": [datasets.Sequence(datasets.Value("int32"), length=4)],
                          "is_scene": datasets.Value("bool"), "is_nobox": datasets.Value("bool")}],
        }))

    def _split_generators(self, dl_manager):
        root = Path(self.config.data_dir)
        return [datasets.SplitGenerator(name=split, gen_kwargs={"ids": (root / f"{name}.txt").read_text().split(),
                                                                "root": root})
                for split, name in (("train", "train"), ("validation", "val"), ("test", "test"))]

    def _generate_examples(self, ids, root):
        archive = zipfile.ZipFile(root / "annotations.zip")
        for image_id in ids:
            image = Image.open(root / "flickr30k-images" / f"{image_id}.jpg")
            captions = [parse_sentence(line) for line in archive.read(f"Sentences/{image_id}.txt").decode().split("\n") if line]
            entities = parse_annotation(archive.read(f"Annotations/{image_id}.xml"))
            yield image_id, {"image_id": image_id, "image": image, "width": image.width, "height": image.height,
                             "captions": captions, "entities": entities}


def parse_sentence(sentence):
    words, phrases, current = [], [], None
    for token in sentence.split():
        if current is None and token.startswith("["):
            parts = token.split("/")
            current = {"chain_id": int(parts[1][3:]), "types": [TYPES.index(t) for t in parts[2:]], "first_word_index": len(words), "words": []}
            continue
        if current is not None and token.endswith("]"):
            token = token[:-1]
            current["words"].append(token)
            phrases.append({"text": " ".join(current["words"]), "first_word_index": current["first_word_index"],
                            "chain_id": current["chain_id"], "types": current["types"]})
            current = None
        elif current is not None:
            current["words"].append(token)
        words.append(token)
    return {"text": " ".join(words), "phrases": phrases}


def parse_annotation(data):
    entities = {}
    for obj in ET.fromstring(data).findall("object"):
        box = obj.find("bndbox")
        for name in obj.findall("name"):
            entity = entities.setdefault(name.text, {"chain_id": int(name.text), "boxes": [], "is_scene": False,
                                                     "is_nobox": False})
            if box is not None and len(box):
                entity["boxes"].append([int(box.find(t).text) - 1 for t in ("xmin", "ymin", "xmax", "ymax")])
            else:
                entity["is_scene"] |= int(obj.findtext("scene") or 0) > 0
                entity["is_nobox"] |= int(obj.findtext("nobndbox") or 0) > 0
    return list(entities.values())


if __name__ == "__main__":
    prepare(Flickr30kEntitiesScript, "flickr30k_entities")
