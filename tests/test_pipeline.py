"""The build pipeline's guarantees: resume after an interruption, no stale files, completeness markers."""
from __future__ import annotations

import dataclasses
import gc
import os
import json

import pytest

from builders import coverage, pipeline
from builders import flickr30k_entities as f30k
from builders.engines import LocalEngine
from builders.errors import RecordLog
from builders.fields import documented
from builders.samples import flickr30k_entities as sample
from datasets import ClassLabel, List, Value
from helpers import parquet_rows, quiet_build, refused_build, run_script

DATASET = "flickr30k_entities"  # the dataset these tests build


def file_hashes(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture
def many_shards(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    sample.make(raw, scale=10)
    monkeypatch.setattr(f30k.Flickr30kEntities, "SHARD_BYTES", 8_000)
    return raw


def test_interrupted_build_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch, many_shards):
    reference = tmp_path / "reference"
    quiet_build(DATASET, many_shards, reference, configs=["entities"])

    real_run_job, calls = pipeline.run_job, []

    def dies_on_third_job(job, staging):
        calls.append(job.key)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stands for a kill in the middle of the build
        return real_run_job(job, staging)

    out = tmp_path / "out"
    monkeypatch.setattr(pipeline, "run_job", dies_on_third_job)
    with pytest.raises(KeyboardInterrupt):
        quiet_build(DATASET, many_shards, out, configs=["entities"])
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


@pytest.mark.parametrize("store", ["local", "memory"])
def test_a_rerun_job_removes_its_own_leftover_parts_and_no_other_jobs(tmp_path, monkeypatch, many_shards, store):
    real_run_job, runs = pipeline.run_job, []
    monkeypatch.setattr(pipeline, "run_job",
                        lambda job, target: runs.append((job, target)) or real_run_job(job, target))
    out = tmp_path / "out" if store == "local" else f"memory://{tmp_path.name}/out"
    quiet_build(DATASET, many_shards, out, configs=["entities"])
    job, target = runs[0]
    job_dir = pipeline._job_dir(target.staging, job)
    own_leftover = f"{job_dir}/{job.index:05d}-007.parquet"
    other_jobs_part = f"{job_dir}/{job.index + 1:05d}-000.parquet"
    target.fs.makedirs(job_dir, exist_ok=True)  # the finished build removed its staging area
    for path in (own_leftover, other_jobs_part):
        target.fs.pipe(path, b"left by a killed attempt")
    result = real_run_job(job, target)
    names = sorted(p.rpartition("/")[2] for p in target.fs.ls(job_dir, detail=False, refresh=True))
    assert names == sorted([*result["parts"], f"{job.index:05d}.done.json", f"{job.index + 1:05d}-000.parquet"])
    assert result["parts"] == [f"{job.index:05d}-000.parquet"]


def test_changed_code_or_options_invalidate_staged_parts(many_shards):
    job = pipeline.ShardJob("flickr30k_entities", "entities", "train", 0, ("a",), str(many_shards), "raise", "v1")
    assert job.fingerprint == dataclasses.replace(job).fingerprint
    for change in ({"on_error": "skip"}, {"code_version": "v2"}, {"shard": ("a", "b")}, {"data_dir": "/elsewhere"}):
        assert dataclasses.replace(job, **change).fingerprint != job.fingerprint, change


def test_rebuilding_fewer_configs_removes_stale_files(tmp_path, many_shards):
    out = tmp_path / "out"
    quiet_build(DATASET, many_shards, out)
    assert (out / "entities").is_dir() and (out / "karpathy").is_dir()
    (out / "notes").mkdir()
    (out / "notes" / "keep.txt").write_text("not ours")
    report = quiet_build(DATASET, many_shards, out, configs=["captions"])
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "build_report.json", "captions", "croissant.json",
                                                     "notes"]
    assert (out / "notes" / "keep.txt").exists()
    listed = {f for s in report["configs"]["captions"]["splits"].values() for f in s["files"]}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.parquet")} == listed
    assert "config_name: entities" not in (out / "README.md").read_text()


def test_fewer_shards_than_before_leave_no_old_part(tmp_path, many_shards, monkeypatch):
    out = tmp_path / "out"
    quiet_build(DATASET, many_shards, out, configs=["captions"])
    before = sorted(p.name for p in (out / "captions").iterdir())
    monkeypatch.setattr(f30k.Flickr30kEntities, "SHARD_BYTES", 10**9)
    quiet_build(DATASET, many_shards, out, configs=["captions"])
    after = sorted(p.name for p in (out / "captions").iterdir())
    assert len(before) > len(after) == 3
    assert after == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]


def test_report_lists_inputs_and_tool_versions(tmp_path, many_shards):
    report = quiet_build(DATASET, many_shards, tmp_path / "out", configs=["entities"])
    on_disk = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert on_disk["configs"] == report["configs"]
    assert {"datasets", "pyarrow", "huggingface_hub", "python", "multimodal-builders"} <= set(on_disk["tools"])
    assert sorted(i["path"] for i in on_disk["inputs"]) == [
        "UNRELATED_CAPTIONS", "annotations.zip", "flickr30k-images/", "test.txt", "train.txt", "val.txt"]
    assert on_disk["redistribution"] == "gated" and on_disk["timings"]["wall_seconds"] > 0
    import hashlib

    import pyarrow.parquet as pq

    assert {s: v["shard_jobs"] for s, v in on_disk["configs"]["entities"]["splits"].items()} == {
        s: len(v["files"]) for s, v in on_disk["configs"]["entities"]["splits"].items()}  # one part per job here
    for split in on_disk["configs"]["entities"]["splits"].values():  # each file's digest, size and rows
        assert [{"rows": pq.read_metadata(tmp_path / "out" / f).num_rows,
                 "bytes": (tmp_path / "out" / f).stat().st_size,
                 "sha256": hashlib.sha256((tmp_path / "out" / f).read_bytes()).hexdigest()}
                for f in split["files"]] == split["parts"]


def test_jobs_in_this_process_run_with_what_was_made_before_them_frozen():
    """The collector's full collections then walk only what the jobs make, not every imported module's and the
    planner's objects again and again; stopping early or finishing gives them back to the collector."""
    made_before = [[index] for index in range(10_000)]
    counts = LocalEngine(num_proc=1).start(lambda job, target: (job, gc.get_freeze_count()), ["a", "b"], None)
    assert gc.get_freeze_count() == 0  # frozen only while the jobs run
    job, (ran, frozen) = next(counts)
    assert (job, ran) == ("a", "a") and frozen >= len(made_before)
    counts.close()  # a failed build stops consuming
    assert gc.get_freeze_count() == 0
    everything = LocalEngine(num_proc=1).start(lambda job, target: gc.get_freeze_count(), ["a", "b"], None)
    assert [job for job, frozen in everything if frozen >= len(made_before)] == ["a", "b"]
    assert gc.get_freeze_count() == 0 and made_before[-1] == [9_999]


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


def test_a_config_with_bad_raw_data_does_not_lose_the_others(tmp_path, monkeypatch):
    from test_flickr30k_entities import _replace_in_zip

    raw = tmp_path / "raw"
    tree = sample.make(raw)
    karpathy_json, annotations = (raw / "dataset_flickr30k.json").read_bytes(), (raw / "annotations.zip").read_bytes()
    (raw / "dataset_flickr30k.json").write_text('{"images": [\n')  # karpathy fails while its splits are listed
    _replace_in_zip(raw / "annotations.zip", "Annotations/12345.xml", b"<annotation>\n<size>\n<width>5</wid")
    out = tmp_path / "out"                                          # entities fails in a shard job

    with pytest.raises(pipeline.BuildIncomplete) as failed:
        quiet_build(DATASET, raw, out)
    assert failed.value.built == ["captions"] and sorted(failed.value.failures) == ["entities", "karpathy"]
    message = str(failed.value)
    assert "2 of 3 configs failed; captions is built here, but README.md is not written" in message
    assert "config 'karpathy': " in message and "dataset_flickr30k.json:2: invalid JSON" in message
    assert "annotations.zip:Annotations/12345.xml:3 (record 12345): malformed XML" in message
    assert "rerun with --config captions" in failed.value.hint
    report = json.loads((out / "build_report.json").read_text())
    assert report["failed_configs"]["karpathy"] == {"file": "dataset_flickr30k.json", "line": 2, "record": None,
                                                    "problem": "invalid JSON (Expecting value)",
                                                    "hint": "download the file again", "failed_jobs": 1}
    assert report["failed_configs"]["entities"]["file"] == "annotations.zip:Annotations/12345.xml"
    assert list(report["configs"]) == ["captions"] and not (out / "README.md").exists()
    captions = {row["image_id"]: row["captions"] for row in parquet_rows(out, "captions", "validation")}
    assert captions["12345"] == [tree.images["12345"].caption_text(k) for k in range(5)]

    (raw / "dataset_flickr30k.json").write_bytes(karpathy_json)  # the maintainer repairs the download
    (raw / "annotations.zip").write_bytes(annotations)
    real_run_job, rerun = pipeline.run_job, []
    monkeypatch.setattr(pipeline, "run_job", lambda job, target: rerun.append(job.config) or real_run_job(job, target))
    report = quiet_build(DATASET, raw, out)
    assert list(report["configs"]) == ["entities", "captions", "karpathy"] and "failed_configs" not in report
    assert "captions" not in rerun and {"entities", "karpathy"} <= set(rerun)  # the finished jobs were reused
    assert (out / "README.md").exists() and not (out / pipeline.STAGING_DIR).exists()


def test_build_py_names_every_failed_config_and_exits_2(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "dataset_flickr30k.json").write_text("[]")
    stderr = refused_build("flickr30k_entities", raw, tmp_path / "out",
                           expected="1 of 3 configs failed; entities, captions are built here")
    assert "config 'karpathy': " in stderr and "rerun with --config entities --config captions" in stderr
    published = run_script("publish.py", tmp_path / "out", "--repo", "org/flickr", "--dry-run")
    assert published.returncode == 2 and "not a complete build: config(s) karpathy failed" in published.stderr


def test_the_error_policy_defaults_to_the_cards(tmp_path):
    from builders.cards import default_on_error, load_card_metadata

    assert {name: default_on_error(name) for name in ("mint1t", "internvid", "flickr30k_entities", "movieqa")} == {
        "mint1t": "skip", "internvid": "skip", "flickr30k_entities": "raise", "movieqa": "raise"}
    assert "on_error" not in load_card_metadata("flickr30k_entities")
    raw = tmp_path / "raw"
    sample.make(raw)
    report = quiet_build(DATASET, raw, tmp_path / "out", configs=["captions"])
    assert report["on_error"] == "raise"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Error policy: `--on-error raise`" in card
    assert f30k.Flickr30kEntities(config_name="captions").config.on_error == "raise"


def test_raw_paths_no_config_reads_are_reported_with_reasons(tmp_path):
    raw = tmp_path / "raw"
    sample.make(raw)
    (raw / "README.md").write_text("# Flickr30k Entities\n")
    (raw / "notes").mkdir()
    (raw / "notes" / "mine.txt").write_text("my notes")
    (raw / "flickr30k-images" / "readme.txt").write_text("images readme")
    (raw / "flickr30k-images" / "00000.png").write_bytes(b"\x89PNG")  # not an image of any split
    messages = []
    report = pipeline.build("flickr30k_entities", raw, tmp_path / "out", configs=["entities"], progress=False,
                            log=messages.append)
    unread = {u["path"]: (u["files"], u["reason"]) for u in report["unread"]}
    assert unread == {
        "README.md": (1, "the README of the Entities repository (this card describes the data)"),
        "dataset_flickr30k.json": (1, "read by config 'karpathy', which this build did not make: "
                                      "it was not asked for (--config)"),
        "flickr30k-images/00000.png": (1, coverage.UNRECOGNISED),
        "flickr30k-images/readme.txt": (1, "the readme of the Flickr30K images archive, not data"),
        "notes/": (1, coverage.UNRECOGNISED),
        "results_20130124.token": (1, "read by config 'karpathy', which this build did not make: "
                                      "it was not asked for (--config)"),
    }
    assert messages[0].startswith("6 raw paths (6 files, ")
    assert "  notes/ (1 file): not recognised by this builder" in "\n".join(messages)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Raw files and folders this build did not read (6 paths, 6 files" in card
    assert "| `flickr30k-images/00000.png` | 1 | 4 B | not recognised by this builder" in card


def test_a_config_with_more_parts_than_a_hub_folder_holds_uses_sub_folders(tmp_path, many_shards, monkeypatch):
    import datasets

    out = tmp_path / "out"
    flat = quiet_build(DATASET, many_shards, tmp_path / "flat", configs=["captions"])
    monkeypatch.setattr(pipeline, "MAX_FOLDER_ENTRIES", 4)  # the Hub's 10,000, scaled to the sample
    monkeypatch.setattr(pipeline, "PARTS_PER_SUBFOLDER", 2)
    report = quiet_build(DATASET, many_shards, out, configs=["captions"])
    train = report["configs"]["captions"]["splits"]["train"]
    count = len(train["files"])
    assert count > 2 and train["pattern"] == "captions/train/*/*.parquet"
    assert train["files"][:3] == [f"captions/train/0000/train-00000-of-{count:05d}.parquet",
                                  f"captions/train/0000/train-00001-of-{count:05d}.parquet",
                                  f"captions/train/0001/train-00002-of-{count:05d}.parquet"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert on_disk == sorted(f for s in report["configs"]["captions"]["splits"].values() for f in s["files"])
    assert sorted(p.name for p in (out / "captions").iterdir()) == ["test", "train", "validation"]
    groups = sorted((out / "captions" / "train").iterdir())
    assert [g.name for g in groups] == [f"{k:04d}" for k in range((count + 1) // 2)]
    assert [len(list(g.iterdir())) for g in groups] == [2] * (count // 2) + [1] * (count % 2)
    assert "path: captions/train/*/*.parquet" in (out / "README.md").read_text()
    loaded = datasets.load_dataset(str(out), "captions", split="train")  # the real client reads the patterns
    reference = datasets.load_dataset(str(tmp_path / "flat"), "captions", split="train")
    assert loaded["image_id"] == reference["image_id"] and loaded["captions"] == reference["captions"]
    assert flat["configs"]["captions"]["splits"]["train"]["content_hash"] == train["content_hash"]

    monkeypatch.setattr(pipeline, "MAX_FOLDER_ENTRIES", 10_000)  # back to a flat layout: no old part stays
    quiet_build(DATASET, many_shards, out, configs=["captions"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == sorted(
        p.relative_to(tmp_path / "flat").as_posix() for p in (tmp_path / "flat").rglob("*.parquet"))
    assert not (out / "captions" / "train").exists()


def test_a_second_build_into_the_same_folder_stops_at_once(tmp_path):
    import signal
    import subprocess
    import sys

    raw, out = tmp_path / "raw", tmp_path / "out"
    sample.make(raw)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom builders import pipeline\n"
        f"with pipeline.build_lock(pipeline.Target.of({str(out)!r}), 'out'):\n"
        "    print('locked', flush=True)\n    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        second = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", out, "--quiet")
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        assert f"out: another build is writing into this folder (process {holder.pid} on " in second.stderr
        assert "; wait for it to finish, or build into another --output" in second.stderr
    finally:
        holder.send_signal(signal.SIGKILL)  # a killed build leaves no lock behind
        holder.wait()
    assert quiet_build(DATASET, raw, out, configs=["captions"])["configs"]["captions"]["splits"]["train"]["rows"] == 2


def test_an_object_store_lock_names_its_holder_and_is_taken_over_when_it_died(tmp_path):
    import platform

    raw = tmp_path / "raw"
    sample.make(raw)
    target = pipeline.Target.of("memory://locked-build")
    lock = f"{target.staging}/{pipeline.LOCK_FILE}"
    target.fs.pipe_file(lock, json.dumps({"host": "node-7", "pid": 4242, "started": "2026-12-06 05:00:00"}).encode())
    with pytest.raises(pipeline.UsageError, match=r"another build is writing into this folder \(process 4242 on "
                                                  r"node-7, started 2026-12-06 05:00:00\); if no build is running, "
                                                  r"delete .*build.lock and retry"):
        quiet_build(DATASET, raw, "memory://locked-build", configs=["captions"])
    dead = subprocess_pid_that_exited()
    target.fs.pipe_file(lock, json.dumps({"host": platform.node(), "pid": dead, "started": "then"}).encode())
    report = quiet_build(DATASET, raw, "memory://locked-build", configs=["captions"])
    assert report["configs"]["captions"]["splits"]["train"]["rows"] == 2 and not target.fs.exists(lock)


def subprocess_pid_that_exited() -> int:
    import subprocess
    import sys

    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def test_a_failed_rebuild_leaves_no_metadata_of_the_old_build(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    sample.make(raw)
    quiet_build(DATASET, raw, out, configs=["captions"])
    assert {p.name for p in out.iterdir()} >= {"README.md", "build_report.json", "croissant.json"}
    (raw / "train.txt").write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(pipeline.RawDataError):
        quiet_build(DATASET, raw, out, configs=["captions"])
    assert not {p.name for p in out.iterdir()} & {"README.md", "build_report.json", "croissant.json"}


def test_small_files_of_a_build_have_the_usual_permissions(tmp_path):
    import os
    import stat

    raw, out = tmp_path / "raw", tmp_path / "out"
    sample.make(raw)
    quiet_build(DATASET, raw, out, configs=["captions"])
    umask = os.umask(0)
    os.umask(umask)
    for name in ("README.md", "build_report.json", "croissant.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name


def test_a_raw_folders_listing_digest_is_its_sorted_files_and_sizes(tmp_path):
    """build_report.json's `listing_sha256` of an input folder: every file below it (links to files too,
    linked folders not entered) in the order Paths sort, with its size; the same digest the rglob walk gave."""
    import hashlib

    from builders.pipeline import input_checksums

    root = tmp_path / "raw"
    for name, size in {"a/b.jpg": 3, "a-b.jpg": 5, "a/c/d.png": 7, ".hidden/e": 1, "z": 0}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * size)
    (root / "link.jpg").symlink_to(root / "a-b.jpg")
    (root / "linked").symlink_to(root / "a", target_is_directory=True)
    expected = "".join(f"{relative}\t{size}\n" for relative, size in [
        (".hidden/e", 1), ("a/b.jpg", 3), ("a/c/d.png", 7), ("a-b.jpg", 5), ("link.jpg", 5), ("z", 0)])
    [item] = input_checksums([str(root)], tmp_path)
    assert item == {"path": "raw/", "bytes": 21, "files": 6,
                    "listing_sha256": hashlib.sha256(expected.encode()).hexdigest()}


def test_scratch_caches_of_killed_builds_are_removed_by_the_next_one(tmp_path):
    """A build killed by SIGKILL cannot remove its scratch cache; the next process that makes one does,
    and leaves those of processes still running (its own, here) and folders that are not caches."""
    orphan = tmp_path / f"{pipeline.SCRATCH_PREFIX}{subprocess_pid_that_exited()}-abc123"
    living = tmp_path / f"{pipeline.SCRATCH_PREFIX}{os.getpid()}-def456"
    unrelated = tmp_path / f"{pipeline.SCRATCH_PREFIX}notapid"
    for folder in (orphan, living, unrelated):
        (folder / "datasets").mkdir(parents=True)
    pipeline._remove_orphaned_caches(tmp_path)
    assert not orphan.exists() and living.exists() and unrelated.exists()


def test_build_py_runs_with_the_allocator_the_builder_declares(tmp_path, monkeypatch):
    """MINT-1T's HTML builds on jemalloc and its other configs on the C library's malloc (`ARROW_MEMORY_POOLS`),
    Flickr30K on malloc, BigDocs on pyarrow's default; a pool chosen with ARROW_DEFAULT_MEMORY_POOL is obeyed.
    The build report says which one ran."""
    from builders import memory_pool

    from builders.samples import mint1t as mint_sample

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    mint_sample.make(tmp_path / "mint")
    sample.make(tmp_path / "flickr")

    def pool(dataset, raw, config, **env):
        out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
        result = run_script("build.py", dataset, "--data-dir", raw, "--output", out, "--config", config, "--quiet",
                            env=env)
        assert result.returncode == 0, result.stderr
        return json.loads((out / "build_report.json").read_text())["tools"]["pyarrow_memory_pool"]

    assert pool("mint1t", tmp_path / "mint", "html") == "jemalloc"
    assert pool("mint1t", tmp_path / "mint", "pdf") == "system"
    assert [memory_pool("mint1t", configs) for configs in (["html", "html-v1.0"], ["html", "pdf"], None)] == \
        ["jemalloc", "system", "system"]
    assert pool("flickr30k_entities", tmp_path / "flickr", "captions") == "system"
    assert memory_pool("bigdocs", None) is None  # pyarrow's default: mimalloc
    assert pool("mint1t", tmp_path / "mint", "html", ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"


# ---- content hash: the rows, however Arrow lays them out ---------------------------------------------------

def digest_of(*tables) -> str:
    from builders.content_hash import RowDigest

    digest = RowDigest()
    for table in tables:
        digest.update(table)
    return digest.hexdigest()


def test_a_string_columns_digest_is_its_values_however_its_nulls_and_slices_are_laid_out():
    """A null slot hashes as its validity byte alone: empty (as readers write it) or spanning bytes (as Arrow
    allows), sliced or not. The digests are pinned: a published content hash names the same rows in every
    version of the builders."""
    import numpy as np
    import pyarrow as pa

    values = ["a", None, "ccc", "", None, "é🙂"]
    table = pa.table({"s": pa.array(values), "large": pa.array(values, pa.large_string()),
                      "binary": pa.array([v and v.encode() for v in values], pa.binary()),
                      "lists": pa.array([["a", None], None, [], ["b"], [None], ["c", "d"]], pa.list_(pa.string()))})
    assert digest_of(table) == "b16159cf2a42298a7efbf71aed118dcd"
    assert digest_of(table.slice(1, 4)) == "7c4dc5134a2b53e822f06750594d59d0"
    assert digest_of(table.slice(0, 2), table.slice(2)) == digest_of(table)
    assert digest_of(pa.Table.from_pylist(table.slice(1, 4).to_pylist(), table.schema)) == digest_of(table.slice(1, 4))

    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    spanning = pa.Array.from_buffers(pa.string(), 3, [validity, pa.py_buffer(np.array([0, 1, 3, 6], np.int32)),
                                                      pa.py_buffer(b"abbccc")], null_count=1)
    assert spanning.to_pylist() == ["a", None, "ccc"]
    assert digest_of(pa.table({"s": spanning})) == digest_of(pa.table({"s": pa.array(["a", None, "ccc"])})) == \
        "1c14dac4acdcb7c48ebd3375c90e5680"
    assert digest_of(pa.table({"s": pa.array(["a", "bb", "ccc"])})) != digest_of(pa.table({"s": spanning}))
    assert digest_of(pa.table({"s": pa.array([], pa.string())})) == "8343384bcadd380a46f93666a7166301"


def test_digests_of_numbers_flags_and_nested_lists_are_pinned():
    """Columns without a string at the top: their nulls, a list whose null slot spans values (hashed as an empty
    one), lists of structs, fixed-size lists; sliced or not. Pinned as the string columns' are."""
    import pyarrow as pa

    spanning = pa.ListArray.from_arrays(pa.array([0, 1, 3, 3], pa.int32()), pa.array(["a", "b", "c"]),
                                        mask=pa.array([False, True, False]))
    empty = pa.array([["a"], None, []], pa.list_(pa.string()))
    table = pa.table({"n": pa.array([1, None, 3], pa.int32()), "f": pa.array([None, True, False]),
                      "when": pa.array([0, None, 5], pa.timestamp("ms")),
                      "box": pa.array([[1, 2], None, [3, None]], pa.list_(pa.int16(), 2)),
                      "parts": pa.array([[{"k": 1, "s": "x"}, None], None, []],
                                        pa.list_(pa.struct({"k": pa.int8(), "s": pa.string()}))),
                      "spanning": spanning})
    assert spanning.to_pylist() == empty.to_pylist()
    assert digest_of(table) == digest_of(table.set_column(5, "spanning", empty)) == "b0540a0df4676454405db43f5ae3460a"
    assert digest_of(table.slice(1)) == "afb482d29d3034dcd4f914b4278d4fbb"
    assert digest_of(table.slice(0, 1), table.slice(1)) == digest_of(table)


class _Grows:
    """A state that pickles to other bytes each time it is pickled."""
    times = 0

    def __reduce__(self):
        _Grows.times += 1
        return (_Grows, (), {"times": _Grows.times, "padding": b"x" * 100})


def test_shared_state_is_stored_under_its_digest_without_a_whole_copy_in_memory(tmp_path, monkeypatch):
    """A small state travels inline and a large one is a staging file named by the sha256 of its pickle; the large
    one is streamed to that file (at the planner's peak, a whole pickle in memory doubled MovieQA's index)."""
    import hashlib
    import pickle
    import tracemalloc

    import numpy as np

    target = pipeline.Target.of(tmp_path / "out")
    small = pipeline._store_state(target, "small", {"a": 1})
    assert pickle.loads(small.inline) == {"a": 1}
    assert small.digest == hashlib.sha256(small.inline).hexdigest()

    state = {"starts": np.arange(2**20), "ends": np.arange(1, 2**20 + 1)}  # 16 MiB, pickled without a copy
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        large = pipeline._store_state(target, "large", state)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stored = tmp_path / "out" / pipeline.STAGING_DIR / large.file
    assert large.inline is None and large.file == f"large.state-{large.digest[:16]}.pickle"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == large.digest
    assert peak < 2**20  # pickle.dumps held all 16 MiB of the pickle, then a copy of it

    monkeypatch.setattr(pipeline, "_states", {})
    loaded = pipeline._load_state(target, large)
    assert list(loaded) == ["starts", "ends"] and all((loaded[k] == state[k]).all() for k in state)

    monkeypatch.setattr(pipeline, "INLINE_STATE_BYTES", 0)
    with pytest.raises(AssertionError, match="'growing' pickled to other bytes the second time"):
        pipeline._store_state(target, "growing", _Grows())
    assert not list((tmp_path / "out" / pipeline.STAGING_DIR).glob("growing.*"))  # no file under a wrong digest
