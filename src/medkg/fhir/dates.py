"""FHIR date and date-time values: parsing, the as-of date and ages in whole years."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

__all__ = [
    "ABATEMENT_ELEMENTS",
    "CLINICAL_DATE_ELEMENTS",
    "START_DATE_ELEMENTS",
    "age_years",
    "first_date",
    "months_before",
    "parse_date",
    "resource_dates",
    "start_date",
]


def parse_date(value: Any) -> date | None:
    """Return the calendar date of a FHIR ``date``/``dateTime``/``instant`` string, or None.

    Partial dates read as their first day ("1950" -> 1950-01-01, "1950-10" -> 1950-10-01); the
    date is the one written (local to the time zone given), never shifted to UTC.
    """
    if not isinstance(value, str) or len(value) < 4 or not value[:4].isdigit():
        return None
    text = value[:10]
    try:
        if len(text) == 4:
            return date(int(text), 1, 1)
        if len(text) == 7:
            return date(int(text[:4]), int(text[5:7]), 1)
        return date.fromisoformat(text)
    except ValueError:
        return None


def age_years(birth: date, on: date) -> int:
    """Age in completed years on ``on`` for a person born on ``birth`` (may be negative)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def months_before(day: date, months: int) -> date:
    """Return the date ``months`` calendar months before ``day`` (day clipped to the month's length)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    return date(year, month + 1, 28)  # pragma: no cover - unreachable


#: Elements that date what happened to the patient, per resource type (not billing or metadata).
CLINICAL_DATE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Encounter": ("period.start", "period.end"),
    "Observation": ("effectiveDateTime", "effectiveInstant", "effectivePeriod.start", "issued"),
    "Condition": ("onsetDateTime", "recordedDate", "assertedDate", "abatementDateTime"),
    "MedicationRequest": ("authoredOn",),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod.start", "dateAsserted"),
    "MedicationDispense": ("whenHandedOver", "whenPrepared"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "Procedure": ("performedDateTime", "performedPeriod.start", "performedPeriod.end"),
    "Immunization": ("occurrenceDateTime", "date"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod.start", "issued"),
    "AllergyIntolerance": ("recordedDate", "assertedDate", "onsetDateTime"),
}


def _element(resource: dict[str, Any], path: str) -> Any:
    node: Any = resource
    for step in path.split("."):
        node = node.get(step) if isinstance(node, dict) else None
    return node


def resource_dates(resource: dict[str, Any]) -> list[tuple[date, str]]:
    """Return the clinical dates of one resource, each with ``"Type/id element"`` saying where it came from."""
    kind = str(resource.get("resourceType", ""))
    found = []
    for path in CLINICAL_DATE_ELEMENTS.get(kind, ()):
        day = parse_date(_element(resource, path))
        if day is not None:
            found.append((day, f"{kind}/{resource.get('id', '(no id)')} {path}"))
    return found


#: Elements that say when a record began (the order was written, the medication started, the condition
#: began or was recorded), first that is present wins. A record that begins after the as-of date did
#: not exist on it.
START_DATE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "MedicationRequest": ("authoredOn", "dispenseRequest.validityPeriod.start"),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod.start", "dateAsserted"),
    "MedicationDispense": ("whenHandedOver", "whenPrepared"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate", "assertedDate"),
}


#: Elements that say when a Condition ended, first that is present wins.
ABATEMENT_ELEMENTS = ("abatementDateTime", "abatementPeriod.end", "abatementPeriod.start")


def first_date(resource: dict[str, Any], paths: tuple[str, ...]) -> tuple[date, str] | None:
    """Return the first of ``paths`` (dotted element paths) that holds a parsable date, with its path; else None."""
    for path in paths:
        day = parse_date(_element(resource, path))
        if day is not None:
            return day, path
    return None


def start_date(resource: dict[str, Any]) -> tuple[date, str] | None:
    """Return when a medication or condition record began and the element that says so, or None.

    The elements are :data:`START_DATE_ELEMENTS` for the resource's type (e.g. a Condition's
    ``onsetDateTime``, else its ``recordedDate``); other types have none.
    """
    return first_date(resource, START_DATE_ELEMENTS.get(str(resource.get("resourceType", "")), ()))


def as_date(value: date | datetime) -> date:
    """Return the date part of a date or date-time."""
    return value.date() if isinstance(value, datetime) else value
