"""Optional CDS Hooks bearer JWT verification (CDS Hooks 2.0, "Trusting CDS Clients").

A locally generated RSA key signs the tokens; its public half is a JWKS file configured for the
issuer. With verification on, a valid token gets 200 and anything else 401.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from medkg.knowledge_base import KnowledgeBase
from medkg.server import create_app
from medkg.server.settings import ServerSettings

ISSUER = "https://ehr.example/fhir"
BASE = "http://testserver"
SERVICE = "/cds-services/medkg-order-sign"
KID = "ehr-key-1"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase, private_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    jwks = tmp_path_factory.mktemp("jwks") / "ehr.jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS384", "use": "sig"}]}), encoding="utf-8")
    return TestClient(create_app(kb, ServerSettings(jwt_issuers={ISSUER: str(jwks)})))


def token(key: Any, *, headers: dict[str, Any] | None = None, algorithm: str = "RS384", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": KID, **(headers or {})})


def request_body() -> dict[str, Any]:
    order = {
        "resourceType": "MedicationRequest",
        "id": "d1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "ibuprofen"},
    }
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
    }


def call(client: TestClient, bearer: str | None) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return client.post(SERVICE, json=request_body(), headers=headers)


def test_valid_token_is_accepted_for_the_service_and_discovery(
    client: TestClient, private_key: rsa.RSAPrivateKey
) -> None:
    response = call(client, token(private_key))
    assert response.status_code == 200, response.text
    assert "cards" in response.json()
    discovery = client.get(
        "/cds-services", headers={"Authorization": f"Bearer {token(private_key, aud=BASE + '/cds-services')}"}
    )
    assert discovery.status_code == 200 and discovery.json()["services"]


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "bearer JWT is required"),
        ("expired", "expired"),
        ("wrong audience", "audience"),
        ("unknown issuer", "not a trusted"),
        ("hmac", "algorithm"),
        ("jku not allowed", "jku"),
        ("other key", "Invalid"),
        ("no jti", "jti"),
        ("garbage", "not a JWT"),
    ],
)
def test_refused_tokens_get_401(client: TestClient, private_key: rsa.RSAPrivateKey, case: str, fragment: str) -> None:
    now = int(time.time())
    bearer = {
        "missing": None,
        "expired": lambda: token(private_key, iat=now - 900, exp=now - 600),
        "wrong audience": lambda: token(private_key, aud="https://other.example/cds-services/medkg-order-sign"),
        "unknown issuer": lambda: token(private_key, iss="https://evil.example"),
        "hmac": lambda: token("a-shared-secret-long-enough-for-hs384-0123456789abcdef", algorithm="HS384"),
        "jku not allowed": lambda: token(private_key, headers={"jku": "https://evil.example/jwks"}),
        "other key": lambda: token(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "no jti": lambda: token(private_key, jti=None),
        "garbage": lambda: "not-a-token",
    }[case]
    response = call(client, bearer() if callable(bearer) else bearer)
    assert response.status_code == 401, response.text
    assert fragment.lower() in response.json()["error"].lower()
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["requestId"] == response.headers["x-request-id"]


def test_a_replayed_token_is_refused(client: TestClient, private_key: rsa.RSAPrivateKey) -> None:
    once = token(private_key)
    assert call(client, once).status_code == 200
    replay = call(client, once)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]


def test_verification_is_off_by_default(kb: KnowledgeBase) -> None:
    assert not ServerSettings().jwt_enabled
    assert TestClient(create_app(kb)).get("/cds-services").status_code == 200


def test_issuers_from_the_environment(tmp_path: Path) -> None:
    settings = ServerSettings.from_env({"MEDKG_SERVE_JWT_ISSUERS": json.dumps({ISSUER: str(tmp_path / "k.json")})})
    assert settings.jwt_enabled and settings.jwt_issuers == {ISSUER: str(tmp_path / "k.json")}
    with pytest.raises(ValueError, match="MEDKG_SERVE_JWT_ISSUERS"):
        ServerSettings.from_env({"MEDKG_SERVE_JWT_ISSUERS": "not json"})
    with pytest.raises(ValueError, match="sparql_timeout_s"):
        ServerSettings.from_env({"MEDKG_SERVE_SPARQL_TIMEOUT_S": "-1"})
