"""The HTTP application: CDS Hooks discovery and services, and the ``/sparql`` endpoint.

Where HTTP requests enter. The knowledge base is loaded once when the app is created; each
CDS Hooks call is checked for its content type, decoded and its envelope validated
(:mod:`.cds_request`), read (:func:`medkg.fhir.read_cds_request`), checked with the draft
orders and answered with cards (:mod:`.cards`) within the configured time limit. SPARQL
queries run in killable worker processes (:mod:`.sparql_worker`). Limits, CORS and the optional
JWT verification come from :class:`.settings.ServerSettings`; docs/server-security.md lists
them and docs/input-validation-http.md every refusal and its status.

Statuses: 400 undecodable body or query, 401 bearer JWT refused (when configured), 403 SPARQL
update, 404 unknown service, 406 no acceptable result format, 413 body too large, 414 GET query
too long, 415 wrong content type, 422 valid JSON that is not a usable CDS Hooks request or a
SPARQL result over the size limit, 500 internal fault (nothing checked), 503 time limit reached.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..check import check
from ..fhir.prefetch import observations_query
from ..knowledge_base import KnowledgeBase, default_knowledge_base
from ..loaders import InputError
from .auth import AuthError, JwtVerifier
from .cards import cards_for, no_medication_card
from .cds_request import HOOKS, BadRequest, InvalidPayload, decode_json, is_json_type, validate_envelope
from .errors import HttpProblem, Problem, problem_response
from .middleware import BodyLimitMiddleware, RequestIdMiddleware
from .settings import ServerSettings
from .sparql_worker import SparqlPool, SparqlTimeout, SparqlWorkerFailed

__all__ = ["SERVICES", "create_app"]

_LOG = logging.getLogger("medkg.server")

_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "statements": "MedicationStatement?patient={{context.patientId}}&status=active",
    # every clinical status: a past angioedema, fall or peptic ulcer still counts (docs/fhir.md, past episodes)
    "conditions": "Condition?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    # every Observation code the readers use (medkg.fhir.observations.ANALYTES, pregnancy status)
    "labs": observations_query(),
}

#: Service id -> (hook, title, description).
SERVICES: dict[str, tuple[str, str, str]] = {
    "medkg-order-select": (
        "order-select",
        "medkg medication safety (order select)",
        "Interactions, contraindications, dose limits and monitoring for the drafted medication orders.",
    ),
    "medkg-order-sign": (
        "order-sign",
        "medkg medication safety (order sign)",
        "Checks the orders about to be signed against the active medications, conditions, labs and allergies.",
    ),
    "medkg-patient-view": (
        "patient-view",
        "medkg medication review",
        "All medication-safety findings for the patient's active medications.",
    ),
    "medkg-medication-prescribe": (
        "medication-prescribe",
        "medkg medication safety (legacy medication-prescribe)",
        "The pre-1.0 medication-prescribe hook, as used by older CDS Hooks clients.",
    ),
}
assert {hook for hook, _t, _d in SERVICES.values()} == set(HOOKS)

_SPARQL_TYPES = "application/sparql-query or application/x-www-form-urlencoded"


def _limit_for(settings: ServerSettings) -> Callable[[str], int]:
    def limit(path: str) -> int:
        if path.startswith("/cds-services"):
            return settings.cds_max_body_bytes
        if path == "/sparql":
            return settings.sparql_max_query_bytes
        return settings.other_max_body_bytes

    return limit


def _answer_hook(knowledge: KnowledgeBase, data: dict[str, Any], service: str) -> list[dict[str, Any]]:
    """Read, check and turn into cards (blocking; runs in a worker thread).

    A patient-view call for a patient with no medication gets one ``info`` card saying nothing was
    checked (a patient on no medicines is no error); an order hook without an order is refused.

    Raises:
        medkg.loaders.InputError: the request cannot be read, or an order hook has nothing to check (HTTP 422).
    """
    from ..fhir import read_cds_request
    from ..fhir.cds import NoMedication

    hook_name = str(data.get("hook") or SERVICES[service][0])
    try:
        reading = read_cds_request(data, now=datetime.now(UTC), known=knowledge.knows_drug)
    except NoMedication as error:
        if hook_name != "patient-view":  # an order hook without an order is a malformed call
            raise
        return [no_medication_card(error.reason, str(data.get("hookInstance", "")))]
    report = check(reading.patient, kb=knowledge, notes=reading.notes)
    # a draft named by brand, salt or as a combination ("ketorolac tromethamine", "ibuprofen /
    # famotidine") is compared by its ingredients, read as the check reads them, modelled or not
    drafts = [name for name in reading.draft_drugs if not knowledge.knows_drug(name)]
    for name in reading.draft_drugs:
        modelled, unmodelled = knowledge.composition_of(name)
        drafts += [knowledge.label(iri) for iri in modelled] + unmodelled
    return cards_for(report, hook=hook_name, draft_drugs=drafts, instance=str(data.get("hookInstance", "")))


def create_app(kb: KnowledgeBase | None = None, settings: ServerSettings | None = None) -> FastAPI:
    """Build the FastAPI application over ``kb`` (default: the built-in knowledge base).

    Args:
        kb: the knowledge base to check against and to query (its compiled N-Triples are loaded
            by the SPARQL worker processes).
        settings: limits, CORS and JWT configuration (default: :meth:`ServerSettings.from_env`).

    Raises:
        ValueError: invalid settings from the environment; OSError: an unreadable JWKS file.
    """
    config = settings or ServerSettings.from_env()
    knowledge = kb or default_knowledge_base()
    pool = SparqlPool(
        knowledge.built.compiled,
        workers=config.sparql_workers,
        timeout_s=config.sparql_timeout_s,
        max_result_bytes=config.sparql_max_result_bytes,
    )
    verifier = JwtVerifier(config.jwt_issuers, leeway_s=config.jwt_leeway_s) if config.jwt_enabled else None

    def load() -> None:
        """Load what the first request would otherwise wait for: the store, the names, the indexed rule book."""
        knowledge.store, knowledge.drug_names  # noqa: B018
        knowledge.rulebook.warm()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool.start()
        await anyio.to_thread.run_sync(load)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="medkg",
        version=__version__,
        description="Medication-safety CDS Hooks service and read-only SPARQL endpoint. medkg supports, "
        "and does not replace, clinical judgement.",
        lifespan=lifespan,
    )
    app.state.settings = config
    app.state.sparql_pool = pool
    # added inner first: BodyLimit (413, 500 barrier) < CORS < RequestId (outermost)
    app.add_middleware(BodyLimitMiddleware, limit_for=_limit_for(config))
    # CDS Hooks clients call from the EHR's browser origin (CDS Hooks 2.0, "Cross-Origin Resource Sharing")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    known_paths = ["/cds-services", "/sparql", *(f"/cds-services/{service}" for service in SERVICES)]
    app.add_middleware(RequestIdMiddleware, known_paths=known_paths)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "no such endpoint; see GET /cds-services and /sparql", 405: "method not allowed"}.get(
            error.status_code, str(error.detail)
        )
        return problem_response(request, error.status_code, message, headers=dict(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in error.errors()]
        return problem_response(request, 422, "invalid request", problems)

    @app.exception_handler(HttpProblem)
    async def http_problem(request: Request, error: HttpProblem) -> Response:
        return problem_response(request, error.status, error.message, error.problems, error.headers)

    async def authorise(request: Request, audience_path: str) -> None:
        """Verify the bearer JWT when issuers are configured (else do nothing).

        Raises:
            HttpProblem: 401 when the token is missing or refused.
        """
        if verifier is None:
            return
        base = config.public_url or str(request.base_url).rstrip("/")
        try:
            await anyio.to_thread.run_sync(verifier.verify, request.headers.get("authorization"), base + audience_path)
        except AuthError as error:
            raise HttpProblem(401, str(error), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None

    @app.get("/cds-services")
    async def discovery(request: Request) -> Response:
        """CDS Hooks discovery: the services this server offers."""
        await authorise(request, "/cds-services")
        return JSONResponse(
            {
                "services": [
                    {"hook": hook, "id": service, "title": title, "description": text, "prefetch": _PREFETCH}
                    for service, (hook, title, text) in SERVICES.items()
                ]
            }
        )

    async def hook_request(service: str, request: Request) -> dict[str, Any]:
        """Return the decoded, envelope-checked request for ``service``.

        Raises:
            HttpProblem: 404 unknown service, 401 token refused, 415 not JSON, 400 undecodable, 422 bad envelope.
        """
        if service not in SERVICES:
            raise HttpProblem(
                404, "no such CDS service; see GET /cds-services", [Problem("service", "unknown", ", ".join(SERVICES))]
            )
        await authorise(request, f"/cds-services/{service}")
        if not is_json_type(request.headers.get("content-type")):
            raise HttpProblem(
                415,
                "a CDS Hooks request must be sent as JSON",
                [Problem("Content-Type", "is not JSON", "application/json")],
            )
        try:
            data = decode_json(await request.body())
            validate_envelope(data, SERVICES[service][0])
        except BadRequest as error:
            raise HttpProblem(400, str(error)) from None
        except InvalidPayload as error:
            raise HttpProblem(422, str(error), error.problems) from None
        result: dict[str, Any] = data
        return result

    @app.post("/cds-services/{service}")
    async def hook(service: str, request: Request) -> Response:
        """Answer a CDS Hooks call with cards (``{"cards": []}`` when there is nothing to say)."""
        data = await hook_request(service, request)
        try:
            with anyio.fail_after(config.cds_timeout_s):
                cards = await anyio.to_thread.run_sync(_answer_hook, knowledge, data, service, abandon_on_cancel=True)
        except TimeoutError:
            _LOG.warning(
                "request %s: CDS Hooks check over the %gs limit", request.state.request_id, config.cds_timeout_s
            )
            raise HttpProblem(
                503,
                f"the check did not finish within {config.cds_timeout_s:g} s; no cards were produced",
                headers={"Retry-After": "5"},
            ) from None
        except InputError as error:
            raise HttpProblem(422, str(error)) from None
        return JSONResponse({"cards": cards})

    async def sparql(request: Request, queries: list[str], *, too_long: int = 413) -> Response:
        if len(queries) > 1:
            raise HttpProblem(400, "give exactly one 'query' parameter")
        query = queries[0] if queries else ""
        if not query.strip():
            raise HttpProblem(400, "give a SPARQL query in the 'query' parameter or an application/sparql-query body")
        if len(query.encode("utf-8")) > config.sparql_max_query_bytes:
            raise HttpProblem(too_long, f"query longer than the limit of {config.sparql_max_query_bytes} bytes")
        try:
            reply = await pool.run(query, request.headers.get("accept"))
        except SparqlTimeout as error:
            raise HttpProblem(503, str(error), headers={"Retry-After": "5"}) from None
        except SparqlWorkerFailed:
            raise HttpProblem(503, "the query stopped its worker process (crash or memory); it was restarted") from None
        if reply.status != 200:
            raise HttpProblem(reply.status, reply.body.decode("utf-8", errors="replace"))
        return Response(reply.body, media_type=reply.media_type)

    @app.get("/sparql")
    async def sparql_get(request: Request) -> Response:
        """SPARQL 1.1 Protocol query via GET (``?query=``)."""
        if request.query_params.getlist("update"):
            raise HttpProblem(403, "updates are refused: this endpoint is read-only")
        return await sparql(request, request.query_params.getlist("query"), too_long=414)

    @app.post("/sparql")
    async def sparql_post(request: Request) -> Response:
        """SPARQL 1.1 Protocol query via POST (form-encoded or application/sparql-query); updates refused."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/sparql-update":
            raise HttpProblem(403, "updates are refused: this endpoint is read-only")
        if kind not in ("application/sparql-query", "application/x-www-form-urlencoded", ""):
            raise HttpProblem(
                415,
                "unsupported content type for a SPARQL query",
                [Problem("Content-Type", f"is {kind!r}", _SPARQL_TYPES)],
            )
        try:
            body = (await request.body()).decode("utf-8")
        except UnicodeDecodeError as error:
            raise HttpProblem(400, f"request body is not UTF-8 (byte {error.start})") from None
        if kind == "application/sparql-query":
            return await sparql(request, [body])
        form = parse_qs(body, keep_blank_values=True)
        if "update" in form:
            raise HttpProblem(403, "updates are refused: this endpoint is read-only")
        return await sparql(request, form.get("query", []))

    return app
