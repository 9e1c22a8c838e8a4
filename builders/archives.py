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

from .errors import RawDataError

TEXT_MEMBER_LIMIT = 64 * 2**20
"""Annotation, caption and metadata files: the largest in the releases are a few MB."""
MEDIA_MEMBER_LIMIT = 512 * 2**20
"""Images and documents: a Parquet part holds about 500 MB, so no single cell may be larger."""


def read_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, limit: int, where: str) -> bytes:
    """The bytes of a regular member (the caller checks `member.isfile()`); RawDataError when it is too large."""
    _check_size(member.size, limit, where)
    return archive.extractfile(member).read()


def read_zip_member(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    """The bytes of a zip member; RawDataError when it declares more than `limit` bytes."""
    _check_size(archive.getinfo(name).file_size, limit, where)
    return archive.read(name)


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise RawDataError(where, f"the archive member declares {size:,} bytes, more than the {limit:,} such a "
                                  "file may have: the archive is damaged or built to exhaust memory (a bomb)",
                           hint="download the archive again from the release's site")
