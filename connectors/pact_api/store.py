"""The API's one SQLite file: read model, clients, tokens and delivery state live side by side.

SQLite connections must not be shared between threads, and the host runs the web server, the read-model
follower and the responder in different threads; so every thread gets its own connection to the same
file. WAL mode lets readers proceed while a follower commits a batch.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pcfx.settings import Settings

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another thread's transaction, in seconds


def db_path(settings: Settings) -> Path:
    """``<data_dir>/api/readmodel.sqlite``: the read model and the clients share this file."""
    return settings.data_dir / "api" / "readmodel.sqlite"


class Store:
    """Thread-local connections to one SQLite file, with the schema of every part created once."""

    def __init__(self, path: Path, schemas: tuple[str, ...] = ()) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)  # it holds token hashes and callback credentials: owner only
        os.chmod(path, 0o600)
        with self.transaction() as conn:
            for ddl in schemas:
                _run_script(conn, ddl)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a committed delivery decision survives a power cut
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection any thread opened (call once, at shutdown)."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()


def _run_script(conn: sqlite3.Connection, ddl: str) -> None:
    """Run ``;``-separated DDL inside the open transaction (``executescript`` would commit it)."""
    for statement in ddl.split(";"):
        if statement.strip():
            conn.execute(statement)
