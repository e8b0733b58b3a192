"""The real shared vocabulary a synthetic knowledge base is written in, read from ``ontology/`` and ``kg/``.

The synthetic generator (``scripts/synth_kb.py``) names no clinical IRI itself: effects,
enzymes, enzyme-role properties, renal and hepatic populations, severities and finding kinds
are all read here from the real sources, so the synthetic rules use exactly the terms the rule
queries (``queries/rules/*.rq``) expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node

from medkg.sources import SHAPES_FILE
from medkg.vocabulary import MEDKG

__all__ = ["SharedVocabulary", "read_vocabulary", "shared_files"]

#: Folders of ``kg/`` whose Turtle is shared vocabulary (not rules, not drug tables).
SHARED_KG_DIRS = ("conditions", "drug-classes", "populations", "sources")


def shared_files(root: Path) -> list[Path]:
    """Return the real source files a synthetic knowledge base includes, in a fixed order.

    These are ``ontology/*.ttl`` (without the SHACL shapes), the Turtle files directly in
    ``kg/`` (effects, enzymes, populations, conditions, drug classes, sources, therapies) and
    those in ``kg/{conditions,drug-classes,populations,sources}/``. Rules and drug tables are
    left out: the generator replaces them.
    """
    files = sorted(p for p in (root / "ontology").glob("*.ttl") if p.name != SHAPES_FILE)
    files += sorted((root / "kg").glob("*.ttl"))
    for folder in SHARED_KG_DIRS:
        files += sorted((root / "kg" / folder).glob("*.ttl"))
    return files


@dataclass(frozen=True)
class SharedVocabulary:
    """IRIs of the real vocabulary, each list sorted for a deterministic generator."""

    effects: list[URIRef]
    enzymes: list[URIRef]
    #: role name (the property's local name, e.g. ``strongInhibitorOf``) -> property IRI
    enzyme_roles: dict[str, URIRef]
    renal_populations: list[URIRef]
    hepatic_populations: list[URIRef]
    #: ``medkg:code`` of a severity (``major``) -> its IRI
    severities: dict[str, URIRef]
    #: ``medkg:code`` of a finding kind (``interaction``) -> its IRI
    finding_kinds: dict[str, URIRef]
    source_types: list[URIRef]


def _iris(graph: Graph, cls: URIRef) -> list[URIRef]:
    return sorted(s for s in graph.subjects(RDF.type, cls) if isinstance(s, URIRef))


def _by_code(graph: Graph, cls: URIRef) -> dict[str, URIRef]:
    out = {}
    for iri in _iris(graph, cls):
        code = graph.value(iri, MEDKG.code)
        if isinstance(code, Literal):
            out[str(code)] = iri
    return out


def _restricted_properties(graph: Graph, population: URIRef) -> set[Node]:
    """Properties restricted anywhere inside the definition of ``population`` (blank nodes only)."""
    seen: set[Node] = set()
    todo: list[Node] = list(graph.objects(population, OWL.equivalentClass))
    properties: set[Node] = set()
    while todo:
        node = todo.pop()
        if node in seen or isinstance(node, URIRef):
            continue
        seen.add(node)
        properties.update(graph.objects(node, OWL.onProperty))
        todo.extend(o for _, o in graph.predicate_objects(node))
    return properties


def _populations_on(graph: Graph, prop: URIRef) -> list[URIRef]:
    populations = [s for s in graph.subjects(MEDKG.isPopulation, Literal(True)) if isinstance(s, URIRef)]
    return sorted(p for p in populations if prop in _restricted_properties(graph, p))


def read_vocabulary(graph: Graph) -> SharedVocabulary:
    """Read the shared vocabulary from ``graph`` (the real ontology and shared ``kg/`` files).

    Raises:
        ValueError: if a part the generator needs is missing (no effects, enzymes, roles,
            renal or hepatic populations, severities or finding kinds).
    """
    role_root = MEDKG.enzymeRole
    roles = {
        str(p).removeprefix(str(MEDKG)): p
        for p in graph.transitive_subjects(RDFS.subPropertyOf, role_root)
        if isinstance(p, URIRef) and p != role_root
    }
    vocabulary = SharedVocabulary(
        effects=_iris(graph, MEDKG.PharmacologicalEffect),
        enzymes=_iris(graph, MEDKG.Enzyme),
        enzyme_roles=dict(sorted(roles.items())),
        renal_populations=_populations_on(graph, MEDKG.creatinineClearanceMlMin),
        hepatic_populations=_populations_on(graph, MEDKG.childPughClass),
        severities=_by_code(graph, MEDKG.Severity),
        finding_kinds=_by_code(graph, MEDKG.FindingKind),
        source_types=_iris(graph, MEDKG.SourceType),
    )
    for name, value in vars(vocabulary).items():
        if not value:
            raise ValueError(f"the shared vocabulary has no {name.replace('_', ' ')}")
    return vocabulary
