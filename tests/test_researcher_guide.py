"""Replays the worked example of docs/researcher-guide.md: one enzyme-role row makes an inference.

The FDA lists rifampin as a strong CYP3A inducer and simvastatin as a sensitive CYP3A substrate;
no rule names either drug. With both rows the generic mechanism rule reports the pair (loss of
simvastatin effect, enzyme CYP3A4); without the rifampin row it does not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from medkg import check
from medkg.build import build
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import RESOURCE_DIRS, resource_root
from medkg.report import Report

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "researcher-guide.md"


def _mechanism(report: Report) -> list[tuple[list[str], list[str] | None, list[str] | None, list[str] | None]]:
    return [(f.drugs, f.object, f.precipitant, f.enzymes) for f in report.findings if f.enzymes]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    for folder in RESOURCE_DIRS:
        shutil.copytree(resource_root() / folder, root / folder)
    return root


def test_worked_example_enzyme_row_drives_the_inference(tmp_path: Path, kb: KnowledgeBase) -> None:
    patient = {"id": "guide", "medications": [{"drug": "rifampin"}, {"drug": "simvastatin"}]}
    found = _mechanism(check(patient, kb=kb))
    assert (["rifampin", "simvastatin"], ["simvastatin"], ["rifampin"], ["CYP3A4"]) in found
    assert "rifampin\tCYP3A4\tstrong-inducer" in GUIDE.read_text(encoding="utf-8")

    root = _copy(tmp_path)
    table = root / "kg" / "enzyme-roles" / "fda-ddi-table.tsv"
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("rifampin\tCYP3A4\t")]
    assert len(kept) == len(lines) - 1
    table.write_text("".join(kept), encoding="utf-8")
    without = KnowledgeBase(build(root, cache=tmp_path / "cache", quiet=True), root)
    assert not [m for m in _mechanism(check(patient, kb=without)) if "CYP3A4" in (m[3] or [])]


def test_a_broken_source_file_is_named_with_exit_2(tmp_path: Path) -> None:
    """An edit that breaks a Turtle file or a table is the researcher's input error, not an internal one.

    Both once ended as "internal error" (exit 3), the Turtle one without naming the file among 176.
    """
    from conftest import run_medkg

    root = _copy(tmp_path)
    rules = root / "kg" / "rules" / "baclofen.ttl"
    rules.write_text(
        rules.read_text(encoding="utf-8") + '\nkg:broken a medkg:DrugRule ;\n rdfs:label "unterminated .\n'
    )
    env = {"MEDKG_ROOT": str(root), "MEDKG_CACHE_DIR": str(tmp_path / "cache")}
    built = run_medkg("build", env=env)
    assert built.returncode == 2, built.stderr
    assert "kg/rules/baclofen.ttl: Turtle syntax error at line" in built.stderr and "internal error" not in built.stderr

    rules.write_text(rules.read_text(encoding="utf-8").rsplit("\nkg:broken", 1)[0], encoding="utf-8")
    table = next((root / "kg" / "drugs").glob("*.tsv"))
    table.write_text(table.read_text(encoding="utf-8") + "extra\tcells\t" * 6 + "\n", encoding="utf-8")
    checked = run_medkg("check", "baclofen", env=env)
    assert checked.returncode == 2, checked.stderr
    assert table.name in checked.stderr and "internal error" not in checked.stderr


def test_a_misspelt_property_is_refused_at_build(tmp_path: Path) -> None:
    """A rule with ``medkg:requirePopulation`` (for requiresPopulation) once built and fired for every patient.

    The build now runs the cheap quality gates (medkg.build.BUILD_GATES) and refuses such a
    knowledge base with exit 2, naming the gate and the property, so no check runs on it.
    """
    from conftest import run_medkg

    root = _copy(tmp_path)
    rules = next(
        p for p in sorted((root / "kg" / "rules").glob("*.ttl")) if "medkg:requiresPopulation" in p.read_text()
    )
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("medkg:requiresPopulation", "medkg:requirePopulation", 1), encoding="utf-8")
    env = {"MEDKG_ROOT": str(root), "MEDKG_CACHE_DIR": str(tmp_path / "cache")}
    for command in (("build",), ("check", "baclofen")):
        result = run_medkg(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert "violations/undeclared-property-violation" in result.stderr
        assert "property=requirePopulation" in result.stderr and "internal error" not in result.stderr


def test_a_misspelt_source_names_the_rule_that_cites_it(tmp_path: Path) -> None:
    """A citation is a blank node: the refusal names the rule holding it, not a blank-node id (a new-user trial)."""
    from conftest import run_medkg

    root = _copy(tmp_path)
    rules = root / "kg" / "rules" / "baclofen.ttl"
    text = rules.read_text(encoding="utf-8")
    first = text.index("kg:rule-baclofen-crcl-below-30 ")
    assert text.index("kg:src-vlavonou-2014 ;") > first  # the first citation of it is the first rule's
    rules.write_text(text.replace("kg:src-vlavonou-2014 ;", "kg:src-vlavonou-2041 ;", 1), encoding="utf-8")
    result = run_medkg("build", env={"MEDKG_ROOT": str(root), "MEDKG_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr
    assert "violations/dangling-iri-violation" in result.stderr
    assert "iri=src-vlavonou-2041" in result.stderr and "about=rule-baclofen-crcl-below-30" in result.stderr
