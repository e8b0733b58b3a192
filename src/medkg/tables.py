"""Compile the knowledge base's TSV tables (``kg/*.tsv``) to RDF triples.

Each row becomes the plain triples it states and, for every clinical assertion, an
``rdf:Statement`` reifying it with ``prov:wasDerivedFrom`` a ``medkg:Citation`` (source,
locator, evidence level, uncertainty), so provenance is queryable per fact.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from .vocabulary import ATC, CHEBI, KG, MEDKG, PROV, RXNORM, SKOS

__all__ = ["TableError", "compile_tables", "read_table"]

Triple = tuple[URIRef | BNode, URIRef, URIRef | BNode | Literal]

DRUG_COLUMNS = [
    "id",
    "label",
    "rxcui",
    "atc",
    "chebi",
    "classes",
    "brand_names",
    "synonyms",
    "curation_level",
    "source",
    "locator",
]
EFFECT_COLUMNS = ["drug", "effect", "source", "locator", "evidence", "uncertain", "note"]


class TableError(ValueError):
    """A knowledge-base table is malformed (wrong header, missing required cell)."""


def read_table(path: Path, columns: list[str]) -> Iterator[dict[str, str]]:
    """Yield the rows of a TSV file as dicts keyed by ``columns``.

    Raises:
        TableError: if the header differs from ``columns`` or a row has the wrong width.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != columns:
            raise TableError(f"{path.name}: header must be {columns}, found {header}")
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise TableError(f"{path.name}:{number}: expected {len(columns)} cells, found {len(row)}")
            yield {key: value.strip() for key, value in zip(columns, row, strict=True)}


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|") if part.strip()]


def _citation(
    graph: Graph, source: str, *, locator: str, evidence: str = "", uncertain: str = "", note: str = ""
) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, MEDKG.Citation))
    graph.add((node, MEDKG.citesSource, KG[source]))
    if locator:
        graph.add((node, MEDKG.locator, Literal(locator)))
    if evidence:
        graph.add((node, MEDKG.evidenceLevel, Literal(evidence)))
    if uncertain.lower() == "true":
        graph.add((node, MEDKG.uncertain, Literal(True)))
        if note:
            graph.add((node, MEDKG.uncertaintyNote, Literal(note)))
    return node


def _sourced(graph: Graph, triple: Triple, citation: BNode) -> None:
    """Add ``triple`` and an rdf:Statement that reifies it, derived from ``citation``."""
    graph.add(triple)
    statement = BNode()
    graph.add((statement, RDF.type, RDF.Statement))
    graph.add((statement, RDF.subject, triple[0]))
    graph.add((statement, RDF.predicate, triple[1]))
    graph.add((statement, RDF.object, triple[2]))
    graph.add((statement, PROV.wasDerivedFrom, citation))


def _require(row: dict[str, str], name: str, where: str) -> str:
    if not row[name]:
        raise TableError(f"{where}: column {name!r} must not be empty")
    return row[name]


def compile_drugs(path: Path, graph: Graph) -> None:
    """Add the drugs of ``kg/drugs.tsv`` to ``graph`` (identity, classes, names; sourced)."""
    for row in read_table(path, DRUG_COLUMNS):
        where = f"{path.name}: {row['id']}"
        drug = KG[_require(row, "id", where)]
        citation = _citation(graph, _require(row, "source", where), locator=row["locator"])
        graph.add((drug, SKOS.prefLabel, Literal(_require(row, "label", where), lang="en")))
        graph.add((drug, RDFS.label, Literal(row["label"], lang="en")))
        _sourced(graph, (drug, RDF.type, MEDKG.Drug), citation)
        if row["rxcui"]:
            graph.add((drug, MEDKG.rxcui, Literal(row["rxcui"])))
            graph.add((drug, SKOS.exactMatch, RXNORM[row["rxcui"]]))
        for code in _split(row["atc"]):
            graph.add((drug, MEDKG.atcCode, Literal(code)))
            graph.add((drug, SKOS.exactMatch, ATC[code]))
        if row["chebi"]:
            graph.add((drug, SKOS.exactMatch, CHEBI[row["chebi"].removeprefix("CHEBI:")]))
        for drug_class in _split(row["classes"]):
            _sourced(graph, (drug, RDF.type, KG[drug_class]), citation)
        for brand in _split(row["brand_names"]):
            graph.add((drug, MEDKG.brandName, Literal(brand)))
        for synonym in _split(row["synonyms"]):
            graph.add((drug, SKOS.altLabel, Literal(synonym)))
        if row["curation_level"]:
            graph.add((drug, MEDKG.curationLevel, Literal(row["curation_level"])))


def compile_drug_effects(path: Path, graph: Graph) -> None:
    """Add the drug-effect facts of ``kg/drug-effects.tsv`` to ``graph``, each reified and cited."""
    for row in read_table(path, EFFECT_COLUMNS):
        where = f"{path.name}: {row['drug']} {row['effect']}"
        citation = _citation(
            graph,
            _require(row, "source", where),
            locator=row["locator"],
            evidence=row["evidence"],
            uncertain=row["uncertain"],
            note=row["note"],
        )
        triple = (KG[_require(row, "drug", where)], MEDKG.hasEffect, KG[_require(row, "effect", where)])
        _sourced(graph, triple, citation)


#: Table file name -> compiler. A new table kind is added here and documented in docs/knowledge-base.md.
TABLES = {"drugs.tsv": compile_drugs, "drug-effects.tsv": compile_drug_effects}


def compile_tables(kg_dir: Path, graph: Graph) -> list[Path]:
    """Compile every known TSV table found in ``kg_dir`` into ``graph``; return the files read.

    Raises:
        TableError: for an unknown ``.tsv`` file (it would otherwise be ignored silently) or a bad row.
    """
    read: list[Path] = []
    for path in sorted(kg_dir.rglob("*.tsv")):
        compiler = TABLES.get(path.name)
        if compiler is None:
            raise TableError(f"{path}: no compiler for this table (known: {sorted(TABLES)})")
        compiler(path, graph)
        read.append(path)
    return read
