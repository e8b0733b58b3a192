"""Time a batch of generated patients in one process and on a local Dask cluster; print the figures.

python scripts/bench_distributed.py --count 2000 --workers 2

Both runs read the same NDJSON lines with the client's knowledge base (loaded before timing)
and must give identical records. The Dask time includes starting and stopping the cluster and
each worker loading the knowledge base. CPU times (client process, each worker) show the cost of
distribution on a machine busy with other work, where wall times do not. Prints a table and, last,
one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from collections.abc import Iterable
from typing import Any

from medkg.batch import batch_items, check_batch
from medkg.distributed import check_batch_distributed, dask_client, worker_status
from medkg.knowledge_base import default_knowledge_base
from medkg.synthetic import generate_patient_dicts


def _digests(records: Iterable[dict[str, Any]]) -> list[str]:
    """One SHA-256 per record (the records themselves are not kept)."""
    return [hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest() for r in records]


def main() -> None:
    """Parse the arguments, run both batches, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="generated patients (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    parser.add_argument("--partition-size", type=int, default=200, help="patients per task (default 200)")
    args = parser.parse_args()

    kb = default_knowledge_base()
    kb.knows_drug("warfarin")  # load the client's knowledge base before timing
    lines = [json.dumps(p) for p in generate_patient_dicts(args.count, seed=7, kb=kb, max_drugs=10)]

    started, cpu = time.perf_counter(), time.process_time()
    single = _digests(check_batch(batch_items("bench", lines, known=kb.knows_drug), kb=kb))
    single_s, single_cpu_s = time.perf_counter() - started, time.process_time() - cpu

    started, cpu = time.perf_counter(), time.process_time()
    with dask_client(f"local:{args.workers}") as client:
        ready_s = time.perf_counter() - started
        checking = time.perf_counter()
        items = batch_items("bench", lines, known=kb.knows_drug)
        distributed = _digests(check_batch_distributed(items, client, kb=kb, partition_size=args.partition_size))
        checking_s = time.perf_counter() - checking
        workers = list(client.run(worker_status).values())
    dask_s, client_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    worker_cpu_s = [round(w["cpu_s"], 1) for w in workers]

    figures = {
        "patients": args.count,
        "workers": args.workers,
        "partition_size": args.partition_size,
        "single_process_s": round(single_s, 1),
        "dask_total_s": round(dask_s, 1),
        "dask_cluster_start_s": round(ready_s, 1),
        "dask_checking_s": round(checking_s, 1),
        "speedup": round(single_s / dask_s, 2),
        "single_process_cpu_s": round(single_cpu_s, 1),
        "dask_client_cpu_s": round(client_cpu_s, 1),
        "worker_cpu_s": worker_cpu_s,
        "worker_peak_rss_mb": [round(w["peak_rss_mb"]) for w in workers],
        "worker_partitions": [w["partitions"] for w in workers],
        "identical_records": single == distributed,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
    }
    print(f"{args.count} generated patients; the same records from both runs: {single == distributed}")
    print(f"  single process        {single_s:8.1f} s  {args.count / single_s:7.1f} patients/s")
    print(
        f"  dask local:{args.workers:<10} {dask_s:8.1f} s  {args.count / dask_s:7.1f} patients/s"
        f"  (cluster start {ready_s:.1f} s, checking {checking_s:.1f} s)"
    )
    print(
        f"  CPU time: single process {single_cpu_s:.1f} s; dask client {client_cpu_s:.1f} s, workers {worker_cpu_s} s"
    )
    print(
        f"  worker peak RSS (MiB) {figures['worker_peak_rss_mb']}; partitions per worker {figures['worker_partitions']}"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
