"""General maximum daily doses read in US labels (kg/rules/label-max-doses-*.ttl), curated 2026-12-02.

Each drug: a dose at the label's maximum gives no max-dose finding; a dose above it gives exactly
one, moderate, citing the label copy read (sources in kg/sources/label-max-doses-*.ttl).

- Tizanidine 36 mg/day (Zanaflex, total daily dose not to exceed 36 mg; Drugs.com reproduction).
- Mirtazapine 45 mg/day (label 2.1, up to a maximum of 45 mg per day; openFDA record).
- Buspirone 60 mg/day (BuSpar, maximum daily dosage not to exceed 60 mg; Drugs.com reproduction).
- Eszopiclone 3 mg/day (LUNESTA section 2; Drugs.com reproduction); the older-adult 2 mg rule supersedes it.
- Ramelteon 8 mg/day (ROZEREM, total dose not to exceed 8 mg per day; RxList reproduction).
- Zaleplon 20 mg/day (SONATA, doses above 20 mg not adequately evaluated, not recommended): uncertain.
- Pitavastatin 4 mg/day (LIVALO 2.2, maximum recommended dosage 4 mg once daily; two label copies); 2 mg
  below eGFR 60 (2.3), which supersedes it. Eszopiclone: 2 mg in Child-Pugh C (LUNESTA), likewise.
- Ranolazine 2000 mg/day (extended-release label 2.1, maximum 1000 mg twice daily; DrugCentral copy).
- Perindopril 16 mg/day (ACEON 2.1, hypertension, maximum 16 mg per day; DailyMed): uncertain, the
  ceiling is stated for hypertension and applied to every indication.
- Nebivolol 40 mg/day (BYSTOLIC, titration up to 40 mg; GlobalRPh copy): uncertain, not called a maximum.
- Cetirizine 10 mg/day (OTC Drug Facts, not more than one 10 mg capsule in 24 hours; DailyMed); beside
  the CrCl-below-30 rule (5 mg/day, minor), not superseded by it.
- Loratadine 10 mg/day (OTC Drug Facts, not more than 1 tablet in 24 hours; DailyMed).
- Fexofenadine 180 mg/day (OTC Drug Facts of 180 mg tablets; DailyMed): uncertain for other products.
- Oxcarbazepine 2400 mg/day (TRILEPTAL, monotherapy maximum; 1200 mg/day adjunctive; Drugs.com
  reproduction): uncertain, indication-dependent, the higher value encoded.
- Cyclobenzaprine 30 mg/day (AMRIX, some patients may need up to 30 mg/day; FLEXERIL 10 mg three times
  a day, quoted by a Q&A site): uncertain, not phrased as a maximum.
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase

KG = "https://w3id.org/medkg/kg/"

TIZANIDINE = "http://www.drugs.com/dosage/zanaflex.html"
MIRTAZAPINE = "https://api.fda.gov/drug/label.json?search=set_id%3A%22dea8c09a-b759-1da7-e053-2a95a90a3346%22"
BUSPIRONE = "https://www.drugs.com/dosage/buspar.html"
ESZOPICLONE = "https://www.drugs.com/dosage/lunesta.html"
RAMELTEON = "http://www.rxlist.com/rozerem-drug/indications-dosage.htm"
ZALEPLON = "http://www.rxlist.com/sonata-drug/indications-dosage.htm"
PITAVASTATIN = (
    "https://pillsync.com/drug/pitavastatin-calcium-2-MG-Oral-Tablet-Livalo/ROUND_WHITE_2-KC/66869-104-90/"
    "44dcbf97-99ec-427c-ba50-207e0069d6d2"
)
PITAVASTATIN_2019 = "https://www.rxreasoner.com/monographs/livalo/usage"
RANOLAZINE = "https://drugcentral.org/label/49873158-5c0a-41da-86a2-369ef6b0cbc8/view"
PERINDOPRIL = "http://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=340846a3-896e-40bf-a4d0-419922df71a1"
NEBIVOLOL = "https://globalrph.com/renal/nebivolol/"
CETIRIZINE = "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?audience=professional&setid=a57a0dbe-0926-4b25-a5d7-b8d499d67158"
LORATADINE = "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=2bc586e4-5297-44cf-e063-6294a90a531d"
FEXOFENADINE = "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=013ef192-5184-b720-e063-6394a90a98c4"
OXCARBAZEPINE = "https://www.drugs.com:443/dosage/trileptal.html"
AMRIX = "https://fda.report/DailyMed/3902123b-1365-ac3c-0934-afff9eeeb1bd"
FLEXERIL = "https://www.droracle.ai/articles/590296/what-is-the-recommended-dosing-for-flexeril-cyclobenzaprine"

#: drug -> (dose at the maximum (mg, times per day), dose above it, source URLs cited, marked uncertain)
CEILINGS: dict[str, tuple[tuple[float, float], tuple[float, float], list[str], bool]] = {
    "tizanidine": ((12, 3), (14, 3), [TIZANIDINE], False),
    "mirtazapine": ((22.5, 2), (30, 2), [MIRTAZAPINE], False),
    "buspirone": ((20, 3), (25, 3), [BUSPIRONE], False),
    "eszopiclone": ((3, 1), (4, 1), [ESZOPICLONE], False),
    "ramelteon": ((8, 1), (16, 1), [RAMELTEON], False),
    "zaleplon": ((10, 2), (20, 2), [ZALEPLON], True),
    "pitavastatin": ((4, 1), (8, 1), [PITAVASTATIN, PITAVASTATIN_2019], False),
    "ranolazine": ((1000, 2), (1000, 3), [RANOLAZINE], False),
    "perindopril": ((8, 2), (12, 2), [PERINDOPRIL], True),
    "nebivolol": ((40, 1), (50, 1), [NEBIVOLOL], True),
    "cetirizine": ((10, 1), (20, 1), [CETIRIZINE], False),
    "loratadine": ((5, 2), (10, 2), [LORATADINE], False),
    "fexofenadine": ((180, 1), (360, 1), [FEXOFENADINE], True),
    "oxcarbazepine": ((1200, 2), (1500, 2), [OXCARBAZEPINE], True),
    "cyclobenzaprine": ((10, 3), (15, 3), [AMRIX, FLEXERIL], True),
}


def _patient(drug: str, dose_mg: float, times_per_day: float, **values: Any) -> dict[str, Any]:
    return {
        "age_years": 50,
        "sex": "female",
        "weight_kg": 70,
        "crcl_ml_min": 90,
        **values,
        "medications": [{"drug": drug, "dose_mg": dose_mg, "times_per_day": times_per_day}],
    }


def _rule(drug: str) -> str:
    return f"{KG}rule-{drug}-max-daily-dose"


@pytest.mark.parametrize("drug", sorted(CEILINGS))
def test_the_maximum_itself_gives_no_max_dose_finding(kb: KnowledgeBase, drug: str) -> None:
    report = check(_patient(drug, *CEILINGS[drug][0]), kb=kb)
    assert [f.rule for f in report.findings if f.kind == "max-dose"] == []
    assert not [note for note in report.notes if "daily maximum" in note]  # the dose met a maximum


@pytest.mark.parametrize("drug", sorted(CEILINGS))
def test_a_dose_above_the_maximum_gives_one_cited_max_dose_finding(kb: KnowledgeBase, drug: str) -> None:
    _, above, urls, uncertain = CEILINGS[drug]
    report = check(_patient(drug, *above), kb=kb)
    (finding,) = [f for f in report.findings if f.kind == "max-dose"]
    assert (finding.rule, finding.severity, finding.drugs) == (_rule(drug), "moderate", [drug])
    assert sorted(str(source.url) for source in finding.sources) == sorted(urls)
    assert all(source.uncertain for source in finding.sources) is uncertain


@pytest.mark.parametrize(
    ("drug", "dose", "values", "specific"),
    [
        ("eszopiclone", (4, 1), {"age_years": 70}, "rule-eszopiclone-older-adult-max-dose"),
        ("eszopiclone", (3, 1), {"child_pugh": "C"}, "rule-eszopiclone-severe-hepatic-max-dose"),  # LUNESTA: 2 mg
        ("pitavastatin", (4, 1), {"egfr_ml_min_1_73m2": 40}, "rule-pitavastatin-egfr-below-60-max-dose"),  # LIVALO 2.3
    ],
)
def test_a_population_ceiling_supersedes_the_general_one(
    kb: KnowledgeBase, drug: str, dose: tuple[float, float], values: dict[str, Any], specific: str
) -> None:
    """An older adult on eszopiclone 4 mg, Child-Pugh C on 3 mg, eGFR 40 on pitavastatin 4 mg: the specific rule's finding only.

    Found 2026-12-02 (new-user trial): the last two passed without a word once the general ceiling
    had been added, where before a note had said the dose was not checked.
    """
    report = check(_patient(drug, *dose, **values), kb=kb)
    assert [f.rule for f in report.findings if f.rule in {_rule(drug), KG + specific}] == [KG + specific]
    at_cap = check(_patient(drug, 2, 1, **values), kb=kb)
    assert KG + specific not in {f.rule for f in at_cap.findings}


def test_cetirizine_above_both_ceilings_at_low_crcl_gives_both(kb: KnowledgeBase) -> None:
    """20 mg/day at CrCl 20: above the renal 5 mg (minor) and the general 10 mg (moderate); the milder must not hide the other."""
    report = check(_patient("cetirizine", 20, 1, crcl_ml_min=20), kb=kb)
    found = {f.rule: f.severity for f in report.findings if f.rule and "cetirizine" in f.rule}
    assert found == {_rule("cetirizine"): "moderate", KG + "rule-cetirizine-crcl-below-30-max-dose": "minor"}
