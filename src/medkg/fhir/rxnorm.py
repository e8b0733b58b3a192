"""Parse RxNorm clinical drug names ("amlodipine 2.5 MG Oral Tablet") into ingredients and strengths.

RxNorm writes a clinical drug (SCD), branded drug (SBD) or pack (GPCK/BPCK) name as::

    [QUANTITY UNIT] INGREDIENT STRENGTH UNIT [/ INGREDIENT STRENGTH UNIT ...] [DOSE FORM] [[BRAND]]

for example "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet",
"olmesartan medoxomil 20 MG / amLODIPine 5 MG / hydroCHLOROthiazide 12.5 MG Oral Tablet",
"10 ML Furosemide 10 MG/ML Injection" or, for an ingredient concept, just "penicillin G". Tall-man
capitals are folded to lower case. Packs ("... 28 Day Pack") and names with an application number
prefix are not parsed (None): their content is not in the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Component", "RxNormName", "parse_rxnorm_name"]

#: Units RxNorm writes after a strength (numerator), and those a strength may be divided by.
_UNITS = r"(?:MG|MCG|UNT|MEQ|MMOL|ML|G|%|ACTUAT|HR|CELLS|BAU|PNU)"
# Units in any case: RxNorm writes "MG", free text often "mg" ("ibuprofen 400 mg tablet").
_STRENGTH = re.compile(
    rf"^(?P<name>.+?) (?P<value>\d+(?:\.\d+)?) (?P<unit>{_UNITS}(?:/{_UNITS})?)(?=$| )(?P<rest>.*)$", re.IGNORECASE
)
_QUANTITY = re.compile(rf"^(?P<value>\d+(?:\.\d+)?) (?P<unit>{_UNITS}) (?P<rest>.+)$", re.IGNORECASE)
_BRAND = re.compile(r"^(?P<rest>.*?)\s*\[(?P<brand>[^\[\]]+)\]$")
_NOT_PARSED = re.compile(r"(?:\bPack$|^\{|^[A-Z]{2,4}\d{4,})")
#: Factor from a strength unit to milligrams (per unit of dose form).
_MG_FACTOR = {"MG": 1.0, "MCG": 0.001, "G": 1000.0}


@dataclass(frozen=True)
class Component:
    """One ingredient of a clinical drug.

    Attributes:
        ingredient: precise ingredient as written, lower case ("metoprolol succinate").
        strength: value per unit of the dose form (e.g. 2.5), or None for an ingredient concept.
        unit: RxNorm strength unit ("MG", "MG/ML", "UNT"), or None.
    """

    ingredient: str
    strength: float | None = None
    unit: str | None = None

    @property
    def strength_mg(self) -> float | None:
        """Strength in mg per dose unit (tablet, capsule) when the unit is a mass, else None."""
        factor = _MG_FACTOR.get(self.unit or "")
        return None if factor is None or self.strength is None else round(self.strength * factor, 6)

    @property
    def mg_per_ml(self) -> float | None:
        """Concentration in mg/mL when the unit is MG/ML (or MCG/ML), else None."""
        numerator, _, denominator = (self.unit or "").partition("/")
        factor = _MG_FACTOR.get(numerator)
        if denominator != "ML" or factor is None or self.strength is None:
            return None
        return round(self.strength * factor, 6)


@dataclass(frozen=True)
class RxNormName:
    """A parsed RxNorm name: components, dose form, brand and leading quantity (all may be empty)."""

    components: tuple[Component, ...]
    dose_form: str = ""
    brand: str = ""
    quantity: str = ""


def parse_rxnorm_name(text: str) -> RxNormName | None:
    """Parse an RxNorm clinical drug or ingredient name.

    Args:
        text: the display, e.g. ``"amLODIPine 5 MG / Hydrochlorothiazide 12.5 MG Oral Tablet"``.

    Returns:
        The components in the order written, or None when the text is empty, a pack, starts
        with an application number, or a component has no ingredient name.
    """
    name = " ".join(text.split())
    if not name or _NOT_PARSED.search(name):
        return None
    brand = ""
    if match := _BRAND.match(name):
        name, brand = match["rest"], match["brand"].strip()
    quantity = ""
    if (match := _QUANTITY.match(name)) and _STRENGTH.match(match["rest"]):
        quantity, name = f"{match['value']} {match['unit']}", match["rest"]
    pieces = name.split(" / ")
    components: list[Component] = []
    dose_form = ""
    for number, piece in enumerate(pieces):
        match = _STRENGTH.match(piece)
        if match is None:
            if len(pieces) > 1 or any(char.isdigit() for char in piece):
                return None
            return RxNormName((Component(piece.casefold()),), brand=brand, quantity=quantity)
        if match["rest"].strip() and number != len(pieces) - 1:
            return None
        components.append(Component(match["name"].strip().casefold(), float(match["value"]), match["unit"].upper()))
        dose_form = match["rest"].strip()
    return RxNormName(tuple(components), dose_form, brand, quantity)
