"""``pcfx demo``: the whole exchange on one machine, from a supplier's change to the buyer's new label.

Starts Kafka if none runs, a worker and the PACT API; publishes the SAMPLE provincial database and the
e-bike chain (``demo_chain.py``); the Wuxi assembler entitles an EU buyer, who subscribes; then the Zhejiang
cathode maker switches to a cleaner process and the buyer's label changes. The expected figures come from
an offline solve of the same records with the same engine, so ``--check`` compares the stream's answer
with an independent computation of it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from pcfx.agents.topics import admin_client, buyer_topic_name, create_topics, ensure_buyer_topic
from pcfx.connectors import demo_chain
from pcfx.connectors.background import Database, read_datasets
from pcfx.connectors.display import for_people
from pcfx.connectors.kafka_io import end_offsets, settle
from pcfx.connectors.buyer import BuyerClient, entitlement_for, subscriptions_for
from pcfx.connectors.pact_api.auth import SCHEMA as AUTH_SCHEMA
from pcfx.connectors.pact_api.auth import Clients
from pcfx.connectors.pact_api.store import Store, db_path
from pcfx.connectors.supplier import SupplierClient
from pcfx.connectors.web.web_cli import web_url
from pcfx.ops.kafka import ensure_broker, free_port
from pcfx.schemas.models import CarbonLabel, ProductFootprint, ProductRecipe
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model
from pcfx.streams.derive import leaf_of, recipe_of
from pcfx.streams.engine import Engine
from pcfx.streams.rollup import UpsertLeaf, UpsertRecipe

BACKGROUND_CSV = Path(__file__).parent / "data" / "background-sample.csv"
DEMO_PREFIX = "pcfx.demo."
LABEL_TIMEOUT_S = 180.0  # a cold worker needs ~15 s to join its group; the rest is propagation
RELATIVE_TOLERANCE = 1e-9
DEMO_BUYER_CLIENT = "demo-buyer"  # the web app's sign-in of the demo's buyer (secret printed per run)


@dataclass
class DemoResult:
    before: CarbonLabel
    after: CarbonLabel
    expected_before: float
    expected_after: float
    seconds: float  # supplier publish -> updated label read by the buyer

    @property
    def correct(self) -> bool:
        return _close(float(self.before.value), self.expected_before) and _close(float(self.after.value), self.expected_after)


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= RELATIVE_TOLERANCE * max(abs(expected), 1e-300)


def demo_settings(base: Settings) -> Settings:
    """The demo runs under its own topic prefix and consumer group, on a fresh run id, so it can be repeated,
    and keeps its state (the API's database, the worker's tables, TLS files) in its own folder
    ``<data dir>/demo/<run>``: nothing of it reaches the real API's database or worker."""
    run = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    return base.model_copy(update={"topic_prefix": f"{DEMO_PREFIX}{run}.", "app_id": f"pcfx-demo-{run}",
                                   "data_dir": base.data_dir / "demo" / f"pcfx-demo-{run}"})


def expected_total(footprints: list[ProductFootprint], recipes: list[ProductRecipe], product_id: str) -> float:
    """The e-bike's kgCO2e per piece, solved offline from the very records the demo publishes."""
    engine = Engine()
    events = [UpsertLeaf(leaf_of(f, p)) for f in footprints for p in f.product_ids]
    events += [UpsertRecipe(recipe_of(r, p)) for r in recipes for p in r.product_ids]
    engine.apply(events)
    derived = engine.derived(product_id)
    assert derived is not None and derived.complete, f"the demo chain does not solve: {derived}"
    return derived.values["pcfExcludingBiogenicUptake"]


def start_process(settings: Settings, log: Path, *args: str) -> subprocess.Popen:
    """A ``pcfx`` subcommand in the background with the demo's settings; output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**__import__("os").environ, **settings.to_env()}
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "pcfx.cli", *args], env=env, stdout=handle, stderr=subprocess.STDOUT)


def labels_on(settings: Settings, buyer: str, product_id: str) -> Iterator[tuple[int, CarbonLabel | None]]:
    """(offset, label) of every record on the buyer's topic from the start, the label None unless it is one
    for ``product_id``; raises ``TimeoutError`` after :data:`LABEL_TIMEOUT_S`."""
    partition = TopicPartition(settings.topic(buyer_topic_name(buyer)), 0)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    deadline = time.monotonic() + LABEL_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=100).get(partition, []):
                label = None if record.value is None else decode_model(CarbonLabel, record.value)
                yield record.offset, label if label is not None and label.product_id == product_id else None
    finally:
        consumer.close()
    raise TimeoutError(f"no matching label for {product_id} reached buyer {buyer} within {LABEL_TIMEOUT_S:.0f} s")


def wait_for_label(settings: Settings, buyer: str, product_id: str, accept: Callable[[CarbonLabel], bool]) -> CarbonLabel:
    """The first label for ``product_id`` on the buyer's topic that ``accept`` takes; reads from the start."""
    return next(label for _, label in labels_on(settings, buyer, product_id) if label is not None and accept(label))


def newest_label(settings: Settings, buyer: str, product_id: str) -> CarbonLabel:
    """The product's label of the highest version on the buyer's topic now (the topic holds one already)."""
    topic = settings.topic(buyer_topic_name(buyer))
    last = end_offsets(settings, [topic])[TopicPartition(topic, 0)] - 1
    newest = None
    for offset, label in labels_on(settings, buyer, product_id):
        if label is not None and (newest is None or label.version > newest.version):
            newest = label
        if offset >= last and newest is not None:
            return newest
    raise AssertionError("unreachable: labels_on raises when it runs out")


def web_buyer(api_settings: Settings) -> str:
    """Register the demo buyer's API client in the demo API's own database; returns its secret."""
    store = Store(db_path(api_settings), (AUTH_SCHEMA,))
    try:
        return Clients(store).add(DEMO_BUYER_CLIENT, demo_chain.BUYER)
    finally:
        store.close()


def run(base: Settings, say: Callable[[str], None], *, keep: Callable[[], None] | None = None,
        keep_topics: bool = False) -> DemoResult:
    """Play the scenario once; the worker and the API are stopped before returning (after ``keep()`` returns,
    if given: the caller keeps them up for a person to look around), and the run's topics are deleted (unless
    ``keep_topics``): each run has fresh ones, so what it leaves would only pile up."""
    settings = demo_settings(base)
    say(f"kafka: {ensure_broker(base, progress=say).bootstrap_servers}")  # the broker is the user's, in its data dir
    create_topics(settings)
    ensure_buyer_topic(settings, demo_chain.BUYER)
    logs = settings.data_dir
    api_port = free_port()
    # the run's own data dir: a fresh API database (only this run's labels) and certificate, in <run>/api
    api_settings = settings.model_copy(update={"api_port": api_port, "api_metrics_port": free_port()})
    secret = web_buyer(api_settings)
    processes = [
        start_process(settings, logs / "worker.log", "worker", "--web-port", str(free_port())),
        start_process(api_settings, logs / "api.log", "api"),
    ]
    say(f"worker and PACT API (https://127.0.0.1:{api_port}) started; logs in {logs}")
    say(f"web app: {web_url(api_settings)} (self-signed certificate) - sign in as the buyer {demo_chain.BUYER} with "
        f"client id {DEMO_BUYER_CLIENT} and secret {secret}")
    try:
        result = _scenario(settings, say)
        if keep is not None:
            keep()
        return result
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if keep_topics:
            say(f"topics kept: {settings.topic_prefix}* and the worker's {settings.app_id}-*")
        else:
            say(f"deleted this run's {delete_run_topics(settings)} topics ({settings.topic_prefix}*, {settings.app_id}-*)")


def run_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """The topics of one demo run: its own (under the run's prefix) and its worker's (changelogs, under its app id)."""
    return sorted(n for n in names if n.startswith(settings.topic_prefix) or n.startswith(f"{settings.app_id}-"))


def delete_run_topics(settings: Settings) -> int:
    """Delete the run's topics; returns how many there were."""
    with admin_client(settings) as admin:
        mine = run_topics(settings, admin.list_topics())
        if mine:
            admin.delete_topics(mine)
    return len(mine)


def _scenario(settings: Settings, say: Callable[[str], None]) -> DemoResult:
    now = datetime.now(timezone.utc)
    database = Database(demo_chain.BACKGROUND_SOURCE, demo_chain.BACKGROUND_VERSION)
    datasets = read_datasets(BACKGROUND_CSV, database, now)
    recipes = demo_chain.chain(now)
    with SupplierClient(settings) as supplier:
        supplier.publish_footprints(datasets)
        supplier.publish_recipes(recipes)
    say(f"published {len(datasets)} SAMPLE database datasets and {len(recipes)} recipes (tiers 1-3, CN-JS / CN-ZJ)")
    with BuyerClient(settings) as buyer:
        assembler = next(r for r in recipes if r.product_ids == [demo_chain.EBIKE]).company_ids[0]
        buyer.entitle(entitlement_for(assembler, demo_chain.BUYER, demo_chain.EBIKE))
        buyer.subscribe(subscriptions_for(demo_chain.BUYER, [demo_chain.EBIKE]))
    say(f"buyer {demo_chain.BUYER} subscribed to {demo_chain.EBIKE}")
    expected_before = expected_total(datasets, recipes, demo_chain.EBIKE)
    wait_for_label(settings, demo_chain.BUYER, demo_chain.EBIKE, lambda label: True)
    settle(settings)  # a first label may precede its inputs' final data quality: the settled one is "before"
    before = newest_label(settings, demo_chain.BUYER, demo_chain.EBIKE)
    say(f"label v{before.version}: {before.value} kgCO2e per {before.declared_unit_of_measurement} (PDS {for_people(before.primary_data_share or 0, decimals=1)} %)")

    cleaner = demo_chain.cathode(datetime.now(timezone.utc), cleaner=True)
    expected_after = expected_total(datasets, [cleaner if r.product_ids == cleaner.product_ids else r for r in recipes], demo_chain.EBIKE)
    started = time.monotonic()
    with SupplierClient(settings) as supplier:
        supplier.publish_recipes([cleaner])
    say("supplier update: Quzhou Cathode Materials switches to a cleaner kiln (6.0 -> 3.5 kgCO2e/kg, 25 -> 20 kWh/kg)")
    after = wait_for_label(settings, demo_chain.BUYER, demo_chain.EBIKE, lambda label: label.version > before.version)
    seconds = time.monotonic() - started
    change = float(after.value) - float(before.value)
    say(f"label v{after.version}: {after.value} kgCO2e ({change:+.4f}, {100 * change / float(before.value):+.2f} %) "
        f"reached the buyer {seconds * 1000:.0f} ms after the supplier published")
    return DemoResult(before, after, expected_before, expected_after, seconds)
