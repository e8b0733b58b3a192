"""Label contraindications a new-user trial found missing, each checked by patient values from its source.

- Ketorolac boxed warning (src-label-ketorolac-tablets): contraindicated with active or past peptic
  ulcer or gastrointestinal bleeding, at any age (the Beers rule only covers 65 and over).
  A condition coded in ICD-10 below the categories the knowledge base lists (K25-K28, K92.0-K92.2,
  Z87.11) is matched through the ICD-10 hierarchy (medkg.names.icd10_ancestors).
- Promethazine boxed warning (src-label-promethazine): not under 2 years of age.
- Rosuvastatin and simvastatin: contraindicated in decompensated cirrhosis (Child-Pugh C as the
  proxy, as for atorvastatin); both marked uncertain, read in secondary summaries.
- STOPP H1 (src-stopp-start-v2, NSAID other than COX-2 selective "with history of peptic ulcer disease
  or gastrointestinal bleeding"): the bleeding half, for an older adult with a bleed and no ulcer; a
  bleeding ulcer is both (kg:BleedingPepticUlcer, HL7 PDDI CDS 'Upper gastrointestinal bleed' value
  set for SNOMED CT, K25-K28 .0/.2/.4/.6 for ICD-10), reported once by the Beers ulcer rule.
  STOPP H9 (oral bisphosphonates): peptic ulcer "or upper gastrointestinal bleeding", not a lower one.
- Warfarin: a history of GI bleeding is a labelled bleeding risk factor (COUMADIN 5.1, src-label-coumadin).
- Pravastatin (current label, section 4: acute liver failure or decompensated cirrhosis), lovastatin
  (immediate-release DailyMed label: active liver disease) and pitavastatin (Medscape
  summary; 2019 LIVALO label: active liver disease): the same Child-Pugh C proxy, marked uncertain.
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase
from medkg.report import Report


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


KG = "https://w3id.org/medkg/kg/"


def _rules(report: Report) -> dict[str, list[str]]:
    """A report's findings as rule name (without the kg: namespace) -> drugs."""
    return {(f.rule or "").removeprefix(KG): f.drugs for f in report.findings if f.rule}


@pytest.mark.parametrize(
    "condition",
    [
        "gi bleed",
        "lower gi bleeding",
        "upper GI bleed",
        "haematemesis",
        "Melena [ICD-10 K92.1]",
        "Gastric hemorrhage [SNOMED CT 61401005]",
        "gastrointestinal bleeding (resolved)",  # a past bleed counts
    ],
)
def test_stopp_h1_an_nsaid_after_a_gi_bleed_in_an_older_adult(kb: KnowledgeBase, condition: str) -> None:
    """STOPP H1's bleeding half: a non-selective NSAID after any gastrointestinal bleed, age 65 or more."""
    patient = {"age_years": 78, "conditions": [condition], "medications": [{"drug": "naproxen"}]}
    report = check(patient, kb=kb)
    found = _rules(report)
    assert found.get("rule-stopp-nsaid-gi-bleeding-history") == ["naproxen"]
    assert "rule-beers-ulcer-nsaid" not in found  # a bleed is not an ulcer
    (finding,) = [f for f in report.findings if f.rule == KG + "rule-stopp-nsaid-gi-bleeding-history"]
    assert (finding.kind, finding.severity) == ("caution", "major")
    assert any("STOPP criterion H1" in (ref.locator or "") and ref.uncertain for ref in finding.sources)


@pytest.mark.parametrize(
    ("patient", "fires"),
    [
        ({"age_years": 64, "conditions": ["gi bleed"], "medications": [{"drug": "ibuprofen"}]}, False),  # STOPP: 65+
        ({"age_years": 78, "conditions": ["hypertension"], "medications": [{"drug": "ibuprofen"}]}, False),
        ({"age_years": 78, "conditions": ["gi bleed"], "medications": [{"drug": "celecoxib"}]}, False),  # COX-2
        ({"age_years": 78, "conditions": ["gi bleed"], "medications": [{"drug": "ibuprofen"}]}, True),
    ],
)
def test_stopp_h1_bleeding_half_only_where_its_terms_hold(
    kb: KnowledgeBase, patient: dict[str, Any], fires: bool
) -> None:
    assert ("rule-stopp-nsaid-gi-bleeding-history" in _rules(check(patient, kb=kb))) is fires


@pytest.mark.parametrize(
    "condition",
    [
        "bleeding ulcer",
        "bleeding duodenal ulcer",
        "Acute gastric ulcer with hemorrhage [SNOMED CT 89748001]",
        "Chronic duodenal ulcer with hemorrhage but without obstruction [SNOMED CT 62341002]",
        "Duodenal ulcer with haemorrhage [ICD-10 K26.4]",
        "Gastrojejunal ulcer [ICD-10 K28.6]",
    ],
)
def test_a_bleeding_ulcer_is_an_ulcer_and_an_upper_gi_bleed(kb: KnowledgeBase, condition: str) -> None:
    """Both halves meet: the Beers ulcer rule (which cites H1 too) is reported alone; H9 fires for the bisphosphonate."""
    patient = {
        "age_years": 78,
        "conditions": [condition],
        "medications": [{"drug": "naproxen"}, {"drug": "alendronate"}],
    }
    report = check(patient, kb=kb)
    assert {"PatientWithPepticUlcerHistory", "PatientWithUpperGIBleedingHistory"} <= set(report.patient.populations)
    found = _rules(report)
    assert found.get("rule-beers-ulcer-nsaid") == ["naproxen"]
    assert "rule-stopp-nsaid-gi-bleeding-history" not in found  # superseded for the same drug
    assert found.get("rule-stopp-oral-bisphosphonate-ulcer") == ["alendronate"]


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ("peptic ulcer", True),
        ("upper gastrointestinal bleeding", True),
        ("hematemesis [ICD-10 K92.0]", True),
        ("lower gi bleed", False),  # H9 names upper gastrointestinal bleeding only
        ("gastrointestinal haemorrhage", False),  # site unknown
        ("Perforated duodenal ulcer [ICD-10 K26.5]", True),  # an ulcer, not a bleed
    ],
)
def test_stopp_h9_oral_bisphosphonate_with_an_ulcer_or_upper_gi_bleed(
    kb: KnowledgeBase, condition: str, fires: bool
) -> None:
    patient = {"age_years": 78, "conditions": [condition], "medications": [{"drug": "alendronate"}]}
    assert ("rule-stopp-oral-bisphosphonate-ulcer" in _rules(check(patient, kb=kb))) is fires


def test_perforation_alone_is_not_a_bleed(kb: KnowledgeBase) -> None:
    """K26.5 (chronic duodenal ulcer with perforation) is an ulcer by its category, not a bleeding ulcer."""
    patient = {"age_years": 78, "conditions": ["Duodenal ulcer [ICD-10 K26.5]"], "medications": [{"drug": "naproxen"}]}
    report = check(patient, kb=kb)
    assert "PatientWithPepticUlcerHistory" in report.patient.populations
    assert "PatientWithGIBleedingHistory" not in report.patient.populations


def test_the_owl_engine_agrees_on_a_bleeding_ulcer(kb: KnowledgeBase) -> None:
    """The two new subclasses and the union population: HermiT and the compiled classifier agree."""
    patient = {
        "age_years": 78,
        "conditions": ["bleeding ulcer", "haematemesis"],
        "medications": [{"drug": "naproxen"}, {"drug": "alendronate"}],
    }
    assert _rules(check(patient, kb=kb, engine="owl")) == _rules(check(patient, kb=kb))


@pytest.mark.parametrize(
    ("condition", "fires"),
    [("gi bleed", True), ("bleeding ulcer", True), ("Melena [ICD-10 K92.1]", True), ("peptic ulcer", False)],
)
def test_warfarin_after_a_gi_bleed_is_a_labelled_bleeding_risk(kb: KnowledgeBase, condition: str, fires: bool) -> None:
    """COUMADIN 5.1 (src-label-coumadin) lists a history of GI bleeding among the risk factors for bleeding."""
    patient = {"age_years": 50, "conditions": [condition], "medications": [{"drug": "warfarin"}]}
    found = [f for f in check(patient, kb=kb).findings if f.rule == KG + "rule-warfarin-gi-bleeding-history"]
    assert [(f.kind, f.severity, f.drugs) for f in found] == ([("caution", "moderate", ["warfarin"])] if fires else [])


@pytest.mark.parametrize(
    ("patient", "expected"),
    [
        # any age: the boxed warning, not an older-adult criterion
        ({"age_years": 50, "conditions": ["bleeding ulcer"], "medications": [{"drug": "naproxen"}]}, ["naproxen"]),
        ({"age_years": 50, "conditions": ["melena"], "medications": [{"drug": "ibuprofen"}]}, ["ibuprofen"]),
        # COX-2-selective: outside Beers and STOPP H1, inside the boxed warning
        ({"age_years": 78, "conditions": ["gi bleed"], "medications": [{"drug": "celecoxib"}]}, ["celecoxib"]),
        # older adult, non-selective: the Beers or STOPP finding says it instead
        ({"age_years": 78, "conditions": ["gi bleed"], "medications": [{"drug": "naproxen"}]}, []),
        ({"age_years": 78, "conditions": ["peptic ulcer"], "medications": [{"drug": "naproxen"}]}, []),
        ({"age_years": 50, "conditions": ["hypertension"], "medications": [{"drug": "naproxen"}]}, []),
    ],
)
def test_the_nsaid_boxed_warning_after_an_ulcer_or_bleed_at_any_age(
    kb: KnowledgeBase, patient: dict[str, Any], expected: list[str]
) -> None:
    """Found 2026-12-02 (new-user trial): naproxen at 50 after a bleeding ulcer, or celecoxib at 78 after a bleed, gave nothing."""
    found = [f for f in check(patient, kb=kb).findings if f.rule == KG + "rule-nsaid-ulcer-or-gi-bleeding-history"]
    assert [drug for f in found for drug in f.drugs] == expected
    assert all((f.kind, f.severity) == ("caution", "moderate") for f in found)


@pytest.mark.parametrize(
    "condition",
    ["melena", "history of GI bleed", "prior GI bleed", "upper GI haemorrhage", "coffee ground emesis",
     "history of peptic ulcer disease", "history of bleeding peptic ulcer", "GIB", "hematochezia"],
)  # fmt: skip
def test_the_ways_clinicians_write_a_bleed_or_an_ulcer_are_recognised(kb: KnowledgeBase, condition: str) -> None:
    """Names a new-user trial found 'not used' (2026-12-02)."""
    report = check({"age_years": 78, "conditions": [condition], "medications": [{"drug": "naproxen"}]}, kb=kb)
    assert report.not_used == []
    assert "PatientWithUlcerOrGIBleedingHistory" in report.patient.populations
