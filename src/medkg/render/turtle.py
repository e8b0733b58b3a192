"""Render a :class:`~medkg.report.Report` as RDF (Turtle): the whole report, findings linked to their rules."""

from __future__ import annotations

from decimal import Decimal

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from ..report import Report
from ..vocabulary import MEDKG

__all__ = ["REPORT", "render_turtle"]

#: Terms of the report vocabulary (findings are outputs, not part of the ontology's T-box).
REPORT = Namespace("https://w3id.org/medkg/report#")


def render_turtle(report: Report) -> str:
    """Return the report as Turtle: patient summary, assessed drugs, notes, findings with sources.

    Every field of the JSON report has a counterpart here, so nothing is lost by choosing RDF.
    """
    graph = Graph()
    graph.bind("medkg", MEDKG)
    graph.bind("report", REPORT)
    root = URIRef(f"urn:medkg:report:{report.knowledge_base.sha256[:16]}:{report.patient.id}")

    def add(subject: URIRef | BNode, predicate: str, value: object) -> None:
        if value is None or value == "":
            return
        if isinstance(value, URIRef):
            term: URIRef | Literal = value
        elif isinstance(value, float):
            term = Literal(Decimal(repr(value)))
        else:
            term = Literal(value)
        graph.add((subject, REPORT[predicate], term))

    graph.add((root, RDF.type, REPORT.Report))
    add(root, "schemaVersion", report.schema_version)
    add(root, "engine", report.engine)
    add(root, "knowledgeBaseVersion", report.knowledge_base.version)
    add(root, "knowledgeBaseSha256", report.knowledge_base.sha256)
    add(root, "patientId", report.patient.id)
    add(root, "renalBasis", report.patient.renal_basis)
    add(root, "crclMlMin", report.patient.crcl_ml_min)
    add(root, "egfrMlMin173", report.patient.egfr_ml_min_1_73m2)
    for population in report.patient.populations:
        add(root, "population", URIRef(f"https://w3id.org/medkg/kg/{population}"))
    for assessed in report.assessed:
        entry = BNode()
        graph.add((root, REPORT.assessed, entry))
        add(entry, "input", assessed.input)
        add(entry, "drug", URIRef(assessed.iri))
        add(entry, "curationLevel", assessed.curation_level)
    for unused in report.not_used:
        add(root, "notUsed", unused)
    for note in report.notes:
        add(root, "note", note)
    graph.add((root, RDFS.comment, Literal(report.disclaimer)))
    for number, finding in enumerate(report.findings):
        node = URIRef(f"{root}:finding:{number}")
        graph.add((root, REPORT.hasFinding, node))
        graph.add((node, RDF.type, REPORT.Finding))
        for key in ("kind", "severity", "title", "summary", "recommendation", "score", "evidence"):
            add(node, key, getattr(finding, key))
        if finding.rule:
            add(node, "firedRule", URIRef(finding.rule))
        for key, values in (
            ("drug", finding.drugs),
            ("because", finding.because),
            ("object", finding.object or []),
            ("precipitant", finding.precipitant or []),
            ("alternative", finding.alternatives or []),
            ("suggestion", finding.suggestions or []),
        ):
            for value in values:
                add(node, key, value)
        for source in finding.sources:
            ref = BNode()
            graph.add((node, REPORT.source, ref))
            for key in ("title", "url", "version", "locator", "evidence", "uncertainty_note"):
                add(ref, key.replace("_n", "N"), getattr(source, key))
            add(ref, "uncertain", source.uncertain)
    return graph.serialize(format="turtle")
