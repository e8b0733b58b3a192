"""The compiled default engine against the SPARQL engine: the same rows from every query.

The compiled engine (medkg.compiled) re-implements in Python what the queries in
queries/rules/ and queries/not-assessed/ and the classification query compute. These tests
hold it to them row for row, on the golden patients and on generated patients that exercise
every input the rules read (brands, unknown names, missing doses, conditions, indications,
allergies, labs, pregnancy, renal and hepatic values).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path

import pytest

from conftest import golden_cases
from medkg import check_many, load_patient
from medkg.engines import CompiledEngine, Evaluation, SparqlEngine
from medkg.knowledge_base import KnowledgeBase
from medkg.patient_graph import PatientGraph, patient_graph
from medkg.rulebook import load_rulebook
from medkg.store import Row
from medkg.synthetic import generate_varied_patient_dicts


def _rows(rows: Iterable[Row]) -> set[frozenset[tuple[str, object]]]:
    # unbound variables are None in SPARQL rows and absent in compiled rows; duplicates do not matter
    return {frozenset((k, v) for k, v in row.items() if v is not None) for row in rows}


def _graphs(kb: KnowledgeBase, dicts: list[dict[str, object]]) -> list[PatientGraph]:
    return [patient_graph(load_patient(d), kb, index=i) for i, d in enumerate(dicts)]


def _assert_same(sparql: Evaluation, compiled: Evaluation) -> None:
    assert set(sparql.rows) == set(compiled.rows)
    for name in sorted(sparql.rows):
        assert _rows(compiled.rows[name]) == _rows(sparql.rows[name]), name
    assert compiled.populations == sparql.populations
    assert {p: {d: c for d, c in v.items() if c} for p, v in compiled.drug_classes.items()} == {
        p: v for p, v in sparql.drug_classes.items()
    } | {p: {} for p in compiled.drug_classes if p not in sparql.drug_classes}


def test_golden_patients_give_identical_rows(kb: KnowledgeBase) -> None:
    graphs = _graphs(kb, [case["patient"] for _, case in golden_cases()])
    sparql = SparqlEngine().evaluate(kb, graphs, drug_classes=True)
    compiled = CompiledEngine().evaluate(kb, graphs, drug_classes=True)
    _assert_same(sparql, compiled)
    # not vacuous: the golden patients fire rules of most kinds
    fired = {name for name, rows in compiled.rows.items() if rows}
    assert {"rules/drug-rule", "rules/pair-rule", "rules/count-rule", "rules/dose-range-rule"} <= fired


@pytest.mark.parametrize("seed", [1, 2])
def test_varied_generated_patients_give_identical_rows(kb: KnowledgeBase, seed: int) -> None:
    graphs = _graphs(kb, generate_varied_patient_dicts(60, seed=seed, kb=kb))
    sparql = SparqlEngine().evaluate(kb, graphs, drug_classes=True)
    compiled = CompiledEngine().evaluate(kb, graphs, drug_classes=True)
    _assert_same(sparql, compiled)
    fired = {name for name, rows in compiled.rows.items() if rows}
    assert len(fired) >= 10, fired


def _dbi_patient(index: int, age: float | None, *medications: dict[str, object]) -> dict[str, object]:
    patient: dict[str, object] = {"id": f"dbi-{index}", "sex": "female", "medications": list(medications)}
    if age is not None:
        patient["age_years"] = age
    return patient


#: Patients for the Drug Burden Index (rules/dose-burden-rule, not-assessed/incomplete-dose-burden):
#: decimal doses and fractional times per day, one drug in several uses, a use without dose or
#: without times, a drug without a minimum dose, the exact threshold (2/3 + 1/3), age unknown,
#: 64 and 65, an unidentified name.
DBI_PATIENTS = [
    _dbi_patient(0, 80, {"drug": "amitriptyline", "dose_mg": 25, "times_per_day": 2}, {"drug": "oxybutynin", "dose_mg": 5, "times_per_day": 2}),
    _dbi_patient(1, 70, {"drug": "amitriptyline", "dose_mg": 40, "times_per_day": 2}, {"drug": "zolpidem", "dose_mg": 2.5, "times_per_day": 1}),
    _dbi_patient(2, 75, {"drug": "gabapentin", "dose_mg": 300, "times_per_day": 3}, {"drug": "gabapentin", "dose_mg": 100, "times_per_day": 1}, {"drug": "mirtazapine", "dose_mg": 15, "times_per_day": 1}),
    _dbi_patient(3, 90, {"drug": "gabapentin", "dose_mg": 300, "times_per_day": 3}, {"drug": "gabapentin"}, {"drug": "quetiapine", "dose_mg": 12.5, "times_per_day": 2}, {"drug": "lorazepam", "dose_mg": 0.5}, {"drug": "amitriptyline", "dose_mg": 25, "times_per_day": 2}, {"drug": "oxybutynin", "dose_mg": 5, "times_per_day": 2}),
    _dbi_patient(4, 68, {"drug": "alprazolam", "dose_mg": 0.25, "times_per_day": 3}, {"drug": "diphenhydramine", "dose_mg": 25, "times_per_day": 0.5}, {"drug": "haloperidol", "dose_mg": 2, "times_per_day": 1}, {"drug": "tramadol", "dose_mg": 50, "times_per_day": 4}),
    _dbi_patient(5, None, {"drug": "oxycodone", "dose_mg": 10, "times_per_day": 2}, {"drug": "baclofen", "dose_mg": 10, "times_per_day": 3}),
    _dbi_patient(6, 64, {"drug": "morphine", "dose_mg": 15, "times_per_day": 2}, {"drug": "diazepam", "dose_mg": 5, "times_per_day": 3}),
    _dbi_patient(7, 65, {"drug": "morphine", "dose_mg": 15, "times_per_day": 2}, {"drug": "diazepam", "dose_mg": 5, "times_per_day": 3}, {"drug": "Desyrel", "dose_mg": 50, "times_per_day": 1}, {"drug": "lorazepamm", "dose_mg": 1, "times_per_day": 1}),
    _dbi_patient(8, 82, {"drug": "trazodone", "dose_mg": 50, "times_per_day": 1}, {"drug": "zolpidem", "dose_mg": 5, "times_per_day": 1}),
    _dbi_patient(9, 77, {"drug": "oxybutynin", "dose_mg": 2.5, "times_per_day": 2}, {"drug": "amitriptyline", "dose_mg": 10, "times_per_day": 3}, {"drug": "amitriptyline", "dose_mg": 20, "times_per_day": 1}, {"drug": "mirtazapine", "dose_mg": 7.5, "times_per_day": 1}),
]  # fmt: skip


def test_drug_burden_index_patients_give_identical_rows(kb: KnowledgeBase) -> None:
    graphs = _graphs(kb, DBI_PATIENTS)
    sparql = SparqlEngine().evaluate(kb, graphs, drug_classes=True)
    compiled = CompiledEngine().evaluate(kb, graphs, drug_classes=True)
    _assert_same(sparql, compiled)
    # not vacuous: the index fires (with and without drugs left out) and is reported incomplete
    fired = {str(row["patient"]).rsplit("/", 1)[-1] for row in compiled.rows["rules/dose-burden-rule"]}
    assert len(fired) >= 4, fired
    assert {row.get("missing") for row in compiled.rows["not-assessed/incomplete-dose-burden"]} == {
        "dose",
        "reference dose",
    }
    assert any(row.get("dose") is None for row in compiled.rows["rules/dose-burden-rule"])
    assert any(r.get("domain") == "age" for r in compiled.rows["not-assessed/missing-patient-data"])


def test_reports_are_identical_but_for_the_engine(kb: KnowledgeBase) -> None:
    patients = [load_patient(d) for d in generate_varied_patient_dicts(30, seed=3, kb=kb)]
    compiled = check_many(patients, kb=kb)
    sparql = check_many(patients, kb=kb, engine="sparql")
    assert {r.engine for r in compiled} == {"default"} and {r.engine for r in sparql} == {"sparql"}
    for a, b in zip(compiled, sparql, strict=True):
        assert a.model_copy(update={"engine": "sparql"}) == b, a.patient.id


def test_rulebook_cache_is_reused_and_a_corrupt_one_recompiled(kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "build"
    folder.mkdir()
    first = load_rulebook(kb.store, folder, kb.sha256, kb.root)
    cached = folder / "rulebook.pickle"
    assert cached.is_file()
    assert pickle.loads(cached.read_bytes()).key == first.key
    assert load_rulebook(kb.store, folder, kb.sha256, kb.root).rules.keys() == first.rules.keys()
    cached.write_bytes(b"not a pickle")
    again = load_rulebook(kb.store, folder, kb.sha256, kb.root)
    assert sum(map(len, again.rules.values())) == sum(map(len, first.rules.values())) > 100
    # another build's key is not this build's
    assert load_rulebook(kb.store, folder, "0" * 64, kb.root).key != first.key
