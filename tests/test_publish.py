"""Build → publish → load_dataset through the local Hub, with the real huggingface_hub and datasets clients."""
from __future__ import annotations

import json
import shutil

import datasets
import huggingface_hub.lfs
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from builders import flickr30k_entities as f30k
from builders.hub import publish as publishing
from builders.errors import UsageError
from builders.pipeline import build
from builders.samples import flickr30k_entities as sample
from helpers import parquet_rows, run_script


@pytest.fixture(scope="module")
def built_folder(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    sample.make(raw)
    out = tmp_path_factory.mktemp("out")
    build("flickr30k_entities", raw, out, progress=False, log=lambda *a: None)
    return raw, out


def copy_of(folder, tmp_path):
    target = tmp_path / "built"
    shutil.copytree(folder, target)
    return target


def publish_cli(folder, repo, hub, *extra):
    return run_script("publish.py", folder, "--repo", repo, *extra, env={"HF_TOKEN": hub.token})


def remote_files(hub, repo, revision=None):
    return sorted(hub.api().list_repo_files(repo, repo_type="dataset", revision=revision))


def test_round_trip_every_config(local_hub, built_folder, tmp_path, fresh_hf_home):
    _, built = built_folder
    folder = copy_of(built, tmp_path)
    result = publish_cli(folder, "roundtrip/flickr30k-entities", local_hub)
    assert result.returncode == 0, result.stderr
    assert f"dataset page: {local_hub.endpoint}/datasets/roundtrip/flickr30k-entities" in result.stdout
    assert 'load_dataset("roundtrip/flickr30k-entities", "entities")' in (folder / "README.md").read_text()
    assert datasets.get_dataset_config_names("roundtrip/flickr30k-entities", token=local_hub.token) == \
        ["captions", "entities", "karpathy"]
    for config in ("entities", "captions", "karpathy"):
        loaded = datasets.load_dataset("roundtrip/flickr30k-entities", config, token=local_hub.token)
        assert list(loaded) == ["train", "validation", "test"]
        for split, part in loaded.items():
            rows = list(part.cast_column("image", datasets.Image(decode=False)))
            assert rows == parquet_rows(folder, config, split), (config, split)
    entities = datasets.load_dataset("roundtrip/flickr30k-entities", "entities", split="validation", token=local_hub.token)
    assert entities[0]["image"].size == (500, 375)  # decodes with Pillow
    assert entities.features["entities"].feature["boxes"] == datasets.List(datasets.List(datasets.Value("int32"), length=4))


def test_republishing_an_unchanged_folder_makes_no_commit(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    repo = "same/flickr30k-entities"
    assert publish_cli(folder, repo, local_hub).returncode == 0
    head = local_hub.api().repo_info(repo, repo_type="dataset").sha
    again = publish_cli(folder, repo, local_hub)
    assert again.returncode == 0 and "no commit" in again.stdout
    assert local_hub.api().repo_info(repo, repo_type="dataset").sha == head


def test_a_changed_build_replaces_files_and_leaves_nothing_stale(local_hub, built_folder, tmp_path, monkeypatch):
    raw, built = built_folder
    repo = "change/flickr30k-entities"
    assert publish_cli(copy_of(built, tmp_path), repo, local_hub).returncode == 0
    first = remote_files(local_hub, repo)
    bigger = tmp_path / "raw2"
    sample.make(bigger, scale=6)
    monkeypatch.setattr(f30k.Flickr30kEntities, "SHARD_BYTES", 8_000)
    out = tmp_path / "out2"
    build("flickr30k_entities", bigger, out, configs=["entities"], progress=False, log=lambda *a: None)
    result = publish_cli(out, repo, local_hub)
    assert result.returncode == 0, result.stderr
    local = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert remote_files(local_hub, repo) == local  # captions/ and karpathy/ files are gone, as are old train shards
    assert any(f.startswith("captions/") for f in first)
    assert "delete  entities/train-00000-of-00001.parquet" in result.stdout


def test_publishing_takes_each_parts_sha256_from_the_build_report(local_hub, built_folder, tmp_path, monkeypatch):
    folder = copy_of(built_folder[1], tmp_path)  # (copytree keeps the modification times)
    report = json.loads((folder / "build_report.json").read_text())
    recorded = {name: part["sha256"] for config in report["configs"].values() for split in config["splits"].values()
                for name, part in zip(split["files"], split["parts"])}
    hashed, real = [], huggingface_hub.lfs.sha_fileobj  # (what huggingface_hub hashes a file to upload with)
    monkeypatch.setattr(huggingface_hub.lfs, "sha_fileobj", lambda file, *a: hashed.append(file.name) or real(file, *a))
    publishing.publish(folder, "recorded/flickr30k-entities", token=local_hub.token, log=lambda *a: None)
    assert not [name for name in hashed if name.endswith(".parquet")]
    # the local Hub hashes what it receives and refuses an upload whose bytes are not its announced sha256
    files = local_hub.api().get_paths_info("recorded/flickr30k-entities", list(recorded), repo_type="dataset")
    assert {f.path: f.lfs.sha256 for f in files} == recorded


@pytest.mark.parametrize("change", ["same size, other bytes", "other size", "touched only"])
def test_a_part_changed_since_the_build_is_hashed_and_refused(change, local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    part = folder / "entities/train-00000-of-00001.parquet"
    data = part.read_bytes()
    if change == "same size, other bytes":
        part.write_bytes(data[:-9] + bytes(9))  # the footer's length and magic, zeroed
    elif change == "other size":
        part.write_bytes(data + b"\n")
    else:
        part.touch()
    repo = f"changed/{change.replace(' ', '-').replace(',', '')}"
    result = publish_cli(folder, repo, local_hub)
    if change == "touched only":  # hashed again, and found to be what the build wrote
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2
    assert f"{part}: changed since the build (" in result.stderr and "rebuild the folder" in result.stderr
    assert ("where build_report.json records" in result.stderr) == (change == "other size")
    assert not local_hub.api().repo_exists(repo, repo_type="dataset")


def test_dry_run_changes_nothing(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    readme = (folder / "README.md").read_bytes()
    result = publish_cli(folder, "dry/flickr30k-entities", local_hub, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert (folder / "README.md").read_bytes() == readme  # the card would name dry/...: not written on a dry run
    assert "will be created" in result.stdout and "upload  entities/train-00000-of-00001.parquet" in result.stdout
    assert not local_hub.api().repo_exists("dry/flickr30k-entities", repo_type="dataset")


def test_create_pr_leaves_main_alone(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    repo = "pr/flickr30k-entities"
    local_hub.api().create_repo(repo, repo_type="dataset")
    head = local_hub.api().repo_info(repo, repo_type="dataset").sha
    result = publish_cli(folder, repo, local_hub, "--create-pr")
    assert result.returncode == 0, result.stderr
    assert "pull request:" in result.stdout
    assert local_hub.api().repo_info(repo, repo_type="dataset").sha == head
    assert "README.md" in remote_files(local_hub, repo, revision="refs/pr/1")


def test_gated_dataset_needs_a_token_to_download(local_hub, built_folder, tmp_path, fresh_hf_home):
    repo = "gate/flickr30k-entities"
    assert publish_cli(copy_of(built_folder[1], tmp_path), repo, local_hub).returncode == 0
    info = HfApi(endpoint=local_hub.endpoint, token=False).repo_info(repo, repo_type="dataset")
    assert info.gated and not info.private
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "entities/test-00000-of-00001.parquet", repo_type="dataset", token=False,
                        cache_dir=tmp_path / "anon")
    assert hf_hub_download(repo, "entities/test-00000-of-00001.parquet", repo_type="dataset", token=local_hub.token,
                           cache_dir=tmp_path / "auth")


def test_licence_guard_for_a_private_dataset(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    report = json.loads((folder / "build_report.json").read_text())
    report["redistribution"] = "private"
    (folder / "build_report.json").write_text(json.dumps(report))
    refused = publish_cli(folder, "guard/private-one", local_hub, "--public")
    assert refused.returncode == 2 and "does not allow public redistribution" in refused.stderr
    local_hub.api().create_repo("guard/public-one", repo_type="dataset", private=False)
    refused = publish_cli(folder, "guard/public-one", local_hub)
    assert refused.returncode == 2 and "exists and is public" in refused.stderr
    assert remote_files(local_hub, "guard/public-one") in ([], [".gitattributes"])
    done = publish_cli(folder, "guard/private-one", local_hub)
    assert done.returncode == 0, done.stderr
    assert local_hub.api().repo_info("guard/private-one", repo_type="dataset").private
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=local_hub.endpoint, token=False).repo_info("guard/private-one", repo_type="dataset")


def test_visibility_rules():
    assert publishing.visibility("private", None, None) is True
    assert publishing.visibility("gated", None, None) is False
    assert publishing.visibility("public", True, None) is True
    assert publishing.visibility("public", None, True) is True
    with pytest.raises(UsageError):
        publishing.visibility("private", False, None)
    with pytest.raises(UsageError):
        publishing.visibility("private", None, False)


def test_a_commit_landing_during_publish_is_never_clobbered(local_hub, built_folder, tmp_path, monkeypatch):
    folder = copy_of(built_folder[1], tmp_path)
    repo = "race/flickr30k-entities"
    local_hub.api().create_repo(repo, repo_type="dataset")
    other = local_hub.api()

    class RacingApi(HfApi):
        def create_commit(self, *args, **kwargs):  # someone else commits between our plan and our commit
            other.upload_file(path_or_fileobj=b"theirs", path_in_repo="theirs.txt", repo_id=repo, repo_type="dataset")
            return super().create_commit(*args, **kwargs)

    monkeypatch.setattr(publishing, "HfApi", RacingApi)
    with pytest.raises(UsageError, match="changed while publishing"):
        publishing.publish(folder, repo, token=local_hub.token, log=lambda *a: None)
    assert remote_files(local_hub, repo) in (["theirs.txt"], [".gitattributes", "theirs.txt"])
    monkeypatch.setattr(publishing, "HfApi", HfApi)
    publishing.publish(folder, repo, token=local_hub.token, log=lambda *a: None)
    assert "theirs.txt" in remote_files(local_hub, repo) and "README.md" in remote_files(local_hub, repo)


def test_an_incomplete_build_is_refused(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    (folder / "README.md").unlink()
    result = publish_cli(folder, "incomplete/x", local_hub)
    assert result.returncode == 2 and "not a complete build" in result.stderr


def test_the_token_never_appears_in_any_output(local_hub, built_folder, tmp_path):
    folder = copy_of(built_folder[1], tmp_path)
    result = publish_cli(folder, "secret/flickr30k-entities", local_hub)
    assert result.returncode == 0, result.stderr
    failing = run_script("publish.py", folder, "--repo", "secret/flickr30k-entities", env={"HF_TOKEN": "hf_wrong_" + local_hub.token})
    assert failing.returncode != 0
    texts = [result.stdout, result.stderr, failing.stdout, failing.stderr] + \
        [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert not any(local_hub.token in text for text in texts)
    assert "hf_wrong_" not in failing.stderr


def test_build_and_publish_in_one_command(local_hub, tmp_path, fresh_hf_home):
    raw = tmp_path / "raw"
    sample.make(raw)
    result = run_script("publish.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "out",
                        "--repo", "oneshot/flickr30k-entities", "--config", "captions", "--quiet",
                        env={"HF_TOKEN": local_hub.token})
    assert result.returncode == 0, result.stderr
    ds = datasets.load_dataset("oneshot/flickr30k-entities", "captions", split="test", token=local_hub.token)
    assert ds[0]["captions"][2] == "The animals play"
    with pytest.raises(HfHubHTTPError):
        local_hub.api(token=False).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt",
                                               repo_id="oneshot/flickr30k-entities", repo_type="dataset")
