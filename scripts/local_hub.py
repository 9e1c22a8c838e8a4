#!/usr/bin/env python3
"""Serve the local Hub (the Hub HTTP subset huggingface_hub and datasets use, plus dataset pages).

    python scripts/local_hub.py [--host 127.0.0.1] [--port 8000] [--root DIR] [--token TOKEN] [--quiet]

Writes need the token given by --token, else the HF_TOKEN environment variable, else one generated now and
printed once at start. A token that was given is never printed.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys

import _path  # noqa: F401

from builders.hub.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one")
    parser.add_argument("--root", default="hub_data", help="where repos and blobs are kept (default: ./hub_data)")
    parser.add_argument("--token", help="the write token (default: $HF_TOKEN, else a generated one)")
    parser.add_argument("--quiet", action="store_true", help="no access log, warnings and errors only")
    args = parser.parse_args(argv)

    token = args.token or os.environ.get("HF_TOKEN")
    generated = not token
    if generated:
        token = "hf_local_" + secrets.token_urlsafe(24)
    try:
        serve(args.host, args.port, args.root, token, quiet=args.quiet, announce_token=generated)
    except OSError as e:
        print(f"local hub: cannot serve on {args.host}:{args.port} with root {args.root}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
