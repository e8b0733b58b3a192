"""A loaded knowledge base: the query store plus a catalogue of rules, labels and names.

The catalogue is read once per process with the queries in ``queries/catalogue/``; it holds
what reports need to describe findings (rule texts, citations, labels) and what name
resolution needs (drug and condition names). Nothing clinical is written here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .build import BuiltKnowledgeBase, ensure_built
from .names import normalise
from .queries import query_text
from .store import QueryStore

if TYPE_CHECKING:
    from .rulebook import Rulebook

__all__ = ["Citation", "KnowledgeBase", "RuleInfo", "default_knowledge_base"]


@dataclass(frozen=True)
class Citation:
    """One source of a fact: title, URL or DOI, version, locator, evidence level, uncertainty."""

    title: str
    url: str | None
    doi: str | None
    version: str | None
    locator: str | None
    evidence: str | None
    uncertain: bool
    note: str | None


@dataclass(frozen=True)
class Alternative:
    """A preferred alternative of a rule: therapy IRI and label, step order, note."""

    therapy: str
    label: str
    order: int
    note: str | None


@dataclass
class RuleInfo:
    """What the knowledge base says about one rule (kind and severity as report codes)."""

    iri: str
    rule_class: str
    label: str
    kind: str
    severity: str
    rank: int
    summary: str
    recommendation: str
    citations: list[Citation] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)


@dataclass(frozen=True)
class PropertyInfo:
    """A patient or medication property: label, unit, clinical domain."""

    label: str
    unit: str | None
    domain: str | None


class KnowledgeBase:
    """A compiled knowledge base, loaded into a :class:`~medkg.store.QueryStore` on first use."""

    def __init__(self, built: BuiltKnowledgeBase, root: Path | None = None, store: QueryStore | None = None) -> None:
        """``store``: where the compiled knowledge base is queried (default: ``kb.nt`` loaded into pyoxigraph)."""
        self.built = built
        self.root = root
        if store is not None:
            self.__dict__["store"] = store

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the edited sources this build was compiled from."""
        return self.built.sha256

    @cached_property
    def store(self) -> QueryStore:
        """The compiled knowledge base in an in-memory pyoxigraph store (loaded lazily)."""
        return QueryStore.from_file(self.built.compiled)

    @cached_property
    def rulebook(self) -> Rulebook:
        """The compiled rule book of this build (cached next to it; see :mod:`medkg.rulebook`)."""
        from .rulebook import load_rulebook

        return load_rulebook(self.store, self.built.folder, self.built.sha256, self.root)

    def query(self, name: str) -> str:
        """Text of ``queries/<name>.rq`` for this knowledge base's resource root."""
        return query_text(name, self.root)

    def _rows(self, name: str) -> list[dict[str, object]]:
        return self.store.select(self.query(name))

    @cached_property
    def labels(self) -> dict[str, str]:
        """IRI -> display label."""
        return {str(row["iri"]): str(row["label"]) for row in self._rows("catalogue/labels")}

    def label(self, iri: str) -> str:
        """Display label of ``iri``, or its local name when unlabelled."""
        return self.labels.get(iri) or iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    @cached_property
    def rules(self) -> dict[str, RuleInfo]:
        """Rule IRI -> :class:`RuleInfo` with citations and alternatives."""
        rules: dict[str, RuleInfo] = {}
        for row in self._rows("catalogue/rules"):
            iri = str(row["rule"])
            rules[iri] = RuleInfo(
                iri=iri,
                rule_class=str(row["ruleClass"]),
                label=str(row["label"]),
                kind=str(row["kind"]),
                severity=str(row["severity"]),
                rank=int(row["rank"] or 0),  # type: ignore[call-overload]
                summary=str(row["summary"] or ""),
                recommendation=str(row["recommendation"] or ""),
            )
        for subject, citations in self.citations.items():
            if subject in rules:
                rules[subject].citations = citations
        for row in self._rows("catalogue/alternatives"):
            rule = rules.get(str(row["rule"]))
            if rule is not None:
                rule.alternatives.append(
                    Alternative(str(row["therapy"]), str(row["label"]), int(row["order"] or 99), _opt(row["note"]))  # type: ignore[call-overload]
                )
        for rule in rules.values():
            rule.alternatives.sort(key=lambda alt: (alt.order, alt.label))
        return rules

    @cached_property
    def supersedes(self) -> dict[str, set[str]]:
        """General rule IRI -> the more specific rules that replace it when both fire for the same drugs."""
        found: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("catalogue/supersedes"):
            found[str(row["superseded"])].add(str(row["rule"]))
        return dict(found)

    @cached_property
    def citations(self) -> dict[str, list[Citation]]:
        """Subject IRI (rule, population, class) -> its citations, sorted by title."""
        found: dict[str, list[Citation]] = defaultdict(list)
        for row in self._rows("catalogue/citations"):
            found[str(row["subject"])].append(
                Citation(
                    title=str(row["title"]),
                    url=_opt(row["url"]),
                    doi=_opt(row["doi"]),
                    version=_opt(row["version"]),
                    locator=_opt(row["locator"]),
                    evidence=_opt(row["evidence"]),
                    uncertain=bool(row["uncertain"]),
                    note=_opt(row["note"]),
                )
            )
        return {key: sorted(set(value), key=lambda c: (c.title, c.locator or "")) for key, value in found.items()}

    @cached_property
    def drug_names(self) -> dict[str, str]:
        """Lower-case name (ingredient, brand, synonym) -> drug IRI.

        For a combination brand this is one of its ingredients; :attr:`name_ingredients` has all.
        """
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/drug-names"), key=lambda r: (str(r["nameKind"]), str(r["name"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["drug"]))
        return names

    def knows_drug(self, name: str) -> bool:
        """Whether ``name`` (any case and spacing) names a drug: ingredient, brand or synonym."""
        return normalise(name) in self.name_ingredients

    @cached_property
    def name_ingredients(self) -> dict[str, list[str]]:
        """Lower-case name -> every drug IRI it names (several for a combination brand such as Percocet)."""
        found: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("catalogue/drug-names"):
            found[str(row["name"]).casefold()].add(str(row["drug"]))
        return {name: sorted(iris) for name, iris in found.items()}

    @cached_property
    def allergen_names(self) -> dict[str, str]:
        """Lower-case name -> drug or drug-class IRI, for documented allergies (drug names win)."""
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/drug-class-names"), key=lambda r: (str(r["name"]), str(r["class"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["class"]))
        return {**names, **self.drug_names}

    @cached_property
    def curation(self) -> dict[str, str]:
        """Drug IRI -> curation level (``label-depth`` or ``tabular``)."""
        return {str(row["drug"]): str(row["curation"]) for row in self._rows("catalogue/drug-names") if row["curation"]}

    @cached_property
    def condition_names(self) -> dict[str, str]:
        """Lower-case condition name, synonym or code -> condition class IRI."""
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/condition-names"), key=lambda r: (str(r["name"]), str(r["condition"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["condition"]))
        return names

    @cached_property
    def population_definitions(self) -> dict[str, list[tuple[str, str, object]]]:
        """Population IRI -> [(property IRI, facet, limit)] read from its OWL definition."""
        found: dict[str, list[tuple[str, str, object]]] = defaultdict(list)
        for row in self._rows("catalogue/population-definitions"):
            found[str(row["population"])].append((str(row["property"]), str(row["facet"]), row["limit"]))
        return {key: sorted(value, key=str) for key, value in found.items()}

    @cached_property
    def properties(self) -> dict[str, PropertyInfo]:
        """Datatype property IRI -> label, unit and clinical domain."""
        return {
            str(row["property"]): PropertyInfo(str(row["label"]), _opt(row["unit"]), _opt(row["domain"]))
            for row in self._rows("catalogue/properties")
        }


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


_DEFAULT: dict[tuple[Path | None, Path | None], KnowledgeBase] = {}


def default_knowledge_base(root: Path | None = None, cache: Path | None = None) -> KnowledgeBase:
    """Return the knowledge base for ``root`` (default: the built-in one), built if needed, one per process."""
    key = (root, cache)
    if key not in _DEFAULT:
        _DEFAULT[key] = KnowledgeBase(ensure_built(root, cache), root)
    return _DEFAULT[key]
