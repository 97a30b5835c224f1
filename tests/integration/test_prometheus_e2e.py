"""Issue 6: a real Prometheus scraping a real worker and a real `pcfx api` (separate processes) while supplier
footprints flow through the real broker. What Prometheus stores must match what happened exactly: the
throughput counters rise by the number of footprints published, and the derived-stage latency histogram
counts one observation per derived footprint published.

Waits are bounded; nothing here asserts a duration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from pcfx.connectors.kafka_io import read_to_end, settle
from pcfx.connectors.supplier import SupplierClient
from pcfx.ops.prometheus import ensure_prometheus, local_config
from pcfx.schemas.models import ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT, RECIPE
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model
from pact_host import wait_for
from workers import start_worker, stop_worker

SUPPLIER_PRODUCTS = [f"urn:pcfx:test:steel-{i}" for i in range(6)]
WAIT_S = 90.0  # scrapes every second; generous for a shared 2-core machine


def footprint(product: str, index: int) -> ProductFootprint:
    doc = {**FOOTPRINT, "id": f"3f0b6a52-7d0e-4c55-9a57-3c1c1f0e2a{index:02d}", "productIds": [product]}
    return ProductFootprint.from_json(doc)


def recipe(product: str, inputs: list[str]) -> ProductRecipe:
    lines = [{"productId": p, "quantity": "2", "unit": "kilogram"} for p in inputs]
    return ProductRecipe.from_json({**RECIPE, "recipeId": product, "productIds": [product], "inputs": lines})


def supply_chain() -> list[ProductRecipe]:
    """Frame i uses steel i; a bike uses frames 0 and 1 (two tiers), so one footprint can derive two products."""
    frames = [recipe(f"frame-{i}", [steel]) for i, steel in enumerate(SUPPLIER_PRODUCTS)]
    return [*frames, recipe("bike", ["frame-0", "frame-1"])]


@pytest.fixture
def prometheus(settings: Settings, tmp_path: Path) -> Iterator[httpx.Client]:
    """Prometheus scraping this test's worker and API every second (rules left out: not under test here)."""
    config = local_config(settings, workers=1)
    config["global"]["scrape_interval"] = "1s"
    config["rule_files"] = []
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    command = [str(ensure_prometheus()), f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{settings.prometheus_port}"]
    with (tmp_path / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{settings.prometheus_port}", trust_env=False, timeout=10)
    try:
        wait_for(lambda: ready(client), "Prometheus to be ready", WAIT_S)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(30)


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`pcfx api` as its own process: it serves /metrics on PCFX_API_METRICS_PORT."""
    env = {**os.environ, **settings.to_env()}
    with (tmp_path / "api.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "pcfx.cli", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    process.wait(30)


def ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def by_job(client: httpx.Client, promql: str) -> dict[str, float]:
    """``sum by (job) (promql)`` as {job: value}; a series not yet created counts as absent."""
    body = client.get("/api/v1/query", params={"query": f"sum by (job) ({promql})"}).json()
    assert body["status"] == "success", body
    return {row["metric"]["job"]: float(row["value"][1]) for row in body["data"]["result"]}


def reached(client: httpx.Client, promql: str, wanted: dict[str, float]) -> dict[str, float] | None:
    """The jobs' current values once each is at least what is wanted (so a test can compare them exactly)."""
    got = by_job(client, promql)
    current = {job: got.get(job, 0.0) for job in wanted}
    return current if all(current[job] >= value for job, value in wanted.items()) else None


def targets_up(client: httpx.Client) -> bool:
    up = by_job(client, 'up{job=~"pcfx-worker|pcfx-api"}')
    return up.get("pcfx-worker") == 1 and up.get("pcfx-api") == 1


def active_derived(settings: Settings) -> int:
    """Active derived footprints on the `derived` topic (a replaced one is re-published as Deprecated)."""
    statuses = read_to_end(settings, settings.topic("derived"), lambda _k, v: decode_model(ProductFootprint, v).status)
    return sum(1 for status in statuses if status == "Active")


def test_prometheus_counts_exactly_what_flowed_through_worker_and_api(settings, prometheus, api, tmp_path):
    worker = start_worker(settings, tmp_path / "worker.log", web_port=settings.worker_web_port)
    try:
        with SupplierClient(settings) as supplier:
            supplier.publish_recipes(supply_chain())
            wait_for(lambda: targets_up(prometheus), "the worker and the API to be scraped", WAIT_S)
            settle(settings)
            consumed = 'pcfx_records_consumed_total{topic="footprints"}'
            latency = 'pcfx_end_to_end_latency_seconds_count{stage="derived"}'
            before = {job: by_job(prometheus, consumed).get(job, 0.0) for job in ("pcfx-worker", "pcfx-api")}
            derived_before = by_job(prometheus, latency).get("pcfx-worker", 0.0)
            assert derived_before == active_derived(settings) == 0  # recipes alone derive nothing

            footprints = [footprint(product, i) for i, product in enumerate(SUPPLIER_PRODUCTS)]
            supplier.publish_footprints(footprints)
        settle(settings)
        derived = active_derived(settings)
        assert derived >= len(SUPPLIER_PRODUCTS) + 1  # every frame and the bike, at least once

        n = len(footprints)
        wanted = {job: before[job] + n for job in before}
        seen = wait_for(lambda: reached(prometheus, consumed, wanted), f"{consumed} to rise by {n}", WAIT_S)
        assert seen == wanted  # exactly N more: nothing counted twice, nothing missed
        wanted = {"pcfx-worker": derived_before + derived}
        counted = wait_for(lambda: reached(prometheus, latency, wanted), f"{latency} to reach {derived}", WAIT_S)
        assert counted == wanted
    finally:
        stop_worker(worker)
