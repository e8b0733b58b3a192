"""Drugs and brand names a new-user trial found unidentified, now in the catalogue.

Each added ingredient is identified by name and brand, carries the codes that were read (the
sources are named in each test and, in full, in the row's ``locator`` column), and is reached by an
existing class-level rule through its class membership. Codes read:

- Beta blockers (kg:BetaBlocker, ATC C07A): RXCUIs from the VSAC value set "Beta Blocker Therapy
  Ingredient" (OID 2.16.840.1.113883.3.526.3.1493, canvas-medical/canvas-plugins
  canvas_sdk/value_set/v2026/allergy.py) and the RxNav/ATC-derived C07A list in Hadlock-Lab
  medications_cc_registry.py; ATC codes from the Pharmacolibrary C07A model tree.
- Fluvastatin (kg:Statin): RXCUI from the VSAC value set "Statin Allergen" (same canvas file); ATC
  from Pharmacolibrary C10AA04_Fluvastatin.
- Levocetirizine and desloratadine (kg:SecondGenerationAntihistamine): ATC from Pharmacolibrary
  R06AE09 and R06AX27; desloratadine's RXCUI from a public RxNav-resolved code table; no RXCUI
  for levocetirizine could be corroborated, so none is recorded.
- Combination brands with pseudoephedrine, which medkg does not model: openFDA NDC records
  50580-728 (Zyrtec-D), 11523-4332 (Claritin-D 24 Hour) and 41167-4320 (Allegra-D).
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import resource_root
from medkg.report import Finding, Report
from medkg.tables import DRUG_COLUMNS, read_table

KG = "https://w3id.org/medkg/kg/"


def _rows() -> dict[str, dict[str, str]]:
    return {
        row["id"]: row
        for path in sorted((resource_root() / "kg" / "drugs").glob("*.tsv"))
        for row in read_table(path, DRUG_COLUMNS)
    }


def _patient(age: float, *drugs: str) -> dict[str, Any]:
    return {
        "id": "catalogue-additions",
        "age_years": age,
        "sex": "female",
        "crcl_ml_min": 90,
        "medications": [{"drug": drug} for drug in drugs],
    }


def _fired(report: Report, rule: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == KG + rule]


# (id, brand or None, RXCUI ("" when none could be corroborated), ATC, class)
ADDED = [
    ("acebutolol", None, "149", "C07AB04", "BetaBlocker"),
    ("pindolol", None, "8332", "C07AA03", "BetaBlocker"),
    ("timolol", None, "10600", "C07AA06", "BetaBlocker"),
    ("esmolol", "Brevibloc", "49737", "C07AB09", "BetaBlocker"),
    ("fluvastatin", "Lescol", "41127", "C10AA04", "Statin"),
    ("levocetirizine", "Xyzal", "", "R06AE09", "SecondGenerationAntihistamine"),
    ("desloratadine", "Clarinex", "275635", "R06AX27", "SecondGenerationAntihistamine"),
]


@pytest.mark.parametrize(("drug", "brand", "rxcui", "atc", "drug_class"), ADDED, ids=[a[0] for a in ADDED])
def test_added_drug_is_identified_with_its_codes_and_class(
    kb: KnowledgeBase, drug: str, brand: str | None, rxcui: str, atc: str, drug_class: str
) -> None:
    """Name and brand resolve to the ingredient; RXCUI, ATC and class are the ones read (module docstring)."""
    names = [drug] + ([brand] if brand else [])
    for name in names:
        assert kb.composition_of(name) == ([KG + drug], []), name
        report = check(_patient(50, name), kb=kb)
        assert [(a.input, a.drug) for a in report.assessed] == [(name, drug)]
    row = _rows()[drug]
    assert row["rxcui"] == rxcui
    assert row["atc"] == atc
    assert row["classes"].split("|") == [drug_class]
    assert row["locator"], "where the codes were read is stated"


@pytest.mark.parametrize("beta_blocker", ["acebutolol", "pindolol", "timolol", "esmolol"])
def test_beta_blocker_with_verapamil_in_an_older_adult_is_stopp_b3(kb: KnowledgeBase, beta_blocker: str) -> None:
    """STOPP v3 B3 (kg:src-stopp-start-v3) is written on the class: membership of kg:BetaBlocker makes it apply."""
    fired = _fired(check(_patient(70, beta_blocker, "verapamil"), kb=kb), "rule-stopp-beta-blocker-verapamil-diltiazem")
    assert len(fired) == 1
    assert fired[0].severity == "major"
    assert sorted(fired[0].drugs) == sorted([beta_blocker, "verapamil"])


@pytest.mark.parametrize("beta_blocker", ["acebutolol", "timolol"])
def test_beta_blocker_with_verapamil_below_65_or_with_a_dihydropyridine_is_not_stopp_b3(
    kb: KnowledgeBase, beta_blocker: str
) -> None:
    """Close negatives: STOPP covers older adults only, and amlodipine is not a rate-limiting calcium channel blocker."""
    rule = "rule-stopp-beta-blocker-verapamil-diltiazem"
    assert not _fired(check(_patient(50, beta_blocker, "verapamil"), kb=kb), rule)
    assert not _fired(check(_patient(70, beta_blocker, "amlodipine"), kb=kb), rule)


def test_timolol_with_diltiazem_and_esmolol_with_metoprolol(kb: KnowledgeBase) -> None:
    """Diltiazem is the other drug of STOPP B3; two different beta blockers are a duplicate class (STOPP A3)."""
    report = check(_patient(70, "timolol", "diltiazem"), kb=kb)
    assert [f.severity for f in _fired(report, "rule-stopp-beta-blocker-verapamil-diltiazem")] == ["major"]
    duplicate = _fired(check(_patient(50, "Brevibloc", "metoprolol"), kb=kb), "rule-duplicate-betablocker")
    assert [(f.severity, sorted(f.drugs)) for f in duplicate] == [("major", ["esmolol", "metoprolol"])]


def test_fluvastatin_with_colchicine_and_with_another_statin(kb: KnowledgeBase) -> None:
    """The colchicine label's Table 4 names fluvastatin among the statins (kg:src-label-c1-colchicine)."""
    fired = _fired(check(_patient(50, "fluvastatin", "colchicine"), kb=kb), "rule-colchicine-statin")
    assert [(f.severity, sorted(f.drugs)) for f in fired] == [("moderate", ["colchicine", "fluvastatin"])]
    duplicate = _fired(check(_patient(50, "Lescol XL", "atorvastatin"), kb=kb), "rule-duplicate-statin")
    assert [(f.severity, sorted(f.drugs)) for f in duplicate] == [("moderate", ["atorvastatin", "fluvastatin"])]
    assert not _fired(check(_patient(50, "fluvastatin", "allopurinol"), kb=kb), "rule-colchicine-statin")


@pytest.mark.parametrize(("brand", "generic"), [("Xyzal", "levocetirizine"), ("Clarinex", "desloratadine")])
def test_antihistamine_brand_and_generic_together_are_one_ingredient_twice(
    kb: KnowledgeBase, brand: str, generic: str
) -> None:
    """The same-ingredient rule applies to every medkg:Drug; the brand now maps to its ingredient."""
    fired = _fired(check(_patient(50, brand, generic), kb=kb), "rule-duplicate-same-ingredient")
    assert [(f.severity, f.drugs) for f in fired] == [("moderate", [generic])]
    assert not _fired(check(_patient(50, brand, "montelukast"), kb=kb), "rule-duplicate-same-ingredient")


def test_fexmid_is_cyclobenzaprine(kb: KnowledgeBase) -> None:
    """Fexmid is cyclobenzaprine hydrochloride 7.5 mg tablets (openFDA NDC 64980-705)."""
    assert kb.composition_of("Fexmid") == ([KG + "cyclobenzaprine"], [])
    assert "Fexmid" in _rows()["cyclobenzaprine"]["brand_names"].split("|")
    fired = _fired(check(_patient(50, "Fexmid", "cyclobenzaprine"), kb=kb), "rule-duplicate-same-ingredient")
    assert [f.drugs for f in fired] == [["cyclobenzaprine"]]


TABLE_NAMES = {"Zyrtec-D", "Claritin-D", "Claritin-D 24 Hour", "Allegra-D", "loratadine-pseudoephedrine"}

PSEUDOEPHEDRINE_PRODUCTS = [
    ("Zyrtec-D", "cetirizine"),
    ("Zyrtec D", "cetirizine"),
    ("Claritin-D", "loratadine"),
    ("Claritin-D 24 Hour", "loratadine"),
    ("Allegra-D", "fexofenadine"),
    ("cetirizine/pseudoephedrine", "cetirizine"),
    ("loratadine-pseudoephedrine", "loratadine"),
    ("fexofenadine and pseudoephedrine", "fexofenadine"),
]


@pytest.mark.parametrize(("product", "antihistamine"), PSEUDOEPHEDRINE_PRODUCTS)
def test_antihistamine_pseudoephedrine_product_checks_the_antihistamine_and_says_pseudoephedrine_was_not(
    kb: KnowledgeBase, product: str, antihistamine: str
) -> None:
    """openFDA NDC records (module docstring) list the antihistamine and pseudoephedrine as the two actives."""
    assert kb.composition_of(product) == ([KG + antihistamine], ["pseudoephedrine"])
    report = check(_patient(50, product), kb=kb)
    assert [(a.input, a.drug) for a in report.assessed] == [(product, antihistamine)]
    not_assessed = [f for f in report.findings if f.kind == "not-assessed" and f.drugs == ["pseudoephedrine"]]
    assert len(not_assessed) == 1
    if product in TABLE_NAMES:  # a spelling variant or a written-out combination is reported without the citation
        assert not_assessed[0].sources, "the unmodelled ingredient is cited"
    assert not [f for f in report.findings if f.drugs == [product]], "the product is not reported unidentified"


def test_pseudoephedrine_product_with_its_plain_antihistamine_is_a_duplicate(kb: KnowledgeBase) -> None:
    """Zyrtec-D plus Zyrtec is cetirizine twice: the same-ingredient rule fires; Zyrtec-D with loratadine does not."""
    fired = _fired(check(_patient(50, "Zyrtec-D", "Zyrtec"), kb=kb), "rule-duplicate-same-ingredient")
    assert [f.drugs for f in fired] == [["cetirizine"]]
    assert not _fired(check(_patient(50, "Zyrtec-D", "loratadine"), kb=kb), "rule-duplicate-same-ingredient")
