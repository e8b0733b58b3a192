"""What medkg asks a CDS Hooks client to prefetch, derived from what the readers read.

The ``labs`` prefetch query names every Observation code a reader uses: the analytes of
:data:`medkg.fhir.observations.ANALYTES` and the pregnancy-status codes of ``data/pregnancy.tsv``.
Built from those tables, the query cannot drift from them (a test checks they agree).
"""

from __future__ import annotations

from .codings import LOINC
from .observations import ANALYTES
from .pregnancy import pregnancy_codes

__all__ = ["observation_codes", "observations_query"]


def observation_codes() -> list[tuple[str, str]]:
    """(system, code) of every Observation code medkg reads, in table order without repeats."""
    found = [(LOINC, code) for analyte in ANALYTES for code in analyte.loinc]
    found += list(pregnancy_codes().observations)
    return list(dict.fromkeys(found))


def observations_query(patient: str = "{{context.patientId}}") -> str:
    """Return the FHIR search for those observations, latest first, e.g. for a CDS Hooks ``prefetch`` template."""
    codes = ",".join(f"{system}|{code}" for system, code in observation_codes())
    return f"Observation?patient={patient}&code={codes}&_sort=-date"
