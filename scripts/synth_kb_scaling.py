"""Measure how HermiT classification time grows with the synthetic knowledge base.

python scripts/synth_kb_scaling.py --sizes 250,500,1000,2000,4000 [--pairs-at 1000 --pairs 10000] [--timeout 900]

For each number of drugs: the real ontology and shared ``kg/`` vocabulary plus that many
synthetic drug profiles (``scripts/synth_kb_drugs.py``) go through ``medkg.reasoner``
(``reasoner_input`` then ``classify``), as ``medkg build`` does. With ``--pairs``, one more run
adds that many synthetic rules to the reasoner input, to show why medkg keeps rules away from the
reasoner. Each run is a child process killed after ``--timeout`` seconds. Prints a table on
stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import time
from pathlib import Path

from rdflib import Graph

from medkg.paths import resource_root
from medkg.reasoner import classify, reasoner_input
from synth_kb_drugs import generate_drugs
from synth_kb_rules import RuleCounts, rule_chunks
from synth_kb_vocabulary import read_vocabulary, shared_files


def _run(root: Path, drugs: int, pairs: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.setpgrp()  # its own process group, so a timeout also stops HermiT's JVM
    shared = Graph()
    for path in shared_files(root):
        shared.parse(path, format="turtle")
    vocabulary = read_vocabulary(shared)
    profiles, catalogue = generate_drugs(vocabulary, drugs, random.Random(1))
    graph = shared + profiles
    if pairs:
        for chunk in rule_chunks(catalogue, vocabulary, pairs, 1, RuleCounts()):
            graph.parse(data=chunk.decode("utf-8"), format="nt")
    owl_input = reasoner_input(graph)
    clock = time.perf_counter()
    classification = classify([owl_input])
    seconds = time.perf_counter() - clock
    java = resource.getrusage(resource.RUSAGE_CHILDREN)
    queue.put(
        {
            "drugs": drugs,
            "pairs": pairs,
            "input_triples": len(owl_input),
            "individuals": len(classification.types),
            "classify_s": round(seconds, 1),
            "java_cpu_s": round(java.ru_utime + java.ru_stime, 1),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "java_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }
    )


def measure(root: Path, drugs: int, pairs: int, timeout: float) -> dict[str, object]:
    """Classify ontology + ``drugs`` profiles (+ ``pairs`` rules) in a child process; ``None`` time on timeout."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(target=_run, args=(root, drugs, pairs, queue))
    clock = time.perf_counter()
    process.start()
    process.join(timeout)
    if process.is_alive():
        if process.pid is not None:
            os.killpg(process.pid, signal.SIGKILL)
        process.join()
        return {"drugs": drugs, "pairs": pairs, "classify_s": None, "note": f"stopped after {timeout:.0f} s"}
    result: dict[str, object] = queue.get() if not queue.empty() else {"drugs": drugs, "pairs": pairs, "error": True}
    result["wall_s"] = round(time.perf_counter() - clock, 1)
    return result


def main() -> None:
    """Parse the arguments, run the measurements and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,500,1000,2000,4000", help="drug counts, comma-separated")
    parser.add_argument("--pairs", type=int, default=0, help="also run once with this many rules in the input")
    parser.add_argument("--pairs-at", type=int, default=1000, help="drug count of the run with rules")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a run is stopped")
    args = parser.parse_args()
    root = resource_root()
    runs = [(int(size), 0) for size in args.sizes.split(",") if size]
    if args.pairs:
        runs.append((args.pairs_at, args.pairs))
    results = []
    for drugs, pairs in runs:
        result = measure(root, drugs, pairs, args.timeout)
        print(json.dumps(result), file=sys.stderr, flush=True)
        results.append(result)
    print("drugs  rules  input triples  classify s  java CPU s", file=sys.stderr)
    for r in results:
        print(
            f"{r['drugs']:>5}  {r['pairs']:>5}  {r.get('input_triples', '-'):>13}  {r.get('classify_s')}  {r.get('java_cpu_s')}",
            file=sys.stderr,
        )
    print(json.dumps({"hermit_scaling": results}))


if __name__ == "__main__":
    main()
