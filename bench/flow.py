"""Traffic for the end-to-end benchmarks: load a graph into a running worker, publish supplier footprint
versions at a fixed rate, and watch the labels arrive at the buyer as a subscriber would.

Latency is measured outside pcfx: the publisher notes the wall-clock time of every ``send`` and the
subscriber the time each label arrives; a label's value tells which footprint version caused it
(``value(version)`` plus 0.1 kgCO2e per tier, see :mod:`pcfx.bench.workload`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from kafka import KafkaConsumer
from kafka.admin import NewTopic

from pcfx.agents.topics import admin_client, ensure_buyer_topic
from pcfx.bench.common import wait_until
from pcfx.bench.workload import BUYER, Graph, footprint, leaf_id, subscription
from pcfx.connectors.kafka_io import confirm, producer, send_all
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import CarbonLabel, ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn

OWN_PER_TIER = Decimal("0.1")  # kgCO2e each recipe adds (workload.recipe)
FIRST_VERSION = 1
GRACE_S = 30.0  # longest wait for the labels of a load run after its last publish
QUIET_S = 3.0  # no arrival for this long after the last publish: nothing more is coming


@dataclass
class Arrival:
    product: str  # product URN
    value: Decimal
    at: float  # wall-clock seconds


def label_arrival(value: bytes) -> tuple[str, Decimal] | None:
    label = decode_model(CarbonLabel, value)
    return label.product_id, Decimal(label.value)


def derived_arrival(value: bytes) -> tuple[str, Decimal] | None:
    """An Active derived footprint as (product URN, kgCO2e per declared unit); Deprecated ones are skipped."""
    made = decode_model(ProductFootprint, value)
    return (made.product_ids[0], Decimal(made.pcf.pcf_excluding_biogenic_uptake)) if made.status == "Active" else None


@dataclass
class Subscriber:
    """A consumer in a thread recording what arrives as it arrives: by default the buyer reading its own
    label topic; with ``topic="derived"`` and :func:`derived_arrival`, a reader of derived footprints."""

    settings: Settings
    topic: str = ""
    read: Callable[[bytes], tuple[str, Decimal] | None] = label_arrival
    arrivals: list[Arrival] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        name = self.settings.topic(self.topic) if self.topic else ensure_buyer_topic(self.settings, BUYER)
        self._consumer = KafkaConsumer(name, bootstrap_servers=self.settings.bootstrap_servers,
                                       auto_offset_reset="earliest", enable_auto_commit=False)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for batch in self._consumer.poll(timeout_ms=100).values():
                now = time.time()
                for record in batch:
                    seen = None if record.value is None else self.read(record.value)
                    if seen is not None:
                        self.arrivals.append(Arrival(seen[0], seen[1], now))

    def products(self) -> set[str]:
        """Product URNs something arrived for."""
        return {arrival.product for arrival in self.arrivals}

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


def load(settings: Settings, graph: Graph, subscribed: Iterable[str]) -> None:
    """Publish the recipes, the buyer's subscriptions to ``subscribed`` and version 1 of every supplier
    footprint, as a supplier and a buyer would."""
    with SupplierClient(settings) as client:
        client.publish_recipes(graph.recipes)
        client.publish_footprints(footprint(leaf, FIRST_VERSION) for leaf in graph.leaves)
    send = producer(settings)
    items = (subscription(product) for product in subscribed)
    send_all(send, settings.topic("subscriptions"), ((item.key.encode(), encode_model(item)) for item in items))
    send.close()


def wait_for_products(subscriber: Subscriber, products: Sequence[str], timeout_s: float) -> None:
    """Wait until something (a label, a derived footprint) arrived for every one of ``products`` (recipe ids)."""
    wanted = {product_urn(p) for p in products}
    wait_until(lambda: wanted <= subscriber.products(), f"the first arrival for each of {len(wanted)} products", timeout_s)


def publish_at_rate(settings: Settings, leaves: Sequence[str], rate: float, seconds: float, version: int,
                    rng: np.random.Generator | None = None) -> dict[tuple[str, int], float]:
    """New footprint versions of ``leaves`` (in turn, or picked at random with ``rng``), ``rate`` per second
    for ``seconds``; each leaf's versions count up from ``version``.

    Returns the wall-clock send time per (leaf, version). Footprints are built and encoded before the clock
    starts, so the rate is what reaches the producer.
    """
    count = max(1, int(rate * seconds))
    picks = [leaves[i % len(leaves)] for i in range(count)] if rng is None else [str(p) for p in rng.choice(leaves, count)]
    uses: Counter[str] = Counter()
    plan = []
    for leaf in picks:
        plan.append((leaf, version + uses[leaf]))
        uses[leaf] += 1
    payloads = [(leaf.encode(), encode_model(footprint(leaf, v))) for leaf, v in plan]
    send, topic, sent, futures = producer(settings), settings.topic("footprints"), {}, []
    start = time.perf_counter()
    for index, ((leaf, v), (key, value)) in enumerate(zip(plan, payloads)):
        pause = start + index / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[(leaf, v)] = time.time()
        futures.append(send.send(topic, key=key, value=value))
    confirm(send, futures)
    send.close()
    return sent


def version_of(arrival: Arrival, tier: int) -> int:
    """Which supplier footprint version a tier-``tier`` label value comes from (1 kg per tier, chains)."""
    return int(((arrival.value - OWN_PER_TIER * tier - 2) * 1000).to_integral_value())


def echo(settings: Settings, rate: float, seconds: float) -> list[float]:
    """The baseline: latencies (s) of a bare produce -> consume round trip on the same broker at ``rate``,
    the same encoded footprint as payload, pcfx's producer settings and a plain kafka-python consumer."""
    topic = settings.topic(f"echo-{int(rate)}-{time.monotonic_ns()}")
    with admin_client(settings) as admin:
        admin.create_topics([NewTopic(topic, settings.partitions, 1)])
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    wait_until(lambda: consumer.poll(timeout_ms=100) == {} and consumer.assignment(), "the echo consumer", 30)
    count = max(1, int(rate * seconds))
    value, send, sent, got, futures = encode_model(footprint(leaf_id(0), FIRST_VERSION)), producer(settings), [], {}, []
    done = threading.Event()

    def receive() -> None:
        while len(got) < count and not done.is_set():
            for batch in consumer.poll(timeout_ms=100).values():
                now = time.time()
                got.update((int(record.key), now) for record in batch)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    start = time.perf_counter()
    for index in range(count):
        pause = start + index / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent.append(time.time())
        futures.append(send.send(topic, key=str(index).encode(), value=value))
    confirm(send, futures)
    thread.join(timeout=30)
    done.set()
    send.close()
    consumer.close()
    return [got[i] - sent[i] for i in sorted(got)]



def chain_positions(graph: Graph) -> dict[str, tuple[str, int]]:
    """Product URN -> (its supplier product, its tier), for graphs made by :func:`workload.chains`."""
    return {product_urn(p): (graph.leaves[chain], tier + 1) for tier, products in enumerate(graph.tiers)
            for chain, p in enumerate(products)}


def latencies(arrivals: Sequence[Arrival], sent: dict[tuple[str, int], float],
              positions: dict[str, tuple[str, int]]) -> dict[int, list[float]]:
    """Per tier, seconds from the send of the footprint version behind each label to the label's arrival."""
    found: dict[int, list[float]] = {}
    for arrival in arrivals:
        leaf, tier = positions[arrival.product]
        at = sent.get((leaf, version_of(arrival, tier)))
        if at is not None:
            found.setdefault(tier, []).append(arrival.at - at)
    return found


def under_load(settings: Settings, subscriber: Subscriber, graph: Graph, rate: float, seconds: float,
               version: int, rng: np.random.Generator | None = None) -> tuple[dict[int, list[float]], int]:
    """Publish at ``rate`` for ``seconds`` and collect the label latencies per tier once every label is in
    (or a grace period passed); returns them and the next unused footprint version."""
    positions, first = chain_positions(graph), len(subscriber.arrivals)
    sent = publish_at_rate(settings, graph.leaves, rate, seconds, version, rng)
    settled(subscriber, first + len(sent) * len(graph.tiers))
    return latencies(subscriber.arrivals[first:], sent, positions), max(v for _, v in sent) + 1


def settled(subscriber: Subscriber, expected: int) -> None:
    """Wait until ``expected`` arrivals are in, or none came for :data:`QUIET_S` (versions of one product
    folded into one micro-batch derive only the last), at most :data:`GRACE_S`."""
    deadline, seen, quiet_since = time.monotonic() + GRACE_S, -1, time.monotonic()
    while len(subscriber.arrivals) < expected and time.monotonic() < deadline:
        if len(subscriber.arrivals) != seen:
            seen, quiet_since = len(subscriber.arrivals), time.monotonic()
        elif time.monotonic() - quiet_since > QUIET_S:
            return
        time.sleep(0.05)
