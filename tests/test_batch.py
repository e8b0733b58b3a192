"""Batch runs: one record per input in input order, bad inputs as error records, worst exit code."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_medkg
from medkg import PatientInputError, check, check_many
from medkg.batch import batch_items, check_batch
from medkg.knowledge_base import KnowledgeBase
from medkg.synthetic import generate_patient_dicts


def test_batch_records_equal_single_checks_in_input_order(kb: KnowledgeBase) -> None:
    patients = generate_patient_dicts(25, seed=3, kb=kb)
    lines = [json.dumps(p) for p in patients]
    lines.insert(7, '{"medications": [{"drug": ""}]}')  # invalid: empty name
    records = list(check_batch(batch_items("test", lines), kb=kb, chunk_size=10))
    assert [r["input"] for r in records] == [f"test:{n}" for n in range(1, 27)]
    assert records[7]["exit_code"] == 2 and "drug" in records[7]["error"]
    checked = [r for r in records if "report" in r]
    assert len(checked) == 25
    for data, record in zip(patients, checked, strict=True):
        single = check(data, kb=kb)
        assert record["report"] == single.model_dump(mode="json")
        assert record["exit_code"] == single.exit_code


def test_check_many_names_the_invalid_patient_by_its_position(kb: KnowledgeBase) -> None:
    """A caller of the Python API learns which of its patients was refused, not only why."""
    patients = [*generate_patient_dicts(3, seed=4, kb=kb), {"medications": [{"drug": "baclofen", "dose": "x"}]}]
    with pytest.raises(PatientInputError, match=r"^patients\[3\]: "):
        check_many(patients, kb=kb)


def test_cli_batch_writes_ndjson_and_exits_with_the_worst_code(tmp_path: Path, kb: KnowledgeBase) -> None:
    patients = generate_patient_dicts(3, seed=5, kb=kb)
    source = tmp_path / "patients.ndjson"
    source.write_text("\n".join([json.dumps(patients[0]), "not json", json.dumps(patients[1])]) + "\n\n")
    result = run_medkg("check", "--batch", str(source))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == ["patients.ndjson:1", "patients.ndjson:2", "patients.ndjson:3"]
    assert lines[1]["exit_code"] == 2 and "not valid JSON" in lines[1]["error"]
    assert result.returncode == 2
    assert "medkg batch: 3 input(s)" in result.stderr
    # the summary counts findings most severe first, as the reports list them
    summary = result.stderr.split("findings by severity ")[1]
    shown = [s for s in ("contraindicated", "major", "moderate", "minor", "info") if f"'{s}'" in summary]
    assert len(shown) >= 2 and sorted(shown, key=summary.index) == shown
    assert lines[0]["report"]["disclaimer"].startswith("medkg supports, and does not replace, clinical judgement")


def test_cli_batch_of_a_folder_and_from_stdin(tmp_path: Path, kb: KnowledgeBase) -> None:
    patients = generate_patient_dicts(2, seed=9, kb=kb)
    folder = tmp_path / "patients"
    folder.mkdir()
    for number, data in enumerate(patients):
        (folder / f"p{number}.json").write_text(json.dumps(data))
    from_folder = run_medkg("check", "--batch", str(folder))
    assert [json.loads(line)["input"] for line in from_folder.stdout.splitlines()] == ["p0.json", "p1.json"]
    from_stdin = run_medkg("check", "--batch", "-", stdin="\n".join(json.dumps(p) for p in patients))
    reports = [json.loads(line)["report"] for line in from_stdin.stdout.splitlines()]
    assert reports == [json.loads(line)["report"] for line in from_folder.stdout.splitlines()]


def test_cli_batch_of_a_folder_reports_every_entry_it_cannot_read(tmp_path: Path, kb: KnowledgeBase) -> None:
    """Another file type or a subfolder in a batch folder is an error record, never skipped unsaid (hidden files are)."""
    folder = tmp_path / "patients"
    (folder / "sub").mkdir(parents=True)
    (folder / "p0.json").write_text(json.dumps(generate_patient_dicts(1, seed=9, kb=kb)[0]))
    (folder / "more.ndjson").write_text("{}\n")
    (folder / "notes.txt").write_text("not a patient file")
    (folder / ".DS_Store").write_bytes(b"\0")
    result = run_medkg("check", "--batch", str(folder))
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == ["more.ndjson", "notes.txt", "p0.json", "sub"]
    assert records["p0.json"]["exit_code"] in (0, 1)
    assert "unsupported file type '.ndjson'" in records["more.ndjson"]["error"]
    assert "unsupported file type '.txt'" in records["notes.txt"]["error"]
    assert "is a folder" in records["sub"]["error"]
    assert all(records[name]["exit_code"] == 2 for name in ("more.ndjson", "notes.txt", "sub"))
    assert result.returncode == 2
    assert "medkg batch: 4 input(s)" in result.stderr


def test_cli_batch_refuses_other_patients_and_formats(tmp_path: Path) -> None:
    source = tmp_path / "p.ndjson"
    source.write_text("{}\n")
    assert run_medkg("check", "--batch", str(source), "baclofen").returncode == 2
    assert run_medkg("check", "--batch", str(source), "--format", "text").returncode == 2
    assert run_medkg("check", "--batch", str(tmp_path / "missing.ndjson")).returncode == 2
    assert run_medkg("check", "--format", "ndjson", "baclofen").returncode == 2


def test_an_internal_error_becomes_an_error_record_and_is_logged_without_patient_data(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import medkg.batch

    secret = "warfarin-patient-secret"

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr(medkg.batch, "check_many", broken)
    lines = [json.dumps({"id": secret, "medications": [{"drug": "warfarin"}]})]
    with caplog.at_level(logging.ERROR, logger="medkg.batch"):
        records = list(check_batch(batch_items("test", lines), kb=kb))
    assert records == [{"input": "test:1", "exit_code": 3, "error": "internal error checking this patient"}]
    assert "RuntimeError" in caplog.text and secret not in caplog.text


def test_record_json_lines_equal_the_records_dumped(kb: KnowledgeBase) -> None:
    from medkg.batch import check_batch_records
    from medkg.findings import finding_json_of

    patients = generate_patient_dicts(6, seed=4, kb=kb)
    patients[2]["id"] = 'naïve "quoted" ü'  # non-ASCII and escapes in a string the line carries
    lines = [json.dumps(p) for p in patients] + ['{"medications": [{"drug": "é"}], "age_years": "old"}']
    records = list(check_batch_records(batch_items("tëst", lines), kb=kb))
    assert records[-1].exit_code == 2
    cached = finding_json_of(kb)  # findings' JSON kept by the finding cache, spliced into the line
    for record in records:
        assert json.loads(record.to_json()) == record.as_dict()
        assert record.to_json() == json.dumps(record.as_dict(), ensure_ascii=False, separators=(",", ":"))
        assert record.to_json(cached) == record.to_json()
    assert sum(len(r.report.findings) for r in records if r.report) > 10  # the splice was exercised


def test_a_checked_chunk_holds_its_records_lines_exit_codes_and_severities(kb: KnowledgeBase) -> None:
    from collections import Counter

    from medkg.batch import check_batch_records
    from medkg.batch_pool import CheckedChunk, chunks_of_dicts
    from medkg.findings import finding_json_of

    lines = [json.dumps(p) for p in generate_patient_dicts(7, seed=12, kb=kb)] + ["not json"]
    records = list(check_batch_records(batch_items("chunk", lines), kb=kb))
    chunk = CheckedChunk.of_records(records, finding_json_of(kb))
    assert chunk.text == "".join(record.to_json() + "\n" for record in records)
    assert chunk.exit_codes == [record.exit_code for record in records] and chunk.exit_codes[-1] == 2
    found = Counter(f.severity for record in records if record.report for f in record.report.findings)
    assert chunk.severities == dict(found) and sum(found.values()) > 7
    # records as dicts (a Dask batch's) give the same chunks, cut at the size asked for
    dicts = list(chunks_of_dicts((record.as_dict() for record in records), size=5))
    assert [len(c.exit_codes) for c in dicts] == [5, 3]
    assert "".join(c.text for c in dicts) == chunk.text
    assert sum((Counter(c.severities) for c in dicts), Counter()) == found


def test_cli_batch_in_two_worker_processes_prints_the_same_lines(tmp_path: Path, kb: KnowledgeBase) -> None:
    patients = generate_patient_dicts(30, seed=8, kb=kb)
    source = tmp_path / "patients.ndjson"
    lines = [json.dumps(p) for p in patients]
    lines.insert(11, "not json")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = run_medkg("check", "--batch", str(source))
    two = run_medkg("check", "--batch", str(source), "--jobs", "2")
    assert two.returncode == one.returncode == 2
    assert two.stdout == one.stdout
    assert len(two.stdout.splitlines()) == 31 and "medkg batch: 31 input(s)" in two.stderr
    # the summary's counts (after the timing) are the same when workers count their chunks
    assert two.stderr.split("exit codes ")[1] == one.stderr.split("exit codes ")[1]
    refused = run_medkg("check", "--jobs", "2", "baclofen")
    assert refused.returncode == 2 and "--jobs runs a batch" in refused.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's prctl")
def test_killed_parent_takes_its_batch_workers_with_it(tmp_path: Path, kb: KnowledgeBase) -> None:
    """``kill -9`` of ``medkg check --batch --jobs 2`` must not leave its workers waiting forever."""
    source = tmp_path / "patients.ndjson"
    source.write_text("".join(json.dumps(p) + "\n" for p in generate_patient_dicts(3000, seed=3, kb=kb)))
    parent = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli", "check", "--batch", str(source), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def children() -> list[int]:
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                lines = status.read_text().splitlines()
            except OSError:
                continue
            if f"PPid:\t{parent.pid}" in lines:
                found.append(int(status.parent.name))
        return found

    deadline = time.monotonic() + 120
    workers = children()
    while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
        time.sleep(0.2)
        workers = children()
    assert len(workers) >= 2, "the batch's workers never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)

    def running(pid: int) -> bool:  # a zombie (dead, not yet reaped by init) is not running
        try:
            return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    deadline = time.monotonic() + 20
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [w for w in workers if running(w)]
    for w in alive:  # do not leave them behind even when the test fails
        os.kill(w, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their killed parent"


def test_ctrl_c_stops_a_batch_with_exit_130(tmp_path: Path, kb: KnowledgeBase) -> None:
    """Ctrl-C is neither invalid input (2) nor an internal error (3): the shell's 128 + SIGINT."""
    source = tmp_path / "patients.ndjson"
    source.write_text("".join(json.dumps(p) + "\n" for p in generate_patient_dicts(3000, seed=4, kb=kb)))
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli", "check", "--batch", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C at a terminal finds SIGINT at its default; a test run started in the background by
        # a non-interactive shell (`.ci/run &`) has it ignored, and the child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no lock taken, one call
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # checking has begun
    process.send_signal(signal.SIGINT)
    after = process.stdout.read().count(b"\n")
    error = process.stderr.read().decode()
    assert first.startswith(b'{"input":')
    assert process.wait(timeout=120) == 130, f"{after} records after SIGINT; stderr: {error[-2000:]}"
    assert "medkg: interrupted" in error and "internal error" not in error


def test_cli_batch_format_json_is_one_array_of_the_ndjson_records(tmp_path: Path, kb: KnowledgeBase) -> None:
    """A new-user trial: ``--format json`` printed NDJSON, so ``json.load`` failed with "Extra data"."""
    patients = [json.dumps(p) for p in generate_patient_dicts(401, seed=21, kb=kb)]
    patients.insert(250, "not json")  # more than one chunk of 200, with an error record in the second
    source = tmp_path / "odd.ndjson"
    source.write_text("\n".join(patients) + "\n", encoding="utf-8")
    ndjson = run_medkg("check", "--batch", str(source))
    records = [json.loads(line) for line in ndjson.stdout.splitlines()]
    assert len(records) == 402 and records[250]["exit_code"] == 2
    for args in ((), ("--jobs", "2")):
        as_json = run_medkg("check", "--batch", str(source), "--format", "json", *args)
        assert json.loads(as_json.stdout) == records, args
        assert as_json.returncode == ndjson.returncode == 2
        assert as_json.stderr.split("exit codes ")[1] == ndjson.stderr.split("exit codes ")[1]
    folder = tmp_path / "patients"
    folder.mkdir()
    (folder / "a.json").write_text(patients[0], encoding="utf-8")
    (folder / "b.txt").write_text("{}", encoding="utf-8")
    in_folder = json.loads(run_medkg("check", "--batch", str(folder), "--format", "json").stdout)
    assert [(r["input"], r["exit_code"]) for r in in_folder] == [("a.json", records[0]["exit_code"]), ("b.txt", 2)]
    assert in_folder[0]["report"] == records[0]["report"]
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n", encoding="utf-8")
    nothing = run_medkg("check", "--batch", str(empty), "--format", "json")
    assert (json.loads(nothing.stdout), nothing.returncode) == ([], 0)
