"""connectors/web/supplier.py: a dead letter goes to the supplier its record names, with the field at fault."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.pact_api.readmodel import SCHEMA as READMODEL_SCHEMA
from pcfx.connectors.pact_api.readmodel import ReadModel
from pcfx.connectors.web.supplier import (SCHEMA, apply_dead_letter, apply_request_record, fault_fields, open_requests_of,
                                          published_of,
                                          owners, refused_of)
from pcfx.schemas.models import DeadLetter, FootprintRequest, FootprintResponse, ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.streams.codec import codec_for, encode_model

ORE_CO = "urn:pact:ore.example:company-id:3"


def refused_bytes() -> bytes:
    record = ProductFootprint.from_json({**copy.deepcopy(FOOTPRINT), "companyIds": [ORE_CO]}).to_avro()
    record["pcf"]["dqi"] = {"technologicalDQR": "1", "geographicalDQR": "1", "temporalDQR": "7"}
    return codec_for("ProductFootprint").encode(record)


def letter(raw: bytes, error: str, offset: int = 3) -> DeadLetter:
    return DeadLetter(original_bytes=raw, source_topic="p.footprints", partition=0, offset=offset, key=b"ore-bad",
                      error=error, error_type="ContractError", failed_at=datetime(2026, 1, 1, tzinfo=UTC), stage="ingest")


def test_the_fields_at_fault_are_the_paths_the_error_names():
    error = "p.footprints[0]@3: footprint 3f: pcf.dqi.temporalDQR = '7': outside 1..5; companyIds: must not be empty"
    assert fault_fields(error) == ("pcf.dqi.temporalDQR", "companyIds")
    assert fault_fields("p.footprints[0]@1: ProductFootprint: bad marker 6e 6f, not Avro") == ()


def test_a_refused_record_belongs_to_the_companies_it_names_and_garbage_to_nobody():
    assert owners(letter(refused_bytes(), "x"), "footprints") == [ORE_CO]
    assert owners(letter(b"not avro at all", "x"), "footprints") == []
    assert owners(letter(refused_bytes(), "x"), "requests") == []


def test_a_followed_dead_letter_shows_on_its_suppliers_page_only(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite", (SCHEMA,))
    apply = apply_dead_letter("p.")
    error = "p.footprints[0]@3: footprint 3f: pcf.dqi.temporalDQR = '7': outside 1..5"
    with store.transaction() as conn:
        apply(conn, SimpleNamespace(topic="p.dlq.footprints", value=encode_model(letter(refused_bytes(), error))))
        apply(conn, SimpleNamespace(topic="p.dlq.footprints", value=encode_model(letter(b"junk", "p.x[0]@4: junk", 4))))
    [shown] = refused_of(store.conn, ORE_CO.upper())
    assert (shown.topic, shown.key, shown.fields, shown.error) == ("footprints", "ore-bad", ("pcf.dqi.temporalDQR",), error)
    assert refused_of(store.conn, "urn:pact:other.example:company-id:9") == []


def request_record(topic: str, request_id: str, **criteria: object) -> SimpleNamespace:
    request = FootprintRequest(request_id=request_id, requester_client_id="buyer-client", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                               **criteria)
    return SimpleNamespace(topic=f"p.{topic}", value=encode_model(request))


def test_open_requests_are_those_naming_the_company_or_its_products_until_fulfilled(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite", (READMODEL_SCHEMA, SCHEMA))
    ore = "urn:pact:ore.example:product-id:ore-1"
    apply = apply_request_record("p.")
    with store.transaction() as conn:
        ReadModel(store).put(conn, "footprints", ore, {**copy.deepcopy(FOOTPRINT), "companyIds": [ORE_CO], "productIds": [ore],
                                                        "status": "Deprecated"})
        apply(conn, request_record("requests", "by-product", product_id=[ore]))
        apply(conn, request_record("requests", "by-company", company_id=[ORE_CO]))
        apply(conn, request_record("requests", "answered", company_id=[ORE_CO]))
        apply(conn, request_record("outbound-requests", "missing-input", product_id=[ore]))
        apply(conn, request_record("outbound-requests", "nobodys", product_id=["urn:pact:x:product-id:unknown"]))
        answer = FootprintResponse(request_id="answered", pf_ids=[FOOTPRINT["id"]], responded_at=datetime(2026, 1, 2, tzinfo=UTC))
        apply(conn, SimpleNamespace(topic="p.responses", value=encode_model(answer)))
    shown = {(r.request_id, r.origin) for r in open_requests_of(store.conn, ORE_CO)}
    assert shown == {("by-product", "buyer"), ("by-company", "buyer"), ("missing-input", "exchange")}
    assert open_requests_of(store.conn, "urn:pact:other.example:company-id:9") == []
    with store.transaction() as conn:  # an Active footprint of the missing input closes the exchange's request
        ReadModel(store).put(conn, "footprints", ore, {**copy.deepcopy(FOOTPRINT), "id": "44444444-4444-4444-8444-444444444444",
                                                        "companyIds": [ORE_CO], "productIds": [ore]})
    assert "missing-input" not in {r.request_id for r in open_requests_of(store.conn, ORE_CO)}


def test_a_published_footprint_counts_its_versions_through_the_ones_it_replaced(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite", (READMODEL_SCHEMA, SCHEMA))
    ore = "urn:pact:ore.example:product-id:ore-1"
    ids = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"]
    for index, pf_id in enumerate(ids):
        document = {**copy.deepcopy(FOOTPRINT), "id": pf_id, "companyIds": [ORE_CO], "productIds": [ore]}
        if index:
            document["precedingPfIds"] = [ids[index - 1]]
        with store.transaction() as conn:
            ReadModel(store).put(conn, "footprints", ore, document)
    [shown] = published_of(store.conn, ORE_CO)
    assert (shown.pf_id, shown.version, shown.replaces) == (ids[2], 3, ids[1])
