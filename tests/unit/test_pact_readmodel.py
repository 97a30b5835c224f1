"""The SQLite read model: what each company sees, filters, the compacted-topic mirror, grants."""

from __future__ import annotations

import json

import pytest

from pact_samples import footprint
from pcfx.connectors.pact_api.filters import Criteria
from pcfx.connectors.pact_api.readmodel import SCHEMA, ReadModel
from pcfx.connectors.pact_api.store import Store

FRAMES = "urn:pact:wuxi-frames.cn:company-id:1"
CELLS = "urn:pact:zj-cells.cn:company-id:7"
OEM = "urn:pact:oem.de:company-id:42"


@pytest.fixture
def model(tmp_path):
    store = Store(tmp_path / "rm.sqlite", (SCHEMA,))
    yield ReadModel(store)
    store.close()


def put(model, pf, topic="footprints", key=None):
    with model.store.transaction() as conn:
        model.put(conn, topic, key or pf["productIds"][0], pf)
    return pf


def ids(model, company, criteria=Criteria(), after=0, limit=100):
    rows = model.query(company, criteria, after=after, upto=model.last_seq(), limit=limit)
    return [json.loads(row["doc"])["id"] for row in rows]


def test_a_company_sees_its_own_footprints_only_until_granted(model):
    frame = put(model, footprint())
    cell = put(model, footprint(companyIds=[CELLS], productIds=["urn:pact:zj-cells.cn:product-id:cell"]))
    assert ids(model, FRAMES) == [frame["id"]]
    assert ids(model, OEM) == []
    model.grant(OEM, "urn:pact:zj-cells.cn:product-id:cell")
    assert ids(model, OEM) == [cell["id"]]
    model.grant(OEM, owner_company=FRAMES.upper())  # company ids compare case-insensitively
    assert ids(model, OEM) == [frame["id"], cell["id"]]
    assert model.revoke(OEM, owner_company=FRAMES) is True
    assert ids(model, OEM) == [cell["id"]]
    assert model.visible(OEM, cell) and not model.visible(OEM, frame)


def test_filters_or_within_a_criterion_and_across_criteria(model):
    js = put(model, footprint(productIds=["urn:p:1"]))
    de = put(model, footprint(productIds=["urn:p:2"], pcf={"geographyCountrySubdivision": None, "geographyCountry": "DE"}))
    old = put(model, footprint(productIds=["urn:p:3"], status="Deprecated"))
    assert ids(model, FRAMES, Criteria(productId=("URN:P:1", "urn:p:2"))) == [js["id"], de["id"]]
    assert ids(model, FRAMES, Criteria(productId=("urn:p:1", "urn:p:2"), geography=("de",))) == [de["id"]]
    assert ids(model, FRAMES, Criteria(geography=("cn-js",))) == [js["id"], old["id"]]
    assert ids(model, FRAMES, Criteria(status=("deprecated",))) == [old["id"]]
    assert ids(model, FRAMES, Criteria(status=("BogusStatus",))) == []


def test_validity_filters_use_the_three_year_default(model):
    pf = put(model, footprint())  # valid 2025-01-01 .. 2028-01-01
    assert ids(model, FRAMES, Criteria(validOn="2025-01-01T00:00:00Z")) == [pf["id"]]
    assert ids(model, FRAMES, Criteria(validOn="2028-01-01T00:00:00Z")) == [pf["id"]]
    assert ids(model, FRAMES, Criteria(validOn="1900-01-01T00:00:00Z")) == []
    assert ids(model, FRAMES, Criteria(validAfter="2024-12-31T00:00:00Z")) == [pf["id"]]
    assert ids(model, FRAMES, Criteria(validAfter="2025-01-01T00:00:00Z")) == []  # start > validAfter, strictly
    assert ids(model, FRAMES, Criteria(validBefore="2028-01-02T00:00:00Z")) == [pf["id"]]
    assert ids(model, FRAMES, Criteria(validBefore="2028-01-01T00:00:00Z")) == []


def test_a_key_holds_only_its_latest_footprint_like_a_compacted_topic(model):
    first = put(model, footprint(), key="urn:p:frame")
    second = put(model, footprint(), key="urn:p:frame")
    assert ids(model, FRAMES) == [second["id"]]
    assert model.get(first["id"]) is None


def test_a_company_keyed_record_replaces_the_owners_bare_id_row_and_another_companys_key_stays_apart(model):
    """Issue 17 (a): records keyed by the product id alone (before company keys) give way to the owner's first
    ``<publisher>|<product id>`` record, as a later record of one key does."""
    product = footprint()["productIds"][0]
    old = put(model, footprint(), key=product)
    new = footprint()
    with model.store.transaction() as conn:
        model.adopt(conn, "footprints", product, f"{FRAMES}|{product}")
        model.put(conn, "footprints", f"{FRAMES}|{product}", new)
    assert ids(model, FRAMES) == [new["id"]] and model.get(old["id"]) is None
    with model.store.transaction() as conn:
        model.delete(conn, "footprints", f"{CELLS}|{product}")  # another company's key: not the owner's row
    assert ids(model, FRAMES) == [new["id"]]


def test_a_republished_footprint_keeps_its_place_and_shows_its_new_status(model):
    pf = put(model, footprint(), topic="derived", key="a")
    other = put(model, footprint(), topic="derived", key="b")
    put(model, dict(pf, status="Deprecated"), topic="derived", key="a")
    assert ids(model, FRAMES) == [pf["id"], other["id"]]
    assert model.get(pf["id"].upper())["status"] == "Deprecated"


def test_a_tombstone_removes_the_key(model):
    pf = put(model, footprint(), topic="derived", key="a")
    with model.store.transaction() as conn:
        model.delete(conn, "derived", "a")
    assert model.get(pf["id"]) is None and model.count() == 0


def test_pages_walk_arrival_order_and_ignore_later_arrivals(model):
    pfs = [put(model, footprint(), key=f"k{i}") for i in range(3)]
    upto = model.last_seq()
    late = put(model, footprint(), key="late")
    first = model.query(FRAMES, Criteria(), after=0, upto=upto, limit=2)
    rest = model.query(FRAMES, Criteria(), after=first[-1]["seq"], upto=upto, limit=2)
    assert len(first) == 2 and len(rest) == 1
    assert late["id"] not in rest[0]["doc"] and pfs[2]["id"] in rest[0]["doc"]


def test_grant_needs_exactly_one_target(model):
    with pytest.raises(ValueError, match="either a product id or an owner company"):
        model.grant(OEM)
    with pytest.raises(ValueError):
        model.grant(OEM, "urn:p:1", owner_company=FRAMES)


DECISION_CASES = {  # name -> (supplier, granted, at_ms) rows of the grants table
    "none": [],
    "owner grants": [(CELLS, True, 1)],
    "owner withholds": [(CELLS, False, 1)],
    "owner granted, then withheld": [(CELLS, True, 1), (FRAMES.replace("1", "2"), True, 3), (CELLS, False, 2)],
    "owner withheld, then granted": [(CELLS, False, 1), (CELLS, True, 2)],
    "a non-owner grants": [(FRAMES, True, 1)],
}


@pytest.mark.parametrize("case", sorted(DECISION_CASES))
@pytest.mark.parametrize("buys", [False, True])
def test_the_api_applies_the_same_access_rule_as_the_labels(model, case, buys):
    """The read model's SQL and streams.access.may_see answer alike for every kind of grant and purchase."""
    from datetime import datetime, timezone

    from pcfx.streams.access import Decision, may_see

    product = "urn:pact:zj-cells.cn:product-id:cell"
    cell = put(model, footprint(companyIds=[CELLS], productIds=[product]))
    decisions = []
    with model.store.transaction() as conn:
        for supplier, granted, at_ms in DECISION_CASES[case]:
            # one row per (company, product, supplier): a later decision of the same supplier replaces the earlier
            model.put_decision(conn, supplier, OEM, product, granted, at_ms)
            at = datetime.fromtimestamp(at_ms, tz=timezone.utc)
            decisions = [d for d in decisions if d.supplier != supplier] + [Decision(supplier, granted, at)]
        model.put_uses(conn, "urn:pcfx:product:pack", [product] if buys else [], [OEM])
    expected, _ = may_see(OEM, product, [CELLS], decisions, listed=buys)
    assert model.visible(OEM, cell) is expected
    assert (ids(model, OEM) == [cell["id"]]) is expected
    assert model.visible(CELLS, cell) and not model.visible(FRAMES, cell)  # the owner always; a stranger never


def test_an_older_decision_arriving_late_changes_nothing(model):
    product = "urn:pact:zj-cells.cn:product-id:cell"
    cell = put(model, footprint(companyIds=[CELLS], productIds=[product]))
    with model.store.transaction() as conn:
        model.put_decision(conn, CELLS, OEM, product, True, 20)
        model.put_decision(conn, CELLS, OEM, product, False, 10)
    assert model.visible(OEM, cell)
    with model.store.transaction() as conn:
        model.put_decision(conn, CELLS, OEM, product, None)  # a tombstone forgets it
    assert not model.visible(OEM, cell)


def test_the_read_model_serves_a_product_of_its_first_publisher_only(model):
    from pcfx.streams.ownership import OwnershipError  # noqa: PLC0415

    mine = footprint(productIds=["urn:p:coil"])
    theirs = footprint(companyIds=[CELLS], productIds=["urn:p:coil"])
    with model.store.transaction() as conn:
        model.claim(conn, mine, None)
        model.put(conn, "footprints", "urn:p:coil", mine)
    with pytest.raises(OwnershipError, match=f"owned by {FRAMES}"), model.store.transaction() as conn:
        model.claim(conn, theirs, None)  # the host then files it under rejects and keeps serving the owner's
    assert ids(model, FRAMES) == [mine["id"]] and ids(model, CELLS) == []
