"""Issue 17 (5, last point): a broker outage costs the worker's log a handful of ERROR lines, not one per retry,
and the worker carries on by itself once the broker is back. On a broker of this test alone (own data dir and
ports), so stopping it disturbs no other test.

Without the filter of ``agents/quiet.py`` aiokafka logged about 3,100 ERROR lines in 27 s of outage on one
worker (one per failed connect, metadata refresh, fetch and coordinator request, a few hundred a second).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pact_host import wait_for
from workers import start_worker, stop_worker

from pcfx.agents.topics import create_topics
from pcfx.connectors.kafka_io import read_to_end
from pcfx.connectors.supplier import SupplierClient
from pcfx.ops.kafka import ensure_broker, free_port, libs_dir, stop_broker
from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.settings import Settings

pytestmark = pytest.mark.kafka

OUTAGE_S = 18.0
ERROR_LINE = re.compile(r"^\[[^\]]+\] \[\d+\] \[ERROR\] .*$", re.MULTILINE)
#: aiokafka fails in a few kinds while the broker is away (connect, metadata, fetch, heartbeat/commit, produce),
#: each logged by its own logger; the filter passes the first of each kind per outage. 20 leaves room for every
#: kind and the worker's own lines, and is two orders of magnitude below one line per retry: with the filter
#: taken out this test saw 1,814 ERROR lines in its 18 s of outage (2026-12-04), with it 4.
MOST_ERROR_LINES = 20


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    """A broker of this test alone (its launcher settings) and worker settings for it; always stopped afterwards."""
    broker = Settings.from_env(data_dir=tmp_path / "broker", kafka_libs=str(libs_dir(Settings.from_env())),
                               bootstrap_servers=f"127.0.0.1:{free_port()}", kafka_controller_port=free_port())
    ensure_broker(broker)
    prefix = f"t{uuid.uuid4().hex[:12]}."
    settings = Settings.from_env(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix, app_id=f"{prefix}app",
                                 data_dir=tmp_path / "worker", partitions=1, worker_web_port=free_port(),
                                 metrics_port=free_port(), api_port=free_port(), api_metrics_port=free_port())
    try:
        create_topics(settings)
        yield broker, settings
    finally:
        stop_broker(broker)


def footprint(pf_id: str, product: str) -> ProductFootprint:
    return ProductFootprint.from_json({**FOOTPRINT, "id": pf_id, "productIds": [product]})


def forwarded(settings: Settings) -> list[str]:
    """The footprint ids the validating agent sent on to the engine."""
    return [key.decode() for key in read_to_end(settings, settings.topic("graph-updates"), lambda k, v: k)]


def error_lines(log: Path) -> list[str]:
    return ERROR_LINE.findall(log.read_text(errors="replace"))


def test_a_broker_outage_logs_a_few_errors_and_the_worker_recovers(own_broker: tuple[Settings, Settings],
                                                                   tmp_path: Path) -> None:
    (broker, settings), log = own_broker, tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        with SupplierClient(settings) as supplier:
            supplier.publish(footprint("b1111111-1111-4111-8111-111111111111", "urn:pcfx:product:before"))
        wait_for(lambda: "leaf:urn:pcfx:product:before" in forwarded(settings), "the first footprint to be forwarded", 180, poll_s=0.5)
        before = len(error_lines(log))

        stop_broker(broker)
        time.sleep(OUTAGE_S)
        during = len(error_lines(log)) - before
        ensure_broker(broker)

        with SupplierClient(settings) as supplier:  # the worker takes a new record without being restarted
            supplier.publish(footprint("b2222222-2222-4222-8222-222222222222", "urn:pcfx:product:after"))
        wait_for(lambda: "leaf:urn:pcfx:product:after" in forwarded(settings), "the footprint sent after the outage to be forwarded", 240, poll_s=0.5)
        assert worker.poll() is None, "the worker died during the outage"
        after = len(error_lines(log)) - before
    finally:
        stop_worker(worker)
    print(f"ERROR lines: {before} before, {during} during {OUTAGE_S:.0f} s of outage, {after} until recovered")
    assert after <= MOST_ERROR_LINES, "\n".join(error_lines(log)[:MOST_ERROR_LINES + 10])
