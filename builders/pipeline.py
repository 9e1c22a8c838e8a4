"""From a raw release to a Hub-ready folder: shard jobs, parallel execution, resume, card and report.

A shard job is (dataset, config, split, one raw shard) → Parquet parts + statistics. The output is any
fsspec URL (a local folder, `file://`, `memory://`, `s3://...` with storage options). Jobs write into
OUT/.staging/ and then drop a completion marker: a part without its marker is not done, and a rerun
reuses every job whose marker matches, so a build that was killed or lost a worker resumes where it
stopped, whichever engine (`builders.engines`) ran it. The last step, in this process, gives the parts
their names `<config>/<split>-NNNNN-of-NNNNN.parquet` (a hard link on a local disk, a server-side copy on
an object store), removes stale files, writes build_report.json then README.md, and deletes the
staging area. README.md is removed first and written last, in one write (one PUT on an object store,
which is all-or-nothing and seen at once by every reader): its presence means the folder is complete.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import functools
import hashlib
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any

import datasets
import fsspec
import huggingface_hub
import pyarrow
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from tqdm.auto import tqdm

from . import REGISTRY, __version__, builder_class, cards, content_hash, coverage, exclusions, viewer
from .cardcheck import strictest_policy
from .engines import make_engine
from .errors import RawDataError, RecordLog, UsageError
from .outputs import (CROISSANT_FILE, README_FILE, REPORT_FILE, STAGING_DIR, report_text,  # noqa: F401 (names of this module's API)
                      split_sort_key, write_atomic)
from .parquet import HashingFile, PartWriter

TMP_SUFFIX = ".tmp"
MAX_FOLDER_ENTRIES = 10_000
"""The Hub refuses more entries than this in one folder: a config with more parts uses sub-folders."""
PARTS_PER_SUBFOLDER = 1_000
CONTENT_HASH_DOC = (f"each split's content_hash is the sha256 of its shard jobs' {content_hash.ALGORITHM} row "
                    "digests in order; a row digest covers the column values, not their Parquet encoding")
INLINE_STATE_BYTES = 64 * 2**10
"""Planning-time state up to this size travels inside each job description; larger state is written
once to the staging area and read once per worker process."""


@dataclass(frozen=True)
class Target:
    """Where a build writes: an fsspec URL and the options of its filesystem (credentials, endpoint)."""

    url: str
    storage_options: dict = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, output, storage_options: dict | None = None) -> "Target":
        """The target of a path or URL, made absolute: jobs may run with another working directory."""
        fs, root = fsspec.core.url_to_fs(os.fspath(output), **(storage_options or {}))
        return cls(fs.unstrip_protocol(root), dict(storage_options or {}))

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.core.url_to_fs(self.url, **self.storage_options)[0]

    @property
    def root(self) -> str:
        return fsspec.core.url_to_fs(self.url, **self.storage_options)[1]

    @property
    def staging(self) -> str:
        return f"{self.root}/{STAGING_DIR}"


@dataclass(frozen=True)
class SharedState:
    """What a config's planning learnt that its shard jobs need (`MultimodalBuilder.shared_state`):
    the pickle itself when small, else the name of its file in the staging area."""

    digest: str
    inline: bytes | None = None
    file: str | None = None


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
    state: SharedState | None = None
    exclusions: tuple = ()  # (exclusions.Exclusion, ...): the records takedown lists name

    @property
    def key(self) -> str:
        return f"{self.config}/{self.split}/{self.index:05d}"

    @property
    def fingerprint(self) -> str:
        text = repr((self.dataset, self.config, self.split, self.index, self.shard, self.on_error,
                     self.code_version, os.path.abspath(self.data_dir), self.state and self.state.digest,
                     self.exclusions and exclusions.digest(self.exclusions)))
        return hashlib.sha256(text.encode()).hexdigest()


def make_builder(dataset: str, config: str | None, data_dir, on_error: str = "raise"):
    """A builder instance for one config (None = the default config).

    `datasets` would reuse a `dataset_info.json` found in its cache for this builder, so builders
    made here get a private scratch cache: the features always come from the code.
    """
    cls = builder_class(dataset)
    return cls(config_name=config, data_dir=str(data_dir), on_error=on_error, cache_dir=_scratch_cache())


SCRATCH_PREFIX = "mmb-builder-cache-"


@functools.cache
def _scratch_cache() -> str:
    """This process's scratch cache, removed at exit; those of processes that were killed (no exit handler
    runs on SIGKILL) are removed by the next process that makes one."""
    _remove_orphaned_caches(Path(tempfile.gettempdir()))
    owner = os.getpid()
    path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{owner}-")
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    return path


def _remove_orphaned_caches(folder: Path) -> None:
    for cache in folder.glob(f"{SCRATCH_PREFIX}*-*"):
        pid = cache.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(cache, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# ---- one shard job ----------------------------------------------------------------------------------

def _own_leftovers(fs, job_dir: str, prefix: str) -> list[str]:
    """The files of the split's staging folder whose names start with the job's prefix (its earlier attempt's
    parts). The folder holds every job's parts and markers: glob stat-ed each (503 jobs: 6% of a build), and
    fsspec's local `ls` makes a POSIX path of each name in Python (MovieQA's 1,003 jobs: 11% of its build,
    growing with the square of the jobs), so a local folder's names are read as they are."""
    if isinstance(fs, LocalFileSystem):
        try:
            with os.scandir(job_dir) as entries:
                return [f"{job_dir}/{entry.name}" for entry in entries if entry.name.startswith(prefix)]
        except FileNotFoundError:
            return []
    try:
        listing = fs.ls(job_dir, detail=False, refresh=True)
    except FileNotFoundError:  # an object store has no empty folders
        listing = []
    return [path for path in listing if path.rpartition("/")[2].startswith(prefix)]


def _job_dir(staging: str, job: ShardJob) -> str:
    return f"{staging}/{job.config}/{job.split}"


def _marker(staging: str, job: ShardJob) -> str:
    return f"{_job_dir(staging, job)}/{job.index:05d}.done.json"


def completed_results(target: Target, jobs: list[ShardJob]) -> dict[str, dict]:
    """The stored results of the jobs an earlier run finished and that are still valid, by job key.

    One listing of the staging area and one batched read of the markers: on an object store, a build
    of many thousand shards resumes without a request per shard.
    """
    fs, staging = target.fs, target.staging
    existing = set(fs.find(staging)) if fs.exists(staging) else set()
    markers = {_marker(staging, job): job for job in jobs if _marker(staging, job) in existing}
    results = {}
    for path, text in (fs.cat(list(markers)) if markers else {}).items():
        job, result = markers[path], json.loads(text)
        parts_exist = all(f"{_job_dir(staging, job)}/{part}" in existing for part in result["parts"])
        if result["fingerprint"] == job.fingerprint and parts_exist:
            results[job.key] = result
    return results


def run_job(job: ShardJob, target: Target) -> dict:
    """Build one shard into Parquet parts under the staging area; return its statistics.

    The same function runs in this process, in a forked worker or in a Ray task; whatever an earlier,
    interrupted attempt left is removed first.
    """
    started = time.perf_counter()
    fs, job_dir = target.fs, _job_dir(target.staging, job)
    fs.makedirs(job_dir, exist_ok=True)
    leftovers = _own_leftovers(fs, job_dir, f"{job.index:05d}-")
    if leftovers:
        fs.rm(leftovers)
    builder = make_builder(job.dataset, job.config, job.data_dir, job.on_error)
    builder.exclusions = job.exclusions
    if job.state is not None:
        builder.adopt_shared_state(_load_state(target, job.state))
    log = RecordLog(job.on_error, job.split)
    writer = PartWriter(builder.info.features, fs, job_dir, f"{job.index:05d}")
    try:
        write_overlapped(builder.tables(job.shard, log), writer)
        parts = writer.close()
    except BaseException:
        writer.abort()
        raise
    result = {
        "key": job.key, "fingerprint": job.fingerprint,
        "rows": sum(p.rows for p in parts), "arrow_bytes": sum(p.arrow_bytes for p in parts),
        "parquet_bytes": sum(p.parquet_bytes for p in parts), "parts": [p.path.rsplit("/", 1)[1] for p in parts],
        "part_files": [{"rows": p.rows, "bytes": p.parquet_bytes, "sha256": p.sha256} for p in parts],
        "largest_row_group": max((p.largest_row_group for p in parts), default=0),
        "page_index": all(p.page_index for p in parts),
        "features_metadata": all(p.features_metadata for p in parts),
        "content_hash": writer.digest.hexdigest(),
        "records_seen": log.seen, "excluded": log.excluded, "counts": log.counts, "notices": log.notices,
        "skipped": [dict(s, file=s["file"] and builder.relative(s["file"])) for s in log.as_dicts()],
        "seconds": round(time.perf_counter() - started, 3),
    }
    _write_whole(fs, _marker(target.staging, job), json.dumps(result, indent=1))
    return result


def write_overlapped(tables, writer: PartWriter, depth: int = 2) -> None:
    """Write each table in a second thread while this one parses the next.

    Parquet encoding, content-defined chunking and I/O run in pyarrow without the GIL, so a shard job
    overlaps them with its own Python parsing. `depth` tables at most wait, which bounds the memory.
    """
    queue: Queue = Queue(maxsize=depth)
    failure: list[BaseException] = []

    def drain() -> None:
        while (table := queue.get()) is not None:
            if not failure:  # after a failure keep taking tables, so the parser never blocks on a full queue
                try:
                    writer.write(table)
                except BaseException as error:  # re-raised in the parsing thread below
                    failure.append(error)

    thread = threading.Thread(target=drain, name="parquet-writer", daemon=True)
    thread.start()
    try:
        for table in tables:
            if failure:
                break
            queue.put(table)
    finally:
        queue.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _c_library_function(name: str):
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


_malloc_trim = _c_library_function("malloc_trim")  # glibc's; None under another C library


def return_freed_memory() -> None:
    """Hands the memory the C library keeps after frees back to the system. Once a large buffer is freed, glibc
    serves buffers up to its size from the heap (a moving mmap threshold), and freed heap memory stays with the
    process: a MovieQA plan's passing buffers (qa.json read in chunks, the index's arrays) stayed in the
    build's peak memory (+30 MB at a million questions)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


_states: dict[str, Any] = {}
"""Shared states this process has made or read, by digest. Forked workers inherit the planner's."""


def _store_state(target: Target, config: str, state: Any) -> SharedState:
    """The state's pickle inline, or written to the staging area under its digest. It is pickled twice, to a
    digest and then to the file, rather than once into memory: a whole pickle in memory held twice the size of
    the state at the planner's peak (+41 MiB when MovieQA's state was its qa.json index, 1M questions)."""
    sink = _PickleDigest(INLINE_STATE_BYTES)
    pickle.dump(state, sink, protocol=pickle.HIGHEST_PROTOCOL)
    digest = sink.sha256.hexdigest()
    _states[digest] = state
    if sink.kept is not None:
        return SharedState(digest, inline=bytes(sink.kept))
    fs, name = target.fs, f"{config}.state-{digest[:16]}.pickle"
    fs.makedirs(target.staging, exist_ok=True)
    path = f"{target.staging}/{name}"
    with fs.open(path, "wb") as file:
        written = HashingFile(file)
        pickle.dump(state, written, protocol=pickle.HIGHEST_PROTOCOL)
    if written.digest.hexdigest() != digest:
        fs.rm(path)
        raise AssertionError(f"the shared state of config {config!r} pickled to other bytes the second time "
                             f"(a state must not change while it is pickled)")
    return SharedState(digest, file=name)


class _PickleDigest:
    """A file for `pickle.dump` that only hashes what it is given, and keeps it while the total is at most `keep`
    bytes. The pickler hands large payloads over as they are, unframed."""

    def __init__(self, keep: int):
        self.sha256, self.size, self.kept, self.keep = hashlib.sha256(), 0, bytearray(), keep

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        self.sha256.update(data)
        self.size += size
        if self.kept is not None:
            if self.size <= self.keep:
                self.kept += data
            else:
                self.kept = None
        return size


def _load_state(target: Target, ref: SharedState) -> Any:
    if ref.digest not in _states:
        if ref.inline is not None:
            _states[ref.digest] = pickle.loads(ref.inline)
        else:  # read as a stream: large payloads go straight into their objects, not through one whole copy
            with target.fs.open(f"{target.staging}/{ref.file}", "rb") as file:
                _states[ref.digest] = pickle.load(file)  # our own file, written by the planning of this build
    return _states[ref.digest]


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


@dataclass
class Plan:
    """Shard jobs for every config that could be planned, and what planning learnt."""

    jobs: list[ShardJob] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # records rejected while listing splits
    meta: dict[str, dict] = field(default_factory=dict)  # config -> its metadata for the card and report
    failures: dict[str, list[RawDataError]] = field(default_factory=dict)  # config -> what stopped it
    states: dict[str, Any] = field(default_factory=dict, repr=False)  # config -> its shared state, if any


def plan_jobs(dataset: str, data_dir, configs: list[str], on_error: str, target: Target,
              excluded: tuple = (), processes: int = 1) -> Plan:
    """Shard jobs for every config; a config whose raw data cannot be listed is a failure, not the end.
    `processes`: how many the planners may fork (`MultimodalBuilder.planning_processes`)."""
    code_version = _code_version(dataset)
    plan = Plan()
    for config in configs:
        builder = make_builder(dataset, config, data_dir, on_error)
        builder.planning_processes = processes
        log = RecordLog(on_error)
        for kind in exclusions.applicable(builder.EXCLUDABLE, list(builder.info.features), excluded):
            log.notice(f"exclusions of kind {kind} do not apply: this config has no "
                       f"{' or '.join(builder.EXCLUDABLE[kind].columns)} column")
        try:
            builder.check_raw()
            shards = builder.split_shards(log)
            state = builder.shared_state()
        except RawDataError as error:
            plan.failures[config] = [error]
            continue
        state_ref = None if state is None else _store_state(target, config, state)
        if state is not None:
            plan.states[config] = state
        plan.rejected += [dict(s, config=config, file=s["file"] and builder.relative(s["file"]))
                          for s in log.as_dicts()]
        features, docs = builder.documented_features()
        plan.meta[config] = {
            "description": builder.config.description or "",
            "redistribution": builder.config.redistribution or cards.load_card_metadata(dataset)["redistribution"],
            "features": features._to_yaml_list(),
            "fields": [{"path": d.path, "type": d.type, "doc": d.doc} for d in docs],
            "split_order": list(shards),
            "counts": log.counts, "notices": log.notices,
            "inputs": [str(p) for p in builder.input_files()],
            "read": [str(p) for p in builder.read_paths()],
            "explained": {why: [str(p) for p in paths] for why, paths in builder.unread_reasons().items()},
        }
        for split, items in shards.items():
            plan.jobs += [ShardJob(dataset, config, split, i, shard, str(data_dir), on_error, code_version, state_ref,
                                   excluded) for i, shard in enumerate(items)]
    return plan


def exclusion_lists(cls, given: list | tuple) -> list[tuple[str, list]]:
    """(name, exclusions) of the dataset's standing list, then of each list given (--exclude)."""
    standing = cards.exclusion_list(cls.NAME)
    paths = ([standing] if standing else []) + [Path(p) for p in given]
    if paths and not cls.EXCLUDABLE:
        raise UsageError(f"{cls.NAME} declares no kind of id an exclusion list could name")
    return [(f"dataset_cards/{path.name}" if path == standing else path.name, exclusions.read_list(path, cls.EXCLUDABLE))
            for path in paths]


def unread_raw_paths(dataset: str, data_dir: Path, plan: Plan, read: list[str]) -> list[dict]:
    """Everything under the data directory that no config of this build reads (`read`: what the built configs
    read), with a reason each."""
    cls = builder_class(dataset)
    elsewhere = {}  # reason -> paths; a path two reasons name gets the first: a config that reads it says more
    for config in cls.BUILDER_CONFIGS:  # what the configs not built would read, to say so
        if config.name not in plan.meta:
            try:
                builder = make_builder(dataset, config.name, data_dir)
                # a state held for this config too is not made again (NMB+'s index of the same image folder)
                shared = next((state for name, state in plan.states.items() if builder.shares_state_with(name)), None)
                if shared is not None:
                    builder.adopt_shared_state(shared)
                missing = builder.missing_parts()
                paths = builder.read_paths()
            except Exception:  # noqa: BLE001 (a config without its raw parts may not know its paths)
                continue
            paths = [path for path in paths if path is not None]
            why = ("it failed, see failed_configs" if config.name in plan.failures
                   else f"it needs {'; '.join(missing)}" if missing else "it was not asked for (--config)")
            elsewhere[f"read by config '{config.name}', which this build did not make: {why}"] = paths
    for meta in plan.meta.values():  # the built configs' own reasons (NMB+: an image no article of theirs names)
        for why, paths in meta["explained"].items():
            elsewhere[why] = [*elsewhere.get(why, ()), *paths]  # two configs may give one reason
    return coverage.as_dicts(coverage.unread_paths(data_dir, read, cls.NOT_READ, elsewhere))


def build(dataset: str, data_dir, output, configs: list[str] | None = None, num_proc: int = 1,
          on_error: str | None = None, engine: str = "local", repo_id: str | None = None,
          progress: bool = True, log=print, storage_options: dict | None = None,
          ray_address: str | None = None, exclude: list | tuple = ()) -> dict:
    """Build `dataset` from `data_dir` into `output` (a folder or an fsspec URL); return the build report.

    `engine` "local" runs the shard jobs here or in `num_proc` forked processes, "ray" as Ray tasks on the
    cluster at `ray_address` (default: a local Ray instance with `num_proc` CPUs, or all of them).
    `on_error` None takes the card's policy (`cards.default_on_error`). Records that the dataset's standing
    exclusion list (dataset_cards/<name>.exclude) or the `exclude` list files name are left out and counted.

    A config whose raw data is bad (a RawDataError while listing or building it) does not stop the others:
    they are finished and installed, build_report.json names the failed configs, README.md is not written
    and the staging area is kept, and `BuildIncomplete` is raised; a rerun resumes from the finished jobs.
    """
    started = time.perf_counter()
    cls = builder_class(dataset)  # UsageError for an unknown name
    on_error = on_error or cards.default_on_error(cls.NAME)
    lists = exclusion_lists(cls, exclude)
    excluded = tuple(entry for _, entries in lists for entry in entries)
    data_dir = Path(data_dir).resolve()  # jobs may run with another working directory
    target = Target.of(output, storage_options)
    runner = make_engine(engine, num_proc, ray_address)
    fs, root = target.fs, target.root
    if isinstance(fs, MemoryFileSystem) and not runner.in_process:
        raise UsageError(f"{target.url}: a memory:// output exists in this process only; "
                         "build it with --engine local --num-proc 1, or write to a folder or an object store")
    selected, notices = select_configs(dataset, data_dir, configs)
    for notice in notices:
        log(notice)
    fs.makedirs(root, exist_ok=True)
    with build_lock(target, os.fspath(output)):  # a second build into this folder stops at once
        # an interrupted rebuild must not look complete, nor describe the old build
        for marker_of_completion in (README_FILE, REPORT_FILE, CROISSANT_FILE):
            if fs.exists(f"{root}/{marker_of_completion}"):
                fs.rm(f"{root}/{marker_of_completion}")

        plan = plan_jobs(dataset, data_dir, selected, on_error, target, excluded, runner.planning_processes)
        cls.planning_done()
        return_freed_memory()  # the planner's buffers, before the jobs (and forked workers) start
        planned = time.perf_counter()
        results = completed_results(target, plan.jobs)
        if results:
            log(f"resuming: {len(results)} of {len(plan.jobs)} shard jobs already complete")
        pending = [j for j in plan.jobs if j.key not in results]
        completions = runner.start(run_job, pending, target)
        # the jobs are submitted (local workers forked) before this process starts any thread; on an error
        # or an interrupt, closing the completions cancels the jobs not yet started
        with concurrent.futures.ThreadPoolExecutor(2) as scanner, contextlib.closing(completions), \
                tqdm(total=len(plan.jobs), initial=len(results), desc="building", unit="shard",
                     disable=not progress) as bar:
            inputs = scanner.submit(input_checksums, sorted({p for m in plan.meta.values() for p in m["inputs"]}),
                                    data_dir)
            # the read lists (a path per image) leave the plan: the jobs' memory does not hold them once the scan is done
            read = [path for meta in plan.meta.values() for path in meta.pop("read")]
            unread = scanner.submit(unread_raw_paths, dataset, data_dir, plan, read)
            del read
            for job, result in completions:
                if isinstance(result, RawDataError):
                    plan.failures.setdefault(job.config, []).append(result)
                else:
                    results[job.key] = result
                bar.update()
            inputs, unread = inputs.result(), unread.result()
        for line in coverage.summary(unread):
            log(line)
        built = [job for job in plan.jobs if job.config not in plan.failures]
        meta = {name: m for name, m in plan.meta.items() if name not in plan.failures}
        if not meta:  # nothing built: one failed config's own error says it all
            [[error, *_]] = plan.failures.values() if len(plan.failures) == 1 else [[None]]
            raise error or BuildIncomplete(os.fspath(output), plan.failures, [])
        report = _finalize(dataset, target, built, results, plan.rejected, meta, on_error,
                           repo_id or cards.suggested_repo_id(dataset), inputs)
        report["unread"] = unread
        report["exclusion_lists"] = [{"file": name, "entries": len(entries)} for name, entries in lists]
        for notice in report["notices"]:
            log(notice)
        report["timings"] = {"planning_seconds": round(planned - started, 3),
                             "job_seconds": round(sum(r["seconds"] for r in results.values()), 3),
                             "wall_seconds": round(time.perf_counter() - started, 3)}
        if plan.failures:  # the configs that built are in place; the folder is not complete, and resumable
            report["failed_configs"] = {name: failure_record(errors, data_dir) for name, errors in plan.failures.items()}
            _write_whole(fs, f"{root}/{REPORT_FILE}", report_text(report))
            raise BuildIncomplete(os.fspath(output), plan.failures, list(meta))
        write_outputs(target, report)
        fs.rm(target.staging, recursive=True)
        return report


LOCK_FILE = "build.lock"


@contextlib.contextmanager
def build_lock(target: Target, shown: str):
    """Hold the output folder for this build: two builds writing one staging area would mix their parts.

    On a local disk an advisory lock (`flock`) that the system drops when the process dies, so a killed
    build never blocks the next; on an object store a lock object naming the host and process, taken over
    when that process is gone from this host, else removed by hand."""
    fs, path = target.fs, f"{target.staging}/{LOCK_FILE}"
    fs.makedirs(target.staging, exist_ok=True)
    holder = {"host": platform.node(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if isinstance(fs, LocalFileSystem):
        import fcntl

        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                raise _locked(shown, handle.read()) from None
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder))
            handle.flush()
            yield  # the lock goes with the file handle
        return
    if fs.exists(path):
        text = fs.cat_file(path).decode("utf-8", "replace")
        other = json.loads(text) if text.startswith("{") else {}
        if not (other.get("host") == holder["host"] and not _process_alive(other.get("pid"))):
            raise _locked(shown, text, remove=path)
    _write_whole(fs, path, json.dumps(holder))
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)


def _locked(shown: str, holder_text: str, remove: str | None = None) -> UsageError:
    try:
        holder = json.loads(holder_text)
        who = f" (process {holder['pid']} on {holder['host']}, started {holder['started']})"
    except (ValueError, KeyError, TypeError):
        who = ""
    what = f"if no build is running, delete {remove} and retry" if remove else "wait for it to finish"
    return UsageError(f"{shown}: another build is writing into this folder{who}; {what}, "
                      "or build into another --output")


def _process_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


class BuildIncomplete(RawDataError):
    """Some configs' raw data is bad: the other configs are built, the folder is not complete."""

    def __init__(self, output: str, failures: dict[str, list[RawDataError]], built: list[str]):
        self.failures, self.built = failures, built
        lines = [f"{len(failures)} of {len(failures) + len(built)} configs failed"
                 + (f"; {', '.join(built)} {'is' if len(built) == 1 else 'are'} built here, but README.md is not "
                    "written, so the folder is not complete (build_report.json lists the failures):"
                    if built else ":")]
        for name, errors in failures.items():
            more = f" (and {len(errors) - 1} more failed shard jobs)" if len(errors) > 1 else ""
            lines.append(f"  config '{name}'{more}: {errors[0].location}: {errors[0].problem}")
            if errors[0].hint:
                lines.append(f"    hint: {errors[0].hint}")
        hint = "fix the raw data and rerun the same command: the shard jobs already finished are reused"
        if built:
            hint += "; to finish only the configs that built, rerun with " + " ".join(f"--config {c}" for c in built)
        super().__init__(output, "\n".join(lines), hint=hint)

    def __reduce__(self):
        return type(self), (self.path, self.failures, self.built)


def failure_record(errors: list[RawDataError], data_dir: Path) -> dict:
    """A failed config in build_report.json: its first error, located, and how many shard jobs failed."""
    first = errors[0]
    file = first.path
    if file is not None:
        with contextlib.suppress(ValueError):
            file = Path(file).resolve().relative_to(data_dir).as_posix()
    return {"file": file, "line": first.line, "record": first.record, "problem": first.problem,
            "hint": first.hint, "failed_jobs": len(errors)}


def write_outputs(output, report: dict) -> None:
    """build_report.json, croissant.json, then README.md (last, so that its presence means the folder is
    complete). Both metadata files are made before anything is written: a card or Croissant that cannot be
    generated leaves the folder incomplete rather than half-described.

    `output` is a folder, or the `Target` of a build."""
    from . import croissant

    target = output if isinstance(output, Target) else Target.of(output)
    fs, root = target.fs, target.root
    card, metadata = cards.render_card(report), croissant.croissant_text(report)
    _write_whole(fs, f"{root}/{REPORT_FILE}", report_text(report))
    _write_whole(fs, f"{root}/{CROISSANT_FILE}", metadata)
    _write_whole(fs, f"{root}/{README_FILE}", card)


def _finalize(dataset, target: Target, jobs, results, rejected, config_meta, on_error, repo_id, inputs) -> dict:
    cls = builder_class(dataset)
    configs: dict[str, dict] = {}
    skipped = list(rejected)
    excluded: list[dict] = []  # records left out on request, per config, split and reason
    moves: list[tuple[str, str]] = []  # staged part -> final name
    readers: dict[tuple[str, str], dict] = {}  # (config, split) -> what the dataset viewer needs to know
    notices = [f"{config}: {n}" for config, meta in config_meta.items() for n in meta["notices"]]
    for config, meta in config_meta.items():
        splits, empty, staged = {}, {}, {}
        for split in sorted(meta["split_order"], key=split_sort_key):
            split_jobs = sorted((j for j in jobs if j.config == config and j.split == split), key=lambda j: j.index)
            stats = [results[j.key] for j in split_jobs]
            parts = [f"{_job_dir(target.staging, j)}/{part}" for j, r in zip(split_jobs, stats) for part in r["parts"]]
            job_skips = [dict(s, config=config) for r in stats for s in r["skipped"]]
            planning_skips = [s for s in rejected if s["config"] == config and s["split"] == split]
            skipped += job_skips
            rows = sum(r["rows"] for r in stats)
            record_stats = {"records_read": sum(r["records_seen"] for r in stats) + len(planning_skips),
                            "records_skipped": len(job_skips) + len(planning_skips),
                            "records_excluded": sum(n for r in stats for n in r["excluded"].values()),
                            "shard_jobs": len(split_jobs)}
            excluded += [{"config": config, "split": split, "reason": reason, "count": n}
                         for reason, n in sorted(_summed(r["excluded"] for r in stats).items())]
            notices += [f"{config}: {n}" for r in stats for n in r["notices"]]
            if rows == 0:  # no file, so not in the card's configs; its record counts stay in the report
                empty[split] = record_stats
                continue
            staged[split] = parts
            part_files = [info for r in stats for info in r["part_files"]]
            readers[(config, split)] = {"largest_row_group": max(r["largest_row_group"] for r in stats),
                                        "page_index": all(r["page_index"] for r in stats),
                                        "features_metadata": all(r["features_metadata"] for r in stats)}
            splits[split] = {"rows": rows, "arrow_bytes": sum(r["arrow_bytes"] for r in stats),
                             "parquet_bytes": sum(r["parquet_bytes"] for r in stats),
                             "content_hash": content_hash.combined([r["content_hash"] for r in stats]),
                             **record_stats, "counts": _summed(r["counts"] for r in stats),
                             "parts": part_files}
        nested = sum(len(parts) for parts in staged.values()) > MAX_FOLDER_ENTRIES
        for split, parts in staged.items():
            names = part_names(config, split, len(parts), nested)
            splits[split].update(files=names, pattern=data_files_pattern(config, split, nested))
            moves += [(part, f"{target.root}/{name}") for part, name in zip(parts, names)]
        if splits:
            configs[config] = {"description": meta["description"], "redistribution": meta["redistribution"],
                               "features": meta["features"], "fields": meta["fields"], "splits": splits,
                               "empty_splits": empty, "counts": meta["counts"]}
    if not configs:
        raise RawDataError(None, "no rows were written: every record was skipped or the splits are empty",
                           hint="check build_report.json of a run with --on-error skip for the reasons")
    default = default_config(cls, configs)
    for name, config in configs.items():
        config["default"] = name == default
    _install_parts(target, configs, moves)
    for name, config in configs.items():
        features = datasets.Features._from_yaml_list(config["features"])
        for split, info in config["splits"].items():
            readers[(name, split)]["first_rows_bytes"] = viewer.first_rows_bytes(
                target.fs, f"{target.root}/{info['files'][0]}", features)
        config["viewer"] = viewer.check_config(features, {split: readers[(name, split)] for split in config["splits"]})
    notices += viewer.check_configs(configs)
    notices += [f"{name}: dataset viewer: {warning}" for name, config in configs.items()
                for warning in config["viewer"]["warnings"]]
    return {
        "dataset": dataset, "builder": f"{cls.__module__}.{cls.__name__} {cls.VERSION or ''}".strip(),
        "repo_id": repo_id, "on_error": on_error,
        "redistribution": strictest_policy(c["redistribution"] for c in configs.values()),
        "content_hash": CONTENT_HASH_DOC, "configs": configs, "skipped": skipped, "notices": list(dict.fromkeys(notices)), "inputs": inputs,
        "excluded": excluded, "tools": tool_versions(),
    }


def default_config(cls, names) -> str:
    """The config `load_dataset` opens without a name: the builder's default if it is among `names` (the
    configs built, or published to one repository), else the first of them."""
    return cls.DEFAULT_CONFIG_NAME if cls.DEFAULT_CONFIG_NAME in names else next(iter(names))


def part_names(config: str, split: str, count: int, nested: bool) -> list[str]:
    """Where a split's parts go: `<config>/<split>-NNNNN-of-NNNNN.parquet`, or, for a config with more parts
    than a Hub folder may hold, the same names in sub-folders of PARTS_PER_SUBFOLDER parts each."""
    names = [f"{split}-{i:05d}-of-{count:05d}.parquet" for i in range(count)]
    if nested:
        return [f"{config}/{split}/{i // PARTS_PER_SUBFOLDER:04d}/{name}" for i, name in enumerate(names)]
    return [f"{config}/{name}" for name in names]


def data_files_pattern(config: str, split: str, nested: bool) -> str:
    """The README `data_files` pattern that matches exactly the parts `part_names` gives a split."""
    return f"{config}/{split}/*/*.parquet" if nested else f"{config}/{split}-*"


def _summed(tallies) -> dict[str, int]:
    total: dict[str, int] = {}
    for tally in tallies:
        for what, n in tally.items():
            total[what] = total.get(what, 0) + n
    return total


def _install_parts(target: Target, configs: dict, moves: list[tuple[str, str]]) -> None:
    """Give the staged parts their final names and remove Parquet files no longer produced.

    The staged parts stay until the build is complete, so an interrupted install is simply done again.
    """
    fs, root = target.fs, target.root
    for folder in sorted({f"{root}/{name}" for name in configs} | {d.rsplit("/", 1)[0] for _, d in moves}):
        fs.makedirs(folder, exist_ok=True)
    if isinstance(fs, LocalFileSystem):
        for source, destination in moves:
            _link_or_copy(source, destination)
    elif moves:
        fs.copy([source for source, _ in moves], [destination for _, destination in moves])
    keep = {destination for _, destination in moves}
    found = [path for pattern in ("*/*.parquet", f"*/*{TMP_SUFFIX}", "*/*/*/*.parquet", f"*/*/*/*{TMP_SUFFIX}")
             for path in fs.glob(f"{root}/{pattern}")]
    stale = [path for path in found if path not in keep and not path.startswith(f"{target.staging}/")]
    if stale:
        fs.rm(stale)
    emptied = {parent for path in stale for parent in _parents_below(path, root)}
    for directory in sorted(emptied, key=len, reverse=True):  # deepest first
        if directory.rsplit("/", 1)[1] not in configs and fs.isdir(directory) and not fs.ls(directory):
            fs.rmdir(directory)


def _parents_below(path: str, root: str) -> list[str]:
    parents = []
    while (path := path.rsplit("/", 1)[0]) != root and path.startswith(root):
        parents.append(path)
    return parents


def _link_or_copy(source: str, destination: str) -> None:
    """A hard link on one local disk (as cheap as a rename, and the staged part survives), else a copy."""
    temporary = destination + TMP_SUFFIX
    Path(temporary).unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


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
            for relative, file in coverage.sorted_files_below(path):
                size = os.stat(file).st_size
                listing.update(f"{relative}\t{size}\n".encode())
                count, total = count + 1, total + size
            items.append({"path": shown + "/", "bytes": total, "files": count, "listing_sha256": listing.hexdigest()})
        elif path.is_file():
            items.append({"path": shown, "bytes": path.stat().st_size, "sha256": _sha256_file(path)})
    return items


def _sha256_file(path: Path) -> str:
    # into one reused buffer: this runs beside the shard jobs, at their peak memory, and reading 8 MiB chunks
    # held two of them at once (the next read before the last chunk is released)
    digest, buffer = hashlib.sha256(), bytearray(2**20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while read := f.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    return {"multimodal-builders": __version__, "python": platform.python_version(),
            "datasets": datasets.__version__, "pyarrow": pyarrow.__version__,
            "pyarrow_memory_pool": pyarrow.default_memory_pool().backend_name,
            "huggingface_hub": huggingface_hub.__version__}


def _code_version(dataset: str) -> str:
    """Changes whenever the code a shard job of `dataset` runs changes, so stale staged parts are rebuilt."""
    digest = hashlib.sha256(__version__.encode())
    for source in code_files(dataset):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def code_files(dataset: str) -> list[Path]:
    """The build side's shared modules and this dataset's module: editing another dataset's module or the
    serving side (`builders.hub`) does not invalidate an interrupted build's staged jobs."""
    package = Path(__file__).resolve().parent
    dataset_modules = {package / f"{target.split(':')[0].rsplit('.', 1)[1]}.py" for target in REGISTRY.values()}
    module = Path(sys.modules[builder_class(dataset).__module__].__file__).resolve()
    shared = [path for path in (*package.glob("*.py"), *package.glob("media/*.py")) if path not in dataset_modules]
    return sorted({*shared, module})


def _write_whole(fs: fsspec.AbstractFileSystem, path: str, text: str) -> None:
    """Write a small file so that no reader sees it half-written: a rename on a local disk, one PUT elsewhere."""
    data = text.encode("utf-8")
    if isinstance(fs, LocalFileSystem):
        write_atomic(path, data)
    else:
        fs.pipe_file(path, data)
