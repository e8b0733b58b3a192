"""Where the shared sample inputs are: ``$MEDKG_SAMPLES`` or ``<repo>/../shared/samples``.

Tests that need them skip when the folder is absent, except under CI (``CI=true``), where a
missing folder is a failure: CI is laid out with ``shared/`` beside the clone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def samples_dir() -> Path | None:
    """The samples folder if it exists (``MEDKG_SAMPLES`` wins), else None."""
    env = os.environ.get("MEDKG_SAMPLES")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "samples"]:
        if (candidate / "fhir").is_dir() and (candidate / "cds-hooks").is_dir():
            return candidate
    return None


def sample(relative: str) -> dict[str, Any]:
    """Load one sample JSON file; skip the test when the folder is absent (fail under CI)."""
    folder = samples_dir()
    if folder is None:
        message = "sample files not found: set MEDKG_SAMPLES or put shared/samples beside the repository"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    data: dict[str, Any] = json.loads((folder / relative).read_text(encoding="utf-8"))
    return data


F1 = "fhir/synthea__sample_complete_patient.json"
F3 = "fhir/iris-fhir-portal__Renna830_Pfannerstill264_naproxen-alendronate-scr.json"
F4 = "fhir/iris-fhir-portal__Trisha327_Schinner682_chf-egfr13.json"
F5 = "fhir/inferno-reference-server__uscore_bundle_patient_85.json"
F6 = "fhir/inferno-reference-server__uscore_bundle_patient_355.json"
F8 = "fhir/pacio__BetsySmithJohnson_0-1to7_allButADI_transactionBundle.json"
F9 = "fhir/pacio__mcode-patient-bundle-jenny-m.json"
C1 = "cds-hooks/pddi-cds__warfarin-nsaids-order-sign-coordination.json"
C2 = "cds-hooks/pddi-cds__digoxin-cyclosporine-order-sign-coordination.json"
C3 = "cds-hooks/pddi-cds__multi-update-draft-orders-2.json"
C4 = "cds-hooks/pddi-cds__request-warfarin-nsaid-scenario-03.json"
C5 = "cds-hooks/pddi-cds__request-warfarin-nsaid-scenario-05.json"
C8 = "cds-hooks/opioid-cds-r4__request-example-rec-10-illicit-drugs-POS-Opiate-non-synthetic.json"
C9 = "cds-hooks/cds-hooks-docs__order-select-example-R4.context.json"
