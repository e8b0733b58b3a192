"""The HTTP side of a CDS Hooks call: content type, JSON decoding and the request envelope.

:func:`decode_json` turns the body into JSON or raises :class:`BadRequest` (HTTP 400: not
UTF-8, not JSON, NaN/Infinity, numbers out of range, nesting deeper than :data:`MAX_DEPTH`).
:func:`validate_envelope` checks the fields CDS Hooks 2.0 defines around the context (pydantic
model :class:`CdsHooksRequest`) and raises :class:`InvalidPayload` (HTTP 422) listing each field,
the problem and what is allowed. What is inside ``context`` and ``prefetch`` is read by
:func:`medkg.fhir.read_cds_request`; its refusals are also 422.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from .errors import Problem

__all__ = [
    "HOOKS",
    "MAX_DEPTH",
    "BadRequest",
    "CdsHooksRequest",
    "InvalidPayload",
    "decode_json",
    "is_json_type",
    "validate_envelope",
]

#: Hooks the services answer.
HOOKS = ("order-select", "order-sign", "patient-view", "medication-prescribe")
#: Deepest nesting of arrays and objects accepted in a request body.
MAX_DEPTH = 64

Hook = Literal["order-select", "order-sign", "patient-view", "medication-prescribe"]


class BadRequest(ValueError):
    """The body cannot be decoded as JSON (HTTP 400)."""


class InvalidPayload(ValueError):
    """The JSON does not have the shape of a CDS Hooks request (HTTP 422)."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        """``problems``: one entry per field at fault."""
        super().__init__(message)
        self.problems = problems


class CdsContext(BaseModel):
    """The fields of ``context`` whose type medkg relies on (others pass through)."""

    model_config = ConfigDict(extra="allow")

    patientId: StrictStr | None = Field(default=None, min_length=1, max_length=256)
    userId: StrictStr | None = Field(default=None, max_length=256)
    encounterId: StrictStr | None = Field(default=None, max_length=256)
    selections: list[StrictStr] | None = None
    draftOrders: dict[str, Any] | list[Any] | None = None
    medications: dict[str, Any] | list[Any] | None = None


class CdsHooksRequest(BaseModel):
    """A CDS Hooks 2.0 request envelope; ``hook`` and ``hookInstance`` may be absent (context-only files)."""

    model_config = ConfigDict(extra="allow")

    hook: Hook | None = None
    hookInstance: StrictStr | None = Field(default=None, min_length=1, max_length=256)
    fhirServer: StrictStr | None = Field(default=None, max_length=2048)
    fhirAuthorization: dict[str, Any] | None = None
    context: CdsContext
    prefetch: dict[str, Any] | None = None


_ALLOWED = {
    "hook": "one of " + ", ".join(HOOKS),
    "hookInstance": "a string of 1 to 256 characters (a UUID)",
    "fhirServer": "a URL string",
    "fhirAuthorization": "a JSON object",
    "context": "a JSON object",
    "prefetch": "a JSON object (prefetch key -> FHIR resource or Bundle)",
    "context.patientId": "a string of 1 to 256 characters (a FHIR id)",
    "context.userId": "a string (e.g. Practitioner/123)",
    "context.encounterId": "a string (a FHIR id)",
    "context.selections": "an array of strings (e.g. MedicationRequest/abc)",
    "context.draftOrders": "a FHIR Bundle of MedicationRequest (object) or an array of resources",
    "context.medications": "a FHIR Bundle of MedicationRequest (object) or an array of resources",
}


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (``application/json`` or ``application/*+json``)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"request body is not JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"request body is not JSON: the number {text[:40]} is out of range")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of arrays/objects, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def decode_json(body: bytes) -> Any:
    """Decode a request body as UTF-8 JSON.

    Raises:
        BadRequest: empty body, not UTF-8, not JSON (with line and column), NaN or Infinity,
            a number out of range, or nesting deeper than :data:`MAX_DEPTH`.
    """
    if not body.strip():
        raise BadRequest("request body is empty; send a CDS Hooks request as JSON")
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise BadRequest(f"request body is not UTF-8 (byte {error.start})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise BadRequest(f"request body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise BadRequest(f"request body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        if isinstance(error, BadRequest):
            raise
        raise BadRequest("request body is not JSON: a number is out of range") from None
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"request body is nested deeper than {MAX_DEPTH} levels")
    return data


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(body)"


def validate_envelope(data: Any, service_hook: str) -> CdsHooksRequest:
    """Check the CDS Hooks request envelope for a service answering ``service_hook``.

    Raises:
        InvalidPayload: the body is not an object, a field has the wrong type or value, or ``hook``
            names another hook than the service's.
    """
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else f"a {type(data).__name__}"
        raise InvalidPayload(
            "request body must be a JSON object (a CDS Hooks request)",
            [Problem("(body)", f"is {kind}", "a JSON object with 'context' (and 'hook', 'hookInstance')")],
        )
    try:
        request = CdsHooksRequest.model_validate(data)
    except ValidationError as error:
        problems: dict[str, Problem] = {}
        for item in error.errors():
            where = _field(item["loc"])
            names = [str(part) for part in item["loc"] if isinstance(part, str)]
            # a union reports one error per member ("draftOrders.dict[str,any]"): name the field itself
            key = next((".".join(names[:n]) for n in range(len(names), 0, -1) if ".".join(names[:n]) in _ALLOWED), None)
            where = key if key and where.startswith(key) and not where[len(key) :].lstrip(".")[:1].isdigit() else where
            problems.setdefault(where, Problem(where, item["msg"], _ALLOWED.get(key or "")))
        fields = ", ".join(problems)
        raise InvalidPayload(f"invalid CDS Hooks request: {fields}", list(problems.values())) from None
    if request.hook is not None and request.hook != service_hook:
        raise InvalidPayload(
            f"invalid CDS Hooks request: this service answers the {service_hook} hook",
            [Problem("hook", f"is {request.hook!r}, another hook than this service's", service_hook)],
        )
    return request
