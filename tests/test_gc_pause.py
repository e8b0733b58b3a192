"""The cyclic collector is paused while patients are checked, restored after, and checking leaves no cycles."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator

import pytest

from medkg.batch import batch_items, check_batch
from medkg.gc_pause import cyclic_gc_paused
from medkg.knowledge_base import KnowledgeBase
from medkg.synthetic import generate_patient_dicts


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_nested_pauses_restore_the_collector_when_the_last_closes() -> None:
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block is still open
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_overlapping_pauses_in_threads_leave_the_collector_on() -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cyclic_gc_paused():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    with cyclic_gc_paused():  # this block opens first and closes while the thread's is open
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()
    release.set()
    thread.join(10)
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_pause_left_by_an_exception_restores_the_collector() -> None:
    with pytest.raises(ValueError), cyclic_gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_checking_a_batch_creates_no_reference_cycles(kb: KnowledgeBase) -> None:
    lines = [json.dumps(p) for p in generate_patient_dicts(40, seed=21, kb=kb, min_drugs=2, max_drugs=10)]
    lines += ['{"medications": [{"drug": "not-a-drug"}]}', "not json"]  # an unidentified drug, an input error
    list(check_batch(batch_items("warm", lines), kb=kb))  # first use builds lazily held tables
    gc.collect()
    records = list(check_batch(batch_items("again", lines), kb=kb))
    assert len(records) == 42 and records[-1]["exit_code"] == 2
    assert gc.collect() == 0  # nothing unreachable: the paused collector lost no memory


def test_a_loaded_rule_book_is_kept_out_of_the_collectors_walks(kb: KnowledgeBase) -> None:
    """The rule book lives as long as its knowledge base: frozen once loaded (medkg.gc_pause.freeze_long_lived).

    On the 1,000,000-pair build, the collections that walked it, the one at interpreter exit
    included, took 4 of the 6.5 s of a ``medkg check`` in a new process.
    """
    fresh = KnowledgeBase(kb.built, kb.root)  # loads its rule book from the pickle again
    before = gc.get_freeze_count()
    rules = sum(len(found) for found in fresh.rulebook.rules.values())
    assert rules > 1000
    assert gc.get_freeze_count() - before >= rules
