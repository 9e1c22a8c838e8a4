"""A local stand-in for the Hugging Face Hub: the HTTP subset that huggingface_hub and datasets use, plus pages.

Tests, the demo and offline publishing point the *real* clients at it (``HF_ENDPOINT=http://127.0.0.1:PORT``,
``HF_HUB_DISABLE_XET=1``), so it must answer exactly what those clients parse: the error codes they map to
exceptions (``X-Error-Code``), the headers downloads depend on (``X-Repo-Commit``, ``ETag``), 412 on a stale
parent commit, and a published repo must survive a restart.

The file reads top-down: storage, auth, HTTP plumbing, routes grouped by API area (repos, reading files,
uploading and committing, cards and account), HTML pages, and ``serve()``.

Storage under ROOT::

    blobs/<aa>/<sha256>                            every file content once, LFS or not (content-addressed)
    repos/<kind>/<ns>/<name>/repo.json             settings (private, gated), refs, creation date
    repos/<kind>/<ns>/<name>/commits/<sha>.json    one immutable file per commit, with its full file map
    tmp/                                           uploads in progress and atomic-write staging

Writes are atomic against a killed server (temp file on the same filesystem + ``os.replace``) but not fsynced:
a local hub does not need to survive a power cut, and a fsync per blob made large commits slow.

The Hub's limits are enforced with the real numbers (``Limits``; each one a ``local_hub.py`` flag, so tests can
exercise the large-publish path with small ones): entries per folder, LFS files and regular payload per commit,
commits per repository per hour (429 with ``Retry-After``) and file size.

Xet: huggingface_hub 2.4 picks the upload transport on the client alone (``is_xet_available()``: hf_xet importable
and ``HF_HUB_DISABLE_XET`` unset); the preupload answer only says "lfs" or "regular", and a failed Xet token
request is an error, not a fallback. So no answer of this server can make a client use LFS instead: clients must
set ``HF_HUB_DISABLE_XET=1`` (``publish.py`` falls back by itself when this server answers the Xet token route
with 404). Downloads never use Xet here: it needs ``X-Xet-Hash`` headers this server does not send.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import logging
import mimetypes
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from .. import cardcheck
from ..outputs import CROISSANT_FILE, README_FILE, REPORT_FILE, as_list, git_blob_oid, write_atomic
from . import pages

log = logging.getLogger("local_hub")

# The namespace given to repos created without one, and the name whoami reports for the token holder.
OWNER = "local"

# URL segment of the API (/api/<segment>/...) and of the storage tree -> repo type, and back.
KIND_BY_SEGMENT = {"models": "model", "datasets": "dataset", "spaces": "space"}
SEGMENT_BY_KIND = {kind: segment for segment, kind in KIND_BY_SEGMENT.items()}
# Web URLs of repos: models have no prefix (huggingface.co/ns/name).
WEB_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}

# Strict repo names: they become directory names under ROOT, so no dots at the edges, no "..", no "--"
# (the clients' cache uses "--" as a separator), and no ".git" suffix (it would shadow the LFS route).
REPO_PART_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
RESERVED_NAMESPACES = frozenset({"api", "datasets", "models", "spaces"})
BRANCH_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,98}[A-Za-z0-9_-])?")
SHA1_RE = re.compile(r"[0-9a-f]{40}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
PR_REF_RE = re.compile(r"refs/pr/([1-9][0-9]*)")
TAG_RE = BRANCH_RE

# What the Hub's default .gitattributes sends to LFS; anything larger than 10 MB or binary goes there too.
LFS_EXTENSIONS = frozenset(
    "7z arrow avro bin bz2 ckpt flac ftz gif gz h5 jpeg jpg joblib lz4 mds mkv mlmodel model mov mp3 mp4 msgpack "
    "npy npz ogg onnx opus ot parquet pb pickle pkl png pt pth rar safetensors tar tfevents tflite tgz tif tiff "
    "wasm wav webm webp xz zip zst".split()
)
LFS_THRESHOLD = 10 * 1024 * 1024

TREE_PAGE_SIZE = 1000        # the Hub's page sizes: clients must follow the Link header past them
TREE_PAGE_SIZE_EXPANDED = 50
JSON_BODY_LIMIT = 16 * 1024 * 1024
COMMIT_LINE_LIMIT = 32 * 1024 * 1024  # one NDJSON line: a base64 regular file (at most ~10 MB) and its envelope
SPOOL_IN_MEMORY = 8 * 1024 * 1024
CHUNK = 1024 * 1024

DISCUSSIONS_PAGE_SIZE = 50  # the Hub's page of GET .../discussions
COMMITS_PAGE_SIZE = 50


@dataclass(frozen=True)
class Limits:
    """What the Hub refuses (hub-docs "Repository limitations and recommendations" and "Storage limits",
    the huggingface_hub 2.4 upload guide, the errors quoted in huggingface_hub#3183): the real numbers by default."""

    max_folder_entries: int = 10_000             # files and sub-folders directly in one folder
    max_lfs_files_per_commit: int = 25_000
    max_regular_bytes_per_commit: int = 1_000_000_000  # the payload of non-LFS files in one commit
    max_file_bytes: int = 500 * 1000**3           # hard limit; 200 GB is the recommended maximum
    commits_per_window: int = 128                 # commits per repository ...
    commit_window_seconds: float = 3600.0         # ... per hour; beyond: 429 with Retry-After


class CommitRate:
    """Commits per repository in a sliding window. Callers hold the store lock."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.times: dict[RepoKey, deque] = defaultdict(deque)

    def check(self, key: "RepoKey") -> None:
        now, window = time.monotonic(), self.limits.commit_window_seconds
        times = self.times[key]
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= self.limits.commits_per_window:
            wait = max(1, int(times[0] + window - now + 0.999))
            raise HubError(429, f"You have exceeded the rate limit for repository commits "
                                f"({self.limits.commits_per_window} per {window:g} s) on {key.id}; "
                                f"retry in {wait} s", headers={"Retry-After": str(wait)})

    def record(self, key: "RepoKey") -> None:
        self.times[key].append(time.monotonic())


# The cookie of a browser signed in on /login (see Auth).
SESSION_COOKIE = "local_hub_session"
# Readable without the token in a gated repo, as on the Hub: the card is how people learn what they ask access to.
GATED_PUBLIC_FILES = frozenset({README_FILE, ".gitattributes"})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def file_entry(sha256: str, size: int, *, lfs: bool, git_oid: str | None = None) -> dict:
    """A file in a commit's map. LFS files carry the git id of their pointer, as in a real git tree."""
    if lfs:
        pointer = lfs_pointer(sha256, size)
        return {"sha256": sha256, "size": size, "lfs": True, "oid": git_blob_oid(pointer), "pointerSize": len(pointer)}
    return {"sha256": sha256, "size": size, "lfs": False, "oid": git_oid}


class HubError(Exception):
    """An error answered as JSON with the headers huggingface_hub turns into its exception classes."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, dict(headers or {})

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        # Header values must be one latin-1 line; the JSON body keeps the full message.
        headers["X-Error-Message"] = re.sub(r"[^\x20-\x7e]", "?", self.message)[:300]
        if self.code:
            headers["X-Error-Code"] = self.code
        return JSONResponse({"error": self.message}, status_code=self.status, headers=headers)


def repo_not_found(repo_id: str) -> HubError:
    return HubError(404, f"Repository not found: {repo_id}", code="RepoNotFound")


# --------------------------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoKey:
    kind: str  # "model" | "dataset" | "space"
    ns: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.ns}/{self.name}"

    @property
    def web_path(self) -> str:
        return f"{WEB_PREFIX[self.kind]}{self.ns}/{self.name}"


def repo_key(kind: str, ns: str, name: str) -> RepoKey:
    """Validate a repo id from a URL or a request body; refuse anything that could leave ROOT."""
    for part in (ns, name):
        if not isinstance(part, str) or not REPO_PART_RE.fullmatch(part) or ".." in part or "--" in part \
                or part.lower().endswith(".git"):
            raise HubError(400, f"invalid repo id {ns!s}/{name!s}: "
                                "use letters, digits, '-', '_' and '.' (not at the ends)")
    if ns.lower() in RESERVED_NAMESPACES:
        raise HubError(400, f"'{ns}' is a reserved namespace")
    return RepoKey(kind, ns, name)


def body_repo_key(body: dict) -> RepoKey:
    """The repo named by a create/delete body: {"name", "organization" (None: the owner), "type"}."""
    kind = body.get("type") or "model"
    if kind not in WEB_PREFIX:
        raise HubError(400, f"unknown repo type {kind!r}")
    return repo_key(kind, body.get("organization") or OWNER, body.get("name"))


@lru_cache(maxsize=256)
def _load_commit(path: str) -> dict:
    # Commits are immutable and named by the hash of their content, so caching them by path is always valid.
    # Callers must treat the returned dict as read-only.
    with open(path, "rb") as f:
        return json.load(f)


@dataclass(frozen=True)
class Repo:
    """A snapshot of one repo's settings and refs; its commits are read (and cached) on demand."""

    key: RepoKey
    state: dict
    dir: Path

    @property
    def private(self) -> bool:
        return self.state["private"]

    @property
    def gated(self) -> bool | str:
        return self.state["gated"]

    @property
    def refs(self) -> dict[str, str]:
        return self.state["refs"]

    @property
    def tags(self) -> dict[str, str]:
        return self.state.get("tags", {})

    @property
    def discussions(self) -> dict[str, dict]:
        """Discussions and pull requests by number (a string: the state is JSON); they share one numbering."""
        return self.state.get("discussions", {})

    def commit(self, sha: str) -> dict:
        return _load_commit(str(self.dir / "commits" / f"{sha}.json"))

    def files(self, sha: str) -> dict[str, dict]:
        return self.commit(sha)["files"]

    def resolve(self, rev: str) -> str | None:
        """A branch, a ``refs/pr/N`` ref, a tag or a full commit sha -> commit sha."""
        if rev in self.refs:
            return self.refs[rev]
        if rev in self.tags:
            return self.tags[rev]
        if rev.startswith("refs/heads/") and rev[len("refs/heads/"):] in self.refs:
            return self.refs[rev[len("refs/heads/"):]]
        if rev.startswith("refs/tags/") and rev[len("refs/tags/"):] in self.tags:
            return self.tags[rev[len("refs/tags/"):]]
        if SHA1_RE.fullmatch(rev) and (self.dir / "commits" / f"{rev}.json").is_file():
            return rev
        return None

    def find_commit(self, prefix: str) -> str | None:
        """A commit of this repo from its (possibly abbreviated) sha, as clients may send in parentCommit."""
        if not re.fullmatch(r"[0-9a-f]{5,40}", prefix):
            return None
        matches = [p.stem for p in (self.dir / "commits").glob(f"{prefix}*.json")]
        return matches[0] if len(matches) == 1 else None

    def history(self, sha: str):
        """(sha, commit) from ``sha`` back to the first commit (commits have at most one parent here)."""
        while sha:
            commit = self.commit(sha)
            yield sha, commit
            sha = commit["parents"][0] if commit["parents"] else None


class Store:
    """Blobs, repos and commits on disk. Every mutation of repo state happens under ``lock``."""

    def __init__(self, root: Path):
        self.blobs, self.repos, self.tmp = root / "blobs", root / "repos", root / "tmp"
        for d in (self.blobs, self.repos, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        # Leftovers of uploads or deletions cut short by a killed server.
        for leftover in self.tmp.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        self.lock = threading.Lock()

    # blobs --------------------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def blob_size(self, sha256: str) -> int | None:
        try:
            return self.blob_path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def install_blob(self, tmp_path: str, sha256: str) -> None:
        target = self.blob_path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp_path, target)

    def add_blob(self, data: bytes) -> tuple[str, str]:
        """Store a regular file's bytes; returns (sha256, git oid)."""
        sha256 = hashlib.sha256(data).hexdigest()
        if self.blob_size(sha256) != len(data):
            fd, tmp = tempfile.mkstemp(dir=self.tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self.install_blob(tmp, sha256)
        return sha256, git_blob_oid(data)

    async def receive_blob(self, chunks, sha256: str, size: int) -> None:
        """Stream an LFS upload to a temp file, then keep it only if its bytes match the announced oid and size."""
        fd, tmp = tempfile.mkstemp(dir=self.tmp)
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > size:
                        raise HubError(400, f"upload is larger than the announced {size} bytes")
                    digest.update(chunk)
                    f.write(chunk)
            if received != size or digest.hexdigest() != sha256:
                raise HubError(400, f"uploaded bytes do not match oid {sha256} and size {size}")
            self.install_blob(tmp, sha256)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # repos --------------------------------------------------------------------------------------------------
    def repo_dir(self, key: RepoKey) -> Path:
        return self.repos / SEGMENT_BY_KIND[key.kind] / key.ns / key.name

    def read_repo(self, key: RepoKey) -> Repo | None:
        directory = self.repo_dir(key)
        try:
            state = json.loads((directory / "repo.json").read_bytes())
        except FileNotFoundError:
            return None
        return Repo(key, state, directory)

    def list_repos(self) -> list[Repo]:
        repos = []
        for state_file in sorted(self.repos.glob("*/*/*/repo.json")):
            segment, ns, name = state_file.parent.relative_to(self.repos).parts
            if segment in KIND_BY_SEGMENT:
                repos.append(self.read_repo(RepoKey(KIND_BY_SEGMENT[segment], ns, name)))
        return [r for r in repos if r is not None]

    def save_repo(self, key: RepoKey, state: dict) -> Repo:
        directory = self.repo_dir(key)
        write_atomic(directory / "repo.json", json.dumps(state, indent=1, sort_keys=True).encode())
        return Repo(key, state, directory)

    def write_commit(self, key: RepoKey, parent: str | None, files: dict, title: str, description: str,
                     merged: str | None = None) -> str:
        """Write a commit file and return its sha (the hash of its content); refs are the caller's business.
        A merge commit names the merged head as its second parent; histories follow first parents."""
        parents = ([parent] if parent else []) + ([merged] if merged else [])
        commit = {"parents": parents, "title": title, "description": description, "date": _now(), "files": files}
        data = json.dumps(commit, sort_keys=True, separators=(",", ":")).encode()
        sha = hashlib.sha1(data).hexdigest()
        commits = self.repo_dir(key) / "commits"
        commits.mkdir(parents=True, exist_ok=True)
        write_atomic(commits / f"{sha}.json", data)
        return sha

    def create_repo(self, key: RepoKey, private: bool) -> Repo:
        """Create a repo with an empty first commit on main, so it has a sha from the start (as on the Hub)."""
        with self.lock:
            if self.read_repo(key) is not None:
                raise HubError(409, f"You already created this {key.kind} repo: {key.id}")
            sha = self.write_commit(key, None, {}, "initial commit", "")
            return self.save_repo(key, {"private": private, "gated": False, "createdAt": _now(),
                                        "refs": {"main": sha}, "pullRequests": 0})

    def delete_repo(self, key: RepoKey) -> None:
        with self.lock:
            if self.read_repo(key) is None:
                raise repo_not_found(key.id)
            # Move out of the tree first so the repo disappears at once, then delete at leisure.
            graveyard = Path(tempfile.mkdtemp(dir=self.tmp))
            os.replace(self.repo_dir(key), graveyard / "repo")
            shutil.rmtree(graveyard)


# --------------------------------------------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------------------------------------------


class Auth:
    """One token: it may write and read everything; everyone else reads public (and the cards of gated) repos.

    A browser signed in on /login carries a session cookie instead, derived from the token (so the cookie is
    not the token). It is honoured for reads only: writes need the token in each request, which no other
    site can make a browser send.
    """

    def __init__(self, token: str):
        if not token:
            raise ValueError("the local hub needs a write token")
        self._token = token.encode()

    def _bearer(self, request: Request) -> bytes | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip().encode("latin-1") if scheme.lower() == "bearer" and value.strip() else None

    def is_token(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._token)

    def session_value(self) -> str:
        return hmac.new(self._token, b"browser-session", hashlib.sha256).hexdigest()

    def is_owner(self, request: Request) -> bool:
        given = self._bearer(request)
        if given is not None:
            return hmac.compare_digest(given, self._token)
        cookie = request.cookies.get(SESSION_COOKIE)
        return (request.method in ("GET", "HEAD") and cookie is not None
                and hmac.compare_digest(cookie.encode("latin-1", "replace"), self.session_value().encode()))

    def require_owner(self, request: Request) -> None:
        given = self._bearer(request)
        if given is None:
            raise HubError(401, "Authorization required: send 'Authorization: Bearer <token>' to write")
        if not hmac.compare_digest(given, self._token):
            # This exact message makes huggingface_hub report a bad token instead of a missing repo.
            raise HubError(401, "Invalid credentials in Authorization header")

    # LFS upload URLs are used without an Authorization header, so they carry their own proof: an HMAC of
    # what may be uploaded there. It cannot be replayed for other content (the bytes must hash to the oid).
    def sign_upload(self, sha256: str, size: int) -> str:
        return hmac.new(self._token, f"lfs-upload:{sha256}:{size}".encode(), hashlib.sha256).hexdigest()

    def check_upload(self, sha256: str, size: int, signature: str) -> bool:
        return hmac.compare_digest(self.sign_upload(sha256, size).encode(), signature.encode())


# --------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------------------


def base_url(request: Request) -> str:
    """The origin the client used: the URLs we hand out (repo, commit, LFS upload) must parse back to it."""
    return str(request.base_url).rstrip("/")


async def read_body(request: Request, limit: int = JSON_BODY_LIMIT) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdecimal() and int(declared) > limit:
        raise HubError(413, f"request body larger than {limit} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise HubError(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict:
    body = await read_body(request)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as e:
        raise HubError(400, f"invalid JSON body: {e}") from None
    if not isinstance(data, dict):
        raise HubError(400, "the JSON body must be an object")
    return data


def check_file_path(path) -> str:
    """A path inside a repo: relative, normalised, nothing git or a filesystem would read specially."""
    if not isinstance(path, str) or not path or len(path) > 1024:
        raise HubError(400, "invalid file path: must be a non-empty string of at most 1024 characters")
    if path.startswith("/") or "\\" in path or any(ord(c) < 0x20 for c in path):
        raise HubError(400, f"invalid file path {path!r}: must be relative, without backslashes or control characters")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise HubError(400, f"invalid file path {path!r}: empty, '.' or '..' segment")
    if ".git" in parts:
        raise HubError(400, f"invalid file path {path!r}: '.git' is reserved")
    return path


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Route:
    methods: frozenset
    pattern: re.Pattern
    handler: object


def route(methods: str, pattern: str, handler) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern), handler)


API = r"/api/(?P<kind>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
WEB = r"/(?:(?P<kind>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+)"
REV = r"(?P<rev>[^/]+)"  # one raw segment: "refs/pr/1" arrives as refs%2Fpr%2F1


class LocalHub:
    """The ASGI application."""

    def __init__(self, root: str | Path, token: str, limits: Limits | None = None):
        self.store = Store(Path(root))
        self.auth = Auth(token)
        self.limits = limits or Limits()
        self.commit_rate = CommitRate(self.limits)
        self.routes = [
            route("GET", r"/api/whoami-v2", self.whoami),
            route("POST", r"/api/validate-yaml", self.validate_yaml),
            route("POST", r"/api/repos/create", self.create_repo),
            route("DELETE", r"/api/repos/delete", self.delete_repo),
            route("GET", API + rf"(?:/revision/{REV})?", self.repo_info),
            route("PUT", API + r"/settings", self.update_settings),
            route("GET", API + r"/refs", self.list_refs),
            route("POST", API + r"/branch/(?P<branch>[^/]+)", self.create_branch),
            route("POST", API + rf"/tag/{REV}", self.create_tag),
            route("DELETE", API + r"/tag/(?P<tag>[^/]+)", self.delete_tag),
            route("GET", API + rf"/commits/{REV}", self.list_commits),
            route("GET POST", API + r"/discussions", self.discussions),
            route("GET", API + r"/discussions/(?P<num>[0-9]+)", self.discussion_details),
            route("POST", API + r"/discussions/(?P<num>[0-9]+)/status", self.change_discussion_status),
            route("POST", API + r"/discussions/(?P<num>[0-9]+)/merge", self.merge_pull_request),
            route("GET", API + rf"/xet-(?P<token_kind>read|write)-token/{REV}", self.xet_token),
            route("GET", API + rf"/tree/{REV}(?:/(?P<path>.+))?", self.tree),
            route("GET", r"/api/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)/croissant", self.croissant),
            route("POST", API + rf"/paths-info/{REV}", self.paths_info),
            route("GET", WEB + rf"/resolve/{REV}/(?P<path>.+)", self.resolve),
            route("POST", API + rf"/preupload/{REV}", self.preupload),
            route("POST", WEB + r"\.git/info/lfs/objects/batch", self.lfs_batch),
            route("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", self.lfs_upload),
            route("POST", API + rf"/commit/{REV}", self.commit),
            route("GET", r"/", self.index_page),
            route("GET", r"/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)/?", self.dataset_page),
            route("GET", r"/login", self.login_page),
            route("POST", r"/login", self.login),
            route("POST", r"/logout", self.logout),
        ]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return  # no lifespan or websocket support needed; serve() runs uvicorn with lifespan="off"
        request = Request(scope, receive)
        try:
            response = await self.dispatch(request)
        except HubError as e:
            response = e.response()
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            response = JSONResponse({"error": "internal server error"}, status_code=500)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        # Route on the raw path: uvicorn decodes %2F in scope["path"], which would split refs%2Fpr%2F1.
        raw = request.scope.get("raw_path") or quote(request.scope["path"]).encode()
        path = raw.decode("latin-1")
        method = "GET" if request.method == "HEAD" else request.method  # HEAD = GET minus the body (uvicorn drops it)
        allowed: set[str] = set()
        for candidate in self.routes:
            match = candidate.pattern.fullmatch(path)
            if match is None:
                continue
            if method not in candidate.methods:
                allowed |= candidate.methods
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            return await candidate.handler(request, **params)
        if allowed:
            raise HubError(405, f"method {request.method} not allowed here",
                           headers={"Allow": ", ".join(sorted(allowed))})
        raise HubError(404, f"no such endpoint: {request.method} {path}")

    # Helpers shared by the routes ----------------------------------------------------------------------------
    def visible_repo(self, request: Request, kind: str | None, ns: str, name: str) -> Repo:
        key = repo_key(KIND_BY_SEGMENT.get(kind or "models"), ns, name)
        repo = self.store.read_repo(key)
        # A private repo answers exactly like a missing one, so its existence does not leak.
        if repo is None or (repo.private and not self.auth.is_owner(request)):
            raise repo_not_found(key.id)
        return repo

    def owned_repo(self, request: Request, kind: str | None, ns: str, name: str) -> Repo:
        self.auth.require_owner(request)
        return self.visible_repo(request, kind, ns, name)

    @staticmethod
    def revision(repo: Repo, rev: str) -> str:
        sha = repo.resolve(rev)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        return sha

    # --------------------------------------------------------------------------------------------------------
    # Repos: create, delete, info, settings, refs, branches
    # --------------------------------------------------------------------------------------------------------

    async def create_repo(self, request: Request) -> Response:
        self.auth.require_owner(request)
        body = await read_json(request)
        visibility = body.get("visibility", "public")
        if visibility not in ("public", "private"):
            raise HubError(400, f"unsupported visibility {visibility!r}")
        key = body_repo_key(body)
        url = f"{base_url(request)}/{key.web_path}"
        try:
            await run_in_threadpool(self.store.create_repo, key, visibility == "private")
        except HubError as e:
            if e.status == 409:  # create_repo(exist_ok=True) reads the url from the 409 body
                return JSONResponse({"error": e.message, "url": url}, status_code=409)
            raise
        return JSONResponse({"url": url, "name": key.id, "id": key.id})

    async def delete_repo(self, request: Request) -> Response:
        self.auth.require_owner(request)
        key = body_repo_key(await read_json(request))
        await run_in_threadpool(self.store.delete_repo, key)
        return JSONResponse({"success": True})

    async def repo_info(self, request: Request, kind: str, ns: str, name: str, rev: str = "main") -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        files = repo.files(sha)
        with_blobs = truthy(request.query_params.get("blobs"))
        siblings = []
        for path, entry in sorted(files.items()):
            sibling = {"rfilename": path}
            if with_blobs:
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if entry["lfs"]:
                    sibling["lfs"] = {"size": entry["size"], "sha256": entry["sha256"],
                                      "pointerSize": entry["pointerSize"]}
            siblings.append(sibling)
        meta = card_metadata(self.store, files)
        info = {
            "id": repo.key.id, "author": repo.key.ns, "sha": sha, "lastModified": repo.commit(sha)["date"],
            "createdAt": repo.state["createdAt"], "private": repo.private, "gated": repo.gated, "disabled": False,
            "downloads": 0, "likes": 0, "tags": card_tags(meta or {}), "siblings": siblings,
        }
        if meta is not None:
            info["cardData"] = meta
        expand = request.query_params.getlist("expand") or request.query_params.getlist("expand[]")
        if expand:  # the Hub then returns only the fields asked for
            info = {k: v for k, v in info.items() if k == "id" or k in expand}
        return JSONResponse(info)

    async def update_settings(self, request: Request, kind: str, ns: str, name: str) -> Response:
        """What ``HfApi.update_repo_settings`` sends: PUT {"gated": "auto"|"manual"|false, "visibility": ...}."""
        repo = self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        unknown = set(body) - {"gated", "visibility"}
        if unknown:
            raise HubError(400, f"unsupported settings: {', '.join(sorted(unknown))}")
        if "gated" in body and body["gated"] not in (False, "auto", "manual"):
            raise HubError(400, "gated must be false, 'auto' or 'manual'")
        if "visibility" in body and body["visibility"] not in ("public", "private"):
            raise HubError(400, "visibility must be 'public' or 'private'")

        def update() -> Repo:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                state = dict(current.state)
                if "gated" in body:
                    state["gated"] = body["gated"]
                if "visibility" in body:
                    state["private"] = body["visibility"] == "private"
                return self.store.save_repo(repo.key, state)

        updated = await run_in_threadpool(update)
        return JSONResponse({"gated": updated.gated, "private": updated.private})

    async def list_refs(self, request: Request, kind: str, ns: str, name: str) -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        branches, pulls = [], []
        for ref, sha in sorted(repo.refs.items()):
            if PR_REF_RE.fullmatch(ref):
                pulls.append({"name": ref, "ref": ref, "targetCommit": sha})
            else:
                branches.append({"name": ref, "ref": f"refs/heads/{ref}", "targetCommit": sha})
        tags = [{"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": sha} for tag, sha in sorted(repo.tags.items())]
        body = {"branches": branches, "converts": [], "tags": tags}
        if truthy(request.query_params.get("include_prs")):
            body["pullRequests"] = pulls
        return JSONResponse(body)

    async def create_branch(self, request: Request, kind: str, ns: str, name: str, branch: str) -> Response:
        repo = self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        if not BRANCH_RE.fullmatch(branch) or ".." in branch or "//" in branch or branch.startswith("refs/") \
                or branch.endswith(".lock") or SHA1_RE.fullmatch(branch):
            raise HubError(400, f"invalid branch name {branch!r}")
        starting_point = body.get("startingPoint") or "main"

        def create() -> None:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                if branch in current.refs:
                    raise HubError(409, f"Reference already exists: refs/heads/{branch}")
                sha = self.revision(current, starting_point)
                self.store.save_repo(repo.key, {**current.state, "refs": {**current.refs, branch: sha}})

        await run_in_threadpool(create)
        return JSONResponse({"success": True})

    async def create_tag(self, request: Request, kind: str, ns: str, name: str, rev: str) -> Response:
        """What ``HfApi.create_tag`` sends: POST .../tag/<revision> {"tag", "message"?}; 409 if the tag exists."""
        repo = self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        tag = body.get("tag")
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag) or ".." in tag or "//" in tag \
                or tag.startswith("refs/") or tag.endswith(".lock") or SHA1_RE.fullmatch(tag):
            raise HubError(400, f"invalid tag name {tag!r}")

        def create() -> str:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                if tag in current.tags or tag in current.refs:
                    raise HubError(409, f"Reference already exists: refs/tags/{tag}")
                sha = self.revision(current, rev)
                self.store.save_repo(repo.key, {**current.state, "tags": {**current.tags, tag: sha}})
                return sha

        sha = await run_in_threadpool(create)
        return JSONResponse({"success": True, "tag": tag, "targetCommit": sha})

    async def delete_tag(self, request: Request, kind: str, ns: str, name: str, tag: str) -> Response:
        repo = self.owned_repo(request, kind, ns, name)

        def delete() -> None:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                if tag not in current.tags:
                    raise HubError(404, f"Invalid rev id: {tag}", code="RevisionNotFound")
                tags = {k: v for k, v in current.tags.items() if k != tag}
                self.store.save_repo(repo.key, {**current.state, "tags": tags})

        await run_in_threadpool(delete)
        return JSONResponse({"success": True})

    async def list_commits(self, request: Request, kind: str, ns: str, name: str, rev: str) -> Response:
        """The first-parent history of a revision, newest first, paginated like the Hub (``Link`` rel=next):
        a merged pull request shows as one merge commit on the branch it was merged into."""
        repo = self.visible_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        page_param = request.query_params.get("p", "0")
        page = int(page_param) if page_param.isdecimal() else 0
        start = page * COMMITS_PAGE_SIZE

        def collect() -> tuple[list[dict], bool]:
            items = []
            for index, (commit_sha, commit) in enumerate(repo.history(sha)):
                if index >= start + COMMITS_PAGE_SIZE:
                    return items, True
                if index >= start:
                    items.append({"id": commit_sha, "title": commit["title"], "message": commit["description"],
                                  "date": commit["date"], "authors": [{"user": OWNER}],
                                  "parents": commit["parents"]})
            return items, False

        items, more = await run_in_threadpool(collect)
        headers = {}
        if more:
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "p"] + [("p", str(page + 1))]
            raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
            headers["Link"] = f'<{base_url(request)}{raw_path}?{urlencode(query)}>; rel="next"'
        return JSONResponse(items, headers=headers)

    # --------------------------------------------------------------------------------------------------------
    # Discussions and pull requests: list, open, details, status, merge
    # --------------------------------------------------------------------------------------------------------

    async def discussions(self, request: Request, kind: str, ns: str, name: str) -> Response:
        if request.method == "POST":
            return await self.create_discussion(request, kind, ns, name)
        repo = self.visible_repo(request, kind, ns, name)
        wanted_type = request.query_params.get("type", "all")
        wanted_status = request.query_params.get("status", "all")
        page_param = request.query_params.get("p", "0")
        page = int(page_param) if page_param.isdecimal() else 0
        found = []
        for discussion in sorted(repo.discussions.values(), key=lambda d: -d["num"]):  # newest first
            if wanted_type == "pull_request" and not discussion["isPullRequest"] or \
                    wanted_type == "discussion" and discussion["isPullRequest"]:
                continue
            open_ = discussion["status"] in ("open", "draft")
            if wanted_status == "open" and not open_ or wanted_status == "closed" and open_:
                continue
            found.append(discussion_summary(repo, discussion))
        start = page * DISCUSSIONS_PAGE_SIZE
        return JSONResponse({"discussions": found[start:start + DISCUSSIONS_PAGE_SIZE], "count": len(found),
                             "start": start, "numClosedDiscussions": sum(
                                 d["status"] in ("closed", "merged") for d in repo.discussions.values())})

    async def create_discussion(self, request: Request, kind: str, ns: str, name: str) -> Response:
        """What ``HfApi.create_discussion`` / ``create_pull_request`` send: {"title", "description",
        "pullRequest"}. A pull request opened this way is a draft whose ``refs/pr/N`` starts at main's head."""
        repo = self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        title, description = body.get("title"), body.get("description") or ""
        if not isinstance(title, str) or not title.strip() or not isinstance(description, str):
            raise HubError(400, "a discussion needs a non-empty 'title' and a text 'description'")
        pull_request = bool(body.get("pullRequest"))

        def create() -> dict:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                num = current.state["pullRequests"] + 1
                discussion = new_discussion(num, title.strip(), description, pull_request,
                                            status="draft" if pull_request else "open",
                                            base_commit=current.refs["main"] if pull_request else None)
                state = {**current.state, "pullRequests": num,
                         "discussions": {**current.discussions, str(num): discussion}}
                if pull_request:
                    state["refs"] = {**current.refs, f"refs/pr/{num}": current.refs["main"]}
                self.store.save_repo(repo.key, state)
                return discussion

        discussion = await run_in_threadpool(create)
        url = f"{base_url(request)}/{repo.key.web_path}/discussions/{discussion['num']}"
        return JSONResponse({"num": discussion["num"], "url": url, "pullRequest": pull_request})

    async def discussion_details(self, request: Request, kind: str, ns: str, name: str, num: str) -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        discussion = self.discussion(repo, num)
        details = {**discussion_summary(repo, discussion), "events": discussion["events"]}
        if discussion["isPullRequest"]:
            details["changes"] = {"base": f"refs/heads/{discussion['target']}",
                                  **({"mergeCommitId": discussion["mergeCommit"]}
                                     if discussion.get("mergeCommit") else {})}
            details["filesWithConflicts"] = []
            details["diff"] = ""
        return JSONResponse(details)

    async def change_discussion_status(self, request: Request, kind: str, ns: str, name: str, num: str) -> Response:
        """POST .../status {"status": "open"|"closed", "comment"?}: a draft becomes open (ready to merge), an open
        discussion closed, a closed one open again; a merged pull request stays merged."""
        repo = self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        status = body.get("status")
        if status not in ("open", "closed"):
            raise HubError(400, "status must be 'open' or 'closed'")

        def change() -> dict:
            with self.store.lock:
                current = self.store.read_repo(repo.key)
                if current is None:
                    raise repo_not_found(repo.key.id)
                discussion = dict(self.discussion(current, num))
                number = str(discussion["num"])
                if discussion["status"] == "merged":
                    raise HubError(400, f"#{num} is merged: its status cannot change")
                event = discussion_event("status-change", {"status": status})
                discussion.update(status=status, events=[*discussion["events"], event])
                self.store.save_repo(repo.key, {**current.state,
                                                "discussions": {**current.discussions, number: discussion}})
                return event

        event = await run_in_threadpool(change)
        return JSONResponse({"newStatus": event})

    async def merge_pull_request(self, request: Request, kind: str, ns: str, name: str, num: str) -> Response:
        """Merge ``refs/pr/N`` into its target branch in one commit: the branch goes from its old files to the
        merged ones in one step. A branch still at the pull request's base gets exactly the pull request's files;
        a branch that moved meanwhile gets a three-way merge of the file maps, refused (409) on a conflict."""
        repo = self.owned_repo(request, kind, ns, name)
        await read_body(request)  # an optional {"comment"}
        merged = await run_in_threadpool(self.apply_merge, repo.key, num)
        return JSONResponse({"success": True, "mergeCommitId": merged})

    def apply_merge(self, key: RepoKey, num: str) -> str:
        with self.store.lock:
            repo = self.store.read_repo(key)
            if repo is None:
                raise repo_not_found(key.id)
            discussion = dict(self.discussion(repo, num))
            num = str(discussion["num"])
            if not discussion["isPullRequest"]:
                raise HubError(400, f"#{num} is a discussion, not a pull request")
            if discussion["status"] != "open":
                raise HubError(400, f"pull request #{num} is {discussion['status']}: only an open pull request "
                                    "can be merged (a draft is opened by changing its status to 'open')")
            head, target = repo.refs[f"refs/pr/{num}"], discussion["target"]
            branch_head = repo.refs[target]
            theirs = repo.files(head)
            if branch_head == discussion["baseCommit"]:
                files = dict(theirs)
            else:
                files = three_way_merge(repo.files(discussion["baseCommit"]), repo.files(branch_head), theirs, num)
            changed = {p for p in files.keys() | repo.files(branch_head).keys()
                       if files.get(p) != repo.files(branch_head).get(p)}
            check_folder_entries(files, changed, self.limits.max_folder_entries)
            self.commit_rate.check(key)
            sha = self.store.write_commit(key, branch_head, files, f"Merge pull request #{num}: {discussion['title']}",
                                          f"Merges refs/pr/{num} into {target}.", merged=head)
            event = discussion_event("status-change", {"status": "merged"})
            discussion.update(status="merged", mergeCommit=sha, events=[*discussion["events"], event])
            self.store.save_repo(key, {**repo.state, "refs": {**repo.refs, target: sha},
                                       "discussions": {**repo.discussions, num: discussion}})
            self.commit_rate.record(key)
            return sha

    @staticmethod
    def discussion(repo: Repo, num: str) -> dict:
        discussion = repo.discussions.get(str(int(num)))
        if discussion is None:
            raise HubError(404, f"Discussion #{num} not found in {repo.key.id}")
        return discussion

    async def xet_token(self, request: Request, kind: str, ns: str, name: str, rev: str, token_kind: str) -> Response:
        """huggingface_hub asks here whenever hf_xet is installed and HF_HUB_DISABLE_XET is unset; this server stores
        files with LFS only. The client cannot fall back on any answer (see the module docstring), so the answer
        says what to do; publish.py reads the 404 as "use LFS"."""
        self.visible_repo(request, kind, ns, name)
        raise HubError(404, "this local hub stores files with LFS, not Xet: set HF_HUB_DISABLE_XET=1 in the "
                            "client's environment", code="XetNotSupported")

    # --------------------------------------------------------------------------------------------------------
    # Reading files: tree, paths-info, resolve
    # --------------------------------------------------------------------------------------------------------

    async def tree(self, request: Request, kind: str, ns: str, name: str, rev: str, path: str = "") -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        files = repo.files(sha)
        path = path.strip("/")
        if path:
            check_file_path(path)
        items = tree_listing(files, path, truthy(request.query_params.get("recursive")))
        if path and not items:
            raise HubError(404, f"{path} does not exist on {rev}", code="EntryNotFound", headers={"X-Repo-Commit": sha})

        expand = truthy(request.query_params.get("expand"))
        limit = TREE_PAGE_SIZE_EXPANDED if expand else TREE_PAGE_SIZE
        requested = request.query_params.get("limit", "")
        if requested.isdecimal() and int(requested) > 0:
            limit = min(limit, int(requested))
        # The cursor is the last path already sent: pages stay consistent even if a commit lands in between.
        cursor = request.query_params.get("cursor")
        if cursor:
            try:
                after = base64.urlsafe_b64decode(cursor.encode()).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise HubError(400, "invalid cursor") from None
            items = [item for item in items if item[0] > after]
        page, more = items[:limit], len(items) > limit

        headers = {}
        if more:
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            query.append(("cursor", base64.urlsafe_b64encode(page[-1][0].encode()).decode()))
            raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
            headers["Link"] = f'<{base_url(request)}{raw_path}?{urlencode(query)}>; rel="next"'
        body = await run_in_threadpool(tree_entries, repo, sha, page, expand)
        return JSONResponse(body, headers=headers)

    async def croissant(self, request: Request, ns: str, name: str) -> Response:
        """GET /api/datasets/ORG/NAME/croissant, as the Hub serves it: the Croissant JSON-LD of `main`. The Hub
        generates it; here it is the repository's croissant.json (or, for a repository without one, generated
        from its build_report.json and the card metadata), with the repository page as `url`, absolute file
        URLs and the repository as a git FileObject (`builders.croissant.for_repository`). Like the Hub's data
        endpoints, a gated repository answers 401 without the token; a private or missing one, 404."""
        repo = self.visible_repo(request, "datasets", ns, name)
        sha = self.revision(repo, "main")
        headers = {"X-Repo-Commit": sha}
        if repo.gated and not self.auth.is_owner(request):
            raise HubError(401, f"Access to dataset {repo.key.id} is restricted: it is gated, send the token",
                           code="GatedRepo", headers=headers)
        document = await run_in_threadpool(croissant_document, self.store, repo.files(sha))
        if document is None:
            raise HubError(404, f"{repo.key.id} has no Croissant metadata: neither croissant.json nor a "
                           "build_report.json of a dataset this hub knows", headers=headers)
        from .. import croissant  # imports `datasets` (through the card metadata): paid on first use only

        served = croissant.for_repository(document, base_url(request), repo.key.id, "main")
        return JSONResponse(served, headers=headers)

    async def paths_info(self, request: Request, kind: str, ns: str, name: str, rev: str) -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        form = parse_qsl((await read_body(request)).decode("utf-8", "replace"), keep_blank_values=True)
        wanted = {p.strip("/") for k, p in form if k == "paths"}
        expand = any(k == "expand" and truthy(v) for k, v in form)
        files = repo.files(sha)
        found = []
        for path in sorted(wanted):
            if path in files:
                found.append((path, files[path]))
            elif path and any(p.startswith(path + "/") for p in files):
                found.append((path, None))
        return JSONResponse(await run_in_threadpool(tree_entries, repo, sha, found, expand))

    async def resolve(self, request: Request, ns: str, name: str, rev: str, path: str,
                      kind: str | None = None) -> Response:
        repo = self.visible_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        headers = {"X-Repo-Commit": sha}
        entry = repo.files(sha).get(path)
        if entry is None:
            # X-Repo-Commit lets the client cache the absence (its .no_exist folder).
            raise HubError(404, f"Entry not found: {path}", code="EntryNotFound", headers=headers)
        if repo.gated and path not in GATED_PUBLIC_FILES and not self.auth.is_owner(request):
            raise HubError(401, f"Access to {repo.key.kind} {repo.key.id} is restricted: it is gated, send the token",
                           code="GatedRepo", headers=headers)

        size = entry["size"]
        etag = entry["sha256"] if entry["lfs"] else entry["oid"]
        headers.update({"ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                        "Content-Type": mimetypes.guess_type(path)[0] or "application/octet-stream"})
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": f'"{entry["sha256"]}"', "X-Linked-Size": str(size)})
        start, end, status = 0, size, 200
        byte_range = parse_range(request.headers.get("range"), size)
        if byte_range is not None:
            start, end, status = *byte_range, 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        return StreamingResponse(read_chunks(self.store.blob_path(entry["sha256"]), start, end),
                                 status_code=status, headers=headers)

    # --------------------------------------------------------------------------------------------------------
    # Uploading and committing: preupload, LFS batch + PUT, NDJSON commit
    # --------------------------------------------------------------------------------------------------------

    async def preupload(self, request: Request, kind: str, ns: str, name: str, rev: str) -> Response:
        repo = self.owned_repo(request, kind, ns, name)
        sha = self.revision(repo, rev)
        body = await read_json(request)
        if not isinstance(body.get("files"), list):
            raise HubError(400, "'files' must be a list")
        current = repo.files(sha)
        answers = []
        for item in body["files"]:
            if not isinstance(item, dict) or not isinstance(item.get("size"), int) or item["size"] < 0:
                raise HubError(400, "each file needs a path, a size and a base64 sample")
            path = check_file_path(item.get("path"))
            try:
                sample = base64.b64decode(item.get("sample") or "", validate=True)
            except (binascii.Error, ValueError):
                raise HubError(400, f"invalid base64 sample for {path}") from None
            entry = current.get(path)
            # The client skips a file whose oid it computes to the same value: sha256 for LFS, git oid otherwise.
            oid = None if entry is None else (entry["sha256"] if entry["lfs"] else entry["oid"])
            answers.append({"path": path, "uploadMode": upload_mode(path, item["size"], sample),
                            "shouldIgnore": False, "oid": oid})
        return JSONResponse({"files": answers, "commitOid": sha})

    async def lfs_batch(self, request: Request, ns: str, name: str, kind: str | None = None) -> Response:
        self.owned_repo(request, kind, ns, name)
        body = await read_json(request)
        if body.get("operation") != "upload":
            raise HubError(400, "only the 'upload' operation is supported; downloads go through /resolve/")
        if not isinstance(body.get("objects"), list):
            raise HubError(400, "'objects' must be a list")
        objects = []
        for obj in body["objects"]:
            oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
            if not (isinstance(oid, str) and SHA256_RE.fullmatch(oid) and isinstance(size, int) and size >= 0):
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "oid must be a sha256 hex digest and size an int"}})
            elif size > self.limits.max_file_bytes:
                objects.append({"oid": oid, "size": size, "error": {
                    "code": 422, "message": f"{size:,} bytes is over the Hub's limit of "
                                            f"{self.limits.max_file_bytes:,} bytes per file: split the file"}})
            elif self.store.blob_size(oid) == size:
                objects.append({"oid": oid, "size": size})  # no actions: the client skips the upload
            else:
                query = urlencode({"size": size, "sig": self.auth.sign_upload(oid, size)})
                href = f"{base_url(request)}/_lfs/{oid}?{query}"
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {"upload": {"href": href}}})
        return JSONResponse({"transfer": "basic", "objects": objects}, media_type="application/vnd.git-lfs+json")

    async def lfs_upload(self, request: Request, oid: str) -> Response:
        size_param, signature = request.query_params.get("size", ""), request.query_params.get("sig", "")
        if not size_param.isdecimal() or not self.auth.check_upload(oid, int(size_param), signature):
            raise HubError(403, "invalid or missing upload signature: ask the LFS batch endpoint for an upload URL")
        size = int(size_param)
        if self.store.blob_size(oid) == size:
            return JSONResponse({})  # already stored: a retry, or the same content in another repo
        declared = request.headers.get("content-length")
        if declared is not None and declared != str(size):
            raise HubError(400, f"Content-Length {declared} does not match the announced size {size}")
        await self.store.receive_blob(request.stream(), oid, size)
        return JSONResponse({})

    async def commit(self, request: Request, kind: str, ns: str, name: str, rev: str) -> Response:
        repo = self.owned_repo(request, kind, ns, name)
        create_pr = truthy(request.query_params.get("create_pr"))
        # Spool the NDJSON body (it carries regular files inline) instead of holding it in memory.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=self.store.tmp) as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            header, operations = await run_in_threadpool(self.parse_commit, spool, repo.key)
        sha, pr_number = await run_in_threadpool(self.apply_commit, repo.key, rev, header, operations, create_pr)
        url = f"{base_url(request)}/{repo.key.web_path}"
        body = {"success": True, "commitOid": sha, "commitUrl": f"{url}/commit/{sha}",
                "commitMessage": header["summary"]}
        if pr_number is not None:
            body["pullRequestUrl"] = f"{url}/discussions/{pr_number}"
        return JSONResponse(body)

    def parse_commit(self, spool, key: RepoKey) -> tuple[dict, list[tuple[str, str, dict | None]]]:
        """Read the NDJSON lines into (header, [(op, path, entry)]); regular files are stored as blobs on the way.
        The per-commit limits (LFS files, regular payload, file size) are checked as the lines come."""
        header, operations = None, []
        lfs_files, regular_bytes, limits = 0, 0, self.limits
        while line := spool.readline(COMMIT_LINE_LIMIT + 1):
            if len(line) > COMMIT_LINE_LIMIT:
                raise HubError(413, f"a commit line is larger than {COMMIT_LINE_LIMIT} bytes: "
                                    "upload big files with LFS")
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                op, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise HubError(400, "each commit line must be a JSON object with 'key' and 'value'") from None
            if header is None:
                if op != "header" or not isinstance(value, dict) or not isinstance(value.get("summary"), str):
                    raise HubError(400, "the first commit line must be the header with a 'summary'")
                header = value
                continue
            if not isinstance(value, dict):
                raise HubError(400, f"invalid value for {op!r}")
            if op == "file":
                path = check_file_path(value.get("path"))
                if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
                    raise HubError(400, f"{path}: only base64 content is supported")
                try:
                    data = base64.b64decode(value["content"], validate=True)
                except (binascii.Error, ValueError):
                    raise HubError(400, f"{path}: invalid base64 content") from None
                if path == README_FILE and key.kind == "dataset":
                    errors = cardcheck.validate_readme(data.decode("utf-8", "replace"))
                    if errors:
                        raise HubError(400, "Invalid metadata in README.md: " + "; ".join(errors))
                regular_bytes += len(data)
                if regular_bytes > limits.max_regular_bytes_per_commit:
                    raise HubError(413, f"this commit carries more than {limits.max_regular_bytes_per_commit:,} bytes "
                                        "of regular (non-LFS) files, the most the Hub takes in one commit: split it "
                                        "into several commits")
                sha256, git_oid = self.store.add_blob(data)
                operations.append(("add", path, file_entry(sha256, len(data), lfs=False, git_oid=git_oid)))
            elif op == "lfsFile":
                path = check_file_path(value.get("path"))
                oid, size = value.get("oid"), value.get("size")
                stored = self.store.blob_size(oid) if isinstance(oid, str) and SHA256_RE.fullmatch(oid) else None
                if stored is None:
                    raise HubError(400, f"{path}: LFS object {oid} was never uploaded")
                if size is not None and size != stored:
                    raise HubError(400, f"{path}: LFS object {oid} has {stored} bytes, not {size}")
                if stored > limits.max_file_bytes:
                    raise HubError(400, f"{path}: {stored:,} bytes is over the Hub's limit of "
                                        f"{limits.max_file_bytes:,} bytes per file")
                lfs_files += 1
                if lfs_files > limits.max_lfs_files_per_commit:
                    raise HubError(400, f"this commit adds more than {limits.max_lfs_files_per_commit:,} LFS files, "
                                        "the most the Hub takes in one commit: split it into several commits")
                operations.append(("add", path, file_entry(oid, stored, lfs=True)))
            elif op in ("deletedFile", "deletedFolder"):
                path = check_file_path(str(value.get("path", "")).rstrip("/"))
                operations.append(("delete" if op == "deletedFile" else "delete_folder", path, None))
            else:
                raise HubError(400, f"unsupported commit operation {op!r}")
        if header is None:
            raise HubError(400, "empty commit payload")
        return header, operations

    def apply_commit(self, key: RepoKey, rev: str, header: dict, operations: list,
                     create_pr: bool) -> tuple[str, int | None]:
        """Apply operations on top of the target ref under the store lock; returns (commit sha, PR number or None)."""
        parent_commit = header.get("parentCommit")
        with self.store.lock:
            repo = self.store.read_repo(key)
            if repo is None:
                raise repo_not_found(key.id)
            self.commit_rate.check(key)
            pr_number = None
            if create_pr:
                if rev not in repo.refs or PR_REF_RE.fullmatch(rev):
                    raise HubError(404, f"Pull requests are opened against a branch, not {rev!r}",
                                   code="RevisionNotFound")
                base = repo.refs[rev]
                if parent_commit:  # the PR starts from the given commit
                    base = repo.find_commit(parent_commit)
                    if base is None:
                        raise HubError(412, f"parent commit {parent_commit} not found")
                pr_number = repo.state["pullRequests"] + 1
                ref = f"refs/pr/{pr_number}"
            else:
                if rev not in repo.refs:
                    raise HubError(404, f"Invalid rev id: {rev} (commits go to a branch or a refs/pr/N ref)",
                                   code="RevisionNotFound")
                ref, base = rev, repo.refs[rev]
                pr = PR_REF_RE.fullmatch(ref)
                if pr and repo.discussions.get(pr.group(1), {}).get("status") in ("merged", "closed"):
                    raise HubError(400, f"pull request #{pr.group(1)} is {repo.discussions[pr.group(1)]['status']}: "
                                        "open a new one")
                if parent_commit and not base.startswith(parent_commit):
                    raise HubError(412, f"A commit has happened since. Please refresh and try again. "
                                        f"(parent {parent_commit} is not the head {base} of {rev})")

            files = dict(repo.files(base))
            for op, path, entry in operations:
                if op == "add":
                    files[path] = entry
                elif op == "delete":
                    if files.pop(path, None) is None:
                        raise HubError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
                else:
                    inside = [p for p in files if p.startswith(path + "/")]
                    if not inside:
                        raise HubError(404, f"A folder with this name doesn't exist: {path}", code="EntryNotFound")
                    for p in inside:
                        del files[p]
            check_no_file_folder_clash(files)
            check_folder_entries(files, [path for op, path, _ in operations if op == "add"],
                                 self.limits.max_folder_entries)

            sha = self.store.write_commit(key, base, files, header["summary"], header.get("description") or "")
            state = {**repo.state, "refs": {**repo.refs, ref: sha}}
            commit_event = discussion_event("commit", {"subject": header["summary"], "oid": sha})
            if pr_number is not None:  # opened by this commit (create_pr=1): the Hub lists it as an open PR
                discussion = new_discussion(pr_number, header["summary"], header.get("description") or "", True,
                                            status="open", base_commit=base, target=rev)
                discussion["events"].append(commit_event)
                state.update(pullRequests=pr_number, discussions={**repo.discussions, str(pr_number): discussion})
            elif (match := PR_REF_RE.fullmatch(ref)) and match.group(1) in repo.discussions:
                discussion = repo.discussions[match.group(1)]
                state["discussions"] = {**repo.discussions, match.group(1): {
                    **discussion, "events": [*discussion["events"], commit_event]}}
            self.store.save_repo(key, state)
            self.commit_rate.record(key)
            return sha, pr_number

    # --------------------------------------------------------------------------------------------------------
    # Cards and account: validate-yaml, whoami
    # --------------------------------------------------------------------------------------------------------

    async def validate_yaml(self, request: Request) -> Response:
        # The client reads this body as JSON before it looks at the status, so every answer is JSON.
        try:
            body = await read_json(request)
        except HubError as e:
            return JSONResponse({"errors": [{"message": e.message}], "warnings": []}, status_code=400)
        content = body.get("content")
        if not isinstance(content, str):
            errors = ["'content' must be the README text"]
        elif body.get("repoType", "model") == "dataset":
            errors = cardcheck.validate_readme(content)
        else:  # our vocabularies describe dataset cards; for other repos only the YAML must parse
            try:
                cardcheck.split_front_matter(content)
                errors = []
            except ValueError as e:
                errors = [str(e)]
        return JSONResponse({"errors": [{"message": m} for m in errors], "warnings": []},
                            status_code=400 if errors else 200)

    async def whoami(self, request: Request) -> Response:
        self.auth.require_owner(request)
        return JSONResponse({"type": "user", "id": OWNER, "name": OWNER, "fullname": "Local hub owner",
                             "orgs": [], "auth": {"type": "access_token",
                                                  "accessToken": {"displayName": "local hub", "role": "write"}}})

    # --------------------------------------------------------------------------------------------------------
    # Pages
    # --------------------------------------------------------------------------------------------------------

    async def index_page(self, request: Request) -> Response:
        owner = self.auth.is_owner(request)
        repos = [r for r in await run_in_threadpool(self.store.list_repos) if owner or not r.private]
        return HTMLResponse(render_index(repos, owner), headers=PAGE_HEADERS)

    async def dataset_page(self, request: Request, ns: str, name: str) -> Response:
        repo = self.visible_repo(request, "datasets", ns, name)
        owner = self.auth.is_owner(request)
        note = GATED_PREVIEW_NOTE if repo.gated and not owner else None
        page = await run_in_threadpool(pages.render_dataset_page, snapshot(self.store, repo),
                                       page_links(owner, request.url.path), lambda config: note, owner)
        return HTMLResponse(page, headers=PAGE_HEADERS)

    async def login_page(self, request: Request) -> Response:
        next_path = local_path(request.query_params.get("next"))
        return HTMLResponse(render_login(next_path, failed=False), headers=PAGE_HEADERS)

    async def login(self, request: Request) -> Response:
        form = dict(parse_qsl((await read_body(request)).decode("utf-8", "replace")))
        next_path = local_path(form.get("next"))
        if not self.auth.is_token(form.get("token", "")):
            return HTMLResponse(render_login(next_path, failed=True), status_code=401, headers=PAGE_HEADERS)
        response = Response(status_code=303, headers={"Location": next_path})
        response.set_cookie(SESSION_COOKIE, self.auth.session_value(), httponly=True, samesite="strict",
                            path="/")
        return response

    async def logout(self, request: Request) -> Response:
        response = Response(status_code=303, headers={"Location": "/"})
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response


# --------------------------------------------------------------------------------------------------------------
# Helpers of the routes: upload mode, trees, ranges, card metadata
# --------------------------------------------------------------------------------------------------------------


def upload_mode(path: str, size: int, sample: bytes) -> str:
    if size == 0:
        return "regular"  # LFS cannot store empty objects
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if extension in LFS_EXTENSIONS or size > LFS_THRESHOLD or b"\0" in sample:
        return "lfs"
    return "regular"


def check_folder_entries(files: dict, changed, limit: int) -> None:
    """Refuse a file map in which a folder holding a changed path has more than ``limit`` direct entries."""
    touched = {"/".join(path.split("/")[:i]) for path in changed for i in range(path.count("/") + 1)}
    if not touched:
        return
    children: dict[str, set] = defaultdict(set)
    for path in files:
        parts = path.split("/")
        for i in range(len(parts)):
            parent = "/".join(parts[:i])
            if parent in touched:
                children[parent].add(parts[i])
    for folder, names in children.items():
        if len(names) > limit:
            raise HubError(400, f"folder '{folder or '/'}' would hold {len(names):,} entries; the Hub allows at most "
                                f"{limit:,} files and folders in one folder: spread them over sub-folders")


def three_way_merge(base: dict, ours: dict, theirs: dict, num: str) -> dict:
    """File maps merged as git would for whole files: a path changed on one side only takes that side."""
    merged, conflicts = {}, []
    for path in sorted(base.keys() | ours.keys() | theirs.keys()):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        result = o if o == t or t == b else t if o == b else conflicts.append(path)
        if result is not None:
            merged[path] = result
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise HubError(409, f"pull request #{num} conflicts with the branch it targets (changed on both sides: "
                            f"{shown})")
    return merged


def new_discussion(num: int, title: str, description: str, pull_request: bool, status: str,
                   base_commit: str | None, target: str = "main") -> dict:
    discussion = {"num": num, "title": title, "status": status, "isPullRequest": pull_request,
                  "createdAt": _now(), "events": [discussion_event("comment", {
                      "edited": False, "hidden": False, "latest": {"raw": description, "html": html.escape(description)}})]}
    if pull_request:
        discussion.update(target=target, baseCommit=base_commit)
    return discussion


def discussion_event(kind: str, data: dict) -> dict:
    return {"id": secrets.token_hex(12), "type": kind, "createdAt": _now(), "author": {"name": OWNER}, "data": data}


def discussion_summary(repo: Repo, discussion: dict) -> dict:
    """What the Hub lists for a discussion (``huggingface_hub.Discussion``'s fields)."""
    return {"num": discussion["num"], "title": discussion["title"], "status": discussion["status"],
            "isPullRequest": discussion["isPullRequest"], "createdAt": discussion["createdAt"],
            "author": {"name": OWNER}, "repo": {"name": repo.key.id, "type": repo.key.kind},
            "pinned": False, "numComments": sum(e["type"] == "comment" for e in discussion["events"])}


def check_no_file_folder_clash(files: dict) -> None:
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in files:
                raise HubError(400, f"{path!r} cannot be created: {'/'.join(parts[:i])!r} is a file")


def tree_listing(files: dict, path: str, recursive: bool) -> list[tuple[str, dict | None]]:
    """Sorted (path, entry) under ``path``; folders (entry None) are implied by the files below them."""
    prefix = f"{path}/" if path else ""
    found: dict[str, dict | None] = {}
    for file_path, entry in files.items():
        if not file_path.startswith(prefix):
            continue
        parts = file_path[len(prefix):].split("/")
        if recursive:
            for i in range(1, len(parts)):
                found.setdefault(prefix + "/".join(parts[:i]), None)
            found[file_path] = entry
        elif len(parts) == 1:
            found[file_path] = entry
        else:
            found.setdefault(prefix + parts[0], None)
    return sorted(found.items())


def tree_entries(repo: Repo, sha: str, items: list[tuple[str, dict | None]], expand: bool) -> list[dict]:
    """The tree/paths-info JSON of some files and folders; ``expand`` adds the last commit of each."""
    files = repo.files(sha)
    folders = {path for path, entry in items if entry is None}
    # A folder's id only has to change when something below it changes: hash its files' paths and ids.
    folder_hashes = {folder: hashlib.sha1() for folder in folders}
    for file_path in sorted(files):
        parts = file_path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in folder_hashes:
                folder_hashes[folder].update(f"{file_path}\0{files[file_path]['oid']}\n".encode())
    last = last_commits(repo, sha, [path for path, _ in items]) if expand else {}
    out = []
    for path, entry in items:
        if entry is None:
            item = {"type": "directory", "oid": folder_hashes[path].hexdigest(), "size": 0, "path": path}
        else:
            item = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
            if entry["lfs"]:
                item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": entry["pointerSize"]}
        if path in last:
            item["lastCommit"] = last[path]
        out.append(item)
    return out


def last_commits(repo: Repo, sha: str, paths: list[str]) -> dict[str, dict]:
    """For each path, the newest commit (from ``sha`` back) that changed it or, for a folder, anything below it."""
    pending, found = set(paths), {}
    for commit_sha, commit in repo.history(sha):
        if not pending:
            break
        parent_files = repo.files(commit["parents"][0]) if commit["parents"] else {}
        files = commit["files"]
        touched = set()  # changed files and every folder above them
        for path in files.keys() | parent_files.keys():
            if files.get(path) != parent_files.get(path):
                parts = path.split("/")
                touched.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        info = {"id": commit_sha, "title": commit["title"], "date": commit["date"]}
        for path in pending & touched:
            found[path] = info
        pending -= touched
    return found


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range -> half-open (start, end); None means serve the whole file (RFC 9110 allows
    ignoring ranges we do not support, such as several at once)."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes; "bytes=-0" (like any range of an empty file) cannot be satisfied
        suffix = int(last)
        start, end = (size - min(suffix, size) if suffix else size), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            return None
    if start >= size:
        raise HubError(416, f"range {header.strip()} is past the end of the {size}-byte file",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, end


def read_chunks(path: Path, start: int, end: int):
    # A plain generator: Starlette iterates it in a worker thread, so file reads never block the event loop.
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            data = f.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data


@lru_cache(maxsize=256)
def _parse_card(readme_path: str) -> tuple[dict | None, str, str | None]:
    text = Path(readme_path).read_bytes().decode("utf-8", "replace")
    try:
        meta, body = cardcheck.split_front_matter(text)
    except ValueError as e:
        return None, text, str(e)
    return meta, body, None


def read_card(store: Store, files: dict) -> tuple[dict | None, str, str | None]:
    """(YAML metadata, Markdown body, YAML error) of the README in a file map; cached by content."""
    entry = files.get(README_FILE)
    if entry is None:
        return None, "", None
    return _parse_card(str(store.blob_path(entry["sha256"])))


def croissant_document(store: Store, files: dict) -> dict | None:
    """The repository's croissant.json, else one generated from its build_report.json, else None."""
    entry = files.get(CROISSANT_FILE)
    if entry is not None:
        return _read_json(str(store.blob_path(entry["sha256"])))
    entry = files.get(REPORT_FILE)
    if entry is None:
        return None
    return _generated_croissant(str(store.blob_path(entry["sha256"])))


@lru_cache(maxsize=64)
def _read_json(path: str) -> dict | None:
    try:
        value = json.loads(Path(path).read_bytes())
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@lru_cache(maxsize=64)
def _generated_croissant(report_path: str) -> dict | None:
    from .. import cards, croissant

    report = _read_json(report_path)
    if report is None or report.get("failed_configs"):
        return None
    try:
        return croissant.generate(report)
    except (cards.CardError, croissant.CroissantError, KeyError, TypeError, ValueError):
        return None  # a report of another dataset or another version: no metadata, as the Hub has none


def card_metadata(store: Store, files: dict) -> dict | None:
    meta, _, _ = read_card(store, files)
    # Dates and other YAML scalars must survive JSON; a round trip through str keeps them readable.
    return json.loads(json.dumps(meta, default=str)) if meta is not None else None


def card_tags(meta: dict) -> list[str]:
    """The Hub's tags derived from card metadata (``license:mit``, ``language:en``...), then the free tags."""
    tags = [f"{field}:{value}" for field in ("license", "task_categories", "task_ids", "language", "size_categories",
                                             "multilinguality", "source_datasets")
            for value in as_list(meta.get(field))]
    return tags + [str(tag) for tag in as_list(meta.get("tags"))]


# --------------------------------------------------------------------------------------------------------------
# HTML pages (rendered by builders.hub.pages, which the static catalog shares)
# --------------------------------------------------------------------------------------------------------------

PAGE_HEADERS = {"Content-Security-Policy": pages.CONTENT_SECURITY_POLICY}
SITE_NAME = "local hub"
GATED_PREVIEW_NOTE = ("This dataset is gated: the preview needs the token (sign in), as on the Hub it needs "
                      "granted access.")


def snapshot(store: Store, repo: Repo) -> pages.Snapshot:
    sha = repo.refs["main"]
    files = repo.files(sha)
    meta, body, yaml_error = read_card(store, files)
    return pages.Snapshot(
        repo_id=repo.key.id, revision=f"main @ {sha[:10]}", meta=meta or {}, body=body, yaml_error=yaml_error,
        files={path: pages.StoredFile(store.blob_path(entry["sha256"]), entry["size"], entry["lfs"])
               for path, entry in files.items()},
        gated=repo.gated, private=repo.private,
        file_url=lambda path: f"/{quote(repo.key.web_path)}/resolve/main/{quote(path)}",
        croissant_url=(f"/api/datasets/{quote(repo.key.id)}/croissant"
                       if CROISSANT_FILE in files or REPORT_FILE in files else None))


def page_links(signed_in: bool, here: str) -> pages.PageLinks:
    if signed_in:
        session = ('<form method="post" action="/logout"><span class="note">signed in as '
                   f'{OWNER}</span> <button type="submit">Sign out</button></form>')
    else:
        session = f'<a href="/login?{urlencode({"next": here})}">Sign in</a>'
    return pages.PageLinks(home="/", home_label=SITE_NAME, session=session)


def render_index(repos: list[Repo], signed_in: bool) -> str:
    items = []
    for repo in repos:
        label = html.escape(repo.key.id)
        link = f'<a href="/{quote(repo.key.web_path)}">{label}</a>' if repo.key.kind == "dataset" else label
        flags = [repo.key.kind] + (["private"] if repo.private else [])
        if repo.gated:
            flags.append(f"gated: {repo.gated}")
        items.append(f"<li>{link} <span class=\"note\">({html.escape(', '.join(flags))})</span></li>")
    listing = "<ul>\n" + "\n".join(items) + "\n</ul>" if items else '<p class="note">No repositories yet.</p>'
    header = f"<header>{pages.nav_bar(page_links(signed_in, '/'))}<h1>{SITE_NAME}</h1></header>"
    return pages.html_page(SITE_NAME, f"{header}\n<h2>Repositories</h2>\n{listing}")


def render_login(next_path: str, failed: bool) -> str:
    problem = '<p class="notice">That is not this hub\'s token.</p>' if failed else ""
    form = ('<form method="post" action="/login">'
            f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
            # for password managers: the token belongs to the hub's only account
            f'<input type="text" name="username" value="{OWNER}" autocomplete="username" hidden>'
            '<p><label>Token <input type="password" name="token" autocomplete="current-password" size="40">'
            '</label> <button type="submit">Sign in</button></p></form>'
            '<p class="note">The token the server was started with (--token, HF_TOKEN, or the one it printed). '
            "Signing in lets this browser read private and gated repositories; writing still needs the token "
            "in each request.</p>")
    header = f"<header>{pages.nav_bar(pages.PageLinks('/', SITE_NAME))}<h1>Sign in</h1></header>"
    return pages.html_page(f"Sign in · {SITE_NAME}", header + problem + form)


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# --------------------------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------------------------


def serve(host: str, port: int, root: str | Path, token: str, *, quiet: bool = False,
          announce_token: bool = False, limits: Limits | None = None) -> None:
    """Listen, print ``local hub: http://HOST:PORT`` (and the token only if it was generated), serve until stopped."""
    app = LocalHub(root, token, limits)
    # Bind here rather than in uvicorn so --port 0 can report the port it got before serving starts;
    # connections arriving before the loop runs wait in the listen backlog.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    url_host = f"[{host}]" if ":" in host else host
    print(f"local hub: http://{url_host}:{sock.getsockname()[1]}", flush=True)
    if announce_token:
        print(f"token: {token}", flush=True)
    config = uvicorn.Config(app, log_level="warning" if quiet else "info", access_log=not quiet, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
