"""Answering requests: where answers go, what they say, one answer per request, retries with backoff."""

from __future__ import annotations

import json

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from pact_samples import footprint
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.auth import Callback, Client
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.events import REQUEST_FULFILLED, REQUEST_REJECTED
from pcfx.connectors.pact_api.filters import Criteria
from pcfx.connectors.pact_api.records import request_to_value
from pcfx.connectors.pact_api.responder import FIRST_RETRY_S, callback_target
from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

OEM = "urn:pact:oem.de:company-id:42"
FRAME = "urn:pact:wuxi-frames.cn:product-id:frame-1"  # the product of footprint()
TARGET = "https://oem.example/pact/3/events"


def client(url: str | None = "https://oem.example/pact") -> Client:
    return Client("oem", OEM, Callback(url, "us", "secret") if url else None)


def test_answers_go_to_the_source_under_the_registered_callback():
    assert callback_target(client(), "https://oem.example/pact") == TARGET
    assert callback_target(client(), "//OEM.example/pact/3/events") == TARGET  # the spec's scheme-less form
    for source in ("https://evil.example/pact", "https://oem.example/pactx", "not a url",
                   "https://oem.example/pact/../admin", "https://oem.example/pact/%2E%2E/admin"):  # issue 17.5
        with pytest.raises(ApiError, match="not under the callback URL"):
            callback_target(client(), source)
    with pytest.raises(ApiError, match="no callback registered"):
        callback_target(client(None), "https://oem.example/pact")


@pytest.fixture
def host(tmp_path):
    # the callback points at a closed local port: every delivery attempt fails, without any network
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1")
    host = Host.open(settings)
    host.responses = []  # what would go on the ``responses`` topic
    host.responder.record = host.responses.append
    host.clients.add("oem", OEM, callback=Callback(f"https://127.0.0.1:{free_port()}", "us", "secret"))
    with host.store.transaction() as conn:
        host.readmodel.put(conn, "footprints", "frame", footprint())
    yield host
    host.store.close()


def answer(host, criteria: Criteria, event_id: str = "run/12", offset: int = 0) -> dict:
    value = request_to_value(event_id, criteria, None, "oem", TARGET)
    record = ConsumerRecord("t.requests", 0, 0, offset, 0, 0, None, value, [], None, 0, len(value), 0)
    with host.store.transaction() as conn:
        host.responder.apply(conn, record)
    rows = host.store.conn.execute("SELECT event FROM deliveries ORDER BY created_at").fetchall()
    return json.loads(rows[-1]["event"])


def test_a_request_the_company_may_see_is_fulfilled_with_the_footprints(host):
    host.readmodel.grant(OEM, FRAME)
    event = answer(host, Criteria(productId=(FRAME,)))
    assert event["type"] == REQUEST_FULFILLED
    assert event["data"]["requestEventId"] == "run/12"
    assert [pf["productIds"] for pf in event["data"]["pfs"]] == [[FRAME]]
    [response] = host.responses
    assert (response.request_id, response.pf_ids) == ("run/12", [event["data"]["pfs"][0]["id"]])


def test_a_request_for_what_the_company_may_not_see_is_rejected_not_found(host):
    event = answer(host, Criteria(productId=(FRAME,)))  # no grant
    assert (event["type"], event["data"]["error"]["code"]) == (REQUEST_REJECTED, "NotFound")
    assert [(r.error_code, r.rejected) for r in host.responses] == [("NotFound", True)]


def test_urn_pact_null_is_always_rejected(host):
    host.readmodel.grant(OEM, FRAME)
    event = answer(host, Criteria(productId=("urn:pact:null", FRAME)))
    assert (event["type"], event["data"]["error"]["code"]) == (REQUEST_REJECTED, "BadRequest")


def test_a_redelivered_request_is_answered_once(host):
    answer(host, Criteria(productId=(FRAME,)), offset=0)
    answer(host, Criteria(productId=(FRAME,)), offset=1)
    assert host.store.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1


def test_failed_deliveries_back_off_exponentially_then_are_abandoned(host):
    answer(host, Criteria(productId=(FRAME,)))
    created = host.store.conn.execute("SELECT created_at FROM deliveries").fetchone()[0]
    now = created
    for attempt in (1, 2, 3):
        assert host.responder.deliver_due(now) == 0
        row = host.store.conn.execute("SELECT * FROM deliveries").fetchone()
        assert (row["state"], row["attempts"]) == ("pending", attempt)
        assert row["next_attempt_at"] - now == FIRST_RETRY_S * 2 ** (attempt - 1)  # 1 s, 2 s, 4 s
        assert "ConnectError" in row["last_error"]
        now = row["next_attempt_at"]
    host.responder.deliver_due(created + host.settings.webhook_max_age_s)
    assert host.store.conn.execute("SELECT state FROM deliveries").fetchone()[0] == "abandoned"


def hold_incomplete(host, product: str, missing: list[str]) -> None:
    from pcfx.schemas.status import ProductStatus
    from pcfx.streams.codec import encode_model

    status = ProductStatus.from_json({"productId": product, "state": "incomplete", "coverage": "0.5", "missing": missing,
                                      "updatedAt": "2026-01-01T00:00:00Z"})
    value = encode_model(status)
    record = ConsumerRecord("t.product-status", 0, 0, 0, 0, 0, product.encode(), value, [], None, 0, len(value), 0)
    with host.store.transaction() as conn:
        host.outbound.apply_status(conn, record)


def test_a_request_for_an_incomplete_product_waits_then_is_rejected_with_the_reason_when_the_window_ends(host):
    pack = "urn:pcfx:product:pack-1"
    hold_incomplete(host, "pack-1", ["cell-7"])
    value = request_to_value("run/pack", Criteria(productId=(pack,)), None, "oem", TARGET)
    record = ConsumerRecord("t.requests", 0, 0, 0, 0, 0, None, value, [], None, 0, len(value), 0)
    with host.store.transaction() as conn:
        host.responder.apply(conn, record)
    assert host.store.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0  # not answered NotFound
    created = host.store.conn.execute("SELECT created_at FROM waiting").fetchone()[0]
    assert host.responder.review_waiting(created + 3600) == 0 and not host.responses  # still within 72 h
    assert host.responder.review_waiting(created + host.settings.webhook_max_age_s) == 1
    event = json.loads(host.store.conn.execute("SELECT event FROM deliveries").fetchone()["event"])
    assert (event["type"], event["data"]["error"]["code"]) == (REQUEST_REJECTED, "NotFound")
    assert "pack-1 is still incomplete (1 input(s) missing" in event["data"]["error"]["message"]
    assert host.store.conn.execute("SELECT count(*) FROM waiting").fetchone()[0] == 0


def test_a_waiting_request_is_fulfilled_once_the_product_is_there(host):
    hold_incomplete(host, FRAME, ["steel-1"])  # the footprint() product, held incomplete: its request waits
    host.readmodel.grant(OEM, FRAME)
    with host.store.transaction() as conn:
        conn.execute("DELETE FROM footprints")
    value = request_to_value("run/frame", Criteria(productId=(FRAME,)), None, "oem", TARGET)
    record = ConsumerRecord("t.requests", 0, 0, 0, 0, 0, None, value, [], None, 0, len(value), 0)
    with host.store.transaction() as conn:
        host.responder.apply(conn, record)
        host.readmodel.put(conn, "derived", "frame", footprint())
        conn.execute("UPDATE product_states SET state = 'complete'")
    assert host.responder.review_waiting() == 1
    event = json.loads(host.store.conn.execute("SELECT event FROM deliveries").fetchone()["event"])
    assert event["type"] == REQUEST_FULFILLED and event["data"]["requestEventId"] == "run/frame"


def test_an_outbound_request_with_no_partner_goes_to_the_suppliers_topic(host, monkeypatch):
    from pcfx.connectors.pact_api.outbound import request_created_event
    from pcfx.schemas.models import FootprintRequest
    from pcfx.streams.codec import encode_model

    request = FootprintRequest.from_json({"requestId": "r-1", "requesterClientId": "pcfx-engine", "productId": [FRAME],
                                          "companyId": [OEM], "createdAt": "2026-01-01T00:00:00Z"})
    event = request_created_event(request, "https://exchange.example/3/events")
    assert (event["id"], event["source"], event["data"]) == ("r-1", "https://exchange.example/3/events",
                                                             {"productId": [FRAME], "companyId": [OEM]})
    sent = []
    host.outbound.send = lambda topic, key, value: sent.append((topic, key, value))
    host.outbound.directory.find = lambda company: None  # no partner registered
    monkeypatch.setattr("pcfx.connectors.pact_api.outbound.ensure_supplier_topic", lambda settings, supplier: "requests.supplier.x")
    value = encode_model(request)
    record = ConsumerRecord("t.outbound-requests", 0, 0, 0, 0, 0, b"r-1", value, [], None, 0, len(value), 0)
    with host.store.transaction() as conn:
        host.outbound.apply_request(conn, record)
    assert host.outbound.deliver_due() == 1
    assert sent == [("requests.supplier.x", "r-1", value)]
    assert host.outbound.state("r-1")["state"] == "queued"
