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

__all__ = ["cyclic_gc_paused", "freeze_long_lived"]

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


def freeze_long_lived() -> None:
    """Move every object alive now out of the cyclic collector's reach for good (:func:`gc.freeze`).

    For data that lives as long as the process once loaded, such as a knowledge base's rule
    book: a million objects on a DrugBank-scale build. Otherwise every full collection walks
    them again, and so does the one at interpreter exit: 4 of the 6.5 s of a ``medkg check`` on
    the 1,000,000-pair build, and seconds of pause in a server. Frozen objects are still freed by
    reference counting when no longer used; only reference cycles already unreachable now are
    never collected.
    """
    gc.freeze()
