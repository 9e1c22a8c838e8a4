"""The one error type for bad raw input, and the per-record error policy.

Every problem with a raw release is reported as a `RawDataError` naming the file, the line or record,
what was wrong and what to do. The CLIs print it and exit 2. A `RecordLog` decides, per record, whether
such an error stops the build (`raise`, the default) or is counted and listed (`skip`): nothing is
dropped silently.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

ON_ERROR_CHOICES = ("raise", "skip")


class UsageError(Exception):
    """The command was called wrongly (unknown dataset or config, a refused publish): exit 2."""


class RawDataError(Exception):
    """A problem in the raw release: where it is, what is wrong, and what to do about it."""

    def __init__(self, path, problem: str, *, line: int | None = None, record: str | None = None,
                 hint: str | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        self.line = line
        self.record = None if record is None else str(record)
        self.hint = hint
        super().__init__(str(self))

    def __reduce__(self):  # keeps the fields when the error crosses a process boundary
        return _rebuild_raw_data_error, (type(self), self.path, self.problem, self.line, self.record, self.hint)

    @property
    def location(self) -> str:
        where = self.path or "<raw data>"
        if self.line is not None:
            where += f":{self.line}"
        if self.record is not None:
            where += f" (record {self.record})"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.problem}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def _rebuild_raw_data_error(cls, path, problem, line, record, hint):
    return cls(path, problem, line=line, record=record, hint=hint)


def not_utf8(path, error: UnicodeDecodeError, hint: str = "the file is corrupt or in another encoding; "
                                                            "download it again") -> RawDataError:
    """The error for text that is not UTF-8, located at the line and byte of the first bad byte."""
    line = bytes(error.object).count(b"\n", 0, error.start) + 1
    return RawDataError(path, f"not UTF-8 text ({error.reason} at byte {error.start})", line=line, hint=hint)


def read_text(path, encoding: str = "utf-8", hint: str | None = None) -> str:
    """A raw text file's contents; text in another encoding is a located error, not a UnicodeDecodeError."""
    data = Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise (not_utf8(path, error, hint) if hint else not_utf8(path, error)) from None


class MissingRawDataError(RawDataError):
    """The data directory lacks files the requested configs need."""

    def __init__(self, data_dir, missing: list[str], hint: str | None = None):
        self.missing = list(missing)
        problem = "the raw release is incomplete; missing:\n" + "\n".join(f"  - {m}" for m in self.missing)
        super().__init__(data_dir, problem, hint=hint)

    def __reduce__(self):
        return type(self), (self.path, self.missing, self.hint)


@dataclass
class SkippedRecord:
    split: str | None
    file: str | None
    record: str | None
    line: int | None
    reason: str


@dataclass
class RecordLog:
    """Counts the records a shard job reads and applies the error policy to each of them.

    It also carries what the maintainer should learn about the raw data beyond skipped records:
    tallies of sub-record events (`count`, e.g. broken subtitle cues left out of a row) and one-off
    remarks (`notice`, e.g. a folder the builder does not know). Both reach build_report.json and the card.
    """

    on_error: str = "raise"
    split: str | None = None
    seen: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)  # records left out on request, per reason

    def __post_init__(self):
        if self.on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, not {self.on_error!r}")

    @contextlib.contextmanager
    def record(self, file=None, record=None) -> Iterator[None]:
        """Guard the parsing of one record: a RawDataError inside is raised or logged by policy."""
        self.seen += 1
        try:
            yield
        except RawDataError as error:
            if error.path is None and file is not None:
                error.path = os.fspath(file)
            if error.record is None and record is not None:
                error.record = str(record)
            self.reject(error)

    def convert(self, file, record, make: Callable[..., T], *args, **kwargs) -> T | None:
        """`make(*args, **kwargs)` for one record, inside `record(file, record)`: its result, or None when the
        record was rejected under the skip policy (under raise the error propagates)."""
        with self.record(file, record):
            return make(*args, **kwargs)
        return None

    def converted(self, items: Iterable, locate: Callable[..., tuple], make: Callable[..., T]) -> Iterator[T]:
        """`make(item)` for every item, each inside its record guard (`locate(item)` gives its file and
        record), leaving out the rejected ones. The result is yielded outside the guard, so an error in
        the consumer is never taken for this record's."""
        for item in items:
            result = self.convert(*locate(item), make, item)
            if result is not None:
                yield result

    def reject_record(self, error: RawDataError, file=None, record=None) -> None:
        """One record read and found bad outright (a line that is not JSON, a video none of whose files
        reads): counted like a guarded record, then rejected by policy."""
        with self.record(file, record):
            raise error

    def add_records(self, n: int) -> None:
        """Count `n` records read without a guard each: builders that parse a batch at once (a JSON Lines
        chunk with pyarrow) count the good records in bulk and guard only the bad ones (`record`/`reject`)."""
        self.seen += n

    def reject(self, error: RawDataError, split: str | None = None) -> None:
        """Apply the policy to an error about one record (counted in `seen` when it came through `record`).

        Builders call this directly for records rejected while listing splits, naming the split.
        """
        if self.on_error == "raise":
            raise error
        self.skipped.append(SkippedRecord(split or self.split, error.path, error.record, error.line, error.problem))

    def exclude(self, by_reason: dict[str, int]) -> None:
        """Records read and then left out because an exclusion list names them (not errors)."""
        for reason, n in by_reason.items():
            self.excluded[reason] = self.excluded.get(reason, 0) + n

    def count(self, what: str, n: int = 1) -> None:
        """Tally an event worth reporting that is not a skipped record."""
        self.counts[what] = self.counts.get(what, 0) + n

    def notice(self, text: str) -> None:
        """A remark about the raw data for the maintainer (printed by build.py, listed in the card)."""
        if text not in self.notices:
            self.notices.append(text)

    @property
    def written(self) -> int:
        return self.seen - len(self.skipped) - sum(self.excluded.values())

    def as_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.skipped]
