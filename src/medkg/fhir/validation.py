"""Read one FHIR resource with the ``fhir.resources`` models: R4B for R4, STU3 for legacy shapes.

``fhir.resources`` (8.x) models FHIR R5 at its top level and R4B and STU3 in sub-packages; R4B
reads R4 resources for everything medkg uses. Real files deviate from the specification in a
few recurring ways (a list where one item is allowed, an element of the other version, a
required ``intent`` left out of a draft order). Each such deviation is repaired in a copy and
said in a note; what cannot be repaired is read as written, also with a note. Nothing is dropped
here: the readers decide what to use.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

__all__ = ["FhirVersion", "TypedResource", "read_resource"]

FhirVersion = Literal["R4B", "STU3"]

#: Required elements that real files leave out, and the value medkg assumes (said in a note).
_REQUIRED_DEFAULTS: dict[tuple[str, str], Any] = {
    ("MedicationRequest", "intent"): "order",
}
_MAX_REPAIR_ROUNDS = 10


@dataclass
class TypedResource:
    """A resource as read: its JSON (after any repair), the FHIR version that read it, repairs.

    Attributes:
        data: the resource in JSON form, as dumped by the model (or as written when unreadable).
        version: ``"R4B"``, ``"STU3"`` or ``None`` when neither model accepted it.
        repairs: one phrase per repair ("dropped element effectivePeriod.stop").
    """

    data: dict[str, Any]
    version: FhirVersion | None
    repairs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``ResourceType/id`` (``ResourceType/(no id)`` without an id)."""
        return f"{self.data.get('resourceType', '?')}/{self.data.get('id', '(no id)')}"


def _model(version: FhirVersion, resource_type: str) -> type[BaseModel] | None:
    try:
        module = importlib.import_module(f"fhir.resources.{version}.{resource_type.lower()}")
    except ImportError:
        return None
    model = getattr(module, resource_type, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _parent(data: Any, path: tuple[str | int, ...]) -> tuple[Any, str | int] | None:
    """Return the container holding ``path``'s last step, and that step (None if the path is gone)."""
    node = data
    for step in path[:-1]:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            continue
        return None
    return (node, path[-1]) if path else None


def _repair(resource_type: str, data: dict[str, Any], error: Mapping[str, Any]) -> str | None:  # noqa: PLR0911
    """Repair one validation error in place; return what was done, or None if it cannot be."""
    path = tuple(step for step in error["loc"] if step != "root")
    kind = error["type"]
    where = ".".join(str(step) for step in path)
    found = _parent(data, path)
    if found is None:
        return None
    container, step = found
    if kind == "model_field_validation.missing" and isinstance(container, dict) and len(path) == 1:
        default = _REQUIRED_DEFAULTS.get((resource_type, str(step)))
        if default is None:
            return None
        container[step] = default
        return f"required {where} missing, taken as {default!r}"
    if not isinstance(container, dict) or not isinstance(step, str) or step not in container:
        return None
    value = container[step]
    if kind == "extra_forbidden":
        del container[step]
        return f"dropped element {where} (not in this FHIR version)"
    if kind == "list_type" and isinstance(value, dict):
        container[step] = [value]
        return f"{where} given as one object, read as a list of one"
    if kind == "model_validation_format" and isinstance(value, list) and len(value) >= 1:
        container[step] = value[0]
        dropped = f" ({len(value) - 1} more ignored)" if len(value) > 1 else ""
        return f"{where} given as a list, first item read{dropped}"
    return None


def _try(version: FhirVersion, data: dict[str, Any]) -> TypedResource | None:
    resource_type = str(data.get("resourceType", ""))
    model = _model(version, resource_type)
    if model is None:
        return None
    work = copy.deepcopy(data)
    repairs: list[str] = []
    for _round in range(_MAX_REPAIR_ROUNDS):
        try:
            typed = model.model_validate(work)
        except ValidationError as error:
            done = [_repair(resource_type, work, item) for item in error.errors()]
            if not done or any(step is None for step in done):
                return None
            repairs += [step for step in done if step is not None]
            continue
        return TypedResource(typed.model_dump(mode="json", by_alias=True, exclude_none=True), version, repairs)
    return None


def _cost(read: TypedResource) -> int:
    """Repairs weighed: dropping an element loses data, so it costs more than reshaping one."""
    return sum(2 if repair.startswith("dropped") else 1 for repair in read.repairs)


def read_resource(data: dict[str, Any], *, prefer: FhirVersion = "R4B") -> TypedResource:
    """Validate ``data`` with the preferred version's model, then the other; repair what is known.

    Args:
        data: one resource in FHIR JSON (a dict with ``resourceType``).
        prefer: version tried first (``"STU3"`` for a CDS Hooks request from an STU3 server).

    Returns:
        The first version read with no repair, else the one whose repairs lose least (dropping an element
        weighs more than reshaping one), else the
        resource as written with ``version=None``. Never raises for invalid content.
    """
    order: tuple[FhirVersion, FhirVersion] = ("R4B", "STU3") if prefer == "R4B" else ("STU3", "R4B")
    best: TypedResource | None = None
    for version in order:
        read = _try(version, data)
        if read is not None and not read.repairs:
            return read
        if read is not None and (best is None or _cost(read) < _cost(best)):
            best = read
    return best if best is not None else TypedResource(dict(data), None)
