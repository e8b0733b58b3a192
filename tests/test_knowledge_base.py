"""Quality gates over the curated content: every query runs, every gate is empty, every rule sourced."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from medkg.build import build
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import RESOURCE_DIRS, resource_root
from medkg.sources import SourceError
from medkg.validate import shacl_report, shacl_violations, violations


def test_shacl_shapes_conform(kb: KnowledgeBase) -> None:
    conforms, text = shacl_report(kb)
    assert conforms, text


def test_violation_queries_are_empty(kb: KnowledgeBase) -> None:
    found = violations(kb)
    assert len(found) >= 6
    assert {name: rows for name, rows in found.items() if rows} == {}


def _rule_ids() -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((resource_root() / "kg" / "rules").glob("*.ttl")))
    return sorted(set(re.findall(r"^(kg:rule-[\w-]+) a medkg:", text, flags=re.MULTILINE)))


@pytest.mark.parametrize("rule", _rule_ids())
def test_each_rule_is_complete_and_sourced(rule: str, kb: KnowledgeBase) -> None:
    iri = "https://w3id.org/medkg/kg/" + rule.removeprefix("kg:")
    info = kb.rules[iri]
    assert info.kind and info.severity and info.summary and info.recommendation
    assert info.citations, rule
    for citation in info.citations:
        assert citation.locator, rule
        assert citation.url or citation.doi, rule
        assert not citation.uncertain or citation.note, f"{rule}: uncertain without a note"


def test_gates_catch_a_broken_rule(tmp_path: Path) -> None:
    """A rule without its severity fails the gates; a misspelt property is refused at build (not vacuous).

    The misspelt ``medkg:requirePopulation`` once passed ``medkg validate``: the rule lost its
    population and fired for every patient (a new-user trial). Such a knowledge base is now
    refused by ``medkg build`` itself (:data:`medkg.build.BUILD_GATES`).
    """
    root = tmp_path / "kb"
    for name in RESOURCE_DIRS:
        shutil.copytree(resource_root() / name, root / name)
    path = root / "kg" / "rules" / "baclofen.ttl"
    text = path.read_text(encoding="utf-8")
    broken = re.sub(r"medkg:severity medkg:\w+ ;", "", text, count=1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    kb = KnowledgeBase(build(root, tmp_path / "cache", quiet=True), root)
    assert not shacl_report(kb)[0]
    failed, warnings = shacl_violations(kb)  # what `medkg validate` prints: the violation alone, warnings counted
    assert [line for line in failed if "rule-baclofen" in line and "#severity)" in line], failed
    assert warnings == shacl_report(kb)[1].count("Severity: sh:Warning")
    assert violations(kb)["violations/rule-without-citation-violation"]
    misspelt = broken.replace("medkg:requiresPopulation", "medkg:requirePopulation", 1)
    assert misspelt.count("medkg:requirePopulation ") == 1
    path.write_text(misspelt, encoding="utf-8")
    with pytest.raises(SourceError, match=r"undeclared-property-violation.*property=requirePopulation"):
        build(root, tmp_path / "cache", quiet=True)


def test_no_sparql_or_clinical_content_in_python(kb: KnowledgeBase) -> None:
    """Queries live in queries/*.rq; drug names live in kg/ (no drug name appears in the code)."""
    package = Path(__file__).parents[1] / "src" / "medkg"
    if not package.is_dir():
        pytest.skip("source tree not available (installed package only)")
    code = "\n".join(_code_without_docstrings(p).casefold() for p in package.rglob("*.py"))
    assert not re.search(r"\bselect\s+(distinct\s+)?\?", code), "SPARQL SELECT text in Python"
    assert not re.search(r"\bconstruct\s*\{", code), "SPARQL CONSTRUCT text in Python"
    names = {label.casefold() for label in kb.drug_names if len(label) > 4}
    found = sorted(name for name in names if re.search(rf"\b{re.escape(name)}\b", code))
    assert found == [], f"drug names hard-coded in Python: {found}"


def _code_without_docstrings(path: Path) -> str:
    """Source with docstrings and comments removed (examples in documentation are allowed)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            body[0] = ast.Pass()
    return ast.unparse(tree)


def test_every_query_file_parses(kb: KnowledgeBase) -> None:
    import pyoxigraph as ox

    store = ox.Store()
    files = sorted((resource_root() / "queries").rglob("*.rq"))
    assert len(files) >= 20
    for path in files:
        store.query(path.read_text(encoding="utf-8"))


def _drug_rows() -> list[dict[str, str]]:
    from medkg.tables import DRUG_COLUMNS, read_table

    return [
        row
        for path in sorted((resource_root() / "kg" / "drugs").glob("*.tsv"))
        for row in read_table(path, DRUG_COLUMNS)
    ]


@pytest.mark.parametrize("row", _drug_rows(), ids=lambda row: row["id"])
def test_each_drug_record_is_complete(row: dict[str, str], kb: KnowledgeBase) -> None:
    """One data-integrity sub-test per drug: identity, a class, a curation level and a source."""
    iri = "https://w3id.org/medkg/kg/" + row["id"]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["id"]), "drug ids are lower-case ingredient names"
    assert kb.drug_names[row["label"].casefold()] == iri
    assert row["rxcui"] or row["atc"], "a drug needs an RXCUI or an ATC code"
    assert not row["rxcui"] or row["rxcui"].isdigit()
    assert all(re.fullmatch(r"[A-Z]\d\d[A-Z]{2}\d\d", code) for code in filter(None, row["atc"].split("|")))
    assert row["classes"] and row["source"] and row["locator"]
    assert row["curation_level"] in {"label-depth", "tabular"}
    assert kb.curation[iri] == row["curation_level"]


def test_stats_count_what_the_tables_hold(kb: KnowledgeBase) -> None:
    from medkg.stats import snapshot, stats

    figures = stats(snapshot(kb.store, kb.root))
    rows = _drug_rows()
    assert figures["drugs"] == len(rows)
    assert figures["drugs_with_rxcui"] == sum(bool(row["rxcui"]) for row in rows)
    assert figures["drugs_with_atc"] == sum(bool(row["atc"]) for row in rows)
    assert figures["facts_without_source"] == 0
    assert figures["rules"] == len(kb.rules)
    assert sum(kind["rules"] for kind in figures["rule_kinds"].values()) == len(kb.rules)
    assert figures["fact_kinds"]["drug class"]["facts"] >= len(rows)


def test_diff_reports_an_added_drug_and_a_changed_severity(tmp_path: Path) -> None:
    from medkg.stats import diff, snapshot_of

    old, new = tmp_path / "old", tmp_path / "new"
    for target in (old, new):
        for folder in ("ontology", "kg"):
            shutil.copytree(resource_root() / folder, target / folder)
    table = new / "kg" / "drugs" / "cns.tsv"
    table.write_text(
        table.read_text(encoding="utf-8")
        + "testdrugium\ttestdrugium\t999999999\tN05CM99\t\tHypnotic\t\t\ttabular\tsrc-rxnorm\ttest row\n",
        encoding="utf-8",
    )
    rules = new / "kg" / "rules" / "baclofen.ttl"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("medkg:severity medkg:Major", "medkg:severity medkg:Moderate", 1), encoding="utf-8")
    changes = diff(snapshot_of(str(old)), snapshot_of(str(new)))
    assert changes["drugs_added"] == ["testdrugium"]
    assert changes["drugs_removed"] == []
    assert len(changes["rules_changed"]) == 1 and "severity major -> moderate" in changes["rules_changed"][0]
    assert changes["facts"]["drug class"]["added"] == ["testdrugium type Hypnotic"]
    assert changes["stats"]["new"]["drugs"] == changes["stats"]["old"]["drugs"] + 1


def test_ontology_reference_is_current() -> None:
    """docs/ontology/index.html (scripts/build_ontology_docs.py) documents every class and property."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "ontology" / "index.html").read_text(encoding="utf-8")
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in (resource_root() / "ontology").glob("*.ttl") if p.name != "shapes.ttl"
    )
    declared = r"^medkg:(\w+) a owl:(?:Class|ObjectProperty|DatatypeProperty|AnnotationProperty)"
    terms = set(re.findall(declared, text, flags=re.MULTILINE))
    assert len(terms) > 50
    missing = sorted(term for term in terms if f"ontology#{term}" not in page)
    assert not missing, f"regenerate with scripts/build_ontology_docs.py: {missing}"


def test_both_lexical_forms_of_a_true_boolean_read_as_true() -> None:
    import pyoxigraph as ox

    from medkg.store import python_value

    boolean = ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
    assert [python_value(ox.Literal(v, datatype=boolean)) for v in ("true", "1", "false", "0")] == [
        True,
        True,
        False,
        False,
    ]


def test_the_implied_enzyme_interactions_example_keeps_each_rules_limits(kb: KnowledgeBase) -> None:
    """queries/examples/implied-enzyme-interactions.rq once paired drug-specific rules with any drugs and enzymes.

    A new-user trial found "Colchicine with a moderate CYP3A4 inhibitor" listed for ciprofloxacin
    and clozapine on CYP1A2: the rule's medkg:objectDrug and medkg:onEnzyme were ignored.
    """
    rows = kb.store.select(kb.query("examples/implied-enzyme-interactions"))
    colchicine = [row for row in rows if str(row["rule"]).startswith("Colchicine with")]
    assert colchicine and {(str(r["object"]), str(r["enzyme"])) for r in colchicine} <= {
        ("colchicine", "CYP3A4"),
        ("colchicine", "P-glycoprotein (P-gp)"),
    }
    assert any(
        (str(r["precipitant"]), str(r["object"]), str(r["enzyme"])) == ("clarithromycin", "simvastatin", "CYP3A4")
        for r in rows
    )
