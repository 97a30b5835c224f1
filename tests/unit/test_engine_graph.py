"""The sparse graph helpers the engine relies on."""

import numpy as np
import scipy.sparse as sp

from pcfx.streams.graph import build_structure, downstream, gather_ranges, topological_relabel


def test_gather_ranges_concatenates_row_ranges():
    assert gather_ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]


def test_blocks_are_numbered_inputs_first():
    # 0 <- 1 <-> 2 <- 3 (row consumes col): 3 uses 2, 2 and 1 use each other, 1 uses 0
    rows, cols = np.array([1, 1, 2, 3]), np.array([0, 2, 1, 2])
    s = build_structure(4, rows, cols, np.ones(4))
    assert s.labels[1] == s.labels[2]
    assert s.labels[0] < s.labels[1] < s.labels[3]
    assert s.order.tolist() == [0, 1, 2, 3]


def test_topological_relabel_repairs_any_block_numbering():
    # blocks 0..3 numbered consumers-first: block 3 feeds 2 feeds 1 feeds 0, plus 3 feeds 0
    labels = np.array([0, 1, 2, 3])
    consumer_blocks, input_blocks = np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3])
    fixed = topological_relabel(labels, 4, consumer_blocks, input_blocks)
    assert np.all(fixed[input_blocks] < fixed[consumer_blocks])


def test_downstream_returns_the_cone_or_none_past_the_limit():
    consumers = sp.csc_matrix((np.ones(3), (np.array([1, 2, 3]), np.array([0, 1, 1]))), shape=(4, 4))
    mark = np.zeros(4, dtype=bool)
    assert sorted(downstream(consumers, np.array([1]), mark, limit=4).tolist()) == [1, 2, 3]
    assert downstream(consumers, np.array([0]), mark, limit=2) is None
    assert not mark.any()
