"""pcfx/metrics.py: names and labels follow Prometheus conventions, the helpers count what they say, and the
dashboard, the alert rules and the README mention only metrics that exist (and the README all of them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from pcfx.metrics import (
    LATENCY_BUCKETS_S,
    Metrics,
    Outcome,
    Reason,
    Stage,
    consumer_lags,
    reject_reason,
    render,
    seconds_since,
    topic_label,
)
from pcfx.schemas.errors import ContractError, RuleViolation
from pcfx.streams.codec import DecodeError, IncompatibleSchema

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops/grafana/dashboards/pcfx.json"
DATASOURCE = ROOT / "ops/grafana/provisioning/datasources/prometheus.yml"
RULES = ROOT / "ops/prometheus/rules/pcfx-alerts.yml"
OPERATIONS = ROOT / "README.md"  # the metric table lives in the README
METRIC_NAME = re.compile(r"\bpcfx_[a-z0-9_]+")
BOUNDED_LABELS = {"topic", "partition", "stage", "reason", "route", "status", "outcome", "client"}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics.create(CollectorRegistry())


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def exposed_names(metrics: Metrics) -> set[str]:
    """Every series name a scrape can show: counters gain ``_total``, histograms their three series."""
    names: set[str] = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            names.add(family.name)
    return names


def families(metrics: Metrics) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Exposed name (counters with ``_total``) -> (type, label names) of every declared metric.

    prometheus-client keeps label names only on a private attribute; it has been there since 0.1.
    """
    declared = {}
    for metric in metrics[1:]:  # field 0 is the registry
        suffix = "_total" if metric._type == "counter" else ""
        declared[metric._name + suffix] = (metric._type, tuple(metric._labelnames))
    return declared


# --- conventions --------------------------------------------------------------------------------------


def test_every_metric_is_prefixed_and_counters_end_in_total(metrics):
    text = generate_latest(metrics.registry).decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    assert all(name.startswith("pcfx_") for name in types)
    counters = [name for name, kind in types.items() if kind == "counter"]
    assert len(counters) == 17
    assert all(name.endswith("_total") for name in counters)


def test_times_are_histograms_in_seconds(metrics):
    histograms = {name for name, (kind, _) in families(metrics).items() if kind == "histogram"}
    assert histograms == {
        "pcfx_recompute_fanout",  # a count of products, not a time
        "pcfx_recompute_seconds",
        "pcfx_end_to_end_latency_seconds",
        "pcfx_api_request_seconds",
    }


def test_labels_are_structural_never_an_id(metrics):
    for name, (_, labels) in families(metrics).items():
        assert set(labels) <= BOUNDED_LABELS, name


def test_latency_buckets_span_one_millisecond_to_a_minute():
    assert LATENCY_BUCKETS_S[0] == 0.001
    assert LATENCY_BUCKETS_S[-1] == 60.0
    assert list(LATENCY_BUCKETS_S) == sorted(LATENCY_BUCKETS_S)


def test_one_registry_holds_one_set_of_metrics(metrics):
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics.create(metrics.registry)


# --- what the helpers count ---------------------------------------------------------------------------


def test_end_to_end_latency_is_seconds_from_the_publish_time(metrics):
    seconds = metrics.observe_end_to_end(Stage.LABEL, published_at_ms=1_000_000, now_s=1_001.5)
    assert seconds == 1.5
    assert value(metrics, "pcfx_end_to_end_latency_seconds_count", stage="label") == 1
    assert value(metrics, "pcfx_end_to_end_latency_seconds_sum", stage="label") == 1.5
    assert value(metrics, "pcfx_end_to_end_latency_seconds_bucket", stage="label", le="1.0") == 0
    assert value(metrics, "pcfx_end_to_end_latency_seconds_bucket", stage="label", le="2.5") == 1


def test_a_publisher_clock_ahead_of_ours_counts_as_zero_latency():
    assert seconds_since(epoch_ms=2_000_500, now_s=2_000.0) == 0.0


def test_the_objective_bucket_is_exposed_as_le_1_0(metrics):
    """rules/pcfx-alerts.yml selects le="1.0"; the exposition must spell it that way."""
    metrics.observe_end_to_end(Stage.DERIVED, published_at_ms=0, now_s=0.5)
    text = generate_latest(metrics.registry).decode()
    assert 'pcfx_end_to_end_latency_seconds_bucket{le="1.0",stage="derived"} 1.0' in text
    assert 'le="1.0"' in RULES.read_text()


def test_recompute_counts_products_updates_and_fanout(metrics):
    metrics.observe_recompute(updates=2, products=10, seconds=0.004)
    metrics.observe_recompute(updates=1, products=3, seconds=0.001)
    assert value(metrics, "pcfx_upstream_updates_total") == 2 + 1
    assert value(metrics, "pcfx_recomputes_total") == 10 + 3
    assert value(metrics, "pcfx_recompute_fanout_sum") == 10 / 2 + 3 / 1
    assert value(metrics, "pcfx_recompute_seconds_count") == 2


def test_api_requests_by_route_template_and_status(metrics):
    metrics.observe_request("/3/footprints/{id}", 200, 0.02)
    metrics.observe_request("/3/footprints/{id}", 404, 0.01)
    metrics.observe_request("/3/footprints/{id}", 200, 0.03)
    assert value(metrics, "pcfx_api_requests_total", route="/3/footprints/{id}", status="200") == 2
    assert value(metrics, "pcfx_api_requests_total", route="/3/footprints/{id}", status="404") == 1
    assert value(metrics, "pcfx_api_request_seconds_count", route="/3/footprints/{id}") == 3


def test_webhook_outcomes_and_retries(metrics):
    metrics.observe_delivery(Outcome.FAILED, attempt=1)
    metrics.observe_delivery(Outcome.FAILED, attempt=2)
    metrics.observe_delivery(Outcome.DELIVERED, attempt=3)
    metrics.observe_delivery(Outcome.DELIVERED, attempt=1)
    assert value(metrics, "pcfx_webhook_deliveries_total", outcome="failed") == 2
    assert value(metrics, "pcfx_webhook_deliveries_total", outcome="delivered") == 2
    assert value(metrics, "pcfx_webhook_retries_total") == 2  # attempts 2 and 3


class StricterContractError(ContractError):
    """A subclass still maps to its parent's reason."""


def test_reject_reasons_are_a_closed_set():
    assert reject_reason(DecodeError("truncated body")) is Reason.DECODE
    assert reject_reason(IncompatibleSchema("writer schema has no default")) is Reason.DECODE
    assert reject_reason(ContractError("pf-1", [])) is Reason.CONTRACT
    assert reject_reason(StricterContractError("pf-1", [])) is Reason.CONTRACT
    assert reject_reason(RuleViolation("pcf.declaredUnitAmount", "0", "must be positive")) is Reason.CONTRACT
    assert reject_reason(ZeroDivisionError()) is Reason.INTERNAL


def test_dead_letters_count_validation_failures_but_not_bugs(metrics):
    metrics.dead_letter("footprints", DecodeError("bad marker"))
    metrics.dead_letter("footprints", ZeroDivisionError())
    metrics.reject("recipes", ContractError("recipe-7", []))  # refused at an edge, no dead letter
    assert value(metrics, "pcfx_dead_letters_total", topic="footprints", reason="decode") == 1
    assert value(metrics, "pcfx_dead_letters_total", topic="footprints", reason="internal") == 1
    assert value(metrics, "pcfx_validation_failures_total", topic="footprints", reason="decode") == 1
    assert value(metrics, "pcfx_validation_failures_total", topic="footprints", reason="internal") is None
    assert value(metrics, "pcfx_validation_failures_total", topic="recipes", reason="contract") == 1
    assert value(metrics, "pcfx_dead_letters_total", topic="recipes", reason="contract") is None


# --- topics and lag -----------------------------------------------------------------------------------


def test_topic_label_drops_the_prefix_and_folds_buyer_topics():
    assert topic_label("pcfx.footprints", "pcfx.") == "footprints"
    assert topic_label("t42.labels.buyer.acme-gmbh", "t42.") == "labels.buyer"
    assert topic_label("pcfx-product_to_input-changelog", "pcfx.") == "pcfx-product_to_input-changelog"


def test_lag_is_end_offset_minus_committed_offset():
    ends = {("pcfx.footprints", 0): 10, ("pcfx.footprints", 1): 7, ("pcfx.recipes", 0): 5}
    committed = {("pcfx.footprints", 0): 10, ("pcfx.footprints", 1): 3}
    assert consumer_lags(ends, committed, "pcfx.") == {("footprints", 0): 0, ("footprints", 1): 7 - 3}


def test_lag_leaves_out_faust_internal_topics():
    changelog, assignor = "pcfx-product_to_input-changelog", "pcfx-__assignor-__leader"
    ends = {("pcfx.footprints", 0): 4, (changelog, 0): 9, (assignor, 0): 1}
    committed = {("pcfx.footprints", 0): 1, (changelog, 0): 0, (assignor, 0): 0}
    assert consumer_lags(ends, committed, "pcfx.") == {("footprints", 0): 4 - 1}


def test_lag_of_folded_buyer_topics_adds_up():
    ends = {("pcfx.labels.buyer.a", 0): 9, ("pcfx.labels.buyer.b", 0): 4}
    committed = {("pcfx.labels.buyer.a", 0): 8, ("pcfx.labels.buyer.b", 0): 1}
    assert consumer_lags(ends, committed, "pcfx.") == {("labels.buyer", 0): (9 - 8) + (4 - 1)}


def test_partitions_moved_to_another_worker_leave_the_lag_gauge(metrics):
    metrics.set_consumer_lag({("footprints", 0): 4, ("footprints", 1): 6})
    metrics.set_consumer_lag({("footprints", 1): 2})
    assert value(metrics, "pcfx_consumer_lag", topic="footprints", partition="0") is None
    assert value(metrics, "pcfx_consumer_lag", topic="footprints", partition="1") == 2


def test_render_gives_text_format_for_a_web_route(metrics):
    metrics.records_consumed.labels(topic="footprints").inc(3)
    body, content_type = render(metrics.registry)
    assert 'pcfx_records_consumed_total{topic="footprints"} 3.0' in body.decode()
    assert content_type.startswith("text/plain")


# --- the dashboard, the rules and the docs name only declared metrics -------------------------------


def dashboard_exprs() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels if p["type"] != "row" for t in p["targets"]]


def test_every_dashboard_query_uses_declared_metrics(metrics):
    declared = exposed_names(metrics)
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for title, expr in exprs:
        used = set(METRIC_NAME.findall(expr))
        assert used, f"{title}: {expr} uses no pcfx metric"
        assert used <= declared, f"{title}: {used - declared} not in pcfx/metrics.py"


def test_dashboard_covers_what_operators_asked_for():
    text = " ".join(expr for _, expr in dashboard_exprs())
    for needed in (
        "pcfx_records_consumed_total",
        "pcfx_records_produced_total",
        "histogram_quantile(0.99, sum by (le, stage) (rate(pcfx_end_to_end_latency_seconds_bucket",
        "pcfx_consumer_lag",
        "pcfx_dead_letters_total",
        "pcfx_webhook_deliveries_total",
        "pcfx_api_requests_total",
    ):
        assert needed in text


def test_dashboard_uses_the_provisioned_datasource():
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    panels = [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]
    assert {p["datasource"]["uid"] for p in panels} == {uid}
    assert {t["datasource"]["uid"] for p in panels for t in p["targets"]} == {uid}


def test_alert_rules_use_declared_metrics(metrics):
    groups = yaml.safe_load(RULES.read_text())["groups"]
    exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert used and used <= exposed_names(metrics)


def test_operations_doc_lists_every_metric_and_no_other(metrics):
    rows = re.findall(r"^\| `(pcfx_[a-z0-9_]+)` \|", OPERATIONS.read_text(), flags=re.MULTILINE)
    assert len(rows) == len(set(rows))
    assert set(rows) == set(families(metrics))
