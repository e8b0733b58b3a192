"""FHIR R4 Bundles -> patients: the reader on the shared sample files, and its parts on small inputs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import run_medkg as medkg
from medkg import check
from medkg.fhir import FhirReading, parse_rxnorm_name, read_bundle
from medkg.fhir.dates import age_years, months_before
from medkg.fhir.salts import base_ingredient
from medkg.fhir.units import UnitError, convert, creatinine_mg_dl
from medkg.fhir.validation import read_resource
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import InputError
from medkg.names import PAST_STATUSES, as_past, icd10_ancestors, icd10_with_dot, resolve_condition, split_past
from medkg.renal import renal_function
from sample_files import C1, F1, F3, F4, F5, F6, F8, F9, sample, samples_dir


def strengths(reading: FhirReading) -> list[tuple[str, float | None]]:
    """(ingredient, strength in mg) of every medication read, in order."""
    return [(m.drug, m.strength_mg) for m in reading.medications]


def has_note(reading: Any, *parts: str) -> bool:
    return any(all(part in note for part in parts) for note in reading.notes)


# ---------------------------------------------------------------- sample files (reader level)


def test_f1_synthea_complete_patient() -> None:
    reading = read_bundle(sample(F1))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (69, "male")
    assert reading.as_of == date(2020, 4, 7)
    assert reading.as_of_basis.startswith("latest clinical date in the bundle")
    found = strengths(reading)
    for expected in [
        ("hydrochlorothiazide", 25.0),
        ("lisinopril", 10.0),
        ("amlodipine", 2.5),
        ("clopidogrel", 75.0),
        ("simvastatin", 20.0),
        ("metoprolol", 100.0),  # 24 HR metoprolol succinate 100 MG Extended Release Oral Tablet
        ("nitroglycerin", None),  # 0.4 MG/ACTUAT: not a mass per dose unit
        ("cyanocobalamin", None),  # "Vitamin B 12": from kg/clinical-drugs
    ]:
        assert expected in found
    # the CABG stay: medicationReference to urn:uuid Medication entries
    by_reference = {m.drug: m for m in reading.medications if m.rxcui in {"1665060", "1659263", "1796676", "242969"}}
    assert set(by_reference) == {"cefazolin", "heparin", "protamine", "norepinephrine"}
    assert by_reference["cefazolin"].strength_mg == 2000.0
    assert {m.resolved_by for m in by_reference.values()} == {"rxnorm-name", "code-table"}
    # structured dose: 1 tablet daily x strength
    amlodipine = next(m for m in reading.medications if m.drug == "amlodipine")
    assert (amlodipine.dose_mg, amlodipine.times_per_day) == (2.5, 1.0)
    assert has_note(reading, "4 MedicationAdministration completed")
    # creatinine 38483-4 (2010) is stale at the as-of date; weight 2020 is used
    assert patient.serum_creatinine_mg_dl is None
    assert has_note(reading, "serum creatinine 0.88 mg/dL", "38483-4", "stale")
    assert patient.weight_kg == 79.7
    assert "Hypertension [SNOMED CT 59621000]" in patient.conditions
    # resolved: passed on as a past episode, which counts only where one matters (not for COVID-19)
    covid = [c for c in patient.conditions if "COVID" in c]
    assert covid and all(c.endswith(" (resolved)") for c in covid), covid


def test_f1_with_as_of_2010_uses_creatinine_and_stops_later_data() -> None:
    reading = read_bundle(sample(F1), as_of=date(2010, 1, 31))
    assert reading.as_of_basis == "given"
    assert reading.patient.age_years == 59
    assert reading.patient.serum_creatinine_mg_dl == 0.88
    assert reading.patient.egfr_ml_min_1_73m2 == 158.5
    assert reading.patient.weight_kg == 78.1
    assert has_note(reading, "body weight value(s) dated after 2010-01-31 not used")


def test_f3_creatinine_38483_used_and_contradiction_noted() -> None:
    reading = read_bundle(sample(F3))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (70, "female")
    assert patient.serum_creatinine_mg_dl == pytest.approx(2.5871)
    assert has_note(reading, "serum creatinine", "LOINC 38483-4", "used")
    assert patient.egfr_ml_min_1_73m2 == pytest.approx(86.245)
    assert patient.weight_kg == 74.6
    assert has_note(reading, "renal values contradict", "Cockcroft-Gault CrCl 23.8")
    renal = renal_function(patient)
    assert renal.basis == "crcl-cockcroft-gault"
    assert renal.crcl_ml_min == pytest.approx(24, abs=0.5)
    assert strengths(reading) == [("naproxen", 220.0), ("simvastatin", 10.0), ("alendronic acid", 10.0)]
    assert has_note(reading, "7 MedicationRequest stopped")
    assert "Osteoporosis [SNOMED CT 64859006]" in patient.conditions


def test_f4_combination_product_duplicate_furosemide_deceased() -> None:
    reading = read_bundle(sample(F4))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (56, "female")
    assert has_note(reading, "deceased on 2006-10-04")
    found = strengths(reading)
    for expected in [("amlodipine", 5.0), ("hydrochlorothiazide", 12.5), ("olmesartan", 20.0), ("metoprolol", 100.0)]:
        assert expected in found
    assert [s for d, s in found if d == "furosemide"] == [40.0, None]  # oral 40 mg + 10 MG/ML injection, both kept
    combination = {m.source for m in reading.medications if m.rxcui == "999967"}
    assert len(combination) == 1  # three ingredients of one MedicationRequest
    assert patient.egfr_ml_min_1_73m2 == pytest.approx(13.551)
    assert patient.serum_creatinine_mg_dl == 1.02
    assert has_note(reading, "renal values contradict", "eGFR 13.551")


def test_f5_urn_uuid_reference_deceased_and_dispenses_not_doubled() -> None:
    reading = read_bundle(sample(F5))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (37, "male")
    assert reading.as_of == date(1977, 7, 14)
    assert reading.as_of_basis.startswith("date of death")
    furosemide = [m for m in reading.medications if m.drug == "furosemide"]
    assert [(m.rxcui, m.strength_mg) for m in furosemide] == [("1719286", None), ("313988", 40.0)]
    assert furosemide[0].source == "MedicationRequest/3722c630-7ccd-b25e-316d-78fd30a4ff30"  # medicationReference
    assert len(patient.medications) == 2
    assert has_note(reading, "2 MedicationDispense of an active MedicationRequest already read")
    assert (patient.serum_creatinine_mg_dl, patient.egfr_ml_min_1_73m2) == (None, None)


def test_f6_all_orders_stopped_yields_no_medication() -> None:
    reading = read_bundle(sample(F6))
    patient = reading.patient
    assert patient.medications == []
    assert reading.medications == []
    assert has_note(reading, "20 MedicationRequest stopped")
    assert has_note(reading, "no current medication found")
    assert (patient.age_years, patient.sex) == (80, "male")
    assert reading.as_of == date(2020, 10, 15)
    assert patient.serum_creatinine_mg_dl is None  # 0.83 mg/dL from 2017 is stale
    assert has_note(reading, "serum creatinine 0.83 mg/dL", "stale")
    assert len(patient.allergies) == 8
    assert has_note(reading, "2 allergy record(s)")


def test_f8_contained_medications_free_text_dosage_ckd() -> None:
    reading = read_bundle(sample(F8))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (70, "female")
    assert sorted(strengths(reading), key=str) == sorted(
        [
            ("metformin", 500.0),
            ("furosemide", 20.0),
            ("lisinopril", 10.0),
            ("atorvastatin", 40.0),
            ("sertraline", 25.0),
            ("calcium carbonate", 500.0),
            ("ferrous sulfate", 325.0),
            ("cholecalciferol", None),
            ("acetaminophen", 325.0),
        ],
        key=str,
    )
    assert all(m.source.startswith("MedicationStatement/") for m in reading.medications)
    assert all(m.dose_mg is None for m in patient.medications)  # dosage is free text only
    assert has_note(reading, "MedicationStatement/P0522-v5-MedStmt-Lisinopril", "free text only")
    assert "Chronic kidney disease stage 3 [SNOMED CT 433144002]" in patient.conditions
    assert (patient.serum_creatinine_mg_dl, patient.egfr_ml_min_1_73m2) == (None, None)
    assert patient.allergies == []
    assert has_note(reading, "No known drug allergy recorded (not an allergy)")


def test_f9_pounds_ingredient_codes_allergy() -> None:
    reading = read_bundle(sample(F9))
    patient = reading.patient
    assert (patient.age_years, patient.sex) == (63, "female")
    assert patient.weight_kg == pytest.approx(153 * 0.45359237)
    assert [m.drug for m in reading.medications] == ["cyclophosphamide", "doxorubicin", "paclitaxel", "anastrozole"]
    assert [m.rxcui for m in reading.medications] == ["3002", "3639", "56946", "84857"]
    assert patient.allergies == ["Penicillin G"]
    # in remission: passed on as a past episode (it counts only where one matters, not for breast cancer)
    assert [c for c in patient.conditions if "breast" in c.casefold()] == [
        "Malignant neoplasm of breast [SNOMED CT 254837009] (in remission)"
    ]
    assert has_note(reading, "passed on as past episodes: 1 remission")


def test_every_fhir_sample_reads() -> None:
    for name in (F1, F3, F4, F5, F6, F8, F9):
        reading = read_bundle(sample(name))
        assert reading.notes[0].startswith(f"as of {reading.as_of.isoformat()}")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resourceType": "Patient"}, "expected a FHIR Bundle"),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "no entries"),
        ([], "expected a FHIR Bundle"),
    ],
)
def test_rejects_what_has_nothing_to_check(data: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_bundle(data)


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _request(medication: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
            "subject": {"reference": "Patient/p"}, **medication, **extra}  # fmt: skip


def test_no_patient_resource_leaves_age_unknown() -> None:
    rx = {"medicationCodeableConcept": {"text": "warfarin 5 MG Oral Tablet"}}
    reading = read_bundle(_bundle(_request(rx, authoredOn="2024-01-02")))
    assert reading.patient.age_years is None
    assert reading.patient.sex is None
    assert has_note(reading, "no Patient resource")
    assert reading.as_of == date(2024, 1, 2)
    assert strengths(reading) == [("warfarin", 5.0)]


def test_unresolvable_medication_kept_with_its_text() -> None:
    rx = {"medicationCodeableConcept": {"text": "Grandma's tonic"}}
    reading = read_bundle(_bundle(_request(rx)), as_of=date(2024, 1, 1))
    assert [m.drug for m in reading.patient.medications] == ["Grandma's tonic"]
    assert reading.medications[0].resolved_by == "unresolved"
    assert has_note(reading, "not resolved to an ingredient")


def test_a_medication_known_by_its_text_alone_gets_no_unresolved_note() -> None:
    """The note once said 'not resolved ... kept as written' for a name then identified and checked."""
    rx = {"medicationCodeableConcept": {"text": "Spironolactone"}}
    reading = read_bundle(
        _bundle(_request(rx)), as_of=date(2024, 1, 1), known=lambda name: name.casefold() == "spironolactone"
    )
    assert [m.drug for m in reading.patient.medications] == ["Spironolactone"]
    assert not has_note(reading, "not resolved to an ingredient")


def test_missing_reference_read_by_display() -> None:
    rx = {"medicationReference": {"reference": "Medication/gone", "display": "digoxin 0.125 MG Oral Tablet"}}
    reading = read_bundle(_bundle(_request(rx)), as_of=date(2024, 1, 1))
    assert [m.drug for m in reading.patient.medications] == ["digoxin"]  # the display still parses
    assert has_note(reading, "'Medication/gone' not found")


def test_structured_dose_in_mg_and_weekly_timing() -> None:
    rx = {
        "medicationCodeableConcept": {"text": "methotrexate 2.5 MG Oral Tablet"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}},
                "doseAndRate": [{"doseQuantity": {"value": 7.5, "unit": "mg", "code": "mg"}}],
            }
        ],
    }
    medication = read_bundle(_bundle(_request(rx)), as_of=date(2024, 1, 1)).patient.medications[0]
    assert medication.dose_mg == 7.5
    assert medication.times_per_day == pytest.approx(1 / 7, abs=1e-6)


def test_creatinine_in_umol_per_litre_and_race_based_egfr_ignored() -> None:
    def observation(code: str, value: float, unit: str, day: str) -> dict[str, Any]:
        return {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org",
                "code": code}]}, "effectiveDateTime": day, "valueQuantity": {"value": value, "code": unit}}  # fmt: skip

    rx = _request({"medicationCodeableConcept": {"text": "metformin 500 MG Oral Tablet"}})
    bundle = _bundle(
        rx,
        observation("2160-0", 176.8, "umol/L", "2024-03-01"),
        observation("2160-0", 1.0, "mg/dL", "2022-01-01"),
        observation("48643-1", 40, "mL/min/{1.73_m2}", "2024-03-01"),
    )
    reading = read_bundle(bundle, as_of=date(2024, 3, 2))
    assert reading.patient.serum_creatinine_mg_dl == pytest.approx(2.0, abs=0.001)
    assert reading.patient.egfr_ml_min_1_73m2 is None
    assert has_note(reading, "1 race-based eGFR value(s)")


def test_stu3_condition_and_refuted_allergy() -> None:
    condition = {"resourceType": "Condition", "clinicalStatus": "active", "subject": {"reference": "Patient/p"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "84114007",
                                      "display": "Heart failure (disorder)"}]}}  # fmt: skip
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"},
               "verificationStatus": {"coding": [{"code": "refuted"}]}, "code": {"text": "sulfa"}}  # fmt: skip
    rx = _request({"medicationCodeableConcept": {"text": "digoxin 0.125 MG Oral Tablet"}})
    reading = read_bundle(_bundle(rx, condition, allergy), as_of=date(2024, 1, 1))
    assert reading.patient.conditions == ["Heart failure [SNOMED CT 84114007]"]
    assert reading.patient.allergies == []


@pytest.mark.parametrize(
    ("status", "suffix"), [("resolved", " (resolved)"), ("inactive", " (inactive)"), (None, " (status unknown)")]
)
def test_a_past_angioedema_still_warns_against_an_ace_inhibitor(
    kb: KnowledgeBase, status: str | None, suffix: str
) -> None:
    """A past angioedema is the contraindication's history: a resolved Condition once gave lisinopril no warning.

    Lisinopril label and Epaned (enalapril) label: a history of angioedema, of any cause, matters.
    """
    condition: dict[str, Any] = {"resourceType": "Condition", "subject": {"reference": "Patient/p"},
                                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "41291007",
                                                      "display": "Angioedema (disorder)"}]}}  # fmt: skip
    if status is not None:
        condition["clinicalStatus"] = {"coding": [{"code": status}]}
    old_infection = {"resourceType": "Condition", "subject": {"reference": "Patient/p"},
                     "clinicalStatus": {"coding": [{"code": "resolved"}]},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "444814009",
                                          "display": "Viral sinusitis (disorder)"}]}}  # fmt: skip
    rx = _request({"medicationCodeableConcept": {"text": "lisinopril 10 MG Oral Tablet"}})
    reading = read_bundle(_bundle(rx, condition, old_infection), as_of=date(2024, 1, 1))
    assert reading.patient.conditions[0] == "Angioedema [SNOMED CT 41291007]" + suffix
    assert has_note(reading, "passed on as past episodes")
    report = check(reading.patient, kb=kb, notes=reading.notes)
    assert [(f.kind, f.severity) for f in report.findings if f.drugs == ["lisinopril"] and "ngioedema" in f.title] == [
        ("caution", "major")
    ]
    # a past episode of a condition where only a current one matters: named in a note, not "not used"
    assert report.not_used == []
    assert any("past conditions not used" in n and "Viral sinusitis" in n for n in report.notes)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("angioedema (resolved)", ("angioedema", "resolved")),
        ("Angioedema [SNOMED CT 41291007] (In Remission)", ("Angioedema [SNOMED CT 41291007]", "in remission")),
        ("COPD (status unknown)", ("COPD", "status unknown")),
        ("depression (on treatment)", ("depression (on treatment)", None)),
        ("angioedema", ("angioedema", None)),
    ],
)
def test_split_past(name: str, expected: tuple[str, str | None]) -> None:
    assert split_past(name) == expected


def test_as_past_writes_what_split_past_reads() -> None:
    for status in PAST_STATUSES:
        assert split_past(as_past("Angioedema [SNOMED CT 41291007]", status)) == (
            "Angioedema [SNOMED CT 41291007]",
            status,
        )
    with pytest.raises(ValueError, match="past status"):
        as_past("angioedema", "cured")


# ---------------------------------------------------------------- parts


@pytest.mark.parametrize(
    ("text", "expected", "form"),
    [
        ("amlodipine 2.5 MG Oral Tablet", [("amlodipine", 2.5, "MG")], "Oral Tablet"),
        (
            "olmesartan medoxomil 20 MG / amLODIPine 5 MG / hydroCHLOROthiazide 12.5 MG Oral Tablet",
            [("olmesartan medoxomil", 20.0, "MG"), ("amlodipine", 5.0, "MG"), ("hydrochlorothiazide", 12.5, "MG")],
            "Oral Tablet",
        ),
        (
            "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet",
            [("metoprolol succinate", 100.0, "MG")],
            "Extended Release Oral Tablet",
        ),
        ("furosemide 10 MG/ML Injectable Solution", [("furosemide", 10.0, "MG/ML")], "Injectable Solution"),
        ("10 ML Furosemide 10 MG/ML Injection", [("furosemide", 10.0, "MG/ML")], "Injection"),
        ("penicillin G", [("penicillin g", None, None)], ""),
        ("Cyclosporine 100 MG", [("cyclosporine", 100.0, "MG")], ""),
        ("Vitamin B 12 5 MG/ML Injectable Solution", [("vitamin b 12", 5.0, "MG/ML")], "Injectable Solution"),
    ],
)
def test_rxnorm_name_grammar(text: str, expected: list[tuple[str, float | None, str | None]], form: str) -> None:
    parsed = parse_rxnorm_name(text)
    assert parsed is not None
    assert [(c.ingredient, c.strength, c.unit) for c in parsed.components] == expected
    assert parsed.dose_form == form


def test_rxnorm_name_brand_quantity_and_mass_units() -> None:
    parsed = parse_rxnorm_name("24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]")
    assert parsed is not None
    assert (parsed.brand, parsed.quantity) == ("Toprol", "24 HR")
    assert parsed.components[0].strength_mg == 100.0
    solution = parse_rxnorm_name("Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension")
    assert solution is not None
    assert [c.mg_per_ml for c in solution.components] == [120.0, 8.58]
    assert [c.strength_mg for c in solution.components] == [None, None]
    assert parse_rxnorm_name("Fentanyl 0.075 MG/HR Transdermal System") is not None


@pytest.mark.parametrize(
    "text", ["", "Estrostep Fe 28 Day Pack", "NDA020503 200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"]
)
def test_rxnorm_names_not_parsed(text: str) -> None:
    assert parse_rxnorm_name(text) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("metoprolol succinate", "metoprolol"),
        ("olmesartan medoxomil", "olmesartan"),
        ("Naproxen sodium", "naproxen"),
        ("ketorolac tromethamine", "ketorolac"),
        ("codeine phosphate", "codeine"),
        ("calcium carbonate", "calcium carbonate"),
        ("ferrous sulfate", "ferrous sulfate"),
        ("penicillin g", "penicillin g"),
    ],
)
def test_salt_words_stripped_unless_kept(name: str, expected: str) -> None:
    assert base_ingredient(name) == expected


def test_salt_name_known_to_the_knowledge_base_kept_whole() -> None:
    assert base_ingredient("sertraline hydrochloride", lambda n: n == "sertraline hydrochloride") == (
        "sertraline hydrochloride"
    )


def test_units() -> None:
    assert convert(153, "[lb_av]", "kg") == pytest.approx(69.3997, abs=1e-4)
    assert creatinine_mg_dl(88.4, "umol/L") == pytest.approx(1.0, abs=0.001)
    assert creatinine_mg_dl(1.2, "mg/dL") == pytest.approx(1.2)
    with pytest.raises(UnitError):
        convert(1, "kg", "ms")
    with pytest.raises(UnitError):
        creatinine_mg_dl(1, "furlong")


def test_dates() -> None:
    assert age_years(date(1950, 10, 24), date(2020, 10, 23)) == 69
    assert age_years(date(1950, 10, 24), date(2020, 10, 24)) == 70
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)


def test_validation_repairs_are_reported() -> None:
    draft = {"resourceType": "MedicationRequest", "status": "draft", "subject": {"reference": "Patient/p"},
             "medicationCodeableConcept": {"text": "x"}, "dosageInstruction": [{"doseQuantity": {"value": 1}}]}  # fmt: skip
    read = read_resource(draft, prefer="STU3")
    assert read.version == "STU3"
    assert read.repairs == ["required intent missing, taken as 'order'"]
    assert read.data["intent"] == "order"
    assert "intent" not in draft  # the input is not changed


def test_resolve_condition_by_code_then_text() -> None:
    names = {"433144002": "urn:ckd3", "heart failure": "urn:hf", "n18.3": "urn:ckd3-icd"}
    assert resolve_condition("Chronic kidney disease stage 3 [SNOMED CT 433144002]", names) == "urn:ckd3"
    assert resolve_condition("Some CKD [SNOMED CT 1; ICD-10 N18.3]", names) == "urn:ckd3-icd"
    assert resolve_condition("Heart failure [SNOMED CT 999]", names) == "urn:hf"
    assert resolve_condition("heart failure", names) == "urn:hf"
    assert resolve_condition("gout [SNOMED CT 90560007]", names) is None


def test_icd10_codes_are_matched_through_their_hierarchy_nearest_first() -> None:
    """ICD-10 is hierarchical by prefix: K26.0 (acute duodenal ulcer with haemorrhage) is under K26 (duodenal ulcer)."""
    assert icd10_ancestors("T78.3XXA") == ["T78.3XX", "T78.3X", "T78.3", "T78"]
    assert icd10_ancestors("K26.0") == ["K26"]
    assert icd10_ancestors("K26") == [] and icd10_ancestors("N18.") == []
    names = {
        "k26": "urn:ulcer",
        "n18": "urn:ckd",
        "n18.4": "urn:ckd4",
        "duodenal ulcer": "urn:text",
        "12847006": "urn:x",
    }
    assert resolve_condition("Acute duodenal ulcer with haemorrhage [ICD-10 K26.0]", names) == "urn:ulcer"
    assert resolve_condition("CKD stage 4 [ICD-10 N18.4]", names) == "urn:ckd4"  # the exact code first
    assert resolve_condition("CKD stage 5 [ICD-10 N18.5]", names) == "urn:ckd"  # never a sibling (N18.4)
    assert resolve_condition("Duodenal ulcer [ICD-10 K26.9]", names) == "urn:text"  # the display before an ancestor
    assert resolve_condition("Ulcer [SNOMED CT 12847006; ICD-10 K26.0]", names) == "urn:x"  # any exact code first
    # SNOMED CT codes have no prefix hierarchy: never shortened
    assert resolve_condition("Something [SNOMED CT 13200003123]", {"13200003": "urn:pu"}) is None


def test_of_two_coded_classes_the_most_specific_is_taken_whatever_the_order() -> None:
    """Found 2026-12-02: '[SNOMED CT 13200003; ICD-10 K25.0]' was an ulcer only, the reverse order a bleeding ulcer."""
    names = {"13200003": "urn:ulcer", "k25.0": "urn:bleeding-ulcer", "k26": "urn:ulcer", "k26.4": "urn:bleeding-ulcer"}
    below = {("urn:bleeding-ulcer", "urn:ulcer")}

    def narrower(cls: str, target: str) -> bool:
        return cls == target or (cls, target) in below

    for written in ("[SNOMED CT 13200003; ICD-10 K25.0]", "[ICD-10 K25.0; SNOMED CT 13200003]"):
        assert resolve_condition(f"Ulcer {written}", names, narrower) == "urn:bleeding-ulcer"
    assert resolve_condition("Ulcer [SNOMED CT 13200003; ICD-10 K25.0]", names) == "urn:ulcer"  # no hierarchy given
    unrelated = {"1": "urn:a", "k25.0": "urn:b"}
    assert resolve_condition("X [SNOMED CT 1; ICD-10 K25.0]", unrelated, narrower) == "urn:a"  # first as written


def test_an_icd10_code_written_without_its_dot_is_read_with_it() -> None:
    """'K264' was cut to its category K26 (the haemorrhage lost) and 'K921' not recognised at all."""
    assert icd10_with_dot("K264") == "K26.4" and icd10_with_dot("I2510") == "I25.10"
    assert icd10_with_dot("K26") == "K26" and icd10_with_dot("K26.4") == "K26.4"
    names = {"k26": "urn:ulcer", "k26.4": "urn:bleeding-ulcer", "k92.1": "urn:melaena"}
    assert resolve_condition("Ulcer [ICD-10 K264]", names) == "urn:bleeding-ulcer"
    assert resolve_condition("Melena [ICD-10 K921]", names) == "urn:melaena"
    assert resolve_condition("Ulcer [ICD-10 K2641]", names) == "urn:bleeding-ulcer"  # K26.41 -> K26.4
    assert resolve_condition("Code [SNOMED CT 12847006]", {"12847006": "urn:x"}) == "urn:x"  # SNOMED CT untouched


# ---------------------------------------------------------------- command line


def _sample_path(relative: str) -> str:
    sample(relative)  # skips (or fails under CI) when the folder is absent
    folder = samples_dir()
    assert folder is not None
    return str(folder / relative)


def test_cli_checks_a_bundle_with_reader_notes_in_the_report(kb: KnowledgeBase) -> None:
    result = medkg("check", _sample_path(F3), "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["patient"]["renal_basis"] == "crcl-cockcroft-gault"
    assert report["patient"]["crcl_ml_min"] == pytest.approx(23.8)
    assert any(note.startswith("as of 2019-11-29: latest clinical date") for note in report["notes"])
    assert any("renal values contradict" in note for note in report["notes"])


def test_cli_as_of_option(kb: KnowledgeBase) -> None:
    result = medkg("check", _sample_path(F1), "--as-of", "2010-01-31", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert "as of 2010-01-31: given" in report["notes"]
    assert report["patient"]["renal_basis"] == "crcl-cockcroft-gault"  # creatinine 0.88 (2010) is current then


def test_cli_checks_a_cds_hooks_request(kb: KnowledgeBase) -> None:
    result = medkg("check", _sample_path(C1), "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert "hook order-sign" in report["notes"]
    mentioned = json.dumps([report["assessed"], report["findings"]])
    assert "ketorolac" in mentioned
    assert "warfarin" in mentioned


def test_cli_rejects_as_of_for_medkg_patient_json(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"medications": [{"drug": "baclofen"}]}', encoding="utf-8")
    result = medkg("check", str(path), "--as-of", "2024-01-01")
    assert result.returncode == 2
    assert "--as-of applies to FHIR Bundles and CDS Hooks requests only" in result.stderr


def test_cli_rejects_a_lone_fhir_resource(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"resourceType": "Patient", "id": "x"}', encoding="utf-8")
    result = medkg("check", str(path))
    assert result.returncode == 2
    assert "a FHIR Patient alone is not read" in result.stderr


def test_medication_resource_kinds_and_statuses() -> None:
    def coded(text: str) -> dict[str, Any]:
        return {"medicationCodeableConcept": {"text": text}, "subject": {"reference": "Patient/p"}}

    resources = [
        {"resourceType": "MedicationAdministration", "id": "a1", "status": "in-progress",
         "effectiveDateTime": "2024-01-01", **coded("heparin 5000 UNT/ML Injectable Solution")},
        {"resourceType": "MedicationAdministration", "id": "a2", "status": "completed",
         "effectiveDateTime": "2024-01-01", **coded("cefazolin 2000 MG Injection")},
        {"resourceType": "MedicationDispense", "id": "d1", "status": "completed", **coded("warfarin 5 MG Oral Tablet")},
        {"resourceType": "MedicationStatement", "id": "s1", "status": "active", "taken": "n",
         **coded("aspirin 81 MG Oral Tablet")},
        {"resourceType": "MedicationRequest", "id": "r1", "status": "entered-in-error", "intent": "order",
         **coded("digoxin 0.25 MG Oral Tablet")},
    ]  # fmt: skip
    reading = read_bundle(_bundle(*resources), as_of=date(2024, 1, 2))
    assert [m.drug for m in reading.patient.medications] == ["heparin", "warfarin"]
    assert has_note(reading, "1 MedicationAdministration completed", "1 MedicationRequest entered-in-error")
    assert has_note(reading, "1 MedicationStatement active")  # STU3 taken = n: not taken


def test_contained_medication_by_reference_and_invalid_resource_read_as_written() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "s",
        "status": "active",
        "contained": [{"resourceType": "Medication", "id": "m", "code": {"coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "861007",
             "display": "metFORMIN hydrochloride 500 MG Oral Tablet"}]}}],
        "medicationReference": {"reference": "#m"},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "not a date",
    }  # fmt: skip
    reading = read_bundle(_bundle(statement), as_of=date(2024, 1, 2))
    assert strengths(reading) == [("metformin", 500.0)]
    assert has_note(reading, "MedicationStatement/s is not valid FHIR R4 or STU3; read as written")


def test_check_puts_reader_notes_first(kb: KnowledgeBase) -> None:
    from medkg.check import check, check_many
    from medkg.patient import Medication, Patient

    patient = Patient(medications=[Medication(drug="baclofen")])
    report = check(patient, kb=kb, notes=["as of 2024-01-02: given"])
    assert report.notes[0] == "as of 2024-01-02: given"
    assert check(patient, kb=kb).notes == report.notes[1:]
    with pytest.raises(ValueError, match="notes"):
        check_many([patient], kb=kb, notes=[])


def test_check_of_a_bundle_dict_keeps_the_readers_notes_in_the_report(kb: KnowledgeBase) -> None:
    """check(dict) once read a FHIR Bundle but left its reader's notes in a UserWarning only."""
    import warnings

    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01", "gender": "female"}
    rx = {"medicationCodeableConcept": {"text": "warfarin 5 MG Oral Tablet"}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note may travel as a warning
        report = check(_bundle(patient, _request(rx, authoredOn="2024-01-02")), kb=kb, notes=["given by the caller"])
    assert report.notes[0].startswith("as of 2024-01-02")
    assert any(note.startswith("age 74 years") for note in report.notes)
    assert "given by the caller" in report.notes
    assert [drug.drug for drug in report.assessed] == ["warfarin"]
