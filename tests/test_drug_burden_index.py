"""The Drug Burden Index (Hilmer et al. 2007): arithmetic, the minimum-dose table, findings, not-assessed.

DBI = sum over the anticholinergic and sedative drugs of D / (D + delta), D the daily dose and
delta the minimum recommended daily dose (kg/minimum-daily-doses/). Worked values are from the
published description of the index: a drug taken at its minimum dose contributes 0.5, ten times
the minimum dose 0.91 (Medical Algorithms summary of Hilmer 2007, kg:src-medicalalgorithms-dbi).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from medkg import check, check_many, load_patient
from medkg.compiled import _dose_ratio, _hundredths
from medkg.knowledge_base import KnowledgeBase
from medkg.paths import resource_root
from medkg.report import Finding
from medkg.rulebook import Number
from medkg.tables import DOSE_COLUMNS, TableError, compile_minimum_daily_doses, read_table
from medkg.vocabulary import KG, MEDKG, PROV

DBI_CLASS = "https://w3id.org/medkg/kg/DrugBurdenIndexDrug"
XSD_DECIMAL = URIRef("http://www.w3.org/2001/XMLSchema#decimal")
TABLES = sorted((resource_root() / "kg" / "minimum-daily-doses").glob("*.tsv"))


def _decimal(text: str) -> Number:
    value = Decimal(text)
    return Number(value, float(value), False)


def _dbi_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == "burden" and "Drug Burden Index" in f.title]


# --- arithmetic -----------------------------------------------------------------------------


def test_minimum_dose_contributes_one_half_and_ten_times_it_0_91() -> None:
    delta = _decimal("15")
    assert _dose_ratio(_decimal("15"), delta) == Fraction(1, 2)
    assert _hundredths(_dose_ratio(_decimal("150"), delta)) == Fraction(91, 100)  # 150/165 = 0.909...
    assert _hundredths(_dose_ratio(_decimal("0.75"), _decimal("0.75"))) == Fraction(1, 2)


def test_decimal_terms_are_truncated_like_sparql_and_the_total_rounded_to_hundredths() -> None:
    two_thirds = _dose_ratio(_decimal("80"), _decimal("40"))
    one_third = _dose_ratio(_decimal("2.5"), _decimal("5"))
    # xsd:decimal division keeps 18 decimals (truncated): the exact sum 1 falls just short ...
    assert two_thirds + one_third == Fraction(999_999_999_999_999_999, 10**18)
    # ... and the index, rounded to two decimals as it is reported, is 1.00
    assert _hundredths(two_thirds + one_third) == 1
    assert _hundredths(Fraction(1, 200)) == Fraction(1, 100)  # halves round up
    assert _hundredths(0.994) == pytest.approx(0.99)


# --- the table ------------------------------------------------------------------------------


def _table(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "doses.tsv"
    path.write_text("\t".join(DOSE_COLUMNS) + "\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_dose_row_becomes_a_cited_decimal_fact(tmp_path: Path) -> None:
    graph = Graph()
    compile_minimum_daily_doses(_table(tmp_path, "lorazepam\t2\tsrc-x\tsection 2\tlabel\t\t"), graph)
    fact = (KG.lorazepam, MEDKG.minimumRecommendedDailyDoseMg, Literal(Decimal(2), datatype=XSD_DECIMAL))
    assert fact in graph
    statement = graph.value(predicate=RDF.object, object=fact[2])
    assert statement is not None and (statement, RDF.predicate, fact[1]) in graph
    citation = graph.value(statement, PROV.wasDerivedFrom)
    assert graph.value(citation, MEDKG.citesSource) == KG["src-x"]


@pytest.mark.parametrize("dose", ["0", "-5", "abc", "", "nan"])
def test_a_dose_that_is_not_a_positive_number_is_refused(tmp_path: Path, dose: str) -> None:
    with pytest.raises(TableError):
        compile_minimum_daily_doses(_table(tmp_path, f"lorazepam\t{dose}\tsrc-x\tsection 2\tlabel\t\t"), Graph())


def test_a_drug_given_twice_is_refused(tmp_path: Path) -> None:
    rows = ("lorazepam\t2\tsrc-x\ts\tlabel\t\t", "lorazepam\t1\tsrc-x\ts\tlabel\t\t")
    with pytest.raises(TableError, match="twice"):
        compile_minimum_daily_doses(_table(tmp_path, *rows), Graph())


def _dose_rows() -> list[dict[str, str]]:
    return [row for path in TABLES for row in read_table(path, DOSE_COLUMNS)]


@pytest.mark.parametrize("row", _dose_rows(), ids=lambda row: row["drug"])
def test_each_minimum_dose_is_cited_and_counted(row: dict[str, str], kb: KnowledgeBase) -> None:
    """One data-integrity sub-test per row: a counted drug, a positive dose, a source, a note if uncertain."""
    iri = str(KG[row["drug"]])
    assert DBI_CLASS in kb.rulebook.types.get(iri, ()), f"{row['drug']} is not counted by the index"
    dose = Decimal(row["dose_mg_per_day"])
    assert dose > 0
    citations = kb.reference_dose_citations[(iri, float(dose))]
    assert citations and all(c.title and c.locator for c in citations)
    assert row["uncertain"] in {"", "true"}
    assert row["uncertain"] != "true" or row["note"], "an uncertain dose says why"


def test_at_least_fifteen_sourced_doses() -> None:
    assert len(_dose_rows()) >= 15


# --- findings -------------------------------------------------------------------------------


def _patient(age: float | None, *medications: dict[str, object]) -> dict[str, object]:
    patient: dict[str, object] = {"id": "dbi", "sex": "female", "medications": list(medications)}
    if age is not None:
        patient["age_years"] = age
    return patient


def test_the_finding_explains_each_term_the_total_and_the_sources(kb: KnowledgeBase) -> None:
    report = check(
        _patient(
            80,
            {"drug": "amitriptyline", "dose_mg": 25, "times_per_day": 2},
            {"drug": "oxybutynin", "dose_mg": 5, "times_per_day": 2},
        ),
        kb=kb,
    )
    [finding] = _dbi_findings(report.findings)
    assert finding.score == pytest.approx(1.22)
    assert finding.severity == "moderate" and finding.drugs == ["amitriptyline", "oxybutynin"]
    text = " | ".join(finding.because)
    assert "amitriptyline 50 mg/day (amitriptyline 25 mg x 2/day): 50/(50+40) = 0.56" in text
    assert "oxybutynin 10 mg/day (oxybutynin 5 mg x 2/day): 10/(10+5) = 0.67" in text
    assert "index 1.22 (threshold: 1 or more)" in text
    assert "not fully computed" not in text
    titles = [s.title for s in finding.sources]
    assert any(t.startswith("A drug burden index to define") for t in titles)
    assert any(t.startswith("Amitriptyline hydrochloride tablets") for t in titles)
    assert not [f for f in report.findings if f.kind == "not-assessed" and "Drug Burden Index" in f.title]


def test_the_exact_threshold_fires_in_both_engines(kb: KnowledgeBase) -> None:
    """2/3 + 1/3 = 1: decimal division alone gives 0.999...; the index (two decimals) is 1.00 in both engines."""
    patient = load_patient(
        _patient(
            70,
            {"drug": "amitriptyline", "dose_mg": 40, "times_per_day": 2},
            {"drug": "zolpidem", "dose_mg": 2.5, "times_per_day": 1},
        )
    )
    for engine in ("default", "sparql"):
        [report] = check_many([patient], kb=kb, engine=engine)
        [finding] = _dbi_findings(report.findings)
        assert finding.score == 1.0, engine
        assert "80/(80+40) = 0.67" in " ".join(finding.because)


def test_a_missing_dose_or_minimum_dose_is_reported_never_dropped(kb: KnowledgeBase) -> None:
    report = check(
        _patient(
            75,
            {"drug": "amitriptyline", "dose_mg": 25, "times_per_day": 2},
            {"drug": "lorazepam"},
            {"drug": "haloperidol", "dose_mg": 1, "times_per_day": 1},
        ),
        kb=kb,
    )
    assert not _dbi_findings(report.findings)  # 50/90 = 0.56 is all that can be computed
    [gap] = [f for f in report.findings if f.kind == "not-assessed" and "Drug Burden Index" in f.title]
    assert gap.drugs == ["haloperidol", "lorazepam"]
    assert "daily dose unknown for lorazepam" in gap.summary
    assert "no minimum recommended daily dose known for haloperidol" in gap.summary
    assert "lower bound" in gap.summary


def test_no_index_finding_or_gap_below_65(kb: KnowledgeBase) -> None:
    report = check(
        _patient(40, {"drug": "amitriptyline", "dose_mg": 25, "times_per_day": 2}, {"drug": "lorazepam"}), kb=kb
    )
    assert not [f for f in report.findings if "Drug Burden Index" in " ".join([f.title, *f.because])]


# --- validation -----------------------------------------------------------------------------

_PREFIXES = """
@prefix medkg: <https://w3id.org/medkg/ontology#> .
@prefix kg: <https://w3id.org/medkg/kg/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
medkg:Burden a medkg:FindingKind . medkg:Moderate a medkg:Severity .
kg:src-a a medkg:Source ; dcterms:title "a" ; medkg:sourceType medkg:DrugLabel ; medkg:url "https://example.org/a" .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
kg:testdrug a medkg:Drug ; skos:prefLabel "testdrug" ; medkg:curationLevel "tabular" .
"""
_RULE = """
kg:r a medkg:DoseBurdenRule ; rdfs:label "r" ; medkg:findingKind medkg:Burden ; medkg:severity medkg:Moderate ;
    medkg:summary "s" ; medkg:recommendation "r" ; medkg:hasCitation [ medkg:citesSource kg:src-a ; medkg:locator "l" ] ;
    medkg:countsMembersOf kg:DrugBurdenIndexDrug ;
"""


def _shacl(data: str) -> tuple[bool, str]:
    from pyshacl import validate

    shapes = Graph().parse(resource_root() / "ontology" / "shapes.ttl", format="turtle")
    conforms, _graph, text = validate(
        Graph().parse(data=_PREFIXES + data, format="turtle"), shacl_graph=shapes, allow_warnings=True
    )
    return bool(conforms), str(text)


def test_shapes_accept_a_well_formed_rule_and_dose() -> None:
    conforms, text = _shacl(
        _RULE
        + 'medkg:referenceDoseProperty medkg:minimumRecommendedDailyDoseMg ; medkg:minimumTotal "1"^^xsd:decimal .'
        'kg:testdrug medkg:minimumRecommendedDailyDoseMg "2"^^xsd:decimal .'
    )
    assert conforms, text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_RULE + 'medkg:minimumTotal "1"^^xsd:decimal .', "reference dose property"),
        (_RULE + 'medkg:referenceDoseProperty medkg:anticholinergicBurdenScore ; medkg:minimumTotal "1"^^xsd:decimal .', "reference dose property"),
        (_RULE + 'medkg:referenceDoseProperty medkg:minimumRecommendedDailyDoseMg ; medkg:minimumTotal "0"^^xsd:decimal .', "MinExclusive"),
        ('kg:testdrug medkg:minimumRecommendedDailyDoseMg "-2"^^xsd:decimal .', "positive decimal"),
        ('kg:testdrug medkg:minimumRecommendedDailyDoseMg "2"^^xsd:decimal , "1"^^xsd:decimal .', "positive decimal"),
        ('kg:notadrug medkg:minimumRecommendedDailyDoseMg "2"^^xsd:decimal .', "Class"),
    ],
)  # fmt: skip
def test_shapes_refuse_malformed_rules_and_doses(data: str, message: str) -> None:
    conforms, text = _shacl(data)
    assert not conforms
    assert message.casefold() in text.casefold(), text


def test_an_unsourced_minimum_dose_is_a_violation() -> None:
    from medkg.queries import query_text
    from medkg.store import QueryStore

    graph = Graph().parse(
        data=_PREFIXES + 'kg:testdrug medkg:minimumRecommendedDailyDoseMg "2"^^xsd:decimal .', format="turtle"
    )
    rows = QueryStore.from_graph(graph).select(
        query_text("violations/drug-fact-without-source-violation", resource_root())
    )
    assert [(row["drug"], row["value"]) for row in rows] == [(str(KG.testdrug), 2.0)]
