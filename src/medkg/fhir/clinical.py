"""Conditions and allergies -> the names medkg matches against its knowledge base.

A Condition is read unless its verification status is refuted or entered-in-error. It becomes
``"<display> [SNOMED CT <code>; ICD-10 <code>]"``: the display without its SNOMED CT semantic
tag, with the codes in brackets; one whose clinical status (R4 CodeableConcept or STU3 code) is
not active, recurrence or relapse gets `` (resolved)``, `` (inactive)``, `` (in remission)`` or
`` (status unknown)`` after it, and counts only for conditions whose past episodes matter
(``medkg:countsWhenPast``, e.g. angioedema; :func:`medkg.names.split_past`). With an as-of date, a
Condition that began after it (``onsetDateTime``, else ``recordedDate``...) is not used (a note
names it), and one that ended after it (``abatementDateTime``) was going on then: it is read as
active. Pregnancy-coded Conditions are read by :mod:`medkg.fhir.pregnancy`, not here.
:func:`medkg.names.resolve_condition` matches a name by whole name, then code, then display.
An AllergyIntolerance (active, not refuted or
entered-in-error) becomes its display or text; "no known allergy" statements are not allergies.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from ..names import as_past
from .codings import ACTIVE_STATUSES, ICD10, NOT_TRUE_STATUSES, SNOMED, codes, display, status_code
from .dates import ABATEMENT_ELEMENTS, first_date, start_date
from .index import ResourceIndex
from .pregnancy import is_pregnancy_condition

__all__ = ["read_allergies", "read_conditions"]

#: Clinical status of a non-active Condition -> its past status (medkg.names.as_past).
_PAST_STATUS = {"resolved": "resolved", "inactive": "inactive", "remission": "in remission"}
#: SNOMED CT "no known allergy" situations: a statement of absence, not an allergy.
_NO_KNOWN_ALLERGY = frozenset({"716186003", "409137002", "428607008", "429625007"})


def read_conditions(index: ResourceIndex, *, as_of: date | None = None) -> tuple[list[str], list[str]]:
    """(condition names in input order without repeats, notes).

    Args:
        index: the input's resources.
        as_of: the date checked: Conditions that began later are not used, those that ended later
            are read as active (each noted). None: no date check.
    """
    names: list[str] = []
    notes: list[str] = []
    skipped: Counter[str] = Counter()
    past: Counter[str] = Counter()
    ended_later = 0
    for typed in index.of_type("Condition"):
        data = typed.data
        if is_pregnancy_condition(data):  # read as the pregnancy status (medkg.fhir.pregnancy)
            continue
        clinical = status_code(data.get("clinicalStatus"))
        verification = status_code(data.get("verificationStatus"))
        if verification in NOT_TRUE_STATUSES:
            skipped[verification] += 1
            continue
        concept = data.get("code")
        text = display(concept)
        if as_of is not None:
            began = start_date(data)
            if began is not None and began[0] > as_of:
                notes.append(
                    f"{typed.label} ({text or 'condition'}) not used: written after the as-of date "
                    f"{as_of.isoformat()} ({began[1]} {began[0].isoformat()})"
                )
                continue
            ended = first_date(data, ABATEMENT_ELEMENTS)
            if clinical not in ACTIVE_STATUSES and ended is not None and ended[0] > as_of:
                ended_later += 1
                clinical = "active"
        coded = [f"SNOMED CT {code}" for code in codes(concept, SNOMED)]
        coded += [f"ICD-10 {code}" for code in codes(concept, *ICD10)]
        name = (f"{text} [{'; '.join(coded)}]" if coded else text)[:180]
        if name and clinical not in ACTIVE_STATUSES:  # a past episode: used where one matters (medkg.names.split_past)
            past[clinical or "without clinical status"] += 1
            name = as_past(name, _PAST_STATUS.get(clinical or "", "status unknown"))
        if name and name.casefold() not in {known.casefold() for known in names}:
            names.append(name)
    if ended_later:
        notes.append(f"{ended_later} condition(s) ended after {as_of}: active on the as-of date, read as active")
    if skipped:
        notes.append("conditions refuted or entered in error, ignored: " + _counts(skipped))
    if past:
        notes.append("conditions not active, passed on as past episodes: " + _counts(past))
    return names, notes


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(counter.items()))


def read_allergies(index: ResourceIndex) -> tuple[list[str], list[str]]:
    """(allergy names in input order without repeats, notes)."""
    names: list[str] = []
    notes: list[str] = []
    skipped = 0
    for typed in index.of_type("AllergyIntolerance"):
        data = typed.data
        clinical = status_code(data.get("clinicalStatus"))
        verification = status_code(data.get("verificationStatus"))
        if verification in NOT_TRUE_STATUSES or (clinical is not None and clinical not in {"active"}):
            skipped += 1
            continue
        concept = data.get("code")
        text = display(concept)
        if set(codes(concept, SNOMED)) & _NO_KNOWN_ALLERGY:
            notes.append(f"{typed.label}: {text or 'no known allergy'} recorded (not an allergy)")
            continue
        if text and text not in names:
            names.append(text[:200])
    if skipped:
        notes.append(f"{skipped} allergy record(s) not active, refuted or entered in error, ignored")
    return names, notes
