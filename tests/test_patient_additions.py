"""Flags and medication names given with a patient file are added to it, each addition noted (docs/fhir.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import BACLOFEN_BUNDLE, baclofen_order
from conftest import run_medkg as medkg
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import PatientInputError, load_input
from medkg.patient_additions import Additions, add_to_patient
from medkg.vocabulary import KG

#: kg/rules/cardiovascular-anticoagulant-hepatic-pregnancy.ttl
RULE = str(KG["rule-rivaroxaban-child-pugh-c"])

#: A FHIR Bundle: a man born 1950-05-01 with an active rivaroxaban order of 2024-01-01; no hepatic data.
RIVAROXABAN_BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-05-01", "gender": "male"}},
        {"resource": baclofen_order(medicationCodeableConcept={"text": "rivaroxaban"}, authoredOn="2024-01-01")},
    ],
}


def test_values_are_added_or_replace_the_files_each_with_a_note() -> None:
    patient = load_input(BACLOFEN_BUNDLE).patient  # female, 79 years on 2020-01-01, no renal values
    assert patient.age_years == 79 and patient.crcl_ml_min is None
    added, notes = add_to_patient(
        patient,
        Additions(
            values={"age_years": 80.0, "crcl_ml_min": 25.0, "sex": "female", "child_pugh": "B"},
            labs={"inr": 2.5},
            conditions=["insomnia"],
            allergies=["penicillin"],
            medications=[{"drug": "trazodone", "dose_mg": 50.0, "times_per_day": 1.0}],
        ),
    )
    assert (added.age_years, added.crcl_ml_min, added.child_pugh) == (80.0, 25.0, "B")
    assert added.labs is not None and added.labs.inr == 2.5
    assert added.conditions == ["insomnia"] and added.allergies == ["penicillin"]
    assert [m.drug for m in added.medications] == ["baclofen", "trazodone"]
    assert notes == [
        "command line: age 80 years used instead of the file's 79 years",
        "command line: CrCl 25 mL/min added (none taken from the file)",
        # sex female is what the file says: no note
        "command line: Child-Pugh class B added (none taken from the file)",
        "command line: INR 2.5 added (none taken from the file)",
        "command line: condition 'insomnia' added",
        "command line: allergy 'penicillin' added",
        "command line: medication 'trazodone' added to the file's list",
    ]


def test_a_name_already_listed_is_not_repeated_but_a_medication_is_checked_twice() -> None:
    patient = load_input({"id": "x", "conditions": ["COPD"], "medications": [{"drug": "Baclofen"}]}).patient
    added, notes = add_to_patient(
        patient, Additions(conditions=[" copd", "insomnia", "Insomnia"], medications=[{"drug": "baclofen"}])
    )
    assert added.conditions == ["COPD", "insomnia"]
    assert [m.drug for m in added.medications] == ["Baclofen", "baclofen"]
    assert (
        "command line: medication 'baclofen' added to the file's list (the file lists it too: both are checked)"
        in notes
    )


def test_an_invalid_value_added_is_an_input_error_naming_the_file() -> None:
    patient = load_input(BACLOFEN_BUNDLE).patient
    with pytest.raises(PatientInputError, match=r"bundle\.json with the command line values: .*crcl_ml_min"):
        add_to_patient(patient, Additions(values={"crcl_ml_min": -5.0}), source="bundle.json")


def test_nothing_to_add_is_false() -> None:
    assert not Additions() and Additions(labs={"qtc_ms": 480.0})


def _report(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = medkg("check", *args, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_child_pugh_flag_with_a_fhir_bundle_gives_the_label_contraindication(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Rivaroxaban in Child-Pugh C: avoid, no clinical data (CCJM DOAC-in-liver-disease table, kg rule)."""
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(RIVAROXABAN_BUNDLE), encoding="utf-8")
    _, without = _report(str(bundle))
    assert not any(f.get("rule") == RULE for f in without["findings"])
    assert any(f["title"] == "Not assessed: hepatic function (Child-Pugh class) unknown" for f in without["findings"])

    code, report = _report(str(bundle), "--child-pugh", "C")
    [finding] = [f for f in report["findings"] if f.get("rule") == RULE]
    assert (finding["severity"], finding["kind"], code) == ("major", "contraindication", 1)
    assert "command line: Child-Pugh class C added (none taken from the file)" in report["notes"]
    assert not any(
        f["title"] == "Not assessed: hepatic function (Child-Pugh class) unknown" for f in report["findings"]
    )


def test_a_medication_name_with_a_fhir_bundle_is_checked_against_its_orders(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Ibuprofen added to a rivaroxaban order: anticoagulant + NSAID interaction (STOPP v3 C10)."""
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(RIVAROXABAN_BUNDLE), encoding="utf-8")
    _, report = _report(str(bundle), "ibuprofen:400x3")
    assert any(
        f["kind"] == "interaction" and f["drugs"] == ["ibuprofen", "rivaroxaban"] and f["severity"] == "major"
        for f in report["findings"]
    )
    assert "command line: medication 'ibuprofen' added to the file's list" in report["notes"]


def test_medication_added_to_a_file_without_any_drops_the_nothing_checked_note(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"id": "e", "medications": []}), encoding="utf-8")
    _, report = _report(str(empty), "baclofen:10x3")
    assert not any("no medication given" in note for note in report["notes"])
    assert [a["drug"] for a in report["assessed"]] == ["baclofen"]


def test_two_patient_files_are_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(BACLOFEN_BUNDLE), encoding="utf-8")
    result = medkg("check", str(bundle), str(bundle))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "medkg: give one patient file (or --example); flags and medication names are added to it"
    )


def test_a_zero_lab_flag_is_an_error_not_dropped() -> None:
    result = medkg("check", "--age", "70", "--potassium", "0", "baclofen")
    assert result.returncode == 2
    assert "potassium_mmol_l" in result.stderr


@pytest.mark.parametrize("state", ["pregnant", "breastfeeding"])
def test_a_no_never_overrides_the_files_yes_for_pregnancy_or_breastfeeding(state: str) -> None:
    """As for a FHIR record that contradicts itself (docs/fhir.md): taken as in the state, noted."""
    patient = load_input(
        {"id": "w", "sex": "female", "age_years": 30, state: True, "medications": [{"drug": "warfarin"}]}
    ).patient
    kept, notes = add_to_patient(patient, Additions(values={state: False}))
    assert getattr(kept, state) is True
    assert notes == [
        f"command line: {state} no contradicts the file's yes: taken as {state} (the safer reading: no rule needs "
        "its absence); correct the record if this no longer holds"
    ]
    set_now, notes = add_to_patient(patient.model_copy(update={state: False}), Additions(values={state: True}))
    assert getattr(set_now, state) is True and notes == [f"command line: {state} yes used instead of the file's no"]


def test_warfarin_in_pregnancy_stays_contraindicated_with_not_pregnant(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A FHIR pregnancy Condition (SNOMED CT 77386006) and --not-pregnant: the warfarin contraindication stays."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1994-03-01", "gender": "female"}},
            {"resource": {
                "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "77386006", "display": "Pregnancy"}]},
                "onsetDateTime": "2024-01-10",
            }},
            {"resource": baclofen_order(medicationCodeableConcept={"text": "warfarin"}, authoredOn="2024-02-01")},
        ],
    }  # fmt: skip
    path = tmp_path / "pregnant.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    for extra in ((), ("--not-pregnant",)):
        code, report = _report(str(path), *extra)
        assert code == 1 and "Pregnant" in report["patient"]["populations"]
        assert any(f["severity"] == "contraindicated" and f["drugs"] == ["warfarin"] for f in report["findings"])


def test_a_serum_creatinine_given_makes_the_files_crcl_and_egfr_unused() -> None:
    """A newer SCr must not be outvoted by the file's entered CrCl (entered CrCl comes first in medkg.renal)."""
    patient = load_input({
        "id": "r", "age_years": 80, "sex": "female", "weight_kg": 60, "crcl_ml_min": 80,
        "egfr_ml_min_1_73m2": 75, "medications": [{"drug": "baclofen"}],
    }).patient  # fmt: skip
    fresh, notes = add_to_patient(patient, Additions(values={"serum_creatinine_mg_dl": 3.0}))
    assert (fresh.serum_creatinine_mg_dl, fresh.crcl_ml_min, fresh.egfr_ml_min_1_73m2) == (3.0, None, None)
    assert notes == [
        "command line: serum creatinine 3 mg/dL added (none taken from the file)",
        "command line: the file's CrCl 80 mL/min is not used: it predates the serum creatinine given (give it too to use it)",
        "command line: the file's eGFR 75 mL/min/1.73 m2 is not used: it predates the serum creatinine given (give it too to use it)",
    ]
    both, _ = add_to_patient(patient, Additions(values={"serum_creatinine_mg_dl": 3.0, "crcl_ml_min": 20.0}))
    assert (both.crcl_ml_min, both.egfr_ml_min_1_73m2) == (20.0, None)


def test_a_serum_creatinine_given_gives_the_low_crcl_findings(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Cockcroft-Gault: (140 - 80) x 60 / (72 x 3.0) x 0.85 = 14.2 mL/min, not the file's 80: baclofen CrCl < 30 rule."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({
        "id": "r", "age_years": 80, "sex": "female", "weight_kg": 60, "crcl_ml_min": 80,
        "medications": [{"drug": "baclofen", "dose_mg": 10, "times_per_day": 3}],
    }), encoding="utf-8")  # fmt: skip
    _, report = _report(str(path), "--scr", "3.0")
    assert report["patient"]["renal_basis"] == "crcl-cockcroft-gault"
    assert "CrCl 14.2 mL/min estimated by Cockcroft-Gault" in " ".join(report["notes"])
    titles = {(f["title"], f["severity"]) for f in report["findings"]}
    assert ("Baclofen with creatinine clearance below 30 mL/min", "major") in titles
    assert ("Baclofen with creatinine clearance 50 to 80 mL/min", "minor") not in titles


@pytest.mark.parametrize(
    "flags",
    [["--pregnant"], ["--no-dialysis"], ["--breastfeeding"], ["--condition", "copd"], ["--allergy", "baclofen"],
     ["--potassium", "5"], ["--qtc", "500"], ["--inr", "3"]],
)  # fmt: skip
def test_batch_refuses_every_patient_flag(tmp_path: Path, flags: list[str]) -> None:
    batch = tmp_path / "b.ndjson"
    batch.write_text(json.dumps({"id": "b", "medications": [{"drug": "baclofen"}]}) + "\n", encoding="utf-8")
    result = medkg("check", "--batch", str(batch), *flags)
    assert result.returncode == 2
    assert "--batch takes its patients from the batch input alone" in result.stderr


def test_a_medication_name_too_long_for_a_file_name_is_an_input_error() -> None:
    result = medkg("check", "a" * 300)
    assert result.returncode == 2, result.stderr
    assert "at most 200 characters" in result.stderr


def test_a_colon_without_a_dose_is_an_error() -> None:
    result = medkg("check", "--age", "70", "ibuprofen:")
    assert result.returncode == 2
    assert "medication 'ibuprofen:': nothing after ':'" in result.stderr
