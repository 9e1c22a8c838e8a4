"""The local Hub server, driven by the real huggingface_hub and datasets clients (no mocks, no network).

Read-only checks share one published repo (``published``); every test that writes gets its own repo id.
Raw HTTP (http.client) is used only where the clients would refuse to send the request themselves.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import (CommitOperationAdd, CommitOperationDelete, HfApi, HfFileSystem, get_hf_file_metadata,
                             hf_hub_download, hf_hub_url, snapshot_download)
from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError, RepositoryNotFoundError,
                                    RevisionNotFoundError)
from PIL import Image

from conftest import PROJECT, free_port, start_local_hub, stop_local_hub
from helpers import raw_request

PARQUET = "data/train-00000-of-00001.parquet"
CARD = """---
license: cc-by-4.0
pretty_name: Local Hub Test
task_categories:
- image-to-text
size_categories:
- n<1K
language:
- en
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
# Local hub test card

Raw HTML stays text: <script>alert(1)</script>

| field | meaning |
|-------|---------|
| image | a tiny square |

```python
print("hello")
```
"""


def png(rgb: tuple[int, int, int], size=(3, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, format="PNG")
    return buffer.getvalue()


ROWS = [{"id": i, "text": f"row {i} <b>bold?</b>", "image": png((40 * i, 100, 200))} for i in range(7)]


def write_dataset_folder(folder: Path, card: str = CARD) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    features = datasets.Features({"id": datasets.Value("int64"), "text": datasets.Value("string"),
                                  "image": datasets.Image()})
    table = pa.table({
        "id": [r["id"] for r in ROWS],
        "text": [r["text"] for r in ROWS],
        "image": pa.array([{"bytes": r["image"], "path": f"{r['id']}.png"} for r in ROWS],
                          pa.struct({"bytes": pa.binary(), "path": pa.string()})),
    }, schema=features.arrow_schema)
    pq.write_table(table, folder / PARQUET)
    (folder / "README.md").write_text(card)
    return folder


def ndjson(*items) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def header_line(summary="raw commit", **extra):
    return {"key": "header", "value": {"summary": summary, **extra}}


def file_line(path: str, data: bytes):
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def repo_id(request) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-").replace("--", "-")
    return f"tests/{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def published(local_hub, tmp_path_factory):
    """A public dataset repo holding README.md + one Parquet file (with images), uploaded in one upload_folder."""
    folder = write_dataset_folder(tmp_path_factory.mktemp("published"))
    repo = f"tests/published-{uuid.uuid4().hex[:8]}"
    api = local_hub.api()
    api.create_repo(repo, repo_type="dataset")
    initial = api.repo_info(repo, repo_type="dataset").sha
    info = api.upload_folder(folder_path=folder, repo_id=repo, repo_type="dataset", commit_message="first upload")
    return {"repo": repo, "folder": folder, "initial": initial, "sha": info.oid}


# ---------------------------------------------------------------------------------------------------------------
# Repos and auth
# ---------------------------------------------------------------------------------------------------------------


def test_create_repo_then_exist_ok(local_hub, repo_id):
    api = local_hub.api()
    url = api.create_repo(repo_id, repo_type="dataset")
    assert url == f"{local_hub.endpoint}/datasets/{repo_id}" and url.repo_id == repo_id
    again = api.create_repo(repo_id, repo_type="dataset", exist_ok=True)  # reads the url from the 409 body
    assert again.repo_id == repo_id
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo_id, repo_type="dataset")
    assert err.value.response.status_code == 409

    info = api.repo_info(repo_id, repo_type="dataset")
    assert len(info.sha) == 40 and info.private is False and info.gated is False and info.siblings == []
    assert api.repo_exists(repo_id, repo_type="dataset")
    assert not api.repo_exists(repo_id + "-missing", repo_type="dataset")
    assert api.whoami()["name"] == "local"


def test_writes_without_the_token_are_refused(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    sha = api.repo_info(repo_id, repo_type="dataset").sha
    for client in (local_hub.api(token=False), local_hub.api(token="hf_wrong_token")):
        with pytest.raises(HfHubHTTPError) as err:
            client.upload_file(path_or_fileobj=b"x", path_in_repo="anon.txt", repo_id=repo_id, repo_type="dataset")
        assert err.value.response.status_code == 401
        with pytest.raises(HfHubHTTPError) as err:
            client.create_repo(repo_id + "-anon", repo_type="dataset")
        assert err.value.response.status_code == 401
        with pytest.raises(HfHubHTTPError) as err:
            client.update_repo_settings(repo_id, repo_type="dataset", private=True)
        assert err.value.response.status_code == 401
        with pytest.raises(HfHubHTTPError) as err:
            client.delete_repo(repo_id, repo_type="dataset")
        assert err.value.response.status_code == 401
    status, _, _ = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/commit/main",
                               ndjson(header_line(), file_line("raw.txt", b"x")))
    assert status == 401
    info = api.repo_info(repo_id, repo_type="dataset")
    assert info.sha == sha and info.private is False and not api.repo_exists(repo_id + "-anon", repo_type="dataset")


def test_delete_repo(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    api.delete_repo(repo_id, repo_type="dataset")
    assert not api.repo_exists(repo_id, repo_type="dataset")
    api.delete_repo(repo_id, repo_type="dataset", missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(repo_id, repo_type="dataset")


# ---------------------------------------------------------------------------------------------------------------
# Upload, download, load
# ---------------------------------------------------------------------------------------------------------------


def test_upload_folder_makes_one_commit_with_lfs_parquet(local_hub, published):
    api, repo = local_hub.api(), published["repo"]
    assert published["sha"] != published["initial"]
    assert api.repo_info(repo, repo_type="dataset").sha == published["sha"]
    entries = {e.path: e for e in api.list_repo_tree(repo, repo_type="dataset", recursive=True, expand=True)}
    assert set(entries) == {"README.md", "data", PARQUET}
    local = (published["folder"] / PARQUET).read_bytes()
    parquet = entries[PARQUET]
    assert parquet.lfs.sha256 == hashlib.sha256(local).hexdigest() and parquet.size == len(local)
    readme = (published["folder"] / "README.md").read_bytes()
    assert entries["README.md"].lfs is None and entries["README.md"].blob_id == git_oid(readme)
    # Both files were last changed by the same commit: the one upload_folder made.
    assert {entries[p].last_commit.oid for p in ("README.md", "data", PARQUET)} == {published["sha"]}
    assert entries[PARQUET].last_commit.title == "first upload"
    card = api.dataset_info(published["repo"]).card_data
    assert card.license == "cc-by-4.0" and card.pretty_name == "Local Hub Test"


def test_reupload_of_identical_files_makes_no_commit(local_hub, published):
    api = local_hub.api()
    info = api.upload_folder(folder_path=published["folder"], repo_id=published["repo"], repo_type="dataset",
                             commit_message="same again")
    assert info.oid == published["sha"]
    assert api.repo_info(published["repo"], repo_type="dataset").sha == published["sha"]


def test_hf_hub_download_returns_the_uploaded_bytes(local_hub, published, fresh_hf_home):
    repo, folder = published["repo"], published["folder"]
    for name in ("README.md", PARQUET):
        path = hf_hub_download(repo, name, repo_type="dataset", token=local_hub.token)
        assert Path(path).read_bytes() == (folder / name).read_bytes()
    local = (folder / PARQUET).read_bytes()
    meta = get_hf_file_metadata(hf_hub_url(repo, PARQUET, repo_type="dataset"))
    assert meta.commit_hash == published["sha"] and meta.size == len(local)
    assert meta.etag == hashlib.sha256(local).hexdigest()  # LFS: sha256 (X-Linked-Etag)
    readme = get_hf_file_metadata(hf_hub_url(repo, "README.md", repo_type="dataset"))
    assert readme.etag == git_oid((folder / "README.md").read_bytes())  # regular file: git blob id


def test_hffilesystem_range_read_and_glob(local_hub, published):
    fs = HfFileSystem(endpoint=local_hub.endpoint, token=local_hub.token, skip_instance_cache=True)
    repo = published["repo"]
    local = (published["folder"] / PARQUET).read_bytes()
    with fs.open(f"datasets/{repo}/{PARQUET}", "rb") as f:
        f.seek(10)
        assert f.read(25) == local[10:35]
        f.seek(len(local) - 4)
        assert f.read() == local[-4:]
    assert fs.glob(f"datasets/{repo}/**/*.parquet") == [f"datasets/{repo}/{PARQUET}"]
    assert sorted(fs.ls(f"datasets/{repo}", detail=False)) == [f"datasets/{repo}/README.md", f"datasets/{repo}/data"]
    assert fs.info(f"datasets/{repo}/{PARQUET}")["size"] == len(local)


def test_snapshot_download(local_hub, published, tmp_path, fresh_hf_home):
    target = snapshot_download(published["repo"], repo_type="dataset", token=local_hub.token,
                               local_dir=tmp_path / "snap")
    got = sorted(str(p.relative_to(target)) for p in Path(target).rglob("*") if p.is_file() and ".cache" not in p.parts)
    assert got == ["README.md", PARQUET]
    assert (Path(target) / PARQUET).read_bytes() == (published["folder"] / PARQUET).read_bytes()


def test_load_dataset_rows_images_and_streaming(local_hub, published, fresh_hf_home):
    ds = datasets.load_dataset(published["repo"], split="train", token=local_hub.token)
    assert ds["id"] == [r["id"] for r in ROWS] and ds["text"] == [r["text"] for r in ROWS]
    assert isinstance(ds.features["image"], datasets.Image)
    image = ds[2]["image"]
    assert image.size == (3, 2) and image.convert("RGB").getpixel((0, 0)) == (80, 100, 200)

    stream = datasets.load_dataset(published["repo"], split="train", streaming=True, token=local_hub.token)
    first = next(iter(stream))
    assert first["id"] == 0 and first["text"] == ROWS[0]["text"] and first["image"].size == (3, 2)


# ---------------------------------------------------------------------------------------------------------------
# Commits: parents, pull requests, branches, deletions, validation
# ---------------------------------------------------------------------------------------------------------------


def test_commit_on_a_stale_parent_is_refused(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="notes.txt", repo_id=repo_id, repo_type="dataset").oid
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="notes.txt", repo_id=repo_id, repo_type="dataset").oid
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(repo_id, repo_type="dataset", commit_message="stale", parent_commit=first,
                          operations=[CommitOperationAdd("stale.txt", b"stale")])
    assert err.value.response.status_code == 412
    assert api.repo_info(repo_id, repo_type="dataset").sha == second
    third = api.create_commit(repo_id, repo_type="dataset", commit_message="fresh", parent_commit=second,
                              operations=[CommitOperationAdd("fresh.txt", b"fresh")]).oid
    assert api.repo_info(repo_id, repo_type="dataset").sha == third
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == ["fresh.txt", "notes.txt"]


def test_create_pr_leaves_main_unchanged_and_the_pr_ref_is_readable(local_hub, repo_id, fresh_hf_home):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    head = api.upload_file(path_or_fileobj=b"main", path_in_repo="main.txt", repo_id=repo_id, repo_type="dataset").oid
    pr = api.create_commit(repo_id, repo_type="dataset", commit_message="proposal", create_pr=True,
                           operations=[CommitOperationAdd("pr.txt", b"in a pr")])
    assert pr.pr_url == f"{local_hub.endpoint}/datasets/{repo_id}/discussions/1"
    assert pr.pr_revision == "refs/pr/1" and pr.pr_num == 1
    assert api.repo_info(repo_id, repo_type="dataset").sha == head
    assert api.list_repo_files(repo_id, repo_type="dataset") == ["main.txt"]

    assert sorted(api.list_repo_files(repo_id, repo_type="dataset", revision="refs/pr/1")) == ["main.txt", "pr.txt"]
    assert api.repo_info(repo_id, repo_type="dataset", revision="refs/pr/1").sha == pr.oid
    path = hf_hub_download(repo_id, "pr.txt", repo_type="dataset", revision="refs/pr/1", token=local_hub.token)
    assert Path(path).read_bytes() == b"in a pr"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "pr.txt", repo_type="dataset", token=local_hub.token)

    # A second commit to the PR ref moves it; a second PR gets the next number.
    api.upload_file(path_or_fileobj=b"more", path_in_repo="more.txt", repo_id=repo_id, repo_type="dataset",
                    revision="refs/pr/1")
    second = api.create_commit(repo_id, repo_type="dataset", commit_message="another", create_pr=True,
                               operations=[CommitOperationAdd("other.txt", b"x")])
    assert second.pr_num == 2
    refs = api.list_repo_refs(repo_id, repo_type="dataset", include_pull_requests=True)
    assert [b.name for b in refs.branches] == ["main"] and refs.branches[0].target_commit == head
    assert sorted(p.ref for p in refs.pull_requests) == ["refs/pr/1", "refs/pr/2"]
    assert "more.txt" in api.list_repo_files(repo_id, repo_type="dataset", revision="refs/pr/1")


def test_branches(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    head = api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id, repo_type="dataset").oid
    api.create_branch(repo_id, repo_type="dataset", branch="dev/next")
    api.create_branch(repo_id, repo_type="dataset", branch="dev/next", exist_ok=True)
    api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id, repo_type="dataset",
                    revision="dev/next")
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset", revision="dev/next")) == ["a.txt", "b.txt"]
    assert api.repo_info(repo_id, repo_type="dataset").sha == head
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_files(repo_id, repo_type="dataset", revision="nope")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_branch(repo_id, repo_type="dataset", branch="bad..name")
    assert err.value.response.status_code == 400


def test_delete_files_and_folders(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    api.create_commit(repo_id, repo_type="dataset", commit_message="add", operations=[
        CommitOperationAdd(p, p.encode()) for p in ("a.txt", "dir/b.txt", "dir/sub/c.txt", "keep/d.txt")])
    api.delete_file("a.txt", repo_id, repo_type="dataset")
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == ["dir/b.txt", "dir/sub/c.txt", "keep/d.txt"]
    api.create_commit(repo_id, repo_type="dataset", commit_message="rm dir",
                      operations=[CommitOperationDelete("dir/", is_folder=True)])
    assert api.list_repo_files(repo_id, repo_type="dataset") == ["keep/d.txt"]
    with pytest.raises(EntryNotFoundError):
        api.delete_file("a.txt", repo_id, repo_type="dataset")


def test_invalid_licence_in_readme_is_refused(local_hub, repo_id, tmp_path):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    bad = CARD.replace("license: cc-by-4.0", "license: not-a-licence")
    with pytest.raises(ValueError, match="not-a-licence"):
        api.upload_file(path_or_fileobj=bad.encode(), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset")
    status, _, body = raw_request(local_hub.endpoint, "POST", "/api/validate-yaml",
                                  json.dumps({"content": bad, "repoType": "dataset"}).encode(),
                                  {"Content-Type": "application/json"})
    assert status == 400 and "not-a-licence" in json.loads(body)["errors"][0]["message"]
    # The commit endpoint checks too, for clients that skip validate-yaml.
    status, _, body = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/commit/main",
                                  ndjson(header_line(), file_line("README.md", bad.encode())),
                                  {"Authorization": f"Bearer {local_hub.token}"})
    assert status == 400 and "not-a-licence" in json.loads(body)["error"]
    assert api.list_repo_files(repo_id, repo_type="dataset") == []
    ok = raw_request(local_hub.endpoint, "POST", "/api/validate-yaml",
                     json.dumps({"content": CARD, "repoType": "dataset"}).encode())
    assert ok[0] == 200 and json.loads(ok[2]) == {"errors": [], "warnings": []}


def test_path_traversal_is_refused(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    auth = {"Authorization": f"Bearer {local_hub.token}"}
    for bad in ("../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "a//b.txt", "a\\b.txt", ".git/config",
                "x/.git/hooks/post-commit", "./a.txt", "a\x00b.txt"):
        status, headers, body = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/commit/main",
                                            ndjson(header_line(), file_line(bad, b"evil")), auth)
        assert status == 400, (bad, status, body)
        assert "invalid file path" in json.loads(body)["error"]
        status, _, _ = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/preupload/main",
                                   json.dumps({"files": [{"path": bad, "size": 4, "sample": ""}]}).encode(), auth)
        assert status == 400
    assert api.list_repo_files(repo_id, repo_type="dataset") == []

    for organization, name in (("..", "x"), ("tests", ".."), ("tests", "../../etc"), ("tests", ".hidden"),
                               ("tests", "a/b"), ("tests", "x.git"), ("tests", "a--b"), ("api", "x")):
        status, _, _ = raw_request(local_hub.endpoint, "POST", "/api/repos/create",
                                   json.dumps({"name": name, "organization": organization, "type": "dataset"}).encode(),
                                   auth)
        assert status == 400, (organization, name)
    for path in ("/api/datasets/%2E%2E/etc", "/api/datasets/tests/..%2F..%2Fetc",
                 "/datasets/tests/..%2F..%2Fetc/resolve/main/passwd", "/api/datasets/..%2F..%2F/x/tree/main"):
        status, _, _ = raw_request(local_hub.endpoint, "GET", path)
        assert status == 400, path
    assert sorted(p.name for p in local_hub.root.iterdir()) == ["blobs", "repos", "tmp"]
    assert sorted(p.name for p in (local_hub.root / "repos").iterdir()) == ["datasets"]


def test_lfs_uploads_are_signed_and_verified(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    data = os.urandom(3000)
    oid = hashlib.sha256(data).hexdigest()
    batch = json.dumps({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}],
                        "hash_algo": "sha256"}).encode()
    path = f"/datasets/{repo_id}.git/info/lfs/objects/batch"
    assert raw_request(local_hub.endpoint, "POST", path, batch)[0] == 401
    auth = {"Authorization": f"Bearer {local_hub.token}"}
    status, _, body = raw_request(local_hub.endpoint, "POST", path, batch, auth)
    href = json.loads(body)["objects"][0]["actions"]["upload"]["href"]
    assert status == 200 and href.startswith(f"{local_hub.endpoint}/_lfs/{oid}?")
    upload = href[len(local_hub.endpoint):]

    assert raw_request(local_hub.endpoint, "PUT", upload.replace("sig=", "sig=0"), data)[0] == 403
    assert raw_request(local_hub.endpoint, "PUT", upload, os.urandom(3000))[0] == 400  # right size, wrong bytes
    commit = ndjson(header_line(), {"key": "lfsFile", "value": {"path": "blob.bin", "algo": "sha256", "oid": oid,
                                                               "size": len(data)}})
    status, _, body = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/commit/main", commit, auth)
    assert status == 400 and "never uploaded" in json.loads(body)["error"]
    assert raw_request(local_hub.endpoint, "PUT", upload, data)[0] == 200  # no Authorization header needed
    status, _, _ = raw_request(local_hub.endpoint, "POST", f"/api/datasets/{repo_id}/commit/main", commit, auth)
    assert status == 200
    assert api.get_paths_info(repo_id, ["blob.bin"], repo_type="dataset")[0].lfs.sha256 == oid


# ---------------------------------------------------------------------------------------------------------------
# Private and gated repos
# ---------------------------------------------------------------------------------------------------------------


def test_private_repo_is_invisible_without_the_token(local_hub, repo_id, fresh_hf_home):
    api, anon = local_hub.api(), local_hub.api(token=False)
    api.create_repo(repo_id, repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="secret.txt", repo_id=repo_id, repo_type="dataset")
    assert api.repo_info(repo_id, repo_type="dataset").private is True
    with pytest.raises(RepositoryNotFoundError):
        anon.repo_info(repo_id, repo_type="dataset")
    assert not anon.repo_exists(repo_id, repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        anon.list_repo_files(repo_id, repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "secret.txt", repo_type="dataset", token=False)
    assert raw_request(local_hub.endpoint, "GET", f"/datasets/{repo_id}")[0] == 404
    assert repo_id not in raw_request(local_hub.endpoint, "GET", "/")[2].decode()

    api.update_repo_settings(repo_id, repo_type="dataset", private=False)
    assert anon.list_repo_files(repo_id, repo_type="dataset") == ["secret.txt"]


def test_gated_repo_needs_the_token_to_download(local_hub, repo_id, tmp_path, fresh_hf_home):
    api, anon = local_hub.api(), local_hub.api(token=False)
    api.create_repo(repo_id, repo_type="dataset")
    folder = write_dataset_folder(tmp_path / "gated")
    api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="dataset")
    api.update_repo_settings(repo_id, repo_type="dataset", gated="manual")

    info = anon.repo_info(repo_id, repo_type="dataset")  # the repo itself stays public
    assert info.gated == "manual" and {s.rfilename for s in info.siblings} == {"README.md", PARQUET}
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, PARQUET, repo_type="dataset", token=False)
    card = hf_hub_download(repo_id, "README.md", repo_type="dataset", token=False)  # the card is public
    assert Path(card).read_text() == CARD
    path = hf_hub_download(repo_id, PARQUET, repo_type="dataset", token=local_hub.token)
    assert Path(path).read_bytes() == (folder / PARQUET).read_bytes()

    status, _, page = raw_request(local_hub.endpoint, "GET", f"/datasets/{repo_id}")
    assert status == 200 and b"manual" in page and b"<img" not in page and b"needs the token" in page

    api.update_repo_settings(repo_id, repo_type="dataset", gated=False)
    assert anon.repo_info(repo_id, repo_type="dataset").gated is False
    status, _, _ = raw_request(local_hub.endpoint, "GET", f"/datasets/{repo_id}/resolve/main/{PARQUET}")
    assert status == 200


# ---------------------------------------------------------------------------------------------------------------
# Persistence, pagination, ranges, pages, CLI
# ---------------------------------------------------------------------------------------------------------------


def test_published_repo_survives_a_restart(tmp_path, fresh_hf_home):
    root = tmp_path / "hub"
    hub = start_local_hub(root, free_port(), token="hf_restart_token")
    try:
        api = hub.api()
        api.create_repo("tests/persist", repo_type="dataset")
        folder = write_dataset_folder(tmp_path / "folder")
        sha = api.upload_folder(folder_path=folder, repo_id="tests/persist", repo_type="dataset").oid
        pr = api.create_commit("tests/persist", repo_type="dataset", commit_message="pr", create_pr=True,
                               operations=[CommitOperationAdd("pr.txt", b"pr")])
        api.update_repo_settings("tests/persist", repo_type="dataset", gated="auto")
    finally:
        stop_local_hub(hub)

    hub = start_local_hub(root, free_port(), token="hf_restart_token")
    try:
        api = hub.api()
        info = api.repo_info("tests/persist", repo_type="dataset")
        assert info.sha == sha and info.gated == "auto" and info.card_data.license == "cc-by-4.0"
        assert api.repo_info("tests/persist", repo_type="dataset", revision="refs/pr/1").sha == pr.oid
        path = hf_hub_download("tests/persist", PARQUET, repo_type="dataset", endpoint=hub.endpoint,
                               token=hub.token, cache_dir=tmp_path / "cache")
        assert Path(path).read_bytes() == (folder / PARQUET).read_bytes()
        again = api.create_commit("tests/persist", repo_type="dataset", commit_message="after restart",
                                  create_pr=True, operations=[CommitOperationAdd("pr2.txt", b"pr2")])
        assert again.pr_num == 2
    finally:
        stop_local_hub(hub)


def test_tree_pagination(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    names = [f"many/f{i:04d}.txt" for i in range(1005)]  # more than the 1000-entry page
    api.create_commit(repo_id, repo_type="dataset", commit_message="many files",
                      operations=[CommitOperationAdd(n, n.encode()) for n in names] +
                                 [CommitOperationAdd("top.txt", b"top")])
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == sorted(names + ["top.txt"])
    expanded = list(api.list_repo_tree(repo_id, path_in_repo="many", repo_type="dataset", expand=True))  # 50 per page
    assert [e.path for e in expanded] == names and all(e.last_commit.title == "many files" for e in expanded)

    # The Link header itself, followed by hand with a small page size.
    seen, path, pages = [], f"/api/datasets/{repo_id}/tree/main/many?recursive=true&limit=400", 0
    while path:
        status, headers, body = raw_request(local_hub.endpoint, "GET", path)
        assert status == 200
        seen += [e["path"] for e in json.loads(body)]
        pages += 1
        link = headers.get("Link")
        path = link[1:link.index(">")][len(local_hub.endpoint):] if link else None
        assert link is None or link.endswith('; rel="next"')
    assert seen == names and pages == 3


def test_ranges_and_head(local_hub, published):
    url = f"/datasets/{published['repo']}/resolve/main/{PARQUET}"
    local = (published["folder"] / PARQUET).read_bytes()
    size = len(local)
    status, headers, body = raw_request(local_hub.endpoint, "GET", url, headers={"Range": "bytes=4-11"})
    assert (status, body, headers["Content-Range"]) == (206, local[4:12], f"bytes 4-11/{size}")
    status, headers, body = raw_request(local_hub.endpoint, "GET", url, headers={"Range": "bytes=-6"})
    assert status == 206 and body == local[-6:] and headers["Content-Length"] == "6"
    status, headers, body = raw_request(local_hub.endpoint, "GET", url, headers={"Range": f"bytes={size}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}" and "error" in json.loads(body)

    status, headers, body = raw_request(local_hub.endpoint, "HEAD", url)
    assert status == 200 and body == b"" and headers["Content-Length"] == str(size)
    assert headers["Accept-Ranges"] == "bytes" and headers["X-Repo-Commit"] == published["sha"]
    assert headers["ETag"] == headers["X-Linked-Etag"] == f'"{hashlib.sha256(local).hexdigest()}"'
    status, headers, _ = raw_request(local_hub.endpoint, "HEAD", f"/datasets/{published['repo']}/resolve/main/nope.py")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound" and headers["X-Repo-Commit"] == published["sha"]
    status, headers, _ = raw_request(local_hub.endpoint, "HEAD",
                                     f"/datasets/{published['repo']}/resolve/nope/README.md")
    assert status == 404 and headers["X-Error-Code"] == "RevisionNotFound"
    status, headers, _ = raw_request(local_hub.endpoint, "HEAD", "/datasets/tests/missing-repo/resolve/main/README.md")
    assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"


def test_dataset_page_renders_card_tags_and_preview(local_hub, published):
    status, headers, body = raw_request(local_hub.endpoint, "GET", f"/datasets/{published['repo']}")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<h1>Local hub test card</h1>" in page
    assert "<b>license</b>cc-by-4.0" in page and "<b>task</b>image-to-text" in page and "<b>size</b>n&lt;1K" in page
    assert "<table>" in page and "<th>field</th>" in page and '<code class="language-python">' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    preview = page[page.index("<h2>Preview</h2>"):page.index('<article class="card">')]
    assert '<h3 id="preview-default">default</h3>' in preview and "<summary>train</summary>" in preview
    assert "<th>image</th>" in preview
    assert preview.count('<img src="data:image/png;base64,') == 5  # the first five rows
    assert "row 0 &lt;b&gt;bold?&lt;/b&gt;" in preview and "row 5" not in preview
    index = raw_request(local_hub.endpoint, "GET", "/")[2].decode()
    assert f'<a href="/datasets/{published["repo"]}">{published["repo"]}</a>' in index


def _start_cli(root: Path, *args: str, env_token: str | None = None) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    if env_token:
        env["HF_TOKEN"] = env_token
    proc = subprocess.Popen([sys.executable, str(PROJECT / "scripts" / "local_hub.py"), "--port", "0", "--root",
                             str(root), "--quiet", *args], stdout=subprocess.PIPE, text=True, env=env, cwd=PROJECT)
    first = proc.stdout.readline().strip()
    assert first.startswith("local hub: http://127.0.0.1:"), first
    return proc, first.removeprefix("local hub: ")


def _stop_cli(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return out


def test_cli_token_sources_and_printing(tmp_path):
    proc, endpoint = _start_cli(tmp_path / "generated")
    try:
        token = proc.stdout.readline().strip().removeprefix("token: ")
        assert token.startswith("hf_local_")
        HfApi(endpoint=endpoint, token=token).create_repo("tests/cli", repo_type="dataset")
        with pytest.raises(HfHubHTTPError):
            HfApi(endpoint=endpoint, token="hf_other").create_repo("tests/cli2", repo_type="dataset")
    finally:
        _stop_cli(proc)

    for args, env_token in ((("--token", "hf_given_secret"), None), ((), "hf_given_secret")):
        proc, endpoint = _start_cli(tmp_path / "given", *args, env_token=env_token)
        try:
            api = HfApi(endpoint=endpoint, token="hf_given_secret")
            api.create_repo("tests/cli", repo_type="dataset", exist_ok=True)
        finally:
            assert "hf_given_secret" not in _stop_cli(proc)


# ---------------------------------------------------------------------------------------------------------------
# The Hub's limits (real numbers by default, each a flag), pull requests, tags, history, Xet
# ---------------------------------------------------------------------------------------------------------------

LIMITED_TOKEN = "hf_limited_token_0123456789"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A local hub whose limits are small: 3 entries per folder, 3 LFS files and 1,000 regular bytes per commit,
    files of at most 1,000 bytes, 4 commits per repository in 60 s."""
    proc, endpoint = _start_cli(tmp_path_factory.mktemp("limited"), "--token", LIMITED_TOKEN,
                                "--max-folder-entries", "3", "--max-lfs-files-per-commit", "3",
                                "--max-regular-bytes-per-commit", "1000", "--max-file-bytes", "1000",
                                "--commit-rate", "4/60")
    yield HfApi(endpoint=endpoint, token=LIMITED_TOKEN)
    _stop_cli(proc)


def test_the_limits_are_the_hubs_by_default():
    from builders.hub.server import Limits

    limits = Limits()
    assert (limits.max_folder_entries, limits.max_lfs_files_per_commit, limits.max_regular_bytes_per_commit,
            limits.max_file_bytes, limits.commits_per_window, limits.commit_window_seconds) == \
        (10_000, 25_000, 1_000_000_000, 500_000_000_000, 128, 3600)
    refused = subprocess.run([sys.executable, str(PROJECT / "scripts" / "local_hub.py"), "--commit-rate", "often"],
                             capture_output=True, text=True, cwd=PROJECT, timeout=60)
    assert refused.returncode == 2 and "'often' is not COMMITS/SECONDS, e.g. 128/3600" in refused.stderr


def refused_with(status: int, message: str):
    """The HfHubHTTPError of a request the hub refused, with its status and the server's words."""
    class Check:
        def __enter__(self):
            self.raised = pytest.raises(HfHubHTTPError)
            self.info = self.raised.__enter__()
            return self

        def __exit__(self, *exc):
            handled = self.raised.__exit__(*exc)
            error = self.info.value
            assert error.response.status_code == status, error
            assert message in (error.server_message or ""), error.server_message
            return handled
    return Check()


def test_lfs_files_and_regular_bytes_per_commit(limited, repo_id):
    limited.create_repo(repo_id, repo_type="dataset")
    with refused_with(400, "this commit adds more than 3 LFS files, the most the Hub takes in one commit"):
        limited.create_commit(repo_id, [CommitOperationAdd(f"d{i}/x.parquet", bytes([i]) * 10) for i in range(4)],
                              commit_message="four", repo_type="dataset")
    limited.create_commit(repo_id, [CommitOperationAdd(f"d{i}/x.parquet", bytes([i]) * 10) for i in range(3)],
                          commit_message="three", repo_type="dataset")
    with refused_with(413, "more than 1,000 bytes of regular (non-LFS) files"):
        limited.create_commit(repo_id, [CommitOperationAdd(f"t/{i}.txt", b"x" * 600) for i in range(2)],
                              commit_message="too much text", repo_type="dataset")
    assert sorted(limited.list_repo_files(repo_id, repo_type="dataset")) == [f"d{i}/x.parquet" for i in range(3)]


def test_entries_per_folder(limited, repo_id):
    limited.create_repo(repo_id, repo_type="dataset")
    limited.create_commit(repo_id, [CommitOperationAdd(f"a/{i}.txt", b"x") for i in range(3)],
                          commit_message="three", repo_type="dataset")
    with refused_with(400, "folder 'a' would hold 4 entries; the Hub allows at most 3 files and folders in one folder"):
        limited.create_commit(repo_id, [CommitOperationAdd("a/sub/4.txt", b"x")], commit_message="a fourth entry",
                              repo_type="dataset")
    with refused_with(400, "folder '/' would hold 4 entries"):
        limited.create_commit(repo_id, [CommitOperationAdd(f"{name}.txt", b"x") for name in "bcd"],
                              commit_message="three more at the root", repo_type="dataset")


def test_file_size(limited, repo_id):
    limited.create_repo(repo_id, repo_type="dataset")
    with pytest.raises(ValueError, match="1,001 bytes is over the Hub's limit of 1,000 bytes per file"):
        limited.create_commit(repo_id, [CommitOperationAdd("big.parquet", b"x" * 1001)], commit_message="big",
                              repo_type="dataset")
    limited.create_commit(repo_id, [CommitOperationAdd("fits.parquet", b"x" * 1000)], commit_message="fits",
                          repo_type="dataset")


def test_commits_per_window_get_429_with_retry_after(limited, repo_id):
    limited.create_repo(repo_id, repo_type="dataset")
    for i in range(4):
        limited.create_commit(repo_id, [CommitOperationAdd("count.txt", b"%d" % i)], commit_message=f"c{i}",
                              repo_type="dataset")
    with refused_with(429, f"You have exceeded the rate limit for repository commits (4 per 60 s) on {repo_id}") \
            as check:
        limited.create_commit(repo_id, [CommitOperationAdd("count.txt", b"5")], commit_message="c5",
                              repo_type="dataset")
    assert 1 <= int(check.info.value.response.headers["Retry-After"]) <= 60
    other = repo_id + "-other"  # the limit is per repository
    limited.create_repo(other, repo_type="dataset")
    limited.create_commit(other, [CommitOperationAdd("1.txt", b"x")], commit_message="c1", repo_type="dataset")


def test_pull_request_in_batches_then_merged_in_one_commit(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    base = api.create_commit(repo_id, [CommitOperationAdd("old.txt", b"old")], commit_message="old",
                             repo_type="dataset").oid
    pr = api.create_pull_request(repo_id, title="Batches", description="opening words", repo_type="dataset")
    assert (pr.num, pr.status, pr.git_reference, pr.target_branch) == (1, "draft", "refs/pr/1", "refs/heads/main")
    assert pr.events[0].content == "opening words"
    assert api.repo_info(repo_id, repo_type="dataset", revision="refs/pr/1").sha == base
    for n in range(3):
        api.create_commit(repo_id, [CommitOperationAdd(f"new/{n}.parquet", bytes([n]) * 100)],
                          commit_message=f"batch {n}", repo_type="dataset", revision="refs/pr/1")
    api.create_commit(repo_id, [CommitOperationDelete("old.txt")], commit_message="batch 3", repo_type="dataset",
                      revision="refs/pr/1")
    assert api.list_repo_files(repo_id, repo_type="dataset") == ["old.txt"]
    listed = api.get_repo_discussions(repo_id, repo_type="dataset", discussion_type="pull_request",
                                      discussion_status="open")
    assert [(d.num, d.status, d.is_pull_request) for d in listed] == [(1, "draft", True)]
    assert list(api.get_repo_discussions(repo_id, repo_type="dataset", discussion_type="discussion")) == []

    with pytest.raises(HfHubHTTPError, match="only an open pull request can be merged"):
        api.merge_pull_request(repo_id, 1, repo_type="dataset")
    assert api.change_discussion_status(repo_id, 1, "open", repo_type="dataset").new_status == "open"
    api.merge_pull_request(repo_id, 1, repo_type="dataset", comment="done")
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == [f"new/{n}.parquet" for n in range(3)]
    details = api.get_discussion_details(repo_id, 1, repo_type="dataset")
    head = api.repo_info(repo_id, repo_type="dataset").sha
    assert details.status == "merged" and details.merge_commit_oid == head
    assert [e.type for e in details.events] == ["comment"] + ["commit"] * 4 + ["status-change"] * 2
    assert [c.title for c in api.list_repo_commits(repo_id, repo_type="dataset")] == \
        ["Merge pull request #1: Batches", "old", "initial commit"]
    with pytest.raises(HfHubHTTPError, match="pull request #1 is merged: open a new one"):
        api.create_commit(repo_id, [CommitOperationAdd("late.txt", b"late")], commit_message="late",
                          repo_type="dataset", revision="refs/pr/1")


def test_merging_into_a_branch_that_moved(local_hub, repo_id):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    api.create_commit(repo_id, [CommitOperationAdd("shared.txt", b"v1")], commit_message="v1", repo_type="dataset")
    mine = api.create_pull_request(repo_id, title="mine", repo_type="dataset")
    api.create_commit(repo_id, [CommitOperationAdd("mine.txt", b"mine")], commit_message="mine", repo_type="dataset",
                      revision=mine.git_reference)
    clash = api.create_pull_request(repo_id, title="clash", repo_type="dataset")
    api.create_commit(repo_id, [CommitOperationAdd("shared.txt", b"pr")], commit_message="pr", repo_type="dataset",
                      revision=clash.git_reference)
    api.create_commit(repo_id, [CommitOperationAdd("shared.txt", b"main"), CommitOperationAdd("theirs.txt", b"t")],
                      commit_message="main moved", repo_type="dataset")
    for pr in (mine, clash):
        api.change_discussion_status(repo_id, pr.num, "open", repo_type="dataset")
    api.merge_pull_request(repo_id, mine.num, repo_type="dataset")  # changes on both sides, different files
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == ["mine.txt", "shared.txt", "theirs.txt"]
    head = api.repo_info(repo_id, repo_type="dataset").sha
    with pytest.raises(HfHubHTTPError, match=r"conflicts with the branch it targets \(changed on both sides: "
                                             r"shared.txt\)") as error:
        api.merge_pull_request(repo_id, clash.num, repo_type="dataset")
    assert error.value.response.status_code == 409 and api.repo_info(repo_id, repo_type="dataset").sha == head
    assert api.get_discussion_details(repo_id, clash.num, repo_type="dataset").status == "open"


def test_tags_name_a_commit_for_good(local_hub, repo_id, tmp_path):
    api = local_hub.api()
    api.create_repo(repo_id, repo_type="dataset")
    first = api.create_commit(repo_id, [CommitOperationAdd("data.txt", b"v1")], commit_message="v1",
                              repo_type="dataset").oid
    api.create_tag(repo_id, tag="v1.0.0", tag_message="first release", repo_type="dataset")
    api.create_commit(repo_id, [CommitOperationAdd("data.txt", b"v2")], commit_message="v2", repo_type="dataset")
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1.0.0", "refs/tags/v1.0.0", first)]
    assert api.repo_info(repo_id, repo_type="dataset", revision="v1.0.0").sha == first
    path = hf_hub_download(repo_id, "data.txt", repo_type="dataset", revision="v1.0.0", token=local_hub.token,
                           cache_dir=tmp_path)
    assert Path(path).read_bytes() == b"v1"
    with pytest.raises(HfHubHTTPError) as error:
        api.create_tag(repo_id, tag="v1.0.0", repo_type="dataset")
    assert error.value.response.status_code == 409
    api.create_tag(repo_id, tag="v1.0.0", repo_type="dataset", exist_ok=True)
    with pytest.raises(HfHubHTTPError, match="invalid tag name"):
        api.create_tag(repo_id, tag="refs/heads/x", repo_type="dataset")
    api.delete_tag(repo_id, tag="v1.0.0", repo_type="dataset")
    assert api.list_repo_refs(repo_id, repo_type="dataset").tags == []


def test_the_xet_token_route_says_to_use_lfs(local_hub, published):
    status, headers, body = raw_request(local_hub.endpoint, "GET",
                                        f"/api/datasets/{published['repo']}/xet-write-token/main")
    assert status == 404 and headers["X-Error-Code"] == "XetNotSupported"
    assert "set HF_HUB_DISABLE_XET=1" in json.loads(body)["error"]
