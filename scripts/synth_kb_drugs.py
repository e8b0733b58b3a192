"""Synthetic drugs for ``scripts/synth_kb.py``: an ATC-like class hierarchy, sources and drug profiles.

Everything is written in the real ontology's terms and in the shape ``medkg.tables`` gives a
row of ``kg/drugs``, ``kg/drug-effects``, ``kg/enzyme-roles`` and ``kg/anticholinergic-burden``:
the plain triple plus an ``rdf:Statement`` reifying it, derived from a ``medkg:Citation``. IRIs
live under :data:`SYN`; every code string starts with ``synthetic:`` and every source says it
is not a real document. These drugs are not medicines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

from medkg.vocabulary import MEDKG, PROV, SKOS
from synth_kb_vocabulary import SharedVocabulary

__all__ = ["SYN", "DrugCatalogue", "generate_drugs"]

SYN = Namespace("https://w3id.org/medkg/synthetic/")

#: Real ATC has 14 anatomical main groups; these letters are reused, the classes are synthetic.
_MAIN_GROUPS = "ABCDGHJLMNPRSV"
#: Classes per level below the 14 main groups (about ATC's own proportions).
_LEVEL_SIZES = (90, 250, 800)
_SYLLABLES = [
    "ba", "ce", "do", "fa", "gi", "ka", "lo", "ma", "ne", "pi", "ra", "so", "ta", "vi", "xo", "zu",
    "bre", "cli", "dra", "flo", "gra", "pro", "tri", "van", "mor", "len", "sar", "tel", "nor", "qui",
]  # fmt: skip
_STEMS = [
    "mab", "nib", "pril", "sartan", "olol", "azole", "statin", "pine", "oxetine", "afil", "cillin",
    "mycin", "floxacin", "dronate", "gliptin", "parin", "setron", "tidine", "prazole", "zepam",
]  # fmt: skip
_EVIDENCE = ["synthetic: established", "synthetic: probable", "synthetic: suspected", "synthetic: theoretical"]


@dataclass
class DrugCatalogue:
    """What the rule generator needs to know about the synthetic drugs and classes."""

    drugs: list[URIRef] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    #: index of a drug's level-4 class in ``classes_by_level[3]``
    drug_class: list[int] = field(default_factory=list)
    #: sampling weight of each drug in pairwise rules (interaction "hubs" weigh more)
    weights: list[float] = field(default_factory=list)
    #: class IRIs per level (0 = the 14 main groups, 3 = the most specific)
    classes_by_level: list[list[URIRef]] = field(default_factory=list)
    class_labels: dict[URIRef, str] = field(default_factory=dict)
    sources: list[URIRef] = field(default_factory=list)


def _code(index: int, level: int, parent: str, rng: random.Random) -> str:
    if level == 1:
        return f"{parent}{index % 100:02d}"
    if level == 2:
        return f"{parent}{chr(ord('A') + index % 26)}"
    return f"{parent}{chr(ord('A') + rng.randrange(26))}"


def _hierarchy(graph: Graph, rng: random.Random, catalogue: DrugCatalogue) -> None:
    """Add 14 main groups and ``_LEVEL_SIZES`` classes below them, each ``rdfs:subClassOf`` its parent."""
    level: list[tuple[URIRef, str]] = []
    for letter in _MAIN_GROUPS:
        level.append((SYN[f"class/{letter}"], letter))
    catalogue.classes_by_level.append([iri for iri, _ in level])
    parents = level
    for depth, size in enumerate(_LEVEL_SIZES, start=1):
        children: list[tuple[URIRef, str]] = []
        used: set[str] = set()
        for index in range(size):
            parent_iri, parent_code = parents[index % len(parents)] if index < len(parents) else rng.choice(parents)
            code = _code(index, depth, parent_code, rng)
            while code in used:
                code = _code(rng.randrange(10_000), depth, parent_code, rng)
            used.add(code)
            children.append((SYN[f"class/{code}"], code))
            graph.add((SYN[f"class/{code}"], RDFS.subClassOf, parent_iri))
        catalogue.classes_by_level.append([iri for iri, _ in children])
        parents = children
    for depth, classes in enumerate(catalogue.classes_by_level):
        for iri in classes:
            code = str(iri).rsplit("/", 1)[1]
            label = f"synthetic drug class {code}"
            graph.add((iri, RDF.type, OWL.Class))
            graph.add((iri, RDFS.label, Literal(label, lang="en")))
            graph.add((iri, MEDKG.atcCode, Literal(f"synthetic:{code}")))
            if depth == 0:
                graph.add((iri, RDFS.subClassOf, MEDKG.Drug))
            catalogue.class_labels[iri] = label


def _sources(graph: Graph, vocabulary: SharedVocabulary, count: int, catalogue: DrugCatalogue) -> None:
    for number in range(1, count + 1):
        source = SYN[f"source/s{number:03d}"]
        graph.add((source, RDF.type, MEDKG.Source))
        graph.add(
            (
                source,
                DCTERMS.title,
                Literal(f"Synthetic source {number} (generated for benchmarks; not a real document)"),
            )
        )
        graph.add((source, MEDKG.sourceType, vocabulary.source_types[number % len(vocabulary.source_types)]))
        graph.add((source, DCTERMS.issued, Literal("2026")))
        catalogue.sources.append(source)


def _citation(graph: Graph, source: URIRef, locator: str, evidence: str) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, MEDKG.Citation))
    graph.add((node, MEDKG.citesSource, source))
    graph.add((node, MEDKG.locator, Literal(locator)))
    if evidence:
        graph.add((node, MEDKG.evidenceLevel, Literal(evidence)))
    return node


def _sourced(graph: Graph, triple: tuple[URIRef, URIRef, URIRef | Literal], citation: BNode) -> None:
    """The shape of :func:`medkg.tables._sourced`: the triple and an rdf:Statement derived from a citation."""
    graph.add(triple)
    statement = BNode()
    graph.add((statement, RDF.type, RDF.Statement))
    graph.add((statement, RDF.subject, triple[0]))
    graph.add((statement, RDF.predicate, triple[1]))
    graph.add((statement, RDF.object, triple[2]))
    graph.add((statement, PROV.wasDerivedFrom, citation))


def _names(count: int, rng: random.Random) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = "syn" + "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) + rng.choice(_STEMS)
        if name in seen:
            name = f"{name}{len(names)}"
        seen.add(name)
        names.append(name)
    return names


def _profile(
    graph: Graph, drug: URIRef, label: str, *, vocabulary: SharedVocabulary, rng: random.Random, source: URIRef
) -> float:
    """Add the effects, enzyme roles and ACB score of one drug; return its interaction weight."""
    weight = rng.lognormvariate(0.0, 0.8)
    for effect in rng.sample(vocabulary.effects, min(len(vocabulary.effects), rng.choice((0, 1, 1, 1, 2, 2, 3)))):
        locator = f"Synthetic label of {label}, section 5 (warnings): {effect.rsplit('/', 1)[1]}"
        citation = _citation(graph, source, locator, rng.choice(_EVIDENCE))
        _sourced(graph, (drug, MEDKG.hasEffect, effect), citation)
        weight += 0.3
    roles = vocabulary.enzyme_roles
    substrate_roles = [r for name, r in roles.items() if "ubstrate" in name]
    modulator_roles = [r for name, r in roles.items() if "ubstrate" not in name]
    facts: list[tuple[URIRef, URIRef]] = []
    for enzyme in rng.sample(vocabulary.enzymes, rng.choice((0, 1, 1, 2, 2, 3))):
        facts.append((rng.choice(substrate_roles), enzyme))
    if rng.random() < 0.12:
        facts.append((rng.choice(modulator_roles), rng.choice(vocabulary.enzymes)))
        weight += 2.0
    for role, enzyme in facts:
        locator = f"Synthetic label of {label}, section 12.3 (pharmacokinetics): {role.rsplit('#', 1)[1]}"
        citation = _citation(graph, source, locator, rng.choice(_EVIDENCE))
        _sourced(graph, (drug, role, enzyme), citation)
    if rng.random() < 0.1:
        citation = _citation(graph, source, f"Synthetic anticholinergic scale, row {label}", "synthetic: consensus")
        _sourced(graph, (drug, MEDKG.anticholinergicBurdenScore, Literal(rng.randint(1, 3))), citation)
    return weight


def generate_drugs(vocabulary: SharedVocabulary, count: int, rng: random.Random) -> tuple[Graph, DrugCatalogue]:
    """Return the class hierarchy, synthetic sources and ``count`` drug profiles as one graph.

    Each drug is a ``medkg:Drug`` individual typed with one (sometimes two) most specific
    classes, labelled, with ``synthetic:`` codes, effects, enzyme roles and, for some, an ACB
    score; every typed or clinical fact is reified and cited as ``medkg.tables`` does.
    """
    graph = Graph()
    catalogue = DrugCatalogue()
    _hierarchy(graph, rng, catalogue)
    _sources(graph, vocabulary, 40, catalogue)
    leaves = catalogue.classes_by_level[-1]
    # a few crowded classes, many small ones (like ATC's 5th level)
    leaf_weights = [rng.paretovariate(1.5) for _ in leaves]
    for number, label in enumerate(_names(count, rng), start=1):
        drug = SYN[f"drug/D{number:06d}"]
        leaf = rng.choices(range(len(leaves)), weights=leaf_weights)[0]
        source = catalogue.sources[number % len(catalogue.sources)]
        citation = _citation(graph, source, f"Synthetic drug list, entry {number}", "")
        graph.add((drug, SKOS.prefLabel, Literal(label, lang="en")))
        graph.add((drug, RDFS.label, Literal(label, lang="en")))
        _sourced(graph, (drug, RDF.type, MEDKG.Drug), citation)
        _sourced(graph, (drug, RDF.type, leaves[leaf]), citation)
        if rng.random() < 0.05:
            _sourced(graph, (drug, RDF.type, rng.choice(leaves)), citation)
        code = str(leaves[leaf]).rsplit("/", 1)[1]
        graph.add((drug, MEDKG.rxcui, Literal(f"synthetic:{9_000_000 + number}")))
        graph.add((drug, MEDKG.atcCode, Literal(f"synthetic:{code}{number % 100:02d}")))
        if rng.random() < 0.5:
            graph.add((drug, MEDKG.brandName, Literal(label.removeprefix("syn").capitalize() + "-Syn")))
        graph.add((drug, MEDKG.curationLevel, Literal("tabular")))
        weight = _profile(graph, drug, label, vocabulary=vocabulary, rng=rng, source=source)
        catalogue.drugs.append(drug)
        catalogue.labels.append(label)
        catalogue.drug_class.append(leaf)
        catalogue.weights.append(weight)
    return graph, catalogue
