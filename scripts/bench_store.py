"""Per-patient latency and batch time of the sparql engine: embedded store vs a SPARQL endpoint.

    python scripts/bench_store.py --store http://127.0.0.1:18890/sparql [--patients 64] [--repeat 1]

Patients are the golden cases (tests/golden/cases), then generated ones if more are asked for.
The endpoint must hold the compiled knowledge base (scripts/virtuoso.sh load-kb) and take
updates (MEDKG_STORE_* variables, docs/stores.md). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from medkg import check_many, load_patient
from medkg.knowledge_base import KnowledgeBase, default_knowledge_base
from medkg.patient import Patient
from medkg.remote_store import open_store
from medkg.synthetic import generate_patient_dicts

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "cases"


def _patients(count: int) -> list[Patient]:
    cases = [json.loads(path.read_text(encoding="utf-8"))["patient"] for path in sorted(GOLDEN.glob("*.json"))]
    patients = [load_patient(case) for case in cases[:count]]
    if len(patients) < count:
        patients += [load_patient(p) for p in generate_patient_dicts(count - len(patients), seed=7, max_drugs=10)]
    return patients


def _measure(kb: KnowledgeBase, patients: list[Patient], repeat: int) -> dict[str, float]:
    check_many(patients[:1], engine="sparql", kb=kb)  # warm: catalogue read, connections open
    latencies = []
    for _ in range(repeat):
        for patient in patients:
            started = time.perf_counter()
            check_many([patient], engine="sparql", kb=kb)
            latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    check_many(patients, engine="sparql", kb=kb)
    batch = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "batch_s": round(batch, 2),
        "batch_patients_per_s": round(len(patients) / batch, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="SPARQL query endpoint holding the knowledge base")
    parser.add_argument("--patients", type=int, default=64, help="number of patients (default 64)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the patients for latency (default 1)")
    args = parser.parse_args()

    embedded = default_knowledge_base()
    remote = open_store(args.store, embedded.sha256)
    served = KnowledgeBase(embedded.built, embedded.root, store=remote)  # type: ignore[arg-type]
    patients = _patients(args.patients)
    figures = {"patients": len(patients), "embedded": _measure(embedded, patients, args.repeat)}
    figures["endpoint"] = _measure(served, patients, args.repeat)
    print(f"{'store':10} {'p50 ms':>8} {'p95 ms':>8} {'batch s':>8} {'patients/s':>11}")
    for name in ("embedded", "endpoint"):
        row = figures[name]
        assert isinstance(row, dict)
        print(f"{name:10} {row['p50_ms']:8} {row['p95_ms']:8} {row['batch_s']:8} {row['batch_patients_per_s']:11}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
