"""What the roll-up engine reads and writes: leaves, recipes, their events, and derived footprints.

All footprint numbers are per *declared unit* of their product (see :mod:`pcfx.streams.units`): kgCO2e
for emissions, kgC for carbon contents, m2*yr for land occupation. The roll-up is, field by field,
``total[p] = own[p] + sum_i q[p, i] * total[i]`` for every name in :data:`ADDITIVE_FIELDS`
(docs/engine.md explains the choice of fields and how the others are derived).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from pcfx.streams.units import UnknownUnit, declared_unit_code, quantity_unit_code

#: PACT v3 CarbonFootprint quantities that add up along bill-of-materials edges, per declared unit.
#: The first one weights data quality (PACT: contribution to pcfExcludingBiogenicUptake).
ADDITIVE_FIELDS: tuple[str, ...] = (
    "pcfExcludingBiogenicUptake",
    "pcfIncludingBiogenicUptake",
    "fossilGhgEmissions",
    "fossilCarbonContent",
    "biogenicCarbonContent",
    "recycledCarbonContent",
    "landUseChangeGhgEmissions",
    "landCarbonLeakage",
    "landManagementFossilGhgEmissions",
    "landManagementBiogenicCO2Emissions",
    "landManagementBiogenicCO2Removals",
    "biogenicCO2Uptake",
    "biogenicNonCO2Emissions",
    "landAreaOccupation",
    "aircraftGhgEmissions",
    "packagingGhgEmissions",
    "packagingBiogenicCarbonContent",
    "ccsTechnologicalCO2Capture",
    "technologicalCO2Removals",
    "ccuCarbonContent",
)
WEIGHT_FIELD = ADDITIVE_FIELDS[0]
#: Not a PACT field: the emissions a footprint left out of WEIGHT_FIELD (its exemptedEmissionsPercent as an
#: amount, kgCO2e per declared unit). Amounts add up along edges like the PACT fields, so the engine solves
#: them with the same matrix, cycles included; derive.py turns the total back into a percent.
EXEMPTED_FIELD = "exemptedEmissions"
ENGINE_FIELDS: tuple[str, ...] = ADDITIVE_FIELDS + (EXEMPTED_FIELD,)
#: IPCC assessment reports travel as presence bits beside the fields' (bit IPCC_FIRST_BIT + n - 1 for "ARn"):
#: the engine ORs bits downstream through every edge and cycle, so a product's bits are the union of the
#: reports used anywhere upstream, exact and at no extra cost.
IPCC_FIRST_BIT = 32
IPCC_MAX_VERSION = 30  # bits 32..61; 62 and 63 are the engine's INCOMPLETE and ERROR flags

DQR = tuple[float, float, float]  # (technological, geographical, temporal), each 1 (best) .. 5 (worst)


class InvalidFootprint(ValueError):
    """A leaf or recipe that the engine refuses, naming the product and the field at fault."""

    def __init__(self, product_id: str, field_name: str, problem: str) -> None:
        super().__init__(f"product {product_id!r}: {field_name}: {problem}")
        self.product_id = product_id
        self.field_name = field_name


def _check_finite(product_id: str, name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidFootprint(product_id, name, f"must be a finite number, got {value!r}")


def _check_declared_unit(product_id: str, unit: str, amount: float, mass: float | None) -> None:
    if not isinstance(product_id, str) or not product_id:
        raise InvalidFootprint(str(product_id), "product_id", "must be a non-empty string")
    try:
        declared_unit_code(unit)  # validates the name once per spelling, then a dict lookup
    except UnknownUnit as exc:
        raise InvalidFootprint(product_id, "declared_unit", str(exc)) from None
    _check_finite(product_id, "declared_amount", amount)
    if amount <= 0:
        raise InvalidFootprint(product_id, "declared_amount", f"must be > 0, got {amount!r}")
    if mass is not None:
        _check_finite(product_id, "mass_per_unit", mass)
        if mass < 0:
            raise InvalidFootprint(product_id, "mass_per_unit", f"must be >= 0 kg, got {mass!r}")


def _check_values(product_id: str, name: str, values: Mapping[str, float]) -> None:
    for key, value in values.items():
        if key not in ENGINE_FIELDS:
            raise InvalidFootprint(product_id, f"{name}.{key}", "is not an additive PACT CarbonFootprint field")
        _check_finite(product_id, f"{name}.{key}", value)


def _check_quality(product_id: str, prefix: str, pds: float | None, dqr: DQR | None) -> None:
    if pds is not None:
        _check_finite(product_id, f"{prefix}pds", pds)
        if not 0 <= pds <= 100:
            raise InvalidFootprint(product_id, f"{prefix}pds", f"is a percent within 0..100, got {pds!r}")
    if dqr is not None:
        if len(dqr) != 3:
            raise InvalidFootprint(product_id, f"{prefix}dqr", "needs (technological, geographical, temporal)")
        for rating in dqr:
            _check_finite(product_id, f"{prefix}dqr", rating)
            if not 1 <= rating <= 5:
                raise InvalidFootprint(product_id, f"{prefix}dqr", f"ratings are within 1..5, got {rating!r}")


class Input(NamedTuple):
    """One recipe line: ``quantity`` of ``unit`` of the input per declared unit of the product.

    ``unit`` None means the input's own declared unit of measurement. Quantities may be negative
    (co-product credits, scrap) and the input may be the product itself. A tuple, made at a tuple's cost:
    a dense recipe has hundreds of lines.
    """

    product_id: str
    quantity: float
    unit: str | None = None


@dataclass(frozen=True)
class Leaf:
    """A footprint given from outside the exchange: a supplier's PACT footprint or a background dataset."""

    product_id: str
    pf_id: str
    declared_unit: str
    declared_amount: float
    mass_per_unit: float | None  # kg per declared unit; None when unknown
    values: Mapping[str, float]  # field -> value per declared unit; optional fields absent when not reported
    pds: float | None = None  # primary data share, percent; None counts as 0
    dqr: DQR | None = None  # None counts as 5 on each indicator
    ipcc: tuple[int, ...] = ()  # IPCC assessment reports of its characterization factors: 6 for "AR6"
    #: Set on the result of a product solved on another shard (:meth:`Engine.as_leaf`): it is itself incomplete,
    #: or has no meaningful footprint, and its users here must say so as if it had been solved beside them.
    incomplete: bool = False
    error: bool = False

    def __post_init__(self) -> None:
        _check_declared_unit(self.product_id, self.declared_unit, self.declared_amount, self.mass_per_unit)
        _check_values(self.product_id, "values", self.values)
        _check_quality(self.product_id, "", self.pds, self.dqr)
        for version in self.ipcc:
            if not 1 <= version <= IPCC_MAX_VERSION:
                raise InvalidFootprint(self.product_id, "ipcc", f"AR{version} is beyond the AR1..AR{IPCC_MAX_VERSION} pcfx tracks")


@dataclass(frozen=True)
class Recipe:
    """A product made inside the exchange: its own gate-to-gate data plus its inputs per declared unit."""

    product_id: str
    declared_unit: str
    declared_amount: float
    mass_per_unit: float | None
    own: Mapping[str, float]  # the maker's own emissions per declared unit
    own_pds: float | None = None
    own_dqr: DQR | None = None
    inputs: tuple[Input, ...] = ()

    def __post_init__(self) -> None:
        _check_declared_unit(self.product_id, self.declared_unit, self.declared_amount, self.mass_per_unit)
        _check_values(self.product_id, "own", self.own)
        _check_quality(self.product_id, "own_", self.own_pds, self.own_dqr)
        if not _lines_look_right(self.inputs):
            self._check_lines()

    def _check_lines(self) -> None:
        """Line by line, to name the first bad line (:func:`_lines_look_right` only says whether there is one)."""
        for number, line in enumerate(self.inputs):
            name = f"inputs[{number}]"
            if not isinstance(line.product_id, str) or not line.product_id:
                raise InvalidFootprint(self.product_id, f"{name}.product_id", "must be a non-empty string")
            _check_finite(self.product_id, f"{name}.quantity", line.quantity)
            if line.unit:
                try:
                    quantity_unit_code(line.unit)
                except UnknownUnit as exc:
                    raise InvalidFootprint(self.product_id, f"{name}.unit", str(exc)) from None


def _lines_look_right(lines: tuple[Input, ...]) -> bool:
    """True if every line has a product id, a finite float quantity and a known unit spelling: one pass over the
    lines and one look-up per distinct unit, where :meth:`Recipe._check_lines` pays a few calls per line."""
    if not all(type(line.product_id) is str and line.product_id and type(line.quantity) is float and math.isfinite(line.quantity)
               for line in lines):
        return False
    try:
        for unit in {line.unit for line in lines if line.unit}:
            quantity_unit_code(unit)
    except (UnknownUnit, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Derived:
    """The rolled-up footprint of one recipe product, per its declared unit.

    ``values`` holds the additive fields reported by the product or anything upstream of it; missing
    inputs count as 0 there, so an incomplete product still shows a partial figure. ``coverage`` is the
    share of distinct direct inputs that are usable (known and convertible), ``missing`` the others and
    ``reasons`` one line per problem, including incomplete inputs. ``error`` is set when no finite
    meaningful footprint exists (``values`` is then empty). ``removed`` marks the tombstone of a recipe that was
    withdrawn. ``drivers`` are the pf_ids of changed leaves upstream of this recompute.
    """

    product_id: str
    values: Mapping[str, float]
    pds: float
    dqr: DQR
    complete: bool
    coverage: float
    missing: tuple[str, ...] = ()
    error: str | None = None
    drivers: frozenset[str] = frozenset()
    reasons: tuple[str, ...] = ()
    removed: bool = False
    ipcc: tuple[int, ...] = ()  # IPCC reports used anywhere upstream (the union of the leaves' sets), ascending


def ipcc_bits(versions: tuple[int, ...]) -> int:
    """The presence bits of IPCC reports ``versions`` (see IPCC_FIRST_BIT)."""
    bits = 0
    for version in versions:
        bits |= 1 << (IPCC_FIRST_BIT + version - 1)
    return bits


def ipcc_of(bits: int) -> tuple[int, ...]:
    """The IPCC report versions whose bits are set, ascending."""
    return _versions(bits >> IPCC_FIRST_BIT & ((1 << IPCC_MAX_VERSION) - 1))


@functools.cache
def _versions(mask: int) -> tuple[int, ...]:  # a handful of distinct masks: once per derived footprint, cached
    return tuple(v for v in range(1, IPCC_MAX_VERSION + 1) if mask >> (v - 1) & 1)


@dataclass(frozen=True)
class UpsertLeaf:
    leaf: Leaf

    @property
    def product_id(self) -> str:
        return self.leaf.product_id


@dataclass(frozen=True)
class RemoveLeaf:
    product_id: str


@dataclass(frozen=True)
class UpsertRecipe:
    recipe: Recipe

    @property
    def product_id(self) -> str:
        return self.recipe.product_id


@dataclass(frozen=True)
class RemoveRecipe:
    product_id: str


Event = UpsertLeaf | RemoveLeaf | UpsertRecipe | RemoveRecipe


@dataclass
class EngineStats:
    """Running counters of one engine, for metrics and benchmarks."""

    batches: int = 0
    events: int = 0
    recomputed: int = 0  # products whose totals were solved again
    recipes_solved: int = 0  # of them, recipe products (the others are leaves and other shards' results)
    full_recomputes: int = 0  # batches that switched to the whole-graph recompute
    rebuilds: int = 0  # edge-structure rebuilds (recipes added, removed or rewired)
    emitted: int = 0
