"""Generated patients for benchmarks, batch demonstrations and property tests (not clinical data).

Patients are drawn with a fixed seed from the knowledge base's own drugs, so every generated
medication is one medkg knows; ages, renal and hepatic values are random within plausible ranges.
"""

from __future__ import annotations

import random
from typing import Any

from .knowledge_base import KnowledgeBase, default_knowledge_base

__all__ = ["generate_patient_dicts"]


def generate_patient_dicts(
    count: int, *, seed: int = 7, kb: KnowledgeBase | None = None, min_drugs: int = 2, max_drugs: int = 8
) -> list[dict[str, Any]]:
    """Return ``count`` patients in the patient JSON shape (see docs/schemas/patient.schema.json).

    Each has ``min_drugs``..``max_drugs`` different knowledge-base drugs with a dose (mg) and
    times per day, an age of 20-95 years, a sex, a CrCl of 10-120 mL/min for 80 % of them and a
    Child-Pugh class for half of them. The same ``seed`` gives the same patients.
    """
    kb = kb or default_knowledge_base()
    drugs = sorted({kb.label(iri) for iri in kb.drug_names.values()})
    rng = random.Random(seed)
    patients = []
    for number in range(count):
        data: dict[str, Any] = {
            "id": f"generated-{number}",
            "age_years": float(rng.randint(20, 95)),
            "sex": rng.choice(["female", "male"]),
            "medications": [
                {"drug": name, "dose_mg": float(rng.choice([5, 10, 25, 50])), "times_per_day": float(rng.randint(1, 4))}
                for name in rng.sample(drugs, rng.randint(min_drugs, min(max_drugs, len(drugs))))
            ],
        }
        if rng.random() < 0.8:
            data["crcl_ml_min"] = float(rng.randint(10, 120))
        if rng.random() < 0.5:
            data["child_pugh"] = rng.choice(["A", "B", "C"])
        patients.append(data)
    return patients
