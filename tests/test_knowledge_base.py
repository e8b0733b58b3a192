"""Quality gates over the curated content: every query runs, every gate is empty, every rule sourced."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from medkg.build import build
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import RESOURCE_DIRS, resource_root
from medkg.validate import shacl_report, violations


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
    """Removing a rule's severity makes SHACL and the violation query fail (the gates are not vacuous)."""
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
    assert violations(kb)["violations/rule-without-citation-violation"]


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
