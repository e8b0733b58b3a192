"""Synthetic clinical rules for ``scripts/synth_kb.py``, written straight to N-Triples text.

A million pairwise rules never become rdflib, owlready2 or pySHACL objects: each rule is one
formatted string, in the shapes of ``kg/rules/*.ttl`` (``medkg:PairRule`` with object and
precipitant drug or class, renal and hepatic ``medkg:DrugRule`` on the real populations,
``medkg:DoseRangeRule``, ``medkg:CountRule``, ``medkg:DuplicateTherapyRule``; each with label,
summary, recommendation, finding kind, severity and one ``medkg:hasCitation`` to a synthetic
source with a locator and an evidence level). Chunks of bytes go to ``pyoxigraph``'s bulk loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from rdflib import URIRef

from synth_kb_drugs import SYN, DrugCatalogue
from synth_kb_vocabulary import SharedVocabulary

__all__ = ["SEVERITY_SHARES", "RuleCounts", "rule_chunks", "sample_pairs"]

#: Share of pairwise rules per severity code (medkg:code of a medkg:Severity).
SEVERITY_SHARES = {"contraindicated": 0.02, "major": 0.20, "moderate": 0.60, "minor": 0.18}
#: Share of pairwise rules whose object or precipitant is a drug class rather than a drug.
CLASS_LEVEL_SHARE = 0.03
CHUNK_RULES = 20_000

_M = "https://w3id.org/medkg/ontology#"
_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
_DECIMAL = "<http://www.w3.org/2001/XMLSchema#decimal>"
_INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
_BOOLEAN = "<http://www.w3.org/2001/XMLSchema#boolean>"

_PAIR_SUMMARIES = [
    "{pre} raises the exposure to {obj}; higher concentrations of {obj} add to its dose-related adverse effects.",
    "{pre} lowers the exposure to {obj}, which may become less effective.",
    "{obj} and {pre} have additive pharmacodynamic effects; together the risk of adverse effects rises.",
    "{pre} changes the elimination of {obj}; its levels and effects may change unpredictably.",
]
_RECOMMENDATIONS = {
    "contraindicated": ["Do not combine; choose an alternative to one of the drugs (synthetic rule)."],
    "major": [
        "Avoid the combination where possible; if both are needed, reduce the dose and monitor closely (synthetic rule).",
        "Prefer an alternative; if combined, monitor for toxicity after each dose change (synthetic rule).",
    ],
    "moderate": [
        "Monitor for adverse effects and adjust the dose if needed (synthetic rule).",
        "Consider a dose adjustment and review the combination at the next visit (synthetic rule).",
        "Separate the doses and monitor the response (synthetic rule).",
    ],
    "minor": ["Usually no change is needed; be aware of the interaction (synthetic rule)."],
}
_EVIDENCE = ["synthetic: established", "synthetic: probable", "synthetic: suspected", "synthetic: theoretical"]


@dataclass
class RuleCounts:
    """How many rules of each kind were written, and their triples."""

    by_kind: dict[str, int] = field(default_factory=dict)
    triples: int = 0


def _iri(node: URIRef | str) -> str:
    return f"<{node}>"


def sample_pairs(weights: list[float], count: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``count`` different unordered drug pairs, drugs weighted by ``weights`` (interaction hubs).

    Returns an array of shape (count, 2) of drug indexes, object first.

    Raises:
        ValueError: if ``count`` exceeds 90 % of the possible pairs of ``len(weights)`` drugs.
    """
    n = len(weights)
    possible = n * (n - 1) // 2
    if count > 0.9 * possible:
        raise ValueError(f"{count} pairs asked of {n} drugs: at most {int(0.9 * possible)} are possible")
    p = np.asarray(weights, dtype=float)
    p /= p.sum()
    keys = np.empty(0, dtype=np.int64)
    rounds = 0
    while keys.size < count:
        rounds += 1
        # weighted draws first; once hubs are saturated, uniform draws fill the rest
        probabilities = p if rounds <= 4 else None
        draw = max(count - keys.size, 1000) * 2
        a = rng.choice(n, size=draw, p=probabilities)
        b = rng.choice(n, size=draw, p=probabilities)
        keep = a != b
        lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        keys = np.concatenate([keys, lo.astype(np.int64) * n + hi])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]
    keys = keys[:count]
    pairs = np.stack([keys // n, keys % n], axis=1)
    swap = rng.random(count) < 0.5
    pairs[swap] = pairs[swap][:, ::-1]
    return pairs


def _citation(node: str, source: str, locator: str, evidence: str) -> str:
    return (
        f"{node} <{_M}citesSource> {source} .\n"
        f'{node} <{_M}locator> "{locator}" .\n'
        f'{node} <{_M}evidenceLevel> "{evidence}" .\n'
    )


def _rule(
    rule: str, cls: str, *, label: str, kind: str, severity: str, summary: str, recommendation: str, extra: str
) -> str:
    return (
        f"{rule} {_TYPE} <{_M}{cls}> .\n"
        f'{rule} {_LABEL} "{label}" .\n'
        f"{rule} <{_M}findingKind> {kind} .\n"
        f"{rule} <{_M}severity> {severity} .\n"
        f'{rule} <{_M}summary> "{summary}" .\n'
        f'{rule} <{_M}recommendation> "{recommendation}" .\n'
        f"{extra}"
    )


def _pair_chunks(
    catalogue: DrugCatalogue, vocabulary: SharedVocabulary, pairs: int, rng: np.random.Generator, counts: RuleCounts
) -> Iterator[bytes]:
    drug_pairs = sample_pairs(catalogue.weights, pairs, rng)
    drugs = [_iri(d) for d in catalogue.drugs]
    labels = catalogue.labels
    classes = catalogue.classes_by_level[2] + catalogue.classes_by_level[3]
    class_iris = [_iri(c) for c in classes]
    class_labels = [catalogue.class_labels[c] for c in classes]
    codes = list(SEVERITY_SHARES)
    severity_iris = [_iri(vocabulary.severities[c]) for c in codes]
    severity = rng.choice(len(codes), size=pairs, p=list(SEVERITY_SHARES.values()))
    interaction = _iri(vocabulary.finding_kinds["interaction"])
    additive = _iri(vocabulary.finding_kinds["additive-effect"])
    template = rng.integers(0, len(_PAIR_SUMMARIES), size=pairs)
    class_level = rng.random(pairs) < CLASS_LEVEL_SHARE
    class_pick = rng.integers(0, len(classes), size=pairs)
    source_pick = rng.integers(0, len(catalogue.sources), size=pairs)
    evidence_pick = rng.integers(0, len(_EVIDENCE), size=pairs)
    recommendation_pick = rng.integers(0, 6, size=pairs)
    sources = [_iri(s) for s in catalogue.sources]
    for start in range(0, pairs, CHUNK_RULES):
        out: list[str] = []
        for i in range(start, min(start + CHUNK_RULES, pairs)):
            o, p = int(drug_pairs[i, 0]), int(drug_pairs[i, 1])
            obj, obj_label = drugs[o], labels[o]
            pre, pre_label = drugs[p], labels[p]
            if class_level[i]:
                obj, obj_label = class_iris[class_pick[i]], class_labels[class_pick[i]]
            code = codes[severity[i]]
            kind_index = int(template[i])
            rule = f"<{SYN}rule/pair-{i + 1:07d}>"
            summary = _PAIR_SUMMARIES[kind_index].format(obj=obj_label, pre=pre_label)
            recommendations = _RECOMMENDATIONS[code]
            out.append(
                _rule(
                    rule,
                    "PairRule",
                    label=f"{obj_label} with {pre_label}",
                    kind=additive if kind_index == 2 else interaction,
                    severity=severity_iris[severity[i]],
                    summary=summary,
                    recommendation=recommendations[recommendation_pick[i] % len(recommendations)],
                    extra=f"{rule} <{_M}objectDrug> {obj} .\n{rule} <{_M}precipitantDrug> {pre} .\n"
                    f"{rule} <{_M}hasCitation> _:sc{i} .\n",
                )
            )
            out.append(
                _citation(
                    f"_:sc{i}",
                    sources[source_pick[i]],
                    f"Synthetic interaction monograph {i + 1}, section 7 (drug interactions)",
                    _EVIDENCE[evidence_pick[i]],
                )
            )
        yield "".join(out).encode("utf-8")
    counts.by_kind["PairRule"] = pairs
    counts.triples += pairs * 12


def _drug_rules(
    catalogue: DrugCatalogue, vocabulary: SharedVocabulary, rng: np.random.Generator, counts: RuleCounts
) -> bytes:
    """Renal and hepatic DrugRules, DoseRangeRules, CountRules and DuplicateTherapyRules."""
    out: list[str] = []
    sev = {code: _iri(iri) for code, iri in vocabulary.severities.items()}
    kind = {code: _iri(iri) for code, iri in vocabulary.finding_kinds.items()}
    sources = [_iri(s) for s in catalogue.sources]
    number = 0

    def add(cls: str, name: str, *texts: str, kind_code: str, severity: str, facts: list[tuple[str, str]]) -> None:
        """Add one rule; ``texts`` are its label, summary and recommendation, ``facts`` its (property, object)."""
        nonlocal number
        number += 1
        rule = f"<{SYN}rule/{name}>"
        extra = "".join(f"{rule} <{_M}{prop}> {value} .\n" for prop, value in facts)
        label, summary, recommendation = texts
        out.append(
            _rule(
                rule,
                cls,
                label=label,
                kind=kind[kind_code],
                severity=sev[severity],
                summary=summary,
                recommendation=recommendation,
                extra=f"{extra}{rule} <{_M}hasCitation> _:sr{number} .\n",
            )
        )
        source = sources[number % len(sources)]
        locator = f"Synthetic label, section 2 (dosage), rule {name}"
        out.append(_citation(f"_:sr{number}", source, locator, _EVIDENCE[number % len(_EVIDENCE)]))
        counts.by_kind[cls] = counts.by_kind.get(cls, 0) + 1
        counts.triples += 10 + len(facts)

    renal, hepatic = vocabulary.renal_populations, vocabulary.hepatic_populations
    for index, drug in enumerate(catalogue.drugs):
        label, iri = catalogue.labels[index], _iri(drug)
        if rng.random() < 0.15:
            for population in rng.choice(len(renal), size=int(rng.integers(1, 3)), replace=False):
                contraindicated = rng.random() < 0.15
                add(
                    "DrugRule",
                    f"renal-{index + 1:06d}-{population}",
                    f"{label} in renal impairment",
                    f"{label} is renally cleared; exposure rises in renal impairment (synthetic rule).",
                    f"Reduce the dose of {label} or extend the interval (synthetic rule).",
                    kind_code="contraindication" if contraindicated else "dose-adjustment",
                    severity="contraindicated" if contraindicated else ("major" if rng.random() < 0.4 else "moderate"),
                    facts=[("appliesToDrug", iri), ("requiresPopulation", _iri(renal[population]))],
                )
        if rng.random() < 0.08:
            population = int(rng.integers(0, len(hepatic)))
            add(
                "DrugRule",
                f"hepatic-{index + 1:06d}",
                f"{label} in hepatic impairment",
                f"{label} is cleared by the liver; exposure rises in hepatic impairment (synthetic rule).",
                f"Start {label} at a lower dose and monitor (synthetic rule).",
                kind_code="caution" if rng.random() < 0.5 else "dose-adjustment",
                severity="major" if rng.random() < 0.3 else "moderate",
                facts=[("appliesToDrug", iri), ("requiresPopulation", _iri(hepatic[population]))],
            )
        if rng.random() < 0.3:
            limit = int(rng.choice([5, 10, 20, 40, 80, 150, 300, 600, 1200, 3000]))
            add(
                "DoseRangeRule",
                f"max-dose-{index + 1:06d}",
                f"{label} above {limit} mg/day",
                f"{limit} mg a day is the top of the synthetic dose range of {label}.",
                f"Reduce {label} to {limit} mg/day or less (synthetic rule).",
                kind_code="max-dose",
                severity="major" if rng.random() < 0.3 else "moderate",
                facts=[("appliesToDrug", iri), ("maximumDailyDoseMg", f'"{limit}"^^{_DECIMAL}')],
            )
    for index, cls in enumerate(catalogue.classes_by_level[1][:12]):
        minimum = 2 + index % 2
        add(
            "CountRule",
            f"count-{index + 1:03d}",
            f"{minimum} or more drugs of {catalogue.class_labels[cls]}",
            f"Drugs of {catalogue.class_labels[cls]} add up (synthetic rule).",
            "Review whether every drug of the class is needed (synthetic rule).",
            kind_code="additive-effect" if index % 2 == 0 else "burden",
            severity="moderate",
            facts=[("countsMembersOf", _iri(cls)), ("minimumDrugCount", f'"{minimum}"^^{_INTEGER}')],
        )
    for index, cls in enumerate(catalogue.classes_by_level[2][:40]):
        add(
            "DuplicateTherapyRule",
            f"duplicate-{index + 1:03d}",
            f"Two drugs of {catalogue.class_labels[cls]}",
            f"Two different drugs of {catalogue.class_labels[cls]} duplicate therapy (synthetic rule).",
            "Keep one drug of the class unless both are intended (synthetic rule).",
            kind_code="duplicate-therapy",
            severity="moderate",
            facts=[("appliesToDrug", _iri(cls)), ("sameIngredientOnly", f'"false"^^{_BOOLEAN}')],
        )
    return "".join(out).encode("utf-8")


def rule_chunks(
    catalogue: DrugCatalogue, vocabulary: SharedVocabulary, pairs: int, seed: int, counts: RuleCounts
) -> Iterator[bytes]:
    """Yield every synthetic rule as N-Triples bytes, about :data:`CHUNK_RULES` rules a chunk.

    ``counts`` is filled in as the chunks are produced (complete once the iterator is exhausted).
    Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    yield _drug_rules(catalogue, vocabulary, rng, counts)
    yield from _pair_chunks(catalogue, vocabulary, pairs, rng, counts)
