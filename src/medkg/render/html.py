"""Render a :class:`~medkg.report.Report` as one self-contained HTML page with its interaction graph.

No external resources (inline CSS, inline SVG, one small inline script that records which graph
elements the browser rendered); every text is HTML-escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..report import SEVERITY_RANK, Report
from .graph import interaction_graph, layout

__all__ = ["SEVERITY_COLOURS", "render_html"]

#: Colour per severity (also the legend), most severe first.
SEVERITY_COLOURS = {
    "contraindicated": "#6a1b9a",
    "major": "#c62828",
    "moderate": "#ef6c00",
    "minor": "#f9a825",
    "info": "#607d8b",
}

_SIZE = 520.0
_ENVIRONMENT = Environment(
    loader=PackageLoader("medkg", "render/templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(report: Report) -> str:
    """Return the report as an HTML document (deterministic for a given report)."""
    graph = interaction_graph(report)
    positions = layout(graph, size=_SIZE)
    nodes = [
        {
            "name": name,
            "x": positions[name][0],
            "y": positions[name][1],
            "label_y": positions[name][1] + (38 if positions[name][1] >= _SIZE / 2 else -30),
            **graph.nodes[name],
        }
        for name in sorted(graph.nodes)
    ]
    edges: list[dict[str, Any]] = []
    for a, b in sorted(tuple(sorted(edge)) for edge in graph.edges):
        data = graph.edges[a, b]
        edges.append(
            {
                "a": a,
                "b": b,
                "x1": positions[a][0],
                "y1": positions[a][1],
                "x2": positions[b][0],
                "y2": positions[b][1],
                "width": 2 + SEVERITY_RANK[data["severity"]],
                **data,
            }
        )
    groups = [
        (severity, [f for f in report.findings if f.severity == severity])
        for severity in SEVERITY_COLOURS
        if any(f.severity == severity for f in report.findings)
    ]
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        report=report, nodes=nodes, edges=edges, groups=groups, colours=SEVERITY_COLOURS, size=int(_SIZE)
    )
