"""Renal function: Cockcroft-Gault and the precedence CrCl entered > Cockcroft-Gault > eGFR surrogate."""

from __future__ import annotations

import pytest

from medkg import load_patient
from medkg.knowledge_base import KnowledgeBase
from medkg.renal import cockcroft_gault, renal_function


def test_cockcroft_gault_female() -> None:
    # ../shared/samples/SOURCES.md, F3: 70-year-old woman, 74.6 kg, creatinine 2.59 mg/dL -> CrCl about 24 mL/min.
    # (140 - 70) x 74.6 / (72 x 2.59) x 0.85 = 23.8
    assert cockcroft_gault(age_years=70, weight_kg=74.6, serum_creatinine_mg_dl=2.59, female=True) == pytest.approx(
        23.8, abs=0.05
    )


def test_cockcroft_gault_male() -> None:
    # Cockcroft & Gault 1976: (140 - age) x weight / (72 x SCr); 80 y, 70 kg, SCr 2.0 -> 29.2 mL/min
    assert cockcroft_gault(age_years=80, weight_kg=70, serum_creatinine_mg_dl=2.0, female=False) == pytest.approx(
        29.17, abs=0.01
    )


def test_cockcroft_gault_rejects_zero_creatinine() -> None:
    with pytest.raises(ValueError):
        cockcroft_gault(age_years=50, weight_kg=70, serum_creatinine_mg_dl=0, female=False)


def test_entered_crcl_wins() -> None:
    patient = load_patient(
        {
            "age_years": 70,
            "sex": "female",
            "weight_kg": 74.6,
            "serum_creatinine_mg_dl": 2.59,
            "crcl_ml_min": 50,
            "medications": [{"drug": "baclofen"}],
        }
    )
    renal = renal_function(patient)
    assert (renal.crcl_ml_min, renal.basis) == (50, "crcl-entered")


def test_cockcroft_gault_used_and_stated() -> None:
    patient = load_patient(
        {
            "age_years": 70,
            "sex": "female",
            "weight_kg": 74.6,
            "serum_creatinine_mg_dl": 2.59,
            "medications": [{"drug": "baclofen"}],
        }
    )
    renal = renal_function(patient)
    assert renal.basis == "crcl-cockcroft-gault"
    assert renal.crcl_ml_min == pytest.approx(23.8, abs=0.05)
    assert any("74.6 kg" in note and "actual body weight" in note for note in renal.notes)


def test_egfr_is_a_stated_surrogate() -> None:
    patient = load_patient({"age_years": 70, "egfr_ml_min_1_73m2": 45, "medications": [{"drug": "baclofen"}]})
    renal = renal_function(patient)
    assert (renal.crcl_ml_min, renal.egfr_ml_min_1_73m2, renal.basis) == (45, 45, "egfr-as-crcl-surrogate")
    assert any("surrogate" in note for note in renal.notes)


def test_creatinine_without_weight_is_not_silently_dropped() -> None:
    patient = load_patient({"age_years": 70, "serum_creatinine_mg_dl": 2.0, "medications": [{"drug": "baclofen"}]})
    renal = renal_function(patient)
    assert renal.basis == "none"
    assert any("weight" in note and "sex" in note for note in renal.notes)


def test_cockcroft_gault_not_applied_to_children() -> None:
    patient = load_patient(
        {
            "age_years": 0,
            "sex": "male",
            "weight_kg": 3,
            "serum_creatinine_mg_dl": 0.3,
            "medications": [{"drug": "baclofen"}],
        }
    )
    renal = renal_function(patient)
    assert renal.basis == "none"
    assert any("validated in adults" in note for note in renal.notes)


def test_entered_crcl_with_creatinine_states_both() -> None:
    patient = load_patient(
        {
            "age_years": 70,
            "sex": "female",
            "weight_kg": 74.6,
            "serum_creatinine_mg_dl": 2.59,
            "crcl_ml_min": 40,
            "medications": [{"drug": "baclofen"}],
        }
    )
    renal = renal_function(patient)
    assert renal.crcl_ml_min == 40
    assert any("23.8" in note and "40" in note for note in renal.notes)


def test_dialysis_without_a_renal_value_says_what_was_not_assessed() -> None:
    """A new-user trial's '--dialysis metformin' gave 'renal function unknown' and no word on why the
    severe-renal-impairment rules stayed silent: dialysis is a population, not a CrCl or eGFR."""
    patient = load_patient({"age_years": 60, "dialysis": True, "medications": [{"drug": "metformin"}]})
    renal = renal_function(patient)
    assert (renal.crcl_ml_min, renal.egfr_ml_min_1_73m2) == (None, None)
    assert any(note.startswith("on dialysis: medkg does not infer a CrCl or eGFR") for note in renal.notes)
    with_value = renal_function(
        load_patient(
            {"age_years": 60, "dialysis": True, "egfr_ml_min_1_73m2": 8, "medications": [{"drug": "metformin"}]}
        )
    )
    assert not any(note.startswith("on dialysis") for note in with_value.notes)


def test_a_surrogate_renal_value_is_named_in_the_findings_explanation(kb: KnowledgeBase) -> None:
    """The report's notes said an eGFR stood in for CrCl, but a finding's 'because' read as if CrCl were measured."""
    from medkg import check

    def renal_lines(**values: float) -> list[str]:
        report = check({"age_years": 70, **values, "medications": [{"drug": "ibuprofen"}]}, kb=kb)
        return [
            line
            for f in report.findings
            for line in f.because
            if "population 'creatinine" in line or "population 'eGFR" in line
        ]

    from_egfr = renal_lines(egfr_ml_min_1_73m2=20)
    assert "creatinine clearance (CrCl) 20 mL/min < 30 mL/min; the eGFR used as a surrogate for CrCl" in from_egfr[0]
    from_crcl = renal_lines(crcl_ml_min=20)
    assert any(
        "eGFR) 20 mL/min/1.73 m2 < 50 mL/min/1.73 m2; the CrCl used as a surrogate for eGFR" in line
        for line in from_crcl
    )
    assert not any("surrogate" in line for line in renal_lines(crcl_ml_min=20, egfr_ml_min_1_73m2=20))
