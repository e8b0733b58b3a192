"""Benchmark medkg's engines on generated patients and print a table and one JSON line.

Measures, on the built-in knowledge base: warm per-patient latency of the default engine
(p50/p95), batch throughput (``check_many``), the owl engine's per-patient time (one HermiT
call per patient, and one call for a batch), and the cold start of ``medkg check``.
Patients are generated from the knowledge base's own drugs with a fixed seed.

    python scripts/bench.py            # fuller run
    python scripts/bench.py --quick    # about a minute
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

from medkg import check, check_many, load_patient
from medkg.knowledge_base import default_knowledge_base
from medkg.patient import Patient
from medkg.synthetic import generate_patient_dicts


def generate(count: int, seed: int = 7) -> list[Patient]:
    """``count`` validated patients with 2-8 knowledge-base drugs (see medkg.synthetic)."""
    return [load_patient(data) for data in generate_patient_dicts(count, seed=seed)]


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    args = parser.parse_args()
    single_n, batch_n, owl_n = (50, 500, 3) if args.quick else (300, 5000, 10)

    started = time.perf_counter()
    kb = default_knowledge_base()
    _ = kb.rules, kb.drug_names, kb.store
    load_s = time.perf_counter() - started

    patients = generate(max(single_n, batch_n))
    check(patients[0])  # warm up
    latencies = []
    for patient in patients[:single_n]:
        tick = time.perf_counter()
        check(patient)
        latencies.append((time.perf_counter() - tick) * 1000)

    tick = time.perf_counter()
    check_many(patients[:batch_n])
    batch_rate = batch_n / (time.perf_counter() - tick)

    owl_single = []
    for patient in patients[:owl_n]:
        tick = time.perf_counter()
        check(patient, engine="owl")
        owl_single.append(time.perf_counter() - tick)
    tick = time.perf_counter()
    check_many(patients[: owl_n * 10], engine="owl")
    owl_batch_rate = owl_n * 10 / (time.perf_counter() - tick)

    tick = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "medkg.cli", "check", "--example", "baclofen-trazodone"],
        capture_output=True,
        check=False,
    )
    cold_s = time.perf_counter() - tick

    figures = {
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "kb_load_s": round(load_s, 3),
        "default_p50_ms": round(statistics.median(latencies), 2),
        "default_p95_ms": round(percentile(latencies, 0.95), 2),
        "default_batch_patients_per_s": round(batch_rate, 1),
        "owl_per_patient_s": round(statistics.median(owl_single), 2),
        "owl_batch_patients_per_s": round(owl_batch_rate, 2),
        "cold_start_check_s": round(cold_s, 2),
        "patients": {"single": single_n, "batch": batch_n, "owl": owl_n, "owl_batch": owl_n * 10},
    }
    rows = [
        ("knowledge base load (s)", figures["kb_load_s"]),
        ("default engine, warm, p50 per patient (ms)", figures["default_p50_ms"]),
        ("default engine, warm, p95 per patient (ms)", figures["default_p95_ms"]),
        ("default engine, batch (patients/s)", figures["default_batch_patients_per_s"]),
        ("owl engine, one patient per HermiT call (s)", figures["owl_per_patient_s"]),
        ("owl engine, one HermiT call per batch (patients/s)", figures["owl_batch_patients_per_s"]),
        ("cold start of `medkg check --example` (s)", figures["cold_start_check_s"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
