"""croissant.json (Croissant 1.1 with RAI): validated and read by the reference implementation, mlcroissant,
on every sample build; published with the card; served by the local Hub at /api/datasets/ORG/NAME/croissant.

Reading through mlcroissant is compared with `datasets.load_dataset` row by row and value by value. Where
mlcroissant cannot read a column, KNOWN_UNREADABLE names the field and the error; the test checks that
reading fails exactly there, for that reason, and compares everything else.
"""
from __future__ import annotations

import copy
import datetime
import fnmatch
import hashlib
import io
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from conftest import _SESSION_HOME

# mlcroissant fixes its cache folder when imported: keep it in the session's folder, out of the home directory.
os.environ.setdefault("CROISSANT_CACHE", str(_SESSION_HOME / "croissant-cache"))

import datasets  # noqa: E402
import mlcroissant as mlc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from datasets import Audio, ClassLabel, Image, Json, LargeList, List, Value, Video  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from builders import cards, croissant  # noqa: E402
from builders.cards import load_card_metadata  # noqa: E402
from builders.samples import GENERATORS  # noqa: E402
from helpers import undecoded  # noqa: E402

DATASETS = sorted(GENERATORS)
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"

# What mlcroissant (1.1.x) cannot read, found by reading each field alone: (dataset, config) -> {field @id
# relative to the record set: (exception type, start of its message)}.
# captions[].phrases is a list of structs inside a list of structs. mlcroissant applies a field's JSONPath
# transforms one after the other to each item of the outer list, so the second one (`text` of a phrase) is
# applied to a whole numpy array of phrase structs, which jsonpath_rw indexes with a string.
KNOWN_UNREADABLE = {
    ("flickr30k_entities", "entities"): {
        "captions/phrases": ("IndexError", "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis"),
    },
}
LICENCE_URLS = {
    "bigdocs": "https://creativecommons.org/licenses/by/4.0/",
    "mint1t": "https://creativecommons.org/licenses/by/4.0/",
    "internvid": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "nmb_plus": "https://creativecommons.org/licenses/by-nc/2.0/",
    "flickr30k_entities": "https://shannon.cs.illinois.edu/DenotationGraph/",
    "movieqa": "http://movieqa.cs.toronto.edu",
    "musecar": "https://www.muse-challenge.org/",
}


def report_of(folder: Path) -> dict:
    return json.loads((folder / "build_report.json").read_text(encoding="utf-8"))


def document_of(folder: Path) -> dict:
    return json.loads((folder / croissant.CROISSANT_FILE).read_text(encoding="utf-8"))


def validated(source) -> mlc.Dataset:
    """mlcroissant's validation (what `mlcroissant validate --jsonld` runs): no error, and no warning."""
    try:
        dataset = mlc.Dataset(source)
    except mlc.ValidationError as error:
        pytest.fail(f"mlcroissant refuses the Croissant metadata:\n{error}")
    issues = dataset.metadata.ctx.issues
    assert not issues.errors, issues.report()
    assert not issues.warnings, "mlcroissant warns:\n" + issues.report()
    return dataset


def main_record_sets(document: dict) -> dict[str, dict]:
    """config name -> its record set (the ones holding data from the files, not splits or enumerations)."""
    return {rs["name"]: rs for rs in document["recordSet"] if "dataType" not in rs}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- validation and content -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
def test_every_sample_build_has_a_croissant_file_that_mlcroissant_validates(name, sample_builds, caplog):
    folder = sample_builds[name]
    report, document = report_of(folder), document_of(folder)
    with caplog.at_level("WARNING", logger="absl"):
        dataset = validated(folder / croissant.CROISSANT_FILE)
    # mlcroissant also logs what it finds odd outside its issues (a non-standard @context, for one).
    assert [r.getMessage() for r in caplog.records if r.name == "absl" and r.levelname != "INFO"] == []
    assert dataset.metadata.ctx.is_v1_1()
    assert document["conformsTo"] == [CROISSANT_1_1, RAI_1_0]
    assert document["@type"] == "sc:Dataset" and document["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    # The file is exactly what the card metadata and the build report give (publish.py may have renamed the repo).
    assert (folder / croissant.CROISSANT_FILE).read_text(encoding="utf-8") == croissant.croissant_text(report)
    assert [item["name"] for item in document["recordSet"] if "dataType" not in item] == list(report["configs"])


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_and_rai_properties_are_the_cards_as_mlcroissant_reads_them(name, sample_builds):
    folder, card = sample_builds[name], load_card_metadata(name)
    report, document = report_of(folder), document_of(folder)
    metadata = validated(folder / croissant.CROISSANT_FILE).metadata

    def text(value: str) -> str:
        return " ".join(value.split())

    assert metadata.name == card["pretty_name"]
    assert metadata.description == text(card["summary"])
    assert metadata.license == [LICENCE_URLS[name]]
    assert metadata.cite_as == card["citation"].strip()
    assert [(type(c).__name__, c.name) for c in metadata.creators] == \
        [(c.get("type", "Person"), c["name"]) for c in card["creators"]]
    assert metadata.date_published == datetime.datetime.fromisoformat(
        {4: "{}-01-01", 7: "{}-01"}.get(len(card["date_published"]), "{}").format(card["date_published"]))
    assert metadata.version == report["builder"].rsplit(" ", 1)[1] == "1.0.0"
    assert metadata.url == f"https://huggingface.co/datasets/{report['repo_id']}"
    assert metadata.same_as == [card["homepage"]]
    assert metadata.in_language == card["language"]
    assert set(card["task_categories"]) <= set(metadata.keywords)

    # RAI: the card's facts, read back by the reference implementation.
    assert metadata.data_collection == text(card["data_collection"])
    assert metadata.data_collection_type == card["data_collection_type"]
    assert metadata.data_use_cases == card["applications"] + [f"Out of scope: {u}" for u in card["out_of_scope_uses"]]
    assert metadata.data_limitations == card["limitations"]
    assert metadata.data_biases == [text(card["biases"])]
    assert metadata.personal_sensitive_information == card["personal_sensitive_information"]
    assert metadata.data_annotation_protocol == [text(card["annotation_protocol"])]
    assert metadata.data_annotation_platform == card.get("annotation_platform")
    assert metadata.machine_annotation_tools == card.get("machine_annotation_tools")
    if card.get("data_collection_timeframe"):
        # An ISO 8601 interval under the vocabulary's name (croissant_rai.ttl: rai:dataCollectionTimeframe).
        # mlcroissant 1.1.1 reads another spelling (rai:dataCollectionTimeFrame, a list of dates), so it leaves
        # this property unparsed: checked in the JSON.
        start, end = card["data_collection_timeframe"]
        assert document["rai:dataCollectionTimeframe"] == f"{start}/{end}"
        assert metadata.data_collection_timeframe is None
    else:
        assert "rai:dataCollectionTimeframe" not in document
    assert metadata.data_collection_missing_data == croissant.missing_data(report)
    assert f"{len(report['inputs'])} input paths" in metadata.data_collection_raw_data
    assert text(card["raw_download"]) in metadata.data_collection_raw_data
    assert metadata.data_preprocessing_protocol[0].startswith(f"Converted from the raw release to Parquet by "
                                                              f"`{report['builder']}`")

    # The redistribution policy and the access conditions.
    access = document["conditionsOfAccess"]
    assert access.startswith({"public": "Public:", "gated": "Gated:", "private": "Private:"}[report["redistribution"]])
    assert text(card["redistribution_reason"]) in access
    if report["redistribution"] != "public":
        assert text(card["gating_prompt"]) in access
    licence, policy = document["usageInfo"]
    assert licence["url"] == LICENCE_URLS[name] and licence.get("text", "") == text(card.get("license_terms", ""))
    assert policy["name"] == f"Redistribution policy of this build: {report['redistribution']}"


def test_missing_data_states_skipped_and_excluded_records_and_empty_splits(sample_builds):
    report = copy.deepcopy(report_of(sample_builds["internvid"]))
    assert croissant.missing_data(report).startswith("No raw record was skipped during the build (error policy `skip`).")
    report["skipped"] = [{"config": "10m_flt", "split": "train", "reason": "not a JSON object\ndetail"}] * 2 + \
        [{"config": "queries", "split": None, "reason": "no search_word"}]
    report["excluded"] = [{"config": "10m_flt", "split": "train", "reason": "the creator asked", "count": 3},
                          {"config": "10m_div", "split": "train", "reason": "the creator asked", "count": 2},
                          {"config": "10m_flt", "split": "train", "reason": "listed in takedowns.txt", "count": 1}]
    report["configs"]["queries"]["empty_splits"] = {"validation": {"records_read": 4, "records_skipped": 4,
                                                                   "records_excluded": 0}}
    text = croissant.missing_data(report)
    assert ("3 raw records were skipped during the build (error policy `skip`), each listed in build_report.json "
            "under `skipped`: 10m_flt/train: not a JSON object (2); queries/-: no search_word (1).") in text
    assert ("6 records were excluded on request (takedown or exclusion lists): listed in takedowns.txt (1); "
            "the creator asked (5).") in text
    assert "Split validation of config queries is absent: all 4 of its records were skipped." in text


@pytest.mark.parametrize("name", DATASETS)
def test_distribution_lists_every_parquet_file_with_its_size_and_sha256(name, sample_builds):
    folder = sample_builds[name]
    report, document = report_of(folder), document_of(folder)
    files = [item for item in document["distribution"] if item["@type"] == "cr:FileObject"]
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")
                     if ".staging" not in p.parts)
    assert sorted(item["contentUrl"] for item in files) == on_disk
    for item in files:
        path = folder / item["contentUrl"]
        assert item["sha256"] == sha256(path), item["contentUrl"]
        assert item["contentSize"] == f"{path.stat().st_size} B"
        assert item["encodingFormat"] == "application/x-parquet" and item["name"] == item["contentUrl"]
    file_sets = {item["@id"]: item for item in document["distribution"] if item["@type"] == "cr:FileSet"}
    assert len(file_sets) == len(report["configs"])
    for config_name, config in report["configs"].items():
        record_set = main_record_sets(document)[config_name]
        [file_set_id] = {field["source"]["fileSet"]["@id"] for field in _leaves(record_set["field"])}
        includes = file_sets[file_set_id]["includes"]
        matched = sorted(path for path in on_disk if any(fnmatch.fnmatchcase(path, pattern) for pattern in includes))
        assert matched == sorted(f for split in config["splits"].values() for f in split["files"]), config_name


def _leaves(fields: list[dict]) -> list[dict]:
    return [leaf for field in fields for leaf in (_leaves(field["subField"]) if "subField" in field else [field])]


def expected_type(feature) -> str:
    if isinstance(feature, ClassLabel):
        return "sc:Integer"
    for kind, data_type in ((Image, "sc:ImageObject"), (Audio, "sc:AudioObject"), (Video, "sc:VideoObject"),
                            (Json, "sc:Text")):
        if isinstance(feature, kind):
            return data_type
    dtype = feature.dtype
    if dtype.startswith("timestamp["):
        return "sc:DateTime"
    return {"string": "sc:Text", "binary": "sc:Text", "bool": "sc:Boolean", "int32": "cr:Int32",
            "int64": "cr:Int64", "float32": "cr:Float32", "float64": "cr:Float64"}[dtype]


def check_field(field: dict, feature, path: str, docs: dict, enumerations: dict, shape=()) -> int:
    """Check one field against its feature: data type, array shape, sub-fields, class names, description.
    Returns the number of fields checked."""
    if isinstance(feature, (List, LargeList)):
        length = feature.length if isinstance(feature, List) and feature.length not in (None, -1) else -1
        return check_field(field, feature.feature, path, docs, enumerations, (*shape, length))
    if shape:
        assert field["isArray"] is True and field["repeated"] is True, path
        assert field["arrayShape"] == ",".join(map(str, shape)), path
    else:
        assert "isArray" not in field and "repeated" not in field, path
    doc = docs.get(path) or docs.get(f"{path}[]")
    assert doc and field["description"].startswith(doc), (path, field["description"])
    if isinstance(feature, dict):
        assert "dataType" not in field and "source" not in field
        assert [sub["name"] for sub in field["subField"]] == list(feature), path
        inner = f"{path}[]" if shape else path
        return 1 + sum(check_field(sub, sub_feature, f"{inner}.{name}", docs, enumerations)
                       for sub, (name, sub_feature) in zip(field["subField"], feature.items()))
    assert field["dataType"] == expected_type(feature), path
    if isinstance(feature, ClassLabel):
        enumeration = enumerations[field["references"]["field"]["@id"].rsplit("/", 1)[0]]
        assert enumeration["dataType"] == "sc:Enumeration"
        key = enumeration["key"]["@id"]
        assert [row[key] for row in enumeration["data"]] == list(range(len(feature.names)))
        assert [row[key.replace("/index", "/name")] for row in enumeration["data"]] == feature.names
    transforms = field["source"].get("transform", [])
    transforms = transforms if isinstance(transforms, list) else [transforms]
    if isinstance(feature, (Image, Audio, Video)):
        assert transforms[-1] == {"jsonPath": "bytes"}, path
    return 1


@pytest.mark.parametrize("name", DATASETS)
def test_one_record_set_per_config_types_every_column_from_the_features(name, sample_builds):
    folder = sample_builds[name]
    report, document = report_of(folder), document_of(folder)
    enumerations = {rs["@id"]: rs for rs in document["recordSet"] if rs.get("dataType") == "sc:Enumeration"}
    checked = 0
    for config_name, config in report["configs"].items():
        record_set = main_record_sets(document)[config_name]
        features = datasets.Features._from_yaml_list(config["features"])
        split_field, *fields = record_set["field"]
        assert split_field["name"] == "split" and split_field["source"]["extract"] == {"fileProperty": "fullpath"}
        assert [field["name"] for field in fields] == list(features)
        splits = next(rs for rs in document["recordSet"] if rs["@id"] == split_field["references"]["field"]["@id"]
                      .rsplit("/", 1)[0])
        assert splits["dataType"] == "cr:Split"
        assert [row[f"{splits['@id']}/split_name"] for row in splits["data"]] == list(config["splits"])
        docs = {item["path"]: item["doc"] for item in config["fields"]}
        for field, (column, feature) in zip(fields, features.items()):
            checked += check_field(field, feature, column, docs, enumerations)
    assert checked >= sum(len(c["features"]) for c in report["configs"].values())


def test_a_column_without_a_croissant_type_is_left_out_and_named_as_the_hub_does(sample_builds):
    report = copy.deepcopy(report_of(sample_builds["nmb_plus"]))
    config = report["configs"]["current"]
    config["features"] += [{"name": "scan", "dtype": "pdf"},
                           {"name": "pages", "list": [{"name": "kind", "dtype": {"class_label": {"names": {"0": "a"}}}},
                                                      {"name": "scan", "dtype": "pdf"}]}]
    document = croissant.generate(report)
    record_set = main_record_sets(document)["current"]
    assert [field["name"] for field in record_set["field"]][-2:] == ["text_repairs", "other_columns"]
    assert record_set["description"].endswith(
        " 2 columns not described, having no Croissant data type: scan (no Croissant data type for Pdf at scan); "
        "pages (no Croissant data type for Pdf at pages[].scan).")
    assert not [rs for rs in document["recordSet"] if "pages" in rs["@id"]]  # no enumeration left behind
    validated(document)


# ---- reading records through mlcroissant ----------------------------------------------------------------

def root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def read_records(document: dict, folder: Path, record_set: str, work: Path) -> list[dict]:
    """Every record of a record set as mlcroissant yields it, from a copy of `document` placed beside the
    folder's Parquet files (hard links), so that a reduced document reads the same files."""
    work.mkdir(parents=True)
    for path in folder.rglob("*.parquet"):
        if ".staging" in path.parts:
            continue
        target = work / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    (work / croissant.CROISSANT_FILE).write_text(json.dumps(document), encoding="utf-8")
    return list(validated(work / croissant.CROISSANT_FILE).records(record_set))


def without_fields(document: dict, record_set: str, field_ids: set[str]) -> dict:
    """The document with some fields (top-level or nested, by @id) removed from one record set."""
    document = copy.deepcopy(document)

    def keep(fields: list[dict]) -> list[dict]:
        kept = [field for field in fields if field["@id"] not in field_ids]
        for field in kept:
            if "subField" in field:
                field["subField"] = keep(field["subField"])
        return kept

    for rs in document["recordSet"]:
        if rs["@id"] == record_set:
            rs["field"] = keep(rs["field"])
    return document


def only_fields(document: dict, record_set: str, field_ids: set[str]) -> dict:
    """The document with one record set reduced to its split field and the given fields (nested ones with the
    chain of their parents)."""
    document = copy.deepcopy(document)

    def keep(fields: list[dict]) -> list[dict]:
        kept = []
        for field in fields:
            if field["@id"] in field_ids or field["name"] == "split" and field["@id"].count("/") == 1:
                kept.append(field)
            elif "subField" in field and (inner := keep(field["subField"])):
                kept.append(dict(field, subField=inner))
        return kept

    for rs in document["recordSet"]:
        if rs["@id"] == record_set:
            rs["field"] = keep(rs["field"])
    return document


MISSING = object()


def image_value(image: PILImage.Image) -> tuple:
    return image.size, image.mode, image.tobytes()


def from_croissant(value, feature):
    """A value mlcroissant gave, as the Python value `load_dataset` gives (media as their bytes, images as
    their decoded pixels)."""
    if value is None:
        return None
    if isinstance(feature, (List, LargeList)):
        return [from_croissant(item, feature.feature) for item in value]
    if isinstance(feature, Image):
        return image_value(value)
    if isinstance(feature, (Audio, Video)):
        return bytes(value)
    if isinstance(feature, ClassLabel):
        return int(value)
    if isinstance(feature, Json):
        return json.loads(value)
    dtype = feature.dtype
    if dtype == "string":
        return value.decode("utf-8")
    if dtype == "binary":
        return bytes(value)
    if dtype.startswith("timestamp["):
        return pd.Timestamp(value)
    if dtype == "bool":
        return bool(value)
    return value.item() if isinstance(value, np.generic) else value


def from_load_dataset(value, feature):
    if value is None:
        return None
    if isinstance(feature, (List, LargeList)):
        return [from_load_dataset(item, feature.feature) for item in value]
    if isinstance(feature, dict):
        return {name: from_load_dataset(value[name], inner) for name, inner in feature.items()}
    if isinstance(feature, Image):
        return image_value(PILImage.open(io.BytesIO(value["bytes"])))
    if isinstance(feature, (Audio, Video)):
        return value["bytes"]
    if isinstance(feature, Value) and feature.dtype.startswith("timestamp["):
        return pd.Timestamp(value)
    return value


def rebuild(record: dict, field: dict, feature, holder):
    """A field's value from an mlcroissant record, nested as `load_dataset` nests it. mlcroissant puts a leaf
    under its parent field's @id (a dict, or for a list of structs a list of dicts) and a nested struct or
    list of structs at the top of the record, under its own @id."""
    if "subField" not in field:
        value = holder.get(field["@id"], MISSING) if holder is not None else None
        assert value is not MISSING, f"mlcroissant gave no {field['@id']}"
        return from_croissant(value, feature)
    subs = list(zip(field["subField"], feature.feature.items() if isinstance(feature, (List, LargeList))
                    else feature.items()))
    if isinstance(feature, (List, LargeList)):  # a list of structs: one dict per item, keyed by leaf @id
        items = record.get(field["@id"])
        if items is None:
            return None
        for sub, _ in subs:
            assert "subField" not in sub, f"{sub['@id']}: nested lists of structs are not read (KNOWN_UNREADABLE)"
        return [{name: rebuild(record, sub, inner, item) for sub, (name, inner) in subs} for item in items]
    container = record.get(field["@id"])
    return {name: rebuild(record, sub, inner, record if "subField" in sub else container)
            for sub, (name, inner) in subs}


def null_rendering(value) -> bool:
    """How mlcroissant renders a null struct (a struct of nulls) or a null list of structs (a list of one
    struct of nulls)."""
    if value is None:
        return True
    if isinstance(value, dict):
        return all(null_rendering(item) for item in value.values())
    return isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and null_rendering(value[0])


def differences(expected, actual, path: str, notes: dict[str, list[str]]) -> list[str]:
    """What differs between a load_dataset value and an mlcroissant one; the two ways mlcroissant renders a
    null (see null_rendering, and NaN for a null item of a numeric list: pandas turns the Arrow list into a
    float array) are accepted where load_dataset has the null, and listed in `notes`."""
    if expected is None and actual is not None and (isinstance(actual, (dict, list))) and null_rendering(actual):
        notes["null struct or list of structs, rendered as nulls"].append(path)
        return []
    if expected is None and isinstance(actual, float) and np.isnan(actual) and path.endswith("]"):
        notes["null item of a numeric list, rendered as NaN"].append(path)
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{path}: keys {sorted(expected)} != {sorted(actual)}"]
        return [d for key in expected for d in differences(expected[key], actual[key], f"{path}.{key}", notes)]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]", notes)]
    if type(expected) is float and type(actual) is float and np.isnan(expected) and np.isnan(actual):
        return []
    return [] if expected == actual and type(expected) is type(actual) else \
        [f"{path}: {expected!r:.200} != {actual!r:.200}"]


def loaded_rows(folder: Path, config: str) -> dict[str, list[dict]]:
    loaded = datasets.load_dataset(str(folder), config)
    return {split: list(part.cast(undecoded(part.features))) for split, part in loaded.items()}


@pytest.mark.parametrize("name", DATASETS)
def test_records_read_through_mlcroissant_are_the_rows_load_dataset_gives(name, sample_builds, tmp_path):
    """Every config of every dataset, every row and every value, except the fields in KNOWN_UNREADABLE."""
    folder = sample_builds[name]
    report, document = report_of(folder), document_of(folder)
    compared = 0
    null_renderings: dict[str, list[str]] = {"null struct or list of structs, rendered as nulls": [],
                                             "null item of a numeric list, rendered as NaN": []}
    for number, (config_name, config) in enumerate(report["configs"].items()):
        record_set = main_record_sets(document)[config_name]
        rs_id = record_set["@id"]
        features = datasets.Features._from_yaml_list(config["features"])
        unreadable = KNOWN_UNREADABLE.get((name, config_name), {})
        readable = document
        for index, (field, (type_name, message)) in enumerate(unreadable.items()):
            field_id = f"{rs_id}/{field}"
            for attempt, (what, reduced) in enumerate((("the whole record set", document),
                                                       (f"{field} alone", only_fields(document, rs_id, {field_id})))):
                with pytest.raises(mlc.GenerationError) as failure:
                    read_records(reduced, folder, rs_id, tmp_path / f"{config_name}-fails-{index}-{attempt}")
                cause = root_cause(failure.value)
                assert (type(cause).__name__, str(cause)[:len(message)]) == (type_name, message), \
                    f"{name}/{config_name}, {what}: mlcroissant now fails otherwise: {cause!r}"
            readable = without_fields(readable, rs_id, {field_id})
        records = read_records(readable, folder, rs_id, tmp_path / f"{number}-{config_name}")
        fields = main_record_sets(readable)[config_name]["field"]
        by_split: dict[str, list[dict]] = {}
        for record in records:
            by_split.setdefault(record[f"{rs_id}/split"].decode(), []).append(record)
        expected = loaded_rows(folder, config_name)
        assert {s: len(rows) for s, rows in by_split.items()} == {s: len(rows) for s, rows in expected.items()}
        assert {s: len(rows) for s, rows in expected.items()} == {s: v["rows"] for s, v in config["splits"].items()}
        problems = []
        for split, rows in expected.items():
            for i, (row, record) in enumerate(zip(rows, by_split[split])):
                for field, (column, feature) in zip(fields[1:], features.items()):
                    assert field["name"] == column
                    want = from_load_dataset(row[column], feature)
                    for dropped in unreadable:  # compare the rest of a struct whose sub-field is unreadable
                        head, _, sub = dropped.partition("/")
                        if head == column and want is not None:
                            want = [{k: v for k, v in item.items() if k != sub} for item in want]
                    got = rebuild(record, field, _without(feature, column, unreadable), record)
                    problems += differences(want, got, f"{config_name}/{split}[{i}].{column}", null_renderings)
                    compared += 1
        assert problems == [], "\n".join(problems[:30])
    assert compared > 0
    # How mlcroissant rendered nulls, accepted only where load_dataset has them (shown with -s).
    print(f"{name}: {compared} values compared; nulls as mlcroissant renders them: {null_renderings}")


def _without(feature, column: str, unreadable: dict):
    """The feature of a column without the sub-fields known to be unreadable."""
    drop = [field.partition("/")[2] for field in unreadable if field.partition("/")[0] == column]
    if not drop:
        return feature
    assert isinstance(feature, List) and isinstance(feature.feature, dict)
    return List({name: inner for name, inner in feature.feature.items() if name not in drop})


# ---- the card and publishing ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
def test_the_card_links_the_croissant_file(name, sample_builds):
    folder = sample_builds[name]
    report = report_of(folder)
    card = (folder / "README.md").read_text(encoding="utf-8")
    revision = report.get("release_tag", "main")
    assert (f"- Machine-readable metadata: [`croissant.json`](https://huggingface.co/datasets/{report['repo_id']}/"
            f"blob/{revision}/croissant.json) (Croissant 1.1 with RAI)") in card


def test_the_card_metadata_refuses_missing_or_wrong_rai_facts():
    card = dict(load_card_metadata("flickr30k_entities"))
    assert cards.rai_errors(card) == []
    assert set(cards.REQUIRED_KEYS) >= {"creators", "date_published", "data_collection", "data_collection_type",
                                        "annotation_protocol", "personal_sensitive_information", "out_of_scope_uses"}
    wrong = dict(card, data_collection_type=["Crawling"], creators=[{"name": "X", "type": "Robot"}],
                 date_published="May 2015", out_of_scope_uses=[{"Identifying people": "no"}], annotation_protocol=" ")
    assert cards.rai_errors(wrong) == [
        "out_of_scope_uses must be a non-empty list of texts",
        "annotation_protocol must be a non-empty text",
        "data_collection_type: 'Crawling' not among the Croissant RAI values (" + ", ".join(cards.COLLECTION_TYPES) + ")",
        "creators must be a list of {name, type: Person|Organization, url?, affiliation?}",
        "dates must be ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD), quoted: May 2015",
    ]


@pytest.mark.parametrize("name", DATASETS)
def test_publish_uploads_croissant_json_made_for_the_repository(name, sample_builds, published_samples, local_hub):
    folder, repo_id = sample_builds[name], published_samples[name]
    api = local_hub.api()
    assert "croissant.json" in api.list_repo_files(repo_id, repo_type="dataset")
    on_hub = Path(api.hf_hub_download(repo_id, "croissant.json", repo_type="dataset")).read_bytes()
    assert on_hub == (folder / croissant.CROISSANT_FILE).read_bytes()
    document = json.loads(on_hub)
    assert document["url"] == f"https://huggingface.co/datasets/{repo_id}"  # built for ORG/..., published here
    assert document["alternateName"][0] == repo_id == report_of(folder)["repo_id"]


# ---- the local Hub's /api/datasets/ORG/NAME/croissant -------------------------------------------------------

def http_get(url: str, token: str | None = None):
    """GET with the standard library's HTTP client: status, headers (case-insensitive), body."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("name", DATASETS)
def test_the_local_hub_serves_the_repositorys_croissant_as_the_hub_does(name, sample_builds, published_samples,
                                                                      local_hub):
    folder, repo_id, endpoint = sample_builds[name], published_samples[name], local_hub.endpoint
    url = f"{endpoint}/api/datasets/{repo_id}/croissant"
    policy = report_of(folder)["redistribution"]
    status, headers, body = http_get(url)
    if policy == "public":
        assert status == 200, body
    else:  # as the Hub's data endpoints: a gated dataset needs access, a private one does not exist for others
        assert (status, headers.get("X-Error-Code")) == ((401, "GatedRepo") if policy == "gated" else
                                                          (404, "RepoNotFound")), body
        status, headers, body = http_get(url, local_hub.token)
        assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    served = json.loads(body)
    head = local_hub.api().repo_info(repo_id, repo_type="dataset").sha
    assert headers["X-Repo-Commit"] == head
    assert served == croissant.for_repository(document_of(folder), endpoint, repo_id, "main")
    assert served["url"] == f"{endpoint}/datasets/{repo_id}" and served["alternateName"][0] == repo_id
    repo, *items = served["distribution"]
    assert repo == {"@type": "cr:FileObject", "@id": "repo", "name": "repo",
                    "description": f"The Hugging Face git repository {repo_id} at main.",
                    "contentUrl": f"{endpoint}/datasets/{repo_id}/tree/main", "encodingFormat": "git+https",
                    "sha256": "https://github.com/mlcommons/croissant/issues/80"}
    assert all(item["containedIn"] == {"@id": "repo"} for item in items if item["@type"] == "cr:FileSet")
    files = [item for item in items if item["@type"] == "cr:FileObject"]
    for item in files[:3]:  # every contentUrl is the file itself: same size and sha256 as declared
        status, _, data = http_get(item["contentUrl"], local_hub.token)
        assert status == 200 and f"{len(data)} B" == item["contentSize"]
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
    assert sorted(item["contentUrl"] for item in files) == sorted(
        f"{endpoint}/datasets/{repo_id}/resolve/main/{path}" for config in report_of(folder)["configs"].values()
        for split in config["splits"].values() for path in split["files"])
    validated(served)  # what a Croissant client gets validates too


def test_a_repository_without_croissant_json_is_described_from_its_build_report(sample_builds, local_hub):
    api, endpoint = local_hub.api(), local_hub.endpoint
    folder, repo_id = sample_builds["mint1t"], "cards/report-only"
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=str(folder / "build_report.json"), path_in_repo="build_report.json",
                    repo_id=repo_id, repo_type="dataset")
    status, _, body = http_get(f"{endpoint}/api/datasets/{repo_id}/croissant")
    assert status == 200, body
    assert json.loads(body) == croissant.for_repository(croissant.generate(report_of(folder)), endpoint, repo_id)

    api.create_repo("cards/no-metadata", repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=b"# nothing to describe\n", path_in_repo="README.md", repo_id="cards/no-metadata",
                    repo_type="dataset")
    status, _, body = http_get(f"{endpoint}/api/datasets/cards/no-metadata/croissant")
    assert status == 404 and "has no Croissant metadata" in json.loads(body)["error"]
    assert http_get(f"{endpoint}/api/datasets/cards/does-not-exist/croissant")[0] == 404


def test_the_dataset_page_links_the_croissant_endpoint(published_samples, local_hub):
    repo_id = published_samples["mint1t"]
    status, _, body = http_get(f"{local_hub.endpoint}/datasets/{repo_id}")
    assert status == 200
    assert (f'Machine-readable metadata: <a href="/api/datasets/{repo_id}/croissant" type="application/ld+json">'
            "Croissant</a> (Croissant 1.1 with RAI)") in body.decode()


def test_a_subset_publishes_croissant_metadata_of_its_configs_only(sample_builds, tmp_path):
    """publish.py --config / --split-by-policy: croissant.json describes the configs the repository holds."""
    from builders.hub import subsets

    report = report_of(sample_builds["internvid"])
    subset = dict(subsets.report_for_configs(report, ["10m_flt", "queries"]), repo_id="org/internvid")
    path = tmp_path / croissant.CROISSANT_FILE
    path.write_text(croissant.croissant_text(subset), encoding="utf-8")
    document = json.loads(path.read_text(encoding="utf-8"))
    validated(path)
    assert list(main_record_sets(document)) == ["10m_flt", "queries"]
    assert sorted(item["contentUrl"] for item in document["distribution"] if item["@type"] == "cr:FileObject") == \
        ["10m_flt/train-00000-of-00001.parquet", "queries/train-00000-of-00001.parquet"]
    access, whole = document["conditionsOfAccess"], document_of(sample_builds["internvid"])["conditionsOfAccess"]
    assert access.startswith("Gated:") and whole.startswith("Private:")  # the build's clips are private, not these
    assert "Configs more restricted" in whole and "Configs more restricted" not in access
