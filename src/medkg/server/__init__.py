"""``medkg serve``: a CDS Hooks 2.0 service and a read-only SPARQL 1.1 Protocol endpoint (FastAPI)."""

from .app import create_app

__all__ = ["create_app"]
