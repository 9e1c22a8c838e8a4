"""Multi-frame TIFF files (MINT-1T's PDF images) read frame by frame, each frame re-wrapped as a standalone image
without decoding a pixel.

A JPEG-compressed frame becomes a baseline JPEG built from the TIFF's shared JPEG tables and the strips'
entropy-coded data; any other frame becomes a one-frame TIFF holding the same strips and tags. Damage is
reported as ValueError with a short deterministic text.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

from .image import decode_problem

_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TIFF_INT_CODES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}
_TIFF_POINTER_TAGS = {330, 34665, 34853, 40965}
"""SubIFDs, Exif, GPS and Interoperability IFD pointers: they would dangle in a re-wrapped frame."""
WIDTH, HEIGHT, COMPRESSION, PHOTOMETRIC, STRIP_OFFSETS, SAMPLES, ROWS_PER_STRIP, STRIP_COUNTS = \
    256, 257, 259, 262, 273, 277, 278, 279
PLANAR, TILE_OFFSETS, TILE_COUNTS, JPEG_TABLES = 284, 324, 325, 347
TIFF_JPEG = 7
# Photometric interpretations whose JPEG data a standalone JPEG expresses: grey, RGB (Adobe transform 0), YCbCr
_JPEG_PHOTOMETRIC = {1: 1, 2: 3, 6: 3}


@dataclass(frozen=True)
class TiffFrame:
    """One IFD of a TIFF: tag -> (type, count, value bytes), in the file's byte order."""

    order: str
    entries: dict[int, tuple[int, int, bytes]]

    def ints(self, tag: int) -> tuple[int, ...]:
        kind, count, raw = self.entries[tag]
        if kind not in _TIFF_INT_CODES:
            raise ValueError(f"tag {tag} has non-integer type {kind}")
        return struct.unpack(f"{self.order}{count}{_TIFF_INT_CODES[kind]}", raw)

    def int(self, tag: int, default: int | None = None) -> int | None:
        return self.ints(tag)[0] if tag in self.entries else default


def read_tiff(data: bytes) -> list[TiffFrame]:
    """The frames (IFDs) of a classic TIFF, with every value read; ValueError when the structure is damaged."""
    if data[:4] == b"II+\x00" or data[:4] == b"MM\x00+":
        raise ValueError("BigTIFF is not supported")
    if data[:4] not in (b"II*\x00", b"MM\x00*") or len(data) < 8:
        raise ValueError("no TIFF header")
    order = "<" if data[:2] == b"II" else ">"
    offset, = struct.unpack(order + "I", data[4:8])
    frames, seen = [], set()
    while offset:
        if offset in seen:
            raise ValueError("the chain of frames loops")
        seen.add(offset)
        if offset + 2 > len(data):
            raise ValueError(f"frame {len(frames)} starts beyond the end of the file (truncated)")
        count, = struct.unpack(order + "H", data[offset:offset + 2])
        end = offset + 2 + 12 * count
        if end + 4 > len(data):
            raise ValueError(f"frame {len(frames)} is cut short (truncated)")
        entries = {}
        for position in range(offset + 2, end, 12):
            tag, kind, n, inline = struct.unpack(order + "HHI4s", data[position:position + 12])
            if kind not in _TIFF_TYPE_SIZES:
                raise ValueError(f"frame {len(frames)}: tag {tag} has unknown type {kind}")
            size = _TIFF_TYPE_SIZES[kind] * n
            if size <= 4:
                entries[tag] = (kind, n, inline[:size])
                continue
            start, = struct.unpack(order + "I", inline)
            if start + size > len(data):
                raise ValueError(f"frame {len(frames)}: tag {tag} points beyond the end of the file (truncated)")
            entries[tag] = (kind, n, data[start:start + size])
        frames.append(TiffFrame(order, entries))
        offset, = struct.unpack(order + "I", data[end:end + 4])
    return frames


def frame_image(tiff: bytes, frame: TiffFrame) -> tuple[bytes, str]:
    """(bytes, "jpg" | "tiff"): one frame of `tiff` as a standalone image, its compressed data copied verbatim.

    A JPEG-compressed frame becomes a JPEG file: the TIFF's shared JPEG tables, the strips' entropy-coded
    data joined with restart markers (each strip was an independent restart interval already) and, for RGB
    frames, an Adobe marker saying the data is not YCbCr. Any other frame becomes a one-frame TIFF holding
    the same strips and tags, which is decoded once to check it (such frames are rare). ValueError when the
    frame is damaged.
    """
    if not frame.int(WIDTH) or not frame.int(HEIGHT):
        raise ValueError("the frame has no width or height")
    chunks = frame_chunks(tiff, frame)
    jpeg = frame_as_jpeg(frame, chunks)
    if jpeg is not None:
        return jpeg, "jpg"
    single = frame_as_tiff(frame, chunks)
    problem = decode_problem(single)
    if problem:
        raise ValueError(f"the frame does not decode ({problem})")
    return single, "tiff"


def frame_chunks(tiff: bytes, frame: TiffFrame) -> list[bytes]:
    offsets_tag, counts_tag = (TILE_OFFSETS, TILE_COUNTS) if TILE_OFFSETS in frame.entries else (STRIP_OFFSETS, STRIP_COUNTS)
    if offsets_tag not in frame.entries or counts_tag not in frame.entries:
        raise ValueError("the frame has no image data")
    offsets, counts = frame.ints(offsets_tag), frame.ints(counts_tag)
    if len(offsets) != len(counts) or any(o + c > len(tiff) for o, c in zip(offsets, counts)):
        raise ValueError("the frame's data lies beyond the end of the file (truncated)")
    return [tiff[o:o + c] for o, c in zip(offsets, counts)]


_SOI, _EOI, _SOS, _DRI = b"\xff\xd8", b"\xff\xd9", 0xDA, 0xDD
_SEQUENTIAL_HUFFMAN = (0xC0, 0xC1)
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def frame_as_jpeg(frame: TiffFrame, strips: list[bytes]) -> bytes | None:
    """The frame as one baseline JPEG, or None when its JPEG data cannot be expressed as one (then it is
    re-wrapped as TIFF). ValueError when the JPEG data is damaged."""
    photometric, samples = frame.int(PHOTOMETRIC), frame.int(SAMPLES, 1)
    if frame.int(COMPRESSION, 1) != TIFF_JPEG or TILE_OFFSETS in frame.entries or frame.int(PLANAR, 1) != 1 \
            or _JPEG_PHOTOMETRIC.get(photometric) != samples:
        return None
    tables = jpeg_table_segments(frame.entries[JPEG_TABLES][2]) if JPEG_TABLES in frame.entries else []
    parsed = [split_jpeg(strip) for strip in strips]
    headers = [[(m, p[:1] + b"\0\0" + p[3:] if m in _SOF_MARKERS else p) for m, p in segments] for segments, _ in parsed]
    sof = next(((m, p) for m, p in parsed[0][0] if m in _SOF_MARKERS), None)
    if sof is None:
        raise ValueError("the JPEG data has no frame header")
    single_scan = not any(_MARKER_IN_SCAN.search(scan) for _, scan in parsed)
    restarts = any(m == _DRI for m, _ in parsed[0][0])
    if sof[0] not in _SEQUENTIAL_HUFFMAN or not single_scan or any(h != headers[0] for h in headers[1:]) \
            or (restarts and len(strips) > 1):
        return None
    width, height = frame.int(WIDTH), frame.int(HEIGHT)
    payload = sof[1]
    if len(payload) < 6 or payload[5] == 0 or len(payload) < 6 + 3 * payload[5]:
        raise ValueError("the JPEG frame header is damaged")
    if struct.unpack(">H", payload[3:5])[0] != width:
        raise ValueError(f"the JPEG data is {struct.unpack('>H', payload[3:5])[0]} pixels wide, the frame {width}")
    components = [payload[6 + 3 * i:9 + 3 * i] for i in range(payload[5])]
    mcu_width = 8 * max(c[1] >> 4 for c in components)
    mcu_height = 8 * max(c[1] & 15 for c in components)
    rows_per_strip = frame.int(ROWS_PER_STRIP, height)
    interval = math.ceil(width / mcu_width) * (rows_per_strip // mcu_height)
    if len(strips) > 1 and (rows_per_strip % mcu_height or not 0 < interval <= 0xFFFF):
        return None
    out = bytearray(_SOI)
    if photometric == 2:
        out += _ADOBE_RGB
    for marker, body in tables + [(m, p) for m, p in parsed[0][0] if m not in _SOF_MARKERS and m != _SOS]:
        out += segment(marker, body)
    out += segment(sof[0], payload[:1] + struct.pack(">H", height) + payload[3:])
    if len(strips) > 1:
        out += segment(_DRI, struct.pack(">H", interval))
    out += segment(_SOS, parsed[0][0][-1][1])
    for index, (_, scan) in enumerate(parsed):
        if index:
            out += bytes((0xFF, 0xD0 + (index - 1) % 8))
        out += scan
    out += _EOI
    return bytes(out)


def segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def split_jpeg(stream: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """A single-scan JPEG stream → (its marker segments up to and including SOS, the entropy-coded data)."""
    if not stream.startswith(_SOI):
        raise ValueError("the JPEG data is damaged (no start-of-image marker)")
    if not stream.endswith(_EOI):
        raise ValueError("the JPEG data is cut short (no end-of-image marker)")
    segments, position = [], 2
    while True:
        marker, body, position = _next_segment(stream, position)
        segments.append((marker, body))
        if marker == _SOS:
            return segments, stream[position:-2]


def jpeg_table_segments(tables: bytes) -> list[tuple[int, bytes]]:
    """The segments of a TIFF JPEGTables field (an abbreviated JPEG stream: SOI, tables, EOI)."""
    if not tables.startswith(_SOI):
        raise ValueError("the JPEG tables are damaged (no start-of-image marker)")
    segments, position = [], 2
    while tables[position:position + 2] != _EOI:
        marker, body, position = _next_segment(tables, position)
        segments.append((marker, body))
    return segments


def _next_segment(stream: bytes, position: int) -> tuple[int, bytes, int]:
    while stream[position:position + 2] == b"\xff\xff":  # fill bytes before a marker
        position += 1
    if position + 4 > len(stream) or stream[position] != 0xFF:
        raise ValueError(f"the JPEG data is damaged (no marker at byte {position})")
    length, = struct.unpack(">H", stream[position + 2:position + 4])
    end = position + 2 + length
    if length < 2 or end > len(stream):
        raise ValueError(f"the JPEG data is damaged (segment at byte {position} runs past the end)")
    return stream[position + 1], stream[position + 4:end], end


def frame_as_tiff(frame: TiffFrame, chunks: list[bytes]) -> bytes:
    """A one-frame TIFF with the frame's tags and its strips (or tiles) copied byte for byte."""
    order = frame.order
    offsets_tag, counts_tag = (TILE_OFFSETS, TILE_COUNTS) if TILE_OFFSETS in frame.entries else (STRIP_OFFSETS, STRIP_COUNTS)
    data = bytearray(b"II*\x00" if order == "<" else b"MM\x00*") + bytes(4)
    offsets = []
    for chunk in chunks:
        offsets.append(len(data))
        data += chunk
        data += bytes(len(data) % 2)  # values start on word boundaries
    entries = {tag: value for tag, value in frame.entries.items() if tag not in _TIFF_POINTER_TAGS}
    entries[offsets_tag] = (4, len(chunks), struct.pack(f"{order}{len(chunks)}I", *offsets))
    entries[counts_tag] = (4, len(chunks), struct.pack(f"{order}{len(chunks)}I", *map(len, chunks)))
    ifd_offset = len(data)
    data[4:8] = struct.pack(order + "I", ifd_offset)
    external = ifd_offset + 2 + 12 * len(entries) + 4
    directory, values = bytearray(struct.pack(order + "H", len(entries))), bytearray()
    for tag in sorted(entries):
        kind, count, raw = entries[tag]
        if len(raw) <= 4:
            inline = raw.ljust(4, b"\0")
        else:
            inline = struct.pack(order + "I", external + len(values))
            values += raw + bytes(len(raw) % 2)
        directory += struct.pack(order + "HHI", tag, kind, count) + inline
    directory += bytes(4)  # no next frame
    return bytes(data + directory + values)
