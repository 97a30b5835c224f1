"""The pull connector against a real supplier: a second pcfx instance (`pcfx api` over HTTPS, its own
topics on the real broker) seeded with the reference footprints. Each footprint version lands on the
buyer's ``footprints`` topic exactly once: across runs, after a restart, via a PublishedEvent, and when
the supplier was down at first."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from pact_host import isolated_settings, publish, reference_footprints, running, wait_for
from prometheus_client import REGISTRY

from pcfx.connectors import puller as puller_module
from pcfx.connectors.kafka_io import confirm, read_to_end
from pcfx.connectors.pact_api.api_cli import tls_server
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.events import PUBLISHED
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.tls import certificate_files
from pcfx.connectors.pact_client import PactClient
from pcfx.connectors.puller import Puller, retrying
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model

BUYER = ("buyer-pcfx", "urn:pact:buyer.example:company-id:1")  # our client at the supplier's host


@dataclass
class Supplier:
    settings: Settings
    host: Host
    secret: str
    seeded: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.settings.api_port}"

    def client(self) -> PactClient:
        trust = ssl.create_default_context(cafile=str(certificate_files(self.settings)[0]))
        return PactClient(self.url, BUYER[0], self.secret, verify=trust)


def open_supplier(settings: Settings, seeded: list[dict[str, Any]]) -> Supplier:
    """The supplier's host with our client registered, its footprints shared with us and loaded into its
    read model, but not serving HTTPS yet (see :func:`serving`)."""
    host = Host.open(settings)
    secret = host.clients.add(*BUYER)
    for owner in {pf["companyIds"][0] for pf in seeded}:
        host.readmodel.grant(BUYER[1], owner_company=owner)
    certificate_files(settings)  # the self-signed certificate we will trust
    host.start()
    wait_for(lambda: host.readmodel.count() == len(seeded), "the supplier's read model")
    return Supplier(settings, host, secret, seeded)


@contextmanager
def serving(supplier: Supplier) -> Iterator[Supplier]:
    """`pcfx api`'s TLS server in front of the started host; the host is closed when the block ends."""
    app = create_app(supplier.settings, host=supplier.host, background=False)
    with running(tls_server(supplier.settings, app, log_level="warning")):
        yield supplier


@pytest.fixture
def supplier(kafka: str, tmp_path: Path) -> Iterator[Supplier]:
    seeded = reference_footprints()
    with isolated_settings(kafka, tmp_path / "supplier") as settings:
        publish(settings, seeded)
        with serving(open_supplier(settings, seeded)) as running:
            yield running


@contextmanager
def puller(settings: Settings, supplier: Supplier) -> Iterator[Puller]:
    """A pull connector as `pcfx pull` builds it (a new one is a restart: same data dir, same ledger)."""
    with supplier.client() as client, SupplierClient(settings) as kafka:
        pulling = Puller(settings, client, kafka.publish_footprints)
        try:
            yield pulling
        finally:
            pulling.close()


def published(settings: Settings) -> list[tuple[str, str]]:
    """(id, status) of every record on the buyer's ``footprints`` topic, in topic order per partition."""
    decode = lambda _key, value: decode_model(ProductFootprint, value)  # noqa: E731
    return [(pf.id, pf.status) for pf in read_to_end(settings, settings.topic("footprints"), decode)]


def test_each_footprint_is_published_once_across_runs_and_a_restart(settings: Settings, supplier: Supplier) -> None:
    with puller(settings, supplier) as first:
        rounds = [first.sync(), first.sync()]
    with puller(settings, supplier) as restarted:
        rounds.append(restarted.sync())
    assert [(r.published, r.unchanged) for r in rounds] == [(62, 0), (0, 62), (0, 62)]
    records = published(settings)
    assert len(records) == 62
    assert sorted(records) == sorted((pf["id"], "Active") for pf in supplier.seeded)


def test_a_published_event_brings_the_deprecation_without_waiting_for_the_next_sync(
    settings: Settings, supplier: Supplier
) -> None:
    stop = threading.Event()
    with puller(settings, supplier) as pulling:
        loop = threading.Thread(target=pulling.run, args=(stop, 3600.0, lambda summary: None), daemon=True)
        loop.start()
        wait_for(lambda: len(published(settings)) == 62, "the first sync")
        retired = dict(supplier.seeded[0], status="Deprecated")
        publish(supplier.settings, [retired])  # the supplier deprecates a footprint ...
        wait_for(lambda: supplier.host.readmodel.get(retired["id"])["status"] == "Deprecated", "the deprecation")
        post_published_event(settings, retired["id"])  # ... and tells us, through our `pcfx api`
        wait_for(lambda: (retired["id"], "Deprecated") in published(settings), "the re-fetched deprecation")
        stop.set()
        loop.join(timeout=30)
    assert len(published(settings)) == 63


def test_a_supplier_that_is_down_is_retried_until_it_answers(
    settings: Settings, kafka: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(puller_module, "FIRST_RETRY_S", 0.2)
    seeded = reference_footprints()[:5]
    failed = lambda: REGISTRY.get_sample_value("pcfx_pull_attempts_total", {"outcome": "failed"}) or 0.0  # noqa: E731
    with isolated_settings(kafka, tmp_path / "supplier") as supplier_settings:
        publish(supplier_settings, seeded)
        down = open_supplier(supplier_settings, seeded)
        with puller(settings, down) as pulling:
            before, result = failed(), {}
            attempt = threading.Thread(target=lambda: result.update(summary=retrying(pulling.sync, threading.Event())))
            attempt.start()
            wait_for(lambda: failed() >= before + 2, "two failed attempts while the supplier is down")
            with serving(down):
                attempt.join(timeout=60)
                pulling.client.close()  # no keep-alive connection left for the server to wait on
    assert result["summary"].published == 5
    assert sorted(published(settings)) == sorted((pf["id"], "Active") for pf in seeded)


def post_published_event(settings: Settings, pf_id: str) -> None:
    """What our `pcfx api` writes to ``inbound-events`` when the supplier POSTs a PublishedEvent."""
    event = {"type": PUBLISHED, "specversion": "1.0", "id": f"published-{pf_id}", "source": "//supplier.example",
             "time": "2025-03-01T00:00:00Z", "data": {"pfIds": [pf_id]}}
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    headers = [("content-type", b"application/cloudevents+json"), ("pcfx-client-id", b"supplier")]
    sent = producer.send(settings.topic("inbound-events"), key=b"//supplier.example", value=json.dumps(event).encode(), headers=headers)
    confirm(producer, [sent])
    producer.close()


def test_pcfx_pull_once_run_twice_publishes_each_footprint_once(settings: Settings, supplier: Supplier) -> None:
    cert = certificate_files(supplier.settings)[0]
    command = [sys.executable, "-m", "pcfx.cli", "pull", "--once", "--url", supplier.url, "--client-id", BUYER[0],
               "--client-secret", supplier.secret, "--ca-file", str(cert)]
    env = {**os.environ, **settings.to_env()}
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert "62 seen, 62 published, 0 unchanged" in runs[0].stdout
    assert "62 seen, 0 published, 62 unchanged" in runs[1].stdout
    assert len(published(settings)) == 62
