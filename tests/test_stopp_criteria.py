"""STOPP criteria added to kg/rules/stopp-start-v3.ttl, each checked with a patient who gets the finding and a close one who does not.

All were read in the STOPP/START version 2 wording (src-stopp-start-v2: B. Sallevelt's thesis, chapter 2.2,
Table SI1.1, which tabulates the version 2 criteria with their numbers); the version 3 appendix
(src-stopp-start-v3) could be read only up to Section B, so every rule carries an uncertainty note on its v3
number. STOPP applies to people aged 65 and over (kg:OlderAdult), so the close patient is often 64.

- D1: tricyclic antidepressants with cardiac conduction abnormalities or narrow-angle glaucoma (the dementia
  and prostatism halves are cited on the Beers anticholinergic rules instead).
- D10: neuroleptics as hypnotics (the indication must be insomnia).
- D11: acetylcholinesterase inhibitors with persistent bradycardia or heart block, or with rate-lowering drugs
  (digoxin, diltiazem, verapamil; the beta-blocker pair already existed and now cites D11).
- G3: antimuscarinic bronchodilators (ipratropium, tiotropium) with narrow-angle glaucoma or bladder outflow
  obstruction.
- K3: vasodilators (alpha-1 blockers, calcium channel blockers, long-acting nitrates, ACE inhibitors, ARBs)
  with persistent postural hypotension.
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase

KG = "https://w3id.org/medkg/kg/"


def _findings(kb: KnowledgeBase, patient: dict[str, Any], engine: str = "default") -> dict[str, tuple[str, list[str]]]:
    """Rule IRI -> (severity, drugs) for every finding of the report."""
    report = check(patient, kb=kb, engine=engine)
    return {f.rule: (f.severity, sorted(f.drugs)) for f in report.findings if f.rule}


# (rule, patient who gets the finding, its severity and drugs, close patient who does not)
CASES: list[tuple[str, dict[str, Any], str, list[str], dict[str, Any]]] = [
    (
        "rule-stopp-tca-conduction-abnormality",
        {"age_years": 78, "conditions": ["complete heart block"], "medications": [{"drug": "nortriptyline"}]},
        "major",
        ["nortriptyline"],
        {"age_years": 64, "conditions": ["complete heart block"], "medications": [{"drug": "nortriptyline"}]},
    ),
    (
        "rule-stopp-tca-conduction-abnormality",
        {"age_years": 70, "conditions": ["sick sinus syndrome"], "medications": [{"drug": "amitriptyline"}]},
        "major",
        ["amitriptyline"],
        {"age_years": 70, "conditions": ["hypertension"], "medications": [{"drug": "amitriptyline"}]},
    ),
    (
        "rule-stopp-tca-narrow-angle-glaucoma",
        {"age_years": 72, "conditions": ["acute angle-closure glaucoma"], "medications": [{"drug": "imipramine"}]},
        "major",
        ["imipramine"],
        {"age_years": 72, "conditions": ["acute angle-closure glaucoma"], "medications": [{"drug": "sertraline"}]},
    ),
    (
        "rule-stopp-antipsychotic-as-hypnotic",
        {"age_years": 81, "medications": [{"drug": "quetiapine", "indication": "insomnia"}]},
        "moderate",
        ["quetiapine"],
        {"age_years": 81, "medications": [{"drug": "quetiapine", "indication": "schizophrenia"}]},
    ),
    (
        "rule-stopp-antipsychotic-as-hypnotic",
        {"age_years": 65, "medications": [{"drug": "olanzapine", "indication": "trouble sleeping"}]},
        "moderate",
        ["olanzapine"],
        {"age_years": 64, "medications": [{"drug": "olanzapine", "indication": "trouble sleeping"}]},
    ),
    (
        "rule-stopp-cholinesterase-inhibitor-bradyarrhythmia",
        {"age_years": 83, "conditions": ["bradycardia"], "medications": [{"drug": "donepezil"}]},
        "major",
        ["donepezil"],
        {"age_years": 83, "conditions": ["dementia"], "medications": [{"drug": "donepezil"}]},
    ),
    (
        "rule-stopp-cholinesterase-inhibitor-verapamil-diltiazem",
        {"age_years": 79, "medications": [{"drug": "rivastigmine"}, {"drug": "diltiazem"}]},
        "moderate",
        ["diltiazem", "rivastigmine"],
        {"age_years": 79, "medications": [{"drug": "rivastigmine"}, {"drug": "amlodipine"}]},
    ),
    (
        "rule-stopp-cholinesterase-inhibitor-digoxin",
        {"age_years": 79, "medications": [{"drug": "galantamine"}, {"drug": "digoxin"}]},
        "moderate",
        ["digoxin", "galantamine"],
        {"age_years": 64, "medications": [{"drug": "galantamine"}, {"drug": "digoxin"}]},
    ),
    (
        "rule-stopp-inhaled-antimuscarinic-narrow-angle-glaucoma",
        {"age_years": 74, "conditions": ["acute angle-closure glaucoma"], "medications": [{"drug": "tiotropium"}]},
        "moderate",
        ["tiotropium"],
        {"age_years": 74, "conditions": ["acute angle-closure glaucoma"], "medications": [{"drug": "salbutamol"}]},
    ),
    (
        "rule-stopp-inhaled-antimuscarinic-bladder-outflow-obstruction",
        {
            "age_years": 76,
            "sex": "male",
            "conditions": ["benign prostatic hyperplasia"],
            "medications": [{"drug": "ipratropium"}],
        },
        "moderate",
        ["ipratropium"],
        {"age_years": 76, "sex": "male", "conditions": ["copd"], "medications": [{"drug": "ipratropium"}]},
    ),
    (
        "rule-stopp-vasodilator-orthostatic-hypotension",
        {"age_years": 80, "conditions": ["orthostatic hypotension"], "medications": [{"drug": "doxazosin"}]},
        "major",
        ["doxazosin"],
        {"age_years": 80, "conditions": ["orthostatic hypotension"], "medications": [{"drug": "metformin"}]},
    ),
    (
        "rule-stopp-vasodilator-orthostatic-hypotension",
        {"age_years": 68, "conditions": ["postural hypotension"], "medications": [{"drug": "amlodipine"}]},
        "major",
        ["amlodipine"],
        {"age_years": 64, "conditions": ["postural hypotension"], "medications": [{"drug": "amlodipine"}]},
    ),
]


@pytest.mark.parametrize(("rule", "patient", "severity", "drugs", "close"), CASES)
def test_stopp_rule_fires_for_the_patient_and_not_for_the_close_one(
    kb: KnowledgeBase,
    rule: str,
    patient: dict[str, Any],
    severity: str,
    drugs: list[str],
    close: dict[str, Any],
) -> None:
    assert _findings(kb, patient).get(KG + rule) == (severity, drugs)
    assert KG + rule not in _findings(kb, close)


@pytest.mark.parametrize(("rule", "patient", "severity", "drugs", "close"), CASES[::3])
def test_the_sparql_engine_agrees(
    kb: KnowledgeBase,
    rule: str,
    patient: dict[str, Any],
    severity: str,
    drugs: list[str],
    close: dict[str, Any],
) -> None:
    assert _findings(kb, patient, "sparql").get(KG + rule) == (severity, drugs)
    assert KG + rule not in _findings(kb, close, "sparql")


@pytest.mark.parametrize(
    "drug", ["prazosin", "tamsulosin", "nifedipine", "verapamil", "isosorbide mononitrate", "ramipril", "valsartan"]
)
def test_every_vasodilator_class_stopp_k3_names_is_flagged(kb: KnowledgeBase, drug: str) -> None:
    """STOPP K3 names alpha-1 blockers, calcium channel blockers, long-acting nitrates, ACE inhibitors and ARBs."""
    patient = {"age_years": 75, "conditions": ["orthostatic hypotension"], "medications": [{"drug": drug}]}
    assert _findings(kb, patient).get(KG + "rule-stopp-vasodilator-orthostatic-hypotension") == ("major", [drug])


def test_orthostatic_hypotension_coded_in_icd10_is_recognised(kb: KnowledgeBase) -> None:
    """ICD-10 I95.1 (orthostatic hypotension) resolves to the new condition."""
    patient = {
        "age_years": 75,
        "conditions": ["Orthostatic hypotension [ICD-10 I95.1]"],
        "medications": [{"drug": "losartan"}],
    }
    assert _findings(kb, patient).get(KG + "rule-stopp-vasodilator-orthostatic-hypotension") == ("major", ["losartan"])


def test_cholinesterase_inhibitor_pairs_replace_the_general_bradycardia_count(kb: KnowledgeBase) -> None:
    """The STOPP D11 pairs supersede the two-bradycardic-drugs count for the same drugs (kg/rules/supersedes.ttl)."""
    found = _findings(kb, {"age_years": 79, "medications": [{"drug": "donepezil"}, {"drug": "verapamil"}]})
    assert KG + "rule-stopp-cholinesterase-inhibitor-verapamil-diltiazem" in found
    assert KG + "rule-bradycardia-two" not in found


def test_bradyarrhythmia_rule_keeps_the_monitoring_advice(kb: KnowledgeBase) -> None:
    """With bradycardia recorded, D11 (major) is reported beside the monitoring rule: if continued, check pulse and ECG."""
    with_brady = _findings(kb, {"age_years": 83, "conditions": ["bradycardia"], "medications": [{"drug": "donepezil"}]})
    without = _findings(kb, {"age_years": 83, "medications": [{"drug": "donepezil"}]})
    assert with_brady.get(KG + "rule-stopp-cholinesterase-inhibitor-bradyarrhythmia") == ("major", ["donepezil"])
    assert KG + "rule-stopp-cholinesterase-inhibitor-bradyarrhythmia" not in without
    for found in (with_brady, without):
        assert found.get(KG + "rule-donepezil-bradycardia") == ("moderate", ["donepezil"])


def test_new_rules_cite_stopp_v2_with_an_uncertainty_note(kb: KnowledgeBase) -> None:
    """Read in the v2 wording: each finding cites src-stopp-start-v2 and flags its unconfirmed v3 number."""
    patient = {"age_years": 80, "conditions": ["orthostatic hypotension"], "medications": [{"drug": "doxazosin"}]}
    report = check(patient, kb=kb)
    (finding,) = [f for f in report.findings if f.rule == KG + "rule-stopp-vasodilator-orthostatic-hypotension"]
    v2 = [ref for ref in finding.sources if "K3" in (ref.locator or "")]
    assert v2 and all(ref.uncertain and "version 3" in (ref.uncertainty_note or "") for ref in v2)
    assert all(ref.uncertain for ref in finding.sources)


@pytest.mark.parametrize(
    ("rule", "criterion"),
    [
        ("rule-falls-benzodiazepine", "K1"),
        ("rule-falls-antipsychotic", "K2"),
        ("rule-falls-zdrug", "K4"),
        ("rule-beers-dementia-anticholinergic", "D8"),
        ("rule-beers-ddi-two-anticholinergics", "M1"),
    ],
)
def test_stopp_criteria_already_expressed_by_beers_rules_are_cited_there(
    kb: KnowledgeBase, rule: str, criterion: str
) -> None:
    """Not duplicated: the existing Beers rule carries the STOPP citation."""
    patients: dict[str, dict[str, Any]] = {
        "rule-falls-benzodiazepine": {"conditions": ["history of falls"], "medications": [{"drug": "lorazepam"}]},
        "rule-falls-antipsychotic": {"conditions": ["history of falls"], "medications": [{"drug": "haloperidol"}]},
        "rule-falls-zdrug": {"conditions": ["history of falls"], "medications": [{"drug": "zolpidem"}]},
        "rule-beers-dementia-anticholinergic": {"conditions": ["dementia"], "medications": [{"drug": "amitriptyline"}]},
        "rule-beers-ddi-two-anticholinergics": {"medications": [{"drug": "oxybutynin"}, {"drug": "amitriptyline"}]},
    }
    report = check({"age_years": 80, **patients[rule]}, kb=kb)
    (finding,) = [f for f in report.findings if f.rule == KG + rule]
    assert any("STOPP criteri" in (ref.locator or "") and criterion in (ref.locator or "") for ref in finding.sources)
