"""The Hub token never leaks: with a recognisable fake token, nothing a build, a publish (successful or
failing) or the local Hub prints, logs or stores contains it, and neither does any exception text.

The token reaches the clients both ways a maintainer provides it: the HF_TOKEN variable and the login
stored by `hf auth login` (HF_HOME/token).
"""
from __future__ import annotations

import traceback
import uuid
from pathlib import Path

import pytest

from builders.hub import publish as publishing
from builders.samples import flickr30k_entities as sample
from conftest import free_port, start_local_hub, stop_local_hub
from helpers import run_script

TOKEN = f"hf_FAKEtoken{uuid.uuid4().hex}"
OTHER_TOKEN = f"hf_OTHERtoken{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A local Hub whose write token is the fake one, logging every request."""
    root = tmp_path_factory.mktemp("secret-hub")
    hub = start_local_hub(root / "data", free_port(), token=TOKEN, log_path=root / "hub.log", access_log=True)
    hub.log = root / "hub.log"
    yield hub
    stop_local_hub(hub)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    sample.make(raw, bad_records=True)  # an id without annotations: the skip path writes reasons too
    return raw


def texts_of(*paths: Path) -> list[tuple[str, str]]:
    """(file, its text) for every file under the given files and folders."""
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    return [(str(p), p.read_bytes().decode("latin-1")) for p in files]


def assert_no_token(*texts, secret: str = TOKEN) -> None:
    for text in texts:
        name, content = text if isinstance(text, tuple) else ("output", text)
        assert secret not in content, f"the token leaked into {name}"


def test_build_and_publish_with_the_token_in_the_environment(hub, raw, tmp_path):
    out = tmp_path / "out"
    env = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.endpoint}
    built = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", out, "--on-error", "skip",
                       env=env)
    assert built.returncode == 0, built.stderr
    published = run_script("publish.py", out, "--repo", "secrets/flickr30k-entities", env=env)
    assert published.returncode == 0, published.stderr
    both = run_script("publish.py", "flickr30k_entities", "--data-dir", raw, "--output", tmp_path / "again",
                      "--repo", "secrets/once-more", "--on-error", "skip", env=env)
    assert both.returncode == 0, both.stderr
    assert_no_token(built.stdout, built.stderr, published.stdout, published.stderr, both.stdout, both.stderr,
                    *texts_of(out, tmp_path / "again", hub.log, hub.root))
    assert "records skipped" in built.stdout  # the outputs checked are the real, non-empty ones


def test_the_stored_login_is_never_printed(hub, raw, tmp_path):
    home = tmp_path / "hf_home"
    home.mkdir()
    (home / "token").write_text(TOKEN)
    out = tmp_path / "out"
    env = {"HF_HOME": str(home), "HF_TOKEN": "", "HF_ENDPOINT": hub.endpoint}
    built = run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", out, "--on-error", "skip",
                       env=env)
    published = run_script("publish.py", out, "--repo", "secrets/stored-login", env=env)
    assert built.returncode == 0 and published.returncode == 0, published.stderr
    assert hub.api().repo_exists("secrets/stored-login", repo_type="dataset")  # the stored login was used
    assert_no_token(built.stdout, built.stderr, published.stdout, published.stderr, *texts_of(out, hub.log))


FAILURES = {  # what fails: (exit code, what the message says)
    "wrong token": (2, "refused the request (401): the token is missing or wrong"),
    "unreachable hub": (2, "cannot reach the Hub at http://127.0.0.1:"),
    "licence refused": (2, "does not allow public redistribution"),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_publish_prints_no_token(hub, raw, tmp_path, failure):
    folder = tmp_path / "out"
    assert run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", folder, "--on-error", "skip",
                      "--quiet").returncode == 0
    env = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.endpoint}
    extra = []
    if failure == "wrong token":  # the hub knows another token: the one sent is refused, and must not be echoed
        env["HF_TOKEN"] = OTHER_TOKEN
    elif failure == "unreachable hub":
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    else:
        extra = ["--public"]
        report = (folder / "build_report.json").read_text().replace('"redistribution": "gated"',
                                                                   '"redistribution": "private"', 1)
        (folder / "build_report.json").write_text(report)
    result = run_script("publish.py", folder, "--repo", f"secrets/failing-{failure.replace(' ', '-')}", *extra,
                        env=env)
    code, message = FAILURES[failure]
    assert result.returncode == code and message in result.stderr, result
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert_no_token(result.stdout, result.stderr, *texts_of(folder, hub.log), secret=env["HF_TOKEN"])


def test_exception_texts_hold_no_token(hub, raw, tmp_path, monkeypatch):
    """What a caller of the library sees when a publish fails: the error, its chain and its traceback."""
    folder = tmp_path / "out"
    assert run_script("build.py", "flickr30k_entities", "--data-dir", raw, "--output", folder, "--on-error", "skip",
                      "--quiet").returncode == 0
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    with pytest.raises(Exception) as raised:
        publishing.publish(folder, "secrets/in-process", token=OTHER_TOKEN, log=lambda *a: None)
    error = raised.value
    chain = []
    while error is not None:
        chain += [str(error), repr(error), *map(str, getattr(error, "args", ()))]
        error = error.__cause__ or error.__context__
    assert_no_token(*chain, "".join(traceback.format_exception(raised.value)), secret=OTHER_TOKEN)

