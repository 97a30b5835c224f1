"""The pull connector's bookkeeping without a network: which footprint versions are published, in which
order, and what a second run, a restart, a failure or a PublishedEvent does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from pact_samples import footprint

from pcfx.connectors import puller as puller_module
from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.pact_client import PactError
from pcfx.connectors.pact_pull import SCHEMA, Handled, SqliteLedger, Version, ledger_path, take
from pcfx.connectors.puller import Puller, backoff, retrying
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings

class DictLedger:
    """The ledger protocol in memory: what a unit test can look into."""

    def __init__(self) -> None:
        self.rows: dict[Version, Handled] = {}

    def handled(self, versions: Iterable[Version]) -> set[Version]:
        return {v for v in versions if v in self.rows}

    def newer_active(self, product_key: str, pf_id: str, created_us: int) -> bool:
        return any(h.outcome == "published" and h.version.status == "Active" and h.product_key == product_key
                   and h.version.pf_id != pf_id and (h.created_us or 0) > created_us for h in self.rows.values())

    def record(self, outcomes: Sequence[Handled]) -> None:
        self.rows.update({o.version: o for o in outcomes})


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request, tmp_path):
    """Each scenario runs against the in-memory ledger and the SQLite one the connector uses."""
    if request.param == "memory":
        yield DictLedger()
        return
    store = Store(tmp_path / "pull.sqlite", (SCHEMA,))
    yield SqliteLedger(store)
    store.close()


class Kafka:
    """Stands in for SupplierClient.publish_footprints: records what would be sent, or fails on demand."""

    def __init__(self) -> None:
        self.sent: list[ProductFootprint] = []
        self.down = False

    def __call__(self, models: list[ProductFootprint]) -> None:
        if self.down:
            raise OSError("broker unreachable")
        self.sent += models

    def versions(self) -> list[tuple[str, str]]:
        return [(m.id, m.status) for m in self.sent]


def test_each_version_is_published_once_however_often_it_is_listed(ledger):
    listing = [footprint(), footprint(), footprint()]
    kafka = Kafka()
    first = take(listing, ledger, kafka)
    second = take(listing + listing[:1], ledger, kafka)
    assert (first.published, second.published, second.unchanged) == (3, 0, 3)
    assert len(kafka.sent) == 3


def test_the_move_to_deprecated_is_a_new_version(ledger):
    active = footprint()
    kafka = Kafka()
    take([active], ledger, kafka)
    take([{**active, "status": "Deprecated"}], ledger, kafka)
    assert kafka.versions() == [(active["id"], "Active"), (active["id"], "Deprecated")]


def test_in_one_round_a_deprecation_goes_before_its_successor_so_compaction_keeps_the_successor(ledger):
    old = footprint(created="2025-01-10T00:00:00Z", status="Deprecated")
    new = footprint(created="2025-02-10T00:00:00Z", precedingPfIds=[old["id"]])
    kafka = Kafka()
    take([new, old], ledger, kafka)
    assert kafka.versions() == [(old["id"], "Deprecated"), (new["id"], "Active")]


def test_a_deprecation_seen_after_its_successor_was_published_is_superseded_not_published(ledger):
    old = footprint(created="2025-01-10T00:00:00Z")
    new = footprint(created="2025-02-10T00:00:00Z", precedingPfIds=[old["id"]])
    kafka = Kafka()
    take([old], ledger, kafka)
    take([new], ledger, kafka)
    late = take([new, {**old, "status": "Deprecated"}], ledger, kafka)
    assert (late.published, late.superseded, late.unchanged) == (0, 1, 1)
    assert kafka.versions() == [(old["id"], "Active"), (new["id"], "Active")]


def test_an_invalid_footprint_is_rejected_naming_the_field_and_reported_once(ledger):
    bad = footprint(pcf={"primaryDataShare": "150"})
    kafka = Kafka()
    first = take([bad, footprint()], ledger, kafka)
    again = take([bad], ledger, kafka)
    assert first.published == 1
    assert first.rejected == [f"footprint {bad['id']}: pcf.primaryDataShare = '150': above 100 "
                              "(PACT v3 methodology 4.2.2: PDS is a percent 0..100)"]
    assert (again.rejected, again.unchanged) == ([], 1)


def test_an_item_without_id_is_rejected_every_time_it_is_listed(ledger):
    summary = take([{"status": "Active"}], ledger, Kafka())
    assert summary.rejected and "without a readable id and status" in summary.rejected[0]


def test_nothing_is_recorded_when_kafka_refuses_so_the_next_round_publishes_it(ledger):
    kafka = Kafka()
    kafka.down = True
    listing = [footprint()]
    with pytest.raises(OSError):
        take(listing, ledger, kafka)
    kafka.down = False
    assert take(listing, ledger, kafka).published == 1


def test_a_pact_v2_footprint_is_converted_before_it_is_published(ledger):
    v2 = json.loads(json.dumps(V2_STEEL))
    kafka = Kafka()
    assert take([v2], ledger, kafka).published == 1
    assert kafka.sent[0].spec_version == "3.0.3"


def test_the_sqlite_ledger_survives_a_restart(tmp_path):
    listing = [footprint(), footprint()]
    kafka = Kafka()
    for _ in range(2):  # the second pass is a new process on the same file
        store = Store(tmp_path / "pull.sqlite", (SCHEMA,))
        take(listing, SqliteLedger(store), kafka)
        store.close()
    assert len(kafka.sent) == 2


def test_one_ledger_file_per_supplier_host_port_and_path(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert ledger_path(settings, "https://pact.supplier.cn:8443/") == tmp_path / "pull" / "pact.supplier.cn_8443.sqlite"
    assert ledger_path(settings, "https://h.example/pact/v3").name == "h.example_pact_v3.sqlite"


def test_backoff_doubles_from_one_second_up_to_five_minutes():
    assert [backoff(n) for n in (1, 2, 3, 4, 9, 10, 20)] == [1, 2, 4, 8, 256, 300, 300]


def test_retrying_waits_out_a_supplier_that_is_down(monkeypatch):
    monkeypatch.setattr(puller_module, "FIRST_RETRY_S", 0.001)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise PactError(503, "", "down for maintenance", "https://supplier.example/3/footprints")
        return "listed"

    assert retrying(flaky, threading.Event()) == "listed" and len(calls) == 3


def test_retrying_gives_up_after_the_attempts_it_was_given(monkeypatch):
    monkeypatch.setattr(puller_module, "FIRST_RETRY_S", 0.001)
    calls = []

    def refused() -> None:
        calls.append(1)
        raise OSError("connection refused")

    with pytest.raises(OSError):
        retrying(refused, threading.Event(), attempts=2)
    assert len(calls) == 2


# -- the Puller with a fake supplier, no network ---------------------------------------------------------


@dataclass
class Supplier:
    """A PACT client stand-in: its footprints by id, and ids it answers 404 or 500 for."""

    footprints: dict[str, dict[str, Any]]
    base_url: str = "https://supplier.example"
    failing: bool = False

    def list_footprints(self) -> list[dict[str, Any]]:
        return list(self.footprints.values())

    def get_footprint(self, pf_id: str) -> dict[str, Any]:
        if self.failing:
            raise PactError(500, "InternalError", "try later", self.base_url)
        if pf_id not in self.footprints:
            raise PactError(404, "NotFound", f"no footprint {pf_id}", self.base_url)
        return self.footprints[pf_id]


@dataclass
class Record:
    """The parts of a Kafka ConsumerRecord the event follower reads."""

    value: bytes
    headers: list[tuple[str, bytes]]
    topic: str = "inbound-events"
    partition: int = 0
    offset: int = 0


def published_event(*pf_ids: str) -> bytes:
    return json.dumps({"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0",
                       "id": "e1", "source": "//supplier.example", "time": "2025-03-01T00:00:00Z",
                       "data": {"pfIds": list(pf_ids)}}).encode()


def test_a_published_event_makes_the_puller_fetch_the_named_footprint(tmp_path):
    known = footprint()
    supplier, kafka = Supplier({known["id"]: known}), Kafka()
    puller = Puller(Settings(data_dir=tmp_path), supplier, kafka)  # type: ignore[arg-type]
    with puller.store.transaction() as conn:
        puller.take_event(conn, Record(published_event(known["id"], "00000000-0000-4000-8000-000000000000"), []))
    summary = puller.refetch_pending()
    assert (summary.published, kafka.versions()) == (1, [(known["id"], "Active")])
    assert puller.ledger.pending() == []  # the unknown id was not this supplier's: dropped
    puller.close()


def test_pending_ids_stay_while_the_supplier_fails(tmp_path):
    known = footprint()
    supplier = Supplier({known["id"]: known}, failing=True)
    puller = Puller(Settings(data_dir=tmp_path), supplier, Kafka())  # type: ignore[arg-type]
    puller.on_published([known["id"]])
    with pytest.raises(PactError):
        puller.refetch_pending()
    assert puller.ledger.pending() == [known["id"]]
    puller.close()


def test_events_from_other_clients_or_of_other_types_are_ignored(tmp_path):
    puller = Puller(Settings(data_dir=tmp_path), Supplier({}), Kafka(), events_from="supplier-a")  # type: ignore[arg-type]
    with puller.store.transaction() as conn:
        puller.take_event(conn, Record(published_event("a1"), [("pcfx-client-id", b"supplier-b")]))
        puller.take_event(conn, Record(b"{not json", [("pcfx-client-id", b"supplier-a")]))
        fulfilled = json.loads(published_event("a2"))
        fulfilled["type"] = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
        puller.take_event(conn, Record(json.dumps(fulfilled).encode(), [("pcfx-client-id", b"supplier-a")]))
        puller.take_event(conn, Record(published_event("a3"), [("pcfx-client-id", b"supplier-a")]))
    assert puller.ledger.pending() == ["a3"]
    puller.close()


V2_STEEL = {
    "id": "0c7f9a3e-2b1d-4e8f-a6c5-3d2e1f0a9b87", "specVersion": "2.3.0", "version": 0,
    "created": "2024-03-01T00:00:00Z", "status": "Active", "companyName": "Changzhou Steel",
    "companyIds": ["urn:pact:changzhou-steel.cn:company-id:1"], "productDescription": "Hot-rolled coil",
    "productIds": ["urn:pact:changzhou-steel.cn:product-id:hrc"], "productCategoryCpc": "4121",
    "productNameCompany": "HRC", "comment": "",
    "pcf": {"declaredUnit": "kilogram", "unitaryProductAmount": "1", "pCfExcludingBiogenic": "2.1",
            "fossilGhgEmissions": "2.1", "fossilCarbonContent": "0", "biogenicCarbonContent": "0",
            "dLucGhgEmissions": "0", "landManagementGhgEmissions": "0", "otherBiogenicGhgEmissions": "0",
            "characterizationFactors": "AR6", "ipccCharacterizationFactorsSources": ["AR6"],
            "crossSectoralStandardsUsed": ["ISO Standard 14067"], "boundaryProcessesDescription": "",
            "referencePeriodStart": "2023-01-01T00:00:00Z", "referencePeriodEnd": "2024-01-01T00:00:00Z",
            "exemptedEmissionsPercent": 0, "exemptedEmissionsDescription": "", "packagingEmissionsIncluded": False},
}
