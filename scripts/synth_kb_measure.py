"""Measure loading and warm per-patient checks on a large build (e.g. from ``scripts/synth_kb.py``).

MEDKG_KB=/tmp/synth-kb python scripts/synth_kb_measure.py [--patients 200] [--seed 1]

Loads the build named by ``MEDKG_KB`` (its rule book and catalogue, compiled first if missing),
checks one patient, then times ``medkg.check`` on the others: each a patient aged 80 with a
creatinine clearance of 25 mL/min taking 2-10 drugs drawn from the build's drug names. Prints
one JSON line: load time (wall and CPU s), peak RSS (MB), warm per-patient p50/p95 in wall
and CPU milliseconds, and the 1-minute load average (the CPU figures are what counts on a
shared machine). The patients are synthetic; the figures say nothing clinical.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time

from medkg import check
from medkg.knowledge_base import default_knowledge_base


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(len(ordered) * 0.95)], 2)}


def main() -> None:
    """Parse the arguments, measure, and print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200, help="patients to check (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    if not os.environ.get("MEDKG_KB"):
        parser.error("set MEDKG_KB to the build folder")
    wall, cpu = time.perf_counter(), time.process_time()
    kb = default_knowledge_base()
    _ = kb.rulebook, kb.drug_names
    load = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    names = sorted(kb.drug_names)
    pick = random.Random(args.seed)
    patients = [
        {
            "id": f"p{number}",
            "age_years": 80,
            "crcl_ml_min": 25,
            "medications": [{"drug": name} for name in pick.sample(names, pick.randint(2, 10))],
        }
        for number in range(args.patients)
    ]
    check(patients[0], kb=kb)
    walls, cpus = [], []
    for patient in patients[1:]:
        wall, cpu = time.perf_counter(), time.process_time()
        check(patient, kb=kb)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    figures = {
        "build": os.environ["MEDKG_KB"],
        "load": load,
        "warm_ms": {"wall": _percentiles(walls), "cpu": _percentiles(cpus)},
        "patients": len(walls),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
