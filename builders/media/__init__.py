"""Media mechanics, once for every builder: probes of stored bytes, audio and video cuts, TIFF frame re-wrapping.

Media are stored with the release's own bytes and never decoded (decoding every file would cost more than the
whole build), so these probes read only what a format says about itself: a signature, a header, the length
its boxes or chunks declare, an end marker. A probe returns a problem (a short text, or a small dataclass
carrying one) or None; what the problem means is the builder's policy (reject the record with a
RawDataError, or keep it with a status column). Texts never hold a buffer's address or other run-dependent
detail, so the same bad file gives the same reason on every run.

- `image`  format sniffing, the Pillow header probe, JPEG / PNG end markers, a full decode check
- `video`  container signatures, the MP4 box walk, the PyAV stream-copy cut (`av` is imported by the cut only)
- `audio`  the soundfile header probe, the RIFF length, the lossless cut of a segment
- `tiff`   the frames of a multi-frame TIFF, each re-wrapped as a JPEG or a one-frame TIFF without decoding

No dataset logic lives here: no RawDataError, no hint, no status name.
"""
from __future__ import annotations


class MediaError(ValueError):
    """A cut or a re-wrapping that cannot be done; its text says why (deterministic) and `kind` names the case."""

    def __init__(self, problem: str, kind: str = "unreadable"):
        super().__init__(problem)
        self.kind = kind
