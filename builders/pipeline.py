"""From a raw release to a Hub-ready folder: shard jobs, parallel execution, resume, card and report.

A shard job is (dataset, config, split, one raw shard) → Parquet parts + statistics. Jobs write into
OUT/.staging/ and drop a completion marker; a rerun reuses every job whose marker matches, so a killed
build resumes where it stopped. The last step renames the parts to `<config>/<split>-NNNNN-of-NNNNN.parquet`,
removes stale files, and writes build_report.json then README.md. README.md is written last and
removed first: a folder with a README is a complete build.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import functools
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pyarrow
from tqdm.auto import tqdm

from . import __version__, builder_class, cards
from .cardcheck import strictest_policy
from .errors import RawDataError, RecordLog, UsageError
from .parquet import TMP_SUFFIX, PartWriter

STAGING_DIR = ".staging"
REPORT_FILE = "build_report.json"
README_FILE = "README.md"
SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}


@dataclass(frozen=True)
class ShardJob:
    dataset: str
    config: str
    split: str
    index: int
    shard: Any
    data_dir: str
    on_error: str
    code_version: str

    @property
    def key(self) -> str:
        return f"{self.config}/{self.split}/{self.index:05d}"

    @property
    def fingerprint(self) -> str:
        text = repr((self.dataset, self.config, self.split, self.index, self.shard, self.on_error,
                     self.code_version, os.path.abspath(self.data_dir)))
        return hashlib.sha256(text.encode()).hexdigest()


def make_builder(dataset: str, config: str | None, data_dir, on_error: str = "raise"):
    """A builder instance for one config (None = the default config).

    `datasets` would reuse a `dataset_info.json` found in its cache for this builder, so builders
    made here get a private scratch cache: the features always come from the code.
    """
    cls = builder_class(dataset)
    return cls(config_name=config, data_dir=str(data_dir), on_error=on_error, cache_dir=_scratch_cache())


@functools.cache
def _scratch_cache() -> str:
    path = tempfile.mkdtemp(prefix="mmb-builder-cache-")
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    return path


# ---- one shard job ----------------------------------------------------------------------------------

def _job_dir(staging: Path, job: ShardJob) -> Path:
    return staging / job.config / job.split


def _marker(staging: Path, job: ShardJob) -> Path:
    return _job_dir(staging, job) / f"{job.index:05d}.done.json"


def completed_result(staging: Path, job: ShardJob) -> dict | None:
    """The stored result of a job finished by an earlier run, if it is still valid."""
    marker = _marker(staging, job)
    if not marker.is_file():
        return None
    result = json.loads(marker.read_text())
    parts_exist = all((_job_dir(staging, job) / part).is_file() for part in result["parts"])
    return result if result["fingerprint"] == job.fingerprint and parts_exist else None


def run_job(job: ShardJob, staging: Path) -> dict:
    """Build one shard into Parquet parts under the staging dir; return its statistics."""
    started = time.perf_counter()
    job_dir = _job_dir(staging, job)
    job_dir.mkdir(parents=True, exist_ok=True)
    for leftover in job_dir.glob(f"{job.index:05d}-*"):  # parts of an interrupted earlier attempt
        leftover.unlink()
    builder = make_builder(job.dataset, job.config, job.data_dir, job.on_error)
    log = RecordLog(job.on_error, job.split)
    writer = PartWriter(builder.info.features, job_dir, f"{job.index:05d}")
    try:
        for table in builder.shard_tables(job.shard, log):
            writer.write(table)
        parts = writer.close()
    except BaseException:
        writer.abort()
        raise
    result = {
        "key": job.key, "fingerprint": job.fingerprint,
        "rows": sum(p.rows for p in parts), "arrow_bytes": sum(p.arrow_bytes for p in parts),
        "parquet_bytes": sum(p.parquet_bytes for p in parts), "parts": [p.path.name for p in parts],
        "records_seen": log.seen, "counts": log.counts, "notices": log.notices,
        "skipped": [dict(s, file=s["file"] and builder.relative(s["file"])) for s in log.as_dicts()],
        "seconds": round(time.perf_counter() - started, 3),
    }
    _write_atomic(_marker(staging, job), json.dumps(result, indent=1))
    return result


# ---- the whole build --------------------------------------------------------------------------------

def select_configs(dataset: str, data_dir, requested: list[str] | None) -> tuple[list[str], list[str]]:
    """The configs to build and notices about the ones the raw data does not allow.

    Configs named explicitly must be buildable (else MissingRawDataError); by default every config
    whose raw parts are present is built and the others are reported with the files they need.
    """
    cls = builder_class(dataset)
    by_name = {c.name: c for c in cls.BUILDER_CONFIGS}
    unknown = [c for c in requested or [] if c not in by_name]
    if unknown:
        raise UsageError(f"unknown config(s) for {dataset}: {', '.join(unknown)}; "
                         f"available: {', '.join(by_name)}")
    probe = make_builder(dataset, None, data_dir)
    selected, notices = [], []
    for name in requested or list(by_name):
        missing = probe.missing_parts(by_name[name])
        if not missing:
            selected.append(name)
        elif requested:
            probe.check_raw(by_name[name])
        else:
            notices.append(f"config '{name}' not built: it needs " + "; ".join(missing))
    if not selected:
        probe.check_raw()  # the default config's missing files make the clearest message
    return selected, notices


def plan_jobs(dataset: str, data_dir, configs: list[str], on_error: str) -> tuple[list[ShardJob], list[dict], dict]:
    """Shard jobs for every config, the records rejected while listing splits, and the config metadata."""
    code_version = _code_version(dataset)
    jobs, rejected, meta = [], [], {}
    for config in configs:
        builder = make_builder(dataset, config, data_dir, on_error)
        builder.check_raw()
        log = RecordLog(on_error)
        shards = builder.split_shards(log)
        rejected += [dict(s, config=config, file=s["file"] and builder.relative(s["file"])) for s in log.as_dicts()]
        features, docs = builder.documented_features()
        meta[config] = {
            "description": builder.config.description or "",
            "redistribution": builder.config.redistribution or cards.load_card_metadata(dataset)["redistribution"],
            "features": features._to_yaml_list(),
            "fields": [{"path": d.path, "type": d.type, "doc": d.doc} for d in docs],
            "split_order": list(shards),
            "counts": log.counts, "notices": log.notices,
            "inputs": [str(p) for p in builder.input_files()],
        }
        for split, items in shards.items():
            jobs += [ShardJob(dataset, config, split, i, shard, str(data_dir), on_error, code_version)
                     for i, shard in enumerate(items)]
    return jobs, rejected, meta


def build(dataset: str, data_dir, output, configs: list[str] | None = None, num_proc: int = 1,
          on_error: str = "raise", engine: str = "local", repo_id: str | None = None,
          progress: bool = True, log=print) -> dict:
    """Build `dataset` from `data_dir` into the Hub-ready folder `output`; return the build report."""
    started = time.perf_counter()
    data_dir, output = Path(data_dir), Path(output)
    if engine != "local":
        raise UsageError(f"--engine {engine} is not available yet; use --engine local")
    selected, notices = select_configs(dataset, data_dir, configs)
    for notice in notices:
        log(notice)
    output.mkdir(parents=True, exist_ok=True)
    for marker_of_completion in (README_FILE, REPORT_FILE):  # an interrupted rebuild must not look complete
        (output / marker_of_completion).unlink(missing_ok=True)
    staging = output / STAGING_DIR

    jobs, rejected, config_meta = plan_jobs(dataset, data_dir, selected, on_error)
    planned = time.perf_counter()
    results = {job.key: r for job in jobs if (r := completed_result(staging, job)) is not None}
    if results:
        log(f"resuming: {len(results)} of {len(jobs)} shard jobs already complete")
    inputs = _run_jobs([j for j in jobs if j.key not in results], staging, num_proc, results, progress,
                       checksum_paths=sorted({p for m in config_meta.values() for p in m["inputs"]}),
                       data_dir=data_dir, total=len(jobs))
    report = _finalize(dataset, output, staging, jobs, results, rejected, config_meta, on_error,
                       repo_id or cards.suggested_repo_id(dataset), inputs)
    for notice in report["notices"]:
        log(notice)
    report["timings"] = {"planning_seconds": round(planned - started, 3),
                         "job_seconds": round(sum(r["seconds"] for r in results.values()), 3),
                         "wall_seconds": round(time.perf_counter() - started, 3)}
    write_outputs(output, report)
    shutil.rmtree(staging, ignore_errors=True)
    return report


def write_outputs(output: Path, report: dict) -> None:
    """build_report.json, then README.md (last, so that its presence means the folder is complete)."""
    _write_atomic(output / REPORT_FILE, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _write_atomic(output / README_FILE, cards.render_card(report))


def _run_jobs(jobs: list[ShardJob], staging: Path, num_proc: int, results: dict, progress: bool,
              checksum_paths: list[str], data_dir: Path, total: int) -> list[dict]:
    """Run the pending jobs (in a process pool when num_proc > 1) and checksum the inputs meanwhile."""
    def bar():
        return tqdm(total=total, initial=total - len(jobs), desc="building", unit="shard", disable=not progress)

    if num_proc <= 1 or len(jobs) <= 1:
        with bar() as shown:
            for job in jobs:
                results[job.key] = run_job(job, staging)
                shown.update()
        return input_checksums(checksum_paths, data_dir)
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    with concurrent.futures.ProcessPoolExecutor(min(num_proc, len(jobs)), mp_context=context) as pool:
        # submitting forks every worker, so no thread of ours (tqdm's monitor, the hashing) exists yet
        futures = {pool.submit(run_job, job, staging): job for job in jobs}
        with concurrent.futures.ThreadPoolExecutor(1) as hasher, bar() as shown:
            inputs = hasher.submit(input_checksums, checksum_paths, data_dir)
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future].key] = future.result()
                    shown.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            return inputs.result()


def _finalize(dataset, output: Path, staging: Path, jobs, results, rejected, config_meta, on_error,
              repo_id, inputs) -> dict:
    cls = builder_class(dataset)
    configs: dict[str, dict] = {}
    skipped = list(rejected)
    moves: list[tuple[Path, Path]] = []  # staged part -> final name
    notices = [f"{config}: {n}" for config, meta in config_meta.items() for n in meta["notices"]]
    for config, meta in config_meta.items():
        splits, empty = {}, {}
        for split in sorted(meta["split_order"], key=lambda s: (SPLIT_ORDER.get(s, 3), s)):
            split_jobs = sorted((j for j in jobs if j.config == config and j.split == split), key=lambda j: j.index)
            stats = [results[j.key] for j in split_jobs]
            parts = [(_job_dir(staging, j), part) for j, r in zip(split_jobs, stats) for part in r["parts"]]
            job_skips = [dict(s, config=config) for r in stats for s in r["skipped"]]
            planning_skips = [s for s in rejected if s["config"] == config and s["split"] == split]
            skipped += job_skips
            rows = sum(r["rows"] for r in stats)
            record_stats = {"records_read": sum(r["records_seen"] for r in stats) + len(planning_skips),
                            "records_skipped": len(job_skips) + len(planning_skips)}
            notices += [f"{config}: {n}" for r in stats for n in r["notices"]]
            if rows == 0:  # no file, so not in the card's configs; its record counts stay in the report
                empty[split] = record_stats
                continue
            names = [f"{split}-{i:05d}-of-{len(parts):05d}.parquet" for i in range(len(parts))]
            splits[split] = {"rows": rows, "arrow_bytes": sum(r["arrow_bytes"] for r in stats),
                             "parquet_bytes": sum(r["parquet_bytes"] for r in stats),
                             "files": [f"{config}/{n}" for n in names], **record_stats,
                             "counts": _summed(r["counts"] for r in stats)}
            moves += [(d / p, output / config / n) for (d, p), n in zip(parts, names)]
        if splits:
            configs[config] = {"description": meta["description"], "redistribution": meta["redistribution"],
                               "features": meta["features"], "fields": meta["fields"], "splits": splits,
                               "empty_splits": empty, "counts": meta["counts"]}
    if not configs:
        raise RawDataError(None, "no rows were written: every record was skipped or the splits are empty",
                           hint="check build_report.json of a run with --on-error skip for the reasons")
    default = cls.DEFAULT_CONFIG_NAME if cls.DEFAULT_CONFIG_NAME in configs else next(iter(configs))
    for name, config in configs.items():
        config["default"] = name == default
    _install_parts(output, configs, moves)
    return {
        "dataset": dataset, "builder": f"{cls.__module__}.{cls.__name__} {cls.VERSION or ''}".strip(),
        "repo_id": repo_id, "on_error": on_error,
        "redistribution": strictest_policy(c["redistribution"] for c in configs.values()),
        "configs": configs, "skipped": skipped, "notices": list(dict.fromkeys(notices)), "inputs": inputs,
        "tools": tool_versions(),
    }


def _summed(tallies) -> dict[str, int]:
    total: dict[str, int] = {}
    for tally in tallies:
        for what, n in tally.items():
            total[what] = total.get(what, 0) + n
    return total


def _install_parts(output: Path, configs: dict, moves: list[tuple[Path, Path]]) -> None:
    """Move the staged parts to their final names and remove Parquet files no longer produced."""
    for name in configs:
        (output / name).mkdir(exist_ok=True)
    for source, target in moves:
        os.replace(source, target)
    keep = {target.resolve() for _, target in moves}
    for directory in output.iterdir():
        if directory.is_dir() and directory.name != STAGING_DIR:
            for stale in list(directory.glob("*.parquet")) + list(directory.glob("*" + TMP_SUFFIX)):
                if stale.resolve() not in keep:
                    stale.unlink()
            if directory.name not in configs and not any(directory.iterdir()):
                directory.rmdir()


def input_checksums(paths: list[str], data_dir: Path) -> list[dict]:
    """sha256 of every raw input file; for folders, file count, bytes and a digest of the listing."""
    items = []
    for path in map(Path, paths):
        try:
            shown = path.resolve().relative_to(data_dir.resolve()).as_posix()
        except ValueError:
            shown = path.name
        if path.is_dir():
            listing = hashlib.sha256()
            count = total = 0
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                size = file.stat().st_size
                listing.update(f"{file.relative_to(path).as_posix()}\t{size}\n".encode())
                count, total = count + 1, total + size
            items.append({"path": shown + "/", "bytes": total, "files": count, "listing_sha256": listing.hexdigest()})
        elif path.is_file():
            items.append({"path": shown, "bytes": path.stat().st_size, "sha256": _sha256_file(path)})
    return items


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * 2**20):
            digest.update(chunk)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    return {"multimodal-builders": __version__, "python": platform.python_version(),
            "datasets": datasets.__version__, "pyarrow": pyarrow.__version__,
            "huggingface_hub": huggingface_hub.__version__}


def _code_version(dataset: str) -> str:
    """Changes whenever the package or the dataset module changes, so stale staged parts are rebuilt."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    module = Path(sys.modules[builder_class(dataset).__module__].__file__)
    for source in sorted({*package.glob("*.py"), module}):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
