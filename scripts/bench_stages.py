"""Where a batch's CPU time goes: each step of checking a patient, timed apart (profile before you optimise).

    python scripts/bench_stages.py [--count 5000] [--chunk 200] [--seed 11]

Generates ``count`` patients of 2-10 drugs (as scripts/bench.py) and runs the steps of
``medkg check --batch`` one after another on each chunk, with the cyclic collector paused as
the batch path pauses it (:mod:`medkg.gc_pause`): read (JSON decode and validation), patient
triples, rule evaluation (classification and every rule), findings, report models, JSON line.
The caches start cold, as in a new batch process. Prints CPU milliseconds per patient per
step, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

from medkg.batch import BatchRecord, raw_inputs, read_input
from medkg.check import build_report
from medkg.engines import get_engine
from medkg.findings import finding_json_of, findings_from_rows
from medkg.gc_pause import cyclic_gc_paused
from medkg.knowledge_base import default_knowledge_base
from medkg.patient_graph import patient_graph
from medkg.synthetic import generate_patient_dicts


def main() -> None:
    """Parse the arguments, time the steps and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="patients (default 5000)")
    parser.add_argument("--chunk", type=int, default=200, help="patients checked together (default 200, as the CLI)")
    parser.add_argument("--seed", type=int, default=11, help="patient generator seed (default 11)")
    args = parser.parse_args()
    if args.count < 1 or args.chunk < 1:
        parser.error("--count and --chunk must be at least 1")
    kb = default_knowledge_base()
    kb.rulebook, kb.drug_names  # noqa: B018 - loaded before timing
    lines = [json.dumps(p) for p in generate_patient_dicts(args.count, seed=args.seed, kb=kb, max_drugs=10)]
    raws = list(raw_inputs("generated", lines))
    engine, finding_json = get_engine("default"), finding_json_of(kb)
    spent: dict[str, float] = defaultdict(float)

    def timed(step: str, started: float) -> None:
        spent[step] += time.process_time() - started

    for start in range(0, len(raws), args.chunk):
        chunk = raws[start : start + args.chunk]
        with cyclic_gc_paused():
            t = time.process_time()
            items = [item for item in (read_input(raw, kb.knows_drug) for raw in chunk) if item and item.patient]
            timed("read", t)
            t = time.process_time()
            graphs = [patient_graph(item.patient, kb, index=n) for n, item in enumerate(items) if item.patient]
            timed("patient triples", t)
            t = time.process_time()
            evaluation = engine.evaluate(kb, graphs)
            timed("rule evaluation", t)
            t = time.process_time()
            found = findings_from_rows(kb, evaluation.rows, graphs)
            timed("findings", t)
            t = time.process_time()
            reports = [
                build_report(kb, pg, found[str(pg.iri)], evaluation.populations.get(str(pg.iri), []), engine.name)
                for pg in graphs
            ]
            timed("report models", t)
            t = time.process_time()
            for item, report in zip(items, reports, strict=True):
                BatchRecord(item.source, report.exit_code, report=report).to_json(finding_json)
            timed("JSON line", t)
    total = sum(spent.values())
    for step, seconds in spent.items():
        print(f"{step:16s} {1000 * seconds / len(raws):7.3f} ms/patient  {100 * seconds / total:3.0f} %")
    print(f"{'total':16s} {1000 * total / len(raws):7.3f} ms/patient  ({len(raws) / total:.0f} patients/s of CPU)")
    figures = {step: round(1000 * seconds / len(raws), 4) for step, seconds in spent.items()}
    print(
        json.dumps({"patients": len(raws), "ms_per_patient": figures, "total_ms": round(1000 * total / len(raws), 4)})
    )


if __name__ == "__main__":
    main()
