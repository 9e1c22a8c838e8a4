"""Small helpers shared by the test modules."""
from __future__ import annotations

import dataclasses
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq

PROJECT = Path(__file__).resolve().parent.parent
SPLITS = ("train", "validation", "test")  # the order a build lists its splits in


def quiet_build(dataset: str, raw, out, **options) -> dict:
    """pipeline.build without progress bars or messages (unless `log` is given); returns the build report."""
    from builders.pipeline import build

    return build(dataset, raw, out, **{"progress": False, "log": lambda *a: None, **options})


def parquet_rows(out: Path, config: str, split: str) -> list[dict]:
    """All rows of one split of a built folder, in file order, read with pyarrow."""
    files = sorted((Path(out) / config).glob(f"{split}-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def built_files(out: Path) -> dict[str, bytes]:
    """Every file of a built folder but the report (whose timings differ from build to build), by path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(Path(out).rglob("*"))
            if p.is_file() and p.name != "build_report.json"}


def without_timings(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "timings"}


def assert_same_build(out: Path, reference: Path) -> None:
    """Two built folders hold the same bytes, and the same report but for its timings."""
    assert built_files(out) == built_files(reference)
    reports = [json.loads((Path(folder) / "build_report.json").read_text()) for folder in (out, reference)]
    assert without_timings(reports[0]) == without_timings(reports[1])


def assert_same_rows(got: list[dict], expected: list[dict], what=None) -> None:
    """Equal rows, a NaN equal to itself (compared as repr when == fails: NaN != NaN)."""
    assert got == expected or repr(got) == repr(expected), what


def folder_features(out: Path, config: str):
    """The `datasets` features a config's Parquet files declare."""
    import datasets

    return datasets.Features.from_arrow_schema(pq.read_schema(next((Path(out) / config).glob("*.parquet"))))


def loaded_rows(out: Path, config: str, split: str) -> list[dict]:
    """A split of a built folder as `load_dataset` returns it with media undecoded (`as_loaded`): the Parquet
    rows with each JSON value decoded."""
    features = folder_features(out, config)
    return [{name: _decoded_json(row[name], feature) for name, feature in features.items()}
            for row in parquet_rows(out, config, split)]


def _decoded_json(value, feature):
    import datasets

    if value is None:
        return None
    if isinstance(feature, datasets.Json):
        return json.loads(value)
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        return [_decoded_json(item, feature.feature) for item in value]
    if isinstance(feature, dict):
        return {name: _decoded_json(value[name], inner) for name, inner in feature.items()}
    return value


def as_loaded(dataset) -> list[dict]:
    """The rows of a `datasets` Dataset or IterableDataset, images, audio and video left as their stored bytes."""
    return list(dataset.cast(undecoded(dataset.features)))


def refused_build(dataset: str, raw: Path, out: Path, *options: str, expected: str) -> str:
    """Run build.py on bad raw data: exit 2, `expected` and a hint in the message, no traceback, and nothing
    in `out` that looks complete. Returns stderr for further checks."""
    result = run_script("build.py", dataset, "--data-dir", raw, "--output", out, "--quiet", *options)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr, result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (Path(out) / "README.md").exists()
    return result.stderr


def undecoded(feature):
    """The same features with every image, audio and video (nested ones too) read as {bytes, path}:
    decoding audio and video needs torchcodec, and bytes compare exactly."""
    import datasets

    if isinstance(feature, (datasets.Image, datasets.Audio, datasets.Video)):
        return dataclasses.replace(feature, decode=False)
    if isinstance(feature, datasets.List):
        return dataclasses.replace(feature, feature=undecoded(feature.feature))
    if isinstance(feature, dict):
        return type(feature)({name: undecoded(inner) for name, inner in feature.items()})
    return feature


def raw_request(endpoint: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """One HTTP request with the path sent exactly as given (the clients normalise or refuse odd paths)."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def run_script(script: str, *args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one of scripts/*.py as a user would, capturing its output."""
    return subprocess.run([sys.executable, str(PROJECT / "scripts" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=PROJECT,
                          env={**os.environ, **(env or {})})


# ---- surgery on raw trees: small named breakages for the bad-input and hostile-archive tests ----------------
# Each returns a function that damages a raw tree (its argument) and returns where the damage is, as the
# error location must show it: the file relative to the tree, or `<archive>:<member>`.

def cut(relative: str, keep: float = 0.5):
    """Truncate a file to a fraction of its length (a download cut short)."""
    def damage(raw: Path) -> str:
        path = raw / relative
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)])
        return relative
    return damage


def write(relative: str, data: bytes):
    """Replace a file's bytes (or create the file)."""
    def damage(raw: Path) -> str:
        (raw / relative).parent.mkdir(parents=True, exist_ok=True)
        (raw / relative).write_bytes(data)
        return relative
    return damage


def remove(relative: str):
    def damage(raw: Path) -> str:
        (raw / relative).unlink()
        return relative
    return damage


def edit(relative: str, change):
    """Rewrite a file through `change(bytes) -> bytes`."""
    def damage(raw: Path) -> str:
        path = raw / relative
        path.write_bytes(change(path.read_bytes()))
        return relative
    return damage


def replaced(old: bytes, new: bytes):
    """A change replacing the first `old` (which must be there) by `new`."""
    def change(data: bytes) -> bytes:
        assert old in data, f"{old!r} is not in the file"
        return data.replace(old, new, 1)
    return change


def edit_json(relative: str, change):
    """Rewrite a JSON file through `change(document)`, which edits it in place."""
    def damage(raw: Path) -> str:
        import json

        path = raw / relative
        document = json.loads(path.read_bytes())
        change(document)
        path.write_text(json.dumps(document, indent=2))
        return relative
    return damage


def edit_zip(relative: str, change):
    """Rewrite a zip archive through `change(members)`, a list of (ZipInfo, bytes) it edits in place."""
    def damage(raw: Path) -> str:
        import zipfile

        path = raw / relative
        with zipfile.ZipFile(path) as archive:
            members = [(info, archive.read(info)) for info in archive.infolist()]
        change(members)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for info, data in members:
                archive.writestr(info, data)
        return relative
    return damage


def edit_zip_member(relative: str, member: str, change):
    """Rewrite one member of a zip archive through `change(bytes) -> bytes`."""
    def change_member(members):
        position = next((i for i, (info, _) in enumerate(members) if info.filename == member), None)
        assert position is not None, f"no {member} in {relative}"
        members[position] = (members[position][0], change(members[position][1]))

    def damage(raw: Path) -> str:
        edit_zip(relative, change_member)(raw)
        return f"{relative}:{member}"
    return damage


def edit_tar(relative: str, change):
    """Rewrite a tar archive (compressed as it was) through `change(members)`, a list of (TarInfo, bytes) it
    edits in place; members that are not regular files (links, devices) carry no bytes."""
    def damage(raw: Path) -> str:
        import io
        import tarfile

        path = raw / relative
        with tarfile.open(path) as archive:
            members = [(m, archive.extractfile(m).read() if m.isfile() else b"") for m in archive]
        change(members)
        with tarfile.open(path, "w:gz" if path.name.endswith(("gz", "tgz")) else "w") as archive:
            for info, data in members:
                info.size = len(data) if info.isfile() else 0
                archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
        return relative
    return damage


def tar_member(name: str, data: bytes):
    """A regular tar member, for edit_tar changes that add one."""
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def edit_parquet(relative: str, change):
    """Rewrite a Parquet file through `change(rows)`, a list of row dicts it edits in place (schema kept,
    unless `change` returns a new pyarrow schema)."""
    def damage(raw: Path) -> str:
        import pyarrow as pa

        path = raw / relative
        table = pq.read_table(path)
        rows = table.to_pylist()
        schema = change(rows) or table.schema
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        return relative
    return damage
