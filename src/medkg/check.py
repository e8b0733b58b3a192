"""``medkg.check``: from a validated patient to a :class:`~medkg.report.Report`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import __version__
from .engines import get_engine
from .findings import findings_from_rows
from .gc_pause import cyclic_gc_paused
from .knowledge_base import KnowledgeBase, default_knowledge_base
from .loaders import PatientInputError, load_input
from .patient import Patient, plausibility_notes
from .patient_graph import PatientGraph, patient_graph
from .report import AssessedDrug, Finding, KnowledgeBaseRef, PatientSummary, Report

__all__ = ["Classified", "build_report", "check", "check_many", "classify_patients"]


def check(
    patient: Patient | Mapping[str, Any],
    *,
    engine: str = "default",
    kb: KnowledgeBase | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Check one patient and return the report.

    Args:
        patient: validated input (see :func:`medkg.load_patient`), or decoded JSON read here as
            ``medkg check`` reads a file: medkg patient JSON, a FHIR R4 Bundle or a CDS Hooks
            request (:class:`medkg.PatientInputError` if invalid); a FHIR or CDS Hooks reader's
            notes go first in the report's ``notes``.
        engine: ``"default"`` (SPARQL classification, no JVM) or ``"owl"`` (HermiT per call).
        kb: knowledge base; default: the built-in one, built on first use.
        notes: notes from the input's reader (e.g. :func:`medkg.fhir.read_bundle`), put first
            in the report's ``notes``.

    Raises:
        ValueError: for an unknown engine.
        medkg.reasoner.ReasonerError: if the owl engine finds the patient inconsistent with the KB.
    """
    return check_many([patient], engine=engine, kb=kb, notes=[notes])[0]  # check_many validates a dict


def check_many(
    patients: Sequence[Patient | Mapping[str, Any]],
    *,
    engine: str = "default",
    kb: KnowledgeBase | None = None,
    notes: Sequence[Sequence[str]] | None = None,
) -> list[Report]:
    """Check several patients together (one classification and one run of each query); reports in input order.

    ``patients``: validated inputs, or decoded JSON (medkg patient JSON, FHIR Bundles, CDS Hooks
    requests; read here, as by :func:`check`). ``notes``, if given, holds one list of input notes per patient (put first
    in its report's notes).

    Raises:
        ValueError: for an unknown engine, or ``notes`` not matching ``patients`` one to one.
        medkg.PatientInputError: for a dict that is not a valid patient; the message starts
            ``patients[i]:`` (``i`` counted from 0) so the caller can find it in the batch.
    """
    if notes is not None and len(notes) != len(patients):
        raise ValueError(f"notes: {len(notes)} lists for {len(patients)} patients")
    given = kb

    def known(name: str) -> bool:  # the knowledge base is loaded only if a FHIR reader asks
        return (given or default_knowledge_base()).knows_drug(name)

    read = [_validated(number, patient, known) for number, patient in enumerate(patients)]
    valid = [patient for patient, _ in read]
    if any(reader_notes for _, reader_notes in read):
        notes = [[*reader_notes, *(notes[number] if notes else ())] for number, (_, reader_notes) in enumerate(read)]
    kb = kb or default_knowledge_base()
    with cyclic_gc_paused():
        return _check_many(valid, engine, kb, notes)


def _validated(
    number: int, patient: Patient | Mapping[str, Any], known: Callable[[str], bool]
) -> tuple[Patient, list[str]]:
    """Return the patient and its reader's notes (a FHIR Bundle or CDS Hooks request dict is read as ``medkg check`` reads it)."""
    if isinstance(patient, Patient):
        return patient, []
    try:  # a dict or a file path, as load_patient takes them; anything else is refused there
        loaded = load_input(patient, known=known, origin="patient")
    except PatientInputError as error:
        raise PatientInputError(f"patients[{number}]: {error}") from error
    return loaded.patient, loaded.notes


def _check_many(
    patients: Sequence[Patient], engine: str, kb: KnowledgeBase, notes: Sequence[Sequence[str]] | None
) -> list[Report]:
    graphs = [patient_graph(patient, kb, index=number) for number, patient in enumerate(patients)]
    chosen = get_engine(engine)
    evaluation = chosen.evaluate(kb, graphs)
    findings = findings_from_rows(kb, evaluation.rows, graphs)
    populations = evaluation.populations
    given = notes if notes is not None else [()] * len(graphs)
    return [
        build_report(kb, pg, findings[str(pg.iri)], populations.get(str(pg.iri), []), chosen.name, given[number])
        for number, pg in enumerate(graphs)
    ]


def _doses_without_limit(kb: KnowledgeBase, pg: PatientGraph) -> list[str]:
    """Return the labels of the drugs entered with a dose but without a general daily maximum in ``kb`` (sorted).

    Without this a dose of such a drug (digoxin 250 mg a day, a microgram dose typed as mg) gave
    no finding and no word: the report looked as if the dose had been checked. A combination
    product's dose has its own note (its dose is the product's) and is left out here.
    """
    limited = kb.dose_limited_drugs
    medications = pg.patient.medications
    uses_per_medication = Counter(pg.positions.values())  # more than one: a combination product
    return sorted(
        {
            kb.label(drug)
            for use, (_name, drug) in pg.uses.items()
            if drug is not None
            and drug not in limited
            and medications[pg.positions[use]].dose_mg is not None
            and uses_per_medication[pg.positions[use]] == 1
        }
    )


def build_report(  # noqa: PLR0917
    kb: KnowledgeBase,
    pg: PatientGraph,
    findings: list[Finding],
    populations: list[str],
    engine: str,
    input_notes: Sequence[str] = (),
) -> Report:
    """Assemble one patient's report: assessed drugs, notes (input's first), renal values, findings as given.

    ``findings``: the patient's, as :func:`medkg.findings.findings_from_rows` sorts them;
    ``populations``: population local names; ``engine``: the engine's name, reported as is.
    """
    assessed = [
        AssessedDrug(input=name, drug=kb.label(iri), iri=iri, curation_level=kb.curation.get(iri))
        for name, iri in pg.uses.values()
        if iri is not None
    ]
    notes = list(input_notes) + pg.notes + plausibility_notes(pg.patient)
    partial = sorted({a.drug for a in assessed if a.curation_level not in (None, "label-depth")})
    if partial:
        notes.append(f"partly curated (tabular sources only): {', '.join(partial)}")
    unlimited = _doses_without_limit(kb, pg)
    if unlimited:
        notes.append(
            f"dose not checked against a daily maximum (none for all patients in the knowledge base): "
            f"{', '.join(unlimited)}; check the dose against the label"
        )
    return Report(
        engine=engine,
        knowledge_base=KnowledgeBaseRef(version=__version__, sha256=kb.sha256),
        patient=PatientSummary(
            id=pg.patient.id,
            populations=populations,
            renal_basis=pg.renal.basis,
            crcl_ml_min=pg.renal.crcl_ml_min,
            egfr_ml_min_1_73m2=pg.renal.egfr_ml_min_1_73m2,
        ),
        assessed=sorted(assessed, key=lambda a: (a.drug, a.input)),
        not_used=sorted(pg.not_used),
        notes=notes,
        findings=findings,
    )


@dataclass(frozen=True)
class Classified:
    """What an engine classified, keyed by ``"<position>:<patient id>"``.

    ``populations``: population local names per patient; ``drug_classes``: class IRIs per drug IRI per patient.
    """

    populations: dict[str, list[str]]
    drug_classes: dict[str, dict[str, list[str]]]


def classify_patients(
    patients: Sequence[Patient], *, engine: str = "default", kb: KnowledgeBase | None = None
) -> Classified:
    """Classify ``patients`` with ``engine`` and return the classifications (for engine contract tests)."""
    kb = kb or default_knowledge_base()
    graphs = [patient_graph(patient, kb, index=number) for number, patient in enumerate(patients)]
    ids = {str(pg.iri): f"{number}:{pg.patient.id}" for number, pg in enumerate(graphs)}
    evaluation = get_engine(engine).evaluate(kb, graphs, drug_classes=True)
    return Classified(
        {ids[k]: v for k, v in evaluation.populations.items()},
        {ids[k]: {d: c for d, c in v.items() if c} for k, v in evaluation.drug_classes.items() if any(v.values())},
    )
