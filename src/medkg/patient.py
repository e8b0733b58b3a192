"""Typed patient input: the shape every loader (JSON, Turtle, CLI flags) produces.

Impossible values (negative age, NaN, wrong types, unknown Child-Pugh class) are rejected
with a :class:`pydantic.ValidationError` naming the field. Implausible but possible values
are accepted and reported as cautions by :func:`plausibility_notes`.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Labs", "Medication", "Patient", "plausibility_notes"]

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, strict=True)


def _printable(value: str | None) -> str | None:
    """Refuse control characters other than tab, newline and carriage return (e.g. NUL) in a name."""
    if value is not None:
        for character in value:
            if unicodedata.category(character) == "Cc" and character not in "\t\n\r":
                raise ValueError(f"must not contain control character U+{ord(character):04X}")
    return value


class Medication(BaseModel):
    """One medication the patient takes.

    Attributes:
        drug: name as entered: ingredient, US brand name or synonym (any case).
        dose_mg: amount per administration in mg, or None when unknown.
        times_per_day: administrations per day; a fraction for less than daily (weekly = 1/7).
        indication: condition it is taken for (free text, matched to the knowledge base).
    """

    model_config = _STRICT
    drug: str = Field(min_length=1, max_length=200)
    dose_mg: float | None = Field(default=None, gt=0, le=100_000)
    times_per_day: float | None = Field(default=None, gt=0, le=48)
    indication: str | None = Field(default=None, max_length=200)

    @field_validator("drug", "indication")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        return _printable(value)


class Labs(BaseModel):
    """Optional laboratory values: potassium (mmol/L), QTc (ms), INR (ratio)."""

    model_config = _STRICT
    potassium_mmol_l: float | None = Field(default=None, gt=0, le=15)
    qtc_ms: float | None = Field(default=None, gt=0, le=1000)
    inr: float | None = Field(default=None, gt=0, le=30)


class Patient(BaseModel):
    """A patient as medkg reads it (the published JSON Schema is generated from this model).

    Units: age in years, weight in kg, serum creatinine in mg/dL, CrCl in mL/min
    (Cockcroft-Gault), eGFR in mL/min/1.73 m2. Every field but ``medications`` is optional;
    a missing value leaves the rules that need it ``not-assessed`` (never silently passed).
    """

    model_config = _STRICT
    id: str = Field(default="patient", min_length=1, max_length=200)
    age_years: float | None = Field(default=None, ge=0, le=130)
    sex: Literal["female", "male"] | None = None
    weight_kg: float | None = Field(default=None, gt=0, le=700)
    serum_creatinine_mg_dl: float | None = Field(default=None, gt=0, le=40)
    crcl_ml_min: float | None = Field(default=None, ge=0, le=400)
    egfr_ml_min_1_73m2: float | None = Field(default=None, ge=0, le=400)
    dialysis: bool | None = None
    child_pugh: Literal["A", "B", "C"] | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[str] = Field(default_factory=list, max_length=500)
    allergies: list[str] = Field(default_factory=list, max_length=500)
    labs: Labs | None = None
    medications: list[Medication] = Field(max_length=500)

    @field_validator("conditions", "allergies")
    @classmethod
    def _no_empty_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip():
                raise ValueError("names must not be empty")
            _printable(value)
        return [value.strip() for value in values]

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        return _printable(value) or value

    @field_validator("age_years", "weight_kg", "serum_creatinine_mg_dl", "crcl_ml_min", "egfr_ml_min_1_73m2")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def plausibility_notes(patient: Patient) -> list[str]:
    """Return cautions for values that are possible but unusual enough to check for entry errors.

    These are data-entry checks, not clinical rules: they never change findings.
    """
    notes = []
    if patient.age_years is not None and patient.age_years > 110:
        notes.append(f"caution: age {patient.age_years:g} years is unusual; check the entry")
    if patient.weight_kg is not None and not 25 <= patient.weight_kg <= 300 and (patient.age_years or 18) >= 18:
        notes.append(f"caution: weight {patient.weight_kg:g} kg is unusual for an adult; check the entry")
    if patient.crcl_ml_min is not None and patient.crcl_ml_min > 200:
        notes.append(f"caution: CrCl {patient.crcl_ml_min:g} mL/min is unusually high; check the entry")
    if patient.pregnant and patient.sex == "male":
        notes.append("caution: pregnant is true but sex is male; check the entry")
    if patient.breastfeeding and patient.sex == "male":
        notes.append("caution: breastfeeding is true but sex is male; check the entry")
    for state, value in (("pregnant", patient.pregnant), ("breastfeeding", patient.breastfeeding)):
        if value and patient.age_years is not None and not 10 <= patient.age_years <= 60:
            notes.append(f"caution: {state} is true at age {patient.age_years:g} years; check the entry")
    if patient.dialysis and patient.crcl_ml_min is not None and patient.crcl_ml_min > 60:
        notes.append(f"caution: on dialysis but CrCl {patient.crcl_ml_min:g} mL/min entered; check the entry")
    for medication in patient.medications:
        if medication.times_per_day is not None and medication.times_per_day > 12:
            notes.append(
                f"caution: {medication.drug} taken {medication.times_per_day:g} times per day is unusual; check the entry"
            )
    return notes
