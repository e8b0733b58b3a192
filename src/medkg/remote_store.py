"""The rule queries on a SPARQL 1.1 server (Virtuoso, Fuseki, GraphDB, QLever) instead of the embedded store.

:class:`RemoteStore` has the methods of :class:`medkg.store.QueryStore` (``select``, ``construct``,
``insert``, ``patients``, ``raw_query``) and speaks the SPARQL 1.1 Protocol over HTTP (httpx):

* the compiled knowledge base lives in one named graph on the server, by default
  ``urn:medkg:kb:<first 24 hex digits of its SHA-256>`` (:func:`kb_graph_iri`), loaded once
  (``scripts/virtuoso.sh load-kb``, or :meth:`RemoteStore.load` through the Graph Store Protocol
  or SPARQL Update);
* a check's patients go into a fresh named graph (``urn:uuid:...``) by ``INSERT DATA`` of their
  N-Triples serialisation (written by rdflib/pyoxigraph, never by formatting input text), and
  are removed with ``DROP SILENT GRAPH`` afterwards;
* queries run over the dataset whose default graph is the knowledge-base graph plus the patient
  graph, chosen with the protocol's ``default-graph-uri`` parameters; the query text is sent as
  written in ``queries/``.

Connection settings other than the query URL come from the environment, so passwords never
appear on a command line: ``MEDKG_STORE_UPDATE_URL`` (default: the query URL),
``MEDKG_STORE_GRAPH_STORE_URL`` (Graph Store Protocol endpoint, for :meth:`RemoteStore.load`),
``MEDKG_STORE_USER`` / ``MEDKG_STORE_PASSWORD`` with ``MEDKG_STORE_AUTH`` (``basic``, the
default; ``digest``, which Virtuoso's ``/sparql-auth`` needs; ``bearer``: the password is a
token) and ``MEDKG_STORE_GRAPH`` (the knowledge-base graph IRI). See ``docs/stores.md``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox
from rdflib import BNode, Graph

from .store import Row, python_value

__all__ = ["Endpoint", "RemoteStore", "StoreError", "kb_graph_iri", "open_store"]

#: Triples per ``INSERT DATA`` request (servers limit the size of one update: Virtuoso 7 ran out of
#: parser memory at about 5,000 triples of golden patients).
CHUNK = 1000

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESULTS = "application/sparql-results+json"
_NTRIPLES = "application/n-triples"
_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_BOOLEAN_CANONICAL = {"1": "true", "0": "false"}
_BNODE_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class StoreError(RuntimeError):
    """The SPARQL endpoint refused a request or could not be reached."""


def kb_graph_iri(sha256: str) -> str:
    """Named graph holding the knowledge base whose sources hash to ``sha256`` (hex) on a server."""
    return f"urn:medkg:kb:{sha256[:24]}"


class _BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a SPARQL 1.1 server.

    ``query_url``: the SPARQL query endpoint; ``update_url``: the update endpoint (default: the
    query URL); ``graph_store_url``: a Graph Store HTTP Protocol endpoint (optional, for bulk
    loading); ``user``/``password``: HTTP credentials sent with updates and loads (and with queries
    when ``auth_queries``); ``auth``: ``"basic"``, ``"digest"`` or ``"bearer"`` (the password is
    sent as a bearer token, e.g. QLever's access token; ``user`` must still be set).
    """

    query_url: str
    update_url: str | None = None
    graph_store_url: str | None = None
    user: str | None = None
    password: str | None = None
    auth: str = "basic"
    auth_queries: bool = False

    @classmethod
    def from_environment(cls, query_url: str, environ: Mapping[str, str] | None = None) -> Endpoint:
        """Endpoint for ``query_url`` with the other settings from ``MEDKG_STORE_*`` variables.

        Raises:
            ValueError: for a URL that is not http(s) or an unknown ``MEDKG_STORE_AUTH``.
        """
        env = os.environ if environ is None else environ
        endpoint = cls(
            query_url=query_url,
            update_url=env.get("MEDKG_STORE_UPDATE_URL") or None,
            graph_store_url=env.get("MEDKG_STORE_GRAPH_STORE_URL") or None,
            user=env.get("MEDKG_STORE_USER") or None,
            password=env.get("MEDKG_STORE_PASSWORD") or None,
            auth=env.get("MEDKG_STORE_AUTH", "basic") or "basic",
            auth_queries=env.get("MEDKG_STORE_AUTH_QUERIES", "") in {"1", "true", "yes"},
        )
        for url in (endpoint.query_url, endpoint.update_url, endpoint.graph_store_url):
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"store: {url!r} is not an http(s) URL of a SPARQL endpoint")
        if endpoint.auth not in {"basic", "digest", "bearer"}:
            raise ValueError(f"MEDKG_STORE_AUTH: {endpoint.auth!r}; choose basic, digest or bearer")
        return endpoint

    def credentials(self) -> httpx.Auth | None:
        """Return the httpx authentication for ``user``/``password``, or None without a user."""
        if self.user is None:
            return None
        if self.auth == "digest":
            return httpx.DigestAuth(self.user, self.password or "")
        if self.auth == "bearer":
            return _BearerAuth(self.password or "")
        return httpx.BasicAuth(self.user, self.password or "")


def _ntriples(triples: Iterable[ox.Triple]) -> list[str]:
    return [f"{triple} ." for triple in triples]


def _values_block(bindings: Mapping[str, ox.NamedNode | ox.Literal]) -> str:
    """Return a trailing ``VALUES`` clause binding each variable to one term, serialised by pyoxigraph.

    Raises:
        ValueError: for a variable name that is not a SPARQL variable name, or a term that is
            not an IRI or a literal (blank nodes cannot be bound across requests).
    """
    names = sorted(bindings)
    for name in names:
        if not _VARIABLE.match(name):
            raise ValueError(f"bindings: {name!r} is not a SPARQL variable name")
        if not isinstance(bindings[name], ox.NamedNode | ox.Literal):
            raise ValueError(f"bindings: {name!r} must be bound to an IRI or a literal")
    variables = " ".join(str(ox.Variable(name)) for name in names)
    terms = " ".join(str(bindings[name]) for name in names)
    return _compose("\nVALUES (", variables, ") { (", terms, ") }\n")


def _normalised_results(body: bytes) -> bytes:
    """SPARQL JSON results as pyoxigraph reads them: canonical booleans, plain blank-node labels.

    Virtuoso writes ``xsd:boolean`` values as ``1``/``0`` and blank nodes as ``nodeID://b123``;
    they become ``true``/``false`` and ``b123`` (the same label for the same node in every result,
    as Virtuoso's node identifiers are stable).

    Raises:
        StoreError: if ``body`` is not JSON.
    """
    try:
        results = json.loads(body)
    except ValueError as error:
        raise StoreError(f"store: unreadable query results: {error}") from error
    changed = False
    for row in results.get("results", {}).get("bindings", []):
        for term in row.values():
            if term.get("datatype") == _BOOLEAN and term.get("value") in _BOOLEAN_CANONICAL:
                term["value"] = _BOOLEAN_CANONICAL[term["value"]]
                changed = True
            elif term.get("type") == "bnode" and not _BNODE_LABEL.match(term.get("value", "")):
                term["value"] = re.sub(r"[^A-Za-z0-9]", "", term["value"].removeprefix("nodeID://")) or "b"
                changed = True
    return json.dumps(results).encode("utf-8") if changed else body


class RemoteStore:
    """A knowledge base in a named graph of a SPARQL 1.1 server, queried with patients added per check.

    Not thread-safe: one store per thread (it keeps the contents of its open patient graphs).
    """

    #: patients can be added (as to :class:`medkg.store.QueryStore`; the server's update endpoint)
    read_only = False

    def __init__(self, endpoint: Endpoint, kb_graph: str, *, timeout: float = 300.0) -> None:
        """Connect lazily to ``endpoint``; ``kb_graph`` is the IRI of the knowledge base's named graph."""
        self.endpoint = endpoint
        self.kb_graph = ox.NamedNode(kb_graph)
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        self._auth = endpoint.credentials()
        # what this store put in each open patient graph, so insert() can say how much was new
        self._contents: dict[ox.NamedNode, set[ox.Triple]] = {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # -- protocol -------------------------------------------------------------------------------

    def _dataset(self, graph: ox.NamedNode | None) -> list[tuple[str, str]]:
        graphs = [self.kb_graph] if graph is None else [self.kb_graph, graph]
        return [("default-graph-uri", g.value) for g in graphs]

    def _post(self, url: str, data: list[tuple[str, str]], accept: str, *, auth: bool) -> httpx.Response:
        try:
            response = self._client.post(
                url,
                content=urlencode(data).encode("ascii"),
                headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
                auth=self._auth if auth and self._auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            raise StoreError(f"store {url}: {error}") from error
        if response.status_code >= 400:
            detail = " ".join(response.text.split())[:500]
            raise StoreError(f"store {url}: HTTP {response.status_code}: {detail}")
        return response

    def _query(self, query: str, graph: ox.NamedNode | None, accept: str) -> bytes:
        data = [("query", query), *self._dataset(graph)]
        return self._post(self.endpoint.query_url, data, accept, auth=self.endpoint.auth_queries).content

    def update(self, update: str) -> None:
        """Send a SPARQL 1.1 Update to the update endpoint (with the credentials).

        Raises:
            StoreError: if the server refuses it (e.g. no update permission) or cannot be reached.
        """
        url = self.endpoint.update_url or self.endpoint.query_url
        self._post(url, [("update", update)], "*/*", auth=True)

    # -- the QueryStore interface ---------------------------------------------------------------

    def select(
        self,
        query: str,
        *,
        graph: ox.NamedNode | None = None,
        bindings: Mapping[str, ox.NamedNode | ox.Literal] | None = None,
    ) -> list[Row]:
        """Run a SELECT over the knowledge base (plus ``graph``); return rows as dicts of Python values.

        ``bindings`` are joined to the query as a trailing ``VALUES`` block whose terms pyoxigraph
        serialises (never string formatting of input). Unlike the embedded store's substitution,
        a trailing ``VALUES`` joins after grouping: bind only variables the query's solutions carry.

        Raises:
            StoreError: if the server refuses the query or cannot be reached.
            ValueError: for a bad binding (see :func:`_values_block`).
        """
        if bindings:
            query += _values_block(bindings)
        results = self._results(query, graph)
        if not isinstance(results, ox.QuerySolutions):
            raise StoreError("store: a SELECT query did not return solutions")
        names = [variable.value for variable in results.variables]
        return [{name: python_value(solution[name]) for name in names} for solution in results]

    def select_terms(self, query: str) -> list[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal | None]]:
        """Run a SELECT over the knowledge base; return rows of RDF terms (for compiling rules).

        Raises:
            StoreError: if the server refuses the query or cannot be reached.
        """
        results = self._results(query, None)
        if not isinstance(results, ox.QuerySolutions):
            raise StoreError("store: a SELECT query did not return solutions")
        names = [variable.value for variable in results.variables]
        return [{name: solution[name] for name in names} for solution in results]

    def construct(self, query: str, *, graph: ox.NamedNode | None = None) -> list[ox.Triple]:
        """Run a CONSTRUCT over the knowledge base (plus ``graph``) and return its triples.

        Raises:
            StoreError: if the server refuses the query or cannot be reached.
        """
        body = self._query(query, graph, _NTRIPLES)
        return [quad.triple for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]

    def insert(self, triples: list[ox.Triple], graph: ox.NamedNode) -> int:
        """Insert triples into a patient graph opened by :meth:`patients`; return how many were new.

        Raises:
            KeyError: if ``graph`` is not a patient graph this store opened.
            StoreError: if the server refuses the update.
        """
        contents = self._contents[graph]
        new = list(dict.fromkeys(t for t in triples if t not in contents))
        self._insert_data(_ntriples(new), graph)
        contents.update(new)
        return len(new)

    @contextmanager
    def patients(self, graph: Graph) -> Iterator[ox.NamedNode]:
        """Insert ``graph`` into a fresh named graph for the duration of the ``with`` block, then drop it.

        Raises:
            ValueError: if ``graph`` holds blank nodes (they cannot be referred to across requests).
            StoreError: if the server refuses the update.
        """
        if any(isinstance(term, BNode) for triple in graph for term in triple):
            raise ValueError("patients: blank nodes cannot be sent to a SPARQL server; use IRIs")
        name = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        data = graph.serialize(format="nt", encoding="utf-8")
        triples = {quad.triple for quad in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)}
        self._contents[name] = set()
        try:
            self._insert_data(_ntriples(sorted(triples, key=str)), name)
            self._contents[name] = triples
            yield name
        finally:
            self._contents.pop(name, None)
            self.update(_compose("DROP SILENT GRAPH ", str(name)))

    def raw_query(self, query: str, *, graph: ox.NamedNode | None = None) -> Any:
        """Run any read-only query; return pyoxigraph's result object (solutions, boolean or triples).

        Raises:
            StoreError: if the server refuses the query or cannot be reached.
        """
        try:
            return self._results(query, graph)
        except StoreError as error:
            if "HTTP 406" not in str(error):
                raise
        body = self._query(query, graph, _NTRIPLES)  # a CONSTRUCT or DESCRIBE
        return iter([quad.triple for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)])

    def __len__(self) -> int:
        """Return the number of triples in the knowledge-base graph on the server."""
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        return int(rows[0]["n"])

    # -- loading --------------------------------------------------------------------------------

    def load(self, path: Path) -> int:
        """Replace the knowledge-base graph with the N-Triples file ``path``; return the triples sent.

        Uses the Graph Store HTTP Protocol (``PUT ?graph=``) when ``graph_store_url`` is set,
        otherwise ``DROP`` then one ``INSERT DATA`` of the whole file through the update endpoint
        (one request: a blank node keeps its identity only within a request; Virtuoso refuses blank
        nodes there, so give it its graph store URL, ``/sparql-graph-crud-auth``). For Virtuoso,
        ``scripts/virtuoso.sh load`` (bulk loader) is faster.

        Raises:
            StoreError: if the server refuses the upload.
            OSError: if ``path`` cannot be read.
        """
        data = path.read_bytes()
        lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
        if self.endpoint.graph_store_url:
            try:
                response = self._client.put(
                    self.endpoint.graph_store_url,
                    params={"graph": self.kb_graph.value},
                    content=data,
                    headers={"Content-Type": _NTRIPLES},
                    auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.HTTPError as error:
                raise StoreError(f"store {self.endpoint.graph_store_url}: {error}") from error
            if response.status_code >= 400:
                raise StoreError(f"store {self.endpoint.graph_store_url}: HTTP {response.status_code}")
            return len(lines)
        # one request (Virtuoso refuses blank nodes in INSERT DATA: give it a graph store URL)
        body = "\n".join(lines)
        self.update(_compose("DROP SILENT GRAPH ", str(self.kb_graph)))
        self.update(_compose("INSERT DATA { GRAPH ", str(self.kb_graph), " {\n", body, "\n} }"))
        return len(lines)

    def has_knowledge_base(self) -> bool:
        """Whether the knowledge-base graph holds any triple on the server."""
        body = self._query("ASK { ?s ?p ?o }", None, _RESULTS)
        return bool(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON))

    # -- helpers --------------------------------------------------------------------------------

    def _results(self, query: str, graph: ox.NamedNode | None) -> ox.QuerySolutions | ox.QueryBoolean:
        body = _normalised_results(self._query(query, graph, _RESULTS))
        try:
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except SyntaxError as error:
            raise StoreError(f"store: unreadable query results: {error}") from error

    def _insert_data(self, lines: list[str], graph: ox.NamedNode) -> None:
        for start in range(0, len(lines), CHUNK):
            text = "\n".join(lines[start : start + CHUNK])
            self.update(_compose("INSERT DATA { GRAPH ", str(graph), " {\n", text, "\n} }"))


def open_store(url: str, sha256: str, environ: Mapping[str, str] | None = None) -> RemoteStore:
    """Return the store at ``url`` for the knowledge base hashing to ``sha256`` (settings: ``MEDKG_STORE_*``).

    The graph IRI is ``MEDKG_STORE_GRAPH`` if set, else :func:`kb_graph_iri`.

    Raises:
        ValueError: for a URL that is not http(s) or a bad ``MEDKG_STORE_AUTH``.
    """
    env = os.environ if environ is None else environ
    return RemoteStore(Endpoint.from_environment(url, env), env.get("MEDKG_STORE_GRAPH") or kb_graph_iri(sha256))


def _compose(*parts: str) -> str:
    """Join fixed SPARQL text with RDF terms and N-Triples serialised by pyoxigraph or rdflib.

    The one place a request to a remote store is assembled from pieces: every piece that is not
    fixed text is a term or triple the RDF library wrote from validated values (never raw input),
    as issue 6 allows for a remote store; tests/test_no_sparql_formatting.py finds any f-string,
    ``%`` or ``.format`` SPARQL elsewhere.
    """
    return "".join(parts)
