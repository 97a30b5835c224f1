"""Answers RequestCreatedEvents: exactly one RequestFulfilledEvent or RequestRejectedEvent per request.

The Events endpoint puts each accepted request on the ``requests`` topic. The responder follows that topic
(offsets in SQLite, see :mod:`follow`), decides the answer with the same filter code as ListFootprints and
the requesting client's access rights, and stores the answer as a pending delivery in the same
transaction. A delivery loop POSTs pending answers to the requester's events endpoint, authenticating
at the requester's token endpoint with the credentials registered for that client, and retries with
exponential backoff until ``webhook_max_age_s`` (PACT: 72 h) has passed.

A request for a product that exists but is still incomplete (the engine holds it until missing inputs
arrive, see ``product-status``) is not rejected at once: it waits in the table ``waiting`` while the
missing inputs are requested from their suppliers (:mod:`outbound`), is answered with the footprint once
the product completes, and is rejected with the reason (what is still missing) when ``webhook_max_age_s``
(PACT's 72 h) has passed.

Durability: a decision is made once per request key (``requests`` may deliver a record twice; the second
is ignored) and a delivered answer is never sent again. If the process dies after the requester accepted
the POST but before ``delivered`` was recorded, the same answer (same CloudEvent id) is sent once more
after restart: the id lets the requester recognise it.
"""

from __future__ import annotations

import json
import logging
import posixpath
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from kafka.consumer.fetcher import ConsumerRecord

from pcfx.connectors.pact_api.auth import Callback, Client, Clients
from pcfx.connectors.pact_api.errors import bad_request
from pcfx.connectors.pact_api.events import NULL_PRODUCT, REQUEST_FULFILLED, REQUEST_REJECTED, answer_event
from pcfx.connectors.pact_api.filters import Criteria
from pcfx.connectors.pact_api.pagination import MAX_LIMIT
from pcfx.connectors.pact_api.readmodel import ReadModel
from pcfx.connectors.pact_api.records import request_from_value
from pcfx.connectors.pact_client import PactClient, PactError
from pcfx.metrics import METRICS, Outcome
from pcfx.schemas.models import FootprintResponse
from pcfx.settings import Settings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    request_key TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS waiting (
    request_key TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    target TEXT NOT NULL,
    request BLOB NOT NULL,
    created_at REAL NOT NULL
)
"""
FIRST_RETRY_S = 1.0  # wait after the first failed attempt; doubles each time, in seconds
LONGEST_RETRY_S = 300.0  # the backoff stops growing here, in seconds
IDLE_S = 0.5  # how often the delivery loop looks for due answers when nothing woke it, in seconds
DUE_BATCH = 20  # answers attempted per pass
REVIEW_S = 1.0  # how often waiting requests are decided again, in seconds

Incomplete = Callable[[tuple[str, ...]], dict[str, list[str]]]  # product URNs -> those held incomplete, with missing


def request_key(target: str, event_id: str) -> str:
    """One key per request: CloudEvents ids are unique per source, and the answer target stands for the
    source, so (target, id) names a request."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{target}\n{event_id}"))


def callback_target(client: Client, source: str) -> str:
    """The events endpoint an answer to ``client``'s request from ``source`` goes to.

    PACT asks the data owner to check ``source`` before answering: it must lie under the callback URL
    registered for the client (``pcfx clients add --callback-url``), so nobody can make this host POST
    to an address its operator did not approve. A source that already names an events endpoint
    (``.../3/events``) is used as is, otherwise ``/3/events`` is appended.
    """
    if client.callback is None:
        raise bad_request(f"client {client.client_id!r} has no callback registered, so its requests cannot be "
                          "answered; the operator adds one with `pcfx clients add --callback-url`")
    base = _absolute(client.callback.url).rstrip("/")
    try:
        target = _absolute(source).rstrip("/")
    except ValueError:
        raise bad_request(f"source {source!r} is not a URL") from None
    if target != base and not target.startswith(base + "/"):
        raise bad_request(f"source {source!r} is not under the callback URL registered for client "
                          f"{client.client_id!r} ({client.callback.url})")
    return target if target.endswith("/3/events") else f"{target}/3/events"


def decide(readmodel: ReadModel, company: str, event_id: str, criteria: Criteria, answer_id: str,
           source: str) -> dict[str, Any]:
    """The answer CloudEvent to request ``event_id``, from what ``company`` may see right now."""
    if any(p.lower() == NULL_PRODUCT for p in criteria.productId):
        return _rejected(answer_id, source, event_id, "BadRequest", f"{NULL_PRODUCT} names no product; it is never fulfilled")
    rows = readmodel.query(company, criteria, after=0, upto=readmodel.last_seq(), limit=MAX_LIMIT + 1)
    if not rows:
        return _rejected(answer_id, source, event_id, "NotFound",
                         f"no footprint available to {company} matches {criteria.describe()}")
    if len(rows) > MAX_LIMIT:
        return _rejected(answer_id, source, event_id, "BadRequest",
                         f"more than {MAX_LIMIT} footprints match {criteria.describe()}; narrow the request or use ListFootprints")
    data = {"requestEventId": event_id, "pfs": [json.loads(row["doc"]) for row in rows]}
    return answer_event(REQUEST_FULFILLED, answer_id, source, data)


class Responder:
    """Decides answers (as a follower's ``apply``) and delivers them (``deliver_loop``)."""

    def __init__(self, settings: Settings, readmodel: ReadModel, clients: Clients, source: str,
                 record: Callable[[FootprintResponse], None] = lambda response: None,
                 incomplete: Incomplete = lambda products: {}) -> None:
        self.settings = settings
        self.incomplete = incomplete  # which requested products the engine holds as incomplete
        self._reviewed_at = 0.0
        self.record = record  # puts each decided answer on the ``responses`` topic, for audit and other consumers
        self.readmodel = readmodel
        self.clients = clients
        self.source = source  # our own events endpoint, the ``source`` of every answer
        self.wake = threading.Event()
        self._pact_clients: dict[Callback, PactClient] = {}  # one token cache per callback registration

    def apply(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """Record the answer to one request on the ``requests`` topic, once per request."""
        try:
            request, criteria = request_from_value(record.value)
        except ValueError as error:
            log.error("requests[%s@%s]: unreadable request, not answered: %s", record.partition, record.offset, error)
            self.readmodel.reject(conn, record.topic, record.partition, record.offset, str(error))
            return
        if request.callback_url is None:
            return  # the exchange's own request for a missing input, not one to answer over PACT
        key = request_key(request.callback_url, request.request_id)
        if conn.execute("SELECT 1 FROM deliveries WHERE request_key = ? UNION SELECT 1 FROM waiting WHERE request_key = ?",
                        (key, key)).fetchone():
            return  # a redelivered record: this request has its answer already, or waits for it
        client = self.clients.find(request.requester_client_id)
        now = time.time()
        if client is None:
            log.error("request %s: client %r was removed, the request is not answered", key, request.requester_client_id)
            event, state, error = {}, "abandoned", "client removed before the request was answered"
        else:
            event = decide(self.readmodel, client.company, request.request_id, criteria, answer_id_of(key), self.source)
            if self._held(event, criteria):
                conn.execute("INSERT INTO waiting VALUES (?, ?, ?, ?, ?)",
                             (key, request.requester_client_id, request.callback_url, record.value, now))
                log.info("request %s waits: %s", key, self._held(event, criteria))
                return
            state, error = "pending", None
            self.record(response_of(request.request_id, event))
        self._insert(conn, key, request.requester_client_id, request.callback_url, event, state, now, error)
        self.wake.set()

    def _held(self, event: dict[str, Any], criteria: Criteria) -> str | None:
        """Why a NotFound answer waits: the requested products the engine holds as incomplete; None if none."""
        if event["type"] != REQUEST_REJECTED or event["data"]["error"]["code"] != "NotFound":
            return None
        held = self.incomplete(criteria.productId)
        return "; ".join(f"{product} is still incomplete ({len(missing)} input(s) missing, requested from their suppliers)"
                         for product, missing in held.items()) or None

    def review_waiting(self, now: float | None = None) -> int:
        """Decide the waiting requests again: answer those whose product completed (or is no longer held),
        reject those older than the PACT window with what is still missing. Returns how many were answered."""
        now = time.time() if now is None else now
        answered = 0
        for row in self.readmodel.store.conn.execute("SELECT * FROM waiting ORDER BY created_at").fetchall():
            request, criteria = request_from_value(row["request"])
            client = self.clients.find(row["client_id"])
            key = row["request_key"]
            if client is None:
                event, state, error = {}, "abandoned", "client removed before the request was answered"
            else:
                event = decide(self.readmodel, client.company, request.request_id, criteria, answer_id_of(key), self.source)
                held = self._held(event, criteria)
                if held and now - row["created_at"] < self.settings.webhook_max_age_s:
                    continue
                if held:
                    window_h = self.settings.webhook_max_age_s / 3600
                    event = _rejected(answer_id_of(key), self.source, request.request_id, "NotFound",
                                      f"no footprint within {window_h:g} h: {held}")
                state, error = "pending", None
                self.record(response_of(request.request_id, event))
            with self.readmodel.store.transaction() as conn:
                conn.execute("DELETE FROM waiting WHERE request_key = ?", (key,))
                self._insert(conn, key, row["client_id"], row["target"], event, state, now, error)
            answered += 1
        return answered

    def _insert(self, conn: sqlite3.Connection, key: str, client_id: str, target: str, event: dict[str, Any], state: str,
                now: float, error: str | None) -> None:
        conn.execute(
            "INSERT INTO deliveries (request_key, client_id, target, event, state, created_at, next_attempt_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, client_id, target, json.dumps(event), state, now, now, error),
        )

    def deliver_loop(self, stop: threading.Event) -> None:
        """Deliver due answers until ``stop`` is set."""
        while not stop.is_set():
            try:
                if time.monotonic() - self._reviewed_at >= REVIEW_S:
                    self._reviewed_at = time.monotonic()
                    self.review_waiting()
                self.deliver_due()
            except Exception:  # the loop must outlive any one failure; the rows stay pending
                log.exception("delivery pass failed; retrying")
            self.wake.wait(IDLE_S)
            self.wake.clear()
        for client in self._pact_clients.values():
            client.close()

    def deliver_due(self, now: float | None = None) -> int:
        """Attempt every answer whose time has come; returns how many were delivered."""
        now = time.time() if now is None else now
        due = self.readmodel.store.conn.execute(
            "SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now, DUE_BATCH),
        ).fetchall()
        return sum(self._attempt(row, now) for row in due)

    def _attempt(self, row: sqlite3.Row, now: float) -> bool:
        attempt = row["attempts"] + 1
        try:
            self._post(row["client_id"], row["target"], json.loads(row["event"]))
        except (PactError, OSError, LookupError) as error:  # _post turns transport errors into OSError
            return self._failed(row, attempt, now, str(error))
        with self.readmodel.store.transaction() as conn:
            conn.execute("UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL WHERE request_key = ?",
                         (attempt, row["request_key"]))
        METRICS.observe_delivery(Outcome.DELIVERED, attempt)
        return True

    def _failed(self, row: sqlite3.Row, attempt: int, now: float, error: str) -> bool:
        expired = now - row["created_at"] >= self.settings.webhook_max_age_s
        state = "abandoned" if expired else "pending"
        next_at = now + min(FIRST_RETRY_S * 2 ** (attempt - 1), LONGEST_RETRY_S)
        with self.readmodel.store.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE request_key = ?",
                (state, attempt, next_at, error, row["request_key"]),
            )
        METRICS.observe_delivery(Outcome.ABANDONED if expired else Outcome.FAILED, attempt)
        log_at = log.error if expired else log.warning
        log_at("answer to request %s -> %s, attempt %d %s: %s", row["request_key"], row["target"], attempt,
               "abandoned" if expired else "failed, will retry", error)
        return False

    def _post(self, client_id: str, target: str, event: dict[str, Any]) -> None:
        client = self.clients.find(client_id)
        if client is None or client.callback is None:
            raise LookupError(f"client {client_id!r} or its callback was removed")
        cb = client.callback
        pact = self._pact_clients.get(cb)
        if pact is None:
            pact = PactClient(cb.url, cb.client_id, cb.client_secret, verify=cb.verify_tls)
            self._pact_clients[cb] = pact
        try:
            pact.post_event(event, url=target)
        except PactError:
            raise
        except Exception as error:  # network, TLS, or a malformed answer from the requester's host
            raise OSError(f"{type(error).__name__}: {error}") from error


def answer_id_of(key: str) -> str:
    """The CloudEvent id of the answer to request ``key``: the same however often it is decided."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"answer\n{key}"))


def response_of(request_id: str, event: dict[str, Any]) -> FootprintResponse:
    """The ``responses`` record of an answer event: the footprint ids sent, or the error."""
    data = event["data"]
    now = datetime.now(timezone.utc)
    if "error" in data:
        return FootprintResponse(request_id=request_id, error_code=data["error"]["code"],
                                 error_message=data["error"]["message"], responded_at=now)
    return FootprintResponse(request_id=request_id, pf_ids=[pf["id"] for pf in data["pfs"]], responded_at=now)


def _rejected(answer_id: str, source: str, event_id: str, code: str, message: str) -> dict[str, Any]:
    data = {"requestEventId": event_id, "error": {"code": code, "message": message}}
    return answer_event(REQUEST_REJECTED, answer_id, source, data)


def _absolute(url: str) -> str:
    """``//host/path`` (the spec's own examples) means HTTPS; the scheme and host compare case-insensitively;
    the path is normalised first (percent-decoded, ``.`` and ``..`` segments resolved), so ``/../`` cannot
    lead a source out of the registered prefix."""
    parts = urlsplit("https:" + url if url.startswith("//") else url)
    path = unquote(parts.path)
    if path:
        path = posixpath.normpath(path) + ("/" if path.endswith("/") else "")
        path = "/" + path.lstrip("/")  # normpath keeps a leading //
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{quote(path, safe='/:@!$&()*+,;=~-._')}"
