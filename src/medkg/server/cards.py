"""CDS Hooks cards from a medkg report: which findings become cards, and how they read.

For ``order-select`` / ``order-sign`` (and the legacy ``medication-prescribe``) only findings
that involve a draft order become cards; ``patient-view`` shows every finding. A finding that
something could not be assessed for lack of patient data is not a card (it stays in the report
and the service has no report channel besides cards); an unidentified medication is. Indicator:
contraindicated or major -> ``critical``, moderate -> ``warning``, anything else -> ``info``
(CDS Hooks 2.0, Card attributes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..report import DISCLAIMER, Finding, Report

__all__ = ["DRAFT_HOOKS", "OVERRIDE_REASONS", "cards_for", "indicator"]

#: Hooks whose cards are limited to findings about the orders being written.
DRAFT_HOOKS = frozenset({"order-select", "order-sign", "medication-prescribe"})

_SYSTEM = "https://w3id.org/medkg/cds-hooks/override-reason"
#: Reasons a clinician may give for overriding a card (CDS Hooks ``overrideReasons`` codings).
OVERRIDE_REASONS = [
    {"code": "benefit-outweighs-risk", "system": _SYSTEM, "display": "Benefit outweighs the risk for this patient"},
    {"code": "already-monitored", "system": _SYSTEM, "display": "Already monitored or managed (dose, labs, timing)"},
    {"code": "patient-tolerated", "system": _SYSTEM, "display": "Patient has tolerated this combination before"},
    {"code": "not-applicable", "system": _SYSTEM, "display": "Finding does not apply to this patient"},
]
_NAMESPACE = uuid.UUID("6f1c3c1e-3a51-4b7e-9d6e-7b8f0f6f2a10")
_SUMMARY_LIMIT = 140


def indicator(severity: str) -> str:
    """Map a medkg severity to a CDS Hooks card indicator (critical, warning or info)."""
    return {"contraindicated": "critical", "major": "critical", "moderate": "warning"}.get(severity, "info")


def _summary(finding: Finding) -> str:
    drugs = " + ".join(finding.drugs)
    text = f"{finding.title or finding.summary}" + (
        f" ({drugs})" if drugs and drugs not in (finding.title or "") else ""
    )
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1].rstrip() + "…"


def _detail(finding: Finding) -> str:
    lines = [finding.summary]
    if finding.recommendation:
        lines += ["", f"**What to do:** {finding.recommendation}"]
    if finding.alternatives:
        lines += ["", "**Alternatives:** " + "; ".join(finding.alternatives)]
    if finding.because:
        lines += ["", "**Because:**"] + [f"- {line}" for line in finding.because]
    lines += ["", f"_{DISCLAIMER}_"]
    return "\n".join(lines)


def _source(finding: Finding) -> dict[str, Any]:
    if not finding.sources:
        return {"label": "medkg knowledge base"}
    first = finding.sources[0]
    label = first.title + (f", {first.locator}" if first.locator else "")
    source: dict[str, Any] = {"label": label[:200]}
    if first.url:
        source["url"] = first.url
    return source


def _involves(finding: Finding, drafts: set[str]) -> bool:
    return bool(drafts & {drug.casefold() for drug in finding.drugs})


def cards_for(report: Report, *, hook: str, draft_drugs: Iterable[str], instance: str = "") -> list[dict[str, Any]]:
    """Return the CDS Hooks cards for ``report`` (an empty list when there is nothing to say).

    Args:
        report: the medkg report of the patient with the draft orders included.
        hook: the hook called (``order-select``, ``order-sign``, ``patient-view``, ``medication-prescribe``).
        draft_drugs: ingredient names (or, for unidentified medications, the names as entered) of the draft orders.
        instance: the request's ``hookInstance``; card uuids are derived from it, so the same request gives the same cards.
    """
    drafts = {name.casefold() for name in draft_drugs}
    cards = []
    for finding in report.findings:
        if hook in DRAFT_HOOKS and not _involves(finding, drafts):
            continue
        if finding.kind == "not-assessed" and finding.suggestions is None:
            # missing patient data (renal function, age, dose) is in the report, not a card: an EHR
            # asks the service again when the data exist; an unidentified drug is always a card
            continue
        key = f"{instance}|{finding.rule or finding.title}|{'|'.join(finding.drugs)}"
        cards.append(
            {
                "uuid": str(uuid.uuid5(_NAMESPACE, key)),
                "summary": _summary(finding),
                "indicator": indicator(finding.severity),
                "detail": _detail(finding),
                "source": _source(finding),
                "overrideReasons": OVERRIDE_REASONS if indicator(finding.severity) != "info" else [],
            }
        )
    return cards
