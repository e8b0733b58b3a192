"""Unit conversion for FHIR quantities (UCUM codes) with ``pint``.

Only conversions medkg needs: masses (kg, g, lb), creatinine (mg/dL from µmol/L, molar mass
113.12 g/mol), potassium (mmol/L; mEq/L is equal for a monovalent ion), time (ms) and drug
amounts (mg). Unknown or incompatible units raise :class:`UnitError`; callers then say in a
note that the value was not used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pint

__all__ = ["CREATININE_G_PER_MOL", "UnitError", "convert", "creatinine_mg_dl"]

#: Molar mass of creatinine (C4H7N3O), g/mol.
CREATININE_G_PER_MOL = 113.12

#: UCUM code (or common unit text) -> pint unit expression.
_UCUM = {
    "kg": "kilogram",
    "g": "gram",
    "mg": "milligram",
    "ug": "microgram",
    "mcg": "microgram",
    "[lb_av]": "pound",
    "lb": "pound",
    "lbs": "pound",
    "[oz_av]": "ounce",
    "mg/dl": "milligram / deciliter",
    "umol/l": "micromole / liter",
    "µmol/l": "micromole / liter",
    "mmol/l": "millimole / liter",
    "meq/l": "millimole / liter",
    "ms": "millisecond",
    "s": "second",
}


class UnitError(ValueError):
    """A unit that is unknown, or cannot be converted to the unit asked for."""


@cache
def _registry() -> pint.UnitRegistry[Any]:
    return pint.UnitRegistry()


def _unit(code: str) -> str:
    unit = _UCUM.get(code.strip().casefold())
    if unit is None:
        raise UnitError(f"unit {code!r} is not one medkg converts")
    return unit


def convert(value: float, code: str, target: str) -> float:
    """Convert ``value`` in UCUM unit ``code`` to ``target`` (a UCUM code from the table above).

    Raises:
        UnitError: unknown unit, or units of different dimensions.
    """
    registry = _registry()
    try:
        quantity = registry.Quantity(value, _unit(code)).to(_unit(target))
    except pint.DimensionalityError as error:
        raise UnitError(f"cannot convert {code!r} to {target!r}") from error
    return float(quantity.magnitude)


def creatinine_mg_dl(value: float, code: str) -> float:
    """Serum creatinine in mg/dL from a value in mg/dL, µmol/L or mmol/L.

    Raises:
        UnitError: for any other unit.
    """
    registry = _registry()
    unit = _unit(code)
    quantity = registry.Quantity(value, unit)
    if quantity.check("[mass] / [length] ** 3"):
        return float(quantity.to("milligram / deciliter").magnitude)
    if quantity.check("[substance] / [length] ** 3"):
        mass = quantity * registry.Quantity(CREATININE_G_PER_MOL, "gram / mole")
        return float(mass.to("milligram / deciliter").magnitude)
    raise UnitError(f"creatinine unit {code!r} is not a mass or substance concentration")
