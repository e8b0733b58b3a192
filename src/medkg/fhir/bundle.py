"""``read_bundle``: a FHIR R4 Bundle (one patient's record) -> a medkg patient and notes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..loaders import InputError
from ..patient import Patient
from .demographics import read_demographics
from .index import ResourceIndex, bundle_resources
from .medications import ReadMedication
from .reading import assemble, latest_clinical_date

__all__ = ["FhirReading", "read_bundle"]


@dataclass
class FhirReading:
    """What a Bundle yields.

    Attributes:
        patient: the patient to check (medications current on the as-of date).
        notes: what was read, assumed, ignored or found contradictory, for the report.
        as_of: the date ages and lab windows are counted at.
        as_of_basis: ``"given"``, ``"latest clinical date in the bundle (<where>)"`` or
            ``"today (no clinical date in the bundle)"``.
        medications: the medications as read (ingredient, strength, RxNorm code, source resource).
    """

    patient: Patient
    notes: list[str]
    as_of: date
    as_of_basis: str
    medications: list[ReadMedication] = field(default_factory=list)


def read_bundle(
    data: Mapping[str, Any],
    *,
    as_of: date | None = None,
    window_months: int = 12,
    known: Callable[[str], bool] | None = None,
) -> FhirReading:
    """Read a FHIR R4 Bundle (transaction, collection, searchset, ...) holding one patient's record.

    Args:
        data: the decoded Bundle JSON.
        as_of: the date to check at; default the latest clinical date in the bundle (a note
            says which; capped at the date of death), else today.
        window_months: laboratory values older than this many months before ``as_of`` are stale.
        known: optional predicate "the knowledge base knows this drug name" (e.g.
            ``kb.drug_names.__contains__``); a salt form it knows is kept whole.

    Raises:
        medkg.loaders.InputError: not a Bundle, a Bundle with no entries, or values that make
            an invalid patient.
    """
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, Mapping) else type(data).__name__
        raise InputError(f"expected a FHIR Bundle, found {found!r}")
    index = ResourceIndex()
    index.add_all(bundle_resources(dict(data)))
    if not index.resources:
        raise InputError("the FHIR Bundle has no entries: nothing to check")
    notes = []
    if as_of is not None:
        basis = "given"
    else:
        latest = latest_clinical_date(index)
        if latest is None:
            as_of, basis = date.today(), "today (no clinical date in the bundle)"
        else:
            as_of, basis = latest[0], f"latest clinical date in the bundle ({latest[1]})"
    demographics = read_demographics(index)
    if basis != "given" and demographics.deceased_on is not None and demographics.deceased_on < as_of:
        as_of, basis = demographics.deceased_on, f"date of death (the bundle has later data, {basis})"
    notes.append(f"as of {as_of.isoformat()}: {basis}")
    assembled = assemble(index, as_of=as_of, known=known, window_months=window_months)
    return FhirReading(assembled.patient, notes + assembled.notes, as_of, basis, assembled.medications)
