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

Supplier footprints are keyed ``<publisher>|<first product id>`` (:func:`supplier_key`) and partitioned by
the product id alone (:func:`partition_key`): two companies' records of one product never share a key, so
compaction cannot drop the owner's record for a refused impostor's, and every record of a product still
lands on one partition, in order, beside its ``product_to_owner`` entry. A record keyed by the bare product
id (before this keying, or from a plain producer) is read the same way.

Pure: the agent hands in the footprint, the header and a lookup of the current owners, and stores the claims
that come back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pcfx.schemas.models import ProductFootprint

PUBLISHER_HEADER = "pcfx-publisher"  # the publishing company's URN, as the producing connection knows it
KEY_SEPARATOR = "|"  # as in the other company-qualified keys (schemas/subscriptions.py)


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


def supplier_key(publisher: str, product_id: str) -> str:
    """The Kafka key of a supplier footprint: ``<publisher company URN>|<first product id>``, the publisher
    lower-cased as :func:`publisher_of` compares it."""
    return f"{publisher.strip().lower()}{KEY_SEPARATOR}{product_id}"


def partition_key(product_id: str) -> bytes:
    """What a supplier footprint is partitioned by: its first product id, as the bare-id key was, so the
    murmur2 partition of the product (Kafka's default) is unchanged and the table stays co-partitioned."""
    return product_id.encode()


def claimed_publisher(company_ids: list[str], header: str | None) -> str:
    """The company a producer publishes for, without judging it: the header, else the first companyId.
    A producer keys by it; the worker still refuses it if it is not among the companyIds (:func:`publisher_of`)."""
    return (header.strip() if header and header.strip() else company_ids[0]).lower()


def publisher_in_key(key: str, product_id: str) -> str | None:
    """The publisher a supplier footprint's key names, given the record's first product id; None for a key
    of the bare product id (or any other shape). Product ids may hold ``|``, so the key is matched from its end."""
    suffix = f"{KEY_SEPARATOR}{product_id}"
    if not key.endswith(suffix) or len(key) == len(suffix):
        return None
    return key[: -len(suffix)]


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


def admitted(records: Iterable[tuple[str, ProductFootprint | None]]) -> dict[str, ProductFootprint]:
    """The footprints the worker admits from ``footprints`` records read in topic order, latest per key: a
    reader's view of the topic (``pcfx background import``, ``product_owners``) that leaves out what the
    ownership rule refuses. ``(key, None)`` is a tombstone (or an unreadable record): the key holds nothing.

    The publisher is the one the key names (pcfx's producers key by the publisher they send in the header),
    else the footprint's first companyId. Keys come back in the order their latest record arrived."""
    owners: dict[str, str] = {}
    latest: dict[str, ProductFootprint] = {}
    for key, footprint in records:
        latest.pop(key, None)
        if footprint is None:
            continue
        try:
            verdict = judge(footprint, publisher_in_key(key, footprint.product_ids[0]), owners.get)
        except OwnershipError:
            continue
        owners.update(dict.fromkeys(verdict.claims, verdict.publisher))
        latest[key] = footprint
    return latest
