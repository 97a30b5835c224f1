"""Traffic for the end-to-end benchmarks: load a graph into a running worker, publish supplier footprint
versions at a fixed rate, and watch the labels arrive at the buyer as a subscriber would.

Latency is measured outside pcfx: the publisher notes the wall-clock time of every ``send`` and the
subscriber the time each label arrives; a label's value tells which footprint version caused it
(``value(version)`` plus 0.1 kgCO2e per tier, see :mod:`pcfx.bench.workload`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from kafka import KafkaConsumer

from pcfx.agents.topics import buyer_topic_name, ensure_buyer_topic
from pcfx.bench.common import wait_until
from pcfx.bench.workload import BUYER, Graph, footprint, subscription
from pcfx.connectors.kafka_io import producer
from pcfx.connectors.supplier import SupplierClient
from pcfx.schemas.models import CarbonLabel
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn

OWN_PER_TIER = Decimal("0.1")  # kgCO2e each recipe adds (workload.recipe)
FIRST_VERSION = 1


@dataclass
class Arrival:
    product: str  # product URN
    value: Decimal
    at: float  # wall-clock seconds


@dataclass
class Subscriber:
    """A buyer's consumer on its own label topic, in a thread, recording every label as it arrives."""

    settings: Settings
    arrivals: list[Arrival] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        topic = ensure_buyer_topic(self.settings, BUYER)
        self._consumer = KafkaConsumer(topic, bootstrap_servers=self.settings.bootstrap_servers,
                                       auto_offset_reset="earliest", enable_auto_commit=False)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for batch in self._consumer.poll(timeout_ms=100).values():
                now = time.time()
                for record in batch:
                    if record.value is not None:
                        label = decode_model(CarbonLabel, record.value)
                        self.arrivals.append(Arrival(label.product_id, Decimal(label.value), now))

    def labelled(self) -> set[str]:
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
    for product in subscribed:
        item = subscription(product)
        send.send(settings.topic("subscriptions"), key=item.key.encode(), value=encode_model(item))
    send.flush()
    send.close()


def wait_labelled(subscriber: Subscriber, products: Sequence[str], timeout_s: float) -> None:
    """Wait until the buyer holds a label for every one of ``products`` (recipe product ids)."""
    wanted = {product_urn(p) for p in products}
    wait_until(lambda: wanted <= subscriber.labelled(), f"labels of {len(wanted)} products", timeout_s)


def buyer_topic(settings: Settings) -> str:
    return settings.topic(buyer_topic_name(BUYER))


def publish_at_rate(settings: Settings, leaves: Sequence[str], rate: float, seconds: float, version: int) -> dict[tuple[str, int], float]:
    """New footprint versions of ``leaves`` in turn, ``rate`` per second for ``seconds``, from ``version`` on.

    Returns the wall-clock send time per (leaf, version). Footprints are built and encoded before the clock
    starts, so the rate is what reaches the producer.
    """
    count = max(1, int(rate * seconds))
    plan = [(leaves[i % len(leaves)], version + i // len(leaves)) for i in range(count)]
    payloads = [(leaf.encode(), encode_model(footprint(leaf, v))) for leaf, v in plan]
    send, topic, sent = producer(settings), settings.topic("footprints"), {}
    start = time.perf_counter()
    for index, ((leaf, v), (key, value)) in enumerate(zip(plan, payloads)):
        pause = start + index / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[(leaf, v)] = time.time()
        send.send(topic, key=key, value=value)
    send.flush()
    send.close()
    return sent


def version_of(arrival: Arrival, tier: int) -> int:
    """Which supplier footprint version a tier-``tier`` label value comes from (1 kg per tier, chains)."""
    return int(((arrival.value - OWN_PER_TIER * tier - 2) * 1000).to_integral_value())
