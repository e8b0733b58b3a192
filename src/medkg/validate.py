"""``medkg validate``: the knowledge base's quality gates.

1. HermiT: the knowledge base is consistent (a fresh build classifies it).
2. SHACL: ``ontology/shapes.ttl`` over the compiled graph (pySHACL).
3. Every ``queries/violations/*-violation.rq`` returns no rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rdflib import Graph
from rdflib.namespace import SH

from .build import build
from .knowledge_base import KnowledgeBase
from .paths import resource_root
from .queries import query_files
from .sources import SHAPES_FILE

__all__ = ["shacl_report", "shacl_violations", "validate", "violations"]


def violations(kb: KnowledgeBase) -> dict[str, list[dict[str, object]]]:
    """Name of each violation query -> its rows (all lists empty when the knowledge base is clean)."""
    return {
        name: kb.store.select(kb.query(name))
        for name in query_files("violations", kb.root)
        if name.endswith("-violation")
    }


def shacl_report(kb: KnowledgeBase) -> tuple[bool, str]:
    """Validate the compiled graph against the SHACL shapes; return (conforms, report text).

    Results of severity ``sh:Warning`` (e.g. a drug code left out because it could not be
    corroborated) are in the text but do not make the graph non-conforming.
    """
    conforms, _results, text = _shacl(kb)
    return conforms, text


def shacl_violations(kb: KnowledgeBase) -> tuple[list[str], int]:
    """SHACL results of severity ``sh:Violation``, one line each (focus node, path, message), and the number of warnings.

    Violations come first and alone, so the one that fails the gate is not buried among warnings.
    """
    _conforms, results, _text = _shacl(kb)
    lines = []
    for result in results.subjects(SH.resultSeverity, SH.Violation):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        lines.append(f"{focus} {'(' + str(path) + ') ' if path is not None else ''}{message}")
    return sorted(lines), len(set(results.subjects(SH.resultSeverity, SH.Warning)))


def _shacl(kb: KnowledgeBase) -> tuple[bool, Graph, str]:
    from pyshacl import validate as shacl_validate

    root = kb.root or resource_root()
    data = Graph().parse(kb.built.compiled, format="nt")
    shapes = Graph().parse(root / "ontology" / SHAPES_FILE, format="turtle")
    conforms, results, text = shacl_validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True
    )
    assert isinstance(results, Graph)
    return bool(conforms), results, str(text)


def validate(root: Path | None = None, *, echo: Callable[[str], None] = print) -> int:
    """Run every gate, print what fails through ``echo``, and return the number of problems.

    Raises:
        medkg.reasoner.ReasonerError: if HermiT finds the knowledge base inconsistent.
    """
    built = build(root, force=True, quiet=True)
    echo(f"consistency (HermiT): OK ({built.folder.name})")
    kb = KnowledgeBase(built, root)
    problems = 0
    failed, warnings = shacl_violations(kb)
    noted = f" ({warnings} warning(s): codes left out; see `medkg stats`)" if warnings else ""
    if not failed:
        echo("SHACL shapes: OK" + noted)
    else:
        problems += len(failed)
        echo(f"SHACL shapes: FAILED, {len(failed)} violation(s){noted}")
        for line in failed:
            echo("  " + line)
    for name, rows in violations(kb).items():
        if rows:
            problems += len(rows)
            echo(f"{name}: {len(rows)} row(s)")
            for row in rows[:20]:
                echo("  " + ", ".join(f"{key}={value}" for key, value in row.items()))
        else:
            echo(f"{name}: OK")
    return problems
