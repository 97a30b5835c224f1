"""Data quality of a roll-up: PACT's primary data share (PDS) and data quality ratings (DQR).

PACT (Methodology 4.2.2/4.2.3, DOMAIN.md 1.10) weights each component's PDS and each DQR indicator by
its absolute contribution to ``pcfExcludingBiogenicUptake``: for a product with own data ``o`` and
inputs ``i`` used ``q_i`` declared units each, the weights are ``|own_excl|`` and
``|q_i * total_excl(i)|``. A footprint without PDS counts as 0 %, a missing DQR indicator as 5 (worst).
The same defaults apply to a recipe's own data when its maker gives none.
"""

from __future__ import annotations

import numpy as np

from pcfx.streams.rollup import DQR

PDS_MISSING = 0.0  # percent
DQR_MISSING = 5.0
#: Quality row of a product with no footprint at all (its weight is 0, so it never counts).
MISSING_QUALITY = np.array([PDS_MISSING, DQR_MISSING, DQR_MISSING, DQR_MISSING])


def quality_row(pds: float | None, dqr: DQR | None) -> np.ndarray:
    """(PDS %, technological, geographical, temporal DQR) with PACT's worst-case defaults filled in."""
    row = MISSING_QUALITY.copy()
    if pds is not None:
        row[0] = pds
    if dqr is not None:
        row[1:] = dqr
    return row


def quality_equations(
    own_weight: np.ndarray, own_quality: np.ndarray, input_weight: np.ndarray, outside_terms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each product's quality equation, normalised: ``quality_p - sum_i (w_pi / divisor_p) quality_i = rhs_p``.

    ``own_weight`` is ``|own_excl|``, ``input_weight`` the sum of all input weights ``w_pi``, and
    ``outside_terms`` the already known ``sum w_pi * quality_i`` over inputs solved earlier. Where every
    weight is 0 (nothing is emitted anywhere upstream) the product keeps its own quality.
    Returns ``(rhs, divisor)``.
    """
    divisor = own_weight + input_weight
    rhs = own_weight[:, None] * own_quality + outside_terms
    empty = divisor == 0
    rhs[empty] = own_quality[empty]
    divisor[empty] = 1.0
    return rhs / divisor[:, None], divisor
