"""The two engines. Both run the same rule queries; they differ in who classifies.

* ``sparql``: the knowledge base was classified by HermiT at build time (cached); patients
  are classified into populations by SPARQL (``queries/classify/*.rq``) reading the same OWL
  definitions, and the rule queries run on the knowledge base's store (embedded pyoxigraph,
  or a SPARQL endpoint). No JVM per patient.
* ``owl``: HermiT classifies the knowledge base together with the patients on every call
  (one reasoner call for a whole batch, on a per-call module: the T-box and every individual
  except drugs no patient of the call takes); its inferred types feed the rule queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox
from rdflib import Graph, URIRef

from .knowledge_base import KnowledgeBase
from .queries import query_files
from .reasoner import as_triples, classify, extract_for
from .store import QueryStore
from .vocabulary import medkg_term

__all__ = ["ENGINES", "Engine", "OwlEngine", "SparqlEngine", "get_engine"]

#: A classification query that keeps adding triples after this many rounds is a loop.
_MAX_ROUNDS = 20


class Engine(Protocol):
    """Classifies patients and yields a store in which the rule queries can run."""

    name: str

    def session(self, kb: KnowledgeBase, patients: Graph) -> AbstractContextManager[tuple[QueryStore, ox.NamedNode]]:
        """Context manager yielding (store, named graph of the classified patients)."""
        ...


class SparqlEngine:
    """Build-time HermiT for the knowledge base; SPARQL classification for patients."""

    name = "sparql"

    @contextmanager
    def session(self, kb: KnowledgeBase, patients: Graph) -> Iterator[tuple[QueryStore, ox.NamedNode]]:
        """Insert ``patients`` into the shared store and classify them by SPARQL to a fixpoint."""
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


class OwlEngine:
    """HermiT (owlready2) classifies knowledge base and patients together on every call."""

    name = "owl"

    @contextmanager
    def session(self, kb: KnowledgeBase, patients: Graph) -> Iterator[tuple[QueryStore, ox.NamedNode]]:
        """Classify knowledge base and ``patients`` with HermiT; query a fresh store of the results."""
        taken = {drug for drug in patients.objects(None, medkg_term("ofDrug")) if isinstance(drug, URIRef)}
        module = extract_for(_reasoner_graph(kb.built.reasoner_input), medkg_term("Drug"), taken)
        inferred = as_triples(classify([module, patients]))
        store = QueryStore.from_file(kb.built.sources)
        store.add_graph(inferred)
        with store.patients(patients) as graph:
            yield store, graph


ENGINES: dict[str, type[SparqlEngine] | type[OwlEngine]] = {"default": SparqlEngine, "sparql": SparqlEngine, "owl": OwlEngine}


def get_engine(name: str) -> SparqlEngine | OwlEngine:
    """Return the engine called ``name`` (``default``, ``sparql`` or ``owl``).

    Raises:
        ValueError: for an unknown engine name.
    """
    try:
        return ENGINES[name]()
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {sorted(ENGINES)}") from None
