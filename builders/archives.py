"""Reading members of a raw release's archives in place, within bounds.

Members are never extracted to disk, so a member's name (`../../x`, `/etc/x`) never becomes a path, and
links and device files are never followed (builders only read regular members). What remains is memory:
a member is read whole, and an archive can declare a member far larger than itself (a zip or gzip bomb
expands 1000 to 1; a sparse tar member is mostly holes). Its declared size is therefore checked before it
is read; zipfile and tarfile never return more bytes than a member declares.
"""
from __future__ import annotations

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


def read_zip_member(archive: zipfile.ZipFile, name: str | zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """The bytes of a zip member (by name, or by a ZipInfo such as `ZipDirectory.get` gives); RawDataError when
    it declares more than `limit` bytes."""
    info = name if isinstance(name, zipfile.ZipInfo) else archive.getinfo(name)
    _check_size(info.file_size, limit, where)
    return archive.read(info)


class ZipDirectory:
    """A zip archive's directory kept as arrays, its members found by a key made from each name.

    zipfile keeps a ZipInfo object per member for as long as the archive is open: ~700 bytes each, 45 MiB for
    the 63,600 members of Flickr30K Entities' annotations.zip, held by every process for the whole build.
    These arrays hold ~100 bytes a member. `archive` is left without its own directory (it is read with the
    ZipInfo `get` makes, or by `read`), so open one for this. When two names give one key, the later member is
    kept, as a dict built in the directory's order would keep it.
    """

    FIELDS = ("header_offset", "compress_size", "file_size", "CRC", "compress_type", "flag_bits")

    def __init__(self, archive: zipfile.ZipFile, key: Callable[[str], str]):
        latest = {key(info.filename): info for info in archive.infolist() if not info.is_dir()}
        keys = sorted(latest)
        infos = [latest[k] for k in keys]
        self.keys = np.array([k.encode("utf-8", "surrogatepass") for k in keys], dtype=bytes)
        self.names = np.array([info.orig_filename.encode("utf-8", "surrogatepass") for info in infos], dtype=bytes)
        self.fields = np.array([[getattr(info, field) for field in self.FIELDS] for info in infos], dtype=np.int64)
        self.archive = archive
        archive.filelist, archive.NameToInfo = [], {}

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, key: str) -> int | None:
        """The position of the member the key stands for, or None."""
        wanted = key.encode("utf-8", "surrogatepass")
        i = int(np.searchsorted(self.keys, wanted))
        return None if i == len(self.keys) or self.keys[i] != wanted else i

    def name(self, i: int) -> str:
        return self.names[i].decode("utf-8", "surrogatepass")

    def get(self, key: str) -> zipfile.ZipInfo | None:
        """The member the key stands for, as a ZipInfo `read_zip_member` reads, or None."""
        i = self.find(key)
        return None if i is None else self._info(i)

    def _info(self, i: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(self.name(i))
        for field, value in zip(self.FIELDS, self.fields[i].tolist()):
            setattr(info, field, value)
        return info

    def read(self, i: int, limit: int, where: str) -> bytes:
        """The bytes of member `i`, as `read_zip_member` reads them, with its checks: the declared size against
        `limit`, the local header's name against the directory's, the size and CRC-32 of what comes out
        (zipfile.BadZipFile or EOFError when they fail). A stored or deflated member is read with one
        `os.pread` and zlib: zipfile's objects per member (a ZipInfo, a shared file, a ZipExtFile) cost four
        times that (Flickr30K's 63,600 annotation files: 1.0 s against 0.26 s). Anything else (encrypted,
        another compression, an archive without a file descriptor) is left to zipfile."""
        offset, compressed, size, crc, method, flags = self.fields[i].tolist()
        _check_size(size, limit, where)
        try:
            fd = self.archive.fp.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is None or flags & _FLAGS_FOR_ZIPFILE or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return self.archive.read(self._info(i))
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


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, versions, flags, method, time, date, CRC, sizes, lengths
_FLAGS_FOR_ZIPFILE = 0x1 | 0x20 | 0x40     # encrypted, compressed patched data, strong encryption


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise RawDataError(where, f"the archive member declares {size:,} bytes, more than the {limit:,} such a "
                                  "file may have: the archive is damaged or built to exhaust memory (a bomb)",
                           hint="download the archive again from the release's site")
