"""The compiled rule book: the knowledge base's rules and the facts they read, as Python indexes.

The queries in ``queries/compile/`` read, once per build, everything the rule queries of
``queries/rules/`` and ``queries/not-assessed/`` look up in the knowledge base: the
materialised types of drugs and classes, the class hierarchy, the OWL definitions of
populations, the enzyme roles and scores rules name, and every rule with its parameters.
:mod:`medkg.compiled` applies them to patients without a query per patient.

Nothing clinical is written here: drugs, classes, thresholds and rules come from the graph.
The book is cached next to the build (``rulebook.pickle``) and recompiled when the build,
the compile queries or medkg's version change.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pyoxigraph as ox

from . import __version__
from .cache import write_atomically
from .gc_pause import cyclic_gc_paused
from .patient_graph import Iri, Lit, Term
from .queries import query_files, query_text
from .store import QueryStore

__all__ = ["Number", "Rule", "Rulebook", "compile_rulebook", "load_rulebook", "number_of"]

MEDKG = "https://w3id.org/medkg/ontology#"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGERS = frozenset(
    _XSD + name
    for name in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
    )
)
_DECIMALS = frozenset({_XSD + "decimal"})
_FLOATS = frozenset({_XSD + "double", _XSD + "float"})
#: The datatype facets population definitions may use (queries/classify/patient-populations.rq reads the same).
FACETS = tuple(_XSD + name for name in ("minInclusive", "minExclusive", "maxInclusive", "maxExclusive"))
#: Bump when the pickled layout changes.
_FORMAT = 8


class Number(NamedTuple):
    """A numeric literal as the rule queries see it.

    ``exact`` for comparisons (Decimal for xsd:decimal and integers, as SPARQL compares them;
    float for xsd:double), ``shown`` as a query row gives it (int or float).
    """

    exact: Decimal | float
    shown: int | float
    integer: bool


#: Literals already read, and their numbers (patients share ages, doses and frequencies).
_NUMBERS: dict[Lit, Number | None] = {}


def number_of(term: Term) -> Number | None:
    """Return the number a literal holds, or None for a non-numeric term (or a malformed lexical form)."""
    if not isinstance(term, Lit):
        return None
    if term in _NUMBERS:
        return _NUMBERS[term]
    number = _read_number(term)
    if len(_NUMBERS) < 100_000:  # bounded: a server sees ever new values
        _NUMBERS[term] = number
    return number


def _read_number(term: Lit) -> Number | None:
    try:
        if term.datatype in _INTEGERS:
            value = int(term.lexical)
            return Number(Decimal(value), value, True)
        if term.datatype in _DECIMALS:
            exact = Decimal(term.lexical)
            return Number(exact, float(exact), False)
        if term.datatype in _FLOATS:
            number = float(term.lexical)
            return Number(number, number, False)
    except (ValueError, ArithmeticError):
        return None
    return None


def _term(node: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> Term:
    if isinstance(node, ox.Literal):
        return Lit(node.value, node.datatype.value)
    if isinstance(node, ox.BlankNode):
        return Iri(f"_:{node.value}")
    assert node is not None
    return Iri(node.value)


def _text(node: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> str:
    # interned: a large book repeats the same drug and class IRIs across a million rules
    if isinstance(node, ox.BlankNode):
        return sys.intern(f"_:{node.value}")
    assert node is not None
    return sys.intern(node.value)


@dataclass(slots=True)
class Rule:
    """One rule: IRI, kind (local name of its rule class) and parameters by property local name.

    ``params`` holds the values as read (IRIs as str, :class:`Number`, bool) until :meth:`freeze`
    sorts them into IRIs, numbers and true flags (compact: a large book holds a million rules).
    """

    iri: str
    kind: str
    params: dict[str, list[object]] = field(default_factory=dict)
    _iris: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _numbers: dict[str, tuple[Number, ...]] = field(default_factory=dict, repr=False)
    _flags: frozenset[str] = field(default_factory=frozenset, repr=False)

    def freeze(self, shared: dict[object, object] | None = None) -> None:
        """Sort the parameter values and index them by type, then drop ``params`` (called once when compiled).

        ``shared`` (one dict for the whole book) makes equal value tuples and empty tables one
        object each: a million pair rules name the same few thousand drugs, so the book stays
        small in memory and in its pickle.
        """
        pool: dict[object, object] = {} if shared is None else shared
        iris: dict[str, tuple[str, ...]] = {}
        numbers: dict[str, tuple[Number, ...]] = {}
        for name, values in self.params.items():
            values.sort(key=repr)
            found = tuple(v for v in values if isinstance(v, str))
            if found:
                iris[name] = pool.setdefault(found, found)  # type: ignore[assignment]
            counted = tuple(v for v in values if isinstance(v, Number))
            if counted:
                numbers[name] = pool.setdefault(counted, counted)  # type: ignore[assignment]
        flags = frozenset(name for name, values in self.params.items() if any(v is True for v in values))
        self._iris = iris or pool.setdefault("empty-iris", {})  # type: ignore[assignment]
        self._numbers = numbers or pool.setdefault("empty-numbers", {})  # type: ignore[assignment]
        self._flags = pool.setdefault(flags, flags)  # type: ignore[assignment]
        self.params = pool.setdefault("empty-params", {})  # type: ignore[assignment]

    def iris(self, name: str) -> tuple[str, ...]:
        """Return the IRI values of parameter ``name`` (e.g. ``appliesToDrug``)."""
        return self._iris.get(name, ())

    def numbers(self, name: str) -> tuple[Number, ...]:
        """Return the numeric values of parameter ``name`` (e.g. ``maximumDailyDoseMg``, mg/day)."""
        return self._numbers.get(name, ())

    def flag(self, name: str) -> bool:
        """Return a boolean parameter, false when absent (as ``COALESCE(?x, false)`` in the queries)."""
        return name in self._flags


class Restriction(NamedTuple):
    """A property restriction a patient value can meet: kind is hasValue, someClass, oneOf or facet.

    ``limit`` is the facet's number (None for other kinds or a non-numeric facet value).
    """

    property: str
    kind: str
    value: Term
    facet: str | None
    limit: Number | None = None


class PartCheck(NamedTuple):
    """One definition part's restrictions, arranged for evaluation.

    ``properties``: the patient properties it reads; ``values``: (property, terms any of which
    meets it: owl:hasValue, owl:oneOf); ``classes``: (property, owl:someValuesFrom class);
    ``facets``: (property, [(facet IRI, limit)]) - all facets of a property must hold.
    """

    properties: frozenset[str]
    values: tuple[tuple[str, frozenset[Term]], ...]
    classes: tuple[tuple[str, str], ...]
    facets: tuple[tuple[str, tuple[tuple[str, Number | None], ...]], ...]


@dataclass
class Rulebook:
    """Everything the compiled engine reads from the knowledge base (see the module docstring).

    Attributes:
        types: drug or class IRI -> its rdf:types (as materialised at build time).
        ancestors: class IRI -> its strict superclasses (rdfs:subClassOf+).
        intersections / unions: defined class -> the parts of its owl:equivalentClass definition.
        restrictions: part (blank node id or IRI) -> the restrictions it holds.
        population_properties: required population -> [(patient property, clinical domain)].
        populations: classes reported as populations.
        drug_values: (drug IRI, property IRI) -> values (enzyme IRIs of a role; score numbers).
        rules: rule kind local name -> rules of that kind.
    """

    types: dict[str, frozenset[str]]
    ancestors: dict[str, frozenset[str]]
    intersections: dict[str, list[str]]
    unions: dict[str, list[str]]
    restrictions: dict[str, list[Restriction]]
    population_properties: dict[str, list[tuple[str, str]]]
    populations: frozenset[str]
    drug_values: dict[tuple[str, str], list[Term]]
    rules: dict[str, list[Rule]]
    key: str = ""
    #: (rule kind, parameter) -> parameter value -> rules of that kind with that value (each table
    #: made on first use, see :meth:`rules_by`).
    index: dict[tuple[str, str], dict[str, list[Rule]]] = field(default_factory=dict)
    #: drug IRI -> the (drug, property) keys of :attr:`drug_values` it has.
    drug_keys: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: restriction part -> its :class:`PartCheck` (see :meth:`prepare_part_checks`).
    part_checks: dict[str, PartCheck] = field(default_factory=dict)
    #: defined classes in dependency order: (class, is a union, parts).
    class_order: list[tuple[str, bool, tuple[str, ...]]] = field(default_factory=list)
    #: whether no definition depends (through others) on itself: one pass of class_order classifies.
    definitions_acyclic: bool = True
    #: object value -> precipitant value -> pair rules (see :meth:`pair_rules`; built on first use, not pickled).
    _pairs: dict[str, dict[str, list[Rule]]] | None = field(default=None, repr=False, compare=False)
    #: what the compiled engine learnt from earlier patients (``medkg.compiled``'s memo; made on first use, not pickled).
    memo: Any = field(default=None, repr=False, compare=False)

    def prepare_part_checks(self, known_facets: Iterable[str]) -> None:
        """Arrange :attr:`restrictions` into :attr:`part_checks` (once; facets outside ``known_facets`` are ignored)."""
        if self.part_checks or not (self.restrictions or self.intersections or self.unions):
            return
        self._order_definitions()
        allowed = set(known_facets)
        for part, restrictions in self.restrictions.items():
            values: dict[str, set[Term]] = defaultdict(set)
            facets: dict[str, list[tuple[str, Number | None]]] = defaultdict(list)
            classes = []
            for r in restrictions:
                if r.kind in {"hasValue", "oneOf"}:
                    values[r.property].add(r.value)
                elif r.kind == "someClass" and isinstance(r.value, Iri):
                    classes.append((r.property, r.value.value))
                elif r.kind == "facet" and r.facet in allowed:
                    facets[r.property].append((r.facet, r.limit))
            self.part_checks[part] = PartCheck(
                frozenset(r.property for r in restrictions),
                tuple((k, frozenset(v)) for k, v in values.items()),
                tuple(classes),
                tuple((k, tuple(v)) for k, v in facets.items()),
            )

    def __post_init__(self) -> None:
        """Index what every check reads (see :meth:`_index_rules`; rule tables are made on first use)."""
        self._index_rules()

    def __getstate__(self) -> dict[str, object]:
        """Pickle the rules as plain tuples and leave out the indexes (rebuilt on load).

        A large book has a million frozen rules: pickling each through the dataclass's
        ``__getstate__`` took 37 of the 148 CPU s of compiling it.
        """
        state = {f.name: getattr(self, f.name) for f in fields(self)}  # (no __dict__ when compiled)
        state["rules"] = {
            kind: [(r.iri, r._iris, r._numbers, r._flags) for r in rules] for kind, rules in self.rules.items()
        }
        state["index"], state["drug_keys"], state["_pairs"], state["memo"] = {}, {}, None, None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Rebuild the frozen rules and the indexes from :meth:`__getstate__`'s state."""
        empty: dict[str, list[object]] = {}
        rows: dict[str, list[tuple[str, dict[str, tuple[str, ...]], dict[str, tuple[Number, ...]], frozenset[str]]]]
        rows = state.pop("rules")  # type: ignore[assignment]
        for name, value in state.items():
            setattr(self, name, value)
        self.rules = {kind: [Rule(row[0], kind, empty, *row[1:]) for row in found] for kind, found in rows.items()}
        self._index_rules()

    def _index_rules(self) -> None:
        """Index each drug's keys of :attr:`drug_values`; rules are indexed per parameter on first use (:meth:`rules_by`).

        Only the tables checks ask for are made: a large knowledge base holds a million pair rules,
        read through :meth:`pair_rules`' own index, and indexing them by every parameter on load
        took 1.9 of the 7.3 s a check in a new process took on the 1,000,000-pair build.
        """
        for key in self.drug_values:
            self.drug_keys.setdefault(key[0], []).append(key)

    def _order_definitions(self) -> None:
        """Fill :attr:`class_order` with the defined classes, each after the defined classes it names."""
        import networkx as nx

        entries: dict[str, list[tuple[bool, list[str]]]] = defaultdict(list)
        for cls, parts in self.intersections.items():
            entries[cls].append((False, parts))
        for cls, parts in self.unions.items():
            entries[cls].append((True, parts))
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(entries))
        for cls, definitions in entries.items():
            graph.add_edges_from((part, cls) for _, parts in definitions for part in parts if part in entries)
        try:
            order = list(nx.lexicographical_topological_sort(graph))
        except nx.NetworkXUnfeasible:
            self.definitions_acyclic = False
            order = sorted(entries)
        self.class_order = [(cls, is_union, tuple(parts)) for cls in order for is_union, parts in entries[cls]]

    def rules_by(self, kind: str, name: str, values: Iterable[str]) -> list[Rule]:
        """Rules of ``kind`` whose parameter ``name`` takes one of ``values`` (each once, in book order)."""
        table = self.index.get((kind, name))
        if table is None:  # made on first use, in book order (see _index_rules)
            table = self.index[(kind, name)] = {}
            for rule in self.rules.get(kind, ()):
                for value in rule.iris(name):
                    table.setdefault(value, []).append(rule)
        if not table:
            return []
        return list({id(r): r for v in values for r in table.get(v, ())}.values())

    def pair_rules(self, matched: Collection[str]) -> list[Rule]:
        """Return the pair rules whose object and precipitant drug are both in ``matched``, each once.

        The order is that of ``rules_by("PairRule", "objectDrug", matched)`` filtered to rules
        with a precipitant in ``matched``: the same list, found through an index by object and
        precipitant (built on first use, or by :meth:`warm`) rather than by testing every rule
        whose object matches (with a million pair rules, a ten-drug patient's drugs and classes
        are the object of thousands of them).
        """
        pairs = self.warm()
        wanted = matched if isinstance(matched, (set, frozenset)) else set(matched)
        found: dict[int, Rule] = {}
        for value in matched:
            by_precipitant = pairs.get(value)
            if not by_precipitant:
                continue
            hits = [rule for precipitant in by_precipitant.keys() & wanted for rule in by_precipitant[precipitant]]
            hits.sort(key=_book_order)  # a kind's rules are in IRI order, as the object index lists them
            for rule in hits:
                found.setdefault(id(rule), rule)
        return list(found.values())

    def warm(self) -> dict[str, dict[str, list[Rule]]]:
        """Build the index :meth:`pair_rules` reads, if not yet built (before forking workers that share it); return it.

        Object value -> precipitant value -> the pair rules naming both, in book order.
        """
        if self._pairs is None:
            pairs: dict[str, dict[str, list[Rule]]] = {}
            for rule in self.rules.get("PairRule", ()):
                for value in rule.iris("objectDrug"):
                    by_precipitant = pairs.setdefault(value, {})
                    for precipitant in rule.iris("precipitantDrug"):
                        by_precipitant.setdefault(precipitant, []).append(rule)
            self._pairs = pairs
        return self._pairs

    def is_a(self, thing: str, target: str) -> bool:
        """``thing = target || thing a target`` (the rule queries' drug-or-class match)."""
        return thing == target or target in self.types.get(thing, ())

    def at_or_below(self, cls: str, target: str) -> bool:
        """``cls rdfs:subClassOf* target``."""
        return cls == target or target in self.ancestors.get(cls, ())


def _book_order(rule: Rule) -> str:
    return rule.iri


def _rows(
    store: QueryStore, root: Path | None, name: str
) -> Iterator[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal | None]]:
    return store.select_terms(query_text(f"compile/{name}", root))


def _local(iri: str) -> str:
    return iri[len(MEDKG) :] if iri.startswith(MEDKG) else iri


def _parameter(node: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> object:
    term = _term(node)
    if isinstance(term, Lit):
        if term.datatype == _XSD + "boolean":
            return term.lexical in ("true", "1")
        return number_of(term) or term.lexical
    return sys.intern(term.value)


def compile_rulebook(store: QueryStore, root: Path | None = None) -> Rulebook:
    """Read the rule book from a compiled knowledge base with the queries in ``queries/compile/``."""
    types: dict[str, set[str]] = defaultdict(set)
    for row in _rows(store, root, "drug-types"):
        types[_text(row["subject"])].add(_text(row["type"]))
    ancestors: dict[str, set[str]] = defaultdict(set)
    for row in _rows(store, root, "class-ancestors"):
        ancestors[_text(row["class"])].add(_text(row["ancestor"]))
    intersections: dict[str, list[str]] = defaultdict(list)
    unions: dict[str, list[str]] = defaultdict(list)
    for row in _rows(store, root, "class-definitions"):
        target = intersections if _text(row["operator"]).endswith("#intersectionOf") else unions
        target[_text(row["class"])].append(_text(row["part"]))
    restrictions: dict[str, list[Restriction]] = defaultdict(list)
    for row in _rows(store, root, "restrictions"):
        facet = _text(row["facet"]) if row["facet"] is not None else None
        restrictions[_text(row["part"])].append(
            Restriction(
                _text(row["property"]), _text(row["kind"]), _term(row["value"]), facet, number_of(_term(row["value"]))
            )
        )
    population_properties: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in _rows(store, root, "population-properties"):
        population_properties[_text(row["population"])].append((_text(row["property"]), _text(row["domain"])))
    populations = frozenset(_text(row["population"]) for row in _rows(store, root, "populations"))
    drug_values: dict[tuple[str, str], list[Term]] = defaultdict(list)
    for row in _rows(store, root, "drug-values"):
        drug_values[(_text(row["drug"]), _text(row["property"]))].append(_term(row["value"]))
    by_iri: dict[tuple[str, str], Rule] = {}
    # a million rules give millions of rows naming a few kinds, properties and drugs: each of
    # those is converted once, and a rule's object is made on its first row only
    local: dict[str, str] = {}
    values: dict[object, object] = {}
    for row in _rows(store, root, "rule-parameters"):
        kind_iri = row["kind"].value  # type: ignore[union-attr]
        key = (_text(row["rule"]), local.get(kind_iri) or local.setdefault(kind_iri, _local(sys.intern(kind_iri))))
        rule = by_iri.get(key)
        if rule is None:
            rule = by_iri[key] = Rule(*key)
        prop, value = row["property"], row["value"]
        if prop is not None:
            name = local.get(prop.value) or local.setdefault(prop.value, _local(sys.intern(prop.value)))
            if isinstance(value, ox.NamedNode):
                found = values.get(value.value)
                if found is None:
                    found = values[value.value] = _parameter(value)
            else:
                found = _parameter(value)
            rule.params.setdefault(name, []).append(found)
    rules: dict[str, list[Rule]] = defaultdict(list)
    shared: dict[object, object] = {}
    for key in sorted(by_iri):
        rule = by_iri.pop(key)
        rule.freeze(shared)
        rules[key[1]].append(rule)
    return Rulebook(
        types={k: frozenset(v) for k, v in types.items()},
        ancestors={k: frozenset(v) for k, v in ancestors.items()},
        intersections={k: sorted(set(v)) for k, v in intersections.items()},
        unions={k: sorted(set(v)) for k, v in unions.items()},
        restrictions=dict(restrictions),
        population_properties={k: sorted(set(v)) for k, v in population_properties.items()},
        populations=populations,
        drug_values=dict(drug_values),
        rules=dict(rules),
    )


def _key(root: Path | None, build_sha: str) -> str:
    digest = hashlib.sha256(f"{_FORMAT}\n{__version__}\n{build_sha}\n".encode())
    for name in query_files("compile", root):
        digest.update(query_text(name, root).encode("utf-8"))
    return digest.hexdigest()


def load_rulebook(
    store: QueryStore | Callable[[], QueryStore], folder: Path, build_sha: str, root: Path | None = None
) -> Rulebook:
    """Return the rule book cached in ``folder`` (a build folder), compiling and caching it if stale.

    ``store`` is the compiled knowledge base, or a function returning it: then it is loaded only
    if the rule book has to be compiled (a warm start reads the pickle alone). The cache is
    written atomically (temporary file, then rename); an unreadable cache is recompiled.
    """
    key = _key(root, build_sha)
    path = folder / "rulebook.pickle"
    try:
        with path.open("rb") as handle, cyclic_gc_paused():
            book = pickle.load(handle)  # our own cache file, written below
        if isinstance(book, Rulebook) and book.key == key:
            return book
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        pass
    with cyclic_gc_paused():
        book = compile_rulebook(store() if callable(store) else store, root)
    book.prepare_part_checks(FACETS)
    book.key = key
    write_atomically(path, book)  # a read-only build folder: compiled per process
    return book
