"""Generate a DrugBank-scale synthetic knowledge base in medkg's terms, compiled into a pyoxigraph store.

python scripts/synth_kb.py --drugs 4000 --pairs 1000000 --out /tmp/synth-kb [--seed 1] [--compile] [--check]

Steps (progress on stderr, one JSON line of figures on stdout at the end):

1. read the real ``ontology/`` and the shared ``kg/`` vocabulary (effects, enzymes, populations,
   conditions, drug classes, sources) with rdflib;
2. generate drug profiles and an ATC-like class hierarchy (``scripts/synth_kb_drugs.py``);
3. classify ontology + drug profiles with HermiT exactly as ``medkg build`` does
   (``reasoner_input``, ``classify``, ``as_triples``): the rules are not given to the reasoner;
4. stream the sources, the inferences and the generated rules (``scripts/synth_kb_rules.py``,
   N-Triples text) into an on-disk pyoxigraph store with its bulk loader;
5. with ``--compile``, compile the default engine's caches next to it as its first use would
   (``medkg.build.compile_caches``: the catalogue file ``catalogue.sqlite``, the catalogue and
   the rule book), timed.

Output: ``DIR/store/`` (the store, everything in the default graph), ``DIR/kb-owl.nt`` (the
reasoner input) and ``DIR/meta.json``. The drugs, classes, sources and rules are synthetic
(IRIs under https://w3id.org/medkg/synthetic/, codes prefixed ``synthetic:``): they are for
benchmarks only and say nothing about real medicines.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyoxigraph
from rdflib import Graph

from medkg import __version__
from medkg.build import compile_caches, interval_subsumptions, read_build
from medkg.paths import resource_root
from medkg.reasoner import as_triples, classify, reasoner_input, with_subsumptions
from synth_kb_drugs import SYN, generate_drugs
from synth_kb_realise import classify_by_profile
from synth_kb_rules import RuleCounts, rule_chunks
from synth_kb_vocabulary import read_vocabulary, shared_files

GENERATOR_FILES = (
    "synth_kb.py",
    "synth_kb_drugs.py",
    "synth_kb_realise.py",
    "synth_kb_rules.py",
    "synth_kb_vocabulary.py",
)


class _Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"synth_kb [{time.perf_counter() - self.start:7.1f} s] {message}", file=sys.stderr, flush=True)


class _ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks (for the bulk loader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self.bytes_read += size
        return size


def _identity(files: list[Path], params: dict[str, object]) -> str:
    """SHA-256 of the generator's parameters, seed, medkg version, the generator and the real files used."""
    digest = hashlib.sha256()
    digest.update(json.dumps({**params, "medkg": __version__}, sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    for path in [here / name for name in GENERATOR_FILES] + files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _cpu_s() -> float:
    """CPU seconds used so far by this process (all threads) and its finished children (HermiT's JVM)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def generate(
    root: Path, out: Path, *, drugs: int, pairs: int, seed: int, realise: str = "profiles", quiet: bool = False
) -> dict[str, object]:
    """Generate the synthetic knowledge base into ``out`` and return the figures of the run.

    ``realise`` is ``"profiles"`` (one prototype per distinct logical profile:
    ``scripts/synth_kb_realise.py``) or ``"each"`` (HermiT classifies every drug, as ``medkg build`` does).

    Raises:
        FileExistsError: if ``out`` exists and is not empty.
        medkg.reasoner.ReasonerError: if HermiT fails or finds the drug profiles inconsistent.
        ValueError: if more pairs are asked than the drugs allow.
    """
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty (use --force to replace it)")
    progress = _Progress(quiet)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), _cpu_s()

    files = shared_files(root)
    shared = Graph()
    for path in files:
        shared.parse(path, format="turtle")
    vocabulary = read_vocabulary(shared)
    profiles, catalogue = generate_drugs(vocabulary, drugs, random.Random(seed))
    sources = shared + profiles
    progress.say(
        f"generated {drugs} drugs, {sum(map(len, catalogue.classes_by_level))} classes "
        f"({len(profiles)} triples) over {len(shared)} triples of real vocabulary from {len(files)} files"
    )
    timings["generate_profiles_s"] = time.perf_counter() - started
    cpu["generate_profiles_s"] = _cpu_s() - cpu_started

    clock, cpu_clock = time.perf_counter(), _cpu_s()
    owl_input = reasoner_input(sources)
    prototypes = None
    if realise == "profiles":
        progress.say("classifying ontology + class hierarchy + one prototype per drug profile with HermiT (no rules)")
        inferred, prototypes, reasoned = classify_by_profile(shared, profiles, catalogue)
        progress.say(f"{prototypes} distinct profiles for {drugs} drugs ({reasoned} triples given to HermiT)")
    else:
        progress.say(f"classifying {len(owl_input)} triples with HermiT (ontology + drug profiles, no rules)")
        inferred = as_triples(with_subsumptions(classify([owl_input]), interval_subsumptions(shared)))
    timings["classify_s"] = time.perf_counter() - clock
    cpu["classify_s"] = _cpu_s() - cpu_clock
    progress.say(f"HermiT inferred {len(inferred)} triples in {timings['classify_s']:.1f} s")

    out.mkdir(parents=True, exist_ok=True)
    owl_input.serialize(out / "kb-owl.nt", format="nt", encoding="utf-8")
    static = (sources + inferred).serialize(format="nt", encoding="utf-8")

    clock, cpu_clock = time.perf_counter(), _cpu_s()
    counts = RuleCounts()
    chunks = rule_chunks(catalogue, vocabulary, pairs, seed, counts)

    def timed(stream: Iterator[bytes]) -> Iterator[bytes]:
        for number, chunk in enumerate(stream):
            if number and number % 10 == 0:
                progress.say(f"loading: {number} chunks ({reader.bytes_read / 1e6:.0f} MB) read by the bulk loader")
            yield chunk

    store = pyoxigraph.Store(str(out / "store"))
    reader = _ChunkReader(timed(itertools.chain([static], chunks)))
    progress.say(
        f"streaming {len(sources) + len(inferred)} source and inferred triples and {pairs} pair rules into the store"
    )
    store.bulk_load(io.BufferedReader(reader, 1 << 20), pyoxigraph.RdfFormat.N_TRIPLES)
    store.flush()
    timings["generate_and_load_rules_s"] = time.perf_counter() - clock
    cpu["generate_and_load_rules_s"] = _cpu_s() - cpu_clock
    progress.say(
        f"loaded {reader.bytes_read / 1e6:.0f} MB of N-Triples in {timings['generate_and_load_rules_s']:.1f} s"
    )
    # compact the bulk-loaded files: reads of a freshly bulk-loaded store cost about 4x more CPU
    # per term (measured: 87 vs 20 us per quad read back on the 12 M-triple store)
    clock, cpu_clock = time.perf_counter(), _cpu_s()
    progress.say("compacting the store (optimize)")
    store.optimize()
    timings["optimize_s"] = time.perf_counter() - clock
    cpu["optimize_s"] = _cpu_s() - cpu_clock
    clock = time.perf_counter()
    compiled = len(store)
    timings["count_s"] = time.perf_counter() - clock
    del store

    meta = {
        "sha256": _identity(files, {"drugs": drugs, "pairs": pairs, "seed": seed, "realise": realise}),
        "medkg_version": __version__,
        "triples": {"sources": len(sources) + counts.triples, "inferred": len(inferred), "compiled": compiled},
        "files": [],
        "synthetic": {
            "drugs": drugs,
            "pairs": pairs,
            "seed": seed,
            "realise": realise,
            "prototypes": prototypes,
            "rules": counts.by_kind,
            "namespace": str(SYN),
        },
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    timings["total_s"] = time.perf_counter() - started
    cpu["total_s"] = _cpu_s() - cpu_started
    figures: dict[str, object] = {
        "drugs": drugs,
        "pairs": pairs,
        "seed": seed,
        "realise": realise,
        "timings_s": {k.removesuffix("_s"): round(v, 2) for k, v in timings.items()},
        "cpu_s": {k.removesuffix("_s"): round(v, 2) for k, v in cpu.items()},
        "load_average_1min": round(os.getloadavg()[0], 1),
        "triples": meta["triples"],
        "rules": counts.by_kind,
        "nt_mb": round(reader.bytes_read / 1e6, 1),
        "store_mb": round(_folder_size(out / "store") / 1e6, 1),
        "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_SELF),
        "peak_rss_children_mb": _peak_rss_mb(resource.RUSAGE_CHILDREN),
    }
    progress.say(f"done: {compiled} triples, store {figures['store_mb']} MB, in {timings['total_s']:.1f} s")
    return figures


def compile_build(out: Path, root: Path) -> dict[str, object]:
    """Compile the default engine's caches next to the generated build, as its first use would.

    Runs :func:`medkg.build.compile_caches` in a new (spawned) process. Returns per step
    (catalogue file and catalogue pickle side by side, then the rule book; see there) its CPU
    seconds, wall seconds, the peak RSS of its largest process and the sum of its processes'
    peaks; the total wall time and the sizes of the files written.
    """
    clock = time.perf_counter()
    # a fresh process, so that the generator's memory is not counted in the compile's peaks
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as fresh:
        spent = fresh.submit(compile_caches, read_build(out), root).result()
    names = ("catalogue.sqlite", "catalogue.pickle", "rulebook.pickle")
    steps = ("catalogue_file", "catalogue", "rulebook")

    def per_step(suffix: str) -> dict[str, float]:
        return {step: spent[f"{step}{suffix}"] for step in steps if f"{step}{suffix}" in spent}

    return {
        "cpu_s": per_step(""),
        "step_wall_s": per_step("_wall_s"),
        "wall_s": round(time.perf_counter() - clock, 2),
        "peak_rss_mb": per_step("_peak_rss_mb"),
        "peaks_sum_mb": per_step("_peaks_sum_mb"),
        "files_mb": {name: round((out / name).stat().st_size / 1e6, 1) for name in names if (out / name).is_file()},
    }


def check_pair_query(root: Path, out: Path, pair_rule_number: int = 1) -> dict[str, object]:
    """Run ``queries/rules/pair-rule.rq`` on a writable copy of ``out/store`` for a two-drug patient.

    The patient takes the object and precipitant drug of pair rule ``pair_rule_number`` (read
    from the store); their triples go into a named graph of the copy, and the query reads the
    default graph and that graph together. Returns the rules found, the expected rule, and timings.
    """
    store_dir = out / "store"
    query = (root / "queries" / "rules" / "pair-rule.rq").read_text(encoding="utf-8")
    rule = pyoxigraph.NamedNode(f"{SYN}rule/pair-{pair_rule_number:07d}")
    medkg = "https://w3id.org/medkg/ontology#"
    with tempfile.TemporaryDirectory(prefix="synth-kb-check-") as tmp:
        clock = time.perf_counter()
        shutil.copytree(store_dir, Path(tmp) / "store")
        copy_s = time.perf_counter() - clock
        store = pyoxigraph.Store(str(Path(tmp) / "store"))
        drugs = [
            next(store.quads_for_pattern(rule, pyoxigraph.NamedNode(medkg + name), None)).object
            for name in ("objectDrug", "precipitantDrug")
        ]
        graph = pyoxigraph.NamedNode("https://w3id.org/medkg/patient/graph/check")
        patient = pyoxigraph.NamedNode("https://w3id.org/medkg/patient/check-p1")
        rdf_type = pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
        quads = [pyoxigraph.Quad(patient, rdf_type, pyoxigraph.NamedNode(medkg + "Patient"), graph)]
        for number, drug in enumerate(drugs, start=1):
            use = pyoxigraph.NamedNode(f"https://w3id.org/medkg/patient/check-p1/use{number}")
            quads.append(pyoxigraph.Quad(patient, pyoxigraph.NamedNode(medkg + "takesMedication"), use, graph))
            quads.append(pyoxigraph.Quad(use, pyoxigraph.NamedNode(medkg + "ofDrug"), drug, graph))
        store.extend(quads)
        clock = time.perf_counter()
        result = store.query(query, default_graph=[pyoxigraph.DefaultGraph(), graph])
        assert isinstance(result, pyoxigraph.QuerySolutions)
        rows = list(result)
        query_s = time.perf_counter() - clock
        found = sorted({row["rule"].value for row in rows})
        del store
    return {
        "expected_rule": rule.value,
        "found_rules": found,
        "ok": rule.value in found,
        "copy_s": round(copy_s, 2),
        "query_s": round(query_s, 3),
    }


def main() -> None:
    """Parse the arguments, generate the knowledge base and print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drugs", type=int, default=4000, help="number of synthetic drugs (default 4000)")
    parser.add_argument("--pairs", type=int, default=1_000_000, help="number of pairwise rules (default 1000000)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (must be empty or missing)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    parser.add_argument(
        "--check", action="store_true", help="afterwards run pair-rule.rq for a 2-drug patient on a copy"
    )
    parser.add_argument(
        "--realise",
        choices=("profiles", "each"),
        default="profiles",
        help="profiles (default): HermiT classifies one prototype per distinct drug profile, whose types each drug "
        "of that profile gets (same types, minutes faster at 4,000 drugs); each: HermiT classifies every drug, "
        "as medkg build does",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="afterwards compile the default engine's caches (catalogue file, catalogue, rule book) as on first use",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args()
    root = resource_root()
    if args.force and args.out.exists():
        shutil.rmtree(args.out)
    figures = generate(
        root, args.out, drugs=args.drugs, pairs=args.pairs, seed=args.seed, realise=args.realise, quiet=args.quiet
    )
    if args.compile:
        figures["compile"] = compile_build(args.out, root)
    if args.check:
        figures["check"] = check_pair_query(root, args.out)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
