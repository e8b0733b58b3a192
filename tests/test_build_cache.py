"""The cache of builds: listing, marking use, pruning (``medkg cache list|prune``).

Builds here are folders with a ``meta.json`` (as :func:`medkg.build.read_build` recognises them)
and a file of known size; no HermiT run is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run_medkg
from medkg.build import DamagedBuildError, current_build_folder, read_build
from medkg.build_cache import cached_builds, mark_used, prune
from medkg.cache import as_if_created, write_atomically
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
    assert [b.folder.name for b in would.deleted] == ["b2", "b3", "b4"] and would.failed == []
    assert all(f.exists() for f in folders)  # a dry run deletes nothing
    gone = prune(tmp_path, current, keep=1)
    assert [b.folder.name for b in gone.deleted] == ["b2", "b3", "b4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1", "cur"]
    assert [b.folder.name for b in prune(tmp_path, current, keep=0).deleted] == ["b1"]
    assert [p.name for p in tmp_path.iterdir()] == ["cur"]


def test_a_build_that_cannot_be_deleted_is_reported_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    stuck = _fake_build(tmp_path, "stuck", now - 7200)
    _fake_build(tmp_path, "free", now - 3600)
    real_rmtree = shutil.rmtree

    def rmtree(path: Path, *args: object, **kwargs: object) -> None:
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied", str(stuck / "kb.nt"))
        real_rmtree(path)

    monkeypatch.setattr(shutil, "rmtree", rmtree)  # the module build_cache deletes with
    done = prune(tmp_path, None, keep=0)
    assert [b.folder.name for b in done.deleted] == ["free"]
    assert [(b.folder.name, why) for b, why in done.failed] == [("stuck", f"Permission denied: {stuck / 'kb.nt'}")]
    assert stuck.exists()


def test_symbolic_links_are_not_builds(tmp_path: Path) -> None:
    now = time.time()
    real = _fake_build(tmp_path, "real", now - 60)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert [b.folder.name for b in cached_builds(tmp_path)] == ["real"]
    assert prune(tmp_path, None, keep=0).deleted[0].folder == real
    assert not real.exists()


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


def test_loading_a_build_by_its_folder_marks_it_used(tmp_path: Path) -> None:
    """``MEDKG_KB`` builds are read through read_build too: pruning must see them in use."""
    folder = _fake_build(tmp_path, "b", time.time() - 7200)
    (folder / "meta.json").write_text(json.dumps({"sha256": "s", "medkg_version": "v"}), encoding="utf-8")
    os.utime(folder / "meta.json", (time.time() - 7200,) * 2)
    built = read_build(folder)
    assert (built.sha256, built.version) == ("s", "v")
    assert time.time() - (folder / "meta.json").stat().st_mtime < 60


@pytest.mark.parametrize("content", ["", "{bad", "[]", '{"sha256": "s"}'])
def test_a_damaged_meta_json_is_named_with_the_way_out(tmp_path: Path, content: str) -> None:
    (tmp_path / "meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(DamagedBuildError, match="medkg build --force"):
        read_build(tmp_path)


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


def test_cli_usage_errors_name_the_subcommand_and_a_bare_group_prints_its_help() -> None:
    wrong = run_medkg("cache", "prune", "--keep", "abc")
    assert wrong.returncode == 2 and "(see 'medkg cache prune --help')" in wrong.stderr
    bare = run_medkg("cache")
    assert bare.returncode == 2
    assert bare.stderr.startswith("Usage: medkg cache") and "\n  list " in bare.stderr and "\n  prune " in bare.stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_cache_files_get_the_permissions_of_plainly_created_files(tmp_path: Path) -> None:
    """A shared MEDKG_CACHE_DIR must be readable by its other users (mkstemp alone would give 0600)."""
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "value.pickle", {"a": 1})
        assert stat.S_IMODE((tmp_path / "value.pickle").stat().st_mode) == 0o644
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        as_if_created(folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        os.umask(0o077)  # a private umask stays private
        write_atomically(tmp_path / "private.pickle", {"a": 1})
        assert stat.S_IMODE((tmp_path / "private.pickle").stat().st_mode) == 0o600
    finally:
        os.umask(previous)
