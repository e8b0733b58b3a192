"""FHIR R4 patient input and CDS Hooks requests -> :class:`medkg.patient.Patient` (see docs/fhir.md).

Public API:

- :func:`read_bundle` -> :class:`FhirReading` (patient, notes, as-of date and its basis);
- :func:`read_cds_request` -> :class:`CdsReading` (patient, notes, draft drugs, hook);
- :func:`parse_rxnorm_name` for RxNorm clinical drug names.
"""

from __future__ import annotations

from .bundle import FhirReading, read_bundle
from .cds import CdsReading, read_cds_request
from .medications import ReadMedication
from .rxnorm import Component, RxNormName, parse_rxnorm_name

__all__ = [
    "CdsReading",
    "Component",
    "FhirReading",
    "ReadMedication",
    "RxNormName",
    "parse_rxnorm_name",
    "read_bundle",
    "read_cds_request",
]
