"""Where patient data enters the graph: a patient becomes an OWL individual.

A validated :class:`~medkg.patient.Patient` becomes an individual (with medication uses and
conditions) in the ontology's terms.

Names are resolved against the knowledge base here; what cannot be resolved is kept (a
medication use with only its input name; a condition in ``not_used``), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, XSD

from .knowledge_base import KnowledgeBase
from .names import normalise, resolve, resolve_condition, suggest
from .patient import Patient
from .renal import RenalFunction, renal_function
from .vocabulary import PATIENT, medkg_term

__all__ = ["PatientGraph", "patient_graph"]


@dataclass
class PatientGraph:
    """A patient as RDF plus what happened on the way in.

    Attributes:
        iri: the patient individual.
        graph: triples describing the patient (OWL 2 RDF mapping, named individuals declared).
        patient: the validated input.
        renal: renal values used and their basis.
        uses: medication-use IRI -> (input name, drug IRI or None); a combination product gives
            one use per ingredient.
        positions: medication-use IRI -> index of its medication in the input.
        suggestions: unidentified input name -> close known names.
        not_used: inputs the knowledge base does not know (conditions, indications).
        values: patient property IRI -> value as put in the graph (for explanations).
    """

    iri: URIRef
    graph: Graph
    patient: Patient
    renal: RenalFunction
    uses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    not_used: list[str] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _decimal(value: float) -> Literal:
    # xsd:decimal, as the population thresholds are (OWL keeps decimal and double apart);
    # the lexical form never uses an exponent (not allowed for xsd:decimal).
    return Literal(format(Decimal(repr(float(value))), "f"), datatype=XSD.decimal)


def patient_graph(patient: Patient, kb: KnowledgeBase, *, index: int = 0) -> PatientGraph:
    """Build the RDF individual for ``patient`` (the ``index``-th of a batch).

    Sex ``male`` with no pregnancy/lactation entry is recorded as not pregnant and not
    breastfeeding (stated in the notes); every other missing value stays missing.
    """
    iri = PATIENT[f"p{index}"]
    graph = Graph()
    renal = renal_function(patient)
    result = PatientGraph(iri, graph, patient, renal, notes=list(renal.notes))

    def individual(node: URIRef, cls: URIRef) -> None:
        graph.add((node, RDF.type, cls))
        graph.add((node, RDF.type, OWL.NamedIndividual))

    individual(iri, medkg_term("Patient"))
    graph.add((iri, DCTERMS.identifier, Literal(patient.id)))
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
        literal = _decimal(raw) if isinstance(raw, float | int) and not isinstance(raw, bool) else Literal(raw)
        graph.add((iri, medkg_term(term), literal))
        result.values[str(medkg_term(term))] = raw

    for number, name in enumerate(patient.conditions):
        condition = resolve_condition(name, kb.condition_names)
        if condition is None:
            result.not_used.append(f"condition: {name}")
            continue
        node = URIRef(f"{iri}/condition/{number}")
        individual(node, URIRef(condition))
        graph.add((iri, medkg_term("hasCondition"), node))

    for number, medication in enumerate(patient.medications):
        ingredients = kb.name_ingredients.get(normalise(medication.drug), [])
        combination = len(ingredients) > 1
        if combination:
            labels = " + ".join(kb.label(i) for i in ingredients)
            result.notes.append(
                f"{medication.drug} is a combination product ({labels}): each ingredient is checked; "
                "the dose given is the product's, so dose limits are not assessed for it"
            )
        for part, drug in enumerate(ingredients or [None]):
            use = URIRef(f"{iri}/medication/{number}" + (f"/ingredient/{part}" if combination else ""))
            individual(use, medkg_term("MedicationUse"))
            graph.add((iri, medkg_term("takesMedication"), use))
            graph.add((use, medkg_term("inputName"), Literal(medication.drug)))
            graph.add((use, medkg_term("inputOrder"), Literal(number)))
            result.uses[str(use)] = (medication.drug, drug)
            result.positions[str(use)] = number
            if drug is None:
                close = [kb.label(kb.drug_names[name]) for name in suggest(medication.drug, kb.drug_names)]
                result.suggestions[medication.drug] = list(dict.fromkeys(close))
            else:
                graph.add((use, medkg_term("ofDrug"), URIRef(drug)))
            if medication.dose_mg is not None and not combination:
                graph.add((use, medkg_term("doseMg"), _decimal(medication.dose_mg)))
            if medication.times_per_day is not None:
                graph.add((use, medkg_term("timesPerDay"), _decimal(medication.times_per_day)))
            if medication.indication:
                condition = resolve_condition(medication.indication, kb.condition_names)
                if condition is None:
                    if part == 0:
                        result.not_used.append(f"indication: {medication.indication} (for {medication.drug})")
                else:
                    node = URIRef(f"{use}/indication")
                    individual(node, URIRef(condition))
                    graph.add((use, medkg_term("indication"), node))
    for name in patient.allergies:
        allergen = resolve(name, kb.allergen_names)
        if allergen is None:
            result.not_used.append(f"allergy: {name} (not a drug or drug class medkg knows; not checked)")
        else:
            graph.add((iri, medkg_term("allergicTo"), URIRef(allergen)))
    if patient.labs is not None:
        for lab, term in _LAB_PROPERTIES.items():
            lab_value = getattr(patient.labs, lab)
            if lab_value is not None:
                graph.add((iri, medkg_term(term), _decimal(lab_value)))
                result.values[str(medkg_term(term))] = lab_value
    return result


#: Lab field of :class:`~medkg.patient.Labs` -> patient data property (units as in the model).
_LAB_PROPERTIES = {"potassium_mmol_l": "serumPotassiumMmolL", "qtc_ms": "qtcMs", "inr": "inr"}
