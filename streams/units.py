"""Units of PACT declared units, and how a recipe quantity becomes a number of the input's declared units.

A PACT footprint is given per *declared unit*: ``declaredUnitAmount`` x ``declaredUnitOfMeasurement``
(e.g. 12.5 liter), with ``productMassPerDeclaredUnit`` the mass of that whole declared unit in kg. A
recipe line says "one declared unit of the product uses ``quantity`` ``unit`` of the input". The roll-up
needs ``q``, the number of the input's *declared units* per declared unit of the product, so that
``total[p] = own[p] + sum_i q[p, i] * total[i]``. Conversions used, and nothing else (never guessed):

1. same unit, or a fixed physical ratio within one dimension (kilogram/ton, liter/cubic meter,
   kilowatt hour/megajoule): scale, then divide by the input's declared amount;
2. a mass (kilogram, ton) for an input declared in another unit: divide by the input's
   ``productMassPerDeclaredUnit`` when it is known and positive.

Anything else (e.g. pieces of an input declared per kilogram) has no conversion: the edge is unusable
and the consumer is marked incomplete with the reason from :func:`conversion_problem`.
"""

from __future__ import annotations

import math
from typing import get_args

import numpy as np

from pcfx.schemas.pact_types import DeclaredUnit

#: ``declaredUnitOfMeasurement`` values of PACT v3, in the spec's order (the contract's enumeration).
PACT_UNITS: tuple[str, ...] = get_args(DeclaredUnit)

#: Accepted as a recipe quantity unit only (metric tonne, 1000 kg); never a declared unit, because
#: PACT does not have it and a footprint "per ton" must be published per 1000 kilogram.
EXTRA_QUANTITY_UNITS: tuple[str, ...] = ("ton",)

UNITS: tuple[str, ...] = PACT_UNITS + EXTRA_QUANTITY_UNITS
#: Code stored for a recipe quantity given in the input's own declared unit of measurement.
SAME_AS_INPUT = -1

# (dimension, size in the dimension's base unit). Units alone in their dimension have size 1.
_DIMENSIONS: dict[str, tuple[str, float]] = {
    "kilogram": ("mass", 1.0),
    "ton": ("mass", 1000.0),
    "liter": ("volume", 0.001),
    "cubic meter": ("volume", 1.0),
    "megajoule": ("energy", 1.0),
    "kilowatt hour": ("energy", 3.6),
}

_BASE_UNIT = {"mass": "kilogram", "volume": "cubic meter", "energy": "megajoule"}
# A unit's dimension as the code of the dimension's base unit; units alone in their dimension are their own.
_DIMENSION_CODE = np.array(
    [UNITS.index(_BASE_UNIT[_DIMENSIONS[u][0]]) if u in _DIMENSIONS else UNITS.index(u) for u in UNITS]
)
_SIZE = np.array([_DIMENSIONS.get(u, ("", 1.0))[1] for u in UNITS])
_IS_MASS = np.array([_DIMENSIONS.get(u, ("", 0.0))[0] == "mass" for u in UNITS])


class UnknownUnit(ValueError):
    """A unit name that is neither a PACT declared unit nor an accepted quantity unit."""


def declared_unit_code(name: str) -> int:
    """Code of a PACT declared unit of measurement; ``ton`` and unknown names are refused."""
    if name not in PACT_UNITS:
        raise UnknownUnit(f"declared unit {name!r} is not a PACT unit; use one of {', '.join(PACT_UNITS)}")
    return PACT_UNITS.index(name)


def quantity_unit_code(name: str | None) -> int:
    """Code of a recipe quantity unit; ``None`` or ``""`` means the input's own declared unit."""
    if not name:
        return SAME_AS_INPUT
    if name not in UNITS:
        raise UnknownUnit(f"quantity unit {name!r} is unknown; use one of {', '.join(UNITS)}")
    return UNITS.index(name)


def declared_units_per_quantity(
    unit: np.ndarray, input_unit: np.ndarray, input_amount: np.ndarray, input_mass: np.ndarray
) -> np.ndarray:
    """How many declared units of the input one unit of the recipe quantity is, element-wise.

    ``unit`` are quantity unit codes (``SAME_AS_INPUT`` allowed), ``input_unit`` the input's declared unit
    codes, ``input_amount`` its declared unit amounts and ``input_mass`` its kg per declared unit (NaN
    when unknown). The result is NaN where no conversion exists.
    """
    unit = np.where(unit == SAME_AS_INPUT, input_unit, unit)
    same_dimension = _DIMENSION_CODE[unit] == _DIMENSION_CODE[input_unit]
    by_dimension = _SIZE[unit] / (_SIZE[input_unit] * input_amount)
    usable_mass = _IS_MASS[unit] & (input_mass > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_mass = _SIZE[unit] / np.where(usable_mass, input_mass, np.nan)
    return np.where(same_dimension, by_dimension, by_mass)


def to_declared_units(
    quantity: float, unit: str | None, declared_unit: str, declared_amount: float, mass_per_unit: float | None
) -> float:
    """``quantity`` of ``unit`` as a number of the input's declared units; raises ``ValueError`` with the reason."""
    factor = declared_units_per_quantity(
        np.array([quantity_unit_code(unit)]),
        np.array([declared_unit_code(declared_unit)]),
        np.array([declared_amount], dtype=float),
        np.array([math.nan if mass_per_unit is None else mass_per_unit]),
    )[0]
    if math.isnan(factor):
        raise ValueError(conversion_problem(unit, declared_unit, mass_per_unit))
    return quantity * float(factor)


def conversion_problem(unit: str | None, declared_unit: str, mass_per_unit: float | None) -> str:
    """Why a quantity in ``unit`` cannot be expressed in an input declared per ``declared_unit``."""
    base = f"a quantity in {unit!r} cannot be converted to the input's declared unit {declared_unit!r}"
    if unit in _DIMENSIONS and _DIMENSIONS[unit][0] == "mass":
        if mass_per_unit is None or math.isnan(mass_per_unit):
            return base + ": its productMassPerDeclaredUnit is unknown"
        return base + f": its productMassPerDeclaredUnit is {mass_per_unit!r} kg"
    return base + ": the units measure different things and only mass converts through productMassPerDeclaredUnit"
