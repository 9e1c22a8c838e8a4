"""Video probes and the stream-copy cut.

The probes read what a container says about itself: its first bytes, and for MP4 / MOV the sizes of its
top-level boxes (a download cut short would otherwise be published as if it were whole). The cut copies the
packets of a time window into a new file with PyAV, decoding nothing; `av` is imported by the cut only, so
that building a dataset without cuts never loads it.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

from . import MediaError

ISO_BMFF_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
"""An MP4 / MOV file starts with one of these boxes; anything else is not one (e.g. an HTML error page)."""
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
"""The first bytes of a Matroska / WebM file."""
CONTAINER_SIGNATURES = {"mp4": (4, ISO_BMFF_FIRST_BOXES), "mov": (4, ISO_BMFF_FIRST_BOXES),
                        "webm": (0, (EBML_MAGIC,)), "matroska": (0, (EBML_MAGIC,))}
"""Container (FFmpeg's format name) -> (offset, the byte strings one of which starts there)."""


def first_box(data: bytes) -> bytes:
    """The type of an ISO-BMFF file's first top-level box (b"ftyp" in a well-formed MP4)."""
    return data[4:8]


def has_signature(data: bytes, container: str) -> bool:
    """Whether the bytes start as a file of `container` ("mp4", "mov", "webm", "matroska") does."""
    offset, signatures = CONTAINER_SIGNATURES[container]
    return any(data[offset:].startswith(s) for s in signatures)


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


def _name(kind: bytes) -> str:
    return "'" + kind.decode("latin-1").encode("unicode_escape").decode() + "'"


# ---- the stream-copy cut ------------------------------------------------------------------------------------

def cut_clip(path: Path, start: float, end: float, container: str) -> tuple[bytes, float, float]:
    """(clip bytes, actual start, actual end): the video and audio packets of [start, end], stream-copied.

    Nothing is decoded: the copy starts at the last keyframe at or before `start` (so the clip decodes)
    and takes the video packets decoded before `end`; audio packets keep the same window. Times are
    seconds from the start of the video, and the clip's own timestamps start at zero. `container` is the
    clip's format (FFmpeg's name: mp4, mov, webm, matroska).

    MediaError when it cannot be done, with kind "unreadable" (FFmpeg cannot read the file), "no_video_stream"
    or "outside" (the window starts before the first keyframe or after the video's end).
    """
    import av

    try:
        with av.open(str(path)) as source:
            video = source.streams.video[0]
            streams = [video, *source.streams.audio]
            origin = (source.start_time or 0) / av.time_base
            source.seek(int((start + origin) / video.time_base), stream=video, backward=True)
            packets = _packets_until(source, streams, end + origin)
            first = _keyframe_at_or_before(packets, video, start + origin)
            if first is None:
                raise MediaError(f"no video at {start:.3f}-{end:.3f} s (it starts before the first keyframe)",
                                 "outside")
            clip_start = float(packets[first].pts * video.time_base)
            kept = [p for i, p in enumerate(packets)
                    if (i >= first if p.stream is video else clip_start <= float(p.pts * p.time_base) < end + origin)]
            clip_end = max(float((p.pts + p.duration) * video.time_base) for p in kept if p.stream is video)
            if clip_end <= start + origin:  # the seek fell back to the last keyframe: nothing of the window
                raise MediaError(f"no video at {start:.3f}-{end:.3f} s (the video ends at "
                                 f"{clip_end - origin:.3f} s)", "outside")
            return _mux(kept, streams, clip_start, container), round(clip_start - origin, 6), round(clip_end - origin, 6)
    except av.error.FFmpegError as error:
        raise MediaError(f"cannot read the video ({error})") from None
    except IndexError:
        raise MediaError("the file has no video stream", "no_video_stream") from None


def _packets_until(source, streams, end: float) -> list:
    """Demuxed packets of `streams` from the current position until each stream has passed `end`."""
    packets, finished = [], set()
    for packet in source.demux(streams):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        if float(packet.dts * packet.time_base) >= end:
            finished.add(packet.stream.index)
            if len(finished) == len(streams):
                break
            continue
        packets.append(packet)
    return packets


def _keyframe_at_or_before(packets: list, video, time: float) -> int | None:
    keyframes = [i for i, p in enumerate(packets) if p.stream is video and p.is_keyframe]
    before = [i for i in keyframes if float(packets[i].pts * video.time_base) <= time]
    return before[-1] if before else None


def _mux(packets: list, streams: list, clip_start: float, container: str) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container, options={"fflags": "+bitexact"}) as output:
        targets = {s.index: output.add_stream_from_template(s) for s in streams}
        for packet in packets:
            shift = round(clip_start / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = targets[packet.stream.index]
            output.mux(packet)
    return buffer.getvalue()
