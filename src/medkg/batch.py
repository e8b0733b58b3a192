"""Batch checks: many patients from an NDJSON file or a folder, one report record per input.

Where batch input enters and batch records are produced. The knowledge base is loaded once;
valid patients are checked together in chunks (one classification and one run of each rule
query per chunk, see :func:`medkg.check.check_many`). A bad input yields an error record in its
place and the run continues; records come out in input order.
With ``medkg check --batch --dask``, chunks are checked by Dask workers instead (:mod:`medkg.distributed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .check import check_many
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .loaders import PATIENT_SUFFIXES, InputError, LoadedInput, decode_input_bytes, input_from_json, load_input
from .patient import Patient

__all__ = ["BatchItem", "batch_items", "check_batch", "check_chunk", "count_batch_items"]

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
    """List the patient files of a batch folder, in name order (other files are not inputs)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PATIENT_SUFFIXES)


def _ndjson_items(lines: Iterable[str | bytes], name: str, known: Callable[[str], bool] | None) -> Iterator[BatchItem]:
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        try:
            text = decode_input_bytes(line, origin=where) if isinstance(line, bytes) else line
            if not text.strip():
                continue
            yield BatchItem.read(where, input_from_json(text, origin=where, known=known))
        except InputError as error:
            yield BatchItem(where, error=str(error))


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
            patients or FHIR Bundles, ``.ttl``) are read in name order.
        lines: the NDJSON lines when they come from elsewhere (standard input), as text or as bytes
            (decoded line by line: a line that is not UTF-8 is an error record, not the end of the run);
            ``source`` then names them.
        known: "the knowledge base knows this drug name" (helps FHIR readers match salts), e.g.
            :meth:`medkg.knowledge_base.KnowledgeBase.knows_drug`.

    Raises:
        InputError: when ``source`` is neither a readable file nor a folder.
    """
    if lines is not None:
        yield from _ndjson_items(lines, str(source), known)
        return
    path = Path(source)
    if path.is_dir():
        for file in _patient_files(path):
            try:
                yield BatchItem.read(file.name, load_input(file, known=known))
            except InputError as error:
                yield BatchItem(file.name, error=str(error))
        return
    try:
        handle = path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read the batch: {error.strerror or error}") from None
    with handle:
        yield from _ndjson_items(handle, path.name, known)


def count_batch_items(source: Path) -> int:
    """Count the inputs :func:`batch_items` will yield for ``source`` (for a progress bar)."""
    if source.is_dir():
        return len(_patient_files(source))
    with source.open(encoding="utf-8-sig", errors="replace") as handle:
        return sum(1 for line in handle if line.strip())


def _records(chunk: list[BatchItem], engine: str, kb: KnowledgeBase) -> list[dict[str, Any]]:
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
        return [{"input": chunk[0].source, "exit_code": EXIT_INTERNAL, "error": "internal error checking this patient"}]
    records = []
    for item in chunk:
        if item.error is not None:
            records.append({"input": item.source, "exit_code": EXIT_INPUT, "error": item.error})
        else:
            report = next(reports)
            records.append(
                {"input": item.source, "exit_code": report.exit_code, "report": report.model_dump(mode="json")}
            )
    return records


def check_chunk(
    chunk: Iterable[BatchItem], *, engine: str = "default", kb: KnowledgeBase | None = None
) -> list[dict[str, Any]]:
    """Check one chunk of items together and return its records in order (see :func:`check_batch`).

    The unit of work of :func:`check_batch` and of a Dask worker (:mod:`medkg.distributed`).
    """
    return _records(list(chunk), engine, kb or default_knowledge_base())


def check_batch(
    items: Iterable[BatchItem], *, engine: str = "default", kb: KnowledgeBase | None = None, chunk_size: int = 200
) -> Iterator[dict[str, Any]]:
    """Check the items in chunks of ``chunk_size``; yield one record per item, in input order.

    A record is ``{"input", "exit_code", "report"}`` for a checked patient or
    ``{"input", "exit_code", "error"}`` for an input that could not be read (exit code 2) or
    checked (3). The records are what ``medkg check --batch --format ndjson`` prints.
    """
    kb = kb or default_knowledge_base()
    chunk: list[BatchItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            yield from _records(chunk, engine, kb)
            chunk = []
    if chunk:
        yield from _records(chunk, engine, kb)
