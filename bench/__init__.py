"""`make bench`: every builder measured against the limit and against the usual way.

For each dataset, on a synthetic raw tree of BASE_RECORDS scaled records (`--size` multiplies them), in
one run:
1. build throughput (rows/s, MB/s of raw input) of the default config, and its ratio to the *limit*
   (`bench.limit`: read the same raw bytes, write them to Parquet, no parsing);
2. its ratio to the *usual way* (`bench.usual_<name>`: a GeneratorBasedBuilder written as
   community scripts are, run with download_and_prepare to Parquet);
3. peak RSS of a build of a tree with a tenth of the records (1x) and of the full tree (10x);
4. the `--num-proc 2` speed-up;
5. publish throughput to the local Hub vs raw HTTP PUTs of the same bytes, and a re-publish of the
   unchanged folder (no upload, no commit expected);
6. `load_dataset` of the published repo: time to first row and full-scan rows/s, vs pyarrow.
Then, once: the publish of a folder of LARGE_PUBLISH_PARTS small parts, which takes the large path (commits in
batches to a pull request, merged in one step), vs one raw PUT per file to the same server, with the commits and
requests it took (`--publish-large-only` runs just this).
Every measured command runs in its own process: its wall time, its CPU time (user + sys of the process
and every child it waited for) and its peak RSS (of its largest process) are its own. The CPU times keep
the ratios meaningful on a shared machine, where wall times are not; the load average is recorded too.
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

PROJECT = Path(__file__).resolve().parents[1]
SCRIPTS = PROJECT / "scripts"

BASE_RECORDS = {
    "flickr30k_entities": 4000,  # images of ~135 kB (the release has 31,783)
    "movieqa": 15_000,           # questions (the release has 14,944), 10 per movie with full story files
    "musecar": 100,              # 83 s videos: 4 segments each, audio cut from a 2.6 MB WAV (the release has 303)
    "internvid": 600_000,        # caption lines of ~230 bytes
    "mint1t": 60_000,            # HTML documents of ~3.4 kB
    "bigdocs": 400,              # ArxivOCR pages of ~290 kB
    "nmb_plus": 1500,            # articles with a ~150 kB photo
}
"""Scaled records in each dataset's full tree at --size 1, chosen so that `make bench` takes about ten
minutes on 2 cores (the small tree for the memory comparison has a tenth of them)."""

SAMPLE_OPTIONS = {  # the scaled records get no media that the default config does not read
    "movieqa": {"scaled_clips": False},
    "internvid": {"scaled_videos": False},
    "mint1t": {"scaled_subsets": ("html",)},
}

GOALS = {"vs_limit": 0.7, "vs_usual": 3.0, "rss_growth": 1.3, "num_proc_speedup": 1.6, "publish_vs_put": 0.7,
         "publish_large_vs_put": 0.7}
LARGE_PUBLISH_PARTS = 2000
"""Parts of the large publish: Flickr30K Entities' `entities` config built with one part (one image of ~135 kB)
per shard job, more than one commit of publish.py holds (FILES_PER_COMMIT, 500)."""


@dataclass
class Run:
    seconds: float       # wall
    cpu_seconds: float   # user + sys of the process and of the children it waited for
    peak_rss: int        # bytes, of the largest process of the tree
    stdout: str


class Spawner:
    """The small process that runs every measured command (see `bench.spawner`)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.spawner"], cwd=PROJECT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, command: list, env: dict | None = None) -> Run:
        """Run a command and measure it; its failure stops the benchmark with its stderr."""
        command = [str(c) for c in command]
        request = {"command": command, "env": {**os.environ, **(env or {})}, "cwd": str(PROJECT)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if answer["returncode"]:
            raise RuntimeError(f"{' '.join(command)} failed ({answer['returncode']}):\n{answer['stderr'][-3000:]}")
        return Run(answer["seconds"], answer["cpu_seconds"], answer["peak_rss"], answer["stdout"])

    def python(self, *args, env: dict | None = None) -> Run:
        return self.run([sys.executable, *args], env)

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


def sample_tree(name: str, records: int, work: Path) -> Path:
    """The synthetic raw tree with `records` scaled records, made once and kept under the work folder."""
    from builders.samples import make_sample

    raw = work / "raw" / f"{name}-{records}"
    if not (raw / ".complete").exists():
        shutil.rmtree(raw, ignore_errors=True)
        make_sample(name, raw, scale=records, **SAMPLE_OPTIONS.get(name, {}))
        (raw / ".complete").touch()
    return raw


def rows_of(report: dict, config: str) -> int:
    return sum(s["rows"] for s in report["configs"][config]["splits"].values())


# ---- one dataset ------------------------------------------------------------------------------------------

def bench_dataset(name: str, size: float, work: Path, spawner: Spawner, hub: "BenchHub", say=print) -> dict:
    from builders import builder_class
    from builders.cards import load_card_metadata

    config = builder_class(name).DEFAULT_CONFIG_NAME
    records = max(10, round(BASE_RECORDS[name] * size))
    say(f"{name}: sample trees ({records // 10} and {records} records)")
    small, full = sample_tree(name, records // 10, work), sample_tree(name, records, work)
    out = work / "out"
    result = {"config": config, "records": records, "load_average_before": os.getloadavg()}
    repo = f"bench/{load_card_metadata(name)['repo_name']}"

    def build(raw: Path, target: Path, num_proc: int = 1) -> tuple[Run, dict]:
        say(f"{name}: build {raw.name} --num-proc {num_proc}")
        shutil.rmtree(target, ignore_errors=True)
        # built for the repository it is published to, as a maintainer does: the card needs no re-rendering
        run = spawner.python(SCRIPTS / "build.py", name, "--data-dir", raw, "--output", target, "--config", config,
                             "--num-proc", num_proc, "--repo", repo, "--quiet")
        return run, json.loads((target / "build_report.json").read_text())

    one, report = build(full, out / name)
    rows, raw_bytes = rows_of(report, config), sum(i["bytes"] for i in report["inputs"])
    shards = sum(len(s["files"]) for s in report["configs"][config]["splits"].values())
    two, _ = build(full, out / f"{name}-np2", num_proc=2)
    tenth, _ = build(small, out / f"{name}-small")
    say(f"{name}: limit")
    limit = spawner.python("-m", "bench.limit", out / f"{name}-limit",
                   *[full / i["path"].rstrip("/") for i in report["inputs"]])
    say(f"{name}: usual way")
    usual = spawner.python("-m", f"bench.usual_{name}", full, out / f"{name}-usual")
    result["build"] = {"rows": rows, "raw_bytes": raw_bytes, "parts": shards, "seconds": one.seconds,
                       "cpu_seconds": one.cpu_seconds, "rows_per_s": rows / one.seconds,
                       "mb_per_s": raw_bytes / one.seconds / 1e6, "peak_rss": one.peak_rss,
                       "num_proc_2_seconds": two.seconds, "num_proc_2_cpu_seconds": two.cpu_seconds,
                       "small_peak_rss": tenth.peak_rss, "small_seconds": tenth.seconds}
    result["limit"] = {"seconds": limit.seconds, "cpu_seconds": limit.cpu_seconds}
    result["usual"] = {"seconds": usual.seconds, "cpu_seconds": usual.cpu_seconds, "peak_rss": usual.peak_rss,
                       "parquet_rows": parquet_rows(out / f"{name}-usual")}
    result["vs_limit"] = limit.seconds / one.seconds
    result["vs_limit_cpu"] = limit.cpu_seconds / one.cpu_seconds
    result["vs_usual"] = usual.seconds / one.seconds
    result["vs_usual_cpu"] = usual.cpu_seconds / one.cpu_seconds
    result["usual_vs_limit_cpu"] = usual.cpu_seconds / limit.cpu_seconds  # the most any builder could gain
    result["rss_growth"] = one.peak_rss / tenth.peak_rss
    result["num_proc_speedup"] = one.seconds / two.seconds
    say(f"{name}: publish")
    result["publish"] = bench_publish(out / name, repo, spawner, hub)
    say(f"{name}: load")
    load = spawner.python("-m", "bench.load", repo, config, out / name, env=hub.env)
    result["load"] = json.loads(load.stdout)
    result["load_average_after"] = os.getloadavg()
    return result


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
    server_before = hub.cpu_seconds()
    put = spawner.python("-m", "bench.raw_put", folder, repo, env=hub.env)
    put.cpu_seconds += hub.cpu_seconds() - server_before
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
    raw = sample_tree("flickr30k_entities", LARGE_PUBLISH_PARTS - hand_written, work)
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
        root = work / "hub"
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


# ---- the whole run ------------------------------------------------------------------------------------------

def run(datasets: list[str], size: float, work: Path, results_path: Path, publish_large: bool = True) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    spawner = Spawner()  # first, while this process is small
    hub = BenchHub(work)
    started = time.perf_counter()
    results = {"machine": machine(), "size": size, "goals": GOALS, "datasets": {}}

    def say(message):
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    try:
        for name in datasets:
            results["datasets"][name] = bench_dataset(name, size, work, spawner, hub, say)
            results["seconds"] = round(time.perf_counter() - started, 1)
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(results, indent=1) + "\n")
        if publish_large:
            results["publish_large"] = bench_publish_large(work, spawner, hub, say)
            results["seconds"] = round(time.perf_counter() - started, 1)
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        hub.close()
        spawner.close()
    return results


def _goal(value: float, goal: float, higher_is_better: bool = True) -> str:
    met = value >= goal if higher_is_better else value < goal
    return "✓" if met else "✗"


def table(results: dict) -> str:
    goals = results["goals"]
    head = (f"| dataset (config) | rows | build s: wall (cpu) | rows/s | MB/s | vs limit ≥ {goals['vs_limit']} "
            f"| vs usual ≥ {goals['vs_usual']} | peak RSS 1x → 10x (< {goals['rss_growth']}x) "
            f"| num-proc 2 ≥ {goals['num_proc_speedup']} | publish MB/s, vs PUT ≥ {goals['publish_vs_put']} "
            "| re-publish: nothing sent | load: first row (streaming) | scan rows/s (pyarrow) |")
    lines = [head, "|" + "---|" * 13]
    for name, r in results["datasets"].items():
        b, p, l = r["build"], r["publish"], r["load"]
        quiet = not p["republish_committed"] and not p["republish_lfs_puts"]
        republish = "✓" if quiet else f"✗ {p['republish_lfs_puts']} uploads, commit={p['republish_committed']}"
        speedup = f"{r['num_proc_speedup']:.2f}x " + (
            _goal(r["num_proc_speedup"], goals["num_proc_speedup"]) if b["parts"] > 1 else "(1 shard)")
        lines.append(
            f"| {name} ({r['config']}) | {b['rows']:,} | {b['seconds']:.1f} ({b['cpu_seconds']:.1f}) "
            f"| {b['rows_per_s']:,.0f} | {b['mb_per_s']:.1f} "
            f"| {r['vs_limit']:.2f} (cpu {r['vs_limit_cpu']:.2f}) {_goal(r['vs_limit'], goals['vs_limit'])} "
            f"| {r['vs_usual']:.1f}x (cpu {r['vs_usual_cpu']:.1f}x; limit {r['usual_vs_limit_cpu']:.1f}x) "
            f"{_goal(r['vs_usual'], goals['vs_usual'])} "
            f"| {b['small_peak_rss'] / 2**20:.0f} → {b['peak_rss'] / 2**20:.0f} MiB ({r['rss_growth']:.2f}x) "
            f"{_goal(r['rss_growth'], goals['rss_growth'], higher_is_better=False)} | {speedup} "
            f"| {p['mb_per_s']:.0f}, {p['vs_put']:.2f} (cpu {p['vs_put_cpu']:.2f}) {_goal(p['vs_put'], goals['publish_vs_put'])} "
            f"| {republish} | {l['first_row_seconds']:.2f} s ({l['streaming_first_row_seconds']:.2f} s) "
            f"| {l['scan_rows_per_s']:,.0f} ({l['pyarrow_rows_per_s']:,.0f}) |")
    if not results["datasets"]:
        lines = []
    large = results.get("publish_large")
    if large:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(large["requests_by_kind"].items(), key=lambda kv: -kv[1]))
        lines += [
            "", f"| large publish ({large['parts']:,} parts, {large['bytes'] / 1e6:.0f} MB) | publish.py s: wall (cpu) "
            f"| raw PUTs s: wall (cpu) | vs PUT ≥ {goals['publish_large_vs_put']} | commits | requests |",
            "|---|---|---|---|---|---|",
            f"| {large['mb_per_s']:.0f} MB/s | {large['seconds']:.1f} ({large['cpu_seconds']:.1f}) "
            f"| {large['raw_put_seconds']:.1f} ({large['raw_put_cpu_seconds']:.1f}) "
            f"| {large['vs_put']:.2f} (cpu {large['vs_put_cpu']:.2f}) {_goal(large['vs_put'], goals['publish_large_vs_put'])} "
            f"| {large['commits']}: {large['pull_request_commits']} on the pull request + {large['merges']} merge "
            f"| {large['requests']:,}: {kinds} |"]
    m = results["machine"]
    loads = [a for r in results["datasets"].values() for a in (r["load_average_before"][0], r["load_average_after"][0])]
    around = f"; 1-minute load average {min(loads):.1f}-{max(loads):.1f} around the datasets" if loads else ""
    lines.append(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
                 f"--size {results['size']}; run took {results.get('seconds', 0):.0f} s{around}.")
    return "\n".join(lines)
