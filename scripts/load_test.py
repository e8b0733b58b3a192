"""Load test of ``medkg serve``: N concurrent clients on loopback, CDS Hooks plus a SPARQL mix.

Starts ``medkg serve`` on a free loopback port (or uses ``--url``), waits until it answers,
then runs ``--clients`` concurrent httpx clients over a fixed, shuffled list of requests:
``--cds`` CDS Hooks calls and ``--sparql`` SPARQL queries. The CDS Hooks requests are the
shared sample requests (``$MEDKG_SAMPLES`` or ``../shared/samples``; see its SOURCES.md), each
sent to the service of its hook with a fresh ``hookInstance``, or, when the samples are absent,
requests built from generated patients (medkg.synthetic: first drug drafted, the rest active).
The SPARQL queries are the example queries in ``queries/examples`` plus an ASK. The run is
bounded by the request count and by ``--max-seconds``.

Prints a table (requests, errors, throughput, p50/p99/max latency per endpoint) and one final
JSON line with the figures and the machine. An error is any status other than 200, a timeout
or a connection failure.

    python scripts/load_test.py                       # 50 clients, 1000 CDS Hooks + 200 SPARQL
    python scripts/load_test.py --cds 200 --sparql 50 # quicker
    python scripts/load_test.py --url http://127.0.0.1:8080   # against a running server
    MEDKG_SERVE_CDS_TIMEOUT_S=300 python scripts/load_test.py # the started server reads MEDKG_SERVE_* settings
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Job:
    """One request to send."""

    kind: str  # "cds" or "sparql"
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


@dataclass
class Tally:
    """Latencies (seconds) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def samples_dir() -> Path | None:
    """The shared samples folder, if present."""
    env = os.environ.get("MEDKG_SAMPLES")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "samples", Path("/work/shared/samples")]:
        if (candidate / "cds-hooks").is_dir():
            return candidate
    return None


_SERVICE_FOR_HOOK = {
    "order-select": "medkg-order-select",
    "order-sign": "medkg-order-sign",
    "patient-view": "medkg-patient-view",
    "medication-prescribe": "medkg-medication-prescribe",
}


def sample_requests(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(service id, request) for every CDS Hooks sample file (context-only files go to order-select)."""
    found = []
    for path in sorted((folder / "cds-hooks").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append((_SERVICE_FOR_HOOK.get(str(data.get("hook")), "medkg-order-select"), data))
    return found


def _order(number: int, drug: str, status: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "MedicationRequest",
            "id": f"m{number}",
            "status": status,
            "intent": "order",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": drug},
        }
    }


def generated_requests(count: int) -> list[tuple[str, dict[str, Any]]]:
    """Order-sign requests from generated patients: first drug drafted, the others active."""
    from medkg.synthetic import generate_patient_dicts

    requests = []
    for patient in generate_patient_dicts(count, seed=11):
        drugs = [m["drug"] for m in patient["medications"]]
        requests.append(
            (
                "medkg-order-sign",
                {
                    "hook": "order-sign",
                    "context": {
                        "patientId": "p",
                        "draftOrders": {"resourceType": "Bundle", "entry": [_order(0, drugs[0], "draft")]},
                    },
                    "prefetch": {
                        "medications": {
                            "resourceType": "Bundle",
                            "type": "searchset",
                            "entry": [_order(n, d, "active") for n, d in enumerate(drugs[1:], 1)],
                        }
                    },
                },
            )
        )
    return requests


def sparql_queries() -> list[str]:
    """The example queries (``queries/examples/*.rq``) and an ASK."""
    folder = REPO / "queries" / "examples"
    return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.rq"))] + ["ASK { ?s ?p ?o }"]


def build_jobs(cds: int, sparql: int, seed: int) -> tuple[list[Job], str]:
    """The shuffled request list and where the CDS Hooks requests came from."""
    folder = samples_dir()
    if folder is not None:
        pool, origin = sample_requests(folder), f"shared samples ({folder})"
    else:
        pool, origin = generated_requests(50), "generated patients (medkg.synthetic, seed 11)"
    jobs = []
    for number in range(cds):
        service, request = pool[number % len(pool)]
        body = {**request, "hookInstance": str(uuid.uuid4())}
        jobs.append(Job("cds", "POST", f"/cds-services/{service}", body=body))
    queries = sparql_queries()
    jobs += [Job("sparql", "GET", "/sparql", params={"query": queries[n % len(queries)]}) for n in range(sparql)]
    random.Random(seed).shuffle(jobs)
    return jobs, origin


async def run_jobs(url: str, jobs: list[Job], clients: int, max_seconds: float, timeout: float) -> dict[str, Tally]:
    """Send ``jobs`` with ``clients`` concurrent clients until done or ``max_seconds`` pass."""
    tallies = {"cds": Tally(), "sparql": Tally()}
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    deadline = time.monotonic() + max_seconds
    # idle connections expire before uvicorn's 5 s keep-alive does, so no request races a server-side close
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            tally = tallies[job.kind]
            started = time.perf_counter()
            try:
                response = await client.request(job.method, job.path, json=job.body, params=job.params)
                status = str(response.status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status != "200":
                tally.errors += 1

    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return tallies


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start ``medkg serve`` on 127.0.0.1:``port`` with this interpreter."""
    env = {**os.environ, "MEDKG_SERVE_SPARQL_WORKERS": str(workers)}
    command = [sys.executable, "-m", "medkg.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_ready(url: str, seconds: float) -> float:
    """Poll discovery and an ASK query until both answer 200; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            discovery = httpx.get(f"{url}/cds-services", timeout=5)
            ask = httpx.get(f"{url}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=15)
            if discovery.status_code == 200 and ask.status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server at {url} did not become ready within {seconds:g} s")


def machine() -> dict[str, Any]:
    """A short description of the machine and its load."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line), ""
        )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def main() -> None:
    """Run the load test and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use a running server instead of starting one")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients [50]")
    parser.add_argument("--cds", type=int, default=1000, help="CDS Hooks requests [1000]")
    parser.add_argument("--sparql", type=int, default=200, help="SPARQL requests [200]")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop sending after this long [900]")
    parser.add_argument("--timeout", type=float, default=120, help="client timeout per request, seconds [120]")
    parser.add_argument("--sparql-workers", type=int, default=2, help="worker processes of the started server [2]")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(port, args.sparql_workers)
    try:
        ready_s = wait_until_ready(url, 300)
        jobs, origin = build_jobs(args.cds, args.sparql, args.seed)
        # one warm-up call per CDS request shape is not counted (first-use caches)
        warm = asyncio.run(run_jobs(url, [j for j in jobs if j.kind == "cds"][:10], 1, 300, args.timeout))
        started = time.perf_counter()
        tallies = asyncio.run(run_jobs(url, jobs, args.clients, args.max_seconds, args.timeout))
        elapsed = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()

    rows = [("endpoint", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms")]
    figures: dict[str, Any] = {}
    everything = Tally()
    for kind, tally in [*tallies.items(), ("all", everything)]:
        if kind != "all":
            everything.latencies += tally.latencies
            everything.errors += tally.errors
            for status, count in tally.statuses.items():
                everything.statuses[status] = everything.statuses.get(status, 0) + count
        count = len(tally.latencies)
        figures[kind] = {
            "requests": count,
            "errors": tally.errors,
            "statuses": tally.statuses,
            "throughput_per_s": round(count / elapsed, 2),
            "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
            "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
            "max_ms": round(max(tally.latencies, default=0) * 1000, 1),
        }
        f = figures[kind]
        rows.append(
            (
                kind,
                str(count),
                str(f["errors"]),
                f"{f['throughput_per_s']:.1f}",
                f"{f['p50_ms']:.0f}",
                f"{f['p99_ms']:.0f}",
                f"{f['max_ms']:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    limits = {k: v for k, v in os.environ.items() if k.startswith("MEDKG_SERVE_")}
    print(
        f"medkg serve load test: {args.clients} clients, {url}, CDS Hooks from {origin}; settings {limits or 'default'}"
    )
    print(
        f"wall time {elapsed:.1f} s (server ready after {ready_s:.1f} s; {sum(len(t.latencies) for t in warm.values())} warm-up calls not counted)"
    )
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    result = {
        "clients": args.clients,
        "planned": {"cds": args.cds, "sparql": args.sparql},
        "wall_s": round(elapsed, 1),
        "cds_source": origin,
        "server_settings": limits,
        "figures": figures,
        "machine": machine(),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
