"""Which of medkg's modules this installation runs compiled: the optional native build.

``HATCH_BUILD_HOOK_ENABLE_MYPYC=true pip install .`` compiles the per-patient hot path (the
modules listed under ``[tool.hatch.build.targets.wheel.hooks.mypyc]`` in ``pyproject.toml``)
with mypyc into C extensions: the same source, about 1.4 times the batch rate end to end
(``docs/benchmarks.md``). A plain ``pip install .`` needs no C compiler and runs every module
as Python. ``tests/test_native_build.py`` checks that both builds give byte-identical batch
output.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

__all__ = ["build_description", "compiled_modules", "stale_compiled_modules"]

_PACKAGE = Path(__file__).resolve().parent


def _extensions() -> dict[str, Path]:
    """Map each compiled module of the package folder to its extension file."""
    found: dict[str, Path] = {}
    for path in _PACKAGE.iterdir():
        # the most specific suffix first (".cpython-311-x86_64-linux-gnu.so" before ".so")
        suffix = next((s for s in EXTENSION_SUFFIXES if path.name.endswith(s)), None)
        if suffix is not None:
            found[path.name.removesuffix(suffix)] = path
    return found


def compiled_modules() -> list[str]:
    """Return the names of medkg's modules that load from a compiled extension, sorted ([] for pure Python)."""
    return sorted(_extensions())


def build_description(modules: list[str] | None = None) -> str:
    """Say which build runs: ``"pure Python"`` or ``"native build, mypyc: compiled, findings, ..."``.

    ``modules``: the compiled modules (default: this installation's, :func:`compiled_modules`).
    """
    native = compiled_modules() if modules is None else modules
    return f"native build, mypyc: {', '.join(native)}" if native else "pure Python"


def stale_compiled_modules() -> list[str]:
    """Return the compiled modules whose ``.py`` source is newer than the extension (sorted).

    Python imports an extension before the ``.py`` file beside it, so after a native build in
    a source tree, edits to those modules have no effect until the extension is rebuilt or
    deleted (``hatch clean``, or delete ``src/medkg/*.so`` and ``src/*__mypyc*.so``). Only a
    source tree (``pyproject.toml`` above ``src/medkg``) is checked: an installed wheel's file
    times say when it was unpacked, not built.
    """
    if not (_PACKAGE.parent.parent / "pyproject.toml").exists():
        return []
    return sorted(
        name
        for name, extension in _extensions().items()
        if (source := _PACKAGE / f"{name}.py").exists() and source.stat().st_mtime > extension.stat().st_mtime
    )
