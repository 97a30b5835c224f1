"""The pull connector at work: list a supplier's footprints now and then, re-fetch the ones its
PublishedEvents name, and keep trying with exponential backoff while the supplier (or Kafka) is away.

PublishedEvents reach pcfx through its own PACT host (``pcfx api`` puts them on ``inbound-events``) or
through :meth:`Puller.on_published` in-process. The event follower only notes the named ids as pending,
in the ledger's transaction (exactly once, see :mod:`pcfx.connectors.pact_api.follow`); the loop re-fetches
them with GetFootprint. An id the supplier does not know or does not share (404, 403) is not theirs and is
dropped; anything else stays pending and is retried.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from pcfx.connectors.kafka_io import end_offsets
from pcfx.connectors.pact_api.events import PUBLISHED
from pcfx.connectors.pact_api.follow import SCHEMA as OFFSETS_SCHEMA
from pcfx.connectors.pact_api.follow import Follower
from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.pact_client import PactClient, PactError
from pcfx.connectors.pact_pull import SCHEMA, Publish, SqliteLedger, Summary, ledger_path, take
from pcfx.metrics import METRICS
from pcfx.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (httpx.HTTPError, PactError, KafkaError, OSError)  # worth another try: the other side may come back
FIRST_RETRY_S = 1.0  # wait after the first failure; doubles with each failure, in seconds
LONGEST_RETRY_S = 300.0  # the wait stops growing here, in seconds
PENDING_POLL_S = 1.0  # how often the loop looks for ids noted by the event follower, in seconds
NOT_THEIRS = (403, 404)  # GetFootprint answers meaning "not a footprint this supplier shares with us"
EVENTS_TOPIC = "inbound-events"


def backoff(attempt: int) -> float:
    """Seconds to wait after ``attempt`` failures in a row (1, 2, 4, ... up to 300)."""
    return min(FIRST_RETRY_S * 2 ** (attempt - 1), LONGEST_RETRY_S)


def retrying(action: Callable[[], T], stop: threading.Event, attempts: int | None = None) -> T:
    """``action()``, tried again with exponential backoff while it fails for a transient reason; the last
    error is raised after ``attempts`` failures (None: keep trying until ``stop`` is set)."""
    failures = 0
    while True:
        try:
            result = action()
        except TRANSIENT as error:
            failures += 1
            METRICS.pull_attempts.labels(outcome="failed").inc()
            if stop.is_set() or (attempts is not None and failures >= attempts):
                raise
            log.warning("pull: %s; trying again in %.0f s", error, backoff(failures))
            stop.wait(backoff(failures))
            continue
        METRICS.pull_attempts.labels(outcome="ok").inc()
        return result


class Puller:
    """One supplier: its PACT client, the ledger, and where footprints go (``publish``)."""

    def __init__(self, settings: Settings, client: PactClient, publish: Publish, *, events_from: str | None = None) -> None:
        self.settings = settings
        self.client = client
        self.publish = publish
        self.events_from = events_from  # only PublishedEvents POSTed by this client of our host, if set
        self.store = Store(ledger_path(settings, client.base_url), (SCHEMA, OFFSETS_SCHEMA))
        self.ledger = SqliteLedger(self.store)
        self.wake = threading.Event()

    def close(self) -> None:
        self.store.close()

    # -- one round ------------------------------------------------------------------------------------

    def sync(self) -> Summary:
        """ListFootprints, every page, and publish what is new."""
        return self._take(list(self.client.list_footprints()))

    def refetch(self, pf_ids: list[str]) -> Summary:
        """GetFootprint each id and publish what is new; ids the supplier does not share are skipped."""
        found = []
        for pf_id in pf_ids:
            try:
                found.append(self.client.get_footprint(pf_id))
            except PactError as error:
                if error.status not in NOT_THEIRS:
                    raise
                log.info("pull: %s is not a footprint %s shares with us (%s)", pf_id, self.client.base_url, error.code)
        return self._take(found)

    def refetch_pending(self) -> Summary:
        """Re-fetch the ids PublishedEvents named; they stay pending until that succeeded."""
        pending = self.ledger.pending()
        if not pending:
            return Summary()
        summary = self.refetch(pending)
        self.ledger.done(pending)
        return summary

    def on_published(self, pf_ids: list[str], event_id: str = "in-process") -> None:
        """The in-process hook for a PublishedEvent: note its ids and wake the loop."""
        with self.store.transaction() as conn:
            self.ledger.add_pending(conn, pf_ids, event_id)
        self.wake.set()

    def _take(self, documents: list[object]) -> Summary:
        summary = take(documents, self.ledger, self.publish)
        METRICS.records_produced.labels(topic="footprints").inc(summary.published)
        for _ in summary.rejected:
            METRICS.validation_failures.labels(topic="footprints", reason="contract").inc()
        return summary

    # -- running --------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval_s: float, report: Callable[[Summary], None]) -> None:
        """Sync every ``interval_s`` seconds and re-fetch what events name, until ``stop`` is set."""
        events = self.follow_events(stop)
        next_sync = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_sync:
                    report(retrying(self.sync, stop))
                    next_sync = time.monotonic() + interval_s
                if self.ledger.pending():
                    report(retrying(self.refetch_pending, stop))
                self.wake.wait(min(PENDING_POLL_S, max(next_sync - time.monotonic(), 0.0)))
                self.wake.clear()
        except TRANSIENT:
            if not stop.is_set():
                raise
        finally:
            stop.set()
            events.join(timeout=10)

    def follow_events(self, stop: threading.Event) -> threading.Thread:
        """Follow ``inbound-events`` in a daemon thread; a new ledger starts at the topic's end, since the
        first sync covers everything published before."""
        topic = self.settings.topic(EVENTS_TOPIC)
        self._start_at_end(topic)
        follower = Follower(self.settings, self.store, [topic], self.take_event, f"pull-{self.store.path.stem}")
        thread = threading.Thread(target=follower.run, args=(stop,), daemon=True, name="pcfx-pull-events")
        thread.start()
        return thread

    def take_event(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """Follower callback: a PublishedEvent's ids become pending re-fetches; other events are not ours."""
        METRICS.records_consumed.labels(topic=EVENTS_TOPIC).inc()
        headers = dict(record.headers or ())
        if self.events_from is not None and headers.get("pcfx-client-id", b"").decode() != self.events_from:
            return
        try:
            event = json.loads(record.value)
            if event.get("type") != PUBLISHED:
                return
            pf_ids, event_id = event["data"]["pfIds"], event["id"]
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.error("pull: %s[%s]@%s is not a readable CloudEvent (%s); skipped", record.topic, record.partition,
                      record.offset, error)
            return
        self.ledger.add_pending(conn, [pf_id for pf_id in pf_ids if isinstance(pf_id, str)], event_id)
        self.wake.set()

    def _start_at_end(self, topic: str) -> None:
        if self.store.conn.execute("SELECT 1 FROM offsets WHERE topic = ?", (topic,)).fetchone():
            return
        try:
            ends = end_offsets(self.settings, [topic])
        except KafkaError as error:
            log.warning("pull: cannot read the end of %s (%s); events are followed from its start", topic, error)
            return
        with self.store.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO offsets VALUES (?, ?, ?)",
                             [(tp.topic, tp.partition, end) for tp, end in ends.items()])
