"""The engines: who classifies patients and who evaluates the rules.

Every engine returns the same :class:`Evaluation` - the rows of each query of
``queries/rules/`` and ``queries/not-assessed/``, the populations and the drug classes of each
patient - and :mod:`medkg.findings` turns rows into findings.

* ``default`` (compiled): the rules and the facts they read were compiled from the classified
  knowledge base into Python indexes once per build (:mod:`medkg.rulebook`); patients are
  classified and rules applied in Python (:mod:`medkg.compiled`) with the queries' semantics,
  checked row for row against the ``sparql`` engine by the tests. A rule query the compiled
  engine does not know (a researcher's new rule kind) runs as SPARQL.

* ``sparql``: the knowledge base was classified by HermiT at build time (cached); patients
  are classified into populations by SPARQL (``queries/classify/*.rq``) reading the same OWL
  definitions, and the rule queries run on the knowledge base's store (embedded pyoxigraph,
  or a SPARQL endpoint). No JVM per patient.
* ``owl``: HermiT classifies the knowledge base together with the patients on every call
  (one reasoner call for a whole batch, on a per-call module: the T-box and every individual
  except drugs no patient of the call takes); its inferred types feed the rule queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox
from rdflib import Graph, URIRef

from . import compiled
from .compiled import Evaluation
from .findings import NOT_ASSESSED_QUERIES, classified_drug_classes, classified_populations, query_rows
from .knowledge_base import KnowledgeBase
from .loaders import InputError
from .patient_graph import PatientGraph
from .queries import query_files
from .store import QueryStore
from .vocabulary import medkg_term

__all__ = ["ENGINES", "CompiledEngine", "Engine", "Evaluation", "OwlEngine", "SparqlEngine", "get_engine"]

#: A classification query that keeps adding triples after this many rounds is a loop.
_MAX_ROUNDS = 20


class Engine(Protocol):
    """Classifies patients and evaluates the rules for them."""

    name: str

    def evaluate(
        self, kb: KnowledgeBase, patients: Sequence[PatientGraph], *, drug_classes: bool = False
    ) -> Evaluation:
        """Rows of every rule and not-assessed query, populations (and, if asked, drug classes) per patient."""
        ...


def _union(patients: Sequence[PatientGraph]) -> Graph:
    union = Graph()
    for pg in patients:
        union += pg.graph
    return union


class _QueryingEngine:
    """An engine whose ``session`` yields a store in which the queries run over the classified patients."""

    def session(self, kb: KnowledgeBase, patients: Graph) -> AbstractContextManager[tuple[QueryStore, ox.NamedNode]]:
        raise NotImplementedError

    def evaluate(
        self, kb: KnowledgeBase, patients: Sequence[PatientGraph], *, drug_classes: bool = False
    ) -> Evaluation:
        """Run every rule and not-assessed query once for all ``patients``."""
        with self.session(kb, _union(patients)) as (store, graph):
            rows = query_rows(kb, store, graph)
            populations = classified_populations(kb, store, graph)
            classes = classified_drug_classes(kb, store, graph) if drug_classes else {}
        return Evaluation(rows, populations, classes)


#: Why the sparql engine and ``medkg query --patient`` cannot run on a large build's store.
READ_ONLY_STORE = (
    "this knowledge base's store is read-only (an on-disk build, e.g. from scripts/synth_kb.py): the sparql "
    "engine and medkg query --patient add patients to it; use the default engine, or load the build into a "
    "SPARQL server and pass --store URL (docs/stores.md)"
)
#: Why the owl engine cannot run on a large build.
NO_REASONER_SOURCES = (
    "the owl engine cannot check patients on this knowledge base: an on-disk build (e.g. from "
    "scripts/synth_kb.py) keeps no sources file for HermiT to classify with each patient (kb-sources.nt), "
    "and per-call HermiT is not meant for a knowledge base of that size; use the default engine"
)


def require_writable_store(kb: KnowledgeBase) -> None:
    """Stop with an input error when patients cannot be added to ``kb``'s store (:data:`READ_ONLY_STORE`).

    Raises:
        medkg.loaders.InputError: if the store is read-only (a large build's on-disk store).
    """
    if kb.store.read_only:
        raise InputError(READ_ONLY_STORE)


def require_reasoner_sources(kb: KnowledgeBase) -> None:
    """Stop with an input error when ``kb``'s build has no sources file for HermiT (:data:`NO_REASONER_SOURCES`).

    Raises:
        medkg.loaders.InputError: if the build keeps no ``kb-sources.nt`` (a large build).
    """
    if not kb.built.sources.is_file():
        raise InputError(NO_REASONER_SOURCES)


def require_engine_fits(kb: KnowledgeBase, engine: str) -> None:
    """Stop with an input error when ``engine`` cannot check patients on ``kb`` (before a batch starts).

    Raises:
        medkg.loaders.InputError: the sparql engine on a read-only store, or the owl engine on a
            build without a sources file (a large build).
    """
    if engine == "sparql":
        require_writable_store(kb)
    elif engine == "owl":
        require_reasoner_sources(kb)


class SparqlEngine(_QueryingEngine):
    """Build-time HermiT for the knowledge base; SPARQL classification for patients."""

    name = "sparql"

    @contextmanager
    def session(self, kb: KnowledgeBase, patients: Graph) -> Iterator[tuple[QueryStore, ox.NamedNode]]:
        """Insert ``patients`` into the shared store and classify them by SPARQL to a fixpoint.

        Raises:
            medkg.loaders.InputError: if the store is read-only (a large build's on-disk store).
        """
        require_writable_store(kb)
        store = kb.store
        with store.patients(patients) as graph:
            queries = [kb.query(name) for name in query_files("classify", kb.root)]
            for _ in range(_MAX_ROUNDS):
                added = sum(store.insert(store.construct(query, graph=graph), graph) for query in queries)
                if not added:
                    break
            else:
                raise RuntimeError("patient classification did not reach a fixpoint")
            yield store, graph


@lru_cache(maxsize=4)
def _reasoner_graph(path: Path) -> Graph:
    return Graph().parse(path, format="nt")


class OwlEngine(_QueryingEngine):
    """HermiT (owlready2) classifies knowledge base and patients together on every call."""

    name = "owl"

    @contextmanager
    def session(self, kb: KnowledgeBase, patients: Graph) -> Iterator[tuple[QueryStore, ox.NamedNode]]:
        """Classify knowledge base and ``patients`` with HermiT; query a fresh store of the results.

        Raises:
            medkg.loaders.InputError: on a build without a sources file (:data:`NO_REASONER_SOURCES`).
        """
        from .reasoner import as_triples, classify, extract_for  # the JVM only for this engine

        require_reasoner_sources(kb)

        taken = {drug for drug in patients.objects(None, medkg_term("ofDrug")) if isinstance(drug, URIRef)}
        module = extract_for(_reasoner_graph(kb.built.reasoner_input), medkg_term("Drug"), taken)
        inferred = as_triples(classify([module, patients]))
        store = QueryStore.from_file(kb.built.sources)
        store.add_graph(inferred)
        with store.patients(patients) as graph:
            yield store, graph


class CompiledEngine:
    """The compiled rule book applied in Python (no query per patient); see the module docstring."""

    name = "default"

    def evaluate(
        self, kb: KnowledgeBase, patients: Sequence[PatientGraph], *, drug_classes: bool = False
    ) -> Evaluation:
        """Classify and evaluate ``patients`` from the rule book; unknown rule queries run as SPARQL."""
        evaluation = compiled.evaluate(kb.rulebook, patients, drug_classes=drug_classes)
        extra = [name for name in kb.rule_queries if name not in compiled.COMPILED_QUERIES]
        extra += [name for name in NOT_ASSESSED_QUERIES if name not in compiled.COMPILED_QUERIES]
        if extra:
            with SparqlEngine().session(kb, _union(patients)) as (store, graph):
                evaluation.rows.update(query_rows(kb, store, graph, extra))
        return evaluation


ENGINES: dict[str, type[CompiledEngine] | type[SparqlEngine] | type[OwlEngine]] = {
    "default": CompiledEngine,
    "sparql": SparqlEngine,
    "owl": OwlEngine,
}


def get_engine(name: str) -> CompiledEngine | SparqlEngine | OwlEngine:
    """Return the engine called ``name`` (``default``, ``sparql`` or ``owl``).

    Raises:
        ValueError: for an unknown engine name.
    """
    try:
        return ENGINES[name]()
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {sorted(ENGINES)}") from None
