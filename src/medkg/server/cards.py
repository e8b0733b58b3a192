"""CDS Hooks cards from a medkg report: which findings become cards, and how they read.

For ``order-select`` / ``order-sign`` (and the legacy ``medication-prescribe``) only findings
that involve a draft order become cards; ``patient-view`` shows every finding. A medication that
was not checked at all (a name medkg could not identify, or an ingredient of a product that it
does not model) is a ``warning`` card of its own in every hook, draft or current: the draft's
interactions with it were not checked either. What could not be assessed for lack of patient
data (renal function, potassium, pregnancy status, a dose), and any condition, allergy or other
patient datum sent but not used, is gathered into one ``info`` card, so that an empty or short
answer is never taken for a complete check: cards are the service's only channel.
Indicator: contraindicated or major -> ``critical``, moderate -> ``warning``, anything else ->
``info`` (CDS Hooks 2.0, Card attributes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..report import DISCLAIMER, Finding, Report

__all__ = ["DRAFT_HOOKS", "OVERRIDE_REASONS", "cards_for", "indicator", "no_medication_card"]

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
    return _clip(text)


def _clip(summary: str) -> str:
    """Cut a card summary to the CDS Hooks limit (140 characters), marking the cut."""
    return summary if len(summary) <= _SUMMARY_LIMIT else summary[: _SUMMARY_LIMIT - 1].rstrip() + "…"


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


def _unchecked_medication(finding: Finding, assessed: set[str]) -> bool:
    """Whether ``finding`` says a medication was not checked at all.

    That is an unidentified name (a ``not-assessed`` finding with ``suggestions``, possibly
    empty) or an ingredient that no identified medication stands for (an unmodelled ingredient
    of a combination product). ``assessed``: the report's identified ingredient names.
    """
    if finding.kind != "not-assessed":
        return False
    return finding.suggestions is not None or (
        bool(finding.drugs) and not {d.casefold() for d in finding.drugs} & assessed
    )


def cards_for(report: Report, *, hook: str, draft_drugs: Iterable[str], instance: str = "") -> list[dict[str, Any]]:
    """Return the CDS Hooks cards for ``report``: a list of CDS Hooks 2.0 card objects.

    The list is empty only when nothing fired, every medication was identified and all patient
    data needed and sent were used.

    Args:
        report: the medkg report of the patient with the draft orders included.
        hook: the hook called (``order-select``, ``order-sign``, ``patient-view``, ``medication-prescribe``).
        draft_drugs: ingredient names (or, for unidentified medications, the names as entered) of the draft orders.
        instance: the request's ``hookInstance``; card uuids are derived from it, so the same request gives the same cards.
    """
    drafts = {name.casefold() for name in draft_drugs}
    assessed = {drug.drug.casefold() for drug in report.assessed}
    cards, unassessed = [], []
    for finding in report.findings:
        unchecked = _unchecked_medication(finding, assessed)
        if hook in DRAFT_HOOKS and not unchecked and not _involves(finding, drafts):
            continue
        if finding.kind == "not-assessed" and not unchecked:
            unassessed.append(finding)  # missing patient data: one card for all, below
            continue
        level = "warning" if unchecked else indicator(finding.severity)
        key = f"{instance}|{finding.rule or finding.title}|{'|'.join(finding.drugs)}"
        cards.append(
            {
                "uuid": str(uuid.uuid5(_NAMESPACE, key)),
                "summary": _summary(finding),
                "indicator": level,
                "detail": _detail(finding),
                "source": _source(finding),
                "overrideReasons": OVERRIDE_REASONS if level != "info" and not unchecked else [],
            }
        )
    if unassessed or report.not_used:
        cards.append(_not_assessed_card(unassessed, report.not_used, instance))
    return cards


def _not_assessed_card(findings: list[Finding], not_used: list[str], instance: str) -> dict[str, Any]:
    """One ``info`` card: what could not be checked for lack of patient data, and what was sent but not used."""
    drugs = sorted({drug for finding in findings for drug in finding.drugs})
    parts = [f"{len(findings)} item{'s' if len(findings) > 1 else ''} of patient data missing"] if findings else []
    parts += [f"{len(not_used)} not used"] if not_used else []
    summary = "Not fully checked: " + ", ".join(parts) + (f" ({', '.join(drugs)})" if drugs else "")
    lines: list[str] = []
    if findings:
        lines += ["Some rules could not be applied because the patient data they need were not sent:", ""]
        lines += [
            f"- **{finding.title.removeprefix('Not assessed: ')}**: {finding.recommendation or finding.summary}"
            for finding in findings
        ]
        lines.append("")
    if not_used:
        lines += ["Sent but not used by medkg (not recognised or not modelled); review these by hand:", ""]
        lines += [f"- {item}" for item in not_used]
        lines.append("")
    return _info_card(f"{instance}|not-assessed", summary, lines)


def _info_card(key: str, summary: str, lines: list[str]) -> dict[str, Any]:
    """Return an ``info`` card of medkg's own (no finding, no override): ``lines`` of markdown, then the disclaimer."""
    return {
        "uuid": str(uuid.uuid5(_NAMESPACE, key)),
        "summary": _clip(summary),
        "indicator": "info",
        "detail": "\n".join([*lines, f"_{DISCLAIMER}_"]),
        "source": {"label": "medkg knowledge base"},
        "overrideReasons": [],
    }


def no_medication_card(reason: str, instance: str = "") -> dict[str, Any]:
    """Return the one ``info`` card of a patient-view call with no medication: nothing was checked, and why.

    ``reason``: what the reader found (e.g. "no draft medication order and no current medication").
    """
    lines = [
        f"medkg checked nothing: {reason}.",
        "",
        "If the patient takes medicines, send them (active MedicationRequest or MedicationStatement "
        "resources in the prefetch `medications`); conditions and allergies alone are not checked.",
        "",
    ]
    return _info_card(f"{instance}|no-medication", "Not checked: no current medication in the request", lines)
