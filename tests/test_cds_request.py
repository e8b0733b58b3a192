"""CDS Hooks requests -> patients: the shared sample requests (2.0, STU3, legacy medication-prescribe)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from medkg.fhir import CdsReading, read_cds_request
from medkg.loaders import InputError
from sample_files import C1, C2, C3, C4, C5, C8, C9, sample

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def current(reading: CdsReading) -> list[tuple[str, float | None]]:
    """(ingredient, strength mg) of the current (not draft) medications."""
    return [(m.drug, m.strength_mg) for m in reading.medications if not m.draft]


def has_note(reading: CdsReading, *parts: str) -> bool:
    return any(all(part in note for part in parts) for note in reading.notes)


def test_c1_order_sign_stu3_no_patient_resource() -> None:
    reading = read_cds_request(sample(C1), now=NOW)
    assert reading.hook == "order-sign"
    assert reading.draft_drugs == ["ketorolac"]
    assert current(reading) == [("warfarin", 0.5)]
    assert reading.patient.id == "f101"  # top-level "patient"
    assert reading.patient.age_years is None
    assert has_note(reading, "no Patient resource")
    assert reading.patient.conditions == [
        "Acute duodenal ulcer with hemorrhage [SNOMED CT 12847006]"
    ]  # STU3 string status
    assert has_note(reading, "read as FHIR STU3 after repair", "intent missing")
    draft = next(m for m in reading.medications if m.draft)
    assert (draft.dose_mg, draft.times_per_day) == (10.0, 1.0)  # STU3 dosageInstruction.doseQuantity {pill} x 10 MG
    assert reading.as_of == date(2026, 11, 30)


def test_c2_order_sign_prefetch_with_empty_searchsets() -> None:
    reading = read_cds_request(sample(C2), now=datetime(2020, 4, 1, tzinfo=UTC))
    assert reading.draft_drugs == ["digoxin"]
    assert current(reading) == [("cyclosporine", 100.0), ("digoxin", 0.25)]
    assert [m.strength_mg for m in reading.medications if m.draft] == [0.2]
    patient = reading.patient
    assert (patient.id, patient.sex, patient.age_years) == ("f301", "male", 38)
    assert patient.serum_creatinine_mg_dl == 0.7
    assert has_note(reading, "LOINC 2160-0", "used")


def test_c2_lab_values_stale_at_a_later_request_time() -> None:
    reading = read_cds_request(sample(C2), now=NOW)
    assert reading.patient.serum_creatinine_mg_dl is None
    assert has_note(reading, "serum creatinine 0.7 mg/dL", "stale")


def test_c3_order_select_two_drafts_and_selection() -> None:
    reading = read_cds_request(sample(C3), now=NOW)
    assert reading.hook == "order-select"
    assert reading.draft_drugs == ["ketorolac", "digoxin"]
    assert reading.selections == ["MedicationRequest/digoxin-order-select-test"]
    assert current(reading) == [("cyclosporine", 100.0), ("digoxin", 0.25)]
    assert [m.drug for m in reading.patient.medications] == ["ketorolac", "digoxin", "cyclosporine", "digoxin"]
    assert reading.patient.id == "f001"


def test_c4_legacy_medication_prescribe_prefetch_in_context() -> None:
    reading = read_cds_request(sample(C4), now=NOW)
    assert reading.hook == "medication-prescribe"
    assert reading.draft_drugs == ["ibuprofen"]
    assert current(reading) == [("warfarin", 5.0), ("dexamethasone", 1.0)]
    warfarin = next(m for m in reading.medications if m.drug == "warfarin")
    assert warfarin.source.startswith("MedicationDispense/")
    patient = reading.patient
    assert (patient.sex, patient.age_years) == ("male", 78)  # born 1948-05-10
    assert has_note(reading, "prefetch items found directly under context (legacy)", "context.item2", "context.item3")
    assert has_note(reading, "CQL expressions")
    assert has_note(reading, "category given as a list")


def test_c5_legacy_medication_statement() -> None:
    reading = read_cds_request(sample(C5), now=NOW)
    assert reading.draft_drugs == ["ibuprofen"]
    assert current(reading) == [("warfarin", 10.0), ("spironolactone", 50.0)]
    assert next(m for m in reading.medications if m.drug == "warfarin").source.startswith("MedicationStatement/")
    assert (reading.patient.sex, reading.patient.age_years) == ("male", 44)


def test_c8_opioid_order_select_r4() -> None:
    reading = read_cds_request(sample(C8), now=NOW)
    assert reading.hook == "order-select"
    assert reading.draft_drugs == ["fentanyl"]
    assert current(reading) == [("acetaminophen", 500.0), ("codeine", 15.0)]
    codeine = next(m for m in reading.medications if m.drug == "codeine")
    assert (codeine.dose_mg, codeine.times_per_day) == (15.0, 3.0)  # 1 {tablet} x 15 MG, three times a day
    assert (reading.patient.sex, reading.patient.age_years) == ("female", 44)
    assert not has_note(reading, "after repair")  # valid R4


def test_c9_context_only_spec_example() -> None:
    reading = read_cds_request(sample(C9), now=NOW)
    assert reading.hook is None
    assert has_note(reading, "no hook named")
    assert reading.draft_drugs == ["amoxicillin", "clavulanate"]
    doses = {m.drug: m.dose_mg for m in reading.medications}
    assert doses == {"amoxicillin": 600.0, "clavulanate": pytest.approx(42.9)}  # 5 mL x 120 / 8.58 MG/ML
    assert has_note(reading, "NutritionOrder/pureeddiet-simple is not a medication order")
    assert has_note(reading, "doseAndRate given as one object")
    assert reading.patient.id == "1288992"  # context.patientId


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hook": "order-sign"}, "needs a 'context' object"),
        ({"hook": "order-sign", "context": {"draftOrders": {"resourceType": "Bundle", "entry": []}}}, "nothing"),
        (
            {
                "context": {
                    "draftOrders": {
                        "resourceType": "Bundle",
                        "entry": [{"resource": {"resourceType": "NutritionOrder", "id": "n", "status": "draft"}}],
                    }
                }
            },
            "no draft medication order and no current medication",
        ),
    ],
)
def test_rejects_only_what_has_nothing_to_check(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_cds_request(data, now=NOW)


def test_request_without_drafts_checks_current_medications() -> None:
    data = {
        "hook": "patient-view",
        "context": {"patientId": "p"},
        "prefetch": {
            "meds": {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": 1,
                "entry": [
                    {
                        "resource": {
                            "resourceType": "MedicationRequest",
                            "id": "a",
                            "status": "active",
                            "intent": "order",
                            "subject": {"reference": "Patient/p"},
                            "medicationCodeableConcept": {"text": "warfarin 5 MG Oral Tablet"},
                        }
                    }
                ],
            },
            "none": {"resourceType": "Bundle", "type": "searchset", "total": 0},
        },
    }
    reading = read_cds_request(data, now=NOW)
    assert reading.draft_drugs == []
    assert [m.drug for m in reading.patient.medications] == ["warfarin"]
    assert has_note(reading, "no draft medication order")
