"""Property-based fuzzing of every builder's pure parsing functions: whatever the input, the only exception
that may escape is RawDataError (which the CLIs turn into exit 2 with a located message).

Inputs are arbitrary text and bytes, text built from each format's own tokens (so that deep branches are
reached, not only the first syntax check), JSON values of every shape, and mutations of the sample
generators' real files (bit flips, cuts and insertions in TIFF, JPEG, MP4 and WAV bytes).
The number of examples is bounded and the search is derandomized so the suite stays fast and repeatable;
set MM_FUZZ_EXAMPLES=20000 for a long exploratory run with fresh random examples.
"""
from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builders import bigdocs, flickr30k_entities as f30k, internvid, mint1t, movieqa, musecar, nmb_plus
from builders.errors import RawDataError, RecordLog
from builders.fields import documented
from builders.samples import mint1t as mint1t_sample

EXAMPLES = int(os.environ.get("MM_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize="MM_FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
WHERE = "fuzzed"


def only_raw_data_errors(parse, *args):
    """Call a parser; a RawDataError is an accepted outcome (and must say where), anything else fails."""
    try:
        return parse(*args)
    except RawDataError as error:
        assert error.problem and str(error), "a RawDataError must say what is wrong"
        assert len(str(error)) < 4000, f"the message echoes too much of the input ({len(str(error))} characters)"
        return error


def tokens(*pieces: str, max_size: int = 40):
    """Text assembled from a format's own tokens and a little noise: reaches the parser's deeper checks."""
    noise = st.text(alphabet=st.characters(codec="utf-8"), max_size=3)
    return st.lists(st.one_of(st.sampled_from(pieces), noise), max_size=max_size).map("".join)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)), max_leaves=12)


def records(keys: dict):
    """Dicts with some of `keys`, each holding a value of its expected shape or anything else."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, JSON_VALUES) for k, v in keys.items()})


def mutations(data: bytes):
    """Bytes derived from a real file: cut, with bytes overwritten, inserted or deleted."""
    @st.composite
    def mutate(draw):
        result = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            if not result:
                break
            position = draw(st.integers(0, len(result) - 1))
            action = draw(st.sampled_from(["cut", "overwrite", "insert", "delete"]))
            chunk = draw(st.binary(min_size=1, max_size=8))
            if action == "cut":
                del result[position:]
            elif action == "overwrite":
                result[position:position + len(chunk)] = chunk
            elif action == "insert":
                result[position:position] = chunk
            else:
                del result[position:position + len(chunk)]
        return bytes(result)
    return mutate()


_SCRATCH = Path(tempfile.mkdtemp(prefix="mmb-fuzz-"))


def scratch_file(data: bytes, name: str = "file.csv") -> Path:
    path = _SCRATCH / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Real media files from the sample generators, to mutate."""
    from builders.samples import make_sample

    root = tmp_path_factory.mktemp("samples")
    for name in ("flickr30k_entities", "movieqa", "musecar", "mint1t"):
        make_sample(name, root / name)
    tiffs = []
    import tarfile
    for tar in sorted((root / "mint1t").rglob("CC-MAIN-*.tar")):
        with tarfile.open(tar) as archive:
            tiffs += [archive.extractfile(m).read() for m in archive if m.name.endswith(".tiff")]
    return {
        "jpeg": (root / "flickr30k_entities" / "flickr30k-images" / "12345.jpg").read_bytes(),
        "mp4": next((root / "movieqa").rglob("*.mp4")).read_bytes() or b"",
        "wav": next((root / "musecar").rglob("3_1.wav")).read_bytes(),
        "tiff": tiffs[0],
        "xml": f30k_xml(),
    }


def f30k_xml() -> bytes:
    from builders.samples.flickr30k_entities import _hand_written_images, format_annotation_xml

    return format_annotation_xml(_hand_written_images()[2]).encode()


# ---- Flickr30K Entities ---------------------------------------------------------------------------------

CAPTION_TOKENS = ("[/EN#", "12", "0", "/people", "/scene", "/other", "/bogus", "]", "[", " ", "word", "#", "/",
                  "\n", "٣", "²", "\t")


@fuzz
@given(tokens(*CAPTION_TOKENS))
def test_flickr_captions(text):
    result = only_raw_data_errors(f30k.parse_sentences, text, WHERE)
    if not isinstance(result, RawDataError):
        for caption in result:
            words = caption["text"].split(" ") if caption["text"] else []
            for phrase in caption["phrases"]:  # phrases index the caption's own words
                assert words[phrase["first_word_index"]:][:len(phrase["text"].split(" "))] == phrase["text"].split(" ")


XML_TOKENS = ("<annotation>", "</annotation>", "<size>", "</size>", "<width>", "</width>", "<height>", "</height>",
              "<object>", "</object>", "<name>", "</name>", "<bndbox>", "</bndbox>", "<xmin>", "</xmin>", "<ymin>",
              "</ymin>", "<xmax>", "</xmax>", "<ymax>", "</ymax>", "<scene>", "</scene>", "<nobndbox>", "</nobndbox>",
              "500", "1", "0", "-3", "²", "x", "<!DOCTYPE a [<!ENTITY e 'x'>]>", "&e;", "<?xml version='1.0'?>")


@fuzz
@given(tokens(*XML_TOKENS, max_size=60))
def test_flickr_annotation_xml_from_tokens(text):
    only_raw_data_errors(f30k.parse_annotation_xml, text.encode("utf-8", "surrogatepass"), WHERE)


@fuzz
@given(tokens(*XML_TOKENS, "<?xml version='1.0' encoding='latin-1'?>", "\x00", max_size=60))
def test_flickr_annotation_xml_reads_as_defusedxml_reads_it(text):
    """`xml_root` gives defusedxml's tree, or its error, whichever parser it takes."""
    data = text.encode("utf-8", "surrogatepass")
    try:
        expected = ElementTree.tostring(SafeET.fromstring(data))
    except (ElementTree.ParseError, DefusedXmlException) as error:
        with pytest.raises(type(error)):
            f30k.xml_root(data)
    else:
        assert ElementTree.tostring(f30k.xml_root(data)) == expected


@fuzz
@given(st.data())
def test_flickr_annotation_xml_mutated(samples, data):
    only_raw_data_errors(f30k.parse_annotation_xml, data.draw(mutations(samples["xml"])), WHERE)


@fuzz
@given(tokens("12345", "98765", " ", "\n", "\r\n", "#", "x", "²", "٣", "5", "0", max_size=30))
@example("12345 ²")  # '²'.isdigit() is true but int('²') fails
def test_flickr_line_files(text):
    only_raw_data_errors(f30k.parse_split_file, text, WHERE)
    only_raw_data_errors(f30k.parse_unrelated_captions, text, WHERE)
    only_raw_data_errors(f30k.parse_token_file, text.replace("#", ".jpg#").replace(" ", "\t"), WHERE)


KARPATHY_IMAGE = records({"filename": st.text(max_size=10).map(lambda s: s + ".jpg"),
                          "split": st.sampled_from(["train", "val", "test", "restval"]),
                          "sentences": st.lists(records({"sentid": st.integers(), "raw": st.text(max_size=5),
                                                         "tokens": st.lists(st.text(max_size=3))}), max_size=3)})


@fuzz
@given(st.one_of(JSON_VALUES, st.fixed_dictionaries({"images": st.lists(KARPATHY_IMAGE, max_size=4)})))
def test_flickr_karpathy_json(document):
    only_raw_data_errors(f30k.parse_karpathy, json.dumps(document).encode(), WHERE)


@fuzz
@given(st.data())
def test_flickr_jpeg_check(samples, data):
    only_raw_data_errors(f30k.check_jpeg, data.draw(st.one_of(mutations(samples["jpeg"]), st.binary())), WHERE)


def pillow_header(data: bytes):
    """What Pillow's Image.open says of the bytes: (format, size, warnings), or the exception's type."""
    import io
    import warnings

    import PIL.Image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with PIL.Image.open(io.BytesIO(data)) as image:
                return image.format, image.size, [str(w.message) for w in caught]
        except Exception as error:  # noqa: BLE001 (any failure: the fast path must have left the bytes to Pillow)
            return type(error).__name__


def segment(marker: int, payload: bytes, length_change: int = 0) -> bytes:
    return bytes([0xFF, marker]) + max(0, len(payload) + 2 + length_change).to_bytes(2, "big")[-2:] + payload


@st.composite
def jpeg_headers(draw) -> bytes:
    """SOI and segments of every kind Pillow's header reader knows, right or damaged, junk and fill bytes between
    them, then a scan or not."""
    parts = [b"\xff\xd8"]
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["app", "dqt", "sof", "skip", "bare", "junk", "fill", "escaped", "bytes"]))
        change = draw(st.sampled_from([0, 0, 0, -1, 1, -3, -40]))
        if kind == "app":
            prefix = draw(st.sampled_from([b"JFIF\0", b"JFIF", b"Exif\0\0", b"ICC_PROFILE\0", b"MPF\0", b"Adobe",
                                           b"Photoshop 3.0\x00", b"http://ns.adobe.com/xap/1.0/\x00", b"FPXR\0", b""]))
            parts.append(segment(draw(st.integers(0xE0, 0xEF)), prefix + draw(st.binary(max_size=16)), change))
        elif kind == "dqt":
            tables = b"".join(bytes([v]) + bytes(64 if v < 16 else 128)
                              for v in draw(st.lists(st.sampled_from([0, 1, 16, 17]), max_size=3)))
            parts.append(segment(0xDB, tables + draw(st.binary(max_size=3)), change))
        elif kind == "sof":
            components = draw(st.integers(0, 5))
            payload = (bytes([draw(st.sampled_from([8, 8, 12]))]) + draw(st.integers(0, 600)).to_bytes(2, "big")
                       + draw(st.integers(0, 600)).to_bytes(2, "big") + bytes([components])
                       + draw(st.binary(min_size=3 * components, max_size=3 * components + 2)))
            marker = draw(st.sampled_from([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                                           0xCF, 0xDE]))
            parts.append(segment(marker, payload[:draw(st.integers(0, len(payload)))] if change < -1 else payload,
                                 change))
        elif kind == "skip":
            parts.append(segment(draw(st.sampled_from([0xC4, 0xCC, 0xDC, 0xDD, 0xDF, 0xFE])), draw(st.binary(max_size=8)),
                                 change))
        elif kind == "bare":  # markers without a length: JPG, RSTn, SOI, EOI, JPGn; and markers that are none
            parts.append(bytes([0xFF, draw(st.sampled_from([0xC8, 0xD0, 0xD7, 0xD8, 0xD9, 0xF0, 0xFD, 0x01, 0xBF]))]))
        elif kind == "junk":
            parts.append(draw(st.binary(min_size=1, max_size=3)))
        elif kind == "fill":
            parts.append(b"\xff" * draw(st.integers(1, 3)))
        elif kind == "escaped":
            parts.append(b"\xff\x00")
        else:
            parts.append(draw(st.binary(max_size=6)))
    if draw(st.booleans()):
        parts.append(segment(0xDA, draw(st.binary(max_size=6))) + draw(st.binary(max_size=8)))
    data = b"".join(parts)
    return data[:draw(st.integers(0, len(data)))] if draw(st.integers(0, 9)) == 0 else data


@fuzz
@given(st.data())
def test_flickr_and_nmb_plus_jpeg_headers_are_read_as_pillow_reads_them(samples, data):
    """builders.media.jpeg_size, which probe_image uses before Pillow: where it gives a size, Pillow opens the
    bytes as a JPEG of that size without a warning; elsewhere Pillow decides (probe_image as before)."""
    from builders.media.image import jpeg_size, probe_image

    real = [samples["jpeg"], *(p.read_bytes() for p in sorted(REAL_JPEGS.glob("*.jpg")))] if REAL_JPEGS else [samples["jpeg"]]
    header = data.draw(st.one_of(jpeg_headers(), mutations(data.draw(st.sampled_from(real)))))
    size = jpeg_size(header)
    if size is not None:
        assert pillow_header(header) == ("JPEG", size, [])
        assert probe_image(header).size == size and probe_image(header).format == "JPEG"


REAL_JPEGS = (Path(os.environ["MM_REALDATA"]) / "flickr30k_entities" / "flickr30k-images"
              if os.environ.get("MM_REALDATA") else None)


def test_the_jpeg_header_reader_reads_the_real_photos(samples):
    """It is the path the builders take: every sample and real photo is read by it, as Pillow reads it."""
    from builders.media.image import jpeg_size

    real = [samples["jpeg"], *(p.read_bytes() for p in sorted(REAL_JPEGS.glob("*.jpg")))] if REAL_JPEGS else [samples["jpeg"]]
    frame_only = b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x02\x00\x03\x01\x01\x11\x00"  # no scan: Pillow reads it too
    for data in [*real, frame_only]:
        assert jpeg_size(data) is not None and pillow_header(data) == ("JPEG", jpeg_size(data), [])
    assert jpeg_size(frame_only) == (3, 2)


# ---- MovieQA ----------------------------------------------------------------------------------------------

MOVIE = records({"imdb_key": st.sampled_from(["tt0000001", "tt0000002", "tt1", "x", "٣"]),
                 "name": st.text(max_size=5), "year": st.sampled_from(["2001", 1999, "²", "", None]),
                 "genre": st.text(max_size=8),
                 "text": st.dictionaries(st.sampled_from(["plot", "subtitle", "dvs", "script"]),
                                         st.one_of(st.none(), st.text(max_size=5)))})
QUESTION = records({"qid": st.sampled_from(["train:1", "val:2", "test:3", "train:x", "train:²", "bad", "train:٣"]),
                    "imdb_key": st.sampled_from(["tt0000001", "tt0000002", "tt9"]),
                    "question": st.text(max_size=5), "answers": st.lists(st.text(max_size=3), max_size=6),
                    "correct_index": st.one_of(st.integers(-2, 6), st.sampled_from(["1", "²", "٣", True])),
                    "plot_alignment": st.lists(st.one_of(st.integers(-1, 3), st.booleans())),
                    "video_clips": st.lists(st.sampled_from(["tt0000001.sf-000010.ef-000059.video.mp4",
                                                             "tt0000002.sf-000090.ef-000010.video.mp4", "x.mp4"]))})


@fuzz
@given(st.one_of(JSON_VALUES, st.lists(MOVIE, max_size=3)),
       st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(["train", "val", "test", "dev"]),
                                              st.lists(st.one_of(st.sampled_from(["tt0000001", "tt0000002"]),
                                                                 JSON_VALUES), max_size=3))))
@example([{"imdb_key": "tt0000001", "name": "", "year": "²", "genre": "", "text": {}}], {})
@example([], {"train": [[]]})  # an unhashable key
def test_movieqa_movies_and_splits(movies, splits):
    parsed = only_raw_data_errors(movieqa.parse_movies, json.dumps(movies).encode(), WHERE)
    if not isinstance(parsed, RawDataError):
        only_raw_data_errors(movieqa.parse_splits, json.dumps(splits).encode(), WHERE, parsed)


@fuzz
@given(st.one_of(QUESTION, JSON_VALUES))
@example({"qid": "train:1", "imdb_key": []})
@example({"qid": "train:1", "imdb_key": "tt0000001", "question": "", "answers": [""] * 5, "correct_index": "²"})
def test_movieqa_question_records(record):
    split_of = {"tt0000001": "train", "tt0000002": "validation"}

    def both():
        split = movieqa.question_split(record, WHERE, 3, split_of)
        return movieqa.parse_question(record, WHERE, 3, split)
    only_raw_data_errors(both)


@fuzz
@given(st.one_of(st.binary(max_size=64), tokens("[", "]", "{", "}", ",", " ", "\n", '"qid"', ":", "1", "\ufeff")))
def test_movieqa_json_list(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    only_raw_data_errors(movieqa.read_json_list, data, WHERE)


MOVIES = {"tt0000001": movieqa.Movie("tt0000001", "One", 2001, ("Drama",), {}),
          "tt0000002": movieqa.Movie("tt0000002", "Two", 2002, (), {})}


@fuzz
@given(st.one_of(QUESTION, st.builds(dict, qid=st.just("train:1"), imdb_key=st.just("tt0000001"),
                                     question=st.text(max_size=5), answers=st.lists(st.text(max_size=2), min_size=5,
                                                                                   max_size=5),
                                     correct_index=st.one_of(st.none(), st.integers(-1, 5)),
                                     video_clips=st.just(["tt0000001.sf-000010.ef-000059.video.mp4"]))))
def test_movieqa_question_values_are_the_reference_row(record):
    """The `qa` fast path gives a record exactly the row question_row(parse_question(...)) gives, or leaves it."""
    split_of = {"tt0000001": "train", "tt0000002": "test"}
    try:
        split = movieqa.question_split(record, WHERE, 3, split_of)
    except RawDataError:
        return  # rejected while planning: never reaches a shard job
    values = movieqa.question_values(record, split, MOVIES)
    try:
        row = movieqa.question_row(movieqa.parse_question(record, WHERE, 3, split), MOVIES[record["imdb_key"]])
    except RawDataError:
        assert values is None
        return
    if values is not None:
        reference = tuple(row[name] for name in movieqa.QA_FIELDS)
        assert repr(values) == repr(reference)


@fuzz
@given(st.one_of(st.binary(max_size=64), tokens("[", "]", "{", "}", ",", " ", "\n", "\x0c", '"qid"', ":", "1", "NaN",
                                                 "\ufeff", '"é"', "\u00a0", "12", "1e", "tru", "true")),
       st.integers(1, 9))
@example(b"[\n  1.5\n]", 3)  # "1." read first: the number was taken for a whole 1
@example(b"[12, 1e5]", 1)
def test_movieqa_json_list_scan_reads_what_read_json_list_reads(tmp_path_factory, data, chunk_bytes):
    """Items, their byte ranges and errors alike, whatever the chunks the file is read in."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path = tmp_path_factory.mktemp("scan") / "qa.json"
    path.write_bytes(data)
    scanned = only_raw_data_errors(lambda: list(movieqa.scan_json_list(path, chunk_bytes)))
    reference = only_raw_data_errors(movieqa.read_json_list, data, WHERE)
    if isinstance(reference, RawDataError):
        assert isinstance(scanned, RawDataError) and (scanned.problem, scanned.line) == (reference.problem,
                                                                                         reference.line)
        return
    assert repr([item for _, _, item in scanned]) == repr([item for _, item in reference])
    for (start, end, item), (line, _) in zip(scanned, reference):
        assert repr(json.loads(data[start:end].decode())) == repr(item)
        assert data.count(b"\n", 0, start) + 1 == line


SRT_TOKENS = ("1", "²", "\n", "\r\n", "00:00:01,000", "00:00:02.50", " --> ", "-->", "00:15:*****9", "<i>", "</i>",
              "text", " ", "99:99:99,999", ":", ",", "\ufeff")


@fuzz
@given(st.one_of(st.binary(max_size=64), tokens(*SRT_TOKENS, max_size=50).map(lambda t: t.encode("utf-8", "surrogatepass"))))
@example("²\n00:00:01,000 --> 00:00:02,000\nx".encode())
def test_movieqa_subtitles_never_fail(data):
    """A subtitle file never stops the build: unreadable cues go to skipped_cues."""
    track = movieqa.parse_subtitle_file(data)
    assert set(track) == {"encoding", "cues", "skipped_cues"}
    assert all(isinstance(cue["start"], float) for cue in track["cues"])


@fuzz
@given(st.one_of(st.binary(max_size=64), tokens("A sentence.", "\n", "\r\n", "\r", " ", "\t", "\u00a0", "\u0085", "\ufeff",
                                                max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass"))))
@example(b"\xef\xbb\xbf\n\x85\n")
def test_movieqa_split_plot_lines_match_readlines(data):
    """Whatever the bytes, a split plot has exactly the lines Python 2 readlines() gives (what plot_alignment
    counts), each stripped of ASCII whitespace."""
    lines = movieqa.file_lines(data)
    assert len(lines) == data.count(b"\n") + (not data.endswith(b"\n") and data not in (b"", b"\xef\xbb\xbf"))
    assert all(line == line.strip(" \t\n\r\x0b\x0c") for line in lines)


@fuzz
@given(tokens("0", "1", "2", " ", "0.040", "\n", "x", "²", "-1", "1e999", "nan", max_size=30))
def test_movieqa_frame_and_shot_files(text):
    data = text.encode("utf-8", "surrogatepass")
    only_raw_data_errors(movieqa.parse_matidx, data, WHERE)
    only_raw_data_errors(movieqa.parse_shot_boundaries, data, WHERE)


@fuzz
@given(st.data())
def test_movieqa_mp4_status(samples, data):
    assert movieqa.mp4_status(data.draw(st.one_of(st.none(), st.binary(), mutations(samples["mp4"])))) in \
        {"ok", "missing", "empty", "not mp4", "truncated"}


# ---- MuSe-CaR -----------------------------------------------------------------------------------------------

CSV_TOKENS = ("timestamp", "value", "segment_id", "class_id", "start", "end", "word", "id", "partition", "proposal",
              "label_topic", "label_arousal", "label_valence", "mean", "speaker_id", "youtube_id", ",", "\n", "\r\n",
              '"', "1", "2", "250", "0.5", "nan", "", "train", "devel", "test", "x", "²", "1e400", "-1", "4750.0")
MUSE_PARSERS = [musecar.parse_continuous_labels, musecar.parse_class_labels, musecar.parse_aggregated_topic_labels,
                musecar.parse_video_metadata, musecar.parse_partition]


@fuzz
@given(tokens(*CSV_TOKENS, max_size=60), st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
@example("\x80", "latin-1")  # not UTF-8
def test_musecar_csv_files(text, encoding):
    path = scratch_file(text.encode(encoding, "replace"))
    table = only_raw_data_errors(musecar.read_csv, path)
    if not isinstance(table, RawDataError):
        for parse in MUSE_PARSERS:
            only_raw_data_errors(parse, table)
        only_raw_data_errors(musecar.read_partition, path, RecordLog("skip"))
    only_raw_data_errors(musecar.read_transcript, path, 1)
    only_raw_data_errors(musecar.check_class_mapping, path, "topic", musecar.TOPIC_CLASSES)
    only_raw_data_errors(musecar.read_feature_file, path)


@fuzz
@given(st.data())
def test_musecar_wav_check(samples, data):
    only_raw_data_errors(musecar.check_wav, scratch_file(data.draw(mutations(samples["wav"])), "audio.wav"))
    only_raw_data_errors(musecar.check_mp4, scratch_file(data.draw(st.binary(max_size=16)), "video.mp4"))


# ---- InternVid ------------------------------------------------------------------------------------------------

LINE_TOKENS = ('{"YoutubeID": "aB3dE5fG7hI", ', '"Start_timestamp": "00:00:01.000", ', '"End_timestamp": "0:0:2.5", ',
               '"Caption": "a cat", ', '"UMT_Score": 0.4, ', '"Aesthetic_Score": "x", ', '"Language": 3, ', "}", "{",
               "[1]", "\n", "\n\n", '"', "\\", "null", "\xff", "99:99:99.999", ",")


@fuzz
@given(tokens(*LINE_TOKENS, max_size=30), st.booleans())
@example("null", False)  # pyarrow's reader crashed (SIGSEGV) on a buffer starting with null
@example("\n\nnull\n{}", True)
def test_internvid_caption_lines(text, has_info):
    data = text.encode("utf-8", "surrogatepass")
    lines = internvid.count_lines(data)
    table, row_lines, unparsed = internvid.parse_json_lines(data, internvid.release_schema(has_info), lines)
    columns, problems = internvid.caption_columns(table, has_info)
    assert len(columns["youtube_id"]) + len(problems) == table.num_rows
    assert all(0 <= index < lines for index, _ in unparsed)


@fuzz
@given(st.one_of(JSON_VALUES, records({"YoutubeID": st.text(max_size=12), "url": st.text(max_size=30),
                                       "clips": st.lists(st.lists(st.one_of(st.text(max_size=12), st.floats()),
                                                                  max_size=3), max_size=2),
                                       "status": st.sampled_from(["success", "failed_to_download", "x"])})),
       st.booleans())
@example({"status": "failed_to_download", "YoutubeID": [None], "clips": [["0", 0.0]]}, False)
def test_internvid_video2dataset_metadata(sample, with_video):
    index = internvid.VideoIndex()
    data = json.dumps(sample).encode()
    only_raw_data_errors(internvid.add_video2dataset_sample, index, data, ("k.mp4", 0, 1) if with_video else None,
                         Path("/nowhere/00000.tar"), "video2dataset/00000.tar")


@fuzz
@given(tokens("aB3dE5fG7hI", "_", "00-00-20-000", "12:34:56.789", ".", "-", "x", "[", "]", max_size=8))
def test_internvid_file_names(stem):
    clip = internvid.parse_clip_file_name(stem)
    assert clip is None or (len(clip) == 3 and clip[1] >= 0)
    assert isinstance(internvid.full_video_id(stem), str)
    assert internvid.youtube_id_from_url(stem) is None or len(internvid.youtube_id_from_url(stem)) == 11


# ---- MINT-1T ------------------------------------------------------------------------------------------------------

DOCUMENT = records({"texts": st.lists(st.one_of(st.none(), st.text(max_size=4), JSON_SCALARS), max_size=4),
                    "images": st.lists(st.one_of(st.none(), st.text(max_size=4), JSON_SCALARS), max_size=4),
                    "image_metadata": JSON_VALUES, "url": JSON_SCALARS,
                    "language_id_whole_page_fasttext": JSON_VALUES})


@fuzz
@given(st.one_of(DOCUMENT, JSON_VALUES), st.binary(max_size=4))
def test_mint1t_document_json(document, noise):
    data = json.dumps(document).encode() + noise
    parsed = only_raw_data_errors(mint1t.parse_document_json, data, WHERE)
    if not isinstance(parsed, RawDataError):
        only_raw_data_errors(mint1t.check_interleaving, parsed[0]["texts"], parsed[0]["images"])


@fuzz
@given(st.data(), st.integers(0, 3))
def test_mint1t_tiff_frames(samples, data, count):
    """A damaged TIFF gives a located error or an image with status undecodable, never a crash."""
    tiff = data.draw(st.one_of(mutations(samples["tiff"]), st.binary(max_size=64)))
    pictures = only_raw_data_errors(mint1t.tiff_pictures, tiff, "doc", count)
    if not isinstance(pictures, RawDataError):
        assert all(p.status in (mint1t.OK, mint1t.UNDECODABLE) for p in pictures)


@fuzz
@given(st.data())
def test_mint1t_single_images(samples, data):
    picture = mint1t.stored_picture(data.draw(st.one_of(mutations(samples["jpeg"]), st.binary())), "x.jpg")
    assert (picture.status == mint1t.OK) == (picture.data is not None)


# MINT-1T HTML files of random documents: the column-wise tables must be the per-document path's, rows, batches,
# bytes, skipped records, notes and counts alike (see test_mint1t.assert_same_html_tables).

HTML_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=5)   # controls, quotes, backslashes, astral
HTML_URLS = st.one_of(HTML_TEXT, st.sampled_from([mint1t_sample.URL_A, mint1t_sample.URL_B, mint1t_sample.URL_404,
                                                  mint1t_sample.URL_BROKEN, "https://old.example.com/p.gif"]))
HTML_DUMPS = st.sampled_from(["CC-MAIN-2024-18", "CC-MAIN-2023-50"])
HTML_COLUMNS = {"texts": pa.list_(pa.string()), "images": pa.list_(pa.string()), "url": pa.string(),
                "cc_dump": pa.string(), "metadata": pa.string(), "image_hashes": pa.list_(pa.string()),
                "images_metadata": pa.list_(pa.string()), "language": pa.string(), "pages": pa.int64()}


@st.composite
def html_documents(draw, columns: list[str]) -> dict:
    """A document, interleaved or (one in four) not: lists of other lengths, a position with both or neither, a
    null list; side columns of the right length or not; metadata that is JSON (NaN included), null or not JSON."""
    kinds = draw(st.lists(st.sampled_from("ti"), max_size=6))
    texts = [draw(HTML_TEXT) if kind == "t" else None for kind in kinds]
    images = [draw(HTML_URLS) if kind == "i" else None for kind in kinds]
    damage = draw(st.sampled_from(["longer", "both", "neither", "no texts", "no images"] + ["none"] * 15))
    if damage == "longer":
        texts.append(draw(st.one_of(st.none(), HTML_TEXT)))
    elif damage in ("both", "neither") and kinds:
        position = draw(st.integers(0, len(kinds) - 1))
        texts[position] = None if damage == "neither" else draw(HTML_TEXT)
        images[position] = None if damage == "neither" else draw(HTML_URLS)
    count = sum(url is not None for url in images)
    if damage == "no texts":
        texts = None
    elif damage == "no images":
        images = None
    side = st.one_of(st.none(), st.lists(st.one_of(st.none(), HTML_TEXT), min_size=count, max_size=count),
                     st.lists(HTML_TEXT, max_size=3))
    values = {"url": st.one_of(st.none(), HTML_TEXT), "cc_dump": st.one_of(st.none(), st.just(""), HTML_DUMPS),
              "metadata": st.one_of(st.none(), JSON_VALUES.map(json.dumps), HTML_TEXT),
              "image_hashes": side, "images_metadata": side, "language": st.one_of(st.none(), HTML_TEXT),
              "pages": st.one_of(st.none(), st.integers(-9, 9))}
    return {"texts": texts, "images": images, **{name: draw(values[name]) for name in columns if name in values}}


@pytest.fixture(scope="module")
def html_builder(tmp_path_factory):
    """A builder of the html config, and an img2dataset folder holding some of the URLs drawn."""
    from builders.pipeline import make_builder

    root = tmp_path_factory.mktemp("html-fuzz")
    mint1t_sample.write_img2dataset(root / "images", mint1t_sample.downloaded_images()[0])
    return make_builder("mint1t", "html", root), root


@fuzz
@given(st.data())
def test_mint1t_html_tables_column_wise_equal_the_per_document_path(html_builder, data):
    from test_mint1t import assert_same_html_tables

    builder, root = html_builder
    names = ["texts", "images"] + data.draw(st.lists(st.sampled_from(list(HTML_COLUMNS)[2:]), unique=True))
    columns = data.draw(st.permutations(names))
    documents = data.draw(st.lists(html_documents(columns), max_size=12))
    path = root / "shard_000_part_000.parquet"
    pq.write_table(pa.Table.from_pylist(documents, schema=pa.schema([(c, HTML_COLUMNS[c]) for c in columns])), path,
                   row_group_size=data.draw(st.integers(1, 5)))
    shard = mint1t.Shard("html", str(path), "MINT-1T-HTML/data_v1_1/shard_000_part_000.parquet",
                         cc_dump=data.draw(st.one_of(st.none(), HTML_DUMPS)),
                         html_images=data.draw(st.sampled_from([None, str(root / "images")])))
    builder.BATCH_BYTES = data.draw(st.sampled_from([1, 150, 1000, mint1t.Mint1T.BATCH_BYTES]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mint1t, "HTML_BATCH_ROWS", data.draw(st.sampled_from([1, 4, 1024])))
        assert_same_html_tables(builder, shard, data.draw(st.sampled_from(["skip", "raise"])))


# ---- BigDocs ------------------------------------------------------------------------------------------------------

IMAGE_CELLS = st.one_of(st.none(), st.binary(max_size=16), JSON_VALUES,
                        st.fixed_dictionaries({"bytes": st.one_of(st.none(), st.binary(max_size=16)),
                                               "path": st.one_of(st.none(), st.text(max_size=5))}))


@fuzz
@given(records({"sample_id": st.text(max_size=5), "image": IMAGE_CELLS,
                "img_id": st.sampled_from(["a.jpg", "../x.jpg", "/etc/passwd", " ", "C:\\x.png", "b"]),
                "query": st.one_of(st.text(max_size=5), st.lists(st.one_of(st.none(), st.text(max_size=3)))),
                "annotations": JSON_VALUES, "extra": JSON_VALUES}))
def test_bigdocs_subset_rows(record):
    columns = {"sample_id": "sample_id", **{name: name for name in ("image", "img_id", "query", "annotations")
                                            if name in record}}
    with bigdocs.SourceImages(None, ()) as sources:
        only_raw_data_errors(bigdocs.subset_row, record, columns, sources)


@fuzz
@given(records({"identifier": st.text(max_size=5), "images": st.one_of(IMAGE_CELLS, st.lists(IMAGE_CELLS, max_size=3)),
                "queries": JSON_VALUES, "task": JSON_SCALARS}))
def test_bigdocs_bench_rows(record):
    columns = {"identifier": "identifier", "images": "images", "queries": "queries", "task": "task"}
    only_raw_data_errors(bigdocs.bench_row, record, columns)


@fuzz
@given(st.lists(st.sampled_from(["train-00000-of-00002.parquet", "train-00001-of-00002.parquet",
                                 "train-00000-of-00003.parquet", "val-00000-of-00001.parquet", "dev-00000-of-00001.parquet",
                                 "data.parquet", "test/part.parquet", "x/y.parquet", ".cache/z.parquet"]),
                unique=True, max_size=5))
def test_bigdocs_split_file_names(names):
    folder = Path(tempfile.mkdtemp(dir=_SCRATCH))
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")
    only_raw_data_errors(bigdocs.list_split_files, folder)


_IMAGE_STORAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_ARROW_TYPES = st.sampled_from([
    pa.string(), pa.large_string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_(), pa.binary(), pa.null(),
    pa.list_(pa.string()), pa.list_(pa.int64()), pa.list_(pa.null()), _IMAGE_STORAGE, pa.list_(_IMAGE_STORAGE),
    pa.struct([("bytes", pa.null())]), pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))]),
    pa.map_(pa.string(), pa.int32()), pa.dictionary(pa.int8(), pa.string()), pa.timestamp("us"),
    pa.decimal128(10, 2), pa.string_view()])
_COLUMN_NAMES = st.sampled_from(["sample_id", "image", "img_id", "query", "queries", "annotations", "annotation",
                                 "identifier", "images", "task", "width", "extra_fields", "release_query", "x", "y"])


@st.composite
def _release_schemas(draw):
    """A config's file schemas: column names the builder knows or not, of any type, some declared Images."""
    schemas = []
    for _ in range(draw(st.integers(1, 3))):
        names = draw(st.lists(_COLUMN_NAMES, unique=True, max_size=6))
        schema = pa.schema([(name, draw(_ARROW_TYPES)) for name in names])
        declared = [name for name in names if draw(st.booleans())]
        if declared:  # the Hub upload's metadata, right or wrong about the column's type
            metadata = datasets.Features({name: datasets.Image() for name in declared}).arrow_schema.metadata
            schema = schema.with_metadata(metadata)
        schemas.append(schema)
    return schemas


@fuzz
@given(_release_schemas(), st.sampled_from([bigdocs.SUBSET_SCHEMA, bigdocs.BENCH_SCHEMA]))
def test_bigdocs_column_plans_keep_every_column_in_one_schema(schemas, release):
    fields = bigdocs.SUBSET_FIELDS if release is bigdocs.SUBSET_SCHEMA else bigdocs.BENCH_FIELDS
    plan, notices = bigdocs.plan_columns(schemas, release, taken={*fields, "extra_fields"})
    kept = {column.source for column in plan.columns}
    for schema in schemas:  # every column is read as a field, or kept
        recognised = set(bigdocs.recognise_columns(schema, release).fields.values())
        assert set(schema.names) <= recognised | kept
    names = [*fields, *(c.field for c in plan.columns if c.feature is not None), "extra_fields"]
    assert len(set(names)) == len(names)  # no field twice
    spec = {c.field: (bigdocs._documented_spec(c.feature, c.field), "doc") for c in plan.columns
            if c.feature is not None}
    assert documented({**fields, **spec, "extra_fields": bigdocs.EXTRA_FIELDS})[0].arrow_schema.names == names


# ---- NMB+ -----------------------------------------------------------------------------------------------------------

CATEGORY_TOKENS = ("[", "]", "'", '"', "Politics", " ", ",", "\\", "\\N", "\\x", "\\u12", "\n", "0.95", "nan", "[]")


@fuzz
@given(st.one_of(tokens(*CATEGORY_TOKENS, max_size=20), JSON_VALUES))
@example([None])
@example([True, "x"])
def test_nmb_plus_list_columns(value):
    only_raw_data_errors(nmb_plus.parse_category_list, value, "new_categories")
    only_raw_data_errors(nmb_plus.parse_score_list, value, "news_categories_confidence_scores")


@fuzz
@given(st.one_of(JSON_VALUES, st.datetimes(), tokens("2024-05-06", " ", "T", "08:00:00", "+00:00", "Z", "NaT", "x")))
def test_nmb_plus_scalar_columns(value):
    nmb_plus.normalise_id(value)
    assert nmb_plus.normalise_label(value) in (None, 0, 1)
    nmb_plus.parse_published(value)
    if isinstance(value, str):
        nmb_plus.parse_pil_repr(value)
        for prose in (False, True):
            nmb_plus.repair_text(value, prose)


@fuzz
@given(st.data())
def test_nmb_plus_image_inspection(samples, data):
    found, status, size = nmb_plus.inspect_image(data.draw(st.one_of(mutations(samples["jpeg"]), st.binary())))
    assert status in nmb_plus.IMAGE_STATUSES and (size is None) == (status != "ok")


@fuzz
@given(st.one_of(st.text(max_size=12), tokens(".", "..", "a", "/", "README", ".zip", ".JPG", "__MACOSX/", max_size=6)))
def test_nmb_plus_image_names_are_told_as_paths_tell_them(name):
    """suffix() and is_image_candidate without a PurePosixPath each: the same answers as with one."""
    base = name.rsplit("/", 1)[-1]
    assert nmb_plus.suffix(base) == PurePosixPath(base).suffix
    reference = (bool(base) and not base.startswith(".") and not base.upper().startswith("README")
                 and "__MACOSX/" not in name and PurePosixPath(base).suffix.lower() not in nmb_plus.NOT_IMAGE_SUFFIXES)
    assert nmb_plus.is_image_candidate(name) == reference


@fuzz
@given(tokens("a", "b.jpg", "/", "//", "\\", ".", "..", "C:", ":", " ", max_size=8))
def test_nmb_plus_image_paths_are_made_relative_as_paths_make_them(name):
    """_safe_relative splits a name instead of making a PurePosixPath of it: the parts a path keeps, less
    roots, '.', '..' and drive names (a POSIX '//' root included, which the path-based version kept)."""
    from pathlib import PureWindowsPath

    posix = PureWindowsPath(name).as_posix() if "\\" in name else name
    kept = [p for p in PurePosixPath(posix).parts if p not in ("/", "//", ".", "..") and not p.endswith(":")]
    relative = nmb_plus._safe_relative(name)
    assert relative == "/".join(kept)
    assert not relative.startswith("/") and ".." not in relative.split("/")


@fuzz
@given(st.binary(max_size=40), st.sampled_from([b"\xff\xd9", b"IEND\xaeB`\x82", b"\xff", b""]), st.integers(0, 40),
       st.integers(-3, 3), st.sampled_from(["JPEG", "PNG", "GIF", None]))
def test_image_end_markers_are_found_where_they_were(data, marker, at, shift, image_format):
    """NMB+ and Flickr30K's truncation check (builders.media.image_truncated, searched backwards in place): the
    answer of `marker not in data[-window:]`, markers across the window's edge included."""
    from builders.media import image

    window = 16
    data = data[:at] + marker + data[at:]
    data = b"\0" * max(0, window + shift - len(data) + at) + data
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image, "END_MARKER_WINDOW", window)
        end = image.IMAGE_END_MARKERS.get(image_format)
        assert image.image_truncated(data, image_format) == (end is not None and end not in data[-window:])


@fuzz
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), st.booleans())
def test_nmb_plus_ascii_text_needs_no_repair(text, prose):
    """repair_text returns ASCII text at once: neither of its patterns can match it."""
    assert nmb_plus._ESCAPED_BYTE.search(text) is None and nmb_plus._DOUBLE_ENCODED.search(text) is None
    assert nmb_plus.repair_text(text, prose) == (text, [])


@fuzz
@given(tokens("unique_id", "title", "content", ",", "\n", "\r\n", '"', '""', "abc", "\xe9", "\ufeff", max_size=40))
def test_nmb_plus_csv_records(text):
    path = scratch_file(text.encode("utf-8", "surrogatepass"), "news.csv")
    only_raw_data_errors(lambda: list(nmb_plus.iter_csv_records(path)))


@fuzz
@given(st.one_of(JSON_VALUES, st.lists(records({"unique_id": JSON_SCALARS, "headline": JSON_VALUES,
                                                 "new_categories": JSON_VALUES}), max_size=3)),
       st.binary(max_size=3))
def test_nmb_plus_json_metadata(document, noise):
    path = scratch_file(json.dumps(document).encode() + noise, "metadata.json")
    only_raw_data_errors(nmb_plus.read_json_records, path)


OTHER_VALUES = st.one_of(JSON_VALUES, st.binary(max_size=4), st.datetimes(), st.dates(), st.floats(),
                         st.lists(st.floats(), max_size=3), st.decimals(allow_nan=True))
ARTICLE = records({"unique_id": JSON_SCALARS, "headline": st.text(max_size=6), "article_text": st.text(max_size=6),
                   "date_published": JSON_SCALARS, "categories": st.one_of(tokens(*CATEGORY_TOKENS), JSON_VALUES),
                   "category_scores": JSON_VALUES, "text_label": JSON_SCALARS, "multimodal_label": JSON_SCALARS,
                   "image": st.one_of(IMAGE_CELLS, st.text(max_size=8)),
                   "other_columns": st.dictionaries(st.text(max_size=5), OTHER_VALUES, max_size=3)})


@fuzz
@given(ARTICLE)
def test_nmb_plus_articles(record):
    for fields in (nmb_plus.V1_FIELDS, nmb_plus.SCRAPE_FIELDS):
        row = only_raw_data_errors(nmb_plus.assemble_article, record, None, list(fields))
        if isinstance(row, dict) and row["other_columns"] is not None:
            json.loads(row["other_columns"])  # standard JSON whatever the column held


@fuzz
@given(tokens("bad_data_2", "content", "/", "\\", "..", ".", ".txt", "abc", "C:", "\n", " ", max_size=12))
def test_nmb_plus_content_paths(value):
    folder = _SCRATCH / "csv_folder"
    for path in (folder / "content" / "abc.txt", _SCRATCH / "abc.txt", _SCRATCH / "content" / "abc.txt"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("text")  # one file next to the CSV, two outside its folder
    name = nmb_plus.content_file_name(value)
    found = nmb_plus.locate_content_file(name, folder) if name is not None else None
    assert found is None or folder in found.parents  # never a file outside the CSV's folder
