"""Takedown and exclusion lists: records a maintainer was asked to leave out, honoured in every rebuild.

A list is a text file with one exclusion per line, `<kind> <value>`, optionally followed by `# reason`:

    # requests honoured for this dataset
    youtube_id qJrOyggIB-w    # the creator asked for removal (InternVideo#324)
    url_prefix https://example.org/private/

The kinds are those the dataset's card declares under `excludable:` (a Flickr image id, a YouTube id, a URL
or URL prefix, a document key, an article id, ...); each builder says which column a kind matches
(`MultimodalBuilder.EXCLUDABLE`). `dataset_cards/<name>.exclude` is applied to every build of the dataset,
so a request honoured once stays honoured; `build.py --exclude FILE` adds lists. The core drops the matching
rows from each table before it is written and counts them per reason (build_report.json, the card, Croissant).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .errors import UsageError

NO_REASON = "listed in {list}"


@dataclass(frozen=True)
class ExcludeBy:
    """How a kind of exclusion finds rows: the values of a top-level column (the first of `columns` a config
    has, compared as text), equal to the listed value, or starting with it (`prefix`, for URL prefixes)."""

    columns: tuple[str, ...]
    prefix: bool = False

    def __init__(self, *columns: str, prefix: bool = False):
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "prefix", prefix)

    def column_in(self, names) -> str | None:
        return next((column for column in self.columns if column in names), None)


@dataclass(frozen=True)
class Exclusion:
    kind: str
    value: str
    reason: str
    source: str  # file:line, for messages


def read_list(path, kinds: dict[str, ExcludeBy]) -> list[Exclusion]:
    """The exclusions of one list file; a line of an unknown kind or without a value is a UsageError naming
    the file and line (the list is the maintainer's own input)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read the exclusion list ({error})") from None
    exclusions = []
    for number, line in enumerate(text.splitlines(), 1):
        content, _, comment = line.partition("#")
        if not content.strip():
            continue
        parts = content.split()
        if len(parts) != 2 or parts[0] not in kinds:
            raise UsageError(f"{path}:{number}: expected '<kind> <value>  # reason' with kind one of "
                             f"{', '.join(sorted(kinds))} (the kinds this dataset's card declares), got {line.strip()!r}")
        exclusions.append(Exclusion(parts[0], parts[1], comment.strip() or NO_REASON.format(list=path.name),
                                    f"{path.name}:{number}"))
    return exclusions


def digest(exclusions: tuple[Exclusion, ...]) -> str:
    """Changes when the list does, so that a build with another list rebuilds every shard job."""
    text = "\n".join(f"{e.kind}\t{e.value}\t{e.reason}" for e in exclusions)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def drop_excluded(table: pa.Table, kinds: dict[str, ExcludeBy],
                  exclusions: tuple[Exclusion, ...]) -> tuple[pa.Table, Counter]:
    """The table without the rows an exclusion matches, and how many rows each reason took out. A row matched
    by several exclusions counts once (for the first kind the builder declares, then the first in the list)."""
    if not exclusions or table.num_rows == 0:
        return table, Counter()
    reason_of_row: dict[int, str] = {}
    for kind, by in kinds.items():
        listed = [e for e in exclusions if e.kind == kind]
        column = by.column_in(table.column_names)
        if not listed or column is None:
            continue
        values = pc.cast(table[column], pa.string())
        if by.prefix:  # prefixes are few (a site, a path): one pass each
            for exclusion in listed:
                hits = pc.fill_null(pc.starts_with(values, exclusion.value), False)
                for row in pc.indices_nonzero(hits).to_pylist():
                    reason_of_row.setdefault(row, exclusion.reason)
        else:  # ids may be many: one set lookup per row
            first = {}
            for exclusion in listed:
                first.setdefault(exclusion.value, exclusion.reason)
            hits = pc.fill_null(pc.is_in(values, value_set=pa.array(list(first), pa.string())), False)
            rows = pc.indices_nonzero(hits)
            for row, value in zip(rows.to_pylist(), values.take(rows).to_pylist()):
                reason_of_row.setdefault(row, first[value])
    if not reason_of_row:
        return table, Counter()
    keep = [True] * table.num_rows
    for row in reason_of_row:
        keep[row] = False
    return table.filter(pa.array(keep)), Counter(reason_of_row.values())


def applicable(kinds: dict[str, ExcludeBy], columns: list[str], exclusions: tuple[Exclusion, ...]) -> list[str]:
    """The kinds of the list that find no column in a config (said in the build's notices, not ignored)."""
    return sorted({e.kind for e in exclusions if kinds[e.kind].column_in(columns) is None})
