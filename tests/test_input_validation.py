"""Malformed input, one case per input class (issue 6, item 1; the table is docs/input-validation.md).

Every class either gets a clear one-line error (exit 2: which field, what was wrong, what is
allowed) or is accepted with an explicit note or finding, as the interop work requires. None
ends in a traceback. The command line runs in-process through :func:`medkg.cli.run` (the console
entry point) for speed; a few classes also run in a real process, and the same files go through
the Python API (:func:`medkg.loaders.load_input`), which raises :class:`medkg.PatientInputError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import medkg
from conftest import baclofen_order as order
from medkg import cli
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import NO_MEDICATION_NOTE, PatientInputError, load_input

BACLOFEN = {"drug": "baclofen", "dose_mg": 10, "times_per_day": 3}
PATIENT: dict[str, Any] = {"id": "p1", "age_years": 70, "medications": [BACLOFEN]}
TURTLE_HEAD = (
    "@prefix medkg: <https://w3id.org/medkg/ontology#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
)


def patient(**changes: Any) -> str:
    """Patient JSON: the valid example patient with ``changes`` applied (None removes a key)."""
    data = {key: value for key, value in {**PATIENT, **changes}.items() if value is not None}
    return json.dumps(data)


def medication(**changes: Any) -> str:
    """Patient JSON whose one medication is baclofen with ``changes``."""
    return patient(medications=[{**BACLOFEN, **changes}])


def turtle(body: str) -> str:
    return TURTLE_HEAD + body


def bundle(*resources: dict[str, Any], **top: Any) -> str:
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources], **top}
    )


def observation(loinc: str, **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "effectiveDateTime": "2020-01-01",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
    }
    resource.update(changes)
    return resource


def cds(**top: Any) -> str:
    draft = order(status="draft", id="d1")
    request = {"hook": "order-sign", "hookInstance": "h1", "context": {"draftOrders": bundle_dict(draft)}}
    request.update(top)
    return json.dumps({key: value for key, value in request.items() if value is not None})


def bundle_dict(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


@dataclass
class Case:
    """One input class: the file (or stdin, or flags), the exit code and what the message must say.

    ``content``: str (written as UTF-8), bytes, or an int (a sparse file of that many bytes).
    ``says``: fragments of the stderr line (exit 2) or of the report's notes/finding kinds (exit 0/1).
    """

    id: str
    content: str | bytes | int | None
    exit: int | tuple[int, ...]
    says: tuple[str, ...]
    suffix: str = ".json"
    args: tuple[str, ...] = ()
    stdin: bool = False
    env: dict[str, str] = field(default_factory=dict)
    subprocess: bool = False


BIG = 50 * 1024 * 1024
CASES = [
    # ------------------------------------------------------------------ file and encoding
    Case("missing-file", None, 2, ("no-such-file.json", "no such file")),
    Case("unsupported-suffix", "{}", 2, ("unsupported file type '.txt'", "use .json or .ttl"), suffix=".txt"),
    Case("empty-file", "", 2, ("not valid JSON", "(line 1, column 1)")),
    Case(
        "binary-garbage",
        bytes(range(128, 256)) * 8,
        2,
        ("not a text file in UTF-8", "byte 0x80 at position 0"),
        subprocess=True,
    ),
    Case(
        "latin-1-text",
        '{"medications": [{"drug": "baclöfen"}]}'.encode("latin-1"),
        2,
        ("not a text file in UTF-8", "position 31"),
    ),
    Case("utf-8-bom", b"\xef\xbb\xbf" + patient().encode(), (0, 1), ("assessed:baclofen",)),
    Case("utf-16-with-bom", patient().encode("utf-16"), (0, 1), ("assessed:baclofen",)),
    Case("utf-16-bom-then-odd-bytes", b"\xff\xfe\x00garbage\n", 2, ("not a text file in UTF-16", "position 10")),
    Case("file-over-size-limit-50MB", BIG, 2, ("input is 50.0 MB", "the limit is 32 MB", "MEDKG_MAX_INPUT_MB")),
    Case(
        "bad-size-limit-setting",
        patient(),
        2,
        ("MEDKG_MAX_INPUT_MB='lots'", "positive number"),
        env={"MEDKG_MAX_INPUT_MB": "lots"},
    ),
    # ------------------------------------------------------------------ JSON syntax and shape
    Case("truncated-json", patient()[:-10], 2, ("not valid JSON", "(line 1, column")),
    # cut short before a final newline: reported where the record ends, not at "line 2, column 1"
    Case("truncated-json-then-newline", '{"id": "trunc", "age_years":\n', 2, ("(line 1, column 29)",)),
    Case("json-array", "[1, 2]", 2, ("a patient must be a JSON object, not list",)),
    Case("json-string", '"baclofen"', 2, ("a patient must be a JSON object, not str",)),
    Case("json-null", "null", 2, ("a patient must be a JSON object, not NoneType",)),
    Case("nan", patient().replace('"age_years": 70', '"age_years": NaN'), 2, ("NaN is not allowed", "finite")),
    Case("infinity", medication().replace('"dose_mg": 10', '"dose_mg": Infinity'), 2, ("Infinity is not allowed",)),
    Case(
        "number-overflows-to-infinity", patient().replace("70", "1e400"), 2, ("the number 1e400 is too large", "finite")
    ),
    Case(
        "integer-with-5000-digits",
        patient().replace("70", "9" * 5000),
        2,
        ("5000 digits is not allowed", "at most 100"),
        subprocess=True,
    ),
    Case(
        "deeply-nested-json",
        patient(x=None)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        2,
        ("nested more than 64 levels",),
        subprocess=True,
    ),
    Case(
        "nested-200-levels",
        patient()[:-1] + ', "x": ' + "[" * 200 + "]" * 200 + "}",
        2,
        ("nested more than 64 levels",),
    ),
    Case(
        "repeated-key",
        '{"medications": [], "medications": [{"drug": "baclofen"}]}',
        2,
        ("key 'medications' appears twice",),
    ),
    Case(
        "unknown-field-typo",
        patient(crcl=25),
        2,
        ("crcl: Extra inputs are not permitted", "allowed: id, age_years", "crcl_ml_min"),
    ),
    Case(
        "field-name-with-newline",  # found by the arbitrary-JSON property at 10,000 cases
        '{"medications": [{"drug": "baclofen"}], "\\n": 1}',
        2,
        ('"\\n": Extra inputs are not permitted',),
    ),
    Case(
        "bundle-resource-type-not-a-string",  # found by the arbitrary-JSON property at 10,000 cases
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": []}}]}',
        2,
        ("resourceType must be a string", "not list"),
    ),
    # ------------------------------------------------------------------ patient fields
    Case("missing-medications", patient(medications=None), 2, ("medications: Field required",)),
    Case("medications-not-a-list", patient(medications=BACLOFEN), 2, ("medications: Input should be a valid list",)),
    Case("medication-without-drug", patient(medications=[{"dose_mg": 10}]), 2, ("medications.0.drug: Field required",)),
    Case("empty-drug-name", medication(drug=""), 2, ("medications.0.drug", "at least 1 character")),
    Case("whitespace-drug-name", medication(drug="   \t "), 2, ("medications.0.drug", "at least 1 character")),
    Case(
        "combination-with-an-unmodelled-ingredient",
        medication(drug="Kaletra"),
        1,
        ("assessed:ritonavir", "kind:not-assessed Not assessed: lopinavir in 'Kaletra' lopinavir"),
    ),
    Case(
        "written-combination-with-an-unmodelled-part",
        medication(drug="carbidopa/levodopa"),
        1,
        ("assessed:levodopa", "kind:not-assessed Not assessed: carbidopa in 'carbidopa/levodopa' carbidopa"),
    ),
    Case("drug-name-not-a-string", medication(drug={"name": "baclofen"}), 2, ("medications.0.drug", "valid string")),
    Case("drug-name-201-characters", medication(drug="b" * 201), 2, ("medications.0.drug", "at most 200 characters")),
    Case("nul-in-drug-name", medication(drug="bac\u0000lofen"), 2, ("medications.0.drug", "control character U+0000")),
    Case("lone-surrogate-in-name", medication(drug="\ud800"), 2, ("medications.0.drug", "valid string")),
    Case("empty-condition-name", patient(conditions=["copd", " "]), 2, ("conditions", "names must not be empty")),
    Case("age-as-string", patient(age_years="78"), 2, ("age_years: Input should be a valid number",)),
    Case("age-as-boolean", patient(age_years=True), 2, ("age_years: Input should be a valid number",)),
    Case("age-negative", patient(age_years=-1), 2, ("age_years", "greater than or equal to 0")),
    Case("age-over-130", patient(age_years=200), 2, ("age_years", "less than or equal to 130")),
    Case("age-minus-zero", patient(age_years=-0.0), (0, 1), ("assessed:baclofen",)),
    Case("crcl-negative", patient(crcl_ml_min=-5), 2, ("crcl_ml_min", "greater than or equal to 0")),
    Case("egfr-over-400", patient(egfr_ml_min_1_73m2=9999), 2, ("egfr_ml_min_1_73m2", "less than or equal to 400")),
    Case("weight-zero", patient(weight_kg=0), 2, ("weight_kg", "greater than 0")),
    Case(
        "creatinine-over-40",
        patient(serum_creatinine_mg_dl=80),
        2,
        ("serum_creatinine_mg_dl", "less than or equal to 40"),
    ),
    Case("dose-zero", medication(dose_mg=0), 2, ("medications.0.dose_mg", "greater than 0")),
    Case("dose-with-unit-text", medication(dose_mg="10 mg"), 2, ("medications.0.dose_mg", "valid number")),
    Case(
        "dose-unit-field-unknown",
        medication(dose="10 mg"),
        2,
        ("medications.0.dose: Extra inputs are not permitted", "allowed: drug, dose_mg, times_per_day, indication"),
    ),
    Case(
        "times-per-day-100",
        medication(times_per_day=100),
        2,
        ("medications.0.times_per_day", "less than or equal to 48"),
    ),
    Case("sex-abbreviated", patient(sex="F"), 2, ("sex: Input should be 'female' or 'male'",)),
    Case("child-pugh-d", patient(child_pugh="D"), 2, ("child_pugh: Input should be 'A', 'B' or 'C'",)),
    Case(
        "lab-out-of-range",
        patient(labs={"potassium_mmol_l": 99}),
        2,
        ("labs.potassium_mmol_l", "less than or equal to 15"),
    ),
    Case(
        "lab-unknown",
        patient(labs={"sodium": 140}),
        2,
        ("labs.sodium: Extra inputs are not permitted", "allowed: potassium_mmol_l, qtc_ms, inr"),
    ),
    Case("empty-id", patient(id=""), 2, ("id", "at least 1 character")),
    Case(
        "10000-medications",
        patient(medications=[BACLOFEN] * 10_000),
        2,
        ("medications", "at most 500 items", "not 10000"),
    ),
    Case("empty-medication-list", patient(medications=[]), 0, (NO_MEDICATION_NOTE,)),
    Case("duplicate-entries", patient(medications=[BACLOFEN, BACLOFEN]), (0, 1), ("kind:duplicate-therapy",)),
    # ------------------------------------------------------------------ Turtle
    Case(
        "turtle-syntax-error",
        turtle("<urn:p> a medkg:Patient ; medkg:ageYears 78"),
        2,
        ("not valid Turtle: the input ends inside a statement", "final '.' missing"),
        suffix=".ttl",
    ),
    Case(
        "turtle-unbound-prefix",
        turtle("<urn:p> a foo:Patient ."),
        2,
        ('not valid Turtle: line 3: Prefix "foo:" not bound',),
        suffix=".ttl",
    ),
    Case(
        "turtle-no-patient",
        turtle("<urn:p> medkg:ageYears 78 ."),
        2,
        ("expected exactly one medkg:Patient, found 0",),
        suffix=".ttl",
    ),
    Case(
        "turtle-two-patients",
        turtle("<urn:p> a medkg:Patient . <urn:q> a medkg:Patient ."),
        2,
        ("found 2",),
        suffix=".ttl",
    ),
    Case(
        "turtle-unknown-property",
        turtle('<urn:p> a medkg:Patient ; medkg:agee 5 ; medkg:takesMedication [ medkg:inputName "baclofen" ] .'),
        2,
        ("ontology#agee is not one medkg reads",),
        suffix=".ttl",
    ),
    Case(
        "turtle-ill-typed-literal",
        turtle(
            '<urn:p> a medkg:Patient ; medkg:ageYears "abc"^^xsd:integer ; medkg:takesMedication [ medkg:inputName "baclofen" ] .'
        ),
        2,
        ("ontology#ageYears", "'abc' is not a valid xsd:integer"),
        suffix=".ttl",
        subprocess=True,
    ),
    Case(
        "turtle-nan-age",
        turtle(
            '<urn:p> a medkg:Patient ; medkg:ageYears "NaN"^^xsd:double ; medkg:takesMedication [ medkg:inputName "baclofen" ] .'
        ),
        2,
        ("age_years", "finite number"),
        suffix=".ttl",
    ),
    Case(
        "turtle-medication-without-name",
        turtle("<urn:p> a medkg:Patient ; medkg:takesMedication [ medkg:doseMg 5 ] ."),
        2,
        ("medications.0.drug: Field required",),
        suffix=".ttl",
    ),
    Case(
        "turtle-asserted-population",
        turtle('<urn:p> a medkg:Patient, medkg:OlderAdult ; medkg:takesMedication [ medkg:inputName "baclofen" ] .'),
        2,
        ("populations are inferred",),
        suffix=".ttl",
    ),
    Case(
        "turtle-no-medication",
        turtle("<urn:p> a medkg:Patient ; medkg:ageYears 70 ."),
        0,
        (NO_MEDICATION_NOTE,),
        suffix=".ttl",
    ),
    # ------------------------------------------------------------------ FHIR R4 Bundles
    Case(
        "fhir-lone-resource",
        json.dumps({"resourceType": "Patient", "id": "p"}),
        2,
        ("a FHIR Patient alone is not read", "give a Bundle"),
    ),
    Case("fhir-resourcetype-not-string", json.dumps({"resourceType": 5}), 2, ("resourceType must be a string",)),
    Case(
        "fhir-bundle-without-entry",
        json.dumps({"resourceType": "Bundle", "type": "collection"}),
        2,
        ("the FHIR Bundle has no entries",),
    ),
    Case(
        "fhir-entry-not-a-list",
        json.dumps({"resourceType": "Bundle", "entry": {"resource": order()}}),
        2,
        ("the FHIR Bundle has no entries",),
    ),
    Case(
        "fhir-medicationrequest-without-medication",
        bundle(order(medicationCodeableConcept=None)),
        1,
        ("kind:not-assessed", "MedicationRequest/m1"),
    ),
    Case(
        "fhir-observation-without-value",
        bundle(observation("2160-0"), order()),
        (0, 1),
        ("Observation/o1: serum creatinine has no numeric valueQuantity",),
    ),
    Case(
        "fhir-observation-unknown-unit",
        bundle(observation("2160-0", valueQuantity={"value": 1.2, "unit": "furlongs"}), order()),
        (0, 1),
        ("unit 'furlongs' is not one medkg converts",),
    ),
    Case(
        "fhir-weight-negative",
        bundle(observation("29463-7", valueQuantity={"value": -70, "unit": "kg"}), order()),
        2,
        ("weight_kg (Observation/o1) -70.0", "greater than 0"),
    ),
    Case(
        "fhir-dose-frequency-1000-per-day",
        bundle(order(dosageInstruction=[{"timing": {"repeat": {"frequency": 1000, "period": 1, "periodUnit": "d"}}}])),
        2,
        ("MedicationRequest/m1 (baclofen)", "times_per_day", "less than or equal to 48"),
    ),
    Case(
        "fhir-invalid-birth-date",
        bundle({"resourceType": "Patient", "id": "p", "birthDate": "1950-13-45"}, order()),
        (0, 1),
        ("Patient birthDate '1950-13-45' is not a valid date",),
    ),
    Case(
        "fhir-birth-after-as-of",
        bundle({"resourceType": "Patient", "id": "p", "birthDate": "2990-01-01"}, order()),
        (0, 1),
        ("birth date 2990-01-01 is after the as-of date 2020-01-01",),
    ),
    Case(
        "fhir-invalid-resource-read-as-written",
        bundle(order(status=5, subject="Patient/p")),
        0,
        ("is not valid FHIR R4 or STU3",),
    ),
    Case(
        "fhir-as-of-on-patient-json",
        patient(),
        2,
        ("--as-of applies to FHIR Bundles and CDS Hooks requests only",),
        args=("--as-of", "2020-01-01"),
    ),
    # ------------------------------------------------------------------ CDS Hooks requests
    Case(
        "cds-without-context",
        json.dumps({"hook": "order-sign", "hookInstance": "h"}),
        2,
        ("a CDS Hooks request needs a 'context' object",),
    ),
    Case(
        "cds-context-not-object", json.dumps({"hook": "order-sign", "context": "x"}), 2, ("needs a 'context' object",)
    ),
    Case(
        "cds-context-without-orders",
        json.dumps({"context": {"patientId": "p"}}),
        2,
        ("no draft medication order and no current medication",),
    ),
    Case("cds-empty-draft-bundle", cds(context={"draftOrders": bundle_dict()}), 2, ("nothing to check",)),
    Case("cds-without-hook", cds(hook=None, hookInstance=None), (0, 1), ("no hook named in the request",)),
    Case(
        "cds-selections-not-a-list",
        cds(context={"selections": 5, "draftOrders": bundle_dict(order(status="draft"))}),
        (0, 1),
        ("context.selections is not a list",),
        subprocess=True,
    ),
    # ------------------------------------------------------------------ standard input and flags
    Case("stdin-binary", bytes(range(128, 256)), 2, ("stdin: not a text file in UTF-8",), stdin=True, subprocess=True),
    Case("stdin-empty", b"", 2, ("stdin: not valid JSON",), stdin=True),
    Case("flag-age-nan", None, 2, ("age_years", "finite number"), args=("--age", "nan", "baclofen")),
    Case("flag-unparseable-dose", None, 2, ("medication 'baclofen:ten'", "NAME:DOSE_MG"), args=("baclofen:ten",)),
    Case("flag-negative-dose", None, 2, ("medications.0.dose_mg", "greater than 0"), args=("baclofen:-5",)),
    Case("flag-empty-name", None, 2, ("medication ':10'", "empty medication name"), args=(":10",)),
    Case("flag-empty-argument", None, 2, ("medication ''", "empty medication name"), args=("--age", "70", "")),
    Case("flag-blank-argument", None, 2, ("medication ' '", "empty medication name"), args=("baclofen", " ")),
    Case("flag-not-a-number", None, 2, ("--crcl", "'high' is not a valid float"), args=("--crcl", "high", "baclofen")),
    Case("nothing-to-check", None, 2, ("nothing to check",), args=()),
]


def _write(case: Case, folder: Path) -> list[str]:
    """Write the case's input file; return the command-line arguments."""
    if case.stdin:
        return ["check", "-", "--format", "json", *case.args]
    if case.content is None:
        name = "no-such-file.json" if case.id == "missing-file" else None
        return ["check", *([str(folder / name)] if name else []), "--format", "json", *case.args]
    path = folder / f"{case.id}{case.suffix}"
    if isinstance(case.content, int):
        with path.open("wb") as handle:
            handle.truncate(case.content)  # sparse: the size check comes before any reading
    elif isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return ["check", str(path), "--format", "json", *case.args]


def run_in_process(args: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``medkg ARGS`` through the console entry point in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv, sys.stdin
    sys.argv = ["medkg", *args]
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    old_env = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.run()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 0
    finally:
        sys.argv, sys.stdin = saved
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return code, out.getvalue(), err.getvalue()


def _report_says(stdout: str) -> str:
    """Notes, finding kinds and titles, and assessed drugs of a JSON report, as one searchable text."""
    report = json.loads(stdout)
    parts = list(report["notes"])
    parts += [f"kind:{f['kind']} {f['title']} {' '.join(f['drugs'])}" for f in report["findings"]]
    parts += [f"assessed:{a['drug']}" for a in report["assessed"]]
    return "\n".join(parts)


def _assert_outcome(case: Case, code: int, stdout: str, stderr: str) -> None:
    expected = case.exit if isinstance(case.exit, tuple) else (case.exit,)
    assert code in expected, f"exit {code}, stderr: {stderr}"
    assert "Traceback" not in stderr and "Traceback" not in stdout
    if code == 2:
        assert stdout == "", "no report is printed for invalid input"
        assert stderr.startswith("medkg: ") and stderr.count("\n") == 1, stderr
        text = stderr
    else:
        text = _report_says(stdout)
    for part in case.says:
        assert part in text, f"{part!r} not in {text!r}"


def test_at_least_30_input_classes_are_tried() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 30
    assert sum(case.exit == 2 for case in CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_cli_input_class(case: Case, tmp_path: Path, kb: KnowledgeBase) -> None:
    args = _write(case, tmp_path)
    stdin = case.content if case.stdin and isinstance(case.content, bytes) else b""
    code, stdout, stderr = run_in_process(args, stdin, case.env)
    _assert_outcome(case, code, stdout, stderr)


@pytest.mark.parametrize("case", [c for c in CASES if c.subprocess], ids=lambda case: case.id)
def test_cli_input_class_in_a_real_process(case: Case, tmp_path: Path, kb: KnowledgeBase) -> None:
    args = _write(case, tmp_path)
    stdin = case.content if case.stdin and isinstance(case.content, bytes) else b""
    result = subprocess.run(
        [sys.executable, "-m", "medkg.cli", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **case.env},
        check=False,
        timeout=300,
    )
    _assert_outcome(case, result.returncode, result.stdout.decode(), result.stderr.decode())


FILE_CASES = [c for c in CASES if c.exit == 2 and not c.stdin and not c.args and c.content is not None and not c.env]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_python_api_raises_patient_input_error(case: Case, tmp_path: Path) -> None:
    path = Path(_write(case, tmp_path)[1])
    with pytest.raises(PatientInputError) as raised:
        load_input(path)
    for part in case.says:
        assert part in str(raised.value)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"medications": "baclofen"}, "medications: Input should be a valid list"),
        ({"medications": [{"drug": " "}]}, "at least 1 character"),
        ({"age_years": float("nan"), "medications": [BACLOFEN]}, "age_years: Input should be a finite number"),
        ({"age_years": float("inf"), "medications": [BACLOFEN]}, "age_years: Input should be a finite number"),
        ({"weight_kg": 1e308, "medications": [BACLOFEN]}, "weight_kg: Input should be less than or equal to 700"),
        (["baclofen"], "a patient is a file path or a mapping, not list"),
        (42, "a patient is a file path or a mapping, not int"),
    ],
)
def test_medkg_check_raises_patient_input_error(data: Any, says: str, kb: KnowledgeBase) -> None:
    with pytest.raises(PatientInputError, match=None) as raised:
        medkg.check(data, kb=kb)
    assert says in str(raised.value)


def test_batch_gives_each_bad_line_an_error_record_and_goes_on(tmp_path: Path, kb: KnowledgeBase) -> None:
    lines = [
        patient().encode(),
        bytes(range(128, 200)),
        b'{"medications": [{"drug": "baclofen", "dose_mg": NaN}]}',
        ("[" * 5000 + "]" * 5000).encode(),
        b'{"age_years": ' + b"9" * 5000 + b', "medications": []}',
        b"",
        json.dumps({"hook": "order-sign"}).encode(),
        medication(drug="trazodone").encode(),
    ]
    source = tmp_path / "mixed.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    code, stdout, stderr = run_in_process(["check", "--batch", str(source)])
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["input"] for r in records] == [f"mixed.ndjson:{n}" for n in (1, 2, 3, 4, 5, 7, 8)]
    assert [r["exit_code"] for r in records] == [records[0]["exit_code"], 2, 2, 2, 2, 2, records[-1]["exit_code"]]
    assert records[0]["exit_code"] in (0, 1) and records[-1]["exit_code"] in (0, 1)
    errors = [r["error"] for r in records if r["exit_code"] == 2]
    assert "not a text file in UTF-8" in errors[0]
    assert "NaN is not allowed" in errors[1]
    assert "nested more than 64 levels" in errors[2]
    assert "5000 digits" in errors[3]
    assert "needs a 'context' object" in errors[4]
    assert code == 2 and "Traceback" not in stderr


def test_batch_from_stdin_with_binary_lines(kb: KnowledgeBase) -> None:
    data = patient().encode() + b"\n\x80\x81garbage\n"
    code, stdout, stderr = run_in_process(["check", "--batch", "-"], stdin=data)
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["exit_code"] for r in records][1:] == [2]
    assert "stdin:2: not a text file in UTF-8" in records[1]["error"]
    assert code == 2 and "Traceback" not in stderr


def test_internal_fault_exits_3_with_a_run_id_and_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("rule store unavailable")

    monkeypatch.setattr(sys.modules["medkg.check"], "check", broken)  # the module (medkg.check is the function)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = tmp_path / "p.json"
    path.write_text(patient(), encoding="utf-8")
    code, stdout, stderr = run_in_process(["check", str(path), "--format", "json"])
    assert (code, stdout) == (3, "")
    assert stderr.startswith("medkg: internal error (run ") and stderr.count("\n") == 1
    assert "RuntimeError: rule store unavailable" in stderr and "no report was produced" in stderr
    run_id = stderr.split("(run ", 1)[1].split(")", 1)[0]
    saved = tmp_path / f"medkg-error-{run_id}.txt"
    assert "Traceback" in saved.read_text(encoding="utf-8") and "Traceback" not in stderr


def test_corrupt_knowledge_base_exits_3_in_a_real_process(tmp_path: Path, kb: KnowledgeBase) -> None:
    """A fault outside the input (a damaged cached build): exit 3, one line with a run id, nothing on stdout."""
    cache = tmp_path / "cache"
    target = cache / kb.built.folder.name
    target.mkdir(parents=True)
    for name in ("meta.json", "kb-owl.nt", "kb-sources.nt"):
        (target / name).write_bytes((kb.built.folder / name).read_bytes())
    (target / "kb.nt").write_text("<urn:a> <urn:b> this is not N-Triples\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "medkg.cli", "check", "--age", "70", "baclofen", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEDKG_CACHE_DIR": str(cache), "TMPDIR": str(tmp_path)},
        check=False,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr.startswith("medkg: internal error (run ") and "Traceback" not in result.stderr
    assert list(tmp_path.glob("medkg-error-*.txt"))


def test_every_case_class_is_in_the_docs_table() -> None:
    table = (Path(__file__).resolve().parent.parent / "docs" / "input-validation.md").read_text(encoding="utf-8")
    missing = [case.id for case in CASES if f"`{case.id}`" not in table]
    assert missing == []
