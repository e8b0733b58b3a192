"""Renal function for rule evaluation: CrCl and eGFR, and how each was obtained.

Order of precedence (stated in every report as ``renal_basis``):
1. an entered CrCl;
2. CrCl estimated by the Cockcroft-Gault equation from serum creatinine, actual body weight,
   age and sex (Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum
   creatinine. Nephron 1976;16(1):31-41. doi:10.1159/000180580);
3. an entered eGFR, used as a stated surrogate where a rule is written in CrCl.
An entered eGFR is used for eGFR rules; without one, the CrCl is used as a stated surrogate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .patient import Patient

__all__ = ["RenalFunction", "cockcroft_gault", "renal_function"]


def cockcroft_gault(*, age_years: float, weight_kg: float, serum_creatinine_mg_dl: float, female: bool) -> float:
    """Estimate creatinine clearance in mL/min by the Cockcroft-Gault equation.

    CrCl = (140 - age) x weight / (72 x SCr), times 0.85 for women (Cockcroft & Gault 1976).

    Args:
        age_years: age in years.
        weight_kg: body weight in kg (medkg uses actual body weight and says so).
        serum_creatinine_mg_dl: serum creatinine in mg/dL (> 0).
        female: apply the 0.85 factor.

    Raises:
        ValueError: if serum creatinine or weight is not positive.
    """
    if serum_creatinine_mg_dl <= 0 or weight_kg <= 0:
        raise ValueError("serum creatinine and weight must be positive")
    crcl = (140.0 - age_years) * weight_kg / (72.0 * serum_creatinine_mg_dl)
    if female:
        crcl *= 0.85
    return max(crcl, 0.0)


@dataclass(frozen=True)
class RenalFunction:
    """Renal values used by the rules, with how they were obtained.

    Attributes:
        crcl_ml_min: CrCl in mL/min for CrCl rules, or None (renal CrCl rules not assessed).
        egfr_ml_min_1_73m2: eGFR in mL/min/1.73 m2 for eGFR rules, or None.
        basis: ``crcl-entered``, ``crcl-cockcroft-gault``, ``egfr-as-crcl-surrogate`` or ``none``.
        notes: sentences for the report (formula inputs, surrogates used).
    """

    crcl_ml_min: float | None
    egfr_ml_min_1_73m2: float | None
    basis: str
    notes: list[str] = field(default_factory=list)


#: Cockcroft-Gault was derived in adults (Cockcroft & Gault 1976: ages 18-92); medkg does not
#: apply it to children and says so.
_CG_MINIMUM_AGE_YEARS = 18


def _cockcroft_gault_inputs(patient: Patient) -> tuple[float, float, float, bool] | None:
    """(age, weight, creatinine, female) when all four are known, else None."""
    age, weight, creatinine, sex = patient.age_years, patient.weight_kg, patient.serum_creatinine_mg_dl, patient.sex
    if age is None or weight is None or creatinine is None or sex is None:
        return None
    return age, weight, creatinine, sex == "female"


def renal_function(patient: Patient) -> RenalFunction:
    """Work out the CrCl and eGFR the rules use for ``patient`` (see module docstring).

    Every input that is not used is said in ``notes`` (nothing is dropped silently): creatinine
    and weight when a CrCl was entered (with the Cockcroft-Gault value for comparison), an
    eGFR beside an entered CrCl, and Cockcroft-Gault refused for children.
    """
    notes: list[str] = []
    crcl: float | None = None
    basis = "none"
    inputs = _cockcroft_gault_inputs(patient)
    estimate = None
    if inputs is not None and inputs[0] >= _CG_MINIMUM_AGE_YEARS:
        age, weight, creatinine, female = inputs
        estimate = round(
            cockcroft_gault(age_years=age, weight_kg=weight, serum_creatinine_mg_dl=creatinine, female=female), 1
        )
    if patient.crcl_ml_min is not None:
        crcl, basis = patient.crcl_ml_min, "crcl-entered"
        if estimate is not None:
            notes.append(
                f"entered CrCl {crcl:g} mL/min used; Cockcroft-Gault from the entered serum creatinine, weight, "
                f"age and sex would give {estimate:g} mL/min (check which is current)"
            )
    elif estimate is not None and inputs is not None:
        crcl, basis = estimate, "crcl-cockcroft-gault"
        age, weight, creatinine, _female = inputs
        notes.append(
            f"CrCl {crcl:g} mL/min estimated by Cockcroft-Gault from serum creatinine {creatinine:g} mg/dL, "
            f"actual body weight {weight:g} kg, age {age:g} years, sex {patient.sex}"
        )
        if crcl > 200:
            notes.append(f"caution: estimated CrCl {crcl:g} mL/min is implausibly high; check creatinine and weight")
    elif inputs is not None:
        notes.append(f"CrCl not estimated: Cockcroft-Gault is validated in adults, age {inputs[0]:g} years")
    elif patient.serum_creatinine_mg_dl is not None:
        missing = [
            name
            for name, value in (("weight", patient.weight_kg), ("age", patient.age_years), ("sex", patient.sex))
            if value is None
        ]
        notes.append(f"CrCl not estimated from serum creatinine: {', '.join(missing)} unknown")

    egfr = patient.egfr_ml_min_1_73m2
    if crcl is None and egfr is not None:
        crcl, basis = egfr, "egfr-as-crcl-surrogate"
        notes.append(f"eGFR {egfr:g} mL/min/1.73 m2 used as a surrogate for CrCl in rules written in CrCl")
    elif egfr is None and crcl is not None:
        egfr = crcl
        notes.append(f"CrCl {crcl:g} mL/min used as a surrogate for eGFR in rules written in eGFR")
    elif egfr is not None and crcl is not None:
        notes.append(f"CrCl {crcl:g} mL/min used for CrCl rules and eGFR {egfr:g} mL/min/1.73 m2 for eGFR rules")
    if crcl is None and egfr is None:
        notes.append("renal function unknown: no CrCl, eGFR or serum creatinine with weight, age and sex")
        if patient.dialysis:
            # dialysis is a population of its own (rules written for it apply), not a CrCl or eGFR value
            notes.append(
                "on dialysis: medkg does not infer a CrCl or eGFR from dialysis, so rules written for low "
                "CrCl or eGFR (contraindications in severe renal impairment included) were not assessed; "
                "give the CrCl or eGFR to assess them"
            )
    return RenalFunction(crcl, egfr, basis, notes)
