"""Video frames for the sample generators' MP4 files, made in YUV 4:2:0 directly.

PyAV's RGB to YUV conversion (swscale) is not bit-exact from run to run: its SIMD path depends on how
the buffer happens to be aligned, so the same picture can encode to different bytes in two runs of one
process, while tests compare the MP4 bytes of two generated trees.
"""
from __future__ import annotations

import av
import numpy as np


def yuv420p_frame(rgb: np.ndarray, pts: int) -> av.VideoFrame:
    """An RGB picture (height divisible by 4, width by 2) as a yuv420p frame (BT.601, full range)."""
    height, width, _ = rgb.shape
    if height % 4 or width % 2:
        raise ValueError(f"a {width}x{height} picture cannot be packed as yuv420p planes; use a height divisible "
                         "by 4 and an even width")
    r, g, b = (rgb[..., k].astype(np.float32) for k in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def half(plane):  # 2x2 average: the chroma of 4:2:0
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = np.concatenate([y.ravel(), half(u).ravel(), half(v).ravel()])
    packed = np.clip(np.rint(planes), 0, 255).astype(np.uint8).reshape(height * 3 // 2, width)
    frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
    frame.pts = pts
    return frame
