"""Cache files next to a build: pickles written atomically (a temporary file, then a rename).

Used for the compiled rule book (:mod:`medkg.rulebook`) and the catalogue
(:mod:`medkg.knowledge_base`); a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, value: object) -> None:
    """Pickle ``value`` to ``path`` through a temporary file and a rename.

    A folder that cannot be written (e.g. a read-only build) is skipped silently: the caller then
    recomputes the value in each process.
    """
    try:
        handle_fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        with os.fdopen(handle_fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        pass
