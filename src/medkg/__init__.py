"""medkg: a medication-safety knowledge graph with an OWL reasoner.

Public API::

    import medkg
    patient = medkg.load_patient("patient.json")
    report = medkg.check(patient)            # -> medkg.Report
    print(medkg.render_text(report))

medkg supports, and does not replace, clinical judgement.
"""

__version__ = "0.1.0"

from .check import check, check_many
from .loaders import PatientInputError, load_patient
from .patient import Medication, Patient
from .render.text import render_text
from .report import Finding, Report

__all__ = [
    "Finding",
    "Medication",
    "Patient",
    "PatientInputError",
    "Report",
    "__version__",
    "check",
    "check_many",
    "load_patient",
    "render_text",
]
