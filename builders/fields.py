"""Features declared together with their documentation.

`datasets.Features` carry no per-field description, yet the card's field table must explain every
column. A builder therefore declares its schema as a nested spec of ``(feature, doc)`` pairs:

    {"image_id": (Value("string"), "Flickr photo id"),
     "captions": ([{"text": (Value("string"), "caption text")}], "the five captions")}

where a one-element Python list means "list of" and a dict means a struct. `documented()` turns the
spec into real `Features` plus a flat, ordered table of documented paths (``captions[].text``).
"""
from __future__ import annotations

from dataclasses import dataclass

import datasets
from datasets import ClassLabel, Image, List, Value


@dataclass(frozen=True)
class FieldDoc:
    path: str
    type: str
    doc: str


def documented(spec: dict) -> tuple[datasets.Features, list[FieldDoc]]:
    """Build `Features` and the field documentation from a spec; every field must have a doc."""
    docs: list[FieldDoc] = []
    features = datasets.Features({name: _build(value, name, docs) for name, value in spec.items()})
    return features, docs


def _is_documented(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str)


def _build(value, path: str, docs: list[FieldDoc]):
    if not _is_documented(value):
        raise TypeError(f"field {path!r} must be declared as (feature, doc)")
    feature_spec, doc = value
    if not doc.strip():
        raise ValueError(f"field {path!r} has an empty doc")
    index = len(docs)
    docs.append(None)  # reserve the slot so a parent precedes its children in the table
    feature = _feature(feature_spec, path, docs)
    docs[index] = FieldDoc(path, describe(feature), doc.strip())
    return feature


def _feature(spec, path: str, docs: list[FieldDoc]):
    if isinstance(spec, list):
        if len(spec) != 1:
            raise TypeError(f"field {path!r}: a list spec holds exactly one item type")
        item = spec[0]
        if _is_documented(item):  # a list of documented scalars: the items get their own doc line
            return List(_build(item, f"{path}[]", docs))
        return List(_feature(item, f"{path}[]", docs))
    if isinstance(spec, dict):
        return {name: _build(value, f"{path}.{name}", docs) for name, value in spec.items()}
    return spec


def describe(feature) -> str:
    """A short human-readable type, as shown in the card's field table."""
    if isinstance(feature, dict):
        return "struct"
    if isinstance(feature, List):
        inner = describe(feature.feature)
        return f"list<{inner}>[{feature.length}]" if feature.length not in (None, -1) else f"list<{inner}>"
    if isinstance(feature, ClassLabel):
        return f"class_label ({', '.join(feature.names)})"
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, Image):
        return "image"
    return type(feature).__name__.lower()
