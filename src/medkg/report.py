"""The report medkg returns: typed models whose JSON form is the published report schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DISCLAIMER",
    "SEVERITY_RANK",
    "AssessedDrug",
    "Finding",
    "FindingKind",
    "KnowledgeBaseRef",
    "PatientSummary",
    "Report",
    "Severity",
    "SourceRef",
]

DISCLAIMER = (
    "medkg supports, and does not replace, clinical judgement. Findings come from the cited sources "
    "as curated in the medkg knowledge base; check them against the current labels and the whole patient."
)

FindingKind = Literal[
    "interaction",
    "additive-effect",
    "burden",
    "duplicate-therapy",
    "dose-adjustment",
    "max-dose",
    "contraindication",
    "allergy",
    "caution",
    "monitoring",
    "warning",
    "alternative",
    "omission",
    "not-assessed",
]
Severity = Literal["contraindicated", "major", "moderate", "minor", "info"]

#: Report order and exit-code logic: higher is more severe.
SEVERITY_RANK: dict[str, int] = {"contraindicated": 4, "major": 3, "moderate": 2, "minor": 1, "info": 0}

_MODEL = ConfigDict(extra="forbid")


class SourceRef(BaseModel):
    """A citation as reported: title, URL (or DOI URL), locator, evidence level, uncertainty."""

    model_config = _MODEL
    title: str
    url: str | None = None
    version: str | None = None
    locator: str | None = None
    evidence: str | None = None
    uncertain: bool = False
    uncertainty_note: str | None = None


class Finding(BaseModel):
    """One finding: what fired, for which drugs, why, what to do, and where it comes from.

    ``drugs`` are lower-case ingredient names (for ``not-assessed`` of an unidentified
    medication: the name as entered). ``because`` lists the patient values, thresholds and
    facts that made the rule fire. ``object``/``precipitant`` name the drugs' roles in an
    interaction and ``enzymes`` the enzymes or transporters of a mechanism-based one; ``score``
    is a count or total (drugs counted, or the summed burden score such as ACB).
    """

    model_config = _MODEL
    kind: FindingKind
    severity: Severity
    drugs: list[str]
    title: str = ""
    summary: str
    recommendation: str = ""
    rule: str | None = None
    because: list[str] = Field(default_factory=list)
    sources: list[SourceRef] = Field(default_factory=list)
    object: list[str] | None = None
    precipitant: list[str] | None = None
    enzymes: list[str] | None = None
    score: float | None = None
    evidence: str | None = None
    alternatives: list[str] | None = None
    suggestions: list[str] | None = None


class AssessedDrug(BaseModel):
    """A medication that was identified: the input text, the ingredient and its IRI."""

    model_config = _MODEL
    input: str
    drug: str
    iri: str
    curation_level: str | None = None


class PatientSummary(BaseModel):
    """The patient as medkg understood it: id, populations, renal basis and values used."""

    model_config = _MODEL
    id: str
    populations: list[str]
    renal_basis: str
    crcl_ml_min: float | None = None
    egfr_ml_min_1_73m2: float | None = None


class KnowledgeBaseRef(BaseModel):
    """Which knowledge base produced the report."""

    model_config = _MODEL
    version: str
    sha256: str


class Report(BaseModel):
    """A medkg report (``schema_version`` 1). Deterministic: sorted, no timestamps."""

    model_config = _MODEL
    schema_version: str = "1"
    engine: str
    knowledge_base: KnowledgeBaseRef
    patient: PatientSummary
    assessed: list[AssessedDrug]
    not_used: list[str]
    notes: list[str]
    findings: list[Finding]
    disclaimer: str = DISCLAIMER

    @property
    def exit_code(self) -> int:
        """0 when nothing major or contraindicated and every medication was identified, else 1."""
        serious = any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK["major"] for f in self.findings)
        unidentified = any(f.kind == "not-assessed" and f.suggestions is not None for f in self.findings)
        return 1 if serious or unidentified else 0

    def compact_json(self, finding_json: Callable[[Finding], str] | None = None) -> str:
        """Return ``self.model_dump_json()``, each finding's JSON from ``finding_json`` when given.

        ``finding_json(f)`` must equal ``f.model_dump_json()``; a cache of it (e.g.
        :func:`medkg.findings.finding_json_of`) saves serialising the same finding for every report.
        """
        if finding_json is None:
            return self.model_dump_json()
        # the findings go just before the disclaimer, the last field (a string: it cannot hold the separator)
        head, separator, tail = self.model_dump_json(exclude={"findings"}).rpartition(',"disclaimer":')
        return f'{head},"findings":[{",".join(map(finding_json, self.findings))}]{separator}{tail}'

    def to_json(self) -> str:
        """Return the report as JSON with sorted keys (byte-identical for the same input)."""
        import json

        return (
            json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True, ensure_ascii=False)
            + "\n"
        )
