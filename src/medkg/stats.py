"""Knowledge-base statistics (``medkg stats``) and release differences (``medkg diff``).

Both read a knowledge base through the queries in ``queries/stats/`` and
``queries/catalogue/rules.rq``: from the built store of the installed knowledge base, or from a
source tree (``ontology/`` + ``kg/``) compiled without reasoning, so two releases can be
compared without running HermiT.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from .queries import query_text
from .sources import find_sources, load_sources
from .store import QueryStore, Row

__all__ = ["Snapshot", "diff", "snapshot", "snapshot_of", "stats"]

#: What a fact is keyed by in a diff: (kind, drug IRI, property IRI, value).
FactKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Snapshot:
    """What a knowledge base holds, as plain rows.

    Attributes:
        drugs: drug IRI -> {label, rxcui, atc, curation}.
        facts: fact key -> (has a source, marked uncertain).
        rules: rule IRI -> {kind (rule class), finding kind, severity, label, summary, recommendation}.
        sourced_rules / uncertain_rules: rule IRIs citing a declared source / with an uncertain citation.
    """

    drugs: dict[str, dict[str, str]]
    facts: dict[FactKey, tuple[bool, bool]]
    rules: dict[str, dict[str, str]]
    sourced_rules: frozenset[str]
    uncertain_rules: frozenset[str]


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def snapshot(store: QueryStore, root: Path | None = None) -> Snapshot:
    """Read drugs, facts and rules from ``store`` with the stats queries (of ``root``, or installed)."""
    drugs = {
        _text(row, "drug"): {
            "label": _text(row, "label"),
            "rxcui": _text(row, "rxcui"),
            "atc": _text(row, "atcCodes"),
            "curation": _text(row, "curation"),
        }
        for row in store.select(query_text("stats/drug-identity", root))
    }
    facts = {
        (_text(row, "kind"), _text(row, "drug"), _text(row, "property"), _text(row, "value")): (
            int(str(row["sourced"])) > 0,
            int(str(row["unsure"])) > 0,
        )
        for row in store.select(query_text("stats/facts", root))
    }
    rules: dict[str, dict[str, str]] = {}
    for row in store.select(query_text("catalogue/rules", root)):
        rules[_text(row, "rule")] = {
            "kind": _text(row, "ruleClass").rsplit("#", 1)[-1],
            "finding_kind": _text(row, "kind"),
            "severity": _text(row, "severity"),
            "label": _text(row, "label"),
            "summary": _text(row, "summary"),
            "recommendation": _text(row, "recommendation"),
        }
    sourced, uncertain = set(), set()
    for row in store.select(query_text("stats/rule-citations", root)):
        if int(str(row["sourced"])):
            sourced.add(_text(row, "rule"))
        if int(str(row["unsure"])):
            uncertain.add(_text(row, "rule"))
    return Snapshot(drugs, facts, rules, frozenset(sourced), frozenset(uncertain))


def stats(snap: Snapshot) -> dict[str, Any]:
    """Count for ``medkg stats``: drugs and codes, facts and rules per kind with source coverage.

    ``facts`` counts drug facts (class memberships, effects, enzyme roles, scores) plus rules;
    ``facts_without_source`` those with no citation of a declared source (must be 0).
    """
    fact_kinds: dict[str, Counter[str]] = {}
    for (kind, *_rest), (sourced, unsure) in snap.facts.items():
        counter = fact_kinds.setdefault(kind, Counter())
        counter["facts"] += 1
        counter["with_source"] += sourced
        counter["uncertain"] += unsure
    rule_kinds: dict[str, Counter[str]] = {}
    for rule, info in snap.rules.items():
        counter = rule_kinds.setdefault(info["kind"], Counter())
        counter["rules"] += 1
        counter["with_source"] += rule in snap.sourced_rules
        counter["uncertain"] += rule in snap.uncertain_rules
    drug_facts = sum(c["facts"] for c in fact_kinds.values())
    unsourced = sum(c["facts"] - c["with_source"] for c in fact_kinds.values())
    unsourced += sum(c["rules"] - c["with_source"] for c in rule_kinds.values())
    drugs = snap.drugs.values()
    return {
        "drugs": len(snap.drugs),
        "drugs_with_rxcui": sum(bool(d["rxcui"]) for d in drugs),
        "drugs_with_atc": sum(bool(d["atc"]) for d in drugs),
        "drugs_label_depth": sum(d["curation"] == "label-depth" for d in drugs),
        "facts": drug_facts + len(snap.rules),
        "facts_without_source": unsourced,
        "rules": len(snap.rules),
        "rule_kinds": {kind: dict(sorted(c.items())) for kind, c in sorted(rule_kinds.items())},
        "fact_kinds": {kind: dict(sorted(c.items())) for kind, c in sorted(fact_kinds.items())},
    }


@contextmanager
def _source_tree(spec: str) -> Iterator[Path]:
    """Yield a source root for ``spec``: a directory holding ontology/ and kg/, or a git revision of the cwd repo."""
    path = Path(spec)
    if path.is_dir():
        yield path
        return
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", spec, "ontology", "kg"], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise ValueError(f"{spec!r} is neither a directory with ontology/ and kg/ nor a git revision here") from error
    with tempfile.TemporaryDirectory(prefix="medkg-diff-") as folder, tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
        yield Path(folder)


def snapshot_of(spec: str) -> Snapshot:
    """Snapshot of the knowledge base in source tree or git revision ``spec`` (compiled, not reasoned).

    Raises:
        ValueError: when ``spec`` is neither a source directory nor a git revision.
    """
    with _source_tree(spec) as root:
        if not (root / "ontology").is_dir() or not (root / "kg").is_dir():
            raise ValueError(f"{spec}: no ontology/ and kg/ folders")
        store = QueryStore.from_graph(load_sources(find_sources(root)))
        return snapshot(store)


def _changes(
    old: dict[str, dict[str, str]], new: dict[str, dict[str, str]], shown: tuple[str, ...], texts: tuple[str, ...]
) -> list[str]:
    """One line per record in both whose ``shown`` fields (values listed) or ``texts`` (flagged) differ."""
    lines = []
    for key in old.keys() & new.keys():
        before, after = old[key], new[key]
        fields = [
            f"{name} {before[name] or '-'} -> {after[name] or '-'}" for name in shown if before[name] != after[name]
        ]
        if any(before[name] != after[name] for name in texts):
            fields.append("text changed")
        if fields:
            lines.append(f"{after['label']}: {', '.join(fields)}")
    return sorted(lines)


def diff(old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """Compare ``old`` with ``new``: drugs, identity codes, rules, rule severities, facts per kind."""

    def label(snap: Snapshot, iri: str) -> str:
        return snap.drugs.get(iri, {}).get("label") or iri.rsplit("/", 1)[-1]

    changed_codes = _changes(old.drugs, new.drugs, ("rxcui", "atc", "curation"), ())
    changed_rules = _changes(old.rules, new.rules, ("kind", "finding_kind", "severity"), ("summary", "recommendation"))
    facts: dict[str, dict[str, list[str]]] = {}
    for key in sorted(old.facts.keys() ^ new.facts.keys()):
        kind, drug, prop, value = key
        side = "added" if key in new.facts else "removed"
        snap = new if side == "added" else old
        facts.setdefault(kind, {"added": [], "removed": []})[side].append(
            f"{label(snap, drug)} {prop.rsplit('#', 1)[-1]} {value.rsplit('/', 1)[-1]}"
        )
    return {
        "drugs_added": sorted(label(new, d) for d in new.drugs.keys() - old.drugs.keys()),
        "drugs_removed": sorted(label(old, d) for d in old.drugs.keys() - new.drugs.keys()),
        "drug_codes_changed": changed_codes,
        "rules_added": sorted(new.rules[r]["label"] for r in new.rules.keys() - old.rules.keys()),
        "rules_removed": sorted(old.rules[r]["label"] for r in old.rules.keys() - new.rules.keys()),
        "rules_changed": changed_rules,
        "facts": facts,
        "stats": {"old": stats(old), "new": stats(new)},
    }
