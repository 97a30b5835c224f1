"""Who may publish a footprint for a product: the first publisher owns it (streams/ownership.py)."""

from __future__ import annotations

import copy

import pytest

from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.ownership import OwnershipError, judge

OWNER, EVIL = "urn:pcfx:company:steelco", "urn:pcfx:company:evil"


def footprint(company: str, *products: str) -> ProductFootprint:
    document = copy.deepcopy(FOOTPRINT)
    document["companyIds"] = [company]
    document["productIds"] = list(products)
    return ProductFootprint.from_json(document)


def test_the_first_publisher_of_a_product_claims_it() -> None:
    verdict = judge(footprint(OWNER, "urn:pcfx:product:coil"), None, {}.get)
    assert verdict.publisher == OWNER and verdict.claims == ("urn:pcfx:product:coil",)


def test_the_owner_publishes_again_without_a_new_claim() -> None:
    verdict = judge(footprint(OWNER, "urn:pcfx:product:coil"), None, {"urn:pcfx:product:coil": OWNER}.get)
    assert verdict.claims == ()


def test_another_company_is_refused_naming_the_product_and_both_companies() -> None:
    with pytest.raises(OwnershipError) as refused:
        judge(footprint(EVIL, "urn:pcfx:product:coil"), None, {"urn:pcfx:product:coil": OWNER}.get)
    assert "urn:pcfx:product:coil" in str(refused.value) and OWNER in str(refused.value) and EVIL in str(refused.value)


def test_a_second_product_id_owned_by_another_company_refuses_the_whole_footprint() -> None:
    with pytest.raises(OwnershipError, match="urn:pcfx:product:coil"):
        judge(footprint(EVIL, "urn:pcfx:product:evil-1", "urn:pcfx:product:coil"), None, {"urn:pcfx:product:coil": OWNER}.get)


def test_the_connection_names_the_publisher_and_it_must_be_among_the_companies() -> None:
    both = footprint(EVIL, "urn:pcfx:product:coil")
    both = both.model_copy(update={"company_ids": [EVIL, OWNER]})
    owners = {"urn:pcfx:product:coil": OWNER}.get
    assert judge(both, OWNER, owners).publisher == OWNER  # the header picks which of its companies publishes
    with pytest.raises(OwnershipError, match="not one of the footprint's companyIds"):
        judge(footprint(EVIL, "urn:pcfx:product:coil"), OWNER, owners)  # naming the owner in a header is not enough


# -- keys of supplier footprints (issue 17 (a)): company-qualified, partitioned by product ---------------------


def test_two_companies_footprints_of_one_product_have_different_keys_and_one_partition() -> None:
    from pcfx.agents.partition import partition_of  # noqa: PLC0415
    from pcfx.streams.ownership import partition_key, supplier_key  # noqa: PLC0415

    product = "urn:pcfx:product:coil"
    assert supplier_key(OWNER, product) == f"{OWNER}|{product}" != supplier_key(EVIL, product)
    assert partition_key(product) == product.encode()  # the bare-id key's partition: unchanged by the new keys
    assert {partition_of(partition_key(product), 12)} == {partition_of(product.encode(), 12)}


def test_the_key_names_its_publisher_read_from_its_end() -> None:
    from pcfx.streams.ownership import publisher_in_key, supplier_key  # noqa: PLC0415

    odd = "part|7 b"  # opaque product ids may hold the separator
    assert publisher_in_key(supplier_key(OWNER.upper(), odd), odd) == OWNER
    assert publisher_in_key(odd, odd) is None  # a bare product id: keyed before company keys
    assert publisher_in_key(f"|{odd}", odd) is None


def test_a_reader_of_the_topic_keeps_the_owners_latest_and_leaves_out_the_impostors() -> None:
    from pcfx.streams.ownership import admitted, supplier_key  # noqa: PLC0415

    product = "urn:pcfx:product:coil"
    first, impostor, second = footprint(OWNER, product), footprint(EVIL, product), footprint(OWNER, product)
    records = [(product, first), (supplier_key(EVIL, product), impostor), (supplier_key(OWNER, product), second)]
    assert list(admitted(records).values()) == [first, second]  # bare-id key first, then the company key
    assert admitted([*records, (supplier_key(OWNER, product), None)]) == {product: first}  # a tombstone
