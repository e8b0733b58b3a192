"""The patient's interaction graph: drugs as nodes, multi-drug findings as edges (networkx).

Used by the HTML report. Nodes are the identified drugs of the report; an edge joins two drugs
that appear together in a finding about several drugs (interaction, additive effect, burden,
duplicate therapy); it carries the most severe such finding and the titles of all of them.
"""

from __future__ import annotations

from itertools import combinations

import networkx as nx

from ..report import SEVERITY_RANK, Report

__all__ = ["interaction_graph", "layout"]


def _worse(first: str | None, second: str) -> str:
    return second if first is None or SEVERITY_RANK[second] > SEVERITY_RANK[first] else first


def interaction_graph(report: Report) -> nx.Graph:
    """Return an undirected graph of the report's drugs and the findings that join them.

    Node attributes: ``severity`` (most severe single-drug finding, or None) and ``findings``
    (titles). Edge attributes: ``severity`` (most severe joining finding) and ``findings``.
    """
    graph = nx.Graph()
    for drug in sorted({assessed.drug for assessed in report.assessed}):
        graph.add_node(drug, severity=None, findings=[])
    for finding in report.findings:
        drugs = sorted(set(finding.drugs) & set(graph.nodes))
        if finding.kind == "not-assessed":
            continue
        if len(drugs) == 1:
            node = graph.nodes[drugs[0]]
            node["severity"] = _worse(node["severity"], finding.severity)
            node["findings"].append(finding.title or finding.summary)
        for first, second in combinations(drugs, 2):
            if not graph.has_edge(first, second):
                graph.add_edge(first, second, severity=None, findings=[])
            edge = graph.edges[first, second]
            edge["severity"] = _worse(edge["severity"], finding.severity)
            edge["findings"].append(finding.title or finding.summary)
    return graph


def layout(graph: nx.Graph, *, size: float = 520.0, margin: float = 90.0) -> dict[str, tuple[float, float]]:
    """Place nodes on a circle (deterministic; readable for the 1-20 drugs of a patient), in SVG pixels."""
    if graph.number_of_nodes() == 1:
        return {next(iter(graph.nodes)): (size / 2, size / 2)}
    positions = nx.circular_layout(sorted(graph.nodes), scale=(size - 2 * margin) / 2, center=(size / 2, size / 2))
    return {str(node): (float(x), float(y)) for node, (x, y) in positions.items()}
