"""Reading members of a raw release's archives in place, within bounds.

Members are never extracted to disk, so a member's name (`../../x`, `/etc/x`) never becomes a path, and
links and device files are never followed (builders only read regular members). What remains is memory:
a member is read whole, and an archive can declare a member far larger than itself (a zip or gzip bomb
expands 1000 to 1; a sparse tar member is mostly holes). Its declared size is therefore checked before it
is read; zipfile and tarfile never return more bytes than a member declares.
"""
from __future__ import annotations

import tarfile
import zipfile
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
    ZipInfo `get` makes), so open one for this. When two names give one key, the later member is kept, as a
    dict built in the directory's order would keep it.
    """

    FIELDS = ("header_offset", "compress_size", "file_size", "CRC", "compress_type", "flag_bits")

    def __init__(self, archive: zipfile.ZipFile, key: Callable[[str], str]):
        latest = {key(info.filename): info for info in archive.infolist() if not info.is_dir()}
        keys = sorted(latest)
        infos = [latest[k] for k in keys]
        self.keys = np.array([k.encode("utf-8", "surrogatepass") for k in keys], dtype=bytes)
        self.names = np.array([info.orig_filename.encode("utf-8", "surrogatepass") for info in infos], dtype=bytes)
        self.fields = np.array([[getattr(info, field) for field in self.FIELDS] for info in infos], dtype=np.int64)
        archive.filelist, archive.NameToInfo = [], {}

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: str) -> zipfile.ZipInfo | None:
        """The member the key stands for, as a ZipInfo `read_zip_member` reads, or None."""
        wanted = key.encode("utf-8", "surrogatepass")
        i = int(np.searchsorted(self.keys, wanted))
        if i == len(self.keys) or self.keys[i] != wanted:
            return None
        info = zipfile.ZipInfo(self.names[i].decode("utf-8", "surrogatepass"))
        for field, value in zip(self.FIELDS, self.fields[i].tolist()):
            setattr(info, field, value)
        return info


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise RawDataError(where, f"the archive member declares {size:,} bytes, more than the {limit:,} such a "
                                  "file may have: the archive is damaged or built to exhaust memory (a bomb)",
                           hint="download the archive again from the release's site")
