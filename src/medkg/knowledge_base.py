"""A loaded knowledge base: the query store plus a catalogue of rules, labels and names.

The catalogue is read once per process with the queries in ``queries/catalogue/``; it holds
what reports need to describe findings (rule texts, citations, labels) and what name
resolution needs (drug and condition names). Nothing clinical is written here.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyoxigraph as ox

from . import __version__
from .build import BuiltKnowledgeBase, ensure_built
from .cache import write_atomically
from .catalogue_file import CatalogueFile, write_catalogue_file
from .names import combination_parts, normalise, spelling_key, without_release_form
from .queries import query_files, query_text
from .store import QueryStore

if TYPE_CHECKING:
    from .rulebook import Rulebook

__all__ = ["Citation", "KnowledgeBase", "RuleInfo", "default_knowledge_base"]

T = TypeVar("T")
V = TypeVar("V")


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


_CATALOGUE_FORMAT = 1


def catalogued(method: Callable[[KnowledgeBase], T]) -> cached_property[T]:
    """Make a catalogue property: read from the build's ``catalogue.pickle`` when current, else queried.

    On first use all catalogue properties are computed and saved together; a large build saves all
    but the per-IRI ones (:data:`_PER_IRI`), which are read on demand.
    """
    name = method.__name__

    def get(self: KnowledgeBase) -> T:
        saved = self._saved_catalogue
        if name in saved:
            return saved[name]  # type: ignore[return-value]
        return method(self)

    get.__doc__ = method.__doc__
    get.__name__ = name
    return cached_property(get)


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
        """The compiled knowledge base in pyoxigraph: ``kb.nt`` in memory, or a large build's store read-only."""
        if self.built.large:
            return QueryStore.open_read_only(self.built.store_folder)
        return QueryStore.from_file(self.built.compiled)

    @cached_property
    def rulebook(self) -> Rulebook:
        """The compiled rule book of this build (cached next to it; see :mod:`medkg.rulebook`).

        Side effect: once loaded, it is kept out of the cyclic collector's walks
        (:func:`medkg.gc_pause.freeze_long_lived`), with every other object alive then.
        """
        from .gc_pause import freeze_long_lived
        from .rulebook import load_rulebook

        book = load_rulebook(lambda: self.store, self.built.folder, self.built.sha256, self.root)
        freeze_long_lived()
        return book

    @cached_property
    def rule_queries(self) -> list[str]:
        """Names of the rule queries (``queries/rules/*.rq`` under this knowledge base's root), listed once."""
        return query_files("rules", self.root)

    def query(self, name: str) -> str:
        """Text of ``queries/<name>.rq`` for this knowledge base's resource root."""
        return query_text(name, self.root)

    def _rows(self, name: str, bindings: dict[str, str] | None = None) -> list[dict[str, object]]:
        terms = {key: ox.NamedNode(value) for key, value in bindings.items()} if bindings else None
        return self.store.select(self.query(name), bindings=terms)

    @cached_property
    def _saved_catalogue(self) -> dict[str, object]:
        """The catalogue saved next to the build (computed and saved on first use; see :func:`catalogued`)."""
        key = self._catalogue_key()
        path = self.built.folder / "catalogue.pickle"
        try:
            with path.open("rb") as handle:
                saved = pickle.load(handle)  # our own cache file, written below
            if isinstance(saved, dict) and saved.get("_key") == key:
                return saved
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
            pass
        self.__dict__["_saved_catalogue"] = {}  # compute each property from the store
        computed: dict[str, object] = {"_key": key}
        for name in _CATALOGUE:
            if not (self.built.large and name in _PER_IRI):
                computed[name] = getattr(self, name)
        write_atomically(path, computed)
        return computed

    def _catalogue_key(self, *folders: str) -> str:
        digest = hashlib.sha256(f"{_CATALOGUE_FORMAT}\n{__version__}\n{self.built.sha256}\n".encode())
        for folder in ("catalogue", *folders):
            for name in query_files(folder, self.root):
                digest.update(query_text(name, self.root).encode("utf-8"))
        return digest.hexdigest()

    @cached_property
    def catalogue_file(self) -> CatalogueFile | None:
        """A large build's per-IRI catalogue (``catalogue.sqlite``), written on first use; None for a small build.

        Also None when the file cannot be written (e.g. a read-only build folder): rules, labels
        and citations are then read from the store one SPARQL query per IRI.
        """
        return self.open_catalogue_file(jobs=1)

    def open_catalogue_file(self, jobs: int = 1) -> CatalogueFile | None:
        """Return a large build's catalogue file, writing it first (with ``jobs`` processes) when missing or stale.

        ``jobs`` > 1 forks a writer process (:func:`medkg.catalogue_file.write_catalogue_file`):
        use it only where no other threads run, as :func:`medkg.build.compile_caches` does. None
        for a small build, or when the file cannot be written. The result is also what
        :attr:`catalogue_file` gives from then on.
        """
        if not self.built.large:
            return None
        key = self._catalogue_key("catalogue-file")
        path = self.built.folder / "catalogue.sqlite"
        found = CatalogueFile.open(path, key)
        if found is None:
            try:
                self.write_catalogue_file(path, key, jobs=jobs)
            except (OSError, sqlite3.Error):  # e.g. a read-only build folder or a full disk
                return None
            found = CatalogueFile.open(path, key)
        self.__dict__["catalogue_file"] = found
        return found

    def write_catalogue_file(self, path: Path, key: str, *, jobs: int = 1) -> dict[str, float]:
        """Read the per-IRI catalogue from the store whole (streamed) and write it to ``path``; return figures.

        See :func:`medkg.catalogue_file.write_catalogue_file` (row counts and CPU seconds per
        table). Each query opens the store afresh, read-only, so that a forked writer (``jobs`` >
        1) never shares the parent's open store.

        Raises:
            OSError: if ``path``'s folder cannot be written.
            sqlite3.Error: if SQLite fails.
        """
        folder = self.built.store_folder

        def read(name: str) -> Iterator[dict[str, object]]:
            return QueryStore.open_read_only(folder).select_iter(self.query(name))

        return write_catalogue_file(path, key, read, jobs=jobs)

    @catalogued
    def labels(self) -> Mapping[str, str]:
        """IRI -> display label (read on demand for a large build)."""
        if self.built.large:
            file = self.catalogue_file
            if file is not None:
                return _OnDemand(lambda iri: _opt(file.label(iri)))
            return _OnDemand(
                lambda iri: next((str(r["label"]) for r in self._rows("catalogue/labels", {"iri": iri})), None)
            )
        return {str(row["iri"]): str(row["label"]) for row in self._rows("catalogue/labels")}

    def label(self, iri: str) -> str:
        """Display label of ``iri``, or its local name when unlabelled."""
        return self.labels.get(iri) or iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    @catalogued
    def rules(self) -> Mapping[str, RuleInfo]:
        """Rule IRI -> :class:`RuleInfo` with citations and alternatives (read on demand for a large build)."""
        if self.built.large:
            file = self.catalogue_file
            if file is not None:
                return _OnDemand(
                    lambda iri: _rule_infos(
                        file.rules(iri), _grouped_citations(file.citations(iri)), file.alternatives(iri)
                    ).get(iri)
                )
            return _OnDemand(
                lambda iri: _rule_infos(
                    self._rows("catalogue/rules", {"rule": iri}),
                    self._citations({"subject": iri}),
                    self._rows("catalogue/alternatives", {"rule": iri}),
                ).get(iri)
            )
        return _rule_infos(self._rows("catalogue/rules"), self.citations, self._rows("catalogue/alternatives"))

    @catalogued
    def supersedes(self) -> dict[str, set[str]]:
        """General rule IRI -> the more specific rules that replace it when both fire for the same drugs."""
        found: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("catalogue/supersedes"):
            found[str(row["superseded"])].add(str(row["rule"]))
        return dict(found)

    @catalogued
    def citations(self) -> Mapping[str, list[Citation]]:
        """Subject IRI (rule, population, class) -> its citations, sorted by title (on demand for a large build)."""
        if self.built.large:
            file = self.catalogue_file
            if file is not None:
                return _OnDemand(lambda iri: _grouped_citations(file.citations(iri)).get(iri))
            return _OnDemand(lambda iri: self._citations({"subject": iri}).get(iri))
        return self._citations(None)

    @catalogued
    def reference_dose_citations(self) -> dict[tuple[str, float], list[Citation]]:
        """(drug IRI, reference dose in mg/day) -> citations of that drug fact.

        The facts dose burden rules divide by (``medkg:referenceDoseProperty``, e.g. a minimum
        recommended daily dose), so that a finding cites each drug's term
        (``queries/catalogue/reference-dose-citations.rq``).
        """
        found: dict[tuple[str, float], list[Citation]] = defaultdict(list)
        for row in self._rows("catalogue/reference-dose-citations"):
            found[(str(row["drug"]), float(str(row["value"])))].append(citation_from_row(row))
        return dict(found)

    def _citations(self, subject: dict[str, str] | None) -> dict[str, list[Citation]]:
        return _grouped_citations(self._rows("catalogue/citations", subject))

    @catalogued
    def drug_names(self) -> dict[str, str]:
        """Lower-case name (ingredient, brand, synonym) -> drug IRI.

        For a combination brand this is one of its ingredients; :attr:`name_ingredients` has all.
        """
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/drug-names"), key=lambda r: (str(r["nameKind"]), str(r["name"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["drug"]))
        return names

    def knows_drug(self, name: str) -> bool:
        """Whether ``name`` (any case and spacing) names a drug: ingredient, brand, synonym or combination of them."""
        return bool(self.ingredients_of(name))

    def ingredients_of(self, name: str) -> list[str]:
        """Return the drug IRIs an entered medication name denotes ([] if it denotes none).

        The modelled part of :meth:`composition_of`.
        """
        return self.composition_of(name)[0]

    def composition_of(self, name: str) -> tuple[list[str], list[str]]:
        """Return what an entered medication name denotes: (drug IRIs, names of unmodelled ingredients).

        A name of the knowledge base (ingredient, brand, synonym) gives its ingredients, several for
        a combination brand, and the names of the product's ingredients the knowledge base does not
        model (``kg/product-ingredients``: ``"Kaletra"`` -> ritonavir, and lopinavir unmodelled).
        Otherwise a combination written out with "/", "+", "-" or "and" (``"amlodipine/valsartan"``,
        :func:`medkg.names.combination_parts`) gives those of its parts when every part is such a
        name or an unmodelled ingredient's; if one part is unknown the whole name is ``([], [])``,
        so nothing is checked on half a name. A name still unknown is read with a hyphen written as
        a space (``"Toprol XL"``, :func:`medkg.names.spelling_key`) and, failing that, without a
        trailing release or dose-form word (``"Remeron SolTab"``, :func:`medkg.names.without_release_form`).
        """
        found, unmodelled = self._composition_as_written(name)
        if found or unmodelled:
            return found, unmodelled
        known = self.known_name(name)
        return self._composition_as_written(known) if known != normalise(name) else ([], [])

    def known_name(self, name: str) -> str:
        """Return the normalised name :meth:`composition_of` reads ``name`` as.

        The name itself when known or unknown, else the known name it is a spelling of
        (``"Zyrtec D"`` -> ``"zyrtec-d"``) or, without release-form words, is or is spelt as
        (``"Remeron SolTab"`` -> ``"remeron"``); a name written as a combination keeps its parts.
        """
        key = normalise(name)
        if key in self.name_ingredients or key in self.unmodelled_ingredients:
            return key
        spelt = self.spellings.get(spelling_key(name))
        if spelt is not None:
            return spelt
        stripped = without_release_form(name)
        return self.known_name(stripped) if stripped != key else key

    @cached_property
    def spellings(self) -> dict[str, str]:
        """:func:`medkg.names.spelling_key` of a known product or drug name -> that name.

        A key whose names denote different ingredients is left out (not guessed between).
        """
        found: dict[str, set[str]] = defaultdict(set)
        for name in [*self.name_ingredients, *self.unmodelled_ingredients]:
            found[spelling_key(name)].add(name)
        return {
            key: min(names)
            for key, names in found.items()
            if len({tuple(map(tuple, self._composition_as_written(n))) for n in names}) == 1
        }

    def _composition_as_written(self, name: str) -> tuple[list[str], list[str]]:
        key = normalise(name)
        found = self.name_ingredients.get(key)
        unmodelled = self.unmodelled_ingredients.get(key, [])
        if found is not None or unmodelled:
            return found or [], unmodelled
        parts = combination_parts(name)
        if len(parts) == 1:
            return [], []
        drugs: set[str] = set()
        others: list[str] = []
        for part in parts:
            iris = self.name_ingredients.get(part)
            if iris:
                drugs.update(iris)
            elif part in self.unmodelled_names:
                others.append(self.unmodelled_names[part])
            else:
                return [], []
        return sorted(drugs), sorted(set(others))

    @catalogued
    def unmodelled_ingredients(self) -> dict[str, list[str]]:
        """Lower-case product name -> names of its active ingredients the knowledge base does not model.

        From ``kg/product-ingredients`` (``"kaletra"`` -> ``["lopinavir"]``); see :meth:`composition_of`.
        """
        found: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("catalogue/unmodelled-ingredients"):
            found[normalise(str(row["product"]))].add(str(row["label"]))
        return {product: sorted(names) for product, names in found.items()}

    @catalogued
    def unmodelled_citations(self) -> dict[tuple[str, str], list[Citation]]:
        """(lower-case product name, unmodelled ingredient name) -> the citations saying the product contains it."""
        found: dict[tuple[str, str], list[Citation]] = defaultdict(list)
        for row in self._rows("catalogue/unmodelled-ingredients"):
            if row.get("title") is not None:
                found[(normalise(str(row["product"])), str(row["label"]))].append(citation_from_row(row))
        return dict(found)

    @cached_property
    def unmodelled_names(self) -> dict[str, str]:
        """Lower-case name of an unmodelled ingredient -> its name (as :attr:`unmodelled_ingredients` gives it)."""
        return {normalise(n): n for names in self.unmodelled_ingredients.values() for n in names}

    @catalogued
    def name_ingredients(self) -> dict[str, list[str]]:
        """Lower-case name -> every drug IRI it names (several for a combination brand such as Percocet)."""
        found: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("catalogue/drug-names"):
            found[str(row["name"]).casefold()].add(str(row["drug"]))
        return {name: sorted(iris) for name, iris in found.items()}

    @catalogued
    def allergen_names(self) -> dict[str, str]:
        """Lower-case name -> drug or drug-class IRI, for documented allergies (drug names win)."""
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/drug-class-names"), key=lambda r: (str(r["name"]), str(r["class"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["class"]))
        return {**names, **self.drug_names}

    @catalogued
    def dose_limited_drugs(self) -> frozenset[str]:
        """Drug IRIs with a general daily maximum (a dose rule for all patients names it or its class)."""
        return frozenset(str(row["drug"]) for row in self._rows("catalogue/dose-limited-drugs"))

    @catalogued
    def curation(self) -> dict[str, str]:
        """Drug IRI -> curation level (``label-depth`` or ``tabular``)."""
        return {str(row["drug"]): str(row["curation"]) for row in self._rows("catalogue/drug-names") if row["curation"]}

    @catalogued
    def condition_names(self) -> dict[str, str]:
        """Lower-case condition name, synonym or code -> condition class IRI."""
        names: dict[str, str] = {}
        for row in sorted(self._rows("catalogue/condition-names"), key=lambda r: (str(r["name"]), str(r["condition"]))):
            names.setdefault(str(row["name"]).casefold(), str(row["condition"]))
        return names

    @catalogued
    def past_episode_conditions(self) -> frozenset[str]:
        """Condition class IRIs whose past episodes count (``medkg:countsWhenPast``, subclasses included)."""
        return frozenset(str(row["condition"]) for row in self._rows("catalogue/past-episode-conditions"))

    @catalogued
    def population_definitions(self) -> dict[str, list[tuple[str, str, object]]]:
        """Population IRI -> [(property IRI, facet, limit)] read from its OWL definition."""
        found: dict[str, list[tuple[str, str, object]]] = defaultdict(list)
        for row in self._rows("catalogue/population-definitions"):
            found[str(row["population"])].append((str(row["property"]), str(row["facet"]), row["limit"]))
        return {key: sorted(value, key=str) for key, value in found.items()}

    @catalogued
    def properties(self) -> dict[str, PropertyInfo]:
        """Datatype property IRI -> label, unit and clinical domain."""
        return {
            str(row["property"]): PropertyInfo(str(row["label"]), _opt(row["unit"]), _opt(row["domain"]))
            for row in self._rows("catalogue/properties")
        }


#: Values an on-demand mapping keeps before it starts afresh.
_ON_DEMAND_KEPT = 100_000


class _OnDemand(Mapping[str, V]):
    """A mapping whose values are read one key at a time (and kept) - for a large build's catalogue.

    Iterating it is not supported: a million rules are never listed in memory.
    """

    def __init__(self, read: Callable[[str], V | None]) -> None:
        self._read = read
        self._seen: dict[str, V | None] = {}

    def __getitem__(self, key: str) -> V:
        if key not in self._seen:
            if len(self._seen) >= _ON_DEMAND_KEPT:
                self._seen.clear()  # a long-running server: keep memory bounded
            self._seen[key] = self._read(key)
        value = self._seen[key]
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a large knowledge base's catalogue is read per key, not listed")

    def __len__(self) -> int:
        raise TypeError("a large knowledge base's catalogue is read per key, not counted")


#: The catalogue properties saved together (see :func:`catalogued`).
_CATALOGUE = [
    name
    for name, value in vars(KnowledgeBase).items()
    if isinstance(value, cached_property) and name not in ("store", "rulebook", "_saved_catalogue", "catalogue_file")
]


#: Catalogue properties a large build reads per IRI (never listed whole: a million rules).
_PER_IRI = frozenset({"labels", "rules", "citations"})


def _rule_infos(
    rule_rows: Iterable[Mapping[str, object]],
    citations: Mapping[str, list[Citation]],
    alternative_rows: Iterable[Mapping[str, object]],
) -> dict[str, RuleInfo]:
    """Rule IRI -> :class:`RuleInfo`, from rows of ``catalogue/rules.rq`` and ``catalogue/alternatives.rq``.

    For a rule with several rows (a text given twice) the last row wins.
    """
    rules: dict[str, RuleInfo] = {}
    for row in rule_rows:
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
    for key, found in citations.items():
        if key in rules:
            rules[key].citations = found
    for row in alternative_rows:
        info = rules.get(str(row["rule"]))
        if info is not None:
            info.alternatives.append(
                Alternative(str(row["therapy"]), str(row["label"]), int(row["order"] or 99), _opt(row["note"]))  # type: ignore[call-overload]
            )
    for info in rules.values():
        info.alternatives.sort(key=lambda alt: (alt.order, alt.label))
    return rules


def _grouped_citations(rows: Iterable[Mapping[str, object]]) -> dict[str, list[Citation]]:
    """Subject IRI -> its citations (rows of ``catalogue/citations.rq``), each once, sorted by title and locator."""
    found: dict[str, list[Citation]] = defaultdict(list)
    for row in rows:
        found[str(row["subject"])].append(citation_from_row(row))
    return {key: sorted(set(value), key=lambda c: (c.title, c.locator or "")) for key, value in found.items()}


def citation_from_row(row: Mapping[str, object]) -> Citation:
    """Make a :class:`Citation` from a query row with the columns of ``queries/catalogue/citations.rq``.

    ``title`` is required; ``url``, ``doi``, ``version``, ``locator``, ``evidence``, ``uncertain``
    and ``note`` may be unbound (None).
    """
    return Citation(
        title=str(row["title"]),
        url=_opt(row.get("url")),
        doi=_opt(row.get("doi")),
        version=_opt(row.get("version")),
        locator=_opt(row.get("locator")),
        evidence=_opt(row.get("evidence")),
        uncertain=bool(row.get("uncertain")),
        note=_opt(row.get("note")),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


_DEFAULT: dict[tuple[Path | None, Path | None], KnowledgeBase] = {}


def knowledge_base_at(folder: Path, root: Path | None = None) -> KnowledgeBase:
    """Return the knowledge base compiled in ``folder`` (a build folder with ``meta.json``).

    E.g. one written by ``scripts/synth_kb.py``; read with the queries under ``root`` (default: built-in).

    Raises:
        FileNotFoundError: if ``folder`` holds no ``meta.json``.
    """
    from .build import read_build

    key = (folder.resolve(), root)
    if key not in _AT:
        _AT[key] = KnowledgeBase(read_build(folder), root)
    return _AT[key]


_AT: dict[tuple[Path, Path | None], KnowledgeBase] = {}


def default_knowledge_base(root: Path | None = None, cache: Path | None = None) -> KnowledgeBase:
    """Return the knowledge base for ``root`` (default: the built-in one), built if needed, one per process.

    With no ``root`` and the environment variable ``MEDKG_KB`` set to a build folder (e.g. a
    synthetic knowledge base from ``scripts/synth_kb.py``), that build is used instead.
    """
    if root is None and os.environ.get("MEDKG_KB"):
        return knowledge_base_at(Path(os.environ["MEDKG_KB"]))
    key = (root, cache)
    if key not in _DEFAULT:
        _DEFAULT[key] = KnowledgeBase(ensure_built(root, cache), root)
    return _DEFAULT[key]
