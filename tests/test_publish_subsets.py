"""Publishing part of a built folder: config subsets (--config), configs kept on the Hub (--keep-other-configs)
and one repository per redistribution policy (--split-by-policy), through the local Hub with the real clients."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import pytest
import yaml
from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from builders.cardcheck import policy_repository_errors
from builders.errors import UsageError
from builders.hub import subsets
from helpers import parquet_rows, run_script

CAPTIONS = ["10m_flt", "10m_div", "aes_18m", "full", "10m_flt_info", "queries"]
CLIPS = ["clips_10m_flt", "clips_10m_div", "clips_aes_18m", "clips_full", "clips_10m_flt_info"]


@pytest.fixture(scope="module")
def internvid(samples) -> Path:
    return samples.build("internvid").out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "built"))


def publish(hub, folder, repo, *extra):
    return run_script("publish.py", folder, "--repo", repo, *extra, env={"HF_TOKEN": hub.token})


def hub_file(hub, repo, name, tmp_path) -> str:
    path = hub.api().hf_hub_download(repo, name, repo_type="dataset", local_dir=tmp_path / "dl" / repo)
    return Path(path).read_text(encoding="utf-8")


def card_configs(card: str) -> dict[str, dict]:
    header = yaml.safe_load(card.split("---\n")[1])
    return {c["config_name"]: c for c in header["configs"]}


def hub_files(hub, repo) -> list[str]:
    return sorted(f for f in hub.api().list_repo_files(repo, repo_type="dataset") if f != ".gitattributes")


def folder_files(folder: Path, configs) -> list[str]:
    return sorted([f.relative_to(folder).as_posix() for c in configs for f in (folder / c).rglob("*.parquet")]
                  + ["README.md", "build_report.json", "croissant.json"])


def test_split_by_policy_gives_the_captions_a_gated_repository_and_the_clips_a_private_one(
        local_hub, internvid, tmp_path, fresh_hf_home):
    folder = copy_of(internvid, tmp_path)
    before = {name: (folder / name).read_bytes() for name in ("README.md", "build_report.json", "croissant.json")}

    dry = publish(local_hub, folder, "split/internvid", "--split-by-policy", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"  split/internvid-clips (private): {', '.join(CLIPS)}" in dry.stdout
    assert f"  split/internvid (gated): {', '.join(CAPTIONS)}" in dry.stdout
    assert "repository split/internvid-clips (will be created, private)" in dry.stdout
    assert "repository split/internvid (will be created, public, gated (auto))" in dry.stdout
    assert "upload  clips_full/train-00000-of-00001.parquet" in dry.stdout.split("split/internvid:")[0]
    assert "clips_" not in dry.stdout.split("\nsplit/internvid:")[1].split("dataset page")[0]
    assert not local_hub.api().repo_exists("split/internvid", repo_type="dataset")

    done = publish(local_hub, folder, "split/internvid", "--split-by-policy")
    assert done.returncode == 0, done.stderr
    api, anonymous = local_hub.api(), HfApi(endpoint=local_hub.endpoint, token=False)
    captions, clips = api.repo_info("split/internvid", repo_type="dataset"), \
        api.repo_info("split/internvid-clips", repo_type="dataset")
    assert (captions.private, captions.gated) == (False, "auto") and clips.private
    assert hub_files(local_hub, "split/internvid") == folder_files(folder, CAPTIONS)
    assert hub_files(local_hub, "split/internvid-clips") == folder_files(folder, CLIPS)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.repo_info("split/internvid-clips", repo_type="dataset")
    with pytest.raises(GatedRepoError):
        anonymous.hf_hub_download("split/internvid", "10m_flt/train-00000-of-00001.parquet", repo_type="dataset",
                                  local_dir=tmp_path / "anonymous")

    for repo, configs in (("split/internvid", CAPTIONS), ("split/internvid-clips", CLIPS)):
        assert sorted(datasets.get_dataset_config_names(repo, token=local_hub.token)) == sorted(configs)
        config = configs[0]
        loaded = datasets.load_dataset(repo, config, split="train", token=local_hub.token)
        if "video" in loaded.features:
            loaded = loaded.cast_column("video", datasets.Video(decode=False))
        assert list(loaded) == parquet_rows(folder, config, "train")
        card = hub_file(local_hub, repo, "README.md", tmp_path)
        assert [name for name, c in card_configs(card).items() if c.get("default")] == [config]
        report = json.loads(hub_file(local_hub, repo, "build_report.json", tmp_path))
        assert list(report["configs"]) == configs and "failed_configs" not in report
        croissant = json.loads(hub_file(local_hub, repo, "croissant.json", tmp_path))
        assert sorted(r["name"] for r in croissant["recordSet"]) == sorted(configs + [f"{c}_splits" for c in configs])
        assert all(n.split(": ")[0] in configs for n in report["notices"] if n.split(": ")[0] in CAPTIONS + CLIPS)

    gated_card = hub_file(local_hub, "split/internvid", "README.md", tmp_path)
    private_card = hub_file(local_hub, "split/internvid-clips", "README.md", tmp_path)
    assert gated_card.count("> **Access is gated.**") == 1 and "extra_gated_prompt" in gated_card
    assert "> **Not for public redistribution.**" in private_card
    assert ("- [split/internvid-clips](https://huggingface.co/datasets/split/internvid-clips): "
            + ", ".join(f"`{c}`" for c in CLIPS) + "; private: not for public redistribution") in gated_card
    assert ("- [split/internvid](https://huggingface.co/datasets/split/internvid): "
            + ", ".join(f"`{c}`" for c in CAPTIONS) + "; gated: accept the terms on its page") in private_card
    assert "python scripts/publish.py OUT --repo split/internvid --split-by-policy" in gated_card
    assert "clips_10m_flt" not in gated_card.split("## Configurations")[1]
    # the folder holds every config and is left as it was built: it can feed both repositories again
    assert {name: (folder / name).read_bytes() for name in before} == before
    again = publish(local_hub, folder, "split/internvid", "--split-by-policy")
    assert again.returncode == 0 and again.stdout.count("the repository already has this build: no commit") == 2


def test_bigdocs_open_configs_are_published_openly_beside_the_gated_joined_image_configs(
        local_hub, samples, tmp_path, fresh_hf_home):
    folder = copy_of(samples.build("bigdocs").out, tmp_path)
    joined = ["COCOtext", "TextOCR", "TabFact", "WikiTQ", "Open4Business"]
    done = publish(local_hub, folder, "split/bigdocs", "--split-by-policy")
    assert done.returncode == 0, done.stderr
    assert f"  split/bigdocs-gated (gated): {', '.join(joined)}" in done.stdout
    anonymous = HfApi(endpoint=local_hub.endpoint, token=False)
    assert not anonymous.repo_info("split/bigdocs", repo_type="dataset").gated
    assert anonymous.repo_info("split/bigdocs-gated", repo_type="dataset").gated == "auto"
    open_configs = [c for c in json.loads((folder / "build_report.json").read_text())["configs"] if c not in joined]
    assert hub_files(local_hub, "split/bigdocs") == folder_files(folder, open_configs)
    assert hub_files(local_hub, "split/bigdocs-gated") == folder_files(folder, joined)
    loaded = datasets.load_dataset("split/bigdocs", "ArxivOCR", split="train", token=False)  # no account needed
    assert list(loaded.cast_column("image", datasets.Image(decode=False))) == parquet_rows(folder, "ArxivOCR", "train")
    card = hub_file(local_hub, "split/bigdocs", "README.md", tmp_path)
    assert "> **Public.**" in card and "extra_gated_prompt" not in card
    assert "- [split/bigdocs-gated](https://huggingface.co/datasets/split/bigdocs-gated): `COCOtext`" in card


def test_a_subset_publish_then_the_others_kept_then_a_full_publish(local_hub, internvid, tmp_path, fresh_hf_home):
    folder, repo = copy_of(internvid, tmp_path), "subset/internvid"
    first = publish(local_hub, folder, repo, "--config", "10m_*")
    assert first.returncode == 0, first.stderr
    assert "configs: 10m_flt, 10m_div, 10m_flt_info" in first.stdout
    assert hub_files(local_hub, repo) == folder_files(folder, ["10m_flt", "10m_div", "10m_flt_info"])
    report = json.loads(hub_file(local_hub, repo, "build_report.json", tmp_path / "1"))
    assert report["redistribution"] == "gated" and list(report["configs"]) == ["10m_flt", "10m_div", "10m_flt_info"]
    assert any(n.startswith("10m_flt: the key 'Note'") for n in report["notices"])
    assert not any(n.startswith(("aes_18m: ", "clips_")) for n in report["notices"])

    # another subset without --keep-other-configs: the repository then holds exactly it
    second = publish(local_hub, folder, repo, "--config", "queries")
    assert second.returncode == 0, second.stderr
    assert "on the Hub but not in this publish, so deleted: 10m_div, 10m_flt, 10m_flt_info" in second.stdout
    assert hub_files(local_hub, repo) == folder_files(folder, ["queries"])

    # with it, what the repository holds stays, and the card describes both
    third = publish(local_hub, folder, repo, "--config", "10m_flt", "--keep-other-configs")
    assert third.returncode == 0, third.stderr
    assert "left alone on the Hub (--keep-other-configs): queries; the card describes queries too" in third.stdout
    assert hub_files(local_hub, repo) == folder_files(folder, ["10m_flt", "queries"])
    card = hub_file(local_hub, repo, "README.md", tmp_path / "3")
    assert set(card_configs(card)) == {"10m_flt", "queries"} and card_configs(card)["10m_flt"].get("default")
    assert "The configs `queries` were published to this repository by an earlier build" in card
    assert "--config 10m_flt --keep-other-configs" in card
    for config in ("10m_flt", "queries"):
        loaded = datasets.load_dataset(repo, config, split="train", token=local_hub.token)
        assert list(loaded) == parquet_rows(folder, config, "train")

    # the whole folder holds private clips: the licence guard refuses it for this public (gated) repository
    refused = publish(local_hub, folder, repo)
    assert refused.returncode == 2 and "exists and is public" in refused.stderr
    assert hub_files(local_hub, repo) == folder_files(folder, ["10m_flt", "queries"])
    # every config the gated policy allows, by glob: the repository holds them all, nothing is kept
    full = publish(local_hub, folder, repo, *[arg for c in CAPTIONS for arg in ("--config", c)])
    assert full.returncode == 0, full.stderr
    assert hub_files(local_hub, repo) == folder_files(folder, CAPTIONS)
    assert "earlier build" not in hub_file(local_hub, repo, "README.md", tmp_path / "4")


def test_a_whole_publish_after_a_subset_replaces_it_and_the_folder_matches(local_hub, samples, tmp_path):
    folder, repo = copy_of(samples.build("flickr30k_entities").out, tmp_path), "subset/flickr"
    built_card = (folder / "README.md").read_bytes()
    assert publish(local_hub, folder, repo, "--config", "entities").returncode == 0
    assert hub_files(local_hub, repo) == folder_files(folder, ["entities"])
    assert (folder / "README.md").read_bytes() == built_card  # a subset publish leaves the folder alone
    whole = publish(local_hub, folder, repo)
    assert whole.returncode == 0, whole.stderr
    assert hub_files(local_hub, repo) == folder_files(folder, ["entities", "captions", "karpathy"])
    assert f"python scripts/publish.py OUT --repo {repo}\n" in (folder / "README.md").read_text()
    assert (folder / "README.md").read_text() == hub_file(local_hub, repo, "README.md", tmp_path)


def test_configs_of_a_build_whose_other_configs_failed_can_be_published(local_hub, internvid, tmp_path):
    folder, repo = copy_of(internvid, tmp_path), "subset/partial"
    report = json.loads((folder / "build_report.json").read_text())
    for name in CLIPS:  # as a build leaves a folder whose clips configs failed: no card, the others in place
        report["configs"].pop(name)
        shutil.rmtree(folder / name)
    report["failed_configs"] = {name: [{"error": "no downloaded videos"}] for name in CLIPS}
    (folder / "build_report.json").write_text(json.dumps(report))
    (folder / "README.md").unlink()
    refused = publish(local_hub, folder, repo)
    assert refused.returncode == 2 and "publish the configs that built with --config" in refused.stderr
    wrong = publish(local_hub, folder, repo, "--config", "clips_full")
    assert wrong.returncode == 2 and "'clips_full' (it failed to build)" in wrong.stderr
    done = publish(local_hub, folder, repo, "--config", "10m_flt", "--config", "queries")
    assert done.returncode == 0, done.stderr
    assert hub_files(local_hub, repo) == folder_files(folder, ["10m_flt", "queries"])
    assert "failed_configs" not in json.loads(hub_file(local_hub, repo, "build_report.json", tmp_path))


def test_a_private_repository_whose_history_holds_private_configs_is_never_opened(local_hub, internvid, tmp_path):
    folder, repo = copy_of(internvid, tmp_path), "subset/was-private"
    assert publish(local_hub, folder, repo).returncode == 0  # clips included: private
    assert local_hub.api().repo_info(repo, repo_type="dataset").private
    stays = publish(local_hub, folder, repo, "--config", "10m_flt")  # the captions alone: still private
    assert stays.returncode == 0, stays.stderr
    assert f"note: {repo} is private and stays so; its configs' policy (gated) allows a gated repository, but its " \
           "history holds configs under the private policy" in stays.stdout
    assert json.loads(hub_file(local_hub, repo, "build_report.json", tmp_path))["redistribution"] == "gated"
    refused = publish(local_hub, folder, repo, "--config", "10m_flt", "--public")  # older commits hold the clips
    assert refused.returncode == 2 and "would let anyone download them from older commits" in refused.stderr
    assert local_hub.api().repo_info(repo, repo_type="dataset").private


def test_a_private_repository_of_gated_configs_is_opened_on_request(local_hub, internvid, tmp_path):
    folder, repo = copy_of(internvid, tmp_path), "subset/opened"
    assert publish(local_hub, folder, repo, "--config", "queries", "--private").returncode == 0
    assert local_hub.api().repo_info(repo, repo_type="dataset").private
    opened = publish(local_hub, folder, repo, "--config", "queries", "--public")
    assert opened.returncode == 0, opened.stderr
    info = HfApi(endpoint=local_hub.endpoint, token=False).repo_info(repo, repo_type="dataset")
    assert not info.private and info.gated == "auto"


def test_an_unknown_config_is_refused_with_what_the_folder_holds(local_hub, internvid, tmp_path):
    refused = publish(local_hub, copy_of(internvid, tmp_path), "subset/typo", "--config", "10m_flit")
    assert refused.returncode == 2
    assert "--config '10m_flit' (no such config): this folder holds the configs 10m_flt, 10m_div" in refused.stderr
    assert not local_hub.api().repo_exists("subset/typo", repo_type="dataset")


# ---- the report of a subset, and the repositories of the policies ---------------------------------------------

def test_a_subset_report_keeps_its_own_records_notices_and_policy(internvid):
    report = json.loads((internvid / "build_report.json").read_text())
    report["skipped"] = [{"config": "10m_div", "reason": "bad line"}, {"config": "clips_full", "reason": "no video"}]
    report["excluded"] = [{"config": "clips_full", "split": "train", "reason": "takedown", "count": 2}]
    report["notices"] += ["a notice about the whole build", "clips_10m_flt_info: about the clips"]
    subset = subsets.report_for_configs(report, ["10m_div", "10m_flt_info", "queries"])
    assert list(subset["configs"]) == ["10m_div", "10m_flt_info", "queries"]
    assert [c["default"] for c in subset["configs"].values()] == [True, False, False]  # 10m_flt is not in it
    assert subset["redistribution"] == "gated" and report["redistribution"] == "private"
    assert subset["skipped"] == [{"config": "10m_div", "reason": "bad line"}] and subset["excluded"] == []
    assert "a notice about the whole build" in subset["notices"]
    assert not [n for n in subset["notices"] if n.startswith(("clips_", "10m_flt: ", "aes_18m: "))]
    assert subset["inputs"] == report["inputs"] and subset["unread"] == report["unread"]
    assert report["configs"]["10m_flt"]["default"]  # the folder's report is not changed
    assert subsets.policy_groups(report) == {"private": CLIPS, "gated": CAPTIONS}


def test_the_repository_of_each_policy():
    assert subsets.repository_per_policy("org/internvid", "internvid", ["gated", "private"]) == \
        {"gated": "org/internvid", "private": "org/internvid-clips"}
    assert subsets.repository_per_policy("org/bigdocs", "bigdocs", ["public", "gated"]) == \
        {"public": "org/bigdocs", "gated": "org/bigdocs-gated"}
    assert policy_repository_errors({"policy_repositories": {"private": "clips"}}) == []
    assert len(policy_repository_errors({"policy_repositories": {"secret": "clips", "gated": "a/b"}})) == 2
    with pytest.raises(UsageError, match="this folder holds the configs a, b"):
        subsets.matching_configs({"configs": {"a": {}, "b": {}}}, ["a", "c*"])
    assert subsets.matching_configs({"configs": {"a1": {}, "b": {}, "a2": {}}}, ["a*"]) == ["a1", "a2"]


def test_build_and_publish_some_configs_in_one_command(local_hub, samples, tmp_path):
    out = tmp_path / "out"
    result = run_script("publish.py", "internvid", "--data-dir", samples.raw("internvid"), "--output", out,
                        "--repo", "subset/one-command", "--config", "clips_10m_*", "--split-by-policy", "--dry-run",
                        env={"HF_TOKEN": local_hub.token})
    assert result.returncode == 0, result.stderr
    assert "1 repository, one per redistribution policy of the configs:\n  subset/one-command-clips (private): " \
           "clips_10m_flt, clips_10m_div, clips_10m_flt_info\n" in result.stdout
    assert sorted(json.loads((out / "build_report.json").read_text())["configs"]) == ["clips_10m_div", "clips_10m_flt",
                                                                                     "clips_10m_flt_info"]
    unknown = run_script("publish.py", "internvid", "--data-dir", samples.raw("internvid"), "--output", out,
                         "--repo", "subset/one-command", "--config", "clip_*", env={"HF_TOKEN": local_hub.token})
    assert unknown.returncode == 2 and "--config clip_*: internvid has no such config" in unknown.stderr
