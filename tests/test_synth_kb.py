"""The synthetic knowledge base generator (scripts/synth_kb.py) writes the shapes the rule queries expect.

One small knowledge base (100 drugs, 2,000 pair rules) is generated once for the module; the
tests read its store through pyoxigraph and run the real ``queries/rules/pair-rule.rq`` on a
copy with a two-drug patient.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest

from conftest import run_medkg
from medkg.paths import resource_root

pytestmark = pytest.mark.reasoner  # the generator classifies the drug profiles with HermiT

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "synth_kb.py"
DRUGS, PAIRS = 100, 2000
PREFIXES = """
PREFIX medkg: <https://w3id.org/medkg/ontology#>
PREFIX rdfs:  <http://www.w3.org/2000/01/rdf-schema#>
PREFIX kg:    <https://w3id.org/medkg/kg/>
PREFIX owl:   <http://www.w3.org/2002/07/owl#>
PREFIX rdf:   <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("synth") / "kb"
    command = [sys.executable, str(SCRIPT), "--drugs", str(DRUGS), "--pairs", str(PAIRS), "--out", str(out), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def store(generated: tuple[Path, dict[str, object]]) -> pyoxigraph.Store:
    return pyoxigraph.Store.read_only(str(generated[0] / "store"))


def _solutions(store: pyoxigraph.Store, query: str, **options: Any) -> pyoxigraph.QuerySolutions:
    result = store.query(query, **options)
    assert isinstance(result, pyoxigraph.QuerySolutions)
    return result


def _count(store: pyoxigraph.Store, where: str) -> int:
    rows = list(_solutions(store, PREFIXES + f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}"))
    return int(rows[0]["n"].value)


def test_meta_follows_the_build_contract(generated: tuple[Path, dict[str, object]], store: pyoxigraph.Store) -> None:
    out, figures = generated
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert set(meta) >= {"sha256", "medkg_version", "triples", "files", "synthetic"}
    assert len(meta["sha256"]) == 64
    assert meta["synthetic"]["drugs"] == DRUGS and meta["synthetic"]["pairs"] == PAIRS
    assert meta["synthetic"]["seed"] == 1
    assert meta["triples"]["compiled"] == len(store)
    assert meta["triples"]["inferred"] > 0
    assert (out / "kb-owl.nt").stat().st_size > 0
    assert figures["triples"] == meta["triples"]


def test_classifying_one_prototype_per_profile_gives_every_drug_the_types_of_classifying_each(
    generated: tuple[Path, dict[str, object]], store: pyoxigraph.Store, tmp_path: Path
) -> None:
    """The default ``--realise profiles`` shortcut (scripts/synth_kb_realise.py) against HermiT on every drug."""
    assert generated[1]["realise"] == "profiles"
    out = tmp_path / "each"
    command = [sys.executable, str(SCRIPT), "--drugs", str(DRUGS), "--pairs", str(PAIRS), "--out", str(out)]
    result = subprocess.run([*command, "--realise", "each", "--quiet"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    each = pyoxigraph.Store.read_only(str(out / "store"))
    drug_types = 'SELECT ?s ?o WHERE { ?s a ?o FILTER(STRSTARTS(STR(?s), "https://w3id.org/medkg/synthetic/drug/")) }'
    hierarchy = "SELECT ?s ?o WHERE { ?s rdfs:subClassOf ?o }"
    for query in (drug_types, hierarchy):
        found = [{(str(r["s"]), str(r["o"])) for r in _solutions(s, PREFIXES + query)} for s in (store, each)]
        assert found[0] == found[1]
    # the inferred types reach the effect-defined classes, not only the asserted hierarchy
    assert _count(each, "?d a kg:CNSDepressant") == _count(store, "?d a kg:CNSDepressant") > 0


def test_counts_of_drugs_and_rules(store: pyoxigraph.Store) -> None:
    synthetic = 'FILTER(STRSTARTS(STR(?d), "https://w3id.org/medkg/synthetic/drug/"))'
    assert _count(store, f"?d a medkg:Drug . {synthetic}") == DRUGS
    assert _count(store, "?r a medkg:PairRule") == PAIRS
    assert _count(store, "?r a medkg:DrugRule ; medkg:requiresPopulation ?p") > 0
    assert _count(store, "?r a medkg:DoseRangeRule ; medkg:maximumDailyDoseMg ?m") > 0
    assert _count(store, "?r a medkg:CountRule ; medkg:countsMembersOf ?c ; medkg:minimumDrugCount ?n") > 0
    assert _count(store, "?r a medkg:DuplicateTherapyRule ; medkg:appliesToDrug ?c") > 0


def test_every_rule_has_texts_severity_kind_and_one_citation(store: pyoxigraph.Store) -> None:
    kinds = (
        "VALUES ?kind { medkg:PairRule medkg:DrugRule medkg:DoseRangeRule medkg:CountRule medkg:DuplicateTherapyRule }"
    )
    rules = _count(store, f"{{ SELECT DISTINCT ?r WHERE {{ {kinds} ?r a ?kind }} }}")
    complete = f"""{{ SELECT DISTINCT ?r WHERE {{ {kinds} ?r a ?kind ;
        rdfs:label ?l ; medkg:summary ?s ; medkg:recommendation ?t ; medkg:findingKind ?f ; medkg:severity ?v ;
        medkg:hasCitation ?c . ?c medkg:citesSource ?src ; medkg:locator ?loc ; medkg:evidenceLevel ?e .
        ?src a medkg:Source . ?v a medkg:Severity . ?f a medkg:FindingKind }} }}"""
    assert rules > PAIRS
    assert _count(store, complete) == rules
    assert _count(store, "?r a medkg:PairRule ; medkg:hasCitation ?c") == PAIRS
    targets = "?r a medkg:PairRule ; medkg:objectDrug ?o ; medkg:precipitantDrug ?p . FILTER(?o != ?p)"
    assert _count(store, targets) == PAIRS


def test_severities_follow_the_distribution(store: pyoxigraph.Store) -> None:
    rows = _solutions(
        store,
        PREFIXES + "SELECT ?code (COUNT(*) AS ?n) WHERE { ?r a medkg:PairRule ; medkg:severity/medkg:code ?code } "
        "GROUP BY ?code",
    )
    shares = {row["code"].value: int(row["n"].value) / PAIRS for row in rows}
    expected = {"contraindicated": 0.02, "major": 0.20, "moderate": 0.60, "minor": 0.18}
    assert set(shares) == set(expected)
    for code, share in expected.items():
        assert abs(shares[code] - share) < 0.04, (code, shares[code])


def test_renal_and_hepatic_rules_use_the_real_populations(store: pyoxigraph.Store) -> None:
    renal = "?r medkg:requiresPopulation ?p . ?p medkg:isPopulation true ; owl:equivalentClass/owl:intersectionOf/rdf:rest*/rdf:first/owl:onProperty ?prop"
    rows = _solutions(store, PREFIXES + f"SELECT DISTINCT ?prop WHERE {{ {renal} }}")
    used = {row["prop"].value for row in rows}
    assert used == {
        "https://w3id.org/medkg/ontology#creatinineClearanceMlMin",
        "https://w3id.org/medkg/ontology#childPughClass",
    }
    unknown = "?r medkg:requiresPopulation ?p . FILTER NOT EXISTS { ?p medkg:isPopulation true }"
    assert _count(store, unknown) == 0


def test_hermit_inferences_are_materialised(store: pyoxigraph.Store) -> None:
    # the class chain ends in medkg:Drug, and effect-defined classes are inferred for synthetic drugs
    synthetic = 'FILTER(STRSTARTS(STR(?d), "https://w3id.org/medkg/synthetic/drug/"))'
    main_group = '?d a ?top . ?top rdfs:subClassOf medkg:Drug . FILTER(STRSTARTS(STR(?top), "https://w3id.org/medkg/synthetic/class/"))'
    assert _count(store, f"?d a medkg:Drug . {synthetic} {main_group}") >= DRUGS
    with_effect = f"?d medkg:hasEffect kg:CNSDepression . {synthetic}"
    assert _count(store, with_effect) > 0
    assert _count(store, f"{with_effect} FILTER NOT EXISTS {{ ?d a kg:CNSDepressant }}") == 0


def test_pair_rule_query_finds_the_pair_for_a_two_drug_patient(
    generated: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    shutil.copytree(generated[0] / "store", tmp_path / "store")
    store = pyoxigraph.Store(str(tmp_path / "store"))
    medkg = "https://w3id.org/medkg/ontology#"
    first_drug_pair = (
        "SELECT ?r ?o ?p WHERE { ?r a medkg:PairRule ; medkg:objectDrug ?o ; medkg:precipitantDrug ?p . "
        "?o a medkg:Drug . ?p a medkg:Drug } ORDER BY ?r LIMIT 1"
    )
    row = next(iter(_solutions(store, PREFIXES + first_drug_pair)))
    rule, obj, pre = row["r"], row["o"], row["p"]
    graph = pyoxigraph.NamedNode("https://w3id.org/medkg/patient/graph/test")
    patient = pyoxigraph.NamedNode("https://w3id.org/medkg/patient/t1")
    quads = [
        pyoxigraph.Quad(
            patient,
            pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            pyoxigraph.NamedNode(medkg + "Patient"),
            graph,
        )
    ]
    for number, drug in enumerate((obj, pre)):
        use = pyoxigraph.NamedNode(f"https://w3id.org/medkg/patient/t1/use{number}")
        quads.append(pyoxigraph.Quad(patient, pyoxigraph.NamedNode(medkg + "takesMedication"), use, graph))
        quads.append(pyoxigraph.Quad(use, pyoxigraph.NamedNode(medkg + "ofDrug"), drug, graph))
    store.extend(quads)
    query = (resource_root() / "queries" / "rules" / "pair-rule.rq").read_text(encoding="utf-8")
    rows = list(_solutions(store, query, default_graph=[pyoxigraph.DefaultGraph(), graph]))
    found = {(row["rule"].value, row["role"].value, row["drug"].value) for row in rows}
    assert (rule.value, "object", obj.value) in found
    assert (rule.value, "precipitant", pre.value) in found
    # every rule found concerns exactly these two drugs
    assert {row["drug"].value for row in rows} == {obj.value, pre.value}


def _medkg_on(build: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line with ``MEDKG_KB`` pointing at a large build."""
    return run_medkg(*args, env={"MEDKG_KB": str(build)})


def test_a_large_builds_read_only_store_is_queried_and_a_patient_refused_clearly(
    generated: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """``medkg query`` reads a large build's on-disk store; what would add a patient to it, or need HermiT, is an input error.

    Both once failed as internal errors (exit 3, "Transaction are only possible on read-write instances").
    """
    query = tmp_path / "pairs.rq"
    query.write_text(PREFIXES + "SELECT (COUNT(?r) AS ?n) WHERE { ?r a medkg:PairRule }", encoding="utf-8")
    counted = _medkg_on(generated[0], "query", str(query), "--format", "json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == [{"n": PAIRS}]

    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"age_years": 70, "medications": [{"drug": "warfarin"}]}), encoding="utf-8")
    batch = tmp_path / "patients.ndjson"
    batch.write_text(patient.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    for args in (
        ("query", str(query), "--patient", str(patient)),
        ("check", str(patient), "--engine", "sparql"),
        ("check", "--batch", str(batch), "--engine", "sparql"),
    ):
        refused = _medkg_on(generated[0], *args)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "read-only" in refused.stderr and "default engine" in refused.stderr, refused.stderr
        assert refused.stdout == ""
    # the owl engine has no sources file to give HermiT there (it once failed as an internal error)
    for args in (("check", str(patient), "--engine", "owl"), ("check", "--batch", str(batch), "--engine", "owl")):
        refused = _medkg_on(generated[0], *args)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "owl engine" in refused.stderr and "default engine" in refused.stderr, refused.stderr
        assert refused.stdout == ""
