"""multimodal-builders: datasets builders, dataset cards and Hub publishing for multimodal releases.

The registry maps each dataset name (the CLI name) to its builder class. Modules are imported on
first use, so `scripts/build.py flickr30k_entities` does not import every other builder.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

REGISTRY = {
    "flickr30k_entities": "builders.flickr30k_entities:Flickr30kEntities",
    "movieqa": "builders.movieqa:MovieQA",
    "musecar": "builders.musecar:MuSeCaR",
    "internvid": "builders.internvid:InternVid",
    "mint1t": "builders.mint1t:Mint1T",
    "bigdocs": "builders.bigdocs:BigDocs",
    "nmb_plus": "builders.nmb_plus:NmbPlus",
}


def dataset_names() -> list[str]:
    return sorted(REGISTRY)


def builder_class(name: str):
    """The builder class registered under `name`; UsageError naming the known datasets otherwise."""
    from .errors import UsageError

    try:
        target = REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
