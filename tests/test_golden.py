"""Golden patient cases written from the cited sources (tests/golden/README.md), both engines."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import golden_cases
from medkg import check, check_many, load_patient
from medkg.knowledge_base import KnowledgeBase
from medkg.report import Finding, Report

CASES = golden_cases()


def _text(finding: Finding) -> str:
    return " ".join(
        [finding.title, finding.summary, finding.recommendation, *finding.because, *(finding.alternatives or [])]
    ).casefold()


def _matches(finding: Finding, expected: dict[str, Any]) -> bool:
    kinds = expected["kind"] if isinstance(expected["kind"], list) else [expected["kind"]]
    if finding.kind not in kinds:
        return False
    if expected.get("drugs") is not None and sorted(finding.drugs) != sorted(expected["drugs"]):
        return False
    severities = expected.get("severity")
    if severities is not None and finding.severity not in (
        severities if isinstance(severities, list) else [severities]
    ):
        return False
    if expected.get("includes_drugs") and not set(expected["includes_drugs"]) <= set(finding.drugs):
        return False
    return all(str(word).casefold() in _text(finding) for word in expected.get("mentions", []))


def _describe(report: Report) -> str:
    return "\n".join(f"  {f.kind} {f.severity} {f.drugs}: {f.summary[:80]}" for f in report.findings)


def assert_case(report: Report, case: dict[str, Any]) -> None:
    for expected in case["expect"]:
        assert any(_matches(f, expected) for f in report.findings), (
            f"missing {expected}\nreported:\n{_describe(report)}"
        )
    for absent in case.get("expect_absent", []):
        hits = [f for f in report.findings if _matches(f, absent)]
        assert not hits, f"unexpected {absent}: {[h.summary for h in hits]}"
    if "exit_code" in case:
        assert report.exit_code == case["exit_code"], _describe(report)


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_golden_case_default_engine(name: str, case: dict[str, Any], kb: KnowledgeBase) -> None:
    assert_case(check(load_patient(case["patient"]), kb=kb), case)


@pytest.mark.reasoner
def test_golden_cases_owl_engine_agree(kb: KnowledgeBase) -> None:
    """One HermiT call classifies every golden patient; findings equal the default engine's."""
    patients = [load_patient(case["patient"]) for _, case in CASES]
    owl = check_many(patients, engine="owl", kb=kb)
    default = check_many(patients, kb=kb)
    for (name, case), owl_report, default_report in zip(CASES, owl, default, strict=True):
        assert owl_report.findings == default_report.findings, name
        assert owl_report.patient == default_report.patient, name
        assert_case(owl_report, case)
