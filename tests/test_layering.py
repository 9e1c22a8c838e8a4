"""The build side never imports the serving side (builders.hub): a build loads no web server, page renderer
or video decoder it does not need, and editing a page does not invalidate an interrupted build."""
from __future__ import annotations

import json
import subprocess
import sys

from builders import REGISTRY, pipeline
from helpers import PROJECT

SERVING = ("builders.hub", "av", "starlette", "uvicorn", "markdown_it")


def test_building_loads_no_serving_module():
    modules = [target.split(":")[0] for target in REGISTRY.values()]
    script = ("import importlib, json, sys\n"
              "import builders.pipeline, builders.cards\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], cwd=PROJECT, check=True, capture_output=True,
                                       text=True).stdout)
    assert "builders.pipeline" in loaded and "builders.mint1t" in loaded  # the check itself works
    assert [m for m in loaded if m.split(".")[0] in SERVING or m.startswith(SERVING)] == []


def test_a_builds_code_version_covers_the_core_and_its_own_module_only():
    files = {path.relative_to(PROJECT).as_posix() for path in pipeline.code_files("flickr30k_entities")}
    assert {"builders/core.py", "builders/pipeline.py", "builders/errors.py", "builders/parquet.py",
            "builders/flickr30k_entities.py"} <= files
    assert not {"builders/movieqa.py", "builders/mint1t.py"} & files
    assert not [f for f in files if f.startswith(("builders/hub/", "builders/samples/"))]


def test_benchmarks_are_not_part_of_the_installed_package():
    assert not (PROJECT / "builders" / "bench").exists() and (PROJECT / "bench" / "limit.py").is_file()
