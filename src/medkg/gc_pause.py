"""Pausing Python's cyclic garbage collector around work that allocates much and leaves no cycles.

Checking patients makes many short-lived objects (rows, findings, report models) that
reference counting frees, and grows caches that live as long as the knowledge base. With the
collector on, every few hundred allocations start a collection, and the full ones walk every
cache entry made since the last :func:`gc.freeze`: about a quarter of a batch's CPU time on
the built-in knowledge base (``docs/benchmarks.md``). Checking creates no reference cycles
(``tests/test_gc_pause.py`` checks that a batch leaves none behind), so pausing the collector
while it runs loses no memory.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cyclic_gc_paused"]

_lock = threading.Lock()
_holders = 0
_resume = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause automatic cyclic garbage collection for the ``with`` block (reference counting still frees).

    Safe to nest and to enter from several threads at once: the collector is paused while any
    block is open and restored to its earlier state when the last one closes. Collections
    asked for explicitly (:func:`gc.collect`) still run.
    """
    global _holders, _resume  # noqa: PLW0603 - one process-wide collector, one count of who paused it
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
