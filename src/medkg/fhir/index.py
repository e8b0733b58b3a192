"""The resources of one input (a Bundle, or a CDS Hooks request's prefetch) and their references.

A reference is resolved, in this order, against: the referring resource's contained resources
(``#id``), an entry's ``fullUrl`` (including ``urn:uuid:...``), and ``ResourceType/id`` (also the
tail of an absolute ``fullUrl``). Unresolvable references return None (callers note them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..loaders import InputError
from .validation import FhirVersion, TypedResource, read_resource

__all__ = ["TYPED", "ResourceIndex", "bundle_resources"]

#: Resource types medkg reads, validated with the ``fhir.resources`` models; others are kept as
#: written (only their dates are read).
TYPED = frozenset(
    {
        "Patient",
        "Medication",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationDispense",
        "MedicationAdministration",
        "Observation",
        "Condition",
        "AllergyIntolerance",
    }
)


def bundle_resources(bundle: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Yield ``(fullUrl, resource)`` for each entry of a Bundle (bare resources as entries accepted).

    Entries that hold no resource (a searchset with ``total: 0``, a request-only entry) are skipped.
    """
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("resource"), dict):
            full_url = entry.get("fullUrl")
            yield (full_url if isinstance(full_url, str) else None), entry["resource"]
        elif "resourceType" in entry:
            yield None, entry


class ResourceIndex:
    """Typed resources of one input, in input order, with reference resolution."""

    def __init__(self, *, prefer: FhirVersion = "R4B") -> None:
        self.prefer: FhirVersion = prefer
        self.resources: list[TypedResource] = []
        self._by_key: dict[str, TypedResource] = {}

    def add(self, resource: dict[str, Any], full_url: str | None = None) -> TypedResource | None:
        """Read and add one resource; a second copy of the same ``Type/id`` is not added (None).

        Raises:
            medkg.loaders.InputError: the resource's ``resourceType`` is set but not a string.
        """
        kind, ident = resource.get("resourceType"), resource.get("id")
        if kind is not None and not isinstance(kind, str):
            raise InputError(
                f'a resource\'s resourceType must be a string such as "Patient", not {type(kind).__name__}'
            )
        key = f"{kind}/{ident}" if isinstance(ident, str) else None
        if key is not None and key in self._by_key:
            return None
        typed = read_resource(resource, prefer=self.prefer) if kind in TYPED else TypedResource(dict(resource), None)
        self.resources.append(typed)
        for name in (key, full_url, _tail(full_url)):
            if name:
                self._by_key.setdefault(name, typed)
        return typed

    def add_all(self, items: Iterable[tuple[str | None, dict[str, Any]]]) -> None:
        """Add every ``(fullUrl, resource)``; a nested Bundle's entries are added in its place."""
        for full_url, resource in items:
            if resource.get("resourceType") == "Bundle":
                self.add_all(bundle_resources(resource))
            else:
                self.add(resource, full_url)

    def of_type(self, *kinds: str) -> list[TypedResource]:
        """Return the resources of the given types, in input order."""
        return [r for r in self.resources if r.data.get("resourceType") in kinds]

    def keys_of(self, typed: TypedResource) -> set[str]:
        """Every name ``typed`` can be referenced by (``Type/id``, ``fullUrl``)."""
        return {key for key, value in self._by_key.items() if value is typed}

    def resolve(self, reference: Any, within: TypedResource | None = None) -> dict[str, Any] | None:
        """Return the resource a ``Reference`` (dict with ``reference``) points to, or None."""
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str) or not target:
            return None
        if target.startswith("#") and within is not None:
            for contained in within.data.get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == target[1:]:
                    return contained
            return None
        found = self._by_key.get(target) or self._by_key.get(_tail(target) or "")
        return found.data if found is not None else None


def _tail(url: str | None) -> str | None:
    """``Type/id`` at the end of an absolute URL (``http://x/fhir/Patient/1`` -> ``Patient/1``)."""
    if not url or url.startswith("urn:"):
        return None
    parts = url.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return f"{parts[-2]}/{parts[-1]}"
    return None
