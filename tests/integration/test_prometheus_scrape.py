"""`pcfx ops prometheus` runs a real Prometheus that scrapes a pcfx metrics endpoint, loads the alert
rules, and accepts every query of the Grafana dashboard."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pcfx.metrics import Metrics, Stage, start_metrics_server
from pcfx.ops.kafka import free_port
from pcfx.ops.prometheus import ensure_prometheus, running_pid
from pcfx.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # a scrape every 5 s and a rule evaluation every 15 s; generous on a shared machine


def pcfx_ops(settings: Settings, *args: str) -> str:
    env = {**os.environ, "PCFX_DATA_DIR": str(settings.data_dir),
           "PCFX_PROMETHEUS_PORT": str(settings.prometheus_port), "PCFX_METRICS_PORT": str(settings.metrics_port)}
    done = subprocess.run(["pcfx", "ops", "prometheus", *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def settings(tmp_path) -> Settings:
    ensure_prometheus()
    return Settings.from_env({}, data_dir=tmp_path, prometheus_port=free_port(), metrics_port=free_port())


@pytest.fixture
def metrics(settings) -> Iterator[Metrics]:
    """A connector-like process: its own registry, served where the `pcfx-connectors` job scrapes."""
    metrics = Metrics.create(CollectorRegistry())
    server = start_metrics_server(settings.metrics_port, metrics.registry)
    yield metrics
    server.shutdown()


@pytest.fixture
def prometheus(settings, metrics) -> Iterator[httpx.Client]:
    out = pcfx_ops(settings, "--background")
    assert f"http://127.0.0.1:{settings.prometheus_port}" in out
    client = httpx.Client(base_url=f"http://127.0.0.1:{settings.prometheus_port}", trust_env=False, timeout=10)
    yield client
    client.close()
    pcfx_ops(settings, "--stop")


def query(client: httpx.Client, promql: str) -> list[dict]:
    body = client.get("/api/v1/query", params={"query": promql}).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for(client: httpx.Client, promql: str) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = query(client, promql)
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"no result for {promql} within {WAIT_S:.0f} s")


def test_prometheus_scrapes_the_counts_a_process_recorded(settings, metrics, prometheus):
    metrics.records_produced.labels(topic="footprints").inc(7)
    for published_ms in (1_000, 2_000, 3_000):
        metrics.observe_end_to_end(Stage.LABEL, published_ms, now_s=3.5)  # 2.5 s, 1.5 s, 0.5 s
    result = wait_for(prometheus, 'pcfx_records_produced_total{job="pcfx-connectors",topic="footprints"}')
    assert float(result[0]["value"][1]) == 7
    count = query(prometheus, 'pcfx_end_to_end_latency_seconds_count{stage="label"}')
    assert float(count[0]["value"][1]) == 3
    within_1s = query(prometheus, 'pcfx_end_to_end_latency_seconds_bucket{stage="label",le="1.0"}')
    assert float(within_1s[0]["value"][1]) == 1


def test_prometheus_loads_every_alert_rule(prometheus):
    groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert len(names) == 12
    assert "PcfxNoThroughput" in names and "pcfx:end_to_end_slow_ratio:rate5m" in names


def test_every_dashboard_query_is_valid_promql(prometheus):
    panels = json.loads((ROOT / "ops/grafana/dashboards/pcfx.json").read_text())["panels"]
    for panel in panels:
        for target in panel.get("targets", []):
            query(prometheus, target["expr"].replace("$__rate_interval", "1m"))


def test_stop_ends_the_background_prometheus(settings, metrics):
    pcfx_ops(settings, "--background")
    pid = running_pid(settings)
    assert pid is not None
    assert pcfx_ops(settings, "--background").strip().endswith(f"http://127.0.0.1:{settings.prometheus_port}")
    assert running_pid(settings) == pid  # a second start finds the first
    assert pcfx_ops(settings, "--stop").strip() == f"prometheus stopped (pid {pid})"
    assert running_pid(settings) is None
    assert pcfx_ops(settings, "--stop").strip() == "prometheus was not running"
