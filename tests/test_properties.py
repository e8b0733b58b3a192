"""Property-based tests (hypothesis) over generated patients: invariants a checker must never break.

- no exception escapes for any valid patient;
- the order of medications never changes the findings (so A + B == B + A);
- a single drug never yields a finding about several drugs;
- adding a drug never removes an existing multi-drug finding's drugs from the report (they stay
  covered: a finding may merge into a larger one);
- a brand name gives the same findings as its ingredient;
- every input medication is either assessed or named in a not-assessed finding: nothing vanishes.

CI runs a few dozen examples per property; ``MEDKG_PROPERTY_EXAMPLES=10000 pytest -m properties``
(or ``python scripts/property_run.py``) runs the long campaign.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medkg import check
from medkg.knowledge_base import KnowledgeBase, default_knowledge_base
from medkg.report import Report

pytestmark = pytest.mark.properties

_EXAMPLES = int(os.environ.get("MEDKG_PROPERTY_EXAMPLES", "25"))
_SETTINGS = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _kb() -> KnowledgeBase:
    # the session fixture has built the knowledge base in the test cache; this reuses that build
    return default_knowledge_base()


def _ingredients() -> list[str]:
    kb = _kb()
    return sorted({kb.label(iri) for iri in kb.drug_names.values()})


def _brands() -> dict[str, str]:
    """Ingredient name -> one single-ingredient brand name that resolves to it (from the knowledge base)."""
    kb = _kb()
    found: dict[str, str] = {}
    for row in kb.store.select(kb.query("catalogue/drug-names")):
        if row["nameKind"] == "brand" and len(kb.name_ingredients[str(row["name"]).casefold()]) == 1:
            found.setdefault(kb.label(str(row["drug"])), str(row["name"]))
    return found


@st.composite
def patients(draw: st.DrawFn, min_drugs: int = 1, max_drugs: int = 6) -> dict[str, Any]:
    """A valid patient in the JSON shape: knowledge-base drugs, optional age, sex, renal and hepatic values."""
    drugs = draw(st.lists(st.sampled_from(_ingredients()), min_size=min_drugs, max_size=max_drugs, unique=True))
    patient: dict[str, Any] = {
        "id": "generated",
        "medications": [
            {
                "drug": name,
                **draw(
                    st.one_of(
                        st.just({}),
                        st.fixed_dictionaries(
                            {
                                "dose_mg": st.sampled_from([0.5, 5.0, 10.0, 50.0, 400.0]),
                                "times_per_day": st.sampled_from([1.0, 2.0, 3.0]),
                            }
                        ),
                    )
                ),
            }
            for name in drugs
        ],
    }
    optional = {
        "age_years": st.floats(min_value=18, max_value=100, allow_nan=False).map(lambda v: round(v, 1)),
        "sex": st.sampled_from(["female", "male"]),
        "crcl_ml_min": st.sampled_from([8.0, 25.0, 29.9, 30.0, 45.0, 59.0, 90.0]),
        "child_pugh": st.sampled_from(["A", "B", "C"]),
        "conditions": st.lists(
            st.sampled_from(["copd", "heart failure", "dementia", "falls"]), max_size=2, unique=True
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            patient[key] = draw(strategy)
    return patient


def _findings(report: Report) -> list[str]:
    return [finding.model_dump_json() for finding in report.findings]


def _multi(report: Report) -> list[frozenset[str]]:
    return [frozenset(f.drugs) for f in report.findings if len(f.drugs) > 1 and f.kind != "not-assessed"]


@_SETTINGS
@given(patient=patients(min_drugs=2), data=st.data())
def test_medication_order_never_changes_findings(patient: dict[str, Any], data: st.DataObject) -> None:
    shuffled = dict(patient, medications=data.draw(st.permutations(patient["medications"])))
    assert _findings(check(shuffled, kb=_kb())) == _findings(check(patient, kb=_kb()))


@_SETTINGS
@given(patient=patients(min_drugs=1, max_drugs=1))
def test_a_single_drug_never_yields_a_finding_about_several_drugs(patient: dict[str, Any]) -> None:
    assert _multi(check(patient, kb=_kb())) == []


@_SETTINGS
@given(patient=patients(min_drugs=2, max_drugs=5), extra=st.sampled_from(_ingredients()))
def test_adding_a_drug_keeps_every_multi_drug_finding_covered(patient: dict[str, Any], extra: str) -> None:
    names = {m["drug"] for m in patient["medications"]}
    if extra in names:
        return
    before = _multi(check(patient, kb=_kb()))
    after = _multi(check(dict(patient, medications=[*patient["medications"], {"drug": extra}]), kb=_kb()))
    for drugs in before:
        assert any(drugs <= larger for larger in after), f"{sorted(drugs)} no longer reported after adding {extra}"


@_SETTINGS
@given(patient=patients(min_drugs=1, max_drugs=4), data=st.data())
def test_a_brand_name_gives_the_same_findings_as_its_ingredient(patient: dict[str, Any], data: st.DataObject) -> None:
    brands = _brands()
    branded = [m for m in patient["medications"] if m["drug"] in brands]
    if not branded:
        return
    chosen = data.draw(st.sampled_from(branded))
    renamed = [dict(m, drug=brands[m["drug"]]) if m is chosen else m for m in patient["medications"]]
    assert _findings(check(dict(patient, medications=renamed), kb=_kb())) == _findings(check(patient, kb=_kb()))


@_SETTINGS
@given(patient=patients(), unknown=st.text(alphabet="qxzjvk", min_size=5, max_size=12))
def test_every_input_medication_is_assessed_or_reported_not_assessed(patient: dict[str, Any], unknown: str) -> None:
    patient = dict(patient, medications=[*patient["medications"], {"drug": unknown}])
    report = check(patient, kb=_kb())
    assessed = {a.input for a in report.assessed}
    not_assessed = {
        name for f in report.findings if f.kind == "not-assessed" for name in (*f.drugs, *f.title.split("'"))
    }
    for medication in patient["medications"]:
        assert medication["drug"] in assessed or medication["drug"] in not_assessed, medication["drug"]
    assert unknown not in assessed and report.exit_code == 1
