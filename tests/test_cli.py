"""The ``medkg`` command: exit codes, formats, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BACLOFEN_BUNDLE
from conftest import run_medkg as medkg
from medkg.knowledge_base import KnowledgeBase


def test_example_reports_and_exits_1(kb: KnowledgeBase) -> None:
    result = medkg("check", "--example", "baclofen-trazodone")
    assert result.returncode == 1, result.stderr
    assert "== MAJOR" in result.stdout
    assert "does not replace, clinical judgement" in result.stdout.replace("\n", " ")


def test_json_format_matches_schema_shape(kb: KnowledgeBase) -> None:
    result = medkg("check", "--example", "baclofen-trazodone", "--format", "json")
    report = json.loads(result.stdout)
    assert report["schema_version"] == "1"
    assert report["knowledge_base"]["sha256"] == kb.sha256
    assert report["patient"]["renal_basis"] == "crcl-entered"
    assert {a["drug"] for a in report["assessed"]} == {"baclofen", "trazodone"}
    assert "disclaimer" in report


def test_turtle_format_parses(kb: KnowledgeBase) -> None:
    from rdflib import Graph

    result = medkg("check", "--example", "baclofen-trazodone", "--format", "turtle")
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert len(graph) > 20


def test_quick_flags(kb: KnowledgeBase) -> None:
    young = medkg("check", "--age", "45", "--crcl", "95", "baclofen:10x3", "trazodone:50x1", "--format", "json")
    report = json.loads(young.stdout)
    kinds = {(f["kind"], tuple(f["drugs"])) for f in report["findings"]}
    assert ("additive-effect", ("baclofen", "trazodone")) in kinds
    assert not any(kind == "dose-adjustment" for kind, _ in kinds)


def test_max_dose_exit_code_and_values(kb: KnowledgeBase) -> None:
    result = medkg("check", "--age", "50", "--crcl", "90", "baclofen:30x4", "--format", "json")
    assert result.returncode == 1
    [finding] = [f for f in json.loads(result.stdout)["findings"] if f["kind"] == "max-dose"]
    assert any("120" in line and "80" in line for line in finding["because"])


def test_no_major_finding_exits_0(kb: KnowledgeBase) -> None:
    result = medkg(
        "check",
        "--age",
        "40",
        "--crcl",
        "100",
        "--sex",
        "female",
        "--not-pregnant",
        "--not-breastfeeding",
        "--child-pugh",
        "A",
        "ramelteon:8x1",
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("content", "suffix"),
    [
        ("{not json", ".json"),
        ('{"medications": [{"drug": "baclofen", "dose_mg": -1}]}', ".json"),
        ("@prefix x", ".ttl"),
        ("", ".json"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, content: str, suffix: str) -> None:
    path = tmp_path / f"patient{suffix}"
    path.write_text(content, encoding="utf-8")
    result = medkg("check", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flags_exit_2() -> None:
    assert medkg("check", "--age", "-3", "baclofen").returncode == 2
    assert medkg("check", "baclofen:tenx3").returncode == 2
    assert medkg("check").returncode == 2


def test_query_command(kb: KnowledgeBase, tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text(
        "PREFIX medkg: <https://w3id.org/medkg/ontology#>\nSELECT ?population WHERE { ?p a medkg:Patient ; a ?population . ?population medkg:isPopulation true } ORDER BY ?population",
        encoding="utf-8",
    )
    from medkg.cli import EXAMPLES

    result = medkg("query", str(query), "--patient", str(EXAMPLES / "baclofen-trazodone.json"), "--format", "json")
    assert result.returncode == 0, result.stderr
    populations = {row["population"].rsplit("/", 1)[-1] for row in json.loads(result.stdout)}
    assert {"OlderAdult", "AgedAtLeast75", "CrClBelow30", "ChildPughB"} <= populations


@pytest.mark.parametrize("output_format", ["csv", "table"])
def test_query_shows_booleans_as_sparql_writes_them(kb: KnowledgeBase, tmp_path: Path, output_format: str) -> None:
    """xsd:boolean values read true/false in CSV and tables (Python's True/False once leaked through)."""
    query = tmp_path / "q.rq"
    query.write_text(
        "PREFIX kg: <https://w3id.org/medkg/kg/>\nPREFIX medkg: <https://w3id.org/medkg/ontology#>\n"
        "SELECT ?flag WHERE { kg:CrClBelow30 medkg:isPopulation ?flag }",
        encoding="utf-8",
    )
    result = medkg("query", str(query), "--format", output_format)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == "flag" and words.count("true") == 1 and "True" not in words


POPULATIONS_QUERY = (
    "PREFIX medkg: <https://w3id.org/medkg/ontology#>\n"
    "SELECT ?population WHERE { ?p a medkg:Patient ; a ?population . ?population medkg:isPopulation true }"
    " ORDER BY ?population"
)


def _fhir_bundle(folder: Path) -> Path:
    """:data:`conftest.BACLOFEN_BUNDLE` written to ``folder/bundle.json``."""
    path = folder / "bundle.json"
    path.write_text(json.dumps(BACLOFEN_BUNDLE))
    return path


def test_query_as_of_reads_the_patient_file_at_that_date_as_check_does(tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text(POPULATIONS_QUERY, encoding="utf-8")
    bundle = _fhir_bundle(tmp_path)
    result = medkg("query", str(query), "--patient", str(bundle), "--as-of", "2021-06-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "medkg query: note: age 81 years on 2021-06-01 (born 1940-05-01)" in result.stderr.splitlines()
    checked = json.loads(medkg("check", str(bundle), "--as-of", "2021-06-01", "--format", "json").stdout)
    assert [row["population"].rsplit("/", 1)[-1] for row in json.loads(result.stdout)] == checked["patient"][
        "populations"
    ]
    alone = medkg("query", str(query), "--as-of", "2021-06-01")
    assert alone.returncode == 2 and "--as-of applies to the --patient file" in alone.stderr


def test_query_patient_reads_a_fhir_bundle_and_a_cds_request_as_check_does(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A new-user trial: --patient refused a FHIR Bundle ("resourceType: Extra inputs are not permitted")."""
    query = tmp_path / "q.rq"
    query.write_text(POPULATIONS_QUERY, encoding="utf-8")
    bundle = _fhir_bundle(tmp_path)
    result = medkg("query", str(query), "--patient", str(bundle), "--format", "json")
    assert result.returncode == 0, result.stderr
    populations = [row["population"].rsplit("/", 1)[-1] for row in json.loads(result.stdout)]
    checked = json.loads(medkg("check", str(bundle), "--format", "json").stdout)
    assert populations == checked["patient"]["populations"]
    assert {"AgedAtLeast75", "FemalePatient"} <= set(populations)
    assert "medkg query: note: age 79 years on 2020-01-01 (born 1940-05-01)" in result.stderr.splitlines()
    assert "does not replace, clinical judgement" in result.stderr
    draft = json.loads(bundle.read_text())["entry"][1]["resource"] | {"status": "draft"}
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "hook": "order-sign",
                "context": {"draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}},
            }
        )
    )
    drugs = tmp_path / "drugs.rq"
    drugs.write_text(
        "PREFIX medkg: <https://w3id.org/medkg/ontology#>\n"
        "SELECT ?name WHERE { ?p a medkg:Patient ; medkg:takesMedication ?use . ?use medkg:inputName ?name }",
        encoding="utf-8",
    )
    from_request = medkg("query", str(drugs), "--patient", str(request), "--format", "csv")
    assert (from_request.returncode, from_request.stdout.split()) == (0, ["name", "baclofen"]), from_request.stderr


def test_query_file_not_in_utf8_exits_2_naming_it(tmp_path: Path) -> None:
    """A new-user trial: a UTF-16 byte-order mark before the query was an internal error (exit 3)."""
    query = tmp_path / "bad.rq"
    query.write_bytes(b"\xff\xfeSELECT")
    result = medkg("query", str(query))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"medkg: {query}: not a text file in UTF-8 (byte 0xff at position 0 is invalid; it starts with a UTF-16 "
        "or UTF-32 byte-order mark): save the query as UTF-8\n"
    )
    from_stdin = subprocess.run(
        [sys.executable, "-m", "medkg.cli", "query", "-"], input=b"SELECT \xe9", capture_output=True, check=False
    )
    assert from_stdin.returncode == 2
    assert from_stdin.stderr.decode() == (
        "medkg: stdin: not a text file in UTF-8 (byte 0xe9 at position 7 is invalid): save the query as UTF-8\n"
    )


def test_query_from_standard_input(kb: KnowledgeBase) -> None:
    result = medkg("query", "-", "--format", "csv", stdin="\ufeffSELECT ?x WHERE { VALUES ?x { 1 2 } }")
    assert (result.returncode, result.stdout.split()) == (0, ["x", "1", "2"]), result.stderr


@pytest.mark.parametrize(("ask", "answer"), [("ASK { ?s ?p ?o }", True), ("ASK { FILTER(false) }", False)])
def test_query_ask_as_json_is_the_w3c_results_format(kb: KnowledgeBase, ask: str, answer: bool) -> None:
    """SPARQL 1.1 Query Results JSON Format, section 3.2.2: an ASK answer is {"head": {}, "boolean": ...}."""
    result = medkg("query", "-", "--format", "json", stdin=ask)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"head": {}, "boolean": answer}
    assert medkg("query", "-", stdin=ask).stdout == ("true\n" if answer else "false\n")


def test_another_tools_word_for_a_command_points_to_medkgs_own() -> None:
    """A new user typed `medkg sparql`; the error now names `medkg query` (exit 2, one line)."""
    result = medkg("sparql", "q.rq")
    assert result.returncode == 2
    assert "did you mean 'medkg query'?" in result.stderr and len(result.stderr.splitlines()) == 1


def test_schema_command() -> None:
    schema = json.loads(medkg("schema", "patient").stdout)
    assert "medications" in schema["required"]


def test_help_lists_exit_codes() -> None:
    result = medkg("check", "--help")
    assert "Exit codes" in result.stdout
    assert "141 output closed by its reader" in " ".join(result.stdout.split())
    assert "NAME[:DOSE_MG[xTIMES_PER_DAY]]" in result.stdout


@pytest.mark.parametrize(
    ("command", "exit_one"),
    [
        ("query", None),
        ("build", None),
        ("stats", None),
        ("serve", None),
        ("cache list", None),
        ("validate", "1 problems found"),
        ("cache prune", "1 a build could not be deleted"),
    ],
)
def test_other_commands_list_their_own_exit_codes(command: str, exit_one: str | None) -> None:
    """Only check exits 1 for a finding: the other commands' help must not say so (it once did)."""
    shown = medkg(*command.split(), "--help").stdout
    assert "\\b" not in shown  # Click's no-rewrap marker, printed literally from a raw docstring (serve once did)
    text = " ".join(shown.split())
    assert "Exit codes: 0 " in text
    assert "unidentified medication" not in text
    assert "141 output closed by its reader" in text
    if exit_one is None:
        assert "; 1 " not in text
    else:
        assert f"; {exit_one};" in text


@pytest.mark.reasoner
def test_validate_command_passes(kb: KnowledgeBase) -> None:
    result = medkg("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "consistency (HermiT): OK" in result.stdout
    assert result.stdout.rstrip().endswith("medkg validate: OK")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_reader_closing_the_output_stops_the_batch_quietly(kb: KnowledgeBase, tmp_path: Path, jobs: str) -> None:
    """``medkg check --batch ... | head``: no 'internal error', no traceback file, exit 141 (as SIGPIPE)."""
    from medkg.synthetic import generate_patient_dicts

    batch = tmp_path / "batch.jsonl"
    patients = generate_patient_dicts(400, seed=5, kb=kb)  # about 6 MB of reports: far more than a pipe holds
    batch.write_text("".join(json.dumps(p) + "\n" for p in patients), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli", "check", "--batch", str(batch), "--jobs", jobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.read(100)
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141
    assert first.startswith(b'{"input":')
    assert "internal error" not in error and "Traceback" not in error, error


def _run_with_stdout(stdout: int | None, *args: str) -> tuple[int, str]:
    """Run medkg with standard output as given (None: closed, as the shell's ``>&-``); return (exit code, stderr)."""
    process = subprocess.run(
        [sys.executable, "-m", "medkg.cli", *args],
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        timeout=300,
        # a closed descriptor 1 in the child: close it before exec (subprocess cannot pass "closed")
        preexec_fn=(lambda: os.close(1)) if stdout is None else None,
    )
    return process.returncode, process.stderr


@pytest.mark.parametrize("args", [["check", "baclofen"], ["check", "--format", "json", "baclofen"], ["--version"]])
def test_closed_standard_output_is_an_error_not_a_silent_report(kb: KnowledgeBase, args: list[str]) -> None:
    """``medkg check ... >&-``: the report cannot be delivered, so exit 3 with one line, never exit 0/1 with nothing."""
    code, error = _run_with_stdout(None, *args)
    assert code == 3
    assert error.strip() == "medkg: cannot write the output: standard output is closed; it is missing or incomplete"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_full_disk_is_reported_as_such(kb: KnowledgeBase, tmp_path: Path, jobs: str) -> None:
    """``medkg check --batch ... > /dev/full``: 'No space left on device', exit 3, no traceback file."""
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"medications": [{"drug": "baclofen"}]}\n' * 3, encoding="utf-8")
    with open("/dev/full", "w") as full:
        code, error = _run_with_stdout(full.fileno(), "check", "--batch", str(batch), "--jobs", jobs)
    assert code == 3
    assert "cannot write the output: No space left on device" in error
    assert "internal error" not in error and "Traceback" not in error, error


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["check", "--help"]])
def test_help_into_a_closed_pipe_exits_141(args: list[str]) -> None:
    """``medkg --help | head -0``: as for a report, exit 141 and no message (click alone exits 1)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    error = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 141
    assert error == ""


@pytest.mark.parametrize(
    "args", [["check", "--example", "baclofen-trazodone"], ["check", "--batch", "BATCH", "--jobs", "2"]]
)
def test_a_report_cut_short_by_a_file_size_limit_is_an_error(
    kb: KnowledgeBase, tmp_path: Path, args: list[str]
) -> None:
    """``ulimit -f 1; medkg check ... > file``: Python's buffered writer dropped the rest of a partial write
    silently (exit 1, a 1 KB report); the report is written with os.write, so the cut is exit 3."""
    import resource

    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"medications": [{"drug": "baclofen"}, {"drug": "trazodone"}]}\n' * 20, encoding="utf-8")
    out = tmp_path / "out.txt"

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))

    with out.open("w") as sink:
        process = subprocess.run(
            [sys.executable, "-m", "medkg.cli", *[str(batch) if a == "BATCH" else a for a in args]],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
            preexec_fn=limit_file_size,
        )
    assert out.stat().st_size <= 4096
    assert process.returncode == 3, process.stderr
    assert "medkg: cannot write the output: File too large" in process.stderr
