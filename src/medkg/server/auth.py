"""Optional verification of the CDS Hooks bearer JWT (CDS Hooks 2.0, "Trusting CDS Clients").

The EHR signs a JWT with its private key and sends it as ``Authorization: Bearer <jwt>``. When
issuers are configured, every CDS Hooks call (discovery included) must carry one that

- is signed with an asymmetric algorithm (RS/PS/ES; never ``none`` or HMAC) by a key in the JWK
  Set configured for its ``iss`` (an https URL, fetched and cached, or a local JWKS file);
- names a trusted ``iss``; if it has a ``jku`` header, that must be the configured JWKS URL;
- has ``aud`` equal to the URL called (``<public url>/cds-services[/<id>]``), ``exp`` not past,
  ``iat``, and a ``jti`` not seen before (replays are refused until the token expires).

Any failure is :class:`AuthError` (HTTP 401 with ``WWW-Authenticate: Bearer``). With no issuer
configured nothing is checked (local use).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt

__all__ = ["ALGORITHMS", "AuthError", "JwtVerifier"]

#: Signature algorithms accepted (asymmetric only, as CDS Hooks 2.0 requires).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
_REQUIRED = ["iss", "aud", "exp", "iat", "jti"]
_MAX_SEEN = 100_000


class AuthError(ValueError):
    """The bearer token is missing or not acceptable (HTTP 401); the message says why."""


class _KeySource:
    """The JWK Set of one issuer: a local file (read once) or a URL (fetched by PyJWT, cached)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.url = where if where.startswith(("https://", "http://")) else None
        self._client = jwt.PyJWKClient(where, cache_keys=True, lifespan=300, timeout=5) if self.url else None
        self._set = None if self.url else jwt.PyJWKSet.from_json(Path(where).read_text(encoding="utf-8"))

    def key(self, kid: str | None) -> Any:
        """Return the verification key for ``kid`` (the only key when there is one and no kid).

        Raises:
            AuthError: no such key, or the JWKS could not be fetched.
        """
        try:
            keys = self._client.get_signing_keys() if self._client else list(self._set.keys if self._set else [])
        except jwt.PyJWKClientError as error:
            raise AuthError(f"the issuer's JWK Set could not be read: {error}") from None
        if kid is None and len(keys) == 1:
            return keys[0].key
        for candidate in keys:
            if kid is not None and candidate.key_id == kid:
                return candidate.key
        raise AuthError("no key in the issuer's JWK Set matches the token's 'kid'")


class JwtVerifier:
    """Checks CDS Hooks bearer tokens against configured issuers.

    Args:
        issuers: issuer (``iss``) -> JWK Set location (https URL or local file path).
        leeway_s: clock skew allowed for ``exp`` / ``iat`` (seconds).

    Raises:
        OSError, ValueError: a local JWKS file that cannot be read or is not a JWK Set.
    """

    def __init__(self, issuers: Mapping[str, str], *, leeway_s: float = 30.0) -> None:
        self.sources = {issuer: _KeySource(where) for issuer, where in issuers.items()}
        self.leeway_s = leeway_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """Verify the ``Authorization`` header value for a call to ``audience``; return the claims.

        Raises:
            AuthError: missing or malformed header, untrusted issuer or ``jku``, bad signature,
                wrong audience, expired, missing claim, or a replayed ``jti``.
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("a bearer JWT is required: Authorization: Bearer <jwt>")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        issuer = unverified.get("iss")
        source = self.sources.get(issuer) if isinstance(issuer, str) else None
        if source is None:
            raise AuthError("the token's issuer ('iss') is not a trusted CDS client")
        jku = header.get("jku")
        if jku is not None and jku != source.url:
            raise AuthError("the token's 'jku' is not the JWK Set URL configured for its issuer")
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"the token's algorithm is not accepted; allowed: {', '.join(ALGORITHMS)}")
        key = source.key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=issuer,
                leeway=self.leeway_s,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired ('exp')") from None
        except jwt.InvalidAudienceError:
            raise AuthError(f"the token's audience ('aud') is not this service: expected {audience}") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(f"the token lacks a required claim: {error.claim}") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"the token was refused: {type(error).__name__}") from None
        self._remember(str(claims["jti"]), float(claims["exp"]))
        return claims

    def _remember(self, jti: str, expires: float) -> None:
        """Refuse a ``jti`` seen before (replay); forget entries once their token has expired."""
        now = time.time()
        with self._lock:
            if jti in self._seen and self._seen[jti] + self.leeway_s >= now:
                raise AuthError("the token's 'jti' was already used (replay)")
            if len(self._seen) >= _MAX_SEEN:
                self._seen = {k: v for k, v in self._seen.items() if v + self.leeway_s >= now}
                if len(self._seen) >= _MAX_SEEN:
                    raise AuthError("too many live tokens; try again shortly")
            self._seen[jti] = expires
