"""The benchmark's synthetic raw trees: made once, in their own process, and kept under the work folder.

usage: python -c "import sys; from bench.trees import main; main(*sys.argv[1:])" NAME RECORDS OUT [OPTIONS CHUNK]
(prints one JSON object: records, bytes, seconds, CPU seconds, peak RSS; bench.sample_tree runs it)

A tree is the sample generator's tree (`builders.samples`, the hand-written records) with RECORDS scaled records
added (TREES[NAME]: what a record is, and the generator's options). The generators keep everything they write in
memory (they return the truth the tests compare with), so a tree of millions of small records would not fit:
for those, the generator writes a first chunk and this module adds the rest in the same format, a chunk at a
time (`grow_internvid`: more lines from the generator's own line maker, other seeds; `grow_mint1t`: the
generator's scaled documents laid out as the release lays them out, ~147k documents per Parquet file, each with
its own URL). Generator internals the bench does not need are switched off here, in this process only (PATCHES:
MuSe-CaR's expected rows and its unbounded cache of every video's bytes, MovieQA's questions per movie).
"""
from __future__ import annotations

import functools
import json
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Tree:
    records: int                              # scaled records at --size 1
    what: str                                 # what a record is, for the docs and the table
    options: dict = field(default_factory=dict)  # the generator's own keywords
    chunk: int | None = None                  # the generator writes at most this many; grow() adds the rest


TREES = {
    "flickr30k_entities": Tree(47_675, "images of ~135 kB (1.5 times the release's 31,783: ~6.6 GB; the release's "
                                       "own count built in under 20 s of CPU, start-up 5% of it)"),
    "movieqa": Tree(2_000_000, "questions, 1,000 per movie over 2,000 movies with full story files (the release: "
                               "14,944 questions over 408 movies); the qa config reads qa.json and movies.json",
                    {"scaled_clips": False}),
    "musecar": Tree(3_000, "83 s videos of 4 segments, audio cut from a 2.6 MB WAV (the release: 303 videos, ~40 h; "
                           "1,000 built in ~11 s of CPU once segments were cut as WAV, not FLAC)"),
    "internvid": Tree(16_000_000, "caption lines of ~236 bytes (1.5 times InternVid-10M-FLT's ≈10.65M, which "
                                  "built in 22.5 s of CPU, start-up 4.8% of it)",
                      {"scaled_videos": False}, chunk=250_000),
    "mint1t": Tree(1_470_000, "HTML documents of ~9 kB of text and 3 image URLs, in Parquet files of 147,000 "
                              "(the release: 905M documents in 6,159 files)", {"scaled_subsets": ("html",)},
                   chunk=20_000),
    "bigdocs": Tree(30_000, "ArxivOCR pages (1000×1294 PNG, ~290 kB) in files of 100 (17,000 until its build "
                            "took 16 s of CPU, start-up 6.4% of it)"),
    "nmb_plus": Tree(40_900, "articles of ~4 kB with a ~160 kB photo (the release's 40,900; ~6.5 GB)"),
}
"""The scaled records of each dataset's full tree at --size 1. Chosen so that each default build takes about
30 s of CPU or more on the development machine (start-up, ~1.3 s, under 5%), has at least 8 shard jobs (the
--num-proc 2 comparison), and that its tenth (the memory comparison's small tree) fills several batches."""

EXTRA_TREES = {
    ("mint1t", "pdf-CC-MAIN-2024-10"): Tree(2_000, "PDF documents (one multi-frame TIFF each, ~1.8 MB) in tars of 85",
                            {"scaled_subsets": ("pdf",)}),
}
"""Trees of another config, built once for the projections' rates only (no limit, usual way or memory). MINT-1T's
PDF tree was 300 documents, a 3-4 s build of which start-up was a second: its rate moved 4.8-9.4 s per GB between
runs, and the PDF dumps are the largest CPU-hours of the projections."""

MINT1T_DOCS_PER_FILE = 147_000
"""data_v1_1 holds 905M documents in 6,159 files: ~146,940 a file (mint1t_bigdocs_nmbplus.md §1.3.1)."""


def patch_generators(name: str) -> None:
    """Generator internals the bench has no use for, switched off in this process."""
    if name == "musecar":
        import builders.samples.musecar as musecar

        musecar.expected_rows = lambda tree, config: None  # every config's rows, media bytes included: GBs
        musecar.mp4_bytes = functools.lru_cache(maxsize=2)(musecar.mp4_bytes.__wrapped__)  # was unbounded
    if name == "movieqa":
        import builders.samples.movieqa as movieqa

        movieqa.QUESTIONS_PER_MOVIE = 1000  # 1,000 movies' story files instead of 80,000


def make(name: str, records: int, out: Path, options: dict, chunk: int | None) -> None:
    from builders.samples import make_sample

    patch_generators(name)
    first = min(records, chunk) if chunk else records
    make_sample(name, out, scale=first, **options)
    if name == "internvid":
        grow_internvid(out, records, first)
    elif name == "mint1t" and "html" in options.get("scaled_subsets", ("html",)):
        grow_mint1t(out, records, first)


def grow_internvid(out: Path, records: int, written: int, chunk: int = 250_000) -> None:
    """Append records - written more lines to the 10M-FLT file, `chunk` at a time (other seeds, other lines)."""
    from builders.samples.internvid import CAPTION_FILES, _scaled_lines

    path, seed = out / CAPTION_FILES["10m_flt"], 1000
    with open(path, "a", encoding="utf-8") as f:  # the file has no final newline, as in the release
        while written < records:
            count = min(chunk, records - written)
            f.write("\n" + "\n".join(line.json_line() for line in _scaled_lines(count, seed=seed)))
            written, seed = written + count, seed + 1


def grow_mint1t(out: Path, records: int, written: int) -> None:
    """The generator's scaled documents (one file of `written`) laid out as `records` documents in files of
    MINT1T_DOCS_PER_FILE, `shard_100_part_NNN.parquet`, repeating the written ones with URLs of their own;
    row groups of 1,000 documents, as the generator writes scaled files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = out / "MINT-1T-HTML" / "data_v1_1"
    scaled = folder / "shard_100_part_000.parquet"
    if records <= MINT1T_DOCS_PER_FILE and records == written:
        return
    table = pq.read_table(scaled)
    scaled.unlink()
    position, part = 0, 0
    while position < records:
        count = min(MINT1T_DOCS_PER_FILE, records - position)
        with pq.ParquetWriter(folder / f"shard_100_part_{part:03d}.parquet", table.schema) as writer:
            done = 0
            while done < count:
                piece = table.slice(0, min(table.num_rows, count - done))
                numbers = range(position + done, position + done + piece.num_rows)
                urls = pa.array([f"https://synthetic.example.com/{n}" for n in numbers], pa.string())
                writer.write_table(piece.set_column(piece.schema.get_field_index("url"), "url", urls),
                                   row_group_size=1000)
                done += piece.num_rows
        position, part = position + count, part + 1


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(name: str, records: str, out: str, options: str = "{}", chunk: str = "0") -> None:
    out, records = Path(out), int(records)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(options).items()}
    shutil.rmtree(out, ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    make(name, records, out, options, int(chunk) or None)
    print(json.dumps({"records": records, "bytes": tree_bytes(out), "seconds": time.perf_counter() - started,
                      "cpu_seconds": time.process_time() - cpu,
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))

