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
    return marker is not None and marker not in data[-END_MARKER_WINDOW:]


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
    rest of a build."""
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            image_format, size = image.format, image.size
    except PIL.UnidentifiedImageError:
        return ImageProbe(unreadable=UNRECOGNISED)
    except HEADER_ERRORS as e:
        return ImageProbe(unreadable=str(e))
    return ImageProbe(image_format, size, truncated=image_truncated(data, image_format))


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
