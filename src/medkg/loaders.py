"""Where patient data enters medkg: patient JSON, Turtle and CLI flags.

Each is validated into a :class:`~medkg.patient.Patient`. Every failure becomes a :class:`PatientInputError` with one
line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from .patient import Patient
from .vocabulary import MEDKG, medkg_term

__all__ = [
    "InputError",
    "LoadedInput",
    "PatientInputError",
    "input_from_json",
    "load_input",
    "load_patient",
    "parse_medication_arg",
    "patient_from_dict",
    "patient_from_json",
    "patient_from_turtle",
]


#: File suffixes read as patients: JSON, and Turtle under either common suffix.
JSON_SUFFIXES = (".json",)
TURTLE_SUFFIXES = (".ttl", ".turtle")
PATIENT_SUFFIXES = JSON_SUFFIXES + TURTLE_SUFFIXES


#: Largest patient file, standard input or NDJSON line read, in bytes (``MEDKG_MAX_INPUT_MB`` overrides).
DEFAULT_MAX_INPUT_MB = 32
#: Deepest nesting of JSON arrays and objects accepted (a FHIR Bundle needs about 15 levels).
MAX_JSON_DEPTH = 64
#: Longest integer accepted in JSON, in digits.
MAX_INTEGER_DIGITS = 100


def max_input_bytes() -> int:
    """Return the input size limit in bytes: ``MEDKG_MAX_INPUT_MB`` (a positive number) or 32 MB.

    Raises:
        InputError: when ``MEDKG_MAX_INPUT_MB`` is set but is not a positive number.
    """
    text = os.environ.get("MEDKG_MAX_INPUT_MB")
    if not text:
        return DEFAULT_MAX_INPUT_MB * 1024 * 1024
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise InputError(f"MEDKG_MAX_INPUT_MB={text!r}: must be a positive number of megabytes")
    return int(megabytes * 1024 * 1024)


class InputError(ValueError):
    """User input (patient, query, option) that cannot be used; the message is one line for the user."""


class PatientInputError(InputError):
    """Patient input that cannot be read or is invalid; the message is one line for the user."""


def _too_large(origin: str, size: int, limit: int) -> PatientInputError:
    return PatientInputError(
        f"{origin}: input is {size / 1024 / 1024:.1f} MB; the limit is {limit / 1024 / 1024:g} MB "
        "(set MEDKG_MAX_INPUT_MB to raise it)"
    )


def decode_input_bytes(
    data: bytes, *, origin: str = "input", utf8_only: bool = False, advice: str = "save it as UTF-8 JSON or Turtle"
) -> str:
    """Decode input bytes: UTF-8 (a byte-order mark allowed), or UTF-16/UTF-32 with a byte-order mark.

    ``utf8_only`` (a SPARQL query): UTF-8 alone; a UTF-16/UTF-32 byte-order mark is named in the
    error. ``advice``: the end of the error message, what to do.

    Raises:
        PatientInputError: larger than :func:`max_input_bytes`, or not text in these encodings (naming
            the first bad byte and its position).
    """
    limit = max_input_bytes()
    if len(data) > limit:
        raise _too_large(origin, len(data), limit)
    wide = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # a UTF-16 or UTF-32 byte-order mark
    encoding = "utf-8-sig"
    if wide and not utf8_only:
        encoding = "utf-32" if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) else "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex()
        name = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()  # the encoding its byte-order mark chose
        bom = "; it starts with a UTF-16 or UTF-32 byte-order mark" if wide and utf8_only else ""
        raise PatientInputError(
            f"{origin}: not a text file in {name} (byte 0x{bad} at position {error.start} is invalid{bom}): {advice}"
        ) from None


def _allowed_fields(loc: tuple[int | str, ...]) -> str:
    """Return the field names allowed where an unknown field was found (for "Extra inputs are not permitted")."""
    from .patient import Labs, Medication

    models: dict[str, type[BaseModel]] = {"medications": Medication, "labs": Labs}
    model = models.get(str(loc[0]), Patient) if len(loc) > 1 else Patient
    return ", ".join(model.model_fields)


def _describe(error: ValidationError, origin: str) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(_printable(part) for part in item["loc"]) or "(top level)"
        allowed = f" (allowed: {_allowed_fields(item['loc'])})" if item["type"] == "extra_forbidden" else ""
        parts.append(f"{where}: {item['msg']}{allowed}")
    more = f" (+{error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return f"{origin}: invalid patient: " + "; ".join(parts) + more


def _printable(part: object) -> str:
    """Return a location part for a one-line message: a field name with a control character is quoted."""
    text = str(part)
    return text if text.isprintable() else json.dumps(text)


def _reject_constant(value: str) -> float:
    raise PatientInputError(f"{value} is not allowed in patient JSON (numbers must be finite)")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise PatientInputError(
            f"a number with {len(text.lstrip('-'))} digits is not allowed (at most {MAX_INTEGER_DIGITS})"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PatientInputError(f"the number {text[:40]} is too large (numbers must be finite)")
    return value


_TOO_DEEP = "JSON nested more than {limit} levels deep (arrays and objects within each other)"


def _depth_error(data: Any, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Return a message when ``data`` nests arrays/objects deeper than ``limit`` levels, else None."""
    level: list[tuple[Any, int]] = [(data, 1)]
    while level:
        node, depth = level.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return _TOO_DEEP.format(limit=limit)
            children = node.values() if isinstance(node, dict) else node
            level.extend((child, depth + 1) for child in children)
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing repeated keys (the last one would silently win)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise PatientInputError(f"key {key!r} appears twice in one JSON object")
        data[key] = value
    return data


def patient_from_json(text: str, *, origin: str = "patient.json") -> Patient:
    """Parse and validate patient JSON text (a UTF-8 byte-order mark is allowed).

    Raises:
        PatientInputError: malformed JSON, NaN/Infinity, repeated keys, invalid values.
    """
    return patient_from_dict(_decode_json(text, origin), origin=origin)


def _decode_json(text: str, origin: str) -> Any:
    """Decode JSON text, refusing NaN/Infinity and repeated keys (PatientInputError naming ``origin``)."""
    limit = max_input_bytes()
    if len(text) > limit and len(text.encode("utf-8")) > limit:
        raise _too_large(origin, len(text.encode("utf-8")), limit)
    try:
        data = json.loads(
            # trailing white space is not part of the value: without it, a record cut short is reported
            # where it ends, not at the start of the line after it
            text.removeprefix("\ufeff").rstrip(),
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as error:
        raise PatientInputError(
            f"{origin}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except PatientInputError as error:
        raise PatientInputError(f"{origin}: {error}") from None
    except RecursionError:
        raise PatientInputError(f"{origin}: {_TOO_DEEP.format(limit=MAX_JSON_DEPTH)}") from None
    deep = _depth_error(data)
    if deep:
        raise PatientInputError(f"{origin}: {deep}")
    return data


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


#: Turtle patient properties read by :func:`patient_from_turtle`: term -> JSON field.
_PATIENT_TERMS = {
    "ageYears": "age_years",
    "sex": "sex",
    "weightKg": "weight_kg",
    "serumCreatinineMgDl": "serum_creatinine_mg_dl",
    "creatinineClearanceMlMin": "crcl_ml_min",
    "egfrMlMin173": "egfr_ml_min_1_73m2",
    "childPughClass": "child_pugh",
    "pregnant": "pregnant",
    "breastfeeding": "breastfeeding",
    "onDialysis": "dialysis",
}
_USE_TERMS = {"inputName": "drug", "doseMg": "dose_mg", "timesPerDay": "times_per_day"}


#: rdflib's syntax error text: the line and the reason, without its quoted excerpt of the input.
_BAD_SYNTAX = re.compile(r"at line (?P<line>\d+) of <[^>]*>: Bad syntax \((?P<reason>.*?)\) at \^ in:")


class _QuietLiteralWarnings(logging.Filter):
    """Drop rdflib's logged traceback for an ill-typed literal: medkg reports the value itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to convert Literal lexical form")


@contextmanager
def _quiet_rdflib_literals() -> Iterator[None]:
    logger, quiet = logging.getLogger("rdflib.term"), _QuietLiteralWarnings()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _plain(value: Any) -> Any:
    """Return an RDF literal's value as a JSON-like value (numbers as float, never Decimal).

    Raises:
        PatientInputError: for a literal whose text is not valid for its datatype (``"abc"^^xsd:integer``).
    """
    if isinstance(value, Literal) and value.ill_typed:
        datatype = str(value.datatype).replace("http://www.w3.org/2001/XMLSchema#", "xsd:")
        raise PatientInputError(f"value {str(value)!r} is not a valid {datatype}")
    python = value.toPython() if isinstance(value, Literal) else str(value)
    if isinstance(python, bool | str):
        return python
    if isinstance(python, int | float | Decimal):
        return float(python)
    return str(python)


def patient_from_turtle(text: str, *, origin: str = "patient.ttl") -> Patient:
    """Read a patient individual written in the ontology's terms (see ``docs/patient-input.md``).

    The file holds one ``medkg:Patient`` with data properties (``medkg:ageYears`` ...) and
    ``medkg:takesMedication`` uses carrying ``medkg:inputName``, ``medkg:doseMg`` and
    ``medkg:timesPerDay``; conditions by ``medkg:hasCondition [ rdfs:label "copd" ]``.
    Every statement about the patient and its uses must be one medkg reads: an unknown or
    misspelt property, a second value of a property, or an asserted population (populations
    are inferred, never read) is an error rather than silently ignored.

    Raises:
        PatientInputError: for a syntax error, no or several patients, unknown or repeated
            properties, or invalid values.
    """
    graph = Graph()
    try:
        with _quiet_rdflib_literals():
            graph.parse(data=text + "\n", format="turtle")  # the newline: a clear message at end of input
    except Exception as error:  # rdflib raises several unrelated types for bad syntax
        detail = " ".join(str(error).split()) or error.__class__.__name__
        found = _BAD_SYNTAX.search(detail)
        if found and "EOF" in found["reason"]:
            detail = f"the input ends inside a statement ({found['reason']}): is the final '.' missing?"
        elif found:
            detail = f"line {found['line']}: {found['reason']}"
        raise PatientInputError(f"{origin}: not valid Turtle: {detail[:300]}") from None
    patients = sorted(graph.subjects(RDF.type, medkg_term("Patient")), key=str)
    if len(patients) != 1:
        raise PatientInputError(f"{origin}: expected exactly one medkg:Patient, found {len(patients)}")
    node = patients[0]

    def fail(message: str) -> PatientInputError:
        return PatientInputError(f"{origin}: {message}")

    def read(subject: Any, terms: dict[str, str], links: set[URIRef]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        known: dict[URIRef, str] = {medkg_term(term): field for term, field in terms.items()}
        for predicate, value in graph.predicate_objects(subject):
            if predicate in links or predicate in {DCTERMS.identifier, medkg_term("inputOrder"), MEDKG.indication}:
                continue
            if predicate == RDF.type:
                if value != medkg_term("Patient") and value != medkg_term("MedicationUse"):
                    raise fail(f"type {value} is not read (populations are inferred, not asserted)")
                continue
            field = known.get(predicate) if isinstance(predicate, URIRef) else None
            if field is None:
                raise fail(f"property {predicate} is not one medkg reads (see docs/patient-input.md)")
            if field in values:
                raise fail(f"property {predicate} has more than one value")
            try:
                values[field] = _plain(value)
            except PatientInputError as error:
                raise fail(f"property {predicate}: {error}") from None
        return values

    links = {medkg_term("hasCondition"), medkg_term("takesMedication")}
    data = read(node, _PATIENT_TERMS, links)
    identifier = graph.value(node, DCTERMS.identifier)
    data["id"] = str(identifier) if identifier is not None else (str(node) if isinstance(node, URIRef) else "patient")
    data["conditions"] = sorted(str(graph.value(c, RDFS.label) or c) for c in graph.objects(node, MEDKG.hasCondition))

    def order(use: Any) -> tuple[float, str]:
        value = graph.value(use, medkg_term("inputOrder"))
        return (float(value.toPython()) if isinstance(value, Literal) else 0.0, str(use))

    data["medications"] = []
    for use in sorted(graph.objects(node, medkg_term("takesMedication")), key=order):
        medication = read(use, _USE_TERMS, set())
        indication = graph.value(use, MEDKG.indication)
        if indication is not None:
            medication["indication"] = str(graph.value(indication, RDFS.label) or indication)
        data["medications"].append(medication)
    return patient_from_dict(data, origin=origin)


def _read_patient_file(source: str | Path) -> tuple[Path, str]:
    """Check a patient file's name and read its text (PatientInputError for any problem)."""
    if not isinstance(source, str | Path):
        raise PatientInputError(f"a patient is a file path or a mapping, not {type(source).__name__}")
    path = Path(source)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise PatientInputError(f"{path}: is a folder, not a patient file")
    if suffix not in PATIENT_SUFFIXES:
        raise PatientInputError(f"{path}: unsupported file type {suffix or '(none)'!r}: use .json or .ttl")
    limit = max_input_bytes()
    try:
        size = path.stat().st_size
        if size > limit:
            raise _too_large(str(path), size, limit)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise PatientInputError(f"{path}: is a folder, not a patient file") from None
    except FileNotFoundError:
        raise PatientInputError(f"{path}: cannot read: no such file") from None
    except OSError as error:
        raise PatientInputError(f"{path}: cannot read: {error.strerror or error}") from None
    return path, decode_input_bytes(data, origin=str(path))


def load_patient(
    source: str | Path | Mapping[str, Any],
    *,
    as_of: date | None = None,
    known: Callable[[str], bool] | None = None,
) -> Patient:
    """Load a patient from any input ``medkg check`` reads, or from a dict of one.

    A medkg JSON or Turtle patient file (by extension: ``.json``, ``.ttl``), a FHIR R4 Bundle or a
    CDS Hooks request (``.json``); it is :func:`load_input`'s patient, read by the same code. A
    FHIR or CDS Hooks reader notes what it assumed or ignored; ``medkg check`` puts those notes in
    the report, but a :class:`~medkg.patient.Patient` cannot carry them, so here they are issued
    as a :class:`UserWarning` (never dropped unsaid): call :func:`load_input` and pass its
    ``notes`` to :func:`medkg.check` to keep them in the report.

    Args:
        source: a file path, or decoded JSON (a dict: a medkg patient, a FHIR Bundle or a CDS Hooks request).
        as_of: for a FHIR Bundle or CDS Hooks request, the date to check at (as ``medkg check --as-of``).
        known: "the knowledge base knows this drug name" (helps FHIR readers match salts); default,
            as ``medkg check``: the built-in knowledge base's
            :meth:`~medkg.knowledge_base.KnowledgeBase.knows_drug`, loaded only if a FHIR reader asks.

    Raises:
        PatientInputError: file missing or unreadable, unsupported file type, malformed
            JSON/Turtle, invalid values, or a FHIR/CDS Hooks input that cannot be read.
    """
    if known is None:

        def known(name: str) -> bool:
            from .knowledge_base import default_knowledge_base

            return default_knowledge_base().knows_drug(name)

    loaded = load_input(source, as_of=as_of, known=known, origin="patient")
    if loaded.kind != "patient" and loaded.notes:
        import warnings

        origin = "patient" if isinstance(source, Mapping) else str(source)
        warnings.warn(
            f"{origin}: the {loaded.kind} reader's notes, not kept by load_patient (use load_input): "
            + "; ".join(loaded.notes),
            UserWarning,
            stacklevel=2,
        )
    return loaded.patient


@dataclass(frozen=True)
class LoadedInput:
    """A patient from any input form, with the notes its reader made.

    Attributes:
        patient: the validated patient.
        notes: what a FHIR or CDS Hooks reader read, assumed or ignored (empty for medkg JSON/Turtle).
        kind: ``"patient"`` (medkg JSON/Turtle), ``"fhir-bundle"`` or ``"cds-hooks"``.
        draft_drugs: for a CDS Hooks request, the ingredients of the draft orders.
    """

    patient: Patient
    notes: list[str] = field(default_factory=list)
    kind: str = "patient"
    draft_drugs: list[str] = field(default_factory=list)


def _is_cds_request(data: Mapping[str, Any]) -> bool:
    """Tell a CDS Hooks request: it names a hook, or has a ``context`` and no medkg ``medications`` list."""
    context = data.get("context")
    if "hook" in data or "hookInstance" in data:
        return True
    return "context" in data and (
        "medications" not in data
        or (isinstance(context, Mapping) and ("draftOrders" in context or "medications" in context))
    )


def input_from_dict(
    data: Any,
    *,
    origin: str = "input",
    as_of: date | None = None,
    known: Callable[[str], bool] | None = None,
) -> LoadedInput:
    """Read decoded JSON: a FHIR Bundle, a CDS Hooks request, or medkg patient JSON (in that order).

    Args:
        data: the decoded JSON.
        origin: where it came from, for messages.
        as_of: the date to check at (FHIR: default the latest clinical date; CDS Hooks: default now).
        known: optional predicate "the knowledge base knows this drug name" (FHIR salt names).

    Raises:
        PatientInputError: naming ``origin``, for anything that cannot be read.
    """
    if isinstance(data, Mapping) and data.get("resourceType") == "Bundle":
        from .fhir import read_bundle  # FHIR models load only for FHIR input

        try:
            bundle = read_bundle(data, as_of=as_of, known=known)
        except InputError as error:
            raise PatientInputError(f"{origin}: {error}") from None
        return LoadedInput(bundle.patient, bundle.notes, "fhir-bundle")
    if isinstance(data, Mapping) and _is_cds_request(data):
        from .fhir import read_cds_request

        now = datetime.combine(as_of, datetime.min.time(), UTC) if as_of else datetime.now(UTC)
        try:
            request = read_cds_request(data, now=now, known=known)
        except InputError as error:
            raise PatientInputError(f"{origin}: {error}") from None
        return LoadedInput(request.patient, request.notes, "cds-hooks", request.draft_drugs)
    if isinstance(data, Mapping) and "resourceType" in data:
        kind = data["resourceType"]
        if not isinstance(kind, str):
            raise PatientInputError(f'{origin}: resourceType must be a string such as "Bundle", not {kind!r}')
        raise PatientInputError(
            f"{origin}: a FHIR {kind[:60]} alone is not read: give a Bundle with the patient's record"
        )
    if as_of is not None:
        raise PatientInputError(f"{origin}: --as-of applies to FHIR Bundles and CDS Hooks requests only")
    return _with_medication_note(patient_from_dict(data, origin=origin))


#: The note for a patient whose input lists no medication (accepted: there is nothing to check).
NO_MEDICATION_NOTE = "no medication given: nothing was checked for interactions or doses"


def _with_medication_note(patient: Patient) -> LoadedInput:
    return LoadedInput(patient, [] if patient.medications else [NO_MEDICATION_NOTE])


def input_from_json(
    text: str, *, origin: str = "input.json", as_of: date | None = None, known: Callable[[str], bool] | None = None
) -> LoadedInput:
    """Decode JSON text and read it with :func:`input_from_dict`.

    Raises:
        PatientInputError: malformed JSON, or input that cannot be read.
    """
    return input_from_dict(_decode_json(text, origin), origin=origin, as_of=as_of, known=known)


def load_input(
    source: str | Path | Mapping[str, Any],
    *,
    as_of: date | None = None,
    known: Callable[[str], bool] | None = None,
    origin: str = "input",
) -> LoadedInput:
    """Load a patient file (medkg JSON or Turtle, a FHIR Bundle, a CDS Hooks request) or a dict.

    ``origin``: how messages name a dict (a file is named by its path).

    Raises:
        PatientInputError: file missing or unreadable, unsupported file type, malformed
            JSON/Turtle, invalid values, or a FHIR/CDS Hooks input that cannot be read.
    """
    if isinstance(source, Mapping):
        return input_from_dict(source, origin=origin, as_of=as_of, known=known)
    path, text = _read_patient_file(source)
    if path.suffix.lower() in TURTLE_SUFFIXES:
        if as_of is not None:
            raise PatientInputError(f"{path}: --as-of applies to FHIR Bundles and CDS Hooks requests only")
        return _with_medication_note(patient_from_turtle(text, origin=str(path)))
    return input_from_json(text, origin=str(path), as_of=as_of, known=known)


def parse_medication_arg(text: str) -> dict[str, Any]:
    """Parse a CLI medication ``NAME[:DOSE_MG[xTIMES_PER_DAY]]`` (e.g. ``baclofen:10x3``).

    Raises:
        PatientInputError: for an empty name (``''``, ``:10``) or an unparseable dose (never silently ignored).
    """
    name, colon, dose = text.partition(":")
    if colon and not dose.strip():
        raise PatientInputError(
            f"medication {text!r}: nothing after ':': give NAME, or NAME:DOSE_MG[xTIMES_PER_DAY] (e.g. NAME:10x3)"
        )
    if not name.strip():
        raise PatientInputError(
            f"medication {text!r}: empty medication name: give NAME[:DOSE_MG[xTIMES_PER_DAY]] (e.g. NAME:10x3)"
        )
    medication: dict[str, Any] = {"drug": name}
    if dose:
        amount, separator, times = dose.lower().partition("x")
        try:
            medication["dose_mg"] = float(amount.strip().removesuffix("mg"))
            if separator:
                medication["times_per_day"] = _fraction(times.strip())
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
