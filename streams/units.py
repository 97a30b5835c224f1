"""Units of declared units and recipe quantities, and how a recipe quantity becomes a number of the input's
declared units.

A footprint is given per *declared unit*: ``declaredUnitAmount`` x ``declaredUnitOfMeasurement``
(e.g. 12.5 liter), with ``productMassPerDeclaredUnit`` the mass of that whole declared unit in kg. A
recipe line says "one declared unit of the product uses ``quantity`` ``unit`` of the input". The roll-up
needs ``q``, the number of the input's *declared units* per declared unit of the product, so that
``total[p] = own[p] + sum_i q[p, i] * total[i]``.

Unit names come from PACT (its ten declared units), from ERP and LCA exports (``pcs``, ``t``, ``kWh``,
``件``, ``吨``, ``千瓦时`` ...) and from input-output tables (``USD (2013, producer price)``). A name is first
normalised (case, surrounding and repeated whitespace), then looked up in :data:`ALIASES`; a known unit
has a dimension and a size in that dimension's base unit, and maybe a PACT equivalent. Any other name is
an *opaque* unit: it is its own dimension, so it converts only to itself (docs/units.md has the table).
Conversions used, and nothing else (never guessed):

1. same unit, or a fixed physical ratio within one dimension (kilogram/ton, liter/cubic meter,
   kilowatt hour/megajoule, meter/kilometer): scale, then divide by the input's declared amount;
2. a mass (kilogram, ton, ...) for an input declared in another unit: divide by the input's
   ``productMassPerDeclaredUnit`` when it is known and positive.

Anything else (e.g. pieces of an input declared per kilogram, or USD of an input declared per EUR) has no
conversion: the edge is unusable and the consumer is marked incomplete with the reason from
:func:`conversion_problem`.

Units are interned to small integer codes in one process-wide, append-only table, so that the engine
keeps a code per product and per recipe line; a code never changes meaning once given.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args

import numpy as np

from pcfx.schemas.pact_types import MAX_UNIT_NAME, DeclaredUnit
from pcfx.schemas.pact_types import unit_name as check_unit_name

#: ``declaredUnitOfMeasurement`` values of PACT v3, in the spec's order (the contract's enumeration).
PACT_UNITS: tuple[str, ...] = get_args(DeclaredUnit)
#: Code stored for a recipe quantity given in the input's own declared unit of measurement.
SAME_AS_INPUT = -1
#: Most distinct units one process interns (recipe lines store the code as int16).
MAX_UNITS = 30000


@dataclass(frozen=True)
class Unit:
    """A known unit: its dimension, its size in the dimension's base unit, and its PACT equivalent
    (``pact`` x ``pact_factor`` is one of it), or no PACT equivalent (``pact`` None)."""

    name: str
    dimension: str
    size: Decimal
    pact: str | None
    pact_factor: Decimal = Decimal(1)


def _unit(name: str, dimension: str, size: str, pact: str | None, factor: str = "1") -> Unit:
    return Unit(name, dimension, Decimal(size), pact, Decimal(factor))


#: Every known unit by its canonical name. Base units: kilogram, cubic meter, megajoule, meter, square meter.
KNOWN: dict[str, Unit] = {u.name: u for u in (
    _unit("kilogram", "mass", "1", "kilogram"),
    _unit("gram", "mass", "0.001", "kilogram", "0.001"),
    _unit("ton", "mass", "1000", "kilogram", "1000"),  # metric tonne
    _unit("liter", "volume", "0.001", "liter"),
    _unit("milliliter", "volume", "0.000001", "liter", "0.001"),
    _unit("cubic meter", "volume", "1", "cubic meter"),
    _unit("megajoule", "energy", "1", "megajoule"),
    _unit("kilojoule", "energy", "0.001", "megajoule", "0.001"),
    _unit("gigajoule", "energy", "1000", "megajoule", "1000"),
    _unit("kilowatt hour", "energy", "3.6", "kilowatt hour"),
    _unit("megawatt hour", "energy", "3600", "kilowatt hour", "1000"),
    _unit("square meter", "area", "1", "square meter"),
    _unit("hectare", "area", "10000", "square meter", "10000"),
    _unit("meter", "length", "1", None),
    _unit("centimeter", "length", "0.01", None),
    _unit("millimeter", "length", "0.001", None),
    _unit("kilometer", "length", "1000", None),
    _unit("ton kilometer", "freight", "1", "ton kilometer"),
    _unit("piece", "count", "1", "piece"),
    _unit("hour", "time", "1", "hour"),
    _unit("megabit second", "data", "1", "megabit second"),
)}

_NAMES: dict[str, tuple[str, ...]] = {
    "kilogram": ("kg", "kgs", "kilograms", "kilogramme", "千克", "公斤"),
    "gram": ("g", "grams", "克"),
    "ton": ("t", "tonne", "tonnes", "metric ton", "metric tonne", "tons", "吨", "公吨"),
    "liter": ("l", "litre", "liters", "litres", "升", "公升"),
    "milliliter": ("ml", "millilitre", "毫升"),
    "cubic meter": ("m3", "m³", "cubic metre", "cubic meters", "立方米"),
    "megajoule": ("mj", "兆焦"),
    "kilojoule": ("kj", "千焦"),
    "gigajoule": ("gj", "吉焦"),
    "kilowatt hour": ("kwh", "kw h", "kilowatt-hour", "kilowatt hours", "千瓦时"),
    "megawatt hour": ("mwh", "megawatt-hour", "兆瓦时"),
    "square meter": ("m2", "m²", "square metre", "square meters", "平方米"),
    "hectare": ("ha", "hectares", "公顷"),
    "meter": ("m", "metre", "meters", "metres", "米"),
    "centimeter": ("cm", "centimetre", "厘米"),
    "millimeter": ("mm", "millimetre", "毫米"),
    "kilometer": ("km", "kilometre", "kilometers", "kilometres", "千米", "公里"),
    "ton kilometer": ("tkm", "t km", "t*km", "tonne kilometer", "tonne kilometre", "ton kilometre", "吨公里", "吨千米"),
    "piece": ("pc", "pcs", "pieces", "unit", "units", "item", "items", "ea", "each",
              "件", "个", "台", "只", "套", "支", "根", "块", "张", "片", "辆", "把", "颗", "枚"),
    "hour": ("h", "hr", "hours", "小时"),
}

_SPACE = re.compile(r"\s+")


def normalise(name: str) -> str:
    """The lookup form of a unit name: Unicode compatibility form (full-width ｋｇ is kg, m³ is m3, as
    Chinese input methods and spreadsheets write them), trimmed, inner whitespace runs made one space,
    case folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", name).strip()).casefold()


#: Normalised name or alias -> canonical unit name.
ALIASES: dict[str, str] = {normalise(name): name for name in KNOWN} | {
    normalise(alias): name for name, aliases in _NAMES.items() for alias in aliases
}


class UnknownUnit(ValueError):
    """A unit name that cannot be used at all (empty, too long, control characters)."""


def canonical(name: str) -> str:
    """The canonical name of a known unit, or the normalised name of an opaque one; raises :class:`UnknownUnit`."""
    if not isinstance(name, str):
        raise UnknownUnit(f"unit {name!r} is not a text")
    try:
        check_unit_name(name)
    except ValueError as exc:
        raise UnknownUnit(f"unit {name[:MAX_UNIT_NAME]!r} {exc}") from None
    key = normalise(name)
    return ALIASES.get(key, key)


def known(name: str) -> Unit | None:
    """The known unit behind a name (any alias), None for an opaque unit."""
    return KNOWN.get(canonical(name))


def pact_declared_unit(name: str, amount: Decimal) -> tuple[str, Decimal] | None:
    """The PACT ``(declaredUnitOfMeasurement, declaredUnitAmount)`` of ``amount`` ``name``, exactly
    (``2 t`` is ``2000 kilogram``); None when the unit has no PACT equivalent (opaque, or a length)."""
    unit = known(name)
    if unit is None or unit.pact is None:
        return None
    return unit.pact, amount * unit.pact_factor


def declared_unit_mass(name: str, amount: Decimal) -> Decimal | None:
    """kg in ``amount`` ``name`` when the unit is a mass (``2 t`` is 2000 kg), else None: a declared unit in
    mass has a known ``productMassPerDeclaredUnit`` and nobody should have to type it."""
    unit = known(name)
    return amount * unit.size if unit is not None and unit.dimension == "mass" else None


class _Table:
    """The process-wide interned units: canonical name -> code, and per code its dimension and size."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.spellings: dict[str, int] = {}  # a name as given -> its code: a recipe line looks it up once
        self._dimensions: dict[str, int] = {}
        self.dimension = np.zeros(0, dtype=np.int64)
        self.size = np.zeros(0)
        self.is_mass = np.zeros(0, dtype=bool)
        for name in KNOWN:
            self.code(name)

    def code(self, name: str) -> int:
        found = self.spellings.get(name)
        if found is None:
            found = self._intern(name)
            if len(self.spellings) < 100 * MAX_UNITS:
                self.spellings[name] = found
        return found

    def _intern(self, name: str) -> int:
        key = canonical(name)
        found = self.codes.get(key)
        if found is not None:
            return found
        if len(self.names) >= MAX_UNITS:
            raise UnknownUnit(f"unit {name!r}: more than {MAX_UNITS} distinct units in one process")
        unit = KNOWN.get(key)
        dimension = unit.dimension if unit else "opaque:" + key
        code = len(self.names)
        self.names.append(key)
        self.codes[key] = code
        self.dimension = np.append(self.dimension, self._dimensions.setdefault(dimension, len(self._dimensions)))
        self.size = np.append(self.size, float(unit.size) if unit else 1.0)
        self.is_mass = np.append(self.is_mass, unit is not None and unit.dimension == "mass")
        return code


_TABLE = _Table()


def unit_name(code: int) -> str:
    """The canonical name of a unit code."""
    return _TABLE.names[code]


def declared_unit_code(name: str) -> int:
    """Code of a declared unit of measurement: a PACT unit, an alias or an opaque unit."""
    return _TABLE.code(name)


def quantity_unit_code(name: str | None) -> int:
    """Code of a recipe quantity unit; ``None`` or ``""`` means the input's own declared unit."""
    if not name:
        return SAME_AS_INPUT
    return _TABLE.code(name)


def declared_units_per_quantity(
    unit: np.ndarray, input_unit: np.ndarray, input_amount: np.ndarray, input_mass: np.ndarray
) -> np.ndarray:
    """How many declared units of the input one unit of the recipe quantity is, element-wise.

    ``unit`` are quantity unit codes (``SAME_AS_INPUT`` allowed), ``input_unit`` the input's declared unit
    codes, ``input_amount`` its declared unit amounts and ``input_mass`` its kg per declared unit (NaN
    when unknown). The result is NaN where no conversion exists.
    """
    t = _TABLE
    unit = np.where(unit == SAME_AS_INPUT, input_unit, unit)
    same_unit = unit == input_unit
    same_dimension = t.dimension[unit] == t.dimension[input_unit]
    # The same unit divides by the amount only, so a quantity in the input's own unit stays exact.
    by_dimension = np.where(same_unit, 1.0, t.size[unit] / t.size[input_unit]) / input_amount
    usable_mass = t.is_mass[unit] & (input_mass > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_mass = t.size[unit] / np.where(usable_mass, input_mass, np.nan)
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
    base = f"unit: a quantity in {unit!r} cannot be converted to the input's declared unit {declared_unit!r}"
    quantity_unit = known(unit) if unit else None
    if quantity_unit is not None and quantity_unit.dimension == "mass":
        if mass_per_unit is None or math.isnan(mass_per_unit):
            return base + ": its productMassPerDeclaredUnit is unknown"
        return base + f": its productMassPerDeclaredUnit is {mass_per_unit!r} kg"
    return base + ": the units measure different things and only mass converts through productMassPerDeclaredUnit"


_BASE_UNIT = {"mass": "kilogram", "volume": "cubic meter", "energy": "megajoule", "area": "square meter", "length": "meter"}


def markdown_table() -> str:
    """The unit table as docs/units.md shows it (a test checks that the page matches)."""
    rows = ["| unit | dimension | size | PACT declared unit | aliases |", "| --- | --- | --- | --- | --- |"]
    for name, unit in KNOWN.items():
        size = f"{_plain(unit.size)} {_BASE_UNIT[unit.dimension]}" if unit.dimension in _BASE_UNIT else "-"
        pact = f"{_plain(unit.pact_factor)} {unit.pact}" if unit.pact else "none: not published over PACT"
        aliases = ", ".join(f"`{alias}`" for alias in _NAMES.get(name, ()))
        rows.append(f"| `{name}` | {unit.dimension} | {size} | {pact} | {aliases} |")
    return "\n".join(rows)


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")
