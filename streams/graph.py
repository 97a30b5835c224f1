"""The supply graph as sparse arrays: coefficient matrix, consumer lists, strongly connected blocks.

Products are interned to numbers 0..n-1. ``q[p, i]`` (CSR, row = consumer) is how many declared units
of input ``i`` one declared unit of ``p`` uses; the consumer lists are the same pattern transposed
(CSC). Everything here works on whole arrays; Python loops run per BFS depth or per cyclic block,
never per product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

EMPTY = np.zeros(0, dtype=np.int64)


def gather_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``range(start, start + length)`` for each pair: the vectorised loop over CSR rows."""
    total = int(lengths.sum())
    if total == 0:
        return EMPTY
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total)


def row_entries(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the CSR entries of ``rows``, and for each entry the index into ``rows`` it belongs to."""
    lengths = indptr[rows + 1] - indptr[rows]
    return gather_ranges(indptr[rows], lengths), np.repeat(np.arange(rows.size), lengths)


def merge_duplicates(
    rows: np.ndarray, cols: np.ndarray, coef: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sum repeated (row, col) lines, which must be adjacent (rows grouped, cols sorted within a row).

    Returns unique rows, cols, summed coefficients, and whether any merged line was unusable.
    """
    if rows.size == 0:
        return rows, cols, coef, usable
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    starts = np.flatnonzero(first)
    unusable = np.logical_or.reduceat(~usable, starts)
    return rows[starts], cols[starts], np.add.reduceat(coef, starts), unusable


@dataclass
class Structure:
    """Edge structure of the whole graph; rebuilt only when recipes are added, removed or rewired."""

    q: sp.csr_matrix
    consumers: sp.csc_matrix  # the pattern of q by column: column i lists the consumers of i
    labels: np.ndarray  # block of each product, numbered so that inputs come before consumers
    sizes: np.ndarray  # products per block
    order: np.ndarray  # every product, inputs first, each block contiguous
    first: np.ndarray  # position in ``order`` of each block's first product

    @property
    def n(self) -> int:
        return self.q.shape[0]

    def members(self, block: int) -> np.ndarray:
        """Products of one block, ascending."""
        return self.order[self.first[block] : self.first[block] + self.sizes[block]]

    def grown(self, n: int) -> "Structure":
        """The same edges over ``n`` products; the new ones are isolated singleton blocks."""
        extra = n - self.n
        if extra <= 0:
            return self
        q = sp.csr_matrix(
            (self.q.data, self.q.indices, np.concatenate([self.q.indptr, np.full(extra, self.q.nnz)])),
            shape=(n, n),
        )
        consumers = sp.csc_matrix(
            (self.consumers.data, self.consumers.indices,
             np.concatenate([self.consumers.indptr, np.full(extra, self.consumers.nnz)])),
            shape=(n, n),
        )
        new = np.arange(self.n, n)
        return Structure(
            q,
            consumers,
            np.concatenate([self.labels, self.sizes.size + np.arange(extra)]),
            np.concatenate([self.sizes, np.ones(extra, np.int64)]),
            np.concatenate([self.order, new]),
            np.concatenate([self.first, new]),
        )


def build_structure(n: int, rows: np.ndarray, cols: np.ndarray, coef: np.ndarray) -> Structure:
    """Structure from unique (row, col) entries sorted by row then col; explicit zeros are kept."""
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    q = sp.csr_matrix((coef, cols.astype(np.int32), indptr), shape=(n, n))
    pattern = sp.csr_matrix((np.ones(q.nnz, dtype=np.int8), q.indices, q.indptr), shape=(n, n))
    consumers = pattern.tocsc()  # int8 data: only the pattern is used
    labels = inputs_first_labels(q, rows, cols)
    sizes = np.bincount(labels)
    order = np.lexsort((np.arange(n), labels))
    return Structure(q, consumers, labels, sizes, order, np.cumsum(sizes) - sizes)


def inputs_first_labels(q: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Strongly connected blocks, numbered so that every input's block precedes its consumers' blocks.

    scipy's Pearce algorithm already numbers blocks in that order for edges consumer -> input; this is
    checked on every build (one pass over the edges) and repaired by a topological sort if it ever fails.
    """
    count, labels = connected_components(q, directed=True, connection="strong")
    labels = labels.astype(np.int64)
    cross = labels[rows] != labels[cols]
    consumer_blocks, input_blocks = labels[rows[cross]], labels[cols[cross]]
    if np.any(input_blocks >= consumer_blocks):
        labels = topological_relabel(labels, count, consumer_blocks, input_blocks)
    return labels


def topological_relabel(
    labels: np.ndarray, count: int, consumer_blocks: np.ndarray, input_blocks: np.ndarray
) -> np.ndarray:
    """Renumber blocks inputs-first by Kahn's algorithm, one vectorised round per layer of the block DAG."""
    pairs = np.unique(np.stack([input_blocks, consumer_blocks]), axis=1)
    waiting = np.bincount(pairs[1], minlength=count)  # unresolved inputs per block
    by_input = np.argsort(pairs[0], kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pairs[0], minlength=count))])
    consumers_of = pairs[1][by_input]
    rank = np.empty(count, dtype=np.int64)
    ready = np.flatnonzero(waiting == 0)
    done = 0
    while ready.size:
        rank[ready] = done + np.arange(ready.size)
        done += ready.size
        nxt = consumers_of[row_entries(indptr, ready)[0]]
        np.subtract.at(waiting, nxt, 1)
        ready = np.unique(nxt[waiting[nxt] == 0])
    if done != count:
        raise RuntimeError("strongly connected blocks do not form a DAG; scipy's SCC labels are inconsistent")
    return rank[labels]


def downstream(consumers: sp.csc_matrix, seeds: np.ndarray, mark: np.ndarray, limit: int) -> np.ndarray | None:
    """``seeds`` and every product that consumes them directly or indirectly, or None past ``limit``.

    ``mark`` is a reusable all-False scratch array of length n; it is all False again on return.
    """
    seeds = np.unique(seeds)
    found = [seeds]
    mark[seeds] = True
    total = seeds.size
    frontier = seeds
    try:
        while frontier.size and total <= limit:
            reached = consumers.indices[row_entries(consumers.indptr, frontier)[0]]
            frontier = np.unique(reached[~mark[reached]])
            mark[frontier] = True
            found.append(frontier)
            total += frontier.size
        return np.concatenate(found) if total <= limit else None
    finally:
        for part in found:
            mark[part] = False


def local_consumers(consumers: sp.csc_matrix, nodes: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consumer lists restricted to ``nodes``, in local numbering (``local[node]`` is its position or -1)."""
    positions, owner = row_entries(consumers.indptr, nodes)
    target = local[consumers.indices[positions]]
    keep = target >= 0
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=nodes.size))])
    return indptr, target[keep]


def spread(indptr: np.ndarray, indices: np.ndarray, bits: np.ndarray) -> None:
    """OR each node's bits into everything downstream of it, in place, until nothing changes.

    Each round moves bits one edge further and only along edges that add something, so the number of
    rounds is the BFS depth of the region, not its longest path.
    """
    frontier = np.flatnonzero(bits)
    while frontier.size:
        positions, owner = row_entries(indptr, frontier)
        targets = indices[positions]
        incoming = bits[frontier[owner]]
        adds = (incoming & ~bits[targets]) != 0
        targets, incoming = targets[adds], incoming[adds]
        np.bitwise_or.at(bits, targets, incoming)
        frontier = np.unique(targets)
