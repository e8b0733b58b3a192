"""Render a :class:`~medkg.report.Report` as RDF (Turtle): findings as individuals linked to their rules."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from ..report import Report
from ..vocabulary import MEDKG

__all__ = ["REPORT", "render_turtle"]

#: Terms of the report vocabulary (findings are outputs, not part of the ontology's T-box).
REPORT = Namespace("https://w3id.org/medkg/report#")


def render_turtle(report: Report) -> str:
    """Return the report's findings as Turtle (deterministic output: sorted by rdflib)."""
    graph = Graph()
    graph.bind("medkg", MEDKG)
    graph.bind("report", REPORT)
    root = URIRef(f"urn:medkg:report:{report.knowledge_base.sha256[:16]}:{report.patient.id}")
    graph.add((root, RDF.type, REPORT.Report))
    graph.add((root, REPORT.patientId, Literal(report.patient.id)))
    graph.add((root, REPORT.knowledgeBaseSha256, Literal(report.knowledge_base.sha256)))
    graph.add((root, RDFS.comment, Literal(report.disclaimer)))
    for number, finding in enumerate(report.findings):
        node = URIRef(f"{root}:finding:{number}")
        graph.add((root, REPORT.hasFinding, node))
        graph.add((node, RDF.type, REPORT.Finding))
        graph.add((node, REPORT.kind, Literal(finding.kind)))
        graph.add((node, REPORT.severity, Literal(finding.severity)))
        graph.add((node, REPORT.summary, Literal(finding.summary)))
        if finding.recommendation:
            graph.add((node, REPORT.recommendation, Literal(finding.recommendation)))
        if finding.rule:
            graph.add((node, REPORT.firedRule, URIRef(finding.rule)))
        for drug in finding.drugs:
            graph.add((node, REPORT.drug, Literal(drug)))
        for reason in finding.because:
            graph.add((node, REPORT.because, Literal(reason)))
        for source in finding.sources:
            ref = BNode()
            graph.add((node, REPORT.source, ref))
            graph.add((ref, REPORT.title, Literal(source.title)))
            if source.url:
                graph.add((ref, REPORT.url, Literal(source.url)))
            if source.locator:
                graph.add((ref, REPORT.locator, Literal(source.locator)))
    return graph.serialize(format="turtle")
