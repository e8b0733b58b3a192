"""Batch checks on a Dask distributed cluster: the batch cut into partitions, checked by worker processes.

The client reads the batch (:func:`medkg.batch.batch_items`, so bad inputs become error records
exactly as in one process), cuts it into partitions and keeps a few of them in flight on the
cluster. Each worker process loads the compiled knowledge base once, on its first partition
(:func:`medkg.knowledge_base.default_knowledge_base` keeps one per process, reused by every
later task), and checks its partitions with :func:`medkg.batch.check_chunk`. The client yields
the records in input order, holding at most the partitions in flight.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from .batch import BatchItem, check_chunk
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .loaders import InputError

__all__ = ["KnowledgeBaseMismatch", "Scheduler", "check_batch_distributed", "dask_client", "worker_status"]

_LOCAL = re.compile(r"local:(\d+)")
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


class KnowledgeBaseMismatch(RuntimeError):
    """A worker's knowledge base was compiled from other sources than the client's."""


@dataclass(frozen=True)
class Scheduler:
    """Where a batch runs: ``local_workers`` processes started here, or the ``address`` of a running scheduler."""

    local_workers: int | None = None
    address: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Scheduler:
        """Read ``local:N`` (N worker processes on this machine) or ``tcp://host:port`` (a running scheduler).

        Raises:
            InputError: for anything else, or ``local:0``.
        """
        local = _LOCAL.fullmatch(spec.strip())
        if local:
            if int(local.group(1)) < 1:
                raise InputError(f"--dask {spec}: a local cluster needs at least one worker")
            return cls(local_workers=int(local.group(1)))
        if _ADDRESS.fullmatch(spec.strip()):
            return cls(address=spec.strip())
        raise InputError(f"--dask {spec!r}: give local:N or a scheduler address such as tcp://host:8786")


@contextmanager
def dask_client(spec: str, *, timeout: float = 30.0) -> Iterator[Any]:
    """Yield a :class:`distributed.Client` for ``spec`` (see :meth:`Scheduler.parse`); close it afterwards.

    ``local:N`` starts a LocalCluster of N worker processes with one thread each, listening on
    loopback only and without a dashboard, and shuts it down on exit. An address connects to an
    existing cluster (``timeout`` in seconds) and leaves it running.

    Raises:
        InputError: for a malformed ``spec``, a scheduler that cannot be reached, or Dask not installed.
    """
    scheduler = Scheduler.parse(spec)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--dask needs Dask distributed: pip install 'medkg[dask]'") from None
    if scheduler.local_workers is not None:
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=scheduler.local_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    try:
        client = Client(scheduler.address, timeout=timeout)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as error:
        raise InputError(f"--dask {spec}: cannot reach the scheduler: {error}") from None
    with client:
        yield client


def check_batch_distributed(
    items: Iterable[BatchItem],
    client: Any,
    *,
    engine: str = "default",
    kb: KnowledgeBase | None = None,
    partition_size: int = 200,
    in_flight: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Check ``items`` on the cluster of ``client``; yield one record per item, in input order.

    The records are those of :func:`medkg.batch.check_batch` (same format, same error records).

    Args:
        items: the batch, e.g. from :func:`medkg.batch.batch_items`; read lazily.
        client: a :class:`distributed.Client` (see :func:`dask_client`).
        engine: engine name, as for :func:`medkg.check`.
        kb: the client's knowledge base (default: the built-in one). Workers load their own
            :func:`~medkg.knowledge_base.default_knowledge_base` for ``kb.root``, once per process.
        partition_size: items per task (each task checks its partition together).
        in_flight: partitions submitted and not yet yielded (default: twice the cluster's threads);
            bounds the memory the client holds.

    Raises:
        KnowledgeBaseMismatch: when a worker's knowledge base differs from ``kb`` (other sources).
    """
    if partition_size < 1:
        raise ValueError(f"partition_size must be at least 1, not {partition_size}")
    kb = kb or default_knowledge_base()
    window = in_flight or 2 * max(1, sum(client.nthreads().values()))
    pending: deque[Any] = deque()
    try:
        for partition in _partitions(items, partition_size):
            pending.append(client.submit(_check_partition, partition, engine, kb.root, kb.sha256, pure=False))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        if pending:
            client.cancel(list(pending))


def _partitions(items: Iterable[BatchItem], size: int) -> Iterator[list[BatchItem]]:
    iterator = iter(items)
    while partition := list(islice(iterator, size)):
        yield partition


# Worker side: one knowledge base per process, used from one dedicated thread. The engines share
# one store per knowledge base and pyoxigraph's query results must be dropped on the thread that
# made them (Dask's profiler holds task frames from its event loop), so partitions take turns on
# this thread whatever the worker's thread count.
_KB_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medkg-kb")
_LOADED: dict[int, Path] = {}  # id of each knowledge base this process checked with -> its build folder
_PARTITIONS = [0]


def _check_partition(partition: list[BatchItem], engine: str, root: Path | None, sha256: str) -> list[dict[str, Any]]:
    return _KB_THREAD.submit(_check_here, partition, engine, root, sha256).result()


def _check_here(partition: list[BatchItem], engine: str, root: Path | None, sha256: str) -> list[dict[str, Any]]:
    kb = default_knowledge_base(root)
    if kb.sha256 != sha256:
        raise KnowledgeBaseMismatch(
            f"worker knowledge base {kb.sha256[:12]} (from {kb.built.folder}) differs from the client's {sha256[:12]}"
        )
    _LOADED[id(kb)] = kb.built.folder
    _PARTITIONS[0] += 1
    return check_chunk(partition, engine=engine, kb=kb)


def worker_status() -> dict[str, Any]:
    """Describe this worker process: partitions checked, knowledge bases used (build folders), memory, CPU.

    Run it on every worker with ``client.run(worker_status)``; a worker that reuses its
    knowledge base lists one build folder however many partitions it checked. ``peak_rss_mb``
    is the process's peak resident memory in MiB (Linux), ``cpu_s`` its CPU time in seconds.
    """
    import os
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "pid": os.getpid(),
        "partitions": _PARTITIONS[0],
        "knowledge_bases": sorted(str(folder) for folder in _LOADED.values()),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
