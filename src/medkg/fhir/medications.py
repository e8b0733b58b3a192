"""Medication resources -> the medications a patient currently takes (one per ingredient).

Current: MedicationRequest ``active`` (and, for CDS Hooks draft orders, any status but
``cancelled``/``entered-in-error``); MedicationStatement ``active``; MedicationDispense
``completed``/``in-progress`` unless it dispenses a request already read; MedicationAdministration
``in-progress``. Everything else is ignored and counted in a note.

The medication is the resource's ``medicationCodeableConcept`` or the resource its
``medicationReference`` points to (contained ``#id``, ``fullUrl``, ``urn:uuid``, ``Type/id``). Its
ingredients come from, in order: the RxNorm code table (``kg/clinical-drugs``), the RxNorm name
grammar of the coding display, the concept text (with a strength), the knowledge base's own
ingredient RXCUIs (``kg/drugs``). What cannot be resolved is kept with its text as the name (medkg
reports it not assessed), never dropped.

A current resource that began after the as-of date (``authoredOn``, ``effectivePeriod.start``...,
:data:`medkg.fhir.dates.START_DATE_ELEMENTS`) did not exist on that date: it is not used, with a note.

Dose: structured ``doseQuantity`` only (R4 ``doseAndRate``, STU3 ``dosageInstruction``): in a mass
unit it is converted to mg; as a count of tablets/capsules (no unit) it is multiplied by the
ingredient strength; in mL by an MG/ML concentration. A dose that cannot be converted to mg or
that :class:`medkg.patient.Medication` refuses (not above 0, above its limit, not finite) is not
used and a note says why. Frequency from ``timing.repeat`` (``frequency`` per ``period``
``periodUnit``); an impossible one (above 48 per day) refuses the input, naming the resource.
Free text is not parsed (a note says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from ..patient import Medication
from .codes import clinical_drugs, ingredient_codes
from .codings import RXNORM, codes, codings, display
from .dates import start_date
from .index import ResourceIndex
from .rxnorm import Component, parse_rxnorm_name
from .salts import base_ingredient
from .units import UnitError, convert
from .validation import TypedResource

__all__ = ["ReadMedication", "read_medications"]

MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration")
_CURRENT: dict[str, frozenset[str]] = {
    "MedicationRequest": frozenset({"active"}),
    "MedicationStatement": frozenset({"active"}),
    "MedicationDispense": frozenset({"completed", "in-progress"}),
    "MedicationAdministration": frozenset({"in-progress"}),
}
_DRAFT_EXCLUDED = frozenset({"cancelled", "entered-in-error", "stopped", "completed", "revoked"})
#: Dose units that count dose units (tablets, capsules...) rather than amounts.
_COUNT_UNITS = frozenset(
    {"", "1", "{tbl}", "tbl", "tablet", "tablets", "{tablet}", "tab", "{capsule}", "capsule", "capsules", "cap"}
    | {"{pill}", "pill", "pills", "{patch}", "patch"}
)
_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}


@dataclass(frozen=True)
class ReadMedication:
    """One ingredient of one current medication resource, as read.

    Attributes:
        drug: ingredient name medkg looks up ("metoprolol"), or the display text when unresolved.
        dose_mg: mg per administration, or None (unknown or not structured).
        times_per_day: administrations per day, or None.
        strength_mg: ingredient strength in mg per dose unit, or None.
        rxcui: RxNorm code of the product, if any.
        text: the product as written (display or text).
        source: ``ResourceType/id`` it came from.
        resolved_by: ``code-table``, ``rxnorm-name``, ``ingredient-code`` or ``unresolved``.
        draft: a CDS Hooks draft order (the order being written).
    """

    drug: str
    dose_mg: float | None
    times_per_day: float | None
    strength_mg: float | None
    rxcui: str | None
    text: str
    source: str
    resolved_by: str
    draft: bool = False

    def to_medication(self) -> Medication:
        """Return the :class:`medkg.patient.Medication` to check."""
        return Medication(drug=self.drug[:200], dose_mg=self.dose_mg, times_per_day=self.times_per_day)


def _concept(typed: TypedResource, index: ResourceIndex, notes: list[str]) -> dict[str, Any]:
    data = typed.data
    if isinstance(data.get("medicationCodeableConcept"), dict):
        concept: dict[str, Any] = data["medicationCodeableConcept"]
        return concept
    reference = data.get("medicationReference")
    target = index.resolve(reference, typed)
    if target is not None and isinstance(target.get("code"), dict):
        found: dict[str, Any] = target["code"]
        return found
    written = reference.get("display") if isinstance(reference, dict) else None
    where = reference.get("reference") if isinstance(reference, dict) else None
    notes.append(f"{typed.label}: medication reference {where!r} not found in the input; read by its display")
    return {"text": written} if isinstance(written, str) else {}


def _components(concept: dict[str, Any]) -> tuple[list[Component], str, str | None, str]:
    """(components, resolved_by, rxcui, text) for a medication concept."""
    rxcuis = codes(concept, RXNORM)
    table = clinical_drugs()
    for rxcui in rxcuis:
        row = table.get(rxcui)
        if row is not None:
            parts = [
                Component(name, strength, "MG" if strength is not None else None)
                for name, strength in zip(row.ingredients, row.strengths_mg, strict=True)
            ]
            return parts, "code-table", rxcui, row.name
    rx_displays = [str(c["display"]) for c in codings(concept) if c.get("system") == RXNORM and c.get("display")]
    # an RxNorm display may be a bare ingredient ("penicillin G"); other text only with a strength
    candidates = [(text, True) for text in rx_displays] + [(display(concept), False)]
    for text, from_rxnorm in candidates:
        parsed = parse_rxnorm_name(text) if text else None
        if parsed is not None and (from_rxnorm or any(c.strength is not None for c in parsed.components)):
            return list(parsed.components), "rxnorm-name", (rxcuis[0] if rxcuis else None), text
    text = display(concept) or next((str(c["display"]) for c in codings(concept) if c.get("display")), "")
    ingredients = ingredient_codes()
    for rxcui in rxcuis:
        if rxcui in ingredients:  # an ingredient (IN) code of a drug the knowledge base lists
            return [Component(ingredients[rxcui].casefold())], "ingredient-code", rxcui, text
    return [], "unresolved", (rxcuis[0] if rxcuis else None), text


def _coded_elsewhere(
    concept: dict[str, Any], components: list[Component], text: str, label: str, notes: list[str]
) -> list[Component]:
    """Return the ingredients the concept's RxNorm ingredient codes name but its text does not, with a note.

    A code for metformin (6809) displayed as "Warfarin" is read by its display; the code is not
    dropped unsaid: both drugs are checked, and the note says they disagree.
    """
    read = " ".join(component.ingredient.casefold() for component in components)
    ingredients = ingredient_codes()
    missing = [
        (code, ingredients[code])
        for code in codes(concept, RXNORM)
        if code in ingredients and ingredients[code].casefold() not in read
    ]
    if missing:
        named = ", ".join(f"{code} ({name})" for code, name in missing)
        notes.append(f"{label}: RxNorm code {named} disagrees with the medication's text {text!r}; both are checked")
    return [Component(name.casefold()) for _, name in missing]


def _dosages(data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("dosageInstruction", data.get("dosage"))
    if isinstance(raw, dict):
        raw = [raw]
    return [item for item in raw or [] if isinstance(item, dict)]


def _rates(dosage: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the dosage's ``doseAndRate`` entries (one object or a list) that are objects."""
    rates = dosage.get("doseAndRate")
    return [rate for rate in ([rates] if isinstance(rates, dict) else rates or []) if isinstance(rate, dict)]


def _dose_range(dosage: dict[str, Any]) -> bool:
    """Whether the dosage gives its dose as a range (``doseAndRate.doseRange``), which medkg does not read."""
    return any("doseRange" in rate for rate in _rates(dosage))


def _dose_quantity(dosage: dict[str, Any]) -> dict[str, Any] | None:
    for rate in _rates(dosage):
        if isinstance(rate.get("doseQuantity"), dict):
            found: dict[str, Any] = rate["doseQuantity"]
            return found
    single = dosage.get("doseQuantity") or dosage.get("dose")  # STU3 Dosage.dose[x]; MedicationAdministration
    return single if isinstance(single, dict) else None


def _times_per_day(dosage: dict[str, Any]) -> float | None:
    repeat = (dosage.get("timing") or {}).get("repeat") if isinstance(dosage.get("timing"), dict) else None
    if not isinstance(repeat, dict):
        return None
    frequency, period, unit = repeat.get("frequency", 1), repeat.get("period"), repeat.get("periodUnit")
    if not isinstance(period, int | float) or not isinstance(frequency, int | float) or unit not in _DAYS:
        return None
    days = float(period) * _DAYS[str(unit)]
    return round(float(frequency) / days, 6) if days > 0 and frequency > 0 else None


def _refused(field: str, value: float) -> str | None:
    """Return why :class:`medkg.patient.Medication` refuses ``value`` for ``field`` (``dose_mg``...), or None."""
    try:
        Medication.model_validate({"drug": "-", field: value})
    except ValidationError as error:
        return str(error.errors()[0]["msg"])
    return None


def _dose_mg(quantity: dict[str, Any], component: Component) -> tuple[float | None, str]:
    """(dose in mg, "") or (None, why the recorded dose cannot be used)."""
    value = quantity.get("value")
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip()
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, "it has no numeric value"
    if unit.casefold() in _COUNT_UNITS:
        if component.strength_mg is None:
            return None, "a count of dose units needs the product's strength in mg, which is not known"
        dose = value * component.strength_mg
    elif unit.casefold() == "ml":
        if component.mg_per_ml is None:
            return None, "a volume needs the product's concentration in mg/mL, which is not known"
        dose = value * component.mg_per_ml
    else:
        try:
            dose = convert(float(value), unit, "mg")
        except (UnitError, OverflowError) as error:
            return None, f"not convertible to mg ({error})"
    why = _refused("dose_mg", dose)
    if why is not None:
        return None, f"{dose:g} mg is not a usable dose: {why.lower()}"
    return round(dose, 6), ""


def _medications_of(
    typed: TypedResource,
    index: ResourceIndex,
    known: Callable[[str], bool] | None,
    notes: list[str],
    *,
    draft: bool,
) -> list[ReadMedication]:
    concept = _concept(typed, index, notes)
    components, resolved_by, rxcui, text = _components(concept)
    if resolved_by == "rxnorm-name":
        components += _coded_elsewhere(concept, components, text, typed.label, notes)
    dosages = _dosages(typed.data)
    structured = next((d for d in dosages if _dose_quantity(d) or _times_per_day(d)), None)
    if structured is None and any(d.get("text") for d in dosages):
        notes.append(f"{typed.label}: dosage given as free text only, not parsed ({text or 'medication'})")
    times = _times_per_day(structured) if structured else None  # an impossible one refuses the input
    quantity = _dose_quantity(structured) if structured else None
    if quantity is None and any(_dose_range(d) for d in dosages):
        notes.append(f"{typed.label}: dose given as a range (doseRange) only, not used; daily dose unknown")
    if not components:
        coded = f" (RxNorm {rxcui})" if rxcui else ""
        name = text or f"unidentified medication in {typed.label}{coded}"
        if known is None or not known(name):  # a name the knowledge base knows needs no note (it is checked)
            notes.append(f"{typed.label}: medication {name!r} not resolved to an ingredient; kept as written")
        components = [Component(name)]  # a dose in a mass unit is the named product's dose
    found = []
    for component in components:
        dose, why = _dose_mg(quantity, component) if quantity is not None else (None, "")
        if why and quantity is not None:
            value = quantity.get("value")
            amount = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
            written = f"{amount} {quantity.get('unit') or quantity.get('code') or ''}".strip()
            notes.append(
                f"{typed.label}: recorded dose {written} of {text or component.ingredient} not used: {why}; "
                "daily dose unknown"
            )
        found.append(
            ReadMedication(
                component.ingredient if resolved_by == "unresolved" else base_ingredient(component.ingredient, known),
                dose,
                times,
                component.strength_mg,
                rxcui,
                text,
                typed.label,
                resolved_by,
                draft,
            )
        )
    return found


def _began_after(typed: TypedResource, index: ResourceIndex, as_of: date, last: date) -> str | None:
    """Return a note when the resource began after ``last`` (as-of date plus any grace), else None."""
    began = start_date(typed.data)
    if began is None or began[0] <= last:
        return None
    name = _components(_concept(typed, index, []))[3]
    what = f" ({name})" if name else ""
    return (
        f"{typed.label}{what} not used: written after the as-of date {as_of.isoformat()} "
        f"({began[1]} {began[0].isoformat()})"
    )


def _is_current(typed: TypedResource, ignored: Counter[str]) -> bool:
    """Whether a medication resource is current; if not, count it in ``ignored`` by type and status."""
    kind = str(typed.data["resourceType"])
    status = str(typed.data.get("status", "")).casefold()
    if status in _CURRENT[kind] and not (kind == "MedicationStatement" and typed.data.get("taken") == "n"):
        return True
    ignored[f"{kind} {status or 'without status'}"] += 1
    return False


def read_medications(
    index: ResourceIndex,
    *,
    drafts: list[TypedResource] | None = None,
    known: Callable[[str], bool] | None = None,
    as_of: date | None = None,
    grace_days: int = 0,
) -> tuple[list[ReadMedication], list[str]]:
    """Read the current medications (drafts first) and the notes about what was read and ignored.

    Args:
        index: the input's resources.
        drafts: CDS Hooks draft orders (checked as if taken; not looked for in ``index``).
        known: predicate "the knowledge base knows this drug name" (keeps e.g. a salt synonym whole).
        as_of: the date checked; a current (not draft) resource that began later is not used (noted).
            None: no date check.
        grace_days: days after ``as_of`` still accepted (a CDS Hooks request: the client's time zone
            may be ahead of the server's).
    """
    notes: list[str] = []
    found: list[ReadMedication] = []
    for typed in drafts or []:
        status = str(typed.data.get("status", "")).casefold()
        if status in _DRAFT_EXCLUDED:
            notes.append(f"{typed.label}: draft order with status {status} ignored")
            continue
        found += _medications_of(typed, index, known, notes, draft=True)
    ignored: Counter[str] = Counter()
    draft_labels = {d.label for d in drafts or []}
    current = [
        typed
        for typed in index.of_type(*MEDICATION_TYPES)
        if typed.label not in draft_labels and _is_current(typed, ignored)
    ]
    requests = {
        key for typed in current if typed.data["resourceType"] == "MedicationRequest" for key in index.keys_of(typed)
    }
    for typed in current:
        if typed.data["resourceType"] == "MedicationDispense":
            prescriptions = {str(ref.get("reference")) for ref in typed.data.get("authorizingPrescription") or []}
            if prescriptions & requests:
                ignored["MedicationDispense of an active MedicationRequest already read"] += 1
                continue
        if as_of is not None and (late := _began_after(typed, index, as_of, as_of + timedelta(days=grace_days))):
            notes.append(late)
            continue
        found += _medications_of(typed, index, known, notes, draft=False)
    if ignored:
        parts = ", ".join(f"{count} {what}" for what, count in sorted(ignored.items()))
        notes.append(f"not current, ignored: {parts}")
    return found, notes
