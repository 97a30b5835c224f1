"""Who may publish a supplier footprint for which product: the first publisher of a product id owns it.

A footprint is admitted only if its publisher owns every product id it names. A product id nobody has
published before is claimed by the first publisher whose footprint names it; from then on a footprint from
any other company for that product id is refused (dead-lettered with the product, the owner and the
claimant), so no company can replace another's value in the roll-ups, labels or the PACT API.

The publisher is what the producing connection says (the ``pcfx-publisher`` header: the API client's
company, the pull connector's supplier, ``pcfx publish --company``); it must be one of the footprint's own
``companyIds``. A record without the header (any plain Kafka producer) is published by the first of its
``companyIds``. On a plaintext broker anyone who can write to the topic can set either: see the threat
model in docs/operations.md for what an operator restricts with ACLs.

Pure: the agent hands in the footprint, the header and a lookup of the current owners, and stores the claims
that come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pcfx.schemas.models import ProductFootprint

PUBLISHER_HEADER = "pcfx-publisher"  # the publishing company's URN, as the producing connection knows it


class OwnershipError(ValueError):
    """A footprint its publisher may not publish; the message names the product and both companies."""


@dataclass(frozen=True)
class Verdict:
    """The publisher of an admitted footprint and the product ids it claims by this record (new owners)."""

    publisher: str
    claims: tuple[str, ...]


def owner_key(product_id: str) -> str:
    """Product ids compare as published: ownership is of the exact id (pcfx ids are opaque strings)."""
    return product_id


def publisher_of(company_ids: list[str], header: str | None) -> str:
    """The publishing company: the connection's word if given (and among the footprint's companyIds)."""
    companies = [company.lower() for company in company_ids]
    if header is None or not header.strip():
        return companies[0]
    publisher = header.strip().lower()
    if publisher not in companies:
        raise OwnershipError(f"publisher {publisher} is not one of the footprint's companyIds {companies}: "
                             "a company publishes only footprints of its own")
    return publisher


def judge(footprint: ProductFootprint, header: str | None, owner_of: Callable[[str], str | None]) -> Verdict:
    """Admit ``footprint`` if its publisher owns, or is first to claim, every product id it names."""
    return judge_ids(footprint.company_ids, footprint.product_ids, header, owner_of)


def judge_ids(company_ids: list[str], product_ids: list[str], header: str | None,
              owner_of: Callable[[str], str | None]) -> Verdict:
    """:func:`judge` on a footprint's ``companyIds`` and ``productIds`` (the API's read model holds PACT JSON)."""
    publisher = publisher_of(company_ids, header)
    claims = []
    for product_id in product_ids:
        owner = owner_of(owner_key(product_id))
        if owner is None:
            claims.append(owner_key(product_id))
        elif owner != publisher:
            raise OwnershipError(f"product {product_id!r} is owned by {owner}; this footprint's publisher is "
                                 f"{publisher}: only the owner may publish its footprint")
    return Verdict(publisher, tuple(claims))
