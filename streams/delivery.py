"""Webhook delivery of labels as pure state: one :class:`Outbox` per (buyer, product), and the retry schedule.

Each label version becomes one PACT v3 PublishedEvent (CloudEvents 1.0, structured mode) whose id is
uuid5(label id, version): a receiver that sees an id twice can drop the copy. Versions of one label go
out in order; a failed attempt is retried after 1, 2, 4, ... seconds (capped at 1 hour) until the version
is older than the maximum age (PACT: 72 hours), when it is abandoned and the next version goes.
``delivered`` is the newest version sent or abandoned, so a version is never queued twice.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel

from pcfx.metrics import Outcome
from pcfx.schemas.models import CarbonLabel, format_datetime

PUBLISHED_EVENT = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
LABEL_ATTRIBUTE = "pcfxlabel"  # CloudEvents extension attribute: the label as JSON text
FIRST_RETRY_S = 1.0  # wait after the first failed attempt, in seconds; doubles with each failure
RETRY_FACTOR = 2.0
LONGEST_RETRY_S = 3600.0  # the wait stops growing here, in seconds


class Pending(BaseModel):
    """One label version waiting for its webhook; times in ms since the epoch."""

    version: int
    url: str
    event: dict[str, Any]
    queued_ms: int
    attempts: int = 0
    next_ms: int


class Outbox(BaseModel):
    """The webhook deliveries of one label (a table value). ``partition`` is the ``labels`` partition it
    belongs to, so a worker only delivers for the partitions it owns."""

    partition: int
    delivered: int = 0
    queue: list[Pending] = []


def retry_delay_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 1, 2, 4, ... capped at 1 hour."""
    return min(FIRST_RETRY_S * RETRY_FACTOR ** (attempts - 1), LONGEST_RETRY_S)


def published_event(label: CarbonLabel, source: str) -> dict[str, Any]:
    """The PACT v3 PublishedEvent announcing ``label``'s footprint, with the label itself as an extension."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(uuid.UUID(label.label_id), str(label.version))),
        "source": source,
        "type": PUBLISHED_EVENT,
        "time": format_datetime(label.issued_at),
        "datacontenttype": "application/json",
        "data": {"pfIds": [label.pf_id]},
        LABEL_ATTRIBUTE: json.dumps(label.to_json(), ensure_ascii=False, separators=(",", ":")),
    }


def enqueue(outbox: Outbox, label: CarbonLabel, url: str, source: str, now_ms: int) -> bool:
    """Queue ``label`` for ``url``; False if this version was already queued, delivered or abandoned."""
    if label.version <= outbox.delivered or any(p.version == label.version for p in outbox.queue):
        return False
    event = published_event(label, source)
    outbox.queue.append(Pending(version=label.version, url=url, event=event, queued_ms=now_ms, next_ms=now_ms))
    outbox.queue.sort(key=lambda p: p.version)
    return True


def due(outbox: Outbox, now_ms: int) -> Pending | None:
    """The version to attempt now, if any: the oldest queued one, once its wait is over."""
    if outbox.queue and outbox.queue[0].next_ms <= now_ms:
        return outbox.queue[0]
    return None


def record_attempt(outbox: Outbox, ok: bool, now_ms: int, max_age_s: float) -> tuple[Outcome, int]:
    """Book the attempt on the head of the queue; returns its outcome and attempt number (from 1)."""
    head = outbox.queue[0]
    head.attempts += 1
    if ok or now_ms - head.queued_ms >= max_age_s * 1000:
        outbox.queue.pop(0)
        outbox.delivered = max(outbox.delivered, head.version)
        return (Outcome.DELIVERED if ok else Outcome.ABANDONED), head.attempts
    head.next_ms = now_ms + int(retry_delay_s(head.attempts) * 1000)
    return Outcome.FAILED, head.attempts
