"""Regression tests for the problems a fresh-user review found (one test per report item).

Source: the new-user review of the core release (issue 2 notes), items numbered as reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import run_medkg as medkg
from medkg import PatientInputError, check, load_patient
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import parse_medication_arg, patient_from_json, patient_from_turtle
from medkg.render.turtle import render_turtle


@pytest.mark.reasoner
def test_1_owl_engine_runs_from_the_filesystem_root(kb: KnowledgeBase) -> None:
    """HermiT resolved a default base IRI against the working directory and failed in '/'."""
    result = medkg("check", "--example", "baclofen-trazodone", "--engine", "owl", cwd="/")
    assert result.returncode == 1, result.stderr


def test_2_doses_far_above_the_label_maximum_are_found(kb: KnowledgeBase) -> None:
    """Trazodone 4000 mg/day and zolpidem 20 mg passed without any dose finding."""
    report = check(
        {
            "age_years": 40,
            "sex": "male",
            "crcl_ml_min": 100,
            "medications": [
                {"drug": "trazodone", "dose_mg": 1000, "times_per_day": 4},
                {"drug": "zolpidem", "dose_mg": 20, "times_per_day": 1},
            ],
        },
        kb=kb,
    )
    maxima = {f.drugs[0]: f for f in report.findings if f.kind == "max-dose"}
    assert maxima["trazodone"].severity == "major"
    assert any("4000" in line and "400 mg/day" in line for line in maxima["trazodone"].because)
    assert any("20" in line and "10 mg/day" in line for line in maxima["zolpidem"].because)
    assert report.exit_code == 1


def test_2_dose_with_a_trailing_x_is_an_error() -> None:
    with pytest.raises(PatientInputError):
        parse_medication_arg("baclofen:10x")


def test_3_explanations_never_round_a_value_onto_its_threshold(kb: KnowledgeBase) -> None:
    """'CrCl 30 mL/min < 30 mL/min' was printed for an entered CrCl of 29.9999999."""
    report = check({"age_years": 80, "crcl_ml_min": 29.9999999, "medications": [{"drug": "baclofen"}]}, kb=kb)
    lines = [line for f in report.findings for line in f.because if "< 30 mL/min" in line]
    assert lines and all("29.9999999" in line for line in lines)


def test_4_repeated_json_keys_are_refused() -> None:
    """The second 'medications' silently replaced the first."""
    with pytest.raises(PatientInputError, match="appears twice"):
        patient_from_json('{"medications": [{"drug": "baclofen"}], "medications": [{"drug": "trazodone"}]}')


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("medkg:ageYrs 78", "not one medkg reads"),
        ("medkg:ageYears 78, 30", "more than one value"),
        ("a medkg:Patient, <https://w3id.org/medkg/kg/Pregnant>", "inferred, not asserted"),
    ],
)
def test_4_turtle_patients_drop_nothing(statement: str, message: str) -> None:
    turtle = f"""@prefix medkg: <https://w3id.org/medkg/ontology#> .
    <urn:x:p> a medkg:Patient ; {statement} ; medkg:takesMedication [ medkg:inputName "baclofen" ] ."""
    with pytest.raises(PatientInputError, match=message):
        patient_from_turtle(turtle)


@pytest.mark.parametrize("value", ["78", True])
def test_4_numbers_are_not_coerced_from_strings_or_booleans(value: object) -> None:
    with pytest.raises(PatientInputError, match="age_years"):
        load_patient({"age_years": value, "medications": [{"drug": "baclofen"}]})


def test_4_entered_crcl_beside_creatinine_is_reported(kb: KnowledgeBase) -> None:
    report = check(
        {
            "age_years": 40,
            "sex": "male",
            "weight_kg": 80,
            "serum_creatinine_mg_dl": 1.0,
            "crcl_ml_min": 40,
            "medications": [{"drug": "baclofen"}],
        },
        kb=kb,
    )
    assert any("Cockcroft-Gault" in note and "40" in note for note in report.notes)


def test_5_turtle_report_carries_the_whole_report(kb: KnowledgeBase) -> None:
    from rdflib import Graph, Namespace

    report = check(load_patient({"age_years": 78, "crcl_ml_min": 25, "medications": [{"drug": "Lioresal"}]}), kb=kb)
    graph = Graph().parse(data=render_turtle(report), format="turtle")
    rep = Namespace("https://w3id.org/medkg/report#")
    assert {str(o) for o in graph.objects(None, rep.input)} == {"Lioresal"}
    assert len(set(graph.objects(None, rep.population))) == len(report.patient.populations)
    assert len(set(graph.objects(None, rep.note))) == len(report.notes)
    assert len(set(graph.objects(None, rep.hasFinding))) == len(report.findings)
    assert any(True for _ in graph.objects(None, rep.uncertain))


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://example.com/sparql> { ?s ?p ?o } }",
        "CLEAR ALL",
        "INSERT DATA { <a:b> <a:c> <a:d> }",
    ],
)
def test_7_query_refuses_updates_and_federation(tmp_path: Path, query: str) -> None:
    path = tmp_path / "q.rq"
    path.write_text(query, encoding="utf-8")
    result = medkg("query", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "refused" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--child-pugh", "D", "baclofen"],
        ["check", "--format", "yaml", "baclofen"],
        ["schema"],
        ["check", "--example", "nope"],
        ["check", "--output", "/nonexistent/dir/out.txt", "baclofen"],
    ],
)
def test_8_usage_errors_are_one_line_and_exit_2(args: list[str]) -> None:
    result = medkg(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_9_files_of_other_types_are_not_taken_for_drug_names(tmp_path: Path) -> None:
    path = tmp_path / "patient.txt"
    path.write_text("{}", encoding="utf-8")
    for target in (str(path), str(tmp_path)):
        result = medkg("check", target)
        assert result.returncode == 2, result.stdout
        assert "medication" not in result.stderr


def test_9_standard_input(kb: KnowledgeBase) -> None:
    result = medkg("check", "-", "--format", "json", stdin='{"medications": [{"drug": "baclofen"}]}')
    assert json.loads(result.stdout)["assessed"][0]["drug"] == "baclofen"


@pytest.mark.parametrize("bad", [None, [], 42])
def test_10_api_rejects_non_patients_with_a_clear_error(bad: object) -> None:
    with pytest.raises(PatientInputError):
        load_patient(bad)  # type: ignore[arg-type]


def test_10_api_check_accepts_a_dict(kb: KnowledgeBase) -> None:
    assert check({"medications": [{"drug": "baclofen"}]}, kb=kb).assessed[0].drug == "baclofen"


def test_opioid_benzodiazepine_pair_is_reported_once(kb: KnowledgeBase) -> None:
    """The specific opioid + benzodiazepine rule supersedes opioid + any CNS depressant for the same pair."""
    report = check({"age_years": 50, "medications": [{"drug": "oxycodone"}, {"drug": "alprazolam"}]}, kb=kb)
    pairs = [f for f in report.findings if f.kind == "interaction" and f.drugs == ["alprazolam", "oxycodone"]]
    assert len(pairs) == 1
    assert "benzodiazepine" in pairs[0].title


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"medications": [{"drug": "baclofen"}]}')
    assert load_patient(path).medications[0].drug == "baclofen"


def test_a_brand_above_the_maximum_dose_explains_itself_like_its_ingredient() -> None:
    """Found by the 10,000-case property run: the daily-dose line named the product as entered
    (``Lioresal 30 mg x 4/day``), so a brand and its ingredient gave different findings."""
    from medkg import check

    def dose_findings(name: str) -> list[str]:
        report = check({"id": "p", "age_years": 70, "medications": [{"drug": name, "dose_mg": 30, "times_per_day": 4}]})
        return [f.model_dump_json() for f in report.findings if f.kind == "max-dose"]

    branded, generic = dose_findings("Lioresal"), dose_findings("baclofen")
    assert branded == generic
    assert branded and "baclofen 30 mg x 4/day" in branded[0]


def test_check_many_validates_patient_dicts_as_check_does(kb: KnowledgeBase) -> None:
    """Issue 5 new-user trial: check_many(dicts) failed with AttributeError while check(dict) validated."""
    from medkg import check_many

    data = {"age_years": 78, "medications": [{"drug": "baclofen", "dose_mg": 10, "times_per_day": 3}]}
    [from_dict] = check_many([data], kb=kb)
    assert from_dict == check(load_patient(data), kb=kb)
    with pytest.raises(PatientInputError, match="age_years"):
        check_many([{"age_years": -1, "medications": []}], kb=kb)


def test_generated_patients_refuse_impossible_sizes(kb: KnowledgeBase) -> None:
    """Issue 5 new-user trial: more drugs per patient than the knowledge base holds crashed in random."""
    from medkg.synthetic import generate_patient_dicts

    with pytest.raises(ValueError, match="exceeds the knowledge base's"):
        generate_patient_dicts(1, kb=kb, min_drugs=5000, max_drugs=5000)
    with pytest.raises(ValueError, match="min_drugs <= max_drugs"):
        generate_patient_dicts(1, kb=kb, min_drugs=5, max_drugs=3)
    assert [len(p["medications"]) for p in generate_patient_dicts(3, kb=kb, min_drugs=4, max_drugs=4)] == [4, 4, 4]


def test_missing_data_advice_names_each_value_once(kb: KnowledgeBase) -> None:
    """ "hepatic function (Child-Pugh class) (Child-Pugh class)": a property label the domain already names is not repeated."""
    report = check({"age_years": 60, "sex": "male", "medications": [{"drug": "ticagrelor"}]}, kb=kb)
    hepatic = [f for f in report.findings if f.title == "Not assessed: hepatic function (Child-Pugh class) unknown"]
    assert [f.recommendation for f in hepatic] == [
        "Give the patient's hepatic function (Child-Pugh class) to assess these rules."
    ]
    report = check({"sex": "female", "age_years": 30, "medications": [{"drug": "haloperidol"}]}, kb=kb)
    lactation = [f for f in report.findings if f.title == "Not assessed: lactation status unknown"]
    assert [f.recommendation for f in lactation] == [
        "Give the patient's lactation status to assess these rules; medkg reads it from: breastfeeding."
    ]
    report = check({"age_years": 60, "medications": [{"drug": "dofetilide"}, {"drug": "warfarin"}]}, kb=kb)
    advice = sorted(f.recommendation or "" for f in report.findings if f.kind == "not-assessed")
    assert (
        "Give the patient's QTc interval to assess these rules; medkg reads it from: corrected QT interval (QTc)."
        in advice
    )
    assert not [text for text in advice if "((" in text or "))" in text], advice


@pytest.mark.parametrize("drug", ["propranolol", "carvedilol", "nadolol", "sotalol", "labetalol"])
def test_asthma_of_any_severity_contraindicates_non_selective_beta_blockers(kb: KnowledgeBase, drug: str) -> None:
    """Their labels contraindicate bronchial asthma without a severity; plain "asthma" was once 'not used'.

    Sources: propranolol and carvedilol US labels (as summarised in kg/sources), Swiss Corgard
    (nadolol) product information, Covis Betapace (sotalol) safety information, US labetalol
    tablets label: contraindications include bronchial asthma.
    """
    report = check({"age_years": 50, "sex": "male", "conditions": ["asthma"], "medications": [{"drug": drug}]}, kb=kb)
    assert report.not_used == []  # "asthma" is a known condition now
    contraindications = [f for f in report.findings if f.kind == "contraindication" and f.drugs == [drug]]
    assert [f.severity for f in contraindications] == ["contraindicated"], [f.title for f in report.findings]
    assert "asthma" in contraindications[0].title.lower()


def test_plain_asthma_is_not_the_opioid_labels_acute_or_severe_asthma(kb: KnowledgeBase) -> None:
    """The opioid contraindication names acute or severe bronchial asthma only: "asthma" alone must not trigger it."""
    mild = check({"age_years": 50, "conditions": ["asthma"], "medications": [{"drug": "oxycodone"}]}, kb=kb)
    severe = check({"age_years": 50, "conditions": ["severe asthma"], "medications": [{"drug": "oxycodone"}]}, kb=kb)
    assert not [f for f in mild.findings if f.kind == "contraindication"]
    assert [f.drugs for f in severe.findings if f.kind == "contraindication"] == [["oxycodone"]]


def _contraindicated(kb: KnowledgeBase, condition: str, drug: str) -> bool:
    patient = {"age_years": 70, "sex": "male", "conditions": [condition], "medications": [{"drug": drug}]}
    report = check(patient, kb=kb)
    assert report.not_used == [], report.not_used
    return any(f.kind == "contraindication" and f.drugs == [drug] for f in report.findings)


@pytest.mark.parametrize(
    ("condition", "drug", "expected"),
    [
        # propranolol label: sinus bradycardia and block beyond the first degree
        ("sinus bradycardia", "propranolol", True),
        ("second degree av block", "propranolol", True),
        # carvedilol label: second- or third-degree AV block, sick sinus syndrome, severe bradycardia
        ("complete heart block", "carvedilol", True),
        ("sick sinus syndrome", "carvedilol", True),
        # Swiss nadolol product information: AV block II-III, sick sinus syndrome, bradycardia below 50/min
        ("bradycardia", "nadolol", True),
        # sotalol (Betapace safety information): sinus bradycardia, sick sinus syndrome, AV block II-III
        ("sinus bradycardia", "sotalol", True),
        # labetalol tablets label: heart block beyond the first degree, severe bradycardia
        ("complete heart block", "labetalol", True),
        # verapamil and diltiazem: sick sinus syndrome or second/third-degree AV block (not bradycardia alone)
        ("sick sinus syndrome", "verapamil", True),
        ("third degree av block", "diltiazem", True),
        ("bradycardia", "verapamil", False),
        ("sinus bradycardia", "diltiazem", False),
        # a dihydropyridine calcium-channel blocker does not slow AV conduction: no rule
        ("complete heart block", "amlodipine", False),
    ],
)
def test_conduction_disease_contraindications(kb: KnowledgeBase, condition: str, drug: str, expected: bool) -> None:
    """Drugs that slow the sinus node or AV conduction, in bradycardia, sick sinus syndrome or AV block II-III."""
    assert _contraindicated(kb, condition, drug) is expected


def test_first_degree_av_block_is_not_taken_for_a_higher_grade(kb: KnowledgeBase) -> None:
    """The labels name block beyond the first degree: "first degree av block" must not match, and is listed as not used."""
    patient = {"age_years": 70, "conditions": ["first degree av block"], "medications": [{"drug": "propranolol"}]}
    report = check(patient, kb=kb)
    assert report.not_used == ["condition: first degree av block"]
    assert not [f for f in report.findings if f.kind == "contraindication"]


def _angioedema_findings(kb: KnowledgeBase, condition: str, drug: str) -> list[tuple[str, str]]:
    """(kind, severity) of the findings about ``drug`` whose rule concerns angioedema, for one recorded condition."""
    patient = {"age_years": 60, "sex": "male", "conditions": [condition], "medications": [{"drug": drug}]}
    report = check(patient, kb=kb)
    assert report.not_used == [], report.not_used
    return sorted(
        (f.kind, f.severity) for f in report.findings if f.drugs == [drug] and "angioedema" in (f.rule or "").lower()
    )


@pytest.mark.parametrize(
    ("condition", "drug", "expected"),
    [
        # lisinopril label and EU enalapril (Aqumeldi) SmPC: contraindicated after ACE-inhibitor angioedema and with
        # hereditary or idiopathic angioedema; class labelling applied to every ACE inhibitor
        ("ace inhibitor angioedema", "lisinopril", [("contraindication", "contraindicated")]),
        ("hereditary angioedema", "enalapril", [("contraindication", "contraindicated")]),
        ("idiopathic angioedema", "ramipril", [("contraindication", "contraindicated")]),
        # angioedema of unrecorded cause: a caution to establish it (the Epaned label: angioedema unrelated to an
        # ACE inhibitor still raises the risk), never a silent pass; superseded when the cause contraindicates
        ("angioedema", "lisinopril", [("caution", "major")]),
        # an ARB's angioedema is not in the ACE inhibitor contraindication read: the caution only
        ("arb angioedema", "perindopril", [("caution", "major")]),
        # Entresto label: contraindicated after angioedema on an ACE inhibitor or an ARB
        ("arb angioedema", "sacubitril", [("contraindication", "contraindicated")]),
        ("ace inhibitor angioedema", "sacubitril", [("contraindication", "contraindicated")]),
        ("angio-oedema", "sacubitril", [("caution", "major")]),
        # Canadian Entresto labelling: also contraindicated with hereditary or idiopathic angioedema
        ("hereditary angioedema", "sacubitril", [("contraindication", "contraindicated")]),
        ("idiopathic angioedema", "sacubitril", [("contraindication", "contraindicated")]),
        # spellings a new user tried, and the ICD-10-CM code as a FHIR reader writes it
        ("angio-edema", "lisinopril", [("caution", "major")]),
        ("h/o angioedema", "ramipril", [("caution", "major")]),
        ("angioedema, hereditary", "enalapril", [("contraindication", "contraindicated")]),
        ("Angioedema [ICD-10 T78.3XXA]", "lisinopril", [("caution", "major")]),
        # UK losartan SmPC 4.4: a history of angioedema asks for close monitoring (class labelling for every ARB)
        ("angioedema", "losartan", [("caution", "moderate")]),
        ("ace inhibitor angioedema", "valsartan", [("caution", "moderate")]),
        ("hereditary angioedema", "irbesartan", [("caution", "moderate")]),
        # no bradykinin-breakdown blocker: no angioedema rule
        ("ace inhibitor angioedema", "amlodipine", []),
    ],
)
def test_angioedema_history_with_ace_inhibitors_sacubitril_and_arbs(
    kb: KnowledgeBase, condition: str, drug: str, expected: list[tuple[str, str]]
) -> None:
    """A known cause gives the labels' contraindication; an unrecorded cause, a caution to establish it; an ARB, close monitoring."""
    assert _angioedema_findings(kb, condition, drug) == expected


def test_an_allergy_to_one_ace_inhibitor_contraindicates_another(kb: KnowledgeBase) -> None:
    """EU enalapril SmPC 4.3: hypersensitivity to any other ACE inhibitor (an allergy to enalapril was once ignored for lisinopril)."""
    patient = {"age_years": 60, "allergies": ["enalapril"], "medications": [{"drug": "lisinopril"}]}
    report = check(patient, kb=kb)
    allergy = [f for f in report.findings if f.kind == "allergy" and f.drugs == ["lisinopril"]]
    assert [(f.severity, f.rule) for f in allergy] == [
        ("contraindicated", "https://w3id.org/medkg/kg/rule-allergy-ace-inhibitor-class")
    ]
    plural = check({"age_years": 60, "allergies": ["ACE inhibitors"], "medications": [{"drug": "ramipril"}]}, kb=kb)
    assert plural.not_used == []
    assert [f.severity for f in plural.findings if f.kind == "allergy"] == ["contraindicated"]


@pytest.mark.parametrize("mtor", ["everolimus", "sirolimus"])
def test_ace_inhibitor_with_an_mtor_inhibitor_warns_of_angioedema(kb: KnowledgeBase, mtor: str) -> None:
    """Epaned (enalapril) label: mTOR inhibitors with an ACE inhibitor may increase the risk of angioedema."""
    report = check({"age_years": 60, "medications": [{"drug": "lisinopril"}, {"drug": mtor}]}, kb=kb)
    found = [f for f in report.findings if f.rule == "https://w3id.org/medkg/kg/rule-ace-inhibitor-mtor-inhibitor"]
    assert [(f.kind, f.severity, f.object, f.precipitant) for f in found] == [
        ("interaction", "moderate", ["lisinopril"], [mtor])
    ]


@pytest.mark.parametrize("engine", ["default", "sparql"])
def test_a_dose_with_many_decimal_places_does_not_silence_dose_limits(kb: KnowledgeBase, engine: str) -> None:
    """0.25 mg x 1/7 a day beside 500 mg twice a day: the sparql engine once missed the 1,000 mg/day colchicine overdose.

    pyoxigraph's xsd:decimal holds 18 places; 0.25 x 0.14285714285714285 needs 19, so the product
    was an error and the dose-range rule's SUM unbound. Colchicine label: maximum 2.4 mg/day (kg).
    """
    patient = {
        "age_years": 60,
        "medications": [
            {"drug": "colchicine", "dose_mg": 0.25, "times_per_day": 1 / 7},
            {"drug": "colchicine", "dose_mg": 500, "times_per_day": 2},
        ],
    }
    report = check(patient, kb=kb, engine=engine)
    found = [f for f in report.findings if f.rule == "https://w3id.org/medkg/kg/rule-colchicine-max-daily-dose"]
    assert [f.severity for f in found] == ["major"], [f.rule for f in report.findings]
    assert any("daily dose 1000.035714 mg/day" in line for line in found[0].because), found[0].because


def test_a_combination_written_out_checks_every_ingredient(kb: KnowledgeBase) -> None:
    """ "sacubitril/valsartan" once named sacubitril alone (a synonym on one row): valsartan went unchecked, unsaid."""
    base: dict[str, Any] = {"age_years": 60, "sex": "male", "crcl_ml_min": 80, "labs": {"potassium_mmol_l": 5.8}}
    reports = {
        name: check({**base, "medications": [{"drug": name}, {"drug": "spironolactone"}]}, kb=kb)
        for name in ("Entresto", "sacubitril/valsartan", "Valsartan + Sacubitril")
    }
    for name, report in reports.items():
        assert sorted(a.drug for a in report.assessed if a.input == name) == ["sacubitril", "valsartan"], name
        assert any(note.startswith(f"{name} is a combination product") for note in report.notes), name
        # the ARB with a potassium-sparing diuretic at potassium above 5.0 (valsartan's finding)
        assert any(
            f.severity == "major" and "valsartan" in f.drugs and "spironolactone" in f.drugs for f in report.findings
        )
    assert reports["sacubitril/valsartan"].findings == reports["Entresto"].findings


def test_a_combination_with_an_unknown_part_is_unidentified_as_a_whole(kb: KnowledgeBase) -> None:
    """Nothing is checked on half a name: the whole input is reported as not assessed."""
    report = check({"age_years": 60, "medications": [{"drug": "amlodipine/nosuchdrug"}]}, kb=kb)
    assert report.assessed == []
    assert [f.title for f in report.findings if "unidentified" in f.title] == [
        "Not assessed: unidentified medication 'amlodipine/nosuchdrug'"
    ]


@pytest.mark.parametrize(
    ("patient", "rule_drugs"),
    [
        # combination brands that were listed on one ingredient's row only: the other went unchecked
        (
            {"age_years": 60, "medications": [{"drug": "Yosprala"}, {"drug": "clopidogrel"}]},
            ["clopidogrel", "omeprazole"],
        ),
        ({"age_years": 70, "egfr_ml_min_1_73m2": 20, "medications": [{"drug": "Actoplus Met"}]}, ["metformin"]),
        ({"age_years": 60, "medications": [{"drug": "Treximet"}, {"drug": "warfarin"}]}, ["naproxen", "warfarin"]),
    ],
)
def test_combination_brands_are_checked_as_every_ingredient(
    kb: KnowledgeBase, patient: dict[str, Any], rule_drugs: list[str]
) -> None:
    """Found by a new-user trial: the same patient written with the ingredients got the serious finding, the brand did not."""
    report = check(patient, kb=kb)
    brand = patient["medications"][0]["drug"]
    assert len([a for a in report.assessed if a.input == brand]) == 2
    assert any(f.drugs == rule_drugs and f.severity in {"major", "contraindicated"} for f in report.findings), [
        (f.severity, f.drugs, f.title) for f in report.findings
    ]


def test_an_aspirin_allergy_contraindicates_nsaids(kb: KnowledgeBase) -> None:
    """NSAID class labelling: contraindicated after a hypersensitivity reaction to aspirin or other salicylates."""
    report = check({"age_years": 50, "allergies": ["aspirin"], "medications": [{"drug": "ibuprofen"}]}, kb=kb)
    assert [(f.severity, f.rule) for f in report.findings if f.kind == "allergy"] == [
        ("contraindicated", "https://w3id.org/medkg/kg/rule-allergy-aspirin-nsaid-cross-sensitivity")
    ]


@pytest.mark.parametrize(
    ("allergy", "drug"),
    [
        ("penicillin allergy", "amoxicillin"),
        ("Sulfonamides", "sulfamethoxazole"),
        ("sulfa allergies", "sulfamethoxazole"),
    ],
)
def test_allergies_written_as_a_list_entry_are_recognised(kb: KnowledgeBase, allergy: str, drug: str) -> None:
    """ "penicillin allergy" and "sulfonamides" were listed as not used: the allergy was never checked."""
    report = check({"age_years": 50, "allergies": [allergy], "medications": [{"drug": drug}]}, kb=kb)
    assert report.not_used == []
    assert [f.severity for f in report.findings if f.kind == "allergy"] == ["contraindicated"]


def test_an_older_adults_nsaid_renal_finding_is_reported_once(kb: KnowledgeBase) -> None:
    """Beers 2023 Table 6 (NSAID, CrCl < 30 mL/min) once came twice for an older adult: its older-adult
    rule and the all-ages rule. The older-adult rule supersedes the other; below 65 the other still fires."""
    kg = "https://w3id.org/medkg/kg/"

    def renal_rules(age: int) -> list[str | None]:
        report = check({"age_years": age, "crcl_ml_min": 20, "medications": [{"drug": "naproxen"}]}, kb=kb)
        return [f.rule for f in report.findings if f.rule and "crcl-below-30" in f.rule]

    assert renal_rules(80) == [kg + "rule-beers-nsaid-crcl-below-30"]
    assert renal_rules(50) == [kg + "rule-nsaid-crcl-below-30"]


@pytest.mark.parametrize(
    "condition",
    ["coronary artery disease", "ischaemic heart disease", "CAD", "Coronary arteriosclerosis [ICD-10 I25.10]"],
)
def test_coronary_artery_disease_meets_the_ischaemic_heart_disease_rules(kb: KnowledgeBase, condition: str) -> None:
    """Found 2026-12-02: 'coronary artery disease' resolved to a class unrelated to ischaemic heart disease.

    So sumatriptan (contraindicated in ischaemic heart disease, triptan labels) and the beta-blocker
    boxed warning (do not stop abruptly, Toprol-XL) stayed silent. kg:CoronaryArteryDisease is now
    a subclass of kg:IschemicHeartDisease (ICD-10 files I25.1 under I20-I25); both engines agree.
    """
    patient = load_patient(
        {"age_years": 70, "conditions": [condition], "medications": [{"drug": "sumatriptan"}, {"drug": "metoprolol"}]}
    )
    for engine in ("default", "sparql"):
        report = check(patient, kb=kb, engine=engine)
        assert {"PatientWithCoronaryArteryDisease", "PatientWithIschemicHeartDisease"} <= set(
            report.patient.populations
        )
        rules = {f.rule: f.severity for f in report.findings}
        assert rules.get("https://w3id.org/medkg/kg/rule-beta-blocker-withdrawal-ihd") == "info"
        assert any(f.severity == "contraindicated" and f.drugs == ["sumatriptan"] for f in report.findings), engine


@pytest.mark.parametrize(
    ("condition", "prompted"),
    [
        ("angina pectoris", True),  # ischaemic heart disease, not (named) coronary artery disease
        ("Acute myocardial infarction [ICD-10 I21.4]", True),  # I21 under I20-I25
        ("coronary artery disease", True),
        ("hypertension", False),
    ],
)
def test_start_a7_prompts_a_beta_blocker_for_any_ischaemic_heart_disease(
    kb: KnowledgeBase, condition: str, prompted: bool
) -> None:
    """Found 2026-12-02: START A7 ('beta-blocker with ischaemic heart disease') required coronary artery disease.

    A patient with angina pectoris or a myocardial infarction coded I21 (both ischaemic heart
    disease only) got no prompt; a beta-blocker taken silences it.
    """
    rule = "https://w3id.org/medkg/kg/rule-start-beta-blocker-coronary-disease"
    patient = {"age_years": 75, "conditions": [condition], "medications": [{"drug": "atorvastatin"}]}
    for engine in ("default", "sparql"):
        omitted = {f.rule for f in check(load_patient(patient), kb=kb, engine=engine).findings if f.kind == "omission"}
        assert (rule in omitted) is prompted, engine
    on_one = {**patient, "medications": [{"drug": "atorvastatin"}, {"drug": "metoprolol"}]}
    assert rule not in {f.rule for f in check(load_patient(on_one), kb=kb).findings}


@pytest.mark.parametrize(
    ("condition", "coronary"),
    [
        ("myocardial infarction", True),
        ("MI", True),
        ("heart attack", True),
        ("NSTEMI", True),
        ("unstable angina", True),
        ("Myocardial infarction [SNOMED CT 22298006]", True),
        ("NSTEMI [ICD-10 I21.4]", True),
        ("Old myocardial infarction [ICD-10 I25.2] (resolved)", True),  # a past infarction counts
        ("Type 2 MI [ICD-10 I21.A1]", False),  # supply-demand infarction: ischaemic heart disease only
        ("angina pectoris (resolved)", False),
    ],
)
def test_a_myocardial_infarction_meets_the_coronary_start_criteria(
    kb: KnowledgeBase, condition: str, coronary: bool
) -> None:
    """Found 2026-12-02 (new-user trial): 'myocardial infarction', 'MI', 'heart attack' were not recognised.

    An infarction coded I21.4 met START A7 only, not A3 (antiplatelet) or A5 (statin), and a
    record marking an old infarction resolved met nothing. Type 1 and unspecified infarctions are
    coronary artery disease (kg:CoronaryArteryDisease); every ischaemic heart disease counts when past.
    """
    report = check(load_patient({"age_years": 75, "conditions": [condition], "medications": []}), kb=kb)
    assert report.not_used == []
    assert "PatientWithIschemicHeartDisease" in report.patient.populations
    omitted = {(f.rule or "").rsplit("/", 1)[1] for f in report.findings if f.kind == "omission"}
    assert "rule-start-beta-blocker-coronary-disease" in omitted  # A7: any ischaemic heart disease
    assert ("rule-start-antithrombotic-vascular-disease" in omitted) is coronary  # A3
    assert ("rule-start-statin-vascular-disease" in omitted) is coronary  # A5


@pytest.mark.parametrize(
    "condition", ["fragility fracture", "osteoporotic fracture", "Fracture [ICD-10 M80.08XA]", "Hx [ICD-10 Z87.310]"]
)
def test_a_fragility_fracture_is_both_a_fracture_history_and_osteoporosis(kb: KnowledgeBase, condition: str) -> None:
    """Found 2026-12-02: 'fragility fracture' named two unrelated classes and resolved to the fall history alone.

    START E3/E4 (vitamin D, calcium, bone anti-resorptive therapy) are for 'documented osteoporosis
    and/or previous fragility fracture(s)'; Beers 2023 Table 3 for a 'history of falls or fractures'.
    """
    patient = load_patient({"age_years": 80, "conditions": [condition], "medications": [{"drug": "zolpidem"}]})
    report = check(patient, kb=kb)
    assert {"PatientWithFallHistory", "PatientWithOsteoporosis"} <= set(report.patient.populations)
    omitted = {f.rule for f in report.findings if f.kind == "omission"}
    assert "https://w3id.org/medkg/kg/rule-start-bone-therapy-osteoporosis" in omitted
    past = check(load_patient({"age_years": 80, "conditions": ["fragility fracture (resolved)"], "medications": [
        {"drug": "zolpidem"}
    ]}), kb=kb)  # fmt: skip
    assert "PatientWithOsteoporosis" in past.patient.populations  # a previous fracture counts


def test_no_condition_name_resolves_to_one_of_two_unrelated_classes(kb: KnowledgeBase) -> None:
    """A name or code listed on two classes resolves to one only: it must be the subclass, which meets both."""
    from collections import defaultdict

    classes: dict[str, set[str]] = defaultdict(set)
    for row in kb._rows("catalogue/condition-names"):
        classes[str(row["name"]).casefold()].add(str(row["condition"]))
    for name, found in classes.items():
        if len(found) > 1:
            resolved = kb.condition_names[name]
            assert all(kb.rulebook.at_or_below(resolved, other) for other in found), (name, sorted(found))
