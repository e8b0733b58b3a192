"""Maximum single doses (medkg:maximumSingleDoseMg): acetaminophen, kg/rules/label-single-doses.ttl.

Values asserted come from the rules' sources: the acetaminophen injection label (maximum single
dose 1,000 mg for adults and adolescents of 50 kg or more; kg:src-label-acetaminophen-injection-dosage-ndrugs)
and the extended-release 650 mg caplets taken two at a time every 8 hours (1,300 mg;
kg:src-label-tylenol-8hr-arthritis-dailymed, kg:src-drugsdb-tylenol-arthritis).
"""

from __future__ import annotations

from typing import Any

import pytest

from medkg import check
from medkg.knowledge_base import KnowledgeBase

_KG = "https://w3id.org/medkg/kg/"
_IMMEDIATE = _KG + "rule-acetaminophen-max-single-dose"
_ANY_PRODUCT = _KG + "rule-acetaminophen-max-single-dose-any-product"
_DAILY = _KG + "rule-acetaminophen-max-daily-dose"


def _dose_findings(kb: KnowledgeBase, use: dict[str, Any], engine: str = "default") -> dict[str, Any]:
    report = check({"age_years": 50, "weight_kg": 70, "medications": [use]}, kb=kb, engine=engine)
    return {f.rule or f.title: f for f in report.findings if f.kind in ("max-dose", "not-assessed")}


@pytest.mark.parametrize("engine", ["default", "sparql"])
@pytest.mark.parametrize(
    ("use", "expected"),
    [
        # 2,000 mg twice a day keeps to 4,000 mg/day: only the single-dose limit sees it (the major one
        # supersedes the moderate immediate-release caution)
        ({"drug": "acetaminophen", "dose_mg": 2000, "times_per_day": 2}, {_ANY_PRODUCT: "major"}),
        # the extended-release dose: the immediate-release caution only
        ({"drug": "acetaminophen", "dose_mg": 1300, "times_per_day": 3}, {_IMMEDIATE: "moderate"}),
        ({"drug": "acetaminophen", "dose_mg": 1000, "times_per_day": 4}, {}),
        ({"drug": "acetaminophen", "dose_mg": 1000, "times_per_day": 5}, {_DAILY: "major"}),
        # no frequency: the single dose is still known
        ({"drug": "Tylenol", "dose_mg": 1500}, {_ANY_PRODUCT: "major"}),
    ],
)
def test_a_single_dose_above_the_labelled_maximum_is_flagged(
    kb: KnowledgeBase, engine: str, use: dict[str, Any], expected: dict[str, str]
) -> None:
    found = _dose_findings(kb, use, engine)
    assert {rule: f.severity for rule, f in found.items() if f.kind == "max-dose"} == expected


def test_the_finding_names_the_dose_and_the_limit(kb: KnowledgeBase) -> None:
    found = _dose_findings(kb, {"drug": "acetaminophen", "dose_mg": 2000, "times_per_day": 2})
    because = found[_ANY_PRODUCT].because
    assert "acetaminophen single dose 2000 mg (acetaminophen 2000 mg x 2/day) > maximum single dose 1300 mg" in because
    assert not any(line.startswith("caution:") for line in because)


def test_a_single_dose_far_above_the_maximum_says_to_check_the_entry(kb: KnowledgeBase) -> None:
    """500,000 mg is more than 10 x 1,300 mg: a unit or per-day entry error is likelier than a prescription."""
    found = _dose_findings(kb, {"drug": "acetaminophen", "dose_mg": 50_000, "times_per_day": 1})
    assert any(
        line.startswith("caution: 50000 mg is more than 10 times the maximum") for line in found[_ANY_PRODUCT].because
    )


def test_a_missing_frequency_leaves_only_the_daily_limit_not_assessed(kb: KnowledgeBase) -> None:
    """With a dose and no times per day the single dose is checked; the daily dose is reported unknown."""
    found = _dose_findings(kb, {"drug": "acetaminophen", "dose_mg": 500})
    assert "Not assessed: daily dose of acetaminophen unknown" in found
    assert not [rule for rule, f in found.items() if f.kind == "max-dose"]


@pytest.mark.reasoner
def test_the_owl_engine_agrees_on_a_single_dose(kb: KnowledgeBase) -> None:
    use = {"drug": "acetaminophen", "dose_mg": 2000, "times_per_day": 2}
    owl = _dose_findings(kb, use, "owl")
    assert {r: f.severity for r, f in owl.items() if f.kind == "max-dose"} == {_ANY_PRODUCT: "major"}
    assert owl == _dose_findings(kb, use)
