"""Which raw paths a build does not read, and why: nothing in `--data-dir` is ignored silently.

Each config's builder names what it reads (`MultimodalBuilder.read_paths`: files, and folders it reads
entirely). After planning, the pipeline walks the data directory and lists everything else, a wholly
unread folder as one entry with its file count and size, each with a reason: the builder's own
(`NOT_READ`, for files it recognises and deliberately leaves, such as an upstream README), "read by
config X, not built by this run", or "not recognised". The list goes to build_report.json, the
build's output and the card.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from .outputs import human_bytes

COMMON_NOT_READ: tuple[tuple[str, str], ...] = (
    (".cache/", "a cache folder (`hf download --local-dir` keeps its bookkeeping in .cache/huggingface/), not data"),
    (".gitattributes", "Git LFS settings of the upstream repository, not data"),
    (".git/", "version-control data of an upstream clone, not data"),
    (".DS_Store", "macOS folder metadata, not data"),
)
"""Paths that are never data, whatever the dataset (a dataset's builder adds its own in `NOT_READ`)."""

UNRECOGNISED = ("not recognised by this builder: no config reads it (if it is part of the release, please "
                "report it)")


@dataclass(frozen=True)
class Unread:
    """One raw path the build did not read: a file, or a folder (trailing '/') none of whose files it read."""

    path: str
    files: int
    bytes: int
    reason: str


def matches(pattern: str, relative: str) -> bool:
    """gitignore-like: a pattern without an inner '/' matches a name at any depth (`README.md`,
    `c3_muse_stress/`); one with an inner '/' matches the whole path from the data directory, `*` crossing
    folders (`MINT-1T-HTML/*.png`). A trailing '/' matches folders only (`relative` of a folder ends in '/')."""
    if pattern.endswith("/") != relative.endswith("/"):
        return False
    if "/" in pattern.rstrip("/"):
        return fnmatch.fnmatchcase(relative, pattern)
    return fnmatch.fnmatchcase(relative.rstrip("/").rsplit("/", 1)[-1] + ("/" if pattern.endswith("/") else ""),
                               pattern)


def reason_for(relative: str, not_read: Iterable[tuple[str, str]]) -> str | None:
    for pattern, reason in not_read:
        if matches(pattern, relative):
            return reason
    return None


def unread_paths(data_dir: Path, read: Iterable[Path], not_read: Iterable[tuple[str, str]] = (),
                 elsewhere: Mapping[str, Iterable[Path]] | None = None) -> list[Unread]:
    """Every path under `data_dir` outside `read`, a folder with nothing read inside as one entry.

    `read` holds files and folders (a folder counts as read in full); `elsewhere` maps a reason (such as
    "read by config X, which this build did not make") to the paths it explains.
    Symbolic links are followed (a raw folder is often assembled from links), each real folder once.
    """
    root = _normal(data_dir)
    resolved = _Resolver()
    read_set = {form for p in read if p is not None for form in _forms(p, resolved)}
    inside_read = _all_parents(read_set, root)
    not_read = (*not_read, *COMMON_NOT_READ)
    others = [(reason, {_normal(p) for p in paths}) for reason, paths in (elsewhere or {}).items()]
    inside_known = inside_read | _all_parents({path for _, paths in others for path in paths}, root)
    found: list[Unread] = []
    seen_dirs: dict[str, str] = {}  # real folder -> where it was walked

    def explain(path: str, relative: str) -> str:
        # a path named exactly says most, then the builder's patterns, then a folder named in full
        for because, paths in others:
            if path in paths:
                return because
        reason = reason_for(relative, not_read)
        if reason:
            return reason
        for because, paths in others:
            # a folder another config would read in full explains what is in it, unless the configs built
            # picked files from that folder: then it would have been picked from too
            if any(parent in paths and parent not in inside_read for parent in _parents(path, root)):
                return because
        return UNRECOGNISED

    def unread_entries(folder: str, real_folder: str) -> Iterator[tuple[os.DirEntry, str, str]]:
        # a folder's entries not read, sorted by name; the read ones (tens of thousands of images) are not
        # kept while the walk goes on: the scan runs beside the shard jobs, at their peak memory
        seen_dirs[real_folder] = folder
        kept = []
        for entry in _entries_iter(folder):
            path = os.path.join(folder, entry.name)
            # a builder may name a path through the links in the data directory or resolved
            real = os.path.realpath(path) if entry.is_symlink() else os.path.join(real_folder, entry.name)
            if path not in read_set and real not in read_set:
                kept.append((entry, path, real))
        kept.sort(key=lambda item: item[0].name)
        return iter(kept)

    # depth first, a folder's entries in name order, without recursion (a nested function calling itself is a
    # reference cycle that would keep the read set alive until the collector's next full pass)
    walking = [unread_entries(root, os.path.realpath(root))]
    while walking:
        entry, path, real = next(walking[-1], (None, "", ""))
        if entry is None:
            walking.pop()
            continue
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        if _is_dir(entry):
            if real in seen_dirs:
                first = os.path.relpath(seen_dirs[real], root).replace(os.sep, "/")
                first = "the data directory" if first == "." else first + "/"
                found.append(Unread(relative + "/", 0, 0, f"a link to a folder walked already ({first})"))
            elif path in inside_known or real in inside_known:
                walking.append(unread_entries(path, real))
            else:
                files, size = _folder_size(path)
                found.append(Unread(relative + "/", files, size, explain(path, relative + "/")))
        else:
            found.append(Unread(relative, 1, _size(entry), explain(path, relative)))
    return found


def as_dicts(unread: list[Unread]) -> list[dict]:
    return [asdict(u) for u in unread]


def summary(unread: list[dict], limit: int = 20) -> list[str]:
    """Lines for the build's output: a count, then the first `limit` entries with their reasons."""
    if not unread:
        return []
    files = sum(u["files"] for u in unread)
    lines = [f"{len(unread)} raw paths ({_files(files)}, {human_bytes(sum(u['bytes'] for u in unread))}) were not "
             "read (listed in build_report.json under \"unread\"):"]
    lines += [f"  {u['path']}" + (f" ({_files(u['files'])})" if u["path"].endswith("/") else "") + f": {u['reason']}"
              for u in unread[:limit]]
    if len(unread) > limit:
        lines.append(f"  ... and {len(unread) - limit} more")
    return lines


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def sorted_files_below(root) -> Iterator[tuple[str, str]]:
    """(POSIX path relative to root, path) of each file below root, as `root.rglob("*")` and `is_file()` find
    them (links to files included, linked folders not entered), in the order `sorted()` puts their Paths: by
    parts ('a/b' before 'a-b'). Sorting by parts is walking depth first with each folder's names in order, so
    only the names of the folders being walked are held, not the tree's (a raw folder of 31,783 images is
    listed beside the shard jobs, at their peak memory), and no Path is made per file."""
    walking = [(os.fspath(root), "", iter(_sorted_names(os.fspath(root))))]
    while walking:
        folder, relative, names = walking[-1]
        name, is_folder = next(names, (None, False))
        if name is None:
            walking.pop()
        elif is_folder:
            inside = os.path.join(folder, name)
            walking.append((inside, f"{relative}{name}/", iter(_sorted_names(inside))))
        else:
            yield f"{relative}{name}", os.path.join(folder, name)


def _sorted_names(folder: str) -> list[tuple[str, bool]]:
    """(name, is a folder to enter) of the files and the folders (not links to folders) in `folder`, by name."""
    try:
        with os.scandir(folder) as scan:
            names = [(entry.name, enter) for entry in scan
                     if (enter := entry.is_dir() and not entry.is_symlink()) or entry.is_file()]
    except PermissionError:  # as rglob
        return []
    names.sort()
    return names


def _normal(path) -> str:
    return os.path.abspath(os.fspath(path))  # normalized too


def _forms(path, resolved: "_Resolver") -> tuple[str, ...]:
    """A read path as named and resolved. A string given in that form already is kept rather than an equal copy:
    the read set then shares the plan's strings (a build's tens of thousands of images, ~130 bytes a path, held
    while the scan runs beside the shard jobs)."""
    normal, real = _normal(path), resolved(path)
    if normal == path:
        normal = path
    return (normal,) if real == normal else (normal, real)


class _Resolver(dict):
    """`os.path.realpath` of many files in few folders: each folder resolved once, and its links found with one
    listing (a build names tens of thousands of images; resolving each one component by component was 5% of a
    build; an `lstat` of each took 0.15 s of 31,783 images, the listing 0.07 s)."""

    def __init__(self):
        super().__init__()
        self.links: dict[str, frozenset[str]] = {}  # folder -> names of the symbolic links in it

    def __call__(self, path) -> str:
        path = os.fspath(path)
        folder, name = os.path.split(path)
        if name in ("", os.curdir, os.pardir) or os.pardir in folder.split(os.sep) or name in self._links(folder):
            return os.path.realpath(path)  # '..' after a link is resolved from the link's target
        return os.path.join(self[folder], name)

    def __missing__(self, folder: str) -> str:
        self[folder] = real = os.path.realpath(folder)
        return real

    def _links(self, folder: str) -> frozenset[str]:
        if folder not in self.links:
            self.links[folder] = frozenset(entry.name for entry in _entries_iter(folder or os.curdir)
                                           if entry.is_symlink())
        return self.links[folder]


def _all_parents(paths: set[str], root: str) -> set[str]:
    """Every folder from `root` down that holds one of `paths` (named through links or resolved)."""
    found = set()
    for top in {root, os.path.realpath(root)}:
        below = set()
        for path in paths:
            for parent in _parents(path, top):
                if parent in below:  # and so are its own parents: thousands of images share one folder
                    break
                below.add(parent)
        found |= below
    return found


def _parents(path: str, root: str) -> Iterator[str]:
    """The folders from `path`'s parent up to `root` (none when `path` is outside `root`)."""
    if not path.startswith(root + os.sep):
        return
    parent = os.path.dirname(path)
    while len(parent) >= len(root):
        yield parent
        if parent == root:
            return
        parent = os.path.dirname(parent)


def _entries_iter(folder: str) -> Iterator[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            yield from entries
    except OSError:  # unreadable folder: the builders that need it say so; here it is simply not listed inside
        return


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _size(entry: os.DirEntry) -> int:
    try:
        return entry.stat(follow_symlinks=True).st_size
    except OSError:  # a dangling link
        return 0


def _folder_size(folder: str) -> tuple[int, int]:
    files = size = 0
    for directory, _, names in os.walk(folder, followlinks=False):
        for name in names:
            files += 1
            try:
                size += os.stat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return files, size
