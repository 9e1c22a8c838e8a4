#!/usr/bin/env python3
"""The whole flow on the bundled sample data: generate → build → local Hub → publish → load_dataset.

usage: python scripts/demo.py [--workdir demo] [--dataset NAME]... [--serve]

Every step runs the real command a maintainer would run (scripts/*.py), against the project's local
Hub server; the loading step uses `datasets.load_dataset("demo/<repo>", config)` through HF_ENDPOINT.
"""
import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import _path  # noqa: F401

SCRIPTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(title: str, *command, env=None) -> None:
    print(f"\n$ {' '.join(str(c) for c in command)}", flush=True)
    subprocess.run([sys.executable, *map(str, command)], check=True, env=env)


def start_hub(root: Path, port: int, token: str) -> subprocess.Popen:
    hub = subprocess.Popen([sys.executable, str(SCRIPTS / "local_hub.py"), "--root", str(root), "--port", str(port),
                            "--token", token, "--quiet"])
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return hub
        except OSError:
            if hub.poll() is not None:
                raise SystemExit("the local hub did not start")
            time.sleep(0.1)
    hub.kill()
    raise SystemExit("the local hub did not start listening")


def summarize(repo_id: str, default_config: str) -> None:
    """Load the published dataset back through the Hub clients and print what a user gets."""
    import datasets

    datasets.config.USE_PARQUET_EXPORT = False  # no datasets-server for a local Hub
    configs = datasets.get_dataset_config_names(repo_id)
    print(f"\n{repo_id}: configs {configs}")
    ds = datasets.load_dataset(repo_id, default_config)
    for split, part in ds.items():
        print(f"  {default_config}/{split}: {part.num_rows} rows")
    first = ds[next(iter(ds))]
    for column, feature in first.features.items():  # audio/video decoding needs torchcodec; show the bytes
        if isinstance(feature, (datasets.Audio, datasets.Video)):
            first = first.cast_column(column, type(feature)(decode=False))
    example = max((first[i] for i in range(min(20, first.num_rows))), key=lambda row: len(repr(row)))
    print("  one example (the richest of the first rows), decoded:")
    for key, value in example.items():
        if hasattr(value, "size") and hasattr(value, "mode"):
            value = f"<{type(value).__name__} {value.size[0]}x{value.size[1]} {value.mode}>"
        text = repr(value)
        print(f"    {key}: {text[:300]}{' ...' if len(text) > 300 else ''}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="demo")
    parser.add_argument("--dataset", action="append", dest="datasets", help="default: every dataset with a sample")
    parser.add_argument("--serve", action="store_true", help="keep the local Hub running at the end (Ctrl-C stops)")
    args = parser.parse_args()

    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    port, token = free_port(), "hf_demo_" + secrets.token_hex(12)
    endpoint = f"http://127.0.0.1:{port}"
    # the Hub clients read these when first imported, so they are set before anything imports them
    os.environ.update(HF_ENDPOINT=endpoint, HF_TOKEN=token, HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
                      HF_HOME=str(work / "hf_home"))
    from builders import builder_class
    from builders.cards import load_card_metadata
    from builders.hub import subsets
    from builders.samples import GENERATORS
    hub = start_hub(work / "hub", port, token)
    print(f"local Hub server: {endpoint} (data in {work / 'hub'})")
    pages = []
    try:
        for name in args.datasets or sorted(GENERATORS):
            raw, out = work / "raw" / name, work / "out" / name
            repo_id = f"demo/{load_card_metadata(name)['repo_name']}"
            print(f"\n=== {name} ===")
            step("sample", SCRIPTS / "make_sample_data.py", name, "--out", raw)
            step("build", SCRIPTS / "build.py", name, "--data-dir", raw, "--output", out, "--num-proc", "2")
            # one repository per redistribution policy: InternVid's private clips apart from its gated captions
            step("publish", SCRIPTS / "publish.py", out, "--repo", repo_id, "--split-by-policy")
            summarize(repo_id, builder_class(name).DEFAULT_CONFIG_NAME)
            report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
            repos = subsets.repository_per_policy(repo_id, name, subsets.policy_groups(report))
            pages += [f"{endpoint}/datasets/{repo}" for repo in dict.fromkeys([repo_id, *repos.values()])]
        print("\ndataset card pages:")
        for page in pages:
            print(f"  {page}")
        if args.serve:
            print("serving; press Ctrl-C to stop")
            hub.wait()
        else:
            print(f"(to browse them again: python scripts/local_hub.py --root {work / 'hub'} --port {port})")
    finally:
        hub.terminate()
        hub.wait(timeout=10)


if __name__ == "__main__":
    main()
