"""Batch checks: many patients from an NDJSON file or a folder, one report record per input.

Where batch input enters and batch records are produced. The knowledge base is loaded once;
valid patients are checked together in chunks (one classification and one run of each rule
query per chunk, see :func:`medkg.check.check_many`). A bad input yields an error record in its
place and the run continues; records come out in input order.
With ``medkg check --batch --dask``, chunks are checked by Dask workers instead (:mod:`medkg.distributed`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .check import check_many
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .loaders import InputError, LoadedInput, decode_input_bytes, input_from_json, load_input
from .patient import Patient
from .report import Finding, Report

__all__ = [
    "BatchItem",
    "BatchRecord",
    "RawInput",
    "batch_items",
    "check_batch",
    "check_batch_records",
    "check_chunk",
    "count_batch_items",
    "raw_inputs",
    "read_input",
]

#: Exit codes, as for one patient: 0 nothing serious, 1 serious finding, 2 invalid input, 3 internal fault.
EXIT_INPUT, EXIT_INTERNAL = 2, 3


@dataclass
class BatchItem:
    """One input of a batch: where it came from, and the patient (with its reader's notes) or why it could not be read."""

    source: str
    patient: Patient | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, source: str, loaded: LoadedInput) -> BatchItem:
        """Wrap a loaded input (medkg patient, FHIR Bundle or CDS Hooks request)."""
        return cls(source, patient=loaded.patient, notes=list(loaded.notes))


_log = logging.getLogger(__name__)


def _patient_files(folder: Path) -> list[Path]:
    """List the entries of a batch folder, in name order, hidden ones (``.name``) apart.

    Every entry is an input: one that is not a patient file (another file type, a subfolder, which
    is not read recursively) becomes an error record when read, so nothing in the folder is
    skipped without a word.
    """
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


#: One input of a batch before it is read: where it came from, and an NDJSON line (bytes or text) or a file.
RawInput = tuple[str, bytes | str | Path]


def read_input(raw: RawInput, known: Callable[[str], bool] | None = None) -> BatchItem | None:
    """Read one raw input into a :class:`BatchItem` (an error item if it cannot be read); None for a blank line."""
    where, data = raw
    try:
        if isinstance(data, Path):
            return BatchItem.read(where, load_input(data, known=known))
        text = decode_input_bytes(data, origin=where) if isinstance(data, bytes) else data
        if not text.strip():
            return None
        return BatchItem.read(where, input_from_json(text, origin=where, known=known))
    except InputError as error:
        return BatchItem(where, error=str(error))


def raw_inputs(source: Path | str, lines: Iterable[str] | Iterable[bytes] | None = None) -> Iterator[RawInput]:
    """Yield the inputs of a batch in order, unread (see :func:`batch_items` for ``source`` and ``lines``).

    Raises:
        InputError: when ``source`` is neither a readable file nor a folder.
    """
    if lines is not None:
        for number, line in enumerate(lines, start=1):
            yield f"{source}:{number}", cast("bytes | str", line)
        return
    path = Path(source)
    if path.is_dir():
        for file in _patient_files(path):
            yield file.name, file
        return
    try:
        handle = path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read the batch: {error.strerror or error}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            yield f"{path.name}:{number}", line


def batch_items(
    source: Path | str,
    lines: Iterable[str] | Iterable[bytes] | None = None,
    *,
    known: Callable[[str], bool] | None = None,
) -> Iterator[BatchItem]:
    """Yield the inputs of a batch in order.

    Args:
        source: an NDJSON file (one JSON object per line: a medkg patient, a FHIR Bundle or a
            CDS Hooks request; blank lines skipped), or a folder whose patient files (``.json``
            patients or FHIR Bundles, ``.ttl``) are read in name order; any other entry but a
            hidden one (another file type, a subfolder) is an error record.
        lines: the NDJSON lines when they come from elsewhere (standard input), as text or as bytes
            (decoded line by line: a line that is not UTF-8 is an error record, not the end of the run);
            ``source`` then names them.
        known: "the knowledge base knows this drug name" (helps FHIR readers match salts), e.g.
            :meth:`medkg.knowledge_base.KnowledgeBase.knows_drug`.

    Raises:
        InputError: when ``source`` is neither a readable file nor a folder.
    """
    for raw in raw_inputs(source, lines):
        item = read_input(raw, known)
        if item is not None:
            yield item


def count_batch_items(source: Path) -> int:
    """Count the inputs :func:`batch_items` will yield for ``source`` (for a progress bar)."""
    if source.is_dir():
        return len(_patient_files(source))
    with source.open(encoding="utf-8-sig", errors="replace") as handle:
        return sum(1 for line in handle if line.strip())


@dataclass(frozen=True)
class BatchRecord:
    """The outcome of one batch input: its report (exit code 0 or 1), or why it was not checked (2 or 3)."""

    input: str
    exit_code: int
    report: Report | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the record as ``medkg check --batch`` prints it: ``{"input", "exit_code", "report" | "error"}``."""
        if self.report is None:
            return {"input": self.input, "exit_code": self.exit_code, "error": self.error}
        return {"input": self.input, "exit_code": self.exit_code, "report": self.report.model_dump(mode="json")}

    def to_json(self, finding_json: Callable[[Finding], str] | None = None) -> str:
        """Return the record as one compact JSON line (no newline): ``json.dumps(self.as_dict())``, serialised faster.

        ``finding_json``: as for :meth:`medkg.report.Report.compact_json`.
        """
        head = f'{{"input":{json.dumps(self.input, ensure_ascii=False)},"exit_code":{self.exit_code},'
        if self.report is None:
            return head + f'"error":{json.dumps(self.error, ensure_ascii=False)}}}'
        return head + f'"report":{self.report.compact_json(finding_json)}}}'


def _records(chunk: list[BatchItem], engine: str, kb: KnowledgeBase) -> list[BatchRecord]:
    try:
        valid = [(item.patient, item.notes) for item in chunk if item.patient is not None]
        reports = iter(
            check_many([patient for patient, _ in valid], engine=engine, kb=kb, notes=[notes for _, notes in valid])
        )
    except Exception as error:  # one bad patient must not lose its chunk: check the items one by one
        # the exception type only (its message may hold patient data); the traceback at DEBUG level
        _log.error(
            "internal error checking a chunk of %d: %s",
            len(chunk),
            type(error).__name__,
            exc_info=_log.isEnabledFor(logging.DEBUG),
        )
        if len(chunk) > 1:
            return [record for item in chunk for record in _records([item], engine, kb)]
        return [BatchRecord(chunk[0].source, EXIT_INTERNAL, error="internal error checking this patient")]
    records = []
    for item in chunk:
        if item.error is not None:
            records.append(BatchRecord(item.source, EXIT_INPUT, error=item.error))
        else:
            report = next(reports)
            records.append(BatchRecord(item.source, report.exit_code, report=report))
    return records


def check_chunk(
    chunk: Iterable[BatchItem], *, engine: str = "default", kb: KnowledgeBase | None = None
) -> list[dict[str, Any]]:
    """Check one chunk of items together and return its records in order (see :func:`check_batch`).

    The unit of work of :func:`check_batch` and of a Dask worker (:mod:`medkg.distributed`).
    """
    return [record.as_dict() for record in _records(list(chunk), engine, kb or default_knowledge_base())]


def check_batch(
    items: Iterable[BatchItem], *, engine: str = "default", kb: KnowledgeBase | None = None, chunk_size: int = 200
) -> Iterator[dict[str, Any]]:
    """Check the items in chunks of ``chunk_size``; yield one record per item, in input order.

    A record is ``{"input", "exit_code", "report"}`` for a checked patient or
    ``{"input", "exit_code", "error"}`` for an input that could not be read (exit code 2) or
    checked (3). The records are what ``medkg check --batch --format ndjson`` prints.
    """
    for record in check_batch_records(items, engine=engine, kb=kb, chunk_size=chunk_size):
        yield record.as_dict()


def check_batch_records(
    items: Iterable[BatchItem], *, engine: str = "default", kb: KnowledgeBase | None = None, chunk_size: int = 200
) -> Iterator[BatchRecord]:
    """As :func:`check_batch`, yielding :class:`BatchRecord` objects (reports as models, not dicts)."""
    kb = kb or default_knowledge_base()
    chunk: list[BatchItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            yield from _records(chunk, engine, kb)
            chunk = []
    if chunk:
        yield from _records(chunk, engine, kb)
