"""The folder of compiled builds (``MEDKG_CACHE_DIR`` or the user cache): list them, prune old ones.

Each edit of ``ontology/`` or ``kg/`` makes a new build (about 17 MB for the built-in
knowledge base, gigabytes for a DrugBank-scale one), and medkg never deletes a build by itself:
another process (a server, a long batch) may still be reading an older one. ``medkg cache
list`` shows the builds, ``medkg cache prune`` deletes all but the build of the current sources
and the most recently used others, as ``pip cache`` and ``huggingface-cli delete-cache`` leave
the choice to the user.

A build's last use is the modification time of its ``meta.json``, which
:func:`mark_used` sets when a process loads the build (at most once an hour per build).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CachedBuild", "Pruned", "cached_builds", "crowded_cache_hint", "mark_used", "prune", "remove_leftovers"]

#: Seconds between two marks of the same build's use (one ``utime`` per process start is plenty).
_MARK_EVERY = 3600
#: More builds than this in the cache, and :func:`crowded_cache_hint` suggests pruning.
_BUILDS_BEFORE_HINT = 10
#: Staging (``.build-*``) and set-aside (``.old-*``) folders of builds killed half-way.
_LEFTOVER_PATTERNS = (".build-*", ".old-*")


@dataclass(frozen=True)
class CachedBuild:
    """One build folder in the cache.

    Attributes:
        folder: the build folder.
        sha256: SHA-256 of the sources it was built from ("" if ``meta.json`` is unreadable).
        version: the medkg version that built it ("" if unreadable).
        size_bytes: bytes of all files under ``folder``.
        last_used: POSIX seconds of the last marked use (``meta.json``'s modification time).
        current: whether it is the build of the sources given to :func:`cached_builds`.
    """

    folder: Path
    sha256: str
    version: str
    size_bytes: int
    last_used: float
    current: bool

    def as_json(self) -> dict[str, object]:
        """Return the build as a JSON-ready dict (sizes in bytes, times as POSIX seconds)."""
        return {
            "folder": str(self.folder),
            "sha256": self.sha256,
            "medkg_version": self.version,
            "size_bytes": self.size_bytes,
            "last_used": round(self.last_used, 3),
            "current": self.current,
        }


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def cached_builds(cache: Path, current: Path | None = None) -> list[CachedBuild]:
    """Return the builds in ``cache``, most recently used first.

    A build is a folder holding ``meta.json``; staging and set-aside folders of builds in
    progress or killed are not builds (``prune`` removes the old ones), nor are symbolic links
    (a link to a build would count it twice, and pruning would leave the link dangling).
    ``current``: the folder of the build of the current sources (marked, and never pruned).
    """
    if not cache.is_dir():
        return []
    found = []
    for folder in cache.iterdir():
        meta = folder / "meta.json"
        if folder.name.startswith(".") or folder.is_symlink() or not meta.is_file():
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            sha256, version = str(data.get("sha256", "")), str(data.get("medkg_version", ""))
        except (OSError, ValueError, AttributeError):
            sha256, version = "", ""
        try:
            last_used = meta.stat().st_mtime
        except OSError:
            continue
        is_current = current is not None and folder.resolve() == current.resolve()
        found.append(CachedBuild(folder, sha256, version, _size(folder), last_used, is_current))
    return sorted(found, key=lambda b: (not b.current, -b.last_used, b.folder.name))


def mark_used(folder: Path, now: float | None = None) -> None:
    """Record that a process uses the build in ``folder`` (``meta.json``'s modification time).

    Done at most once an hour per build; a read-only cache is left as it is.
    """
    meta = folder / "meta.json"
    now = time.time() if now is None else now
    try:
        if now - meta.stat().st_mtime > _MARK_EVERY:
            os.utime(meta, (now, now))
    except OSError:
        pass


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune` did: the builds deleted (or, dry, to delete) and those it could not delete, with why."""

    deleted: list[CachedBuild]
    failed: list[tuple[CachedBuild, str]]


def prune(
    cache: Path, current: Path | None, *, keep: int = 2, dry_run: bool = False, now: float | None = None
) -> Pruned:
    """Delete the builds in ``cache`` but ``current`` and the ``keep`` most recently used others.

    Also deletes the staging and set-aside folders of builds killed more than an hour ago.
    A build that could not be deleted whole (permissions, a busy file system) is reported in
    :attr:`Pruned.failed`, never counted as deleted. A build that another process is still
    reading is not detected: it is kept only if it is among the ``keep`` most recently used.

    Raises:
        ValueError: if ``keep`` is negative.
    """
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, not {keep}")
    others = [b for b in cached_builds(cache, current) if not b.current]
    doomed = others[keep:]
    if dry_run:
        return Pruned(doomed, [])
    deleted, failed = [], []
    for build in doomed:
        try:
            shutil.rmtree(build.folder)
            deleted.append(build)
        except OSError as error:
            failed.append((build, f"{error.strerror or error}: {error.filename or build.folder}"))
    remove_leftovers(cache, now)
    return Pruned(deleted, failed)


def crowded_cache_hint(cache: Path) -> str | None:
    """Return a one-line suggestion to prune when ``cache`` holds more than ten builds, else None."""
    builds = cached_builds(cache)
    if len(builds) <= _BUILDS_BEFORE_HINT:
        return None
    megabytes = sum(b.size_bytes for b in builds) / 1e6
    return f"the cache {cache} holds {len(builds)} builds ({megabytes:,.0f} MB): 'medkg cache prune' deletes old ones"


def remove_leftovers(cache: Path, now: float | None = None, older_than: float = 3600) -> None:
    """Delete ``.build-*`` and ``.old-*`` folders left by builds killed more than ``older_than`` seconds ago."""
    now = time.time() if now is None else now
    if not cache.is_dir():
        return
    for pattern in _LEFTOVER_PATTERNS:
        for folder in cache.glob(pattern):
            try:
                if now - folder.stat().st_mtime > older_than:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue
