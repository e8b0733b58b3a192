"""RxNorm codes medkg knows without a display: ``kg/clinical-drugs/*.tsv`` and ``kg/drugs/*.tsv``.

Each row of ``kg/clinical-drugs`` gives an RxNorm concept's ingredients (base names medkg looks
up) and, where the strength is a mass per dose unit, the strengths in mg. The ``rxcui`` column of
``kg/drugs`` gives each drug's RxNorm ingredient (IN) code, so an order coded only with an
ingredient RXCUI (6809, no display) is read as that drug. The tables are read from the resource
root (:func:`medkg.paths.resource_root`), so a researcher's own ``MEDKG_ROOT`` copy is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..paths import resource_root
from ..tables import CLINICAL_DRUG_COLUMNS, DRUG_COLUMNS, read_table

__all__ = ["ClinicalDrug", "clinical_drugs", "ingredient_codes"]


@dataclass(frozen=True)
class ClinicalDrug:
    """One row: RxCUI, RxNorm name, ingredients and mg strengths (None where not a mass)."""

    rxcui: str
    name: str
    ingredients: tuple[str, ...]
    strengths_mg: tuple[float | None, ...]


def _cells(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|") if part.strip()]


@cache
def clinical_drugs(root: Path | None = None) -> dict[str, ClinicalDrug]:
    """RxCUI -> clinical drug, from every ``kg/clinical-drugs/*.tsv`` under ``root`` (default: resource root).

    Raises:
        medkg.tables.TableError: for a malformed table (also caught by ``medkg build``).
    """
    table: dict[str, ClinicalDrug] = {}
    for row in _rows(root, "clinical-drugs", CLINICAL_DRUG_COLUMNS):
        ingredients = tuple(part.casefold() for part in _cells(row["ingredients"]))
        strengths = [float(part) for part in _cells(row["strengths_mg"])]
        padded: tuple[float | None, ...] = tuple(strengths) if strengths else (None,) * len(ingredients)
        table.setdefault(row["rxcui"], ClinicalDrug(row["rxcui"], row["name"], ingredients, padded))
    return table


@cache
def ingredient_codes(root: Path | None = None) -> dict[str, str]:
    """RxCUI -> drug label (the name the knowledge base knows), from every ``kg/drugs/*.tsv`` under ``root``.

    Rows without an RXCUI are skipped; a cell may list several codes separated by ``|``; the first
    row giving a code wins (``medkg build`` refuses a drug defined twice).

    Raises:
        medkg.tables.TableError: for a malformed table (also caught by ``medkg build``).
    """
    table: dict[str, str] = {}
    for row in _rows(root, "drugs", DRUG_COLUMNS):
        for rxcui in _cells(row["rxcui"]):
            table.setdefault(rxcui, row["label"].strip())
    return table


def _rows(root: Path | None, kind: str, columns: list[str]) -> Iterator[dict[str, str]]:
    """Rows of every ``kg/<kind>/*.tsv`` under ``root`` (default: the resource root), files in name order."""
    for path in sorted(((root or resource_root()) / "kg" / kind).glob("*.tsv")):
        yield from read_table(path, columns)
