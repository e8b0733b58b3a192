"""Where rule results become findings: query rows in, :class:`~medkg.report.Finding` objects out.

The rows come from an engine: the queries in ``queries/rules/`` and ``queries/not-assessed/``
run over the classified patients (:func:`query_rows`, ``sparql`` and ``owl`` engines), or the
compiled engine's identical rows (:mod:`medkg.compiled`).

Rows are grouped by (patient, rule, key): one finding per group. The ``because`` lines are
built from what the rows bind (the drug and the class it matched through, the populations
with the patient's value and the threshold from the OWL definition, counts, daily doses),
so they state the facts that fired rather than a fixed template.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import pyoxigraph as ox

from .knowledge_base import Citation, KnowledgeBase
from .patient_graph import PatientGraph
from .report import SEVERITY_RANK, Finding, SourceRef
from .store import QueryStore, Row
from .vocabulary import medkg_term

__all__ = [
    "NOT_ASSESSED_QUERIES",
    "classified_drug_classes",
    "classified_populations",
    "finding_json_of",
    "findings_from_rows",
    "query_rows",
]

_DOSE_BURDEN_RULE = "https://w3id.org/medkg/ontology#DoseBurdenRule"
_FACET_SYMBOL = {
    "http://www.w3.org/2001/XMLSchema#minInclusive": ">=",
    "http://www.w3.org/2001/XMLSchema#minExclusive": ">",
    "http://www.w3.org/2001/XMLSchema#maxInclusive": "<=",
    "http://www.w3.org/2001/XMLSchema#maxExclusive": "<",
}


def _number(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int | Decimal):
        # enough digits that a value never prints as its threshold (29.9999999 is not "30")
        return f"{float(value):.10g}"
    return str(value)


@lru_cache(maxsize=8192)
def _source(citation: Citation) -> SourceRef:
    # a Citation is immutable and a SourceRef is never changed after it is made: one per citation
    url = citation.url or (f"https://doi.org/{citation.doi}" if citation.doi else None)
    return SourceRef(
        title=citation.title,
        url=url,
        version=citation.version,
        locator=citation.locator,
        evidence=citation.evidence,
        uncertain=citation.uncertain,
        uncertainty_note=citation.note,
    )


_CRCL = str(medkg_term("creatinineClearanceMlMin"))
_EGFR = str(medkg_term("egfrMlMin173"))


class _Explainer:
    """Turns bound values into ``because`` lines, using the knowledge base's labels and definitions."""

    def __init__(self, kb: KnowledgeBase, patient: PatientGraph) -> None:
        self.kb = kb
        self.patient = patient
        self._populations: dict[str, str] = {}

    def population(self, population: str) -> str:
        if population in self._populations:
            return self._populations[population]
        parts = []
        for prop, facet, limit in self.kb.population_definitions.get(population, []):
            info = self.kb.properties.get(prop)
            label = info.label if info else self.kb.label(prop)
            unit = f" {info.unit}" if info and info.unit else ""
            value = self.patient.values.get(prop)
            shown = "unknown" if value is None else f"{_number(value)}{unit}"
            if facet in _FACET_SYMBOL:
                surrogate = self._surrogate(prop) if value is not None else ""
                parts.append(f"{label} {shown} {_FACET_SYMBOL[facet]} {_number(limit)}{unit}{surrogate}")
            elif facet == "someValuesFrom":
                parts.append(f"{label}: {self.kb.label(str(limit))}")
            else:
                parts.append(f"{label}: {shown}")
        detail = "; ".join(dict.fromkeys(parts))
        line = f"patient in population '{self.kb.label(population)}'" + (f" ({detail})" if detail else "")
        self._populations[population] = line
        return line

    def _surrogate(self, prop: str) -> str:
        """Say when a renal value stands in for the other one (see :mod:`medkg.renal`), else ""."""
        renal = self.patient.renal
        if prop == _CRCL and renal.basis == "egfr-as-crcl-surrogate":
            return "; the eGFR used as a surrogate for CrCl"
        if prop == _EGFR and self.patient.patient.egfr_ml_min_1_73m2 is None and renal.egfr_ml_min_1_73m2 is not None:
            return "; the CrCl used as a surrogate for eGFR"
        return ""

    def matched(self, drug: str, via: str | None) -> str:
        # the entered names (brands, synonyms) are in the report's ``assessed`` list, not here,
        # so a brand and its ingredient give identical findings
        taken = f"patient takes {self.kb.label(drug)}"
        if via is None or via == drug:
            return taken
        return f"{taken}, a member of '{self.kb.label(via)}'"

    def doses(self, drug: str) -> str:
        # named by ingredient, not as entered: a brand and its ingredient give identical findings
        parts = []
        for use, (_name, iri) in self.patient.uses.items():
            if iri != drug:
                continue
            medication = self.patient.patient.medications[self.patient.positions[use]]
            dose = "dose unknown" if medication.dose_mg is None else f"{medication.dose_mg:g} mg"
            times = "times per day unknown" if medication.times_per_day is None else f"{medication.times_per_day:g}/day"
            parts.append(f"{self.kb.label(drug)} {dose} x {times}")
        return " + ".join(parts)


#: (method name, arguments, result) of one call a finding's explanation made on the patient.
_Call = tuple[str, tuple[str | None, ...], str]


class _Recorder:
    """An explainer that remembers the calls that read the patient, with their results.

    Only the knowledge base and the three explaining methods are exposed, so an explanation
    cannot read the patient by another way that the finding cache would not see.
    ``population`` and ``doses`` read the patient's values and are recorded; ``matched``
    reads labels only (a function of its arguments, which come from the rows).
    """

    def __init__(self, explain: _Explainer) -> None:
        self.kb = explain.kb
        self._explain = explain
        self.calls: list[_Call] = []

    def population(self, population: str) -> str:
        return self._record("population", population)

    def matched(self, drug: str, via: str | None) -> str:
        # labels only: a function of the knowledge base and of row values, which the cache keys on
        return self._explain.matched(drug, via)

    def doses(self, drug: str) -> str:
        return self._record("doses", drug)

    def _record(self, method: str, *args: str | None) -> str:
        result: str = getattr(self._explain, method)(*args)
        self.calls.append((method, args, result))
        return result


class _FindingCache:
    """Rule findings already made, reused when the same rows meet the same patient facts.

    A rule's finding is a function of the knowledge base, the rule, its rows (ignoring the
    patient and medication-use IRIs, and the rows' order and repetition, which no finding
    depends on) and the answers the explainer gave (:class:`_Recorder`). A cached finding is
    reused only when its rows are equal and every recorded explainer call gives the same answer
    for the new patient, so a reused finding is identical to a newly made one
    (``tests/test_memo_caches.py``). Not-assessed findings that depend on the knowledge base and
    their rows alone are kept per rows (:meth:`of_rows`). Findings are shared between reports and
    never changed.
    """

    #: cached findings per knowledge base before the cache is emptied (bounds a server's memory)
    LIMIT = 100_000
    #: variants kept per (rule, rows): the same rows with different patient values
    VARIANTS = 16

    def __init__(self) -> None:
        self._found: dict[
            tuple[str, frozenset[frozenset[tuple[str, type, object]]]], list[tuple[tuple[_Call, ...], Finding]]
        ] = {}
        self._size = 0
        self._made: dict[tuple[str, frozenset[frozenset[tuple[str, type, object]]]], list[Finding]] = {}
        self._json: dict[int, str] = {}  # id of a cached finding (kept alive above) -> its JSON

    def _reset(self) -> None:
        # all together: a JSON text is keyed by the id of a finding these tables keep alive
        self._found.clear()
        self._made.clear()
        self._json.clear()
        self._size = 0

    def json_of(self, finding: Finding) -> str:
        """Return ``finding.model_dump_json()``, once per cached finding."""
        text = self._json.get(id(finding))
        return finding.model_dump_json() if text is None else text

    def of_rows(
        self, kb: KnowledgeBase, make: Callable[[KnowledgeBase, list[Row]], list[Finding]], rows: list[Row]
    ) -> list[Finding]:
        """Return ``make(kb, rows)`` for a function of the knowledge base and the rows alone (not-assessed findings)."""
        if not rows:
            return []
        key = (make.__name__, _rows_key(rows))
        found = self._made.get(key)
        if found is None:
            found = make(kb, rows)
            if self._size >= self.LIMIT:
                self._reset()
            self._made[key] = found
            self._size += 1
            for finding in found:
                self._json.setdefault(id(finding), finding.model_dump_json())
        return list(found)

    def finding(self, kb: KnowledgeBase, rule: str, rows: list[Row], explain: _Explainer) -> Finding:
        """Return the finding of ``rule`` for ``rows`` and the patient ``explain`` describes."""
        key = (rule, _rows_key(rows))
        variants = self._found.get(key)
        if variants is not None:
            for calls, finding in variants:
                if all(getattr(explain, method)(*args) == result for method, args, result in calls):
                    return finding
        recorder = _Recorder(explain)
        finding = _rule_finding(kb, rule, rows, recorder)
        if self._size >= self.LIMIT:
            self._reset()
        bucket = self._found.setdefault(key, [])
        if len(bucket) < self.VARIANTS:
            bucket.append((tuple(recorder.calls), finding))
            self._json[id(finding)] = finding.model_dump_json()
            self._size += 1
        return finding


def _rows_key(rows: list[Row]) -> frozenset[frozenset[tuple[str, type, object]]]:
    """Return the rows as a memo key: without the patient's own nodes, order and repetition (values typed: 1 != 1.0)."""
    return frozenset(frozenset((k, type(v), v) for k, v in row.items() if k not in _PER_PATIENT) for row in rows)


#: Row variables that name the patient's own nodes: never part of what a finding says.
_PER_PATIENT = frozenset({"patient", "use"})
_FINDING_CACHES: weakref.WeakKeyDictionary[KnowledgeBase, _FindingCache] = weakref.WeakKeyDictionary()


def _finding_cache(kb: KnowledgeBase) -> _FindingCache:
    cache = _FINDING_CACHES.get(kb)
    if cache is None:
        cache = _FINDING_CACHES[kb] = _FindingCache()
    return cache


def finding_json_of(kb: KnowledgeBase) -> Callable[[Finding], str]:
    """Return a function giving ``finding.model_dump_json()``, kept once for the findings ``kb``'s checks cached."""
    return _finding_cache(kb).json_of


def _row_order(row: Row) -> list[tuple[str, str]]:
    # (unbound variables are left out of the sort key: engines differ in how they show them)
    return sorted((k, str(v)) for k, v in row.items() if v is not None)


def _sorted_rows(rows: list[Row]) -> list[Row]:
    """Return the rows in a deterministic order (whatever order the engine gave them in)."""
    return sorted(rows, key=_row_order) if len(rows) > 1 else rows


def _because(rows: list[Row], explain: _Explainer | _Recorder) -> list[str]:
    """Explanation lines: the drugs and how they matched, then counts, doses, indications, populations."""
    drugs, counts, doses, indications, populations = [], [], [], [], []
    label = explain.kb.label
    for row in _sorted_rows(rows):
        drug = str(row.get("drug"))
        if row.get("enzyme") is not None:
            drugs.append(f"patient takes {label(drug)}, a {label(str(row['via']))} {label(str(row['enzyme']))}")
        elif row.get("score") is not None:
            drugs.append(f"patient takes {label(drug)}: {label(str(row['via']))} {_number(row['score'])}")
        elif row.get("allergen") is not None:
            allergen = str(row["allergen"])
            drugs.append(explain.matched(drug, row.get("via")))
            drugs.append(f"documented allergy: {label(allergen)}")
        elif row.get("omitted") is not None:
            drugs.append(f"no drug of '{label(str(row['omitted']))}' on the medication list")
        else:
            drugs.append(explain.matched(drug, row.get("via")))
        if row.get("coMedication") is not None:
            drugs.append(f"taken together with {label(str(row['coMedication']))}")
        if row.get("total") is not None:
            counts.append(f"total {_number(row['total'])} (threshold: {_number(row['limit'])} or more)")
        if row.get("count") is not None:
            counts.append(
                f"{row['count']} different drugs of '{explain.kb.label(str(row['via']))}' "
                f"(threshold: {row['limit']} or more)"
            )
        if row.get("limitType") == "single dose":
            doses.append(
                f"{explain.kb.label(drug)} single dose {_number(row['value'])} mg ({explain.doses(drug)}) "
                f"> maximum single dose {_number(row['limit'])} mg"
            )
        elif row.get("limitType") is not None:
            symbol = ">" if row["limitType"] == "maximum" else "<"
            # a use without times per day counts once: the daily dose is then at least the sum
            at_least = "at least " if row.get("valueKind") == "at least" else ""
            doses.append(
                f"{explain.kb.label(drug)} daily dose {at_least}{_number(row['value'])} mg/day "
                f"({explain.doses(drug)}) {symbol} {row['limitType']} {_number(row['limit'])} mg/day"
            )
        if row.get("limitType") in ("maximum", "single dose") and _far_above(row["value"], row["limit"]):
            unit = "mg" if row["limitType"] == "single dose" else "mg/day"
            doses.append(
                f"caution: {_number(row['value'])} {unit} is more than {_IMPLAUSIBLE_FACTOR} times the maximum; "
                "check the entry (unit mg or microgram, dose per day or per week)"
            )
        if row.get("indication") is not None:
            indications.append(f"{explain.kb.label(drug)} used for {explain.kb.label(str(row['indication']))}")
        if row.get("population") is not None:
            populations.append(explain.population(str(row["population"])))
    return list(dict.fromkeys(drugs + counts + doses + indications + populations))


_HUNDREDTHS = Decimal("0.01")

#: A daily dose this many times a rule's maximum is more likely an entry error (a microgram dose
#: entered in mg, a weekly dose as daily) than a prescription: the finding says to check the entry.
#: A data-entry check, as :func:`medkg.patient.plausibility_notes`: it never changes a finding's severity.
_IMPLAUSIBLE_FACTOR = 10


def _far_above(value: object, limit: object) -> bool:
    """Whether ``value`` is more than :data:`_IMPLAUSIBLE_FACTOR` times ``limit`` (both numbers, mg/day)."""
    if not isinstance(value, int | float | Decimal) or not isinstance(limit, int | float | Decimal) or limit <= 0:
        return False
    return float(value) > _IMPLAUSIBLE_FACTOR * float(limit)


def _hundredths(value: Decimal) -> str:
    return str(value.quantize(_HUNDREDTHS, rounding=ROUND_HALF_UP))


def _dose_burden_because(
    kb: KnowledgeBase, rows: list[Row], explain: _Explainer | _Recorder
) -> tuple[list[str], list[Citation]]:
    """Explain a dose burden finding: each drug's term D/(D + delta) with delta's source, then the total.

    Returns the ``because`` lines and the citations of the deltas used (for the finding's sources).
    """
    label = kb.label
    references = kb.reference_dose_citations
    by_drug: dict[str, Row] = {}
    for row in _sorted_rows(rows):
        by_drug.setdefault(str(row["drug"]), row)
    terms, left_out, cited = [], [], []
    for drug, row in sorted(by_drug.items(), key=lambda item: label(item[0])):
        name, dose, delta = label(drug), row.get("dose"), row.get("delta")
        if dose is not None and delta is not None:
            d, r = Decimal(str(dose)), Decimal(str(delta))
            citations = references.get((drug, float(str(delta))), [])
            cited += citations
            where = "; ".join(c.title + (" [uncertain]" if c.uncertain else "") for c in citations)
            taken = explain.doses(drug)
            terms.append(
                f"{name} {_number(dose)} mg/day{f' ({taken})' if taken else ''}: "
                f"{_number(dose)}/({_number(dose)}+{_number(delta)}) = {_hundredths(d / (d + r))}, "
                f"with minimum recommended daily dose {_number(delta)} mg/day"
                + (f" (source: {where})" if where else "")
            )
        elif dose is None and delta is None:
            left_out.append(f"{name}: daily dose unknown and no minimum recommended daily dose known: not counted")
        elif dose is None:
            left_out.append(f"{name}: daily dose unknown (dose in mg or times per day missing): not counted")
        else:
            left_out.append(f"{name} {_number(dose)} mg/day: no minimum recommended daily dose known: not counted")
    first = rows[0]
    total = f"index {_hundredths(Decimal(str(first['total'])))} (threshold: {_number(first['limit'])} or more)"
    if left_out:
        total += "; not fully computed: drugs not counted, so the index is at least this"
    populations = [explain.population(str(r["population"])) for r in rows if r.get("population") is not None]
    return list(dict.fromkeys(terms + left_out + [total] + populations)), cited


def _rule_finding(kb: KnowledgeBase, rule_iri: str, rows: list[Row], explain: _Explainer | _Recorder) -> Finding:
    rule = kb.rules[rule_iri]
    # a co-medication (dose cap that holds with an interacting drug) is part of what the finding is about
    named = [row[key] for row in rows for key in ("drug", "coMedication") if row.get(key) is not None]
    drugs = sorted({kb.label(str(iri)) for iri in named})
    enzymes = sorted({kb.label(str(row["enzyme"])) for row in rows if row.get("enzyme") is not None})
    total = next((row[k] for row in rows for k in ("total", "count") if row.get(k) is not None), None)
    roles: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.get("role"):
            roles[str(row["role"])].add(kb.label(str(row["drug"])))
    citations = rule.citations
    evidence = "; ".join(dict.fromkeys(c.evidence for c in citations if c.evidence)) or None
    alternatives = [alt.label + (f" ({alt.note})" if alt.note else "") for alt in rule.alternatives] or None
    if rule.rule_class == _DOSE_BURDEN_RULE:
        because, deltas = _dose_burden_because(kb, rows, explain)
        citations = list(dict.fromkeys([*citations, *deltas]))
    else:
        because = _because(rows, explain)
    if any(c.uncertain for c in citations):
        because.append("some facts of this rule are marked uncertain in the knowledge base: see sources")
    return Finding(
        kind=rule.kind,  # type: ignore[arg-type]
        severity=rule.severity,  # type: ignore[arg-type]
        drugs=drugs,
        title=rule.label,
        summary=rule.summary or rule.label,
        recommendation=rule.recommendation,
        rule=rule_iri,
        because=because,
        sources=[_source(c) for c in citations],
        object=sorted(roles["object"]) if roles else None,
        precipitant=sorted(roles["precipitant"]) if roles else None,
        enzymes=enzymes or None,
        score=float(str(total)) if total is not None else None,
        evidence=evidence,
        alternatives=alternatives,
    )


def _advice(domain: str, properties: list[str]) -> str:
    """Return what to give for a missing ``domain``, naming the patient values it is read from.

    A value the domain already names is not repeated ("hepatic function (Child-Pugh class)" is
    enough); others follow after the sentence, so labels with parentheses never nest:
    "Give the patient's renal function to assess these rules; medkg reads it from: creatinine
    clearance (CrCl), estimated GFR (eGFR)."
    """
    named = [label for label in properties if not re.search(rf"\b{re.escape(label)}\b", domain, re.IGNORECASE)]
    reads = f"; medkg reads it from: {', '.join(named)}" if named else ""
    return f"Give the patient's {domain} to assess these rules{reads}."


def _missing_data_findings(kb: KnowledgeBase, rows: list[Row]) -> list[Finding]:
    by_domain: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_domain[str(row["domain"])].append(row)
    findings = []
    for domain, group in sorted(by_domain.items()):
        drugs = sorted({kb.label(str(row["drug"])) for row in group if row.get("drug") is not None})
        properties = sorted(
            {kb.properties[str(row["property"])].label for row in group if str(row["property"]) in kb.properties}
        )
        rules = sorted({kb.rules[str(row["rule"])].label for row in group if str(row["rule"]) in kb.rules})
        findings.append(
            Finding(
                kind="not-assessed",
                severity="info",
                drugs=drugs,
                title=f"Not assessed: {domain} unknown",
                summary=f"Not assessed: {domain} unknown; {len(rules)} rule{'' if len(rules) == 1 else 's'}"
                + (f" for {', '.join(drugs)}" if drugs else "")
                + " could not be checked.",
                recommendation=_advice(domain, properties),
                because=[f"rule not assessed: {label}" for label in rules],
            )
        )
    return findings


def _missing_dose_findings(kb: KnowledgeBase, rows: list[Row]) -> list[Finding]:
    by_drug: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_drug[kb.label(str(row["drug"]))].add(
            kb.rules[str(row["rule"])].label if str(row["rule"]) in kb.rules else str(row["rule"])
        )
    return [
        Finding(
            kind="not-assessed",
            severity="info",
            drugs=[drug],
            title=f"Not assessed: daily dose of {drug} unknown",
            summary=(
                f"Not assessed: the daily dose of {drug} is unknown (the dose in mg or the number of times "
                "per day is missing); minimum daily doses were not checked, and maximum daily doses only "
                "against the doses given (each counted once a day), so a dose within them may still exceed them."
            ),
            recommendation="Give the dose in mg and the number of times per day to check dose limits.",
            because=[f"rule not assessed: {label}" for label in sorted(labels)],
        )
        for drug, labels in sorted(by_drug.items())
    ]


def _incomplete_dose_burden_findings(kb: KnowledgeBase, rows: list[Row]) -> list[Finding]:
    """One finding per dose burden rule whose index could not be fully computed, naming the drugs left out."""
    by_rule: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        by_rule[str(row["rule"])][kb.label(str(row["drug"]))].add(str(row["missing"]))
    findings = []
    for rule_iri, drugs in sorted(by_rule.items()):
        name = kb.rules[rule_iri].label if rule_iri in kb.rules else rule_iri
        no_dose = sorted(d for d, missing in drugs.items() if "dose" in missing)
        no_reference = sorted(d for d, missing in drugs.items() if "reference dose" in missing)
        parts = [f"daily dose unknown for {', '.join(no_dose)}"] if no_dose else []
        parts += [f"no minimum recommended daily dose known for {', '.join(no_reference)}"] if no_reference else []
        findings.append(
            Finding(
                kind="not-assessed",
                severity="info",
                drugs=sorted(drugs),
                title=f"Not fully assessed: {name}",
                summary=f"Not fully assessed: the index of '{name}' could not be fully computed ({'; '.join(parts)}). "
                "These drugs are left out of the total, which is therefore a lower bound.",
                recommendation="Give the dose in mg and the number of times per day of each drug listed; a drug "
                "without a known minimum recommended daily dose has to be weighed by hand.",
                because=[f"{d}: daily dose unknown (dose in mg or times per day missing)" for d in no_dose]
                + [f"{d}: no minimum recommended daily dose in the knowledge base" for d in no_reference]
                + [f"rule not fully assessed: {name}"],
            )
        )
    return findings


def _unidentified_findings(kb: KnowledgeBase, patient: PatientGraph, rows: list[Row]) -> list[Finding]:
    """One finding per unidentified input name, and one per unmodelled ingredient of a product taken."""
    unmodelled = {
        (str(row["name"]), patient.unmodelled[str(row["use"])]) for row in rows if str(row["use"]) in patient.unmodelled
    }
    findings = [_unmodelled_finding(kb, product, ingredient) for product, ingredient in sorted(unmodelled)]
    for name in sorted({str(row["name"]) for row in rows if str(row["use"]) not in patient.unmodelled}):
        close = patient.suggestions.get(name, [])
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        findings.append(
            Finding(
                kind="not-assessed",
                severity="info",
                drugs=[],
                title=f"Not assessed: unidentified medication '{name}'",
                summary=f"Not assessed: medication '{name}' is not in the knowledge base; nothing about it was checked.{hint}",
                recommendation="Check the spelling or enter the ingredient name; review this medication by hand.",
                because=[f"input name '{name}' matched no ingredient, brand name or synonym"],
                suggestions=close,
            )
        )
    return findings


def _unmodelled_finding(kb: KnowledgeBase, product: str, ingredient: str) -> Finding:
    """Return the finding for an ingredient of ``product`` (as entered) that the knowledge base does not model."""
    sources = [_source(c) for c in kb.unmodelled_citations.get((kb.known_name(product), ingredient), [])]
    return Finding(
        kind="not-assessed",
        severity="info",
        drugs=[ingredient],
        title=f"Not assessed: {ingredient} in '{product}'",
        summary=(
            f"Not assessed: '{product}' also contains {ingredient}, which is not in the knowledge base; "
            f"nothing about {ingredient} (interactions, dose limits, warnings) was checked. "
            "The product's ingredients that medkg models were checked."
        ),
        recommendation=f"Review {ingredient} by hand (its label's interactions and warnings).",
        because=[
            f"'{product}' contains {ingredient} (see sources)" if sources else f"'{product}' names {ingredient}",
            f"medkg does not model {ingredient}",
        ],
        sources=sources,
        suggestions=[],  # an ingredient not checked, as an unidentified medication is (exit code 1)
    )


def _by_patient(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[str(row["patient"])].append(row)
    return grouped


#: The not-assessed queries every engine answers (besides every query in ``queries/rules/``).
NOT_ASSESSED_QUERIES = (
    "not-assessed/missing-patient-data",
    "not-assessed/missing-dose",
    "not-assessed/unidentified-medication",
    "not-assessed/incomplete-dose-burden",
)


def query_rows(
    kb: KnowledgeBase, store: QueryStore, graph: ox.NamedNode, names: Iterable[str] | None = None
) -> dict[str, list[Row]]:
    """Run rule and not-assessed queries (default: all) once over the patients in ``graph``; rows per query name."""
    chosen = list(names) if names is not None else [*kb.rule_queries, *NOT_ASSESSED_QUERIES]
    return {name: store.select(kb.query(name), graph=graph) for name in chosen}


def findings_from_rows(
    kb: KnowledgeBase, rows: Mapping[str, list[Row]], patients: list[PatientGraph]
) -> dict[str, list[Finding]]:
    """Turn the rows of the rule and not-assessed queries into findings per patient IRI.

    ``rows`` maps query names (``rules/pair-rule``, ``not-assessed/missing-dose``, ...) to their rows,
    from any engine. Findings are sorted most severe first, then by kind, drugs and rule (deterministic).
    """
    findings: dict[str, list[Finding]] = {str(p.iri): [] for p in patients}
    explainers = {str(p.iri): _Explainer(kb, p) for p in patients}
    cache = _finding_cache(kb)
    for name in sorted(rows):
        if not name.startswith("rules/"):
            continue
        # per patient, in (rule, key) order: as one sort by (patient, rule, key), but on short lists
        groups: dict[str, dict[tuple[str, str], list[Row]]] = defaultdict(lambda: defaultdict(list))
        for row in rows[name]:
            groups[str(row["patient"])][(str(row["rule"]), str(row["key"]))].append(row)
        for patient, of_patient in groups.items():
            if patient not in findings:
                continue
            for (rule, _key), group in sorted(of_patient.items()):
                if rule in kb.rules:
                    findings[patient].append(cache.finding(kb, rule, group, explainers[patient]))

    missing = _by_patient(rows.get("not-assessed/missing-patient-data", []))
    doses = _by_patient(rows.get("not-assessed/missing-dose", []))
    unknown = _by_patient(rows.get("not-assessed/unidentified-medication", []))
    incomplete = _by_patient(rows.get("not-assessed/incomplete-dose-burden", []))
    for p in patients:
        key = str(p.iri)
        findings[key] += cache.of_rows(kb, _missing_data_findings, missing.get(key, []))
        findings[key] += cache.of_rows(kb, _missing_dose_findings, doses.get(key, []))
        findings[key] += _unidentified_findings(kb, p, unknown.get(key, []))
        findings[key] += cache.of_rows(kb, _incomplete_dose_burden_findings, incomplete.get(key, []))
        findings[key] = _dedupe(_drop_superseded(kb, findings[key]), cache)
    return findings


def _drop_superseded(kb: KnowledgeBase, findings: list[Finding]) -> list[Finding]:
    """Drop a general rule's finding where a rule that supersedes it fired for the same drugs."""
    supersedes = kb.supersedes
    if not any(f.rule in supersedes for f in findings):  # most reports: nothing can be superseded
        return findings
    fired = {(f.rule, tuple(f.drugs)) for f in findings}
    return [
        f
        for f in findings
        if not any((specific, tuple(f.drugs)) in fired for specific in supersedes.get(f.rule or "", ()))
    ]


def _dedupe(findings: list[Finding], cache: _FindingCache) -> list[Finding]:
    unique = {cache.json_of(f): f for f in findings}
    return sorted(unique.values(), key=lambda f: (-SEVERITY_RANK[f.severity], f.kind, f.drugs, f.rule or "", f.summary))


def classified_populations(kb: KnowledgeBase, store: QueryStore, graph: ox.NamedNode) -> dict[str, list[str]]:
    """Patient IRI -> sorted local names of the populations it was classified into."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in store.select(kb.query("report/patient-populations"), graph=graph):
        found[str(row["patient"])].add(str(row["population"]).rsplit("/", 1)[-1])
    return {key: sorted(value) for key, value in found.items()}


def classified_drug_classes(
    kb: KnowledgeBase, store: QueryStore, graph: ox.NamedNode
) -> dict[str, dict[str, list[str]]]:
    """Patient IRI -> drug IRI -> sorted class IRIs the drug was classified into."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in store.select(kb.query("report/drug-classes"), graph=graph):
        found[str(row["patient"])][str(row["drug"])].add(str(row["class"]))
    return {p: {d: sorted(c) for d, c in drugs.items()} for p, drugs in found.items()}
