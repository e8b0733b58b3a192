"""The same queries on a SPARQL 1.1 server (``--store URL``) give the embedded store's results.

Needs an endpoint holding the compiled knowledge base: ``MEDKG_TEST_STORE`` is its query URL;
updates (patient graphs) go to ``MEDKG_STORE_UPDATE_URL`` with ``MEDKG_STORE_USER``,
``MEDKG_STORE_PASSWORD`` and ``MEDKG_STORE_AUTH`` (``.ci/run`` starts Virtuoso and sets them;
docs/stores.md). Without ``MEDKG_TEST_STORE`` the endpoint tests are skipped, except under CI
(``CI=true``), where they fail: CI must run them. The tests of request building run everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef

from conftest import golden_cases, run_medkg
from medkg import check_many, load_patient
from medkg.check import classify_patients
from medkg.knowledge_base import KnowledgeBase
from medkg.patient import Patient
from medkg.remote_store import RemoteStore, _normalised_results, _values_block, kb_graph_iri, open_store
from test_engine_contract import EDGE_CASES

STORE_URL = os.environ.get("MEDKG_TEST_STORE", "")


@pytest.fixture(scope="module")
def remote(kb: KnowledgeBase) -> Iterator[RemoteStore]:
    """The endpoint, holding this session's build of the knowledge base (loaded here).

    Loaded even when the graph exists: two HermiT runs over the same sources may materialise
    different (equivalent) sets of ``rdfs:subClassOf`` triples, and the comparison needs the
    very triples the embedded store holds.
    """
    if not STORE_URL:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but MEDKG_TEST_STORE is unset: CI must run the SPARQL server tests")
        pytest.skip("MEDKG_TEST_STORE is unset (the URL of a SPARQL endpoint; see docs/stores.md)")
    store = open_store(STORE_URL, kb.sha256)
    store.load(kb.built.compiled)
    yield store
    store.close()


@pytest.fixture(scope="module")
def remote_kb(kb: KnowledgeBase, remote: RemoteStore) -> KnowledgeBase:
    return KnowledgeBase(kb.built, kb.root, store=remote)  # type: ignore[arg-type]


def _patients() -> list[Patient]:
    return [load_patient(case["patient"]) for _, case in golden_cases()] + [load_patient(p) for p in EDGE_CASES]


def _without_engine(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "engine"}


def test_knowledge_base_graph_is_complete(kb: KnowledgeBase, remote: RemoteStore) -> None:
    assert remote.kb_graph.value == kb_graph_iri(kb.sha256)
    assert remote.has_knowledge_base()
    assert len(remote) == len(kb.store)


def test_classifications_equal_the_embedded_store(kb: KnowledgeBase, remote_kb: KnowledgeBase) -> None:
    patients = _patients()
    embedded = classify_patients(patients, engine="sparql", kb=kb)
    served = classify_patients(patients, engine="sparql", kb=remote_kb)
    assert served.populations == embedded.populations
    assert served.drug_classes == embedded.drug_classes
    by_id = {key.split(":", 1)[1]: value for key, value in served.populations.items()}
    assert "OlderAdult" in by_id["edge-65"]
    assert "CrClBelow30" in by_id["edge-64.9"]


def test_golden_reports_equal_the_embedded_store(kb: KnowledgeBase, remote_kb: KnowledgeBase) -> None:
    patients = [load_patient(case["patient"]) for _, case in golden_cases()]
    embedded = check_many(patients, engine="sparql", kb=kb)
    served = check_many(patients, engine="sparql", kb=remote_kb)
    for mine, theirs in zip(embedded, served, strict=True):
        assert _without_engine(theirs.model_dump(mode="json")) == _without_engine(mine.model_dump(mode="json"))
    assert sum(len(report.findings) for report in served) > len(served)  # not vacuous


def test_patient_graph_is_dropped_afterwards(remote: RemoteStore) -> None:
    graph = Graph()
    graph.add((URIRef("urn:medkg:test:p"), URIRef("urn:medkg:test:value"), Literal(3.5)))
    query = "SELECT ?v WHERE { <urn:medkg:test:p> <urn:medkg:test:value> ?v }"
    with remote.patients(graph) as name:
        assert remote.select(query, graph=name) == [{"v": 3.5}]
        assert remote.select(query) == []  # the knowledge-base graph alone does not hold it
    assert remote.select(query, graph=name) == []


def test_bindings_restrict_solutions(remote: RemoteStore) -> None:
    query = "SELECT ?drug ?label WHERE { ?drug <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    rows = remote.select(query, bindings={"drug": ox.NamedNode("https://w3id.org/medkg/kg/baclofen")})
    assert rows == [{"drug": "https://w3id.org/medkg/kg/baclofen", "label": "baclofen"}]


def test_cli_store_gives_the_embedded_report(remote: RemoteStore) -> None:
    served = run_medkg("check", "--example", "baclofen-trazodone", "--format", "json", "--store", STORE_URL)
    embedded = run_medkg("check", "--example", "baclofen-trazodone", "--format", "json", "--engine", "sparql")
    assert served.returncode == embedded.returncode == 1, served.stderr
    assert _without_engine(json.loads(served.stdout)) == _without_engine(json.loads(embedded.stdout))


def test_cli_refuses_an_unreachable_store() -> None:
    result = run_medkg("check", "--example", "baclofen-trazodone", "--store", "http://127.0.0.1:9/sparql")
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr


# -- request building (no server needed) -------------------------------------------------------


def test_values_block_is_serialised_by_pyoxigraph() -> None:
    block = _values_block({"name": ox.Literal('a "quoted" } name'), "drug": ox.NamedNode("https://e.org/d")})
    assert block.strip() == 'VALUES (?drug ?name) { (<https://e.org/d> "a \\"quoted\\" } name") }'


@pytest.mark.parametrize("name", ["x y", "x}", "", "1x"])
def test_values_block_refuses_bad_variable_names(name: str) -> None:
    with pytest.raises(ValueError, match="variable"):
        _values_block({name: ox.NamedNode("https://e.org/d")})


def test_values_block_refuses_blank_nodes() -> None:
    with pytest.raises(ValueError, match="IRI or a literal"):
        _values_block({"x": ox.BlankNode()})  # type: ignore[dict-item]


def test_virtuoso_booleans_and_blank_nodes_become_readable() -> None:
    boolean = {"type": "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#boolean", "value": "1"}
    body = json.dumps(
        {
            "head": {"vars": ["u", "b"]},
            "results": {"bindings": [{"u": boolean, "b": {"type": "bnode", "value": "nodeID://b12975"}}]},
        }
    ).encode()
    solutions = ox.parse_query_results(_normalised_results(body), format=ox.QueryResultsFormat.JSON)
    assert isinstance(solutions, ox.QuerySolutions)
    assert [(solution["u"], solution["b"]) for solution in solutions] == [(ox.Literal(True), ox.BlankNode("b12975"))]


def test_blank_nodes_are_not_sent() -> None:
    store = open_store("http://127.0.0.1:9/sparql", "0" * 64, environ={})
    graph = Graph()
    graph.add((BNode(), URIRef("urn:medkg:test:p"), Literal(1)))
    with pytest.raises(ValueError, match="blank nodes"), store.patients(graph):
        pass


def test_store_settings_come_from_the_environment() -> None:
    store = open_store(
        "http://h/sparql",
        "ab" * 32,
        environ={"MEDKG_STORE_UPDATE_URL": "http://h/update", "MEDKG_STORE_USER": "u", "MEDKG_STORE_AUTH": "digest"},
    )
    assert store.kb_graph.value == "urn:medkg:kb:" + "ab" * 12
    assert store.endpoint.update_url == "http://h/update"
    with pytest.raises(ValueError, match="http"):
        open_store("ftp://h/sparql", "ab" * 32, environ={})
    with pytest.raises(ValueError, match="MEDKG_STORE_AUTH"):
        open_store("http://h/sparql", "ab" * 32, environ={"MEDKG_STORE_AUTH": "kerberos"})
