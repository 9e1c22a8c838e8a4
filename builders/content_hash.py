"""A digest of rows, not of their Parquet encoding: two builds hash alike when their rows are alike.

The rows are hashed column by column as Arrow leaf streams (validity, lengths, values), each fed
incrementally, so the digest does not depend on how the rows were cut into tables, row groups or
parts, nor on the Parquet writer's options or version; only on the values and their order. The work
is vectorised (whole buffers per table, no Python per row) with xxh3-128, which hashes media bytes at
memory speed: the hash costs a few percent of a build at most.
"""
from __future__ import annotations

import functools
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

ALGORITHM = "xxh3_128"


class RowDigest:
    """Feed it tables of one schema in row order; `hexdigest()` names their rows."""

    def __init__(self):
        self._streams: dict[str, xxhash.xxh3_128] = {}
        self.rows = 0

    def update(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for field, column in zip(table.schema, table.columns):
            for chunk in column.chunks:
                self._feed(field.name, chunk)

    def hexdigest(self) -> str:
        total = xxhash.xxh3_128(str(self.rows).encode())
        for name, stream in self._streams.items():
            total.update(name.encode() + b"\0" + stream.digest())
        return total.hexdigest()

    def _stream(self, name: str) -> xxhash.xxh3_128:
        if name not in self._streams:
            self._streams[name] = xxhash.xxh3_128()
        return self._streams[name]

    def _feed(self, name: str, array: pa.Array) -> None:
        """Validity, then what the type holds; a null slot contributes its validity byte only."""
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else None
        self._stream(name + "/valid").update(valid.tobytes() if valid is not None else _all_valid(len(array)))
        kind = array.type
        if pa.types.is_null(kind):
            return
        if pa.types.is_struct(kind):
            for child_field, child in zip(kind, array.flatten()):
                self._feed(f"{name}.{child_field.name}", child)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            lengths = np.diff(array.offsets.to_numpy())   # a null list's values are not hashed: its length is 0
            if valid is not None:
                lengths[~valid] = 0
            self._stream(name + "/len").update(lengths.tobytes())
            self._feed(name + "[]", array.flatten())
        elif pa.types.is_fixed_size_list(kind):
            self._stream(name + "/len").update(_as_bytes(pc.list_value_length(array).fill_null(0)))
            self._feed(name + "[]", array.flatten())
        elif is_binary_like(kind):
            lengths = _value_lengths(array)
            if valid is not None and lengths[~valid].any():
                # a null slot spanning bytes (Arrow allows it): hashed as an empty value, so copy without them.
                # Readers leave null slots empty, so the copy (which fill_null makes slowly) is rarely needed.
                array = array.fill_null(pa.scalar("", kind))
                lengths = _value_lengths(array)
            self._stream(name + "/len").update(lengths.tobytes())
            self._stream(name).update(_value_bytes(array))
        elif pa.types.is_boolean(kind):
            self._stream(name).update(_as_bytes(array.fill_null(False)))
        else:  # fixed width: numbers, temporal types
            filled = array.fill_null(_zero(kind)) if array.null_count else array
            width = kind.bit_width // 8
            self._stream(name).update(memoryview(filled.buffers()[1])[filled.offset * width:
                                                                      (filled.offset + len(filled)) * width])


def combined(digests: list[str]) -> str:
    """One digest for a sequence of digests (a split from its shard jobs' digests, in order)."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def _all_valid(length: int) -> bytes:
    """The validity stream of `length` slots without a null (as `is_valid` makes it: a byte 1 each)."""
    return b"\x01" * length


@functools.lru_cache(maxsize=64)
def _zero(kind: pa.DataType) -> pa.Scalar:
    return pa.scalar(0).cast(kind)


def is_binary_like(kind: pa.DataType) -> bool:
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind))


def _as_bytes(array: pa.Array) -> bytes:
    return np.ascontiguousarray(array.to_numpy(zero_copy_only=False)).tobytes()


def value_offsets(array: pa.Array) -> np.ndarray:
    """The value offsets of a string or binary array's slots (slices respected): one more than its length."""
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    if not len(array):
        return np.zeros(1, np.int64 if large else np.int32)
    return np.frombuffer(array.buffers()[1], np.int64 if large else np.int32)[array.offset:array.offset + len(array) + 1]


def _value_lengths(array: pa.Array) -> np.ndarray:
    """Each slot's length in bytes, in the offsets' width (what pc.binary_length gives for a slot not null)."""
    return np.diff(value_offsets(array))


def _value_bytes(array: pa.Array) -> memoryview:
    """The concatenated values of a string or binary array (slices respected), without copying."""
    offsets = value_offsets(array)
    data = array.buffers()[2]
    if data is None or not len(array):
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]):int(offsets[-1])]
