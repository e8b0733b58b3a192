"""Compile the knowledge base's TSV tables (``kg/*.tsv``) to RDF triples.

Each row becomes the plain triples it states and, for every clinical assertion, an
``rdf:Statement`` reifying it with ``prov:wasDerivedFrom`` a ``medkg:Citation`` (source,
locator, evidence level, uncertainty), so provenance is queryable per fact.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from .loaders import InputError
from .vocabulary import ATC, CHEBI, KG, MEDKG, PROV, RXNORM, SKOS

__all__ = ["TableError", "compile_tables", "read_located", "read_table"]

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
ENZYME_ROLE_COLUMNS = ["drug", "enzyme", "role", "source", "locator", "evidence", "uncertain", "note"]
SCORE_COLUMNS = ["drug", "score", "source", "locator", "evidence", "uncertain", "note"]
DOSE_COLUMNS = ["drug", "dose_mg_per_day", "source", "locator", "evidence", "uncertain", "note"]

#: ``role`` cell of kg/enzyme-roles/*.tsv -> property (FDA categories, see ontology/core.ttl).
ENZYME_ROLES = {
    "strong-inhibitor": "strongInhibitorOf",
    "moderate-inhibitor": "moderateInhibitorOf",
    "weak-inhibitor": "weakInhibitorOf",
    "strong-inducer": "strongInducerOf",
    "moderate-inducer": "moderateInducerOf",
    "weak-inducer": "weakInducerOf",
    "sensitive-substrate": "sensitiveSubstrateOf",
    "moderate-sensitive-substrate": "moderateSensitiveSubstrateOf",
    "substrate": "substrateOf",
    # ungraded roles: the FDA does not grade most transporter inhibitors
    "inhibitor": "inhibitorOf",
    "inducer": "inducerOf",
}


class TableError(InputError):
    """A knowledge-base table is malformed (wrong header, missing required cell); the message names file and row."""


def read_table(path: Path, columns: list[str]) -> Iterator[dict[str, str]]:
    """Yield the rows of a TSV file as dicts keyed by ``columns``.

    Raises:
        TableError: if the header differs from ``columns`` or a row has the wrong width.
    """
    for _where, row in read_located(path, columns):
        yield row


def read_located(path: Path, columns: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """As :func:`read_table`, each row with where it is: ``"<kind>/<file>.tsv:<line>"`` (line counted from 1).

    Tables of different kinds share file names (``kg/drugs/x.tsv``, ``kg/drug-effects/x.tsv``), so
    the folder is named too, and the line is the file's own (blank lines counted).

    Raises:
        TableError: if the header differs from ``columns`` or a row has the wrong width.
    """
    shown = f"{path.parent.name}/{path.name}"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != columns:
            raise TableError(f"{shown}:1: header must be {columns}, found {header}")
        for row in reader:
            where = f"{shown}:{reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise TableError(f"{where}: expected {len(columns)} cells, found {len(row)}")
            yield where, {key: value.strip() for key, value in zip(columns, row, strict=True)}


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
    """Add the drugs of a ``kg/drugs/*.tsv`` table to ``graph`` (identity, classes, names; sourced).

    Raises:
        TableError: for a drug id defined twice (in this or another drugs table).
    """
    for place, row in read_located(path, DRUG_COLUMNS):
        where = f"{place}: {row['id']}"
        drug = KG[_require(row, "id", where)]
        if (drug, RDF.type, MEDKG.Drug) in graph:
            raise TableError(f"{where}: drug defined twice")
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


def _fact_citation(graph: Graph, row: dict[str, str], where: str) -> BNode:
    return _citation(
        graph,
        _require(row, "source", where),
        locator=row["locator"],
        evidence=row["evidence"],
        uncertain=row["uncertain"],
        note=row["note"],
    )


def compile_drug_effects(path: Path, graph: Graph) -> None:
    """Add the drug-effect facts of a ``kg/drug-effects/*.tsv`` table to ``graph``, each reified and cited."""
    for place, row in read_located(path, EFFECT_COLUMNS):
        where = f"{place}: {row['drug']} {row['effect']}"
        triple = (KG[_require(row, "drug", where)], MEDKG.hasEffect, KG[_require(row, "effect", where)])
        _sourced(graph, triple, _fact_citation(graph, row, where))


def compile_enzyme_roles(path: Path, graph: Graph) -> None:
    """Add drug -> enzyme/transporter roles (FDA categories) of a ``kg/enzyme-roles/*.tsv`` table.

    Raises:
        TableError: for a role outside :data:`ENZYME_ROLES`.
    """
    for place, row in read_located(path, ENZYME_ROLE_COLUMNS):
        where = f"{place}: {row['drug']} {row['role']} {row['enzyme']}"
        role = ENZYME_ROLES.get(_require(row, "role", where))
        if role is None:
            raise TableError(f"{where}: role must be one of {sorted(ENZYME_ROLES)}")
        triple = (KG[_require(row, "drug", where)], MEDKG[role], KG[_require(row, "enzyme", where)])
        _sourced(graph, triple, _fact_citation(graph, row, where))


def compile_anticholinergic_burden(path: Path, graph: Graph) -> None:
    """Add Anticholinergic Cognitive Burden scores (1-3) of a ``kg/anticholinergic-burden/*.tsv`` table.

    Raises:
        TableError: for a score that is not 1, 2 or 3.
    """
    for place, row in read_located(path, SCORE_COLUMNS):
        where = f"{place}: {row['drug']}"
        score = _require(row, "score", where)
        if score not in {"1", "2", "3"}:
            raise TableError(f"{where}: ACB score must be 1, 2 or 3, found {score!r}")
        triple = (KG[_require(row, "drug", where)], MEDKG.anticholinergicBurdenScore, Literal(int(score)))
        _sourced(graph, triple, _fact_citation(graph, row, where))


def compile_minimum_daily_doses(path: Path, graph: Graph) -> None:
    """Add minimum recommended daily doses (mg/day) of a ``kg/minimum-daily-doses/*.tsv`` table, each cited.

    The value is written as an ``xsd:decimal`` (``medkg:minimumRecommendedDailyDoseMg``); dose
    burden rules (the Drug Burden Index) read it as delta in D / (D + delta).

    Raises:
        TableError: for a dose that is not a positive decimal number, or a drug given twice.
    """
    seen: set[str] = set()
    for place, row in read_located(path, DOSE_COLUMNS):
        where = f"{place}: {row['drug']}"
        drug = _require(row, "drug", where)
        cell = _require(row, "dose_mg_per_day", where)
        try:
            dose = Decimal(cell)
        except InvalidOperation:
            dose = Decimal("NaN")
        if not dose.is_finite() or dose <= 0:
            raise TableError(f"{where}: dose_mg_per_day must be a positive number (mg/day), found {cell!r}")
        if drug in seen:
            raise TableError(f"{where}: drug given twice")
        seen.add(drug)
        triple = (KG[drug], MEDKG.minimumRecommendedDailyDoseMg, Literal(dose, datatype=XSD.decimal))
        _sourced(graph, triple, _fact_citation(graph, row, where))


PRODUCT_INGREDIENT_COLUMNS = ["product", "ingredient", "rxcui", "source", "locator"]


def _drug_names(graph: Graph) -> dict[str, str]:
    """Lower-case name (ingredient, brand, synonym) -> drug IRI, for the drugs compiled so far."""
    names: dict[str, str] = {}
    for drug in graph.subjects(RDF.type, MEDKG.Drug):
        for prop in (SKOS.prefLabel, SKOS.altLabel, MEDKG.brandName):
            for name in graph.objects(drug, prop):
                names.setdefault(" ".join(str(name).split()).casefold(), str(drug))
    return names


def compile_product_ingredients(path: Path, graph: Graph) -> None:
    """Add the unmodelled ingredients of combination products of a ``kg/product-ingredients/*.tsv`` table.

    A row says that the product ``product`` (a brand or combination name as entered, e.g.
    ``Kaletra``) contains ``ingredient`` (e.g. ``lopinavir``), an active ingredient the knowledge
    base does not model. The ingredient becomes a ``medkg:UnmodelledIngredient`` (with its RxNorm
    RXCUI when given) and the product name its ``medkg:inProductNamed``, reified and cited. A
    patient taking the product is then told which of its ingredients were not checked.
    Read after the drugs tables.

    Raises:
        TableError: an empty required cell, a non-numeric RXCUI, two RXCUIs for one ingredient, a
            product that names no drug of the knowledge base (its modelled ingredients would go
            unchecked), or an ingredient that is a drug of the knowledge base (the product name
            belongs on that drug's row).
    """
    drugs = _drug_names(graph)
    for where, row in read_located(path, PRODUCT_INGREDIENT_COLUMNS):
        product, name = _require(row, "product", where), _require(row, "ingredient", where)
        if " ".join(product.split()).casefold() not in drugs:
            raise TableError(
                f"{where}: {product!r} names no drug of the knowledge base: add it to the brand_names or "
                "synonyms of the product's modelled ingredients first, so that they are checked too"
            )
        key = " ".join(name.split()).casefold()
        if key in drugs:
            raise TableError(
                f"{where}: {name!r} is a drug of the knowledge base ({drugs[key]}): "
                f"add {product!r} to that drug's brand_names or synonyms instead"
            )
        ingredient = KG["unmodelled-" + "-".join(key.split())]
        if row["rxcui"]:
            if not row["rxcui"].isdigit():
                raise TableError(f"{where}: rxcui must be digits, found {row['rxcui']!r}")
            known = {str(code) for code in graph.objects(ingredient, MEDKG.rxcui)}
            if known - {row["rxcui"]}:
                raise TableError(f"{where}: {name!r} was given RXCUI {sorted(known)[0]} in an earlier row")
            graph.add((ingredient, MEDKG.rxcui, Literal(row["rxcui"])))
            graph.add((ingredient, SKOS.exactMatch, RXNORM[row["rxcui"]]))
        graph.add((ingredient, RDF.type, MEDKG.UnmodelledIngredient))
        graph.add((ingredient, SKOS.prefLabel, Literal(name, lang="en")))
        graph.add((ingredient, RDFS.label, Literal(name, lang="en")))
        citation = _citation(graph, _require(row, "source", where), locator=row["locator"])
        _sourced(graph, (ingredient, MEDKG.inProductNamed, Literal(product)), citation)


CLINICAL_DRUG_COLUMNS = ["rxcui", "name", "ingredients", "strengths_mg", "source", "locator"]


def check_clinical_drugs(path: Path, graph: Graph) -> None:
    """Check a ``kg/clinical-drugs/*.tsv`` table; it adds nothing to the graph.

    The table (RxNorm clinical drug code -> ingredients and mg strengths) is read by
    :mod:`medkg.fhir.codes` when FHIR input is normalised; the build only checks its shape, so a
    malformed row fails here rather than at check time.

    Raises:
        TableError: wrong header, a non-numeric RxCUI, no ingredient, or strengths not matching
            the ingredients one to one.
    """
    del graph
    for where, row in read_located(path, CLINICAL_DRUG_COLUMNS):
        if not row["rxcui"].isdigit():
            raise TableError(f"{where}: rxcui must be digits, found {row['rxcui']!r}")
        ingredients, strengths = _split(row["ingredients"]), _split(row["strengths_mg"])
        if not ingredients:
            raise TableError(f"{where}: no ingredient")
        if strengths and len(strengths) != len(ingredients):
            raise TableError(f"{where}: {len(strengths)} strengths for {len(ingredients)} ingredients")
        _require(row, "source", where)


#: Table kind -> compiler. A table's kind is the name of its folder under ``kg/`` (``kg/drugs/cns.tsv``
#: is a ``drugs`` table). A new kind is added here and documented in docs/knowledge-base.md.
TABLES = {
    "drugs": compile_drugs,
    "drug-effects": compile_drug_effects,
    "enzyme-roles": compile_enzyme_roles,
    "anticholinergic-burden": compile_anticholinergic_burden,
    "minimum-daily-doses": compile_minimum_daily_doses,
    "clinical-drugs": check_clinical_drugs,
    "product-ingredients": compile_product_ingredients,
}


def compile_tables(kg_dir: Path, graph: Graph) -> list[Path]:
    """Compile every known TSV table found in ``kg_dir`` into ``graph``; return the files read.

    Raises:
        TableError: for an unknown ``.tsv`` file (it would otherwise be ignored silently) or a bad row.
    """
    read: list[Path] = []
    paths = sorted(kg_dir.rglob("*.tsv"), key=lambda p: ("drugs" not in (p.stem, p.parent.name), str(p)))
    for path in paths:
        # kg/<kind>/<part>.tsv; a table directly in kg/ is named after its kind (the 0.1 layout)
        compiler = TABLES.get(path.stem if path.parent == kg_dir else path.parent.name)
        if compiler is None:
            raise TableError(f"{path}: no compiler for this table; put it in kg/<kind>/ (kinds: {sorted(TABLES)})")
        compiler(path, graph)
        read.append(path)
    check_drug_names(graph)
    return read


def check_drug_names(graph: Graph) -> None:
    """Refuse a brand name or synonym of one drug that is the ingredient name of another.

    A name shared by several drugs denotes a combination of them (a combination brand such as
    Percocet is on each ingredient's row), so a synonym ``zolpidem`` on a new drug's row would make
    every entry of zolpidem a combination product, with its dose limits no longer assessed.

    Raises:
        TableError: naming the drug, the name and the drug whose ingredient name it is.
    """
    ingredients: dict[str, str] = {}
    for drug in graph.subjects(RDF.type, MEDKG.Drug):
        for label in graph.objects(drug, SKOS.prefLabel):
            ingredients[" ".join(str(label).split()).casefold()] = str(drug)
    for drug in graph.subjects(RDF.type, MEDKG.Drug):
        for prop, kind in ((MEDKG.brandName, "brand name"), (SKOS.altLabel, "synonym")):
            for name in graph.objects(drug, prop):
                other = ingredients.get(" ".join(str(name).split()).casefold())
                if other is not None and other != str(drug):
                    raise TableError(
                        f"drug {str(drug).rsplit('/', 1)[-1]}: {kind} {str(name)!r} is the ingredient name of "
                        f"{other.rsplit('/', 1)[-1]} (a name shared by drugs denotes a combination of them)"
                    )
