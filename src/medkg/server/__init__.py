"""``medkg serve``: a CDS Hooks 2.0 service and a read-only SPARQL 1.1 Protocol endpoint (FastAPI).

``create_app`` is imported on first use, so the SPARQL worker processes (which import
:mod:`medkg.server.sparql_worker`) do not load FastAPI and the checking engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """Import :func:`create_app` lazily."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
