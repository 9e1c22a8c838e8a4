"""The publish baseline: the same bytes sent as raw LFS PUTs to the same server, no client library between.

usage: python -m bench.raw_put FOLDER REPO   (HF_ENDPOINT and HF_TOKEN in the environment)
Hashing is included (any upload must name its content). The objects get fresh ids (a salt is appended),
so the server has to receive and store every byte rather than skip what it already has. It runs as its
own process, like publish.py, so both pay the start of a Python process. Each file is hashed in pieces and
read whole only when it is sent, so memory stays at one file (a part is at most 500 MB), not the folder.
"""
import hashlib
import os
import sys
from pathlib import Path

import httpx2 as httpx

CHUNK = 16 * 2**20


def main(folder: str, repo: str) -> None:
    endpoint, token = os.environ["HF_ENDPOINT"].rstrip("/"), os.environ["HF_TOKEN"]
    salt = os.urandom(8)
    objects = []  # (path, oid, size)
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while piece := f.read(CHUNK):
                digest.update(piece)
        digest.update(salt)
        objects.append((path, digest.hexdigest(), path.stat().st_size + len(salt)))
    with httpx.Client(timeout=600, headers={"authorization": f"Bearer {token}"}) as client:
        batch = client.post(f"{endpoint}/datasets/{repo}.git/info/lfs/objects/batch",
                            headers={"content-type": "application/vnd.git-lfs+json"},
                            json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                                  "objects": [{"oid": oid, "size": size} for _, oid, size in objects]}).json()
        hrefs = {o["oid"]: o["actions"]["upload"]["href"] for o in batch["objects"] if o.get("actions")}
    with httpx.Client(timeout=600) as client:  # upload URLs are signed: no token, like the Hub's
        for path, oid, _ in objects:
            client.put(hrefs[oid], content=path.read_bytes() + salt).raise_for_status()


if __name__ == "__main__":
    main(*sys.argv[1:])
