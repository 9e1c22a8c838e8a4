"""builders.media, probe by probe: values on hand-made and generated files, and properties over damaged bytes."""
from __future__ import annotations

import io
import os
import re
import struct
from fractions import Fraction

import av
import numpy as np
import PIL.Image
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.media import MediaError
from builders.media.audio import cut_audio, open_audio, probe_audio, wav_truncation
from builders.media.image import (EXTENSIONS, END_MARKER_WINDOW, UNRECOGNISED, decode_problem, image_truncated,
                                  probe_image, sniff_format)
from builders.media.tiff import frame_image, read_tiff
from builders.media.video import cut_clip, first_box, has_signature, mp4_truncation
from builders.samples import mint1t as mint_sample
from builders.samples import musecar as musecar_sample
from builders.samples.internvid import make_mp4

EXAMPLES = int(os.environ.get("MM_FUZZ_EXAMPLES", "100"))
prop = settings(max_examples=EXAMPLES, deadline=None, derandomize="MM_FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ADDRESS = re.compile(r"at 0x[0-9a-fA-F]+")


def image_bytes(size: tuple[int, int], seed: int, kind: str = "PNG") -> bytes:
    return mint_sample.encode(mint_sample.picture(*size, seed), kind)


def damaged(data: bytes):
    """Bytes derived from a real file: cut, with bytes overwritten or inserted."""
    @st.composite
    def damage(draw):
        result = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            position = draw(st.integers(0, max(len(result) - 1, 0)))
            action = draw(st.sampled_from(["cut", "overwrite", "insert"]))
            chunk = draw(st.binary(min_size=1, max_size=8))
            if action == "cut":
                del result[position:]
            elif action == "overwrite":
                result[position:position + len(chunk)] = chunk
            else:
                result[position:position] = chunk
        return bytes(result)
    return damage()


PNG, JPEG = image_bytes((7, 5), 1), image_bytes((5, 7), 2, "JPEG")


# ---- images ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name", [
    (JPEG, "jpeg"), (PNG, "png"), (b"GIF87a....", "gif"), (b"GIF89a....", "gif"), (b"BM....", "bmp"),
    (b"II*\x00....", "tiff"), (b"MM\x00*....", "tiff"), (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
    (b"\x00\x00\x00\x1cftypavif....", "avif"), (b"\x00\x00\x00\x1cftypheic....", "heic"),
    (b"\xef\xbb\xbf\n  <?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
    (b"\x00\x00\x00\x1cftypisom....", None), (b"<html>404</html>", None), (b"", None),
])
def test_sniff_format_names_the_format_of_the_signature(data, name):
    assert sniff_format(data) == name
    assert name is None or name in EXTENSIONS


def test_probe_image_reads_format_and_size_from_the_header():
    assert probe_image(PNG).problem is None and probe_image(PNG).unreadable is None
    assert (probe_image(PNG).format, probe_image(PNG).size) == ("PNG", (7, 5))
    assert (probe_image(JPEG).format, probe_image(JPEG).size, probe_image(JPEG).truncated) == ("JPEG", (5, 7), False)


def test_a_truncated_jpeg_and_a_png_without_iend():
    cut = probe_image(JPEG[:-2])
    assert (cut.format, cut.size, cut.truncated, cut.unreadable) == ("JPEG", (5, 7), True, None)
    assert cut.problem == "truncated JPEG (no end marker)"
    no_iend = PNG[:PNG.rindex(b"IEND") - 4]
    assert probe_image(no_iend).problem == "truncated PNG (no end marker)" and probe_image(no_iend).size == (7, 5)
    assert image_truncated(JPEG[:-2], "JPEG") and image_truncated(no_iend, "PNG") and not image_truncated(PNG, "PNG")
    assert not image_truncated(b"GIF89a", "GIF")  # only JPEG and PNG have an end marker to miss


def test_an_end_marker_may_be_followed_by_a_trailer_within_the_window():
    assert not image_truncated(JPEG + b"\0" * (END_MARKER_WINDOW - 2), "JPEG")
    assert image_truncated(JPEG + b"\0" * END_MARKER_WINDOW, "JPEG")


def test_bytes_no_format_recognises_give_one_message_on_every_run():
    """Pillow's own message names the buffer's address ("<_io.BytesIO object at 0x7f…>"): not ours."""
    for data in (b"<svg/>", b"", b"\xff\xd8\x00 not really a JPEG \xff\xd9"):
        probe = probe_image(data)
        assert probe.unreadable == UNRECOGNISED and probe.size is None and probe.format is None
        assert probe.problem == "not a readable image (no image format recognises the bytes)"


def test_a_header_declaring_too_many_pixels_is_unreadable_without_decoding():
    frame = JPEG.index(b"\xff\xc0")
    bomb = JPEG[:frame + 5] + struct.pack(">HH", 65535, 65535) + JPEG[frame + 9:]
    probe = probe_image(bomb)
    assert probe.size is None and "exceeds limit of" in probe.unreadable
    assert probe.problem.startswith("not a readable image (Image size (4294836225 pixels) exceeds limit of")


def test_decode_problem_decodes_every_pixel():
    assert decode_problem(PNG) is None and decode_problem(JPEG) is None
    assert decode_problem(b"<svg/>") == "no image format recognises it"
    assert decode_problem(PNG[:-30]).startswith(("OSError: ", "SyntaxError: "))  # the header reads, the pixels not


@prop
@given(st.one_of(damaged(PNG), damaged(JPEG), st.binary(max_size=64)))
def test_probe_image_never_raises_and_says_the_same_for_the_same_bytes(data):
    probe = probe_image(data)
    assert probe == probe_image(data)
    assert (probe.size is None) == (probe.unreadable is not None)
    assert (probe.problem is None) == (probe.unreadable is None and not probe.truncated)
    assert probe.problem is None or not ADDRESS.search(probe.problem)
    found = sniff_format(data)
    assert found is None or found in EXTENSIONS


# ---- TIFF frames ----------------------------------------------------------------------------------------------

def frame_pixels(tiff: bytes, index: int) -> np.ndarray:
    with PIL.Image.open(io.BytesIO(tiff)) as image:
        image.seek(index)
        return np.asarray(image)


def pixels(data: bytes) -> np.ndarray:
    with PIL.Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def test_read_tiff_refuses_damaged_structures():
    tiff = mint_sample.multi_frame_tiff([mint_sample.picture(8, 8, 1), mint_sample.picture(8, 8, 2)])
    assert len(read_tiff(tiff)) == 2
    with pytest.raises(ValueError, match="no TIFF header"):
        read_tiff(b"\x89PNG\r\n\x1a\n" + tiff[8:])
    with pytest.raises(ValueError, match="truncated"):
        read_tiff(tiff[: len(tiff) // 2])
    looped = bytearray(tiff)
    looped[4:8] = (8).to_bytes(4, "little")
    looped[8:10] = b"\x00\x00"   # an empty IFD at 8 ...
    looped[10:14] = (8).to_bytes(4, "little")   # ... whose next IFD is itself
    with pytest.raises(ValueError, match="loops"):
        read_tiff(bytes(looped))
    with pytest.raises(ValueError, match="BigTIFF"):
        read_tiff(b"II+\x00" + tiff[4:])


def test_a_jpeg_frame_rewrapped_as_jpeg_decodes_to_exactly_the_frames_pixels():
    frames = [mint_sample.picture(640, 480, 1), mint_sample.picture(33, 21, 2), mint_sample.picture(9, 40, 3, "L")]
    tiff = mint_sample.multi_frame_tiff(frames)
    for k, frame in enumerate(read_tiff(tiff)):
        data, extension = frame_image(tiff, frame)
        assert extension == "jpg" and data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
        assert np.array_equal(pixels(data), frame_pixels(tiff, k))
        with PIL.Image.open(io.BytesIO(tiff)) as source:  # each strip's compressed data, byte for byte
            source.seek(k)
            for offset, size in zip(source.tag_v2[273], source.tag_v2[279]):
                strip = tiff[offset:offset + size]
                sos = strip.index(b"\xff\xda")
                assert strip[sos + 2 + int.from_bytes(strip[sos + 2:sos + 4], "big"):-2] in data


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "tiff_adobe_deflate"])
def test_a_frame_of_another_compression_becomes_a_one_frame_tiff_of_the_same_pixels(compression):
    frames = [mint_sample.picture(20, 12, 4), mint_sample.picture(7, 7, 5, "RGBA")]
    tiff = mint_sample.multi_frame_tiff(frames, compression)
    for k, frame in enumerate(read_tiff(tiff)):
        data, extension = frame_image(tiff, frame)
        assert extension == "tiff" and len(read_tiff(data)) == 1
        assert np.array_equal(pixels(data), frame_pixels(tiff, k))


def test_a_damaged_frame_says_why():
    tiff = mint_sample.multi_frame_tiff([mint_sample.picture(16, 16, 6)], "tiff_lzw")
    with pytest.raises(ValueError, match=r"^the frame does not decode \("):
        frame_image(mint_sample.damage_frame(tiff, 0), read_tiff(tiff)[0])
    frame = read_tiff(tiff)[0]
    with pytest.raises(ValueError, match="beyond the end of the file"):
        frame_image(tiff[:len(tiff) // 3], frame)


@prop
@given(st.integers(1, 70), st.integers(1, 70), st.integers(0, 2**16), st.sampled_from(["RGB", "L"]),
       st.integers(1, 3))
def test_any_jpeg_frame_rewraps_to_its_pixels(width, height, seed, mode, count):
    frames = [mint_sample.picture(width + k, height, seed + k, mode) for k in range(count)]
    tiff = mint_sample.multi_frame_tiff(frames)
    for k, frame in enumerate(read_tiff(tiff)):
        data, _ = frame_image(tiff, frame)
        assert np.array_equal(pixels(data), frame_pixels(tiff, k))


# ---- video ----------------------------------------------------------------------------------------------------

def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


MP4_BOXES = box(b"ftyp", b"isom\0\0\2\0isom") + box(b"moov", b"\0" * 40) + box(b"mdat", b"\1" * 1000)


def test_mp4_truncation_reads_the_top_level_boxes():
    assert mp4_truncation(MP4_BOXES) is None and mp4_truncation(b"") is None
    assert mp4_truncation(MP4_BOXES[:-8]) == "the 'mdat' box at byte 68 needs 1,008 bytes but the file ends 8 bytes early"
    assert mp4_truncation(MP4_BOXES + b"\0\0\0") == "3 stray byte(s) after the last box"
    assert mp4_truncation(b"\0\0\0\4free") == "the 'free' box at byte 0 declares an impossible size (4)"
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 4) + b"\0" * 4
    assert mp4_truncation(large) is None and mp4_truncation(large[:12]) == "the 'mdat' box header is cut short"
    assert mp4_truncation(box(b"ftyp", b"isom") + struct.pack(">I4s", 0, b"mdat") + b"to the end") is None
    assert mp4_truncation(struct.pack(">I4s", 99, b"\x01\xff\0a")) == \
        "the '\\x01\\xff\\x00a' box at byte 0 needs 99 bytes but the file ends 91 bytes early"


def test_container_signatures():
    assert first_box(MP4_BOXES) == b"ftyp" and has_signature(MP4_BOXES, "mp4") and has_signature(MP4_BOXES, "mov")
    assert has_signature(box(b"mdat", b"x"), "mp4") and not has_signature(b"<html>404</html>", "mp4")
    assert has_signature(b"\x1a\x45\xdf\xa3\x01", "webm") and has_signature(b"\x1a\x45\xdf\xa3", "matroska")
    assert not has_signature(MP4_BOXES, "webm") and not has_signature(b"", "mp4")


@prop
@given(st.integers(0, len(MP4_BOXES)))
def test_a_cut_mp4_is_reported_unless_cut_between_boxes(length):
    boundaries = {0, 24, 68, len(MP4_BOXES)}
    assert (mp4_truncation(MP4_BOXES[:length]) is None) == (length in boundaries)


@pytest.fixture(scope="module")
def full_video(tmp_path_factory):
    """6 s of H.264 (10 fps, a keyframe every 2 s, B-frames) and AAC, as the InternVid sample tree's full videos."""
    path = tmp_path_factory.mktemp("video") / "full.mp4"
    path.write_bytes(make_mp4(6.0, 3))
    return path


def packets(source, kind: str) -> list:
    stream = source.streams.video[0] if kind == "video" else source.streams.audio[0]
    return [p for p in source.demux(stream) if p.dts is not None]


def test_a_cut_clip_is_the_sources_packets_from_the_keyframe_before_the_start(full_video):
    data, start, end = cut_clip(full_video, 2.5, 4.0, "mp4")
    assert (start, end) == (2.0, 4.3)  # the keyframe at 2 s; the frames decoded before 4 s end at 4.3 s (B-frames)
    with av.open(str(full_video)) as source, av.open(io.BytesIO(data)) as clip:
        video = packets(source, "video")
        first = next(i for i, p in enumerate(video) if p.is_keyframe and p.pts * p.time_base == 2)
        copied = packets(clip, "video")
        assert [bytes(p) for p in copied] == [bytes(p) for p in video[first:first + len(copied)]]
        assert copied[0].is_keyframe and min(p.pts for p in copied) == 0  # the clip's own time starts at zero
        assert Fraction(max(p.pts + p.duration for p in copied)) * copied[0].time_base == Fraction(23, 10)
        assert len(copied) == 22   # 2.0 s to 4.0 s and 4.2 s: the frame at 4.1 s is decoded after 4 s
    with av.open(str(full_video)) as source, av.open(io.BytesIO(data)) as clip:
        sound = [bytes(p) for p in packets(source, "audio") if 2 <= p.pts * p.time_base < 4]
        assert [bytes(p) for p in packets(clip, "audio")] == sound
    with av.open(io.BytesIO(data)) as clip:
        assert len(list(clip.decode(video=0))) == 22   # every copied frame decodes: the clip stands on its own


def test_the_cut_is_deterministic(full_video):
    assert cut_clip(full_video, 0.5, 1.5, "mp4") == cut_clip(full_video, 0.5, 1.5, "mp4")
    assert cut_clip(full_video, 0.0, 1.0, "mp4")[1:] == (0.0, 1.3)


def test_what_cannot_be_cut(full_video, tmp_path):
    with pytest.raises(MediaError, match=r"^no video at -3\.000--1\.000 s \(it starts before the first keyframe\)$") \
            as error:
        cut_clip(full_video, -3, -1, "mp4")
    assert error.value.kind == "outside"
    with pytest.raises(MediaError, match=r"^no video at 8\.000-9\.000 s \(the video ends at 6\.000 s\)$") as error:
        cut_clip(full_video, 8, 9, "mp4")  # not the last seconds of the video in place of the window
    assert error.value.kind == "outside"
    assert cut_clip(full_video, 5.5, 9, "mp4")[1:] == (4.0, 6.0)  # a window the video ends inside: cut to its end
    (tmp_path / "page.mp4").write_bytes(b"<html>404</html>")
    with pytest.raises(MediaError, match=r"^cannot read the video \(.*Invalid data found") as error:
        cut_clip(tmp_path / "page.mp4", 0, 1, "mp4")
    assert error.value.kind == "unreadable"
    (tmp_path / "sound.mp4").write_bytes(musecar_sample.wav_bytes(musecar_sample.signal(1, 500)))
    with pytest.raises(MediaError, match="^the file has no video stream$") as error:
        cut_clip(tmp_path / "sound.mp4", 0, 1, "mp4")
    assert error.value.kind == "no_video_stream"


# ---- audio ----------------------------------------------------------------------------------------------------

WAV = musecar_sample.wav_bytes(musecar_sample.signal(1, 1000))   # 1 s of 16 kHz PCM16


def test_wav_truncation_compares_the_riff_size_with_the_file():
    assert wav_truncation(WAV) is None and wav_truncation(WAV + b"trailer") is None
    assert wav_truncation(WAV[:30000]) == f"the RIFF header declares {len(WAV):,} bytes but the file has 30,000"
    assert wav_truncation(WAV[:4] + b"\xff\xff\xff\xff" + WAV[8:100]) is None   # RF64 / streamed: unknown length
    assert wav_truncation(b"fLaC" + WAV[4:]) is None and wav_truncation(b"RIFF") is None


def test_probe_audio_reads_the_header_and_says_why_not_without_an_address():
    assert (probe_audio(WAV).frames, probe_audio(WAV).samplerate, probe_audio(WAV).channels) == (16000, 16000, 1)
    assert probe_audio(WAV).unreadable is None
    assert probe_audio(b"hello").unreadable == "Format not recognised."
    assert probe_audio(b"RIFF1234WAVEjunk").unreadable == "Error in WAV file. No 'data' chunk marker."
    assert probe_audio(WAV[:44]).frames == 0   # a header and no samples: readable, empty


@prop
@given(st.one_of(damaged(WAV[:2000]), st.binary(max_size=64)))
def test_probe_audio_never_raises_and_says_the_same_for_the_same_bytes(data):
    probe = probe_audio(data)
    assert probe == probe_audio(data) and (probe.frames is None) == (probe.unreadable is not None)
    assert probe.unreadable is None or not ADDRESS.search(probe.unreadable)


def test_cut_audio_refuses_segments_outside_the_file(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(musecar_sample.wav_bytes(musecar_sample.signal(1, 1000)))
    with soundfile.SoundFile(path) as source:
        data = cut_audio(source, 900, 1200, overrun_ms=250)     # within the allowed overrun of the end
        assert soundfile.info(io.BytesIO(data)).frames == 100 * 16
        with pytest.raises(MediaError, match="outside the audio"):
            cut_audio(source, 900, 1300, overrun_ms=250)
        with pytest.raises(MediaError, match=r"^segment 900-1001 ms lies outside the audio \(1000 ms\)$") as error:
            cut_audio(source, 900, 1001)
        assert error.value.kind == "outside"
        with pytest.raises(MediaError, match="outside the audio"):
            cut_audio(source, 500, 500)


def test_open_audio_says_why_a_file_does_not_open(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"not audio")
    with pytest.raises(MediaError, match="Format not recognised"):
        open_audio(tmp_path / "a.wav")
    (tmp_path / "b.wav").write_bytes(WAV)
    with open_audio(tmp_path / "b.wav") as source:
        assert source.frames == 16000


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_U8", "PCM_32", "FLOAT"])
def test_a_cut_keeps_every_sample_exactly_in_the_source_format(tmp_path, subtype):
    samples = musecar_sample.signal(2, 1000)
    path = tmp_path / "a.wav"
    soundfile.write(path, samples, 16000, subtype=subtype)
    with soundfile.SoundFile(path) as source:
        data = cut_audio(source, 250, 750)
        source.seek(0)
        original = source.read(dtype="float64")
    cut, rate = soundfile.read(io.BytesIO(data), dtype="float64")
    assert rate == 16000 and np.array_equal(cut, original[4000:12000])
    assert (soundfile.info(io.BytesIO(data)).format, soundfile.info(io.BytesIO(data)).subtype) == ("WAV", subtype)
    if subtype == "PCM_16":  # the frames are the source's bytes
        assert data[-8000 * 2:] in path.read_bytes()


@prop
@given(st.integers(0, 999), st.integers(1, 1000))
def test_any_window_inside_the_audio_is_cut_to_its_samples(tmp_path_factory, start_ms, length_ms):
    path = tmp_path_factory.getbasetemp() / "window.wav"
    if not path.exists():
        path.write_bytes(WAV)
    end_ms = start_ms + length_ms
    with soundfile.SoundFile(path) as source:
        if end_ms > 1000:
            with pytest.raises(MediaError, match="outside the audio"):
                cut_audio(source, start_ms, end_ms)
            return
        data = cut_audio(source, start_ms, end_ms)
    cut, _ = soundfile.read(io.BytesIO(data), dtype="int16")
    assert np.array_equal(cut, musecar_sample.signal(1, 1000)[start_ms * 16:end_ms * 16])
