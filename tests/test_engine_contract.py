"""Contract between the engines: same classifications, same findings; thresholds live in kg/ only.

The default engine classifies patients by SPARQL over the OWL definitions; the owl engine asks
HermiT. Every golden patient (plus edge cases) goes through both in one batch each.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import golden_cases
from medkg import check, load_patient
from medkg.build import build
from medkg.check import classify_patients
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import RESOURCE_DIRS, resource_root
from medkg.patient import Patient

EDGE_CASES: list[dict[str, Any]] = [
    # exactly on thresholds: 65 years (>= 65), CrCl 30 (not < 30), eGFR 60 (not < 60)
    {
        "id": "edge-65",
        "age_years": 65,
        "crcl_ml_min": 30,
        "egfr_ml_min_1_73m2": 60,
        "medications": [{"drug": "baclofen"}],
    },
    {"id": "edge-64.9", "age_years": 64.9, "crcl_ml_min": 29.9, "medications": [{"drug": "trazodone"}]},
    {
        "id": "cg",
        "age_years": 80,
        "sex": "male",
        "weight_kg": 70,
        "serum_creatinine_mg_dl": 2.0,
        "child_pugh": "C",
        "medications": [{"drug": "baclofen"}, {"drug": "oxycodone"}],
    },
    {
        "id": "copd-pregnant",
        "age_years": 30,
        "sex": "female",
        "pregnant": True,
        "breastfeeding": False,
        "conditions": ["copd", "obstructive sleep apnea"],
        "medications": [{"drug": "zolpidem"}, {"drug": "lorazepam"}],
    },
    {"id": "empty-data", "medications": [{"drug": "baclofen"}, {"drug": "no-such-drug"}]},
    # a daily dose known only as a lower bound (no times per day), a single-dose limit, and a
    # minimum that a lower bound must not report
    {
        "id": "doses",
        "age_years": 70,
        "medications": [
            {"drug": "baclofen", "dose_mg": 30, "times_per_day": 2},
            {"drug": "Lioresal", "dose_mg": 30},
            {"drug": "acetaminophen", "dose_mg": 2000, "times_per_day": 2},
            {"drug": "trazodone", "dose_mg": 50, "indication": "depression"},
        ],
    },
]


def _patients() -> list[Patient]:
    return [load_patient(case["patient"]) for _, case in golden_cases()] + [load_patient(p) for p in EDGE_CASES]


@pytest.mark.reasoner
def test_engines_classify_identically(kb: KnowledgeBase) -> None:
    patients = _patients()
    owl = classify_patients(patients, engine="owl", kb=kb)
    default = classify_patients(patients, kb=kb)
    assert owl.populations == default.populations
    assert owl.drug_classes == default.drug_classes
    # the contract is not vacuous: thresholds classified somebody
    by_id = {key.split(":", 1)[1]: value for key, value in default.populations.items()}
    assert "OlderAdult" in by_id["edge-65"]
    assert "OlderAdult" not in by_id["edge-64.9"]
    assert "CrClBelow30" not in by_id["edge-65"]
    assert "CrClBelow30" in by_id["edge-64.9"]
    assert "ChildPughC" in by_id["cg"]


def _copy_resources(target: Path) -> Path:
    source = resource_root()
    for name in RESOURCE_DIRS:
        shutil.copytree(source / name, target / name)
    return target


@pytest.mark.reasoner
def test_threshold_mutation_changes_both_engines(tmp_path: Path) -> None:
    """Raising the older-adult threshold in kg/populations.ttl from 65 to 80 changes both engines' output."""
    root = _copy_resources(tmp_path / "kb")
    populations = root / "kg" / "populations.ttl"
    text = populations.read_text(encoding="utf-8")
    original = 'owl:withRestrictions ( [ xsd:minInclusive "65"^^xsd:decimal ] )'
    assert text.count(original) == 1
    populations.write_text(text.replace(original, original.replace('"65"', '"80"')), encoding="utf-8")
    mutated = KnowledgeBase(build(root, tmp_path / "cache", quiet=True), root)

    patient = load_patient(
        {
            "id": "p78",
            "age_years": 78,
            "crcl_ml_min": 80,
            "medications": [{"drug": "trazodone", "dose_mg": 50, "times_per_day": 1}],
        }
    )
    for engine in ("default", "owl"):
        report = check(patient, engine=engine, kb=mutated)
        assert "OlderAdult" not in report.patient.populations, engine
        assert not any(f.kind == "dose-adjustment" and f.drugs == ["trazodone"] for f in report.findings), engine
    # and with the built-in threshold (65) the same patient is an older adult with the dosing finding
    for engine in ("default", "owl"):
        report = check(patient, engine=engine)
        assert "OlderAdult" in report.patient.populations, engine
        assert any(f.kind == "dose-adjustment" and f.drugs == ["trazodone"] for f in report.findings), engine


def test_batch_equals_one_by_one(kb: KnowledgeBase) -> None:
    """Checking patients together (one run of each query) gives each the same report as alone."""
    from medkg import check_many

    patients = _patients()
    together = check_many(patients, kb=kb)
    for patient, report in zip(patients, together, strict=True):
        assert check(patient, kb=kb) == report, patient.id


def test_the_rule_queries_on_plain_rdflib_give_the_default_engines_report(kb: KnowledgeBase) -> None:
    """The baseline scripts/bench.py measures: the sparql engine's queries run by rdflib's own SPARQL engine.

    The brief's patient (baclofen with trazodone, 78 years, Cockcroft-Gault CrCl below 30): about
    8 s on rdflib. The bench's rdflib row once failed because this store lacked an attribute the
    engines read.
    """
    from medkg.rdflib_store import RdflibStore

    on_rdflib = KnowledgeBase(kb.built, kb.root, store=RdflibStore.from_file(kb.built.compiled))  # type: ignore[arg-type]
    patient = {
        "id": "brief",
        "age_years": 78,
        "sex": "female",
        "weight_kg": 60,
        "serum_creatinine_mg_dl": 1.8,
        "conditions": ["spasticity", "depression", "insomnia"],
        "medications": [
            {"drug": "baclofen", "dose_mg": 10, "times_per_day": 3},
            {"drug": "trazodone", "dose_mg": 50, "times_per_day": 1},
        ],
    }
    slow, fast = check(patient, kb=on_rdflib, engine="sparql"), check(patient, kb=kb)
    assert slow.patient == fast.patient and slow.patient.crcl_ml_min is not None and slow.patient.crcl_ml_min < 30
    assert slow.findings == fast.findings
    assert any(f.kind == "dose-adjustment" and f.drugs == ["baclofen"] for f in slow.findings)
