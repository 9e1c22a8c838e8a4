"""Flickr30K Entities: Flickr30K images with phrase–box annotations, one row per image.

Raw release (downloaded by hand): the Flickr30K images (`flickr30k-images/` or the `.tar` / `.tar.gz`
archive), the Entities annotations (`annotations.zip`, or its extracted `Annotations/` and
`Sentences/`), the split files `train.txt` / `val.txt` / `test.txt`; optionally `UNRELATED_CAPTIONS`,
the Karpathy split file `dataset_flickr30k.json` and the original caption file
`results_20130124.token`. Archives are read in place: members are never extracted to disk.
"""
from __future__ import annotations

import json
import os
import pyexpat
import re
import stat
import tarfile
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import datasets
from datasets import ClassLabel, Image, List, Value
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from .archives import MEDIA_MEMBER_LIMIT, TEXT_MEMBER_LIMIT, ZipDirectory, kept_directory, read_tar_member
from .core import ExcludeBy, MMConfig, MultimodalBuilder, RawPart, first_existing, group_by_size
from .errors import RawDataError, RecordLog, not_utf8, read_text
from .media.image import JPEG_START, image_truncated, probe_image

# ---- metadata --------------------------------------------------------------------------------------

PHRASE_TYPES = ["people", "clothing", "bodyparts", "animals", "vehicles", "instruments", "scene", "other",
                "notvisual"]
SPLIT_FILES = {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}
KARPATHY_SPLITS = {"train": "train", "val": "validation", "test": "test"}

# ---- features, with the docs the card's field table is made of --------------------------------------

IMAGE_ID = (Value("string"), "Flickr photo id, as in the release file names (a string: ids exceed int32).")
IMAGE = (Image(), "The original JPEG bytes from flickr30k-images, not re-encoded.")
UNRELATED = (Value("bool"), "True when UNRELATED_CAPTIONS lists this caption as not describing the image "
                            "(the list is known to be incomplete).")

ENTITIES_FIELDS = {
    "image_id": IMAGE_ID,
    "image": IMAGE,
    "width": (Value("int32"), "Image width in pixels (from the JPEG; checked against the annotation XML)."),
    "height": (Value("int32"), "Image height in pixels (from the JPEG; checked against the annotation XML)."),
    "captions": ([{
        "text": (Value("string"), "The caption with the phrase markup removed (tokens joined by single spaces)."),
        "unrelated": UNRELATED,
        "phrases": ([{
            "text": (Value("string"), "The words of the phrase."),
            "first_word_index": (Value("int32"), "0-based index of the phrase's first word in `text` split on spaces."),
            "chain_id": (Value("int32"), "Coreference chain (entity) id, global across the dataset; 0 marks a "
                                         "non-visual phrase, and every chain-0 phrase is its own entity."),
            "types": ([ClassLabel(names=PHRASE_TYPES)], "Entity types of this mention (a phrase can carry several)."),
        }], "The annotated phrases of the caption, in reading order."),
    }], "The five crowd-sourced captions, in release order (line k of Sentences/<id>.txt)."),
    "entities": ([{
        "chain_id": (Value("int32"), "Chain id, matching `captions[].phrases[].chain_id`."),
        "boxes": ([List(Value("int32"), length=4)],
                  "Boxes as [xmin, ymin, xmax, ymax] in 0-based pixels (the 1-based inclusive XML values minus 1). "
                  "An entity with several boxes keeps them all; a box shared by entities appears under each."),
        "is_scene": (Value("bool"), "The annotators marked the entity as the scene (it has no box of its own)."),
        "is_nobox": (Value("bool"), "The annotators found no box for the entity (nobndbox)."),
    }], "Entities of the annotation XML, in order of first appearance; chains without a box are kept with "
        "their flags."),
}

CAPTIONS_FIELDS = {
    "image_id": IMAGE_ID,
    "image": IMAGE,
    "captions": ([(Value("string"), "A caption, markup removed.")], "The five captions, in release order."),
    "caption_unrelated": ([UNRELATED], "Per caption (same order): listed in UNRELATED_CAPTIONS."),
}

KARPATHY_FIELDS = {
    "image_id": IMAGE_ID,
    "image": IMAGE,
    "sentences": ([{
        "sentid": (Value("int32"), "Global sentence id in dataset_flickr30k.json."),
        "raw": (Value("string"), "Karpathy's detokenised caption (`raw`)."),
        "tokens": ([(Value("string"), "A token.")], "Karpathy's lower-cased tokens, punctuation removed."),
        "original": (Value("string"), "The same caption as written in results_20130124.token (null when that "
                                      "file is absent); the k-th Karpathy sentence is caption #k-1 there."),
        "unrelated": UNRELATED,
    }], "The image's sentences in Karpathy order."),
}

# ---- configs ------------------------------------------------------------------------------------------

RAW_PARTS = {
    "images": RawPart("flickr30k-images/<id>.jpg (or flickr30k-images.tar / flickr30k-images.tar.gz)"),
    "annotations": RawPart("annotations.zip (or its extracted Annotations/<id>.xml and Sentences/<id>.txt)"),
    "splits": RawPart("train.txt, val.txt and test.txt"),
    "karpathy": RawPart("dataset_flickr30k.json (the Karpathy split file)"),
}

VERSION = datasets.Version("1.0.0")
CONFIGS = [
    MMConfig(name="entities", version=VERSION, fields=ENTITIES_FIELDS, requires=("images", "annotations", "splits"),
             description="One row per image: captions with their annotated phrases, and the entities with boxes."),
    MMConfig(name="captions", version=VERSION, fields=CAPTIONS_FIELDS, requires=("images", "annotations", "splits"),
             description="One row per image: the five captions as plain text (Entities splits)."),
    MMConfig(name="karpathy", version=VERSION, fields=KARPATHY_FIELDS, requires=("images", "karpathy"),
             description="One row per image of the Karpathy split (29,000 / 1,014 / 1,000), with Karpathy's "
                         "sentences and the original captions."),
]


@dataclass(frozen=True)
class ImageShard:
    """A group of images of one split, and where their bytes are."""

    ids: tuple[str, ...]
    source: str                      # "dir", "tar" (indexed, random access) or "stream" (.tar.gz, read in order)
    path: str                        # the images folder or archive
    offsets: tuple[tuple[int, int], ...] = ()       # (offset, size) per id, for an indexed .tar
    unrelated: tuple[tuple[str, int], ...] = ()     # (image id, 0-based caption index) for ids of this shard
    karpathy: tuple = ()             # (image id, sentences) pairs, for the karpathy config
    originals: tuple = ()            # (image id, original captions) pairs, for the karpathy config


class Flickr30kEntities(MultimodalBuilder):
    NAME = "flickr30k_entities"
    VERSION = VERSION
    RAW_PARTS = RAW_PARTS
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "entities"
    EXCLUDABLE = {"image_id": ExcludeBy("image_id")}
    NOT_READ = (
        ("README.md", "the README of the Entities repository (this card describes the data)"),
        ("*.m", "MATLAB code of the Entities repository, not data"),
        ("flickr30k_entities_utils.py", "Python code of the Entities repository, not data"),
        ("flickr30k-images/readme.txt", "the readme of the Flickr30K images archive, not data"),
    )

    def locate_raw(self, data_dir: Path) -> dict:
        splits = [data_dir / name for name in SPLIT_FILES.values()]
        return {
            "images": first_existing(data_dir / "flickr30k-images", data_dir / "flickr30k-images.tar",
                                      data_dir / "flickr30k-images.tar.gz", data_dir / "flickr30k-images.tgz"),
            "annotations": first_existing(data_dir / "annotations.zip", data_dir / "Annotations",
                                           accept=lambda p: p.suffix == ".zip" or (p.parent / "Sentences").is_dir()),
            "splits": data_dir if all(p.is_file() for p in splits) else None,
            "karpathy": first_existing(data_dir / "dataset_flickr30k.json"),
            "unrelated": first_existing(data_dir / "UNRELATED_CAPTIONS"),
            "token": first_existing(data_dir / "results_20130124.token",
                                     data_dir / "flickr30k" / "results_20130124.token"),
        }

    def input_files(self) -> list[Path]:
        wanted = set(self.config.requires) | {"unrelated"} | ({"token"} if self.config.name == "karpathy" else set())
        paths = []
        for part in sorted(wanted):
            location = self.raw.get(part)
            if part == "splits" and location:
                paths += [location / name for name in SPLIT_FILES.values()]
            elif part == "annotations" and location and location.is_dir():
                paths += [location, location.parent / "Sentences"]
            elif location:
                paths.append(location)
        return paths

    def read_paths(self) -> list[Path]:
        """In an images folder only the images of the config's splits are read (once they are listed):
        any other file there is reported as not read."""
        paths = self.input_files()
        images = self.raw.get("images")
        if self._listed_ids is None or images is None or not images.is_dir():
            return paths
        folder = os.fspath(images)  # strings, not Paths: pathlib interns every file name for the rest of the process
        return [p for p in paths if p != images] + [os.path.join(folder, f"{image_id}.jpg")
                                                    for image_id in self._listed_ids]

    _listed_ids: set[str] | None = None  # the image ids split_shards listed

    # ---- shard listing ---------------------------------------------------------------------------------

    def split_shards(self, log: RecordLog) -> dict[str, list[ImageShard]]:
        unrelated = _read_unrelated(self.raw["unrelated"]) if self.raw["unrelated"] else set()
        if self.config.name == "karpathy":
            karpathy = parse_karpathy(self.raw["karpathy"].read_bytes(), self.raw["karpathy"])
            originals = parse_token_file(read_text(self.raw["token"]), self.raw["token"]) \
                if self.raw["token"] else {}
            split_ids = {split: [image_id for image_id, _ in items] for split, items in karpathy.items()}
            sentences = {image_id: sents for items in karpathy.values() for image_id, sents in items}
        else:
            split_ids = read_split_files(self.raw["splits"], log)
        self._listed_ids = {image_id for ids in split_ids.values() for image_id in ids}
        locator = _ImageLocator(self.raw["images"])
        if locator.source == "tar" and locator.other_members:
            log.notice(f"{self.relative(locator.path)}: {len(locator.other_members)} members are not "
                       f"<id>.jpg images and were not read (e.g. {locator.other_members[0]})")
        shards = {}
        for split, ids in split_ids.items():
            shards[split] = []
            for group, offsets in locator.groups(ids, self.SHARD_BYTES):
                extra = {}
                if self.config.name == "karpathy":
                    extra = {"karpathy": tuple((i, sentences[i]) for i in group),
                             "originals": tuple((i, tuple(originals[i])) for i in group if i in originals)}
                members = set(group)
                shards[split].append(ImageShard(
                    ids=tuple(group), source=locator.source, path=str(locator.path), offsets=offsets,
                    unrelated=tuple(sorted((i, n) for i, n in unrelated if i in members)), **extra))
        return shards

    # ---- table assembly --------------------------------------------------------------------------------

    def shard_rows(self, shard: ImageShard, log: RecordLog) -> Iterator[dict]:
        unrelated = set(shard.unrelated)
        karpathy, originals = dict(shard.karpathy), dict(shard.originals)
        with _AnnotationReader(self.raw["annotations"]) as annotations:
            def row(image: tuple[str, str, bytes | RawDataError]) -> dict:
                image_id, image_path, data = image
                if isinstance(data, RawDataError):  # the image could not be read: this record's error
                    raise data
                return self._row(image_id, image_path, data, annotations, unrelated,
                                 karpathy.get(image_id), originals.get(image_id))

            yield from log.converted(iter_images(shard), locate=lambda image: (image[1], image[0]), make=row)

    def _row(self, image_id, image_path, data, annotations, unrelated, karpathy, originals) -> dict:
        width, height = check_jpeg(data, image_path)
        row = {"image_id": image_id, "image": {"bytes": data, "path": f"{image_id}.jpg"}}
        if self.config.name == "karpathy":
            row["sentences"] = [
                dict(sentence, original=originals[k] if originals and k < len(originals) else None,
                     unrelated=(image_id, k) in unrelated)
                for k, sentence in enumerate(karpathy)]
            return row
        captions = parse_sentences(*annotations.sentences(image_id))
        flags = [(image_id, k) in unrelated for k in range(len(captions))]
        if self.config.name == "captions":
            return {**row, "captions": [c["text"] for c in captions], "caption_unrelated": flags}
        xml_path, xml = annotations.xml(image_id)
        annotation = parse_annotation_xml(xml, xml_path)
        if (annotation["width"], annotation["height"]) != (width, height):
            raise RawDataError(xml_path, f"the XML says the image is {annotation['width']}x{annotation['height']} "
                               f"but {Path(image_path).name} is {width}x{height}", record=image_id,
                               hint="the annotation and the image do not belong together; re-extract both")
        return {**row, "width": width, "height": height,
                "captions": [dict(c, unrelated=f) for c, f in zip(captions, flags)],
                "entities": annotation["entities"]}


# ---- raw sources ------------------------------------------------------------------------------------------

class _ImageLocator:
    """Groups a split's image ids into shards, knowing how the images are stored."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.source = "dir"
        elif path.name.endswith(".tar"):
            self.source = "tar"
            self.index, self.other_members = _index_tar(path)
        else:
            self.source = "stream"

    def groups(self, ids: list[str], budget: int) -> Iterator[tuple[list[str], tuple]]:
        """Consecutive ids in groups of at most `budget` image bytes, with their tar offsets when indexed."""
        if self.source == "stream":  # a gzip stream has no random access: one pass per split
            yield ids, ()
            return
        located = ((image_id, *self._locate(image_id)) for image_id in ids)
        for group in group_by_size(located, lambda image: image[2], budget):
            offsets = tuple((offset, nbytes) for _, offset, nbytes in group) if self.source == "tar" else ()
            yield [image_id for image_id, _, _ in group], offsets

    def _locate(self, image_id: str) -> tuple[int, int]:
        if self.source == "tar":
            return self.index.get(image_id, (-1, 0))
        try:  # a path string, not a Path (pathlib interns every file name for the rest of the process), stat once
            status = os.stat(os.path.join(self.path, f"{image_id}.jpg"))
        except OSError:
            return 0, 0
        return 0, status.st_size if stat.S_ISREG(status.st_mode) else 0


def _index_tar(path: Path) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Image id -> (data offset, size) for the JPEG members of an uncompressed tar (headers only), and the
    names of the other file members (reported, not read)."""
    index, others = {}, []
    with tarfile.open(path, "r:") as archive:
        for member in archive:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name.endswith(".jpg"):
                index[name[:-4]] = (member.offset_data, member.size)
            elif member.isfile():
                others.append(member.name)
    return index, others


def iter_images(shard: ImageShard) -> Iterator[tuple[str, str, bytes | RawDataError]]:
    """(image id, where it was read, bytes or the error saying why not), for every id of the shard."""
    if shard.source == "dir":
        for image_id in shard.ids:
            path = os.path.join(shard.path, f"{image_id}.jpg")  # (pathlib per image: ~0.3 s of 31,783 reads)
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError as e:
                data = RawDataError(Path(path), f"image missing or unreadable ({e.strerror})",
                                    hint="check that the images archive was fully extracted")
            yield image_id, path, data
    elif shard.source == "tar":
        with open(shard.path, "rb") as archive:
            for image_id, (offset, size) in zip(shard.ids, shard.offsets):
                where = f"{shard.path}:{image_id}.jpg"
                if offset < 0:
                    yield image_id, where, RawDataError(shard.path, f"no {image_id}.jpg in the archive",
                                                        hint="the archive is incomplete; download it again")
                    continue
                archive.seek(offset)
                data = archive.read(size)
                yield image_id, where, data if len(data) == size else RawDataError(
                    shard.path, f"{image_id}.jpg is cut short by the end of the archive", hint="download it again")
    else:
        wanted = set(shard.ids)
        try:
            with tarfile.open(shard.path, "r|*") as archive:
                for member in archive:
                    image_id = member.name.rsplit("/", 1)[-1][:-4]
                    if member.isfile() and member.name.endswith(".jpg") and image_id in wanted:
                        wanted.discard(image_id)
                        where = f"{shard.path}:{member.name}"
                        try:
                            yield image_id, where, read_tar_member(archive, member, MEDIA_MEMBER_LIMIT, where)
                        except RawDataError as error:
                            yield image_id, where, error
                        if not wanted:  # the rest of the stream holds no image of this shard
                            break
        except (tarfile.TarError, EOFError, OSError) as e:
            raise RawDataError(shard.path, f"the images archive is corrupt or truncated ({e})",
                               hint="download flickr30k-images.tar.gz again, or extract it and pass the folder")
        for image_id in (i for i in shard.ids if i in wanted):
            yield image_id, shard.path, RawDataError(shard.path, f"no {image_id}.jpg in the archive",
                                                     hint="the archive is incomplete; download it again")


def _last_two_parts(name: str) -> str:
    """annotations.zip's members are keyed by their last two path parts, so a top-level folder is tolerated."""
    return "/".join(name.split("/")[-2:])


class _AnnotationReader:
    """Sentences and XML of one image, from annotations.zip (read in place) or the extracted folders."""

    def __init__(self, location: Path | None):
        self.location = location
        self.members: ZipDirectory | None = None

    def __enter__(self):
        if self.location is not None and self.location.suffix == ".zip":
            try:
                self.members = kept_directory(self.location, key=_last_two_parts)
            except (zipfile.BadZipFile, OSError) as e:
                raise RawDataError(self.location, f"not a readable zip archive ({e})",
                                   hint="download annotations.zip again") from None
        return self

    def __exit__(self, *exc):
        pass  # the archive stays open for the process's next shard job (kept_directory)

    def _read(self, folder: str, name: str) -> tuple[str, bytes]:
        if self.members is not None:
            member = self.members.find(f"{folder}/{name}")
            if member is None:
                raise RawDataError(self.location, f"no annotation {folder}/{name} in the archive",
                                   hint="every id of the split files needs Sentences/<id>.txt and Annotations/<id>.xml")
            where = f"{self.location}:{self.members.name(member)}"
            try:
                return where, self.members.read(member, TEXT_MEMBER_LIMIT, where)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise RawDataError(where, f"corrupt archive member ({e})", hint="download annotations.zip again") from None
        path = self.location.parent / folder / name
        try:
            return str(path), path.read_bytes()
        except OSError:
            raise RawDataError(path, "annotation file missing or unreadable",
                               hint="every id of the split files needs Sentences/<id>.txt and Annotations/<id>.xml") from None

    def sentences(self, image_id: str) -> tuple[str, str]:
        where, data = self._read("Sentences", f"{image_id}.txt")
        try:
            return data.decode("utf-8"), where
        except UnicodeDecodeError as e:
            raise not_utf8(where, e) from None

    def xml(self, image_id: str) -> tuple[str, bytes]:
        return self._read("Annotations", f"{image_id}.xml")


# ---- pure parsing functions ---------------------------------------------------------------------------------

_PHRASE_HEADER = re.compile(r"\[/EN#(\d+)((?:/[A-Za-z]+)+)")


def parse_sentences(text: str, path) -> list[dict]:
    """Sentences/<id>.txt → captions with their phrases, following the official parser's semantics."""
    return [parse_caption(line, path, number) for number, line in enumerate(text.split("\n"), 1) if line.strip()]


def parse_caption(line: str, path, line_number: int) -> dict:
    words: list[str] = []
    phrases: list[dict] = []
    current: dict | None = None
    for token in line.split():
        if token.startswith("["):
            if current is not None:
                raise RawDataError(path, f"phrase {token!r} opens inside another phrase", line=line_number,
                                   hint="phrases cannot nest; the markup is corrupt")
            header = _PHRASE_HEADER.fullmatch(token)
            if header is None:
                raise RawDataError(path, f"malformed phrase header {token!r}", line=line_number,
                                   hint="phrases look like [/EN#<chain>/<type>[/<type>...] words]")
            types = header.group(2).split("/")[1:]
            unknown = [t for t in types if t not in PHRASE_TYPES]
            if unknown:
                raise RawDataError(path, f"unknown phrase type(s) {unknown} in {token!r}", line=line_number,
                                   hint=f"known types: {', '.join(PHRASE_TYPES)}")
            current = {"chain_id": int(header.group(1)), "types": [PHRASE_TYPES.index(t) for t in types],
                       "first_word_index": len(words), "words": []}
            continue
        closes = current is not None and token.endswith("]")
        word = token[:-1] if closes else token
        if closes and not word:
            raise RawDataError(path, "a phrase ends with an empty word ']'", line=line_number,
                               hint="the closing bracket must be glued to the phrase's last word")
        words.append(word)
        if current is not None:
            current["words"].append(word)
            if closes:
                phrases.append({"text": " ".join(current.pop("words")), **current})
                current = None
    if current is not None:
        raise RawDataError(path, f"phrase [/EN#{current['chain_id']}... is never closed", line=line_number,
                           hint="the line is truncated or a ']' is missing")
    return {"text": " ".join(words), "phrases": phrases}


def xml_root(data: bytes) -> ElementTree.Element:
    """The root of an untrusted XML document. One that could declare entities unseen is parsed by defusedxml,
    which refuses DTDs, entities and external references by name: a DTD (`<!DOCTYPE`), NUL bytes (UTF-16 or
    UTF-32 hide the DTD's bytes) or a declared encoding (EBCDIC ones do). Any other goes to ElementTree's C parser,
    2.5x faster (defusedxml runs ElementTree's pure-Python parser: 1.0 s for the release's 31,783 files, which
    declare nothing). Entities are declared only in a DTD; besides, expat >= 2.4.1 caps their expansion and
    ElementTree never fetches external ones."""
    if DTD_OPENING in data or b"\0" in data or DECLARED_ENCODING.match(data) or pyexpat.version_info < (2, 4, 1):
        return SafeET.fromstring(data)
    return ElementTree.fromstring(data)


DTD_OPENING = b"<!DOCTYPE"  # XML spells it in capitals only
DECLARED_ENCODING = re.compile(rb"\s*<\?xml[^>]*encoding")


def parse_annotation_xml(data: bytes, path) -> dict:
    """Annotations/<id>.xml → size and entities (boxes 0-based), per the official get_annotations."""
    try:
        root = xml_root(data)
    except ElementTree.ParseError as e:
        raise RawDataError(path, f"malformed XML ({e.msg if hasattr(e, 'msg') else e})", line=e.position[0],
                           hint="the file is corrupt or truncated; re-extract annotations.zip") from None
    except DefusedXmlException as e:
        raise RawDataError(path, f"refused XML construct ({type(e).__name__})",
                           hint="annotation files never use DTDs or entities; this file is not from the release") from None
    if root.tag != "annotation":
        raise RawDataError(path, f"root element is <{root.tag}>, expected <annotation>")
    size = root.find("size")
    if size is None:
        raise RawDataError(path, "no <size> element", hint="every annotation gives the image's width and height")
    width, height = _xml_int(size, "width", path, "<size>"), _xml_int(size, "height", path, "<size>")
    entities: dict[int, dict] = {}
    for number, obj in enumerate(root.iter("object"), 1):
        where = f"<object> #{number}"
        names = [n.text.strip() if n.text else "" for n in obj.findall("name")]
        if not names or not all(n.isdecimal() for n in names):
            raise RawDataError(path, f"{where}: <name> must be one or more chain ids, got {names}")
        box_element = obj.find("bndbox")
        box = None
        if box_element is not None and len(box_element):
            xmin, ymin, xmax, ymax = (_xml_int(box_element, tag, path, where) - 1
                                      for tag in ("xmin", "ymin", "xmax", "ymax"))
            if xmin > xmax or ymin > ymax:
                raise RawDataError(path, f"{where}: inverted box {[xmin + 1, ymin + 1, xmax + 1, ymax + 1]}",
                                   hint="xmin <= xmax and ymin <= ymax in every <bndbox>")
            box = [xmin, ymin, xmax, ymax]
        is_scene, is_nobox = _xml_flag(obj, "scene", path, where), _xml_flag(obj, "nobndbox", path, where)
        for chain_id in map(int, names):
            entity = entities.setdefault(chain_id, {"chain_id": chain_id, "boxes": [], "is_scene": False,
                                                    "is_nobox": False})
            if box is not None:
                entity["boxes"].append(box)
            entity["is_scene"] |= is_scene
            entity["is_nobox"] |= is_nobox
    return {"width": width, "height": height, "entities": list(entities.values())}


def _xml_int(parent, tag: str, path, where: str) -> int:
    element = parent.find(tag)
    text = element.text.strip() if element is not None and element.text else ""
    try:
        return int(text)
    except ValueError:
        raise RawDataError(path, f"{where}: <{tag}> must be an integer, got {text!r}") from None


def _xml_flag(parent, tag: str, path, where: str) -> bool:
    element = parent.find(tag)
    if element is None or not (element.text or "").strip():
        return False
    return _xml_int(parent, tag, path, where) > 0


def check_jpeg(data: bytes, where) -> tuple[int, int]:
    """(width, height) of a JPEG, refusing files that are not JPEG or are cut short.

    Truncation is detected by the missing end-of-image marker rather than by decoding: decoding every
    image would cost more than the whole rest of the build.
    """
    if not data.startswith(JPEG_START):
        raise RawDataError(where, "not a JPEG file (no start-of-image marker)", hint="replace it with the release's file")
    image = probe_image(data)  # finds a JPEG's end marker too; anything Pillow names otherwise is searched here
    if image.truncated if image.format == "JPEG" else image_truncated(data, "JPEG"):
        raise RawDataError(where, "truncated JPEG (no end-of-image marker)",
                           hint="the file was cut short; re-extract it from the images archive")
    if image.unreadable:
        raise RawDataError(where, f"unreadable JPEG header ({image.unreadable})",
                           hint="replace it with the release's file")
    return image.size


def read_split_files(folder: Path, log: RecordLog) -> dict[str, list[str]]:
    """Image ids per split; repeated ids and ids listed in two splits are rejected per the policy."""
    splits = {split: parse_split_file(read_text(folder / name), folder / name)
              for split, name in SPLIT_FILES.items()}
    owners: dict[str, list[str]] = {}
    for split, ids in splits.items():
        for image_id, _ in ids:
            owners.setdefault(image_id, []).append(split)
    result = {}
    for split, ids in splits.items():
        seen, kept = set(), []
        for image_id, line in ids:
            path = folder / SPLIT_FILES[split]
            if len(set(owners[image_id])) > 1:
                log.reject(RawDataError(path, f"id {image_id} is listed in several splits: {sorted(set(owners[image_id]))}",
                                        line=line, record=image_id, hint="splits must be disjoint; fix the split files"),
                           split=split)
            elif image_id in seen:
                log.reject(RawDataError(path, f"id {image_id} is listed twice", line=line, record=image_id,
                                        hint="remove the repeated line"), split=split)
            else:
                seen.add(image_id)
                kept.append(image_id)
        result[split] = kept
    return result


def parse_split_file(text: str, path) -> list[tuple[str, int]]:
    """(image id, line number) for each non-empty line of train.txt / val.txt / test.txt."""
    ids = []
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        if not value.isdecimal():
            raise RawDataError(path, f"expected an image id (digits), got {value!r}", line=number,
                               hint="split files hold one Flickr id per line, without .jpg")
        ids.append((value, number))
    return ids


def _read_unrelated(path: Path) -> set[tuple[str, int]]:
    return parse_unrelated_captions(read_text(path), path)


def parse_unrelated_captions(text: str, path) -> set[tuple[str, int]]:
    """UNRELATED_CAPTIONS → {(image id, 0-based caption index)}; the file numbers captions from 1."""
    flagged = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdecimal() or not parts[1].isdecimal() or not 1 <= int(parts[1]) <= 5:
            raise RawDataError(path, f"expected '<imageID> <sentence number 1-5>', got {line[:80]!r}", line=number)
        flagged.add((parts[0], int(parts[1]) - 1))
    return flagged


def parse_token_file(text: str, path) -> dict[str, list[str]]:
    """results_20130124.token → image id -> its captions ordered by #n."""
    captions: dict[str, dict[int, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, caption = line.partition("\t")
        match = re.fullmatch(r"(\d+)\.jpg#(\d+)", key.strip())
        if not sep or match is None:
            raise RawDataError(path, f"expected '<id>.jpg#<n><TAB><caption>', got {line[:80]!r}", line=number)
        captions.setdefault(match.group(1), {})[int(match.group(2))] = caption.strip()
    return {image_id: [by_n[n] for n in sorted(by_n)] for image_id, by_n in captions.items()}


def parse_karpathy(data: bytes, path) -> dict[str, list[tuple[str, tuple[dict, ...]]]]:
    """dataset_flickr30k.json → split -> [(image id, sentences)] in file order."""
    try:
        document = json.loads(data)
    except json.JSONDecodeError as e:
        raise RawDataError(path, f"invalid JSON ({e.msg})", line=e.lineno, hint="download the file again") from None
    splits: dict[str, list] = {name: [] for name in KARPATHY_SPLITS.values()}
    for number, image in enumerate(document.get("images", []) if isinstance(document, dict) else []):
        try:
            image_id = image["filename"].rsplit(".", 1)[0]
            split = KARPATHY_SPLITS[image["split"]]
            sentences = tuple({"sentid": int(s["sentid"]), "raw": str(s["raw"]), "tokens": [str(t) for t in s["tokens"]]}
                              for s in image["sentences"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise RawDataError(path, f"image entry #{number} is malformed ({type(e).__name__}: {e})",
                               record=str(image.get("filename")) if isinstance(image, dict) else None,
                               hint="entries need filename, split (train/val/test) and sentences with sentid/raw/tokens") from None
        splits[split].append((image_id, sentences))
    if not any(splits.values()):
        raise RawDataError(path, "no images listed", hint="expected {\"images\": [...], \"dataset\": \"flickr30k\"}")
    return splits
