"""The default engine's memos give exactly what computing afresh gives.

Classification is memoised per (property, values) and per (types, restriction parts met)
(``medkg.compiled._ClassificationMemo``); rule findings per (rule, rows, explainer answers)
(``medkg.findings._FindingCache``). Both are checked here against the direct computation, on
the golden cases (conditions, pregnancy, lactation, hepatic and renal values, allergies) and
on generated patients, and for the case a wrong memo key would get wrong: the same rule and
drugs for patients whose values differ.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import golden_cases
from medkg import check, check_many, compiled, findings, load_patient
from medkg.knowledge_base import KnowledgeBase
from medkg.patient_graph import patient_graph
from medkg.synthetic import generate_patient_dicts


def _patients(kb: KnowledgeBase) -> list[dict[str, Any]]:
    return [case["patient"] for _name, case in golden_cases()] + generate_patient_dicts(300, seed=11, kb=kb)


def test_memoised_classification_equals_direct_classification(kb: KnowledgeBase) -> None:
    book = kb.rulebook
    graphs = [patient_graph(load_patient(data), kb, index=n) for n, data in enumerate(_patients(kb))]
    book.memo = None  # a fresh memo
    for pg in graphs + graphs:  # the second round is answered from the memo
        direct, memoised = compiled.facts_of(pg), compiled.facts_of(pg)
        assert compiled.classify(book, memoised) == compiled._classify_directly(book, direct), pg.patient.id
    memo = compiled._memo(book)
    assert memo.closure and memo.met_by  # the memo was used, not bypassed


def test_reports_are_identical_with_a_cold_and_a_warm_finding_cache(kb: KnowledgeBase) -> None:
    patients = [load_patient(data) for data in _patients(kb)]
    findings._FINDING_CACHES.clear()
    cold = [check(patient, kb=kb) for patient in patients]  # one by one: the cache fills as it goes
    warm = check_many(list(reversed(patients)), kb=kb)
    assert [r.model_dump() for r in reversed(warm)] == [r.model_dump() for r in cold]
    assert findings._finding_cache(kb)._size > 0


@pytest.mark.parametrize("crcl", [25.0, 12.5])
def test_a_cached_finding_is_not_reused_for_other_patient_values(kb: KnowledgeBase, crcl: float) -> None:
    # baclofen's renal rule fires for both CrCl values (kg/rules: CrCl below 30 mL/min); its
    # explanation quotes the patient's own CrCl, so the cached finding of one must not serve the other
    findings._FINDING_CACHES.clear()
    other = 25.0 if crcl == 12.5 else 12.5
    check({"age_years": 70, "crcl_ml_min": other, "medications": [{"drug": "baclofen"}]}, kb=kb)
    report = check({"age_years": 70, "crcl_ml_min": crcl, "medications": [{"drug": "baclofen"}]}, kb=kb)
    renal = [f for f in report.findings if f.kind != "not-assessed" and any("CrCl" in line for line in f.because)]
    assert renal, "baclofen's renal rule should fire below 30 mL/min"
    for finding in renal:
        quoted = [line for line in finding.because if "CrCl" in line]
        assert all(f"{crcl:g} mL/min" in line for line in quoted), quoted
        assert not any(f"{other:g} mL/min" in line for line in quoted), quoted


def test_remembered_numbers_keep_their_datatype() -> None:
    """``rulebook.number_of`` remembers literals: the same lexical form in another datatype is another number."""
    from medkg.patient_graph import Lit
    from medkg.rulebook import number_of

    xsd = "http://www.w3.org/2001/XMLSchema#"
    integer, decimal, double = Lit("3", xsd + "integer"), Lit("3", xsd + "decimal"), Lit("3", xsd + "double")
    for _ in range(2):  # read, then remembered
        assert number_of(integer) == (3, 3, True)
        assert number_of(decimal) is not None and number_of(decimal).integer is False  # type: ignore[union-attr]
        assert isinstance(number_of(double).exact, float)  # type: ignore[union-attr]
        assert number_of(Lit("three", xsd + "decimal")) is None
