"""Exact linear solves for the roll-up: whole cones at once, and a convergence test per cyclic block.

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
    """Whether a cyclic block (its own coefficients ``A``) has no meaningful footprint: the spectral radius of
    ``A`` is at least 1 (the cycle amplifies itself, ``I + A + A^2 + ...`` diverges), or ``I - A`` is singular
    or too ill-conditioned to carry a digit. A solve of ``I - A`` alone would give numbers for a loop gain
    above 1 (steel using 10 kWh per kg, power using 0.2 kg of steel per kWh: negative totals), but they mean nothing."""
    return not spectral_radius_below_one(block) or _badly_conditioned(block)


def spectral_radius_below_one(block: sp.csr_matrix) -> bool:
    """``rho(A) < 1``, decided exactly where it can be and by eigenvalues where it must.

    1. ``B = |A|`` (element-wise) is non-negative and ``rho(A) <= rho(B)``. For such a ``B``, ``rho(B) < 1``
       if and only if ``(I - B) y = 1`` has a solution with every ``y_i >= 1`` (then ``y = 1 + B + B^2 + ...
       applied to 1``, and conversely ``B y < y`` with ``y > 0`` bounds ``rho(B) < 1`` by Collatz-Wielandt).
       One LU solve, dense or sparse, so it scales with the block. This settles every block without negative
       coefficients, and a mixed-sign block whose ``|A|`` already converges.
    2. Only a block with negative coefficients whose ``|A|`` does not converge needs ``rho(A)`` itself:
       all eigenvalues (LAPACK) up to :data:`DENSE_LIMIT` products, above that the largest-magnitude one by
       ARPACK; if ARPACK does not converge the block is reported as having no meaningful footprint.
    """
    magnitude = abs(block)
    if _neumann_converges(magnitude):
        return True
    if (block.data >= 0).all():
        return False
    return spectral_radius(block) < 1.0


def spectral_radius(block: sp.csr_matrix) -> float:
    """``max |eigenvalue|`` of a block's coefficients (inf when ARPACK cannot tell for a large block)."""
    size = block.shape[0]
    if size <= DENSE_LIMIT:
        return float(np.abs(la.eigvals(block.toarray(), check_finite=False)).max(initial=0.0))
    try:
        values = sla.eigs(block.astype(float), k=1, which="LM", return_eigenvectors=False, maxiter=20 * size)
    except sla.ArpackNoConvergence:
        return np.inf
    return float(np.abs(values).max())


def _neumann_converges(magnitude: sp.csr_matrix) -> bool:
    """``rho(B) < 1`` for a non-negative ``B``: ``(I - B) y = 1`` solves with ``y >= 1`` (see above)."""
    size = magnitude.shape[0]
    system = (sp.identity(size, format="csc") - magnitude).tocsc()
    ones = np.ones(size)
    try:
        if size <= DENSE_LIMIT:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", la.LinAlgWarning)
                y = la.solve(system.toarray(), ones, check_finite=False)
        else:
            y = sla.splu(system).solve(ones)
    except (la.LinAlgError, RuntimeError):
        return False
    return bool(np.all(np.isfinite(y)) and y.min(initial=1.0) >= 1.0 - 1e-9 and _backward_error(system, y, ones) <= RESIDUAL_LIMIT)


def _badly_conditioned(block: sp.csr_matrix) -> bool:
    """Whether ``I - block`` has no well-conditioned solution."""
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
    """Element-wise test for products in a block of their own that consume ``gain`` units of themselves: the
    spectral radius is ``|gain|``, so 1 or more has no meaningful footprint (as does a gain within rounding of 1)."""
    return (np.abs(gain) >= 1.0) | (np.abs(1.0 - gain) < RCOND_LIMIT * np.maximum(1.0, np.abs(gain)))
