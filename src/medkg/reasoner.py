"""The one place medkg calls an OWL reasoner: HermiT, through owlready2, in an isolated World.

HermiT runs in a Java process (owlready2 starts one per call, about half a second before any
work). The knowledge base is classified once per build (:mod:`medkg.build`); the ``owl`` engine
calls :func:`classify` again with patients added.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node

__all__ = [
    "Classification",
    "ReasonerError",
    "as_triples",
    "classify",
    "extract_for",
    "reasoner_input",
    "with_subsumptions",
]

_THING = str(OWL.Thing)
_META_CLASSES = frozenset(
    {
        OWL.Class,
        OWL.ObjectProperty,
        OWL.DatatypeProperty,
        OWL.AnnotationProperty,
        OWL.Ontology,
        OWL.FunctionalProperty,
        OWL.TransitiveProperty,
        OWL.SymmetricProperty,
        OWL.Restriction,
        OWL.AllDifferent,
        OWL.NamedIndividual,
        RDFS.Datatype,
        RDFS.Class,
        RDF.Property,
        RDF.List,
    }
)


class ReasonerError(RuntimeError):
    """HermiT failed, or found the knowledge base (with its patients) inconsistent."""


@dataclass(frozen=True)
class Classification:
    """What HermiT inferred: named types of individuals and named superclasses of classes.

    ``types`` maps an individual IRI to every named class it belongs to (direct and inherited,
    ``owl:Thing`` excluded); ``superclasses`` maps a named class IRI to all its named ancestors.
    """

    types: dict[str, frozenset[str]]
    superclasses: dict[str, frozenset[str]]


def reasoner_input(graph: Graph) -> Graph:
    """Return the part of ``graph`` the reasoner needs: its logical axioms and assertions.

    Left out: ``rdf:Statement`` nodes (per-fact provenance; owlready2 would treat their
    ``rdf:subject``/``rdf:object`` values as individuals) and annotation assertions (labels,
    rule texts, citations), which carry no logic. Declarations are kept.
    """
    statements = set(graph.subjects(RDF.type, RDF.Statement))
    annotations = set(graph.subjects(RDF.type, OWL.AnnotationProperty))
    out = _without(graph, subjects=statements, predicates=annotations)
    # OWL 2 declarations: owlready2 only treats typed IRIs as individuals when declared.
    for subject, cls in list(out.subject_objects(RDF.type)):
        if isinstance(subject, URIRef) and cls not in _META_CLASSES:
            out.add((subject, RDF.type, OWL.NamedIndividual))
    return out


def classify(graphs: Iterable[Graph], *, individuals: Iterable[str] | None = None) -> Classification:
    """Classify the union of ``graphs`` with HermiT and return the inferred named types.

    Args:
        graphs: RDF graphs in OWL 2 RDF mapping (blank-node class expressions, no skolem IRIs).
        individuals: IRIs whose types to report; ``None`` reports every named individual.

    Raises:
        ReasonerError: if the ontology is inconsistent or HermiT fails.
    """
    import shutil

    import owlready2

    if shutil.which(owlready2.JAVA_EXE) is None and not Path(owlready2.JAVA_EXE).is_file():
        raise ReasonerError(
            f"HermiT needs a Java runtime (11 or newer) and {owlready2.JAVA_EXE!r} was not found; "
            "install one (e.g. Debian: apt-get install default-jre-headless)"
        )
    world = owlready2.World()
    with tempfile.TemporaryDirectory(prefix="medkg-reasoner-") as tmp:
        for number, graph in enumerate(graphs):
            path = Path(tmp) / f"part{number}.nt"
            graph.serialize(path, format="nt", encoding="utf-8")
            world.get_ontology(path.as_uri()).load(format="ntriples")
        try:
            # HermiT resolves a default base IRI against the working directory: run it in the
            # temporary folder so medkg works from "/" or a deleted directory too
            with contextlib.chdir(tmp):
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as error:
            raise ReasonerError("the knowledge base is inconsistent (HermiT)") from error
        except owlready2.OwlReadyJavaError as error:
            raise ReasonerError(f"HermiT failed: {error}") from error

        wanted = None if individuals is None else set(individuals)
        types: dict[str, frozenset[str]] = {}
        for individual in world.individuals():
            iri = individual.iri
            if wanted is not None and iri not in wanted:
                continue
            types[iri] = _named(individual.INDIRECT_is_a)
        superclasses: dict[str, frozenset[str]] = {}
        for owl_class in world.classes():
            superclasses[owl_class.iri] = _named(owl_class.ancestors(include_self=False))
        world.close()
    return Classification(types, superclasses)


def extract_for(kb: Graph, drug_class: URIRef, taken: set[URIRef]) -> Graph:
    """Return the per-patient module of the reasoner input: everything but untaken drugs.

    The T-box, populations, effects and conditions stay whole; of the individuals of
    ``drug_class`` only those in ``taken`` (the drugs the patients of this call take) are kept,
    so HermiT's work grows with the patients' drugs, not with the knowledge base's.
    """
    untaken = {drug for drug in kb.subjects(RDF.type, drug_class) if drug not in taken}
    return _without(kb, subjects=untaken)


def _without(graph: Graph, *, subjects: set[Node], predicates: set[Node] | None = None) -> Graph:
    """Return a copy of ``graph`` without the triples about ``subjects`` or using ``predicates``."""
    skip_predicates = predicates or set()
    out = Graph()
    for triple in graph:
        if triple[0] not in subjects and triple[1] not in skip_predicates:
            out.add(triple)
    return out


def _named(entities: Iterable[object]) -> frozenset[str]:
    names = set()
    for entity in entities:
        iri = getattr(entity, "iri", None)
        if isinstance(iri, str) and iri != _THING:
            names.add(iri)
    return frozenset(names)


def with_subsumptions(classification: Classification, subsumptions: Iterable[tuple[str, str]]) -> Classification:
    """Return ``classification`` with further entailed subsumptions added, closed transitively.

    Args:
        classification: HermiT's result (:func:`classify`).
        subsumptions: ``(subclass IRI, superclass IRI)`` pairs entailed by the input but missed by
            HermiT, e.g. the rows of ``queries/materialise/interval-subsumptions.rq``.

    Every class under a pair's subclass gains the superclass and its ancestors, and so does every
    individual of it. Returns ``classification`` itself when HermiT already had every pair.
    """
    import networkx as nx

    missing = [(sub, sup) for sub, sup in subsumptions if sup not in classification.superclasses.get(sub, frozenset())]
    if not missing:
        return classification
    hierarchy = nx.DiGraph()
    hierarchy.add_edges_from(
        (cls, ancestor) for cls, ancestors in classification.superclasses.items() for ancestor in ancestors
    )
    hierarchy.add_edges_from(missing)
    closed = nx.transitive_closure(hierarchy, reflexive=False)

    def above(classes: Iterable[str]) -> frozenset[str]:
        return frozenset(classes).union(*(closed.successors(c) for c in classes if c in closed))

    superclasses = dict(classification.superclasses)
    for cls in closed.nodes:
        superclasses[cls] = frozenset(closed.successors(cls)) - {cls}
    types = {iri: above(classes) for iri, classes in classification.types.items()}
    return Classification(types, superclasses)


def as_triples(classification: Classification) -> Graph:
    """Materialise a classification as ``rdf:type`` and ``rdfs:subClassOf`` triples."""
    graph = Graph()
    for iri, classes in classification.types.items():
        for cls in classes:
            graph.add((URIRef(iri), RDF.type, URIRef(cls)))
    for iri, ancestors in classification.superclasses.items():
        for cls in ancestors:
            graph.add((URIRef(iri), RDFS.subClassOf, URIRef(cls)))
    return graph
