"""CodeableConcept helpers: codes by system, display text, SNOMED CT semantic tags."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ACTIVE_STATUSES",
    "ICD10",
    "LOINC",
    "NOT_TRUE_STATUSES",
    "RXNORM",
    "SNOMED",
    "codes",
    "display",
    "status_code",
]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
#: ICD-10 and ICD-10-CM system URIs.
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")

_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|situation|morphologic abnormality|procedure|substance|product|"
    r"medicinal product|observable entity|qualifier value|event)\)$",
    re.IGNORECASE,
)


def codings(concept: Any) -> list[dict[str, Any]]:
    """Return the ``coding`` items of a CodeableConcept (empty when absent or malformed)."""
    items = concept.get("coding") if isinstance(concept, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def codes(concept: Any, *systems: str) -> list[str]:
    """Codes of ``concept`` in any of ``systems`` (all systems when none given), in order."""
    return [
        str(item["code"])
        for item in codings(concept)
        if item.get("code") and (not systems or item.get("system") in systems)
    ]


def display(concept: Any) -> str:
    """Return the concept's text, else its first coding display, without a SNOMED CT semantic tag; may be empty."""
    text = concept.get("text") if isinstance(concept, dict) else None
    if not isinstance(text, str) or not text.strip():
        text = next((str(item["display"]) for item in codings(concept) if item.get("display")), "")
    return _SEMANTIC_TAG.sub("", " ".join(text.split()))


#: Condition clinical statuses meaning the condition is going on.
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
#: Condition verification statuses meaning the record is not to be believed.
NOT_TRUE_STATUSES = frozenset({"refuted", "entered-in-error"})


def status_code(value: Any) -> str | None:
    """Return a status given as a code (STU3 ``"active"``) or a CodeableConcept (R4), lower case; None if absent."""
    if isinstance(value, str):
        return value.casefold()
    found = codes(value)
    return found[0].casefold() if found else None
