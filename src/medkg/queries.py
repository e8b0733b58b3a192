"""SPARQL query files (``queries/**/*.rq``): found by path, read once, never built from strings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .paths import resource_root

__all__ = ["query_files", "query_text"]


@cache
def query_text(name: str, root: Path | None = None) -> str:
    """Return the text of ``queries/<name>.rq`` (``name`` like ``"rules/drug-rule"``).

    Raises:
        FileNotFoundError: if no such query file exists.
    """
    base = (root or resource_root()) / "queries"
    path = (base / f"{name}.rq").resolve()
    if base.resolve() not in path.parents:
        raise FileNotFoundError(f"query outside queries/: {name}")
    return path.read_text(encoding="utf-8")


def query_files(folder: str, root: Path | None = None) -> list[str]:
    """Names (for :func:`query_text`) of every ``.rq`` file in ``queries/<folder>/``, sorted."""
    base = (root or resource_root()) / "queries"
    return sorted(path.relative_to(base).with_suffix("").as_posix() for path in (base / folder).glob("*.rq"))
