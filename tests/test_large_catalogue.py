"""A large build's catalogue file (``catalogue.sqlite``) says what the store says, and follows the build.

The built-in knowledge base is copied into an on-disk pyoxigraph store, which makes it a "large"
build (rule texts, labels and citations read per IRI). Its catalogue file must give, for every
rule, label and citation, exactly what the SPARQL per-IRI path gives and what the small build's
whole catalogue holds; and a changed build must get a new file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph
import pytest

from medkg.build import read_build
from medkg.catalogue_file import GROUPS, TABLES, CatalogueFile, write_catalogue_file
from medkg.knowledge_base import KnowledgeBase


def _large_copy(kb: KnowledgeBase, folder: Path) -> Path:
    """Make ``folder`` a large build of ``kb``: its meta.json and kb.nt bulk-loaded into ``folder/store``."""
    folder.mkdir(parents=True)
    shutil.copy(kb.built.folder / "meta.json", folder / "meta.json")
    store = pyoxigraph.Store(str(folder / "store"))
    store.bulk_load(path=str(kb.built.compiled), format=pyoxigraph.RdfFormat.N_TRIPLES)
    store.flush()
    del store
    return folder


@pytest.fixture(scope="module")
def large(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    folder = _large_copy(kb, tmp_path_factory.mktemp("large") / "kb")
    large = KnowledgeBase(read_build(folder), kb.root)
    assert large.built.large
    return large


@pytest.fixture(scope="module")
def per_iri(large: KnowledgeBase) -> KnowledgeBase:
    """The same large build read the old way: one SPARQL query per IRI (no catalogue file)."""
    other = KnowledgeBase(large.built, large.root)
    other.__dict__["catalogue_file"] = None
    return other


def test_the_catalogue_file_is_written_next_to_the_build(large: KnowledgeBase) -> None:
    file = large.catalogue_file
    assert file is not None
    assert file.path == large.built.folder / "catalogue.sqlite"
    with sqlite3.connect(file.path) as db:
        (rules,) = db.execute("SELECT COUNT(DISTINCT rule) FROM rules").fetchone()
    assert rules > 500  # the built-in knowledge base has about a thousand rules


def test_every_rule_is_the_same_as_the_stores(kb: KnowledgeBase, large: KnowledgeBase, per_iri: KnowledgeBase) -> None:
    assert isinstance(kb.rules, dict) and len(kb.rules) > 500
    with_alternatives = with_citations = 0
    for iri, info in kb.rules.items():
        assert large.rules[iri] == info, iri
        assert per_iri.rules[iri] == info, iri
        with_alternatives += bool(info.alternatives)
        with_citations += bool(info.citations)
    assert with_alternatives > 0 and with_citations == len(kb.rules)


def test_every_label_and_citation_is_the_same_as_the_stores(
    kb: KnowledgeBase, large: KnowledgeBase, per_iri: KnowledgeBase
) -> None:
    assert isinstance(kb.labels, dict) and len(kb.labels) > 1000
    for iri, label in kb.labels.items():
        assert large.labels[iri] == label == per_iri.labels[iri], iri
        assert large.label(iri) == kb.label(iri)
    assert isinstance(kb.citations, dict)
    for iri, citations in kb.citations.items():
        assert large.citations[iri] == citations == per_iri.citations[iri], iri


def test_unknown_iris_are_missing(large: KnowledgeBase) -> None:
    unknown = "https://w3id.org/medkg/kg/no-such-thing"
    assert unknown not in large.rules and unknown not in large.citations and unknown not in large.labels
    assert large.label(unknown) == "no-such-thing"
    assert large.labels.get("42") is None  # a number passed as a label key (a population limit)


def test_a_changed_build_gets_a_new_catalogue_file(large: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(large.built.folder, folder)
    path = folder / "catalogue.sqlite"
    old_key = _key(path)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["sha256"] = "0" * 64
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    changed = KnowledgeBase(read_build(folder), large.root)
    assert CatalogueFile.open(path, old_key) is not None
    file = changed.catalogue_file
    assert file is not None and file.path == path
    assert _key(path) != old_key
    assert CatalogueFile.open(path, old_key) is None
    rule = next(iter(_rule_iris(path)))
    assert changed.rules[rule] == large.rules[rule]
    assert not list(folder.glob(".catalogue-*"))  # no temporary file left behind


def test_a_damaged_catalogue_file_is_rewritten(large: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(large.built.folder, folder)
    (folder / "catalogue.sqlite").write_bytes(b"not a database")
    again = KnowledgeBase(read_build(folder), large.root)
    rule = next(iter(_rule_iris(large.built.folder / "catalogue.sqlite")))
    assert again.rules[rule] == large.rules[rule]
    assert _key(folder / "catalogue.sqlite") == _key(large.built.folder / "catalogue.sqlite")


def test_two_writer_processes_write_the_same_file_as_one(large: KnowledgeBase, tmp_path: Path) -> None:
    """``jobs=2`` (compile_caches) reads the second group of tables in a forked child: same rows."""
    key = "two writers"
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"

    def rows(figures: dict[str, float]) -> dict[str, float]:
        return {name: count for name, count in figures.items() if not name.endswith("_s")}

    figures = large.write_catalogue_file(one, key, jobs=1)
    assert rows(large.write_catalogue_file(two, key, jobs=2)) == rows(figures)
    assert figures["rules"] > 500 and figures["plain_labels"] > 1000
    with sqlite3.connect(one) as a, sqlite3.connect(two) as b:
        for table in TABLES:
            listed = f"SELECT * FROM {table} ORDER BY 1, 2"
            assert a.execute(listed).fetchall() == b.execute(listed).fetchall(), table
    assert CatalogueFile.open(two, key) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.sqlite", "two.sqlite"]  # no part file left


def test_a_failing_writer_process_fails_the_write(large: KnowledgeBase, tmp_path: Path) -> None:
    """An error in the forked writer is raised in the parent, and no file (nor part of one) is left."""

    def read(name: str) -> Iterator[dict[str, object]]:
        if name == TABLES[GROUPS[1][0]][0]:
            raise RuntimeError("store went away")
        return iter(large.store.select(large.query(name)))

    with pytest.raises(sqlite3.OperationalError, match="store went away"):
        write_catalogue_file(tmp_path / "catalogue.sqlite", "k", read, jobs=2)
    assert list(tmp_path.iterdir()) == []


def _key(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (key,) = db.execute("SELECT key FROM meta").fetchone()
    return str(key)


def _rule_iris(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [str(iri) for (iri,) in db.execute("SELECT rule FROM rules ORDER BY rule LIMIT 3")]


def test_pair_rules_are_the_filtered_object_lookup(kb: KnowledgeBase) -> None:
    """Rulebook.pair_rules gives the same list, in the same order, as the object lookup then filter."""
    import random

    book = kb.rulebook
    drugs = sorted(kb.drug_names.values())
    pick = random.Random(5)
    fired = 0
    for _ in range(200):
        matched = set(pick.sample(drugs, pick.randint(2, 10)))
        matched.update(t for d in list(matched) for t in book.types.get(d, ()))
        expected = [
            r
            for r in book.rules_by("PairRule", "objectDrug", matched)
            if not matched.isdisjoint(r.iris("precipitantDrug"))
        ]
        assert book.pair_rules(matched) == expected
        fired += bool(expected)
    assert fired > 20
