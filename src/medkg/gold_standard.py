"""Measure the knowledge base against a reference list of drug-drug interactions.

The reference (``tests/gold-standard/phansalkar-2012.tsv``: the ONC high-priority DDI list,
Phansalkar et al., JAMIA 2012) names interacting classes with one example drug of each side;
``negative-controls.tsv`` lists pairs commonly co-prescribed without a clinically important
interaction. Each pair is checked as a patient taking just those two drugs (adult, no other
data); a pair counts as flagged when a finding about several drugs (interaction, additive
effect, duplicate therapy, burden, contraindication) names both. Sensitivity is flagged / listed
(pairs whose drugs the knowledge base lacks count as missed and are also reported apart);
false alerts are flagged negative controls.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .check import check_many
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .names import resolve
from .patient import Patient

__all__ = ["GoldResult", "evaluate", "read_pairs"]

_PAIR_KINDS = {"interaction", "additive-effect", "duplicate-therapy", "burden", "contraindication", "caution"}


@dataclass
class GoldResult:
    """Outcome over one list of pairs."""

    listed: int = 0
    known: int = 0
    flagged: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the counts, rates and the pair ids of each outcome (for JSON)."""
        return {
            "listed": self.listed,
            "drugs_known": self.known,
            "flagged": len(self.flagged),
            "rate_over_listed": round(len(self.flagged) / self.listed, 3) if self.listed else None,
            "rate_over_known": round(len(self.flagged) / self.known, 3) if self.known else None,
            "flagged_pairs": self.flagged,
            "missed_pairs": self.missed,
            "unknown_drug_pairs": self.unknown,
        }


def read_pairs(path: Path, first: str, second: str) -> list[tuple[str, str, str]]:
    """Read (pair id, drug, drug) from a TSV with columns ``pair_id``, ``first`` and ``second``."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (row["pair_id"], row[first].strip(), row[second].strip())
            for row in csv.DictReader(handle, delimiter="\t")
            if row.get("pair_id", "").strip() and not row["pair_id"].startswith("#")
        ]


def evaluate(pairs: list[tuple[str, str, str]], kb: KnowledgeBase | None = None) -> GoldResult:
    """Check each pair as a two-drug patient and sort the pairs into flagged, missed and unknown."""
    kb = kb or default_knowledge_base()
    result = GoldResult(listed=len(pairs))
    runnable = []
    for pair_id, a, b in pairs:
        iris = [resolve(name.replace("-", " "), kb.drug_names) or resolve(name, kb.drug_names) for name in (a, b)]
        if None in iris:
            result.unknown.append(pair_id)
            result.missed.append(pair_id)
            continue
        labels = [kb.label(str(iri)) for iri in iris]
        patient = Patient.model_validate(
            {"id": pair_id, "age_years": 50.0, "medications": [{"drug": n} for n in labels]}
        )
        runnable.append((pair_id, set(labels), patient))
    result.known = len(runnable)
    reports = check_many([patient for _id, _labels, patient in runnable], kb=kb)
    for (pair_id, drugs, _patient), report in zip(runnable, reports, strict=True):
        hit = any(f.kind in _PAIR_KINDS and drugs <= set(f.drugs) for f in report.findings)
        (result.flagged if hit else result.missed).append(pair_id)
    return result
