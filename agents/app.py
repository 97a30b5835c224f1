"""The Faust application: one factory that builds the app, its topics and tables from :class:`Settings`.

Data flow (topic names without the ``PCFX_TOPIC_PREFIX``)::

    footprints ─┐  validate_footprints ─┐
    recipes ────┴─ validate_recipes ────┴─> graph-updates ── route_updates ──> recompute-steps
          (bad records -> dlq.footprints / dlq.recipes)                          │   ▲ (results and products
                                                                                 ▼   │  between shards)
                                                 derived, product-status <── recompute_products
                                                              (missing inputs -> outbound-requests)
                                                 label-inputs ─ issue_labels ─> labels

The validating agents and the recompute shards scale out over their partitions. ``graph-updates`` has one
partition: the router reads it in one order and plans steps; each strongly connected component of the
supply graph is solved whole on one ``recompute-steps`` partition (a shard), and results cross to the shards
that use them. A worker that gains a shard rebuilds its engine from the shard's changelogs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiokafka
import faust
from prometheus_client import CollectorRegistry

from pcfx.agents import transport
from pcfx.agents.batching import Stream
from pcfx.agents.observe import install_worker_metrics
from pcfx.agents.quiet import install as install_quiet
from pcfx.agents.recovery import TableManager
from pcfx.metrics import Metrics
from pcfx.settings import Settings
from pcfx.streams.intake import AcceptedRecipes, RecentRecipes

log = logging.getLogger(__name__)

#: Seconds the producer waits to fill a batch: one socket write per few ms instead of one per record,
#: for at most this much added latency per hop (bench/b4_overhead.py measured 0.23 ms per unbatched send).
PRODUCER_LINGER_S = 0.005
RAW = "raw"  # every pcfx topic carries Avro single-object-encoded bytes; the codec decodes them


@dataclass
class Wiring:
    """Everything an agent module needs: the app, its settings, topics, tables and metrics, and the
    recipes this process validated lately (which the stages after validation take instead of decoding)."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    topics: dict[str, faust.TopicT]
    tables: dict[str, faust.types.TableT]
    recent_recipes: RecentRecipes = field(default_factory=RecentRecipes)
    accepted_recipes: AcceptedRecipes = field(default_factory=AcceptedRecipes)  # validation's, shared with the router


def create_app(settings: Settings, *, web_port: int | None = None, registry: CollectorRegistry | None = None) -> Wiring:
    """Build the Faust app with every agent registered.

    ``web_port`` overrides ``PCFX_WORKER_WEB_PORT`` so that several workers on one host each serve their own
    ``/metrics``; ``registry`` isolates metrics (tests), None uses the process-wide one.
    """
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    quiet_per_record_logging()
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        store=settings.store,
        datadir=str(settings.data_dir / "worker"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        broker_session_timeout=settings.worker_session_timeout_s,
        table_standby_replicas=settings.standby_replicas,
        TableManager=TableManager,  # seeks the streams before resuming them (see agents/recovery.py)
        Stream=Stream,  # batches without a timer while idle (see agents/batching.py)
        web_port=web_port or settings.worker_web_port,
        web_host=settings.bind_host,  # the host the worker advertises
        web_bind=settings.bind_host,  # the interface it listens on (Faust binds 0.0.0.0 unless told)
        producer_acks=-1,
        producer_linger=PRODUCER_LINGER_S,
        # aiokafka sends one request at a time per broker and queues one batch per partition behind it: at its
        # 16 KiB default, a round's few hundred KB for one changelog partition left as a chain of requests, each
        # waiting for the last one's acknowledgement (agents/outbox.py fills batches up to this size)
        producer_max_batch_size=settings.producer_batch_bytes,
        stream_wait_empty=True,
    )
    transport.install(app)  # a 100 ms fetch wait, not Faust's 1.5 s (see agents/transport.py)
    metrics = install_worker_metrics(app, settings, registry)
    wiring = Wiring(app=app, settings=settings, metrics=metrics, topics={}, tables={})
    _declare_topics(wiring)
    _declare_tables(wiring)
    from pcfx.agents import ingest, labels, recompute, route  # noqa: PLC0415  (agents register on the app they are given)

    ingest.register(wiring)
    route.register(wiring)
    recompute.register(wiring)
    labels.register(wiring)
    _track_topics_before_streams_resume(wiring)
    return wiring


_QUIETED: list[object] = []


def quiet_per_record_logging() -> None:
    """aiokafka and Faust's topics log every send at DEBUG; with the root logger left at DEBUG by Faust,
    building those records cost ~7 % of a worker's CPU, then 3.5 % (profiled in bench/b4_overhead.py and
    in a shock). Their INFO and above still show."""
    for chatty in ("aiokafka", "faust.topics"):
        logging.getLogger(chatty).setLevel(logging.INFO)
    if not _QUIETED:  # and one line per Kafka outage, not one per reconnect attempt (agents/quiet.py)
        _QUIETED.append(install_quiet())


def _declare_topics(wiring: Wiring) -> None:
    from pcfx.agents.topics import CATALOGUE  # noqa: PLC0415

    for spec in CATALOGUE:
        wiring.topics[spec.name] = wiring.app.topic(
            wiring.settings.topic(spec.name),
            key_serializer=RAW,
            value_serializer=RAW,
            partitions=spec.partition_count(wiring.settings),
            internal=False,
        )


def _declare_tables(wiring: Wiring) -> None:
    """The router's tables live on the single-partition ``graph-updates`` stream; the shards' on
    ``recompute-steps``, one changelog partition per shard (each write goes to its shard's partition)."""
    for name in ("product_to_shape", "router_progress", "batch_to_held"):
        wiring.tables[name] = bytes_table(wiring.app, name, partitions=1, use_partitioner=True)
    from pcfx.agents.recompute import SHARD_TABLES  # noqa: PLC0415

    for name in SHARD_TABLES:
        wiring.tables[name] = bytes_table(wiring.app, name, partitions=wiring.settings.partitions)


def bytes_table(app: faust.App, name: str, *, key_type: type = str, **options: object) -> faust.types.TableT:
    """A table whose values are Avro bytes (our codec's), keyed by ``key_type`` (str: JSON text, bytes: raw).

    Faust chooses the changelog's serializers from ``key_type``/``value_type``, not from ``schema``: without
    them it reads the changelog back as JSON, recovery fails on the Avro bytes, and a restarted worker
    never resumes.
    """
    key_serializer = RAW if key_type is bytes else "json"
    schema = faust.Schema(key_type=key_type, value_type=bytes, key_serializer=key_serializer, value_serializer=RAW)
    return app.Table(name, schema=schema, key_type=key_type, value_type=bytes, **options)


def track_producer_topics(app: faust.App, names: Iterable[str] = ()) -> None:
    """Make the producer keep ``names`` and every topic it knows now in its metadata, from now on.

    aiokafka's producer fetches metadata for all topics until it has to look one up by name (a topic
    created after it started: a changelog Faust made at start-up, a buyer's label topic); from then on it
    refreshes only the topics it looked up, and the others drop out of its metadata. A batch already
    queued for a topic that dropped out then waits for a partition leader that no refresh brings back:
    the worker stalls (seen in B8, stuck in start-up for minutes). So every topic is tracked by name first.

    Nothing is awaited: ``add_topic`` records the name at once and leaves the refresh to aiokafka's own
    task, so this may run inside Faust's recovery, where a pause would widen the window in which
    records fetched before the streams are sought can go astray (:mod:`pcfx.agents.recovery`).
    """
    client = aiokafka_producer(app).client
    for name in {*client.cluster.topics(), *names}:
        client.add_topic(name)


def _track_topics_before_streams_resume(wiring: Wiring) -> None:
    """After every rebalance, before the agents resume, track the topics the worker produces to: the
    catalogue's and every table's changelog (buyer topics are tracked when they are created)."""

    @wiring.app.on_rebalance_complete.connect
    def track_worker_topics(app: faust.App, **_: object) -> None:
        names = [topic.get_topic_name() for topic in wiring.topics.values()]
        names += [table.changelog_topic.get_topic_name() for table in app.tables.values()]
        track_producer_topics(app, names)
        log.info("the producer tracks %d topics by name", len(aiokafka_producer(app).client._topics))  # noqa: SLF001


def aiokafka_producer(app: faust.App) -> aiokafka.AIOKafkaProducer:
    """The aiokafka producer under the app's Faust producer (started with the worker)."""
    return app.producer._ensure_producer()  # noqa: SLF001  (Faust exposes no public handle)
