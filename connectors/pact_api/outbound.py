"""Requests that reach suppliers, and buyers' requests that wait for the answer.

The engine puts a :class:`~pcfx.schemas.models.FootprintRequest` on ``outbound-requests`` for each input a
product lacks, naming the input's supplier (``companyId``) when the recipe line does. The API host follows
that topic (offsets in SQLite, exactly once) into the table ``outbound`` and delivers each request:

- to the supplier's PACT host, when it is a partner (``pcfx partners add``): a PACT v3 RequestCreatedEvent
  POSTed to its events endpoint with a token from its token endpoint, retried with exponential backoff
  until ``webhook_max_age_s`` (PACT: 72 h); its ``source`` is this host's events endpoint, where the
  supplier answers;
- else on the supplier's own topic ``requests.supplier.<id>`` (created on demand), for a supplier that
  reads Kafka;
- a request whose recipe line names no supplier has nowhere to go (``unroutable``, with the reason).

The supplier's answer (RequestFulfilledEvent / RequestRejectedEvent naming our request's id) is recorded on
the row and on ``responses`` (a FootprintResponse under our request id); the footprints of a fulfilled one are checked (valid PACT, owned by that supplier, sent by a client
of that supplier) and published to ``footprints``, where they complete the products that waited for them.

The host also follows ``product-status`` into ``product_states``, so the responder can tell a product that
exists but is incomplete (its request waits, see :mod:`responder`) from one that does not exist.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, get_args

from kafka.consumer.fetcher import ConsumerRecord

from pcfx.agents.topics import ensure_supplier_topic
from pcfx.connectors.pact_api.auth import Client
from pcfx.connectors.pact_api.errors import ApiError, bad_request
from pcfx.connectors.pact_api.events import REQUEST_CREATED, REQUEST_FULFILLED, answer_event
from pcfx.connectors.pact_api.readmodel import ReadModel
from pcfx.connectors.pact_api.records import footprint_to_value
from pcfx.connectors.partners import Directory
from pcfx.metrics import METRICS, Outcome
from pcfx.schemas.models import FootprintRequest, FootprintResponse
from pcfx.schemas.pact_types import ErrorCode
from pcfx.schemas.status import ProductStatus
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.derive import product_urn
from pcfx.streams.ownership import PUBLISHER_HEADER, partition_key, supplier_key

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbound (
    request_id TEXT PRIMARY KEY,
    supplier TEXT NOT NULL,
    request BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'queued', 'unroutable', 'abandoned', 'fulfilled', 'rejected')),
    route TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS outbound_due ON outbound (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS product_states (
    product TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    missing TEXT NOT NULL,
    pf_id TEXT
) WITHOUT ROWID
"""
FIRST_RETRY_S = 1.0  # wait after the first failed delivery; doubles each time, in seconds
LONGEST_RETRY_S = 300.0  # the backoff stops growing here, in seconds
DUE_BATCH = 20  # requests attempted per pass

Send = Callable[..., None]  # (logical topic, key, value[, headers, partition_by]) onto Kafka, acknowledged (PactHost.send)


def request_created_event(request: FootprintRequest, source: str) -> dict[str, Any]:
    """The PACT v3 RequestCreatedEvent of one of our requests: its id is the request id, so the answer's
    ``requestEventId`` names it."""
    data = {name: value for name, value in request.to_json().items()
            if name in ("productId", "companyId", "geography", "classification", "validOn", "validAfter",
                        "validBefore", "status", "comment") and value not in ([], None)}
    return answer_event(REQUEST_CREATED, request.request_id, source, data)


class Outbound:
    """Follows ``outbound-requests`` and ``product-status``, delivers requests, records suppliers' answers."""

    def __init__(self, settings: Settings, readmodel: ReadModel, directory: Directory, source: str, send: Send) -> None:
        self.settings = settings
        self.readmodel = readmodel
        self.store = readmodel.store
        self.directory = directory
        self.source = source  # our events endpoint: where suppliers answer
        self.send = send
        self.wake = threading.Event()

    # -- following (inside the follower's transaction) ------------------------------------------------

    def apply_request(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """One ``outbound-requests`` record: a request to deliver, once per request id."""
        try:
            request = decode_model(FootprintRequest, record.value)
        except ValueError as error:
            log.error("outbound-requests[%s@%s]: unreadable, not delivered: %s", record.partition, record.offset, error)
            self.readmodel.reject(conn, record.topic, record.partition, record.offset, str(error))
            return
        supplier = request.company_id[0] if request.company_id else ""
        now = time.time()
        conn.execute(
            "INSERT OR IGNORE INTO outbound (request_id, supplier, request, state, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, 'pending', ?, ?)", (request.request_id, supplier, record.value, now, now))
        self.wake.set()

    def apply_status(self, conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        """One ``product-status`` record: the product's state by its URN (a tombstone forgets it)."""
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        if record.value is None:
            conn.execute("DELETE FROM product_states WHERE product = ?", (product_urn(key).lower(),))
            return
        try:
            status = decode_model(ProductStatus, record.value)
        except ValueError as error:
            self.readmodel.reject(conn, record.topic, record.partition, record.offset, str(error))
            return
        conn.execute("INSERT OR REPLACE INTO product_states VALUES (?, ?, ?, ?)",
                     (product_urn(status.product_id).lower(), status.state, json.dumps(status.missing),
                      (status.pf_id or "").lower() or None))

    def incomplete(self, product_ids: tuple[str, ...]) -> dict[str, list[str]]:
        """Of ``product_ids`` (URNs), those the engine holds as incomplete, with their missing inputs; a product
        just completed whose footprint the read model has not followed yet counts too (nothing missing)."""
        found = {}
        for product in product_ids:
            row = self.store.conn.execute(
                "SELECT s.state, s.missing, s.pf_id, f.id AS held FROM product_states s"
                " LEFT JOIN footprints f ON f.id = s.pf_id WHERE s.product = ?", (product.lower(),)).fetchone()
            if row is not None and (row["state"] == "incomplete" or (row["state"] == "complete" and row["held"] is None)):
                found[product] = json.loads(row["missing"])
        return found

    # -- delivering ------------------------------------------------------------------------------------

    def deliver_loop(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the rows stay pending; the loop must outlive any one failure
                log.exception("outbound delivery pass failed; retrying")
            self.wake.wait(idle_s)
            self.wake.clear()
        self.directory.close()

    def deliver_due(self, now: float | None = None) -> int:
        """Deliver every request whose time has come; returns how many left."""
        now = time.time() if now is None else now
        due = self.store.conn.execute(
            "SELECT * FROM outbound WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now, DUE_BATCH)).fetchall()
        return sum(self._deliver(row, now) for row in due)

    def _deliver(self, row: sqlite3.Row, now: float) -> bool:
        request = decode_model(FootprintRequest, row["request"])
        supplier = row["supplier"]
        if not supplier:
            self._set(row, "unroutable", None, "the recipe line names no supplier (supplierCompanyId), so nobody is asked")
            return False
        try:
            partner = self.directory.find(supplier)
            if partner is not None:
                route = f"{partner.base_url}/3/events"
                self.directory.client(partner).post_event(request_created_event(request, self.source), url=route)
                state = "sent"
            else:
                route = ensure_supplier_topic(self.settings, supplier)
                self.send(route, request.request_id, row["request"])
                state = "queued"
        except Exception as error:  # network, token endpoint, refusal, Kafka: retried until the window ends
            return self._failed(row, now, f"{type(error).__name__}: {error}")
        self._set(row, state, route, None)
        METRICS.observe_delivery(Outcome.DELIVERED, row["attempts"] + 1)  # counted like the answers to requests
        log.info("request %s for %s -> %s (%s)", request.request_id, ",".join(request.product_id), route, state)
        return True

    def _failed(self, row: sqlite3.Row, now: float, error: str) -> bool:
        attempt = row["attempts"] + 1
        expired = now - row["created_at"] >= self.settings.webhook_max_age_s
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbound SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE request_id = ?",
                         ("abandoned" if expired else "pending", attempt,
                          now + min(FIRST_RETRY_S * 2 ** (attempt - 1), LONGEST_RETRY_S), error, row["request_id"]))
        METRICS.observe_delivery(Outcome.ABANDONED if expired else Outcome.FAILED, attempt)
        (log.error if expired else log.warning)("request %s to %s, attempt %d %s: %s", row["request_id"], row["supplier"],
                                                attempt, "abandoned" if expired else "failed, will retry", error)
        return False

    def _set(self, row: sqlite3.Row, state: str, route: str | None, error: str | None) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbound SET state = ?, route = ?, attempts = attempts + 1, last_error = ? WHERE request_id = ?",
                         (state, route, error, row["request_id"]))

    # -- answers -----------------------------------------------------------------------------------------

    def record_answer(self, client: Client, event_type: str, data: dict[str, Any]) -> bool:
        """Record a supplier's answer to one of our requests; False if ``data.requestEventId`` is not ours.
        A fulfilled answer's footprints go to ``footprints``; each must be the answering company's own."""
        row = self.store.conn.execute("SELECT * FROM outbound WHERE request_id = ?", (data["requestEventId"],)).fetchone()
        if row is None:
            return False
        supplier = row["supplier"]
        if client.company.lower() != supplier.lower():
            raise ApiError("AccessDenied", f"request {row['request_id']} was made to {supplier}, not to {client.company}")
        if event_type == REQUEST_FULFILLED:
            for index, footprint in enumerate(data["pfs"]):
                if supplier.lower() not in {c.lower() for c in footprint["companyIds"]}:
                    raise bad_request(f"data.pfs[{index}] is not a footprint of {supplier} (companyIds)")
            for footprint in data["pfs"]:  # published by the answering supplier, keyed and partitioned as SupplierClient does
                product_id = footprint["productIds"][0]
                self.send("footprints", supplier_key(supplier, product_id), footprint_to_value(footprint),
                          [(PUBLISHER_HEADER, supplier.lower().encode())], partition_key(product_id))
            state, answer = "fulfilled", ",".join(pf["id"] for pf in data["pfs"])
            response = FootprintResponse(request_id=row["request_id"], pf_ids=[pf["id"] for pf in data["pfs"]],
                                         responded_at=datetime.now(timezone.utc))
        else:
            state, answer = "rejected", f"{data['error']['code']}: {data['error']['message']}"
            code = data["error"]["code"] if data["error"]["code"] in get_args(ErrorCode) else "InternalError"
            response = FootprintResponse(request_id=row["request_id"], error_code=code, error_message=answer,
                                         responded_at=datetime.now(timezone.utc))
        self.send("responses", row["request_id"], encode_model(response))
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbound SET state = ?, answer = ? WHERE request_id = ?", (state, answer, row["request_id"]))
        log.info("request %s answered by %s: %s %s", row["request_id"], supplier, state, answer)
        return True

    def state(self, request_id: str) -> sqlite3.Row | None:
        return self.store.conn.execute("SELECT * FROM outbound WHERE request_id = ?", (request_id,)).fetchone()
