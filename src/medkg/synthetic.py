"""Generated patients for benchmarks, batch demonstrations and property tests (not clinical data).

Patients are drawn with a fixed seed from the knowledge base's own drugs, so every generated
medication is one medkg knows; ages, renal and hepatic values are random within plausible ranges.
"""

from __future__ import annotations

import random
from typing import Any

from .knowledge_base import KnowledgeBase, default_knowledge_base

__all__ = ["generate_patient_dicts", "generate_varied_patient_dicts"]


def generate_patient_dicts(
    count: int, *, seed: int = 7, kb: KnowledgeBase | None = None, min_drugs: int = 2, max_drugs: int = 8
) -> list[dict[str, Any]]:
    """Return ``count`` patients in the patient JSON shape (see docs/schemas/patient.schema.json).

    Each has ``min_drugs``..``max_drugs`` different knowledge-base drugs with a dose (mg) and
    times per day, an age of 20-95 years, a sex, a CrCl of 10-120 mL/min for 80 % of them and a
    Child-Pugh class for half of them. The same ``seed`` gives the same patients.

    Raises:
        ValueError: if ``count`` is negative, or not ``1 <= min_drugs <= max_drugs``, or
            ``min_drugs`` exceeds the knowledge base's drugs.
    """
    if count < 0 or not 1 <= min_drugs <= max_drugs:  # before the knowledge base is loaded
        raise ValueError(f"need count >= 0 and 1 <= min_drugs <= max_drugs, not {count}, {min_drugs}, {max_drugs}")
    kb = kb or default_knowledge_base()
    drugs = sorted({kb.label(iri) for iri in kb.drug_names.values()})
    if min_drugs > len(drugs):
        raise ValueError(f"min_drugs {min_drugs} exceeds the knowledge base's {len(drugs)} drugs")
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


def generate_varied_patient_dicts(
    count: int, *, seed: int = 11, kb: KnowledgeBase | None = None
) -> list[dict[str, Any]]:
    """Return ``count`` patients that exercise every input the rules read (for engine agreement tests).

    Besides drugs and doses, each may have brand names, unknown names, combination products,
    missing doses, conditions and indications, allergies, labs (potassium mmol/L, QTc ms, INR),
    pregnancy and lactation, dialysis, Child-Pugh class, eGFR, or serum creatinine with weight
    instead of CrCl - all drawn from the knowledge base's own names. The same ``seed`` gives the
    same patients. Not clinical data.
    """
    kb = kb or default_knowledge_base()
    names = sorted(kb.name_ingredients)
    conditions = sorted(kb.condition_names)
    allergens = sorted(kb.allergen_names)
    rng = random.Random(seed)
    patients = []
    for number in range(count):
        medications: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 9)):
            medication: dict[str, Any] = {
                "drug": rng.choice(names) if rng.random() > 0.05 else f"unknown drug {number}"
            }
            if rng.random() < 0.85:
                medication["dose_mg"] = float(rng.choice([0.1, 0.25, 1, 2.5, 5, 10, 20, 40, 80, 160, 500, 1000]))
            if rng.random() < 0.85:
                medication["times_per_day"] = float(rng.choice([1, 2, 3, 4])) if rng.random() > 0.1 else 1 / 7
            if rng.random() < 0.2:
                medication["indication"] = rng.choice(conditions)
            medications.append(medication)
        if medications and rng.random() < 0.1:
            medications.append(dict(medications[0]))  # the same drug twice
        data: dict[str, Any] = {"id": f"varied-{number}", "medications": medications}
        optional: dict[str, Any] = {
            "age_years": float(rng.choice([17, 40, 64.9, 65, 70, 79, 80, 85, 95])),
            "sex": rng.choice(["female", "male"]),
            "child_pugh": rng.choice(["A", "B", "C"]),
            "dialysis": rng.random() < 0.3,
            "egfr_ml_min_1_73m2": float(rng.choice([10, 14.9, 15, 25, 29.9, 30, 44, 45, 59, 60, 90])),
            "conditions": rng.sample(conditions, rng.randint(1, 3)),
            "allergies": rng.sample(allergens, rng.randint(1, 2)),
            "labs": {
                "potassium_mmol_l": rng.choice([3.0, 4.5, 5.0, 5.5, 6.1]),
                "qtc_ms": float(rng.choice([420, 440, 450, 470, 500, 520])),
                "inr": rng.choice([1.0, 2.5, 3.5, 4.5]),
            },
        }
        for key, value in optional.items():
            if rng.random() < 0.6:
                data[key] = value
        renal = rng.random()
        if renal < 0.4:
            data["crcl_ml_min"] = float(rng.choice([9.9, 10, 15, 20, 25, 29.9, 30, 35, 45, 50, 60, 80]))
        elif renal < 0.7:
            data["serum_creatinine_mg_dl"] = rng.choice([0.8, 1.2, 2.0, 3.5])
            data["weight_kg"] = float(rng.choice([45, 70, 100]))
            data.setdefault("age_years", 75.0)
        if data.get("sex") == "female" and rng.random() < 0.5:
            data["pregnant"] = rng.random() < 0.5
            data["breastfeeding"] = rng.random() < 0.5
        patients.append(data)
    return patients
