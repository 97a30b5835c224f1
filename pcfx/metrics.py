"""Every pcfx Prometheus metric, declared in one place on an injectable registry.

Processes use the module-level :data:`METRICS` (on prometheus-client's default registry); tests build
their own with ``Metrics.create(CollectorRegistry())`` so counts never leak between tests.

Labels are structural and bounded: topic (logical name, see :func:`topic_label`), stage, reason, route,
status, outcome, client. Never a product, footprint or buyer id: one series per product would grow
without bound and drown Prometheus. ``docs/operations.md`` lists each metric and the question it answers;
a unit test keeps that table, the alert rules and the Grafana dashboard in step with this module.

Several workers do not share a registry: each process serves its own ``/metrics`` and Prometheus scrapes
every process as its own target (the ``instance`` label tells them apart); queries ``sum`` over instances.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

# End-to-end latency, supplier publish -> derived footprint or label: 1 ms .. 60 s, in seconds. The 1.0
# bucket is the latency objective's threshold (rules/pcfx-alerts.yml reads `le="1.0"`): keep it.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# One recompute micro-batch: 100 us .. 10 s, in seconds.
RECOMPUTE_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
# API request handling time: 1 ms .. 10 s, in seconds.
REQUEST_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# Products recomputed per upstream update (a count, not a time): 0 .. 100k.
FANOUT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 500, 1_000, 5_000, 10_000, 100_000)

BUYER_TOPIC_PREFIX = "labels.buyer."  # per-buyer label topics count as one topic label value


class Stage(StrEnum):
    """Where the end-to-end latency clock stops (it starts at the supplier's publish time)."""

    DERIVED = "derived"  # a downstream footprint was recomputed and published on `derived`
    LABEL = "label"  # a carbon label was published for a buyer on `labels`


class Reason(StrEnum):
    """Why a record was rejected: the closed set of values of every ``reason`` label."""

    DECODE = "decode"  # the bytes are not our Avro (bad marker, unknown schema fingerprint, truncated)
    CONTRACT = "contract"  # decoded, but breaks the PACT data model (a named field is invalid)
    INTERNAL = "internal"  # pcfx failed on a valid record: a bug; the dead letter carries the traceback text


class Outcome(StrEnum):
    """How one webhook delivery attempt ended."""

    DELIVERED = "delivered"  # the subscriber answered 2xx
    FAILED = "failed"  # error or non-2xx; the delivery will be retried
    ABANDONED = "abandoned"  # failed and older than PCFX_WEBHOOK_MAX_AGE_S: no more retries


# Exception class names (anywhere in the error's MRO) -> reason. Names, not imports: these classes live in
# schemas/, streams/ and connectors/, whose modules record metrics themselves; importing them here would
# make import cycles. Unknown classes count as internal, so a new error kind shows up, never vanishes.
_REASON_BY_ERROR = {
    "DecodeError": Reason.DECODE,  # streams.codec: bad marker, unknown fingerprint, broken body
    "IncompatibleSchema": Reason.DECODE,  # streams.codec: writer schema unreadable with ours
    "ContractError": Reason.CONTRACT,  # schemas.errors: the record breaks the data contract
    "RuleViolation": Reason.CONTRACT,  # schemas.errors: a cross-field rule
    "ValidationError": Reason.CONTRACT,  # pydantic's, when a model is validated directly
    "InvalidFootprint": Reason.CONTRACT,  # streams.rollup: a leaf or recipe the engine refuses
    "CsvError": Reason.CONTRACT,  # connectors.csv_io: a CSV cell the roll-up cannot use
    "OwnershipError": Reason.CONTRACT,  # streams.ownership: a footprint of a product another company owns
}


def reject_reason(error: BaseException) -> Reason:
    """The bounded ``reason`` label for a rejected record's error (free text stays in the dead letter)."""
    for cls in type(error).__mro__:
        if cls.__name__ in _REASON_BY_ERROR:
            return _REASON_BY_ERROR[cls.__name__]
    return Reason.INTERNAL


def topic_label(topic: str, prefix: str = "") -> str:
    """The ``topic`` label value: the logical name without ``PCFX_TOPIC_PREFIX``, per-buyer topics folded.

    Logical names keep alert rules and dashboards independent of the prefix, and folding
    ``labels.buyer.<id>`` into ``labels.buyer`` keeps the label bounded as buyers join.
    """
    name = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
    if name.startswith(BUYER_TOPIC_PREFIX):
        return BUYER_TOPIC_PREFIX.rstrip(".")
    return name


def seconds_since(epoch_ms: int, now_s: float | None = None) -> float:
    """Seconds from a Kafka timestamp (milliseconds since the epoch) to now, never negative.

    Producers' clocks can run ahead of ours by a few milliseconds; a negative observation would
    corrupt the histogram's ``_sum``, so skew counts as zero latency.
    """
    now = time.time() if now_s is None else now_s
    return max(0.0, now - epoch_ms / 1000.0)


def consumer_lags(
    end_offsets: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int], prefix: str = ""
) -> dict[tuple[str, int], int]:
    """Records behind per (topic label, partition): end offset minus committed offset, never negative.

    Both offsets point at the *next* record (Kafka's convention), so a partition whose 10 records were all
    committed has end 10, committed 10, lag 0. Left out: partitions without a committed offset, and with a
    ``prefix``, topics outside it (Faust's own changelog and assignor topics). Topics folded into one
    label (per-buyer topics) add up.
    """
    lags: dict[tuple[str, int], int] = {}
    for (topic, partition), end in end_offsets.items():
        if (topic, partition) in committed and topic.startswith(prefix):
            key = (topic_label(topic, prefix), partition)
            lags[key] = lags.get(key, 0) + max(0, end - committed[(topic, partition)])
    return lags


class Metrics(NamedTuple):
    """The pcfx metrics of one registry. Build with :meth:`create`; never construct two on one registry."""

    registry: CollectorRegistry
    records_consumed: Counter
    records_produced: Counter
    validation_failures: Counter
    dead_letters: Counter
    recipes_recalled: Counter
    upstream_updates: Counter
    recomputes: Counter
    recompute_fanout: Histogram
    recompute_seconds: Histogram
    products_solved: Counter
    steps_routed: Counter
    batches_cancelled: Counter
    shard_boundaries: Counter
    derived_footprints: Counter
    carbon_labels: Counter
    end_to_end_latency: Histogram
    consumer_lag: Gauge
    webhook_deliveries: Counter
    webhook_retries: Counter
    api_requests: Counter
    api_request_seconds: Histogram
    kafka_connected: Gauge
    pull_attempts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "Metrics":
        """Declare every metric on ``registry`` (raises ``ValueError`` if they are already there)."""
        r = registry
        return cls(
            registry=r,
            records_consumed=Counter(
                "pcfx_records_consumed_total", "Records read from a Kafka topic.", ["topic"], registry=r
            ),
            records_produced=Counter(
                "pcfx_records_produced_total", "Records written to a Kafka topic.", ["topic"], registry=r
            ),
            validation_failures=Counter(
                "pcfx_validation_failures_total",
                "Records that failed decoding or validation.",
                ["topic", "reason"],
                registry=r,
            ),
            dead_letters=Counter(
                "pcfx_dead_letters_total",
                "Records sent to a dead-letter topic; `topic` is the topic they came from.",
                ["topic", "reason"],
                registry=r,
            ),
            recipes_recalled=Counter(
                "pcfx_recipes_recalled_total",
                "Recipes accepted without validating them again: content this worker accepted before, but for `updated`.",
                registry=r,
            ),
            upstream_updates=Counter(
                "pcfx_upstream_updates_total", "Footprint or recipe updates fed to the recompute engine.", registry=r
            ),
            recomputes=Counter(
                "pcfx_recomputes_total", "Product footprints recomputed by the engine.", registry=r
            ),
            recompute_fanout=Histogram(
                "pcfx_recompute_fanout",
                "Products recomputed per upstream update (per micro-batch: products / updates folded).",
                buckets=FANOUT_BUCKETS,
                registry=r,
            ),
            recompute_seconds=Histogram(
                "pcfx_recompute_seconds",
                "Time to recompute one micro-batch, in seconds.",
                buckets=RECOMPUTE_BUCKETS_S,
                registry=r,
            ),
            products_solved=Counter(
                "pcfx_products_solved_total",
                "Recipe products solved by this worker's shards (once per change each: the work a worker does).",
                registry=r,
            ),
            steps_routed=Counter(
                "pcfx_steps_routed_total", "Steps the router planned (a micro-batch of graph-updates, bulk changes whole).",
                registry=r,
            ),
            batches_cancelled=Counter(
                "pcfx_batches_cancelled_total",
                "Bulk changes their producer cancelled half-sent (a later record broke the contract); none took effect.",
                registry=r,
            ),
            shard_boundaries=Counter(
                "pcfx_shard_boundaries_total", "Results a shard sent to the shards whose products use them.", registry=r
            ),
            derived_footprints=Counter(
                "pcfx_derived_footprints_total", "Derived footprints published on the `derived` topic.", registry=r
            ),
            carbon_labels=Counter(
                "pcfx_carbon_labels_total", "Carbon labels published for buyers.", registry=r
            ),
            end_to_end_latency=Histogram(
                "pcfx_end_to_end_latency_seconds",
                "Seconds from the supplier's publish time to the derived footprint or the label.",
                ["stage"],
                buckets=LATENCY_BUCKETS_S,
                registry=r,
            ),
            consumer_lag=Gauge(
                "pcfx_consumer_lag",
                "Records in a partition not yet committed by this worker's consumer group.",
                ["topic", "partition"],
                registry=r,
            ),
            webhook_deliveries=Counter(
                "pcfx_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"], registry=r
            ),
            webhook_retries=Counter(
                "pcfx_webhook_retries_total", "Webhook delivery attempts that were retries.", registry=r
            ),
            api_requests=Counter(
                "pcfx_api_requests_total",
                "PACT API requests by route template and HTTP status.",
                ["route", "status"],
                registry=r,
            ),
            api_request_seconds=Histogram(
                "pcfx_api_request_seconds",
                "PACT API request handling time by route template, in seconds.",
                ["route"],
                buckets=REQUEST_BUCKETS_S,
                registry=r,
            ),
            kafka_connected=Gauge(
                "pcfx_kafka_connected",
                "1 if this process's last Kafka round trip succeeded, else 0.",
                ["client"],
                registry=r,
            ),
            pull_attempts=Counter(
                "pcfx_pull_attempts_total",
                "Rounds of the pull connector against a supplier's PACT host: ok, or failed (retried with backoff).",
                ["outcome"],
                registry=r,
            ),
        )

    def observe_end_to_end(self, stage: Stage, published_at_ms: int, now_s: float | None = None) -> float:
        """Record the latency of one output from its supplier publish time; returns the seconds observed."""
        seconds = seconds_since(published_at_ms, now_s)
        self.end_to_end_latency.labels(stage=stage.value).observe(seconds)
        return seconds

    def observe_recompute(self, updates: int, products: int, seconds: float) -> None:
        """Record one micro-batch: ``updates`` folded in, ``products`` recomputed, ``seconds`` spent."""
        self.upstream_updates.inc(updates)
        self.recomputes.inc(products)
        self.recompute_fanout.observe(products / max(updates, 1))
        self.recompute_seconds.observe(seconds)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Record one API request; ``route`` is the route template (``/3/footprints/{id}``), never the path."""
        self.api_requests.labels(route=route, status=str(status)).inc()
        self.api_request_seconds.labels(route=route).observe(seconds)

    def observe_delivery(self, outcome: Outcome, attempt: int) -> None:
        """Record one webhook attempt; ``attempt`` counts from 1, so any later attempt is a retry."""
        self.webhook_deliveries.labels(outcome=outcome.value).inc()
        if attempt > 1:
            self.webhook_retries.inc()

    def reject(self, topic: str, error: BaseException) -> Reason:
        """Count a record refused at an edge (API, CSV, CLI); internal errors are not validation failures."""
        reason = reject_reason(error)
        if reason is not Reason.INTERNAL:
            self.validation_failures.labels(topic=topic, reason=reason.value).inc()
        return reason

    def dead_letter(self, topic: str, error: BaseException) -> Reason:
        """Count a record a stream agent sent to the dead-letter topic of ``topic``, and why."""
        reason = self.reject(topic, error)
        self.dead_letters.labels(topic=topic, reason=reason.value).inc()
        return reason

    def set_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Replace every lag series with ``lags`` ((topic label, partition) -> records behind).

        Partitions that moved to another worker must disappear from this one, not freeze at their last
        value, or ``sum by (topic)`` would count them twice.
        """
        self.consumer_lag.clear()
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)


METRICS = Metrics.create(REGISTRY)


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry in Prometheus text format and its content type, for a Starlette or aiohttp route."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def start_metrics_server(
    port: int, registry: CollectorRegistry = REGISTRY, addr: str = "127.0.0.1"
) -> WSGIServer:
    """Serve ``/metrics`` from a daemon thread, for processes without a web server of their own.

    Binds to ``addr`` only (loopback by default; containers pass ``0.0.0.0``) and returns the server,
    whose ``shutdown()`` stops it. Raises ``OSError`` when the port is taken: give each process its own
    ``PCFX_METRICS_PORT``.
    """
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server
