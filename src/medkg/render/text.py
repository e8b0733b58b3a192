"""Render a :class:`~medkg.report.Report` as a readable terminal report, grouped by severity."""

from __future__ import annotations

import textwrap

from ..report import SEVERITY_RANK, Report

__all__ = ["render_text"]

_WIDTH = 100


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def render_text(report: Report) -> str:
    """Return the report as plain text (no colour codes; deterministic)."""
    lines = [f"medkg report for patient {report.patient.id}"]
    populations = ", ".join(report.patient.populations) or "none classified"
    lines += _wrap(f"populations: {populations}", "  ")
    renal = report.patient.renal_basis
    if report.patient.crcl_ml_min is not None:
        renal += f" (CrCl {report.patient.crcl_ml_min:g} mL/min"
        if report.patient.egfr_ml_min_1_73m2 is not None:
            renal += f", eGFR {report.patient.egfr_ml_min_1_73m2:g} mL/min/1.73 m2"
        renal += ")"
    lines.append(f"  renal basis: {renal}")
    assessed = ", ".join(a.drug if a.input.casefold() == a.drug else f"{a.input} -> {a.drug}" for a in report.assessed)
    lines += _wrap(f"assessed: {assessed or 'nothing'}", "  ")
    if report.not_used:
        lines += _wrap(f"not used: {'; '.join(report.not_used)}", "  ")
    for note in report.notes:
        lines += _wrap(f"note: {note}", "  ")
    lines.append("")
    if not report.findings:
        lines += _wrap(
            "No findings. This is not a statement that the regimen is safe: medkg checks only what its knowledge "
            "base holds (see the notes above for partly curated drugs).",
            "",
        )
    for severity in sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        lines.append(f"== {severity.upper()} ({len(group)}) ==")
        for finding in group:
            drugs = ", ".join(finding.drugs) or "-"
            title = f"{finding.title}. " if finding.title and not finding.summary.startswith(finding.title) else ""
            lines += _wrap(f"[{finding.kind}] {drugs}: {title}{finding.summary}", "  ")
            if finding.recommendation:
                lines += _wrap(f"what to do: {finding.recommendation}", "    ")
            if finding.alternatives:
                for step, alternative in enumerate(finding.alternatives, start=1):
                    lines += _wrap(f"{step}. {alternative}", "      ")
            for reason in finding.because:
                lines += _wrap(f"because: {reason}", "    ")
            for source in finding.sources:
                where = f", {source.locator}" if source.locator else ""
                flag = " [UNCERTAIN]" if source.uncertain else ""
                lines += _wrap(f"source: {source.title}{where}{flag}", "    ")
        lines.append("")
    lines.append(
        f"knowledge base {report.knowledge_base.version} sha256 {report.knowledge_base.sha256[:16]}; engine {report.engine}"
    )
    lines += _wrap(report.disclaimer, "")
    return "\n".join(lines) + "\n"
