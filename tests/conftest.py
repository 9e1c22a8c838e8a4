"""Shared fixtures.

The Hub clients copy HF_ENDPOINT and friends into module constants when they are first imported, so
the environment is fixed here, before any test module imports `datasets` or `huggingface_hub`: the
local Hub server's port is chosen now and the server is started on it by the `local_hub` fixture.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


@pytest.fixture(scope="session")
def sample_builds(tmp_path_factory) -> dict[str, Path]:
    """Every dataset's sample raw tree, built once for the session: dataset name -> built folder."""
    from builders.hub.catalog import build_samples

    folders = build_samples(tmp_path_factory.mktemp("sample-builds"), log=lambda *a: None)
    return {folder.name: folder for folder in folders}


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
