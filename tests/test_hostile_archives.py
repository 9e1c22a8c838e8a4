"""Hostile archives and XML: every builder that reads a tar, a zip or XML, fed members that point outside
(`../`, absolute names), links to a secret file, device files, archive bombs, billion laughs and external
entities. Nothing may be written outside the output folder, the secret must not reach any output,
memory stays bounded (measured on a real build.py process), and each problem is a located error.
"""
from __future__ import annotations

import contextlib
import os
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest

from builders.archives import ZipDirectory
from builders.errors import RawDataError
from builders.samples import bigdocs, flickr30k_entities, internvid, mint1t, movieqa, nmb_plus
from helpers import PROJECT, edit_tar, edit_zip, edit_zip_member, quiet_build

BOMB_BYTES = 2**30              # what each bomb expands to: twice the largest member a builder reads
RSS_LIMIT = 768 * 2**20         # a build that expanded a bomb would need more than BOMB_BYTES
ZERO_CHUNK = 64 * 2**20


# ---- hostile members: names, links, devices --------------------------------------------------------------------

class Hostile:
    """Members an attacker would put in an archive, aimed at a secret file and at paths outside the tree."""

    def __init__(self, root: Path):
        self.token, self.secret_text = uuid.uuid4().hex, f"TOP-SECRET-{uuid.uuid4().hex}"
        self.secret = root / "secret.txt"
        self.secret.write_text(self.secret_text + "\n")
        self.escapes = [root / f"escaped-{self.token}.jpg", Path(f"/tmp/escaped-{self.token}.jpg")]

    def tar_members(self, replace: str) -> list[tuple[tarfile.TarInfo, bytes]]:
        """Regular members named to escape, a symlink standing for `replace`, a hard link and devices."""
        def info(name, kind=tarfile.REGTYPE, linkname=""):
            member = tarfile.TarInfo(name)
            member.type, member.linkname = kind, linkname
            return member
        data = b"\xff\xd8 escaped \xff\xd9"
        return [(info(f"../../../escaped-{self.token}.jpg"), data), (info(str(self.escapes[1])), data),
                (info(replace, tarfile.SYMTYPE, str(self.secret)), b""),
                (info(f"{replace}.hard", tarfile.LNKTYPE, str(self.secret)), b""),
                (info(f"dev/{self.token}-null", tarfile.CHRTYPE), b""), (info(f"dev/{self.token}-fifo", tarfile.FIFOTYPE), b"")]

    def in_tar(self, replace: str):
        """An edit_tar change: `replace` becomes a symlink to the secret; the other hostile members are added."""
        def change(members):
            members[:] = [(m, d) for m, d in members if m.name != replace] + self.tar_members(replace)
        return change

    def in_zip(self, replace: str):
        """An edit_zip change: `replace` becomes a symlink entry to the secret, escaping names are added."""
        def change(members):
            link = zipfile.ZipInfo(replace)
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            members[:] = [(i, d) for i, d in members if i.filename != replace] + [
                (link, str(self.secret).encode()), (zipfile.ZipInfo(f"../../../escaped-{self.token}.jpg"), b"x"),
                (zipfile.ZipInfo(str(self.escapes[1]).lstrip("/")), b"x")]
        return change

    def assert_contained(self, root: Path, before: set[Path], out: Path) -> None:
        """Nothing outside `out` was created, and no output file holds the secret."""
        created = {p for p in root.rglob("*")} - before
        assert all(out in p.parents or p == out for p in created), sorted(created)
        assert not any(p.exists() for p in self.escapes)
        for path in out.rglob("*"):
            if path.is_file():
                assert self.secret_text.encode() not in path.read_bytes(), f"the secret leaked into {path}"


def flickr_tree(raw: Path, images_as: str):
    flickr30k_entities.make(raw, images_as=images_as)


HOSTILE_CASES = {
    # name: (make the sample, dataset, config, damage(raw, hostile) -> None, what the build reports)
    "flickr30k-images.tar": (lambda raw: flickr_tree(raw, "tar"), "flickr30k_entities", "entities",
                             lambda raw, h: edit_tar("flickr30k-images.tar", h.in_tar("flickr30k-images/12345.jpg"))(raw),
                             "no 12345.jpg in the archive"),
    "flickr30k-images.tar.gz": (lambda raw: flickr_tree(raw, "tar.gz"), "flickr30k_entities", "captions",
                                lambda raw, h: edit_tar("flickr30k-images.tar.gz",
                                                        h.in_tar("flickr30k-images/98765.jpg"))(raw),
                                "no 98765.jpg in the archive"),
    "annotations.zip": (lambda raw: flickr_tree(raw, "dir"), "flickr30k_entities", "entities",
                        lambda raw, h: edit_zip("annotations.zip", h.in_zip("Annotations/12345.xml"))(raw),
                        "malformed XML"),
    "movieqa video tar": (lambda raw: movieqa.make(raw, videos_as="tar"), "movieqa", "qa_video",
                          lambda raw, h: edit_tar("story/video_clips/tt0000001.tar", h.in_tar(
                              "tt0000001/tt0000001.sf-000010.ef-000059.video.mp4"))(raw), None),
    "video2dataset tar": (internvid.make, "internvid", "clips_10m_flt",
                          lambda raw, h: edit_tar("video2dataset/00000.tar", h.in_tar("00000000_00000.mp4"))(raw),
                          "the status is success but the shard has no video"),
    "MINT-1T pdf tar": (mint1t.make, "mint1t", "pdf-CC-MAIN-2023-06",
                        lambda raw, h: edit_tar("MINT-1T-PDF-CC-2023-06/CC-MAIN-2023-06-shard-0/"
                                                "CC-MAIN-20230126210844-20230127000844-00000.tar",
                                                h.in_tar("816eb9678798af65239f336c8da5e576.tiff"))(raw),
                        "holds no 816eb9678798af65239f336c8da5e576.tiff"),
    "BigDocs source zip": (bigdocs.make, "bigdocs", "TextOCR",
                           lambda raw, h: edit_zip("sources/TextOCR/train_val_images.zip",
                                                   h.in_zip("train_images/03b2dbb7dff0e32d.jpg"))(raw),
                           "is not a readable image"),
    "Zenodo image zip": (lambda raw: nmb_plus.make(raw, zenodo_as="zip"), "nmb_plus", "current",
                         lambda raw, h: edit_zip("zenodo/images.zip",
                                                 h.in_zip("images/1098444910.jpg"))(raw), None),
}


@pytest.mark.parametrize("name", HOSTILE_CASES)
def test_hostile_members_are_never_followed_nor_written(name, tmp_path):
    make, dataset, config, damage, reported = HOSTILE_CASES[name]
    raw, out = tmp_path / "raw", tmp_path / "out"
    make(raw)
    hostile = Hostile(tmp_path)
    damage(raw, hostile)
    before = set(tmp_path.rglob("*"))
    report = quiet_build(dataset, raw, out, configs=[config], on_error="skip")
    hostile.assert_contained(tmp_path, before, out)
    reasons = [s["reason"] for s in report["skipped"]]
    if reported is None:  # the member is kept as what it is: a flagged, unusable media file
        assert not reasons
    else:
        assert any(reported in reason for reason in reasons), reasons
    with pytest.raises(RawDataError) if reported else contextlib.nullcontext():
        quiet_build(dataset, raw, tmp_path / "strict", configs=[config], on_error="raise")


# ---- XML: billion laughs, external entities ------------------------------------------------------------------

def billion_laughs() -> str:
    """Nine levels of entities, each ten of the one below: 10**9 'lol' once expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{("&lol%d;" % (n - 1)) * 10}">' for n in range(1, 10)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE annotation [\n' + "\n".join(entities) + "\n]>\n"
            "<annotation><size><width>&lol9;</width><height>1</height></size></annotation>\n")


def external_entity(target: Path) -> str:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE annotation [<!ENTITY leak SYSTEM "file://{target}">]>\n'
            "<annotation><filename>&leak;</filename><size><width>500</width><height>375</height></size>"
            "</annotation>\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # in UTF-16 the DTD's bytes are not b"<!DOCTYPE"
@pytest.mark.parametrize("attack", ["billion laughs", "external entity"])
def test_xml_entities_are_refused(attack, encoding, tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    flickr30k_entities.make(raw)
    hostile = Hostile(tmp_path)
    xml = billion_laughs() if attack == "billion laughs" else external_entity(hostile.secret)
    if encoding != "utf-8":
        xml = xml.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    edit_zip_member("annotations.zip", "Annotations/12345.xml", lambda data: xml.encode(encoding))(raw)
    with pytest.raises(RawDataError, match=r"annotations.zip:Annotations/12345.xml \(record 12345\): refused XML "
                                           r"construct \(EntitiesForbidden\)"):
        quiet_build("flickr30k_entities", raw, tmp_path / "strict", configs=["entities"], on_error="raise")
    before = set(tmp_path.rglob("*"))
    report = quiet_build("flickr30k_entities", raw, out, configs=["entities"], on_error="skip")
    assert [(s["record"], s["reason"]) for s in report["skipped"]] == [("12345", "refused XML construct (EntitiesForbidden)")]
    hostile.assert_contained(tmp_path, before, out)


# ---- bombs, measured on a real build.py process ----------------------------------------------------------------

def deflate_around_zeros(before: bytes, after: bytes = b"") -> tuple[bytes, int, int]:
    """(raw deflate data, crc32, size) of `before`, BOMB_BYTES zero bytes, `after`, computed in a second:
    fully flushed deflate blocks are independent, so the block of ZERO_CHUNK zeros is compressed once and
    repeated."""
    def flushed(data: bytes, final: bool = False) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)
    repeats = BOMB_BYTES // ZERO_CHUNK
    crc = zlib.crc32(before)
    for _ in range(repeats):
        crc = zlib.crc32(bytes(ZERO_CHUNK), crc)
    data = flushed(before) + flushed(bytes(ZERO_CHUNK)) * repeats + flushed(after, final=True)
    return data, zlib.crc32(after, crc), len(before) + BOMB_BYTES + len(after)


def tar_gz_bomb(path: Path, members: list[tuple[str, bytes]], bomb: str) -> None:
    """A .tar.gz (one gzip member, as tarfile's stream reader requires) of `members` then `bomb`, a member of
    BOMB_BYTES zero bytes, then the end-of-archive blocks."""
    info = tarfile.TarInfo(bomb)
    info.size = BOMB_BYTES
    data, crc, size = deflate_around_zeros(tar_bytes(members) + info.tobuf(tarfile.GNU_FORMAT), bytes(1024))
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(gzip_header + data + struct.pack("<II", crc, size % 2**32))


def zip_bomb(path: Path, members: list[tuple[str, bytes]], bomb: str) -> None:
    """A zip of `members` plus `bomb`, whose deflate data expands to BOMB_BYTES zero bytes (written by hand:
    zipfile cannot store precompressed data)."""
    deflated, crc, size = deflate_around_zeros(b"")
    entries = [(name, zlib.crc32(data), _deflate(data), len(data)) for name, data in members]
    entries.append((bomb, crc, deflated, size))
    body, directory = b"", b""
    for name, checksum, compressed, size in entries:
        fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, checksum, len(compressed), size, len(name.encode()), 0)
        directory += struct.pack("<IH", 0x02014B50, 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, len(body)) \
            + name.encode()
        body += struct.pack("<I", 0x04034B50) + fields + name.encode() + compressed
    path.write_bytes(body + directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                                    len(directory), len(body), 0))


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """Regular tar members, without the end-of-archive blocks."""
    result = b""
    for name, data in members:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        result += info.tobuf(tarfile.GNU_FORMAT) + data + bytes(-len(data) % 512)
    return result


def sparse_tar_bomb(path: Path, members: list[tuple[str, bytes]], bomb: str) -> None:
    """An uncompressed tar whose `bomb` is a GNU sparse member: 512 bytes stored, BOMB_BYTES of holes."""
    info = tarfile.TarInfo(bomb)
    info.size = 512
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:410] = b"%011o\0%011o\0" % (BOMB_BYTES - 512, 512)   # one stored block, at the very end
    header[483:495] = b"%011o\0" % BOMB_BYTES                      # the member's "real" size
    header[148:156] = b"%06o\0 " % (sum(header[:148]) + 8 * 32 + sum(header[156:]))
    path.write_bytes(tar_bytes(members) + bytes(header) + bytes(512) + bytes(1024))


def zip_members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive if m.isfile()]


def bomb_flickr_images(raw: Path) -> str:
    flickr30k_entities.make(raw, images_as="tar.gz")
    archive = raw / "flickr30k-images.tar.gz"
    kept = [(n, d) for n, d in tar_members(archive) if not n.endswith("12345.jpg")]
    tar_gz_bomb(archive, kept, "flickr30k-images/12345.jpg")
    return "flickr30k-images.tar.gz:flickr30k-images/12345.jpg"


def bomb_flickr_annotations(raw: Path) -> str:
    flickr30k_entities.make(raw)
    archive = raw / "annotations.zip"
    zip_bomb(archive, [(n, d) for n, d in zip_members(archive) if n != "Sentences/12345.txt"], "Sentences/12345.txt")
    return "annotations.zip:Sentences/12345.txt"


def bomb_bigdocs_source(raw: Path) -> str:
    bigdocs.make(raw)
    archive = raw / "sources" / "TextOCR" / "train_val_images.zip"
    member = "train_images/03b2dbb7dff0e32d.jpg"
    zip_bomb(archive, [(n, d) for n, d in zip_members(archive) if n != member], member)
    return f"train_val_images.zip:{member}"


def bomb_zenodo(raw: Path) -> str:
    nmb_plus.make(raw, zenodo_as="zip")
    archive = raw / "zenodo" / "images.zip"
    member = "images/1098444910.jpg"
    zip_bomb(archive, [(n, d) for n, d in zip_members(archive) if n != member], member)
    return f"images.zip:{member}"


def bomb_mint1t_tar(raw: Path) -> str:
    mint1t.make(raw)
    archive = raw / "MINT-1T-PDF-CC-2023-06/CC-MAIN-2023-06-shard-0/CC-MAIN-20230126210844-20230127000844-00000.tar"
    member = "816eb9678798af65239f336c8da5e576.tiff"
    sparse_tar_bomb(archive, [(n, d) for n, d in tar_members(archive) if n != member], member)
    return f"00000.tar:{member}"


BOMBS = {  # name: (make the bombed tree -> where, dataset, config)
    "tar.gz of Flickr30K images": (bomb_flickr_images, "flickr30k_entities", "captions"),
    "zip of Flickr30K annotations": (bomb_flickr_annotations, "flickr30k_entities", "captions"),
    "zip of a BigDocs source": (bomb_bigdocs_source, "bigdocs", "TextOCR"),
    "zip of NMB+ Zenodo images": (bomb_zenodo, "nmb_plus", "current"),
    "sparse member in a MINT-1T tar": (bomb_mint1t_tar, "mint1t", "pdf-CC-MAIN-2023-06"),
}


PEAK_REPORTER = """import atexit, os, runpy, sys
def report():
    with open(os.environ["MM_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
atexit.register(report)
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))  # as when the script is run by its path
runpy.run_path(sys.argv[0], run_name="__main__")
"""
"""Runs a script and writes the peak resident memory of its own process (VmHWM, kB) at exit. Not the rusage of
the child: Linux keeps the highest RSS a process had before exec, and a process started by a large pytest
session starts with that session's."""


def run_measured(*args) -> tuple[int, str, int]:
    """Run scripts/build.py; (exit code, stderr, peak resident memory in bytes of that process)."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak-kb"
        process = subprocess.run([sys.executable, "-c", PEAK_REPORTER, str(PROJECT / "scripts" / "build.py"),
                                  *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 cwd=PROJECT, env={**os.environ, "MM_PEAK_FILE": str(peak_file)})
        return process.returncode, process.stderr, int(peak_file.read_text()) * 1024


@pytest.mark.parametrize("name", BOMBS)
def test_archive_bombs_are_refused_in_bounded_memory(name, tmp_path):
    make, dataset, config = BOMBS[name]
    raw = tmp_path / "raw"
    where = make(raw)
    assert sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) < BOMB_BYTES / 100
    code, stderr, peak = run_measured(dataset, "--data-dir", raw, "--output", tmp_path / "out", "--config", config,
                                      "--on-error", "raise", "--quiet")
    assert code == 2, stderr
    assert where in stderr and f"declares {BOMB_BYTES:,} bytes" in stderr and "(a bomb)" in stderr, stderr
    assert peak < RSS_LIMIT, f"the build used {peak / 2**20:.0f} MiB"
    assert set(p.name for p in tmp_path.iterdir()) == {"raw", "out"}


# ---- a zip directory kept as arrays (archives.ZipDirectory) -----------------------------------------------------

def test_a_zip_directory_kept_as_arrays_finds_and_reads_the_members_zipfile_would(tmp_path):
    path = tmp_path / "annotations.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("top/Sentences/", b"")  # a folder entry: never a member
        archive.writestr("top/Sentences/1.txt", b"first copy")
        archive.writestr("top/Sentences/2.txt", b"stored, not deflated" * 50, compress_type=zipfile.ZIP_STORED)
        archive.writestr("top/Annotations/1.xml", b"<annotation/>" * 100, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("Sentences/caf_.txt", "é".encode())  # its name made cp437 below (no UTF-8 flag)
        archive.writestr("Sentences/\u00fcber.txt", b"utf-8 name")  # zipfile sets the UTF-8 flag
        archive.writestr("other/Sentences/1.txt", b"later copy")  # the same key as the first: kept, as dict() would
        long_extra = zipfile.ZipInfo("top/Sentences/4.txt")
        long_extra.extra = struct.pack("<HH", 0xCAFE, 200) + bytes(200)  # past the first read's guess of 64 bytes
        archive.writestr(long_extra, b"after a long extra field" * 3, compress_type=zipfile.ZIP_DEFLATED)
    path.write_bytes(path.read_bytes().replace(b"caf_", b"caf\x82"))
    with zipfile.ZipFile(path) as reference:
        expected = {"/".join(n.split("/")[-2:]): reference.read(n) for n in reference.namelist() if n[-1] != "/"}
    assert "Sentences/caf\u00e9.txt" in expected and expected["Sentences/1.txt"] == b"later copy"

    archive = zipfile.ZipFile(path)
    directory = ZipDirectory(path, key=lambda name: "/".join(name.split("/")[-2:]))
    assert len(directory) == len(expected) == 6
    for key, data in expected.items():  # the ZipInfo `get` makes is one zipfile reads
        assert archive.read(directory.get(key)) == data, key
    assert directory.get("Sentences/3.txt") is None and directory.get("Sentences") is None
    assert directory.get("top/Sentences/1.txt") is None  # found by key, not by name
    wrong = directory.get("Sentences/1.txt")
    wrong.header_offset = directory.get("Sentences/2.txt").header_offset  # the local header names another member
    with pytest.raises(zipfile.BadZipFile, match="File name in directory"):
        archive.read(wrong)

    # `read` (one pread and zlib) gives the same bytes and refuses what zipfile refuses
    for key, data in expected.items():
        found = directory.find(key)
        assert directory.read(found, 2**20, key) == data and directory.get(key).filename == directory.name(found)
    assert directory.find("Sentences/3.txt") is None
    with pytest.raises(RawDataError, match="declares 1,300 bytes, more than the 1,000"):
        directory.read(directory.find("Annotations/1.xml"), 1000, "Annotations/1.xml")
    first, second, xml = (directory.find(k) for k in ("Sentences/1.txt", "Sentences/2.txt", "Annotations/1.xml"))
    fields = directory.fields.copy()
    directory.fields[first, 0] = directory.fields[second, 0]  # the local header names another member
    with pytest.raises(zipfile.BadZipFile, match="File name in directory"):
        directory.read(first, 2**20, "Sentences/1.txt")
    directory.fields[:] = fields
    directory.fields[xml, 2] = 1000  # declares less than it inflates to: never more is inflated, and it is refused
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
        directory.read(xml, 2**20, "Annotations/1.xml")
    directory.fields[:] = fields
    directory.fields[second, 3] ^= 1  # a stored member whose bytes do not match their CRC
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
        directory.read(second, 2**20, "Sentences/2.txt")
    directory.fields[:] = fields
    directory.fields[second, 5] |= 0x1  # encrypted: left to zipfile, which says so
    with pytest.raises(RuntimeError, match="encrypted"):
        directory.read(second, 2**20, "Sentences/2.txt")
    directory.fields[:] = fields
    archive.close()
    directory.close()

    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with ZipDirectory(tmp_path / "empty.zip", key=str) as empty:
        assert empty.get("x") is None and len(empty) == 0


def _zip64_directory(path: Path) -> None:
    """Rewrite the archive's central directory as a zip64 writer would for members past 4 GiB: every size and
    local header offset 0xFFFFFFFF, the real values in a zip64 extra field (what zipfile writes only for
    members and archives too large for a test)."""
    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    *head, count, size, offset, comment_length = struct.unpack_from("<4s4H2LH", data, end)
    central = struct.Struct("<4s6H3L5H2L")
    entries, at = [], offset
    for _ in range(count):
        fields = list(central.unpack_from(data, at))
        name_length, extra_length, comment = fields[10:13]
        name = data[at + central.size:at + central.size + name_length]
        extra = data[at + central.size + name_length:at + central.size + name_length + extra_length]
        tail = data[at + central.size + name_length + extra_length:at + central.size + name_length + extra_length + comment]
        at += central.size + name_length + extra_length + comment
        real = (fields[9], fields[8], fields[16])  # file size, compressed size, local header offset: zip64's order
        fields[8] = fields[9] = fields[16] = 0xFFFF_FFFF
        extra = struct.pack("<HH3Q", 0x0001, 24, *real) + extra
        fields[11] = len(extra)
        entries.append(central.pack(*fields) + name + extra + tail)
    directory = b"".join(entries)
    path.write_bytes(data[:offset] + directory + struct.pack("<4s4H2LH", *head, count, len(directory), offset,
                                                             comment_length) + data[end + 22:])


@pytest.mark.parametrize("shape", ["prepended, commented, zip64 fields", "65,600 members: a zip64 end record"])
def test_a_zip_directory_reads_what_zipfile_reads_from_the_directory(tmp_path, shape):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        if shape.startswith("prepended"):
            archive.comment = b"an archive comment"
            archive.writestr("a/folder/", b"")
            archive.writestr("a/deflated.txt", b"deflated " * 300, compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr("a/stored.bin", bytes(range(256)))
            archive.writestr("a/nulXtail.txt", b"named up to its NUL (below), as zipfile names it")
        else:
            for i in range(65_600):
                archive.writestr(f"d/{i}.txt", str(i).encode())
    if shape.startswith("prepended"):
        _zip64_directory(path)
        stub = b"#!/bin/sh a self-extractor's stub\n"  # zipfile finds the members past it
        path.write_bytes(stub + path.read_bytes().replace(b"nulXtail", b"nul\x00tail"))

    with zipfile.ZipFile(path) as reference, ZipDirectory(path, key=str) as directory:
        members = [info for info in reference.infolist() if not info.is_dir()]
        assert len(directory) == len(members) and directory.find("a/folder/") is None
        for info in members[:50] + members[-50:]:
            i = directory.find(info.filename)
            assert directory.name(i) == info.orig_filename
            assert dict(zip(directory.FIELDS, directory.fields[i].tolist())) == \
                {field: getattr(info, field) for field in directory.FIELDS}
            assert directory.read(i, 2**20, info.filename) == reference.read(info)
        if shape.startswith("prepended"):
            assert directory.name(directory.find("a/nul")) == "a/nul\x00tail.txt"
        else:
            assert directory.read(directory.find("d/65599.txt"), 2**20, "d/65599.txt") == b"65599"


def test_a_zip_directory_refuses_what_is_not_a_zip_or_is_cut_short(tmp_path):
    (tmp_path / "not.zip").write_bytes(b"plain text, no end record" * 10)
    with pytest.raises(zipfile.BadZipFile, match="not a zip file"):
        ZipDirectory(tmp_path / "not.zip", key=str)
    with zipfile.ZipFile(tmp_path / "cut.zip", "w") as archive:
        archive.writestr("a.txt", b"a")
        archive.writestr("b.txt", b"b")
    data = (tmp_path / "cut.zip").read_bytes()
    start = data.index(b"PK\x01\x02")
    (tmp_path / "cut.zip").write_bytes(data[:start] + b"XX" + data[start + 2:])  # the directory's first entry
    with pytest.raises(zipfile.BadZipFile, match="Bad magic number for central directory"):
        ZipDirectory(tmp_path / "cut.zip", key=str)
    with pytest.raises(zipfile.BadZipFile, match="Bad magic number for central directory"):
        zipfile.ZipFile(tmp_path / "cut.zip")  # zipfile says the same
