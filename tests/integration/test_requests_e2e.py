"""Requests reach suppliers, and a buyer's request waits for the answer: on the real broker, with a real worker,
the exchange's `pcfx api` and the supplier's own `pcfx api` (a second host, its own topics and database).

The chain: Anhui Ore (tier 3) -> Jiangsu Steel (tier 2) -> Wuxi Frames (tier 1). The exchange has both
recipes but no ore footprint: steel and frame are held incomplete, and the engine requests the ore from
Anhui Ore (the steel recipe's line names it). Anhui Ore is a partner with its own PACT host, which holds
the ore footprint. A buyer asks the exchange for the frame's footprint before any of that has happened;
its request stays open until the ore arrives through Anhui Ore's answer and the frame completes.
"""

from __future__ import annotations

import json
import ssl
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from pact_host import RECEIVER_ID, RECEIVER_SECRET, Receiver, isolated_settings, pact_host, publish, running, wait_for
from test_labels_e2e import FRAMES_CO, ORE, ORE_CO, STEEL_CO, footprint, pcfx, recipe, running_worker

from pcfx.connectors.kafka_io import read_to_end
from pcfx.connectors.pact_api.auth import Callback
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.events import REQUEST_CREATED, REQUEST_FULFILLED
from pcfx.connectors.pact_api.tls import certificate_files
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import FootprintResponse
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

BUYER = ("oem", "urn:pact:oem.example:company-id:0")  # the exchange's API client that asks for the frame
EXCHANGE_CO = "urn:pact:exchange.example:company-id:x"  # the exchange as a client of Anhui Ore's host
FRAME = "urn:pcfx:product:frame-1"
WAIT_S = 120.0


def request_event(source: str, product: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source, "type": REQUEST_CREATED,
            "time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), "data": {"productId": [product]}}


def waiting(host: Host) -> int:
    return host.store.conn.execute("SELECT count(*) FROM waiting").fetchone()[0]


def attempts(host: Host, supplier: str) -> Any:
    row = host.store.conn.execute("SELECT * FROM outbound WHERE supplier = ? AND attempts > 0", (supplier,)).fetchone()
    return dict(row) if row is not None else None


def test_a_buyers_request_for_an_incomplete_product_is_fulfilled_once_the_supplier_answers(
        settings: Settings, kafka: str, tmp_path: Path) -> None:
    receiver = Receiver(tmp_path)  # the buyer's own events endpoint
    ore = footprint(ORE, "2", created="2025-01-10T00:00:00Z")
    steel = recipe("steel-1", STEEL_CO, "Jiangsu Steel", "0.5", ORE, "1.5")
    steel["inputs"][0]["supplierCompanyId"] = ORE_CO
    frame = recipe("frame-1", FRAMES_CO, "Wuxi Frames", "1", "steel-1", "4")
    exchange_base = f"https://127.0.0.1:{settings.api_port}"
    with (isolated_settings(kafka, tmp_path / "anhui-ore") as supplier_settings, running(receiver.server()),
          running_worker(settings, tmp_path / "worker.log"), pact_host(settings) as exchange):
        supplier = Host.open(supplier_settings)  # Anhui Ore's host, down until the buyer's request waits
        # Anhui Ore's host: its ore footprint, and a client for the exchange whose answers go to the exchange's host
        publish(supplier_settings, [ore])
        ore_secret = exchange.clients.add("anhui-ore", ORE_CO)  # Anhui Ore answers the exchange with this client
        exchange_secret = supplier.clients.add("exchange", EXCHANGE_CO, callback=Callback(
            exchange_base, "anhui-ore", ore_secret, verify_tls=False))
        supplier.readmodel.grant(EXCHANGE_CO, owner_company=ORE_CO)
        added = pcfx(settings, "partners", "add", ORE_CO, "--url", f"https://127.0.0.1:{supplier_settings.api_port}",
                     "--client-id", "exchange", "--client-secret", exchange_secret, "--insecure-tls")
        assert added.exit_code == 0, added.output
        # the buyer: an API client of the exchange, allowed to read Wuxi Frames' footprints, answered at its receiver
        buyer_secret = exchange.clients.add(*BUYER, callback=Callback(receiver.url, RECEIVER_ID, RECEIVER_SECRET, verify_tls=False))
        exchange.readmodel.grant(BUYER[1], owner_company=FRAMES_CO)

        with SupplierClient(settings) as publisher:
            publisher.publish_recipes([steel, frame])
        outbound = exchange.outbound
        assert outbound is not None
        wait_for(lambda: outbound.incomplete((FRAME,)), "the frame held incomplete", WAIT_S)

        trust = ssl.create_default_context(cafile=str(certificate_files(settings)[0]))
        with httpx.Client(base_url=exchange_base, verify=trust, timeout=10) as http:
            token = http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(BUYER[0], buyer_secret)).json()
            asked = request_event(receiver.url, FRAME)
            posted = http.post("/3/events", content=json.dumps(asked), headers={
                "Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/cloudevents+json"})
            assert posted.status_code == 200, posted.text
        wait_for(lambda: waiting(exchange), "the buyer's request waiting", WAIT_S)
        failed = wait_for(lambda: attempts(exchange, ORE_CO), "a failed delivery to Anhui Ore's host, which is down", WAIT_S)
        assert receiver.answer_to(asked["id"]) is None
        with pact_host(supplier_settings, supplier):  # Anhui Ore's host comes up: the next retry reaches it
            answer = wait_for(lambda: receiver.answer_to(asked["id"]), "the buyer's answer", WAIT_S)
            sent = [row for row in exchange.store.conn.execute("SELECT * FROM outbound WHERE state != 'unroutable'")]
        recorded = wait_for(lambda: [r for r in read_to_end(settings, settings.topic("responses"), lambda _k, v: decode_model(
            FootprintResponse, v)) if r.request_id == sent[0]["request_id"]], "the supplier's answer on responses", WAIT_S)

    assert answer["type"] == REQUEST_FULFILLED, answer
    [pf] = answer["data"]["pfs"]
    assert pf["productIds"] == [FRAME] and pf["companyIds"] == [FRAMES_CO]
    # 4 kg steel per frame, steel = 0.5 + 1.5 kg ore x 2: the ore's footprint from Anhui Ore's host is in it
    assert float(pf["pcf"]["pcfExcludingBiogenicUptake"]) == 1 + 4 * (0.5 + 1.5 * 2)
    assert [(r["supplier"], r["state"], r["answer"]) for r in sent] == [(ORE_CO, "fulfilled", ore["id"])]
    assert failed["last_error"] and sent[0]["attempts"] > failed["attempts"]
    assert [r.pf_ids for r in recorded] == [[ore["id"]]]
    assert sent[0]["route"] == f"https://127.0.0.1:{supplier_settings.api_port}/3/events"
