"""What a supplier's page shows: the records of its that were dead-lettered, read from ``dlq.<topic>``.

The host follows the dead-letter topics of the supplier-facing inputs (``dlq.footprints``, ``dlq.recipes``)
into the table ``dead_letters``. A letter belongs to the companies its original record names in
``companyIds``, read from the original bytes without the contract's checks (the record was refused by them);
bytes that are not a readable record name no company and are shown to nobody here (the operator still has
them on the topic). The reason is put in words from the error type, and the fields at fault are the paths
the :class:`~pcfx.schemas.errors.ContractError` message names.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from pcfx.schemas.models import DeadLetter, FootprintRequest, FootprintResponse
from pcfx.streams.codec import DecodeError, codec_for, decode_model

SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    record_key TEXT NOT NULL,
    error_type TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at TEXT NOT NULL,
    PRIMARY KEY (topic, partition, record_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letter_companies (
    company TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    PRIMARY KEY (company, topic, partition, record_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS data_requests (
    request_id TEXT PRIMARY KEY,
    origin TEXT NOT NULL CHECK (origin IN ('buyer', 'exchange')),
    requester TEXT NOT NULL,
    products TEXT NOT NULL,
    companies TEXT NOT NULL,
    comment TEXT,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS data_request_answers (
    request_id TEXT PRIMARY KEY,
    fulfilled INTEGER NOT NULL
) WITHOUT ROWID
"""
DEAD_LETTER_TOPICS = ("dlq.footprints", "dlq.recipes")  # where a supplier's own refused records land
ORIGIN = re.compile(r"^[^\s:]+\[\d+\]@\d+: ")  # where the record was read, in front of every dead letter's error
RECORD_SCHEMAS = {"footprints": "ProductFootprint", "recipes": "ProductRecipe"}


@dataclass(frozen=True)
class Refused:
    """One dead-lettered record as its supplier sees it."""

    topic: str
    key: str
    error_type: str
    error: str
    failed_at: str
    fields: tuple[str, ...]


def owners(letter: DeadLetter, logical_topic: str) -> list[str]:
    """The ``companyIds`` the refused record names; none if its bytes are not a readable record."""
    schema = RECORD_SCHEMAS.get(logical_topic)
    if schema is None:
        return []
    try:
        record: dict[str, Any] = codec_for(schema).decode(letter.original_bytes)
    except (DecodeError, ValueError):
        return []
    return [company for company in record.get("companyIds") or [] if isinstance(company, str)]


def fault_fields(error: str) -> tuple[str, ...]:
    """The field paths a contract error names: ``footprint X: pcf.a = '7': why; b: why`` -> (pcf.a, b), after
    the ``topic[partition]@offset: `` a dead letter puts in front."""
    _, colon, problems = ORIGIN.sub("", error, count=1).partition(": ")
    if not colon:
        return ()
    found = []
    for problem in problems.split("; "):
        path = problem.split(" = ", 1)[0].split(": ", 1)[0].strip()
        if path and " " not in path:
            found.append(path)
    return tuple(found)


def apply_dead_letter(prefix: str):  # noqa: ANN201 (a follower callback)
    """Follower callback for the ``dlq.*`` topics of ``prefix``: one letter into ``dead_letters``."""

    def apply(conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        if record.value is None:
            return
        letter = decode_model(DeadLetter, record.value)
        logical = record.topic[len(prefix):].removeprefix("dlq.")
        key = (letter.key or b"").decode("utf-8", "replace")
        at = letter.failed_at.astimezone(timezone.utc).isoformat(timespec="seconds")
        place = (logical, letter.partition, letter.offset)
        conn.execute("INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (*place, key, letter.error_type, letter.error, at))
        conn.executemany("INSERT OR IGNORE INTO dead_letter_companies VALUES (?, ?, ?, ?)",
                         [(company.lower(), *place) for company in owners(letter, logical)])

    return apply


def refused_of(conn: sqlite3.Connection, company: str, limit: int = 200) -> list[Refused]:
    """The company's dead-lettered records, newest first."""
    rows = conn.execute(
        "SELECT d.* FROM dead_letters d JOIN dead_letter_companies c USING (topic, partition, record_offset) "
        "WHERE c.company = ? ORDER BY d.failed_at DESC, d.record_offset DESC LIMIT ?", (company.lower(), limit))
    return [Refused(r["topic"], r["record_key"], r["error_type"], r["error"], r["failed_at"], fault_fields(r["error"]))
            for r in rows]


@dataclass(frozen=True)
class Published:
    pf_id: str
    product: str
    name: str
    status: str
    valid_from: str
    valid_to: str
    replaces: str
    version: int  # 1 + how many earlier footprints the exchange holds in its precedingPfIds chain


def published_of(conn: sqlite3.Connection, company: str) -> list[Published]:
    """The footprints in the exchange that name ``company`` in ``companyIds`` (its own data), newest first."""
    rows = conn.execute(
        "SELECT f.doc, f.status, f.valid_from, f.valid_to FROM footprints f WHERE f.seq IN "
        "(SELECT seq FROM footprint_keys WHERE kind = 'company' AND value = ?) ORDER BY f.seq DESC", (company.lower(),))
    found = []
    for row in rows:
        doc = json.loads(row["doc"])
        found.append(Published(doc["id"], (doc.get("productIds") or ["?"])[0], doc.get("productNameCompany", ""),
                               doc["status"], row["valid_from"][:10], row["valid_to"][:10],
                               ", ".join(doc.get("precedingPfIds") or []), version_of(conn, doc)))
    return found


MAX_CHAIN = 1000  # versions followed back through precedingPfIds (a guard against a cycle of ids)


def version_of(conn: sqlite3.Connection, footprint: dict[str, Any]) -> int:
    """The footprint's version: 1 + the earlier footprints reachable through ``precedingPfIds`` (served or superseded)."""
    version, seen, current = 1, {footprint["id"].lower()}, footprint
    while version < MAX_CHAIN:
        preceding = [p.lower() for p in current.get("precedingPfIds") or [] if p.lower() not in seen]
        if not preceding:
            break
        row = conn.execute("SELECT doc FROM footprints WHERE id = ? UNION ALL SELECT doc FROM superseded WHERE id = ?",
                           (preceding[0], preceding[0])).fetchone()
        if row is None:
            break
        seen.add(preceding[0])
        current, version = json.loads(row["doc"]), version + 1
    return version


REQUEST_TOPICS = {"requests": "buyer", "outbound-requests": "exchange"}  # PACT requests, and pcfx's own for missing inputs
ANSWER_TOPIC = "responses"


def apply_request_record(prefix: str):  # noqa: ANN201 (a follower callback)
    """Follower callback for ``requests``, ``outbound-requests`` and ``responses`` of ``prefix``."""

    def apply(conn: sqlite3.Connection, record: ConsumerRecord) -> None:
        if record.value is None:
            return
        logical = record.topic[len(prefix):]
        if logical == ANSWER_TOPIC:
            answer = decode_model(FootprintResponse, record.value)
            conn.execute("INSERT OR REPLACE INTO data_request_answers VALUES (?, ?)", (answer.request_id, int(not answer.rejected)))
            return
        request = decode_model(FootprintRequest, record.value)
        conn.execute("INSERT OR REPLACE INTO data_requests VALUES (?, ?, ?, ?, ?, ?, ?)", (
            request.request_id, REQUEST_TOPICS[logical], request.requester_company_name or request.requester_client_id,
            json.dumps([p.lower() for p in request.product_id]), json.dumps([c.lower() for c in request.company_id]),
            request.comment, request.created_at.astimezone(timezone.utc).isoformat(timespec="seconds")))

    return apply


@dataclass(frozen=True)
class OpenRequest:
    request_id: str
    origin: str  # buyer or exchange
    requester: str
    products: tuple[str, ...]
    comment: str
    created_at: str


def open_requests_of(conn: sqlite3.Connection, company: str, limit: int = 200) -> list[OpenRequest]:
    """Requests not yet fulfilled that ask for the company's data: they name the company in their companyId
    criteria, or a product the company publishes. An exchange request for a missing input is open while no
    Active footprint of that product is in the exchange. A request that names only products nobody has
    published cannot be tied to a supplier and is shown to none."""
    company = company.lower()
    own = {row["value"] for row in conn.execute(
        "SELECT DISTINCT p.value FROM footprint_keys c JOIN footprint_keys p ON p.seq = c.seq "
        "WHERE c.kind = 'company' AND c.value = ? AND p.kind = 'product'", (company,))}
    rows = conn.execute(
        "SELECT r.* FROM data_requests r LEFT JOIN data_request_answers a USING (request_id) "
        "WHERE coalesce(a.fulfilled, 0) = 0 ORDER BY r.created_at DESC LIMIT ?", (limit * 10,))
    found = []
    for row in rows:
        products, companies = json.loads(row["products"]), json.loads(row["companies"])
        if company not in companies and not own.intersection(products):
            continue
        if row["origin"] == "exchange" and products and all(active_footprint(conn, p) for p in products):
            continue
        found.append(OpenRequest(row["request_id"], row["origin"], row["requester"], tuple(products), row["comment"] or "",
                                 row["created_at"]))
    return found[:limit]


def active_footprint(conn: sqlite3.Connection, product: str) -> bool:
    return conn.execute("SELECT 1 FROM footprints f JOIN footprint_keys k ON k.seq = f.seq WHERE k.kind = 'product' "
                        "AND k.value = ? AND f.status = 'active' LIMIT 1", (product,)).fetchone() is not None
