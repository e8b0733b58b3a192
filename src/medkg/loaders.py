"""Where patient data enters medkg: patient JSON, Turtle and CLI flags.

Each is validated into a :class:`~medkg.patient.Patient`. Every failure becomes a :class:`PatientInputError` with one
line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, RDF

from .patient import Patient
from .vocabulary import MEDKG, medkg_term

__all__ = ["PatientInputError", "load_patient", "parse_medication_arg", "patient_from_dict", "patient_from_turtle"]


class PatientInputError(ValueError):
    """Patient input that cannot be read or is invalid; the message is one line for the user."""


def _describe(error: ValidationError, origin: str) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    more = f" (+{error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return f"{origin}: invalid patient: " + "; ".join(parts) + more


def _reject_constant(value: str) -> float:
    raise PatientInputError(f"{value} is not allowed in patient JSON (numbers must be finite)")


def patient_from_dict(data: Any, *, origin: str = "patient") -> Patient:
    """Validate a decoded JSON object as a patient.

    Raises:
        PatientInputError: naming the first invalid fields.
    """
    if not isinstance(data, Mapping):
        raise PatientInputError(f"{origin}: a patient must be a JSON object, not {type(data).__name__}")
    try:
        return Patient.model_validate(dict(data))
    except ValidationError as error:
        raise PatientInputError(_describe(error, origin)) from None


def patient_from_turtle(text: str, *, origin: str = "patient.ttl") -> Patient:
    """Read a patient individual written in the ontology's terms (see ``docs/patient-input.md``).

    The file holds one ``medkg:Patient`` with data properties (``medkg:ageYears`` ...) and
    ``medkg:takesMedication`` uses carrying ``medkg:inputName``, ``medkg:doseMg`` and
    ``medkg:timesPerDay``; conditions by ``medkg:hasCondition [ rdfs:label "copd" ]``.

    Raises:
        PatientInputError: for a syntax error, no or several patients, or invalid values.
    """
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle")
    except Exception as error:  # rdflib raises several unrelated types for bad syntax
        raise PatientInputError(f"{origin}: not valid Turtle: {str(error).splitlines()[0]}") from None
    patients = sorted(graph.subjects(RDF.type, medkg_term("Patient")), key=str)
    if len(patients) != 1:
        raise PatientInputError(f"{origin}: expected exactly one medkg:Patient, found {len(patients)}")
    node = patients[0]

    def one(subject: Any, term: str) -> Any:
        value = graph.value(subject, medkg_term(term))
        return None if value is None else value.toPython()

    from rdflib.namespace import RDFS

    data: dict[str, Any] = {
        "id": str(graph.value(node, DCTERMS.identifier) or (node if isinstance(node, URIRef) else "patient")),
        "age_years": one(node, "ageYears"),
        "sex": one(node, "sex"),
        "weight_kg": one(node, "weightKg"),
        "serum_creatinine_mg_dl": one(node, "serumCreatinineMgDl"),
        "crcl_ml_min": one(node, "creatinineClearanceMlMin"),
        "egfr_ml_min_1_73m2": one(node, "egfrMlMin173"),
        "child_pugh": one(node, "childPughClass"),
        "pregnant": one(node, "pregnant"),
        "breastfeeding": one(node, "breastfeeding"),
        "dialysis": one(node, "onDialysis"),
        "conditions": sorted(str(graph.value(c, RDFS.label) or c) for c in graph.objects(node, MEDKG.hasCondition)),
        "medications": [],
    }
    uses = sorted(graph.objects(node, medkg_term("takesMedication")), key=lambda u: (one(u, "inputOrder") or 0, str(u)))
    for use in uses:
        indication = graph.value(use, MEDKG.indication)
        data["medications"].append(
            {
                "drug": one(use, "inputName"),
                "dose_mg": one(use, "doseMg"),
                "times_per_day": one(use, "timesPerDay"),
                "indication": None if indication is None else str(graph.value(indication, RDFS.label) or indication),
            }
        )
    cleaned = {
        key: (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, bool) else v) for key, v in data.items()
    }
    return patient_from_dict({k: v for k, v in cleaned.items() if v is not None}, origin=origin)


def load_patient(source: str | Path | Mapping[str, Any]) -> Patient:
    """Load a patient from a JSON or Turtle file (by extension: ``.json``, ``.ttl``) or a dict.

    Raises:
        PatientInputError: file missing or unreadable, malformed JSON/Turtle, invalid values.
    """
    if isinstance(source, Mapping):
        return patient_from_dict(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PatientInputError(f"{path}: cannot read: {error.__class__.__name__}: {error}") from None
    if path.suffix.lower() in {".ttl", ".turtle"}:
        return patient_from_turtle(text, origin=str(path))
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise PatientInputError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except PatientInputError as error:
        raise PatientInputError(f"{path}: {error}") from None
    return patient_from_dict(data, origin=str(path))


def parse_medication_arg(text: str) -> dict[str, Any]:
    """Parse a CLI medication ``NAME[:DOSE_MG[xTIMES_PER_DAY]]`` (e.g. ``baclofen:10x3``).

    Raises:
        PatientInputError: for an unparseable dose (never silently ignored).
    """
    name, _, dose = text.partition(":")
    medication: dict[str, Any] = {"drug": name}
    if dose:
        amount, _, times = dose.lower().removesuffix("mg").partition("x")
        try:
            medication["dose_mg"] = float(amount.removesuffix("mg"))
            if times:
                medication["times_per_day"] = _fraction(times)
        except (ValueError, ZeroDivisionError):
            raise PatientInputError(
                f"medication {text!r}: dose must look like NAME:DOSE_MG or NAME:DOSE_MGxTIMES (e.g. NAME:10x3)"
            ) from None
        if not all(math.isfinite(v) for k, v in medication.items() if k != "drug"):
            raise PatientInputError(f"medication {text!r}: dose must be a finite number")
    return medication


def _fraction(text: str) -> float:
    numerator, _, denominator = text.partition("/")
    return float(numerator) / float(denominator) if denominator else float(numerator)
