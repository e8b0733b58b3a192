"""SPARQL 1.1 Protocol, read-only, over the knowledge base with its inferences.

Queries arrive by GET (``?query=``), POST form (``query=``) or POST ``application/sparql-query``;
results are serialised by pyoxigraph in the format the ``Accept`` header prefers: SPARQL JSON
(default), XML, CSV or TSV for SELECT/ASK; Turtle (default) or N-Triples for CONSTRUCT/DESCRIBE.

What is refused, before anything runs (:func:`refusal`): updates (HTTP 403), ``LOAD`` and
``SERVICE`` (400: they would fetch remote data), text that is not SPARQL (400). A result whose
serialisation grows past the configured size is abandoned (:class:`ResultTooLarge`, HTTP 422):
no partial result is sent. The query text is passed to pyoxigraph as given, never formatted into
other SPARQL. In the server these functions run inside a worker process (:mod:`.sparql_worker`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from ..loaders import InputError
from ..sparql_cli import mentions
from ..store import QueryStore

__all__ = [
    "NotAcceptable",
    "QueryRefused",
    "ResultTooLarge",
    "SparqlAnswer",
    "answer",
    "evaluate",
    "negotiate",
    "refusal",
]

_RESULT_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
_GRAPH_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
}


class NotAcceptable(ValueError):
    """No result format the client accepts (HTTP 406)."""


class QueryRefused(InputError):
    """A query refused before it runs; ``status`` is the HTTP status (400 or 403)."""

    def __init__(self, status: int, message: str) -> None:
        """``status``: 403 for updates, 400 for LOAD, SERVICE and text that is not SPARQL."""
        super().__init__(message)
        self.status = status


class ResultTooLarge(ValueError):
    """The serialised result grew past the configured limit (HTTP 422)."""


@dataclass(frozen=True)
class SparqlAnswer:
    """A serialised query result and its media type."""

    body: bytes
    media_type: str


def _preferences(accept: str | None) -> list[str]:
    """Media ranges of an Accept header, highest quality first (ties keep header order)."""
    ranked = []
    for position, part in enumerate((accept or "*/*").split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    return [media for _q, _p, media in sorted(ranked)]


def negotiate(accept: str | None, offered: list[str]) -> str:
    """Choose the first of ``offered`` (server order = default first) the Accept header allows.

    Raises:
        NotAcceptable: when none is acceptable.
    """
    for media in _preferences(accept):
        if media in ("*/*", "*"):
            return offered[0]
        if media.endswith("/*"):
            match = next((o for o in offered if o.startswith(media[:-1])), None)
            if match:
                return match
        elif media in offered:
            return media
    raise NotAcceptable(f"none of the accepted types is available; offered: {', '.join(offered)}")


def refusal(query: str) -> QueryRefused | None:
    """Why ``query`` must not run (403 update, 400 LOAD / SERVICE / not SPARQL), or None when it may.

    The text is parsed by rdflib's SPARQL grammar; nothing is executed.
    """
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        tree = parseQuery(query)
    except ParseException as query_error:
        try:
            update = parseUpdate(query)
        except ParseException:
            return QueryRefused(400, f"query: not valid SPARQL: {' '.join(str(query_error).split())}")
        if mentions(update, "Load"):
            return QueryRefused(
                400, "query: LOAD (fetching remote data) is refused; this endpoint reads local data only"
            )
        return QueryRefused(403, "updates (INSERT, DELETE, CLEAR, DROP ...) are refused: this endpoint is read-only")
    except RecursionError:
        return QueryRefused(400, "query: nested too deeply to parse")
    if mentions(tree, "ServiceGraphPattern"):
        return QueryRefused(
            400, "query: SERVICE (federated queries to other endpoints) is refused; this endpoint reads local data only"
        )
    return None


class _Capped(io.BytesIO):
    """A byte buffer that raises :class:`ResultTooLarge` once more than ``limit`` bytes are written."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any, /) -> int:
        written = super().write(data)
        if self.tell() > self.limit:
            raise ResultTooLarge(
                f"the result is larger than the limit of {self.limit} bytes; narrow the query or add LIMIT"
            )
        return written


def evaluate(store: ox.Store, query: str, accept: str | None, max_bytes: int) -> SparqlAnswer:
    """Run a read-only ``query`` on ``store`` and serialise the result for ``accept``, at most ``max_bytes``.

    Raises:
        QueryRefused: an update (403), LOAD, SERVICE or text that is not SPARQL (400).
        NotAcceptable: when no offered format is acceptable (406).
        ResultTooLarge: when the serialised result exceeds ``max_bytes`` (422; nothing is returned).
    """
    refused = refusal(query)
    if refused is not None:
        raise refused
    try:
        result = store.query(query)
    except SyntaxError as error:
        raise QueryRefused(400, f"query: not valid SPARQL: {error}") from None
    sink = _Capped(max_bytes)
    if isinstance(result, ox.QueryTriples):
        media = negotiate(accept, list(_GRAPH_TYPES))
        result.serialize(sink, _GRAPH_TYPES[media])
        return SparqlAnswer(sink.getvalue(), media)
    media = negotiate(accept, list(_RESULT_TYPES))
    fmt = _RESULT_TYPES[media]
    result.serialize(sink, fmt)
    return SparqlAnswer(sink.getvalue(), fmt.media_type)


def answer(store: QueryStore, query: str, accept: str | None, max_bytes: int = 8 * 1024 * 1024) -> SparqlAnswer:
    """Run ``query`` on a :class:`~medkg.store.QueryStore` in this process (no time limit; for scripts and tests).

    Raises:
        QueryRefused, NotAcceptable, ResultTooLarge: as :func:`evaluate`.
    """
    return evaluate(store._store, query, accept, max_bytes)
