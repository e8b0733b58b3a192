"""The SPARQL store the rule queries run on: an in-memory pyoxigraph store.

The knowledge base sits in the default graph; each check puts its patients in a fresh named
graph, queries the union of both, and removes the named graph afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph

__all__ = ["QueryStore", "Row", "python_value"]

Row = dict[str, Any]


def python_value(term: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> Any:
    """Convert a pyoxigraph term to a plain Python value (IRI -> str, numeric literal -> float/int)."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        if datatype.endswith(("#integer", "#int", "#long", "#nonNegativeInteger")):
            return int(term.value)
        if datatype.endswith(("#decimal", "#double", "#float")):
            return float(term.value)
        if datatype.endswith("#boolean"):
            return term.value in ("true", "1")  # both lexical forms of xsd:boolean true
        return term.value
    return term.value


class QueryStore:
    """A pyoxigraph store holding one knowledge base, queried with patients added per check."""

    #: whether patients cannot be added (a large build's on-disk store, see :meth:`open_read_only`)
    read_only = False

    def __init__(self) -> None:
        self._store = ox.Store()

    @classmethod
    def from_file(cls, path: Path) -> QueryStore:
        """Load an N-Triples file into the default graph."""
        store = cls()
        store._store.bulk_load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
        return store

    @classmethod
    def open_read_only(cls, folder: Path) -> QueryStore:
        """Open an on-disk pyoxigraph store read-only (a large build; patients cannot be added to it)."""
        store = cls.__new__(cls)
        store._store = ox.Store.read_only(str(folder))
        store.read_only = True
        return store

    @classmethod
    def from_graph(cls, graph: Graph) -> QueryStore:
        """Make a store holding the triples of an rdflib graph in its default graph."""
        store = cls()
        store.add_graph(graph)
        return store

    def add_graph(self, graph: Graph, *, into: ox.NamedNode | None = None) -> None:
        """Add the triples of an rdflib graph to the default graph or a named graph."""
        data = graph.serialize(format="nt", encoding="utf-8")
        target = into if into is not None else ox.DefaultGraph()
        self._store.load(data, format=ox.RdfFormat.N_TRIPLES, to_graph=target)

    @contextmanager
    def patients(self, graph: Graph) -> Iterator[ox.NamedNode]:
        """Insert ``graph`` into a fresh named graph for the duration of the ``with`` block."""
        name = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        self.add_graph(graph, into=name)
        try:
            yield name
        finally:
            self._store.remove_graph(name)

    def select(
        self, query: str, *, graph: ox.NamedNode | None = None, bindings: Mapping[str, ox.NamedNode] | None = None
    ) -> list[Row]:
        """Run a SELECT over the knowledge base (plus ``graph``); return rows as dicts of Python values.

        ``bindings`` substitutes variables with terms (never string formatting).
        """
        return list(self.select_iter(query, graph=graph, bindings=bindings))

    def select_iter(
        self, query: str, *, graph: ox.NamedNode | None = None, bindings: Mapping[str, ox.NamedNode] | None = None
    ) -> Iterator[Row]:
        """As :meth:`select`, yielding the rows one by one (a large read, streamed)."""
        results = self._store.query(query, default_graph=self._graphs(graph), substitutions=self._subs(bindings))
        assert isinstance(results, ox.QuerySolutions)
        names = [variable.value for variable in results.variables]
        for solution in results:
            yield dict(zip(names, map(python_value, solution), strict=True))

    def select_terms(self, query: str) -> Iterator[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal | None]]:
        """Run a SELECT over the knowledge base; yield rows of RDF terms one by one (for compiling rules)."""
        results = self._store.query(query)
        assert isinstance(results, ox.QuerySolutions)
        names = [variable.value for variable in results.variables]
        for solution in results:
            yield dict(zip(names, solution, strict=True))

    def construct(self, query: str, *, graph: ox.NamedNode | None = None) -> list[ox.Triple]:
        """Run a CONSTRUCT over the knowledge base (plus ``graph``) and return its triples."""
        results = self._store.query(query, default_graph=self._graphs(graph))
        assert isinstance(results, ox.QueryTriples)
        return list(results)

    def insert(self, triples: list[ox.Triple], graph: ox.NamedNode) -> int:
        """Insert triples into a named graph; return how many were new."""
        new = [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
        new = [quad for quad in new if quad not in self._store]
        self._store.extend(new)
        return len(new)

    def raw_query(self, query: str, *, graph: ox.NamedNode | None = None) -> Any:
        """Run any read-only query and return pyoxigraph's result object (for ``medkg query``)."""
        return self._store.query(query, default_graph=self._graphs(graph))

    def __len__(self) -> int:
        return len(self._store)

    @staticmethod
    def _graphs(graph: ox.NamedNode | None) -> list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph]:
        graphs: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = [ox.DefaultGraph()]
        if graph is not None:
            graphs.append(graph)
        return graphs

    @staticmethod
    def _subs(
        bindings: Mapping[str, ox.NamedNode] | None,
    ) -> dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] | None:
        if not bindings:
            return None
        return {ox.Variable(key): value for key, value in bindings.items()}
