"""The shard, batch and record mechanics every builder shares (builders/core.py, builders/errors.py)."""
from __future__ import annotations

import gc
import io
import random

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import core
from builders.core import batched, group_by_count, group_by_size
from builders.errors import RawDataError, RecordLog
from builders.parquet import arrow_bytes, batch_reader


def test_batches_close_at_a_row_count_or_a_weight():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([5, 1, 1, 9, 2], None, 6, size_of=lambda n: n)) == [[5, 1], [1, 9], [2]]
    assert list(batched([5, 1, 1, 9, 2], 2, 100, size_of=lambda n: n)) == [[5, 1], [1, 9], [2]]
    assert list(batched([], 3)) == []


@given(st.lists(st.integers(0, 50)), st.one_of(st.none(), st.integers(1, 5)), st.integers(1, 60))
def test_batches_keep_every_row_in_order_and_close_as_soon_as_full(rows, max_rows, max_bytes):
    batches = list(batched(rows, max_rows, max_bytes, size_of=lambda n: n))
    assert [row for batch in batches for row in batch] == rows
    for batch in batches[:-1]:  # every batch but the last closed because it was full
        assert (max_rows is not None and len(batch) == max_rows) or sum(batch) >= max_bytes
        assert (max_rows is None or len(batch[:-1]) < max_rows) and sum(batch[:-1]) < max_bytes


def test_groups_by_size_never_exceed_the_budget_unless_one_item_does():
    assert list(group_by_size([3, 4, 2, 10, 1], lambda n: n, budget=7)) == [[3, 4], [2], [10], [1]]
    assert list(group_by_size([], len, 5)) == []
    assert group_by_count(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_convert_guards_one_record_and_converted_a_stream():
    log = RecordLog("skip", "train")

    def parse(text: str) -> int:
        if not text.isdigit():
            raise RawDataError(None, f"not a number: {text!r}")
        return int(text)

    assert log.convert("a.txt", "1", parse, "41") == 41
    assert log.convert("a.txt", "2", parse, "x") is None
    assert list(log.converted(["7", "y", "8"], lambda text: ("b.txt", text), parse)) == [7, 8]
    assert (log.seen, log.written) == (5, 3)
    assert [(s.file, s.record, s.reason) for s in log.skipped] == [("a.txt", "2", "not a number: 'x'"),
                                                                    ("b.txt", "y", "not a number: 'y'")]
    with pytest.raises(RawDataError, match=r"c.txt \(record 3\): not a number"):
        RecordLog("raise").convert("c.txt", "3", parse, "z")


def test_an_error_in_the_consumer_is_not_taken_for_the_records():
    log = RecordLog("skip")
    stream = log.converted(["1", "2"], lambda text: ("a.txt", text), int)
    assert next(stream) == 1
    with pytest.raises(RawDataError):
        stream.throw(RawDataError(None, "the consumer's own problem"))
    assert log.skipped == []


def test_records_counted_in_bulk():
    log = RecordLog("skip")
    log.add_records(1000)
    log.reject(RawDataError("c.jsonl", "bad line", line=3))
    assert (log.seen, log.written) == (1000, 999)


def test_a_record_bad_outright_is_counted_and_rejected():
    log = RecordLog("skip", "train")
    log.reject_record(RawDataError(None, "not JSON", line=4), "c.jsonl", "line 4")
    assert (log.seen, log.written) == (1, 0)
    assert [(s.file, s.record, s.line, s.reason) for s in log.skipped] == [("c.jsonl", "line 4", 4, "not JSON")]
    with pytest.raises(RawDataError, match=r"d.jsonl:2: not JSON"):
        RecordLog("raise").reject_record(RawDataError("d.jsonl", "not JSON", line=2))


MEDIA = datasets.Features({"name": datasets.Value("string"), "image": datasets.Image(),
                           "audio": datasets.Audio(decode=False), "scores": datasets.List(datasets.Value("int32"))})
CELL = st.one_of(st.none(), st.fixed_dictionaries({"bytes": st.one_of(st.none(), st.binary(max_size=20)),
                                                   "path": st.one_of(st.none(), st.text(max_size=5))}),
                 st.fixed_dictionaries({"bytes": st.binary(max_size=20)}))
MEDIA_ROW = st.fixed_dictionaries({"name": st.one_of(st.none(), st.text(max_size=5)), "image": CELL},
                                  optional={"audio": CELL, "scores": st.lists(st.integers(-5, 5), max_size=3)})


@settings(max_examples=200, deadline=None)
@given(st.lists(MEDIA_ROW, max_size=6))
def test_tables_of_media_rows_are_the_ones_from_pylist_makes(rows):
    """table_from_rows puts media columns together itself (one join of their bytes): the same values, buffers,
    weight (`nbytes`, which `arrow_bytes` is for such tables, decides row groups and parts) and Parquet bytes as
    pa.Table.from_pylist, nulls and missing keys included."""
    schema = MEDIA.arrow_schema
    made, reference = core.table_from_rows(rows, schema), pa.Table.from_pylist(rows, schema=schema)
    assert made.equals(reference) and made.nbytes == reference.nbytes
    for column, expected in zip(made.columns, reference.columns):
        assert [b and b.size for b in column.chunk(0).buffers()] == [b and b.size for b in expected.chunk(0).buffers()]
    assert parquet_bytes(made) == parquet_bytes(reference)


WEIGHED = pa.schema({"text": pa.string(), "flag": pa.bool_(), "score": pa.float32(), "when": pa.timestamp("ms"),
                     "words": pa.list_(pa.large_string()), "box": pa.list_(pa.int32(), 4),
                     "parts": pa.list_(pa.struct({"bytes": pa.binary(), "seen": pa.bool_(),
                                                  "points": pa.list_(pa.int16())})),
                     "nothing": pa.null()})
WEIGHED_ROW = st.fixed_dictionaries({
    "text": st.one_of(st.none(), st.text(max_size=4)), "flag": st.one_of(st.none(), st.booleans()),
    "score": st.one_of(st.none(), st.floats(width=32, allow_nan=False)),
    "when": st.one_of(st.none(), st.integers(0, 2**40)),
    "words": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=3)),
    "box": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(-9, 9)), min_size=4, max_size=4)),
    "parts": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.fixed_dictionaries({
        "bytes": st.one_of(st.none(), st.binary(max_size=6)), "seen": st.one_of(st.none(), st.booleans()),
        "points": st.one_of(st.none(), st.lists(st.integers(-9, 9), max_size=3))})), max_size=3))})


@settings(max_examples=300, deadline=None)
@given(st.lists(WEIGHED_ROW, max_size=12), st.lists(st.integers(0, 12), max_size=4))
def test_a_table_weighs_its_nbytes_as_from_pylist_makes_it_however_it_is_chunked(rows, cuts):
    """`arrow_bytes` (what parts and row groups are cut by) is `nbytes` of the one-chunk table from_pylist makes,
    and the same for the same rows in slices of it put together (MINT-1T-HTML's column-wise batches: `nbytes`
    would count each slice's leading bitmap bits), or with a bitmap where there is no null."""
    reference = pa.Table.from_pylist(rows, schema=WEIGHED)
    assert arrow_bytes(reference) == reference.nbytes
    edges = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cuts)})
    pieces = pa.concat_tables([reference.slice(start, stop - start) for start, stop in zip(edges, edges[1:])]
                              or [reference])
    assert pieces.equals(reference) and arrow_bytes(pieces) == reference.nbytes
    text = reference.column("text").chunk(0)
    if rows and not text.null_count:   # the same strings with a bitmap saying that none is null
        bitmapped = pa.Array.from_buffers(pa.string(), len(text), [pa.py_buffer(b"\xff" * len(text)),
                                                                   *text.buffers()[1:]])
        assert bitmapped.buffers()[0] is not None and bitmapped.nbytes > text.nbytes
        assert arrow_bytes(reference.set_column(0, "text", bitmapped)) == reference.nbytes


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_inside_and_left_as_it_was_after(enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with core.collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
        with pytest.raises(ValueError), core.collector_paused():
            raise ValueError("a parser's error")
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()


def test_a_batch_reader_holds_the_row_groups_it_reads_not_the_whole_file(tmp_path):
    """pyarrow's default (pre_buffer) reads every column chunk `iter_batches` will need and keeps them until the
    reader is done: a release's 500 MB table file would be held whole by every shard job reading it."""
    path = tmp_path / "texts.parquet"
    texts = [random.Random(i).randbytes(5_000).hex() for i in range(2_000)]  # 20 MB that no encoding shrinks
    pq.write_table(pa.table({"text": texts}), path, row_group_size=100)

    def most_arrow_bytes_held(parquet: pq.ParquetFile) -> int:
        gc.collect()
        before, most, rows = pa.total_allocated_bytes(), 0, []
        for batch in parquet.iter_batches(batch_size=50):
            most = max(most, pa.total_allocated_bytes() - before)
            rows += batch.column("text").to_pylist()[:1]
        assert rows == texts[::50]
        return most

    assert most_arrow_bytes_held(pq.ParquetFile(path)) > 15 * 10**6  # the whole file
    assert most_arrow_bytes_held(batch_reader(path)) < 4 * 10**6  # a row group (1 MB) and a batch
    assert sum(len(b) for b in batch_reader(path).iter_batches(batch_size=64)) == 2_000


def test_parts_dictionary_encode_the_columns_whose_values_repeat_and_no_other(tmp_path):
    """`datasets` dictionary-encodes every non-media column; a part here does so only where the values repeat
    (a dictionary of distinct values costs CPU and bytes), judging by its first table. Nested leaves are judged
    by their own values, and a column too short to judge keeps `datasets`' choice."""
    import fsspec

    from builders.parquet import PartWriter

    features = datasets.Features({
        "video_id": datasets.Value("string"), "caption": datasets.Value("string"),
        "score": datasets.Value("float64"),
        "boxes": datasets.List({"label": datasets.Value("string"), "x": datasets.Value("int32")}),
        "image": datasets.Image()})
    rows = 1_000
    table = pa.table({
        "video_id": [f"v{n % 10}" for n in range(rows)],  # 10 distinct in 1,000
        "caption": [f"caption {n}" for n in range(rows)],
        "score": [n / 7 for n in range(rows)],
        "boxes": [[{"label": "dog" if n % 2 else "cat", "x": n * 10 + k} for k in range(3)] for n in range(rows)],
        "image": [{"bytes": b"\x89PNG%d" % n, "path": None} for n in range(rows)]}, schema=features.arrow_schema)

    def encodings(first: pa.Table, *more: pa.Table) -> dict[str, bool]:
        directory = tmp_path / f"parts{len(list(tmp_path.iterdir()))}"
        writer = PartWriter(features, fsspec.filesystem("file"), str(directory), "train")
        for piece in (first, *more):
            writer.write(piece)
        [part] = writer.close()
        group = pq.ParquetFile(part.path).metadata.row_group(0)
        return {group.column(c).path_in_schema: "RLE_DICTIONARY" in group.column(c).encodings
                for c in range(group.num_columns)}

    assert encodings(table) == {"video_id": True, "caption": False, "score": False, "boxes.list.element.label": True,
                                "boxes.list.element.x": False, "image.bytes": False, "image.path": False}
    # 30 rows (90 boxes) are too few to judge: every non-media column as `datasets` writes it, whatever follows
    assert encodings(table.slice(0, 30), table.slice(30)) == {
        "video_id": True, "caption": True, "score": True, "boxes.list.element.label": True,
        "boxes.list.element.x": True, "image.bytes": False, "image.path": False}
    # the rows read back as written
    assert pq.read_table(next((tmp_path / "parts0").glob("*.parquet"))).to_pylist()[7] == table.slice(7, 1).to_pylist()[0]
