"""`make bench`: every builder measured against the limit and against the usual way, and projected to its release.

For each dataset, on a synthetic raw tree (`bench.trees.TREES`: the scaled records at --size 1, chosen so that
a default build takes ~30 s of CPU or more and has at least 8 shard jobs), in one run:
1. start-up: the CPU of a Python process that only imports what a build imports (the minimum of two), and its
   share of the build (goal: under 5%, so that the ratios measure the work, not the imports);
2. the build of the default config: rows, raw bytes read, shard jobs (build_report.json: the sum over splits),
   batches (row groups written), wall and CPU time, and its ratio to the *limit* (`bench.limit`: read the same
   raw bytes, write them to Parquet, no parsing) and to the *usual way* (`bench.usual_<name>`: a
   GeneratorBasedBuilder written as community scripts are, run with download_and_prepare to Parquet), on CPU;
3. `--num-proc 2`: its wall-time speed-up, judged only on a tree of at least 8 shard jobs;
4. memory: peak RSS of the build of a tree with a tenth of the records (1x) and of the full tree (10x), judged
   only where the 1x build fills several batches (row groups);
5. publish throughput to the local Hub vs raw HTTP PUTs of the same bytes, and a re-publish of the unchanged
   folder (no upload, no commit expected); `load_dataset` of the published repo: time to first row and scan
   rows/s (over at most SCAN_ROWS rows), vs pyarrow;
6. the projection of a full build of the real release (`bench.releases`): the measured CPU per record and per
   raw byte (net of start-up) times the release's published size, as CPU-hours and wall time on 2 and 32 cores.
Then, once: the publish of a folder of LARGE_PUBLISH_PARTS small parts, which takes the large path (commits in
batches to a pull request, merged in one step), vs one raw PUT per file to the same server, with the commits and
requests it took (`--publish-large-only` runs just this).
Every measured command runs in its own process: its wall time, its CPU time (user + sys of the process and every
child it waited for) and its peak RSS (of its largest process) are its own. The CPU times keep the ratios
meaningful on a shared machine, where wall times are not; the load average is recorded too. Each output is
deleted once measured (the trees stay in the work folder), and the local Hub's objects once a dataset is done:
besides the trees (~50 GB), a run needs ~20 GB free (the largest output, its copy on the Hub, the load's cache).
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.releases import PROJECTION_CORES, RELEASES, SIZE_UNITS, UNITS, hours, project
from bench.trees import EXTRA_TREES, TREES

PROJECT = Path(__file__).resolve().parents[1]
SCRIPTS = PROJECT / "scripts"

BASE_RECORDS = {name: tree.records for name, tree in TREES.items()}
"""Scaled records in each dataset's full tree at --size 1 (`bench.trees.TREES` says what a record is and why
this many); the small tree for the memory comparison has a tenth of them."""

TREE_FORMAT = 2
"""Bumped when the way trees are made changes: a kept tree of another format is made again."""

GOALS = {"vs_limit": 0.8, "vs_usual": 1.0, "rss_growth": 1.2, "num_proc_speedup": 1.7, "min_shard_jobs": 8,
         "min_batches": 3, "startup_share": 0.05, "publish_vs_put": 0.7, "publish_large_vs_put": 0.7}
"""Issue 18: every default config >= 0.8 of its limit and never slower than the usual way (CPU); --num-proc 2
>= 1.7x where there are at least 8 shard jobs; peak RSS growth from 1x to 10x < 1.2x where both fill several
(min_batches) batches; start-up under 5% of a build."""
DATASET_GOALS = {"mint1t": {"vs_usual": 5.0, "peak_rss_mib": 400}, "internvid": {"peak_rss_mib": 400}}
"""Issue 18 goal 1 (MINT-1T HTML >= 5x the usual way) and goal 4 (MINT-1T HTML and InternVid captions under
400 MiB at any size)."""

SCAN_ROWS = 1_000_000
"""load: rows of the full scan (a rate; a scan of InternVid's 10M rows through `datasets` would take minutes)."""

LARGE_PUBLISH_PARTS = 2000
"""Parts of the large publish: Flickr30K Entities' `entities` config built with one part (one image of ~135 kB)
per shard job, more than one commit of publish.py holds (FILES_PER_COMMIT, 500)."""


def goals_for(name: str) -> dict:
    return {**GOALS, **DATASET_GOALS.get(name, {})}


@dataclass
class Run:
    seconds: float       # wall
    cpu_seconds: float   # user + sys of the process and of the children it waited for
    peak_rss: int        # bytes, of the largest process of the tree
    stdout: str
    cpu_runs: tuple[float, ...] = ()  # with --repeat: every run's CPU, in the order they ran


def least_of(runs: list[Run]) -> Run:
    """One figure for repeated runs of a command: the least wall and the least CPU time (what the machine adds,
    other processes, the page cache's work, a slower core, only ever adds), and the largest peak RSS (a memory
    goal is a ceiling). Each taken on its own: the least wall need not be the least CPU's run."""
    return Run(min(r.seconds for r in runs), min(r.cpu_seconds for r in runs), max(r.peak_rss for r in runs),
               runs[0].stdout, tuple(r.cpu_seconds for r in runs))


class Spawner:
    """The small process that runs every measured command (see `bench.spawner`)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.spawner"], cwd=PROJECT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, command: list, env: dict | None = None, settle: tuple[Path, ...] = ()) -> Run:
        """Run a command and measure it; its failure stops the benchmark with its stderr. `settle`: folders
        whose files are first written out and dropped from the page cache (see `bench.spawner`)."""
        command = [str(c) for c in command]
        request = {"command": command, "env": {**os.environ, **(env or {})}, "cwd": str(PROJECT),
                   "settle": [str(folder) for folder in settle]}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if answer["returncode"]:
            raise RuntimeError(f"{' '.join(command)} failed ({answer['returncode']}):\n{answer['stderr'][-3000:]}")
        return Run(answer["seconds"], answer["cpu_seconds"], answer["peak_rss"], answer["stdout"])

    def python(self, *args, env: dict | None = None, settle: tuple[Path, ...] = ()) -> Run:
        return self.run([sys.executable, *args], env, settle)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def machine() -> dict:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def sample_tree(name: str, records: int, work: Path, spawner: "Spawner", tree=None, label: str = "",
                say=print) -> tuple[Path, dict]:
    """The synthetic raw tree with `records` scaled records (`bench.trees`), made once in its own process and
    kept under the work folder; returns it with how it was made (records, bytes, seconds, peak RSS)."""
    tree = tree or TREES[name]
    raw = work / "raw" / f"{name}{'-' + label if label else ''}-{records}"
    marker = raw / ".complete"
    try:
        info = json.loads(marker.read_text())
        if info.get("format") == TREE_FORMAT:
            return raw, {**info, "made_now": False}
    except (OSError, ValueError):
        pass
    say(f"{name}: making the tree of {records:,} scaled records ({raw.name})")
    shutil.rmtree(raw, ignore_errors=True)
    options = json.dumps(tree.options)
    made = spawner.python("-c", "import sys; from bench.trees import main; main(*sys.argv[1:])",
                          name, records, raw, options, tree.chunk or 0)
    info = {**json.loads(made.stdout), "format": TREE_FORMAT, "wall_seconds": made.seconds}
    marker.write_text(json.dumps(info))
    return raw, {**info, "made_now": True}


def rows_of(report: dict, config: str) -> int:
    return sum(s["rows"] for s in report["configs"][config]["splits"].values())


def shard_jobs_of(report: dict, config: str) -> int | None:
    """Shard jobs of a config: the sum over its splits (empty ones too) of build_report.json's `shard_jobs`;
    None if the report does not say."""
    c = report["configs"][config]
    splits = [*c["splits"].values(), *c.get("empty_splits", {}).values()]
    if not splits or any("shard_jobs" not in s for s in splits):
        return None
    return sum(s["shard_jobs"] for s in splits)


def batches_of(folder: Path, config: str) -> tuple[int, int, int]:
    """Batches a build wrote (a shard job writes each batch as one row group): in all, in its fullest part, and
    the bytes of the largest one (uncompressed)."""
    import pyarrow.parquet as pq

    metadata = [pq.read_metadata(p) for p in (folder / config).rglob("*.parquet")]
    largest = max((m.row_group(i).total_byte_size for m in metadata for i in range(m.num_row_groups)), default=0)
    return sum(m.num_row_groups for m in metadata), max((m.num_row_groups for m in metadata), default=0), largest


def fills_batches(small: dict, full: dict, several: int) -> bool:
    """The memory comparison means something when the 1x build's shard jobs buffer as much as the 10x build's:
    its fullest part has several batches (or as many as the 10x build's), and its largest batch is at least
    nine tenths of the 10x build's largest."""
    return (small["part_batches"] >= min(several, full["part_batches"])
            and small["largest_batch_bytes"] >= 0.9 * full["largest_batch_bytes"])


def net_rates(cpu: float, startup: float, units: int, measure: float) -> dict:
    """CPU per record and per unit of size, net of start-up; None where start-up is over half the build (a tree
    too small: the difference would be mostly noise)."""
    net = cpu - startup
    if net < startup:
        return {"cpu_per_unit": None, "cpu_per_size": None}
    return {"cpu_per_unit": net / units if units else None, "cpu_per_size": net / measure if measure else None}


def units_of(name: str, report: dict, config: str, folder: Path, raw: Path) -> tuple[int, float]:
    """The build's size in the release's units (bench.releases.UNITS, SIZE_UNITS): records (rows, or MuSe-CaR's
    videos) and bytes of raw input (MuSe-CaR: seconds of audio)."""
    records, size = rows_of(report, config), float(sum(i["bytes"] for i in report["inputs"]))
    if name == "musecar":
        import wave

        import pyarrow.parquet as pq

        records = len({v for p in (folder / config).rglob("*.parquet")
                       for v in pq.read_table(p, columns=["video_id"]).column(0).to_pylist()})
        wavs = {w for i in report["inputs"] for w in ((raw / i["path"]).rglob("*.wav") if i["path"].endswith("/")
                                                       else [raw / i["path"]]) if w.suffix == ".wav"}
        size = 0.0
        for path in wavs:
            with wave.open(str(path)) as w:
                size += w.getnframes() / w.getframerate()
    return records, size


STARTUP = ("import sys; sys.path.insert(0, {scripts!r}); import _path; from builders import builder_class; "
           "from builders.pipeline import build; builder_class({name!r})")


def startup_cpu(name: str, spawner: "Spawner") -> float:
    """CPU of a Python process importing what `build.py NAME` imports, and nothing else (the minimum of two)."""
    return min(spawner.python("-c", STARTUP.format(scripts=str(SCRIPTS), name=name)).cpu_seconds for _ in range(2))


def discard(path: Path, keep: bool) -> None:
    """Delete an output once measured (and the lock files `datasets` leaves beside the usual way's)."""
    if not keep:
        shutil.rmtree(path, ignore_errors=True)
        for lock in path.parent.glob(f"{path.name}[._]*lock"):
            lock.unlink(missing_ok=True)


# ---- one dataset ------------------------------------------------------------------------------------------

def warm_page_cache(tree: Path, settled: tuple[Path, ...] = ()) -> None:
    """Read every file of the tree once, unmeasured: the first build would otherwise read a tree made long
    ago (or evicted by the next tree) from disk, and its wall time, against the second build's and the
    limit's, would measure the disk. Its memory too: a build that waits for the disk keeps fewer tables
    queued for the writer (NMB+'s 1x build peaked at 262 MiB from disk, 307 MiB from the page cache)."""
    for path in sorted(tree.rglob("*")):
        if path.is_file() and not _inside(path, settled):
            with open(path, "rb") as file:
                while file.read(16 * 2**20):
                    pass


def unread_parts(tree: Path, report: dict) -> list[Path]:
    """What the build did not read (build_report.json's `unread`: MuSe-CaR's videos beside the audio `topic`
    reads, 8 GB of its 16 GB tree), less what lies inside an input folder, which the limit reads whole."""
    inputs = [tree / item["path"].rstrip("/") for item in report["inputs"]]
    unread = [tree / item["path"].rstrip("/") for item in report["unread"]]
    return [path for path in unread if not _inside(path, inputs)]


def _inside(path: Path, roots) -> bool:
    """`path` is one of `roots` or lies below one."""
    return any(path == root or root in path.parents for root in roots)


def bench_dataset(name: str, size: float, work: Path, spawner: Spawner, hub: "BenchHub" | None, say=print,
                  keep_outputs: bool = False, repeat: int = 1) -> dict:
    """repeat: the builds, the limit and the usual way each run this many times, in rounds (every command once,
    then again), and each is taken as `least_of` its runs: on a shared machine one run's CPU moves 10-30%."""
    from builders import builder_class
    from builders.cards import load_card_metadata

    started = time.perf_counter()
    config = builder_class(name).DEFAULT_CONFIG_NAME
    records = max(10, round(TREES[name].records * size))
    small, small_tree = sample_tree(name, max(1, records // 10), work, spawner, say=say)
    full, full_tree = sample_tree(name, records, work, spawner, say=say)
    out = work / "out"
    # before each measured build, the limit and the usual way: the outputs written so far and the other datasets'
    # trees written out and dropped from the page cache, so that each starts with room for what it writes
    # (`bench.spawner`); this dataset's trees stay cached
    settled = settled_before = (out, *[tree for tree in sorted(full.parent.iterdir())
                                       if not tree.name.startswith(f"{name}-")])
    result = {"config": config, "records": records, "what": TREES[name].what, "load_average_before": os.getloadavg(),
              "trees": {"small": small_tree, "full": full_tree}}
    repo = f"bench/{load_card_metadata(name)['repo_name']}"

    def build(raw: Path, target: Path, num_proc: int = 1, build_config: str = config) -> tuple[Run, dict]:
        say(f"{name}: build {build_config} of {raw.name} --num-proc {num_proc}")
        shutil.rmtree(target, ignore_errors=True)
        # built for the repository it is published to, as a maintainer does: the card needs no re-rendering
        run = spawner.python(SCRIPTS / "build.py", name, "--data-dir", raw, "--output", target, "--config",
                             build_config, "--num-proc", num_proc, "--repo", repo, "--quiet", settle=settled)
        return run, json.loads((target / "build_report.json").read_text())

    say(f"{name}: start-up; reading the tree once")
    startup = startup_cpu(name, spawner)
    runs: dict[str, list[Run]] = {"one": [], "two": [], "tenth": [], "limit": [], "usual": []}
    for round_ in range(repeat):
        if repeat > 1:
            say(f"{name}: round {round_ + 1} of {repeat}")
        warm_page_cache(full, settled)
        one, report = build(full, out / name)
        runs["one"].append(one)
        # what the builds do not read leaves the page cache before each command: a tree larger than the cache
        # with the outputs (MuSe-CaR's, with its videos) would otherwise have its inputs evicted and read from disk
        # again in the build's own system time (by hand 17.9 against 9.0 s)
        settled = (*settled_before, *unread_parts(full, report))
        two, _ = build(full, out / f"{name}-np2", num_proc=2)
        runs["two"].append(two)
        discard(out / f"{name}-np2", keep_outputs)
        warm_page_cache(small)  # as the full tree was: the 1x and 10x peaks are compared
        tenth, small_report = build(small, out / f"{name}-small")
        runs["tenth"].append(tenth)
        small_jobs, (small_batches, small_part_batches, small_largest_batch) = (
            shard_jobs_of(small_report, config), batches_of(out / f"{name}-small", config))
        discard(out / f"{name}-small", keep_outputs)
        say(f"{name}: limit")
        runs["limit"].append(spawner.python("-m", "bench.limit", out / f"{name}-limit",
                                            *[full / i["path"].rstrip("/") for i in report["inputs"]], settle=settled))
        discard(out / f"{name}-limit", keep_outputs)
        say(f"{name}: usual way")
        runs["usual"].append(spawner.python("-m", f"bench.usual_{name}", full, out / f"{name}-usual", settle=settled))
        usual_rows = parquet_rows(out / f"{name}-usual")
        discard(out / f"{name}-usual", keep_outputs)
    one, two, tenth, limit, usual = (least_of(runs[k]) for k in ("one", "two", "tenth", "limit", "usual"))
    rows, raw_bytes = rows_of(report, config), sum(i["bytes"] for i in report["inputs"])
    units, measure = units_of(name, report, config, out / name, full)
    jobs, (batches, part_batches, largest_batch) = shard_jobs_of(report, config), batches_of(out / name, config)
    result["repeat"] = repeat
    if repeat > 1:
        result["cpu_runs"] = {k: list(least_of(v).cpu_runs) for k, v in runs.items()}
    result["startup_cpu_seconds"] = startup
    result["build"] = {"rows": rows, "raw_bytes": raw_bytes, "shard_jobs": jobs, "batches": batches,
                       "part_batches": part_batches, "largest_batch_bytes": largest_batch,
                       "parts": sum(len(s["files"]) for s in report["configs"][config]["splits"].values()),
                       "seconds": one.seconds, "cpu_seconds": one.cpu_seconds, "rows_per_s": rows / one.seconds,
                       "mb_per_s": raw_bytes / one.seconds / 1e6, "peak_rss": one.peak_rss,
                       "startup_share": startup / one.cpu_seconds,
                       "units": units, "unit": UNITS[name], "size": measure, "size_unit": SIZE_UNITS.get(name, "bytes"),
                       **net_rates(one.cpu_seconds, startup, units, measure),
                       "num_proc_2_seconds": two.seconds, "num_proc_2_cpu_seconds": two.cpu_seconds,
                       "num_proc_2_peak_rss": two.peak_rss}
    result["small"] = {"records": max(1, records // 10), "rows": rows_of(small_report, config),
                       "raw_bytes": sum(i["bytes"] for i in small_report["inputs"]), "shard_jobs": small_jobs,
                       "batches": small_batches, "part_batches": small_part_batches,
                       "largest_batch_bytes": small_largest_batch, "seconds": tenth.seconds, "cpu_seconds": tenth.cpu_seconds,
                       "peak_rss": tenth.peak_rss}
    result["limit"] = {"seconds": limit.seconds, "cpu_seconds": limit.cpu_seconds, "peak_rss": limit.peak_rss}
    result["usual"] = {"seconds": usual.seconds, "cpu_seconds": usual.cpu_seconds, "peak_rss": usual.peak_rss,
                       "parquet_rows": usual_rows}
    result["vs_limit"] = limit.seconds / one.seconds
    result["vs_limit_cpu"] = limit.cpu_seconds / one.cpu_seconds
    result["vs_usual"] = usual.seconds / one.seconds
    result["vs_usual_cpu"] = usual.cpu_seconds / one.cpu_seconds
    result["usual_vs_limit_cpu"] = usual.cpu_seconds / limit.cpu_seconds  # the most any builder could gain
    result["rss_growth"] = one.peak_rss / tenth.peak_rss
    result["num_proc_speedup"] = one.seconds / two.seconds
    result["num_proc_2_cpu_overhead"] = two.cpu_seconds / one.cpu_seconds
    result["extra_builds"] = {}
    for (dataset, extra_config), tree in EXTRA_TREES.items():
        if dataset == name:
            result["extra_builds"][extra_config] = bench_extra(name, extra_config, tree, size, work, spawner, startup,
                                                               say, keep_outputs, build)
    result["projections"] = projections(name, result)
    if hub is not None:
        say(f"{name}: publish")
        blobs_before = hub.blobs()
        result["publish"] = bench_publish(out / name, repo, spawner, hub)
        say(f"{name}: load")
        load = spawner.python("-m", "bench.load", repo, config, out / name, SCAN_ROWS, env=hub.env)
        result["load"] = json.loads(load.stdout)
        hub.forget(repo, blobs_before)
    discard(out / name, keep_outputs)
    result["load_average_after"] = os.getloadavg()
    result["seconds"] = time.perf_counter() - started
    return result


def bench_extra(name: str, config: str, tree, size: float, work: Path, spawner: Spawner, startup: float, say,
                keep_outputs: bool, build) -> dict:
    """One build of another config of the dataset (EXTRA_TREES), for the projections' rates only."""
    records = max(10, round(tree.records * size))
    raw, info = sample_tree(name, records, work, spawner, tree, label=config, say=say)
    target = work / "out" / f"{name}-{config}"
    warm_page_cache(raw)  # as the dataset's own trees are (another dataset's settle may have dropped it)
    run, report = build(raw, target, build_config=config)
    units, measure = units_of(name, report, config, target, raw)
    discard(target, keep_outputs)
    return {"records": records, "tree": info, "rows": rows_of(report, config),
            "raw_bytes": sum(i["bytes"] for i in report["inputs"]), "shard_jobs": shard_jobs_of(report, config),
            "seconds": run.seconds, "cpu_seconds": run.cpu_seconds, "peak_rss": run.peak_rss,
            "startup_share": startup / run.cpu_seconds, "units": units, "size": measure,
            **net_rates(run.cpu_seconds, startup, units, measure)}


def projections(name: str, result: dict) -> list[dict]:
    """Each release part of the dataset (bench.releases.RELEASES) projected from the measured rates."""
    rows = []
    for release in RELEASES.get(name, []):
        rates = result["extra_builds"].get(release.measured) if release.measured else result["build"]
        if rates is None or rates["cpu_per_unit"] is None:
            continue  # not measured, or on a tree too small (start-up over half the build)
        rows.append({**project(release, rates["cpu_per_unit"], rates["cpu_per_size"]),
                     "cpu_per_unit": rates["cpu_per_unit"], "cpu_per_size": rates["cpu_per_size"],
                     "num_proc_2_efficiency": result["num_proc_speedup"] / 2})
    return rows


def parquet_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet"))


def bench_publish(folder: Path, repo: str, spawner: Spawner, hub: "BenchHub") -> dict:
    """Publish, then a re-publish of the unchanged folder, then raw PUTs of the same bytes (raw_put.py).

    CPU times add the server's to the client's: both run on this machine, and a slow server would
    otherwise look like a fast client.
    """
    size = folder_bytes(folder)
    puts_before, server_before = hub.lfs_puts(), hub.cpu_seconds()
    first = spawner.python(SCRIPTS / "publish.py", folder, "--repo", repo, "--quiet", env=hub.env)
    server_first = hub.cpu_seconds() - server_before
    head, puts_after_first = hub.head(repo), hub.lfs_puts()
    again = spawner.python(SCRIPTS / "publish.py", folder, "--repo", repo, env=hub.env)
    republish = {"republish_lfs_puts": hub.lfs_puts() - puts_after_first, "republish_committed": hub.head(repo) != head,
                 "republish_seconds": again.seconds, "republish_said_no_commit": "no commit" in again.stdout}
    server_before, blobs_before = hub.cpu_seconds(), hub.blobs()
    put = spawner.python("-m", "bench.raw_put", folder, repo, env=hub.env)
    put.cpu_seconds += hub.cpu_seconds() - server_before
    hub.drop_blobs(blobs_before)  # the raw PUTs' objects: salted, so referenced by nothing
    return {"bytes": size, "seconds": first.seconds, "cpu_seconds": first.cpu_seconds + server_first,
            "mb_per_s": size / first.seconds / 1e6, "raw_put_seconds": put.seconds,
            "raw_put_cpu_seconds": put.cpu_seconds, "vs_put": put.seconds / first.seconds,
            "vs_put_cpu": put.cpu_seconds / (first.cpu_seconds + server_first),
            "lfs_puts": puts_after_first - puts_before, **republish}


LARGE_BUILD = """import runpy, sys
sys.path.insert(0, {scripts!r})
import builders.flickr30k_entities as module
module.Flickr30kEntities.SHARD_BYTES = 1  # one image per shard job, so one part per image
sys.argv = ["build.py", *sys.argv[1:]]
runpy.run_path({build!r}, run_name="__main__")
"""
REQUEST_KINDS = [("LFS upload", r"^PUT /_lfs/"), ("LFS batch", r"/info/lfs/objects/batch"),
                 ("preupload", r"/preupload/"), ("commit", r"^POST .*/commit/"), ("merge", r"/discussions/\d+/merge$"),
                 ("pull request", r"/discussions"), ("tree", r"/tree/"), ("whoami", r"/whoami"),
                 ("validate-yaml", r"/validate-yaml"), ("repo info", r"^GET /api/datasets/[^/]+/[^/]+(/revision/.*)?$"),
                 ("settings", r"/settings$"), ("download", r"/resolve/"), ("create repo", r"/repos/create")]


def request_kind(method: str, path: str) -> str:
    line = f"{method} {path.split('?')[0]}"
    return next((kind for kind, pattern in REQUEST_KINDS if re.search(pattern, line)), line)
REQUEST = re.compile(r'"(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1.1" (\d{3})')


def large_publish_folder(work: Path, spawner: Spawner, say=print) -> tuple[Path, str]:
    """A real build of LARGE_PUBLISH_PARTS small parts (made once and kept under the work folder)."""
    repo = "bench/publish-large"
    folder = work / "out" / "publish-large"
    if (folder / "README.md").is_file():
        return folder, repo
    hand_written = 4  # the sample's own images; the scaled ones come on top
    raw, _ = sample_tree("flickr30k_entities", LARGE_PUBLISH_PARTS - hand_written, work, spawner, say=say)
    say(f"publish (large): build {LARGE_PUBLISH_PARTS} one-image parts")
    shutil.rmtree(folder, ignore_errors=True)
    code = LARGE_BUILD.format(scripts=str(SCRIPTS), build=str(SCRIPTS / "build.py"))
    spawner.python("-c", code, "flickr30k_entities", "--data-dir", raw, "--output", folder, "--config", "entities",
                   "--repo", repo, "--quiet")
    return folder, repo


def bench_publish_large(work: Path, spawner: Spawner, hub: "BenchHub", say=print) -> dict:
    """publish.py of the large folder to an empty repository, then raw PUTs of the same bytes (raw_put.py)."""
    folder, repo = large_publish_folder(work, spawner, say)
    report = json.loads((folder / "build_report.json").read_text())
    parts = sum(len(s["files"]) for c in report["configs"].values() for s in c["splits"].values())
    size = folder_bytes(folder)
    say(f"publish (large): {parts} parts, {size / 1e6:.0f} MB")
    log_start, server_before = hub.log_path.stat().st_size, hub.cpu_seconds()
    first = spawner.python(SCRIPTS / "publish.py", folder, "--repo", repo, "--quiet", env=hub.env)
    server_first = hub.cpu_seconds() - server_before
    requests = hub.requests(log_start)
    say("publish (large): raw PUTs")
    server_before = hub.cpu_seconds()
    put = spawner.python("-m", "bench.raw_put", folder, repo, env=hub.env)
    put.cpu_seconds += hub.cpu_seconds() - server_before
    commits = [path for method, path, status in requests
               if method == "POST" and status == 200 and re.search(r"/commit/|/discussions/\d+/merge$", path)]
    kinds: dict[str, int] = {}
    for method, path, _ in requests:
        kinds[request_kind(method, path)] = kinds.get(request_kind(method, path), 0) + 1
    return {"parts": parts, "files": parts + 2, "bytes": size, "seconds": first.seconds,
            "cpu_seconds": first.cpu_seconds + server_first, "mb_per_s": size / first.seconds / 1e6,
            "raw_put_seconds": put.seconds, "raw_put_cpu_seconds": put.cpu_seconds,
            "vs_put": put.seconds / first.seconds, "vs_put_cpu": put.cpu_seconds / (first.cpu_seconds + server_first),
            "commits": len(commits), "pull_request_commits": sum("/commit/refs" in c for c in commits),
            "merges": sum(c.endswith("/merge") for c in commits), "requests": len(requests),
            "lfs_puts": kinds.get("LFS upload", 0), "requests_by_kind": kinds,
            "main_history": hub.commit_titles(repo)}


class BenchHub:
    """A local Hub server for the run, with its access log (to count uploads) and its CPU time."""

    def __init__(self, work: Path):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint, self.token = f"http://127.0.0.1:{self.port}", "hf_bench_" + os.urandom(8).hex()
        self.log_path = work / "hub.log"
        self.root = root = work / "hub"
        shutil.rmtree(root, ignore_errors=True)
        self.process = subprocess.Popen(
            [sys.executable, SCRIPTS / "local_hub.py", "--root", root, "--port", str(self.port), "--token", self.token],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.env = {"HF_ENDPOINT": self.endpoint, "HF_TOKEN": self.token, "HF_HUB_DISABLE_XET": "1",
                    "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the local hub did not start")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """user + sys of the server process so far (all its threads), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def lfs_puts(self) -> int:
        return len(re.findall(r'"PUT /_lfs/', self.log_path.read_text()))

    def requests(self, since: int) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the server logged after byte `since` of its log."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return [(m, p, int(s)) for m, p, s in REQUEST.findall(log.read().decode(errors="replace"))]

    def commit_titles(self, repo: str) -> list[str]:
        import httpx2 as httpx

        return [c["title"] for c in httpx.get(f"{self.endpoint}/api/datasets/{repo}/commits/main",
                                              headers=self._auth()).json()]

    def head(self, repo: str) -> str:
        import httpx2 as httpx

        return httpx.get(f"{self.endpoint}/api/datasets/{repo}", headers=self._auth()).json()["sha"]

    def _auth(self) -> dict:
        return {"authorization": f"Bearer {self.token}"}

    def blobs(self) -> set[Path]:
        """The stored objects (blobs/<aa>/<sha256>: every file's content, once)."""
        return {p for p in (self.root / "blobs").rglob("*") if p.is_file()}

    def drop_blobs(self, keep: set[Path]) -> None:
        """Delete the objects stored since `keep` was listed (nothing the run reads again refers to them)."""
        for path in self.blobs() - keep:
            path.unlink(missing_ok=True)

    def forget(self, repo: str, keep: set[Path]) -> None:
        """Delete a dataset's repository and the objects stored for it, so that a run's disk stays bounded."""
        import httpx2 as httpx

        organization, name = repo.split("/")
        httpx.request("DELETE", f"{self.endpoint}/api/repos/delete", headers=self._auth(),
                      json={"type": "dataset", "organization": organization, "name": name}).raise_for_status()
        self.drop_blobs(keep)


# ---- the whole run ------------------------------------------------------------------------------------------

def hardware(machine: dict) -> dict:
    """What must match for --update to put new rows beside old ones: all of `machine()` but the platform
    string, which names the kernel's build and changes when the same machine's kernel is updated (the update
    says so under the table)."""
    return {key: value for key, value in machine.items() if key != "platform"}


def run(datasets: list[str], size: float, work: Path, results_path: Path, publish_large: bool = True,
        builds_only: bool = False, keep_outputs: bool = False, update: bool = False, repeat: int = 1) -> dict:
    """builds_only: no publish, load or large publish (a quick check of the builds, memory and projections).
    update: measure these datasets again and keep the others' results from the file (same machine and size);
    the table says which were measured when."""
    results = {"machine": machine(), "size": size, "goals": GOALS, "dataset_goals": DATASET_GOALS,
               "projection_cores": list(PROJECTION_CORES), "datasets": {}}
    if update and results_path.exists():
        earlier = json.loads(results_path.read_text())
        if (hardware(earlier["machine"]), earlier["size"]) != (hardware(results["machine"]), size):
            raise SystemExit(f"--update: {results_path} was measured on another machine or --size; run without it")
        update_record = {"datasets": datasets, "at": _now(), **({"builds_only": True} if builds_only else {}),
                         **({"repeat": repeat} if repeat > 1 else {})}
        if results["machine"]["platform"] != earlier["machine"]["platform"]:  # the same machine, its kernel updated
            update_record["platform"] = results["machine"]["platform"]
        results = {**earlier, "goals": GOALS, "dataset_goals": DATASET_GOALS,
                   "updates": [*earlier.get("updates", []), update_record]}
    work.mkdir(parents=True, exist_ok=True)
    spawner = Spawner()  # before the local Hub and any build, while this process is small
    hub = None if builds_only else BenchHub(work)
    started = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    def save():
        results["seconds" if not update else "update_seconds"] = round(time.perf_counter() - started, 1)
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1) + "\n")

    try:
        for name in datasets:
            measured = {**bench_dataset(name, size, work, spawner, hub, say, keep_outputs, repeat), "measured_at": _now()}
            results["datasets"][name] = updated_entry(measured, results["datasets"].get(name) if update else None)
            save()
        if publish_large and hub is not None:
            results["publish_large"] = bench_publish_large(work, spawner, hub, say)
            save()
    finally:
        if hub is not None:
            hub.close()
        spawner.close()
    return results


# ---- the tables -----------------------------------------------------------------------------------------

def _times(ratio: float) -> str:
    """A judged ratio with the digits that show which side of its goal it is on (0.96x, not 1.0x ✗)."""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def _goal(value: float, goal: float, higher_is_better: bool = True) -> str:
    met = value >= goal if higher_is_better else value < goal
    return "✓" if met else "✗"


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def speedup_ceiling(result: dict, cores: int) -> float:
    """The `--num-proc 2` speed-up if both processes kept min(2, cores) cores busy from start to end with the
    CPU they used: the one-process build already keeps cpu/wall cores busy (its Parquet writer thread and the
    raw-input checksums run beside the parser), so on 2 cores the goal can be out of reach by arithmetic."""
    return min(2, cores) * result["build"]["seconds"] / result["build"]["num_proc_2_cpu_seconds"]


def build_table(results: dict) -> list[str]:
    g = results["goals"]
    lines = [f"| dataset (config) | rows | raw MB | shard jobs | batches 1x / 10x (fullest part) | build s: wall (cpu) "
             f"| start-up < {g['startup_share']:.0%} | cpu vs limit ≥ {g['vs_limit']} | cpu vs usual ≥ {g['vs_usual']} "
             f"| num-proc 2 ≥ {g['num_proc_speedup']} (≥ {g['min_shard_jobs']} jobs) "
             f"| peak RSS MiB 1x → 10x (< {g['rss_growth']}x) |",
             "|" + "---|" * 11]
    for name, r in results["datasets"].items():
        goals, b, small = goals_for(name), r["build"], r["small"]
        usual_goal = goals["vs_usual"]
        jobs = b["shard_jobs"]
        if jobs is not None and jobs >= goals["min_shard_jobs"]:
            judged = _goal(r["num_proc_speedup"], goals["num_proc_speedup"])
        else:
            judged = f"(not judged: jobs {_count(jobs)})"
        speedup = (f"{r['num_proc_speedup']:.2f}x {judged}, cpu {r['num_proc_2_cpu_overhead']:.2f}x; "
                   f"ceiling {speedup_ceiling(r, results['machine']['cores']):.2f}x")
        if fills_batches(small, b, goals["min_batches"]):
            memory = _goal(r["rss_growth"], goals["rss_growth"], higher_is_better=False)
        else:
            memory = (f"(not judged: the 1x build's fullest part has {small['part_batches']} batches, largest "
                      f"{_mib(small['largest_batch_bytes'])} MiB; the 10x's {b['part_batches']}, "
                      f"{_mib(b['largest_batch_bytes'])} MiB)")
        cap = goals.get("peak_rss_mib")
        if cap:
            memory += f"; < {cap} MiB " + _goal(b["peak_rss"] / 2**20, cap, higher_is_better=False)
        lines.append(
            f"| {name} ({r['config']}) | {b['rows']:,} | {b['raw_bytes'] / 1e6:,.0f} | {_count(jobs)} "
            f"| {small['batches']:,} / {b['batches']:,} ({small['part_batches']} / {b['part_batches']}) "
            f"| {b['seconds']:.1f} ({b['cpu_seconds']:.1f}) "
            f"| {b['startup_share']:.1%} {_goal(b['startup_share'], goals['startup_share'], higher_is_better=False)} "
            f"| {r['vs_limit_cpu']:.2f} (wall {r['vs_limit']:.2f}) {_goal(r['vs_limit_cpu'], goals['vs_limit'])} "
            f"| {_times(r['vs_usual_cpu'])} (wall {r['vs_usual']:.1f}x; usual/limit {r['usual_vs_limit_cpu']:.1f}x) "
            f"{_goal(r['vs_usual_cpu'], usual_goal)}{f' (goal ≥ {usual_goal:g}x)' if usual_goal != g['vs_usual'] else ''} "
            f"| {speedup} | {_mib(small['peak_rss'])} → {_mib(b['peak_rss'])} ({r['rss_growth']:.2f}x) {memory} |")
    return lines


def publish_table(results: dict) -> list[str]:
    g = results["goals"]
    lines = [f"| dataset (config) | publish MB/s, vs PUT ≥ {g['publish_vs_put']} | re-publish: nothing sent "
             "| load: first row (streaming) | scan rows/s (pyarrow) |", "|---|---|---|---|---|"]
    for name, r in results["datasets"].items():
        if "publish" not in r:
            continue
        p, l = r["publish"], r["load"]
        quiet = not p["republish_committed"] and not p["republish_lfs_puts"]
        republish = "✓" if quiet else f"✗ {p['republish_lfs_puts']} uploads, commit={p['republish_committed']}"
        lines.append(
            f"| {name} ({r['config']}) | {p['mb_per_s']:.0f}, {p['vs_put']:.2f} (cpu {p['vs_put_cpu']:.2f}) "
            f"{_goal(p['vs_put'], g['publish_vs_put'])} | {republish} "
            f"| {l['first_row_seconds']:.2f} s ({l['streaming_first_row_seconds']:.2f} s) "
            f"| {l['scan_rows_per_s']:,.0f} ({l['pyarrow_rows_per_s']:,.0f}) over {l['scan_rows']:,} rows |")
    return lines if len(lines) > 2 else []


def _size(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "bytes":
        if value >= 1e12:
            return f"{value / 1e12:,.2f} TB"
        return f"{value / 1e9:,.2f} GB" if value >= 1e8 else f"{value / 1e6:,.1f} MB"
    return f"{value / 3600:,.1f} h of audio" if unit == "audio s" else f"{value:,.0f} {unit}"


def _marked(text: str, basis: bool) -> str:
    return f"**{text}**" if basis and text != "–" else text


def _per_record(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.1f} ms"


def projection_table(results: dict) -> list[str]:
    cores = results.get("projection_cores", list(PROJECTION_CORES))
    lines = ["| dataset: release part | measured on | CPU per record / per GB (net of start-up) | release: records, size "
             "| shard jobs | CPU-hours: by records / by size | " + " | ".join(f"wall on {c} cores" for c in cores) + " |",
             "|" + "---|" * (6 + len(cores))]
    for name, r in results["datasets"].items():
        unit, size_unit = UNITS[name], SIZE_UNITS.get(name, "bytes")
        per = "GB" if size_unit == "bytes" else "h of audio"
        scale = 1e9 if size_unit == "bytes" else 3600
        for p in r.get("projections", []):
            measured = p["measured_config"] or r["config"]
            rate_size = f"{p['cpu_per_size'] * scale:.2f} s" if p["cpu_per_size"] else "–"
            lines.append(
                f"| {name}: {p['part']} | {measured} | {_per_record(p['cpu_per_unit'])} / {rate_size} per {per} "
                f"| {_count(p['records'])} {unit}, {_size(p['size'], size_unit)} | {_count(p['shard_jobs'])} "
                f"| {_marked(hours(p['cpu_hours_by_records']), p['basis'] != 'size')} / "
                f"{_marked(hours(p['cpu_hours_by_size']), p['basis'] == 'size')} | "
                + " | ".join(hours(p["wall_hours"][str(c)]) for c in cores) + " |")
    return lines if len(lines) > 2 else []


def table(results: dict) -> str:
    lines = build_table(results) if results["datasets"] else []
    publish = publish_table(results)
    if publish:
        lines += [""] + publish
    projected = projection_table(results)
    if projected:
        lines += ["", "Projected full builds of the releases (bench/releases.py names the source of every size): "
                      "CPU-hours by records and by size, the part's basis in bold; wall = that CPU / min(cores, "
                      "shard jobs of the release), I/O not modelled.", ""] + projected
    g = results["goals"]
    large = results.get("publish_large")
    if large:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(large["requests_by_kind"].items(), key=lambda kv: -kv[1]))
        lines += [
            "", f"| large publish ({large['parts']:,} parts, {large['bytes'] / 1e6:.0f} MB) | publish.py s: wall (cpu) "
            f"| raw PUTs s: wall (cpu) | vs PUT ≥ {g['publish_large_vs_put']} | commits | requests |",
            "|---|---|---|---|---|---|",
            f"| {large['mb_per_s']:.0f} MB/s | {large['seconds']:.1f} ({large['cpu_seconds']:.1f}) "
            f"| {large['raw_put_seconds']:.1f} ({large['raw_put_cpu_seconds']:.1f}) "
            f"| {large['vs_put']:.2f} (cpu {large['vs_put_cpu']:.2f}) {_goal(large['vs_put'], g['publish_large_vs_put'])} "
            f"| {large['commits']}: {large['pull_request_commits']} on the pull request + {large['merges']} merge "
            f"| {large['requests']:,}: {kinds} |"]
    m = results["machine"]
    loads = [a for r in results["datasets"].values() for a in (r["load_average_before"][0], r["load_average_after"][0])]
    around = f"; 1-minute load average {min(loads):.1f}-{max(loads):.1f} around the datasets" if loads else ""
    made = sum(t["wall_seconds"] for r in results["datasets"].values() for t in r["trees"].values() if t["made_now"])
    per_dataset = ", ".join(f"{n} {r['seconds']:.0f} s" for n, r in results["datasets"].items())
    startup = ", ".join(f"{n} {r['startup_cpu_seconds']:.2f}" for n, r in results["datasets"].items())
    lines.append(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
                 f"--size {results['size']}; run took {results.get('seconds', 0):.0f} s"
                 f"{f' ({made:.0f} s of it making trees)' if made else ''}{around}.")
    if per_dataset:
        lines.append(f"Per dataset (wall, trees included): {per_dataset}. Start-up CPU s: {startup}.")
    repeated = {n: r["repeat"] for n, r in results["datasets"].items() if r.get("repeat", 1) > 1}
    if repeated:
        lines.append("Repeated (`--repeat`: each build, limit and usual way run in rounds; the least wall and CPU "
                     "time of each, the largest peak RSS): "
                     + ", ".join(f"{n} {k} runs" for n, k in repeated.items()) + ".")
    for update in standing_updates(results):
        kept = [f"{name}'s from {results['datasets'][name]['publish_load_measured_at']}" for name in update["datasets"]
                if update.get("builds_only") and "publish_load_measured_at" in results["datasets"].get(name, {})]
        lines.append(f"Measured again with --update at {update['at']}: {', '.join(update['datasets'])}."
                     + (f" Builds only; publish and load: {', '.join(kept)}." if kept else "")
                     + (f" Platform then: {update['platform']}." if "platform" in update else ""))
    return "\n".join(lines)


def standing_updates(results: dict) -> list[dict]:
    """The --update records, each naming only the datasets whose rows it still holds (no later update measured
    them again); a record none of whose rows stand is left out."""
    updates, later, standing = results.get("updates", []), set(), []
    for update in reversed(updates):
        names = [name for name in update["datasets"] if name not in later]
        later.update(update["datasets"])
        if names:
            standing.append({**update, "datasets": names})
    return standing[::-1]


def updated_entry(measured: dict, earlier: dict | None) -> dict:
    """A dataset's results measured again. Measured without publish and load (--builds-only), it keeps those
    of the earlier results, with the time they were measured (`publish_load_measured_at`)."""
    if earlier is None or "publish" in measured or "publish" not in earlier:
        return measured
    return {**measured, "publish": earlier["publish"], "load": earlier["load"],
            "publish_load_measured_at": earlier.get("publish_load_measured_at", earlier["measured_at"])}


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
