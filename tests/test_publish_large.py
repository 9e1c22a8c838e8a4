"""Publishing at the Hub's scale, against local Hubs whose limits are made small with local_hub.py's flags
(a handful of files per folder and per commit, a few commits per window), so that a sample build takes the
large path: batches committed to a pull request merged into main in one step.

Also here: the checks made before anything is uploaded (folder entries, files per repository), the commit
rate limit (waited out, or a clear stop), a Hub answering 503, the LFS fallback of a client with hf_xet
installed, release tags, the gating mode, and cards edited on the Hub.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from builders import flickr30k_entities as f30k
from builders import pipeline
from builders.errors import UsageError
from builders.hub import publish as publishing
from builders.hub import subsets
from builders.pipeline import build
from builders.samples import flickr30k_entities as sample
from conftest import HUB_TOKEN, PROJECT, LocalHub, _wait_for_port, free_port, stop_local_hub

FILES_PER_COMMIT = 5
LIMITS = ["--max-folder-entries", "6", "--max-lfs-files-per-commit", str(FILES_PER_COMMIT),
          "--max-regular-bytes-per-commit", "1000000"]
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def hub_with(tmp_path_factory, name: str, *flags: str) -> LocalHub:
    """scripts/local_hub.py with some of the Hub's limits lowered by its flags, logging every request."""
    root = tmp_path_factory.mktemp(name)
    port, log = free_port(), root / "hub.log"
    with open(log, "ab") as output:
        process = subprocess.Popen([sys.executable, str(PROJECT / "scripts" / "local_hub.py"), "--port", str(port),
                                    "--root", str(root / "data"), "--token", HUB_TOKEN, *flags],
                                   stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT)
    _wait_for_port(port, process)
    hub = LocalHub(f"http://127.0.0.1:{port}", HUB_TOKEN, root / "data", process)
    hub.log = log
    return hub


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    """At most 6 entries per folder (the root holds 3 configs, README.md, build_report.json and croissant.json)
    and 5 LFS files per commit."""
    hub = hub_with(tmp_path_factory, "small-hub", *LIMITS)
    yield hub
    stop_local_hub(hub)


def make_build(out: Path, raw: Path, nested: bool, configs=None) -> Path:
    """The Flickr30K Entities sample, one part per image: 7 parts per config. `nested` builds it as a config of
    more parts than a folder may hold is built (pipeline limits made small): parts in sub-folders of 2."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(f30k.Flickr30kEntities, "SHARD_BYTES", 8_000)
        if nested:
            patch.setattr(pipeline, "MAX_FOLDER_ENTRIES", 4)
            patch.setattr(pipeline, "PARTS_PER_SUBFOLDER", 2)
        build("flickr30k_entities", raw, out, configs=configs, progress=False, log=lambda *a: None)
    return out


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    sample.make(raw, scale=3)
    return raw


@pytest.fixture(scope="module")
def nested(raw, tmp_path_factory):
    return make_build(tmp_path_factory.mktemp("nested"), raw, nested=True)


@pytest.fixture(scope="module")
def flat(raw, tmp_path_factory):
    return make_build(tmp_path_factory.mktemp("flat"), raw, nested=False)


def copy(folder: Path, tmp_path: Path, name: str = "built") -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def publish(hub, folder: Path, repo: str, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, **(env or {})}
    return subprocess.run([sys.executable, str(PROJECT / "scripts" / "publish.py"), str(folder), "--repo", repo,
                           "--files-per-commit", str(FILES_PER_COMMIT), *options],
                          capture_output=True, text=True, env=environment, cwd=PROJECT, timeout=600)


def content_id(data: bytes, lfs: bool) -> str:
    """How the Hub names a file's content: the sha256 of an LFS file, the git blob id of a regular one."""
    if lfs:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return "git:" + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def local_files(folder: Path) -> dict[str, str]:
    """Every file of a built folder as the Hub stores it (Parquet in LFS, the card and report as regular files)."""
    return {p.relative_to(folder).as_posix(): content_id(p.read_bytes(), p.suffix == ".parquet")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def remote_files(hub, repo: str, revision: str | None = None) -> dict[str, str]:
    """Every file of a revision on the Hub, by content id."""
    return {entry.path: f"sha256:{entry.lfs.sha256}" if entry.lfs else f"git:{entry.blob_id}"
            for entry in hub.api().list_repo_tree(repo, repo_type="dataset", revision=revision, recursive=True)
            if hasattr(entry, "blob_id")}


LOADER = r"""
import hashlib, json, sys
import datasets
from helpers import undecoded
datasets.config.USE_PARQUET_EXPORT = False
repo, config, revision, token = sys.argv[1:5]
rows_digest = lambda rows: hashlib.sha256(repr(rows).encode()).hexdigest()
loaded = datasets.load_dataset(repo, config, revision=revision or None, token=token)
print("ROWS " + json.dumps({split: rows_digest(list(part.cast(undecoded(part.features))))
                            for split, part in loaded.items()}))
"""


def rows_digest(rows: list[dict]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def hub_rows(hub, repo: str, config: str, tmp_path: Path, revision: str = "") -> dict[str, str]:
    """`load_dataset(repo, config)` from this hub, in a process of its own (the clients bind HF_ENDPOINT when
    imported): a digest of each split's rows, media as their stored bytes."""
    result = subprocess.run([sys.executable, "-c", LOADER, repo, config, revision, hub.token], capture_output=True,
                            text=True, timeout=300, cwd=PROJECT / "tests",
                            env={**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf_home"),
                                 "HF_DATASETS_CACHE": str(tmp_path / "datasets")})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.split("ROWS ", 1)[1])


def folder_rows(folder: Path, config: str) -> dict[str, str]:
    report = json.loads((folder / "build_report.json").read_text())
    return {split: rows_digest([row for name in info["files"] for row in pq.read_table(folder / name).to_pylist()])
            for split, info in report["configs"][config]["splits"].items()}


def commit_titles(hub, repo: str, revision: str | None = None) -> list[str]:
    return [c.title for c in hub.api().list_repo_commits(repo, repo_type="dataset", revision=revision)]


def requests_in_log(hub, since: int, pattern: str) -> list[str]:
    with open(hub.log, "rb") as log:
        log.seek(since)
        return re.findall(pattern, log.read().decode())


def one_clear_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1], result.stderr


def test_a_large_publish_lands_one_merge_on_main_with_every_file(small_hub, nested, tmp_path):
    folder, repo = copy(nested, tmp_path), "large/flickr30k-entities"
    result = publish(small_hub, folder, repo)
    assert result.returncode == 0, result.stderr
    local = local_files(folder)
    assert len(local) == 24 and "entities/train/0002/train-00004-of-00005.parquet" in local
    assert remote_files(small_hub, repo) == local
    # main: the repository's first commit, then one merge; the pull request holds the 5 batches
    assert commit_titles(small_hub, repo) == ["Merge pull request #1: Publish flickr30k_entities", "initial commit"]
    assert commit_titles(small_hub, repo, "refs/pr/1") == [
        f"Publish flickr30k_entities: batch {n} of 5" for n in (5, 4, 3, 2, 1)] + ["initial commit"]
    assert "batch 5/5 committed to refs/pr/1: 24/24 changes" in result.stdout
    [pr] = small_hub.api().get_repo_discussions(repo, repo_type="dataset")
    assert (pr.num, pr.status, pr.is_pull_request) == (1, "merged", True)
    # the README's patterns match the sub-folders: load_dataset reads every row of every split
    report = json.loads((folder / "build_report.json").read_text())
    assert report["configs"]["entities"]["splits"]["train"]["pattern"] == "entities/train/*/*.parquet"
    assert hub_rows(small_hub, repo, "entities", tmp_path) == folder_rows(folder, "entities")
    again = publish(small_hub, folder, repo)
    assert again.returncode == 0 and "no commit" in again.stdout, again.stderr
    assert len(commit_titles(small_hub, repo)) == 2


def test_a_reader_polling_main_sees_only_complete_states(small_hub, nested, raw, tmp_path):
    repo = "large/polled"
    first = make_build(tmp_path / "first", raw, nested=True, configs=["captions"])
    assert publish(small_hub, first, repo).returncode == 0
    before = frozenset(local_files(first).items())
    folder = copy(nested, tmp_path)
    api, seen, stop = small_hub.api(), [], threading.Event()

    def poll():
        while not stop.is_set():
            sha = api.repo_info(repo, repo_type="dataset").sha
            seen.append((sha, frozenset(remote_files(small_hub, repo, sha).items())))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        result = publish(small_hub, folder, repo)
    finally:
        stop.set()
        reader.join()
    assert result.returncode == 0, result.stderr
    assert "batch 4/4 committed" in result.stdout  # 16 changes (captions/ is there already) in 4 commits
    after = frozenset(local_files(folder).items())  # the folder as published (its card names the repository)
    states = {files for _, files in seen}
    assert states <= {before, after} and before in states, [len(s) for s in states]
    assert frozenset(remote_files(small_hub, repo).items()) == after
    assert len({sha for sha, _ in seen}) <= 2


def test_a_flat_layout_over_the_folder_limit_is_refused_with_nothing_merged(small_hub, flat, tmp_path, monkeypatch):
    folder, repo = copy(flat, tmp_path), "large/flat"
    assert len(list((folder / "entities").iterdir())) == 7  # 7 parts in one folder: the hub allows 6
    refused = publish(small_hub, folder, repo)
    one_clear_line(refused, "would hold 7 entries; the Hub allows at most 6 files and folders in one folder")
    assert re.search(r"refused POST /api/datasets/large/flat/commit/\S+ \(400\): folder '\w+'", refused.stderr)
    assert small_hub.api().list_repo_files(repo, repo_type="dataset") == []  # main untouched
    # publish.py itself checks the folder limit before uploading anything (here made as small as the hub's)
    monkeypatch.setenv("HF_ENDPOINT", small_hub.endpoint)
    monkeypatch.setattr(publishing, "MAX_FOLDER_ENTRIES", 6)
    log_start = small_hub.log.stat().st_size
    with pytest.raises(UsageError, match=r"\w+ would hold 7 entries on large/flat2, over the Hub's limit of 6 "
                                         r"per folder; rebuild the folder with the current scripts/build.py"):
        publishing.publish(folder, "large/flat2", token=small_hub.token, log=lambda *a: None)
    assert not requests_in_log(small_hub, log_start, r'"(?:POST|PUT) ')  # nothing created, nothing uploaded


def test_more_files_than_the_hub_recommends_per_repository(small_hub, nested, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", small_hub.endpoint)
    monkeypatch.setattr(publishing, "RECOMMENDED_MAX_FILES", 20)
    folder = copy(nested, tmp_path)
    with pytest.raises(UsageError, match=r"large/many would hold 24 files, over the Hub's recommended 20 per "
                                         r"repository; nothing was uploaded\. Publish config groups to separate "
                                         r"repositories"):
        publishing.publish(folder, "large/many", token=small_hub.token, log=lambda *a: None,
                           files_per_commit=FILES_PER_COMMIT)
    assert not small_hub.api().repo_exists("large/many", repo_type="dataset")
    result = publishing.publish(folder, "large/many", token=small_hub.token, log=lambda *a: None,
                                files_per_commit=FILES_PER_COMMIT, allow_many_files=True)
    assert result.commits == 6 and len(small_hub.api().list_repo_files("large/many", repo_type="dataset")) == 24


def test_create_pr_stops_before_the_merge_and_a_rerun_merges(small_hub, nested, tmp_path):
    folder, repo = copy(nested, tmp_path), "large/reviewed"
    result = publish(small_hub, folder, repo, "--create-pr")
    assert result.returncode == 0, result.stderr
    assert f"pull request: {small_hub.endpoint}/datasets/{repo}/discussions/1" in result.stdout
    assert small_hub.api().list_repo_files(repo, repo_type="dataset") == []
    assert remote_files(small_hub, repo, "refs/pr/1") == local_files(folder)
    log_start = small_hub.log.stat().st_size
    merged = publish(small_hub, folder, repo)
    assert merged.returncode == 0, merged.stderr
    assert "resuming pull request #1" in merged.stdout and "0 changes still to commit" in merged.stdout
    assert remote_files(small_hub, repo) == local_files(folder)
    assert requests_in_log(small_hub, log_start, r'"PUT /_lfs/') == []
    assert requests_in_log(small_hub, log_start, r'"POST /api/datasets/large/reviewed/(commit|discussions/1/merge)') \
        == ["discussions/1/merge"]


def test_main_moving_under_an_open_pull_request_starts_a_new_one(small_hub, nested, tmp_path):
    folder, repo = copy(nested, tmp_path), "large/moved"
    assert publish(small_hub, folder, repo, "--create-pr").returncode == 0
    small_hub.api().upload_file(path_or_fileobj=b"theirs\n", path_in_repo="captions/NOTES.txt", repo_id=repo,
                                repo_type="dataset")
    log_start = small_hub.log.stat().st_size
    result = publish(small_hub, folder, repo)
    assert result.returncode == 0, result.stderr
    assert "pull request #1 started from main at" in result.stdout and "opened pull request #2" in result.stdout
    statuses = {d.num: d.status for d in small_hub.api().get_repo_discussions(repo, repo_type="dataset")}
    assert statuses == {1: "closed", 2: "merged"}
    assert remote_files(small_hub, repo) == {**local_files(folder), "captions/NOTES.txt": content_id(b"theirs\n", lfs=False)}
    assert requests_in_log(small_hub, log_start, r'"PUT /_lfs/') == []  # every part was uploaded the first time


@pytest.fixture(scope="module")
def busy_hub(tmp_path_factory):
    """2 commits per repository in any 3 seconds."""
    hub = hub_with(tmp_path_factory, "busy-hub", *LIMITS, "--commit-rate", "2/3")
    yield hub
    stop_local_hub(hub)


def test_the_commit_rate_limit_is_waited_out(busy_hub, nested, tmp_path):
    folder, repo = copy(nested, tmp_path), "large/rate-limited"
    result = publish(busy_hub, folder, repo)
    assert result.returncode == 0, result.stderr
    waits = re.findall(r"the Hub rate-limits commits to large/rate-limited: waiting (\d+) s as it asks \(Retry-After\)",
                       result.stdout)
    refusals = requests_in_log(busy_hub, 0, r'"POST /api/datasets/large/rate-limited/(?:commit/\S+|discussions/1/merge) '
                                            r'HTTP/1.1" 429')
    assert waits and len(waits) == len(refusals) and all(1 <= int(w) <= 3 for w in waits)
    assert remote_files(busy_hub, repo) == local_files(folder)
    assert commit_titles(busy_hub, repo)[0] == "Merge pull request #1: Publish flickr30k_entities"


def test_a_rate_limit_that_does_not_clear_stops_clearly(tmp_path_factory, nested, tmp_path):
    hub = hub_with(tmp_path_factory, "stingy-hub", *LIMITS, "--commit-rate", "2/3600")
    try:
        folder, repo = copy(nested, tmp_path), "large/stingy"
        result = publish(hub, folder, repo, "--rate-limit-patience", "30")
        one_clear_line(result, f"{hub.endpoint} keeps refusing commits to large/stingy with 429 Too Many Requests")
        assert "rerun later: the publish resumes and sends nothing twice" in result.stderr
        assert hub.api().list_repo_files(repo, repo_type="dataset") == []
        assert len(commit_titles(hub, repo, "refs/pr/1")) == 3  # 2 batches made it, then the limit held
    finally:
        stop_local_hub(hub)


class Unavailable(http.server.BaseHTTPRequestHandler):
    """A Hub that answers every request with 503."""

    def answer(self):
        body = b'{"error": "Service Unavailable"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = answer

    def log_message(self, *args):
        pass


def test_a_hub_answering_503_stops_with_one_line(nested, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        result = subprocess.run([sys.executable, str(PROJECT / "scripts" / "publish.py"), str(copy(nested, tmp_path)),
                                 "--repo", "large/down"], capture_output=True, text=True, cwd=PROJECT, timeout=300,
                                env={**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_some_token_0123456789"})
    finally:
        server.shutdown()
    one_clear_line(result, f"{endpoint} answered 503 Service Unavailable to GET /api/whoami-v2")
    assert "the Hub is unavailable or overloaded; rerun later" in result.stderr


def test_a_client_with_hf_xet_installed_publishes_over_lfs(local_hub, nested, tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    result = subprocess.run([sys.executable, str(PROJECT / "scripts" / "publish.py"), str(copy(nested, tmp_path)),
                             "--repo", "large/no-xet"], capture_output=True, text=True, cwd=PROJECT, timeout=300,
                            env={**environment, "HF_TOKEN": local_hub.token})
    assert result.returncode == 0, result.stderr
    assert f"{local_hub.endpoint} has no Xet storage: uploading over LFS instead" in result.stdout
    assert hub_rows(local_hub, "large/no-xet", "captions", tmp_path) == folder_rows(tmp_path / "built", "captions")


def test_release_tags(small_hub, nested, raw, tmp_path):
    folder, repo = copy(nested, tmp_path), "large/tagged"
    result = publish(small_hub, folder, repo, "--tag", "v1.0.0")
    assert result.returncode == 0, result.stderr
    api = small_hub.api()
    head = api.repo_info(repo, repo_type="dataset").sha
    assert {t.name: t.target_commit for t in api.list_repo_refs(repo, repo_type="dataset").tags} == {"v1.0.0": head}
    card = (folder / "README.md").read_text()
    assert 'ds = load_dataset("large/tagged", "entities", revision="v1.0.0")' in card
    assert 'This card describes release `v1.0.0`' in card
    assert hub_rows(small_hub, repo, "karpathy", tmp_path, revision="v1.0.0") == folder_rows(folder, "karpathy")
    again = publish(small_hub, folder, repo, "--tag", "v1.0.0")  # a rerun: nothing to do, the tag is there
    assert again.returncode == 0 and "no commit" in again.stdout, again.stderr

    smaller = make_build(tmp_path / "smaller", raw, nested=True, configs=["captions"])
    refused = publish(small_hub, smaller, repo, "--tag", "v1.0.0")
    one_clear_line(refused, "tag v1.0.0 already exists on large/tagged")
    assert api.repo_info(repo, repo_type="dataset").sha == head
    assert publish(small_hub, smaller, repo, "--tag", "v1.1.0").returncode == 0
    tags = {t.name: t.target_commit for t in api.list_repo_refs(repo, repo_type="dataset").tags}
    assert tags["v1.0.0"] == head and tags["v1.1.0"] == api.repo_info(repo, repo_type="dataset").sha != head
    assert "entities/test/0000/test-00000-of-00001.parquet" in remote_files(small_hub, repo, "v1.0.0")
    assert not any(p.startswith("entities/") for p in remote_files(small_hub, repo, "v1.1.0"))
    one_clear_line(publish(small_hub, smaller, repo, "--tag", "v2", "--create-pr"), "--tag names a published version")
    untagged = publish(small_hub, smaller, repo)  # the card no longer pins a release
    assert untagged.returncode == 0, untagged.stderr
    assert 'ds = load_dataset("large/tagged", "captions")\n' in (smaller / "README.md").read_text()


def test_the_gating_mode_comes_from_the_card(small_hub, nested, tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    shutil.copytree(subsets.CARDS_DIR, cards)
    meta_path = cards / "flickr30k_entities.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    assert meta["redistribution"] == "gated"
    monkeypatch.setattr(subsets, "CARDS_DIR", cards)
    monkeypatch.setenv("HF_ENDPOINT", small_hub.endpoint)
    folder, repo, api = copy(nested, tmp_path), "large/gated", small_hub.api()
    for mode in ("manual", "auto"):
        meta_path.write_text(yaml.safe_dump({**meta, "gating": mode}))
        publishing.publish(folder, repo, token=small_hub.token, log=lambda *a: None, files_per_commit=FILES_PER_COMMIT)
        assert api.repo_info(repo, repo_type="dataset").gated == mode
    meta_path.write_text(yaml.safe_dump({**meta, "gating": "sometimes"}))
    with pytest.raises(UsageError, match="gating must be 'auto' or 'manual', not 'sometimes'"):
        publishing.publish(folder, repo, token=small_hub.token, log=lambda *a: None)
    meta_path.write_text(yaml.safe_dump({k: v for k, v in meta.items() if k != "gating"}))
    assert publishing.gating_mode("flickr30k_entities") == "auto"  # the default


def hand_edit(hub, repo: str, body: str) -> str:
    """A maintainer's edit on the Hub: the card's metadata kept, its body replaced. Returns the new README."""
    api = hub.api()
    readme = Path(api.hf_hub_download(repo, "README.md", repo_type="dataset")).read_text()
    front = re.match(r"---\n.*?\n---\n", readme, re.S).group(0)
    edited = f"{front}\n{body}"
    api.upload_file(path_or_fileobj=edited.encode(), path_in_repo="README.md", repo_id=repo, repo_type="dataset",
                    commit_message="Update README.md")
    return edited


def remote_card(hub, repo: str) -> str:
    return Path(hub.api().hf_hub_download(repo, "README.md", repo_type="dataset", force_download=True)).read_text()


def test_a_card_edited_on_the_hub_is_never_overwritten_silently(small_hub, nested, raw, tmp_path):
    folder, repo, api = copy(nested, tmp_path), "large/edited-card", small_hub.api()
    assert publish(small_hub, folder, repo).returncode == 0
    edited = hand_edit(small_hub, repo, "# Flickr30K Entities\n\nOur own words about this dataset.\n")
    head = api.repo_info(repo, repo_type="dataset").sha

    refused = publish(small_hub, folder, repo)
    one_clear_line(refused, "the card (README.md) of large/edited-card was changed on the Hub since publish.py "
                            "last wrote it")
    assert "--card-edits keep" in refused.stderr and "--card-edits overwrite" in refused.stderr
    assert api.repo_info(repo, repo_type="dataset").sha == head

    # keep: the Hub's body under regenerated metadata, for this build and the next ones
    smaller = make_build(tmp_path / "smaller", raw, nested=True, configs=["captions", "karpathy"])
    kept = publish(small_hub, smaller, repo, "--card-edits", "keep")
    assert kept.returncode == 0, kept.stderr
    card = remote_card(small_hub, repo)
    assert card.endswith("\nOur own words about this dataset.\n") and card != edited
    assert "config_name: captions" in card and "config_name: entities" not in card
    assert card == (smaller / "README.md").read_text()  # the folder stays what was published
    assert hub_rows(small_hub, repo, "captions", tmp_path) == folder_rows(smaller, "captions")
    head = api.repo_info(repo, repo_type="dataset").sha
    again = publish(small_hub, smaller, repo)
    assert again.returncode == 0 and "keeping the card body edited on the Hub" in again.stdout
    assert "no commit" in again.stdout and api.repo_info(repo, repo_type="dataset").sha == head
    bigger = copy(nested, tmp_path, "bigger")
    assert publish(small_hub, bigger, repo).returncode == 0
    card = remote_card(small_hub, repo)
    assert card.endswith("\nOur own words about this dataset.\n") and "config_name: entities" in card

    # overwrite: the generated card again, and later publishes generate it too
    third = copy(nested, tmp_path, "third")
    overwritten = publish(small_hub, third, repo, "--card-edits", "overwrite")
    assert overwritten.returncode == 0, overwritten.stderr
    card = remote_card(small_hub, repo)
    assert card == (third / "README.md").read_text() and "Our own words" not in card
    assert json.loads((third / "build_report.json").read_text())["published_card"]["body"] == "generated"
    assert publish(small_hub, copy(nested, tmp_path, "fourth"), repo).returncode == 0  # no edit since: no question


def test_a_card_published_before_fingerprints_is_recognised_by_re_rendering(small_hub, nested, raw, tmp_path):
    """build_report.json of an earlier publish.py has no `published_card`: the card is ours if it renders."""
    folder, repo, api = copy(nested, tmp_path), "large/older-card", small_hub.api()
    assert publish(small_hub, folder, repo).returncode == 0
    report = json.loads((folder / "build_report.json").read_text())
    report.pop("published_card")
    api.upload_file(path_or_fileobj=(json.dumps(report, indent=1) + "\n").encode(), path_in_repo="build_report.json",
                    repo_id=repo, repo_type="dataset")
    smaller = make_build(tmp_path / "smaller", raw, nested=True, configs=["captions"])
    result = publish(small_hub, smaller, repo)
    assert result.returncode == 0, result.stderr
    assert remote_card(small_hub, repo) == (smaller / "README.md").read_text()
    hand_edit(small_hub, repo, "edited\n")
    report = json.loads((smaller / "build_report.json").read_text())
    report.pop("published_card")
    api.upload_file(path_or_fileobj=(json.dumps(report, indent=1) + "\n").encode(), path_in_repo="build_report.json",
                    repo_id=repo, repo_type="dataset")
    one_clear_line(publish(small_hub, folder, repo), "was changed on the Hub since publish.py last wrote it")


def test_the_data_file_pattern_knows_both_layouts():
    for path in ("entities/train-00000-of-00001.parquet", "entities/train/0000/train-00000-of-12000.parquet",
                 "pdf/train/0179/train-179999-of-180000.parquet"):
        assert publishing.DATA_FILE.fullmatch(path), path
    for path in ("README.md", "entities/notes.parquet", "entities/train/extra/train-00000-of-00001.parquet",
                 "a/b/c/d/train-00000-of-00001.parquet"):
        assert not publishing.DATA_FILE.fullmatch(path), path


def test_batches_stay_within_the_limits():
    from huggingface_hub import CommitOperationAdd

    adds = [CommitOperationAdd(f"c/train-{i:05d}-of-00012.parquet", b"x" * (i + 1)) for i in range(12)]
    adds += [CommitOperationAdd("README.md", b"card"), CommitOperationAdd("build_report.json", b"{}")]
    batches = publishing.make_batches(adds, ["c/old-00000-of-00001.parquet"], 5)
    assert [len(b) for b in batches] == [5, 5, 5]
    assert [op.path_in_repo for op in batches[-1]] == [
        "c/train-00010-of-00012.parquet", "c/train-00011-of-00012.parquet", "README.md", "build_report.json",
        "c/old-00000-of-00001.parquet"]
    assert publishing.make_batches([], [], 5) == []


def test_one_repository_per_config_group_with_cards_linking_each_other(small_hub, raw, tmp_path):
    """The way out of a repository with too many files: each config group built into its own folder and
    published to its own repository, each card naming the others."""
    groups = {"large/flickr-entities": ["entities"], "large/flickr-captions": ["captions", "karpathy"]}
    for repo, configs in groups.items():
        folder = make_build(tmp_path / repo.split("/")[1], raw, nested=True, configs=configs)
        others = [f"--see-also={other}" for other in groups if other != repo]
        result = publish(small_hub, folder, repo, *others)
        assert result.returncode == 0, result.stderr
        card = small_hub.api().hf_hub_download(repo, "README.md", repo_type="dataset",
                                               local_dir=tmp_path / "cards" / repo)
        text = Path(card).read_text()
        other = next(o for o in groups if o != repo)
        assert f"- [{other}](https://huggingface.co/datasets/{other})" in text
        assert "This repository holds the configs " + ", ".join(f"`{c}`" for c in configs) in text
        assert hub_rows(small_hub, repo, configs[0], tmp_path / "rows" / repo) == folder_rows(folder, configs[0])
    again = publish(small_hub, tmp_path / "flickr-entities", "large/flickr-entities")  # the link dropped on purpose
    assert again.returncode == 0, again.stderr
    assert "large/flickr-captions" not in (tmp_path / "flickr-entities" / "README.md").read_text()
