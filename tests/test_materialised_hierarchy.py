"""The build's class hierarchy: HermiT's, completed by the interval subsumptions it may miss.

HermiT (owlready2's build) left out ``kg:CrCl30To50 rdfs:subClassOf kg:CrCl50OrBelow`` and two
more entailments between creatinine-clearance populations; which ones depends on its input
(docs/benchmarks-synthetic.md). ``queries/materialise/interval-subsumptions.rq`` finds them by
comparing the populations' intervals and the build adds them (:func:`medkg.reasoner.with_subsumptions`).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rdflib import Graph

from medkg import compiled
from medkg.build import interval_subsumptions
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import resource_root
from medkg.patient_graph import Lit
from medkg.reasoner import Classification, with_subsumptions
from medkg.sources import find_sources, load_sources

KG = "https://w3id.org/medkg/kg/"
MEDKG = "https://w3id.org/medkg/ontology#"
_ASK = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?x WHERE {{ <{sub}> rdfs:subClassOf <{sup}> BIND(1 AS ?x) }}"


@pytest.fixture(scope="module")
def sources() -> Graph:
    """The built-in sources (ontology and knowledge base, tables compiled), as the build reads them."""
    return load_sources(find_sources(resource_root()))


def _subclass(kb: KnowledgeBase, sub: str, sup: str) -> bool:
    return bool(kb.store.select(_ASK.format(sub=sub, sup=sup)))


@pytest.mark.parametrize(
    ("sub", "sup"),
    [
        ("CrCl30To50", "CrCl50OrBelow"),  # 30 <= CrCl <= 50 within CrCl <= 50: missed by HermiT
        ("CrCl30To50", "CrCl30To90"),  # missed by HermiT
        ("CrCl15To35", "CrCl15To50"),  # missed by HermiT
        ("CrClBelow50", "CrCl50OrBelow"),  # < 50 within <= 50
        ("AgedAtLeast80", "OlderAdult"),  # found by HermiT as well
    ],
)
def test_entailed_population_subsumptions_are_in_the_build(kb: KnowledgeBase, sub: str, sup: str) -> None:
    assert _subclass(kb, KG + sub, KG + sup)


@pytest.mark.parametrize(
    ("sub", "sup"),
    [
        ("CrCl50OrBelow", "CrClBelow50"),  # 50 itself is not below 50
        ("CrCl30To50", "CrClBelow50"),
        ("CrCl50To80", "CrCl50OrBelow"),  # above 50 is not 50 or below
        ("CrCl30To90", "CrCl30To50"),
    ],
)
def test_no_subsumption_where_the_interval_reaches_outside(kb: KnowledgeBase, sub: str, sup: str) -> None:
    assert not _subclass(kb, KG + sub, KG + sup)


def test_every_interval_containment_is_materialised(kb: KnowledgeBase, sources: Graph) -> None:
    pairs = interval_subsumptions(sources)
    assert len(pairs) >= 200  # 220 in the built-in knowledge base: CrCl, eGFR, age and QTc bands
    assert [pair for pair in pairs if not _subclass(kb, *pair)] == []


def test_each_added_subsumption_holds_for_patients_at_its_edges(kb: KnowledgeBase, sources: Graph) -> None:
    """Soundness, by another implementation: patients at and just inside each interval's edges.

    The default engine classifies a patient by each population's own definition; every patient
    it puts in the narrower population must also land in the wider one.
    """
    book = kb.rulebook
    pairs = interval_subsumptions(sources)
    checked = 0
    for sub, sup in pairs:
        facets = [
            r for part in book.intersections.get(sub, ()) for r in book.restrictions.get(part, ()) if r.kind == "facet"
        ]
        assert facets and all(r.limit is not None for r in facets), sub
        steps = (-1, Decimal("-0.5"), 0, Decimal("0.5"), 1)
        values = {Decimal(r.limit.exact) + step for r in facets if r.limit is not None for step in steps}
        for value in sorted(values):
            facts = compiled.PatientFacts(
                "urn:test:patient",
                {facets[0].property: [Lit(str(value), "http://www.w3.org/2001/XMLSchema#decimal")]},
                {MEDKG + "Patient"},
                [],
                [],
                [],
            )
            types = compiled._classify_directly(book, facts)
            if sub in types:
                assert sup in types, (sub, sup, value)
                checked += 1
    assert checked >= len(pairs)


def test_with_subsumptions_closes_classes_and_individuals() -> None:
    hermit = Classification(
        types={"urn:x": frozenset({"urn:A", "urn:B"})},
        superclasses={"urn:A": frozenset({"urn:B"}), "urn:B": frozenset(), "urn:C": frozenset({"urn:D"})},
    )
    completed = with_subsumptions(hermit, [("urn:B", "urn:C")])
    assert completed.superclasses["urn:A"] == {"urn:B", "urn:C", "urn:D"}
    assert completed.superclasses["urn:B"] == {"urn:C", "urn:D"}
    assert completed.superclasses["urn:C"] == {"urn:D"}
    assert completed.types["urn:x"] == {"urn:A", "urn:B", "urn:C", "urn:D"}
    assert with_subsumptions(hermit, [("urn:A", "urn:B")]) is hermit  # nothing missing: unchanged


_HANDMADE = """
@prefix medkg: <https://w3id.org/medkg/ontology#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix : <urn:test:> .
:Min35 owl:equivalentClass [ owl:intersectionOf ( medkg:Patient [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:minInclusive 35.0 ] ) ] ] ) ] .
:Min30 owl:equivalentClass [ owl:intersectionOf ( medkg:Patient [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:minInclusive 30.0 ] ) ] ] ) ] .
:TwoMins owl:equivalentClass [ owl:intersectionOf ( medkg:Patient [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:minInclusive 30.0 ] [ xsd:minInclusive 40.0 ] ) ] ] ) ] .
:TextMax50 owl:equivalentClass [ owl:intersectionOf ( medkg:Patient [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:maxInclusive "50" ] ) ] ] ) ] .
:TextMax100 owl:equivalentClass [ owl:intersectionOf ( medkg:Patient [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:maxInclusive "100" ] ) ] ] ) ] .
:Min35Female owl:equivalentClass [ owl:intersectionOf ( medkg:Patient :Female [ owl:onProperty :v ;
    owl:someValuesFrom [ owl:onDatatype xsd:decimal ; owl:withRestrictions ( [ xsd:minInclusive 35.0 ] ) ] ] ) ] .
"""


def test_only_numeric_single_interval_definitions_are_compared() -> None:
    """Sound on shapes the quality gates allow: two bounds of one kind, bounds as text, a third conjunct."""
    graph = Graph().parse(data=_HANDMADE, format="turtle")
    pairs = {
        (sub.removeprefix("urn:test:"), sup.removeprefix("urn:test:")) for sub, sup in interval_subsumptions(graph)
    }
    assert pairs == {("Min35", "Min30")}
