"""``medkg query``: run a user's SPARQL file over the knowledge base (and a classified patient)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from .loaders import InputError, decode_input_bytes, max_input_bytes
from .patient import Patient
from .store import python_value

if TYPE_CHECKING:
    from .knowledge_base import KnowledgeBase
    from .store import QueryStore

__all__ = ["decode_query", "mentions", "read_only", "read_query", "run_query"]


def decode_query(data: bytes, *, origin: str = "query") -> str:
    """Decode a query's bytes as UTF-8 (a UTF-8 byte-order mark allowed), as patient input is decoded.

    Raises:
        InputError: naming ``origin``, for bytes that are not UTF-8 text (the first bad byte and its
            position; a UTF-16 or UTF-32 byte-order mark is named as such), or over the input limit
            (:func:`medkg.loaders.decode_input_bytes`).
    """
    return decode_input_bytes(data, origin=origin, utf8_only=True, advice="save the query as UTF-8")


def read_query(source: str | Path) -> str:
    """Read a query file, or standard input for ``-``, as UTF-8 text (at most :func:`medkg.loaders.max_input_bytes`).

    Raises:
        InputError: the file cannot be read, is too large, or is not UTF-8 text (naming the file or ``stdin``).
    """
    limit = max_input_bytes()
    if str(source) == "-":
        origin, data = "stdin", sys.stdin.buffer.read(limit + 1)
    else:
        origin = str(source)
        try:
            with Path(source).open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            raise InputError(f"{origin}: cannot read the query: {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError(
            f"{origin}: the query is over {limit / 1024 / 1024:g} MB, the input limit (MEDKG_MAX_INPUT_MB raises it)"
        )
    return decode_query(data, origin=origin)


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


def _answer(store: QueryStore, text: str, graph: ox.NamedNode | None) -> bool | tuple[list[str], list[list[Any]]]:
    """Run the query: the answer of an ASK, else (variable names, rows of Python values).

    Raises:
        medkg.loaders.InputError: for a query that is not valid SPARQL, or neither a SELECT nor an ASK.
    """
    try:
        result = store.raw_query(text, graph=graph)
    except SyntaxError as error:
        raise InputError(f"query: not valid SPARQL: {error}") from None
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
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


def run_query(text: str, patient: Path | Patient | None, output_format: str, *, kb: KnowledgeBase | None = None) -> str:
    """Run a SELECT or ASK query; return a table, CSV or JSON as text.

    ``output_format``: ``table``, ``csv`` or ``json``. JSON is, for a SELECT, an array of
    ``{variable: value}`` objects (values as plain JSON: IRIs and strings as strings, numbers,
    booleans; an unbound variable as null) -- not the W3C SPARQL results format; for an ASK, the
    W3C SPARQL 1.1 Query Results JSON Format: ``{"head": {}, "boolean": true}``. A table or CSV
    shows an ASK's answer as one line, ``true`` or ``false``.

    With ``patient`` (a :class:`~medkg.patient.Patient`, or a file read by :func:`medkg.load_patient`:
    any patient input ``medkg check`` reads), the patient is classified by the default engine and
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
    if patient is None and kb.store.read_only:
        # a large build's store cannot take a patient graph, and none is needed: query it as it is
        answer = _answer(kb.store, text, None)
    else:
        if isinstance(patient, Path):
            patient = load_patient(patient, known=kb.knows_drug)
        graph = patient_graph(patient, kb).graph if patient is not None else Graph()
        with SparqlEngine().session(kb, graph) as (store, name):
            answer = _answer(store, text, name)
    if isinstance(answer, bool):
        if output_format == "json":
            return json.dumps({"head": {}, "boolean": answer}) + "\n"
        return ("true" if answer else "false") + "\n"
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
