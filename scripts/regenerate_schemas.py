"""Write the published JSON Schemas (docs/schemas/*.schema.json) from the typed models."""

from __future__ import annotations

import json
from pathlib import Path

from medkg.patient import Patient
from medkg.report import Report

OUT = Path(__file__).parents[1] / "docs" / "schemas"


def main() -> None:
    """Regenerate docs/schemas/patient.schema.json and report.schema.json."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, model in (("patient", Patient), ("report", Report)):
        path = OUT / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
