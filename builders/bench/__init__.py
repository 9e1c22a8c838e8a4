"""`make bench`: every builder measured against the limit and against the usual way.

For each dataset with a sample generator, in one run:
1. build throughput (rows/s, MB/s of raw input) of the default config, and its ratio to the *limit*
   (`builders.bench.limit`: read the same raw bytes, write them to Parquet, no parsing);
2. its ratio to the *usual way* (`builders.bench.usual_<name>`: a GeneratorBasedBuilder written as
   community scripts are, run with download_and_prepare to Parquet);
3. peak RSS at 1x and 10x data; 4. the `--num-proc 2` speed-up;
5. publish throughput to the local Hub vs raw HTTP PUTs of the same bytes, and a re-publish of the
   unchanged folder (no upload, no commit expected);
6. `load_dataset` of the published repo: time to first row and full-scan rows/s, vs pyarrow.
Every measured command runs in its own process, so its peak RSS is its own.
"""
from __future__ import annotations

import hashlib
import importlib.util
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

PROJECT = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT / "scripts"

BASE_RECORDS = {
    "flickr30k_entities": 300,   # images of ~150 kB: ~45 MB at size 1
}
"""Synthetic records added to each sample tree at --size 1 (the 10x tree has ten times as many)."""

GOALS = {"vs_limit": 0.7, "vs_usual": 3.0, "rss_growth": 1.3, "num_proc_speedup": 1.6, "publish_vs_put": 0.7}


@dataclass
class Run:
    seconds: float
    stdout: str
    peak_rss: int = 0      # bytes; measured only through python_measured


def measured(command: list, env: dict | None = None) -> Run:
    """Run a command in a child process and time it; its failure stops the benchmark with its stderr."""
    started = time.perf_counter()
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=PROJECT,
                          env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Run(seconds, done.stdout)


def python_measured(args: list, env: dict | None = None) -> Run:
    """Run `python -m builders.bench.rss ARGS...`: ARGS in a fresh process that reports its own peak RSS."""
    run = measured([sys.executable, "-m", "builders.bench.rss", *args], env)
    *lines, last = run.stdout.rstrip().splitlines()
    return Run(run.seconds, "\n".join(lines), int(last.removeprefix("peak_rss_bytes=")))


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


# ---- one dataset ------------------------------------------------------------------------------------------

def bench_dataset(name: str, size: float, work: Path, hub) -> dict:
    from builders import builder_class
    from builders.cards import load_card_metadata
    from builders.samples import make_sample

    config = builder_class(name).DEFAULT_CONFIG_NAME
    records = max(1, int(BASE_RECORDS.get(name, 100) * size))
    raw1, raw10 = work / "raw" / f"{name}-1x", work / "raw" / f"{name}-10x"
    for raw, scale in ((raw1, records), (raw10, records * 10)):
        if not (raw / ".complete").exists():
            shutil.rmtree(raw, ignore_errors=True)
            make_sample(name, raw, scale=scale)
            (raw / ".complete").touch()
    out = work / "out" / name
    result = {"config": config, "records": records}

    def build(raw, target, num_proc=1) -> tuple[Run, dict]:
        shutil.rmtree(target, ignore_errors=True)
        run = python_measured([SCRIPTS / "build.py", name, "--data-dir", raw, "--output", target, "--config", config,
                               "--num-proc", num_proc, "--quiet"])
        return run, json.loads((target / "build_report.json").read_text())

    one, report = build(raw1, out)
    rows = sum(s["rows"] for s in report["configs"][config]["splits"].values())
    raw_bytes = sum(i["bytes"] for i in report["inputs"])
    inputs = [str(raw1 / i["path"].rstrip("/")) for i in report["inputs"]]
    two, _ = build(raw1, work / "out" / f"{name}-np2", num_proc=2)
    ten, report10 = build(raw10, work / "out" / f"{name}-10x")
    rows10 = sum(s["rows"] for s in report10["configs"][config]["splits"].values())
    limit = python_measured(["-m", "builders.bench.limit", work / "out" / f"{name}-limit", *inputs])
    result["build"] = {"rows": rows, "raw_bytes": raw_bytes, "seconds": one.seconds,
                       "rows_per_s": rows / one.seconds, "mb_per_s": raw_bytes / one.seconds / 1e6,
                       "peak_rss_1x": one.peak_rss, "peak_rss_10x": ten.peak_rss, "rows_10x": rows10,
                       "seconds_10x": ten.seconds, "num_proc_2_seconds": two.seconds}
    result["limit_seconds"] = limit.seconds
    result["vs_limit"] = limit.seconds / one.seconds
    result["rss_growth"] = ten.peak_rss / one.peak_rss
    result["num_proc_speedup"] = one.seconds / two.seconds
    if importlib.util.find_spec(f"builders.bench.usual_{name}") is not None:
        usual = python_measured(["-m", f"builders.bench.usual_{name}", raw1, work / "out" / f"{name}-usual"])
        result["usual_seconds"] = usual.seconds
        result["vs_usual"] = usual.seconds / one.seconds
    repo = f"bench/{load_card_metadata(name)['repo_name']}"
    result["publish"] = bench_publish(out, repo, hub)
    result["load"] = python_measured(["-m", "builders.bench.load", repo, config, out], env=hub.env).stdout
    result["load"] = json.loads(result["load"])
    return result


def bench_publish(folder: Path, repo: str, hub) -> dict:
    """Publish, then a raw PUT of the same bytes, then a re-publish of the unchanged folder."""
    size = folder_bytes(folder)
    puts_before = hub.lfs_puts()
    first = measured([sys.executable, SCRIPTS / "publish.py", folder, "--repo", repo, "--quiet"], env=hub.env)
    head = hub.head(repo)
    puts_after_first = hub.lfs_puts()
    again = measured([sys.executable, SCRIPTS / "publish.py", folder, "--repo", repo], env=hub.env)
    republish = {"republish_lfs_puts": hub.lfs_puts() - puts_after_first, "republish_committed": hub.head(repo) != head,
                 "republish_seconds": again.seconds, "republish_said_no_commit": "no commit" in again.stdout}
    put_seconds = hub.raw_put_seconds(folder, repo)
    return {"bytes": size, "seconds": first.seconds, "mb_per_s": size / first.seconds / 1e6,
            "raw_put_seconds": put_seconds, "vs_put": put_seconds / first.seconds,
            "lfs_puts": puts_after_first - puts_before, **republish}


class BenchHub:
    """A local Hub server for the run, with its access log (to count uploads) and raw PUTs."""

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

    def lfs_puts(self) -> int:
        return len(re.findall(r'"PUT /_lfs/', self.log_path.read_text()))

    def head(self, repo: str) -> str:
        import httpx2 as httpx

        return httpx.get(f"{self.endpoint}/api/datasets/{repo}", headers=self._auth()).json()["sha"]

    def _auth(self) -> dict:
        return {"authorization": f"Bearer {self.token}"}

    def raw_put_seconds(self, folder: Path, repo: str) -> float:
        """The same bytes sent as LFS PUTs to the same server, with no client library in between.

        Hashing is included (any upload must name its content); the objects go to a scratch repo's
        batch so the server has to store them again rather than skip them.
        """
        import httpx2 as httpx

        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        started = time.perf_counter()
        salt = os.urandom(8)  # fresh oids: the server must receive every byte
        objects = []
        for path in files:
            data = path.read_bytes() + salt
            objects.append((data, hashlib.sha256(data).hexdigest()))
        with httpx.Client(timeout=600) as client:
            batch = client.post(f"{self.endpoint}/datasets/{repo}.git/info/lfs/objects/batch", headers={
                **self._auth(), "content-type": "application/vnd.git-lfs+json"}, json={
                "operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                "objects": [{"oid": oid, "size": len(data)} for data, oid in objects]}).json()
            actions = {o["oid"]: o["actions"]["upload"]["href"] for o in batch["objects"] if o.get("actions")}
            for data, oid in objects:
                client.put(actions[oid], content=data).raise_for_status()
        return time.perf_counter() - started


# ---- the whole run ------------------------------------------------------------------------------------------

def run(datasets: list[str], size: float, work: Path, results_path: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    hub = BenchHub(work)
    results = {"machine": machine(), "size": size, "goals": GOALS, "datasets": {}}
    try:
        for name in datasets:
            print(f"benchmarking {name} ...", flush=True)
            results["datasets"][name] = bench_dataset(name, size, work, hub)
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(results, indent=1) + "\n")
    finally:
        hub.close()
    return results


def table(results: dict) -> str:
    head = ("| dataset | rows | build rows/s | MB/s | vs limit | vs usual | peak RSS 1x → 10x | num-proc 2 "
            "| publish MB/s (vs PUT) | re-publish | load: first row | scan rows/s (pyarrow) |")
    lines = [head, "|" + "---|" * 12]
    for name, r in results["datasets"].items():
        b, p, l = r["build"], r["publish"], r["load"]
        republish = "no upload, no commit" if not p["republish_committed"] and not p["republish_lfs_puts"] else \
            f"{p['republish_lfs_puts']} uploads, commit={p['republish_committed']}"
        usual = f"{r['vs_usual']:.1f}x" if "vs_usual" in r else "n/a"
        lines.append(
            f"| {name} ({r['config']}) | {b['rows']} | {b['rows_per_s']:,.0f} | {b['mb_per_s']:.0f} | {r['vs_limit']:.2f} "
            f"| {usual} | {b['peak_rss_1x'] / 2**20:.0f} → {b['peak_rss_10x'] / 2**20:.0f} MiB ({r['rss_growth']:.2f}x) "
            f"| {r['num_proc_speedup']:.2f}x | {p['mb_per_s']:.0f} ({p['vs_put']:.2f}) | {republish} "
            f"| {l['first_row_seconds']:.2f} s | {l['scan_rows_per_s']:,.0f} ({l['pyarrow_rows_per_s']:,.0f}) |")
    m = results["machine"]
    lines.append(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
                 f"size {results['size']}.")
    return "\n".join(lines)
