"""medkg: a medication-safety knowledge graph with an OWL reasoner.

Public API::

    import medkg
    patient = medkg.load_patient("patient.json")
    report = medkg.check(patient)            # -> medkg.Report
    print(medkg.render_text(report))

``load_patient`` reads what ``medkg check`` reads: medkg JSON or Turtle, a FHIR R4 Bundle or a
CDS Hooks request. To keep a FHIR or CDS Hooks reader's notes in the report, as ``medkg check``
does::

    loaded = medkg.load_input("bundle.json")
    report = medkg.check(loaded.patient, notes=loaded.notes)

medkg supports, and does not replace, clinical judgement.
"""

__version__ = "0.1.0"

from .check import check, check_many
from .loaders import LoadedInput, PatientInputError, load_input, load_patient
from .patient import Medication, Patient
from .render.text import render_text
from .report import Finding, Report

__all__ = [
    "Finding",
    "LoadedInput",
    "Medication",
    "Patient",
    "PatientInputError",
    "Report",
    "__version__",
    "check",
    "check_many",
    "load_input",
    "load_patient",
    "render_text",
]
