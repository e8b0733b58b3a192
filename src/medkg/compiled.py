"""Where the compiled rules are applied: the default engine's evaluation, without SPARQL per patient.

For each patient this module classifies the patient into the populations defined in OWL
(as ``queries/classify/patient-populations.rq`` does) and produces, for every query of
``queries/rules/`` and ``queries/not-assessed/``, the rows that query would return on the
same patient - same variables, same values - from the indexes of the
:class:`~medkg.rulebook.Rulebook`. :mod:`medkg.findings` turns the rows into findings, so
both engines share every line of explanation. ``tests/test_compiled_engine.py`` checks that
the rows are identical to the SPARQL engine's.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from itertools import product
from math import floor

from .patient_graph import Iri, Lit, PatientGraph, Term
from .rulebook import FACETS, MEDKG, Number, PartCheck, Rule, Rulebook, number_of
from .store import Row

__all__ = ["COMPILED_QUERIES", "PatientFacts", "evaluate", "facts_of"]

_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_NAMED = "http://www.w3.org/2002/07/owl#NamedIndividual"
_TAKES = MEDKG + "takesMedication"
_OF_DRUG = MEDKG + "ofDrug"
_DOSE = MEDKG + "doseMg"
_TIMES = MEDKG + "timesPerDay"
_INDICATION = MEDKG + "indication"
_INPUT_NAME = MEDKG + "inputName"
_ALLERGIC = MEDKG + "allergicTo"
_PATIENT = MEDKG + "Patient"
#: Facet IRI -> its test of (value, limit), in the order of :data:`medkg.rulebook.FACETS`.
_FACETS = dict(zip(FACETS, (operator.ge, operator.gt, operator.le, operator.lt), strict=True))
#: A classification that keeps adding types after this many rounds is a loop (as in engines.py).
_MAX_ROUNDS = 20


@dataclass
class Use:
    """One medication use: its IRI, drug (None if unidentified), daily-dose parts and indications."""

    iri: str
    name: str
    drug: str | None
    doses: list[Number]
    times: list[Number]
    indications: list[str]  # condition classes of the use's indication nodes


@dataclass
class PatientFacts:
    """A patient's triples arranged for rule evaluation."""

    iri: str
    statements: dict[str, list[Term]]  # the patient's own property -> values (rdf:type apart)
    types: set[str]
    uses: list[Use]
    drugs: list[str]  # distinct drugs, in first-use order
    allergies: list[str]
    node_types: dict[str, set[str]] = field(default_factory=dict)
    _numbers: dict[str, list[Number]] = field(default_factory=dict)

    def numbers(self, prop: str) -> list[Number]:
        """Return the numeric values of one of the patient's own properties (parsed once)."""
        if prop not in self._numbers:
            self._numbers[prop] = [n for n in map(number_of, self.statements.get(prop, [])) if n is not None]
        return self._numbers[prop]


def facts_of(pg: PatientGraph) -> PatientFacts:
    """Arrange the triples of ``pg`` by subject for evaluation."""
    about: dict[str, dict[str, list[Term]]] = {}
    node_types: dict[str, set[str]] = {}
    for subject, predicate, obj in pg.triples:  # (plain dicts: this loop runs for every triple of every patient)
        if predicate == _TYPE:
            kinds = node_types.get(subject)
            if kinds is None:
                kinds = node_types[subject] = set()
            kinds.add(obj.value if isinstance(obj, Iri) else "")
            continue
        own = about.get(subject)
        if own is None:
            own = about[subject] = {}
        values = own.get(predicate)
        if values is None:
            own[predicate] = [obj]
        else:
            values.append(obj)
    me = str(pg.iri)
    statements = about.get(me, {})
    uses = []
    for use in statements.get(_TAKES, []):
        if not isinstance(use, Iri):
            continue
        own = about.get(use.value, {})
        drug = next((t.value for t in own.get(_OF_DRUG, []) if isinstance(t, Iri)), None)
        name = next((t.lexical for t in own.get(_INPUT_NAME, []) if isinstance(t, Lit)), "")
        indications = [
            cls for node in own.get(_INDICATION, []) if isinstance(node, Iri) for cls in node_types.get(node.value, ())
        ]
        uses.append(
            Use(
                iri=use.value,
                name=name,
                drug=drug,
                doses=[n for n in map(number_of, own.get(_DOSE, [])) if n is not None],
                times=[n for n in map(number_of, own.get(_TIMES, [])) if n is not None],
                indications=indications,
            )
        )
    drugs = list(dict.fromkeys(u.drug for u in uses if u.drug is not None))
    allergies = [t.value for t in statements.get(_ALLERGIC, []) if isinstance(t, Iri)]
    return PatientFacts(me, statements, set(node_types.get(me, ())), uses, drugs, allergies, node_types)


# --- classification -----------------------------------------------------------------------


def _branch_met(book: Rulebook, facts: PatientFacts, check: PartCheck, prop: str) -> bool:
    """Whether the branches of one restriction part on ``prop`` hold for the patient (any of them)."""
    statements = facts.statements
    for branch_prop, wanted in check.values:
        if branch_prop == prop and not wanted.isdisjoint(statements.get(prop, ())):
            return True
    for branch_prop, filler in check.classes:
        if branch_prop != prop:
            continue
        for value in statements.get(prop, ()):
            if isinstance(value, Iri):
                kinds = facts.node_types.get(value.value, set()) | book.types.get(value.value, frozenset())
                if any(book.at_or_below(kind, filler) for kind in kinds):
                    return True
    for branch_prop, facets in check.facets:
        if branch_prop != prop:
            continue
        numbers = facts.numbers(prop)
        if numbers and all(
            limit is not None and _FACETS[facet](_comparable(value, limit), _comparable(limit, value))
            for value in numbers
            for facet, limit in facets
        ):
            return True
    return False


def _restriction_met(book: Rulebook, facts: PatientFacts, part: str) -> bool:
    """Whether one restriction part holds for the patient (any of the classification query's branches)."""
    check = book.part_checks.get(part)
    if check is None:
        return False
    return any(_branch_met(book, facts, check, prop) for prop in check.properties if prop in facts.statements)


def _comparable(number: Number, other: Number) -> Decimal | float:
    # decimal and integer compare exactly; a double on either side compares as double (SPARQL promotion)
    if isinstance(number.exact, float) or isinstance(other.exact, float):
        return float(number.exact)
    return number.exact


def _classify_directly(book: Rulebook, facts: PatientFacts) -> set[str]:
    """:func:`classify` without its memo: each restriction part evaluated on the patient's facts when reached."""
    if _PATIENT not in facts.types:
        return facts.types
    met: dict[str, bool] = {}

    def holds(part: str) -> bool:
        result = met.get(part)
        if result is None:
            result = met[part] = _restriction_met(book, facts, part)
        return result

    return _closure(book, facts.types, holds)


class _ClassificationMemo:
    """What classifying earlier patients with one rule book found, reused for later ones (and drugs' enzymes).

    Every restriction part reads one or more patient properties, and each of its branches
    reads one. So the parts met are the union, over the patient's properties, of the parts
    whose branch on that property holds - a function of the property's values alone (a value
    the patient graph describes by its types, such as a condition node, counts by those types
    unless some definition names it), kept per (property, values). The classes a patient
    belongs to are then a function of its asserted types and the parts met, kept per such
    pair. Both are exact: ``tests/test_memo_caches.py`` compares them with
    :func:`_classify_directly` on the golden cases and on generated patients. The memo lives on
    the rule book (:attr:`Rulebook.memo`), as long as it does.
    """

    #: entries kept before a memo is emptied (bounds a long-running server's memory)
    LIMIT = 100_000

    def __init__(self, book: Rulebook) -> None:
        self.parts_on: dict[str, list[tuple[str, PartCheck]]] = defaultdict(list)
        self.named: dict[str, frozenset[Term]] = {}  # property -> the values some definition names
        named: dict[str, set[Term]] = defaultdict(set)
        for part, check in book.part_checks.items():
            for prop in check.properties:
                self.parts_on[prop].append((part, check))
            for prop, wanted in check.values:
                named[prop] |= wanted
        self.named = {prop: frozenset(values) for prop, values in named.items()}
        self.met_by: dict[tuple[str, frozenset[object]], frozenset[str]] = {}
        self.closure: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}
        self._enzymes: dict[tuple[str, str], frozenset[str]] = {}

    def enzymes(self, book: Rulebook, drug: str, role: str) -> frozenset[str]:
        """Return the IRIs ``drug`` has as values of ``role`` (e.g. the enzymes it inhibits strongly)."""
        found = self._enzymes.get((drug, role))
        if found is None:
            values = book.drug_values.get((drug, role), ())
            found = self._enzymes[(drug, role)] = frozenset(t.value for t in values if isinstance(t, Iri))
        return found

    def _value_key(self, book: Rulebook, facts: PatientFacts, prop: str, value: Term) -> object:
        if isinstance(value, Iri) and value.value in facts.node_types and value not in self.named.get(prop, ()):
            return ("node", frozenset(facts.node_types[value.value] | book.types.get(value.value, frozenset())))
        return value

    def parts_met(self, book: Rulebook, facts: PatientFacts) -> frozenset[str]:
        """Return the restriction parts the patient meets."""
        met: set[str] = set()
        for prop, values in facts.statements.items():
            on = self.parts_on.get(prop)
            if not on:
                continue
            key = (prop, frozenset(self._value_key(book, facts, prop, v) for v in values))
            found = self.met_by.get(key)
            if found is None:
                found = frozenset(part for part, check in on if _branch_met(book, facts, check, prop))
                if len(self.met_by) >= self.LIMIT:
                    self.met_by.clear()
                self.met_by[key] = found
            met |= found
        return frozenset(met)

    def classify(self, book: Rulebook, facts: PatientFacts) -> set[str]:
        """As :func:`_classify_directly`, through the memo."""
        if _PATIENT not in facts.types:
            return facts.types
        key = (frozenset(facts.types), self.parts_met(book, facts))
        found = self.closure.get(key)
        if found is None:
            found = frozenset(_closure(book, set(facts.types), key[1].__contains__))
            if len(self.closure) >= self.LIMIT:
                self.closure.clear()
            self.closure[key] = found
        facts.types |= found
        return facts.types


def _closure(book: Rulebook, types: set[str], met: Callable[[str], bool]) -> set[str]:
    """Add to ``types`` every defined class whose definition holds, ``met`` telling which restriction parts hold."""
    for _ in range(_MAX_ROUNDS):
        added = False
        for cls, is_union, parts in book.class_order:
            if cls in types:
                continue
            if is_union:
                holds = any(part in types for part in parts)
            else:
                holds = all(part in types or met(part) for part in parts)
            if holds:
                types.add(cls)
                added = True
        if not added or book.definitions_acyclic:
            return types
    raise RuntimeError("patient classification did not reach a fixpoint")


def _memo(book: Rulebook) -> _ClassificationMemo:
    if not isinstance(book.memo, _ClassificationMemo):
        book.memo = _ClassificationMemo(book)
    return book.memo


def classify(book: Rulebook, facts: PatientFacts) -> set[str]:
    """Add to ``facts.types`` every defined class the patient belongs to (to a fixpoint); return them.

    Classes are visited in dependency order (a class defined through another comes after it), so
    one pass reaches the fixpoint unless definitions are cyclic; then passes repeat. Results
    are memoised per rule book (:class:`_ClassificationMemo`).

    Raises:
        RuntimeError: if the definitions keep adding classes (a loop).
    """
    return _memo(book).classify(book, facts)


# --- rules ----------------------------------------------------------------------------------


def _in_populations(rule: Rule, facts: PatientFacts) -> bool:
    return all(p in facts.types for p in rule.iris("requiresPopulation"))


def _populations(rule: Rule) -> list[str | None]:
    return list(rule.iris("requiresPopulation")) or [None]


def _row(**values: object) -> Row:
    return {k: v for k, v in values.items() if v is not None}


def _indications_met(book: Rulebook, rule: Rule, use: Use) -> list[str | None]:
    wanted = rule.iris("forIndication")
    if not wanted:
        return [None]
    return [i for i in wanted if any(book.at_or_below(c, i) for c in use.indications)]


def _drug_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    if not _in_populations(rule, facts):
        return
    for use in facts.uses:
        if use.drug is None:
            continue
        for via in rule.iris("appliesToDrug"):
            if book.is_a(use.drug, via):
                for indication, population in product(_indications_met(book, rule, use), _populations(rule)):
                    yield _row(
                        patient=facts.iri, rule=rule.iri, key=use.drug, drug=use.drug, use=use.iri,
                        via=via, population=population, indication=indication,
                    )  # fmt: skip


def _ordered_pairs(facts: PatientFacts) -> Iterator[tuple[str, str]]:
    for first in facts.drugs:
        for second in facts.drugs:
            if first != second:
                yield first, second


def _pair_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    if not _in_populations(rule, facts):
        return
    objects = [(d, c) for d in facts.drugs for c in rule.iris("objectDrug") if book.is_a(d, c)]
    if not objects:
        return
    precipitants = [(d, c) for d in facts.drugs for c in rule.iris("precipitantDrug") if book.is_a(d, c)]
    for (obj, object_class), (precipitant, precipitant_class) in product(objects, precipitants):
        if obj == precipitant:
            continue
        key = f"{obj} {precipitant}" if obj < precipitant else f"{precipitant} {obj}"
        for population in _populations(rule):
            yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=obj, role="object", via=object_class, population=population)  # fmt: skip
            yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=precipitant, role="precipitant", via=precipitant_class, population=population)  # fmt: skip


def _shown(total: Decimal | float, integer: bool) -> int | float:
    return int(total) if integer else float(total)


#: What the dose-range query counts for a use without a dose (nothing) or without times per day (once).
_NO_DOSE, _ONCE = Number(Decimal(0), 0, True), Number(Decimal(1), 1, True)


def _dose_range_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    groups: dict[tuple[str, str, str | None], list[tuple[Number, Number]]] = defaultdict(list)
    for via in rule.iris("appliesToDrug"):
        for use in facts.uses:
            if use.drug is None or not book.is_a(use.drug, via):
                continue
            for indication in _indications_met(book, rule, use):
                for dose, times in product(use.doses or (_NO_DOSE,), use.times or (_ONCE,)):
                    groups[(use.drug, via, indication)].append((dose, times))
    if not groups or not _in_populations(rule, facts):
        return
    needed = rule.iris("requiresCoMedication")
    for (drug, via, indication), parts in sorted(groups.items(), key=repr):
        if not all(any(o != drug and book.is_a(o, n) for o in facts.drugs) for n in needed):
            continue
        exact = sum((_comparable(d, t) * _comparable(t, d) for d, t in parts), Decimal(0))  # type: ignore[operator]
        integer = all(d.integer and t.integer for d, t in parts)
        daily = _shown(exact, integer)
        # a stand-in for a missing dose or frequency makes the sum a lower bound
        lower_bound = any(d is _NO_DOSE or t is _ONCE for d, t in parts)
        largest = max((d for d, _ in parts), key=lambda d: d.exact)
        co_medications: list[str | None] = [
            other for n in needed for other in facts.drugs if other != drug and book.is_a(other, n)
        ] or [None]
        limits = [("maximum", limit) for limit in rule.numbers("maximumDailyDoseMg")]
        limits += [("minimum", limit) for limit in rule.numbers("minimumDailyDoseMg")]
        limits += [("single dose", limit) for limit in rule.numbers("maximumSingleDoseMg")]
        for limit_type, limit in limits:
            if limit_type == "single dose":
                exceeded, value, kind = largest.exact > limit.exact, largest.shown, "exact"
            else:
                # a lower bound shows a maximum exceeded, never a minimum missed
                exceeded = exact > limit.exact if limit_type == "maximum" else not lower_bound and exact < limit.exact
                value, kind = daily, "at least" if lower_bound else "exact"
            if not exceeded:
                continue
            for co, population in product(co_medications, _populations(rule)):
                yield _row(
                    patient=facts.iri, rule=rule.iri, key=drug, drug=drug, via=via, value=value, valueKind=kind,
                    limit=limit.shown, limitType=limit_type, population=population, indication=indication,
                    coMedication=co,
                )  # fmt: skip


def _members(book: Rulebook, drugs: Iterable[str], classes: Iterable[str]) -> list[str]:
    """Return the drugs (in the given order) that are members of one of ``classes`` (materialised rdf:type)."""
    wanted = tuple(classes)
    return [d for d in drugs if any(c in book.types.get(d, ()) for c in wanted)]


def _count_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    classes = rule.iris("countsMembersOf")
    members = _members(book, facts.drugs, classes)
    if not members or not _in_populations(rule, facts):
        return
    count = len(members)
    for limit, via in product(rule.numbers("minimumDrugCount"), classes):
        if count < limit.exact:
            continue
        for drug in facts.drugs:
            if via in book.types.get(drug, ()):
                for population in _populations(rule):
                    yield _row(patient=facts.iri, rule=rule.iri, key="", drug=drug, via=via, count=count, limit=limit.shown, population=population)  # fmt: skip


def _duplicate_therapy_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    same_only = rule.flag("sameIngredientOnly")
    for via in rule.iris("appliesToDrug"):
        uses = sorted((u for u in facts.uses if u.drug is not None and book.is_a(u.drug, via)), key=lambda u: u.iri)
        for i, first in enumerate(uses):
            for second in uses[i + 1 :]:
                drug1, drug2 = first.drug, second.drug
                assert drug1 is not None and drug2 is not None
                if (drug1 == drug2) != same_only:
                    continue
                key = drug1 if drug1 == drug2 else ""
                yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=drug1, via=via)
                yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=drug2, via=via)


def _mechanism_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    if not _in_populations(rule, facts):
        return
    only, targets = rule.iris("onEnzyme"), rule.iris("objectDrug")
    enzymes_of = _memo(book).enzymes
    objects = [d for d in facts.drugs if all(book.is_a(d, target) for target in targets)]
    for precipitant_role, object_role in product(rule.iris("precipitantRole"), rule.iris("objectRole")):
        # each drug's enzymes in either role, looked up once (not once per ordered pair)
        acting = [(d, e) for d in facts.drugs if (e := enzymes_of(book, d, precipitant_role))]
        if not acting:
            continue
        acted_on = [(d, e) for d in objects if (e := enzymes_of(book, d, object_role))]
        for (obj, object_enzymes), (precipitant, enzymes) in product(acted_on, acting):
            if obj == precipitant:
                continue
            for enzyme in sorted(enzymes & object_enzymes):
                if any(o != enzyme for o in only):
                    continue
                key = f"{obj} {precipitant}"
                for population in _populations(rule):
                    yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=obj, role="object", via=object_role, enzyme=enzyme, population=population)  # fmt: skip
                    yield _row(patient=facts.iri, rule=rule.iri, key=key, drug=precipitant, role="precipitant", via=precipitant_role, enzyme=enzyme, population=population)  # fmt: skip


def _omission_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    populations = rule.iris("requiresPopulation")
    if not populations or not _in_populations(rule, facts):
        return
    for omitted in rule.iris("omittedDrug"):
        if any(book.is_a(taken, omitted) for taken in facts.drugs):
            continue
        for population in populations:
            yield _row(patient=facts.iri, rule=rule.iri, key="", omitted=omitted, population=population)


def _scores(book: Rulebook, drug: str, prop: str) -> list[Number]:
    return [n for n in map(number_of, book.drug_values.get((drug, prop), ())) if n is not None]


def _sum_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    properties = rule.iris("sumsScore")
    points = [n for drug in facts.drugs for prop in properties for n in _scores(book, drug, prop)]
    if not points or not _in_populations(rule, facts):
        return
    exact = sum((_comparable(p, p) for p in points), Decimal(0))
    total = _shown(exact, all(p.integer for p in points))
    for limit, via in product(rule.numbers("minimumTotal"), properties):
        if exact < limit.exact:
            continue
        for drug in facts.drugs:
            for score in _scores(book, drug, via):
                for population in _populations(rule):
                    yield _row(patient=facts.iri, rule=rule.iri, key="", drug=drug, via=via, score=score.shown, total=total, limit=limit.shown, population=population)  # fmt: skip


def _daily_doses(facts: PatientFacts) -> dict[str, tuple[Number, ...] | None]:
    """Each drug's daily-dose terms (dose x times per day per use), or None if a use lacks dose or times.

    The terms are kept apart (not summed) so that :func:`_exact_sum` can apply the queries'
    arithmetic: exact for decimals and integers, double when a double takes part.
    """
    terms: dict[str, list[Number] | None] = {}
    for use in facts.uses:
        if use.drug is None:
            continue
        if not (use.doses and use.times) or terms.get(use.drug, []) is None:
            terms[use.drug] = None
            continue
        known = terms.setdefault(use.drug, [])
        assert known is not None
        for dose, times in product(use.doses, use.times):
            exact = _comparable(dose, times) * _comparable(times, dose)  # type: ignore[operator]
            integer = dose.integer and times.integer
            known.append(Number(exact, float(exact) if isinstance(exact, float) else _shown(exact, integer), integer))
    return {drug: None if parts is None else tuple(parts) for drug, parts in terms.items()}


def _exact_sum(parts: Iterable[Number]) -> Number:
    """Sum numbers as SPARQL does (exact unless a double takes part); ``shown`` as a query row gives it."""
    items = list(parts)
    if any(isinstance(p.exact, float) for p in items):
        total: Decimal | float = sum(float(p.exact) for p in items)
        return Number(total, float(total), False)
    exact = sum((Decimal(p.exact) for p in items), Decimal(0))
    integer = all(p.integer for p in items)
    return Number(exact, _shown(exact, integer), integer)


def _dose_ratio(daily: Number, reference: Number) -> Fraction | float:
    """D / (D + delta) as the query computes it: xsd:decimal division truncated to 18 decimals (double if any)."""
    if isinstance(daily.exact, float) or isinstance(reference.exact, float):
        dose = float(daily.exact)
        return dose / (dose + float(reference.exact))
    exact = Fraction(daily.exact) / (Fraction(daily.exact) + Fraction(reference.exact))
    return Fraction(floor(exact * 10**18), 10**18)


def _hundredths(total: Fraction | float) -> Fraction | float:
    """ROUND(total * 100) / 100 (SPARQL ROUND: halves towards positive infinity)."""
    if isinstance(total, float):
        return floor(total * 100 + 0.5) / 100
    return Fraction(floor(total * 100 + Fraction(1, 2)), 100)


def _dose_burden_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    classes, properties = rule.iris("countsMembersOf"), rule.iris("referenceDoseProperty")
    members = _members(book, facts.drugs, classes)
    if not members or not properties or not _in_populations(rule, facts):
        return
    daily = {drug: None if parts is None else _exact_sum(parts) for drug, parts in _daily_doses(facts).items()}
    # each (drug, daily dose, delta) once, as the query's SELECT DISTINCT
    terms = {
        (drug, reference.exact): _dose_ratio(dose, reference)
        for drug in members
        if (dose := daily.get(drug)) is not None
        for prop in properties
        for reference in _scores(book, drug, prop)
    }
    if not terms:
        return
    ratios = list(terms.values())
    exact: Fraction | float = (
        sum(float(r) for r in ratios) if any(isinstance(r, float) for r in ratios) else sum(ratios, Fraction(0))
    )
    total = _hundredths(exact)
    for limit in rule.numbers("minimumTotal"):
        if total < (float(limit.exact) if isinstance(total, float) else Fraction(limit.exact)):
            continue
        for drug, via in product(members, classes):
            if via not in book.types.get(drug, ()):
                continue
            dose = daily.get(drug)
            deltas: list[Number | None] = [n for prop in properties for n in _scores(book, drug, prop)] or [None]
            for delta, population in product(deltas, _populations(rule)):
                yield _row(
                    patient=facts.iri, rule=rule.iri, key="", drug=drug, via=via,
                    dose=None if dose is None else dose.shown, delta=None if delta is None else delta.shown,
                    total=float(total), limit=limit.shown, population=population,
                )  # fmt: skip


def _allergy_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    if not facts.allergies or not _in_populations(rule, facts):
        return
    same = rule.flag("sameAsAllergen")
    for allergen, allergen_class in product(facts.allergies, rule.iris("allergen")):
        if not (book.is_a(allergen, allergen_class) or allergen_class in book.ancestors.get(allergen, ())):
            continue
        for drug, via in product(facts.drugs, rule.iris("appliesToDrug")):
            if not book.is_a(drug, via) or (same and not book.is_a(drug, allergen)):
                continue
            for population in _populations(rule):
                yield _row(patient=facts.iri, rule=rule.iri, key=drug, drug=drug, via=via, allergen=allergen, population=population)  # fmt: skip


def _combination_rule(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterator[Row]:
    needed = rule.iris("requiresMemberOf")
    if not all(any(book.is_a(d, n) for d in facts.drugs) for n in needed) or not _in_populations(rule, facts):
        return
    for via in needed:
        for drug in facts.drugs:
            if book.is_a(drug, via):
                for population in _populations(rule):
                    yield _row(patient=facts.iri, rule=rule.iri, key="", drug=drug, via=via, population=population)


_RULE_KINDS = {
    "rules/drug-rule": ("DrugRule", _drug_rule),
    "rules/pair-rule": ("PairRule", _pair_rule),
    "rules/dose-range-rule": ("DoseRangeRule", _dose_range_rule),
    "rules/count-rule": ("CountRule", _count_rule),
    "rules/duplicate-therapy-rule": ("DuplicateTherapyRule", _duplicate_therapy_rule),
    "rules/mechanism-rule": ("MechanismRule", _mechanism_rule),
    "rules/omission-rule": ("OmissionRule", _omission_rule),
    "rules/sum-rule": ("SumRule", _sum_rule),
    "rules/allergy-rule": ("AllergyRule", _allergy_rule),
    "rules/combination-rule": ("CombinationRule", _combination_rule),
    "rules/dose-burden-rule": ("DoseBurdenRule", _dose_burden_rule),
}


def _candidates(book: Rulebook, facts: PatientFacts) -> dict[str, list[Rule]]:
    """Return the rules of each kind that can fire for the patient: a superset found through the book's index.

    A rule can fire only if a drug the patient takes is (or is a member of) a drug or class the
    rule names; each rule function then applies the query's full conditions.
    """
    matched = set(facts.drugs)
    for drug in facts.drugs:
        matched.update(book.types.get(drug, ()))
    held = {prop for drug in facts.drugs for (d, prop) in _drug_properties(book, drug) if d == drug}
    by = book.rules_by
    return {
        "DrugRule": by("DrugRule", "appliesToDrug", matched),
        "PairRule": book.pair_rules(matched),
        "DoseRangeRule": by("DoseRangeRule", "appliesToDrug", matched),
        "CountRule": by("CountRule", "countsMembersOf", matched),
        "DuplicateTherapyRule": by("DuplicateTherapyRule", "appliesToDrug", matched),
        "MechanismRule": [
            r for r in by("MechanismRule", "precipitantRole", held) if any(o in held for o in r.iris("objectRole"))
        ],
        "OmissionRule": [
            r for r in book.rules.get("OmissionRule", ()) if all(p in facts.types for p in r.iris("requiresPopulation"))
        ],
        "SumRule": by("SumRule", "sumsScore", held),
        "AllergyRule": by("AllergyRule", "appliesToDrug", matched) if facts.allergies else [],
        "CombinationRule": [
            r
            for r in by("CombinationRule", "requiresMemberOf", matched)
            if all(n in matched for n in r.iris("requiresMemberOf"))
        ],
        "DoseBurdenRule": by("DoseBurdenRule", "countsMembersOf", matched),
        # missing patient data concerns rules whatever their populations
        "OmissionRule:any": list(book.rules.get("OmissionRule", ())),
    }


def _drug_properties(book: Rulebook, drug: str) -> list[tuple[str, str]]:
    return book.drug_keys.get(drug, [])


# --- not assessed ---------------------------------------------------------------------------


def _missing_dose(book: Rulebook, facts: PatientFacts, candidates: dict[str, list[Rule]]) -> Iterator[Row]:
    for rule in candidates["DoseRangeRule"]:
        daily = bool(rule.numbers("maximumDailyDoseMg") or rule.numbers("minimumDailyDoseMg"))
        for use in facts.uses:
            # a rule with a maximum single dose only needs the dose; a daily limit also the times per day
            if use.drug is None or (use.doses and (use.times or not daily)):
                continue
            if any(book.is_a(use.drug, via) for via in rule.iris("appliesToDrug")):
                yield _row(patient=facts.iri, rule=rule.iri, drug=use.drug, use=use.iri)


def _unidentified(_book: Rulebook, facts: PatientFacts, _candidates: dict[str, list[Rule]]) -> Iterator[Row]:
    for use in facts.uses:
        if use.drug is None:
            yield _row(patient=facts.iri, use=use.iri, name=use.name)


def _concerned_drugs(book: Rulebook, rule: Rule, facts: PatientFacts) -> Iterable[str | None]:
    """Yield the drugs to which a rule of the kinds missing-patient-data covers applies (None: the whole list)."""
    if rule.kind == "DrugRule":
        for use in facts.uses:
            if (
                use.drug is not None
                and any(book.is_a(use.drug, v) for v in rule.iris("appliesToDrug"))
                and _indications_met(book, rule, use)
            ):
                yield use.drug
    elif rule.kind == "DoseRangeRule":
        for drug in facts.drugs:
            if any(book.is_a(drug, v) for v in rule.iris("appliesToDrug")):
                yield drug
    elif rule.kind == "PairRule":
        pairs = list(product(rule.iris("objectDrug"), rule.iris("precipitantDrug")))
        for drug, partner in _ordered_pairs(facts):
            if any(
                (book.is_a(drug, o) and book.is_a(partner, p)) or (book.is_a(drug, p) and book.is_a(partner, o))
                for o, p in pairs
            ):
                yield drug
    elif rule.kind == "CountRule":
        for cls, minimum in product(rule.iris("countsMembersOf"), rule.numbers("minimumDrugCount")):
            members = _members(book, facts.drugs, (cls,))
            if len(members) >= minimum.exact:
                yield from members
    elif rule.kind == "DoseBurdenRule":
        yield from _members(book, facts.drugs, rule.iris("countsMembersOf"))
    elif rule.kind == "OmissionRule":
        yield None


def _missing_properties(book: Rulebook, facts: PatientFacts, population: str) -> list[tuple[str, str]]:
    return [(p, d) for p, d in book.population_properties.get(population, ()) if not facts.statements.get(p)]


def _missing_patient_data(book: Rulebook, facts: PatientFacts, candidates: dict[str, list[Rule]]) -> Iterator[Row]:
    seen: set[tuple[object, ...]] = set()
    missing: dict[str, list[tuple[str, str]]] = {}

    def missing_of(population: str) -> list[tuple[str, str]]:
        if population not in missing:
            missing[population] = _missing_properties(book, facts, population)
        return missing[population]

    # required populations -> those reported (many rules share them)
    reported_for: dict[tuple[str, ...], list[str]] = {}
    for kind in ("DrugRule", "DoseRangeRule", "PairRule", "CountRule", "DoseBurdenRule", "OmissionRule:any"):
        for rule in candidates[kind]:
            required = rule.iris("requiresPopulation")
            if not required:
                continue
            reported = reported_for.get(required)
            if reported is None:
                unmet = [p for p in required if p not in facts.types]
                # a population with a missing value is reported unless another required population is
                # known not to hold (none of its values missing): that rules the rule out
                reported = reported_for[required] = [
                    p for p in unmet if missing_of(p) and not any(o != p and not missing_of(o) for o in unmet)
                ]
            if not reported:
                continue
            drugs = list(dict.fromkeys(_concerned_drugs(book, rule, facts)))
            for population in reported:
                for (prop, domain), drug in product(missing_of(population), drugs):
                    row = (rule.iri, drug, population, prop, domain)
                    if row not in seen:
                        seen.add(row)
                        yield _row(patient=facts.iri, rule=rule.iri, drug=drug, population=population, property=prop, domain=domain)  # fmt: skip


def _incomplete_dose_burden(book: Rulebook, facts: PatientFacts, candidates: dict[str, list[Rule]]) -> Iterator[Row]:
    daily = _daily_doses(facts)
    for rule in candidates["DoseBurdenRule"]:
        classes, properties = rule.iris("countsMembersOf"), rule.iris("referenceDoseProperty")
        if not properties or not _in_populations(rule, facts):
            continue
        for drug in _members(book, facts.drugs, classes):
            if daily.get(drug) is None:
                yield _row(patient=facts.iri, rule=rule.iri, drug=drug, missing="dose")
            if any((drug, prop) not in book.drug_values for prop in properties):
                yield _row(patient=facts.iri, rule=rule.iri, drug=drug, missing="reference dose")


_NOT_ASSESSED = {
    "not-assessed/missing-dose": _missing_dose,
    "not-assessed/unidentified-medication": _unidentified,
    "not-assessed/missing-patient-data": _missing_patient_data,
    "not-assessed/incomplete-dose-burden": _incomplete_dose_burden,
}

#: The query names whose rows this module produces.
COMPILED_QUERIES = frozenset(_RULE_KINDS) | frozenset(_NOT_ASSESSED)


@dataclass
class Evaluation:
    """What the compiled engine derived: rows per query name, populations and drug classes per patient."""

    rows: dict[str, list[Row]]
    populations: dict[str, list[str]]
    drug_classes: dict[str, dict[str, list[str]]]


def evaluate(book: Rulebook, patients: Iterable[PatientGraph], *, drug_classes: bool = True) -> Evaluation:
    """Classify ``patients`` and produce the rows of every compiled query for them.

    ``drug_classes``: also list each drug's classes per patient (else that table is left empty).

    Raises:
        RuntimeError: if a patient's classification does not reach a fixpoint.
    """
    rows: dict[str, list[Row]] = {name: [] for name in COMPILED_QUERIES}
    populations: dict[str, list[str]] = {}
    classes: dict[str, dict[str, list[str]]] = {}
    book.prepare_part_checks(FACETS)  # done before caching; here for a book made otherwise
    for pg in patients:
        facts = facts_of(pg)
        classify(book, facts)
        candidates = _candidates(book, facts)
        for name, (kind, apply) in _RULE_KINDS.items():
            for rule in candidates[kind]:
                rows[name].extend(apply(book, rule, facts))
        for name, collect in _NOT_ASSESSED.items():
            rows[name].extend(collect(book, facts, candidates))
        found = sorted(p.rsplit("/", 1)[-1] for p in facts.types if p in book.populations)
        if found:
            populations[facts.iri] = found
        if drug_classes:
            classes[facts.iri] = {
                d: sorted(t for t in book.types.get(d, ()) if t != _NAMED and not t.startswith("_:"))
                for d in facts.drugs
            }
    return Evaluation(rows, populations, classes)
