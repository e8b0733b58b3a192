"""Findings on the shared sample files (SOURCES.md section 3), as far as the knowledge base reaches.

Each expected pair runs once both drugs are in the knowledge base (looked up by medkg's own name
matching); until then it is skipped with the missing drug named, so these tests start running as
the knowledge base grows. The negative controls run now.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medkg.check import check
from medkg.fhir import read_bundle, read_cds_request
from medkg.knowledge_base import KnowledgeBase
from medkg.names import resolve
from medkg.patient import Patient
from medkg.report import Report
from sample_files import C1, C2, C3, C4, C5, C8, C9, F1, F3, F4, F6, F8, F9, sample

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SERIOUS = {"contraindicated", "major", "moderate"}

#: (sample file, two ingredient names as the reader yields them) - SOURCES.md section 3.
EXPECTED_PAIRS = [
    (F1, ("amlodipine", "simvastatin")),
    (F3, ("naproxen", "alendronic acid")),
    (F4, ("furosemide", "hydrochlorothiazide")),
    (F9, ("doxorubicin", "cyclophosphamide")),
    (F9, ("paclitaxel", "doxorubicin")),
    (C1, ("warfarin", "ketorolac")),
    (C2, ("cyclosporine", "digoxin")),
    (C3, ("ketorolac", "cyclosporine")),
    (C4, ("warfarin", "ibuprofen")),
    (C5, ("warfarin", "ibuprofen")),
    (C5, ("spironolactone", "ibuprofen")),
    (C8, ("fentanyl", "codeine")),
]


def _read(name: str, kb: KnowledgeBase) -> tuple[Patient, list[str]]:
    data = sample(name)
    known = kb.drug_names.__contains__
    if name.startswith("fhir/"):
        bundle = read_bundle(data, known=known)
        return bundle.patient, bundle.notes
    request = read_cds_request(data, now=NOW, known=known)
    return request.patient, request.notes


def _check(name: str, kb: KnowledgeBase) -> Report:
    patient, notes = _read(name, kb)
    return check(patient, kb=kb, notes=notes)


@pytest.mark.parametrize(
    ("name", "pair"), EXPECTED_PAIRS, ids=[f"{n.split('/')[1][:40]}-{'+'.join(p)}" for n, p in EXPECTED_PAIRS]
)
def test_expected_pair_flagged(kb: KnowledgeBase, name: str, pair: tuple[str, str]) -> None:
    iris = [resolve(drug, kb.drug_names) for drug in pair]
    missing = [drug for drug, iri in zip(pair, iris, strict=True) if iri is None]
    if missing:
        pytest.skip(f"not in the knowledge base yet: {', '.join(missing)}")
    labels = {kb.label(iri) for iri in iris if iri is not None}
    report = _check(name, kb)
    flagged = [f for f in report.findings if f.kind != "not-assessed" and labels <= set(f.drugs)]
    assert flagged, f"{' + '.join(pair)} not flagged in {name}: {[(f.kind, f.drugs) for f in report.findings]}"


def test_f6_negative_control_nothing_current(kb: KnowledgeBase) -> None:
    report = _check(F6, kb)
    assert report.assessed == []
    assert not [f for f in report.findings if f.severity in SERIOUS]
    assert any("20 MedicationRequest stopped" in note for note in report.notes)  # reader notes reach the report


def test_c9_negative_control_no_serious_finding(kb: KnowledgeBase) -> None:
    report = _check(C9, kb)
    assert not [f for f in report.findings if f.severity in SERIOUS]
    assert any("NutritionOrder" in note for note in report.notes)


def test_f8_condition_matched_by_snomed_code(kb: KnowledgeBase) -> None:
    """ "Depression (on treatment)" matches no label, but its code 35489007 (depressive disorder) does."""
    if resolve("35489007", kb.condition_names) is None:
        pytest.skip("not in the knowledge base yet: SNOMED CT 35489007")
    report = _check(F8, kb)
    assert "Depression (on treatment) [SNOMED CT 35489007]" in _read(F8, kb)[0].conditions
    assert not any("35489007" in item for item in report.not_used)
    if resolve("433144002", kb.condition_names) is None:  # CKD stage 3: reported unused until the KB has it
        assert any("433144002" in item for item in report.not_used)
