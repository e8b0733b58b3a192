"""Batches on Dask distributed: the same records, in the same order, as the single-process batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import run_medkg
from medkg.batch import batch_items, check_batch
from medkg.distributed import Scheduler, check_batch_distributed, dask_client, worker_status
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import InputError
from medkg.synthetic import generate_patient_dicts

MALFORMED = '{"medications": [{"drug": "warfarin"'  # cut off mid-object: not valid JSON


def _parsed(records: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(json.dumps(record)) for record in records]


def test_local_cluster_gives_the_single_process_records_in_order(kb: KnowledgeBase) -> None:
    lines = [json.dumps(p) for p in generate_patient_dicts(40, seed=11, kb=kb)]
    lines.insert(13, MALFORMED)
    single = list(check_batch(batch_items("test", lines, known=kb.knows_drug), kb=kb))
    build_stamp = (kb.built.folder / "meta.json").stat().st_mtime_ns

    with dask_client("local:2") as client:
        distributed = list(
            check_batch_distributed(batch_items("test", lines, known=kb.knows_drug), client, kb=kb, partition_size=6)
        )
        workers = client.run(worker_status)

    assert _parsed(distributed) == _parsed(single)
    assert [r["input"] for r in distributed] == [f"test:{n}" for n in range(1, 42)]
    assert distributed[13]["exit_code"] == 2 and "not valid JSON" in distributed[13]["error"]
    assert sum("report" in r for r in distributed) == 40
    # 41 items in partitions of 6: 7 tasks; each worker used the one knowledge base it loaded, from the shared build
    assert len(workers) == 2
    assert sum(status["partitions"] for status in workers.values()) == 7
    for status in workers.values():
        assert status["knowledge_bases"] == ([str(kb.built.folder)] if status["partitions"] else [])
    assert (kb.built.folder / "meta.json").stat().st_mtime_ns == build_stamp  # no worker rebuilt it


def test_cli_dask_batch_prints_the_same_records(tmp_path: Path, kb: KnowledgeBase) -> None:
    source = tmp_path / "patients.ndjson"
    patients = generate_patient_dicts(4, seed=2, kb=kb)
    source.write_text("\n".join([json.dumps(patients[0]), "not json", *map(json.dumps, patients[1:])]) + "\n")
    single = run_medkg("check", "--batch", str(source))
    distributed = run_medkg("check", "--batch", str(source), "--dask", "local:1")
    assert distributed.returncode == single.returncode == 2
    assert distributed.stdout == single.stdout
    assert len(distributed.stdout.splitlines()) == 5
    assert "medkg batch: 5 input(s)" in distributed.stderr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:3", Scheduler(local_workers=3)),
        ("tcp://10.0.0.5:8786", Scheduler(address="tcp://10.0.0.5:8786")),
        (" tls://scheduler.example:8786 ", Scheduler(address="tls://scheduler.example:8786")),
    ],
)
def test_scheduler_specs(spec: str, expected: Scheduler) -> None:
    assert Scheduler.parse(spec) == expected


@pytest.mark.parametrize("spec", ["local:0", "local", "local:two", "10.0.0.5:8786", ""])
def test_bad_scheduler_specs_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError, match="--dask"):
        Scheduler.parse(spec)


def test_cli_refuses_a_bad_scheduler_and_dask_without_batch(tmp_path: Path) -> None:
    source = tmp_path / "p.ndjson"
    source.write_text("{}\n")
    bad = run_medkg("check", "--batch", str(source), "--dask", "local:0")
    assert bad.returncode == 2 and "--dask local:0" in bad.stderr and not bad.stdout
    alone = run_medkg("check", "--dask", "local:2", "baclofen")
    assert alone.returncode == 2 and "--batch" in alone.stderr
