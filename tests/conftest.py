"""Shared fixtures.

The Hub clients copy HF_ENDPOINT and friends into module constants when they are first imported, so
the environment is fixed here, before any test module imports `datasets` or `huggingface_hub`: the
local Hub server's port is chosen now and the server is started on it by the `local_hub` fixture.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

PROJECT = Path(__file__).resolve().parent.parent
HUB_TOKEN = "hf_testtoken_0123456789abcdefFAKE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SESSION_HOME = Path(tempfile.mkdtemp(prefix="mmb-tests-"))
HUB_PORT = free_port()
HUB_ENDPOINT = f"http://127.0.0.1:{HUB_PORT}"
os.environ.update(
    HF_ENDPOINT=HUB_ENDPOINT,
    HF_HUB_DISABLE_XET="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    HF_HOME=str(_SESSION_HOME / "hf_home"),
    HF_DATASETS_CACHE=str(_SESSION_HOME / "hf_datasets"),
)
os.environ.pop("HF_TOKEN", None)


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local hub exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("local hub did not start listening in time")


class LocalHub:
    """A running scripts/local_hub.py: its endpoint, write token and storage root."""

    def __init__(self, endpoint: str, token: str, root: Path, proc: subprocess.Popen):
        self.endpoint, self.token, self.root, self.proc = endpoint, token, root, proc

    def api(self, token=None):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self.token if token is None else token)


def start_local_hub(root: Path, port: int, token: str = HUB_TOKEN, log_path: Path | None = None,
                    access_log: bool = False) -> LocalHub:
    """Start scripts/local_hub.py; its output goes to `log_path` (with one line per request if `access_log`)."""
    with open(log_path or root.with_suffix(".log"), "ab") as log:  # the server writes to its own copy
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT / "scripts" / "local_hub.py"), "--port", str(port), "--root", str(root),
             "--token", token, *([] if access_log else ["--quiet"])],
            stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT,
        )
    _wait_for_port(port, proc)
    return LocalHub(f"http://127.0.0.1:{port}", token, root, proc)


def stop_local_hub(hub: LocalHub) -> None:
    hub.proc.terminate()
    try:
        hub.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        hub.proc.kill()
        hub.proc.wait()


@pytest.fixture(scope="session")
def local_hub():
    """One local Hub server for the session, on the port HF_ENDPOINT already points to."""
    root = _SESSION_HOME / "hub"
    hub = start_local_hub(root, HUB_PORT)
    yield hub
    stop_local_hub(hub)


@pytest.fixture
def fresh_hf_home(tmp_path, monkeypatch):
    """A cold client cache, so loads really go through the server."""
    import datasets
    import huggingface_hub.constants as hc

    home = tmp_path / "hf_home"
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)
    return home


def realdata_dir(name: str) -> Path:
    """The authentic release files for one dataset; skips visibly when MM_REALDATA is unset."""
    base = os.environ.get("MM_REALDATA")
    if not base:
        pytest.skip("MM_REALDATA is not set: real-data tests need ../shared/realdata (CI sets it)")
    path = Path(base).resolve() / name
    assert path.is_dir(), f"MM_REALDATA is set but {path} does not exist"
    return path


# ---- the sample releases, made and built once per session ----------------------------------------------------

class Built(NamedTuple):
    """A build of a sample tree: what the generator says a correct build holds (its `root` is the raw tree),
    the built folder and the build report."""
    tree: Any
    out: Path
    report: dict


class ManyShards(NamedTuple):
    """How a dataset's sample is built in several shard jobs per split: the generator's options, the configs
    (None: all), attributes to shrink (pytest's dotted paths: class data or module constants) and the policy."""
    sample: dict = {}
    configs: list[str] | None = None
    patches: dict[str, int] = {}
    on_error: str | None = None


MANY_SHARDS = {
    "bigdocs": ManyShards({"scale": 3}, ["ArxivOCR"]),  # ArxivOCR's train split as 3 release files
    "flickr30k_entities": ManyShards({"scale": 12}, ["entities"],
                                     {"builders.flickr30k_entities.Flickr30kEntities.SHARD_BYTES": 8_000}),
    "internvid": ManyShards({"bad_records": True}, ["10m_flt", "full", "clips_10m_flt"],
                            {"builders.internvid.InternVid.SHARD_BYTES": 700,   # boundaries inside lines
                             "builders.internvid.CHUNK_BYTES": 300},            # lines longer than a chunk
                            on_error="skip"),
    "mint1t": ManyShards(),  # the PDF dumps' tars, a shard job each
    "movieqa": ManyShards({"scale": 12}, ["qa", "qa_video"],
                          {"builders.movieqa.MovieQA.QUESTIONS_PER_SHARD": 5,
                           "builders.movieqa.MovieQA.QA_QUESTIONS_PER_SHARD": 5,
                           "builders.movieqa.MovieQA.SHARD_BYTES": 3 * 10**6}),  # about one question with clips
    "musecar": ManyShards(patches={"builders.musecar.MuSeCaR.SHARD_BYTES": 1}),  # a video per shard job
    "nmb_plus": ManyShards(patches={"builders.nmb_plus.SHARD_ROWS": 2}),  # CSV shards start inside the file
}


class Samples:
    """Each dataset's sample trees and their builds, made on first use and kept for the session, so that a file
    run alone makes only its own dataset's. Tests only read them: one that changes a tree or a folder copies it.

    tree(name, **options): what the generator makes with `options` (none: the plain sample);
    build(name, **options): that tree built as build.py builds it (the card's error policy, one process);
    bad_build(name): the tree of `make_sample_data.py --bad-records` built with --on-error skip;
    many_shards(name): MANY_SHARDS[name] built in one process and in two, from one tree."""

    def __init__(self, root: Path):
        self.root = root
        self._trees: dict[tuple, Any] = {}
        self._builds: dict[tuple, Any] = {}
        self._logs: dict[Path, list[str]] = {}

    def tree(self, name: str, **options):
        key = (name, *sorted(options.items()))
        if key not in self._trees:
            from builders.samples import make_sample

            folder = "-".join([name, *(f"{option}={value}" for option, value in sorted(options.items()))])
            self._trees[key] = make_sample(name, self.root / "raw" / folder, **options)
        return self._trees[key]

    def raw(self, name: str) -> Path:
        return self.tree(name).root

    def bad_tree(self, name: str):
        return self.tree(name, bad_records=True)

    def build(self, name: str, **options) -> Built:
        tree = self.tree(name, **options)
        if ("build", tree.root) not in self._builds:
            out, log = self.root / "built" / tree.root.name, self._logs.setdefault(tree.root, [])
            self._builds["build", tree.root] = Built(tree, out, _build(name, tree.root, out, log=log.append))
        return self._builds["build", tree.root]

    def log(self, name: str, **options) -> list[str]:
        """The messages of build(name, **options), as build.py prints them without --quiet."""
        return self._logs[self.build(name, **options).tree.root]

    def bad_build(self, name: str) -> Built:
        tree = self.bad_tree(name)
        if ("skip", tree.root) not in self._builds:
            out = self.root / "built-skip" / tree.root.name
            self._builds["skip", tree.root] = Built(tree, out, _build(name, tree.root, out, on_error="skip"))
        return self._builds["skip", tree.root]

    def many_shards(self, name: str) -> tuple[Built, Built]:
        recipe = MANY_SHARDS[name]
        tree = self.tree(name, **recipe.sample)
        if ("many", tree.root) not in self._builds:
            builds = []
            with pytest.MonkeyPatch.context() as patch:
                for target, value in recipe.patches.items():
                    patch.setattr(target, value)
                for processes in (1, 2):
                    out = self.root / f"many-shards-{processes}" / tree.root.name
                    builds.append(Built(tree, out, _build(name, tree.root, out, configs=recipe.configs,
                                                          on_error=recipe.on_error, num_proc=processes)))
            self._builds["many", tree.root] = tuple(builds)
        return self._builds["many", tree.root]


def _build(name: str, raw: Path, out: Path, **options) -> dict:
    from helpers import quiet_build

    return quiet_build(name, raw, out, **options)


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Samples:
    return Samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def built(samples, request) -> Built:
    """The sample build of the test module's dataset (its DATASET)."""
    return samples.build(request.module.DATASET)


@pytest.fixture(scope="module")
def bad_tree(samples, request):
    """The sample tree with bad records (`make_sample_data.py --bad-records`) of the test module's dataset."""
    return samples.bad_tree(request.module.DATASET)


@pytest.fixture(scope="session")
def sample_builds(samples, tmp_path_factory) -> dict[str, Path]:
    """Every dataset's sample build, copied (published_samples re-renders the copies' cards): name -> folder."""
    from builders import dataset_names

    root = tmp_path_factory.mktemp("sample-builds")
    return {name: Path(shutil.copytree(samples.build(name).out, root / name)) for name in dataset_names()}


@pytest.fixture(scope="session")
def published_samples(local_hub, sample_builds) -> dict[str, str]:
    """Every sample build published with ``scripts/publish.py OUT --repo cards/<repo_name>``: name -> repo id.

    Publishing re-renders each folder's card for its repository, so the folders then match the Hub."""
    from builders.cards import load_card_metadata
    from helpers import run_script

    repos = {}
    for name, folder in sample_builds.items():
        repo_id = f"cards/{load_card_metadata(name)['repo_name']}"
        result = run_script("publish.py", folder, "--repo", repo_id, "--quiet", env={"HF_TOKEN": local_hub.token})
        assert result.returncode == 0, f"publishing {name}: {result.stderr}"
        repos[name] = repo_id
    return repos
