"""Nothing in --data-dir is ignored silently: what a build does not read is listed, with a reason."""
from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import coverage
from builders.coverage import UNRECOGNISED, matches, unread_paths


def tree(root, *files):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * len(name))
    return root


@pytest.mark.parametrize("pattern, relative, expected", [
    ("README.md", "README.md", True),
    ("README.md", "MINT-1T-HTML/README.md", True),       # a bare name matches at any depth
    ("README.md", "README.md.bak", False),
    ("c3_muse_stress/", "data/c3_muse_stress/", True),  # a folder pattern matches folders only
    ("c3_muse_stress/", "data/c3_muse_stress", False),
    ("*.png", "MINT-1T-HTML/mint-logo.png", True),
    ("MINT-1T-HTML/*.png", "MINT-1T-HTML/mint-logo.png", True),  # an inner '/' anchors at the data directory
    ("MINT-1T-HTML/*.png", "other/MINT-1T-HTML/mint-logo.png", False),
    (".cache/", "MINT-1T-HTML/.cache/", True),
])
def test_patterns_match_like_gitignore(pattern, relative, expected):
    assert matches(pattern, relative) is expected


def test_unread_files_and_wholly_unread_folders_are_listed_with_sizes(tmp_path):
    raw = tree(tmp_path / "raw", "a/read.txt", "a/left.txt", "b/one.bin", "b/sub/two.bin", "top.txt", "c/read_dir/x")
    found = unread_paths(raw, [raw / "a" / "read.txt", raw / "c" / "read_dir"])
    assert [(u.path, u.files, u.bytes, u.reason) for u in found] == [
        ("a/left.txt", 1, len("a/left.txt"), UNRECOGNISED),
        ("b/", 2, len("b/one.bin") + len("b/sub/two.bin"), UNRECOGNISED),  # nothing read inside: one entry
        ("top.txt", 1, len("top.txt"), UNRECOGNISED),
    ]


def test_reasons_come_from_the_builder_the_common_list_and_other_configs(tmp_path):
    raw = tree(tmp_path / "raw", "data/x.parquet", "data/README.md", ".cache/huggingface/download/x.lock",
               "repo/.gitattributes", "Ulm/c3_muse_stress/partition.csv", "extra/token.txt", "images/1.jpg",
               "images/stray.png")
    found = {u.path: u.reason for u in unread_paths(
        raw, [raw / "data" / "x.parquet", raw / "images" / "1.jpg"],
        not_read=[("README.md", "upstream card"), ("c3_muse_stress/", "Ulm-TSST")],
        elsewhere={"read by config 'karpathy'": [raw / "extra" / "token.txt", raw / "images"]})}
    assert found == {
        ".cache/": coverage.COMMON_NOT_READ[0][1],
        "Ulm/": UNRECOGNISED,  # the folder holds nothing read, and only its sub-folder has a reason
        "data/README.md": "upstream card",
        "extra/token.txt": "read by config 'karpathy'",
        "images/stray.png": UNRECOGNISED,  # the built config picked files from images/: karpathy would have too
        "repo/": UNRECOGNISED,
    }
    # with the sub-folder named as read around it, the pattern reason applies to the folder itself
    found = {u.path: u.reason for u in unread_paths(raw, [raw / "Ulm" / "c3_muse_stress" / "nothing"],
                                                       not_read=[("c3_muse_stress/", "Ulm-TSST")])}
    assert "Ulm/c3_muse_stress/partition.csv" in found and found["Ulm/c3_muse_stress/partition.csv"] == UNRECOGNISED


def test_links_are_followed_and_matched_resolved_or_not(tmp_path):
    elsewhere = tree(tmp_path / "download", "shard_0.parquet", "shard_1.parquet", "README.md")
    raw = tmp_path / "raw"
    raw.mkdir()
    os.symlink(elsewhere, raw / "MINT-1T-HTML")
    os.symlink(raw, raw / "MINT-1T-HTML" / "loop")  # a cycle is walked once
    read = [raw / "MINT-1T-HTML" / "shard_0.parquet", elsewhere.resolve() / "shard_1.parquet"]
    found = unread_paths(raw, read)
    assert [(u.path, u.reason) for u in found] == [("MINT-1T-HTML/README.md", UNRECOGNISED),
                                                   ("MINT-1T-HTML/loop/", "a link to a folder walked already (the data directory)")]


def test_summary_counts_and_truncates():
    unread = [{"path": f"f{i}.txt", "files": 1, "bytes": 1500, "reason": "why"} for i in range(25)]
    lines = coverage.summary(unread, limit=3)
    assert lines[0] == '25 raw paths (25 files, 37.5 kB) were not read (listed in build_report.json under "unread"):'
    assert lines[1:] == ["  f0.txt: why", "  f1.txt: why", "  f2.txt: why", "  ... and 22 more"]
    assert coverage.summary([]) == []


def test_a_path_named_exactly_outranks_a_pattern_which_outranks_a_folder(tmp_path):
    raw = tree(tmp_path / "raw", "data/metadata.json", "data/metadata.parquet", "images/orphan.png", "images/a.png")
    found = {u.path: u.reason for u in unread_paths(
        raw, [raw / "data" / "metadata.csv"],
        not_read=[("metadata.*", "another format of the table"), ("*.png", "a picture")],
        elsewhere={"an image no article names": [raw / "images" / "orphan.png"],
                   "read by config 'parquet'": [raw / "data" / "metadata.parquet"],
                   "read by config 'gallery'": [raw / "images"]})}
    assert found == {"data/metadata.json": "another format of the table",
                     "data/metadata.parquet": "read by config 'parquet'",
                     "images/a.png": "a picture",
                     "images/orphan.png": "an image no article names"}


def test_paths_are_resolved_as_realpath_resolves_them(tmp_path, monkeypatch):
    """The unread scan resolves each folder once: through links, '..' after a link, relative names, a link to
    a file, a dangling link and names that do not exist all come out as os.path.realpath has them."""
    tree(tmp_path / "real", "a/b/c.jpg", "a/d.jpg", "e.jpg")
    os.symlink(tmp_path / "real" / "a", tmp_path / "real" / "linked")
    os.symlink(tmp_path / "real" / "a" / "d.jpg", tmp_path / "real" / "a" / "b" / "file-link.jpg")
    os.symlink(tmp_path / "real" / "nowhere.jpg", tmp_path / "real" / "dangling.jpg")
    monkeypatch.chdir(tmp_path)
    names = ["real/linked/b/c.jpg", "real/linked/../e.jpg", "real/linked/b/../d.jpg", "real/a/b/file-link.jpg",
             "real/dangling.jpg", "real/linked/missing.jpg", "e.jpg", "real/a/", "real/a/.", "real/linked/..",
             tmp_path / "real" / "linked" / "d.jpg", "real//linked///b/c.jpg"]
    resolve = coverage._Resolver()
    for name in names:
        assert resolve(name) == os.path.realpath(name), name
    assert resolve("real/linked/b/c.jpg") == str(tmp_path / "real" / "a" / "b" / "c.jpg")


def test_the_read_set_shares_the_plans_strings_and_finds_every_folder_above_them(tmp_path, monkeypatch):
    """A read path given as an absolute, normal string is kept as that object (not an equal copy per image, held
    while the scan runs beside the jobs); any other form is normalized, and a path through a link is kept resolved
    too. The folders above the read paths are every parent up to the data directory, as named and as resolved."""
    tree(tmp_path / "real", "a/b/c.jpg", "a/d.jpg", "e.jpg")
    os.symlink(tmp_path / "real", tmp_path / "root")
    resolve, root = coverage._Resolver(), str(tmp_path / "root")
    plain = os.path.join(str(tmp_path / "real"), "a", "d.jpg")
    [kept] = coverage._forms(plain, resolve)
    assert kept is plain
    monkeypatch.chdir(tmp_path)
    assert coverage._forms("real/a/../e.jpg", resolve) == (str(tmp_path / "real" / "e.jpg"),)
    assert coverage._forms(Path(root) / "a" / "b" / "c.jpg", resolve) == (f"{root}/a/b/c.jpg", f"{tmp_path}/real/a/b/c.jpg")
    paths = {f"{root}/a/b/c.jpg", f"{tmp_path}/real/a/b/c.jpg", f"{root}/a/d.jpg", f"{root}/e.jpg", "/elsewhere/f.jpg"}
    assert coverage._all_parents(paths, root) == {root, f"{root}/a", f"{root}/a/b", f"{tmp_path}/real",
                                                  f"{tmp_path}/real/a", f"{tmp_path}/real/a/b"}


NAMES = st.sampled_from(["a", "a-b", "a.b", "b", "B", "z", "é", "a b", "0"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3),
                                  st.sampled_from(["file", "folder", "link to file", "link to folder"])),
                        max_size=12))
def test_sorted_files_below_lists_what_rglob_finds_in_the_order_paths_sort(tmp_path_factory, entries):
    """The walk that lists an input folder for build_report.json and NMB+'s images (one folder's names at a
    time) against its definition: the files `rglob` finds (links to files too, linked folders not entered),
    sorted as Paths; 'a/b' comes before 'a-b'."""
    root = tmp_path_factory.mktemp("tree")
    for parts, kind in entries:
        path = root.joinpath(*parts)
        if any(p.exists() and not p.is_dir() for p in path.parents if p != root and root in p.parents):
            continue  # a file stands where a folder would have to be
        if path.exists() or path.is_symlink():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            path.write_bytes(b"x")
        elif kind == "folder":
            path.mkdir()
        else:
            target = root / "targets" / ("f" if kind == "link to file" else "d")
            target.parent.mkdir(exist_ok=True)
            if kind == "link to file":
                target.write_bytes(b"t")
                (target.parent / "unrelated").write_bytes(b"u")
            else:
                target.mkdir(exist_ok=True)
                (target / "inside").write_bytes(b"i")
            path.symlink_to(target)
    expected = sorted(p for p in root.rglob("*") if p.is_file())
    listed = list(coverage.sorted_files_below(root))
    assert [Path(path) for _, path in listed] == expected
    assert [relative for relative, _ in listed] == [p.relative_to(root).as_posix() for p in expected]


def test_the_unread_walk_leaves_nothing_for_the_collector(tmp_path):
    """The set of read paths (tens of thousands of images) is freed when the walk returns, not when the
    collector next runs a full pass: the walk makes no reference cycle (a nested function calling itself did)."""
    raw = tree(tmp_path / "raw", "images/1.jpg", "images/2.jpg", "images/deep/3.jpg", "notes.txt")
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        found = unread_paths(raw, [raw / "images" / "1.jpg"])
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
    assert [(u.path, u.files) for u in found] == [("images/2.jpg", 1), ("images/deep/", 1), ("notes.txt", 1)]
