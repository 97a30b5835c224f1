"""The read model: footprints the exchange holds, materialised from Kafka into SQLite, and who may see them.

Each row mirrors the latest record of one key of a compacted topic (``footprints`` keyed by publisher and product id,
``derived`` keyed by footprint id), so the state after live consumption equals the state after replaying
the topics from the beginning (:meth:`ReadModel.rebuild`). Rows keep the sequence number of their first
arrival; pagination walks that order, so a link asks for the same rows however often it is called.

Access rule (:meth:`ReadModel.visible`): the one rule of :mod:`pcfx.streams.access`, which the label stage
applies too. A client's company sees the footprints whose ``companyIds`` contain it (its own data), those
whose owner's latest ``Entitlement`` for it grants them (table ``grants``, followed from ``entitlements``),
and, unless an owner withheld them, those one of its recipes lists as inputs (table ``uses``, followed
from ``recipes``). The operator's read grants (table ``entitlements``, ``pcfx clients grant --owner``) add
every footprint of an owner company, for the API only.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from pcfx.connectors.pact_api.filters import Criteria, utc_text, validity_window
from pcfx.connectors.pact_api.store import Store
from pcfx.streams.ownership import judge_ids

SCHEMA = """
CREATE TABLE IF NOT EXISTS footprints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    status TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    topic TEXT NOT NULL,
    record_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS footprints_by_record ON footprints (topic, record_key);
CREATE TABLE IF NOT EXISTS footprint_keys (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES footprints (seq) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS footprint_keys_by_seq ON footprint_keys (seq);
CREATE TABLE IF NOT EXISTS entitlements (
    company TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('product', 'company')),
    value TEXT NOT NULL,
    PRIMARY KEY (company, kind, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants (
    supplier TEXT NOT NULL,
    company TEXT NOT NULL,
    product TEXT NOT NULL,
    granted INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (company, product, supplier)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uses (
    recipe TEXT NOT NULL,
    product TEXT NOT NULL,
    company TEXT NOT NULL,
    PRIMARY KEY (company, product, recipe)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uses_by_recipe ON uses (recipe);
CREATE TABLE IF NOT EXISTS superseded (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (
    product TEXT PRIMARY KEY,
    company TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejects (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    error TEXT NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (topic, partition, record_offset)
)
"""

# footprints a company may see (pcfx.streams.access): its own (companyIds); the operator's read grants; the
# latest decision of one of the footprint's owners on (company, product); else, what its recipes buy
VISIBLE = """(f.seq IN (
    SELECT seq FROM footprint_keys WHERE kind = 'company' AND value = :company
    UNION
    SELECT k.seq FROM entitlements e JOIN footprint_keys k ON k.kind = e.kind AND k.value = e.value
    WHERE e.company = :company)
  OR coalesce(
    (SELECT g.granted FROM grants g
       JOIN footprint_keys p ON p.seq = f.seq AND p.kind = 'product' AND p.value = g.product
       JOIN footprint_keys o ON o.seq = f.seq AND o.kind = 'company' AND o.value = g.supplier
     WHERE g.company = :company ORDER BY g.at_ms DESC LIMIT 1),
    EXISTS (SELECT 1 FROM uses u JOIN footprint_keys p ON p.seq = f.seq AND p.kind = 'product' AND p.value = u.product
            WHERE u.company = :company)))"""

KEY_KINDS = {"productId": "product", "companyId": "company", "geography": "geography", "classification": "classification"}
GEOGRAPHY_FIELDS = ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision")


class ReadModel:
    """Footprints by id with their filter keys, plus the entitlements table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing (called by the follower, inside its transaction) ---------------------------------------

    def put(self, conn: sqlite3.Connection, topic: str, record_key: str, footprint: dict[str, Any]) -> None:
        """Make ``footprint`` the one row of ``(topic, record_key)``; a footprint id seen before keeps its place."""
        pf_id = footprint["id"].lower()
        start, end = validity_window(footprint)
        conn.execute("INSERT OR REPLACE INTO superseded SELECT id, doc FROM footprints WHERE topic = ? AND record_key = ? "
                     "AND id != ?", (topic, record_key, pf_id))
        conn.execute("DELETE FROM footprints WHERE topic = ? AND record_key = ? AND id != ?", (topic, record_key, pf_id))
        row = (json.dumps(footprint, separators=(",", ":"), ensure_ascii=False), footprint["status"].lower(), start, end)
        found = conn.execute("SELECT seq FROM footprints WHERE id = ?", (pf_id,)).fetchone()
        if found is None:
            seq = conn.execute(
                "INSERT INTO footprints (id, doc, status, valid_from, valid_to, topic, record_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pf_id, *row, topic, record_key),
            ).lastrowid
        else:
            seq = found["seq"]
            conn.execute(
                "UPDATE footprints SET doc = ?, status = ?, valid_from = ?, valid_to = ?, topic = ?, record_key = ? WHERE seq = ?",
                (*row, topic, record_key, seq),
            )
            conn.execute("DELETE FROM footprint_keys WHERE seq = ?", (seq,))
        conn.executemany("INSERT OR IGNORE INTO footprint_keys (kind, value, seq) VALUES (?, ?, ?)", _keys(footprint, seq))

    def claim(self, conn: sqlite3.Connection, footprint: dict[str, Any], publisher: str | None) -> str:
        """Apply the ownership rule (:mod:`pcfx.streams.ownership`) to a supplier footprint in topic order:
        raises ``OwnershipError`` for one its publisher may not publish, else stores the first claims and
        returns the publisher."""
        def owner_of(product: str) -> str | None:
            row = conn.execute("SELECT company FROM owners WHERE product = ?", (product,)).fetchone()
            return None if row is None else row["company"]
        verdict = judge_ids(footprint["companyIds"], footprint["productIds"], publisher, owner_of)
        conn.executemany("INSERT OR IGNORE INTO owners (product, company) VALUES (?, ?)",
                         [(product, verdict.publisher) for product in verdict.claims])
        return verdict.publisher

    def adopt(self, conn: sqlite3.Connection, topic: str, legacy_key: str, record_key: str) -> None:
        """Move the row of a record keyed the old way (the bare product id) under the key its product's
        records now carry (``<publisher>|<product id>``), so the new record supersedes it as a later record
        of the same key would. Only the owner's record can hold either key here (:meth:`claim` ran first)."""
        if legacy_key != record_key:
            conn.execute("UPDATE footprints SET record_key = ? WHERE topic = ? AND record_key = ?", (record_key, topic, legacy_key))

    def delete(self, conn: sqlite3.Connection, topic: str, record_key: str) -> None:
        """A tombstone: the key is gone from the compacted topic, so its footprint leaves the read model."""
        conn.execute("DELETE FROM footprints WHERE topic = ? AND record_key = ?", (topic, record_key))

    def put_decision(self, conn: sqlite3.Connection, supplier: str, company: str, product: str, granted: bool | None,
                     at_ms: int = 0) -> None:
        """An owner's grant (or withholding, ``granted`` False) of ``product`` to ``company``; the newer one
        wins, as in the label stage. ``granted`` None (a tombstone) forgets the decision."""
        names = (company.lower(), product.lower(), supplier.lower())
        if granted is None:
            conn.execute("DELETE FROM grants WHERE company = ? AND product = ? AND supplier = ?", names)
            return
        conn.execute(
            "INSERT INTO grants (company, product, supplier, granted, at_ms) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (company, product, supplier) DO UPDATE SET granted = excluded.granted, at_ms = excluded.at_ms"
            " WHERE excluded.at_ms >= grants.at_ms",
            (*names, int(granted), at_ms),
        )

    def put_uses(self, conn: sqlite3.Connection, recipe: str, inputs: list[str], companies: list[str]) -> None:
        """What recipe ``recipe`` buys: each of its companies buys each input product (empty: nothing now)."""
        conn.execute("DELETE FROM uses WHERE recipe = ?", (recipe,))
        conn.executemany(
            "INSERT OR IGNORE INTO uses (recipe, product, company) VALUES (?, ?, ?)",
            [(recipe, product.lower(), company.lower()) for product in inputs for company in companies],
        )

    def reject(self, conn: sqlite3.Connection, topic: str, partition: int, offset: int, error: str) -> None:
        """Remember a record that could not be read, so an operator can find it (``rejects`` table)."""
        conn.execute(
            "INSERT OR REPLACE INTO rejects (topic, partition, record_offset, error) VALUES (?, ?, ?, ?)",
            (topic, partition, offset, error),
        )

    def clear(self, conn: sqlite3.Connection) -> None:
        """Drop every materialised footprint (grants stay: they are not derived from the topics)."""
        conn.execute("DELETE FROM footprints")
        conn.execute("DELETE FROM superseded")
        conn.execute("DELETE FROM rejects")
        conn.execute("DELETE FROM owners")

    # -- reading --------------------------------------------------------------------------------------

    def query(self, company: str, criteria: Criteria, *, after: int, upto: int, limit: int) -> list[sqlite3.Row]:
        """Rows ``(seq, doc)`` the company may see that meet ``criteria``, in arrival order, with
        ``after < seq <= upto``, at most ``limit`` of them."""
        clauses, params = _criteria_sql(criteria)
        params.update(company=company.lower(), after=after, upto=upto, limit=limit)
        where = " AND ".join(["f.seq > :after", "f.seq <= :upto", VISIBLE, *clauses])
        sql = f"SELECT f.seq, f.doc FROM footprints f WHERE {where} ORDER BY f.seq LIMIT :limit"
        return self.store.conn.execute(sql, params).fetchall()

    def last_seq(self) -> int:
        """The newest row's sequence number: a listing started now ends there."""
        return self.store.conn.execute("SELECT coalesce(max(seq), 0) FROM footprints").fetchone()[0]

    def get(self, pf_id: str) -> dict[str, Any] | None:
        row = self.store.conn.execute("SELECT doc FROM footprints WHERE id = ?", (pf_id.lower(),)).fetchone()
        return None if row is None else json.loads(row["doc"])

    def get_any(self, pf_id: str) -> dict[str, Any] | None:
        """A footprint served now, or one a newer record of its key replaced (kept in ``superseded``, never
        listed): an explanation of an older derived footprint needs the inputs it used."""
        found = self.get(pf_id)
        if found is not None:
            return found
        row = self.store.conn.execute("SELECT doc FROM superseded WHERE id = ?", (pf_id.lower(),)).fetchone()
        return None if row is None else json.loads(row["doc"])

    def visible(self, company: str, footprint: dict[str, Any]) -> bool:
        """May a client of ``company`` see ``footprint``? The one access rule, shared with :meth:`query`."""
        sql = f"SELECT 1 FROM footprints f WHERE f.id = :id AND {VISIBLE}"
        params = {"id": footprint["id"].lower(), "company": company.lower()}
        return self.store.conn.execute(sql, params).fetchone() is not None

    def count(self) -> int:
        return self.store.conn.execute("SELECT count(*) FROM footprints").fetchone()[0]

    def owner_of(self, product_id: str) -> str | None:
        """The first owner (companyIds) of the newest footprint of ``product_id`` held, if any."""
        row = self.store.conn.execute(
            "SELECT f.doc FROM footprints f JOIN footprint_keys k ON k.seq = f.seq AND k.kind = 'product' AND k.value = ?"
            " ORDER BY f.seq DESC LIMIT 1", (product_id.lower(),),
        ).fetchone()
        return None if row is None else (json.loads(row["doc"]).get("companyIds") or [None])[0]

    # -- the operator's read grants (``pcfx clients grant --owner``; tests also grant a product) ----------

    def grant(self, company: str, product_id: str | None = None, *, owner_company: str | None = None) -> None:
        """The operator's read grant: let ``company`` see every footprint of ``product_id``, or of
        ``owner_company``, over the API (no labels; an owner's grant is an ``Entitlement``, see
        :mod:`pcfx.streams.access`)."""
        kind, value = _entitlement(product_id, owner_company)
        with self.store.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO entitlements VALUES (?, ?, ?)", (company.lower(), kind, value))

    def revoke(self, company: str, product_id: str | None = None, *, owner_company: str | None = None) -> bool:
        """Withdraw a grant; False if there was none."""
        kind, value = _entitlement(product_id, owner_company)
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM entitlements WHERE company = ? AND kind = ? AND value = ?", (company.lower(), kind, value)
            )
        return cursor.rowcount > 0

    def grants(self, company: str) -> list[tuple[str, str]]:
        """(kind, value) pairs granted to ``company``; kind is ``product`` or ``company``."""
        rows = self.store.conn.execute(
            "SELECT kind, value FROM entitlements WHERE company = ? ORDER BY kind, value", (company.lower(),)
        )
        return [(row["kind"], row["value"]) for row in rows]


def _keys(footprint: dict[str, Any], seq: int) -> list[tuple[str, str, int]]:
    """The lower-cased values the filters match, one row per (kind, value)."""
    pcf = footprint.get("pcf") or {}
    values = {
        "product": footprint.get("productIds") or [],
        "company": footprint.get("companyIds") or [],
        "classification": footprint.get("productClassifications") or [],
        "geography": [pcf[name] for name in GEOGRAPHY_FIELDS if pcf.get(name)],
    }
    return [(kind, value.lower(), seq) for kind, items in values.items() for value in items]


def _criteria_sql(criteria: Criteria) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (ANDed) and their named parameters for ``criteria``; values within one are ORed."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, kind in KEY_KINDS.items():
        names = _bind(params, name, [v.lower() for v in getattr(criteria, name)])
        if names:
            clauses.append(f"f.seq IN (SELECT seq FROM footprint_keys WHERE kind = '{kind}' AND value IN ({names}))")
    statuses = _bind(params, "status", [v.lower() for v in criteria.status])
    if statuses:
        clauses.append(f"f.status IN ({statuses})")
    times = {
        "validOn": "f.valid_from <= :validOn AND :validOn <= f.valid_to",
        "validAfter": "f.valid_from > :validAfter",
        "validBefore": "f.valid_to < :validBefore",
    }
    for name, condition in times.items():
        value = getattr(criteria, name)
        if value is not None:
            params[name] = utc_text(value)
            clauses.append(condition)
    return clauses, params


def _bind(params: dict[str, Any], prefix: str, values: list[str]) -> str:
    """Add ``values`` as ``:prefix0, :prefix1, ...`` and return that placeholder list."""
    for index, value in enumerate(values):
        params[f"{prefix}{index}"] = value
    return ", ".join(f":{prefix}{index}" for index in range(len(values)))


def _entitlement(product_id: str | None, owner_company: str | None) -> tuple[str, str]:
    if (product_id is None) == (owner_company is None):
        raise ValueError("grant either a product id or an owner company, not both or neither")
    return ("product", product_id.lower()) if product_id is not None else ("company", owner_company.lower())  # type: ignore[union-attr]
