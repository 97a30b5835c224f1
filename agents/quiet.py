"""One log line per Kafka outage instead of one per reconnect attempt.

While the broker is away, aiokafka logs an ERROR for every failed connect, metadata refresh, fetch and
coordinator request: about 3,100 lines in 27 s of outage on one worker (measured 2026-12-04). That buries
whatever else happened. :class:`OncePerOutage` lets the first line of each kind through and drops its
repeats until that kind has been quiet for :data:`QUIET_S`; the worker's own lag sampler then logs once
when Kafka becomes unreachable and once when it is back (``agents/observe.py``), and
``pcfx_kafka_connected`` shows the state all along.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

QUIET_S = 60.0  # a kind of warning not seen for this long is logged again (a new outage), in seconds
#: aiokafka's modules that log per attempt (each has its own logger; a logger's filter sees only its own records)
AIOKAFKA_LOGGERS = ("aiokafka", "aiokafka.client", "aiokafka.conn", "aiokafka.cluster", "aiokafka.consumer.fetcher",
                    "aiokafka.consumer.group_coordinator", "aiokafka.consumer.consumer", "aiokafka.producer.sender",
                    "aiokafka.producer.producer")


class OncePerOutage(logging.Filter):
    """Passes the first WARNING-or-worse record of each (logger, message template) and drops its repeats
    until that kind has not occurred for ``quiet_s``; the next one that passes says how many were dropped."""

    def __init__(self, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.quiet_s, self.clock = quiet_s, clock
        self.kinds: dict[tuple[str, str], tuple[float, int]] = {}  # kind -> (last seen, dropped since passed)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind, now = (record.name, str(record.msg)), self.clock()
        last, dropped = self.kinds.get(kind, (None, 0))
        if last is not None and now - last < self.quiet_s:
            self.kinds[kind] = (now, dropped + 1)
            return False
        self.kinds[kind] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} alike dropped during the last outage)"
        return True


def install() -> OncePerOutage:
    """Attach one :class:`OncePerOutage` to each of aiokafka's loggers."""
    once = OncePerOutage()
    for name in AIOKAFKA_LOGGERS:
        logging.getLogger(name).addFilter(once)
    return once
