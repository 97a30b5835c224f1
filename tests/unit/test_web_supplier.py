"""connectors/web/supplier.py: a dead letter goes to the supplier its record names, with the field at fault."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.web.supplier import SCHEMA, apply_dead_letter, fault_fields, owners, refused_of
from pcfx.schemas.models import DeadLetter, ProductFootprint
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
