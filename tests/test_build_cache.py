"""The cache of builds: listing, marking use, pruning (``medkg cache list|prune``).

Builds here are folders with a ``meta.json`` (as :func:`medkg.build.read_build` recognises them)
and a file of known size; no HermiT run is needed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from medkg.build import current_build_folder
from medkg.build_cache import cached_builds, mark_used, prune
from medkg.cli import main


def _fake_build(cache: Path, name: str, used: float, size: int = 1000) -> Path:
    folder = cache / name
    folder.mkdir(parents=True)
    (folder / "kb.nt").write_bytes(b"x" * size)
    meta = folder / "meta.json"
    meta.write_text(json.dumps({"sha256": name * 2, "medkg_version": "0.0.1"}), encoding="utf-8")
    os.utime(meta, (used, used))
    return folder


def test_builds_are_listed_current_first_then_most_recently_used(tmp_path: Path) -> None:
    now = time.time()
    old = _fake_build(tmp_path, "aaa", now - 3 * 86400, size=2000)
    recent = _fake_build(tmp_path, "bbb", now - 60)
    current = _fake_build(tmp_path, "ccc", now - 10 * 86400)
    (tmp_path / ".build-inprogress").mkdir()  # a build being written is not a build
    (tmp_path / "not-a-build").mkdir()
    builds = cached_builds(tmp_path, current)
    assert [b.folder for b in builds] == [current, recent, old]
    assert [b.current for b in builds] == [True, False, False]
    assert builds[2].size_bytes == 2000 + len((old / "meta.json").read_bytes())
    assert builds[2].sha256 == "aaaaaa" and builds[2].version == "0.0.1"


def test_prune_keeps_the_current_build_and_the_most_recently_used(tmp_path: Path) -> None:
    now = time.time()
    names = ["b1", "b2", "b3", "b4"]
    folders = [_fake_build(tmp_path, n, now - 3600 * (i + 1)) for i, n in enumerate(names)]  # b1 newest
    current = _fake_build(tmp_path, "cur", now - 30 * 86400)  # oldest, but current: never pruned
    would = prune(tmp_path, current, keep=1, dry_run=True)
    assert [b.folder.name for b in would] == ["b2", "b3", "b4"]
    assert all(f.exists() for f in folders)  # a dry run deletes nothing
    gone = prune(tmp_path, current, keep=1)
    assert [b.folder.name for b in gone] == ["b2", "b3", "b4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1", "cur"]
    assert prune(tmp_path, current, keep=0)[0].folder.name == "b1"
    assert [p.name for p in tmp_path.iterdir()] == ["cur"]


def test_prune_refuses_a_negative_keep(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        prune(tmp_path, None, keep=-1)


def test_prune_removes_leftovers_of_killed_builds_only_when_old(tmp_path: Path) -> None:
    old, recent = tmp_path / ".build-old", tmp_path / ".old-recent"
    for folder in (old, recent):
        folder.mkdir()
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    prune(tmp_path, None, keep=5)
    assert [p.name for p in tmp_path.iterdir()] == [".old-recent"]


def test_mark_used_moves_last_use_at_most_hourly(tmp_path: Path) -> None:
    now = time.time()
    folder = _fake_build(tmp_path, "b", now - 7200)
    mark_used(folder, now)
    assert (folder / "meta.json").stat().st_mtime == pytest.approx(now, abs=1)
    mark_used(folder, now + 600)  # within the hour: left as is
    assert (folder / "meta.json").stat().st_mtime == pytest.approx(now, abs=1)
    mark_used(tmp_path / "missing")  # no build there: nothing raised


def test_cli_lists_and_prunes_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDKG_CACHE_DIR", str(tmp_path))
    now = time.time()
    current = current_build_folder(cache=tmp_path)
    _fake_build(tmp_path, current.name, now - 86400)
    for i in range(4):
        _fake_build(tmp_path, f"old{i}", now - 3600 * (i + 2), size=1_000_000)
    runner = CliRunner()
    listed = runner.invoke(main, ["cache", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert [b["current"] for b in data["builds"]] == [True, False, False, False, False]
    assert data["builds"][0]["folder"] == str(current)
    text = runner.invoke(main, ["cache", "list"])
    assert "5 build(s)" in text.output and "current" in text.output
    dry = runner.invoke(main, ["cache", "prune", "--keep", "1", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 3 build(s), 3.0 MB" in dry.output
    assert len(list(tmp_path.iterdir())) == 5
    done = runner.invoke(main, ["cache", "prune", "--keep", "1"])
    assert done.exit_code == 0 and "deleted 3 build(s)" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([current.name, "old0"])
    refused = runner.invoke(main, ["cache", "prune", "--keep", "-1"])
    assert refused.exit_code == 2
