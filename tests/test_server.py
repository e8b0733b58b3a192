"""HTTP interfaces: CDS Hooks discovery and the read-only SPARQL 1.1 Protocol endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medkg.knowledge_base import KnowledgeBase
from medkg.server import create_app
from medkg.server.cards import cards_for, indicator
from medkg.server.sparql import NotAcceptable, negotiate


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase) -> Iterator[TestClient]:
    app = create_app(kb)
    with TestClient(app) as client:  # runs the lifespan: SPARQL workers start and stop
        assert app.state.sparql_pool.wait_ready(120), "SPARQL workers did not start"
        yield client


def test_start_up_loads_the_rule_book_before_the_first_request(kb: KnowledgeBase) -> None:
    """A CDS Hooks call is answered while a prescriber waits: the first must not load the rule book (2 s at DrugBank scale)."""
    fresh = KnowledgeBase(kb.built, kb.root)
    with TestClient(create_app(fresh)):
        assert "rulebook" in vars(fresh)  # the cached property, filled by the lifespan


def test_discovery_lists_the_hooks(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    hooks = {service["hook"] for service in services}
    assert {"order-select", "order-sign", "patient-view"} <= hooks
    assert all(service["id"] and service["description"] and service["prefetch"] for service in services)
    # conditions of every clinical status: a resolved angioedema must reach the check (docs/fhir.md)
    assert all("clinical-status" not in service["prefetch"]["conditions"] for service in services)
    assert (
        client.get("/cds-services", headers={"Origin": "https://ehr.example"}).headers["access-control-allow-origin"]
        == "*"
    )


def test_sparql_ask_as_json_by_get_and_post(client: TestClient) -> None:
    accept = {"Accept": "application/sparql-results+json"}
    got = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers=accept)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/sparql-results+json")
    assert got.json()["boolean"] is True
    posted = client.post("/sparql", data={"query": "ASK { ?s ?p ?o }"}, headers=accept)
    assert posted.json() == {"head": {}, "boolean": True}
    direct = client.post(
        "/sparql", content="ASK { ?s ?p ?o }", headers={**accept, "Content-Type": "application/sparql-query"}
    )
    assert direct.json()["boolean"] is True


def test_sparql_select_formats_and_inferred_classes(client: TestClient) -> None:
    query = (
        "PREFIX kg: <https://w3id.org/medkg/kg/> SELECT ?drug WHERE { ?drug a kg:BeersCNSActiveDrug } ORDER BY ?drug"
    )
    rows = client.get("/sparql", params={"query": query}).json()["results"]["bindings"]
    drugs = {row["drug"]["value"].rsplit("/", 1)[-1] for row in rows}
    assert "baclofen" in drugs and "trazodone" not in drugs  # inferred membership (Beers 2023 Table 5 list)
    csv = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines()[0] == "drug"
    tsv = client.get("/sparql", params={"query": query}, headers={"Accept": "text/tab-separated-values"})
    assert tsv.text.splitlines()[0] == "?drug"
    xml = client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+xml"})
    assert "<sparql" in xml.text
    construct = client.get(
        "/sparql",
        params={"query": "CONSTRUCT { ?d a ?c } WHERE { ?d a ?c } LIMIT 3"},
        headers={"Accept": "text/turtle"},
    )
    assert construct.status_code == 200 and construct.headers["content-type"].startswith("text/turtle")
    refused = client.get("/sparql", params={"query": "ASK {}"}, headers={"Accept": "image/png"})
    assert refused.status_code == 406


def test_sparql_refuses_updates_service_and_garbage(client: TestClient) -> None:
    assert client.post("/sparql", data={"update": "CLEAR ALL"}).status_code == 403
    assert client.post("/sparql", data={"query": "CLEAR ALL"}).status_code == 403
    update = client.post("/sparql", content="CLEAR ALL", headers={"Content-Type": "application/sparql-update"})
    assert update.status_code == 403
    service = "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    assert client.get("/sparql", params={"query": service}).status_code == 400
    assert client.get("/sparql", params={"query": "this is not sparql"}).status_code == 400
    assert client.get("/sparql").status_code == 400
    assert client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True  # still serving


def test_content_negotiation_prefers_quality_then_server_order() -> None:
    offered = ["application/sparql-results+json", "text/csv"]
    assert negotiate(None, offered) == offered[0]
    assert negotiate("text/csv;q=0.9, application/sparql-results+json;q=0.5", offered) == "text/csv"
    assert negotiate("text/*", offered) == "text/csv"
    with pytest.raises(NotAcceptable):
        negotiate("image/png", offered)


def test_indicators_follow_severity() -> None:
    assert [indicator(s) for s in ("contraindicated", "major", "moderate", "minor", "info")] == [
        "critical",
        "critical",
        "warning",
        "info",
        "info",
    ]


def test_cards_for_draft_hooks_only_involve_draft_orders(kb: KnowledgeBase) -> None:
    from medkg import check

    report = check(
        {"age_years": 78.0, "crcl_ml_min": 25.0, "medications": [{"drug": "baclofen"}, {"drug": "trazodone"}]}, kb=kb
    )
    every = cards_for(report, hook="patient-view", draft_drugs=[], instance="x")
    drafted = cards_for(report, hook="order-sign", draft_drugs=["trazodone"], instance="x")
    unassessed = [f for f in report.findings if f.kind == "not-assessed" and f.suggestions is None]
    shown = [f for f in report.findings if f not in unassessed]
    assert unassessed  # sex, hepatic function, ... were not given
    # every other finding is a card; what could not be assessed is gathered into one info card, last
    assert len(every) == len(shown) + 1 > len(drafted) > 0
    gathered = every[-1]
    assert gathered["indicator"] == "info" and gathered["summary"].startswith("Not fully checked")
    assert all(f.title.removeprefix("Not assessed: ") in gathered["detail"] for f in unassessed)
    assert all(f.recommendation and f.recommendation in gathered["detail"] for f in unassessed)
    assert all(len(card["summary"]) <= 140 for card in every)
    assert all("supports, and does not replace, clinical judgement" in card["detail"] for card in every)
    assert cards_for(report, hook="order-sign", draft_drugs=["trazodone"], instance="x") == drafted  # stable uuids
    assert json.dumps(drafted)  # plain JSON


def _order_sign_request(draft: dict[str, Any], current: list[dict[str, Any]]) -> dict[str, Any]:
    """An order-sign request for a woman born in 1940: one draft order, current medications, one unused condition."""

    def request(rid: str, status: str, concept: dict[str, Any]) -> dict[str, Any]:
        return {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": rid,
                "status": status,
                "intent": "order",
                "subject": {"reference": "Patient/p9"},
                "medicationCodeableConcept": concept,
            }
        }

    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p9"},
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1234567", "display": "Made-up disorder"}]},
    }
    return {
        "hook": "order-sign",
        "hookInstance": "test-unchecked",
        "context": {
            "userId": "Practitioner/1",
            "patientId": "p9",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [request("d1", "draft", draft)]},
        },
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p9", "gender": "female", "birthDate": "1940-01-01"},
            "medications": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [request(f"m{i}", "active", concept) for i, concept in enumerate(current)],
            },
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": condition}]},
        },
    }


def test_an_unidentified_draft_or_current_medication_is_a_warning_card_never_an_empty_answer(
    client: TestClient,
) -> None:
    """An order-sign call once answered ``{"cards": []}`` for a draft it could not identify: read as "safe"."""
    unknown_code = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "999999999"}]}
    alone = client.post(
        "/cds-services/medkg-order-sign", json=_order_sign_request({**unknown_code, "text": "Zzzmadeupamab 10 MG"}, [])
    ).json()["cards"]
    assert (alone[0]["indicator"], alone[0]["summary"]) == (
        "warning",
        "Not assessed: unidentified medication 'zzzmadeupamab'",
    )
    assert alone[0]["overrideReasons"] == [] and "clinical judgement" in alone[0]["detail"]
    # the condition sent but not used is named in the "Not fully checked" card
    assert alone[-1]["summary"].startswith("Not fully checked") and "Made-up disorder" in alone[-1]["detail"]
    # a current medication medkg cannot identify: the draft's interactions with it were not checked
    ketorolac = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "35827", "display": "ketorolac"}]
    }
    beside = client.post(
        "/cds-services/medkg-order-sign", json=_order_sign_request(ketorolac, [{"text": "Qqqunknownmab"}])
    ).json()["cards"]
    unchecked = [c for c in beside if "qqqunknownmab" in c["summary"].casefold()]
    assert [c["indicator"] for c in unchecked] == ["warning"]
    # an ingredient medkg does not model, in a current combination product (lopinavir in Kaletra)
    kaletra = client.post("/cds-services/medkg-order-sign", json=_order_sign_request(ketorolac, [{"text": "Kaletra"}]))
    summaries = [c["summary"] for c in kaletra.json()["cards"]]
    assert "Not assessed: lopinavir in 'Kaletra'" in summaries


@pytest.mark.parametrize(
    ("draft", "current", "expected"),
    [
        ("ibuprofen / famotidine", "warfarin", {"warfarin", "ibuprofen"}),  # a combination written out
        ("lopinavir / ritonavir", "simvastatin", {"simvastatin", "ritonavir"}),  # one part not modelled
    ],
)
def test_a_free_text_combination_draft_is_compared_by_its_ingredients(
    client: TestClient, draft: str, current: str, expected: set[str]
) -> None:
    """A draft written as "ibuprofen / famotidine" beside warfarin once gave no card at all."""
    request = _order_sign_request({"text": draft}, [{"text": current}])
    cards = client.post("/cds-services/medkg-order-sign", json=request).json()["cards"]
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert any(all(drug in c["summary"].casefold() for drug in expected) for c in critical), cards


def test_patient_view_of_a_patient_on_no_medication_says_nothing_was_checked(client: TestClient) -> None:
    """It was an HTTP 422 "nothing to check": a patient on no medicines is a normal case, not a bad request."""
    request = _order_sign_request({"text": "warfarin"}, [])
    request["hook"] = "patient-view"
    del request["context"]["draftOrders"]
    response = client.post("/cds-services/medkg-patient-view", json=request)
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    assert (card["indicator"], card["summary"]) == ("info", "Not checked: no current medication in the request")
    assert "no current medication" in card["detail"] and "clinical judgement" in card["detail"]
    # an order hook without an order is still refused
    request["hook"] = "order-sign"
    assert client.post("/cds-services/medkg-order-sign", json=request).status_code == 422


# ---------------------------------------------------------------- the shared CDS Hooks sample requests


def _cards(client: TestClient, service: str, relative: str) -> list[dict[str, Any]]:
    from sample_files import sample

    response = client.post(f"/cds-services/{service}", json=sample(relative))
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    for card in cards:
        assert card["uuid"] and len(card["summary"]) <= 140 and card["indicator"] in {"critical", "warning", "info"}
        assert card["source"]["label"] and "clinical judgement" in card["detail"]
    return cards


def test_pddi_warfarin_ketorolac_order_sign_gives_a_card_naming_both(client: TestClient) -> None:
    from sample_files import C1

    cards = _cards(client, "medkg-order-sign", C1)
    named = [
        c
        for c in cards
        if "warfarin" in c["summary"] and "ketorolac" in c["summary"] and not c["summary"].startswith("Not fully")
    ]
    assert named and {c["indicator"] for c in named} <= {"critical", "warning"}
    assert any(c["indicator"] == "critical" for c in named)  # warfarin + NSAID: major bleeding risk
    assert all(c["overrideReasons"] for c in named)


def test_order_select_with_two_drafts_names_digoxin_and_cyclosporine(client: TestClient) -> None:
    from sample_files import C3

    cards = _cards(client, "medkg-order-select", C3)
    assert any("digoxin" in c["summary"] and "cyclosporine" in c["summary"] for c in cards)
    assert any("ketorolac" in c["summary"] and "cyclosporine" in c["summary"] for c in cards)


def test_amoxicillin_only_order_select_raises_no_alert_but_says_what_was_not_checked(client: TestClient) -> None:
    """No interaction or caution applies; the one card says which checks lacked patient data (never a silent pass)."""
    from sample_files import C9

    cards = _cards(client, "medkg-order-select", C9)
    assert [(c["indicator"], c["summary"].split(":")[0]) for c in cards] == [("info", "Not fully checked")]
    assert "amoxicillin" in cards[0]["summary"] and "renal function unknown" in cards[0]["detail"]
    assert cards[0]["overrideReasons"] == []


def test_every_sample_request_is_answered_and_bad_bodies_are_refused(client: TestClient) -> None:
    from sample_files import C2, C4, C5, C8

    for relative, service in [
        (C2, "medkg-order-sign"),
        (C4, "medkg-medication-prescribe"),
        (C5, "medkg-medication-prescribe"),
        (C8, "medkg-order-select"),
    ]:
        assert _cards(client, service, relative), relative
    json_type = {"Content-Type": "application/json"}
    assert client.post("/cds-services/medkg-order-sign", content=b"{not json", headers=json_type).status_code == 400
    assert client.post("/cds-services/medkg-order-sign", json={"hook": "order-sign"}).status_code == 422
    assert client.post("/cds-services/nope", json={"context": {}}).status_code == 404
