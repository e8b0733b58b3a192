"""``medkg build``: compile the edited sources into a cached, classified knowledge base.

Steps: read ``ontology/`` and ``kg/`` (tables compiled to RDF), classify with HermiT once,
materialise the inferred types and class hierarchy (completed by the interval subsumptions of
``queries/materialise/``, which HermiT may miss), and write four files to
``<cache>/<sha256 of the sources>/``:

* ``kb.nt`` - sources plus inferences: what the default engine queries;
* ``kb-sources.nt`` - the sources without inferences: what the ``owl`` engine queries after HermiT;
* ``kb-owl.nt`` - the reasoner's input (logical axioms only), for ``--engine owl``;
* ``meta.json`` - SHA-256 of the sources, medkg version, triple counts;

then the default engine's rule book (``rulebook.pickle``) and the catalogue of labels, rule
texts and names (``catalogue.pickle``), read from ``kb.nt`` by ``queries/compile`` and
``queries/catalogue`` (also recompiled on first use when missing or stale).

The build writes into a temporary folder and renames it into place only when complete, so a
build killed half-way leaves the previous build usable.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from . import __version__
from .build_cache import crowded_cache_hint, mark_used, remove_leftovers
from .cache import as_if_created
from .paths import cache_root, resource_root
from .queries import query_files, query_text
from .reasoner import as_triples, classify, reasoner_input, with_subsumptions
from .sources import SourceError, SourceSet, find_sources, load_sources
from .store import QueryStore

__all__ = [
    "BuiltKnowledgeBase",
    "DamagedBuildError",
    "build",
    "compile_caches",
    "current_build_folder",
    "ensure_built",
    "interval_subsumptions",
    "read_build",
]


@dataclass(frozen=True)
class BuiltKnowledgeBase:
    """Paths of a compiled knowledge base and its identity (``sha256`` of the edited sources)."""

    folder: Path
    sha256: str
    version: str

    @property
    def compiled(self) -> Path:
        """N-Triples of the sources plus HermiT's inferences."""
        return self.folder / "kb.nt"

    @property
    def sources(self) -> Path:
        """N-Triples of the sources alone (no inferences), for the ``owl`` engine's store."""
        return self.folder / "kb-sources.nt"

    @property
    def store_folder(self) -> Path:
        """On-disk pyoxigraph store of a large build (e.g. ``scripts/synth_kb.py``), used instead of ``kb.nt``."""
        return self.folder / "store"

    @property
    def large(self) -> bool:
        """Whether this build keeps its knowledge base in an on-disk store (rule texts then read on demand)."""
        return self.store_folder.is_dir()

    @property
    def reasoner_input(self) -> Path:
        """N-Triples the ``owl`` engine hands to HermiT with its patients."""
        return self.folder / "kb-owl.nt"


def _target(sources: SourceSet, cache: Path) -> Path:
    """Return the build folder of ``sources``, named by their hash, the medkg version and the build's own queries.

    A new medkg version, or a changed query of ``queries/materialise/``, may compile the same
    sources differently, so neither reuses an older build.
    """
    materialise = "".join(query_text(name, sources.root) for name in query_files("materialise", sources.root))
    key = hashlib.sha256(f"{sources.sha256}\n{__version__}\n{materialise}".encode()).hexdigest()
    return cache / key[:24]


def current_build_folder(root: Path | None = None, cache: Path | None = None) -> Path:
    """Return the folder where the build of the sources under ``root`` is (or would be) in ``cache``."""
    return _target(find_sources(root or resource_root()), cache or cache_root())


def build(
    root: Path | None = None,
    cache: Path | None = None,
    *,
    force: bool = False,
    quiet: bool = False,
    hint_crowded: bool = True,
) -> BuiltKnowledgeBase:
    """Compile the knowledge base under ``root`` into ``cache`` and return where it is.

    Args:
        root: folder with ``ontology/``, ``kg/``, ``queries/`` (default: :func:`resource_root`).
        cache: cache folder (default: :func:`cache_root`).
        force: rebuild even when a build for the same sources exists.
        quiet: print no progress on stderr.
        hint_crowded: after a new build, suggest pruning a cache of more than ten builds
            (``medkg build`` gives the hint itself, new build or not).

    Raises:
        medkg.reasoner.ReasonerError: if HermiT finds the knowledge base inconsistent.
        medkg.tables.TableError: for a malformed table.
        medkg.sources.SourceError: for bad Turtle, or a knowledge base failing one of :data:`BUILD_GATES`.
    """
    root = root or resource_root()
    cache = cache or cache_root()
    sources = find_sources(root)
    target = _target(sources, cache)
    if target.joinpath("meta.json").is_file() and not force:
        try:
            return read_build(target)
        except DamagedBuildError as error:  # written atomically, so damaged from outside: build it again
            if not quiet:
                print(f"medkg build: {error}; rebuilding", file=sys.stderr, flush=True)

    def say(message: str) -> None:
        if not quiet:
            print(f"medkg build: {message}", file=sys.stderr, flush=True)

    say(f"reading {len(sources.files)} source files from {root}")
    graph = load_sources(sources)
    owl_input = reasoner_input(graph)
    say(f"classifying {len(owl_input)} triples with HermiT (once per build)")
    inferred = as_triples(with_subsumptions(classify([owl_input]), interval_subsumptions(graph, root)))
    compiled = graph + inferred
    check_build_gates(compiled, root)

    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    as_if_created(staging)  # a shared cache's other users must be able to read the build
    try:
        compiled.serialize(staging / "kb.nt", format="nt", encoding="utf-8")
        owl_input.serialize(staging / "kb-owl.nt", format="nt", encoding="utf-8")
        graph.serialize(staging / "kb-sources.nt", format="nt", encoding="utf-8")
        meta = {
            "sha256": sources.sha256,
            "medkg_version": __version__,
            "triples": {"sources": len(graph), "inferred": len(inferred), "compiled": len(compiled)},
            "files": [path.relative_to(root).as_posix() for path in sources.files],
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        say("compiling the rule book and the catalogue (default engine)")
        compile_caches(BuiltKnowledgeBase(staging, sources.sha256, __version__), root)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    remove_leftovers(cache)
    say(f"built {target} ({len(compiled)} triples)")
    hint = crowded_cache_hint(cache) if hint_crowded else None
    if hint:
        say(hint)
    return read_build(target)


#: The quality gates (``queries/violations/``) every build passes: those that catch an edit that
#: would silently change what the rules do (a misspelt property drops a rule's condition, so the
#: rule fires for every patient; a misspelt IRI leaves a fact about nothing) and cost well under a
#: second on the built-in knowledge base. ``medkg validate`` runs them all, HermiT's and SHACL's.
BUILD_GATES = (
    "violations/undeclared-property-violation",
    "violations/dangling-iri-violation",
    "violations/rule-target-violation",
    "violations/population-definition-violation",
)


def check_build_gates(compiled: Graph, root: Path | None = None) -> None:
    """Refuse a knowledge base that fails one of :data:`BUILD_GATES` (rows returned).

    Raises:
        SourceError: naming the gate, its number of rows and the first few (``medkg validate`` lists all).
    """
    store = QueryStore.from_graph(compiled)
    for gate in BUILD_GATES:
        rows = store.select(query_text(gate, root))
        if rows:
            shown = "; ".join(
                ", ".join(f"{key}={str(value).rsplit('#', 1)[-1].rsplit('/', 1)[-1]}" for key, value in row.items())
                for row in rows[:3]
            )
            raise SourceError(
                f"the knowledge base fails the quality gate {gate} ({len(rows)} row(s)): {shown}"
                f"{' ...' if len(rows) > 3 else ''}; `medkg validate` explains each gate"
            )


def interval_subsumptions(graph: Graph, root: Path | None = None) -> list[tuple[str, str]]:
    """Return the ``(subclass, superclass)`` IRI pairs between populations defined by one numeric interval.

    The rows of ``queries/materialise/interval-subsumptions.rq`` over ``graph`` (the sources):
    sound subsumptions HermiT may miss (see that query), added to its hierarchy by :func:`build`.
    """
    rows = QueryStore.from_graph(graph).select(query_text("materialise/interval-subsumptions", root))
    return [(str(row["sub"]), str(row["super"])) for row in rows]


def compile_caches(built: BuiltKnowledgeBase, root: Path | None = None) -> dict[str, float]:
    """Write the default engine's rule book and the catalogue next to the build (each atomically).

    For a large build (an on-disk store, e.g. from ``scripts/synth_kb.py``) each step runs in a
    child process of its own: first the per-IRI catalogue file (``catalogue.sqlite``, step
    ``catalogue_file``) and the catalogue pickle (``catalogue``) side by side, the file's two
    groups of tables read by two processes (:data:`medkg.catalogue_file.GROUPS`), when the
    machine has two or more CPUs; then the rule book (``rulebook``) alone, the step that holds
    the most memory. Forks: call it where no other threads run. Returns, per step, its CPU
    seconds (its children's included) and, for a large build, its wall seconds
    (``<step>_wall_s``), the peak RSS in MB of its largest process (``<step>_peak_rss_mb``) and
    the sum of its processes' peaks (``<step>_peaks_sum_mb``). Caches that are current are kept.
    """
    if not built.large:
        return {step: _compile_step(built, root, step)[step] for step in ("catalogue", "rulebook")}
    spent: dict[str, float] = {}
    context = multiprocessing.get_context("fork")  # no re-import of the caller's main module
    jobs = os.cpu_count() or 1
    for steps in (("catalogue_file", "catalogue"), ("rulebook",)):
        with ProcessPoolExecutor(max_workers=min(jobs, len(steps)), mp_context=context) as children:
            running = [children.submit(_compile_step, built, root, step, jobs) for step in steps]
            for step in running:
                spent.update(step.result())
    return spent


def _compile_step(built: BuiltKnowledgeBase, root: Path | None, step: str, jobs: int = 1) -> dict[str, float]:
    """Compile one cache of the build; return its figures (see :func:`compile_caches`).

    ``step`` is ``catalogue_file`` (a large build's ``catalogue.sqlite``, written by ``jobs``
    processes), ``catalogue`` (the catalogue pickle; for a small build its whole catalogue) or
    ``rulebook``.
    """
    import resource

    from .knowledge_base import KnowledgeBase

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    kb = KnowledgeBase(built, root)
    clock, wall = cpu(), time.perf_counter()
    if step == "catalogue_file":
        kb.open_catalogue_file(jobs)
    elif step == "catalogue":
        _ = kb._saved_catalogue  # the catalogue pickle (a large build's per-IRI properties stay in the file)
    else:
        _ = kb.rulebook
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        step: round(cpu() - clock, 2),
        f"{step}_wall_s": round(time.perf_counter() - wall, 2),
        f"{step}_peak_rss_mb": round(max(own, children)),
        f"{step}_peaks_sum_mb": round(own + children),
    }


def _swap_into_place(staging: Path, target: Path) -> None:
    """Put the complete build ``staging`` at ``target``; an earlier build there stays whole until replaced.

    The earlier build is renamed aside (one rename), the new one renamed into place (one
    rename), and only then is the earlier one deleted: there is never a moment when ``target``
    holds a partial build, and no deletion happens before the new build is in place. If the
    second rename fails, the earlier build is renamed back. If another build of the same sources
    got there first, that one is kept and ``staging`` discarded.
    """
    aside_name = staging.with_name(staging.name.replace(".build-", ".old-", 1))
    aside: Path | None = aside_name
    try:
        os.replace(target, aside_name)
    except FileNotFoundError:
        aside = None
    try:
        os.replace(staging, target)
    except OSError:
        if aside is not None and not target.exists():
            os.replace(aside, target)
            raise
        if not target.joinpath("meta.json").is_file():
            raise
        shutil.rmtree(staging, ignore_errors=True)  # a concurrent build of the same sources is in place
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


class DamagedBuildError(FileNotFoundError):
    """A build folder whose ``meta.json`` cannot be read (a build is written atomically: damaged from outside)."""


def read_build(folder: Path) -> BuiltKnowledgeBase:
    """Return the build in ``folder`` (its ``meta.json``: sha256 and medkg version); mark it used.

    Marking use (:func:`medkg.build_cache.mark_used`, at most hourly) tells ``medkg cache prune``
    which builds are in use, whether a process found the build by its sources or by ``MEDKG_KB``.

    Raises:
        FileNotFoundError: if ``folder`` holds no ``meta.json``.
        DamagedBuildError: if its ``meta.json`` is not a build's (not JSON, or without sha256 and version).
    """
    path = folder / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"not a medkg build (no meta.json): {folder}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        built = BuiltKnowledgeBase(folder, str(meta["sha256"]), str(meta["medkg_version"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedBuildError(
            f"the build in {folder} is damaged (meta.json unreadable: {error.__class__.__name__}); "
            "'medkg build --force' rebuilds it"
        ) from error
    mark_used(folder)
    return built


def ensure_built(root: Path | None = None, cache: Path | None = None) -> BuiltKnowledgeBase:
    """Return the build for the current sources, building it first (with progress) if missing."""
    return build(root, cache, force=False)
