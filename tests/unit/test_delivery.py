"""streams/delivery.py: each label version once, in order, retried 1 s, 2 s, 4 s ... (at most 1 h) for 72 h."""

from __future__ import annotations

import json
import uuid

from pcfx.metrics import Outcome
from pcfx.schemas.models import CarbonLabel
from pcfx.schemas.samples import LABEL
from pcfx.streams.delivery import Outbox, due, enqueue, published_event, record_attempt, retry_delay_s

URL = "https://oem.example/pact/events"
SOURCE = "https://pcfx.example"
LABEL_ID = "5b0c7c64-8c53-5c0e-9f61-0a4b5a8f2d11"
HOUR_S = 3600
MAX_AGE_S = 72 * HOUR_S


def label(version: int) -> CarbonLabel:
    return CarbonLabel.from_json({**LABEL, "labelId": LABEL_ID, "version": version})


def queued(*versions: int, at_ms: int = 0) -> Outbox:
    outbox = Outbox(partition=0)
    for version in versions:
        enqueue(outbox, label(version), URL, SOURCE, at_ms)
    return outbox


def test_the_wait_doubles_from_one_second_and_stops_growing_at_an_hour():
    assert [retry_delay_s(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert retry_delay_s(12) == 2048 and retry_delay_s(13) == HOUR_S  # 4096 s would pass the cap
    assert retry_delay_s(40) == HOUR_S


def test_versions_go_out_oldest_first_and_each_once():
    outbox = queued(2, 1)
    assert not enqueue(outbox, label(1), URL, SOURCE, 0)  # already queued
    assert [p.version for p in outbox.queue] == [1, 2]
    assert record_attempt(outbox, True, 10, MAX_AGE_S) == (Outcome.DELIVERED, 1)
    assert record_attempt(outbox, True, 20, MAX_AGE_S) == (Outcome.DELIVERED, 1)
    assert outbox.delivered == 2 and outbox.queue == []
    assert not enqueue(outbox, label(2), URL, SOURCE, 30)  # a replayed label is not sent again


def test_a_failed_attempt_waits_its_backoff_before_the_next():
    outbox = queued(1, at_ms=0)
    assert due(outbox, 0) is not None
    assert record_attempt(outbox, False, 0, MAX_AGE_S) == (Outcome.FAILED, 1)
    assert due(outbox, 999) is None and due(outbox, 1000) is not None  # 1 s after the first failure
    assert record_attempt(outbox, False, 1000, MAX_AGE_S) == (Outcome.FAILED, 2)
    assert due(outbox, 2999) is None and due(outbox, 3000) is not None  # then 2 s
    assert record_attempt(outbox, True, 3000, MAX_AGE_S) == (Outcome.DELIVERED, 3)


def test_a_version_still_failing_after_72_hours_is_abandoned_and_the_next_goes():
    outbox = queued(1, 2, at_ms=0)
    assert record_attempt(outbox, False, MAX_AGE_S * 1000 - 1, MAX_AGE_S) == (Outcome.FAILED, 1)
    assert record_attempt(outbox, False, MAX_AGE_S * 1000, MAX_AGE_S)[0] is Outcome.ABANDONED
    assert [p.version for p in outbox.queue] == [2] and outbox.delivered == 1


def test_the_event_is_a_pact_v3_published_event_with_a_stable_id_per_version():
    event = published_event(label(3), SOURCE)
    assert event["type"] == "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
    assert (event["specversion"], event["source"], event["time"]) == ("1.0", SOURCE, "2025-02-01T10:00:00.250Z")
    assert event["data"] == {"pfIds": [LABEL["pfId"]]}
    assert event["id"] == str(uuid.uuid5(uuid.UUID(LABEL_ID), "3")) == published_event(label(3), SOURCE)["id"]
    assert event["id"] != published_event(label(4), SOURCE)["id"]
    assert json.loads(event["pcfxlabel"])["value"] == "11.202"


def test_the_outbox_survives_its_table_round_trip():
    outbox = queued(1, 2)
    record_attempt(outbox, False, 5, MAX_AGE_S)
    assert Outbox.model_validate_json(outbox.model_dump_json()) == outbox
    assert b'"queue":[]' in Outbox(partition=1).model_dump_json().encode()  # what the timer's rescan looks for
