"""Where patient data enters the graph: a patient becomes an OWL individual.

A validated :class:`~medkg.patient.Patient` becomes an individual (with medication uses and
conditions) in the ontology's terms.

Names are resolved against the knowledge base here; what cannot be resolved is kept (a
medication use with only its input name; a condition in ``not_used``), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, XSD

from .knowledge_base import KnowledgeBase
from .names import normalise, resolve_allergen, resolve_condition, split_past, suggest
from .patient import Patient
from .renal import RenalFunction, renal_function
from .vocabulary import PATIENT, medkg_term

__all__ = ["Iri", "Lit", "PatientGraph", "Term", "Triple", "patient_graph"]


class Iri(NamedTuple):
    """An IRI in a patient's triples."""

    value: str


class Lit(NamedTuple):
    """A typed literal in a patient's triples: lexical form and datatype IRI."""

    lexical: str
    datatype: str


Term = Iri | Lit
#: (subject IRI, predicate IRI, object) - one statement about a patient.
Triple = tuple[str, str, Term]

_TYPE = str(RDF.type)
_BOOLEAN = str(XSD.boolean)
_DECIMAL = str(XSD.decimal)
_INTEGER = str(XSD.integer)
_IDENTIFIER = str(DCTERMS.identifier)


class _Terms(dict[str, str]):
    """T-box term name -> IRI string, looked up once (:func:`medkg_term` checks the name)."""

    def __missing__(self, name: str) -> str:
        self[name] = iri = str(medkg_term(name))
        return iri


_T = _Terms()
_NAMED = Iri(str(OWL.NamedIndividual))
_STRING = str(XSD.string)


@dataclass
class PatientGraph:
    """A patient as RDF plus what happened on the way in.

    Attributes:
        iri: the patient individual.
        triples: the statements describing the patient (OWL 2 RDF mapping, named individuals
            declared), as plain tuples; :attr:`graph` is the same as an rdflib graph.
        patient: the validated input.
        renal: renal values used and their basis.
        uses: medication-use IRI -> (input name, drug IRI or None); a combination product gives
            one use per ingredient.
        positions: medication-use IRI -> index of its medication in the input.
        suggestions: unidentified input name -> close known names.
        unmodelled: medication-use IRI -> the unmodelled ingredient it stands for (a use without
            a drug, one per such ingredient of a combination product, e.g. lopinavir of Kaletra).
        not_used: inputs the knowledge base does not know (conditions, indications).
        values: patient property IRI -> value as put in the graph (for explanations).
    """

    iri: URIRef
    triples: list[Triple]
    patient: Patient
    renal: RenalFunction
    uses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    unmodelled: dict[str, str] = field(default_factory=dict)
    not_used: list[str] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @cached_property
    def graph(self) -> Graph:
        """The patient's triples as an rdflib graph (built on first use)."""
        graph = Graph()
        for subject, predicate, obj in self.triples:
            if isinstance(obj, Iri):
                node: URIRef | Literal = URIRef(obj.value)
            elif obj.datatype == _STRING:
                node = Literal(obj.lexical)
            else:
                node = Literal(obj.lexical, datatype=URIRef(obj.datatype))
            graph.add((URIRef(subject), URIRef(predicate), node))
        return graph


#: (type, value) -> its literal, for the numbers and flags patients share (typed: True == 1 == 1.0).
_LITERALS: dict[tuple[type, object], Lit] = {}


#: Decimal places kept of a dose (mg) or a frequency (per day). The rule queries multiply the two,
#: and a SPARQL store's xsd:decimal holds 18 places: pyoxigraph makes a longer product an error,
#: which left the dose-range rules of ``--engine sparql`` and ``owl`` silent (0.25 mg x 1/7 a day
#: beside a 1,000 mg/day overdose). Nine places each keep every product exact; both engines read
#: the same rounded values.
_AMOUNT_PLACES = 9


def _literal(value: object) -> Lit:
    """Return the literal medkg writes for a patient value.

    Numbers become xsd:decimal, as the population thresholds are (OWL keeps decimal and double
    apart), in a lexical form without exponent; booleans xsd:boolean; integers of input order
    xsd:integer; text xsd:string.
    """
    if isinstance(value, bool | int | float):
        key = (type(value), value)
        found = _LITERALS.get(key)
        if found is None:
            found = _literal_of(value)
            if len(_LITERALS) < 100_000:
                _LITERALS[key] = found
        return found
    return _literal_of(value)


def _literal_of(value: object) -> Lit:
    if isinstance(value, bool):
        return Lit("true" if value else "false", _BOOLEAN)
    if isinstance(value, float | int | Decimal):
        text = repr(float(value))
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return Lit(text, _DECIMAL)
    return Lit(str(value), _STRING)


def _patient_value_named(kb: KnowledgeBase, name: str) -> str | None:
    """Return the clinical domain a condition name really names ("pregnancy" -> "pregnancy status"), or None.

    A patient value with a clinical domain (pregnant, breastfeeding, on dialysis, ...) is matched by
    its label, its domain, or its domain without " status"; the knowledge base holds the words.
    """
    wanted = normalise(name)
    for info in kb.properties.values():
        if info.domain and wanted in {
            normalise(info.label),
            normalise(info.domain),
            normalise(info.domain.removesuffix(" status")),
        }:
            return info.domain
    return None


def patient_graph(patient: Patient, kb: KnowledgeBase, *, index: int = 0) -> PatientGraph:
    """Build the RDF individual for ``patient`` (the ``index``-th of a batch).

    Sex ``male`` with no pregnancy/lactation entry is recorded as not pregnant and not
    breastfeeding (stated in the notes); every other missing value stays missing.
    """
    iri = PATIENT[f"p{index}"]
    triples: list[Triple] = []
    renal = renal_function(patient)
    result = PatientGraph(iri, triples, patient, renal, notes=list(renal.notes))
    me = str(iri)

    def add(subject: str, predicate: str, obj: Term) -> None:
        triples.append((subject, predicate, obj))

    def individual(node: str, cls: str) -> None:
        triples.append((node, _TYPE, Iri(cls)))
        triples.append((node, _TYPE, _NAMED))

    individual(me, _T["Patient"])
    add(me, _IDENTIFIER, _literal(patient.id))
    pregnant, breastfeeding = patient.pregnant, patient.breastfeeding
    if patient.sex == "male":
        if pregnant is None and breastfeeding is None:
            result.notes.append("pregnancy and lactation taken as not applicable (sex male)")
        pregnant = False if pregnant is None else pregnant
        breastfeeding = False if breastfeeding is None else breastfeeding
    values: dict[str, float | str | bool | None] = {
        "ageYears": patient.age_years,
        "sex": patient.sex,
        "weightKg": patient.weight_kg,
        "serumCreatinineMgDl": patient.serum_creatinine_mg_dl,
        "creatinineClearanceMlMin": renal.crcl_ml_min,
        "egfrMlMin173": renal.egfr_ml_min_1_73m2,
        "childPughClass": patient.child_pugh,
        "pregnant": pregnant,
        "breastfeeding": breastfeeding,
        "onDialysis": patient.dialysis,
    }
    for term, raw in values.items():
        if raw is None:
            continue
        add(me, _T[term], _literal(raw))
        result.values[_T[term]] = raw

    past_unused: list[str] = []
    for number, name in enumerate(patient.conditions):
        condition = resolve_condition(name, kb.condition_names, kb.rulebook.at_or_below)
        if condition is None:
            base, status = split_past(name)
            if status is not None:
                condition = resolve_condition(base, kb.condition_names, kb.rulebook.at_or_below)
                if condition not in kb.past_episode_conditions:  # only a current episode matters
                    past_unused.append(name)
                    continue
        if condition is None:
            value = _patient_value_named(kb, name)
            hint = f" ({value} is a patient value, not a condition: give it as the patient's {value})" if value else ""
            result.not_used.append(f"condition: {name}{hint}")
            continue
        node = f"{iri}/condition/{number}"
        individual(node, condition)
        add(me, _T["hasCondition"], Iri(node))
    if past_unused:
        result.notes.append(
            "past conditions not used (a past episode counts only where it matters, e.g. angioedema, falls): "
            + ", ".join(past_unused)
        )

    for number, medication in enumerate(patient.medications):
        ingredients, unmodelled = kb.composition_of(medication.drug)
        combination = len(ingredients) + len(unmodelled) > 1
        if combination:
            labels = " + ".join([kb.label(i) for i in ingredients] + unmodelled)
            checked = "each ingredient medkg models is checked" if unmodelled else "each ingredient is checked"
            result.notes.append(
                f"{medication.drug} is a combination product ({labels}): {checked}; "
                "the dose given is the product's, so dose limits are not assessed for it"
            )
        # a use per ingredient: a modelled one names its drug; an unmodelled one, or an unidentified
        # name, has none and is reported as not assessed
        parts: list[tuple[str | None, str | None]] = [(drug, None) for drug in ingredients]
        parts += [(None, name) for name in unmodelled]
        for part, (drug, unmodelled_name) in enumerate(parts or [(None, None)]):
            use = f"{iri}/medication/{number}" + (f"/ingredient/{part}" if combination else "")
            individual(use, _T["MedicationUse"])
            add(me, _T["takesMedication"], Iri(use))
            add(use, _T["inputName"], _literal(medication.drug))
            add(use, _T["inputOrder"], Lit(str(number), _INTEGER))
            result.uses[use] = (medication.drug, drug)
            result.positions[use] = number
            if unmodelled_name is not None:
                result.unmodelled[use] = unmodelled_name
            elif drug is None:
                # an ingredient's name for a name of one ingredient; a combination brand's own name
                close = [
                    kb.label(kb.drug_names[name]) if len(kb.name_ingredients.get(name, ())) <= 1 else name
                    for name in suggest(medication.drug, kb.drug_names)
                ]
                result.suggestions[medication.drug] = list(dict.fromkeys(close))
            else:
                add(use, _T["ofDrug"], Iri(drug))
            if medication.dose_mg is not None and not combination:
                add(use, _T["doseMg"], _literal(round(medication.dose_mg, _AMOUNT_PLACES)))
            if medication.times_per_day is not None:
                add(use, _T["timesPerDay"], _literal(round(medication.times_per_day, _AMOUNT_PLACES)))
            if medication.indication:
                condition = resolve_condition(medication.indication, kb.condition_names, kb.rulebook.at_or_below)
                if condition is None:
                    if part == 0:
                        result.not_used.append(f"indication: {medication.indication} (for {medication.drug})")
                else:
                    node = f"{use}/indication"
                    individual(node, condition)
                    add(use, _T["indication"], Iri(node))
    for name in patient.allergies:
        allergen = resolve_allergen(name, kb.allergen_names)
        if allergen is None:
            result.not_used.append(f"allergy: {name} (not a drug or drug class medkg knows; not checked)")
        else:
            add(me, _T["allergicTo"], Iri(allergen))
    if patient.labs is not None:
        for lab, term in _LAB_PROPERTIES.items():
            lab_value = getattr(patient.labs, lab)
            if lab_value is not None:
                add(me, _T[term], _literal(lab_value))
                result.values[_T[term]] = lab_value
    return result


#: Lab field of :class:`~medkg.patient.Labs` -> patient data property (units as in the model).
_LAB_PROPERTIES = {"potassium_mmol_l": "serumPotassiumMmolL", "qtc_ms": "qtcMs", "inr": "inr"}
