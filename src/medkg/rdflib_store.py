"""The knowledge base in a plain rdflib graph, queried by rdflib's own SPARQL engine.

A drop-in for :class:`~medkg.store.QueryStore` (same methods) so that the ``sparql`` engine's
queries can run on rdflib: the baseline ``scripts/bench.py`` measures against. It is slow
(rdflib evaluates SPARQL in pure Python) and meant for comparison, not for use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .store import Row

__all__ = ["RdflibStore"]


def _value(term: Node | None) -> Any:
    """Return a query result term as a plain Python value, as :func:`medkg.store.python_value` gives it."""
    if term is None:
        return None
    if isinstance(term, Literal):
        datatype = str(term.datatype or "")
        if datatype.endswith(("#integer", "#int", "#long", "#nonNegativeInteger")):
            return int(term)
        if datatype.endswith(("#decimal", "#double", "#float")):
            return float(term)
        if datatype.endswith("#boolean"):
            return bool(term.toPython())
        return str(term)
    return str(term)


def _ox(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return ox.Literal(str(term), language=term.language)
    return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)) if term.datatype else None)


class RdflibStore:
    """The compiled knowledge base in one rdflib graph; patients are added for a check and removed."""

    #: patients can always be added (as :attr:`medkg.store.QueryStore.read_only` for the engines)
    read_only = False

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._added: list[tuple[Node, Node, Node]] = []

    @classmethod
    def from_file(cls, path: Path) -> RdflibStore:
        """Parse an N-Triples file (e.g. the build's ``kb.nt``)."""
        return cls(Graph().parse(path, format="nt"))

    @contextmanager
    def patients(self, graph: Graph) -> Iterator[ox.NamedNode]:
        """Add ``graph``'s triples for the ``with`` block (the name yielded is only a token)."""
        self._graph += graph
        self._added = []
        try:
            yield ox.NamedNode("urn:medkg:rdflib-patients")
        finally:
            self._graph -= graph
            for triple in self._added:
                self._graph.remove(triple)

    def select(
        self, query: str, *, graph: ox.NamedNode | None = None, bindings: Mapping[str, ox.NamedNode] | None = None
    ) -> list[Row]:
        """Run a SELECT; rows as dicts of Python values (``bindings`` as rdflib initBindings)."""
        initial = {key: URIRef(value.value) for key, value in (bindings or {}).items()}
        result = self._graph.query(query, initBindings=initial)
        names = [str(v) for v in result.vars or []]
        return [{name: _value(row[name]) for name in names} for row in result]  # type: ignore[call-overload, index]

    def construct(self, query: str, *, graph: ox.NamedNode | None = None) -> list[ox.Triple]:
        """Run a CONSTRUCT; triples as pyoxigraph terms (what the engines insert)."""
        return [ox.Triple(_ox(s), _ox(p), _ox(o)) for s, p, o in self._graph.query(query)]  # type: ignore[misc, arg-type]

    def insert(self, triples: list[ox.Triple], graph: ox.NamedNode) -> int:
        """Add triples (patient classifications); return how many were new."""
        new = 0
        for triple in triples:
            rdf = (_rdflib(triple.subject), _rdflib(triple.predicate), _rdflib(triple.object))
            if rdf not in self._graph:
                self._graph.add(rdf)
                self._added.append(rdf)
                new += 1
        return new

    def __len__(self) -> int:
        return len(self._graph)


def _rdflib(term: Any) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    return Literal(
        term.value, datatype=URIRef(term.datatype.value) if term.language is None else None, lang=term.language
    )
