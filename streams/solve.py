"""Exact linear solves for the roll-up: whole cones at once, and a singularity test per cyclic block.

A set of products listed inputs-first (blocks contiguous) gives a block lower-triangular matrix
``I - Q``. SuperLU with the natural column order and no pivoting factors it with no fill outside the
cyclic blocks, so a cone of a million products costs about one pass over its edges. Without pivoting
a cyclic block may be factored unstably; the residual is checked and, if it is poor, the system is
solved again with ordinary partial pivoting (exact, slower).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as sla

#: A block whose reciprocal condition number is below this has "no finite solution": its values would
#: be amplified by more than 1e12 and carry no meaningful digit.
RCOND_LIMIT = 1e-12
#: Above this size a block is tested with a sparse factorisation instead of a dense one.
DENSE_LIMIT = 1500
#: Largest acceptable backward error of the fast (unpivoted) solve before falling back.
RESIDUAL_LIMIT = 1e-11


class SingularSystem(ArithmeticError):
    """The system has no unique finite solution."""


def solve_lower_blocks(matrix: sp.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """Solve ``matrix @ x = rhs`` for a block lower-triangular matrix ordered inputs-first."""
    try:
        lu = sla.splu(matrix, permc_spec="NATURAL", diag_pivot_thresh=0.0)
        x = lu.solve(rhs)
        if _backward_error(matrix, x, rhs) <= RESIDUAL_LIMIT:
            return x
    except RuntimeError:  # a zero pivot without pivoting; partial pivoting may still succeed
        pass
    try:
        x = sla.splu(matrix).solve(rhs)
    except RuntimeError as exc:
        raise SingularSystem(str(exc)) from exc
    if not np.all(np.isfinite(x)):
        raise SingularSystem("the solution is not finite")
    return x


def _backward_error(matrix: sp.csc_matrix, x: np.ndarray, rhs: np.ndarray) -> float:
    if not np.all(np.isfinite(x)):
        return np.inf
    residual = np.abs(matrix @ x - rhs).max(initial=0.0)
    scale = (abs(matrix) @ np.abs(x) + np.abs(rhs)).max(initial=0.0)
    return residual / scale if scale > 0 else residual


def block_is_singular(block: sp.csr_matrix) -> bool:
    """Whether ``I - block`` (a cyclic block's own coefficients) has no well-conditioned solution."""
    size = block.shape[0]
    if size <= DENSE_LIMIT:
        dense = np.eye(size) - block.toarray()
        with warnings.catch_warnings():  # an exactly singular block is an answer here, not a problem
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu, _ = la.lu_factor(dense, check_finite=False)
        if np.any(np.diag(lu) == 0):
            return True
        rcond, _ = la.lapack.dgecon(lu, np.abs(dense).sum(axis=0).max(), norm="1")
        return rcond < RCOND_LIMIT
    try:
        pivots = np.abs(sla.splu((sp.identity(size) - block).tocsc()).U.diagonal())
    except RuntimeError:
        return True
    return pivots.min() < RCOND_LIMIT * pivots.max()


def loop_is_singular(gain: np.ndarray) -> np.ndarray:
    """Element-wise test for products in a block of their own that consume ``gain`` units of themselves."""
    return np.abs(1.0 - gain) < RCOND_LIMIT * np.maximum(1.0, np.abs(gain))
