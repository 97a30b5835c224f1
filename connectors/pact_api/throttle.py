"""Guarding the token endpoint against guessing: failures are counted per client id and per address, a
key with too many recent failures is refused for a while (even with the right secret), and the slow secret
hash runs in its own small pool so a flood of wrong secrets cannot hold up other clients' requests.

Every refusal is decided before any hashing, from counts alone, so a refused request costs no scrypt work:

- a key (client id or address) is refused once its recent failures *plus its checks still running* reach
  its limit, so a flood from one address gets exactly :data:`FAILURES_PER_ADDRESS` checks a window however
  many connections it opens (counting only finished checks let 16 more through while the first ran);
- one address may have at most :data:`WAITING_PER_ADDRESS` checks queued or running, so one attacker
  cannot fill the shared queue of :data:`MAX_WAITING` and keep other clients from their tokens;
- an address that got a token within :data:`TRUSTED_S` has a lane of its own (its own check thread and
  queue), so a flood spread over many addresses, which fills the common lane, does not keep the clients
  that were working before from their next token. The lane depends only on the asking address's own
  history, so it tells nothing about which client ids exist;
- the check threads run at a lower CPU priority (:data:`HASH_NICE`, Linux), so when the cores are busy the
  event loop and other clients' requests run first and the hashing waits.

Unknown client ids are checked against a dummy hash of the same cost, so the answer time does not tell
which client ids exist.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

FAILURES_PER_CLIENT = 10  # failed attempts within WINDOW_S that lock a client id
FAILURES_PER_ADDRESS = 20  # failed attempts within WINDOW_S that lock an address
WINDOW_S = 60.0  # the span failures are counted over, and how long a lock lasts, in seconds
HASH_THREADS = 1  # secret checks at once (each is scrypt: ~16 MiB and tens of ms of one core)
MAX_WAITING = 16  # secret checks queued or running at most; beyond, the endpoint answers 429 at once
WAITING_PER_ADDRESS = 2  # of those, from one address at most
HASH_NICE = 10  # the check threads' niceness: they yield the cores to request handling when they are contended
TRUSTED_S = 24 * 3600.0  # an address that got a token this recently uses the trusted lane, in seconds
MAX_TRUSTED = 10_000  # addresses remembered at most (the least recent are forgotten first)


@dataclass
class Failures:
    """Recent failure times per key, and until when each locked key is refused."""

    limit: int
    window_s: float = WINDOW_S
    seen: dict[str, deque[float]] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)

    def recent(self, key: str, now: float) -> int:
        """Failures of ``key`` within the window before ``now``."""
        return sum(1 for moment in self.seen.get(key, ()) if moment > now - self.window_s)

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


@dataclass
class Lane:
    """A check thread and its queue: the common one, or the one of addresses that got a token lately."""

    name: str
    pool: ThreadPoolExecutor = field(init=False)
    waiting: int = 0

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix=f"pcfx-api-secrets-{self.name}",
                                       initializer=lower_priority)


class TokenGuard:
    """Counts failures, refuses locked keys, and runs the secret checks in its own pools (lanes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.clients = Failures(FAILURES_PER_CLIENT)
        self.addresses = Failures(FAILURES_PER_ADDRESS)
        self.common, self.trusted = Lane("common"), Lane("trusted")
        self.succeeded: dict[str, float] = {}  # address -> when it last got a token, least recent first
        self.running: dict[str, Counter[str]] = {"client": Counter(), "address": Counter()}  # checks admitted, not done
        self._lock = threading.Lock()

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The common lane's pool."""
        return self.common.pool

    @property
    def waiting(self) -> int:
        return self.common.waiting + self.trusted.waiting

    def admit(self, client_id: str, address: str) -> ThreadPoolExecutor:
        """The pool to check the secret in, or :class:`Refused` if the client id or the address is locked or
        would be by the checks it has running, if the address has its share of checks waiting, or if its
        lane is full."""
        with self._lock:
            now = self.clock()
            wait = max(self.clients.wait_s(client_id, now), self.addresses.wait_s(address, now))
            if wait > 0:
                raise Refused("too many failed attempts; retry later", wait)
            if (self.clients.recent(client_id, now) + self.running["client"][client_id] >= FAILURES_PER_CLIENT
                    or self.addresses.recent(address, now) + self.running["address"][address] >= FAILURES_PER_ADDRESS):
                raise Refused("too many attempts under way; retry shortly", 1.0)  # they may all fail: count them
            if self.running["address"][address] >= WAITING_PER_ADDRESS:
                raise Refused("too many token requests at once from this address; retry shortly", 1.0)
            lane = self.trusted if now - self.succeeded.get(address, -TRUSTED_S) < TRUSTED_S else self.common
            if lane.waiting >= MAX_WAITING:
                raise Refused("too many token requests at once; retry shortly", 1.0)
            lane.waiting += 1
            self.running["client"][client_id] += 1
            self.running["address"][address] += 1
            return lane.pool

    def done(self, client_id: str, address: str, ok: bool, pool: ThreadPoolExecutor | None = None) -> None:
        """Book the outcome of a check admitted into ``pool`` (default: the common lane's)."""
        with self._lock:
            lane = self.trusted if pool is self.trusted.pool else self.common
            lane.waiting -= 1
            for kind, key in (("client", client_id), ("address", address)):
                self.running[kind][key] -= 1
                if self.running[kind][key] <= 0:
                    del self.running[kind][key]
            now = self.clock()
            if ok:
                self.clients.succeed(client_id)
                self.succeeded.pop(address, None)
                self.succeeded[address] = now  # most recent last
                while len(self.succeeded) > MAX_TRUSTED:
                    del self.succeeded[next(iter(self.succeeded))]
                return
            self.clients.fail(client_id, now)
            self.addresses.fail(address, now)
            if len(self.addresses.seen) > 10_000:
                self.addresses.forget_old(now)
                self.clients.forget_old(now)

    def close(self) -> None:
        for lane in (self.common, self.trusted):
            lane.pool.shutdown(wait=False, cancel_futures=True)


def lower_priority() -> None:
    """Run the calling thread at niceness :data:`HASH_NICE` (Linux sets it per thread; elsewhere, or if the
    system refuses, the thread keeps the process's priority)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)
    except (AttributeError, OSError):
        pass
