"""Pregnancy status from Conditions and pregnancy-status Observations (codes in ``data/pregnancy.tsv``).

Evidence, each dated and tied to its resource:

- a Condition coded as a pregnancy (SNOMED CT 77386006 |Pregnancy|, 72892002 |Normal pregnancy|...)
  that was going on on the as-of date says *pregnant*: clinical status active (or recurrence,
  relapse) or without a clinical status, or resolved/inactive with an ``abatement`` after the
  as-of date. A pregnancy that ended on or before the as-of date says nothing about the as-of date
  (a note); one that began after it is not used (a note);
- an Observation LOINC 82810-3 |Pregnancy status| whose ``valueCodeableConcept`` is an answer of
  the table (SNOMED CT 77386006 Pregnant / 60001007 Not pregnant, LOINC LA15173-0 / LA26683-5 /
  LA4489-6 Unknown...): the latest one on or before the as-of date that still holds (its
  ``holds_days``, else the laboratory window) is used; later, older and "unknown" ones are noted.

When the evidence agrees, ``pregnant`` is that value. When some says pregnant and some not
pregnant, the contradiction is a note and **pregnant is taken as true**: no rule of the knowledge
base needs "not pregnant", so true hides no finding and shows every pregnancy warning. Every
pregnancy-coded Condition is consumed here (not matched again as a condition).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from .codings import ACTIVE_STATUSES, NOT_TRUE_STATUSES, codings, display, status_code
from .dates import ABATEMENT_ELEMENTS, CLINICAL_DATE_ELEMENTS, first_date, months_before, start_date
from .index import ResourceIndex

__all__ = ["PregnancyCodes", "PregnancyReading", "is_pregnancy_condition", "pregnancy_codes", "read_pregnancy"]

_TABLE = Path(__file__).parent / "data" / "pregnancy.tsv"
_VALUES = {"true": True, "false": False, "unknown": None}
_NOT_VALID = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True)
class Answer:
    """One pregnancy-status answer: its meaning and how long it holds (days; None = the lab window)."""

    display: str
    pregnant: bool | None
    holds_days: int | None


@dataclass(frozen=True)
class PregnancyCodes:
    """The table: condition codes, observation codes and answers, each keyed by ``(system, code)``."""

    conditions: dict[tuple[str, str], str]
    observations: dict[tuple[str, str], str]
    answers: dict[tuple[str, str], Answer]


@cache
def pregnancy_codes(path: Path = _TABLE) -> PregnancyCodes:
    """Read ``data/pregnancy.tsv`` (``#`` comment lines).

    Raises:
        ValueError: a row with an unknown role, a ``pregnant`` cell other than true/false/unknown,
            a non-integer ``holds_days``, or a condition row that does not say pregnant.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    conditions: dict[tuple[str, str], str] = {}
    observations: dict[tuple[str, str], str] = {}
    answers: dict[tuple[str, str], Answer] = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        key = (row["system"].strip(), row["code"].strip())
        role, value, holds = row["role"].strip(), (row["pregnant"] or "").strip(), (row["holds_days"] or "").strip()
        if role == "condition":
            if value != "true":
                raise ValueError(f"{path}: condition {key[1]} must say pregnant true, found {value!r}")
            conditions[key] = row["display"].strip()
        elif role == "observation":
            observations[key] = row["display"].strip()
        elif role == "answer":
            if value not in _VALUES:
                raise ValueError(f"{path}: answer {key[1]}: pregnant must be true, false or unknown, found {value!r}")
            if holds and not holds.isdigit():
                raise ValueError(f"{path}: answer {key[1]}: holds_days must be a whole number, found {holds!r}")
            answers[key] = Answer(row["display"].strip(), _VALUES[value], int(holds) if holds else None)
        else:
            raise ValueError(f"{path}: unknown role {role!r} (use condition, observation or answer)")
    return PregnancyCodes(conditions, observations, answers)


def _keys(concept: Any) -> list[tuple[str, str]]:
    return [(str(c.get("system", "")), str(c["code"])) for c in codings(concept) if c.get("code")]


def is_pregnancy_condition(data: dict[str, Any]) -> bool:
    """Whether a Condition resource is coded as a pregnancy in the table."""
    table = pregnancy_codes().conditions
    return any(key in table for key in _keys(data.get("code")))


@dataclass
class PregnancyReading:
    """``pregnant`` (None = unknown), the evidence used and notes on what was and was not used."""

    pregnant: bool | None = None
    notes: list[str] = field(default_factory=list)
    used: list[tuple[bool, str]] = field(default_factory=list)


def _conditions(index: ResourceIndex, as_of: date, window_months: int, reading: PregnancyReading) -> None:
    for typed in index.of_type("Condition"):
        data = typed.data
        if not is_pregnancy_condition(data):
            continue
        name = f"{typed.label} ({display(data.get('code')) or 'pregnancy'})"
        verification = status_code(data.get("verificationStatus"))
        if verification in NOT_TRUE_STATUSES:
            reading.notes.append(f"{name}: {verification}, not used for pregnancy status")
            continue
        began = start_date(data)
        if began is not None and began[0] > as_of:
            reading.notes.append(
                f"{name} not used: written after the as-of date {as_of.isoformat()} ({began[1]} {began[0].isoformat()})"
            )
            continue
        clinical = status_code(data.get("clinicalStatus"))
        ended = first_date(data, ABATEMENT_ELEMENTS)
        since = f" since {began[0].isoformat()}" if began else ""
        if ended is not None and ended[0] > as_of:
            reading.used.append((True, f"{name}: pregnant{since}, ended {ended[0].isoformat()} after the as-of date"))
        elif clinical is None or clinical in ACTIVE_STATUSES:
            if ended is not None:
                reading.notes.append(
                    f"{name} is {clinical or 'without clinical status'} but ended {ended[0].isoformat()}; "
                    "taken as pregnant (the safer reading): check"
                )
            what = clinical or "no clinical status (taken as current)"
            reading.used.append((True, f"{name}: pregnant{since} ({what})"))
            if began is not None and began[0] < months_before(as_of, window_months):
                status = f"still {clinical}" if clinical else "has no clinical status"
                reading.notes.append(
                    f"{name} began {began[0].isoformat()}, more than {window_months} months before "
                    f"{as_of.isoformat()}, and {status}: check it is still current"
                )
        else:
            when = f" on {ended[0].isoformat()}" if ended else ""
            reading.notes.append(
                f"{name}: a past pregnancy ({clinical}{when}), not used for the pregnancy status on {as_of.isoformat()}"
            )


def _observations(index: ResourceIndex, as_of: date, window_months: int, reading: PregnancyReading) -> None:
    table = pregnancy_codes()
    found: list[tuple[date, str, Answer]] = []
    later = 0
    for typed in index.of_type("Observation"):
        data = typed.data
        if not any(key in table.observations for key in _keys(data.get("code"))):
            continue
        status = str(data.get("status", "")).casefold()
        if status in _NOT_VALID:
            reading.notes.append(f"{typed.label}: pregnancy status {status}, not used")
            continue
        answer = next(
            (table.answers[key] for key in _keys(data.get("valueCodeableConcept")) if key in table.answers), None
        )
        if answer is None:
            written = display(data.get("valueCodeableConcept")) or "no coded value"
            reading.notes.append(f"{typed.label}: pregnancy status {written!r} is not a code medkg reads; not used")
            continue
        dated = first_date(data, CLINICAL_DATE_ELEMENTS["Observation"])
        day = dated[0] if dated else None
        if day is None:
            reading.notes.append(f"{typed.label}: pregnancy status {answer.display!r} has no date; not used")
        elif day > as_of:
            later += 1
        else:
            found.append((day, typed.label, answer))
    if later:
        reading.notes.append(f"{later} pregnancy status observation(s) dated after {as_of.isoformat()} not used")
    if not found:
        return
    latest = max(day for day, _, _ in found)  # every answer of the latest day: a same-day clash is reported
    for day, label, answer in sorted(item for item in found if item[0] == latest):
        shown = f"{label}: pregnancy status {answer.display!r} on {day.isoformat()}"
        held = answer.holds_days
        oldest = months_before(as_of, window_months) if held is None else as_of - timedelta(held)
        if day < oldest:
            reading.notes.append(f"{shown} no longer holds on {as_of.isoformat()}; not used (pregnancy status unknown)")
        elif answer.pregnant is None:
            reading.notes.append(f"{shown}: pregnancy status unknown")
        else:
            reading.used.append((answer.pregnant, shown))


def read_pregnancy(index: ResourceIndex, *, as_of: date, window_months: int = 12) -> PregnancyReading:
    """Work out whether the patient is pregnant on ``as_of`` (True, False or None = unknown).

    Args:
        index: the input's resources.
        as_of: the date checked; records dated later are not used (noted).
        window_months: a pregnancy-status observation without its own ``holds_days`` holds this long;
            an active pregnancy Condition that began longer ago is used with a note to check it.
    """
    reading = PregnancyReading()
    _conditions(index, as_of, window_months, reading)
    _observations(index, as_of, window_months, reading)
    values = {value for value, _ in reading.used}
    evidence = "; ".join(text for _, text in reading.used)
    if values == {True, False}:
        reading.pregnant = True
        reading.notes.append(
            f"pregnancy status contradicts itself: {evidence}; taken as pregnant (the safer choice: every "
            "pregnancy warning is shown): check which is current"
        )
    elif values:
        reading.pregnant = values.pop()
        reading.notes.append(f"pregnant: {'yes' if reading.pregnant else 'no'} ({evidence})")
    return reading
