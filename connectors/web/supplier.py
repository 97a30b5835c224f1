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

from pcfx.schemas.models import DeadLetter
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
                               ", ".join(doc.get("precedingPfIds") or [])))
    return found
