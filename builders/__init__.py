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

ARROW_MEMORY_POOLS = {
    "mint1t": "jemalloc",  # html, 1.47M documents: 383-386 MiB at peak with jemalloc, 407-429 with malloc, 424-441
                           # with mimalloc since its column-wise batches are written as sliced (malloc kept more)
    "musecar": "system",   # topic, 1,000 videos: 425-455 and 377-382 MiB
    "nmb_plus": "jemalloc",  # current, 40,900 articles: malloc 355-379 MiB, jemalloc 349-361 (1x: 292-318, 294-317)
}
"""pyarrow's allocator for a build of the dataset, where it is not pyarrow's default (mimalloc): "system" is the C
library's malloc. Which one keeps less of what a build frees depends on the dataset, by up to a fifth of its peak
memory either way (BigDocs' ArxivOCR: 342-360 MiB with mimalloc, 362-398 with malloc), so it is measured per
dataset on the bench trees (README, "Memory"). pyarrow picks its allocator once, when it is imported (for its own
C++ code too, which `pyarrow.set_memory_pool` does not reach), so `scripts/build.py` chooses before importing a
builder (`cli.use_memory_pool`); that is why the choice is kept here and not on the builder class."""


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
