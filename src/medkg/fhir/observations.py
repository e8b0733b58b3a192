"""Observations -> the latest current laboratory and vital values medkg uses.

LOINC codes read (one analyte each): serum creatinine 2160-0, 38483-4 (mg/dL; µmol/L
converted); eGFR 33914-3, 62238-1, 98979-8, 69405-9 (race-based 48642-3, 48643-1 are ignored
with a note); body weight 29463-7 (kg; lb converted); potassium 2823-3, 6298-4 (mmol/L); QTc
8636-3 (ms); INR 6301-6, 34714-6. The latest value on or before the as-of date is used, dated
by ``effectiveDateTime``, ``effectiveInstant``, ``effectivePeriod.start`` or ``issued``; one older
than the window (default 12 months) is reported stale and not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .codings import LOINC, codes
from .dates import CLINICAL_DATE_ELEMENTS, first_date, months_before
from .index import ResourceIndex
from .units import UnitError, convert, creatinine_mg_dl

__all__ = ["ANALYTES", "LabValue", "LabValues", "read_observations"]


@dataclass(frozen=True)
class Analyte:
    """What medkg reads for one analyte: field name, label, LOINC codes and target unit."""

    field: str
    label: str
    loinc: tuple[str, ...]
    unit: str


ANALYTES = (
    Analyte("serum_creatinine_mg_dl", "serum creatinine", ("2160-0", "38483-4"), "mg/dL"),
    Analyte("egfr_ml_min_1_73m2", "eGFR", ("33914-3", "62238-1", "98979-8", "69405-9"), "mL/min/1.73 m2"),
    Analyte("weight_kg", "body weight", ("29463-7",), "kg"),
    Analyte("potassium_mmol_l", "potassium", ("2823-3", "6298-4"), "mmol/L"),
    Analyte("qtc_ms", "QTc", ("8636-3",), "ms"),
    Analyte("inr", "INR", ("6301-6", "34714-6"), ""),
)
#: eGFR codes whose equation uses race; not used (the 2021 CKD-EPI equation dropped race).
RACE_BASED_EGFR = ("48642-3", "48643-1")
_NOT_VALID = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True)
class LabValue:
    """A value used: in the analyte's unit, with its date and the Observation it came from."""

    value: float
    day: date | None
    source: str
    loinc: str


@dataclass
class LabValues:
    """Chosen value per analyte field (see :data:`ANALYTES`), and notes on what was and was not used."""

    values: dict[str, LabValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _in_unit(analyte: Analyte, quantity: dict[str, Any]) -> float:
    """Return the quantity's value in the analyte's unit (raises UnitError when it cannot be converted)."""
    value = float(quantity["value"])
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip()
    if analyte.field == "serum_creatinine_mg_dl":
        return creatinine_mg_dl(value, unit)
    if analyte.field == "weight_kg":
        return convert(value, unit, "kg")
    if analyte.field == "potassium_mmol_l":
        return convert(value, unit, "mmol/L")
    if analyte.field == "qtc_ms":
        return convert(value, unit, "ms")
    if analyte.field == "egfr_ml_min_1_73m2" and not unit.casefold().startswith("ml/min"):
        raise UnitError(f"eGFR unit {unit!r} is not mL/min(/1.73 m2)")
    return value


def _day(data: dict[str, Any]) -> date | None:
    dated = first_date(data, CLINICAL_DATE_ELEMENTS["Observation"])
    return dated[0] if dated else None


def read_observations(index: ResourceIndex, *, as_of: date, window_months: int = 12) -> LabValues:
    """Pick the latest usable value of each analyte on or before ``as_of``.

    Args:
        index: the input's resources.
        as_of: the date the check is for; later values are not used (noted).
        window_months: a latest value older than this many months before ``as_of`` is stale.
    """
    result = LabValues()
    by_code = {code: analyte for analyte in ANALYTES for code in analyte.loinc}
    candidates: dict[str, list[tuple[date | None, float, str, str]]] = {}
    race_based = 0
    for typed in index.of_type("Observation"):
        data = typed.data
        loinc = codes(data.get("code"), LOINC)
        if any(code in RACE_BASED_EGFR for code in loinc):
            race_based += 1
            continue
        analyte = next((by_code[code] for code in loinc if code in by_code), None)
        if analyte is None or str(data.get("status", "")).casefold() in _NOT_VALID:
            continue
        quantity = data.get("valueQuantity")
        if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
            result.notes.append(f"{typed.label}: {analyte.label} has no numeric valueQuantity; not used")
            continue
        code = next(code for code in loinc if code in by_code)
        try:
            value = _in_unit(analyte, quantity)
        except UnitError as error:
            result.notes.append(f"{typed.label}: {analyte.label} not used: {error}")
            continue
        candidates.setdefault(analyte.field, []).append((_day(data), value, typed.label, code))
    if race_based:
        result.notes.append(f"{race_based} race-based eGFR value(s) (LOINC 48642-3/48643-1) not used")
    oldest = months_before(as_of, window_months)
    for analyte in ANALYTES:
        found = candidates.get(analyte.field, [])
        later = [c for c in found if c[0] is not None and c[0] > as_of]
        dated = [c for c in found if c[0] is not None and c[0] <= as_of]
        if later:
            result.notes.append(f"{len(later)} {analyte.label} value(s) dated after {as_of.isoformat()} not used")
        undated = [c for c in found if c[0] is None]
        if undated:  # an undated value is never used: its date cannot be checked against the as-of date
            sources = ", ".join(c[2] for c in undated)
            result.notes.append(f"{analyte.label} in {sources} has no date; not used")
        if dated:
            day, value, source, code = max(dated, key=lambda c: (c[0], c[2]))
            shown = f"{analyte.label} {value:.4g} {analyte.unit}".rstrip()
            if day is not None and day < oldest:
                result.notes.append(
                    f"{shown} ({source}, LOINC {code}, {day.isoformat()}) is stale: older than "
                    f"{window_months} months before {as_of.isoformat()}; not used"
                )
                continue
            result.values[analyte.field] = LabValue(value, day, source, code)
            result.notes.append(f"{shown} from {source} (LOINC {code}, {day.isoformat() if day else 'undated'}) used")
    return result
