"""HTTP hardening of ``medkg serve``: limits, content types, malformed input, SPARQL time and size limits,
CORS, request ids, internal faults, CDS Hooks time limit, and logs without patient data.

Every malformed-input class in docs/input-validation-http.md is a case here (the last test keeps
the table and the cases in step).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import medkg.server.app as app_module
from medkg.knowledge_base import KnowledgeBase
from medkg.server import create_app
from medkg.server.settings import ServerSettings

DOC = Path(__file__).parents[1] / "docs" / "input-validation-http.md"
SPARQL_TIMEOUT_S = 2.0
RESULT_LIMIT = 256 * 1024
QUERY_LIMIT = 16 * 1024  # below httpx's 64 KiB URL limit, so the GET case can be sent
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
CDS = "/cds-services/medkg-order-sign"
JSON = {"Content-Type": "application/json"}
SECRET_PATIENT = "PATIENT-ZQX-4417"
SECRET_DRUG = "Zyqloxitrane"


def _order(ident: str, name: str, status: str, patient: str = "p1") -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "MedicationRequest",
            "id": ident,
            "status": status,
            "intent": "order",
            "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": {"text": name},
        }
    }


def cds_request(patient: str = "p1", extra_draft: str | None = None) -> dict[str, Any]:
    """An order-sign request: ibuprofen drafted while warfarin is active."""
    drafts = [_order("d1", "ibuprofen", "draft", patient)]
    if extra_draft:
        drafts.append(_order("d2", extra_draft, "draft", patient))
    return {
        "hook": "order-sign",
        "hookInstance": "6c1a2f52-0c1c-4a43-9d36-000000000001",
        "context": {
            "patientId": patient,
            "userId": "Practitioner/1",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": drafts},
        },
        "prefetch": {
            "medications": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [_order("m1", "warfarin", "active", patient)],
            }
        },
    }


@pytest.fixture(scope="module")
def hardened(kb: KnowledgeBase) -> Iterator[TestClient]:
    settings = ServerSettings(
        sparql_timeout_s=SPARQL_TIMEOUT_S,
        sparql_max_result_bytes=RESULT_LIMIT,
        sparql_max_query_bytes=QUERY_LIMIT,
        sparql_workers=2,
    )
    app = create_app(kb, settings)
    with TestClient(app) as client:
        assert app.state.sparql_pool.wait_ready(120), "SPARQL workers did not start"
        yield client


# --------------------------------------------------------------------------- malformed input, one case per class

_NESTED = b"[" * 100 + b"]" * 100
_BIG = b'{"context": {}, "pad": "' + b"x" * (1024 * 1024) + b'"}'


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


#: name -> (method, path, request keyword arguments, expected status, fragment of the error message)
CASES: dict[str, tuple[str, str, dict[str, Any], int, str]] = {
    "CDS body over the size limit": ("POST", CDS, {"content": _BIG, "headers": JSON}, 413, "larger than the limit"),
    "CDS body over the limit, chunked (no Content-Length)": (
        "POST",
        CDS,
        {"content": _chunks(_BIG), "headers": JSON},
        413,
        "larger than the limit",
    ),
    "CDS body without Content-Type": ("POST", CDS, {"content": b"{}"}, 415, "must be sent as JSON"),
    "CDS body as text/plain": (
        "POST",
        CDS,
        {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
        415,
        "must be sent as JSON",
    ),
    "CDS body empty": ("POST", CDS, {"content": b"", "headers": JSON}, 400, "body is empty"),
    "CDS body not JSON": ("POST", CDS, {"content": b'{"hook": ', "headers": JSON}, 400, "not JSON"),
    "CDS body not UTF-8": ("POST", CDS, {"content": b'{"a": "\xff"}', "headers": JSON}, 400, "not UTF-8"),
    "CDS JSON with NaN": ("POST", CDS, {"content": b'{"context": {"x": NaN}}', "headers": JSON}, 400, "NaN"),
    "CDS JSON number out of range": (
        "POST",
        CDS,
        {"content": b'{"context": {"x": 1e999}}', "headers": JSON},
        400,
        "out of range",
    ),
    "CDS JSON nested too deeply": ("POST", CDS, {"content": _NESTED, "headers": JSON}, 400, "nested deeper"),
    "CDS body a JSON array": ("POST", CDS, {"json": [cds_request()]}, 422, "must be a JSON object"),
    "CDS request without context": (
        "POST",
        CDS,
        {"json": {"hook": "order-sign", "hookInstance": "x"}},
        422,
        "context",
    ),
    "CDS context not an object": ("POST", CDS, {"json": {"hook": "order-sign", "context": "p1"}}, 422, "context"),
    "CDS unknown hook name": (
        "POST",
        CDS,
        {"json": {**cds_request(), "hook": "order-dispatch"}},
        422,
        "hook",
    ),
    "CDS hook of another service": ("POST", CDS, {"json": {**cds_request(), "hook": "patient-view"}}, 422, "hook"),
    "CDS hookInstance not a string": (
        "POST",
        CDS,
        {"json": {**cds_request(), "hookInstance": 42}},
        422,
        "hookInstance",
    ),
    "CDS patientId not a string": (
        "POST",
        CDS,
        {"json": {**cds_request(), "context": {"patientId": 1288992}}},
        422,
        "context.patientId",
    ),
    "CDS draftOrders not a Bundle or array": (
        "POST",
        CDS,
        {"json": {**cds_request(), "context": {"patientId": "p1", "draftOrders": "warfarin"}}},
        422,
        "context.draftOrders",
    ),
    "CDS request with nothing to check": (
        "POST",
        CDS,
        {"json": {"hook": "order-sign", "context": {"patientId": "p1"}}},
        422,
        "nothing to check",
    ),
    "CDS unknown service id": ("POST", "/cds-services/medkg-nope", {"json": cds_request()}, 404, "no such CDS service"),
    "CDS service called with GET": ("GET", CDS, {}, 405, "method not allowed"),
    "unknown path": ("GET", "/admin", {}, 404, "no such endpoint"),
    "SPARQL without a query": ("GET", "/sparql", {}, 400, "give a SPARQL query"),
    "SPARQL two query parameters": (
        "GET",
        "/sparql",
        {"params": [("query", "ASK {}"), ("query", "ASK {}")]},
        400,
        "exactly one",
    ),
    "SPARQL text that is not SPARQL": (
        "GET",
        "/sparql",
        {"params": {"query": "DROP TABLE x"}},
        400,
        "not valid SPARQL",
    ),
    "SPARQL update by form": ("POST", "/sparql", {"data": {"update": "CLEAR ALL"}}, 403, "read-only"),
    "SPARQL update by content type": (
        "POST",
        "/sparql",
        {"content": b"CLEAR ALL", "headers": {"Content-Type": "application/sparql-update"}},
        403,
        "read-only",
    ),
    "SPARQL update in the query parameter": (
        "GET",
        "/sparql",
        {"params": {"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}},
        403,
        "read-only",
    ),
    "SPARQL LOAD": ("GET", "/sparql", {"params": {"query": "LOAD <http://example.org/x.ttl>"}}, 400, "LOAD"),
    "SPARQL SERVICE": (
        "GET",
        "/sparql",
        {"params": {"query": "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"}},
        400,
        "SERVICE",
    ),
    "SPARQL POST with an unsupported content type": (
        "POST",
        "/sparql",
        {"content": b"ASK {}", "headers": JSON},
        415,
        "unsupported content type",
    ),
    "SPARQL POST body over the size limit": (
        "POST",
        "/sparql",
        {"content": b"#" * (QUERY_LIMIT + 1), "headers": {"Content-Type": "application/sparql-query"}},
        413,
        "larger than the limit",
    ),
    "SPARQL GET query over the size limit": (
        "GET",
        "/sparql",
        {"params": {"query": "ASK {} #" + "x" * QUERY_LIMIT}},
        414,
        "longer than the limit",
    ),
    "SPARQL result format not acceptable": (
        "GET",
        "/sparql",
        {"params": {"query": "ASK {}"}, "headers": {"Accept": "image/png"}},
        406,
        "none of the accepted types",
    ),
    "SPARQL result over the size limit": (
        "GET",
        "/sparql",
        {"params": {"query": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"}},
        422,
        "larger than the limit",
    ),
}

#: Classes tested by their own tests below (name -> status).
OTHER_CLASSES = {
    "SPARQL query running past the time limit": 503,
    "CDS check running past the time limit": 503,
    "internal fault while checking": 500,
    "CDS call without a bearer JWT (JWT on)": 401,
    "CDS call with an expired JWT (JWT on)": 401,
    "CDS call with a JWT for another audience (JWT on)": 401,
    "CDS call with a JWT from an unknown issuer (JWT on)": 401,
    "CDS call replaying a JWT (JWT on)": 401,
    "CDS call with an HMAC-signed JWT (JWT on)": 401,
    "CDS call with a JWT whose jku is not allowed (JWT on)": 401,
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_input_gets_a_precise_json_error(hardened: TestClient, name: str) -> None:
    method, path, kwargs, status, fragment = CASES[name]
    response = hardened.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert fragment.lower() in json.dumps(body).lower(), body
    assert body["status"] == status and body["requestId"] == response.headers["x-request-id"]
    assert "cards" not in body and "Traceback" not in response.text


def test_invalid_envelope_lists_field_problem_and_allowed_values(hardened: TestClient) -> None:
    response = hardened.post(CDS, json={**cds_request(), "hook": "order-dispatch", "hookInstance": 7})
    problems = {p["field"]: p for p in response.json()["problems"]}
    assert set(problems) == {"hook", "hookInstance"}
    assert problems["hook"]["allowed"] == "one of order-select, order-sign, patient-view, medication-prescribe"
    assert "valid string" in problems["hookInstance"]["problem"]
    mismatch = hardened.post(CDS, json={**cds_request(), "hook": "patient-view"}).json()["problems"]
    assert mismatch == [
        {"field": "hook", "problem": "is 'patient-view', another hook than this service's", "allowed": "order-sign"}
    ]


def test_a_valid_request_still_gets_cards(hardened: TestClient) -> None:
    response = hardened.post(CDS, json=cds_request())
    assert response.status_code == 200, response.text
    summaries = [card["summary"] for card in response.json()["cards"]]
    assert any("warfarin" in s and "ibuprofen" in s for s in summaries), summaries


# --------------------------------------------------------------------------- request ids and CORS


def test_every_response_carries_a_request_id_and_a_safe_client_id_is_kept(hardened: TestClient) -> None:
    ids = {hardened.get("/cds-services").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f-]{36}", rid) for rid in ids)
    assert (
        hardened.get("/cds-services", headers={"X-Request-ID": "ehr-123.abc"}).headers["x-request-id"] == "ehr-123.abc"
    )
    forged = hardened.get("/cds-services", headers={"X-Request-ID": "bad id\tPATIENT"}).headers["x-request-id"]
    assert forged != "bad id\tPATIENT" and re.fullmatch(r"[0-9a-f-]{36}", forged)


def test_cors_preflight_allows_authorization_and_content_type(hardened: TestClient) -> None:
    preflight = hardened.options(
        CDS,
        headers={
            "Origin": "https://ehr.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["x-request-id"]
    simple = hardened.get("/cds-services", headers={"Origin": "https://ehr.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    refused = hardened.post(CDS, content=_BIG, headers={**JSON, "Origin": "https://ehr.example"})
    assert refused.status_code == 413 and refused.headers["access-control-allow-origin"] == "*"


def test_cors_origins_can_be_restricted(kb: KnowledgeBase) -> None:
    client = TestClient(create_app(kb, ServerSettings(cors_origins=("https://ehr.example",))))
    good = {"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST"}
    assert client.options(CDS, headers=good).headers["access-control-allow-origin"] == "https://ehr.example"
    bad = client.options(CDS, headers={**good, "Origin": "https://evil.example"})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers


# --------------------------------------------------------------------------- SPARQL time limit


def test_runaway_query_is_stopped_within_the_time_limit_while_cds_hooks_is_served(hardened: TestClient) -> None:
    pool = hardened.app.state.sparql_pool  # type: ignore[attr-defined]
    before, restarts = set(pool.pids), pool.restarts
    outcome: dict[str, Any] = {}

    def runaway() -> None:
        started = time.monotonic()
        outcome["response"] = hardened.get("/sparql", params={"query": RUNAWAY})
        outcome["seconds"] = time.monotonic() - started
        outcome["finished"] = time.monotonic()

    thread = threading.Thread(target=runaway)
    thread.start()
    cds = hardened.post(CDS, json=cds_request())
    cds_done = time.monotonic()
    thread.join(timeout=60)
    assert cds.status_code == 200 and cds.json()["cards"]
    assert cds_done < outcome["finished"] or outcome["seconds"] >= SPARQL_TIMEOUT_S  # answered meanwhile
    response = outcome["response"]
    assert response.status_code == 503, response.text
    assert "did not finish within 2 s" in response.json()["error"]
    assert response.json()["requestId"] == response.headers["x-request-id"]
    assert SPARQL_TIMEOUT_S <= outcome["seconds"] < SPARQL_TIMEOUT_S + 10  # the limit holds (generous margin)
    assert pool.restarts == restarts + 1 and set(pool.pids) != before  # killed and replaced
    again = hardened.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert again.status_code == 200 and again.json()["boolean"] is True  # the other worker answers at once
    assert pool.wait_ready(120)  # the replacement loads its store


# --------------------------------------------------------------------------- faults and the CDS time limit


def test_internal_fault_is_a_500_with_request_id_and_no_cards(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> list[dict[str, Any]]:
        raise RuntimeError(f"engine exploded on {SECRET_PATIENT}")

    monkeypatch.setattr(app_module, "_answer_hook", broken)
    client = TestClient(create_app(kb), raise_server_exceptions=False)
    response = client.post(CDS, json=cds_request())
    assert response.status_code == 500
    body = response.json()
    assert body["requestId"] == response.headers["x-request-id"] and "cards" not in body
    assert SECRET_PATIENT not in response.text and "not checked" in body["error"]


def test_cds_check_over_its_time_limit_is_a_503(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(*_args: Any) -> list[dict[str, Any]]:
        release.wait(30)
        return [{"summary": "late"}]

    monkeypatch.setattr(app_module, "_answer_hook", stuck)
    client = TestClient(create_app(kb, ServerSettings(cds_timeout_s=0.5)))
    try:
        response = client.post(CDS, json=cds_request())
    finally:
        release.set()
    assert response.status_code == 503
    body = response.json()
    assert "did not finish within 0.5 s" in body["error"] and "cards" not in body
    assert body["requestId"] == response.headers["x-request-id"] and response.headers["retry-after"]


# --------------------------------------------------------------------------- logs


def test_logs_hold_request_ids_and_timings_but_no_patient_data_or_query_text(
    hardened: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_query = 'ASK { ?s ?p "ZQX-SECRET-LITERAL" }'
    caplog.set_level(logging.DEBUG)
    ok = hardened.post(CDS, json=cds_request(SECRET_PATIENT, extra_draft=SECRET_DRUG))
    assert ok.status_code == 200
    refused = hardened.post(CDS, json={**cds_request(SECRET_PATIENT), "hookInstance": SECRET_DRUG * 30})
    assert refused.status_code == 422
    assert hardened.post("/sparql", data={"query": secret_query}).status_code == 200
    assert (
        hardened.post("/sparql", content=secret_query + " junk", headers={"Content-Type": "application/sparql-query"})
    ).status_code == 400

    def broken(*_args: Any) -> list[dict[str, Any]]:
        raise RuntimeError(f"{SECRET_DRUG} for {SECRET_PATIENT}")

    monkeypatch.setattr(app_module, "_answer_hook", broken)
    assert hardened.post(CDS, json=cds_request(SECRET_PATIENT)).status_code == 500
    texts = [
        " ".join([record.getMessage(), str(record.args), record.exc_text or "", str(record.__dict__)])
        for record in caplog.records
    ]
    for secret in (SECRET_PATIENT, SECRET_DRUG, "ZQX-SECRET-LITERAL"):
        assert not [text for text in texts if secret in text], secret
    access = [r.getMessage() for r in caplog.records if r.name == "medkg.server.access"]
    assert any(
        ok.headers["x-request-id"] in line and "POST /cds-services/medkg-order-sign 200" in line for line in access
    )
    assert any(line.endswith("ms") and " 500 " in line for line in access)


# --------------------------------------------------------------------------- the documented table


def test_documented_input_classes_match_the_tested_ones() -> None:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].isdigit():
            rows[cells[0]] = int(cells[2])
    expected = {name: case[3] for name, case in CASES.items()} | OTHER_CLASSES
    assert rows == expected
    assert len(rows) >= 12
