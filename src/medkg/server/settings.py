"""Limits and switches of ``medkg serve``: defaults, environment variables, validation.

Every setting has a documented default (docs/server-security.md) and an environment variable
``MEDKG_SERVE_<NAME>``; the ``medkg serve`` options override the environment. Sizes are bytes,
times are seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["ENV_PREFIX", "ServerSettings"]

#: Prefix of the environment variables read by :meth:`ServerSettings.from_env`.
ENV_PREFIX = "MEDKG_SERVE_"

_KIB = 1024
_MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """What ``medkg serve`` accepts and how long it waits.

    Attributes:
        cds_max_body_bytes: largest CDS Hooks request body (bytes); larger ones get 413.
        sparql_max_query_bytes: largest SPARQL query, in a POST body or the GET ``query`` parameter (bytes).
        other_max_body_bytes: largest body on any other path (bytes).
        cds_timeout_s: time limit of one CDS Hooks check (seconds); when over, 503.
        sparql_timeout_s: time limit of one SPARQL query, queueing included (seconds); when over, 503
            and the worker process running it is killed and replaced.
        sparql_max_result_bytes: largest serialised SPARQL result (bytes); when over, 422, no partial result.
        sparql_workers: number of worker processes answering SPARQL queries.
        cors_origins: origins allowed by CORS (``*`` = any).
        jwt_issuers: trusted CDS Hooks JWT issuers -> their JWKS (an https URL or a local file path);
            empty = no JWT verification (local use).
        public_url: the base URL clients call (``https://cds.example.org``), the JWT audience prefix;
            empty = taken from each request.
        jwt_leeway_s: clock skew allowed when checking ``exp`` and ``iat`` (seconds).
    """

    cds_max_body_bytes: int = 1 * _MIB
    sparql_max_query_bytes: int = 64 * _KIB
    other_max_body_bytes: int = 64 * _KIB
    cds_timeout_s: float = 30.0
    sparql_timeout_s: float = 10.0
    sparql_max_result_bytes: int = 8 * _MIB
    sparql_workers: int = 2
    cors_origins: tuple[str, ...] = ("*",)
    jwt_issuers: Mapping[str, str] = field(default_factory=dict)
    public_url: str = ""
    jwt_leeway_s: float = 30.0

    def __post_init__(self) -> None:
        """Refuse impossible values (raises ValueError naming the setting)."""
        for name in ("cds_max_body_bytes", "sparql_max_query_bytes", "other_max_body_bytes", "sparql_max_result_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 byte")
        for name in ("cds_timeout_s", "sparql_timeout_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise ValueError(f"{name} must be more than 0 and at most 3600 seconds")
        if not 1 <= self.sparql_workers <= 64:
            raise ValueError("sparql_workers must be between 1 and 64")
        if self.jwt_leeway_s < 0:
            raise ValueError("jwt_leeway_s must not be negative")
        if not self.cors_origins:
            raise ValueError("cors_origins must name at least one origin (or '*')")

    @property
    def jwt_enabled(self) -> bool:
        """Whether CDS Hooks calls must carry a valid bearer JWT (some issuer is configured)."""
        return bool(self.jwt_issuers)

    def with_overrides(self, **changes: Any) -> ServerSettings:
        """Return a copy with the given settings changed; ``None`` values are ignored."""
        return replace(self, **{name: value for name, value in changes.items() if value is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read ``MEDKG_SERVE_*`` variables (e.g. ``MEDKG_SERVE_SPARQL_TIMEOUT_S=5``) over the defaults.

        ``MEDKG_SERVE_CORS_ORIGINS`` is comma-separated; ``MEDKG_SERVE_JWT_ISSUERS`` is a JSON
        object ``{"issuer": "jwks url or file"}``.

        Raises:
            ValueError: for a value that is not a number, not JSON, or out of range (names the variable).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = ENV_PREFIX + spec.name.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[spec.name] = _parse(spec.name, raw)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return cls(**values)


def _parse(name: str, raw: str) -> Any:
    if name == "cors_origins":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name == "jwt_issuers":
        try:
            data = json.loads(raw)
        except ValueError:
            raise ValueError('not JSON; expected {"issuer": "jwks url or file"}') from None
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ValueError('expected a JSON object {"issuer": "jwks url or file"}')
        return data
    if name == "public_url":
        return raw.strip().rstrip("/")
    if name.endswith("_s"):
        return float(raw)
    return int(raw)
