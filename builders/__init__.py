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
    # html, 1.47M documents: 383-386 MiB at peak with jemalloc, 407-429 with malloc, 424-441 with mimalloc since
    # its column-wise batches are written as sliced; the PDF configs' 300 documents: malloc 4.0-4.5 s of CPU,
    # jemalloc 4.6-5.1 (system time), 317-319 MiB against 280-281
    "mint1t": {"html": "jemalloc", "": "system"},
    "flickr30k_entities": "system",  # entities, 47,675 images: mimalloc 338-346 MiB, malloc 297-313, jemalloc 290-303
    # (1x: 280-281, 255-273, 252-254)
    "musecar": "system",   # topic, 1,000 videos cut as WAV in 16 MiB batches: mimalloc 328 MiB, malloc 293, jemalloc
    # 284-286 (as FLAC in 64 MiB batches: 425-455, 377-382)
    "nmb_plus": "jemalloc",  # current, 40,900 articles: malloc 355-379 MiB, jemalloc 349-361 (1x: 292-318, 294-317)
}
"""pyarrow's allocator for a build of the dataset, where it is not pyarrow's default (mimalloc): "system" is the C
library's malloc. Which one keeps less of what a build frees depends on the dataset, by up to a fifth of its peak
memory either way (BigDocs' ArxivOCR: 342-360 MiB with mimalloc, 362-398 with malloc), so it is measured per
dataset on the bench trees (README, "Memory"). A dataset whose configs differ names its allocators by the start of
a config's name ("" for the rest, and for a build of configs that differ). pyarrow picks its allocator once, when
it is imported (for its own C++ code too, which `pyarrow.set_memory_pool` does not reach), so `scripts/build.py`
chooses before importing a builder (`cli.use_memory_pool`); that is why the choice is kept here and not on the
builder class."""


def memory_pool(dataset: str, configs: list[str] | None) -> str | None:
    """The allocator `ARROW_MEMORY_POOLS` names for a build of these configs of the dataset (None: every config)."""
    choice = ARROW_MEMORY_POOLS.get(dataset)
    if not isinstance(choice, dict):
        return choice

    def of(config: str) -> str:
        start = max((start for start in choice if config.startswith(start)), key=len)
        return choice[start]

    pools = {of(config) for config in configs or [""]}
    return pools.pop() if len(pools) == 1 else choice[""]


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
