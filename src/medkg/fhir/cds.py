"""``read_cds_request``: a CDS Hooks request (2.0 or the legacy ``medication-prescribe``) -> a patient.

Draft orders come from ``context.draftOrders`` (a Bundle of MedicationRequest, R4 or STU3) or,
in the legacy hook, ``context.medications`` (a Bundle whose entries may be bare resources).
The patient's record comes from ``prefetch``, at the top level or inside ``context``; legacy
files also put prefetch items (``item2``...) directly under ``context``. Each item is a resource
or a Bundle (a searchset with ``total: 0`` adds nothing). The as-of date is the request time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..loaders import InputError
from ..patient import Patient
from .index import ResourceIndex, bundle_resources
from .medications import ReadMedication
from .reading import assemble
from .validation import FhirVersion, TypedResource

__all__ = ["CdsReading", "NoMedication", "read_cds_request"]

#: Context keys CDS Hooks defines for the hooks medkg reads; other keys holding a resource are
#: legacy prefetch items.
_CONTEXT_KEYS = frozenset(
    {"userId", "patientId", "encounterId", "selections", "draftOrders", "medications", "prefetch"}
)
_CQL_EXPRESSION = "http://hl7.org/fhir/StructureDefinition/cqif-cqlExpression"


class NoMedication(InputError):
    """The request names no draft order and no current medication: there is nothing to check.

    ``reason``: what was missing, for a message or a card.
    """

    def __init__(self, reason: str) -> None:
        """``reason``: e.g. "no draft medication order and no current medication"."""
        super().__init__(f"the CDS Hooks request has {reason}: nothing to check")
        self.reason = reason


@dataclass
class CdsReading:
    """What a CDS Hooks request yields.

    Attributes:
        patient: the patient to check: draft orders first, then current medications.
        notes: what was read, assumed or ignored.
        draft_drugs: ingredient names of the draft orders, in order, without repeats.
        hook: the hook named in the request (``order-sign``, ``medication-prescribe``...), or None.
        as_of: the request date.
        medications: the medications as read (``draft`` marks the orders being written).
        selections: ``context.selections`` as given (``MedicationRequest/id``).
    """

    patient: Patient
    notes: list[str]
    draft_drugs: list[str]
    hook: str | None
    as_of: date
    medications: list[ReadMedication] = field(default_factory=list)
    selections: list[str] = field(default_factory=list)


def _items(value: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """Return the resources in a context or prefetch value.

    A value is a Bundle (its entries), a resource, a list of these, or a CDS Hooks 1.0 prefetch
    item wrapping one of these in ``resource``.
    """
    if isinstance(value, list):
        return [item for part in value for item in _items(part)]
    if not isinstance(value, dict):
        return []
    if "resourceType" not in value and isinstance(value.get("resource"), dict):
        return _items(value["resource"])  # CDS Hooks 1.0 prefetch: {"response": ..., "resource": ...}
    if value.get("resourceType") == "Bundle":
        return list(bundle_resources(value))
    return [(None, value)] if "resourceType" in value else []


def _cql_dates(value: Any) -> int:
    """Count the elements given only as a CQL expression (``_authoredOn`` etc.) under ``value``."""
    if isinstance(value, list):
        return sum(_cql_dates(item) for item in value)
    if not isinstance(value, dict):
        return 0
    here = any(
        key.startswith("_")
        and isinstance(item, dict)
        and any(isinstance(e, dict) and e.get("url") == _CQL_EXPRESSION for e in item.get("extension") or [])
        for key, item in value.items()
    )
    return int(here) + sum(_cql_dates(item) for key, item in value.items() if not key.startswith("_"))


def read_cds_request(
    data: Mapping[str, Any],
    *,
    now: datetime,
    window_months: int = 12,
    known: Callable[[str], bool] | None = None,
) -> CdsReading:
    """Read a CDS Hooks request into a patient whose medications are the draft orders plus current ones.

    Args:
        data: the decoded request JSON (a whole request, or just ``{"context": ...}``).
        now: the request time; its date is the as-of date (ages, lab windows).
        window_months: laboratory values older than this many months before ``now`` are stale.
        known: optional predicate "the knowledge base knows this drug name".

    Raises:
        medkg.loaders.InputError: no ``context`` object, or no draft order and no current
            medication (nothing to check).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("context"), dict):
        raise InputError("a CDS Hooks request needs a 'context' object")
    context: dict[str, Any] = data["context"]
    server = str(data.get("fhirServer") or "").casefold()
    prefer: FhirVersion = "STU3" if "stu3" in server else "R4B"
    hook = data.get("hook") if isinstance(data.get("hook"), str) else None
    notes = [f"as of {now.date().isoformat()}: request time"]
    notes.append(f"hook {hook}" if hook else "no hook named in the request (context only)")
    if prefer == "STU3":
        notes.append("FHIR server is STU3: resources read with the STU3 models first")
    index = ResourceIndex(prefer=prefer)
    drafts: list[TypedResource] = []
    for key in ("draftOrders", "medications"):
        for full_url, resource in _items(context.get(key)):
            typed = index.add(resource, full_url)
            if typed is None:
                continue
            if resource.get("resourceType") == "MedicationRequest":
                drafts.append(typed)
            else:
                notes.append(f"draft {typed.label} is not a medication order; not checked")
    prefetch: list[tuple[str, Any]] = []
    for where, holder in (("prefetch", data.get("prefetch")), ("context.prefetch", context.get("prefetch"))):
        if isinstance(holder, dict):
            prefetch += [(f"{where}.{name}", value) for name, value in holder.items()]
    legacy = [(f"context.{name}", value) for name, value in context.items() if name not in _CONTEXT_KEYS]
    legacy = [(name, value) for name, value in legacy if _items(value)]
    if legacy:
        notes.append(f"prefetch items found directly under context (legacy): {', '.join(n for n, _ in legacy)}")
    for name, value in prefetch + legacy:
        if value is None:
            notes.append(f"{name} is empty (prefetch not fulfilled)")
        index.add_all(_items(value))
    cql = _cql_dates({"context": context, "prefetch": data.get("prefetch")})
    if cql:
        notes.append(f"{cql} element(s) given only as CQL expressions (e.g. Today()); not evaluated")
    patient_id = context.get("patientId") or data.get("patient")
    assembled = assemble(
        index,
        as_of=now.date(),
        drafts=drafts,
        known=known,
        window_months=window_months,
        patient_id=str(patient_id) if patient_id else None,
        grace_days=1,  # the client's local date may be a day ahead of the request time in UTC
    )
    if not assembled.medications:
        raise NoMedication("no draft medication order and no current medication")
    given = context.get("selections")
    if given is not None and not isinstance(given, list):
        notes.append("context.selections is not a list of MedicationRequest/id references; ignored")
    selections = [str(item) for item in given or [] if isinstance(item, str)] if isinstance(given, list) else []
    draft_labels = {d.label for d in drafts}
    for selection in selections:
        if selection not in draft_labels:
            notes.append(f"selection {selection} is not among the draft orders")
    draft_drugs = list(dict.fromkeys(m.drug for m in assembled.medications if m.draft))
    if not draft_drugs:
        notes.append("no draft medication order: current medications checked")
    return CdsReading(
        assembled.patient,
        notes + assembled.notes,
        draft_drugs,
        hook,
        now.date(),
        assembled.medications,
        selections,
    )
