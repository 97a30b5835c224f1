"""The host's shared state: database, read model, clients, Kafka producer, and the background threads.

:meth:`Host.open` builds everything from :class:`Settings`; :meth:`Host.start` runs the followers that
materialise ``footprints``/``derived`` into the read model, ``entitlements``/``recipes`` into the access
tables, ``product-status`` and ``outbound-requests`` (see :mod:`outbound`), and answer ``requests``, and
the delivery loops that POST the answers and our own requests. The routes (:mod:`app`) and the CLIs share one Host.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, MessageSizeTooLargeError
from starlette.requests import Request

from pcfx.connectors.kafka_io import partition_for
from pcfx.connectors.label_api import SCHEMA as LABELS_SCHEMA
from pcfx.connectors.label_api import TOPIC as LABELS_TOPIC
from pcfx.connectors.label_api import apply_label
from pcfx.connectors.pact_api.auth import SCHEMA as AUTH_SCHEMA
from pcfx.connectors.pact_api.auth import Clients
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.follow import SCHEMA as OFFSETS_SCHEMA
from pcfx.connectors.pact_api.follow import Follower
from pcfx.connectors.pact_api.outbound import SCHEMA as OUTBOUND_SCHEMA
from pcfx.connectors.pact_api.outbound import Outbound
from pcfx.connectors.pact_api.readmodel import SCHEMA as READMODEL_SCHEMA
from pcfx.connectors.pact_api.readmodel import ReadModel
from pcfx.connectors.pact_api.records import footprint_from_value
from pcfx.connectors.pact_api.responder import SCHEMA as DELIVERIES_SCHEMA
from pcfx.connectors.pact_api.responder import Responder
from pcfx.connectors.pact_api.store import Store, db_path
from pcfx.connectors.partners import Directory
from pcfx.connectors.web.supplier import ANSWER_TOPIC, DEAD_LETTER_TOPICS, REQUEST_TOPICS, apply_dead_letter, apply_request_record
from pcfx.connectors.web.supplier import SCHEMA as DEAD_LETTERS_SCHEMA
from pcfx.connectors.pact_api.throttle import TokenGuard
from pcfx.metrics import METRICS
from pcfx.schemas.models import ProductRecipe
from pcfx.schemas.subscriptions import KEY_SEPARATOR, Entitlement
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn
from pcfx.streams.ownership import PUBLISHER_HEADER, OwnershipError, publisher_in_key

log = logging.getLogger(__name__)

FOLLOWED_TOPICS = ("footprints", "derived")  # where the footprints the host serves come from
ACCESS_TOPICS = ("entitlements", "recipes")  # owners' grants and what each company buys (pcfx.streams.access)
KAFKA_ACK_S = 15.0  # how long an event POST waits for Kafka to acknowledge it, in seconds


@dataclass
class Host:
    """Everything the routes and background threads share."""

    settings: Settings
    store: Store
    readmodel: ReadModel
    clients: Clients
    responder: Responder
    outbound: Outbound | None = None
    producer: KafkaProducer | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    followers: list[Follower] = field(default_factory=list)
    _producer_lock: threading.Lock = field(default_factory=threading.Lock)
    token_guard: TokenGuard = field(default_factory=TokenGuard)

    @classmethod
    def open(cls, settings: Settings) -> "Host":
        """Open (or create) the database in the data dir; nothing runs until :meth:`start`."""
        store = Store(db_path(settings), (READMODEL_SCHEMA, AUTH_SCHEMA, OFFSETS_SCHEMA, DELIVERIES_SCHEMA, LABELS_SCHEMA,
                                          OUTBOUND_SCHEMA, DEAD_LETTERS_SCHEMA))
        model, clients = ReadModel(store), Clients(store)
        source = f"{public_base(settings)}/3/events"
        answers = Responder(settings, model, clients, source)
        host = cls(settings, store, model, clients, answers)
        answers.record = lambda response: host.send("responses", response.request_id, encode_model(response))
        outbound = Outbound(settings, model, Directory(settings), source, host.send)
        host.outbound, answers.incomplete = outbound, outbound.incomplete
        host.followers = [
            Follower(settings, store, [settings.topic(t) for t in FOLLOWED_TOPICS], host.apply_footprint, "readmodel"),
            Follower(settings, store, [settings.topic(t) for t in ACCESS_TOPICS], host.apply_access, "access"),
            Follower(settings, store, [settings.topic("product-status")], outbound.apply_status, "product-status"),
            Follower(settings, store, [settings.topic("requests")], answers.apply, "responder"),
            Follower(settings, store, [settings.topic("outbound-requests")], outbound.apply_request, "outbound"),
            Follower(settings, store, [settings.topic(LABELS_TOPIC)], apply_label, "labels"),
            Follower(settings, store, [settings.topic(t) for t in DEAD_LETTER_TOPICS], apply_dead_letter(settings.topic_prefix),
                     "dead-letters"),
            Follower(settings, store, [settings.topic(t) for t in (*REQUEST_TOPICS, ANSWER_TOPIC)],
                     apply_request_record(settings.topic_prefix), "data-requests"),
        ]
        return host

    def apply_footprint(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """Follower callback: one ``footprints``/``derived`` record into the read model."""
        topic = record.topic[len(self.settings.topic_prefix):]
        key = record.key.decode("utf-8", "replace") if record.key is not None else f"@{record.partition}:{record.offset}"
        if record.value is None:
            self.readmodel.delete(conn, topic, key)
            return
        try:
            footprint = footprint_from_value(record.value)
        except ValueError as error:
            log.error("%s[%s@%s]: not served, unreadable footprint: %s", topic, record.partition, record.offset, error)
            self.readmodel.reject(conn, topic, record.partition, record.offset, str(error))
            METRICS.reject(topic, error)
            return
        if topic == "footprints":
            try:
                publisher = self.readmodel.claim(conn, footprint, publisher_header(record.headers))
            except OwnershipError as error:  # the worker dead-letters it too; never served
                self.readmodel.reject(conn, topic, record.partition, record.offset, str(error))
                METRICS.reject(topic, error)
                return
            product_id = footprint["productIds"][0]
            if publisher_in_key(key, product_id) == publisher:  # keyed <publisher>|<product>: replaces a bare-id row
                self.readmodel.adopt(conn, topic, product_id, key)
        self.readmodel.put(conn, topic, key, footprint)
        METRICS.records_consumed.labels(topic=topic).inc()

    def apply_access(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """Follower callback: an ``entitlements`` record (an owner's grant) or a ``recipes`` record (what a
        company buys) into the tables the access rule reads. A record the worker would dead-letter is
        remembered in ``rejects`` and grants nothing."""
        topic = record.topic[len(self.settings.topic_prefix):]
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        try:
            if topic == "entitlements":
                self._apply_entitlement(conn, key, record.value)
            else:
                self._apply_recipe(conn, key, record.value)
        except ValueError as error:
            log.error("%s[%s@%s]: grants nothing, unreadable: %s", topic, record.partition, record.offset, error)
            self.readmodel.reject(conn, topic, record.partition, record.offset, str(error))
            return
        METRICS.records_consumed.labels(topic=topic).inc()

    def _apply_entitlement(self, conn: sqlite3.Connection, key: str, value: bytes | None) -> None:
        if value is None:
            supplier, _, rest = key.partition(KEY_SEPARATOR)
            buyer, _, product = rest.partition(KEY_SEPARATOR)
            self.readmodel.put_decision(conn, supplier, buyer, product, None)
            return
        grant = decode_model(Entitlement, value)
        if grant.key != key:
            raise ValueError(f"entitlement filed under key {key!r}; its key must be {grant.key!r}")
        at_ms = int(grant.created_at.timestamp() * 1000)
        self.readmodel.put_decision(conn, grant.supplier_company_id, grant.buyer_id, grant.product_id, grant.granted, at_ms)

    def _apply_recipe(self, conn: sqlite3.Connection, key: str, value: bytes | None) -> None:
        if value is None:
            self.readmodel.put_uses(conn, key, [], [])
            return
        recipe = decode_model(ProductRecipe, value)
        inputs = sorted({product_urn(line.product_id) for line in recipe.inputs})
        self.readmodel.put_uses(conn, key, inputs, list(recipe.company_ids))

    def rebuild(self) -> None:
        """Forget the read model and its offsets; the next start replays ``footprints`` and ``derived``."""
        with self.store.transaction() as conn:
            self.readmodel.clear(conn)
            self.followers[0].forget_offsets(conn)

    def start(self) -> None:
        """Start following the topics and delivering answers, each in a daemon thread."""
        targets = [*((f.run, f.name) for f in self.followers), (self.responder.deliver_loop, "delivery")]
        if self.outbound is not None:
            targets.append((self.outbound.deliver_loop, "outbound-delivery"))
        for target, name in targets:
            thread = threading.Thread(target=target, args=(self.stop,), daemon=True, name=f"pcfx-api-{name}")
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        """Stop the threads (waiting for the current batch), the producer, and the database."""
        self.stop.set()
        self.responder.wake.set()
        if self.outbound is not None:
            self.outbound.wake.set()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.producer is not None:
            self.producer.close(timeout=5)
        self.token_guard.close()
        self.store.close()

    def send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None,
             partition_by: bytes | None = None) -> None:
        """Put one record on Kafka and wait for the broker's acknowledgement (all in-sync replicas); with
        ``partition_by``, on the partition Kafka's default partitioner gives those bytes, not the key."""
        try:
            with self._producer_lock:
                if self.producer is None:
                    self.producer = KafkaProducer(bootstrap_servers=self.settings.bootstrap_servers, acks="all",
                                                  client_id="pcfx-api")
            name = self.settings.topic(topic)
            partition = None if partition_by is None else partition_for(self.producer, name, partition_by)
            future = self.producer.send(name, key=key.encode(), value=value, headers=headers or [], partition=partition)
            future.get(KAFKA_ACK_S)
        except MessageSizeTooLargeError as error:
            raise ApiError("BadRequest", "the event is larger than one Kafka record may be; send fewer footprints", 413) from error
        except KafkaError as error:  # the details are for the operator's log, not for the partner
            log.error("%s: a record could not be sent: %r", topic, error)
            raise ApiError("InternalError", "the event could not be recorded; retry later") from error
        METRICS.records_produced.labels(topic=topic).inc()


def publisher_header(headers: list[tuple[str, bytes]] | None) -> str | None:
    """The ``pcfx-publisher`` header of a record, if any."""
    value = dict(headers or ()).get(PUBLISHER_HEADER)
    return None if value is None else bytes(value).decode("utf-8", "replace")


def public_base(settings: Settings, request: Request | None = None) -> str:
    """Absolute base URL clients reach the API at: ``PCFX_API_PUBLIC_URL``, else the configured bind address.

    Never the request's Host header: a client could otherwise plant its own host in the OpenID document
    and the pagination links other clients follow (``request`` is accepted for the callers' convenience)."""
    if settings.api_public_url:
        return settings.api_public_url.rstrip("/")
    return f"https://{settings.api_host}:{settings.api_port}"