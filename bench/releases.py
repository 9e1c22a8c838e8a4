"""The real releases' published sizes, and the projection of a full build from the bench's measured rates.

Every number below names where it comes from: the team's format notes (/work/shared/formats/<file>.md, section)
and the Hub listings transcribed in /work/shared/realdata/layouts/ (with their revision and evidence page in
layouts/SOURCES.md). [V] verified on the release or its first-party pages, [T] measured by a third party on the
real release, [D] derived from third-party code or reports, as the notes mark them. A size nobody published is
None: its projection is left out rather than guessed.

The projection (`project`): the bench measures, for a dataset's build, the CPU seconds net of start-up (the
build's CPU minus one Python start with the build's imports, paid once per worker at full scale) per record
and per raw byte of its tree. A release of R records and B bytes then takes R x (CPU per record) or
B x (CPU per byte). The two agree when the synthetic records are as large as the real ones; where they differ,
a build whose cost follows the bytes (media copied verbatim) is better predicted by bytes, one whose cost follows
the records (per-record parsing) by records: both are printed, and each release part names its `basis`, the
one its CPU-hours and wall time use (the other one when its basis has no published size). For instance MINT-1T
HTML's synthetic documents carry ~9 kB of repetitive text that compresses to ~0.5 kB of Parquet, where the
release's average ~3.3 kB of text takes ~3.2 kB: per byte of Parquet the projection would be six times too high.
Wall time on N cores = CPU / min(N, shard jobs of the release): ideal scaling over the release's shard jobs;
the measured --num-proc 2 efficiency is printed beside it, and reading and writing bandwidth is not modelled
(docs/SCALING.md adds it: media builds are network- or storage-bound on a cluster).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FORMATS = "/work/shared/formats"
LAYOUTS = "/work/shared/realdata/layouts"
MIB = 2**20


@dataclass(frozen=True)
class Release:
    part: str                 # what is projected: a config, a subset, a dump
    records: int | None       # in the dataset's unit (UNITS)
    size: float | None        # bytes (or, for MuSe-CaR, seconds of audio: SIZE_UNITS)
    shard_jobs: int | None    # how many shard jobs the builder cuts the release into (None: not known)
    source: str               # where records, size and jobs come from
    basis: str = "records"    # what the build's cost follows: "records" (parsing) or "size" (media copied)
    measured: str = ""        # the config whose rates are used when it is not the dataset's default


UNITS = {"flickr30k_entities": "images", "movieqa": "questions", "musecar": "videos", "internvid": "lines",
         "mint1t": "documents", "bigdocs": "pages", "nmb_plus": "articles"}
SIZE_UNITS = {"musecar": "audio s"}  # the others: bytes of the raw files the config reads

RELEASES: dict[str, list[Release]] = {
    "flickr30k_entities": [
        Release("entities: 31,783 images + annotations.zip", 31_783, 4.39e9 + 29_284_070, 11 + 1 + 1,
                f"{FORMATS}/flickr30k_entities_movieqa.md §1.1 (31,783 images [V]), §1.6 (flickr30k-images.zip "
                "4.39 GB on nlphuji/flickr30k [T]), §2.1 (annotations.zip 29,284,070 B [T]); shard jobs: train "
                "29,783 images ≈ 4.1 GB in groups of SHARD_BYTES 400 MB = 11, val 1, test 1", basis="size"),
    ],
    "movieqa": [
        Release("qa: 14,944 questions", 14_944, None, 1 + 1 + 1,
                f"{FORMATS}/flickr30k_entities_movieqa.md §3.5 (sizes table: 9,848 / 1,958 / 3,138 = 14,944 "
                "QAs, confirmed by the paper); qa.json's size is not published (only that it is over 4 MiB, "
                "realdata/SOURCES.md §2); shard jobs: QA_QUESTIONS_PER_SHARD 20,000 per split = 1 + 1 + 1"),
    ],
    "musecar": [
        Release("topic: 291 videos, ~40 h", 291, 40 * 3600, None,
                f"{FORMATS}/musecar_internvid.md §1.1 (~40 h, MuSe 2021 call for papers [V]; 303 ids, 291 "
                "transcribed videos [V]); /work/shared/realdata/SOURCES.md §MuSe-CaR quirks (c2_muse_topic: 291 "
                "label folders); the audio files' bytes are not published, so neither is the shard-job count",
                basis="size"),
    ],
    "internvid": [
        Release("10m_flt: InternVid-10M-flt.jsonl", 10_650_000, 2_322_969_831, math.ceil(2_322_969_831 / (256 * MIB)),
                f"{FORMATS}/musecar_internvid.md §2.2 (≈10.65M rows; LFS size 2,322,969,831 B of a re-upload of "
                "the same file [V]); shard jobs: 256 MiB byte ranges (SHARD_BYTES)"),
        Release("10m_div: InternVid-10M-DIV.jsonl", 10_647_458, None, None,
                f"{FORMATS}/musecar_internvid.md §2.2 (div_sampling.py draws exactly 10,647,458 [V]; size not "
                "published)"),
        Release("aes_18m: InternVid-18M-aes.jsonl", 18_000_000, None, None,
                f"{FORMATS}/musecar_internvid.md §2.2 (≈18M lines [V issue #76]; size not published)"),
        Release("full: InternVid-full.jsonl", 230_000_000, 45.6e9, math.ceil(45.6e9 / (256 * MIB)),
                f"{FORMATS}/musecar_internvid.md §2.2 (≈230M rows, 45.6 GB, OpenGVLab/InternVid-Full card [V]; "
                "§2.1: the paper's 234M clips); shard jobs: 256 MiB byte ranges"),
    ],
    "mint1t": [
        Release("html: data_v1_1", 905_000_000, 2.89e12, 6_159,
                f"{FORMATS}/mint1t_bigdocs_nmbplus.md §1.3.1 (905M documents after the 8/8/24 update [V card]; "
                "data_v1_1: 6,159 Parquet files, ~2.89 TB, measured through the Hub's tree API by a downstream "
                "user [D]; a downstream count of data_v1_1 gives ~850M records [D]); shard jobs: one per file"),
        *[Release(f"pdf-{dump}", docs, docs * 9.9e9 / 6_818, math.ceil(docs / 85),
                  f"{FORMATS}/mint1t_bigdocs_nmbplus.md §1.2 (Hub viewer row estimate for the dump [V]); bytes "
                  "derived at 9.9 GB per 6,818 documents and shard jobs at ~85 documents per tar (NeMo Curator "
                  "benchmark on 80 real PDF tars, §1.4.1 [D])", basis="size", measured="pdf-CC-MAIN-2024-10")
          for dump, docs in (("CC-MAIN-2024-10", 5_070_000), ("CC-MAIN-2023-50", 2_830_000),
                             ("CC-MAIN-2023-23", 2_820_000), ("CC-MAIN-2023-14", 2_130_000))],
    ],
    "bigdocs": [
        Release("BigDocs-7.5M (all subsets, by ArxivOCR's rate)", 7_500_000, None, None,
                f"{FORMATS}/mint1t_bigdocs_nmbplus.md §2.1 (7.5M documents [V]); the subsets' sizes are not all "
                f"listed ({LAYOUTS}/bigdocs.txt has ArxivTableCap, TextOCR, WikiTQ, TabFact, pubtables-1m; "
                "ArxivOCR ~1,127 files [D], sizes unknown). An upper bound: six of the nine subsets carry an "
                "img_id instead of image bytes", basis="size"),
        Release("BigDocs-Bench (7 task folders, by ArxivOCR's per-byte rate)", None, 9.56e9, None,
                f"{LAYOUTS}/bigdocs.txt, ServiceNow/BigDocs-Bench root at d4100e5 (9.56 GB [V page]); records: the "
                "task table of mint1t_bigdocs_nmbplus.md §2.3 has no count for GUI2BBox", basis="size"),
    ],
    "nmb_plus": [
        Release("current: dataset_cleaned.parquet + Zenodo images", 40_900, None, math.ceil(40_900 / 1000),
                f"{FORMATS}/mint1t_bigdocs_nmbplus.md §3.1 (Hub viewer: 40.9K rows after the Feb-18-2025 update "
                "[V]); the Zenodo images' size is not in the notes; shard jobs: SHARD_ROWS 1,000 articles"),
    ],
}

PROJECTION_CORES = (2, 32)
"""Cores the wall time is projected for: this development machine, and one 32-core node."""


def project(release: Release, cpu_per_record: float | None, cpu_per_size: float | None) -> dict:
    """CPU-hours of a full build of `release` by records and by size, and its wall time on PROJECTION_CORES
    (from the CPU-hours of its basis). A rate of None (a build too small to measure) projects nothing."""
    by_records = release.records * cpu_per_record / 3600 if release.records and cpu_per_record else None
    by_size = release.size * cpu_per_size / 3600 if release.size and cpu_per_size else None
    cpu_hours = (by_size if release.basis == "size" else by_records)
    if cpu_hours is None:
        cpu_hours = by_records if release.basis == "size" else by_size
    wall = {}
    for cores in PROJECTION_CORES:
        usable = min(cores, release.shard_jobs) if release.shard_jobs else cores
        wall[str(cores)] = cpu_hours / usable if cpu_hours is not None else None
    return {"part": release.part, "records": release.records, "size": release.size,
            "shard_jobs": release.shard_jobs, "source": release.source, "basis": release.basis,
            "measured_config": release.measured or None,
            "cpu_hours_by_records": by_records, "cpu_hours_by_size": by_size, "cpu_hours": cpu_hours,
            "wall_hours": wall}


def hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1 / 60:
        return f"{value * 3600:.0f} s"
    if value < 1:
        return f"{value * 60:.0f} min"
    return f"{value:,.1f} h"
