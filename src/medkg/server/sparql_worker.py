"""SPARQL queries in worker processes that can be killed: the time limit of ``/sparql``.

pyoxigraph cannot cancel a running query, so each query runs in a separate process holding its
own copy of the knowledge base (loaded from the compiled N-Triples). A query still running at
its deadline is stopped by killing that process; a fresh one is started in its place and the
caller gets :class:`SparqlTimeout`. The event loop never waits on a worker: callers await
:meth:`SparqlPool.run`, which hands the blocking exchange to a small thread pool of its own, so
CDS Hooks calls are served while a query runs or a worker restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["SparqlPool", "SparqlReply", "SparqlTimeout", "SparqlWorkerFailed"]

#: Replies cross the pipe as plain tuples: ("ok", body, media) or ("error", status, message).
_Reply = tuple[Any, ...]


class SparqlTimeout(RuntimeError):
    """The query did not finish (or found no free worker) within the time limit (HTTP 503)."""


class SparqlWorkerFailed(RuntimeError):
    """The worker process died while answering (crash or out of memory; HTTP 503)."""


@dataclass(frozen=True)
class SparqlReply:
    """What a worker answered: a body and media type (status 200) or an error status and message."""

    status: int
    body: bytes
    media_type: str


def _serve(conn: Connection, data: str, max_result_bytes: int) -> None:  # pragma: no cover - runs in the child
    """Worker process main loop: load ``data`` (N-Triples), then answer (query, accept) messages until EOF."""
    import pyoxigraph as ox

    from .sparql import NotAcceptable, QueryRefused, ResultTooLarge, evaluate

    store = ox.Store()
    store.bulk_load(path=data, format=ox.RdfFormat.N_TRIPLES)
    conn.send(("ready",))
    while True:
        try:
            query, accept = conn.recv()
        except (EOFError, OSError):
            return
        reply: _Reply
        try:
            result = evaluate(store, query, accept, max_result_bytes)
            reply = ("ok", result.body, result.media_type)
        except QueryRefused as error:
            reply = ("error", error.status, str(error))
        except NotAcceptable as error:
            reply = ("error", 406, str(error))
        except ResultTooLarge as error:
            reply = ("error", 422, str(error))
        except Exception as error:
            # never echo the query: only the kind of failure goes back
            reply = ("error", 400, f"query failed during evaluation ({type(error).__name__})")
        conn.send(reply)


class _Worker:
    """One worker process (``python -m medkg.server.sparql_worker``) and the parent's end of its socket.

    A plain subprocess, not :mod:`multiprocessing`'s spawn: that would re-import the caller's
    ``__main__``, which breaks scripts without a ``__main__`` guard.
    """

    def __init__(self, data: Path, max_result_bytes: int) -> None:
        parent, child = socket.socketpair()
        self.conn = Connection(parent.detach())
        child_fd = child.detach()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child_fd), str(data), str(max_result_bytes)],
                pass_fds=(child_fd,),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(child_fd)
        self.ready = False

    def kill(self) -> None:
        """Stop the process now (SIGKILL) and release its socket."""
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.wait(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def receive(self, deadline: float) -> _Reply | None:
        """Return the next message, or None when ``deadline`` (monotonic seconds) passes first.

        Raises:
            SparqlWorkerFailed: when the process died (socket closed).
        """
        remaining = deadline - time.monotonic()
        try:
            if not self.conn.poll(max(remaining, 0)):
                return None
            message: _Reply = self.conn.recv()
        except (EOFError, OSError):
            raise SparqlWorkerFailed("the SPARQL worker process stopped") from None
        return message


class SparqlPool:
    """A fixed number of worker processes answering SPARQL queries with a time limit.

    Args:
        data: N-Triples file each worker loads (the compiled knowledge base).
        workers: number of worker processes (each holds a copy of the store).
        timeout_s: time limit per query (seconds), waiting for a free worker included.
        max_result_bytes: largest serialised result (bytes).
    """

    def __init__(self, data: Path, *, workers: int, timeout_s: float, max_result_bytes: int) -> None:
        self.data = data
        self.size = workers
        self.timeout_s = timeout_s
        self.max_result_bytes = max_result_bytes
        self.restarts = 0
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        # threads only wait on pipes; a few more than workers so queued queries time out on their own
        self._threads = ThreadPoolExecutor(max_workers=max(4, 2 * workers), thread_name_prefix="medkg-sparql")

    def start(self) -> None:
        """Start the worker processes (idempotent; called on first use if not before)."""
        with self._lock:
            if self._started or self._closed:
                return
            for _ in range(self.size):
                self._add()
            self._started = True

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until every worker has loaded its store (or ``timeout_s`` passes); return whether all did."""
        self.start()
        deadline = time.monotonic() + timeout_s
        taken: list[_Worker] = []
        try:
            while len(taken) < self.size:
                worker = self._idle.get(timeout=max(deadline - time.monotonic(), 0.001))
                taken.append(worker)
                if not worker.ready and worker.receive(deadline) is not None:
                    worker.ready = True
        except (queue.Empty, SparqlWorkerFailed):
            pass
        finally:
            for worker in taken:
                self._idle.put(worker)
        return len(taken) == self.size and all(worker.ready for worker in taken)

    def _add(self) -> None:
        worker = _Worker(self.data, self.max_result_bytes)
        self._all.append(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self.restarts += 1
            if not self._closed:
                self._add()

    def close(self) -> None:
        """Kill every worker process; later queries fail."""
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), []
        for worker in workers:
            worker.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for w in self._all]

    def execute(self, query: str, accept: str | None, deadline: float) -> SparqlReply:
        """Blocking: answer ``query`` by a worker before ``deadline`` (monotonic seconds).

        Raises:
            SparqlTimeout: no worker free in time, the worker still loading, or the query still running
                at the deadline (that worker is killed and replaced).
            SparqlWorkerFailed: the worker died while answering (it is replaced).
        """
        self.start()
        worker = self._ready_worker(deadline)
        try:
            worker.conn.send((query, accept))
            reply = worker.receive(deadline)
        except SparqlWorkerFailed:
            self._replace(worker)
            raise
        except (BrokenPipeError, OSError):
            self._replace(worker)
            raise SparqlWorkerFailed("the SPARQL worker process stopped") from None
        if reply is None:
            self._replace(worker)
            raise SparqlTimeout(f"the query did not finish within {self.timeout_s:g} s and was stopped")
        self._idle.put(worker)
        if reply[0] == "ok":
            return SparqlReply(200, reply[1], reply[2])
        return SparqlReply(int(reply[1]), str(reply[2]).encode("utf-8"), "text/plain")

    def _take(self, deadline: float) -> _Worker:
        try:
            return self._idle.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            raise SparqlTimeout("every SPARQL worker is busy; try again later") from None

    def _ready_worker(self, deadline: float) -> _Worker:
        """Take an idle worker that has loaded its store, preferring ready ones over (re)starting ones.

        Raises:
            SparqlTimeout: none free, or none ready, before ``deadline``.
            SparqlWorkerFailed: a worker died while starting (it is replaced).
        """
        worker = self._take(deadline)
        for _ in range(self.size):
            if worker.ready:
                return worker
            try:
                if worker.receive(time.monotonic()) is not None:  # its "ready" message has arrived
                    worker.ready = True
                    return worker
            except SparqlWorkerFailed:
                self._replace(worker)
                raise
            self._idle.put(worker)  # still starting: try the next idle one
            worker = self._take(deadline)
        try:
            message = worker.receive(deadline)  # every idle worker is starting: wait for this one
        except SparqlWorkerFailed:
            self._replace(worker)
            raise
        if message is None:
            self._idle.put(worker)
            raise SparqlTimeout("the SPARQL workers are still starting; try again shortly")
        worker.ready = True
        return worker

    async def run(self, query: str, accept: str | None) -> SparqlReply:
        """Answer ``query`` within the pool's time limit without blocking the event loop.

        Raises:
            SparqlTimeout, SparqlWorkerFailed: as :meth:`execute`.
        """
        deadline = time.monotonic() + self.timeout_s
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._threads, self.execute, query, accept, deadline)
        try:
            # the thread honours the deadline itself; the margin covers killing and replacing a worker
            return await asyncio.wait_for(future, self.timeout_s + 5)
        except TimeoutError:
            raise SparqlTimeout(f"the query did not finish within {self.timeout_s:g} s") from None


if __name__ == "__main__":  # pragma: no cover - the worker process
    _serve(Connection(int(sys.argv[1])), sys.argv[2], int(sys.argv[3]))
