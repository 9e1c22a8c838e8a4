"""The card's ``preview:`` metadata: which views a dataset page draws over the first rows, as data.

This part is pure data and checks, on the build side (the card generator validates the block with
`check_spec`); drawing the views is `builders.hub.preview`, on the serving side. The views:

``boxes``     an image with labelled boxes drawn over it::

                  {view: boxes, image: image, objects: entities, box: boxes, box_format: xyxy,
                   label: name}                       # a field of each object, or, joined by a key:
                   labels: captions[].phrases[], label_key: chain_id, label_text: text}

``document``  an interleaved document in reading order (the OBELICS layout: at each position a text or
              an image)::

                  {view: document, texts: texts, images: images, image_urls: image_urls}

``qa``        a multiple-choice question, its answers with the correct one marked, and the context
              sentences it is aligned to highlighted::

                  {view: qa, question: question, answers: answers, correct: correct_index,
                   context: plot_sentences, aligned: plot_alignment}

Each entry may carry ``configs:`` (glob patterns; default every config). A view applies to a config only
when the columns it needs are there; optional ones (``label*``, ``image_urls``, ``correct``, ``context``,
``aligned``) are used when present. Paths name a column, then fields with ``.`` and list items with ``[]``.
"""
from __future__ import annotations

import fnmatch

VIEWS = {
    "boxes": {"required": ("image", "objects", "box"), "optional": ("box_format", "label", "labels", "label_key",
                                                                     "label_text"), "replaces": ("image",)},
    "document": {"required": ("texts", "images"), "optional": ("image_urls",),
                 "replaces": ("texts", "images", "image_urls")},
    "qa": {"required": ("question", "answers"), "optional": ("correct", "context", "aligned"),
           "replaces": ("question", "answers", "correct", "context", "aligned")},
}
BOX_FORMATS = ("xyxy", "xywh")
# Keys whose value is a literal, not a path into the row.
LITERAL_KEYS = frozenset({"view", "configs", "box_format", "label", "label_key", "label_text", "box"})


def check_spec(spec) -> list[str]:
    """Problems in a card's ``preview:`` block (empty when it is valid)."""
    if spec is None:
        return []
    if not isinstance(spec, list):
        return ["preview must be a list of views"]
    errors = []
    for number, entry in enumerate(spec, 1):
        where = f"preview entry {number}"
        if not isinstance(entry, dict) or entry.get("view") not in VIEWS:
            errors.append(f"{where}: needs view: one of {', '.join(VIEWS)}")
            continue
        kind = VIEWS[entry["view"]]
        missing = [key for key in kind["required"] if not isinstance(entry.get(key), str)]
        unknown = set(entry) - {"view", "configs", *kind["required"], *kind["optional"]}
        if missing:
            errors.append(f"{where} ({entry['view']}): missing {', '.join(missing)}")
        if unknown:
            errors.append(f"{where} ({entry['view']}): unknown keys {', '.join(sorted(unknown))}")
        if entry.get("box_format", "xyxy") not in BOX_FORMATS:
            errors.append(f"{where}: box_format must be one of {', '.join(BOX_FORMATS)}")
        if "labels" in entry and not ("label_key" in entry and "label_text" in entry):
            errors.append(f"{where}: labels needs label_key and label_text")
        configs = entry.get("configs", ["*"])
        if not isinstance(configs, list) or not all(isinstance(c, str) for c in configs):
            errors.append(f"{where}: configs must be a list of config names or glob patterns")
    return errors


def spec_columns(entry: dict) -> dict[str, str]:
    """The columns a view reads: {key in the spec: top-level column name}."""
    return {key: value.split(".")[0].removesuffix("[]") for key, value in entry.items()
            if key not in LITERAL_KEYS and isinstance(value, str)}


def views_for(spec, config: str, columns: list[str]) -> list[dict]:
    """The views of the ``preview:`` block that apply to a config with these columns, with the columns they use."""
    out = []
    for entry in spec or []:
        if not isinstance(entry, dict) or entry.get("view") not in VIEWS:
            continue
        if not any(fnmatch.fnmatchcase(config, pattern) for pattern in entry.get("configs", ["*"])):
            continue
        used = {key: column for key, column in spec_columns(entry).items() if column in columns}
        if all(key in used for key in VIEWS[entry["view"]]["required"] if key not in LITERAL_KEYS):
            out.append({key: value for key, value in entry.items() if key in LITERAL_KEYS or key in used})
    return out
