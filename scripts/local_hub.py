#!/usr/bin/env python3
"""Serve the local Hub (the Hub HTTP subset huggingface_hub and datasets use, plus dataset pages).

    python scripts/local_hub.py [--host 127.0.0.1] [--port 8000] [--root DIR] [--token TOKEN] [--quiet]
                                [--max-folder-entries N] [--max-lfs-files-per-commit N]
                                [--max-regular-bytes-per-commit N] [--max-file-bytes N] [--commit-rate N/SECONDS]

Writes need the token given by --token, else the HF_TOKEN environment variable, else one generated now and
printed once at start. A token that was given is never printed. The Hub's limits are enforced with the real
numbers unless a flag lowers (or raises) one, as tests do to exercise large publishes with a handful of files.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import sys

import _path  # noqa: F401

from builders.hub.server import Limits, serve

DEFAULTS = Limits()


def positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def commit_rate(text: str) -> tuple[int, float]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
    if not match or int(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not COMMITS/SECONDS, e.g. 128/3600")
    return int(match.group(1)), float(match.group(2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one")
    parser.add_argument("--root", default="hub_data", help="where repos and blobs are kept (default: ./hub_data)")
    parser.add_argument("--token", help="the write token (default: $HF_TOKEN, else a generated one)")
    parser.add_argument("--quiet", action="store_true", help="no access log, warnings and errors only")
    limits = parser.add_argument_group("the Hub's limits (default: the real ones)")
    limits.add_argument("--max-folder-entries", type=positive_int, default=DEFAULTS.max_folder_entries,
                        help=f"files and sub-folders in one folder (default {DEFAULTS.max_folder_entries:,})")
    limits.add_argument("--max-lfs-files-per-commit", type=positive_int, default=DEFAULTS.max_lfs_files_per_commit,
                        help=f"LFS files one commit may add (default {DEFAULTS.max_lfs_files_per_commit:,})")
    limits.add_argument("--max-regular-bytes-per-commit", type=positive_int,
                        default=DEFAULTS.max_regular_bytes_per_commit,
                        help=f"bytes of regular files in one commit (default {DEFAULTS.max_regular_bytes_per_commit:,})")
    limits.add_argument("--max-file-bytes", type=positive_int, default=DEFAULTS.max_file_bytes,
                        help=f"size of one file (default {DEFAULTS.max_file_bytes:,})")
    limits.add_argument("--commit-rate", type=commit_rate,
                        default=(DEFAULTS.commits_per_window, DEFAULTS.commit_window_seconds),
                        help=f"commits per repository per window, beyond which commits get 429 with Retry-After "
                             f"(default {DEFAULTS.commits_per_window}/{DEFAULTS.commit_window_seconds:g})")
    args = parser.parse_args(argv)

    token = args.token or os.environ.get("HF_TOKEN")
    generated = not token
    if generated:
        token = "hf_local_" + secrets.token_urlsafe(24)
    chosen = Limits(max_folder_entries=args.max_folder_entries, max_lfs_files_per_commit=args.max_lfs_files_per_commit,
                    max_regular_bytes_per_commit=args.max_regular_bytes_per_commit, max_file_bytes=args.max_file_bytes,
                    commits_per_window=args.commit_rate[0], commit_window_seconds=args.commit_rate[1])
    try:
        serve(args.host, args.port, args.root, token, quiet=args.quiet, announce_token=generated, limits=chosen)
    except OSError as e:
        print(f"local hub: cannot serve on {args.host}:{args.port} with root {args.root}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
