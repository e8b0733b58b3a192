"""Property-based tests (hypothesis) over generated patients: invariants a checker must never break.

- no exception escapes for any valid patient, and arbitrary JSON is either read or refused
  with :class:`medkg.PatientInputError` (never another exception);
- the order of medications never changes the findings, nor the order of a FHIR Bundle's entries;
- A + B == B + A for every pair of drugs;
- a single drug never yields an interaction or any finding about several drugs;
- adding a drug never removes an existing pairwise interaction (same drugs, same rule), and the
  drugs of every other multi-drug finding (additive effects, burdens) stay covered: a finding may
  merge into a larger one;
- a brand name gives the same findings as its ingredient;
- every input medication is either assessed or named in a not-assessed finding: nothing vanishes.

CI runs a few dozen examples per property; ``MEDKG_PROPERTY_EXAMPLES=10000 pytest -m properties``
(or ``python scripts/property_run.py``) runs the long campaign.
"""

from __future__ import annotations

import json
import os
from datetime import date
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medkg import check
from medkg.knowledge_base import KnowledgeBase, default_knowledge_base
from medkg.loaders import LoadedInput, PatientInputError, input_from_dict
from medkg.report import Report

pytestmark = pytest.mark.properties

_EXAMPLES = int(os.environ.get("MEDKG_PROPERTY_EXAMPLES", "25"))
_SETTINGS = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _kb() -> KnowledgeBase:
    # the session fixture has built the knowledge base in the test cache; this reuses that build
    return default_knowledge_base()


def _ingredients() -> list[str]:
    kb = _kb()
    return sorted({kb.label(iri) for iri in kb.drug_names.values()})


@cache
def _brands() -> dict[str, str]:
    """Ingredient name -> one single-ingredient brand name that resolves to it (from the knowledge base).

    A brand with an ingredient medkg does not model (Vabomere: meropenem and vaborbactam) is left
    out: its report rightly says more than the modelled ingredient's. Cached: the catalogue query
    is the same for every generated case.
    """
    kb = _kb()
    found: dict[str, str] = {}
    for row in kb.store.select(kb.query("catalogue/drug-names")):
        name = str(row["name"]).casefold()
        if row["nameKind"] == "brand" and len(kb.name_ingredients[name]) == 1 and name not in kb.unmodelled_ingredients:
            found.setdefault(kb.label(str(row["drug"])), str(row["name"]))
    return found


@st.composite
def patients(draw: st.DrawFn, min_drugs: int = 1, max_drugs: int = 6) -> dict[str, Any]:
    """A valid patient in the JSON shape: knowledge-base drugs, optional age, sex, renal and hepatic values."""
    drugs = draw(st.lists(st.sampled_from(_ingredients()), min_size=min_drugs, max_size=max_drugs, unique=True))
    patient: dict[str, Any] = {
        "id": "generated",
        "medications": [
            {
                "drug": name,
                **draw(
                    st.one_of(
                        st.just({}),
                        st.fixed_dictionaries(
                            {
                                "dose_mg": st.sampled_from([0.5, 5.0, 10.0, 50.0, 400.0]),
                                "times_per_day": st.sampled_from([1.0, 2.0, 3.0]),
                            }
                        ),
                    )
                ),
            }
            for name in drugs
        ],
    }
    optional = {
        "age_years": st.floats(min_value=18, max_value=100, allow_nan=False).map(lambda v: round(v, 1)),
        "sex": st.sampled_from(["female", "male"]),
        "crcl_ml_min": st.sampled_from([8.0, 25.0, 29.9, 30.0, 45.0, 59.0, 90.0]),
        "child_pugh": st.sampled_from(["A", "B", "C"]),
        "conditions": st.lists(
            st.sampled_from(["copd", "heart failure", "dementia", "falls"]), max_size=2, unique=True
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            patient[key] = draw(strategy)
    return patient


def _findings(report: Report) -> list[str]:
    return [finding.model_dump_json() for finding in report.findings]


def _multi(report: Report) -> list[frozenset[str]]:
    return [frozenset(f.drugs) for f in report.findings if len(f.drugs) > 1 and f.kind != "not-assessed"]


def _interactions(report: Report) -> set[tuple[str | None, frozenset[str]]]:
    """Pairwise interactions as (rule, drugs): these must survive adding a drug unchanged."""
    return {(f.rule, frozenset(f.drugs)) for f in report.findings if f.kind == "interaction" and len(f.drugs) == 2}


AS_OF = date(2024, 6, 1)


def _bundle(patient: dict[str, Any]) -> dict[str, Any]:
    """The patient as a FHIR R4 Bundle: a Patient, one active MedicationRequest per drug, a creatinine."""
    resources: list[dict[str, Any]] = []
    person: dict[str, Any] = {"resourceType": "Patient", "id": "generated"}
    if "age_years" in patient:
        person["birthDate"] = f"{AS_OF.year - int(patient['age_years']) - 1:04d}-01-01"
    if "sex" in patient:
        person["gender"] = patient["sex"]
    resources.append(person)
    for number, medication in enumerate(patient["medications"]):
        order: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": f"m{number}",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/generated"},
            "authoredOn": "2024-05-01",
            "medicationCodeableConcept": {"text": medication["drug"]},
        }
        if "dose_mg" in medication:
            order["dosageInstruction"] = [
                {
                    "timing": {
                        "repeat": {"frequency": int(medication["times_per_day"]), "period": 1, "periodUnit": "d"}
                    },
                    "doseAndRate": [{"doseQuantity": {"value": medication["dose_mg"], "unit": "mg"}}],
                }
            ]
        resources.append(order)
    if "crcl_ml_min" in patient:
        resources.append(
            {
                "resourceType": "Observation",
                "id": "egfr",
                "status": "final",
                "effectiveDateTime": "2024-05-01",
                "code": {"coding": [{"system": "http://loinc.org", "code": "62238-1"}]},
                "valueQuantity": {"value": patient["crcl_ml_min"], "unit": "mL/min/{1.73_m2}"},
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _check_loaded(loaded: LoadedInput) -> list[str]:
    return _findings(check(loaded.patient, kb=_kb(), notes=loaded.notes))


@_SETTINGS
@given(patient=patients(min_drugs=2), data=st.data())
def test_medication_order_never_changes_findings(patient: dict[str, Any], data: st.DataObject) -> None:
    shuffled = dict(patient, medications=data.draw(st.permutations(patient["medications"])))
    assert _findings(check(shuffled, kb=_kb())) == _findings(check(patient, kb=_kb()))


@_SETTINGS
@given(patient=patients(min_drugs=2, max_drugs=2))
def test_a_plus_b_equals_b_plus_a(patient: dict[str, Any]) -> None:
    swapped = dict(patient, medications=patient["medications"][::-1])
    assert _findings(check(swapped, kb=_kb())) == _findings(check(patient, kb=_kb()))


@_SETTINGS
@given(patient=patients(min_drugs=1, max_drugs=1))
def test_a_single_drug_never_yields_a_finding_about_several_drugs(patient: dict[str, Any]) -> None:
    report = check(patient, kb=_kb())
    assert _multi(report) == []
    assert [f for f in report.findings if f.kind in {"interaction", "additive-effect", "duplicate-therapy"}] == []


@_SETTINGS
@given(patient=patients(min_drugs=2, max_drugs=5), extra=st.sampled_from(_ingredients()))
def test_adding_a_drug_keeps_every_multi_drug_finding_covered(patient: dict[str, Any], extra: str) -> None:
    names = {m["drug"] for m in patient["medications"]}
    if extra in names:
        return
    first = check(patient, kb=_kb())
    second = check(dict(patient, medications=[*patient["medications"], {"drug": extra}]), kb=_kb())
    before, after = _multi(first), _multi(second)
    for drugs in before:
        assert any(drugs <= larger for larger in after), f"{sorted(drugs)} no longer reported after adding {extra}"
    assert _interactions(first) <= _interactions(second), f"an interaction disappeared after adding {extra}"


@_SETTINGS
@given(patient=patients(min_drugs=1, max_drugs=4), data=st.data())
def test_a_brand_name_gives_the_same_findings_as_its_ingredient(patient: dict[str, Any], data: st.DataObject) -> None:
    brands = _brands()
    branded = [m for m in patient["medications"] if m["drug"] in brands]
    if not branded:
        return
    chosen = data.draw(st.sampled_from(branded))
    renamed = [dict(m, drug=brands[m["drug"]]) if m is chosen else m for m in patient["medications"]]
    assert _findings(check(dict(patient, medications=renamed), kb=_kb())) == _findings(check(patient, kb=_kb()))


@_SETTINGS
@given(patient=patients(), unknown=st.text(alphabet="qxzjvk", min_size=5, max_size=12))
def test_every_input_medication_is_assessed_or_reported_not_assessed(patient: dict[str, Any], unknown: str) -> None:
    patient = dict(patient, medications=[*patient["medications"], {"drug": unknown}])
    report = check(patient, kb=_kb())
    assessed = {a.input for a in report.assessed}
    not_assessed = {
        name for f in report.findings if f.kind == "not-assessed" for name in (*f.drugs, *f.title.split("'"))
    }
    for medication in patient["medications"]:
        assert medication["drug"] in assessed or medication["drug"] in not_assessed, medication["drug"]
    assert unknown not in assessed and report.exit_code == 1


@_SETTINGS
@given(patient=patients(min_drugs=2), data=st.data())
def test_bundle_entry_order_never_changes_findings(patient: dict[str, Any], data: st.DataObject) -> None:
    bundle = _bundle(patient)
    shuffled = dict(bundle, entry=data.draw(st.permutations(bundle["entry"])))
    known = _kb().knows_drug
    first = input_from_dict(bundle, as_of=AS_OF, known=known)
    second = input_from_dict(shuffled, as_of=AS_OF, known=known)
    read = sorted(m.drug for m in first.patient.medications)
    assert read == sorted(m["drug"] for m in patient["medications"])  # every drug read from the bundle
    assert sorted(m.drug for m in second.patient.medications) == read
    assert _check_loaded(second) == _check_loaded(first)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_PATIENT_KEYS = [
    "id",
    "age_years",
    "sex",
    "weight_kg",
    "crcl_ml_min",
    "child_pugh",
    "labs",
    "conditions",
    "medications",
]
_MEDICATION = st.dictionaries(
    st.sampled_from(["drug", "dose_mg", "times_per_day", "indication", "dose"]), _JSON, max_size=4
)
_HOSTILE = st.one_of(
    _JSON,
    st.dictionaries(st.sampled_from(_PATIENT_KEYS), _JSON, max_size=6),
    st.fixed_dictionaries({"medications": st.lists(_MEDICATION, max_size=3)}),
    st.fixed_dictionaries(
        {"resourceType": st.just("Bundle"), "entry": st.lists(st.dictionaries(st.just("resource"), _JSON))}
    ),
    st.fixed_dictionaries({"hook": st.text(max_size=5), "context": _JSON}),
)


@settings(max_examples=_EXAMPLES * 4, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=_HOSTILE)
def test_arbitrary_json_is_read_or_refused_with_a_clear_error(data: Any) -> None:
    """No exception but PatientInputError escapes the readers, whatever the JSON (no knowledge base needed)."""
    try:
        loaded = input_from_dict(data, origin="generated")
    except PatientInputError as error:
        assert str(error).startswith("generated: ") and "\n" not in str(error)
        return
    assert isinstance(loaded, LoadedInput)
    json.dumps(loaded.patient.model_dump(mode="json"), allow_nan=False)  # what is read is finite and serialisable
