"""Synthetic supply graphs for the engine benchmarks (and big-graph tests), as arrays and event batches.

``supply_graph``: tiers from raw materials (leaves) to final products; each recipe uses ``inputs``
products of lower tiers, mostly from nearby sectors and sometimes from anywhere (commodities used
everywhere); for a share of lines the input also takes back a little of its consumer (scrap,
returned energy), which closes cycles. 10 % of the products above tier 0 are bought-in leaves. ``io_block``: a dense cyclic
block shaped like an input-output table, spectral radius scaled to a target, some negative entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pcfx.streams.rollup import WEIGHT_FIELD, Event, Input, Leaf, Recipe, UpsertLeaf, UpsertRecipe


@dataclass
class Graph:
    """``rows`` uses ``quantity`` declared units of ``cols`` per declared unit; ``direct`` per product."""

    n: int
    leaves: np.ndarray  # bool per product
    rows: np.ndarray
    cols: np.ndarray
    quantity: np.ndarray
    direct: np.ndarray

    def product_id(self, p: int) -> str:
        return f"P{p:07d}"

    def __post_init__(self) -> None:
        """Sort the lines by consumer once and keep them compact (int32), so that big graphs stay small."""
        order = np.argsort(self.rows, kind="stable")
        self.rows, self.cols = self.rows[order].astype(np.int32), self.cols[order].astype(np.int32)
        self.quantity = self.quantity[order]

    def lines(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and quantities of product ``p``."""
        first, last = np.searchsorted(self.rows, [p, p + 1])
        return self.cols[first:last], self.quantity[first:last]

    def events(self, chunk: int = 50_000) -> Iterator[list[Event]]:
        """Upserts for every product in index order, ``chunk`` products per batch (built lazily)."""
        starts = np.searchsorted(self.rows, np.arange(self.n + 1))
        for first in range(0, self.n, chunk):
            yield [self.event(p, self.cols[starts[p] : starts[p + 1]], self.quantity[starts[p] : starts[p + 1]])
                   for p in range(first, min(first + chunk, self.n))]

    def event(self, p: int, cols: np.ndarray, quantity: np.ndarray) -> Event:
        pid = self.product_id(p)
        if self.leaves[p]:
            return UpsertLeaf(Leaf(pid, f"pf-{p}", "kilogram", 1.0, 1.0, {WEIGHT_FIELD: float(self.direct[p])}, 50.0))
        lines = tuple(Input(self.product_id(int(c)), float(q)) for c, q in zip(cols, quantity))
        return UpsertRecipe(Recipe(pid, "kilogram", 1.0, 1.0, {WEIGHT_FIELD: float(self.direct[p])}, 100.0, None, lines))

    def leaf_update(self, p: int, value: float, version: int) -> Event:
        return UpsertLeaf(Leaf(self.product_id(p), f"pf-{p}-v{version}", "kilogram", 1.0, 1.0, {WEIGHT_FIELD: value}, 50.0))


def supply_graph(
    n: int,
    inputs: int = 8,
    tiers: int = 8,
    width: float = 0.01,
    far_share: float = 0.01,
    back_share: float = 0.02,
    seed: int = 0,
) -> Graph:
    """A tiered supply graph: tier 0 raw materials up to final products (see the module docstring).

    Each product has a tier and a sector coordinate in [0, 1); a recipe takes its inputs from the tier
    below (70 %) or any lower tier, at a sector within ``width`` of its own, or anywhere for
    ``far_share`` of lines (commodities). Upper tiers are larger. Products are numbered tier by tier.
    """
    rng = np.random.default_rng(seed)
    shares = 1.3 ** np.arange(tiers)
    tier = np.sort(rng.choice(tiers, size=n, p=shares / shares.sum()))
    tier[0] = 0
    sector = rng.random(n)
    order = np.lexsort((sector, tier))
    sector = sector[order]
    starts = np.searchsorted(tier, np.arange(tiers + 1))
    leaves = (tier == 0) | (rng.random(n) < 0.1)
    recipes = np.flatnonzero(~leaves)
    rows = np.repeat(recipes, inputs)
    below = tier[rows] - 1
    source_tier = np.where(rng.random(rows.size) < 0.7, below, (rng.random(rows.size) * (below + 1)).astype(np.int64))
    target = np.where(rng.random(rows.size) < far_share, rng.random(rows.size), sector[rows] + rng.normal(0, width, rows.size))
    cols = _nearest(sector, starts, source_tier, np.clip(target, 0, 1))
    quantity = rng.uniform(0.01, 0.2, rows.size) * np.where(rng.random(rows.size) < 0.05, -1, 1)
    back = np.flatnonzero((rng.random(rows.size) < back_share) & ~leaves[cols] & (cols != rows))
    return Graph(  # each back line: an input recipe takes a little of its consumer back (scrap, energy)
        n,
        leaves,
        np.concatenate([rows, cols[back]]),
        np.concatenate([cols, rows[back]]),
        np.concatenate([quantity, rng.uniform(0.001, 0.01, back.size)]),
        rng.uniform(0.1, 10.0, n),
    )


def _nearest(sector: np.ndarray, starts: np.ndarray, tier: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The product of ``tier`` whose sector is at or just after ``target`` (clamped to the tier)."""
    lo, hi = starts[tier], starts[tier + 1]
    found = np.empty(tier.size, dtype=np.int64)
    for t in np.unique(tier):
        mask = tier == t
        offset = np.searchsorted(sector[starts[t] : starts[t + 1]], target[mask])
        found[mask] = starts[t] + offset
    return np.clip(found, lo, np.maximum(hi - 1, lo))


def io_block(size: int = 400, spectral_radius: float = 0.5, negative_share: float = 0.05, seed: int = 0) -> Graph:
    """A dense cyclic block (every product uses every other, like an input-output table) plus one leaf."""
    rng = np.random.default_rng(seed)
    a = rng.random((size, size)) ** 4  # a few large coefficients, many small ones
    a *= np.where(rng.random((size, size)) < negative_share, -1, 1)
    a *= spectral_radius / np.max(np.abs(np.linalg.eigvals(a)))
    rows, cols = np.nonzero(a)
    leaf = size  # every block product also uses 0.1 of a leaf (e.g. imports)
    n = size + 1
    return Graph(
        n,
        np.arange(n) == leaf,
        np.concatenate([rows, np.arange(size)]),
        np.concatenate([cols, np.full(size, leaf)]),
        np.concatenate([a[rows, cols], np.full(size, 0.1)]),
        rng.uniform(0.1, 10.0, n),
    )
