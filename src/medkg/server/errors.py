"""Error responses of ``medkg serve``: one JSON shape for every status.

``{"error": message, "status": code, "requestId": id, "problems": [{"field", "problem", "allowed"}]}``;
``problems`` is present for invalid payloads (which field, what was wrong, what is allowed). A
server fault (500) says only that nothing was checked and which request id to quote: no card,
no partial result, no exception text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import Request

__all__ = ["INTERNAL_ERROR", "HttpProblem", "Problem", "problem_body", "problem_response", "request_id"]

#: Message of every 500: nothing about the fault itself reaches the client.
INTERNAL_ERROR = (
    "internal error: the request was not checked and no cards were produced; quote the request id when reporting"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field (dotted path), what was wrong, what is allowed."""

    field: str
    problem: str
    allowed: str | None = None

    def as_json(self) -> dict[str, str]:
        """Return the problem as a JSON object (``allowed`` omitted when not known)."""
        data = {"field": self.field, "problem": self.problem}
        if self.allowed:
            data["allowed"] = self.allowed
        return data


class HttpProblem(Exception):
    """Raised by a route to answer with an error status (turned into :func:`problem_response`)."""

    def __init__(
        self, status: int, message: str, problems: list[Problem] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """``status``: the HTTP status; ``message``: the ``error`` text; ``problems``: fields at fault."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems
        self.headers = headers


def request_id(request: Request) -> str:
    """Return the id the request middleware gave ``request`` (``-`` outside the middleware)."""
    return str(request.scope.get("state", {}).get("request_id", "-"))


def problem_body(status: int, message: str, rid: str, problems: list[Problem] | None = None) -> dict[str, Any]:
    """Return the JSON body of an error response."""
    body: dict[str, Any] = {"error": message, "status": status, "requestId": rid}
    if problems:
        body["problems"] = [p.as_json() for p in problems]
    return body


def problem_response(
    request: Request,
    status: int,
    message: str,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return a JSON error response for ``request`` with its request id."""
    return JSONResponse(
        problem_body(status, message, request_id(request), problems), status_code=status, headers=headers
    )
