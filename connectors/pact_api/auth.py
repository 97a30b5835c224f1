"""Clients, their hashed secrets, and opaque access tokens (OAuth2 client credentials, RFC 6749 §4.4).

Tokens are random strings stored only as their SHA-256 with an expiry, not signed JWTs: the host that
issues them is the only one that checks them, so there is no key to manage, and removing a client ends
its tokens at once (a JWT would stay valid until it expired). Client secrets are stored as scrypt
hashes with a per-client salt; a secret is shown once, when ``pcfx clients add`` creates it.

A client may register a callback: the base URL of its own PACT host and the credentials this host uses
there to deliver answers to the client's RequestCreatedEvents. That secret is stored in clear because it
must be sent; the database file is readable by its owner only (see :class:`Store`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote_plus

from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    company TEXT NOT NULL,
    callback_url TEXT,
    callback_client_id TEXT,
    callback_secret TEXT,
    callback_verify_tls INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    expires_at REAL NOT NULL
)
"""
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MiB and tens of ms per check: slow for guessing, fine per token
EXPIRED_KEPT_S = 86400  # expired tokens are kept a day so their use is answered "TokenExpired", in seconds
SCOPES = "footprint:list footprint:read"


@dataclass(frozen=True)
class Callback:
    """Where answers to a client's requests go: its PACT host's base URL and our credentials there."""

    url: str
    client_id: str
    client_secret: str
    verify_tls: bool = True


@dataclass(frozen=True)
class Client:
    client_id: str
    company: str
    callback: Callback | None = None


class Clients:
    """The ``clients`` and ``tokens`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, client_id: str, company: str, secret: str | None = None, callback: Callback | None = None) -> str:
        """Create a client bound to ``company``; returns its secret (generated unless given)."""
        if not client_id or ":" in client_id:
            raise ValueError(f"client id {client_id!r} must be non-empty and contain no ':' (HTTP Basic separator)")
        if not company.strip():
            raise ValueError(f"client {client_id}: the company id must not be empty")
        secret = secret or secrets.token_urlsafe(32)
        cb = callback or Callback("", "", "")
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM clients WHERE client_id = ?", (client_id,)).fetchone():
                raise ValueError(f"client {client_id!r} exists already; remove it first to replace it")
            conn.execute(
                "INSERT INTO clients (client_id, secret_hash, company, callback_url, callback_client_id, callback_secret,"
                " callback_verify_tls) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (client_id, hash_secret(secret), company, cb.url or None, cb.client_id or None, cb.client_secret or None,
                 int(cb.verify_tls)),
            )
        return secret

    def remove(self, client_id: str) -> bool:
        """Delete a client and every token it holds; False if there was no such client."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)).rowcount > 0

    def all(self) -> list[Client]:
        rows = self.store.conn.execute("SELECT * FROM clients ORDER BY client_id").fetchall()
        return [_client(row) for row in rows]

    def find(self, client_id: str) -> Client | None:
        row = self.store.conn.execute("SELECT * FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else _client(row)

    def issue_token(self, client_id: str, secret: str, ttl_s: int) -> str | None:
        """A new access token valid ``ttl_s`` seconds, or None if the credentials are wrong."""
        row = self.store.conn.execute("SELECT secret_hash FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        if row is None:
            check_secret(secret, dummy_hash())  # as slow as a known client's check: the time tells nothing
            return None
        if not check_secret(secret, row["secret_hash"]):
            return None
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (now - EXPIRED_KEPT_S,))
            conn.execute("INSERT INTO tokens VALUES (?, ?, ?)", (_digest(token), client_id, now + ttl_s))
        return token

    def client_for_token(self, authorization: str | None) -> Client:
        """The client behind an ``Authorization: Bearer`` header; raises ApiError (401) otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("BadRequest", "missing access token: send 'Authorization: Bearer <token>' (get one at /auth/token)", 401)
        row = self.store.conn.execute(
            "SELECT c.*, t.expires_at FROM tokens t JOIN clients c USING (client_id) WHERE t.token_hash = ?",
            (_digest(token.strip()),),
        ).fetchone()
        if row is None:
            raise ApiError("BadRequest", "invalid access token: it was not issued by this host or its client was removed", 401)
        if row["expires_at"] < time.time():
            raise ApiError("TokenExpired", "the access token has expired; request a new one at /auth/token")
        return _client(row)


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client_id, secret) from an HTTP Basic header, form-decoded as RFC 6749 §2.3.1 asks; None if absent
    or malformed."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if colon else None


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


@cache
def dummy_hash() -> str:
    """A hash no secret matches in practice, checked for unknown client ids."""
    return hash_secret(secrets.token_urlsafe(32))


def check_secret(secret: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), **SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client(row: sqlite3.Row) -> Client:
    callback = None
    if row["callback_url"]:
        callback = Callback(row["callback_url"], row["callback_client_id"] or "", row["callback_secret"] or "",
                            bool(row["callback_verify_tls"]))
    return Client(row["client_id"], row["company"], callback)
