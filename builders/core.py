"""The base builder every dataset subclasses.

A dataset module declares data (its raw parts, its configs with documented features) and three
functions: where the raw parts are (`locate_raw`), how each split is cut into raw shards
(`split_shards`), and how one shard becomes rows (`shard_rows`, or `shard_tables` for builders that
produce Arrow tables directly). Everything else lives here once: `datasets` integration, batching
into pyarrow tables, deterministic keys, the error policy, and the checks that name missing files.

The builder is a real `datasets.ArrowBasedBuilder`, so `download_and_prepare()` works on it; the
build pipeline (`builders.pipeline`) drives the same `shard_tables` one shard at a time instead.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence

import datasets
import numpy as np
import pyarrow as pa
from datasets.builder import Key

from . import cards
from .errors import MissingRawDataError, RawDataError, RecordLog
from .exclusions import ExcludeBy, Exclusion, drop_excluded, read_list
from .fields import FieldDoc, documented

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawPart:
    """One part of a raw release, as the user would find it after downloading (for messages)."""

    description: str


@dataclass
class MMConfig(datasets.BuilderConfig):
    """A config: its documented fields, the raw parts it needs, and the record error policy.

    `redistribution` overrides the card's policy for this config when its content is more restricted
    (e.g. media the licence does not let us redistribute, next to captions that may be shared).
    """

    fields: dict | None = None
    requires: tuple[str, ...] = ()
    on_error: str = "raise"
    redistribution: str | None = None


class MultimodalBuilder(datasets.ArrowBasedBuilder):
    """Shared mechanics for every dataset builder in this package."""

    NAME: ClassVar[str]
    RAW_PARTS: ClassVar[dict[str, RawPart]] = {}
    EXCLUDABLE: ClassVar[dict[str, ExcludeBy]] = {}
    """Kinds of id a takedown or exclusion list may name (the card's `excludable:`), and the column each
    matches; rows they name are left out of every table (`tables`)."""
    NOT_READ: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(pattern, reason) for raw paths the builder recognises and deliberately leaves (an upstream README,
    another dataset's folder in the same package): the build lists them with that reason instead of
    "not recognised". Patterns are matched as in `builders.coverage.matches`."""
    BUILDER_CONFIG_CLASS = MMConfig
    ROWS_PER_BATCH: ClassVar[int | None] = 100  # datasets' own batch size for media rows
    BATCH_BYTES: ClassVar[int | None] = None
    """Also close a batch once its rows weigh this many bytes (`row_bytes`): media rows vary a lot in size."""
    SHARD_BYTES: ClassVar[int] = 400 * 10**6
    """Raw input per shard job, for builders that group files or records into shards by size
    (`group_by_size`), so that each job's Parquet part stays under the Hub's recommended 500 MB."""
    planning_processes: int = 1
    """How many processes `split_shards` may keep busy, forking them (the pipeline sets the local engine's
    --num-proc while no other thread runs): a planner that reads a large file through may read it in stretches."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _skip_streaming_patches(cls.__module__)

    # ---- what a dataset module implements -------------------------------------------------------

    def locate_raw(self, data_dir: Path) -> dict[str, Any]:
        """Find each raw part under data_dir; a part that is absent maps to None."""
        raise NotImplementedError

    def split_shards(self, log: RecordLog) -> dict[str, list]:
        """Split name -> list of shards (picklable descriptions of raw input), in a fixed order."""
        raise NotImplementedError

    def shard_rows(self, shard, log: RecordLog) -> Iterator[dict]:
        """Rows of one shard; each record is parsed inside `log.record(...)`."""
        raise NotImplementedError

    def input_files(self) -> list[Path]:
        """Raw files and folders this config reads (their checksums go to build_report.json)."""
        return [p for p in self.raw.values() if isinstance(p, Path)]

    def read_paths(self) -> list[Path]:
        """What this config reads: files, and folders it reads entirely. Everything else under the data
        directory is listed as not read (`builders.coverage`). Override when `input_files` names a folder
        of which only some files are read. Paths may be strings: a config that reads tens of thousands of
        files names them without a `Path` each."""
        return self.input_files()

    def unread_reasons(self) -> dict[str, list[Path]]:
        """Reasons for raw paths this config found and chose not to read (an image no article names, say),
        as {reason: paths}; they are reported with that reason instead of "not recognised"."""
        return {}

    def shared_state(self) -> Any:
        """What `split_shards` learnt that every shard job needs and the shards do not carry (an index of
        downloaded files, say): any picklable value, or None. The pipeline takes it once, at planning,
        and gives it to each job's builder (`adopt_shared_state`), whether the job runs in this process,
        a forked one, or a Ray worker on another machine, which inherits nothing from the planner."""
        return None

    def adopt_shared_state(self, state: Any) -> None:
        """Use `state`, the planning builder's `shared_state()`, instead of computing it again."""
        raise NotImplementedError(f"{type(self).__name__} returns a shared_state but cannot adopt one")

    def shares_state_with(self, config: str) -> bool:
        """Whether the `shared_state` of another config of the same data directory holds for this config too
        (an index of the same folder), so that this one adopts it instead of making its own."""
        return False

    @classmethod
    def planning_done(cls) -> None:
        """Called once every config of a build is planned, before the jobs run: what the planners kept for each
        other and the jobs do not need can go (MovieQA's index of qa.json)."""

    # ---- datasets integration ----------------------------------------------------------------------

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", self.NAME)
        kwargs.setdefault("on_error", cards.default_on_error(self.NAME))
        super().__init__(*args, **kwargs)
        self.exclusions: tuple[Exclusion, ...] = tuple(self.standing_exclusions())

    def standing_exclusions(self) -> list[Exclusion]:
        """The exclusion list kept with the card (dataset_cards/<name>.exclude), applied to every build."""
        path = cards.exclusion_list(self.NAME)
        return read_list(path, self.EXCLUDABLE) if path else []

    def _info(self) -> datasets.DatasetInfo:
        card = cards.load_card_metadata(self.NAME)
        return datasets.DatasetInfo(
            description=card.get("summary", "").strip(),
            features=self.documented_features()[0],
            homepage=card.get("homepage", ""),
            citation=card.get("citation", "").strip(),
            license=card.get("license_name") or card.get("license", ""),
        )

    @functools.cached_property
    def _documented(self) -> tuple[datasets.Features, list[FieldDoc]]:
        return documented(self.config.fields)

    def documented_features(self) -> tuple[datasets.Features, list[FieldDoc]]:
        return self._documented

    def _split_generators(self, dl_manager):
        self.check_raw()
        log = RecordLog(self.config.on_error)
        shards = self.split_shards(log)
        if log.skipped:
            logger.warning("%d records skipped while listing splits (--on-error skip)", len(log.skipped))
        return [datasets.SplitGenerator(name=split, gen_kwargs={"shards": items, "split": split})
                for split, items in shards.items()]

    def _generate_shards(self, shards, split):
        yield from shards

    def _generate_tables(self, shards, split):
        log = RecordLog(self.config.on_error, split)
        for shard_index, shard in enumerate(shards):
            for batch_index, table in enumerate(self.tables(shard, log)):
                yield Key(shard_index, batch_index), table
        if log.skipped:
            logger.warning("%s/%s: %d records skipped (--on-error skip)", self.config.name, split, len(log.skipped))

    # ---- shared mechanics --------------------------------------------------------------------------

    def tables(self, shard, log: RecordLog) -> Iterator[pa.Table]:
        """The shard's tables as written: `shard_tables` without the rows an exclusion names (counted per reason)."""
        for table in self.shard_tables(shard, log):
            if self.exclusions:
                table, dropped = drop_excluded(table, self.EXCLUDABLE, self.exclusions)
                log.exclude(dropped)
            yield table

    def shard_tables(self, shard, log: RecordLog) -> Iterator[pa.Table]:
        """Batch the shard's rows into tables of the config's Arrow schema (`batch_limits`)."""
        schema = self.info.features.arrow_schema
        max_rows, max_bytes = self.batch_limits()
        for batch in batched(self.shard_rows(shard, log), max_rows, max_bytes, self.row_bytes):
            table = table_from_rows(batch, schema)
            batch.clear()   # the rows' media bytes are in the table now: not held while it waits to be written
            yield table

    def batch_limits(self) -> tuple[int | None, int | None]:
        """(rows, bytes) at which `shard_tables` closes a table: ROWS_PER_BATCH and BATCH_BYTES, unless this
        config's rows call for others."""
        return self.ROWS_PER_BATCH, self.BATCH_BYTES

    def row_bytes(self, row) -> int:
        """What an item being batched weighs for BATCH_BYTES (a row's media bytes, say); only called when
        BATCH_BYTES is set."""
        raise NotImplementedError(f"{type(self).__name__} sets BATCH_BYTES but does not say what a row weighs")

    @property
    def data_dir(self) -> Path:
        if not self.config.data_dir:
            raise RawDataError(None, "no data directory was given", hint="pass --data-dir RAW_DIR")
        path = Path(self.config.data_dir)
        if not path.is_dir():
            raise RawDataError(path, "the data directory does not exist or is not a directory",
                               hint="pass the folder that holds the raw release (--data-dir)")
        return path

    @functools.cached_property
    def raw(self) -> dict[str, Any]:
        return self.locate_raw(self.data_dir)

    def missing_parts(self, config: MMConfig | None = None) -> list[str]:
        """Descriptions of the raw parts the config needs but the data directory lacks."""
        config = config or self.config
        return [self.RAW_PARTS[part].description for part in config.requires if self.raw.get(part) is None]

    def check_raw(self, config: MMConfig | None = None) -> None:
        """One error listing every raw part the config lacks, with the card's download steps."""
        config = config or self.config
        missing = self.missing_parts(config)
        if missing:
            steps = cards.load_card_metadata(self.NAME).get("raw_download", "").strip()
            raise MissingRawDataError(self.data_dir, missing,
                                      hint=f"config '{config.name}' needs these files.\n" + steps)

    def relative(self, path) -> str:
        """A raw path as shown in reports: relative to the data directory when inside it."""
        try:
            return Path(path).resolve().relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            return str(path)


def _skip_streaming_patches(module_name: str) -> None:
    """Keep `datasets` from patching the module's open, Path, os.walk, pandas.read_csv, ... with its fsspec
    versions, which it does to every builder's module so that scripts can stream remote files. Builders here
    read a local raw tree; the patched functions took a quarter of a MovieQA or Flickr30K build's CPU time."""
    sys.modules[module_name]._patched_for_streaming = True


_skip_streaming_patches(__name__)  # the parent builder's module is patched too


def table_from_rows(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows as a table of `schema`. Extension columns (`Json`) take their storage value: the JSON text.

    The same table as `pa.Table.from_pylist` (which makes each column with `pa.array`), but media columns
    (structs with a `bytes` child: Image, Audio, Video) are put together by `media_array`."""
    storage = storage_schema(schema)
    if any(_media_struct(field.type) for field in storage):
        return table_from_columns({field.name: media_array([row.get(field.name) for row in rows], field.type)
                                   if _media_struct(field.type) else
                                   pa.array([row.get(field.name) for row in rows], field.type)
                                   for field in storage}, schema, len(rows))
    table = pa.Table.from_pylist(rows, schema=storage)
    return table if storage.equals(schema) else table.cast(schema)


def table_from_columns(columns: dict[str, pa.Array], schema: pa.Schema, rows: int) -> pa.Table:
    """A table of `schema` from arrays of its storage types (`storage_schema`: what pyarrow builds from Python
    values or compute functions), by name; a column not given is all nulls."""
    storage = storage_schema(schema)
    table = pa.Table.from_arrays([columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in storage],
                                 schema=storage)
    return table if storage.equals(schema) else table.cast(schema)


def _media_struct(kind: pa.DataType) -> bool:
    return pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0 and \
        kind.field("bytes").type == pa.binary()


def media_array(cells: list, kind: pa.StructType) -> pa.Array:
    """`pa.array(cells, kind)` for a media struct column whose cells are all dicts holding bytes: its `bytes`
    child made by `binary_array`. Anything else (a null cell, a cell without bytes) is left to `pa.array`."""
    if not all(type(cell) is dict and type(cell.get("bytes")) is bytes for cell in cells):
        return pa.array(cells, kind)
    children = [binary_array([cell["bytes"] for cell in cells]) if child.name == "bytes" else
                pa.array([cell.get(child.name) for cell in cells], child.type) for child in kind]
    if any(isinstance(child, pa.ChunkedArray) for child in children):
        return pa.array(cells, kind)
    return pa.StructArray.from_arrays(children, fields=list(kind))


def binary_array(values: list[bytes]) -> pa.Array:
    """`pa.array(values, pa.binary())` for a list of bytes, made with one join: pyarrow's builder grows its
    data buffer by doubling and copying, 3 to 7 times slower for the hundreds of MB of a batch of media.
    Beyond int32 offsets pyarrow makes a chunked array, and so does this (by letting pyarrow do it)."""
    lengths = np.fromiter(map(len, values), np.int64, len(values))
    if lengths.sum() >= 2**31 - 1:
        return pa.array(values, pa.binary())
    offsets = np.zeros(len(values) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets),
                                                           pa.py_buffer(b"".join(values))])


@functools.lru_cache(maxsize=16)
def storage_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every extension type replaced by its storage type (from_pylist cannot build them)."""
    def storage(data_type: pa.DataType) -> pa.DataType:
        if isinstance(data_type, pa.BaseExtensionType):
            return data_type.storage_type
        if pa.types.is_fixed_size_list(data_type):
            return pa.list_(storage(data_type.value_type), data_type.list_size)
        if pa.types.is_large_list(data_type):
            return pa.large_list(storage(data_type.value_type))
        if pa.types.is_list(data_type):
            return pa.list_(storage(data_type.value_type))
        if pa.types.is_struct(data_type):
            return pa.struct([pa.field(f.name, storage(f.type), f.nullable) for f in data_type])
        return data_type

    return pa.schema([pa.field(f.name, storage(f.type), f.nullable) for f in schema], metadata=schema.metadata)


def first_existing(*paths: Path, accept: Callable[[Path], bool] = lambda path: True) -> Path | None:
    """The first of `paths` that exists (and that `accept` takes): where a raw part may be, in order of preference."""
    return next((path for path in paths if path.exists() and accept(path)), None)


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a parser makes many objects that hold no cycle: its
    collections, each walking every object made so far, took half of json.loads' time on a 240 MB MovieQA
    qa.json parsed whole (MovieQA's shard jobs now parse their own records under it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def batched(rows: Iterable, max_rows: int | None, max_bytes: int | None = None,
            size_of: Callable[[Any], int] | None = None) -> Iterator[list]:
    """Rows in batches, each closed once it holds `max_rows` rows or weighs `max_bytes` (`size_of` a row)."""
    batch: list = []
    total = 0
    for row in rows:
        batch.append(row)
        if max_bytes is not None:
            total += size_of(row)
        if (max_rows is not None and len(batch) >= max_rows) or (max_bytes is not None and total >= max_bytes):
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def group_by_size(items: Iterable, size_of: Callable[[Any], int], budget: int) -> Iterator[list]:
    """Consecutive items in groups whose sizes add up to at most `budget` (an item larger than the budget is
    a group of its own): how raw files or records are cut into shard jobs."""
    group: list = []
    total = 0
    for item in items:
        size = size_of(item)
        if group and total + size > budget:
            yield group
            group, total = [], 0
        group.append(item)
        total += size
    if group:
        yield group


def group_by_count(items: Sequence, count: int) -> list[Sequence]:
    """Consecutive items in groups of `count` (the last one shorter)."""
    return [items[start:start + count] for start in range(0, len(items), count)]
