"""No SPARQL text is built by string formatting anywhere in ``src/`` or ``scripts/`` (issue 6, item 3).

Values go into queries as bound variables (``initBindings``/``substitutions``) or, for a remote
store, as terms serialised by the RDF library; an f-string, ``%`` or ``.format(`` that produces
query text would let input rewrite the query. The checker parses every file with :mod:`ast` and
flags each formatting expression whose literal text looks like SPARQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECKED = sorted(path for folder in ("src", "scripts") for path in (REPO / folder).rglob("*.py"))

#: SPARQL keywords as queries write them (upper case, whole words), and lower-case forms only
#: in shapes English prose does not take (``where {``, ``select ?x``, ``filter(``...).
_SPARQL = re.compile(
    r"\b(?:SELECT|CONSTRUCT|ASK|INSERT|DELETE|FILTER|VALUES)\b"
    r"|(?i:\bwhere\s*\{)"
    r"|(?i:\bselect\s+(?:\?|\$|\*|distinct\b|reduced\b))"
    r"|(?i:\b(?:construct|ask)\s*\{)"
    r"|(?i:\b(?:insert|delete)\s+(?:data\s*)?\{)"
    r"|(?i:\bfilter\s*(?:\(|not\s+exists|exists))"
    r"|(?i:\bvalues\s*(?:\?|\$|\())"
)

#: An SQL statement's opening: its table name comes from a module constant, and SPARQL has no such form.
_SQL = re.compile(r"\s*(?:INSERT\s+INTO|DELETE\s+FROM)\b")


def _literal_text(node: ast.AST) -> str | None:
    """The literal text of a string constant or f-string (formatted parts left out), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def sparql_formatting(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """Return ``(line, how)`` for every f-string, ``%`` or ``.format(`` whose text contains SPARQL.

    ``how`` is ``"f-string"``, ``"%-formatting"`` or ``".format()"``. Plain string constants are
    not flagged: a fixed query is fine; formatting values into one is not. Nor is an SQL
    statement opening with ``INSERT INTO`` or ``DELETE FROM`` (SQLite cannot bind a table name).

    Raises:
        SyntaxError: if ``source`` is not valid Python.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        how, text = None, None
        if isinstance(node, ast.JoinedStr) and any(isinstance(part, ast.FormattedValue) for part in node.values):
            how, text = "f-string", _literal_text(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            how, text = "%-formatting", _literal_text(node.left)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"format", "format_map"}
        ):
            how, text = ".format()", _literal_text(node.func.value)
        if how and text and _SPARQL.search(text) and not _SQL.match(text):
            found.append((getattr(node, "lineno", 0), how))
    return sorted(set(found))


def test_the_checker_covers_src_and_scripts() -> None:
    names = {path.relative_to(REPO).as_posix() for path in CHECKED}
    assert "src/medkg/findings.py" in names and "scripts/bench.py" in names


@pytest.mark.parametrize("path", CHECKED, ids=lambda path: path.relative_to(REPO).as_posix())
def test_no_sparql_is_built_by_string_formatting(path: Path) -> None:
    found = sparql_formatting(path.read_text(encoding="utf-8"), str(path))
    assert found == [], f"{path.relative_to(REPO)}: SPARQL built by formatting at {found}: bind values instead"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("q = f\"SELECT ?d WHERE {{ ?d rdfs:label '{name}' }}\"", [(1, "f-string")]),
        ('q = f"select ?d where {{ ?d a <{iri}> }}"', [(1, "f-string")]),
        ('q = "ASK { <%s> a ?c }" % iri', [(1, "%-formatting")]),
        ('q = "DELETE WHERE {{ <{}> ?p ?o }}".format(iri)', [(1, ".format()")]),
        ('q = "?s ?p ?o . FILTER(?o = {x})".format(x=value)', [(1, ".format()")]),
        ('q = "VALUES ?drug {{ {} }}".format(terms)', [(1, ".format()")]),
        ('q = "INSERT DATA { %(triple)s }" % {"triple": t}', [(1, "%-formatting")]),
        ('q = f"INSERT {{ <{s}> a ?c }} WHERE {{ ?x a ?c }}"', [(1, "f-string")]),
        ('q = f"DELETE {{ <{s}> ?p ?o }} WHERE {{ <{s}> ?p ?o }}"', [(1, "f-string")]),
        ('q = "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}".format_map(m)', [(1, ".format()")]),
        ('x = 1\nq = f"""\nPREFIX x: <{ns}>\nSELECT * WHERE {{ ?s ?p ?o }}"""', [(2, "f-string")]),
    ],
)
def test_the_checker_finds_planted_sparql_formatting(source: str, expected: list[tuple[int, str]]) -> None:
    assert sparql_formatting(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        'q = "SELECT ?d WHERE { ?d a ?c }"',  # a fixed query: nothing formatted in
        'store.query("SELECT ?d WHERE { ?d rdfs:label ?name }", initBindings={"name": Literal(name)})',
        'message = f"selected {count} drugs; select one where possible"',  # English, not SPARQL
        'message = "%d values filtered" % count',
        'text = "{} asked for {}".format(who, what)',
        'label = f"{kind} task"',
        'statement = f"INSERT INTO {table} VALUES ({marks})"',  # SQL: a table name from a constant
        'statement = f"DELETE FROM {table}"',
    ],
)
def test_the_checker_ignores_fixed_queries_and_prose(source: str) -> None:
    assert sparql_formatting(source) == []
