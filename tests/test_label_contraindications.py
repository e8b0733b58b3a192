"""Label contraindications a new-user trial found missing, each checked by patient values from its source.

- Ketorolac boxed warning (src-label-ketorolac-tablets): contraindicated with active or past peptic
  ulcer or gastrointestinal bleeding, at any age (the Beers rule only covers 65 and over).
  A condition coded in ICD-10 below the categories the knowledge base lists (K25-K28, K92.0-K92.2,
  Z87.11) is matched through the ICD-10 hierarchy (medkg.names.icd10_ancestors).
- Promethazine boxed warning (src-label-promethazine): not under 2 years of age.
- Rosuvastatin and simvastatin: contraindicated in decompensated cirrhosis (Child-Pugh C as the
  proxy, as for atorvastatin); both marked uncertain, read in secondary summaries.
- Pravastatin (current label, section 4: acute liver failure or decompensated cirrhosis), lovastatin
  (immediate-release DailyMed label: active liver disease) and pitavastatin (Medscape
  summary; 2019 LIVALO label: active liver disease): the same Child-Pugh C proxy, marked uncertain.
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase


def _contraindications(kb: KnowledgeBase, patient: dict[str, Any], engine: str = "default") -> dict[str, list[str]]:
    report = check(patient, kb=kb, engine=engine)
    assert "does not replace, clinical judgement" in report.disclaimer
    return {f.rule or "": f.drugs for f in report.findings if f.severity == "contraindicated"}


@pytest.mark.parametrize(
    "condition",
    ["duodenal ulcer", "peptic ulcer", "stomach ulcer", "gi bleed", "gastrointestinal bleeding", "upper GI bleed"],
)
def test_ketorolac_with_an_ulcer_or_gi_bleed_is_contraindicated_at_40(kb: KnowledgeBase, condition: str) -> None:
    patient = {"age_years": 40, "conditions": [condition], "medications": [{"drug": "ketorolac"}]}
    found = _contraindications(kb, patient)
    assert found.get("https://w3id.org/medkg/kg/rule-ketorolac-ulcer-or-gi-bleeding") == ["ketorolac"]


def test_ketorolac_without_ulcer_history_has_no_gi_contraindication(kb: KnowledgeBase) -> None:
    found = _contraindications(
        kb, {"age_years": 40, "conditions": ["hypertension"], "medications": [{"drug": "ketorolac"}]}
    )
    assert "https://w3id.org/medkg/kg/rule-ketorolac-ulcer-or-gi-bleeding" not in found


def test_a_past_gi_bleed_counts_like_a_past_ulcer(kb: KnowledgeBase) -> None:
    """Both conditions count when past (medkg:countsWhenPast): a healed bleed is still a contraindication."""
    patient = {
        "age_years": 50,
        "conditions": ["gastrointestinal bleeding (resolved)"],
        "medications": [{"drug": "ketorolac"}],
    }
    assert "https://w3id.org/medkg/kg/rule-ketorolac-ulcer-or-gi-bleeding" in _contraindications(kb, patient)


@pytest.mark.parametrize(
    "coded",
    [
        "Acute duodenal ulcer with hemorrhage [SNOMED CT 12847006; ICD-10 K26.0]",  # K26: duodenal ulcer
        "Gastric ulcer, unspecified [ICD-10 K25.9]",
        "Melena [ICD-10 K92.1]",  # GI bleeding history: K92.0-K92.2
        "Personal history of peptic ulcer disease [ICD-10 Z87.11] (resolved)",
    ],
)
def test_ketorolac_with_an_ulcer_coded_below_the_listed_icd10_category(kb: KnowledgeBase, coded: str) -> None:
    """A FHIR condition coded more specifically than the knowledge base lists is caught through the ICD-10 hierarchy."""
    patient = {"age_years": 40, "conditions": [coded], "medications": [{"drug": "ketorolac"}]}
    assert _contraindications(kb, patient).get("https://w3id.org/medkg/kg/rule-ketorolac-ulcer-or-gi-bleeding") == [
        "ketorolac"
    ]


@pytest.mark.parametrize(("age", "fires"), [(0.5, True), (1.99, True), (2.0, False), (30, False)])
def test_promethazine_is_contraindicated_under_2_years(kb: KnowledgeBase, age: float, fires: bool) -> None:
    found = _contraindications(
        kb, {"age_years": age, "weight_kg": 7 if age < 2 else 60, "medications": [{"drug": "promethazine"}]}
    )
    assert ("https://w3id.org/medkg/kg/rule-promethazine-under-2-years" in found) is fires


STATINS = ("atorvastatin", "simvastatin", "rosuvastatin", "pravastatin", "lovastatin", "pitavastatin")


@pytest.mark.parametrize(("child_pugh", "fires"), [("C", True), ("B", False), ("A", False)])
def test_statins_in_child_pugh_c(kb: KnowledgeBase, child_pugh: str, fires: bool) -> None:
    patient = {
        "age_years": 60,
        "sex": "male",
        "child_pugh": child_pugh,
        "medications": [{"drug": statin} for statin in STATINS],
    }
    found = _contraindications(kb, patient)
    expected = set(STATINS) if fires else set()
    assert {drug for drugs in found.values() for drug in drugs} == expected


@pytest.mark.parametrize(
    ("statin", "label_url"),
    [
        ("pravastatin", "https://prescriberpoint.com/therapies/pravastatin-sodium-0158f4f"),
        (
            "lovastatin",
            "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=fb1b0b49-749d-41b2-b04f-198de4a5e02f&version=11",
        ),
        ("pitavastatin", "https://reference.medscape.com/drug/livalo-zypitamag-pitavastatin-999209"),
    ],
)
def test_each_statin_alone_in_child_pugh_c_is_an_uncertain_contraindication(
    kb: KnowledgeBase, statin: str, label_url: str
) -> None:
    """One statin, Child-Pugh C: its own rule fires as a contraindication, cited and marked uncertain."""
    rule = f"https://w3id.org/medkg/kg/rule-{statin}-decompensated-liver"
    patient = {"age_years": 60, "sex": "female", "child_pugh": "C", "medications": [{"drug": statin}]}
    report = check(patient, kb=kb)
    (finding,) = [f for f in report.findings if f.rule == rule]
    assert (finding.kind, finding.severity, finding.drugs) == ("contraindication", "contraindicated", [statin])
    assert "decompensated cirrhosis" in finding.summary
    assert "decompensated cirrhosis" in finding.recommendation
    assert all(ref.uncertain and "Child-Pugh" in (ref.uncertainty_note or "") for ref in finding.sources)
    assert label_url in {ref.url for ref in finding.sources}
    assert _contraindications(kb, {**patient, "child_pugh": "A"}) == {}


def test_the_owl_engine_agrees_on_the_union_population(kb: KnowledgeBase) -> None:
    """PatientWithUlcerOrGIBleedingHistory is an owl:unionOf: HermiT and the compiled classifier must agree."""
    patient = {"age_years": 40, "conditions": ["gi bleed"], "medications": [{"drug": "ketorolac"}]}
    assert _contraindications(kb, patient, "owl") == _contraindications(kb, patient)
