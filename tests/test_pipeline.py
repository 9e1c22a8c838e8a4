"""The build pipeline's guarantees: resume after an interruption, no stale files, completeness markers."""
from __future__ import annotations

import dataclasses
import json

import pytest

from builders import flickr30k_entities as f30k
from builders import pipeline
from builders.errors import RecordLog
from builders.fields import documented
from builders.samples import flickr30k_entities as sample
from datasets import ClassLabel, List, Value


def quiet_build(raw, out, **kwargs):
    return pipeline.build("flickr30k_entities", raw, out, progress=False, log=lambda *a: None, **kwargs)


def file_hashes(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture
def many_shards(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    sample.make(raw, scale=10)
    monkeypatch.setattr(f30k, "SHARD_BYTES", 8_000)
    return raw


def test_interrupted_build_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch, many_shards):
    reference = tmp_path / "reference"
    quiet_build(many_shards, reference, configs=["entities"])

    real_run_job, calls = pipeline.run_job, []

    def dies_on_third_job(job, staging):
        calls.append(job.key)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stands for a kill in the middle of the build
        return real_run_job(job, staging)

    out = tmp_path / "out"
    monkeypatch.setattr(pipeline, "run_job", dies_on_third_job)
    with pytest.raises(KeyboardInterrupt):
        quiet_build(many_shards, out, configs=["entities"])
    assert not (out / "README.md").exists() and not (out / "build_report.json").exists()
    assert len(list((out / ".staging").rglob("*.done.json"))) == 2
    assert not list(out.rglob("*.tmp"))

    rerun = []
    monkeypatch.setattr(pipeline, "run_job", lambda job, staging: rerun.append(job.key) or real_run_job(job, staging))
    messages = []
    report = pipeline.build("flickr30k_entities", many_shards, out, configs=["entities"], progress=False,
                            log=messages.append)
    total = sum(len(s["files"]) for s in report["configs"]["entities"]["splits"].values())
    assert len(rerun) == total - 2 and set(rerun).isdisjoint(calls[:2])
    assert any("resuming: 2 of" in m for m in messages)
    assert file_hashes(out) == file_hashes(reference)
    assert (out / "README.md").read_text() == (reference / "README.md").read_text()


def test_changed_code_or_options_invalidate_staged_parts(many_shards):
    job = pipeline.ShardJob("flickr30k_entities", "entities", "train", 0, ("a",), str(many_shards), "raise", "v1")
    assert job.fingerprint == dataclasses.replace(job).fingerprint
    for change in ({"on_error": "skip"}, {"code_version": "v2"}, {"shard": ("a", "b")}, {"data_dir": "/elsewhere"}):
        assert dataclasses.replace(job, **change).fingerprint != job.fingerprint, change


def test_rebuilding_fewer_configs_removes_stale_files(tmp_path, many_shards):
    out = tmp_path / "out"
    quiet_build(many_shards, out)
    assert (out / "entities").is_dir() and (out / "karpathy").is_dir()
    (out / "notes").mkdir()
    (out / "notes" / "keep.txt").write_text("not ours")
    report = quiet_build(many_shards, out, configs=["captions"])
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "build_report.json", "captions", "notes"]
    assert (out / "notes" / "keep.txt").exists()
    listed = {f for s in report["configs"]["captions"]["splits"].values() for f in s["files"]}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.parquet")} == listed
    assert "config_name: entities" not in (out / "README.md").read_text()


def test_fewer_shards_than_before_leave_no_old_part(tmp_path, many_shards, monkeypatch):
    out = tmp_path / "out"
    quiet_build(many_shards, out, configs=["captions"])
    before = sorted(p.name for p in (out / "captions").iterdir())
    monkeypatch.setattr(f30k, "SHARD_BYTES", 10**9)
    quiet_build(many_shards, out, configs=["captions"])
    after = sorted(p.name for p in (out / "captions").iterdir())
    assert len(before) > len(after) == 3
    assert after == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]


def test_report_lists_inputs_and_tool_versions(tmp_path, many_shards):
    report = quiet_build(many_shards, tmp_path / "out", configs=["entities"])
    on_disk = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert on_disk["configs"] == report["configs"]
    assert {"datasets", "pyarrow", "huggingface_hub", "python", "multimodal-builders"} <= set(on_disk["tools"])
    assert sorted(i["path"] for i in on_disk["inputs"]) == [
        "UNRELATED_CAPTIONS", "annotations.zip", "flickr30k-images/", "test.txt", "train.txt", "val.txt"]
    assert on_disk["redistribution"] == "gated" and on_disk["timings"]["wall_seconds"] > 0


def test_record_log_policies():
    from builders.errors import RawDataError

    log = RecordLog("skip", "train")
    with log.record("a.txt", "7"):
        raise RawDataError(None, "bad thing", line=3)
    with log.record("a.txt", "8"):
        pass
    assert (log.seen, log.written) == (2, 1)
    assert log.as_dicts() == [{"split": "train", "file": "a.txt", "record": "7", "line": 3, "reason": "bad thing"}]
    strict = RecordLog("raise")
    with pytest.raises(RawDataError, match="a.txt:3 \\(record 7\\): bad thing"):
        with strict.record("a.txt", "7"):
            raise RawDataError(None, "bad thing", line=3)
    with pytest.raises(ZeroDivisionError):  # a bug is not a bad record: never swallowed
        with log.record("a.txt", "9"):
            1 / 0


def test_documented_features_need_a_doc_for_every_field():
    features, docs = documented({"a": ([{"b": (Value("int32"), "B.")}], "A."),
                                 "c": ([ClassLabel(names=["x", "y"])], "C."),
                                 "d": (List(Value("int32"), length=4), "D.")})
    assert [(d.path, d.type) for d in docs] == [("a", "list<struct>"), ("a[].b", "int32"),
                                                ("c", "list<class_label (x, y)>"), ("d", "list<int32>[4]")]
    assert features["a"].feature["b"] == Value("int32")
    with pytest.raises(TypeError, match="must be declared as"):
        documented({"a": Value("int32")})
    with pytest.raises(ValueError, match="empty doc"):
        documented({"a": (Value("int32"), " ")})
