"""The PACT pull connector: fetch a supplier's footprints from its PACT v3 host and publish what is new.

A footprint *version* is its id and status: PACT v3 footprints are immutable except for the one move to
Deprecated (§7), so (id, status) names everything that can change. The :class:`Ledger` remembers every
version handled (published, rejected or superseded) in SQLite at ``<data dir>/pull/<host>.sqlite``, so
running twice, or again after a restart, publishes nothing twice.

Kafka keys a supplier's footprints by its company and product id on a compacted topic, so the last record
of a key is what survives and what the API serves; one pull connector publishes for one supplier, so the
product id alone tells its keys apart. Versions are therefore published old to new per key (a Deprecated one before the
Active ones), and a deprecation that arrives after its successor was published is *superseded*: recorded,
not published, since it would otherwise replace the successor.

The only window left: a crash after Kafka acknowledged a batch and before the ledger committed it makes
the next run publish that batch once more (the same ids; the engine and the read model take a repeat as
a no-op).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.pact_v2 import footprint_from_pact
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    pf_id TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('published', 'rejected', 'superseded')),
    product_key TEXT,
    created_us INTEGER,
    reason TEXT,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (pf_id, status)
);
CREATE INDEX IF NOT EXISTS versions_by_key ON versions (product_key, status);
CREATE TABLE IF NOT EXISTS pending (
    pf_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL
)
"""

Publish = Callable[[list[ProductFootprint]], Any]  # sends footprints to Kafka; returns once acknowledged


@dataclass(frozen=True)
class Version:
    """One version of a footprint: its id (lower case) and status."""

    pf_id: str
    status: str


@dataclass(frozen=True)
class Handled:
    """What became of one version, as the ledger records it."""

    version: Version
    outcome: str  # published, rejected or superseded
    product_key: str | None = None
    created_us: int | None = None  # microseconds since the epoch
    reason: str | None = None


@dataclass
class Summary:
    """One round: how many versions were seen, and what became of them."""

    seen: int = 0
    published: int = 0
    unchanged: int = 0
    superseded: int = 0
    rejected: list[str] = field(default_factory=list)  # the reasons, naming footprint and field

    def __str__(self) -> str:
        return (f"{self.seen} seen, {self.published} published, {self.unchanged} unchanged, "
                f"{self.superseded} superseded, {len(self.rejected)} rejected")


class Ledger(Protocol):
    """What the connector remembers; :class:`SqliteLedger` keeps it on disk, tests keep it in a dict."""

    def handled(self, versions: Iterable[Version]) -> set[Version]:
        """The versions among ``versions`` handled before."""

    def newer_active(self, product_key: str, pf_id: str, created_us: int) -> bool:
        """True if an Active footprint of ``product_key`` created after ``created_us`` was published."""

    def record(self, outcomes: Sequence[Handled]) -> None:
        """Remember ``outcomes`` for good."""


def version_of(document: Any) -> Version | None:
    """The version a PACT JSON footprint claims to be, or None if it has no readable id and status."""
    if not isinstance(document, dict):
        return None
    pf_id, status = document.get("id"), document.get("status")
    if not isinstance(pf_id, str) or not isinstance(status, str):
        return None
    return Version(pf_id.lower(), status)


def take(documents: Iterable[Any], ledger: Ledger, publish: Publish) -> Summary:
    """Publish the versions among ``documents`` the ledger has not handled, and record what became of them.

    Everything is validated first (PACT v2 is converted); invalid ones are recorded as rejected with the
    reason. The valid ones go to Kafka in one acknowledged batch before the ledger records them.
    """
    summary = Summary()
    fresh: dict[Version, Any] = {}
    for document in documents:
        summary.seen += 1
        version = version_of(document)
        if version is None:
            reason = f"a listed item without a readable id and status: {str(document)[:80]}"
            log.error("rejected from the supplier: %s", reason)
            summary.rejected.append(reason)
        else:
            fresh.setdefault(version, document)  # a version listed twice is one version
    for version in ledger.handled(fresh):
        del fresh[version]
        summary.unchanged += 1
    outcomes, models = _validate(fresh, summary)
    ready, superseded = in_publishing_order(models, ledger)
    outcomes += [_handled(model, "superseded") for model in superseded]
    summary.superseded += len(superseded)
    if ready:
        publish(ready)
    outcomes += [_handled(model, "published") for model in ready]
    summary.published += len(ready)
    ledger.record(outcomes)
    return summary


def in_publishing_order(models: list[ProductFootprint], ledger: Ledger) -> tuple[list[ProductFootprint], list[ProductFootprint]]:
    """(to publish, superseded): per product key old to new, a Deprecated version before the Active ones,
    and a deprecation whose successor is already on Kafka left out (it would replace the successor)."""
    ordered = sorted(models, key=lambda m: (m.status == "Active", m.created))
    ready, superseded = [], []
    for model in ordered:
        if model.status == "Deprecated" and ledger.newer_active(product_key(model), model.id.lower(), _micros(model.created)):
            superseded.append(model)
        else:
            ready.append(model)
    return ready, superseded


def product_key(model: ProductFootprint) -> str:
    """What tells the footprint's Kafka key apart among one supplier's: its first product id (the key is
    ``<supplier>|<first product id>``, :class:`SupplierClient`)."""
    return model.product_ids[0]


def _validate(fresh: dict[Version, Any], summary: Summary) -> tuple[list[Handled], list[ProductFootprint]]:
    outcomes, models = [], []
    for version, document in fresh.items():
        try:
            models.append(footprint_from_pact(document))
        except ContractError as error:
            log.error("rejected from the supplier: %s", error)
            summary.rejected.append(str(error))
            outcomes.append(Handled(version, "rejected", reason=str(error)))
    return outcomes, models


def _handled(model: ProductFootprint, outcome: str) -> Handled:
    version = Version(model.id.lower(), model.status)
    return Handled(version, outcome, product_key(model), _micros(model.created))


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


# -- the ledger on disk ---------------------------------------------------------------------------------


def ledger_path(settings: Settings, base_url: str) -> Path:
    """``<data dir>/pull/<host>.sqlite``, one file per supplier host (port and path included)."""
    parts = urlsplit(base_url)
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.netloc + parts.path).strip("_") or "supplier"
    return settings.data_dir / "pull" / f"{name}.sqlite"


class SqliteLedger:
    """The :class:`Ledger` in one SQLite file, beside the pending re-fetches of PublishedEvents."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def handled(self, versions: Iterable[Version]) -> set[Version]:
        found = set()
        for version in versions:
            row = self.store.conn.execute("SELECT 1 FROM versions WHERE pf_id = ? AND status = ?",
                                          (version.pf_id, version.status)).fetchone()
            if row is not None:
                found.add(version)
        return found

    def newer_active(self, product_key: str, pf_id: str, created_us: int) -> bool:
        row = self.store.conn.execute(
            "SELECT 1 FROM versions WHERE product_key = ? AND status = 'Active' AND outcome = 'published' "
            "AND pf_id != ? AND created_us > ?", (product_key, pf_id, created_us)).fetchone()
        return row is not None

    def record(self, outcomes: Sequence[Handled]) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(o.version.pf_id, o.version.status, o.outcome, o.product_key, o.created_us, o.reason, now) for o in outcomes]
        with self.store.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def add_pending(self, conn: sqlite3.Connection, pf_ids: Iterable[str], event_id: str) -> None:
        """Note footprints a PublishedEvent named, inside the caller's transaction."""
        conn.executemany("INSERT OR IGNORE INTO pending VALUES (?, ?)", [(pf_id.lower(), event_id) for pf_id in pf_ids])

    def pending(self) -> list[str]:
        return [row["pf_id"] for row in self.store.conn.execute("SELECT pf_id FROM pending ORDER BY rowid")]

    def done(self, pf_ids: Iterable[str]) -> None:
        with self.store.transaction() as conn:
            conn.executemany("DELETE FROM pending WHERE pf_id = ?", [(pf_id,) for pf_id in pf_ids])

    def outcomes(self) -> dict[str, int]:
        """How many versions ended in each outcome (for ``pcfx pull`` and tests)."""
        rows = self.store.conn.execute("SELECT outcome, COUNT(*) AS n FROM versions GROUP BY outcome")
        return {row["outcome"]: row["n"] for row in rows}
