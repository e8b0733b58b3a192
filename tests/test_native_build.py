"""The optional native build (mypyc, see :mod:`medkg.native`) gives the same results as pure Python.

``MEDKG_NATIVE_PYTHON`` names the interpreter of an environment where medkg was installed with
``HATCH_BUILD_HOOK_ENABLE_MYPYC=true pip install .`` (``.ci/run`` makes one). Without it these
tests are skipped; with it, the batch output of both builds must be byte for byte the same, and
the compiled engine and cache tests must pass on the native build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from conftest import REPO, run_medkg
from medkg import native
from medkg.knowledge_base import KnowledgeBase
from medkg.synthetic import generate_patient_dicts, generate_varied_patient_dicts

NATIVE = os.environ.get("MEDKG_NATIVE_PYTHON", "")

needs_native = pytest.mark.skipif(not NATIVE, reason="MEDKG_NATIVE_PYTHON is not set (no native build to compare)")


def _run(python: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, *args], capture_output=True, text=True, env=os.environ.copy(), cwd=cwd, check=False, timeout=900
    )


@needs_native
def test_the_native_interpreter_runs_compiled_modules() -> None:
    done = _run(NATIVE, "-c", "from medkg.native import compiled_modules; print(','.join(compiled_modules()))")
    assert done.returncode == 0, done.stderr
    assert {"compiled", "findings", "patient_graph", "rulebook"} <= set(done.stdout.strip().split(","))


def test_version_names_the_build() -> None:
    done = run_medkg("--version")
    native_modules = native.compiled_modules()
    expected = f"native build, mypyc: {', '.join(native_modules)}" if native_modules else "pure Python"
    assert native.build_description() == expected
    assert done.returncode == 0
    assert done.stdout.strip().endswith(f"({expected})")
    if NATIVE:
        assert "(native build, mypyc: " in _run(NATIVE, "-m", "medkg.cli", "--version").stdout


@needs_native
def test_batch_output_is_byte_identical(kb: KnowledgeBase, tmp_path: Path) -> None:
    patients = generate_patient_dicts(2000, seed=5, kb=kb, max_drugs=10) + generate_varied_patient_dicts(
        1000, seed=5, kb=kb
    )
    source = tmp_path / "patients.ndjson"
    source.write_text("".join(json.dumps(p) + "\n" for p in patients), encoding="utf-8")
    outputs = []
    for name, python in (("pure", sys.executable), ("native", NATIVE)):
        out = tmp_path / f"{name}.ndjson"
        done = _run(python, "-m", "medkg.cli", "check", "--batch", str(source), "--output", str(out))
        assert done.returncode in (0, 1), done.stderr
        outputs.append(out.read_bytes())
    pure, native = outputs
    assert pure.count(b"\n") == len(patients)
    assert native == pure


@needs_native
def test_engine_and_cache_tests_pass_on_the_native_build() -> None:
    done = _run(
        NATIVE,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_compiled_engine.py",
        "tests/test_memo_caches.py",
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_stale_extension_in_a_source_tree_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    package = tmp_path / "src" / "medkg"
    package.mkdir(parents=True)
    suffix = EXTENSION_SUFFIXES[0]
    for name in ("compiled", "findings"):
        (package / f"{name}{suffix}").write_bytes(b"")
    (package / "compiled.py").write_text("", encoding="utf-8")
    (package / "findings.py").write_text("", encoding="utf-8")
    # explicit times (files written one after the other may differ by a clock tick either way)
    for name, seconds in ((f"compiled{suffix}", 1_000_000), ("compiled.py", 2_000_000)):  # extension older
        os.utime(package / name, (seconds, seconds))
    for name, seconds in ((f"findings{suffix}", 2_000_000), ("findings.py", 1_000_000)):  # extension newer
        os.utime(package / name, (seconds, seconds))
    monkeypatch.setattr(native, "_PACKAGE", package)
    assert native.compiled_modules() == ["compiled", "findings"]
    assert native.stale_compiled_modules() == ["compiled"]
    (tmp_path / "pyproject.toml").unlink()  # an installed package: file times are not build times
    assert native.stale_compiled_modules() == []


def test_the_command_line_warns_of_stale_extensions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest stops on a stale extension; the command line, which a developer also runs, says so on stderr."""
    from medkg import cli

    monkeypatch.setattr(cli, "stale_compiled_modules", lambda: ["findings"])
    monkeypatch.setattr("sys.argv", ["medkg", "--version"])
    try:
        cli.run()
    except SystemExit as done:  # (click may end --version either way)
        assert done.code in (0, None)
    assert "warning: modules findings run from compiled extensions older than their source" in capsys.readouterr().err
