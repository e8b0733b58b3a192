"""No SPARQL is built by string formatting anywhere in medkg (values are bound, never formatted in).

Scans every module under ``src/medkg`` for f-strings, ``%`` formatting and ``str.format`` whose
literal text looks like SPARQL. Queries live in ``queries/*.rq`` and values reach them through
pyoxigraph ``substitutions`` (``QueryStore.select(bindings=...)``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "medkg"
SPARQL = re.compile(
    r"\b(SELECT|CONSTRUCT|DESCRIBE|ASK|INSERT|DELETE|WHERE|FILTER|OPTIONAL|VALUES)\s*[{(?*]|\bPREFIX\s+[\w-]*:",
)


def _literal_text(node: ast.AST) -> str:
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def formatted_sparql(tree: ast.AST) -> list[int]:
    """Line numbers of f-strings, ``%`` or ``.format`` calls whose literal parts look like SPARQL."""
    lines = []
    for node in ast.walk(tree):
        text = ""
        if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
            text = _literal_text(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            text = _literal_text(node.left)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            text = _literal_text(node.func.value)
        if text and SPARQL.search(text):
            lines.append(getattr(node, "lineno", 0))
    return lines


@pytest.mark.skipif(not SOURCE.is_dir(), reason="source tree not available")
def test_no_module_formats_user_values_into_sparql() -> None:
    offenders = {}
    for path in sorted(SOURCE.rglob("*.py")):
        found = formatted_sparql(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if found:
            offenders[str(path.relative_to(SOURCE))] = found
    assert offenders == {}, f"SPARQL built by string formatting (bind values instead): {offenders}"


def test_the_scan_finds_formatted_sparql() -> None:
    bad = [
        'q = f"SELECT ?d WHERE {{ ?d rdfs:label \\"{name}\\" }}"',
        'q = "ASK { <%s> ?p ?o }" % iri',
        'q = "PREFIX kg: <x> SELECT * WHERE {{ ?s ?p {} }}".format(value)',
    ]
    for source in bad:
        assert formatted_sparql(ast.parse(source)) == [1], source
    good = ['message = f"query: not valid SPARQL: {error}"', 'q = "SELECT ?s WHERE { ?s ?p ?o }"']
    for source in good:
        assert formatted_sparql(ast.parse(source)) == [], source
