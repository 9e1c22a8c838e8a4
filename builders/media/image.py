"""Image probes: the format from the bytes' signature, the header through Pillow (no pixel decoded), whether a
JPEG or PNG is cut short, and a full decode for the rare images whose pixels must be known to be there."""
from __future__ import annotations

import io
from dataclasses import dataclass

import PIL.Image

JPEG_START = b"\xff\xd8"
"""The start-of-image marker every JPEG file begins with."""
IMAGE_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}
END_MARKER_WINDOW = 64 * 1024
"""An end marker must sit in this many final bytes (writers may append trailers after it)."""

HEADER_ERRORS = (PIL.UnidentifiedImageError, OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError)
"""What Pillow raises for bytes whose header it cannot read (DecompressionBombError: the header declares more
pixels than Pillow's limit)."""
UNRECOGNISED = "no image format recognises the bytes"
"""Instead of Pillow's own message, which holds the address of our buffer and so differs on every run."""

EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp", "tiff": "tif",
              "avif": "avif", "heic": "heic", "svg": "svg"}
"""The usual file extension of each format `sniff_format` names."""


def sniff_format(data: bytes) -> str | None:
    """The image format from the bytes' signature (jpeg, png, gif, bmp, tiff, webp, avif, heic, svg), else None.

    For releases whose file extensions lie."""
    signatures = [(b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
                  (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff")]
    for signature, name in signatures:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        return {b"avif": "avif", b"avis": "avif", b"heic": "heic", b"heix": "heic"}.get(data[8:12])
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and b"<svg" in head:
        return "svg"
    return None


def image_truncated(data: bytes, image_format: str | None) -> bool:
    """Whether a JPEG or PNG (Pillow's format name) lacks its end marker: a file cut short."""
    marker = IMAGE_END_MARKERS.get(image_format)
    # searched backwards in place: the marker is usually the last bytes (`in` on a slice copied the window and
    # scanned it from the front, through the 0xFF bytes a JPEG is full of)
    return marker is not None and data.rfind(marker, max(len(data) - END_MARKER_WINDOW, 0)) < 0


@dataclass(frozen=True)
class ImageProbe:
    """What an image's header says, or why there is no readable header."""

    format: str | None = None            # Pillow's format name: "JPEG", "PNG", ...
    size: tuple[int, int] | None = None  # (width, height)
    unreadable: str | None = None        # why Pillow reads no header
    truncated: bool = False              # a JPEG or PNG without its end marker

    @property
    def problem(self) -> str | None:
        """"not a readable image (...)", "truncated PNG (no end marker)", or None for a whole, readable image."""
        if self.unreadable:
            return f"not a readable image ({self.unreadable})"
        if self.truncated:
            return f"truncated {self.format} (no end marker)"
        return None


def probe_image(data: bytes) -> ImageProbe:
    """The header of image bytes (through Pillow, no pixel decoded) and whether a JPEG or PNG is cut short.

    Truncation is told by the missing end marker rather than by decoding, which would cost more than the
    rest of a build. A JPEG whose header `jpeg_size` can read is not handed to Pillow: the same answer, ten
    times sooner."""
    size = jpeg_size(data)
    if size is not None:
        return ImageProbe("JPEG", size, truncated=image_truncated(data, "JPEG"))
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            image_format, size = image.format, image.size
    except PIL.UnidentifiedImageError:
        return ImageProbe(unreadable=UNRECOGNISED)
    except HEADER_ERRORS as e:
        return ImageProbe(unreadable=str(e))
    return ImageProbe(image_format, size, truncated=image_truncated(data, image_format))


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xDE})
_MARKERS_WITHOUT_LENGTH = frozenset({0xC8, *range(0xD0, 0xDA), *range(0xF0, 0xFE)})  # JPG, RSTn, SOI, EOI, JPGn
_APP_PREFIXES_LEFT_TO_PILLOW = ((0xE1, b"Exif\0\0"), (0xE2, b"MPF\0"), (0xED, b"Photoshop 3.0\x00"))
"""APP segments Pillow reads further (EXIF resolution, multi-picture files, Photoshop resources)."""


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a JPEG as Pillow's `Image.open` finds them, for a header Pillow reads as a plain JPEG
    without error, warning or further reading; None for anything else, which Pillow then reads itself.

    The same walk over the markers as Pillow's JpegImageFile._open (Pillow 10-13; tests/test_fuzz_parsers.py
    checks it against the Pillow installed, on mutated and generated headers), up to the start of scan or the
    end of the bytes: junk and fill bytes skipped alike, each segment's length read alike, and the checks that
    make Pillow fail (a short segment, a frame of other than 8 bits or 1, 3 or 4 components, a quantization
    table cut short, a marker that is no marker) give None, as do EXIF, MPF and Photoshop segments, a short ICC
    fragment, an image above Pillow's pixel limit (MAX_IMAGE_PIXELS, a warning or an error there) and no frame.
    Pillow spends ~10x longer on the same walk (a Python call and a stream read per field)."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    end, position, current, size = len(data), 3, 0xFF, None
    while True:
        if current != 0xFF:  # junk between segments
            if position >= end:
                break
            current, position = data[position], position + 1
            continue
        if position >= end:
            break
        marker, position = data[position], position + 1
        if marker == 0xFF:  # a fill byte: the next one may start the marker
            continue
        if marker == 0x00:  # an escaped 0xFF
            if position >= end:
                break
            current, position = data[position], position + 1
            continue
        if marker < 0xC0:  # Pillow: "no marker found"
            return None
        if marker not in _MARKERS_WITHOUT_LENGTH:
            if position + 2 > end:
                return None
            length, position = (data[position] << 8 | data[position + 1]) - 2, position + 2
            segment = b""
            if length > 0:
                if position + length > end:
                    return None
                segment, position = data[position:position + length], position + length
            if 0xE0 <= marker <= 0xEF:
                if any(marker == app and segment[:len(prefix)] == prefix for app, prefix in _APP_PREFIXES_LEFT_TO_PILLOW):
                    return None
                if ((marker == 0xE0 and segment[:4] == b"JFIF") or (marker == 0xEE and segment[:5] == b"Adobe")) \
                        and len(segment) < 7:
                    return None  # Pillow reads a 16-bit version at offset 5
                if marker == 0xE2 and segment[:12] == b"ICC_PROFILE\0" and len(segment) < 14:
                    return None  # Pillow reads the fragment count at offset 13
            elif marker in _SOF_MARKERS:
                if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3, 4) or (len(segment) - 6) % 3:
                    return None
                size = (segment[3] << 8 | segment[4], segment[1] << 8 | segment[2])
            elif marker == 0xDB:  # quantization tables of 64 values of 1 or 2 bytes
                table = 0
                while table < len(segment):
                    table += 1 + (64 if segment[table] < 16 else 128)
                    if table > len(segment):
                        return None
            if marker == 0xDA:  # start of scan: Pillow stops here
                break
        if position >= end:
            break
        current, position = data[position], position + 1
    if size is None or min(size) <= 0:
        return None
    if PIL.Image.MAX_IMAGE_PIXELS is not None and size[0] * size[1] > PIL.Image.MAX_IMAGE_PIXELS:
        return None
    return size


def decode_problem(data: bytes) -> str | None:
    """Why the image does not decode (all its pixels), or None. Costly: only for images that must be checked so."""
    try:
        with PIL.Image.open(io.BytesIO(data)) as opened:
            opened.load()
    except PIL.UnidentifiedImageError:
        return "no image format recognises it"
    except Exception as e:  # Pillow and libtiff raise many exception types for damaged data
        return f"{type(e).__name__}: {e}"
    return None
