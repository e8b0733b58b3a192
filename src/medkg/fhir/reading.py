"""Put the pieces together: the resources of one input -> a :class:`medkg.patient.Patient` and notes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError

from ..loaders import InputError
from ..patient import Labs, Patient
from ..renal import cockcroft_gault
from .clinical import read_allergies, read_conditions
from .dates import months_before, parse_date, resource_dates
from .demographics import Demographics, read_demographics
from .index import ResourceIndex
from .medications import ReadMedication, read_medications
from .observations import LabValues, read_observations
from .pregnancy import read_pregnancy
from .validation import TypedResource

__all__ = ["Assembled", "assemble", "latest_clinical_date"]

_LAB_FIELDS = ("potassium_mmol_l", "qtc_ms", "inr")
#: Types whose failure to validate is worth a note (their content is read).
_READ_TYPES = frozenset({"MedicationRequest", "MedicationStatement", "MedicationDispense", "Observation", "Condition"})
#: Renal values contradict when one says CrCl/eGFR below the first and the other above the second.
_RENAL_LOW, _RENAL_HIGH = 30.0, 60.0


@dataclass
class Assembled:
    """A patient read from FHIR, with the medications as read and every note."""

    patient: Patient
    medications: list[ReadMedication]
    demographics: Demographics
    labs: LabValues
    notes: list[str] = field(default_factory=list)


def latest_clinical_date(index: ResourceIndex) -> tuple[date, str] | None:
    """Return the latest clinical date in the input and where it was found, or None when there is none.

    When the input has encounters, only encounters and resources recorded in one (an
    ``encounter`` or STU3 ``context`` reference) count: test kits add stray resources outside
    any encounter, years after the record ends. Without encounters every clinical resource counts.
    """
    resources = [typed.data for typed in index.resources]
    if any(data.get("resourceType") == "Encounter" for data in resources):
        resources = [
            data
            for data in resources
            if data.get("resourceType") == "Encounter" or isinstance(data.get("encounter") or data.get("context"), dict)
        ]
    found = [item for data in resources for item in resource_dates(data)]
    return max(found) if found else None


def _repair_notes(index: ResourceIndex) -> list[str]:
    notes = []
    for typed in index.resources:
        if typed.repairs:
            notes.append(f"{typed.label} read as FHIR {typed.version} after repair: {'; '.join(typed.repairs)}")
        elif typed.version is None and typed.data.get("resourceType") in _READ_TYPES:
            notes.append(f"{typed.label} is not valid FHIR R4 or STU3; read as written")
    return notes


def _old_orders(index: ResourceIndex, medications: list[ReadMedication], as_of: date, months: int) -> list[str]:
    """Return notes for current orders written long before ``as_of`` (status active, but check they still are)."""
    oldest = months_before(as_of, months)
    sources = {m.source for m in medications if not m.draft}
    notes = []
    for typed in index.of_type("MedicationRequest"):
        written = parse_date(typed.data.get("authoredOn"))
        if typed.label in sources and written is not None and written < oldest:
            names = ", ".join(dict.fromkeys(m.drug for m in medications if m.source == typed.label))
            notes.append(
                f"{typed.label} ({names}) is active but was written on {written.isoformat()}, more than "
                f"{months} months before {as_of.isoformat()}: check it is still current"
            )
    return notes


def _renal_contradiction(demographics: Demographics, labs: LabValues, age: int | None) -> str | None:
    """Return a note when Cockcroft-Gault CrCl and eGFR fall on opposite sides of 30-60 mL/min, else None."""
    creatinine, weight = labs.values.get("serum_creatinine_mg_dl"), labs.values.get("weight_kg")
    egfr = labs.values.get("egfr_ml_min_1_73m2")
    if creatinine is None or weight is None or egfr is None or age is None or age < 18 or demographics.sex is None:
        return None
    crcl = cockcroft_gault(
        age_years=age,
        weight_kg=weight.value,
        serum_creatinine_mg_dl=creatinine.value,
        female=demographics.sex == "female",
    )
    if (crcl < _RENAL_LOW and egfr.value > _RENAL_HIGH) or (crcl > _RENAL_HIGH and egfr.value < _RENAL_LOW):
        return (
            f"renal values contradict each other: Cockcroft-Gault CrCl {crcl:.1f} mL/min from serum creatinine "
            f"{creatinine.value:.3g} mg/dL ({creatinine.source}) but eGFR {egfr.value:g} ({egfr.source}); "
            "medkg uses the CrCl for CrCl rules and the eGFR for eGFR rules: check which is current"
        )
    return None


def assemble(
    index: ResourceIndex,
    *,
    as_of: date,
    drafts: list[TypedResource] | None = None,
    known: Callable[[str], bool] | None = None,
    window_months: int = 12,
    patient_id: str | None = None,
    grace_days: int = 0,
) -> Assembled:
    """Read demographics, medications, observations, conditions, pregnancy status and allergies into one Patient.

    Records dated after ``as_of`` are not used (each noted); medication records up to
    ``grace_days`` later still are (a CDS Hooks client's time zone may be ahead of the server's).

    Raises:
        medkg.loaders.InputError: if the values read do not make a valid patient.
    """
    demographics = read_demographics(index)
    notes = list(demographics.notes)
    age = demographics.age_on(as_of)
    if age is not None:
        notes.append(f"age {age} years on {as_of.isoformat()} (born {demographics.birth_date})")
    elif demographics.birth_date is not None:
        notes.append(
            f"birth date {demographics.birth_date.isoformat()} is after the as-of date {as_of.isoformat()}: age unknown"
        )
    medications, medication_notes = read_medications(
        index, drafts=drafts, known=known, as_of=as_of, grace_days=grace_days
    )
    labs = read_observations(index, as_of=as_of, window_months=window_months)
    conditions, condition_notes = read_conditions(index, as_of=as_of)
    pregnancy = read_pregnancy(index, as_of=as_of, window_months=window_months)
    allergies, allergy_notes = read_allergies(index)
    notes += medication_notes + labs.notes + condition_notes + pregnancy.notes + allergy_notes
    notes += _repair_notes(index)
    notes += _old_orders(index, medications, as_of, window_months)
    contradiction = _renal_contradiction(demographics, labs, age)
    if contradiction:
        notes.append(contradiction)
    if not medications:
        notes.append("no current medication found")
    checked = []
    for medication in medications:
        try:
            checked.append(medication.to_medication())
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(step) for step in first["loc"])
            raise InputError(
                f"{medication.source} ({medication.drug[:60]}): {where} {first.get('input')!r}: {first['msg']}"
            ) from None
    values = {name: value.value for name, value in labs.values.items()}
    lab_values = {name: values[name] for name in _LAB_FIELDS if name in values}
    try:
        patient = Patient(
            id=(demographics.id or patient_id or "patient")[:200],
            age_years=float(age) if age is not None else None,
            sex="female" if demographics.sex == "female" else "male" if demographics.sex == "male" else None,
            weight_kg=values.get("weight_kg"),
            serum_creatinine_mg_dl=values.get("serum_creatinine_mg_dl"),
            egfr_ml_min_1_73m2=values.get("egfr_ml_min_1_73m2"),
            pregnant=pregnancy.pregnant,
            conditions=conditions,
            allergies=allergies,
            labs=Labs(**lab_values) if lab_values else None,
            medications=checked,
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        source = next((value.source for name, value in labs.values.items() if name == first["loc"][0]), None)
        origin = f" ({source})" if source else ""
        raise InputError(
            f"FHIR input gives an invalid patient value: {where}{origin} {first.get('input')!r}: {first['msg']}"
        ) from None
    return Assembled(patient, medications, demographics, labs, notes)
