"""Benchmark medkg's engines side by side on the same knowledge base and patients.

Builds its inputs (generated patients from the knowledge base's own drugs, fixed seed, 2-10
drugs each, as the issue's batch target states), then measures in one run:

* ``default`` (compiled rule book): warm per-patient latency p50/p95, batch throughput in
  process (``check_many``) and end to end (``medkg check --batch`` on an NDJSON file, full JSON
  reports written, process start included; with ``--jobs 1`` and ``--jobs <CPUs>``);
* ``sparql``: the rule queries on the embedded pyoxigraph store (per patient, and batched);
* ``rdflib``: the same queries on plain rdflib (batched; pure-Python SPARQL);
* ``owl``: HermiT per call - per patient (its per-patient module extract) and batched;
* cold start of ``medkg check`` (new process, one patient), knowledge-base load time and peak
  RSS of a fresh process that loads it, and the findings agreement of default and owl on the
  patients of the owl batch (``--owl-batch N``: the sample size).

Prints a table and, last, one JSON line with the figures. ``--quick`` finishes in under two
minutes on a 2-core machine: smaller sizes, and no rdflib row (its queries take about 100 s
for any number of patients; the full run measures it). ``MEDKG_KB=<build folder>`` benchmarks another build (e.g. from
``scripts/synth_kb.py``; the sparql, rdflib and owl rows are then skipped: the generic queries
start from the rules and take minutes per patient there, and HermiT and rdflib cannot hold it).

    python scripts/bench.py --quick
    python scripts/bench.py                  # the figures in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medkg import check, check_many, load_patient
from medkg.knowledge_base import KnowledgeBase, default_knowledge_base
from medkg.native import build_description, compiled_modules
from medkg.patient import Patient
from medkg.report import Report
from medkg.synthetic import generate_patient_dicts

LOAD_PROBE = """
import json, resource, sys, time
started = time.perf_counter()
from medkg.knowledge_base import default_knowledge_base
kb = default_knowledge_base()
kb.rulebook, kb.rules, kb.labels, kb.drug_names
print(json.dumps({"load_s": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def percentile(values: list[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def per_patient_ms(run: Callable[[Patient], object], patients: list[Patient]) -> list[float]:
    """Time ``run`` on each patient; milliseconds each."""
    times = []
    for patient in patients:
        tick = time.perf_counter()
        run(patient)
        times.append((time.perf_counter() - tick) * 1000)
    return times


def batch_rate(run: Callable[[list[Patient]], object], patients: list[Patient]) -> float:
    """Patients per second of one call of ``run`` on all ``patients``."""
    tick = time.perf_counter()
    run(patients)
    return len(patients) / (time.perf_counter() - tick)


def medkg_command(*args: str) -> list[str]:
    """The ``medkg`` command line run with this interpreter."""
    return [sys.executable, "-m", "medkg.cli", *args]


def timed_process(command: list[str]) -> float:
    """Wall seconds of a subprocess (its exit code 0-1 is fine: 1 means findings)."""
    tick = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - tick
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-800:]}")
    return elapsed


def rdflib_rate(kb: KnowledgeBase, patients: list[Patient]) -> float:
    """Patients per second of the sparql engine's queries on plain rdflib (one batch)."""
    from medkg.rdflib_store import RdflibStore

    on_rdflib = KnowledgeBase(kb.built, kb.root, store=RdflibStore.from_file(kb.built.compiled))  # type: ignore[arg-type]
    return batch_rate(lambda ps: check_many(ps, kb=on_rdflib, engine="sparql"), patients)


def same_findings(kb: KnowledgeBase, patients: list[Patient], theirs: list[Report]) -> tuple[int, int]:
    """(patients whose findings and populations are identical in the default engine and ``theirs``, compared)."""
    ours = check_many(patients, kb=kb)
    equal = sum(a.findings == b.findings and a.patient == b.patient for a, b in zip(ours, theirs, strict=True))
    return equal, len(patients)


def say(message: str) -> None:
    """Progress on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "java": java[0] if java else None,
        "platform": platform.platform(),
        "load_average_1m": os.getloadavg()[0],
        # the optional native build (medkg.native): [] when every module runs as Python
        "compiled_modules": compiled_modules(),
    }


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under two minutes)")
    parser.add_argument("--seed", type=int, default=7, help="patient generator seed (default 7)")
    parser.add_argument("--owl-batch", type=int, help="patients in the owl engine's batch (also the agreement sample)")
    args = parser.parse_args()
    large = bool(os.environ.get("MEDKG_KB"))
    sizes = (
        # quick: no rdflib (its queries take about 100 s whatever the number of patients; the full run has it)
        {"single": 200, "batch": 2000, "e2e": 2000, "sparql": 20, "rdflib": 0, "owl": 2, "owl_batch": 10}
        if args.quick
        else {"single": 1000, "batch": 10000, "e2e": 10000, "sparql": 100, "rdflib": 5, "owl": 10, "owl_batch": 50}
    )
    if args.owl_batch:
        sizes["owl_batch"] = args.owl_batch
    figures: dict[str, Any] = {"quick": args.quick, "machine": machine(), "sizes": sizes}

    say("loading the knowledge base in a fresh process")
    probe = subprocess.run([sys.executable, "-c", LOAD_PROBE], capture_output=True, text=True, check=True)
    figures.update(json.loads(probe.stdout.splitlines()[-1]))

    kb = default_knowledge_base()
    figures["knowledge_base"] = {"sha256": kb.sha256, "rules": sum(map(len, kb.rulebook.rules.values()))}
    count = max(sizes["single"], sizes["batch"], sizes["e2e"])
    patients = [
        load_patient(d) for d in generate_patient_dicts(count, seed=args.seed, kb=kb, min_drugs=2, max_drugs=10)
    ]
    check(patients[0], kb=kb)

    say(f"default engine: {sizes['single']} single checks, a batch of {sizes['batch']}")
    single = per_patient_ms(lambda p: check(p, kb=kb), patients[: sizes["single"]])
    figures["default"] = {
        "p50_ms": statistics.median(single),
        "p95_ms": percentile(single, 0.95),
        "batch_per_s": batch_rate(lambda ps: check_many(ps, kb=kb), patients[: sizes["batch"]]),
    }

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "patients.ndjson"
        source.write_text(
            "".join(json.dumps(p.model_dump(mode="json")) + "\n" for p in patients[: sizes["e2e"]]), encoding="utf-8"
        )
        jobs = os.cpu_count() or 1
        for label, workers in (("e2e_batch_per_s", 1), ("e2e_batch_jobs_per_s", jobs)):
            say(f"end to end: medkg check --batch --jobs {workers} of {sizes['e2e']} patients (full JSON reports)")
            e2e = timed_process(
                medkg_command(
                    "check", "--batch", str(source), "--jobs", str(workers), "--output", str(Path(folder) / "out")
                )
            )
            figures["default"][label] = sizes["e2e"] / e2e
        figures["default"]["e2e_jobs"] = jobs
        one = Path(folder) / "one.json"
        one.write_text(json.dumps(patients[0].model_dump(mode="json")), encoding="utf-8")
        say("cold start: medkg check of one patient in a new process (3 runs)")
        figures["cold_start_s"] = statistics.median(
            timed_process(medkg_command("check", str(one), "--format", "json")) for _ in range(3)
        )

    if large:
        # the generic rule queries start from the rules, not from the patient's drugs: minutes per
        # patient at a million pair rules (docs/benchmarks-synthetic.md); HermiT and rdflib cannot hold it
        figures["skipped"] = ["sparql", "rdflib", "owl"]
        say("large build: sparql, rdflib and owl rows skipped")
    else:
        say(f"sparql engine (pyoxigraph): {sizes['sparql']} patients")
        few = patients[: sizes["sparql"]]
        sparql_single = per_patient_ms(lambda p: check(p, kb=kb, engine="sparql"), few[:10])
        figures["sparql"] = {
            "p50_ms": statistics.median(sparql_single),
            "batch_per_s": batch_rate(lambda ps: check_many(ps, kb=kb, engine="sparql"), few),
        }
        if sizes["rdflib"]:
            say(f"rdflib: the same queries on plain rdflib, {sizes['rdflib']} patients")
            figures["rdflib"] = {"batch_per_s": rdflib_rate(kb, patients[: sizes["rdflib"]])}
        else:
            figures["skipped"] = ["rdflib"]
            say("rdflib: skipped with --quick (about 100 s for any number of patients; the full run measures it)")
        say(f"owl engine (HermiT): {sizes['owl']} patients one by one, a batch of {sizes['owl_batch']}")
        owl_single = per_patient_ms(lambda p: check(p, kb=kb, engine="owl"), patients[: sizes["owl"]])
        owl_reports: list[Report] = []
        figures["owl"] = {
            "p50_ms": statistics.median(owl_single),
            "per_patient_per_s": 1000 / statistics.median(owl_single),
            "batch_per_s": batch_rate(
                lambda ps: owl_reports.extend(check_many(ps, kb=kb, engine="owl")), patients[: sizes["owl_batch"]]
            ),
        }
        equal, compared = same_findings(kb, patients[: sizes["owl_batch"]], owl_reports)
        figures["owl_agreement"] = {"identical": equal, "compared": compared}
        figures["speedup_default_batch_vs_owl_per_patient"] = (
            figures["default"]["batch_per_s"] / figures["owl"]["per_patient_per_s"]
        )
        figures["speedup_default_batch_vs_owl_batch"] = (
            figures["default"]["batch_per_s"] / figures["owl"]["batch_per_s"]
        )
    figures["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print_table(figures)
    print(json.dumps(figures, sort_keys=True))


def print_table(figures: dict[str, Any]) -> None:
    """Print the figures as an aligned table."""

    def fmt(value: object, unit: str = "") -> str:
        if value is None:
            return "-"
        return f"{value:,.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"

    jobs = figures["default"].get("e2e_jobs")
    rows = [("engine", "p50 ms", "p95 ms", "batch patients/s", "end-to-end patients/s", f"end to end, --jobs {jobs}")]
    for name in ("default", "sparql", "rdflib", "owl"):
        data = figures.get(name)
        if data:
            rows.append(
                (
                    name,
                    fmt(data.get("p50_ms")),
                    fmt(data.get("p95_ms")),
                    fmt(data.get("batch_per_s")),
                    fmt(data.get("e2e_batch_per_s")),
                    fmt(data.get("e2e_batch_jobs_per_s")),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if figures.get("skipped"):
        print(f"skipped: {', '.join(figures['skipped'])}")
    print(
        f"cold start of medkg check: {fmt(figures['cold_start_s'], ' s')}; knowledge-base load: "
        f"{fmt(figures['load_s'], ' s')}, peak RSS {fmt(figures['peak_rss_mb'], ' MB')}"
    )
    if "owl" in figures:
        print(
            f"default batch vs owl per patient: {fmt(figures['speedup_default_batch_vs_owl_per_patient'], 'x')}; "
            f"vs owl batched: {fmt(figures['speedup_default_batch_vs_owl_batch'], 'x')}; findings identical (default vs owl): "
            f"{figures['owl_agreement']['identical']}/{figures['owl_agreement']['compared']}"
        )
    build = build_description(figures["machine"].get("compiled_modules") or [])
    print(
        f"machine: {figures['machine']['cpus']} CPUs, {figures['machine']['memory_gib']} GiB, Python {figures['machine']['python']}, "
        f"load average {figures['machine']['load_average_1m']:.1f}; "
        f"build: {build}"
    )


if __name__ == "__main__":
    main()
