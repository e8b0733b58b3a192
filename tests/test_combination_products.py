"""Combination products whose ingredients the knowledge base models only in part (kg/product-ingredients).

Kaletra is lopinavir and ritonavir (Kaletra Medication Guide, DailyMed set id
d32822d2-940f-464f-b421-7768c6d3d00b, kg:src-label-kaletra); medkg models ritonavir only. Before
this table, "Kaletra" was checked as ritonavir alone with nothing said about lopinavir, and the
product's dose was taken as ritonavir's. Sinemet is carbidopa and levodopa (openFDA NDC 78206-166,
kg:src-label-sinemet); Tylenol PM is acetaminophen and diphenhydramine (DailyMed set id
8ed9a9f0-d37e-5c10-e053-2a95a90a559f, kg:src-label-tylenol-pm), both modelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph

from medkg import check
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import load_patient
from medkg.names import normalise
from medkg.paths import resource_root
from medkg.patient_graph import patient_graph
from medkg.report import Report
from medkg.tables import (
    DRUG_COLUMNS,
    PRODUCT_INGREDIENT_COLUMNS,
    TableError,
    check_drug_names,
    compile_drugs,
    compile_product_ingredients,
    read_table,
)

KG = "https://w3id.org/medkg/kg/"
TABLES = sorted((resource_root() / "kg" / "product-ingredients").glob("*.tsv"))


def _patient(*medications: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "combo",
        "age_years": 50,
        "sex": "male",
        "crcl_ml_min": 90,
        "child_pugh": "A",
        "medications": list(medications),
    }


def _not_assessed(report: Report) -> dict[str, Any]:
    return {f.title: f for f in report.findings if f.kind == "not-assessed"}


def test_kaletra_checks_ritonavir_and_says_lopinavir_was_not_checked(kb: KnowledgeBase) -> None:
    report = check(_patient({"drug": "Kaletra", "dose_mg": 400, "times_per_day": 2}), kb=kb)
    assert [(a.input, a.drug) for a in report.assessed] == [("Kaletra", "ritonavir")]
    finding = _not_assessed(report)["Not assessed: lopinavir in 'Kaletra'"]
    assert finding.drugs == ["lopinavir"]
    assert "nothing about lopinavir" in finding.summary
    assert any("d32822d2-940f-464f-b421-7768c6d3d00b" in (s.url or "") for s in finding.sources)
    assert report.exit_code == 1  # an ingredient not checked, as an unidentified medication
    assert any("Kaletra is a combination product (ritonavir + lopinavir)" in n for n in report.notes)


def test_the_product_dose_is_not_taken_as_the_modelled_ingredients(kb: KnowledgeBase) -> None:
    pg = patient_graph(load_patient(_patient({"drug": "Kaletra", "dose_mg": 400, "times_per_day": 2})), kb)
    assert not [t for t in pg.triples if t[1].endswith("#doseMg")]
    assert sorted(pg.unmodelled.values()) == ["lopinavir"]


@pytest.mark.parametrize("written", ["carbidopa/levodopa", "Carbidopa + Levodopa", "carbidopa and levodopa"])
def test_a_written_out_combination_with_an_unmodelled_part(kb: KnowledgeBase, written: str) -> None:
    assert kb.composition_of(written) == ([KG + "levodopa"], ["carbidopa"])
    report = check(_patient({"drug": written}), kb=kb)
    assert f"Not assessed: carbidopa in '{written}'" in _not_assessed(report)
    assert [a.drug for a in report.assessed] == ["levodopa"]


def test_one_unknown_part_still_makes_the_whole_name_unknown(kb: KnowledgeBase) -> None:
    assert kb.composition_of("carbidopa/levodopa/notadrug") == ([], [])


def test_both_engines_report_the_unmodelled_ingredient_alike(kb: KnowledgeBase) -> None:
    patient = _patient({"drug": "Sinemet"}, {"drug": "Tylenol PM"}, {"drug": "Trelegy"})
    default, sparql = check(patient, kb=kb), check(patient, kb=kb, engine="sparql")
    assert default.findings == sparql.findings
    assert {"Not assessed: carbidopa in 'Sinemet'", "Not assessed: umeclidinium in 'Trelegy'"} <= set(
        _not_assessed(default)
    )


def test_tylenol_pm_is_both_of_its_modelled_ingredients(kb: KnowledgeBase) -> None:
    assert kb.composition_of("Tylenol PM") == ([KG + "acetaminophen", KG + "diphenhydramine"], [])
    report = check(_patient({"drug": "Tylenol PM"}, {"drug": "Tylenol"}), kb=kb)
    assert any(f.kind == "duplicate-therapy" and f.drugs == ["acetaminophen"] for f in report.findings)


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_every_listed_product_has_a_modelled_ingredient_and_a_source(kb: KnowledgeBase, table: Path) -> None:
    rows = list(read_table(table, PRODUCT_INGREDIENT_COLUMNS))
    assert rows
    for row in rows:
        drugs, unmodelled = kb.composition_of(row["product"])
        assert drugs, row  # its modelled ingredients are checked
        assert row["ingredient"] in unmodelled, row
        assert kb.unmodelled_citations[(normalise(row["product"]), row["ingredient"])], row


def _drugs_table(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "drugs" / "t.tsv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\t".join(DRUG_COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _product_table(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "product-ingredients" / "t.tsv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\t".join(PRODUCT_INGREDIENT_COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


RITONAVIR = "ritonavir\tritonavir\t85762\t\t\tHIVProteaseInhibitor\tKaletra\t\ttabular\tsrc-x\tl"
ZOLPIDEM = "zolpidem\tzolpidem\t39993\t\t\t\tAmbien\t\ttabular\tsrc-x\tl"


def test_a_product_row_becomes_a_cited_unmodelled_ingredient(tmp_path: Path) -> None:
    graph = Graph()
    compile_drugs(_drugs_table(tmp_path, RITONAVIR), graph)
    compile_product_ingredients(_product_table(tmp_path, "Kaletra\tlopinavir\t195088\tsrc-x\tcomposition"), graph)
    query = """PREFIX medkg: <https://w3id.org/medkg/ontology#>
        PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?rxcui ?source WHERE {
          ?i a medkg:UnmodelledIngredient ; medkg:inProductNamed "Kaletra" ; medkg:rxcui ?rxcui .
          ?s rdf:subject ?i ; rdf:predicate medkg:inProductNamed ; prov:wasDerivedFrom/medkg:citesSource ?source }"""
    rows = [tuple(map(str, row)) for row in graph.query(query) if isinstance(row, tuple)]
    assert rows == [("195088", KG + "src-x")]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Norvir Plus\tlopinavir\t\tsrc-x\tl", "names no drug of the knowledge base"),
        ("Kaletra\tritonavir\t\tsrc-x\tl", "is a drug of the knowledge base"),
        ("Kaletra\tlopinavir\tR1\tsrc-x\tl", "rxcui must be digits"),
        ("Kaletra\tlopinavir\t\t\tl", "'source' must not be empty"),
    ],
)
def test_a_malformed_product_row_is_refused(tmp_path: Path, row: str, message: str) -> None:
    graph = Graph()
    compile_drugs(_drugs_table(tmp_path, RITONAVIR), graph)
    with pytest.raises(TableError, match=message):
        compile_product_ingredients(_product_table(tmp_path, row), graph)


def test_a_table_error_names_the_folder_file_and_line(tmp_path: Path) -> None:
    """Kinds share file names (kg/drugs/x.tsv, kg/drug-effects/x.tsv): the error names both, and the file's own line."""
    graph = Graph()
    compile_drugs(_drugs_table(tmp_path, RITONAVIR), graph)
    table = _product_table(tmp_path, "", "Kaletra\tlopinavir\tR1\tsrc-x\tl")  # a blank line first: line 3
    with pytest.raises(TableError, match=r"^product-ingredients/t\.tsv:3: rxcui must be digits"):
        compile_product_ingredients(table, graph)
    with pytest.raises(TableError, match=r"^drugs/t\.tsv:2: ritonavir: drug defined twice"):
        compile_drugs(_drugs_table(tmp_path, RITONAVIR), graph)


def test_a_synonym_that_is_another_drugs_ingredient_name_is_refused(tmp_path: Path) -> None:
    graph = Graph()
    clash = "daridorexant\tdaridorexant\t\t\t\t\tQuviviq\tzolpidem\ttabular\tsrc-x\tl"
    compile_drugs(_drugs_table(tmp_path, ZOLPIDEM, clash), graph)
    with pytest.raises(TableError, match="synonym 'zolpidem' is the ingredient name of zolpidem"):
        check_drug_names(graph)
