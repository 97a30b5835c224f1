"""Issue 17.5: a Kafka outage logs once per kind of failure, not once per reconnect attempt (agents/quiet.py)."""

from __future__ import annotations

import logging

from pcfx.agents.quiet import OncePerOutage


def record(msg: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_of_one_kind_pass_once_per_outage_and_count_what_was_dropped() -> None:
    now = [0.0]
    once = OncePerOutage(quiet_s=60, clock=lambda: now[0])
    passed = []
    for second in range(27):  # ~100 attempts a second while the broker is away
        for _ in range(100):
            now[0] = second + 0.001 * _
            passed.append(once.filter(record("Unable connect to node with id %s: %s", 1, "refused")))
    assert passed.count(True) == 1
    assert once.filter(record("Unable to update metadata from %s", [1]))  # another kind: its first passes
    now[0] += 120  # back, then away again later: a new outage is logged, with the count of the last one
    again = record("Unable connect to node with id %s: %s", 1, "refused")
    assert once.filter(again) and "2699 alike dropped" in again.getMessage()


def test_info_and_debug_are_never_dropped() -> None:
    once = OncePerOutage(quiet_s=60, clock=lambda: 0.0)
    assert all(once.filter(record("joined group", level=logging.INFO)) for _ in range(5))
