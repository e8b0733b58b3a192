"""The knowledge base against the ONC high-priority DDI list and negative controls (docs/gold-standard.md)."""

from __future__ import annotations

from pathlib import Path

from medkg.gold_standard import evaluate, read_pairs
from medkg.knowledge_base import KnowledgeBase

FOLDER = Path(__file__).resolve().parent / "gold-standard"


def test_high_priority_interactions_are_flagged(kb: KnowledgeBase) -> None:
    result = evaluate(read_pairs(FOLDER / "phansalkar-2012.tsv", "example_object", "example_precipitant"), kb=kb)
    assert result.listed == 15
    assert result.known >= 11
    assert len(result.flagged) / result.known >= 0.8, result.missed
    assert "PH04" in result.flagged  # fluoxetine + phenelzine: SSRI with an MAO inhibitor


def test_negative_controls_raise_no_alert(kb: KnowledgeBase) -> None:
    result = evaluate(read_pairs(FOLDER / "negative-controls.tsv", "drug_a", "drug_b"), kb=kb)
    assert result.listed == 20
    assert result.flagged == [], result.flagged
