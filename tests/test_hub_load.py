"""The local Hub under attack and under load: every write route needs the token (a signed-in browser's
cookie is not enough), no request path reads outside a repository, and 20 downloading clients with one
publisher committing all along run for a minute with no error and every byte intact.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, hf_hub_download

from builders.hub.server import LocalHub
from conftest import HUB_TOKEN, PROJECT, _wait_for_port, free_port, stop_local_hub
from conftest import LocalHub as RunningHub
from helpers import raw_request

LOAD_SECONDS = float(os.environ.get("MM_HUB_LOAD_SECONDS", "60"))
DOWNLOADERS = 20
# huggingface_hub's HTTP client warns on every commit about its own use of httpx2 (not ours to fix)
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A local Hub logging every request, whose commit rate limit (128 per repository per hour, as the Hub's)
    is raised: the publisher below commits several times a second."""
    root = tmp_path_factory.mktemp("load-hub")
    port, log = free_port(), root / "hub.log"
    with open(log, "ab") as output:
        process = subprocess.Popen([sys.executable, str(PROJECT / "scripts" / "local_hub.py"), "--port", str(port),
                                    "--root", str(root / "data"), "--token", HUB_TOKEN, "--commit-rate", "100000/3600"],
                                   stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT)
    _wait_for_port(port, process)
    hub = RunningHub(f"http://127.0.0.1:{port}", HUB_TOKEN, root / "data", process)
    hub.log = log
    yield hub
    stop_local_hub(hub)


def request(hub, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    return raw_request(hub.endpoint, method, path, body, headers)


# ---- writes need the token ---------------------------------------------------------------------------------

def write_requests(repo: str) -> dict[str, tuple[str, str, bytes]]:
    """A well-formed request to every write route, by handler name: only the credentials are missing."""
    oid = hashlib.sha256(b"x").hexdigest()
    return {
        "create_repo": ("POST", "/api/repos/create", json.dumps({"name": "sneaky", "organization": "load",
                                                                 "type": "dataset"}).encode()),
        "delete_repo": ("DELETE", "/api/repos/delete", json.dumps({"name": repo.split("/")[1],
                                                                   "organization": "load", "type": "dataset"}).encode()),
        "update_settings": ("PUT", f"/api/datasets/{repo}/settings", json.dumps({"visibility": "private"}).encode()),
        "create_branch": ("POST", f"/api/datasets/{repo}/branch/sneaky", b"{}"),
        "preupload": ("POST", f"/api/datasets/{repo}/preupload/main",
                      json.dumps({"files": [{"path": "a.txt", "size": 1, "sample": "eA=="}]}).encode()),
        "lfs_batch": ("POST", f"/datasets/{repo}.git/info/lfs/objects/batch",
                      json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": 1}]}).encode()),
        "commit": ("POST", f"/api/datasets/{repo}/commit/main",
                   b'{"key": "header", "value": {"summary": "sneaky"}}\n'
                   b'{"key": "file", "value": {"path": "sneaky.txt", "content": "eA==", "encoding": "base64"}}\n'),
        "create_tag": ("POST", f"/api/datasets/{repo}/tag/main", json.dumps({"tag": "sneaky"}).encode()),
        "delete_tag": ("DELETE", f"/api/datasets/{repo}/tag/v1", b""),
        "discussions": ("POST", f"/api/datasets/{repo}/discussions",
                        json.dumps({"title": "sneaky", "description": "x", "pullRequest": True}).encode()),
        "change_discussion_status": ("POST", f"/api/datasets/{repo}/discussions/1/status",
                                     json.dumps({"status": "closed"}).encode()),
        "merge_pull_request": ("POST", f"/api/datasets/{repo}/discussions/1/merge", b"{}"),
    }


NOT_WRITES = {"validate_yaml": "checks a card, stores nothing", "paths_info": "a read sent as a form",
              "login": "checks the token itself", "logout": "drops the browser's cookie",
              "lfs_upload": "needs the signature the LFS batch route gives token holders"}


def test_every_write_route_needs_the_token(hub, tmp_path):
    repo = "load/guarded"
    hub.api().create_repo(repo, repo_type="dataset")
    hub.api().create_tag(repo, tag="v1", repo_type="dataset")
    pr = hub.api().create_pull_request(repo, title="a pull request", repo_type="dataset")
    hub.api().change_discussion_status(repo, pr.num, "open", repo_type="dataset")
    before = hub.api().repo_info(repo, repo_type="dataset")
    routes = {r.handler.__name__ for r in LocalHub(tmp_path / "scratch", "t").routes if r.methods - {"GET", "HEAD"}}
    assert routes == set(write_requests(repo)) | set(NOT_WRITES), "a route was added: say whether it writes"
    status, headers, _ = request(hub, "POST", "/login", f"token={hub.token}".encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    cookie = headers["Set-Cookie"].split(";")[0]
    assert status == 303 and request(hub, "GET", f"/api/datasets/{repo}", headers={"Cookie": cookie})[0] == 200
    for name, (method, path, body) in write_requests(repo).items():
        for credentials in ({}, {"Authorization": "Bearer hf_not_the_token"}, {"Cookie": cookie}):
            status, _, answer = request(hub, method, path, body, credentials)
            assert status == 401, (name, credentials, status, answer)
    for name in ("preupload", "lfs_batch"):  # the requests are well formed: with the token (and no effect) they pass
        method, path, body = write_requests(repo)[name]
        assert request(hub, method, path, body, {"Authorization": f"Bearer {hub.token}"})[0] == 200, name
    after = hub.api().repo_info(repo, repo_type="dataset")
    assert (after.sha, after.private, hub.api().repo_exists("load/sneaky", repo_type="dataset")) == \
        (before.sha, before.private, False)
    refs = hub.api().list_repo_refs(repo, repo_type="dataset", include_pull_requests=True)
    assert [t.name for t in refs.tags] == ["v1"] and [p.ref for p in refs.pull_requests] == ["refs/pr/1"]
    assert [(d.num, d.status) for d in hub.api().get_repo_discussions(repo, repo_type="dataset")] == [(1, "open")]


def test_no_read_path_reaches_outside_the_repositories(hub, tmp_path):
    repo = "load/reads"
    hub.api().create_repo(repo, repo_type="dataset")
    hub.api().upload_file(path_or_fileobj=b"inside", path_in_repo="a/inside.txt", repo_id=repo, repo_type="dataset")
    secret = f"OUTSIDE-{random.random()}".encode()
    (hub.root.parent / "outside.txt").write_bytes(secret)
    for path in ("/datasets/load/reads/resolve/main/..%2F..%2F..%2F..%2Foutside.txt",
                 "/datasets/load/reads/resolve/main/a/../../../../../outside.txt",
                 "/datasets/load/reads/resolve/..%2F..%2F..%2Fblobs/a/inside.txt",
                 "/api/datasets/load/reads/tree/main/..%2F..",
                 "/api/datasets/load/reads/tree/..%2F../a",
                 "/datasets/load/reads/resolve/main/%2Fetc%2Fpasswd",
                 "/datasets/..%2F..%2Frepos/datasets/load/reads/resolve/main/a/inside.txt"):
        status, _, body = request(hub, "GET", path)
        assert status in (400, 404) and secret not in body and b"root:" not in body, (path, status, body)
    assert request(hub, "GET", "/datasets/load/reads/resolve/main/a/inside.txt")[2] == b"inside"


# ---- load ------------------------------------------------------------------------------------------------------

def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Publisher(threading.Thread):
    """Commits a new version of live/ again and again: each commit's files are remembered with their hashes."""

    def __init__(self, hub, repo: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.api, self.repo, self.stop = hub.api(), repo, stop
        self.versions: dict[str, dict[str, str]] = {}   # commit sha -> {path: sha256} of live/
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def run(self):
        rng, previous = random.Random(1), []
        while not self.stop.is_set():
            try:
                round_file = f"live/round-{len(self.versions):04d}.bin"
                files = {round_file: rng.randbytes(rng.randrange(100_000, 600_000)),
                         "live/latest.txt": f"round {len(self.versions)}\n".encode()}
                operations = [CommitOperationAdd(path, data) for path, data in files.items()]
                operations += [CommitOperationDelete(path) for path in previous]
                commit = self.api.create_commit(self.repo, operations, commit_message="a round",
                                                repo_type="dataset")
                with self.lock:
                    self.versions[commit.oid] = {path: digest(data) for path, data in files.items()}
                previous = [round_file]
            except Exception as error:  # every failure is a finding: collected, then asserted empty
                self.errors.append(f"publisher: {type(error).__name__}: {error}")

    def some_version(self, rng) -> tuple[str, dict[str, str]] | None:
        with self.lock:
            return rng.choice(list(self.versions.items())) if self.versions else None


class Downloader(threading.Thread):
    """A client reading stable files at main and live files at commits the publisher made, checking every byte."""

    def __init__(self, hub, repo: str, stable: dict[str, str], publisher: Publisher, cache: Path, seed: int,
                 stop: threading.Event):
        super().__init__(daemon=True)
        self.hub, self.repo, self.stable, self.publisher, self.cache = hub, repo, stable, publisher, cache
        self.rng, self.stop = random.Random(seed), stop
        self.api = hub.api()
        self.downloads, self.listings, self.errors = 0, 0, []

    def check(self, path: str, revision: str, expected: str) -> None:
        local = hf_hub_download(self.repo, path, repo_type="dataset", revision=revision, cache_dir=self.cache,
                                force_download=True, token=self.hub.token, endpoint=self.hub.endpoint)
        actual = digest(Path(local).read_bytes())
        if actual != expected:
            self.errors.append(f"{path}@{revision[:8]}: sha256 {actual} instead of {expected}")
        self.downloads += 1

    def run(self):
        while not self.stop.is_set():
            try:
                choice = self.rng.random()
                version = self.publisher.some_version(self.rng)
                if choice < 0.5 or version is None:
                    path = self.rng.choice(sorted(self.stable))
                    self.check(path, "main", self.stable[path])
                elif choice < 0.85:
                    sha, files = version
                    path = self.rng.choice(sorted(files))
                    self.check(path, sha, files[path])
                else:
                    present = set(self.api.list_repo_files(self.repo, repo_type="dataset"))
                    if not set(self.stable) <= present:
                        self.errors.append(f"main lists {sorted(present)}, without every stable file")
                    self.listings += 1
            except Exception as error:
                self.errors.append(f"{type(error).__name__}: {error}")


def test_20_downloaders_and_a_publisher_for_a_minute(hub, tmp_path):
    repo = "load/busy"
    api = hub.api()
    api.create_repo(repo, repo_type="dataset")
    rng = random.Random(7)
    stable = {f"data/part-{n}.parquet": rng.randbytes(rng.randrange(50_000, 2_000_000)) for n in range(8)}
    stable |= {f"notes/{n}.txt": f"note {n}\n".encode() * (n + 1) for n in range(4)}
    api.create_commit(repo, [CommitOperationAdd(path, data) for path, data in stable.items()],
                      commit_message="stable files", repo_type="dataset")
    stable_hashes = {path: digest(data) for path, data in stable.items()}

    stop = threading.Event()
    publisher = Publisher(hub, repo, stop)
    downloaders = [Downloader(hub, repo, stable_hashes, publisher, tmp_path / f"client-{n}", n, stop)
                   for n in range(DOWNLOADERS)]
    log_start = hub.log.stat().st_size
    publisher.start()
    for downloader in downloaders:
        downloader.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for thread in [publisher, *downloaders]:
        thread.join(timeout=120)
        assert not thread.is_alive()

    errors = publisher.errors + [e for d in downloaders for e in d.errors]
    assert not errors, errors[:10]
    downloads = sum(d.downloads for d in downloaders)
    assert len(publisher.versions) >= 5 and downloads >= 100 and all(d.downloads for d in downloaders), \
        (len(publisher.versions), [d.downloads for d in downloaders])
    log = hub.log.read_bytes()[log_start:].decode()
    assert "Traceback" not in log and not re.search(r'" 5\d\d ', log), "the hub answered a request with an error"
    # the repository is whole at the end: every file of main, read back, has the bytes last committed
    final = publisher.versions[api.repo_info(repo, repo_type="dataset").sha]
    for path, expected in {**stable_hashes, **final}.items():
        local = hf_hub_download(repo, path, repo_type="dataset", cache_dir=tmp_path / "final", token=hub.token,
                                endpoint=hub.endpoint)
        assert digest(Path(local).read_bytes()) == expected, path
    print(f"\nhub load: {downloads} downloads, {sum(d.listings for d in downloaders)} listings, "
          f"{len(publisher.versions)} commits in {LOAD_SECONDS:.0f} s by {DOWNLOADERS} clients")
