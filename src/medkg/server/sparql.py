"""SPARQL 1.1 Protocol, read-only, over the knowledge base with its inferences.

Queries arrive by GET (``?query=``), POST form (``query=``) or POST ``application/sparql-query``;
results are serialised by pyoxigraph in the format the ``Accept`` header prefers: SPARQL JSON
(default), XML, CSV or TSV for SELECT/ASK; Turtle (default) or N-Triples for CONSTRUCT/DESCRIBE.
Updates, ``LOAD`` and ``SERVICE`` are refused (:func:`medkg.sparql_cli.read_only`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from ..loaders import InputError
from ..sparql_cli import read_only
from ..store import QueryStore

__all__ = ["NotAcceptable", "SparqlAnswer", "answer", "negotiate"]

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


def answer(store: QueryStore, query: str, accept: str | None) -> SparqlAnswer:
    """Run a read-only ``query`` and serialise its result for ``accept``.

    Raises:
        InputError: for an update, SERVICE/LOAD, or text that is not SPARQL (HTTP 400).
        NotAcceptable: when no offered format is acceptable (HTTP 406).
    """
    read_only(query)
    try:
        result = store.raw_query(query)
    except SyntaxError as error:
        raise InputError(f"query: not valid SPARQL: {error}") from None
    try:  # pyoxigraph results must be dropped on the thread that made them: never let them escape
        if isinstance(result, ox.QueryTriples):
            media = negotiate(accept, list(_GRAPH_TYPES))
            return SparqlAnswer(result.serialize(format=_GRAPH_TYPES[media]) or b"", media)
        media = negotiate(accept, list(_RESULT_TYPES))
        fmt = _RESULT_TYPES[media]
        return SparqlAnswer(result.serialize(format=fmt) or b"", fmt.media_type)
    finally:
        del result
