"""FHIR reader fixes from a new-user trial: pregnancy status, the as-of date, bad doses, bare RXCUIs, prefetch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from medkg.check import check
from medkg.fhir import read_bundle, read_cds_request
from medkg.fhir.codes import ingredient_codes
from medkg.fhir.codings import LOINC, SNOMED
from medkg.fhir.observations import ANALYTES
from medkg.fhir.prefetch import observation_codes, observations_query
from medkg.fhir.pregnancy import pregnancy_codes
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import InputError
from sample_files import F1, F4, F5, sample

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
AS_OF = date(2024, 1, 1)


def has_note(reading: Any, *parts: str) -> bool:
    return any(all(part in note for part in parts) for note in reading.notes)


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "y", "gender": "female", "birthDate": "1994-01-01"}
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in (patient, *resources)]}


def _warfarin(**extra: Any) -> dict[str, Any]:
    concept = {"coding": [{"system": RXNORM, "code": "855332", "display": "Warfarin Sodium 5 MG Oral Tablet"}]}
    return {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
            "subject": {"reference": "Patient/y"}, "authoredOn": "2023-06-01",
            "medicationCodeableConcept": concept, **extra}  # fmt: skip


def _order(rid: str, concept: dict[str, Any], dose: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    dosage: list[dict[str, Any]] = [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}]
    if dose is not None:
        dosage[0]["doseAndRate"] = [{"doseQuantity": dose}]
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/y"}, "medicationCodeableConcept": concept,
            "dosageInstruction": dosage, **extra}  # fmt: skip


def _condition(rid: str, code: str, text: str, status: str | None = "active", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "code": {"coding": [{"system": SNOMED, "code": code, "display": text}]},
        **extra,
    }
    if status is not None:
        resource["clinicalStatus"] = {"coding": [{"code": status}]}
    return resource


def _status(rid: str, system: str, code: str, text: str, day: str = "2024-01-01", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "82810-3", "display": "Pregnancy status"}]},
            "effectiveDateTime": day, "valueCodeableConcept": {"coding": [{"system": system, "code": code,
            "display": text}]}, **extra}  # fmt: skip


# ---------------------------------------------------------------- 1. pregnancy status


def test_pregnancy_table_holds_the_standard_codes() -> None:
    codes = pregnancy_codes()
    assert {(SNOMED, "77386006"), (SNOMED, "72892002")} <= set(codes.conditions)
    assert (LOINC, "82810-3") in codes.observations
    meaning = {key[1]: answer.pregnant for key, answer in codes.answers.items()}
    assert meaning["77386006"] is True and meaning["LA15173-0"] is True
    assert meaning["60001007"] is False and meaning["LA26683-5"] is False
    assert meaning["LA4489-6"] is None


def test_pregnancy_table_refuses_an_unknown_meaning(tmp_path: Path) -> None:
    bad = tmp_path / "pregnancy.tsv"
    bad.write_text("role\tsystem\tcode\tdisplay\tpregnant\tholds_days\nanswer\ts\tc\tx\tmaybe\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="true, false or unknown"):
        pregnancy_codes.__wrapped__(bad)


@pytest.mark.parametrize(("code", "text"), [("77386006", "Pregnancy"), ("72892002", "Normal pregnancy")])
def test_an_active_pregnancy_condition_makes_the_patient_pregnant(code: str, text: str) -> None:
    reading = read_bundle(_bundle(_warfarin(), _condition("c1", code, text)), as_of=AS_OF)
    assert reading.patient.pregnant is True
    assert reading.patient.conditions == []  # consumed: not listed again as an unmatched condition
    assert has_note(reading, "pregnant: yes", "Condition/c1")


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [(SNOMED, "77386006", True), (LOINC, "LA15173-0", True), (SNOMED, "60001007", False), (LOINC, "LA26683-5", False)],
)
def test_a_pregnancy_status_observation_on_the_as_of_date(system: str, code: str, expected: bool) -> None:
    reading = read_bundle(_bundle(_warfarin(), _status("o4", system, code, "status")), as_of=AS_OF)
    assert reading.patient.pregnant is expected
    assert has_note(reading, "pregnant: " + ("yes" if expected else "no"), "Observation/o4")


def test_an_unknown_or_old_negative_status_leaves_pregnancy_unknown() -> None:
    unknown = read_bundle(_bundle(_warfarin(), _status("o4", LOINC, "LA4489-6", "Unknown")), as_of=AS_OF)
    assert unknown.patient.pregnant is None
    assert has_note(unknown, "Observation/o4", "pregnancy status unknown")
    # a "not pregnant" answer holds only on the day it was recorded (holds_days 0 in the table)
    old = read_bundle(
        _bundle(_warfarin(), _status("o4", SNOMED, "60001007", "Not pregnant", "2023-12-20")), as_of=AS_OF
    )
    assert old.patient.pregnant is None
    assert has_note(old, "Observation/o4", "no longer holds on 2024-01-01")
    # a "pregnant" answer holds for the laboratory window (12 months), then is stale
    stale = read_bundle(_bundle(_warfarin(), _status("o4", SNOMED, "77386006", "Pregnant", "2022-06-01")), as_of=AS_OF)
    assert stale.patient.pregnant is None
    recent = read_bundle(_bundle(_warfarin(), _status("o4", SNOMED, "77386006", "Pregnant", "2023-06-01")), as_of=AS_OF)
    assert recent.patient.pregnant is True


def test_the_latest_status_observation_wins_and_later_ones_are_not_used() -> None:
    reading = read_bundle(
        _bundle(
            _warfarin(),
            _status("o1", SNOMED, "77386006", "Pregnant", "2023-10-01"),
            _status("o2", SNOMED, "60001007", "Not pregnant", "2024-01-01"),
            _status("o3", SNOMED, "77386006", "Pregnant", "2024-03-01"),
            _status("o5", SNOMED, "77386006", "Pregnant", "2024-01-01", status="entered-in-error"),
        ),
        as_of=AS_OF,
    )
    assert reading.patient.pregnant is False
    assert has_note(reading, "1 pregnancy status observation(s) dated after 2024-01-01 not used")
    assert has_note(reading, "Observation/o5", "entered-in-error, not used")


def test_contradicting_pregnancy_evidence_is_noted_and_taken_as_pregnant() -> None:
    reading = read_bundle(
        _bundle(_warfarin(), _condition("c1", "77386006", "Pregnancy"), _status("o4", SNOMED, "60001007", "No")),
        as_of=AS_OF,
    )
    assert reading.patient.pregnant is True
    assert has_note(reading, "pregnancy status contradicts itself", "Condition/c1", "Observation/o4", "safer")


def test_two_same_day_pregnancy_answers_that_disagree_are_noted() -> None:
    """Two answers of the same day once resolved silently (to whichever sorted last)."""
    for order in (1, -1):
        answers = [_status("o5", SNOMED, "77386006", "Pregnant"), _status("o6", SNOMED, "60001007", "Not pregnant")]
        reading = read_bundle(_bundle(_warfarin(), *answers[::order]), as_of=AS_OF)
        assert reading.patient.pregnant is True
        assert has_note(reading, "pregnancy status contradicts itself", "Observation/o5", "Observation/o6")


def test_an_old_active_pregnancy_condition_without_status_is_worded_plainly() -> None:
    old = _condition("c1", "77386006", "Pregnancy", None, onsetDateTime="2021-05-01")
    reading = read_bundle(_bundle(_warfarin(), old), as_of=AS_OF)
    assert has_note(reading, "Condition/c1", "and has no clinical status: check it is still current")


def test_pregnancy_conditions_respect_status_and_dates() -> None:
    ended_before = _condition("c1", "72892002", "Normal pregnancy", "resolved",
                              onsetDateTime="2022-01-01", abatementDateTime="2022-09-01")  # fmt: skip
    reading = read_bundle(_bundle(_warfarin(), ended_before), as_of=AS_OF)
    assert reading.patient.pregnant is None
    assert has_note(reading, "Condition/c1", "a past pregnancy (resolved on 2022-09-01)")
    ended_after = _condition("c1", "72892002", "Normal pregnancy", "resolved",
                             onsetDateTime="2023-06-01", abatementDateTime="2024-02-01")  # fmt: skip
    assert read_bundle(_bundle(_warfarin(), ended_after), as_of=AS_OF).patient.pregnant is True
    old = _condition("c1", "77386006", "Pregnancy", onsetDateTime="2021-05-01")
    reading = read_bundle(_bundle(_warfarin(), old), as_of=AS_OF)
    assert reading.patient.pregnant is True  # the safer reading, with a note to check it
    assert has_note(reading, "Condition/c1", "began 2021-05-01, more than 12 months", "check it is still current")
    later = _condition("c1", "77386006", "Pregnancy", onsetDateTime="2024-05-01")
    reading = read_bundle(_bundle(_warfarin(), later), as_of=AS_OF)
    assert reading.patient.pregnant is None
    assert has_note(reading, "Condition/c1", "written after the as-of date 2024-01-01")
    refuted = _condition("c1", "77386006", "Pregnancy", verificationStatus={"coding": [{"code": "refuted"}]})
    reading = read_bundle(_bundle(_warfarin(), refuted), as_of=AS_OF)
    assert reading.patient.pregnant is None
    assert has_note(reading, "Condition/c1", "refuted")


def test_pregnancy_in_the_sample_records() -> None:
    past = read_bundle(sample(F4))  # Synthea: Normal pregnancy resolved 1997, record read at 2006
    assert past.patient.pregnant is None
    assert has_note(past, "(Normal pregnancy): a past pregnancy (resolved on 1997-09-07)", "2006-10-03")
    later = read_bundle(sample(F5))  # US Core pregnancy status (2022) after the as-of date (death, 1977)
    assert later.patient.pregnant is None
    assert has_note(later, "1 pregnancy status observation(s) dated after 1977-07-14 not used")


def test_pregnancy_from_fhir_reaches_the_findings(kb: KnowledgeBase) -> None:
    reading = read_bundle(_bundle(_warfarin(), _condition("c1", "77386006", "Pregnancy")), as_of=AS_OF)
    report = check(reading.patient, kb=kb, notes=reading.notes)
    titles = [(f.kind, f.title) for f in report.findings if f.drugs == ["warfarin"]]
    assert any(kind == "contraindication" and "pregnancy" in title.casefold() for kind, title in titles)
    assert not any("pregnancy status unknown" in title for _, title in titles)
    assert report.not_used == []


# ---------------------------------------------------------------- 2. the as-of date


def test_orders_and_conditions_begun_after_the_as_of_date_are_not_used() -> None:
    statement = {"resourceType": "MedicationStatement", "id": "s1", "status": "active",
                 "medicationCodeableConcept": {"text": "lisinopril 10 MG Oral Tablet"},
                 "effectivePeriod": {"start": "2025-01-01"}}  # fmt: skip
    reading = read_bundle(
        _bundle(
            _warfarin(),
            _warfarin(id="m2", authoredOn="2024-06-01"),
            statement,
            _condition("c1", "38341003", "Hypertension", onsetDateTime="2020-01-01"),
            _condition("c2", "44054006", "Diabetes", onsetDateTime="2024-02-01"),
            _condition("c3", "13645005", "COPD", recordedDate="2025-01-01"),
            _condition("c4", "195967001", "Asthma", "resolved", onsetDateTime="2020-01-01",
                       abatementDateTime="2024-03-01"),
        ),
        as_of=AS_OF,
    )  # fmt: skip
    assert [m.source for m in reading.medications] == ["MedicationRequest/m1"]
    assert has_note(reading, "MedicationRequest/m2", "written after the as-of date 2024-01-01", "authoredOn 2024-06-01")
    assert has_note(reading, "MedicationStatement/s1", "written after the as-of date", "effectivePeriod.start")
    assert has_note(reading, "Condition/c2 (Diabetes) not used: written after the as-of date", "onsetDateTime")
    assert has_note(reading, "Condition/c3 (COPD) not used", "recordedDate 2025-01-01")
    # ended after the as-of date: it was going on then, so it counts as active (no "(resolved)")
    assert reading.patient.conditions == ["Hypertension [SNOMED CT 38341003]", "Asthma [SNOMED CT 195967001]"]
    assert has_note(reading, "1 condition(s) ended after 2024-01-01")


def test_a_cds_prefetch_order_a_day_ahead_is_kept_but_not_a_later_one() -> None:
    prefetch = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": _warfarin(id="m1", authoredOn="2024-01-02T01:00:00+10:00")},
        {"resource": _warfarin(id="m2", authoredOn="2024-01-05")},
    ]}  # fmt: skip
    request = {"hook": "patient-view", "context": {"patientId": "y"}, "prefetch": {"medications": prefetch}}
    reading = read_cds_request(request, now=datetime(2024, 1, 1, 20, 0, tzinfo=UTC))
    assert [m.source for m in reading.medications] == ["MedicationRequest/m1"]
    assert has_note(reading, "MedicationRequest/m2", "written after the as-of date 2024-01-01")


def test_synthea_sample_as_of_2004_leaves_out_the_2006_prescriptions() -> None:
    reading = read_bundle(sample(F1), as_of=date(2004, 1, 1))
    drugs = {m.drug for m in reading.medications}
    assert {"clopidogrel", "simvastatin", "metoprolol"}.isdisjoint(drugs)
    assert {"lisinopril", "amlodipine", "hydrochlorothiazide"} <= drugs
    assert has_note(reading, "(Clopidogrel 75 MG Oral Tablet) not used: written after the as-of date 2004-01-01")
    assert has_note(reading, "(Ischemic heart disease) not used: written after the as-of date")
    assert not any("Ischemic heart disease" in name for name in reading.patient.conditions)
    assert not has_note(reading, "has no date")  # values dated after the as-of date are not "undated"


# ---------------------------------------------------------------- 3. doses that cannot be used


@pytest.mark.parametrize(
    ("concept", "dose", "why"),
    [
        ({"text": "Lisinopril"}, {"value": -10, "unit": "mg"}, "-10 mg is not a usable dose: input should be greater"),
        ({"text": "digoxin"}, {"value": 1e308, "unit": "mg"}, "1e+308 mg is not a usable dose: input should be less"),
        ({"text": "Warfarin"}, {"value": 5, "unit": "mL"}, "a volume needs the product's concentration in mg/mL"),
        ({"text": "Trazodone"}, {"value": 2, "unit": "tablet"}, "a count of dose units needs the product's strength"),
        ({"text": "warfarin 5 MG Oral Tablet"}, {"value": 1, "unit": "puff"}, "not convertible to mg"),
    ],
)
def test_a_recorded_dose_that_cannot_be_used_is_explained(
    concept: dict[str, Any], dose: dict[str, Any], why: str
) -> None:
    reading = read_bundle(_bundle(_order("m5", concept, dose)), as_of=AS_OF)
    assert [m.dose_mg for m in reading.patient.medications] == [None]
    assert has_note(reading, "MedicationRequest/m5: recorded dose", why, "daily dose unknown")


def test_a_mass_dose_of_a_product_named_by_text_alone_is_used() -> None:
    reading = read_bundle(_bundle(_order("m5", {"text": "Lisinopril"}, {"value": 10, "unit": "mg"})), as_of=AS_OF)
    assert [(m.drug, m.dose_mg, m.times_per_day) for m in reading.patient.medications] == [("Lisinopril", 10.0, 1.0)]
    assert not has_note(reading, "recorded dose")


def test_an_impossible_frequency_still_refuses_the_bundle() -> None:
    """Unlike a dose, an impossible frequency is an input error naming the resource (tests/test_input_validation)."""
    order = _order("m5", {"text": "warfarin 5 MG Oral Tablet"}, {"value": 1, "unit": "tablet"})
    order["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = 500
    with pytest.raises(InputError, match="MedicationRequest/m5"):
        read_bundle(_bundle(order), as_of=AS_OF)


# ---------------------------------------------------------------- 4. an ingredient RXCUI without display


def test_an_ingredient_rxcui_alone_is_read_through_the_knowledge_base_tables() -> None:
    assert ingredient_codes()["6809"] == "metformin"
    metformin = _order("m3", {"coding": [{"system": RXNORM, "code": "6809"}]}, {"value": 1, "unit": "g", "code": "g"})
    unknown = _order("m4", {"coding": [{"system": RXNORM, "code": "99999999"}]})
    reading = read_bundle(_bundle(metformin, unknown), as_of=AS_OF)
    read = [(m.drug, m.dose_mg, m.rxcui, m.resolved_by) for m in reading.medications]
    assert read == [
        ("metformin", 1000.0, "6809", "ingredient-code"),
        ("unidentified medication in MedicationRequest/m4 (RxNorm 99999999)", None, "99999999", "unresolved"),
    ]
    assert has_note(reading, "MedicationRequest/m4", "not resolved to an ingredient")
    assert not has_note(reading, "MedicationRequest/m3")


def test_an_ingredient_code_that_disagrees_with_its_display_is_checked_too() -> None:
    """Code 6809 (metformin) displayed as "Warfarin" was read as warfarin alone: the code was dropped unsaid."""
    clash = _order("m5", {"coding": [{"system": RXNORM, "code": "6809", "display": "Warfarin"}]})
    agree = _order("m6", {"coding": [{"system": RXNORM, "code": "6809", "display": "metformin"}]})
    reading = read_bundle(_bundle(clash, agree), as_of=AS_OF)
    assert [(m.drug, m.source) for m in reading.medications] == [
        ("warfarin", "MedicationRequest/m5"),
        ("metformin", "MedicationRequest/m5"),
        ("metformin", "MedicationRequest/m6"),
    ]
    assert has_note(reading, "MedicationRequest/m5", "6809 (metformin)", "'Warfarin'", "both are checked")
    assert not has_note(reading, "MedicationRequest/m6")


# ---------------------------------------------------------------- 5. the CDS Hooks prefetch asks for what is read


def test_prefetch_labs_query_names_every_observation_code_read() -> None:
    from medkg.server.app import _PREFETCH

    query = urlsplit(_PREFETCH["labs"]).query
    asked = set(parse_qs(query)["code"][0].split(","))
    read = {f"{LOINC}|{code}" for analyte in ANALYTES for code in analyte.loinc}
    read |= {f"{system}|{code}" for system, code in pregnancy_codes().observations}
    assert asked == read
    assert {"http://loinc.org|6298-4", "http://loinc.org|8636-3", "http://loinc.org|34714-6"} <= asked
    assert {"http://loinc.org|69405-9", "http://loinc.org|82810-3"} <= asked
    assert _PREFETCH["labs"] == observations_query()
    assert len(observation_codes()) == len(asked)


def test_free_text_with_a_lower_case_strength_is_read() -> None:
    """'ibuprofen 400 mg tablet' was unidentified: the strength pattern knew only RxNorm's upper-case 'MG'."""
    orders = [
        _order("m7", {"text": "ibuprofen 400 mg tablet"}, {"value": 1, "unit": "tablet"}),
        _order("m8", {"text": "amlodipine 5 mg / benazepril 10 mg capsule"}),
    ]
    reading = read_bundle(_bundle(*orders), as_of=AS_OF)
    read = [(m.drug, m.strength_mg, m.dose_mg, m.resolved_by) for m in reading.medications]
    assert read == [
        ("ibuprofen", 400.0, 400.0, "rxnorm-name"),
        ("amlodipine", 5.0, None, "rxnorm-name"),
        ("benazepril", 10.0, None, "rxnorm-name"),
    ]


def test_a_dose_range_is_named_as_the_reason_the_dose_is_unknown() -> None:
    order = _order("m9", {"text": "ibuprofen 400 mg tablet"})
    order["dosageInstruction"][0]["doseAndRate"] = [{"doseRange": {"low": {"value": 1}, "high": {"value": 2}}}]
    reading = read_bundle(_bundle(order), as_of=AS_OF)
    assert [(m.drug, m.dose_mg) for m in reading.medications] == [("ibuprofen", None)]
    assert has_note(reading, "MedicationRequest/m9", "dose given as a range (doseRange) only")
