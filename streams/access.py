"""Who sees what: the one access rule for a product's footprints and labels.

A company may see a product's footprints (over the PACT API) and receive its carbon labels iff

1. it owns the footprint: its URN is among the footprint's ``companyIds``; or
2. an owner decided so: the latest :class:`~pcfx.schemas.subscriptions.Entitlement` that one of the
   footprint's owners published for (this company, this product) grants it; a withholding
   (``granted: false``) refuses it even case 3; or, with no such decision,
3. it buys the product: one of its recipes (``companyIds`` of the recipe) lists the product as an input.

Grants are one record type, ``Entitlement`` on the ``entitlements`` topic: ``pcfx entitle`` and
``pcfx clients grant --product`` both write it. The label stage (:func:`pcfx.streams.labels.entitlement`)
and the API's read model (``VISIBLE`` in :mod:`pcfx.connectors.pact_api.readmodel`, SQL over the same
records) apply this rule; a test checks the two agree. Only the API knows one more grant, the operator's
read grant (``pcfx clients grant --owner``): every footprint of an owner company, for auditors and
conformance tools; it sends no labels. So every footprint a company is notified about (a label's ``pfId``)
is one it may fetch, and nobody else who is not an owner, a grantee or a buyer may.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Decision:
    """One owner's latest word on one company and one product."""

    supplier: str
    granted: bool
    at: datetime


def may_see(company: str, product: str, owners: list[str], decisions: list[Decision], *, listed: bool) -> tuple[bool, str]:
    """The rule above for ``company`` and ``product``; ``decisions`` are the grants made to the company for the
    product (by anyone: only the owners' count), ``listed`` whether one of its recipes lists the product.
    Returns the answer and one sentence saying why. Company ids compare case-insensitively (URN rules)."""
    folded = {owner.lower() for owner in owners}
    if company.lower() in folded:
        return True, f"{company} owns {product}"
    counted = [d for d in decisions if not folded or d.supplier.lower() in folded]
    if counted:
        latest = max(counted, key=lambda d: d.at)
        verb = "granted" if latest.granted else "withheld"
        return latest.granted, f"{product} was {verb} to {company} by its supplier {latest.supplier}"
    if listed:
        return True, f"{product} is an input of {company}'s recipes"
    return False, (
        f"{company} is not entitled to {product}: none of its recipes lists the product "
        "and no owner of the product granted access (pcfx entitle)"
    )
