"""Guarding the token endpoint against guessing: failures are counted per client id and per address, a
key with too many recent failures is refused for a while (even with the right secret), and the slow secret
hash runs in its own small pool so a flood of wrong secrets cannot hold up other clients' requests.

Unknown client ids are checked against a dummy hash of the same cost, so the answer time does not tell
which client ids exist.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

FAILURES_PER_CLIENT = 10  # failed attempts within WINDOW_S that lock a client id
FAILURES_PER_ADDRESS = 20  # failed attempts within WINDOW_S that lock an address
WINDOW_S = 60.0  # the span failures are counted over, and how long a lock lasts, in seconds
HASH_THREADS = 1  # secret checks at once (each is scrypt: ~16 MiB and tens of ms of one core)
MAX_WAITING = 16  # secret checks queued at most; beyond, the endpoint answers 429 at once


@dataclass
class Failures:
    """Recent failure times per key, and until when each locked key is refused."""

    limit: int
    window_s: float = WINDOW_S
    seen: dict[str, deque[float]] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)

    def wait_s(self, key: str, now: float) -> float:
        """Seconds ``key`` is still refused (0: it may try)."""
        until = self.locked_until.get(key, 0.0)
        if until <= now:
            self.locked_until.pop(key, None)
            return 0.0
        return until - now

    def fail(self, key: str, now: float) -> None:
        times = self.seen.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            self.locked_until[key] = now + self.window_s
            times.clear()

    def succeed(self, key: str) -> None:
        self.seen.pop(key, None)

    def forget_old(self, now: float) -> None:
        """Drop keys with no recent failure (bounded memory under a flood of addresses)."""
        for key in [k for k, times in self.seen.items() if not times or times[-1] <= now - self.window_s]:
            del self.seen[key]


class Refused(Exception):
    """The request is not tried now: ``retry_after_s`` and the reason for the answer."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class TokenGuard:
    """Counts failures, refuses locked keys, and runs the secret checks in its own pool."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.clients = Failures(FAILURES_PER_CLIENT)
        self.addresses = Failures(FAILURES_PER_ADDRESS)
        self.pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="pcfx-api-secrets")
        self.waiting = 0
        self._lock = threading.Lock()

    def admit(self, client_id: str, address: str) -> None:
        """Raise :class:`Refused` if the client id or the address is locked, or too many checks wait."""
        with self._lock:
            now = self.clock()
            wait = max(self.clients.wait_s(client_id, now), self.addresses.wait_s(address, now))
            if wait > 0:
                raise Refused("too many failed attempts; retry later", wait)
            if self.waiting >= MAX_WAITING:
                raise Refused("too many token requests at once; retry shortly", 1.0)
            self.waiting += 1

    def done(self, client_id: str, address: str, ok: bool) -> None:
        """Book the outcome of an admitted check."""
        with self._lock:
            self.waiting -= 1
            now = self.clock()
            if ok:
                self.clients.succeed(client_id)
                return
            self.clients.fail(client_id, now)
            self.addresses.fail(address, now)
            if len(self.addresses.seen) > 10_000:
                self.addresses.forget_old(now)
                self.clients.forget_old(now)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
