"""Code-quality gates run with the tests: ruff (lint + format) and mypy --strict; published schemas current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medkg.patient import Patient
from medkg.report import Report

REPO = Path(__file__).parents[1]
needs_source = pytest.mark.skipif(not (REPO / "src" / "medkg").is_dir(), reason="source tree not available")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)


@needs_source
def test_ruff_lint_and_format() -> None:
    lint = _run(sys.executable, "-m", "ruff", "check", "src", "tests", "scripts")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(sys.executable, "-m", "ruff", "format", "--check", "src", "tests", "scripts")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@needs_source
def test_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_source
@pytest.mark.parametrize(("name", "model"), [("patient", Patient), ("report", Report)])
def test_published_json_schemas_are_current(name: str, model: type[Patient] | type[Report]) -> None:
    published = json.loads((REPO / "docs" / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert published == model.model_json_schema(), (
        f"regenerate with: medkg schema {name} > docs/schemas/{name}.schema.json"
    )
