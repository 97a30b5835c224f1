"""Labels end to end on the real broker, through real ``pcfx worker`` processes, a real HTTP webhook receiver,
the real CLI (``pcfx subscribe``, ``entitle``, ``watch``) and the PACT API app with its Kafka followers.

The chain: Anhui Ore (tier 3) sells ore to Jiangsu Steel (tier 2), whose steel goes into Wuxi Frames'
frame (tier 1). Wuxi Frames, the buyer, subscribes to the steel it buys:

    ore   = 2 kgCO2e/kg, later 3
    steel = 0.5 own + 1.5 kg ore  -> 0.5 + 1.5 x 2 = 3.5, then 0.5 + 1.5 x 3 = 5
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner
from kafka import KafkaProducer
from starlette.testclient import TestClient
import pact_host
from workers import start_worker, stop_worker

from pcfx.agents.records import OFFER, label_input_headers
from pcfx.agents.topics import admin_client, buyer_topic_name
from pcfx.agents.webhooks import WEBHOOK_HEADER
from pcfx.cli import main
from pcfx.connectors.display import for_people
from pcfx.connectors.kafka_io import confirm, read_to_end, settle
from pcfx.connectors.label_svg import render_label_svg
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.supplier import SupplierClient
from pcfx.ops.kafka import free_port
from pcfx.schemas.models import CarbonLabel, DeadLetter
from pcfx.schemas.samples import one_input_recipe, supplier_footprint
from pcfx.schemas.subscriptions import Subscription, subscription_key
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

T = TypeVar("T")
ORE_CO = "urn:pact:ore.example:company-id:3"
STEEL_CO = "urn:pact:steel.example:company-id:2"
FRAMES_CO = "urn:pact:frames.example:company-id:1"  # the buyer
ORE = "urn:pact:ore.example:product-id:ore-1"
STEEL = "urn:pcfx:product:steel-1"
WAIT_S = 90.0


def footprint(product: str, value: str, *, created: str, company: str = ORE_CO, preceding: str | None = None,
              validity_end: datetime | None = None) -> dict[str, Any]:
    return supplier_footprint(product, value, company=company, company_name="Anhui Ore", created=created,
                              preceding=preceding, validity_end=validity_end)


def recipe(product: str, company: str, name: str, own: str, input_product: str, quantity: str) -> dict[str, Any]:
    return one_input_recipe(product, company, name, own, input_product, quantity, certificate="CN-JS-2025-0001")


def publish_chain(settings: Settings) -> str:
    """Ore v1, the steel recipe and the frame recipe; returns ore v1's footprint id."""
    ore = footprint(ORE, "2", created="2025-01-10T00:00:00Z")
    with SupplierClient(settings) as supplier:
        supplier.publish(ore)
        supplier.publish_recipes([
            recipe("steel-1", STEEL_CO, "Jiangsu Steel", "0.5", ORE, "1.5"),
            recipe("frame-1", FRAMES_CO, "Wuxi Frames", "1", "steel-1", "4"),
        ])
    return ore["id"]


def update_ore(settings: Settings, previous: str, value: str, created: str) -> str:
    ore = footprint(ORE, value, created=created, preceding=previous)
    with SupplierClient(settings) as supplier:
        supplier.publish(ore)
    return ore["id"]


def wait_for(check: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """:func:`pact_host.wait_for` with this module's timeout, asking every 0.3 s."""
    return pact_host.wait_for(check, what, timeout_s, poll_s=0.3)


def buyer_labels(settings: Settings, buyer: str = FRAMES_CO) -> dict[str, list[CarbonLabel | None]]:
    """Every record of the buyer's topic, per product, in order (None for a withdrawal)."""
    topic = settings.topic(buyer_topic_name(buyer))
    with admin_client(settings) as admin:
        if topic not in admin.list_topics():
            return {}
    found: dict[str, list[CarbonLabel | None]] = {}
    for key, value in read_to_end(settings, topic, lambda k, v: (k.decode(), v)):
        found.setdefault(key, []).append(None if value is None else decode_model(CarbonLabel, value))
    return found


def latest(settings: Settings, product: str, version: int) -> CarbonLabel | None:
    labels = buyer_labels(settings).get(product, [])
    return labels[-1] if labels and labels[-1] is not None and labels[-1].version == version else None


def dead_letters(settings: Settings, count: int) -> list[DeadLetter] | None:
    letters = list(read_to_end(settings, settings.topic("dlq.subscriptions"), lambda _k, v: decode_model(DeadLetter, v)))
    return letters if len(letters) >= count else None


def pcfx(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=settings.to_env(), catch_exceptions=False)


class Receiver:
    """A real local HTTP server that records every CloudEvent POSTed to it; it can be down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[dict[str, Any]] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pact/events"

    def start(self) -> None:
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events.append({"content-type": self.headers["Content-Type"], **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def versions(self) -> list[int]:
        return [json.loads(event["pcfxlabel"])["version"] for event in self.events]


@contextmanager
def running_worker(settings: Settings, log: Path) -> Iterator[None]:
    worker = start_worker(settings, log)
    try:
        yield
    finally:
        stop_worker(worker)


def test_a_tier3_update_reaches_the_tier1_buyer_topic_and_webhook(settings: Settings, tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        with running_worker(settings, tmp_path / "worker.log"):
            ore_v1 = publish_chain(settings)
            settle(settings)
            answer = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1", "--webhook", receiver.url)
            assert answer.exit_code == 0, answer.output
            assert answer.output.startswith(f"active    {STEEL}: {STEEL} is an input of {FRAMES_CO}'s recipes")
            first = wait_for(lambda: latest(settings, STEEL, 1), "steel label v1")
            update_ore(settings, ore_v1, "3", "2025-02-10T00:00:00Z")
            second = wait_for(lambda: latest(settings, STEEL, 2), "steel label v2 after the ore update")
            wait_for(lambda: receiver.versions() == [1, 2], "webhook events for versions 1 and 2")
            table = pcfx(settings, "watch", "--buyer", FRAMES_CO, "--once")
            api = api_answers(settings)
    finally:
        receiver.stop()

    assert Decimal(first.value) == Decimal("0.5") + Decimal("1.5") * 2
    assert Decimal(second.value) == Decimal("0.5") + Decimal("1.5") * 3
    assert (second.previous_value, second.last_verified_value) == (first.value, first.value)
    assert second.reverification_due  # (5 - 3.5) / 3.5 = 43 % >= 10 %
    assert (second.label_id, second.company_ids, second.product_id) == (first.label_id, [STEEL_CO], STEEL)
    assert second.certificate_number == "CN-JS-2025-0001"  # from Jiangsu Steel's recipe
    assert second.upstream_changed_at is not None and second.status == "Active"
    one_hop = json.dumps(second.to_json())
    assert ORE not in one_hop and ORE_CO not in one_hop and "Anhui" not in one_hop  # nothing of tier 3

    event = receiver.events[1]
    assert event["content-type"] == "application/cloudevents+json"
    assert event["type"] == "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
    assert event["data"] == {"pfIds": [second.pf_id]}
    assert json.loads(event["pcfxlabel"])["value"] == second.value
    assert len({e["id"] for e in receiver.events}) == 2  # one CloudEvent id per label version

    assert table.exit_code == 0
    # the terminal view rounds for people (5.0 -> 5); the label itself keeps the exact decimal
    assert "Jiangsu Steel product" in table.output and f" {for_people(second.value)} " in table.output and "due" in table.output

    assert api["label"] == second.to_json()  # the API serves the buyer the same label, version 2
    assert api["svg"] == render_label_svg(second) and "碳足迹标识" in api["svg"] and second.value in api["svg"]
    assert api["other company"] == 404  # Jiangsu Steel's own client holds no label of Wuxi Frames'
    assert api["malformed"] == (400, "BadRequest") and api["unknown"] == (404, "NotFound")


def api_answers(settings: Settings) -> dict[str, Any]:
    """What ``pcfx api`` answers Wuxi Frames (and one other company) once it has followed ``labels``."""
    host = Host.open(settings)
    with TestClient(create_app(settings, host=host), base_url="https://pact.test") as api:
        frames, steel = bearer(api, host, "frames", FRAMES_CO), bearer(api, host, "steel", STEEL_CO)
        label = wait_for(lambda: version_2(api.get("/3/labels/steel-1", headers=frames)), "the label on the API")
        malformed = api.post("/3/subscriptions", headers=frames, json={"productIds": "steel-1"})
        unknown = api.post("/3/subscriptions", headers=frames, json={"productIds": ["urn:pact:nobody.example:product-id:0"]})
        return {
            "label": label,
            "svg": api.get(f"/3/labels/{STEEL}/svg", headers=frames).text,
            "other company": api.get("/3/labels/steel-1", headers=steel).status_code,
            "malformed": (malformed.status_code, malformed.json()["code"]),
            "unknown": (unknown.status_code, unknown.json()["code"]),
        }


def bearer(api: TestClient, host: Host, client_id: str, company: str) -> dict[str, str]:
    secret = host.clients.add(client_id, company)
    answer = api.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def version_2(response: Any) -> dict[str, Any] | None:
    return response.json()["data"] if response.status_code == 200 and response.json()["data"]["version"] == 2 else None


def test_a_buyer_never_receives_a_product_it_is_not_entitled_to(settings: Settings, tmp_path: Path) -> None:
    with running_worker(settings, tmp_path / "worker.log"):
        publish_chain(settings)
        settle(settings)
        ore = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", ORE)
        unknown = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "urn:pact:nobody.example:product-id:0")
        steel = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1")
        assert steel.exit_code == 0, steel.output
        wait_for(lambda: latest(settings, STEEL, 1), "the steel label")
        before_grant = buyer_labels(settings)
        granted = pcfx(settings, "entitle", "--supplier", ORE_CO, "--buyer", FRAMES_CO, "--product", ORE)
        after_grant = wait_for(lambda: latest(settings, ORE, 1), "the ore label once its owner granted it")
        stranger = pcfx(settings, "watch", "--buyer", "urn:pact:stranger.example:company-id:9", "--once")

    assert ore.exit_code == 1
    assert ore.output.startswith(f"rejected  {ORE}: {FRAMES_CO} is not entitled to {ORE}")
    assert unknown.exit_code == 1 and "unknown product urn:pact:nobody.example:product-id:0" in unknown.output
    assert set(before_grant) == {STEEL}  # the ore (tier 3) never reached the tier-1 buyer
    assert granted.exit_code == 0 and granted.output == f"granted {ORE} to {FRAMES_CO} (as {ORE_CO})\n"
    assert after_grant.value == "2" and after_grant.company_ids == [ORE_CO]
    assert stranger.exit_code == 1 and "unknown buyer urn:pact:stranger.example:company-id:9" in stranger.output


def test_a_webhook_down_across_a_worker_restart_still_gets_every_version(settings: Settings, tmp_path: Path) -> None:
    receiver = Receiver()  # not started: connections are refused
    with running_worker(settings, tmp_path / "worker-1.log"):
        ore = publish_chain(settings)
        settle(settings)
        pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1", "--webhook", receiver.url)
        wait_for(lambda: latest(settings, STEEL, 1), "steel label v1")
        for month, value in ((2, "3"), (3, "4")):
            ore = update_ore(settings, ore, value, f"2025-0{month}-10T00:00:00Z")
        wait_for(lambda: latest(settings, STEEL, 3), "steel label v3")
        time.sleep(2)  # a few failed attempts while the endpoint is down
    receiver.start()
    try:
        with running_worker(settings, tmp_path / "worker-2.log"):
            wait_for(lambda: len(receiver.events) >= 3, "the three versions after the restart")
            time.sleep(2)  # anything sent twice would arrive now
    finally:
        receiver.stop()
    assert receiver.versions() == [1, 2, 3]
    values = [Decimal(json.loads(e["pcfxlabel"])["value"]) for e in receiver.events]
    assert values == [Decimal("0.5") + Decimal("1.5") * ore_value for ore_value in (2, 3, 4)]


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_buyer_keeps_a_product_until_its_last_recipe_drops_it_across_a_worker_crash(
        settings: Settings, tmp_path: Path, store: str) -> None:
    """Two frames of Wuxi Frames use the steel. The worker is killed; its successor counts the frames again
    from the label router's table (restored from its changelog, or read from RocksDB): dropping the steel
    from one frame keeps the label, from both withdraws it."""
    settings = settings.model_copy(update={"store": store})

    def frame(name: str, input_product: str, updated: str) -> dict[str, Any]:
        return {**recipe(name, FRAMES_CO, "Wuxi Frames", "1", input_product, "4"), "updated": updated}

    worker = start_worker(settings, tmp_path / "worker-1.log")
    try:
        publish_chain(settings)  # frame-1 uses the steel
        with SupplierClient(settings) as supplier:
            supplier.publish_recipes([frame("frame-2", "steel-1", "2025-02-01T10:00:00Z")])
        settle(settings)
        assert pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1").exit_code == 0
        wait_for(lambda: latest(settings, STEEL, 1), "the steel label")
    finally:
        stop_worker(worker, kill=True)
    with running_worker(settings, tmp_path / "worker-2.log"):
        with SupplierClient(settings) as supplier:
            supplier.publish_recipes([frame("frame-1", ORE, "2025-03-01T00:00:00Z")])
        settle(settings)
        after_one = buyer_labels(settings)[STEEL]
        with SupplierClient(settings) as supplier:
            supplier.publish_recipes([frame("frame-2", ORE, "2025-03-01T00:00:00Z")])
        settle(settings)
        after_both = wait_for(lambda: (labels := buyer_labels(settings)[STEEL])[-1] is None and labels, "the withdrawal")
        status = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1")

    assert [label.version if label else None for label in after_one] == [1]  # frame-2 still buys the steel
    assert [label.version if label else None for label in after_both] == [1, None]
    assert status.exit_code == 1 and f"{FRAMES_CO} is not entitled to {STEEL}" in status.output


def test_labels_expire_and_bad_subscriptions_are_dead_lettered(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"label_expiry_check_s": 0.5})
    battery = "urn:pact:ore.example:product-id:battery-9"
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    garbage_key = b"urn:pact:x.example:company-id:1|urn:pcfx:product:1"
    misfiled = Subscription(buyer_id=FRAMES_CO, product_id=battery, created_at=datetime.now(UTC))
    confirm(producer, [producer.send(settings.topic("subscriptions"), key=garbage_key, value=b"not avro"),
                       producer.send(settings.topic("subscriptions"), key=b"someone-else", value=encode_model(misfiled))])
    producer.close()
    with running_worker(settings, tmp_path / "worker.log"):
        # A long-valid first version proves the worker, the entitlement and the subscription live, so the short
        # validity below is counted from a warm pipeline and not from a cold worker's start on a busy machine.
        first = footprint(battery, "7", created="2025-01-10T00:00:00Z")
        with SupplierClient(settings) as supplier:
            supplier.publish(first)
        assert pcfx(settings, "entitle", "--supplier", ORE_CO, "--buyer", FRAMES_CO, "--product", battery).exit_code == 0
        assert pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", battery).exit_code == 0
        wait_for(lambda: battery_versions(settings, battery).get(1), "the first battery label")
        ends = datetime.now(UTC) + timedelta(seconds=8)
        with SupplierClient(settings) as supplier:
            supplier.publish(footprint(battery, "7.5", created="2025-01-11T00:00:00Z", preceding=first["id"],
                                       validity_end=ends))
        labels = wait_for(lambda: (found := battery_versions(settings, battery)) and found[max(found)].status == "Expired"
                          and found, "the battery label expired")
        letters = wait_for(lambda: dead_letters(settings, 2), "two dead letters")
    assert sorted(labels) == [1, 2, 3], "one version each: the first footprint, its update, the update expired"
    active, expired = labels[2], labels[3]
    assert active.status == "Active", "the update's label was issued after its validity ended (a very slow machine)"
    assert active.validity_period_end == ends and active.value == "7.5"
    assert expired.status == "Expired" and expired.value == "7.5" and expired.validity_period_end == ends
    garbage, misfiled_letter = sorted(letters, key=lambda letter: letter.error_type)
    assert (garbage.error_type, garbage.original_bytes) == ("DecodeError", b"not avro")
    assert misfiled_letter.error_type == "RuleViolation" and misfiled_letter.key == b"someone-else"
    assert f"its key must be '{FRAMES_CO}|{battery}'" in misfiled_letter.error


def battery_versions(settings: Settings, product: str) -> dict[int, CarbonLabel]:
    """The buyer's labels of ``product`` by version (delivery is at least once: a version may come twice)."""
    return {label.version: label for label in buyer_labels(settings).get(product, []) if label is not None}


def unreadable_letters(settings: Settings, names: tuple[str, ...]) -> dict[str, DeadLetter] | None:
    letters = {name: list(read_to_end(settings, settings.topic(f"dlq.{name}"), lambda _k, v: decode_model(DeadLetter, v)))
               for name in names}
    return {name: found[0] for name, found in letters.items() if found} if all(letters.values()) else None


def test_records_the_label_agents_cannot_read_are_dead_lettered_and_their_partitions_go_on(
        settings: Settings, tmp_path: Path) -> None:
    battery = "urn:pact:ore.example:product-id:battery-7"
    label_key = subscription_key(FRAMES_CO, battery).encode()
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    confirm(producer, [  # each under the key of the battery's label, so on the partition its label goes through
        producer.send(settings.topic("label-inputs"), key=battery.encode(), value=b"not json",
                      headers=list(label_input_headers(OFFER).items())),
        producer.send(settings.topic("label-sources"), key=f"recipe:{battery}".encode(), value=b"not avro"),
        producer.send(settings.topic("labels"), key=label_key, value=b"not avro",
                      headers=[(WEBHOOK_HEADER, b"http://127.0.0.1:9/pact/events")]),
        producer.send(settings.topic("webhook-attempts"), key=label_key, value=b"not avro"),
    ])
    producer.close()
    names = ("label-inputs", "label-sources", "labels", "webhook-attempts")
    with running_worker(settings, tmp_path / "worker.log"):
        with SupplierClient(settings) as supplier:
            supplier.publish(footprint(battery, "7.5", created="2025-01-10T00:00:00Z"))
        settle(settings)
        assert pcfx(settings, "entitle", "--supplier", ORE_CO, "--buyer", FRAMES_CO, "--product", battery).exit_code == 0
        assert pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", battery).exit_code == 0
        label = wait_for(lambda: latest(settings, battery, 1), "the battery label, past the unreadable offer")
        letters = wait_for(lambda: unreadable_letters(settings, names), "a dead letter on each of " + ", ".join(names))
    assert label.value == "7.5"
    for name, letter in letters.items():
        assert letter.source_topic == settings.topic(name)
        assert letter.original_bytes in (b"not json", b"not avro")
    assert letters["label-inputs"].error_type == "ValidationError"  # the offer's JSON, read by pydantic
    assert {letters[name].error_type for name in names[1:]} == {"DecodeError"}
