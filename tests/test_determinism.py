"""Determinism and integrity (issue 6, item 6): the same input gives byte-identical JSON in separate
processes, and the report names the knowledge base (version and SHA-256) that produced it.

Each input is checked by two ``medkg check --format json`` processes with different hash seeds
(so any dependence on set or dict iteration order would show), the second with the input's keys
written in reverse order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from medkg import __version__
from medkg.knowledge_base import KnowledgeBase
from sample_files import F1, sample

EXAMPLE = REPO / "src" / "medkg" / "examples" / "baclofen-trazodone.json"


def _check(path: Path, seed: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run(
        [sys.executable, "-m", "medkg.cli", "check", str(path), "--format", "json", *extra],
        capture_output=True,
        env=env,
        check=False,
        timeout=300,
    )


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


@pytest.mark.parametrize(
    ("name", "extra"),
    [("example", ()), (F1, ("--as-of", "2020-03-14"))],
    ids=["patient-json", "fhir-bundle"],
)
def test_same_input_gives_byte_identical_json_in_two_processes(
    kb: KnowledgeBase, tmp_path: Path, name: str, extra: tuple[str, ...]
) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8")) if name == "example" else sample(name)
    source, rewritten = tmp_path / "input.json", tmp_path / "reversed.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    rewritten.write_text(json.dumps(_reversed_keys(data), indent=1), encoding="utf-8")
    first, second = _check(source, "1", *extra), _check(rewritten, "4242", *extra)
    assert first.returncode in (0, 1), first.stderr.decode()
    assert (second.returncode, second.stderr) == (first.returncode, first.stderr)
    assert len(first.stdout) > 1000
    assert second.stdout == first.stdout


def test_report_names_the_knowledge_base_version_and_hash(kb: KnowledgeBase) -> None:
    result = _check(EXAMPLE, "7")
    report = json.loads(result.stdout)
    assert report["knowledge_base"] == {"version": __version__, "sha256": kb.sha256}
    assert len(kb.sha256) == 64 and int(kb.sha256, 16) >= 0
    meta = json.loads((kb.built.folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == kb.sha256


def test_text_report_names_the_knowledge_base(kb: KnowledgeBase) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "medkg.cli", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert f"knowledge base {__version__} sha256 {kb.sha256[:16]}" in result.stdout
