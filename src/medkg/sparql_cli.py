"""``medkg query``: run a user's SPARQL file over the knowledge base (and a classified patient)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from .loaders import InputError
from .store import python_value

if TYPE_CHECKING:
    from .knowledge_base import KnowledgeBase
    from .store import QueryStore

__all__ = ["mentions", "read_only", "run_query"]


def mentions(node: Any, name: str) -> bool:
    """Return whether a parsed SPARQL tree (rdflib) contains a node called ``name`` (e.g. ``ServiceGraphPattern``)."""
    if getattr(node, "name", None) == name:
        return True
    if isinstance(node, dict):
        return any(mentions(value, name) for value in node.values())
    if isinstance(node, list | tuple) or type(node).__name__ == "ParseResults":
        return any(mentions(item, name) for item in node)
    return False


def read_only(text: str) -> None:
    """Refuse anything but a read-only query over local data: updates, LOAD and SERVICE.

    Raises:
        InputError: for an update, a federated SERVICE call, or text that is not SPARQL.
    """
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        tree = parseQuery(text)
    except ParseException as query_error:
        try:
            parseUpdate(text)
        except ParseException:
            raise InputError(f"query: not valid SPARQL: {' '.join(str(query_error).split())}") from None
        raise InputError(
            "query: updates (INSERT, DELETE, LOAD, CLEAR ...) are refused; medkg query is read-only"
        ) from None
    if mentions(tree, "ServiceGraphPattern"):
        raise InputError(
            "query: SERVICE (federated queries to other endpoints) is refused; medkg query reads local data only"
        )


def _answer(store: QueryStore, text: str, graph: ox.NamedNode | None) -> str | tuple[list[str], list[list[Any]]]:
    """Run the query: "true"/"false" (one line) for an ASK, else (variable names, rows of Python values).

    Raises:
        medkg.loaders.InputError: for a query that is not valid SPARQL, or neither a SELECT nor an ASK.
    """
    try:
        result = store.raw_query(text, graph=graph)
    except SyntaxError as error:
        raise InputError(f"query: not valid SPARQL: {error}") from None
    if isinstance(result, ox.QueryBoolean):
        return ("true" if bool(result) else "false") + "\n"
    if not isinstance(result, ox.QuerySolutions):
        raise InputError("query: only SELECT and ASK queries are supported here")
    names = [variable.value for variable in result.variables]
    return names, [[python_value(solution[name]) for name in names] for solution in result]


def _cell(value: Any) -> str:
    """Show a value in CSV or a table: unbound as empty, booleans as SPARQL writes them (true/false)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_query(text: str, patient_file: Path | None, output_format: str, *, kb: KnowledgeBase | None = None) -> str:
    """Run a SELECT or ASK query; return a table, CSV or SPARQL-JSON-like rows as text.

    With ``patient_file``, the patient is loaded, classified by the default engine and
    queryable together with the knowledge base. ``kb``: the knowledge base and its store (default:
    the built-in one on the embedded store).

    Raises:
        medkg.loaders.PatientInputError: for a bad patient file.
        medkg.loaders.InputError: for a query that is not valid SPARQL or neither SELECT nor ASK, or
            a patient with a read-only store (a large build; without a patient the store is queried as it is).
    """
    from rdflib import Graph

    from .engines import SparqlEngine
    from .knowledge_base import default_knowledge_base
    from .loaders import load_patient
    from .patient_graph import patient_graph

    read_only(text)
    kb = kb or default_knowledge_base()
    if patient_file is None and kb.store.read_only:
        # a large build's store cannot take a patient graph, and none is needed: query it as it is
        answer = _answer(kb.store, text, None)
    else:
        graph = patient_graph(load_patient(patient_file), kb).graph if patient_file else Graph()
        with SparqlEngine().session(kb, graph) as (store, name):
            answer = _answer(store, text, name)
    if isinstance(answer, str):
        return answer
    names, rows = answer
    if output_format == "json":
        return json.dumps([dict(zip(names, row, strict=True)) for row in rows], indent=2, sort_keys=True) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        writer.writerows([_cell(v) for v in row] for row in rows)
        return buffer.getvalue()
    cells = [names] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(names))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + f"\n({len(rows)} rows)\n"
