"""A Flickr30K Entities raw tree in the release's exact syntax, with its awkward cases.

Captions are declared as structure (words and phrases) and written as markup; objects are declared as
the XML has them (names, 1-based box, flags) and written as tab-indented XML. `SampleImage` computes
what the parser must give back, independently of the parser.

Awkward cases covered (see ../shared/formats/flickr30k_entities_movieqa.md §5.2): an entity with three
boxes, a box shared by two entities, scene and no-box entities, a phrase with two types and one with
three, chain-0 phrases used twice in one image, adjacent phrases, a one-word phrase, a caption with no
phrases, a caption without the final " .", a chain mentioned but absent from the XML, a chain no caption
mentions, the same chain typed differently in two captions, an empty <bndbox/>, an image without any
object, a grayscale JPEG, an id above 2^31, a non-ASCII word, an XML declaration in one file only.
With bad_records: an id listed in test.txt whose annotation files are missing.
"""
from __future__ import annotations

import io
import json
import random
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import PIL.Image
import PIL.ImageDraw

from ..flickr30k_entities import PHRASE_TYPES, SPLIT_FILES


@dataclass(frozen=True)
class P:
    """A phrase: chain id, its types ('bodyparts/people') and its words."""

    chain_id: int
    types: str
    words: str


@dataclass(frozen=True)
class Obj:
    """An XML <object>: chain ids, 1-based inclusive box (or None), scene / nobndbox flags (or None)."""

    names: tuple[int, ...]
    box: tuple[int, int, int, int] | None = None
    scene: int | None = None
    nobndbox: int | None = None
    empty_box: bool = False


@dataclass
class SampleImage:
    image_id: str
    split: str
    size: tuple[int, int]
    captions: list[list]                # each caption: a list of words (str) and phrases (P)
    objects: list[Obj]
    grayscale: bool = False
    xml_declaration: bool = False
    annotated: bool = True              # False: listed in a split file, annotation files missing
    karpathy_split: str | None = None
    noisy: bool = False                 # a noise texture: JPEGs as large as real photos (~150 kB)
    jpeg: bytes = b""

    def caption_text(self, k: int) -> str:
        return " ".join(item if isinstance(item, str) else item.words for item in self.captions[k])

    def expected_captions(self) -> list[dict]:
        result = []
        for caption in self.captions:
            words, phrases = [], []
            for item in caption:
                if isinstance(item, P):
                    phrases.append({"text": item.words, "first_word_index": len(words), "chain_id": item.chain_id,
                                    "types": [PHRASE_TYPES.index(t) for t in item.types.split("/")]})
                    words += item.words.split()
                else:
                    words += item.split()
            result.append({"text": " ".join(words), "phrases": phrases})
        return result

    def expected_entities(self) -> list[dict]:
        entities: dict[int, dict] = {}
        for obj in self.objects:
            for chain_id in obj.names:
                entity = entities.setdefault(chain_id, {"chain_id": chain_id, "boxes": [], "is_scene": False,
                                                        "is_nobox": False})
                if obj.box is not None:
                    entity["boxes"].append([v - 1 for v in obj.box])
                entity["is_scene"] |= bool(obj.scene)
                entity["is_nobox"] |= bool(obj.nobndbox)
        return list(entities.values())


@dataclass
class SampleTree:
    root: Path
    images: dict[str, SampleImage]
    splits: dict[str, list[str]]                   # Entities splits, in file order
    unrelated: set[tuple[str, int]]                # (image id, 0-based caption index)
    karpathy: dict[str, list[str]] = field(default_factory=dict)
    bad_ids: list[str] = field(default_factory=list)

    def rows_expected(self, split: str) -> list[str]:
        return [i for i in self.splits[split] if self.images[i].annotated]


def _hand_written_images() -> list[SampleImage]:
    return [
        SampleImage("98765", "train", (500, 333), xml_declaration=True, karpathy_split="train", captions=[
            [P(901, "people", "A man"), "in", P(902, "clothing", "a striped apron"), "pours", P(903, "other", "coffee"), "."],
            [P(901, "people", "A barista"), "works", "at", P(904, "scene", "a busy café"), "."],
            [P(901, "people", "The man"), "smiles", "."],
            [P(901, "people", "A worker"), "makes", P(903, "other", "a drink"), "for", P(905, "people", "a customer"), "."],
            [P(901, "people", "Someone"), "is", "making", P(903, "other", "espresso"), "."],
        ], objects=[Obj((901,), (120, 40, 310, 333)), Obj((902,), (150, 160, 280, 330)),
                    Obj((903,), (300, 180, 340, 230)), Obj((904,), scene=1, nobndbox=0),
                    Obj((905,), (400, 60, 500, 333))]),
        SampleImage("4000000001", "train", (375, 500), karpathy_split="val", captions=[
            ["A", "quiet", "street", "at", "night", "."],
            ["Nothing", "much", "happens", P(0, "notvisual", "this evening"), "."],
            ["Lights", "glow", "softly"],
            [P(0, "notvisual", "It"), "is", "late", "."],
            ["An", "empty", "road", "."],
        ], objects=[]),
        SampleImage("12345", "validation", (500, 375), karpathy_split="train", captions=[
            [P(701, "people", "A girl"), "in", P(702, "clothing", "a blue coat"), "feeds", P(705, "animals", "some ducks"),
             "at", P(706, "scene", "a pond"), "."],
            [P(701, "people", "A child"), "holds", P(707, "bodyparts/people", "her mother 's hand"),
             P(0, "notvisual", "today")],
            ["A", "small", "girl", "spends", "time", "outdoors", "."],
            [P(701, "people", "The girl"), "enjoys", P(703, "other", "time"), "near", P(706, "other", "the water"), "and",
             P(708, "vehicles/scene/other", "a parked boat"), "."],
            [P(701, "people", "Someone"), "and", P(704, "people", "a friend"), "watch", P(705, "animals", "the ducks"),
             P(0, "notvisual", "there"), "."],
        ], objects=[
            Obj((701,), (40, 60, 180, 370)), Obj((701,), (200, 80, 260, 250)), Obj((701,), (1, 1, 500, 375)),
            Obj((705, 707), (300, 200, 420, 330)), Obj((706,), scene=1, nobndbox=0), Obj((703,), scene=0, nobndbox=1),
            Obj((702,), (50, 120, 170, 300)), Obj((708,), (430, 150, 499, 260)), Obj((709,), (10, 10, 30, 30)),
        ]),
        SampleImage("2199200615", "test", (500, 188), grayscale=True, karpathy_split="test", captions=[
            [P(20332, "other", "Four"), "dogs", "run", "across", P(20333, "scene", "the grass"), "."],
            [P(20334, "animals", "Dogs"), "race", "on", P(20333, "scene", "a field"), "."],
            [P(20334, "animals", "The animals"), P(20335, "other", "play")],
            [P(20334, "animals", "Four dogs"), "are", "outside", "."],
            ["a", "sunny", "day", "with", P(20334, "animals", "pets"), "."],
        ], objects=[Obj((20334,), empty_box=True), Obj((20333,), scene=1, nobndbox=0)]),
    ]


def _bad_images() -> list[SampleImage]:
    return [SampleImage("55555", "test", (320, 240), annotated=False, captions=[["An", "orphan", "image", "."]] * 5,
                        objects=[])]


def _generated_images(count: int, seed: int = 30) -> list[SampleImage]:
    """Plain synthetic images for scaled-up trees (benchmarks)."""
    rng = random.Random(seed)
    nouns = ["man", "woman", "dog", "child", "bicycle", "car", "street", "ball", "tree", "guitar"]
    images = []
    for n in range(count):
        width, height = rng.choice([(500, 375), (375, 500), (500, 333), (333, 500)])
        chains = [100000 + 10 * n + k for k in range(3)]
        captions, objects = [], []
        for k in range(5):
            noun_a, noun_b = rng.sample(nouns, 2)
            captions.append([P(chains[0], "people", f"A {noun_a}"), "is", "near", P(chains[1], "other", f"a {noun_b}"), "."])
        for chain in chains[:2]:
            x0, y0 = rng.randrange(1, width // 2), rng.randrange(1, height // 2)
            objects.append(Obj((chain,), (x0, y0, rng.randrange(x0, width + 1), rng.randrange(y0, height + 1))))
        images.append(SampleImage(str(5_000_000_000 + n), "train", (width, height), captions=captions, objects=objects,
                                  karpathy_split="train", noisy=True))
    return images


def make(out_dir: Path, bad_records: bool = False, scale: int = 0, images_as: str = "dir",
         annotations_as: str = "zip") -> SampleTree:
    """Write the raw tree under out_dir. images_as: dir | tar | tar.gz; annotations_as: zip | dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _hand_written_images() + (_bad_images() if bad_records else []) + _generated_images(scale)
    for image in images:
        image.jpeg = _jpeg(image)
    _write_images(out_dir, images, images_as)
    _write_annotations(out_dir, [i for i in images if i.annotated], annotations_as)
    splits = {split: [i.image_id for i in images if i.split == split] for split in SPLIT_FILES}
    splits["train"] = list(reversed(splits["train"]))  # the real files are not sorted
    for split, name in SPLIT_FILES.items():
        (out_dir / name).write_text("".join(f"{i}\n" for i in splits[split]), encoding="utf-8")
    unrelated = {("12345", 4), ("98765", 1)}
    (out_dir / "UNRELATED_CAPTIONS").write_text(  # the release file has no final newline
        "# format: <imageID> <sentence number>\n" + "\n".join(f"{i} {n + 1}" for i, n in sorted(unrelated)),
        encoding="utf-8")
    karpathy = _write_karpathy(out_dir, images)
    _write_token_file(out_dir, images)
    return SampleTree(out_dir, {i.image_id: i for i in images}, splits, unrelated, karpathy,
                      [i.image_id for i in images if not i.annotated])


def _jpeg(image: SampleImage) -> bytes:
    """A real JPEG of the declared size, with each box outlined so previews show the annotation."""
    rng = random.Random(int(image.image_id))
    if image.noisy:
        picture = PIL.Image.frombytes("RGB", image.size, rng.randbytes(image.size[0] * image.size[1] * 3))
    else:
        picture = PIL.Image.new("RGB", image.size, tuple(rng.randrange(60, 200) for _ in range(3)))
    draw = PIL.ImageDraw.Draw(picture)
    for obj in image.objects:
        if obj.box:
            draw.rectangle([v - 1 for v in obj.box], outline=tuple(rng.randrange(256) for _ in range(3)), width=3)
    if image.grayscale:
        picture = picture.convert("L")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _write_images(out_dir: Path, images: list[SampleImage], images_as: str) -> None:
    if images_as == "dir":
        folder = out_dir / "flickr30k-images"
        folder.mkdir(exist_ok=True)
        for image in images:
            (folder / f"{image.image_id}.jpg").write_bytes(image.jpeg)
        return
    mode = {"tar": "w", "tar.gz": "w:gz"}[images_as]
    with tarfile.open(out_dir / f"flickr30k-images.{images_as}", mode) as archive:
        _add_bytes(archive, "flickr30k-images/readme.txt", b"Flickr30K images\n")  # not an image: ignored
        for image in sorted(images, key=lambda i: i.image_id):  # archive order differs from the split files
            _add_bytes(archive, f"flickr30k-images/{image.image_id}.jpg", image.jpeg)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def format_caption(caption: list) -> str:
    """The markup line of a caption (inverse of parse_caption)."""
    return " ".join(item if isinstance(item, str) else f"[/EN#{item.chain_id}/{item.types} {item.words}]"
                    for item in caption)


def format_annotation_xml(image: SampleImage) -> str:
    """Tab-indented XML as in Annotations/<id>.xml (inverse of parse_annotation_xml)."""
    width, height = image.size
    lines = ['<?xml version="1.0"?>'] if image.xml_declaration else []
    lines += ["<annotation>", f"\t<filename>{image.image_id}.jpg</filename>", "\t<size>",
              f"\t\t<width>{width}</width>", f"\t\t<height>{height}</height>",
              f"\t\t<depth>{1 if image.grayscale else 3}</depth>", "\t</size>"]
    for obj in image.objects:
        lines.append("\t<object>")
        lines += [f"\t\t<name>{name}</name>" for name in obj.names]
        if obj.empty_box:
            lines.append("\t\t<bndbox>\n\t\t</bndbox>")
        elif obj.box:
            lines.append("\t\t<bndbox>")
            lines += [f"\t\t\t<{tag}>{value}</{tag}>" for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), obj.box)]
            lines.append("\t\t</bndbox>")
        else:
            lines += [f"\t\t<scene>{obj.scene}</scene>", f"\t\t<nobndbox>{obj.nobndbox}</nobndbox>"]
        lines.append("\t</object>")
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def _write_annotations(out_dir: Path, images: list[SampleImage], annotations_as: str) -> None:
    files = {}
    for image in images:
        files[f"Sentences/{image.image_id}.txt"] = "".join(format_caption(c) + "\n" for c in image.captions)
        files[f"Annotations/{image.image_id}.xml"] = format_annotation_xml(image)
    if annotations_as == "zip":
        with zipfile.ZipFile(out_dir / "annotations.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                archive.writestr(name, files[name].encode("utf-8"))
    else:
        for name, text in files.items():
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / name).write_text(text, encoding="utf-8")


def _write_karpathy(out_dir: Path, images: list[SampleImage]) -> dict[str, list[str]]:
    entries, splits, sentid = [], {"train": [], "validation": [], "test": []}, 0
    for number, image in enumerate(i for i in images if i.karpathy_split):
        sentences = []
        for k in range(len(image.captions)):
            text = image.caption_text(k)
            raw = text.replace(" .", ".").replace(" 's", "'s")
            tokens = [t.lower() for t in text.split() if t.isalnum() or "'" in t]
            sentences.append({"tokens": tokens, "raw": raw, "imgid": number, "sentid": sentid})
            sentid += 1
        entries.append({"filename": f"{image.image_id}.jpg", "imgid": number, "split": image.karpathy_split,
                        "sentids": [s["sentid"] for s in sentences], "sentences": sentences})
        splits[{"train": "train", "val": "validation", "test": "test"}[image.karpathy_split]].append(image.image_id)
    (out_dir / "dataset_flickr30k.json").write_text(json.dumps({"images": entries, "dataset": "flickr30k"}))
    return splits


def _write_token_file(out_dir: Path, images: list[SampleImage]) -> None:
    lines = [f"{image.image_id}.jpg#{k}\t{image.caption_text(k)}"
             for image in sorted(images, key=lambda i: i.image_id) for k in range(len(image.captions))]
    (out_dir / "results_20130124.token").write_text("\n".join(lines) + "\n", encoding="utf-8")
