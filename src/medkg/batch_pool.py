"""Batch checks as JSON lines, in this process or spread over local worker processes (``--jobs N``).

What ``medkg check --batch`` runs (without ``--dask``). The parent only reads the batch's raw
inputs (NDJSON lines or file paths, not parsed), cuts them into chunks and writes the results.
Each chunk is read (:func:`medkg.batch.read_input`: a bad input becomes the same error record as
anywhere else), checked together (:func:`medkg.batch.check_batch_records`) and serialised to
JSON lines (one text per chunk, :class:`CheckedChunk`) by whoever checks it: this process when
``jobs`` is 1, else one of ``jobs`` worker processes, with a few chunks in flight and the chunks
yielded in input order.

Where the platform forks (Linux), the workers are forked after the parent loaded the knowledge
base and share it; elsewhere each worker loads it once (:func:`_start_worker`).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from .batch import BatchRecord, RawInput, check_batch_records, read_input
from .findings import finding_json_of
from .gc_pause import cyclic_gc_paused, freeze_long_lived
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .report import Finding

__all__ = ["CheckedChunk", "checked_chunks", "chunks_of_dicts"]


@dataclass(frozen=True)
class CheckedChunk:
    """Consecutive batch records as written: their JSON lines, exit codes and findings counted by severity.

    ``text``: one compact JSON line per record, each ending in a newline; ``exit_codes``: one per
    record, in order; ``severities``: severity -> findings of that severity over the records.
    A worker returns one per chunk, so the parent writes and counts a chunk at once (one object to
    pass between processes, not one per record).
    """

    text: str
    exit_codes: list[int]
    severities: dict[str, int]

    @classmethod
    def of_records(
        cls, records: Iterable[BatchRecord], finding_json: Callable[[Finding], str] | None = None
    ) -> CheckedChunk:
        """Return the chunk of records checked here or by a worker (reports as models).

        ``finding_json``: as for :meth:`medkg.report.Report.compact_json`.
        """
        return cls._of(
            (
                record.to_json(finding_json),
                record.exit_code,
                [f.severity for f in (record.report.findings if record.report else [])],
            )
            for record in records
        )

    @classmethod
    def of_dicts(cls, records: Iterable[dict[str, Any]]) -> CheckedChunk:
        """Return the chunk of records as dicts (:func:`medkg.batch.check_batch`, a Dask worker's records)."""
        return cls._of(
            (
                json.dumps(record, ensure_ascii=False, separators=(",", ":")),  # as BatchRecord.to_json writes it
                record["exit_code"],
                [f["severity"] for f in record.get("report", {}).get("findings", [])],
            )
            for record in records
        )

    @classmethod
    def _of(cls, entries: Iterable[tuple[str, int, list[str]]]) -> CheckedChunk:
        """Gather (JSON line, exit code, its findings' severities) per record into one chunk."""
        lines, exit_codes = [], []
        severities: Counter[str] = Counter()
        for line, exit_code, found in entries:
            lines.append(line + "\n")
            exit_codes.append(exit_code)
            severities.update(found)
        return cls("".join(lines), exit_codes, dict(severities))


T = TypeVar("T")

#: The knowledge base a worker checks with: the parent's, inherited on fork, or loaded by :func:`_start_worker`.
_KB: list[KnowledgeBase] = []


def _check_chunk(raws: list[RawInput], engine: str, chunk_size: int) -> CheckedChunk:
    kb = _KB[0]
    with cyclic_gc_paused():  # reading and writing allocate as much as checking (see medkg.gc_pause)
        items = [item for item in (read_input(raw, kb.knows_drug) for raw in raws) if item is not None]
        records = check_batch_records(items, engine=engine, kb=kb, chunk_size=chunk_size)
        return CheckedChunk.of_records(records, finding_json_of(kb))


def _die_with_parent(parent: int) -> None:
    """Make this worker end when its parent process dies, however it dies (Linux).

    A pool's worker waits for tasks from its parent; if the parent is killed (``kill``, the OOM
    killer) the worker would wait forever. ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` asks the kernel
    to send it SIGTERM then. Elsewhere nothing is done (the ``with`` block of the pool still ends
    its workers when the parent exits normally or by an exception).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    set_parent_death_signal = 1  # PR_SET_PDEATHSIG, <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _start_worker(root: Path | None, kb_folder: Path, parent: int) -> None:
    _die_with_parent(parent)
    # a worker only checks chunks, which leave no reference cycles (medkg.gc_pause): resuming the
    # collector between chunks made it walk the caches the worker grew (7 % of a --jobs 2 batch)
    gc.disable()
    if not _KB:  # spawned, not forked: load the parent's build
        from .knowledge_base import knowledge_base_at

        _KB.append(knowledge_base_at(kb_folder, root))


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def chunks_of_dicts(records: Iterable[dict[str, Any]], size: int = 200) -> Iterator[CheckedChunk]:
    """Yield records given as dicts (a Dask batch's) as chunks of up to ``size`` records, in order."""
    for chunk in _chunks(records, size):
        yield CheckedChunk.of_dicts(chunk)


def checked_chunks(
    raws: Iterable[RawInput],
    *,
    jobs: int = 1,
    engine: str = "default",
    kb: KnowledgeBase | None = None,
    chunk_size: int = 200,
) -> Iterator[CheckedChunk]:
    """Check a batch's raw inputs (:func:`medkg.batch.raw_inputs`); yield the records chunk by chunk, in input order.

    Each chunk holds the records :func:`medkg.batch.check_batch` yields for up to ``chunk_size``
    consecutive inputs, as compact JSON lines; blank NDJSON lines give none (a chunk of only
    blank lines is empty).

    Args:
        raws: the unread inputs, read lazily.
        jobs: worker processes (1: check in this process).
        engine: engine name, as for :func:`medkg.check`.
        kb: knowledge base (default: the built-in one); workers use the same build.
        chunk_size: inputs checked together (one chunk is one task).

    Side effect: :func:`medkg.gc_pause.freeze_long_lived` is called first, so the objects alive
    then (the knowledge base, and the caller's) are never walked by the cyclic collector again;
    forked workers then share their pages instead of copying them when a collection would touch
    them.

    Raises:
        ValueError: if ``jobs`` or ``chunk_size`` is below 1.
        concurrent.futures.process.BrokenProcessPool: if a worker process dies.
    """
    if jobs < 1 or chunk_size < 1:
        raise ValueError(f"jobs and chunk_size must be at least 1, not {jobs} and {chunk_size}")
    kb = kb or default_knowledge_base()
    # loaded and indexed before the workers fork, so that they share it
    kb.rulebook.warm()
    kb.drug_names  # noqa: B018
    _KB[:] = [kb]
    # the knowledge base lives as long as the process: keep the collector from walking it again and
    # again (and, forked, from writing to the pages the workers share)
    freeze_long_lived()
    if jobs == 1:
        for chunk in _chunks(raws, chunk_size):
            yield _check_chunk(chunk, engine, chunk_size)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(kb.root, kb.built.folder, os.getpid()),
    ) as pool:
        pending: deque[Future[CheckedChunk]] = deque()
        for chunk in _chunks(raws, chunk_size):
            pending.append(pool.submit(_check_chunk, chunk, engine, chunk_size))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
