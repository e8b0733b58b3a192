"""Where values given beside a patient file (the CLI's flags and medication names) are added to it.

A FHIR Bundle cannot say everything medkg reads (lactation, Child-Pugh class and dialysis are not
read from FHIR, see ``docs/fhir.md``), and a prescriber may know a newer value than the file
holds, or want to check a medication before adding it. :func:`add_to_patient` puts such values
on the patient the file gave and says in a note, for every value, what it added or replaced, so
the report shows which values came from where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .loaders import patient_from_dict
from .patient import Patient

__all__ = ["Additions", "add_to_patient"]

#: Patient and lab fields -> (what a note calls the value, its unit after the number).
_SHOWN: dict[str, tuple[str, str]] = {
    "age_years": ("age", " years"),
    "sex": ("sex", ""),
    "weight_kg": ("weight", " kg"),
    "serum_creatinine_mg_dl": ("serum creatinine", " mg/dL"),
    "crcl_ml_min": ("CrCl", " mL/min"),
    "egfr_ml_min_1_73m2": ("eGFR", " mL/min/1.73 m2"),
    "child_pugh": ("Child-Pugh class", ""),
    "pregnant": ("pregnant", ""),
    "breastfeeding": ("breastfeeding", ""),
    "dialysis": ("on dialysis", ""),
    "potassium_mmol_l": ("potassium", " mmol/L"),
    "qtc_ms": ("QTc", " ms"),
    "inr": ("INR", ""),
}


@dataclass(frozen=True)
class Additions:
    """Values to put on a patient read from a file.

    Attributes:
        values: :class:`~medkg.patient.Patient` fields other than lists and labs -> value, in the
            model's units (age in years, weight in kg, serum creatinine in mg/dL, CrCl in mL/min,
            eGFR in mL/min/1.73 m2); each replaces the file's value.
        labs: :class:`~medkg.patient.Labs` fields -> value (potassium mmol/L, QTc ms, INR); each
            replaces the file's value of that lab.
        conditions: condition names added to the file's (one already there is not repeated).
        allergies: allergy names added to the file's (likewise).
        medications: medications added to the file's list, as
            :func:`medkg.loaders.parse_medication_arg` gives them (``{"drug", "dose_mg", ...}``).
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    labs: Mapping[str, float] = field(default_factory=dict)
    conditions: Sequence[str] = ()
    allergies: Sequence[str] = ()
    medications: Sequence[Mapping[str, Any]] = ()

    def __bool__(self) -> bool:
        return bool(self.values or self.labs or self.conditions or self.allergies or self.medications)


def _value(name: str, value: Any) -> str:
    """Show a value as a note does, with its unit: ``25 mL/min``, ``yes``, ``C``."""
    unit = _SHOWN.get(name, (name, ""))[1]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


#: States that a "no" given beside the file never overrides the file's "yes": as when a FHIR record
#: contradicts itself (docs/fhir.md), the patient is taken to be in the state, the safer reading -
#: rules are written for these states, none for their absence, so it hides no finding.
_YES_KEPT = frozenset({"pregnant", "breastfeeding"})

#: A value given beside the file -> the file's values derived from older data of the same kind,
#: not used once it is given (unless given too): a new serum creatinine makes the file's CrCl and
#: eGFR stale, and an entered CrCl would otherwise take precedence over it (medkg.renal).
_MAKES_STALE: dict[str, tuple[str, ...]] = {"serum_creatinine_mg_dl": ("crcl_ml_min", "egfr_ml_min_1_73m2")}


def _replaced(name: str, old: Any, new: Any, origin: str) -> str | None:
    """Return the note for one value: added, replacing the file's, or None when the file gives the same value."""
    if old == new and type(old) is type(new):
        return None
    label = _SHOWN.get(name, (name, ""))[0]
    if old is None:
        return f"{origin}: {label} {_value(name, new)} added (none taken from the file)"
    return f"{origin}: {label} {_value(name, new)} used instead of the file's {_value(name, old)}"


def _new_names(present: Sequence[str], added: Sequence[str]) -> list[str]:
    """Return the names of ``added`` not already in ``present`` (case and outer spaces aside), each once."""
    seen = {name.strip().casefold() for name in present}
    fresh = []
    for name in added:
        key = name.strip().casefold()
        if key not in seen:
            seen.add(key)
            fresh.append(name)
    return fresh


def add_to_patient(
    patient: Patient, additions: Additions, *, origin: str = "command line", source: str = "the file"
) -> tuple[Patient, list[str]]:
    """Return ``patient`` with ``additions`` put on it, and one note per value added or replaced.

    A value the file gives differently is replaced (the note names both), except that a "no" for
    pregnancy or breastfeeding never overrides the file's "yes" (the patient is taken to be in the
    state, noted); a serum creatinine given makes the file's CrCl and eGFR unused (noted) unless
    they are given too. Conditions, allergies and medications are added to the file's lists. A medication the file already lists by the
    same name is added all the same (both are checked, as a duplicate would be) and the note says
    so. The result is validated as any patient input is.

    Args:
        patient: the patient read from the file.
        additions: what to put on it.
        origin: where the additions come from, as notes name it.
        source: how messages name the file.

    Raises:
        medkg.loaders.PatientInputError: if a value added is invalid (e.g. a negative CrCl), naming
            ``origin`` and ``source``.
    """
    data = patient.model_dump()
    notes = []
    for name, value in additions.values.items():
        old = data.get(name)
        if name in _YES_KEPT and old is True and value is False:
            notes.append(
                f"{origin}: {_SHOWN[name][0]} no contradicts the file's yes: taken as {_SHOWN[name][0]} (the safer "
                "reading: no rule needs its absence); correct the record if this no longer holds"
            )
            continue
        note = _replaced(name, old, value, origin)
        if note:
            notes.append(note)
        data[name] = value
        for stale in _MAKES_STALE.get(name, ()):
            if data.get(stale) is not None and stale not in additions.values and note:
                label = _SHOWN[name][0]
                notes.append(
                    f"{origin}: the file's {_SHOWN[stale][0]} {_value(stale, data[stale])} is not used: it predates "
                    f"the {label} given (give it too to use it)"
                )
                data[stale] = None
    if additions.labs:
        labs = dict(data.get("labs") or {})
        for name, value in additions.labs.items():
            note = _replaced(name, labs.get(name), value, origin)
            if note:
                notes.append(note)
            labs[name] = value
        data["labs"] = labs
    for key, kind in (("conditions", "condition"), ("allergies", "allergy")):
        fresh = _new_names(data[key], getattr(additions, key))
        data[key] = [*data[key], *fresh]
        notes += [f"{origin}: {kind} '{name}' added" for name in fresh]
    listed = {m["drug"].strip().casefold() for m in data["medications"]}
    for medication in additions.medications:
        also = " (the file lists it too: both are checked)" if medication["drug"].strip().casefold() in listed else ""
        notes.append(f"{origin}: medication '{medication['drug']}' added to the file's list{also}")
    data["medications"] = [*data["medications"], *(dict(m) for m in additions.medications)]
    return patient_from_dict(data, origin=f"{source} with the {origin} values"), notes
