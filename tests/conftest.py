"""Shared fixtures: one knowledge-base build per test session, in a private cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medkg.build import build
from medkg.knowledge_base import KnowledgeBase
from medkg.native import compiled_modules, stale_compiled_modules

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden" / "cases"
REPO = TESTS.parent
SAMPLES = REPO.parent / "shared" / "samples"


def pytest_report_header() -> str:
    """Say whether the tests run on the optional native build (medkg.native)."""
    return f"medkg compiled modules: {', '.join(compiled_modules()) or 'none (pure Python)'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop when a native build left extensions older than their source: the tests would not see the edits."""
    stale = stale_compiled_modules()
    if stale:
        pytest.exit(
            f"medkg modules {', '.join(stale)} load from compiled extensions older than their .py source; "
            "rebuild, or delete the extensions (hatch clean; or rm src/medkg/*.so src/*__mypyc*.so)",
            returncode=4,
        )


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build into a temporary cache so tests never touch or depend on the user's cache."""
    cache = tmp_path_factory.mktemp("medkg-cache")
    previous = os.environ.get("MEDKG_CACHE_DIR")
    os.environ["MEDKG_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("MEDKG_CACHE_DIR", None)
    else:
        os.environ["MEDKG_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def kb(_private_cache: Path) -> KnowledgeBase:
    """The built-in knowledge base, built (HermiT) once per session."""
    return KnowledgeBase(build(quiet=True))


def golden_cases() -> list[tuple[str, dict[str, Any]]]:
    """(name, case) for every golden case file, sorted by name."""
    return [(path.stem, json.loads(path.read_text(encoding="utf-8"))) for path in sorted(GOLDEN.glob("*.json"))]


def run_medkg(
    *args: str, cwd: str | None = None, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``medkg`` command line in a subprocess (same interpreter, same environment plus ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "medkg.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


def baclofen_order(**changes: Any) -> dict[str, Any]:
    """An active FHIR MedicationRequest for baclofen (text only) written 2020-01-01; ``None`` drops a field."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "authoredOn": "2020-01-01",
        "medicationCodeableConcept": {"text": "baclofen"},
    }
    resource.update(changes)
    return {key: value for key, value in resource.items() if value is not None}


#: A FHIR R4 Bundle: a woman born 1940-05-01 with an active baclofen order of 2020-01-01 (79 then).
BACLOFEN_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1940-05-01", "gender": "female"}},
        {"resource": baclofen_order()},
    ],
}
