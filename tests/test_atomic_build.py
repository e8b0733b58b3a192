"""Atomic knowledge-base builds (issue 6, item 5): a build killed half-way leaves the previous one usable.

``medkg build --force`` is started in its own process group on a copy of the session's build,
killed with SIGKILL once it reports that HermiT is classifying, and then ``medkg check`` must
answer from the previous build without rebuilding. The swap itself (rename the old build aside,
rename the new one in, then delete the old) is tested in-process with HermiT stubbed out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph

import medkg.build as build_module
from medkg.build import build
from medkg.knowledge_base import KnowledgeBase
from medkg.reasoner import Classification

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGKILL are POSIX")


def _digest(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def _copy_build(kb: KnowledgeBase, cache: Path) -> Path:
    target = cache / kb.built.folder.name
    shutil.copytree(kb.built.folder, target)
    return target


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "MEDKG_CACHE_DIR": str(cache)}


def test_build_killed_while_classifying_leaves_the_previous_build_usable(tmp_path: Path, kb: KnowledgeBase) -> None:
    cache = tmp_path / "cache"
    target = _copy_build(kb, cache)
    before = _digest(target)
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli", "build", "--force"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(cache),
        start_new_session=True,  # its own process group: the kill reaches HermiT's JVM too
    )
    seen = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if "classifying" in line:
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert any("classifying" in line for line in seen), seen
    assert process.returncode == -signal.SIGKILL

    # a build killed while writing its files leaves a staging folder: it must be ignored
    leftover = cache / ".build-killed"
    leftover.mkdir()
    (leftover / "kb.nt").write_text("<urn:half> <urn:written", encoding="utf-8")

    assert _digest(target) == before
    result = subprocess.run(
        [sys.executable, "-m", "medkg.cli", "check", "--example", "baclofen-trazodone", "--format", "json"],
        capture_output=True,
        text=True,
        env=_env(cache),
        check=False,
        timeout=120,  # a rebuild would run HermiT; the previous build answers at once
    )
    assert result.returncode == 1, result.stderr
    assert "medkg build:" not in result.stderr
    report = json.loads(result.stdout)
    assert report["knowledge_base"]["sha256"] == kb.sha256
    assert {f["kind"] for f in report["findings"]} >= {"additive-effect", "dose-adjustment"}
    assert sorted(path.name for path in cache.iterdir()) == sorted([target.name, leftover.name])


@pytest.fixture
def stub_reasoner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace HermiT by 'no inferences' so a build takes seconds (the swap is what is tested)."""
    monkeypatch.setattr(build_module, "classify", lambda graphs: Classification({}, {}))
    monkeypatch.setattr(build_module, "as_triples", lambda classified: Graph())
    # without HermiT's subsumptions (a defined class under medkg:Drug) the rule-target gate would refuse the build
    monkeypatch.setattr(build_module, "check_build_gates", lambda compiled, root=None: None)


def test_forced_build_replaces_the_folder_and_leaves_nothing_behind(
    tmp_path: Path, kb: KnowledgeBase, stub_reasoner: None
) -> None:
    cache = tmp_path / "cache"
    target = _copy_build(kb, cache)
    (target / "stale-marker").write_text("from the earlier build", encoding="utf-8")
    built = build(cache=cache, force=True, quiet=True)
    assert built.folder == target and built.sha256 == kb.sha256
    assert not (target / "stale-marker").exists()
    assert json.loads((target / "meta.json").read_text(encoding="utf-8"))["triples"]["inferred"] == 0
    assert [path.name for path in cache.iterdir()] == [target.name]


def test_a_build_with_a_damaged_meta_json_is_built_again(
    tmp_path: Path, kb: KnowledgeBase, stub_reasoner: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    target = _copy_build(kb, cache)
    (target / "meta.json").write_text("{bad", encoding="utf-8")
    built = build(cache=cache)  # not forced: the damaged build must not be taken as current
    assert built.folder == target and built.sha256 == kb.sha256
    assert json.loads((target / "meta.json").read_text(encoding="utf-8"))["sha256"] == kb.sha256
    assert "is damaged (meta.json unreadable" in capsys.readouterr().err


def test_a_new_build_in_a_crowded_cache_suggests_pruning_once(
    tmp_path: Path, kb: KnowledgeBase, stub_reasoner: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    _copy_build(kb, cache)
    for number in range(11):
        (cache / f"old{number}").mkdir()
        (cache / f"old{number}" / "meta.json").write_text('{"sha256": "x", "medkg_version": "0"}', encoding="utf-8")
    previous = os.umask(0o022)
    try:
        built = build(cache=cache, force=True)
    finally:
        os.umask(previous)
    assert capsys.readouterr().err.count("holds 12 builds") == 1
    # readable by a shared cache's other users, as a plainly made folder would be
    assert built.folder.stat().st_mode & 0o777 == 0o755
    build(cache=cache, force=True, hint_crowded=False)  # medkg build gives the hint itself
    assert "holds 12 builds" not in capsys.readouterr().err


def test_failed_swap_puts_the_previous_build_back(
    tmp_path: Path, kb: KnowledgeBase, stub_reasoner: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    target = _copy_build(kb, cache)
    before = _digest(target)
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def failing_second_rename(source: Any, destination: Any) -> None:
        if Path(destination).parent != cache:  # files written inside the staging folder
            real_replace(source, destination)
            return
        calls.append((Path(source).name, Path(destination).name))
        if len(calls) == 2:  # the new build into place
            raise OSError("disk full")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_second_rename)  # build.py calls os.replace
    with pytest.raises(OSError, match="disk full"):
        build(cache=cache, force=True, quiet=True)
    assert calls[0][0] == target.name and calls[0][1].startswith(".old-")
    assert calls[1][0].startswith(".build-") and calls[1][1] == target.name
    assert calls[2] == (calls[0][1], target.name)  # renamed back
    assert _digest(target) == before
    assert [path.name for path in cache.iterdir()] == [target.name]


def test_leftovers_of_killed_builds_are_removed_after_an_hour(
    tmp_path: Path, kb: KnowledgeBase, stub_reasoner: None
) -> None:
    cache = tmp_path / "cache"
    target = _copy_build(kb, cache)
    old, recent = cache / ".build-old", cache / ".old-recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "kb.nt").write_text("partial", encoding="utf-8")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    build(cache=cache, force=True, quiet=True)
    assert sorted(path.name for path in cache.iterdir()) == sorted([target.name, recent.name])
