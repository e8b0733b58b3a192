"""Classify synthetic drugs with HermiT once per distinct logical profile instead of once per drug.

A synthetic drug is named by no axiom: its inferred types follow from the T-box, its asserted
classes and its values for the properties that some OWL restriction uses (``owl:onProperty``,
e.g. ``medkg:hasEffect``, ``medkg:anticholinergicBurdenScore``). Drugs with the same such values
therefore get the same types. :func:`classify_by_profile` gives HermiT the T-box (real ontology
and vocabulary, synthetic class hierarchy and sources) plus one prototype individual per
distinct profile, then copies the prototype's types to every drug of that profile and adds the
named superclasses of each drug's asserted classes. ``scripts/synth_kb.py`` uses it by default
(``--realise profiles``); ``--realise each`` classifies every drug, exactly as ``medkg build`` does.
``tests/test_synth_kb.py`` checks that both give every drug the same types.
"""

from __future__ import annotations

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node

from medkg.build import interval_subsumptions
from medkg.reasoner import classify, reasoner_input, with_subsumptions
from medkg.vocabulary import MEDKG
from synth_kb_drugs import SYN, DrugCatalogue

__all__ = ["classify_by_profile"]


def classify_by_profile(shared: Graph, profiles: Graph, catalogue: DrugCatalogue) -> tuple[Graph, int, int]:
    """Return HermiT's inferences for ``shared`` + ``profiles``, classifying one prototype per profile.

    Returns the inferred ``rdf:type`` and ``rdfs:subClassOf`` triples (the shape of
    :func:`medkg.reasoner.as_triples`), the number of prototypes and the reasoner input's size.

    Raises:
        medkg.reasoner.ReasonerError: if HermiT fails or finds the input inconsistent.
    """
    restricted = set(shared.objects(None, OWL.onProperty))
    drugs = set(catalogue.drugs)
    tbox = Graph()
    for triple in shared:
        tbox.add(triple)
    for subject in [c for level in catalogue.classes_by_level for c in level] + catalogue.sources:
        for p, o in profiles.predicate_objects(subject):
            tbox.add((subject, p, o))
    signature_of: dict[URIRef, tuple[tuple[Node, Node], ...]] = {}
    prototypes: dict[tuple[tuple[Node, Node], ...], URIRef] = {}
    for drug in catalogue.drugs:
        signature = tuple(sorted((p, o) for p, o in profiles.predicate_objects(drug) if p in restricted))
        signature_of[drug] = signature
        if signature not in prototypes:
            prototype = SYN[f"prototype/P{len(prototypes) + 1:05d}"]
            prototypes[signature] = prototype
            tbox.add((prototype, RDF.type, MEDKG.Drug))
            for p, o in signature:
                tbox.add((prototype, p, o))
    owl_input = reasoner_input(tbox)
    classification = with_subsumptions(classify([owl_input]), interval_subsumptions(tbox))

    inferred = Graph()
    prototype_iris = {str(p) for p in prototypes.values()}
    for iri, classes in classification.types.items():
        if iri in prototype_iris:
            continue
        for cls in classes:
            inferred.add((URIRef(iri), RDF.type, URIRef(cls)))
    for iri, ancestors in classification.superclasses.items():
        for cls in ancestors:
            inferred.add((URIRef(iri), RDFS.subClassOf, URIRef(cls)))
    for drug in catalogue.drugs:
        types = set(classification.types.get(str(prototypes[signature_of[drug]]), frozenset()))
        for asserted in profiles.objects(drug, RDF.type):
            if isinstance(asserted, URIRef) and asserted not in drugs:
                types.add(str(asserted))
                types.update(classification.superclasses.get(str(asserted), frozenset()))
        types.discard(str(OWL.Thing))
        for cls in types:
            inferred.add((drug, RDF.type, URIRef(cls)))
    return inferred, len(prototypes), len(owl_input)
