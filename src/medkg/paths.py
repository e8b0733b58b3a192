"""Where medkg finds its ontology, knowledge base, queries and build cache."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RESOURCE_DIRS", "cache_root", "resource_root"]

#: The three folders the wheel carries (``ontology/``, ``kg/``, ``queries/``).
RESOURCE_DIRS = ("ontology", "kg", "queries")


def resource_root() -> Path:
    """Return the folder that holds ``ontology/``, ``kg/`` and ``queries/``.

    The environment variable ``MEDKG_ROOT`` wins (a researcher's own copy of the
    knowledge base); then the copy installed inside the wheel
    (``medkg/resources``); then the source checkout two levels above this file.

    Raises:
        FileNotFoundError: when none of these holds the three folders.
    """
    candidates: list[Path] = []
    env = os.environ.get("MEDKG_ROOT")
    if env:
        candidates.append(Path(env))
    here = Path(__file__).resolve().parent
    candidates += [here / "resources", here.parent.parent]
    for candidate in candidates:
        if all((candidate / name).is_dir() for name in RESOURCE_DIRS):
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"medkg resources (ontology/, kg/, queries/) not found; tried {tried}")


def cache_root() -> Path:
    """Return the folder for compiled knowledge bases (``MEDKG_CACHE_DIR`` or the user cache)."""
    env = os.environ.get("MEDKG_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("medkg"))
