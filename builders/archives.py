"""Reading members of a raw release's archives in place, within bounds.

Members are never extracted to disk, so a member's name (`../../x`, `/etc/x`) never becomes a path, and
links and device files are never followed (builders only read regular members). What remains is memory:
a member is read whole, and an archive can declare a member far larger than itself (a zip or gzip bomb
expands 1000 to 1; a sparse tar member is mostly holes). Its declared size is therefore checked before it
is read; zipfile and tarfile never return more bytes than a member declares.
"""
from __future__ import annotations

import array
import functools
import os
import struct
import tarfile
import zipfile
import zlib
from typing import Callable

import numpy as np

from .errors import RawDataError

TEXT_MEMBER_LIMIT = 64 * 2**20
"""Annotation, caption and metadata files: the largest in the releases are a few MB."""
MEDIA_MEMBER_LIMIT = 512 * 2**20
"""Images and documents: a Parquet part holds about 500 MB, so no single cell may be larger."""


def read_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, limit: int, where: str) -> bytes:
    """The bytes of a regular member (the caller checks `member.isfile()`); RawDataError when it is too large."""
    _check_size(member.size, limit, where)
    return archive.extractfile(member).read()


class ZipDirectory:
    """A zip archive's directory kept as arrays, its members found by a key made from each name.

    The directory is read from the archive's central directory without zipfile's ZipInfo per member: zipfile
    keeps ~700 bytes a member for as long as an archive is open, and building one held twice that at once
    (Flickr30K Entities' annotations.zip of the 10x bench tree, 95,358 members: 56 MiB kept, 106 MiB at the
    peak, in each shard job's process as its first job started). These arrays keep ~100 bytes a member.
    Names, flags, sizes and offsets are read as zipfile reads them (UTF-8 or cp437 names, zip64 extra fields,
    data prepended to the archive); folders are not members. When two names give one key, the later member
    is kept, as a dict built in the directory's order would keep it.
    The archive stays open (`close`, or use it as a context manager); open one per process (`kept_directory`).
    """

    FIELDS = ("header_offset", "compress_size", "file_size", "CRC", "compress_type", "flag_bits")

    def __init__(self, path, key: Callable[[str], str]):
        self.path = os.fspath(path)
        self.file = open(self.path, "rb")
        try:
            names, fields = self._read_central_directory()
        except BaseException:
            self.file.close()
            raise
        latest: dict[str, int] = {}
        for i, name in enumerate(names):
            filename = name.split("\x00", 1)[0]  # as zipfile's ZipInfo ends a name at a NUL
            if not filename.endswith("/"):
                latest[key(filename)] = i
        keys = sorted(latest)
        order = np.array([latest[k] for k in keys], dtype=np.int64)
        self.keys = np.array([k.encode("utf-8", "surrogatepass") for k in keys], dtype=bytes)
        self.names = np.array([names[i].encode("utf-8", "surrogatepass") for i in order], dtype=bytes)
        if np.array_equal(self.names, self.keys):  # keyed by name (NMB+'s archives): kept once
            self.names = self.keys
        self.fields = np.frombuffer(fields, dtype=np.int64).reshape(-1, len(self.FIELDS))[order] if len(order) \
            else np.zeros((0, len(self.FIELDS)), dtype=np.int64)
        self._zipfile: zipfile.ZipFile | None = None

    def _read_central_directory(self) -> tuple[list[str], array.array]:
        """Each member's name and FIELDS, in the directory's order."""
        file = self.file
        try:
            end = zipfile._EndRecData(file)  # the end record, zip64's too (private, unchanged since Python 2.6)
        except OSError:
            end = None
        if not end:
            raise zipfile.BadZipFile("File is not a zip file")
        size, offset = end[zipfile._ECD_SIZE], end[zipfile._ECD_OFFSET]
        prepended = end[zipfile._ECD_LOCATION] - size - offset  # bytes before the archive (a self-extractor's)
        if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
            prepended -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
        if offset + prepended < 0:
            raise zipfile.BadZipFile("Bad offset for central directory")
        file.seek(offset + prepended)
        data = file.read(size)
        names: list[str] = []
        fields = array.array("q")
        at = 0
        while at < size:
            if at + _CENTRAL_HEADER.size > len(data):
                raise zipfile.BadZipFile("Truncated central directory")
            (signature, flags, method, crc, compressed, file_size, name_length, extra_length, comment_length,
             header_offset) = _CENTRAL_HEADER.unpack_from(data, at)
            if signature != zipfile.stringCentralDir:
                raise zipfile.BadZipFile("Bad magic number for central directory")
            at += _CENTRAL_HEADER.size
            name = data[at:at + name_length]
            extra = data[at + name_length:at + name_length + extra_length]
            at += name_length + extra_length + comment_length
            names.append(name.decode("utf-8" if flags & 0x800 else "cp437"))
            file_size, compressed, header_offset = _zip64_sizes(extra, file_size, compressed, header_offset)
            fields.extend((header_offset + prepended, compressed, file_size, crc, method, flags))
        return names, fields

    def __len__(self) -> int:
        return len(self.keys)

    def __enter__(self) -> "ZipDirectory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._zipfile is not None:
            self._zipfile.close()
        self.file.close()

    def find(self, key: str) -> int | None:
        """The position of the member the key stands for, or None."""
        wanted = key.encode("utf-8", "surrogatepass")
        i = int(np.searchsorted(self.keys, wanted))
        return None if i == len(self.keys) or self.keys[i] != wanted else i

    def name(self, i: int) -> str:
        return self.names[i].decode("utf-8", "surrogatepass")

    def get(self, key: str) -> zipfile.ZipInfo | None:
        """The member the key stands for, as a ZipInfo zipfile's `ZipFile.read` reads, or None."""
        i = self.find(key)
        return None if i is None else self._info(i)

    def _info(self, i: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(self.name(i))
        for field, value in zip(self.FIELDS, self.fields[i].tolist()):
            setattr(info, field, value)
        return info

    def _archive(self) -> zipfile.ZipFile:
        """The archive as zipfile reads it, for the members `read` leaves to zipfile; its own directory dropped."""
        if self._zipfile is None:
            self._zipfile = zipfile.ZipFile(self.file)
            self._zipfile.filelist, self._zipfile.NameToInfo = [], {}
        return self._zipfile

    def read(self, i: int, limit: int, where: str) -> bytes:
        """The bytes of member `i`, as zipfile reads them, with its checks and one more: the declared size against
        `limit` (RawDataError), the local header's name against the directory's, the size and CRC-32 of what comes out
        (zipfile.BadZipFile or EOFError when they fail). A stored or deflated member is read with one
        `os.pread` and zlib: zipfile's objects per member (a ZipInfo, a shared file, a ZipExtFile) cost four
        times that (Flickr30K's 63,600 annotation files: 1.0 s against 0.26 s). Anything else (encrypted,
        another compression) is left to zipfile."""
        offset, compressed, size, crc, method, flags = self.fields[i].tolist()
        _check_size(size, limit, where)
        if flags & _FLAGS_FOR_ZIPFILE or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return self._archive().read(self._info(i))
        fd = self.file.fileno()
        name = self.name(i)
        head = os.pread(fd, _LOCAL_HEADER.size + len(self.names[i]) + 64 + compressed, offset)
        if len(head) < _LOCAL_HEADER.size or not head.startswith(b"PK\x03\x04"):
            raise zipfile.BadZipFile("Bad magic number for file header")
        name_length, extra_length = _LOCAL_HEADER.unpack_from(head)[-2:]
        local_name = head[_LOCAL_HEADER.size:_LOCAL_HEADER.size + name_length]
        if local_name.decode("utf-8" if flags & 0x800 else "cp437", "replace") != name:
            raise zipfile.BadZipFile(f"File name in directory {name!r} and header {local_name!r} differ.")
        start = _LOCAL_HEADER.size + name_length + extra_length
        data = head[start:start + compressed]
        if len(data) < compressed:  # a local extra field longer than the guess, or the file ends early
            data += os.pread(fd, compressed - len(data), offset + start + len(data))
            if len(data) < compressed:
                raise EOFError(f"{name}: the archive ends inside the member")
        if method == zipfile.ZIP_DEFLATED:
            try:  # never more than the declared size (+1 tells a member that inflates past it)
                data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, size + 1)
            except zlib.error as e:
                raise zipfile.BadZipFile(f"{name}: {e}") from None
        if len(data) != size or zlib.crc32(data) != crc:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
        return data


def kept_directory(path, key: Callable[[str], str] = str) -> ZipDirectory:
    """The archive's `ZipDirectory`, opened once per process and kept for its later shard jobs: a large directory
    read again for every job cost each of them ~0.2-0.4 s (Flickr30K's annotations.zip, 63,600 members; COCO's
    train2014.zip, a BigDocs source, 82,783). Opened again when the file's size or mtime changed, and in a
    forked process, which must not share its parent's open file. `key` must be the same function each time (a
    module-level one) for the directory to be found again."""
    stat = os.stat(path)
    return _kept_directory(os.fspath(path), stat.st_size, stat.st_mtime_ns, os.getpid(), key)


@functools.lru_cache(maxsize=8)
def _kept_directory(path: str, size: int, mtime_ns: int, pid: int, key: Callable[[str], str]) -> ZipDirectory:
    return ZipDirectory(path, key)


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, versions, flags, method, time, date, CRC, sizes, lengths
_CENTRAL_HEADER = struct.Struct("<4s4x2H4x3L3H8xL")  # zipfile's structCentralDir, without what is not kept:
# signature, (versions), flags, method, (time, date), CRC, sizes, name/extra/comment lengths, (disk, attributes),
# local header's offset
_FLAGS_FOR_ZIPFILE = 0x1 | 0x20 | 0x40     # encrypted, compressed patched data, strong encryption


def _zip64_sizes(extra: bytes, file_size: int, compressed: int, header_offset: int) -> tuple[int, int, int]:
    """The sizes and offset a zip64 extra field (0x0001) holds in place of the directory's 0xFFFFFFFF, in
    zipfile's order; the others as given."""
    while len(extra) >= 4:
        kind, length = struct.unpack_from("<HH", extra)
        if length + 4 > len(extra):
            raise zipfile.BadZipFile(f"Corrupt extra field {kind:04x} (size={length})")
        if kind == 0x0001:
            values = extra[4:4 + length]
            try:
                if file_size in (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF):
                    file_size, = struct.unpack_from("<Q", values)
                    values = values[8:]
                if compressed == 0xFFFF_FFFF:
                    compressed, = struct.unpack_from("<Q", values)
                    values = values[8:]
                if header_offset == 0xFFFF_FFFF:
                    header_offset, = struct.unpack_from("<Q", values)
            except struct.error:
                raise zipfile.BadZipFile("Corrupt zip64 extra field") from None
        extra = extra[length + 4:]
    return file_size, compressed, header_offset


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise RawDataError(where, f"the archive member declares {size:,} bytes, more than the {limit:,} such a "
                                  "file may have: the archive is damaged or built to exhaust memory (a bomb)",
                           hint="download the archive again from the release's site")
