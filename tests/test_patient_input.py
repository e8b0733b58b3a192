"""Patient input: typed validation, one-line errors naming the field, Turtle equals JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import BACLOFEN_BUNDLE
from medkg import PatientInputError, check, load_input, load_patient
from medkg.knowledge_base import KnowledgeBase
from medkg.loaders import parse_medication_arg, patient_from_turtle

GOOD = {"id": "p1", "age_years": 78, "medications": [{"drug": "baclofen", "dose_mg": 10, "times_per_day": 3}]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age_years": -1}, "age_years"),
        ({"age_years": "old"}, "age_years"),
        ({"crcl_ml_min": -5}, "crcl_ml_min"),
        ({"child_pugh": "D"}, "child_pugh"),
        ({"sex": "unknown"}, "sex"),
        ({"pregnant": "maybe"}, "pregnant"),
        ({"medications": [{"drug": ""}]}, "medications.0.drug"),
        ({"medications": [{"drug": "baclofen", "dose_mg": -10}]}, "medications.0.dose_mg"),
        ({"medications": [{"drug": "baclofen", "times_per_day": 0}]}, "medications.0.times_per_day"),
        ({"medications": "baclofen"}, "medications"),
        ({"unexpected": 1}, "unexpected"),
        ({"conditions": [" "]}, "conditions"),
    ],
)
def test_invalid_values_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(PatientInputError) as error:
        load_patient({**GOOD, **change})
    message = str(error.value)
    assert field in message
    assert "\n" not in message


def test_missing_medications_is_an_error() -> None:
    with pytest.raises(PatientInputError, match="medications"):
        load_patient({"id": "x"})


@pytest.mark.parametrize(
    "text",
    ['{"age_years": NaN, "medications": []}', '{"age_years": Infinity, "medications": []}', "{not json", "[1, 2]", ""],
)
def test_malformed_json_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "patient.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PatientInputError) as error:
        load_patient(path)
    assert str(path) in str(error.value)


def test_missing_file() -> None:
    with pytest.raises(PatientInputError, match="cannot read"):
        load_patient("/nonexistent/patient.json")


def test_turtle_patient_equals_json_patient() -> None:
    turtle = """
    @prefix medkg: <https://w3id.org/medkg/ontology#> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    @prefix dcterms: <http://purl.org/dc/terms/> .
    <urn:example:p1> a medkg:Patient ; dcterms:identifier "p1" ; medkg:ageYears 78 ; medkg:creatinineClearanceMlMin 25 ;
        medkg:childPughClass "B" ; medkg:hasCondition [ rdfs:label "insomnia" ] ;
        medkg:takesMedication [ medkg:inputName "baclofen" ; medkg:inputOrder 0 ; medkg:doseMg 10 ; medkg:timesPerDay 3 ] ,
                              [ medkg:inputName "trazodone" ; medkg:inputOrder 1 ; medkg:doseMg 50 ; medkg:timesPerDay 1 ;
                                medkg:indication [ rdfs:label "insomnia" ] ] .
    """
    expected = load_patient(
        {
            "id": "p1",
            "age_years": 78,
            "crcl_ml_min": 25,
            "child_pugh": "B",
            "conditions": ["insomnia"],
            "medications": [
                {"drug": "baclofen", "dose_mg": 10, "times_per_day": 3},
                {"drug": "trazodone", "dose_mg": 50, "times_per_day": 1, "indication": "insomnia"},
            ],
        }
    )
    assert patient_from_turtle(turtle) == expected


def test_turtle_syntax_error_is_one_line() -> None:
    with pytest.raises(PatientInputError, match="not valid Turtle"):
        patient_from_turtle("this is not turtle")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("baclofen", {"drug": "baclofen"}),
        ("baclofen:10", {"drug": "baclofen", "dose_mg": 10.0}),
        ("baclofen:10x3", {"drug": "baclofen", "dose_mg": 10.0, "times_per_day": 3.0}),
        ("baclofen:10mgx3", {"drug": "baclofen", "dose_mg": 10.0, "times_per_day": 3.0}),
        ("methotrexate:15x1/7", {"drug": "methotrexate", "dose_mg": 15.0, "times_per_day": 1 / 7}),
    ],
)
def test_cli_medication_syntax(arg: str, expected: dict[str, object]) -> None:
    assert parse_medication_arg(arg) == expected


@pytest.mark.parametrize("arg", ["baclofen:ten", "baclofen:10xthree", "baclofen:10x1/0", "baclofen:nan"])
def test_unparseable_cli_dose_is_an_error(arg: str) -> None:
    with pytest.raises(PatientInputError):
        parse_medication_arg(arg)


def test_example_patient_is_valid() -> None:
    from medkg.cli import EXAMPLES

    for path in EXAMPLES.glob("*.json"):
        assert load_patient(path).medications, path
        json.loads(path.read_text(encoding="utf-8"))


def test_combination_parts_split_on_slash_and_plus_only_when_every_part_is_there() -> None:
    from medkg.names import combination_parts

    assert combination_parts(" Amlodipine / Valsartan ") == ["amlodipine", "valsartan"]
    assert combination_parts("oxycodone+acetaminophen") == ["oxycodone", "acetaminophen"]
    assert combination_parts("baclofen") == ["baclofen"]
    assert combination_parts("baclofen/") == ["baclofen/"]  # an empty part: not a combination
    assert combination_parts("Sulfamethoxazole-Trimethoprim") == ["sulfamethoxazole", "trimethoprim"]
    assert combination_parts("oxycodone and acetaminophen") == ["oxycodone", "acetaminophen"]


def test_hyphenated_and_worded_combinations_are_checked_as_their_ingredients(kb: KnowledgeBase) -> None:
    """A new-user trial's spellings: each part known, so each ingredient checked; co-trimoxazole stays one name."""
    for name in ("sulfamethoxazole-trimethoprim", "oxycodone and acetaminophen", "co-trimoxazole"):
        report = check({"age_years": 50, "medications": [{"drug": name}]}, kb=kb)
        assert len(report.assessed) == 2, (name, report.assessed)
        assert not [f for f in report.findings if "unidentified" in f.title], name


def test_release_form_words_are_stripped_only_where_they_name_no_ingredient() -> None:
    from medkg.names import spelling_key, without_release_form

    assert without_release_form("Remeron SolTab") == "remeron"
    assert without_release_form("metoprolol succinate ER") == "metoprolol succinate"
    assert without_release_form("quetiapine XR 24 hr") == "quetiapine"
    assert without_release_form("trazodone extended-release") == "trazodone"
    assert without_release_form("Zyrtec-D") == "zyrtec-d"  # D: pseudoephedrine, an ingredient
    assert without_release_form("Lopressor HCT") == "lopressor hct"  # HCT: hydrochlorothiazide
    assert without_release_form("ER") == "er"
    assert spelling_key(" Toprol - XL ") == spelling_key("toprol xl") == "toprol xl"


@pytest.mark.parametrize(
    ("name", "drugs"),
    [
        ("Toprol XL", ["metoprolol"]),
        ("Remeron SolTab", ["mirtazapine"]),
        ("metoprolol succinate ER", ["metoprolol"]),
        ("Tylenol-PM", ["acetaminophen", "diphenhydramine"]),
        ("Zyrtec D", ["cetirizine"]),  # Zyrtec-D: cetirizine, and pseudoephedrine not modelled (reported)
        ("Lopressor HCT", []),
        ("Focalin XR", []),
    ],
)
def test_a_brand_spelt_with_a_space_or_a_release_form_names_its_ingredients(
    kb: KnowledgeBase, name: str, drugs: list[str]
) -> None:
    """A new-user trial's names: "Toprol XL" (the brand is "Toprol-XL") and "Remeron SolTab" were unidentified.

    A name whose last word names an ingredient (Lopressor HCT: hydrochlorothiazide) is never cut
    to the rest, and a drug not modelled at all (Focalin XR: dexmethylphenidate) stays
    unidentified, reported as not assessed.
    """
    report = check({"age_years": 50, "medications": [{"drug": name}]}, kb=kb)
    assert sorted(a.drug for a in report.assessed if a.drug) == drugs
    unidentified = [f for f in report.findings if "unidentified" in f.title.casefold()]
    assert bool(unidentified) == (not drugs), report.findings


def test_an_unmodelled_ingredient_keeps_its_source_under_another_spelling(kb: KnowledgeBase) -> None:
    """Unasyn's sulbactam is cited from kg/product-ingredients under "ampicillin-sulbactam"; a space for the hyphen cites the same."""

    def unmodelled(name: str) -> list[tuple[str, list[str]]]:
        report = check({"age_years": 50, "medications": [{"drug": name}]}, kb=kb)
        return [
            (f.drugs[0], [s.title for s in f.sources])
            for f in report.findings
            if f.title.startswith("Not assessed: sulbactam")
        ]

    [(ingredient, sources)] = unmodelled("ampicillin-sulbactam")
    assert ingredient == "sulbactam" and sources
    assert unmodelled("Ampicillin Sulbactam") == [(ingredient, sources)]


def test_a_release_form_brand_gets_its_ingredient_dose_limit(kb: KnowledgeBase) -> None:
    """Remeron SolTab 60 mg a day exceeds mirtazapine's labelled 45 mg/day (kg rule), as "mirtazapine" does."""
    findings = {
        name: [
            (f.rule, f.severity)
            for f in check(
                {"age_years": 50, "medications": [{"drug": name, "dose_mg": 60, "times_per_day": 1}]}, kb=kb
            ).findings
            if f.kind == "max-dose"
        ]
        for name in ("Remeron SolTab", "mirtazapine")
    }
    assert findings["Remeron SolTab"] == findings["mirtazapine"]
    assert findings["mirtazapine"] == [("https://w3id.org/medkg/kg/rule-mirtazapine-max-daily-dose", "moderate")]


BUNDLE = BACLOFEN_BUNDLE


def test_load_patient_reads_a_fhir_bundle_as_medkg_check_does(tmp_path: Path, kb: KnowledgeBase) -> None:
    """A new-user trial: load_patient(bundle) failed with "resourceType: Extra inputs are not permitted"."""
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(BUNDLE), encoding="utf-8")
    loaded = load_input(path, known=kb.knows_drug)  # what medkg check reads
    assert loaded.kind == "fhir-bundle" and "age 79 years on 2020-01-01 (born 1940-05-01)" in loaded.notes
    with pytest.warns(UserWarning, match=r"fhir-bundle reader's notes.*age 79 years on 2020-01-01") as warned:
        patient = load_patient(path)
    assert [str(w.message) for w in warned] == [
        f"{path}: the fhir-bundle reader's notes, not kept by load_patient (use load_input): " + "; ".join(loaded.notes)
    ]
    assert patient == loaded.patient
    assert (patient.age_years, patient.sex, [m.drug for m in patient.medications]) == (79, "female", ["baclofen"])
    with pytest.warns(UserWarning):
        assert load_patient(BUNDLE) == patient  # decoded JSON too


def test_load_patient_reads_a_cds_hooks_request(tmp_path: Path) -> None:
    draft = {**BUNDLE["entry"][1]["resource"], "status": "draft"}
    request = {
        "hook": "order-sign",
        "context": {"draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}},
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    with pytest.warns(UserWarning, match="cds-hooks reader's notes"):
        assert [m.drug for m in load_patient(path).medications] == ["baclofen"]


def test_load_patient_of_medkg_json_warns_nothing(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    assert load_patient(path) == load_patient(GOOD)
    assert not recwarn.list


@pytest.mark.parametrize(
    ("values", "caution"),
    [
        ({"sex": "male", "pregnant": True}, "caution: pregnant is true but sex is male; check the entry"),
        ({"age_years": 78, "pregnant": True}, "caution: pregnant is true at age 78 years; check the entry"),
        ({"age_years": 3, "pregnant": True}, "caution: pregnant is true at age 3 years; check the entry"),
        ({"age_years": 70, "breastfeeding": True}, "caution: breastfeeding is true at age 70 years; check the entry"),
        ({"age_years": 120}, "caution: age 120 years is unusual; check the entry"),
    ],
)
def test_unusual_values_get_a_caution_note(values: dict[str, object], caution: str) -> None:
    from medkg.patient import plausibility_notes

    assert caution in plausibility_notes(load_patient({**values, "medications": [{"drug": "warfarin"}]}))


def test_usual_values_get_no_caution_note() -> None:
    from medkg.patient import plausibility_notes

    patient = {"age_years": 30, "sex": "female", "pregnant": True, "medications": [{"drug": "warfarin"}]}
    assert plausibility_notes(load_patient(patient)) == []


@pytest.mark.parametrize(("name", "domain"), [("pregnancy", "pregnancy status"), ("Lactation", "lactation status")])
def test_a_patient_value_entered_as_a_condition_is_reported_with_where_it_belongs(
    kb: KnowledgeBase, name: str, domain: str
) -> None:
    """'--condition pregnancy' was listed as an unknown condition, with no word that pregnancy is a value of its own."""
    report = check(
        {"age_years": 30, "sex": "female", "conditions": [name], "medications": [{"drug": "warfarin"}]}, kb=kb
    )
    assert report.not_used == [
        f"condition: {name} ({domain} is a patient value, not a condition: give it as the patient's {domain})"
    ]
