"""Crash safety: builds and publishes killed with SIGKILL at chosen moments, and commits racing a publish.

A killed build must leave nothing that looks complete (no README.md, no build_report.json, no partial
Parquet file under a final name, no worker still writing) and its rerun must give the same files as an
uninterrupted build. A killed publish must leave the repository as it was, and its rerun must send only
the files the Hub does not have yet (counted in the local Hub's access log). The kills are real SIGKILLs
of real scripts/build.py and scripts/publish.py processes; for the publish, the kill is triggered from
inside huggingface_hub's upload function so that it lands after a known number of uploads. A publish in
batches is killed after a known number of commits to its pull request: main keeps the old build, and the rerun
resumes the pull request (uploading only what the Hub lacks, committing only the batches left) and merges it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from builders.hub import publish as publishing
from builders.errors import UsageError
from builders.samples import flickr30k_entities as sample
from conftest import PROJECT, free_port, start_local_hub, stop_local_hub
from helpers import assert_same_build

SCRIPTS = PROJECT / "scripts"
SHARD_BYTES = 8_000  # one shard job per image: about a hundred jobs to be killed among
BUILD_WITH_SMALL_SHARDS = f"""import runpy, sys
sys.path.insert(0, {str(SCRIPTS)!r})
import builders.flickr30k_entities as module
module.Flickr30kEntities.SHARD_BYTES = {SHARD_BYTES}
sys.argv = ["build.py", *sys.argv[1:]]
runpy.run_path({str(SCRIPTS / "build.py")!r}, run_name="__main__")
"""
PUBLISH_KILLED_AFTER_UPLOADS = f"""import os, runpy, signal, sys, threading
sys.path.insert(0, {str(SCRIPTS)!r})
import huggingface_hub._commit_api as commit_api
upload, done, lock = commit_api.lfs_upload, [0], threading.Lock()

def upload_then_die(**kwargs):  # the fault: SIGKILL once this many uploads are complete
    upload(**kwargs)
    with lock:
        done[0] += 1
        if done[0] == int(os.environ["KILL_AFTER_UPLOADS"]):
            os.kill(os.getpid(), signal.SIGKILL)

commit_api.lfs_upload = upload_then_die
sys.argv = ["publish.py", *sys.argv[1:]]
runpy.run_path({str(SCRIPTS / "publish.py")!r}, run_name="__main__")
"""
PUBLISH_KILLED_AFTER_COMMITS = f"""import os, runpy, signal, sys
sys.path.insert(0, {str(SCRIPTS)!r})
from huggingface_hub import HfApi
commit, done = HfApi.create_commit, [0]

def commit_then_die(self, *args, **kwargs):  # the fault: SIGKILL once this many batches are on the pull request
    result = commit(self, *args, **kwargs)
    done[0] += 1
    if done[0] == int(os.environ["KILL_AFTER_COMMITS"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return result

HfApi.create_commit = commit_then_die
sys.argv = ["publish.py", *sys.argv[1:]]
runpy.run_path({str(SCRIPTS / "publish.py")!r}, run_name="__main__")
"""


# ---- builds -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def raw_tree(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    sample.make(raw, scale=30)
    return raw


@pytest.fixture(scope="module")
def reference(raw_tree, tmp_path_factory):
    """The same build, never interrupted."""
    out = tmp_path_factory.mktemp("reference")
    process = start_build(raw_tree, out)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return out


def start_build(raw: Path, out: Path, *extra) -> subprocess.Popen:
    arguments = ["flickr30k_entities", "--data-dir", raw, "--output", out, "--quiet", *extra]
    return subprocess.Popen([sys.executable, "-c", BUILD_WITH_SMALL_SHARDS, *map(str, arguments)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=PROJECT)


def markers(out: Path) -> list[Path]:
    return sorted((out / ".staging").rglob("*.done.json"))


def children_of(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that ended since the listing (each shard job has a writer thread)
            continue
    return children


def kill_when(process: subprocess.Popen, out: Path, moment) -> list[int]:
    """SIGKILL the build (its main process only, as `kill -9 PID` or the OOM killer would) when `moment(out)`;
    return the worker processes it had."""
    while not moment(out):
        assert process.poll() is None, f"the build ended before the kill: {process.stderr.read()}"
        time.sleep(0.001)
    workers = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return workers


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()]


def assert_nothing_looks_complete(out: Path) -> None:
    """No completion marker of the folder; every Parquet file under a final name and every part a job marked
    done is whole (its footer reads, its rows are there)."""
    assert not (out / "README.md").exists() and not (out / "build_report.json").exists()
    for part in out.glob("*/*.parquet"):
        pq.read_table(part)
    for marker in markers(out):
        result = json.loads(marker.read_text())
        rows = sum(pq.read_table(marker.parent / part).num_rows for part in result["parts"])
        assert rows == result["rows"], marker


def rerun(raw: Path, out: Path, *extra) -> int:
    """Rerun the killed build to its end; the number of shard jobs it found complete."""
    process = start_build(raw, out, *extra)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return len(markers(out))  # 0: the staging area is gone once the build is complete


KILL_POINTS = {
    "after the first job": lambda out: len(markers(out)) >= 1,
    "after 40 jobs": lambda out: len(markers(out)) >= 40,
    "after 80 jobs": lambda out: len(markers(out)) >= 80,  # leaves a margin before the end on a loaded machine
}


@pytest.mark.parametrize("num_proc", [1, 2])
@pytest.mark.parametrize("moment", KILL_POINTS)
def test_a_build_killed_mid_way_resumes_to_the_same_files(raw_tree, reference, tmp_path, moment, num_proc):
    out = tmp_path / "out"
    process = start_build(raw_tree, out, "--num-proc", num_proc)
    workers = kill_when(process, out, KILL_POINTS[moment])
    try:
        deadline = time.monotonic() + 3
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(workers), "worker processes outlived the killed build and may still write to its folder"
    finally:
        for pid in alive(workers):  # the orphans this test made: stop them, by their ids
            os.kill(pid, signal.SIGKILL)
    done = len(markers(out))
    assert_nothing_looks_complete(out)
    assert rerun(raw_tree, out) == 0 and done > 0
    assert_same_build(out, reference)


def test_a_killed_worker_fails_the_build_clearly_and_the_rerun_completes(raw_tree, reference, tmp_path):
    out = tmp_path / "out"
    process = start_build(raw_tree, out, "--num-proc", "2")
    while len(markers(out)) < 20:
        assert process.poll() is None
        time.sleep(0.001)
    os.kill(children_of(process.pid)[0], signal.SIGKILL)  # as the OOM killer would pick a worker
    assert process.wait(timeout=60) == 1
    stderr = process.stderr.read()
    assert "a worker process of the build died" in stderr and "Traceback" not in stderr, stderr
    assert_nothing_looks_complete(out)
    rerun(raw_tree, out)
    assert_same_build(out, reference)


def test_a_rebuild_killed_mid_way_no_longer_looks_complete(raw_tree, reference, tmp_path):
    """Killing the rebuild of a complete folder removes its completeness before anything else changes."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / "entities" / "train-00000-of-00032.parquet").touch()  # the rebuild must rewrite it
    process = start_build(raw_tree, out)
    kill_when(process, out, lambda folder: len(markers(folder)) >= 10)
    assert_nothing_looks_complete(out)
    rerun(raw_tree, out)
    assert_same_build(out, reference)


# ---- publishes ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def logged_hub(tmp_path_factory):
    """A local Hub of this module's own, with its access log: one line per request."""
    root = tmp_path_factory.mktemp("hub")
    log = root.parent / "hub-access.log"
    hub = start_local_hub(root / "data", free_port(), log_path=log, access_log=True)
    hub.log = log
    yield hub
    stop_local_hub(hub)


@pytest.fixture(scope="module")
def built(samples):
    """A small Flickr30K build (conftest's samples, at scale 3), which each test copies before publishing it."""
    return samples.build("flickr30k_entities", scale=3).out


UPLOAD = re.compile(r'"PUT /_lfs/([0-9a-f]{64})\?[^"]*" (\d{3})')


def uploads(hub, since: int) -> list[tuple[str, int]]:
    """(oid, HTTP status) of the LFS uploads the hub received after byte `since` of its log."""
    with open(hub.log, "rb") as log:
        log.seek(since)
        return [(oid, int(status)) for oid, status in UPLOAD.findall(log.read().decode())]


def stored_blobs(hub) -> set[str]:
    return {p.name for p in (hub.root / "blobs").glob("*/*")}


def publish_process(hub, folder: Path, repo: str, kill_after: int | None = None, *options: str,
                    kill_after_commits: int | None = None) -> subprocess.CompletedProcess:
    script = ["-c", PUBLISH_KILLED_AFTER_UPLOADS] if kill_after else \
        ["-c", PUBLISH_KILLED_AFTER_COMMITS] if kill_after_commits else [str(SCRIPTS / "publish.py")]
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, "KILL_AFTER_UPLOADS": str(kill_after),
           "KILL_AFTER_COMMITS": str(kill_after_commits)}
    return subprocess.run([sys.executable, *script, str(folder), "--repo", repo, "--quiet", *options],
                          capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_publish_killed_after_some_uploads_changes_nothing_and_the_rerun_sends_the_rest(logged_hub, built,
                                                                                           tmp_path):
    repo = "crash/flickr30k-entities"
    first = tmp_path / "first"
    shutil.copytree(built, first)
    for config in ("entities", "karpathy"):  # an earlier, smaller publication of the same dataset
        shutil.rmtree(first / config)
    report = json.loads((first / "build_report.json").read_text())
    report["configs"] = {"captions": report["configs"]["captions"]}
    (first / "build_report.json").write_text(json.dumps(report))
    assert publish_process(logged_hub, first, repo).returncode == 0
    api = logged_hub.api()
    before = api.repo_info(repo, repo_type="dataset", files_metadata=True)

    folder = tmp_path / "second"
    shutil.copytree(built, folder)
    parquet = {p.relative_to(folder).as_posix(): sha256(p) for p in folder.rglob("*.parquet")}
    new = {oid for oid in parquet.values() if oid not in stored_blobs(logged_hub)}
    log_start = logged_hub.log.stat().st_size
    killed = publish_process(logged_hub, folder, repo, kill_after=3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after_kill = api.repo_info(repo, repo_type="dataset", files_metadata=True)
    assert after_kill.sha == before.sha  # no commit, partial or whole
    assert [(s.rfilename, s.blob_id) for s in after_kill.siblings] == [(s.rfilename, s.blob_id) for s in before.siblings]
    sent_before_kill = {oid for oid, status in uploads(logged_hub, log_start) if status == 200}
    assert len(sent_before_kill) >= 3 and sent_before_kill <= new
    missing = new - stored_blobs(logged_hub)

    log_start = logged_hub.log.stat().st_size
    done = publish_process(logged_hub, folder, repo)
    assert done.returncode == 0, done.stderr
    resent = uploads(logged_hub, log_start)
    assert sorted(oid for oid, _ in resent) == sorted(missing), "the rerun must send exactly what the Hub lacks"
    info = api.repo_info(repo, repo_type="dataset", files_metadata=True)
    assert info.sha != before.sha
    remote = {s.rfilename: s.lfs.sha256 for s in info.siblings if s.lfs}
    assert remote == parquet
    assert {s.rfilename for s in info.siblings} >= {"README.md", "build_report.json"}


COMMIT = re.compile(r'"POST /api/datasets/crash/batched/(commit/\S+|discussions/\d+/merge) HTTP/1.1" (\d{3})')


def test_a_batched_publish_killed_after_some_batches_resumes_its_pull_request(logged_hub, built, tmp_path):
    """2 files per commit: the build's 11 files are 6 batches on a pull request, killed after the 3rd."""
    repo, api = "crash/batched", logged_hub.api()
    folder = tmp_path / "built"
    shutil.copytree(built, folder)
    parquet = {p.relative_to(folder).as_posix(): sha256(p) for p in folder.rglob("*.parquet")}
    assert len(parquet) == 9
    new = set(parquet.values()) - stored_blobs(logged_hub)
    log_start = logged_hub.log.stat().st_size
    killed = publish_process(logged_hub, folder, repo, None, "--files-per-commit", "2", kill_after_commits=3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert api.list_repo_files(repo, repo_type="dataset") == []  # main: nothing, not a part of the build
    [pr] = api.get_repo_discussions(repo, repo_type="dataset")
    assert (pr.num, pr.status) == (1, "draft")
    on_pr = api.list_repo_commits(repo, repo_type="dataset", revision="refs/pr/1")
    assert [c.title for c in on_pr] == [f"Publish flickr30k_entities: batch {n} of 6" for n in (3, 2, 1)] + \
        ["initial commit"]
    committed_before = {s.lfs.sha256 for s in api.repo_info(repo, repo_type="dataset", revision="refs/pr/1",
                                                              files_metadata=True).siblings if s.lfs}
    assert len(committed_before) == 6 and committed_before <= stored_blobs(logged_hub)
    missing = new - stored_blobs(logged_hub)

    log_start = logged_hub.log.stat().st_size
    done = publish_process(logged_hub, folder, repo, None, "--files-per-commit", "2")
    assert done.returncode == 0, done.stderr
    assert sorted(oid for oid, _ in uploads(logged_hub, log_start)) == sorted(missing), \
        "the rerun must send exactly what the Hub lacks"
    with open(logged_hub.log, "rb") as log:
        log.seek(log_start)
        commits = [what.split("/")[0] for what, status in COMMIT.findall(log.read().decode()) if status == "200"]
    assert commits == ["commit"] * 3 + ["discussions"]  # the 3 batches left (2, 2 and 1 changes), then the merge
    info = api.repo_info(repo, repo_type="dataset", files_metadata=True)
    assert {s.rfilename: s.lfs.sha256 for s in info.siblings if s.lfs} == parquet
    assert {s.rfilename for s in info.siblings} == set(parquet) | {"README.md", "build_report.json", "croissant.json"}
    assert [c.title for c in api.list_repo_commits(repo, repo_type="dataset")] == \
        ["Merge pull request #1: Publish flickr30k_entities", "initial commit"]
    assert [(d.num, d.status) for d in api.get_repo_discussions(repo, repo_type="dataset")] == [(1, "merged")]


class RacingApi(HfApi):
    """The real client, with another publisher's commit landing at one chosen moment of ours."""

    moment: str = ""
    other: HfApi | None = None
    repo: str = ""

    def _others_commit(self):
        self.other.upload_file(path_or_fileobj=b"theirs", path_in_repo="theirs.txt", repo_id=self.repo,
                               repo_type="dataset")

    def create_repo(self, repo_id, **kwargs):
        if self.moment == "before our create_repo":
            self.other.create_repo(repo_id, repo_type="dataset")
            self._others_commit()
        result = super().create_repo(repo_id, **kwargs)
        if self.moment == "right after our create_repo":
            self._others_commit()
        return result

    def create_commit(self, *args, **kwargs):
        if self.moment == "before our commit":
            self._others_commit()
        return super().create_commit(*args, **kwargs)


@pytest.mark.parametrize("moment", ["before our create_repo", "right after our create_repo", "before our commit"])
def test_a_commit_landing_while_a_new_repository_is_published_is_never_clobbered(logged_hub, built, tmp_path,
                                                                                  monkeypatch, moment):
    repo = f"race/new-{moment.replace(' ', '-').replace('_', '-')}"
    monkeypatch.setattr(RacingApi, "moment", moment)
    monkeypatch.setattr(RacingApi, "other", logged_hub.api())
    monkeypatch.setattr(RacingApi, "repo", repo)
    monkeypatch.setattr(publishing, "HfApi", RacingApi)
    monkeypatch.setenv("HF_ENDPOINT", logged_hub.endpoint)
    folder = tmp_path / "built"
    shutil.copytree(built, folder)
    with pytest.raises(UsageError, match=rf"{repo} changed while publishing .*nothing was committed"):
        publishing.publish(folder, repo, token=logged_hub.token, log=lambda *a: None)
    files = logged_hub.api().list_repo_files(repo, repo_type="dataset")
    assert set(files) - {".gitattributes"} == {"theirs.txt"}
    monkeypatch.setattr(publishing, "HfApi", HfApi)
    publishing.publish(folder, repo, token=logged_hub.token, log=lambda *a: None)  # the rerun, on top of theirs
    files = logged_hub.api().list_repo_files(repo, repo_type="dataset")
    assert "theirs.txt" in files and "README.md" in files
