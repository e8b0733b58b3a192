"""The HTTP application: CDS Hooks discovery and services, and the ``/sparql`` endpoint.

Where HTTP requests enter. The knowledge base is loaded once when the app is created; each
CDS Hooks call reads its request (:func:`medkg.fhir.read_cds_request`), checks the patient with
the draft orders and answers cards (:mod:`medkg.server.cards`). Status codes: 400 for a body that
is not JSON or a query that is not read-only SPARQL, 404 for an unknown service, 406 for an
unacceptable result format, 422 for a request with nothing to check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..check import check
from ..knowledge_base import KnowledgeBase, default_knowledge_base
from ..loaders import InputError
from ..names import normalise
from .cards import cards_for
from .sparql import NotAcceptable, answer

__all__ = ["SERVICES", "create_app"]

_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "statements": "MedicationStatement?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "labs": "Observation?patient={{context.patientId}}&code=http://loinc.org|2160-0,http://loinc.org|38483-4,"
    "http://loinc.org|33914-3,http://loinc.org|62238-1,http://loinc.org|98979-8,http://loinc.org|29463-7,"
    "http://loinc.org|2823-3,http://loinc.org|6301-6&_sort=-date",
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


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(kb: KnowledgeBase | None = None) -> FastAPI:
    """Build the FastAPI application over ``kb`` (default: the built-in knowledge base)."""
    knowledge = kb or default_knowledge_base()
    app = FastAPI(
        title="medkg",
        version=__version__,
        description="Medication-safety CDS Hooks service and read-only SPARQL endpoint. medkg supports, "
        "and does not replace, clinical judgement.",
    )
    # CDS Hooks clients call from the EHR's browser origin (CDS Hooks 2.0, "CORS")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
    )

    @app.get("/cds-services")
    def discovery() -> dict[str, Any]:
        """CDS Hooks discovery: the services this server offers."""
        return {
            "services": [
                {"hook": hook, "id": service, "title": title, "description": text, "prefetch": _PREFETCH}
                for service, (hook, title, text) in SERVICES.items()
            ]
        }

    @app.post("/cds-services/{service}")
    async def hook(service: str, request: Request) -> Response:
        """Answer a CDS Hooks call with cards (``{"cards": []}`` when there is nothing to say)."""
        from ..fhir import read_cds_request

        if service not in SERVICES:
            return _problem(404, f"no CDS service {service!r}; see GET /cds-services")
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            return _problem(400, f"request body is not JSON: {error}")
        if not isinstance(data, dict):
            return _problem(400, "request body must be a JSON object")
        try:
            reading = read_cds_request(data, now=datetime.now(UTC), known=knowledge.knows_drug)
        except InputError as error:
            return _problem(422, str(error))
        report = await run_in_threadpool(check, reading.patient, kb=knowledge, notes=reading.notes)
        hook_name = str(data.get("hook") or SERVICES[service][0])
        # a draft named by brand or salt ("ketorolac tromethamine") is compared by its ingredients
        drafts = [
            knowledge.label(iri)
            for name in reading.draft_drugs
            for iri in knowledge.name_ingredients.get(normalise(name), [])
        ] + [name for name in reading.draft_drugs if not knowledge.knows_drug(name)]
        cards = cards_for(report, hook=hook_name, draft_drugs=drafts, instance=str(data.get("hookInstance", "")))
        return JSONResponse({"cards": cards})

    def _sparql(query: str | None, accept: str | None) -> Response:
        if not query:
            return _problem(400, "give a SPARQL query in the 'query' parameter or an application/sparql-query body")
        try:
            result = answer(knowledge.store, query, accept)
        except InputError as error:
            return _problem(400, str(error))
        except NotAcceptable as error:
            return _problem(406, str(error))
        return Response(result.body, media_type=result.media_type)

    @app.get("/sparql")
    def sparql_get(request: Request) -> Response:
        """SPARQL 1.1 Protocol query via GET."""
        return _sparql(request.query_params.get("query"), request.headers.get("accept"))

    @app.post("/sparql")
    async def sparql_post(request: Request) -> Response:
        """SPARQL 1.1 Protocol query via POST (form-encoded or application/sparql-query); updates refused."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = (await request.body()).decode("utf-8", errors="replace")
        if kind == "application/sparql-update":
            return _problem(403, "updates are refused: this endpoint is read-only")
        accept = request.headers.get("accept")
        if kind == "application/sparql-query":
            return await run_in_threadpool(_sparql, body, accept)
        if kind in ("application/x-www-form-urlencoded", ""):
            form = parse_qs(body)
            if "update" in form:
                return _problem(403, "updates are refused: this endpoint is read-only")
            return await run_in_threadpool(_sparql, next(iter(form.get("query", [])), None), accept)
        return _problem(415, f"unsupported content type {kind!r} for a SPARQL query")

    return app
