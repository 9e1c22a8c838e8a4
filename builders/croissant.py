"""croissant.json: the build described in Croissant 1.1 with the Responsible-AI (RAI) vocabulary.

Generated from the card metadata (dataset_cards/<name>.yaml, through `cards.load_card_metadata`) and the
build report alone, like the card, so publish.py can regenerate it for the repository it publishes to and
the local Hub can generate it for a repository that has only build_report.json.

Layout, following what the Hub's own Croissant does for Parquet repositories (dataset-viewer's
`croissant_crumbs`), with what the Hub leaves out added:

- `distribution`: every Parquet part as a `cr:FileObject` (path relative to croissant.json, sha256,
  contentSize, encodingFormat), and one `cr:FileSet` per config whose `includes` are the config's
  `data_files` patterns: a field has one source, so a config's records are read through its FileSet.
- `recordSet`: per config a `<config>_splits` record set (`cr:Split`, inline data) and the config's
  record set: a `split` field (from the file path, referencing the splits) and one field per column,
  typed from the `datasets` features (nested structs as `subField`, lists as `isArray` + `arrayShape`,
  media as `sc:ImageObject` / `sc:AudioObject` / `sc:VideoObject` reading the stored bytes), with the
  field's documentation as its description. A `ClassLabel` is an integer field that `references` an
  `sc:Enumeration` record set holding its names (`<config>_<path>_classes`), as the spec's "Categorical
  data" section describes.
- Dataset level: name, description, licence URL, citation, creators, version, dates, keywords,
  languages, the access conditions (`conditionsOfAccess`, `usageInfo`), and the RAI properties from
  the card (collection, uses, limitations, biases, personal information, annotation) and from the build
  (raw inputs, records skipped or excluded, preprocessing).

`for_repository` turns the folder's file into what a Hub serves at `/api/datasets/ORG/NAME/croissant`:
absolute file URLs and, as on the Hub, the repository as a `git+https` FileObject containing the FileSets.
"""
from __future__ import annotations

import copy
import json
import re
from collections import Counter
from urllib.parse import quote

import datasets
from datasets import Audio, ClassLabel, Image, Json, LargeList, List, Value, Video

from . import cards
from .outputs import CROISSANT_FILE  # noqa: F401 (a name of this module's API)

CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"
RAI_VERSION = "http://mlcommons.org/croissant/RAI/1.0"
HUB = "https://huggingface.co"
PARQUET = "application/x-parquet"

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sdVersion": "cr:sdVersion",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# Arrow value types -> Croissant data types, as the Hub maps them (dataset-viewer's croissant_utils), with
# any timestamp (time zone or not) a DateTime.
VALUE_TYPES = {
    "bool": "sc:Boolean",
    "int8": "cr:Int8", "int16": "cr:Int16", "int32": "cr:Int32", "int64": "cr:Int64",
    "uint8": "cr:UInt8", "uint16": "cr:UInt16", "uint32": "cr:UInt32", "uint64": "cr:UInt64",
    "float16": "cr:Float16", "float32": "cr:Float32", "float64": "cr:Float64",
    "string": "sc:Text", "large_string": "sc:Text",
    "binary": "sc:Text", "large_binary": "sc:Text",  # no byte-string type in Croissant: the Hub says Text too
    "date32": "sc:Date", "date64": "sc:Date",
}
MEDIA_TYPES = ((Image, "sc:ImageObject"), (Audio, "sc:AudioObject"), (Video, "sc:VideoObject"))
SPLIT_URLS = {"train": "cr:TrainingSplit", "validation": "cr:ValidationSplit", "test": "cr:TestSplit"}
ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-_.]")

# Licence URLs of Hub licence ids that are not Creative Commons ones (those are derived from the id).
LICENSE_URLS = {
    "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "mit": "https://opensource.org/license/mit",
    "cdla-permissive-2.0": "https://cdla.dev/permissive-2-0/",
    "odc-by": "https://opendatacommons.org/licenses/by/1-0/",
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
CREATIVE_COMMONS = re.compile(r"cc-(by(?:-nc)?(?:-sa|-nd)?)-(\d\.\d)")


class CroissantError(ValueError):
    """The build report cannot be described (files without checksums, a licence without a URL)."""


class UnsupportedFeature(CroissantError):
    """A feature with no Croissant data type (a Pdf, an Array2D): its column is left out and named."""


# ---- the whole document -----------------------------------------------------------------------------

def generate(report: dict) -> dict:
    """croissant.json for a complete build report (the one README.md is rendered from)."""
    card = cards.load_card_metadata(report["dataset"])
    ids: set[str] = set()
    distribution, record_sets = [], []
    for config_name, config in report["configs"].items():
        file_set, files = _distribution(config_name, config, ids)
        distribution += files + [file_set]
        record_sets += _record_sets(report, config_name, config, file_set["@id"], ids)
    document = {
        "@context": copy.deepcopy(CONTEXT),  # the caller may change its document (mlcroissant adds to a context)
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_VERSION, RAI_VERSION],
        "name": card["pretty_name"],
        "alternateName": [report["repo_id"], card["repo_name"]],
        "description": " ".join(card["summary"].split()),
        "url": f"{HUB}/datasets/{report['repo_id']}",
        "sameAs": [card["homepage"]],
        "license": license_url(card),
        "citeAs": card["citation"].strip(),
        "creator": [_creator(c) for c in card["creators"]],
        "datePublished": str(card["date_published"]),
        "version": _version(report),
        "keywords": list(dict.fromkeys([*card["task_categories"], *card.get("tags", [])])),
        "inLanguage": list(card["language"]),
        "isAccessibleForFree": True,
        "conditionsOfAccess": conditions_of_access(card, report),
        "usageInfo": _usage_info(card, report),
        **_rai(card, report),
        "distribution": distribution,
        "recordSet": record_sets,
    }
    return document


def croissant_text(report: dict) -> str:
    """croissant.json as written to a built folder."""
    return json.dumps(generate(report), indent=1, ensure_ascii=False) + "\n"


def license_url(card: dict) -> str:
    """The licence as a URL: the card's `license_link` for `other`, the Creative Commons deed of a CC id,
    else a known URL or the card's `license_url`."""
    licence = card["license"]
    if licence == "other":
        return card["license_link"]
    if card.get("license_url"):
        return card["license_url"]
    match = CREATIVE_COMMONS.fullmatch(licence)
    if match:
        return f"https://creativecommons.org/licenses/{match[1]}/{match[2]}/"
    if licence in LICENSE_URLS:
        return LICENSE_URLS[licence]
    raise CroissantError(f"dataset_cards/{card['repo_name']}: no URL known for licence {licence!r}; "
                         "add license_url to the card")


def conditions_of_access(card: dict, report: dict) -> str:
    """Who may access this build and on which conditions, in words (schema.org conditionsOfAccess)."""
    policy = report["redistribution"]
    text = {"public": "Public: anyone may download this build.",
            "gated": "Gated: the repository grants access to each user who accepts the conditions below"
                     + (", and its maintainers review each request" if card.get("gating", "auto") == "manual"
                        else "") + ".",
            "private": "Private: not for public redistribution; only accounts the repository owner admits "
                       "may access it."}[policy]
    text += " " + " ".join(card["redistribution_reason"].split())
    if policy != "public" and card.get("gating_prompt"):
        text += " Access conditions: " + " ".join(card["gating_prompt"].split())
    stricter = [name for name, config in report["configs"].items() if config["redistribution"] != card["redistribution"]]
    if stricter:
        text += (f" Configs more restricted than the dataset's `{card['redistribution']}` policy: "
                 + ", ".join(f"{name} ({report['configs'][name]['redistribution']})" for name in stricter) + ".")
    return text


def _usage_info(card: dict, report: dict) -> list[dict]:
    licence_name = card.get("license_name") if card["license"] == "other" else card["license"]
    terms = " ".join(card.get("license_terms", "").split())
    return [
        {"@type": "sc:CreativeWork", "name": f"Licence: {licence_name}", "url": license_url(card),
         **({"text": terms} if terms else {})},
        {"@type": "sc:CreativeWork", "name": f"Redistribution policy of this build: {report['redistribution']}",
         "text": conditions_of_access(card, report)},
    ]


def _creator(entry: dict) -> dict:
    kind = entry.get("type", "Person")
    creator = {"@type": f"sc:{kind}", "name": entry["name"]}
    if entry.get("url"):
        creator["url"] = entry["url"]
    if entry.get("affiliation"):
        creator["affiliation"] = {"@type": "sc:Organization", "name": entry["affiliation"]}
    return creator


def _version(report: dict) -> str:
    """The builder's version (the last word of the report's `builder`, e.g. `... Flickr30kEntities 1.0.0`)."""
    last = report["builder"].rsplit(" ", 1)[-1]
    return last if re.fullmatch(r"\d+\.\d+\.\d+", last) else "0.0.0"


# ---- RAI ---------------------------------------------------------------------------------------------

def _rai(card: dict, report: dict) -> dict:
    rai = {
        "rai:dataCollection": " ".join(card["data_collection"].split()),
        "rai:dataCollectionType": list(card["data_collection_type"]),
        "rai:dataCollectionRawData": _raw_data(card, report),
        "rai:dataCollectionMissingData": missing_data(report),
        "rai:dataPreprocessingProtocol": _preprocessing(card, report),
        "rai:dataUseCases": [*card["applications"], *(f"Out of scope: {use}" for use in card["out_of_scope_uses"])],
        "rai:dataLimitations": list(card["limitations"]),
        "rai:dataBiases": [" ".join(card["biases"].split())],
        "rai:personalSensitiveInformation": list(card["personal_sensitive_information"]),
        "rai:dataAnnotationProtocol": [" ".join(card["annotation_protocol"].split())],
        "rai:dataReleaseMaintenancePlan": (
            f"This is a build of the upstream release ({card['homepage']}) by multimodal-builders "
            f"(`python scripts/build.py {report['dataset']} --data-dir RAW --output OUT`); rebuilding the same "
            "raw release gives the same rows, and each file's sha256 above identifies this version. Changes "
            "upstream are taken in by rebuilding and publishing again; a published release is a tag of the "
            "Hub repository, which keeps its files."),
    }
    if card.get("data_collection_timeframe"):  # an ISO 8601 interval, as the RAI vocabulary (croissant_rai.ttl) says
        rai["rai:dataCollectionTimeframe"] = "/".join(str(date) for date in card["data_collection_timeframe"])
    for key, prop in (("annotation_platform", "rai:dataAnnotationPlatform"),
                      ("annotation_analysis", "rai:dataAnnotationAnalysis"),
                      ("machine_annotation_tools", "rai:machineAnnotationTools"),
                      ("annotator_demographics", "rai:annotatorDemographics")):
        if card.get(key):
            rai[prop] = list(card[key])
    if card.get("social_impact"):
        rai["rai:dataSocialImpact"] = " ".join(card["social_impact"].split())
    return rai


def _raw_data(card: dict, report: dict) -> str:
    inputs = report.get("inputs", [])
    files = sum(item.get("files", 1) for item in inputs)
    size = sum(item.get("bytes", 0) for item in inputs)
    steps = " ".join(card["raw_download"].split())
    return (f"Built from the raw release as its maintainers distribute it ({card['homepage']}): {len(inputs)} "
            f"input paths ({files} files, {size} bytes), each with its sha256 (or a digest of a folder's "
            f"listing) in build_report.json under `inputs`. How to obtain it: {steps}")


def missing_data(report: dict) -> str:
    """What the build left out: skipped records by reason, excluded records, empty splits, unread raw paths."""
    parts = []
    skipped = Counter((item["config"], item.get("split") or "-", item["reason"].splitlines()[0])
                      for item in report.get("skipped", []))
    if skipped:
        parts.append(f"{sum(skipped.values())} raw records were skipped during the build (error policy "
                     f"`{report['on_error']}`), each listed in build_report.json under `skipped`: "
                     + "; ".join(f"{config}/{split}: {reason} ({n})" for (config, split, reason), n in sorted(skipped.items()))
                     + ".")
    else:
        parts.append(f"No raw record was skipped during the build (error policy `{report['on_error']}`).")
    excluded = _excluded_counts(report)
    if excluded:
        parts.append(f"{sum(excluded.values())} records were excluded on request (takedown or exclusion lists): "
                     + "; ".join(f"{reason} ({n})" for reason, n in sorted(excluded.items())) + ".")
    for name, config in report["configs"].items():
        for split, stats in config.get("empty_splits", {}).items():
            how = "skipped or excluded on request" if stats.get("records_excluded") else "skipped"
            parts.append(f"Split {split} of config {name} is absent: all {stats['records_read']} of its records "
                         f"were {how}.")
    unread = report.get("unread") or []
    if unread:
        parts.append(f"{len(unread)} raw paths ({sum(item.get('files', 0) for item in unread)} files) were not "
                     "read by this build; build_report.json lists each under `unread` with the reason.")
    return " ".join(parts)


def _excluded_counts(report: dict) -> dict[str, int]:
    """Records excluded on request (takedown or exclusion lists), by reason."""
    counts: Counter = Counter()
    for item in report.get("excluded", []):
        counts[item["reason"]] += item["count"]
    return dict(counts)


def _preprocessing(card: dict, report: dict) -> list[str]:
    steps = [f"Converted from the raw release to Parquet by `{report['builder']}` (multimodal-builders), one "
             "typed column per field; the field descriptions below say how each was derived."]
    if report["on_error"] == "skip":
        steps.append("Error policy `skip`: a raw record that cannot be converted is left out, counted and listed "
                     "in build_report.json; nothing is dropped silently.")
    else:
        steps.append("Error policy `raise`: the build stops at the first raw record it cannot convert, so every "
                     "record read was converted.")
    for key in ("media_notes", "split_notes"):
        if card.get(key):
            steps.append(" ".join(card[key].split()))
    return steps


# ---- distribution ------------------------------------------------------------------------------------

def _distribution(config_name: str, config: dict, ids: set[str]) -> tuple[dict, list[dict]]:
    files, includes = [], []
    for split, info in config["splits"].items():
        names, parts = info["files"], info.get("parts")
        if not parts or len(parts) != len(names):
            raise CroissantError(f"config {config_name!r}, split {split!r}: the build report lists no size and "
                                 "sha256 per Parquet part (rebuild with the current scripts/build.py)")
        for number, (name, part) in enumerate(zip(names, parts), 1):
            files.append({
                "@type": "cr:FileObject", "@id": unique_id(name, ids), "name": name,
                "description": f"Part {number} of {len(names)} of split {split} of config {config_name}: "
                               f"{part['rows']} rows.",
                "contentUrl": name, "contentSize": f"{part['bytes']} B", "encodingFormat": PARQUET,
                "sha256": part["sha256"],
            })
        pattern = info.get("pattern", f"{config_name}/{split}-*")
        includes.append(pattern if pattern.endswith(".parquet") else f"{pattern}.parquet")
    file_set = {
        "@type": "cr:FileSet", "@id": unique_id(f"parquet-files-for-config-{config_name}", ids),
        "name": f"parquet-files-for-config-{config_name}",
        "description": f"The Parquet files of config {config_name}: its data_files patterns in README.md, paths "
                       "relative to the folder or repository holding this file; each file is also listed with "
                       "its sha256.",
        "encodingFormat": PARQUET, "includes": includes,
    }
    return file_set, files


def unique_id(text: str, ids: set[str]) -> str:
    """An @id made of safe characters, unique in the document (as the Hub escapes them)."""
    base = ID_UNSAFE.sub("_", text)
    candidate, n = base, 0
    while candidate in ids:
        n += 1
        candidate = f"{base}_{n}"
    ids.add(candidate)
    return candidate


# ---- record sets -------------------------------------------------------------------------------------

def _record_sets(report: dict, config_name: str, config: dict, file_set: str, ids: set[str]) -> list[dict]:
    record_set = unique_id(config_name if config_name != report["dataset"] else f"record_set_{config_name}", ids)
    splits_id = unique_id(f"{record_set}_splits", ids)
    splits = list(config["splits"])
    split_sets = [inline_record_set(
        splits_id, "cr:Split", f"The splits of config {config_name}.",
        [("split_name", "The name of the split.", "sc:Text"),
         ("split_url", "The Croissant split it is (cr:TrainingSplit, cr:ValidationSplit, cr:TestSplit), or the "
                       "split name for another split.", ["sc:URL", "cr:Split"])],
        [(split, SPLIT_URLS.get(split, split)) for split in splits])]
    split_pattern = "|".join(re.escape(split) for split in splits)
    fields = [{
        "@type": "cr:Field", "@id": f"{record_set}/split", "name": "split",
        "description": "The split the record belongs to (from the path of its Parquet file).",
        "dataType": "sc:Text",
        "source": {"fileSet": {"@id": file_set}, "extract": {"fileProperty": "fullpath"},
                   # a part is named <split>-NNNNN-of-NNNNN.parquet in either layout; the bare split name
                   # matches too, as mlcroissant applies the transform again to the value it joined
                   "transform": {"regex": f"^(?:.*/)?({split_pattern})(?:-[0-9]{{5,}}-of-[0-9]{{5,}}\\.parquet)?$"}},
        "references": {"field": {"@id": f"{splits_id}/split_name"}},
    }]
    docs = {item["path"]: item["doc"] for item in config.get("fields", [])}
    features = datasets.Features._from_yaml_list(config["features"])
    builder = _FieldBuilder(config_name, record_set, file_set, docs, ids)
    skipped = []
    for column, feature in features.items():
        enumerations = len(builder.enumerations)
        try:
            fields.append(builder.field(f"{record_set}/{ID_UNSAFE.sub('_', column)}", column, column, feature, []))
        except UnsupportedFeature as error:  # as the Hub does: the column is left out, and the description says so
            del builder.enumerations[enumerations:]
            skipped.append(f"{column} ({error})")
    rows = sum(info["rows"] for info in config["splits"].values())
    counts = ", ".join(f"{split}: {info['rows']}" for split, info in config["splits"].items())
    description = (f"Config {config_name}: {rows} rows in {len(splits)} split{'s' if len(splits) > 1 else ''} "
                   f"({counts}); access: {config['redistribution']}.")
    if skipped:
        description += (f" {len(skipped)} column{'s' if len(skipped) > 1 else ''} not described, having no Croissant "
                        f"data type: {'; '.join(skipped)}.")
    if config.get("description"):
        description = f"{' '.join(config['description'].split())} {description}"
    return split_sets + builder.enumerations + [{
        "@type": "cr:RecordSet", "@id": record_set, "name": config_name, "description": description,
        "field": fields,
    }]


class _FieldBuilder:
    """The fields of one config's record set, and the enumeration record sets of its ClassLabels."""

    def __init__(self, config: str, record_set: str, file_set: str, docs: dict[str, str], ids: set[str]):
        self.config, self.record_set, self.file_set, self.docs, self.ids = config, record_set, file_set, docs, ids
        self.enumerations: list[dict] = []

    def field(self, field_id: str, column: str, path: str, feature, json_path: list[str],
              shape: list[int] | None = None) -> dict:
        """The field of `feature` at documented `path` (``a[].b``), read from `column` then `json_path`."""
        if isinstance(feature, (List, LargeList)):
            dims = [*(shape or []), feature.length if isinstance(feature, List) and feature.length not in (None, -1)
                    else -1]
            inner_path = f"{path}[]" if f"{path}[]" in self.docs else path
            if isinstance(feature.feature, dict):
                inner_path = f"{path}[]"
            field = self.field(field_id, column, inner_path, feature.feature, json_path, dims)
            if shape is None:  # the outermost list of a nest describes itself
                field["description"] = self._doc(path)
            return field
        field = {"@type": "cr:Field", "@id": field_id, "name": field_id.rsplit("/", 1)[1],
                 "description": self._doc(path)}
        if isinstance(feature, dict):
            field["subField"] = [
                self.field(f"{field_id}/{ID_UNSAFE.sub('_', name)}", column, f"{path}.{name}", sub_feature,
                           [*json_path, _json_path_key(name)])
                for name, sub_feature in feature.items()]
        else:
            field["dataType"] = self._data_type(feature, path, field)
            source = {"fileSet": {"@id": self.file_set}, "extract": {"column": column}}
            transforms = [{"jsonPath": key} for key in json_path]
            if isinstance(feature, (Image, Audio, Video)):
                transforms.append({"jsonPath": "bytes"})
            if transforms:
                source["transform"] = transforms[0] if len(transforms) == 1 else transforms
            field["source"] = source
        if shape:  # Croissant 1.1 says isArray + arrayShape; `repeated` (1.0) too, which mlcroissant 1.1 still
            # needs to read a list of media (it casts each item of a `repeated` field, not of an `isArray` one)
            field["isArray"] = True
            field["arrayShape"] = ",".join(str(dim) for dim in shape)
            field["repeated"] = True
        return field

    def _doc(self, path: str) -> str:
        return self.docs.get(path) or self.docs.get(path.removesuffix("[]")) or f"Column {path} of the Parquet files."

    def _data_type(self, feature, path: str, field: dict) -> str:
        for kind, data_type in MEDIA_TYPES:
            if isinstance(feature, kind):
                field["description"] += (" The stored bytes of the file (the Parquet cell is a struct of `bytes` "
                                         "and `path`).")
                return data_type
        if isinstance(feature, ClassLabel):
            field["references"] = {"field": {"@id": self._enumeration(path, feature)}}
            field["description"] += (" A class index; its names are the enumeration "
                                     f"{self.enumerations[-1]['@id']} (" + ", ".join(
                                         f"{i} {name}" for i, name in enumerate(feature.names)) + ").")
            return "sc:Integer"
        if isinstance(feature, Json):
            field["description"] += " Stored as JSON text."
            return "sc:Text"
        if isinstance(feature, Value):
            dtype = feature.dtype
            if dtype in VALUE_TYPES:
                return VALUE_TYPES[dtype]
            if dtype.startswith("timestamp["):
                return "sc:DateTime"
            if dtype.startswith(("time32", "time64")):
                return "sc:Time"
        raise UnsupportedFeature(f"no Croissant data type for {type(feature).__name__} at {path}")

    def _enumeration(self, path: str, feature: ClassLabel) -> str:
        """An `sc:Enumeration` record set with the class names: its key field's @id."""
        enum_id = unique_id(f"{self.record_set}_{path.replace('[]', '').replace('.', '_')}_classes", self.ids)
        self.enumerations.append(inline_record_set(
            enum_id, "sc:Enumeration", f"The classes of {path} in config {self.config}: the field holds the index.",
            [("index", "The class index stored in the data.", "sc:Integer"), ("name", "The class name.", "sc:Text")],
            list(enumerate(feature.names))))
        return f"{enum_id}/index"


def inline_record_set(set_id: str, data_type: str, description: str, fields: list[tuple[str, str, object]],
                      rows: list[tuple]) -> dict:
    """A small record set that holds its own data (the splits, a ClassLabel's names), keyed by its first field;
    `fields` are (name, description, data type), `rows` the values in that order."""
    return {
        "@type": "cr:RecordSet", "@id": set_id, "name": set_id, "dataType": data_type, "description": description,
        "key": {"@id": f"{set_id}/{fields[0][0]}"},
        "field": [{"@type": "cr:Field", "@id": f"{set_id}/{name}", "name": name, "description": doc, "dataType": kind}
                  for name, doc, kind in fields],
        "data": [{f"{set_id}/{name}": value for (name, _, _), value in zip(fields, row)} for row in rows],
    }


def _json_path_key(name: str) -> str:
    """A struct key as a JSONPath step (quoted when not a plain identifier), as the Hub escapes it."""
    if re.fullmatch(r"[A-Za-z0-9_]+", name):
        return name
    return "['" + name.replace("'", "\\'").replace("[", "\\[").replace("]", "\\]") + "']"


# ---- as a Hub serves it ------------------------------------------------------------------------------

def for_repository(document: dict, base_url: str, repo_id: str, revision: str = "main") -> dict:
    """The document as served for a Hub repository: its page as `url`, every file's `contentUrl` the
    absolute URL of the file at `revision`, and, as the Hub's own Croissant does, the repository as a
    `git+https` FileObject that contains each config's FileSet (whose `includes` are repository paths)."""
    base = base_url.rstrip("/")
    served = dict(document, url=f"{base}/datasets/{repo_id}")
    if document.get("alternateName"):  # the repository it was built for, then other names: now this one
        served["alternateName"] = [repo_id, *document["alternateName"][1:]]
    ids = {item.get("@id") for item in document.get("distribution", [])}
    repo = "repo" if "repo" not in ids else unique_id("repo", set(ids))
    distribution = [{
        "@type": "cr:FileObject", "@id": repo, "name": repo,
        "description": f"The Hugging Face git repository {repo_id} at {revision}.",
        "contentUrl": f"{base}/datasets/{repo_id}/tree/{quote(revision, safe='')}",
        "encodingFormat": "git+https",
        "sha256": "https://github.com/mlcommons/croissant/issues/80",  # git checks the content (as the Hub says)
    }]
    for item in document.get("distribution", []):
        item = dict(item)
        if item.get("@type") == "cr:FileObject" and not re.match(r"[a-z][a-z0-9+.-]*://", item.get("contentUrl", "")):
            item["contentUrl"] = (f"{base}/datasets/{repo_id}/resolve/{quote(revision, safe='')}/"
                                  f"{quote(item['contentUrl'])}")
        elif item.get("@type") == "cr:FileSet" and "containedIn" not in item:
            item["containedIn"] = {"@id": repo}
        distribution.append(item)
    served["distribution"] = distribution
    return served
