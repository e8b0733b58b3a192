"""medkg: a medication-safety knowledge graph with an OWL reasoner.

Public API::

    import medkg
    patient = medkg.load_patient("patient.json")
    report = medkg.check(patient)            # -> medkg.Report
    print(medkg.render_text(report))

medkg supports, and does not replace, clinical judgement.
"""

__version__ = "0.1.0"

from .check import check, check_many  # noqa: E402
from .loaders import PatientInputError, load_patient  # noqa: E402
from .patient import Medication, Patient  # noqa: E402
from .render.text import render_text  # noqa: E402
from .report import Finding, Report  # noqa: E402

__all__ = [
    "__version__",
    "check",
    "check_many",
    "load_patient",
    "PatientInputError",
    "Patient",
    "Medication",
    "Report",
    "Finding",
    "render_text",
]
