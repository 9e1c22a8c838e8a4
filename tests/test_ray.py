"""Cluster builds: `--engine ray` runs the local engine's shard jobs as Ray tasks and gives the same output.

One local Ray instance with 2 CPUs serves every test of this module. Job functions swapped in by a test
travel to the Ray workers by value (cloudpickle), the same way the pipeline sends its own.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
import ray
from ray import cloudpickle

from builders import dataset_names, pipeline
from builders.errors import RawDataError, UsageError
from helpers import built_files as files
from helpers import parquet_rows, quiet_build, run_script, without_timings

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def split_hashes(report: dict) -> dict[str, str]:
    return {f"{config}/{split}": stats["content_hash"] for config, c in report["configs"].items()
            for split, stats in c["splits"].items()}


def markers(out: Path) -> dict[str, int]:
    """Completion markers in the staging area, by job key, with the inode of each (a rewrite changes it)."""
    staging = out / pipeline.STAGING_DIR
    return {p.relative_to(staging).as_posix().removesuffix(".done.json"): p.stat().st_ino
            for p in staging.rglob("*.done.json")}


@pytest.mark.parametrize("name", dataset_names())
def test_ray_builds_every_dataset_like_the_local_engine(name, ray_instance, samples, tmp_path):
    _, reference, local_report = samples.build(name)  # built by the local engine, once for the session
    report = quiet_build(name, samples.raw(name), tmp_path / "out", engine="ray")
    assert split_hashes(report) == split_hashes(local_report)
    assert without_timings(report) == without_timings(local_report)
    assert files(tmp_path / "out") == files(reference)  # byte-identical Parquet files and card
    config, stats = next((c, s) for c, s in report["configs"].items() if s["default"])
    split = next(iter(stats["splits"]))
    assert parquet_rows(tmp_path / "out", config, split) == parquet_rows(reference, config, split)


def test_content_hash_follows_the_rows_not_their_encoding(samples, tmp_path, monkeypatch):
    """A table per row, smaller row groups, more parts: other Parquet bytes, the same rows, the same hashes."""
    from builders import mint1t, parquet

    _, reference, report = samples.build("mint1t")
    monkeypatch.setattr(mint1t.Mint1T, "BATCH_BYTES", 1)
    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 2_000)
    monkeypatch.setattr(parquet, "MAX_SHARD_BYTES", 20_000)
    rebuilt = quiet_build("mint1t", samples.raw("mint1t"), tmp_path / "out", configs=["pdf"])
    assert len(rebuilt["configs"]["pdf"]["splits"]["train"]["files"]) > \
        len(report["configs"]["pdf"]["splits"]["train"]["files"])
    assert rebuilt["configs"]["pdf"]["splits"]["train"]["content_hash"] == \
        report["configs"]["pdf"]["splits"]["train"]["content_hash"]
    # repr: the sample has NaN language scores, which are unequal to themselves
    assert repr(parquet_rows(tmp_path / "out", "pdf", "train")) == repr(parquet_rows(reference, "pdf", "train"))
    changed = tmp_path / "changed"
    quiet_build("mint1t", samples.raw("mint1t"), changed, configs=["pdf"], on_error="skip")
    first = sorted((changed / "pdf").glob("*.parquet"))[0]
    table = pq.read_table(first)
    pq.write_table(table.slice(1), first)  # a row less: the hash of the rows read back must differ
    from builders.content_hash import RowDigest

    whole, cut = RowDigest(), RowDigest()
    whole.update(table)
    cut.update(pq.read_table(first))
    assert whole.hexdigest() != cut.hexdigest()


def failing_on(key: str, real_run_job):
    def run(job, target):
        if job.key == key:
            raise RuntimeError("injected failure")
        return real_run_job(job, target)
    return run


def recording(log: Path, real_run_job):
    def run(job, target):
        with open(log, "a") as file:
            file.write(job.key + "\n")
        return real_run_job(job, target)
    return run


def test_failed_task_then_rerun_builds_only_the_missing_shards(ray_instance, samples, tmp_path, monkeypatch):
    out, real_run_job = tmp_path / "out", pipeline.run_job
    monkeypatch.setattr(pipeline, "run_job", failing_on("pdf/train/00001", real_run_job))
    with pytest.raises(RuntimeError, match="injected failure"):
        quiet_build("mint1t", samples.raw("mint1t"), out, engine="ray")
    assert not (out / "README.md").exists() and not (out / "build_report.json").exists()
    done = markers(out)
    assert "pdf/train/00001" not in done

    ran = tmp_path / "ran.txt"
    monkeypatch.setattr(pipeline, "run_job", recording(ran, real_run_job))
    messages = []
    report = pipeline.build("mint1t", samples.raw("mint1t"), out, engine="ray", progress=False, log=messages.append)
    all_jobs = {f"{config}/{split}/{i:05d}" for config, c in report["configs"].items() for split in c["splits"]
                for i in range(len(c["splits"][split]["files"]))}
    rebuilt = set(ran.read_text().split())
    assert "pdf/train/00001" in rebuilt and rebuilt == all_jobs - set(done)
    assert f"resuming: {len(done)} of {len(all_jobs)} shard jobs already complete" in messages
    _, reference, local_report = samples.build("mint1t")
    assert files(out) == files(reference) and split_hashes(report) == split_hashes(local_report)
    assert not (out / pipeline.STAGING_DIR).exists()


def dies_mid_way_once(key: str, flag: Path, real_run_job):
    """The job's worker process is killed after it wrote its first table (only the first attempt)."""
    def run(job, target):
        if job.key == key and not flag.exists():
            flag.touch()
            from builders.parquet import PartWriter

            write = PartWriter.write

            def write_then_die(self, table):
                write(self, table)
                os.kill(os.getpid(), signal.SIGKILL)
            PartWriter.write = write_then_die
        return real_run_job(job, target)
    return run


def test_lost_worker_is_retried(ray_instance, samples, tmp_path, monkeypatch):
    flag = tmp_path / "killed"
    monkeypatch.setattr(pipeline, "run_job", dies_mid_way_once("10m_flt/train/00000", flag, pipeline.run_job))
    report = quiet_build("internvid", samples.raw("internvid"), tmp_path / "out", engine="ray",
                         configs=["10m_flt", "clips_10m_flt"])
    assert flag.exists()  # the worker really died
    _, reference, local_report = samples.build("internvid")
    for config in ("10m_flt", "clips_10m_flt"):
        assert report["configs"][config] == local_report["configs"][config]
        assert parquet_rows(tmp_path / "out", config, "train") == parquet_rows(reference, config, "train")


def test_bad_input_in_a_ray_task_is_reported_as_itself(ray_instance, samples, tmp_path):
    data = tmp_path / "raw"
    (data / "InternVid-10M-flt.jsonl").parent.mkdir()
    source = samples.raw("internvid") / "InternVid-10M-flt.jsonl"
    (data / "InternVid-10M-flt.jsonl").write_bytes(source.read_bytes() + b"{not json\n")
    with pytest.raises(RawDataError, match=r"InternVid-10M-flt.jsonl:\d+: invalid JSON") as caught:
        pipeline.build("internvid", data, tmp_path / "out", engine="ray", on_error="raise", progress=False,
                       log=lambda *a: None)
    assert type(caught.value) is RawDataError  # the task's own error, not Ray's wrapper


def frozen_objects(job, target) -> int:
    import gc

    return gc.get_freeze_count()


def test_ray_jobs_run_with_their_workers_imports_frozen(ray_instance):
    """As jobs in this process and in forked workers do: the collector's full collections then walk only what
    the jobs make. The modules a Ray worker imported are frozen at its first job."""
    from builders.engines import RayEngine

    counts = dict(RayEngine().start(frozen_objects, list(range(4)), None))
    assert sorted(counts) == [0, 1, 2, 3]
    assert min(counts.values()) > 10_000, counts  # datasets alone makes ~100,000 objects


def test_shared_state_reaches_jobs_that_inherit_nothing(samples, tmp_path, monkeypatch):
    """InternVid's video index, made at planning, comes to each job inline or, when large, from the
    staging area; a job in a fresh process (no copy of the planner's memory) never rebuilds it."""
    from builders import internvid

    target = pipeline.Target.of(tmp_path / "out")
    monkeypatch.setattr(pipeline, "INLINE_STATE_BYTES", 0)  # the sample's index is small: force the file
    jobs = pipeline.plan_jobs("internvid", samples.raw("internvid"), ["clips_10m_flt"], "raise", target).jobs
    assert jobs[0].state is not None and jobs[0].state.inline is None
    assert (tmp_path / "out" / pipeline.STAGING_DIR / jobs[0].state.file).is_file()
    monkeypatch.setattr(pipeline, "_states", {})  # what a Ray worker starts with

    def no_indexing(sources):
        raise AssertionError("a shard job indexed the videos again")
    monkeypatch.setattr(internvid, "index_videos", no_indexing)
    result = pipeline.run_job(jobs[0], target)
    _, reference, report = samples.build("internvid")
    assert result["rows"] == report["configs"]["clips_10m_flt"]["splits"]["train"]["rows"]
    statuses = [row["status"] for row in pq.read_table(
        tmp_path / "out" / pipeline.STAGING_DIR / "clips_10m_flt" / "train" / result["parts"][0]).to_pylist()]
    assert statuses == [row["status"] for row in parquet_rows(reference, "clips_10m_flt", "train")]


def test_file_url_output_on_ray(ray_instance, samples, tmp_path):
    report = quiet_build("internvid", samples.raw("internvid"), f"file://{tmp_path}/out", engine="ray")
    _, reference, local_report = samples.build("internvid")
    assert files(tmp_path / "out") == files(reference)
    assert split_hashes(report) == split_hashes(local_report)


def test_memory_url_output(samples, tmp_path):
    fs = fsspec.filesystem("memory")
    report = quiet_build("mint1t", samples.raw("mint1t"), "memory://mmb-test/mint1t", configs=["arxiv"])
    try:
        _, reference, local_report = samples.build("mint1t")
        assert report["configs"]["arxiv"]["splits"] == local_report["configs"]["arxiv"]["splits"]
        listed = report["configs"]["arxiv"]["splits"]["train"]["files"]
        assert sorted(fs.find("/mmb-test/mint1t")) == sorted(
            f"/mmb-test/mint1t/{name}" for name in ["README.md", "build_report.json", "croissant.json", *listed])
        rows = []
        for name in listed:
            with fs.open(f"/mmb-test/mint1t/{name}") as file:
                rows += pq.read_table(file).to_pylist()
        assert rows == parquet_rows(reference, "arxiv", "train")
        assert json.loads(fs.cat_file("/mmb-test/mint1t/build_report.json"))["configs"] == report["configs"]
        with pytest.raises(UsageError, match="memory:// output exists in this process only"):
            quiet_build("mint1t", samples.raw("mint1t"), "memory://mmb-test/elsewhere", num_proc=2)
    finally:
        fs.rm("/mmb-test", recursive=True)


def test_cli_builds_on_an_existing_cluster(ray_instance, samples, tmp_path):
    done = run_script("build.py", "mint1t", "--data-dir", samples.raw("mint1t"), "--output", f"file://{tmp_path}/out",
                      "--config", "html", "--engine", "ray", "--ray-address", ray_instance, "--quiet")
    assert done.returncode == 0, done.stderr
    _, reference, _ = samples.build("mint1t")
    assert parquet_rows(tmp_path / "out", "html", "train") == parquet_rows(reference, "html", "train")
    bad = run_script("build.py", "mint1t", "--data-dir", samples.raw("mint1t"), "--output", tmp_path / "x",
                     "--storage-options", "[1]")
    assert bad.returncode == 2 and "expected a JSON object" in bad.stderr
