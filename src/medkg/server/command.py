"""The ``serve`` command with every server option (wired into ``medkg serve`` by :mod:`medkg.cli`).

Options override the ``MEDKG_SERVE_*`` environment variables, which override the defaults of
:class:`medkg.server.settings.ServerSettings`. ``python -m medkg.server`` runs the same command.
"""

from __future__ import annotations

import logging

import click

from .settings import ServerSettings

__all__ = ["EXAMPLE", "serve"]


def _issuers(values: tuple[str, ...]) -> dict[str, str]:
    issuers = {}
    for value in values:
        issuer, sep, where = value.partition("=")
        if not sep or not issuer or not where:
            raise click.BadParameter(f"expected ISSUER=JWKS (URL or file), got {value!r}", param_hint="--jwt-issuer")
        issuers[issuer] = where
    return issuers


#: The example shown under ``medkg serve --help`` ("\b": Click keeps the lines as they are).
EXAMPLE = """Example:

\b
  medkg serve --port 8080 &
  curl -s localhost:8080/cds-services
  curl -s -H 'Accept: application/sparql-results+json' --data-urlencode 'query=ASK { ?s ?p ?o }' localhost:8080/sparql
"""


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--cds-max-body", type=click.IntRange(1), help="Largest CDS Hooks body in bytes [1 MiB].")
@click.option("--sparql-max-query", type=click.IntRange(1), help="Largest SPARQL query in bytes [64 KiB].")
@click.option("--cds-timeout", type=click.FloatRange(0, 3600, min_open=True), help="Seconds per CDS Hooks check [30].")
@click.option("--sparql-timeout", type=click.FloatRange(0, 3600, min_open=True), help="Seconds per SPARQL query [10].")
@click.option("--sparql-max-result", type=click.IntRange(1), help="Largest SPARQL result in bytes [8 MiB].")
@click.option("--sparql-workers", type=click.IntRange(1, 64), help="SPARQL worker processes [2].")
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allowed CORS origin; repeat for several [*].")
@click.option(
    "--jwt-issuer",
    "jwt_issuers",
    multiple=True,
    metavar="ISSUER=JWKS",
    help="Trust CDS Hooks JWTs from ISSUER, verified with the JWK Set at JWKS (https URL or file); repeatable. "
    "Given at least once, every CDS Hooks call needs a valid bearer JWT.",
)
@click.option("--public-url", help="Base URL clients call (JWT audience), e.g. https://cds.example.org.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Level of the request log (request id, method, path, status, duration; never patient data).",
)
def serve(  # click passes every option by keyword
    *,
    host: str,
    port: int,
    cds_max_body: int | None,
    sparql_max_query: int | None,
    cds_timeout: float | None,
    sparql_timeout: float | None,
    sparql_max_result: int | None,
    sparql_workers: int | None,
    cors_origins: tuple[str, ...],
    jwt_issuers: tuple[str, ...],
    public_url: str | None,
    log_level: str,
) -> None:
    """Serve CDS Hooks (GET /cds-services) and a read-only SPARQL endpoint (/sparql).

    Hooks: order-select, order-sign, patient-view and the legacy medication-prescribe, at
    POST /cds-services/<id>. Limits and security: docs/server-security.md.
    """
    import uvicorn

    from .app import create_app

    try:
        settings = ServerSettings.from_env().with_overrides(
            cds_max_body_bytes=cds_max_body,
            sparql_max_query_bytes=sparql_max_query,
            cds_timeout_s=cds_timeout,
            sparql_timeout_s=sparql_timeout,
            sparql_max_result_bytes=sparql_max_result,
            sparql_workers=sparql_workers,
            cors_origins=cors_origins or None,
            jwt_issuers=_issuers(jwt_issuers) or None,
            public_url=public_url.rstrip("/") if public_url else None,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("medkg.server").setLevel(log_level.upper())
    jwt = f"JWT required ({len(settings.jwt_issuers)} issuer(s))" if settings.jwt_enabled else "no JWT verification"
    click.echo(f"medkg serve: http://{host}:{port}/cds-services and /sparql; {jwt} (Ctrl-C to stop)", err=True)
    uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="warning", access_log=False)
