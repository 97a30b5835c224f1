"""Solve one cone: a downstream-closed set of products, listed inputs-first, as a whole.

Everything outside the cone is already solved and constant, so its contribution moves to the
right-hand side; the cone itself is one block lower-triangular system for the totals and one for data
quality. Flags (present fields, incomplete, no meaningful footprint) spread downstream along the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pcfx.streams.graph import Structure, local_consumers, row_entries, spread
from pcfx.streams.nodes import NodeTable
from pcfx.streams.quality import quality_equations
from pcfx.streams.solve import solve_lower_blocks

ERROR = np.uint64(1 << 63)  # no meaningful footprint here or upstream (a cycle that amplifies itself)
INCOMPLETE = np.uint64(1 << 62)  # a missing or unconvertible input here or upstream


def field_bit(position: int) -> np.uint64:
    """Presence bit of the field at ``position`` in ADDITIVE_FIELDS."""
    return np.uint64(1 << position)


@dataclass
class Cone:
    """New state of the cone's products, aligned with ``nodes``; ``graph`` is its local consumer CSR."""

    nodes: np.ndarray
    totals: np.ndarray
    quality: np.ndarray
    bits: np.ndarray
    coverage: np.ndarray
    graph: tuple[np.ndarray, np.ndarray]


@dataclass
class _Lines:
    """The coefficient entries of the cone's rows, in local numbering."""

    owner: np.ndarray  # local row
    inputs: np.ndarray  # global input number
    inside: np.ndarray  # local input number, -1 outside the cone
    coef: np.ndarray

    def subset(self, keep: np.ndarray) -> "_Lines":
        if keep.all():
            return self
        return _Lines(self.owner[keep], self.inputs[keep], self.inside[keep], self.coef[keep])


def evaluate_cone(
    structure: Structure, table: NodeTable, singular: np.ndarray, nodes: np.ndarray, local: np.ndarray
) -> Cone:
    """Solve the products ``nodes`` (inputs-first); ``local`` is an all -1 scratch array, restored on return."""
    local[nodes] = np.arange(nodes.size)
    try:
        positions, owner = row_entries(structure.q.indptr, nodes)
        inputs = structure.q.indices[positions]
        lines = _Lines(owner.astype(np.int32), inputs, local[inputs].astype(np.int32), structure.q.data[positions])
        del positions, owner
        graph = local_consumers(structure.consumers, nodes, local)
    finally:
        local[nodes] = -1
    own, own_bits, own_quality = table.own(nodes)
    bits = _flags(structure, table, singular, nodes, own_bits, lines, graph)
    solvable = (bits & ERROR) == 0
    lines = lines.subset(solvable[lines.owner])
    totals = np.zeros_like(own)
    totals[solvable] = _solve(solvable, lines, own, table.total)
    weights = _weights(lines, totals, table.total)
    quality = own_quality.copy()
    quality[solvable] = _solve_quality(solvable, lines, weights, own, own_quality, table.quality)
    return Cone(nodes, totals, quality, bits, _coverage(structure, table, nodes), graph)


def _flags(
    structure: Structure,
    table: NodeTable,
    singular: np.ndarray,
    nodes: np.ndarray,
    own_bits: np.ndarray,
    lines: _Lines,
    graph: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    bits = own_bits.copy()
    bits[table.has_recipe[nodes] & (table.unusable[nodes] > 0)] |= INCOMPLETE
    bits[singular[structure.labels[nodes]]] |= ERROR
    outside = lines.inside < 0
    np.bitwise_or.at(bits, lines.owner[outside], table.bits[lines.inputs[outside]])
    spread(graph[0], graph[1], bits)
    return bits


def _sum_rows(rows: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Per-row sums of a (entries, columns) array, in entry order (deterministic)."""
    return np.stack([np.bincount(rows, values[:, c], minlength=count) for c in range(values.shape[1])], axis=1)


def _system(solvable: np.ndarray, lines: _Lines, scale: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray]:
    """``I - scale * Q_inside`` over the solvable products, and which lines come from outside."""
    renumber = np.cumsum(solvable) - 1
    inner = lines.inside >= 0
    size = int(solvable.sum())
    diagonal = np.arange(size)
    matrix = sp.csc_matrix(
        (
            np.concatenate([np.ones(size), -scale[inner]]),
            (np.concatenate([diagonal, renumber[lines.owner[inner]]]),
             np.concatenate([diagonal, renumber[lines.inside[inner]]])),
        ),
        shape=(size, size),
    )
    return matrix, ~inner


def _solve(solvable: np.ndarray, lines: _Lines, own: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Totals: ``x = own + Q x`` with inputs outside the cone taken from ``known``."""
    matrix, outer = _system(solvable, lines, lines.coef)
    outside = _sum_rows(lines.owner[outer], lines.coef[outer, None] * known[lines.inputs[outer]], own.shape[0])
    rhs = (own + outside)[solvable]
    return solve_lower_blocks(matrix, rhs) if rhs.size else rhs


def _weights(lines: _Lines, totals: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``|q * total_excl(input)|`` per line: PACT's absolute contribution weights."""
    inner = lines.inside >= 0
    excluding = np.where(inner, totals[np.maximum(lines.inside, 0), 0], known[lines.inputs, 0])
    return np.abs(lines.coef * excluding)


def _solve_quality(
    solvable: np.ndarray,
    lines: _Lines,
    weights: np.ndarray,
    own: np.ndarray,
    own_quality: np.ndarray,
    known: np.ndarray,
) -> np.ndarray:
    count = own.shape[0]
    outer = lines.inside < 0
    outside = _sum_rows(lines.owner[outer], weights[outer, None] * known[lines.inputs[outer]], count)
    input_weight = np.bincount(lines.owner, weights, minlength=count)
    rhs, divisor = quality_equations(np.abs(own[:, 0]), own_quality, input_weight, outside)
    matrix, _ = _system(solvable, lines, weights / divisor[lines.owner])
    rhs = rhs[solvable]
    return solve_lower_blocks(matrix, rhs) if rhs.size else rhs


def _coverage(structure: Structure, table: NodeTable, nodes: np.ndarray) -> np.ndarray:
    """Share of distinct direct inputs that are usable; 1 for products without inputs."""
    count = structure.q.indptr[nodes + 1] - structure.q.indptr[nodes]
    unusable = table.unusable[nodes]
    return np.where(count > 0, 1.0 - unusable / np.maximum(count, 1), 1.0)
