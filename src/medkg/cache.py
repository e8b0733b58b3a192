"""Cache files next to a build: pickles written atomically (a temporary file, then a rename).

Used for the compiled rule book (:mod:`medkg.rulebook`) and the catalogue
(:mod:`medkg.knowledge_base`); a reader never sees a half-written file, and the file gets the
permissions a plainly created one would (:func:`as_if_created`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

__all__ = ["as_if_created", "write_atomically"]


def _umask() -> int:
    """Return the process's file-mode creation mask (read, not changed, where Linux shows it)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief window for other threads)
    os.umask(mask)
    return mask


def as_if_created(path: Path) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would have: 0666/0777 less the umask.

    :func:`tempfile.mkstemp` and :func:`tempfile.mkdtemp` create files 0600 and folders 0700,
    which a file renamed into a shared cache (``MEDKG_CACHE_DIR`` on a shared folder, as
    ``docs/distributed.md`` suggests) would keep: other users could not read the build.
    """
    full = 0o777 if path.is_dir() else 0o666
    os.chmod(path, full & ~_umask())


def write_atomically(path: Path, value: object) -> None:
    """Pickle ``value`` to ``path`` through a temporary file and a rename.

    A folder that cannot be written (e.g. a read-only build) is skipped silently: the caller then
    recomputes the value in each process.
    """
    try:
        handle_fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        with os.fdopen(handle_fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        as_if_created(Path(temporary))
        os.replace(temporary, path)
    except OSError:
        pass
