"""Cheap integrity checks of media bytes that are stored verbatim: is the file cut short?

Media are copied byte for byte and never decoded (decoding every file would cost more than the whole
build), so a download cut short would otherwise be published as if it were whole. These checks read
only what a format says about its own length: the top-level boxes of an MP4 / MOV, the RIFF size of a
WAV, the end marker of a JPEG or PNG.
"""
from __future__ import annotations

import struct

IMAGE_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}
END_MARKER_WINDOW = 64 * 1024
"""An end marker must sit in this many final bytes (writers may append trailers after it)."""

RIFF_UNKNOWN_SIZE = 0xFFFFFFFF
"""RF64 and streamed WAV files put this in the RIFF size field: their length cannot be checked."""


def mp4_truncation(data: bytes) -> str | None:
    """Why an ISO-BMFF file (MP4, MOV) is incomplete, or None when its top-level boxes fill it exactly.

    Each box starts with its size (32 bits, or 1 then a 64-bit size; 0 means "to the end of the file").
    """
    position = 0
    while position < len(data):
        if len(data) - position < 8:
            return f"{len(data) - position} stray byte(s) after the last box"
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if size == 1:
            if len(data) - position < 16:
                return f"the {_name(kind)} box header is cut short"
            size, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        elif size == 0:
            return None
        if size < header:
            return f"the {_name(kind)} box at byte {position} declares an impossible size ({size})"
        if position + size > len(data):
            return (f"the {_name(kind)} box at byte {position} needs {size:,} bytes but the file ends "
                    f"{position + size - len(data):,} bytes early")
        position += size
    return None


def wav_truncation(data: bytes) -> str | None:
    """Why a RIFF/WAVE file is shorter than its header says, or None (also for files that are not RIFF)."""
    if len(data) < 12 or data[:4] != b"RIFF":
        return None
    declared = struct.unpack("<I", data[4:8])[0]
    if declared == RIFF_UNKNOWN_SIZE or declared + 8 <= len(data):
        return None
    return f"the RIFF header declares {declared + 8:,} bytes but the file has {len(data):,}"


def image_truncated(data: bytes, image_format: str) -> bool:
    """Whether a JPEG or PNG (Pillow's format name) lacks its end marker: a file cut short."""
    marker = IMAGE_END_MARKERS.get(image_format)
    return marker is not None and marker not in data[-END_MARKER_WINDOW:]


def _name(kind: bytes) -> str:
    return "'" + kind.decode("latin-1").encode("unicode_escape").decode() + "'"
