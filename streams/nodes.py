"""Per-product and per-recipe-line arrays of the engine, growable, indexed by interned product number.

Keeping the state in flat numpy arrays (not one Python object per product or line) is what holds a
million products and five million lines in well under 2 GiB.
"""

from __future__ import annotations

import numpy as np

from pcfx.streams.graph import gather_ranges
from pcfx.streams.quality import MISSING_QUALITY

QUALITY_WIDTH = 4  # primary data share (%), then technological, geographical, temporal DQR
VALUES = -1  # width marker: one column per active footprint field

# name -> (dtype, fill value, width); width 0 is a plain vector.
_NODE_COLUMNS: dict[str, tuple[type, object, int]] = {
    "has_leaf": (bool, False, 0),
    "has_recipe": (bool, False, 0),
    "leaf_unit": (np.int64, 0, 0),
    "leaf_amount": (np.float64, 1.0, 0),
    "leaf_mass": (np.float64, np.nan, 0),
    "leaf_values": (np.float64, 0.0, VALUES),
    "leaf_bits": (np.uint64, 0, 0),
    "leaf_quality": (np.float64, 0.0, QUALITY_WIDTH),
    "recipe_unit": (np.int64, 0, 0),
    "recipe_amount": (np.float64, 1.0, 0),
    "recipe_mass": (np.float64, np.nan, 0),
    "recipe_values": (np.float64, 0.0, VALUES),
    "recipe_bits": (np.uint64, 0, 0),
    "recipe_quality": (np.float64, 0.0, QUALITY_WIDTH),
    "recipe_start": (np.int64, 0, 0),  # first line in the EdgeStore
    "recipe_length": (np.int64, 0, 0),
    "unusable": (np.int64, 0, 0),  # distinct inputs that are missing or not convertible
    "total": (np.float64, 0.0, VALUES),  # solved totals per declared unit
    "quality": (np.float64, 0.0, QUALITY_WIDTH),
    "bits": (np.uint64, 0, 0),  # present fields, INCOMPLETE, ERROR
    "coverage": (np.float64, 1.0, 0),
    "shown": (bool, False, 0),  # a Derived was emitted and not withdrawn
}


class NodeTable:
    """Columns of per-product state; ``grow`` and ``add_field`` keep every column the same length."""

    def __init__(self) -> None:
        self.capacity = 0
        self.width = 1
        self.columns: dict[str, np.ndarray] = {
            name: np.zeros(self._shape(0, width), dtype=dtype) for name, (dtype, _, width) in _NODE_COLUMNS.items()
        }

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def _shape(self, rows: int, width: int) -> tuple[int, ...]:
        if width == 0:
            return (rows,)
        return (rows, self.width if width == VALUES else width)

    def grow(self, needed: int) -> None:
        """Make room for ``needed`` products, doubling so that interning stays amortised O(1)."""
        if needed <= self.capacity:
            return
        capacity = max(needed, 2 * self.capacity, 1024)
        for name, (dtype, fill, width) in _NODE_COLUMNS.items():
            column = np.full(self._shape(capacity, width), fill, dtype=dtype)
            column[: self.capacity] = self.columns[name]
            self.columns[name] = column
        self.capacity = capacity

    def own(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Own values, present-field bits and quality: the recipe's if there is one, else the leaf's, else none."""
        recipe = self.has_recipe[nodes]
        leaf = self.has_leaf[nodes] & ~recipe
        values = np.where(recipe[:, None], self.recipe_values[nodes], np.where(leaf[:, None], self.leaf_values[nodes], 0.0))
        bits = np.where(recipe, self.recipe_bits[nodes], np.where(leaf, self.leaf_bits[nodes], np.uint64(0)))
        quality = np.where(
            recipe[:, None], self.recipe_quality[nodes], np.where(leaf[:, None], self.leaf_quality[nodes], MISSING_QUALITY)
        )
        return values, bits, quality

    def declared(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Declared unit code, amount, kg per declared unit, and whether the product has a footprint at all."""
        recipe = self.has_recipe[nodes]
        unit = np.where(recipe, self.recipe_unit[nodes], self.leaf_unit[nodes])
        amount = np.where(recipe, self.recipe_amount[nodes], self.leaf_amount[nodes])
        mass = np.where(recipe, self.recipe_mass[nodes], self.leaf_mass[nodes])
        return unit, amount, mass, recipe | self.has_leaf[nodes]

    def add_field(self) -> None:
        """Append one value column (a footprint field seen for the first time), zero everywhere."""
        self.width += 1
        for name, (_, _, width) in _NODE_COLUMNS.items():
            if width == VALUES:
                column = self.columns[name]
                self.columns[name] = np.hstack([column, np.zeros((column.shape[0], 1))])


class EdgeStore:
    """Recipe lines (input, quantity, unit code), appended; each recipe owns one contiguous range.

    A replaced recipe leaves its old range behind as garbage; ``compact`` drops it once it outweighs
    the live lines.
    """

    def __init__(self) -> None:
        self.used = 0
        self.live = 0
        self.source = np.zeros(0, dtype=np.int32)
        self.quantity = np.zeros(0, dtype=np.float64)
        self.unit = np.zeros(0, dtype=np.int16)

    def add(self, source: np.ndarray, quantity: np.ndarray, unit: np.ndarray) -> int:
        """Store lines and return the position of the first."""
        start, end = self.used, self.used + source.size
        if end > self.source.size:
            size = max(end, 2 * self.source.size, 1024)
            self.source = np.resize(self.source, size)
            self.quantity = np.resize(self.quantity, size)
            self.unit = np.resize(self.unit, size)
        self.source[start:end] = source
        self.quantity[start:end] = quantity
        self.unit[start:end] = unit
        self.used = end
        self.live += source.size
        return start

    def release(self, length: int) -> None:
        """Note that ``length`` lines of a replaced or removed recipe are garbage now."""
        self.live -= length

    def needs_compaction(self) -> bool:
        return self.used > 2 * self.live + 4096

    def compact(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Keep only the given ranges, in that order; returns their new starts."""
        positions = gather_ranges(starts, lengths)
        self.source = self.source[positions]
        self.quantity = self.quantity[positions]
        self.unit = self.unit[positions]
        self.used = self.live = positions.size
        return np.cumsum(lengths) - lengths
