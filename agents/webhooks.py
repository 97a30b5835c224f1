"""Webhook delivery: every label version a subscriber with a ``webhookUrl`` gets, as a PACT v3 PublishedEvent.

    labels ─── queue_webhooks ──┐                       ┌── POST ──> the buyer's URL
                                ├─> label_to_outbox ────┤  (timer retry_webhooks)
    webhook-attempts ─ book_webhook_attempts ─┘        └── outcome ──> webhook-attempts

``queue_webhooks`` reads ``labels`` (the URL rides along in the ``pcfx-webhook-url`` header that
``issue_labels`` sets) and queues each new version in the table ``label_to_outbox`` (key buyer|product,
backed by its changelog topic, so a restarted or replacing worker finds every undelivered version). The
timer POSTs what is due, oldest version first, one POST in flight per label, and publishes the outcome to
``webhook-attempts`` under the same key; ``book_webhook_attempts`` books it (delivered, or the next try
after the backoff of :mod:`pcfx.streams.delivery`). Only agents write the table, each within the event
that changed it: ``labels`` and ``webhook-attempts`` share keys and partition counts, so a label's outbox
lives in one partition whichever topic the change came from. Each outbox records that partition, and a
worker only POSTs for ``labels`` partitions it actively owns (standby copies stay quiet).

Authentication (PACT notification rules): when the buyer is a registered partner (``pcfx partners add``)
and the webhook URL lies on that partner's host, each POST carries ``Authorization: Bearer <token>``, the
token got at the partner's token endpoint with the credentials it issued to this exchange (as the API's
answers to requests do). The token is never sent to another host; a buyer that is no partner gets the
POST without one. A footprint id a webhook names is one the buyer may fetch (:mod:`pcfx.streams.access`).

At most once per version, with one window: a worker that dies after the receiver accepted a POST but
before its outcome reached Kafka sends that version again after restart, with the same CloudEvent id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import faust
import httpx

from pcfx.agents.app import Wiring, bytes_table
from pcfx.agents.outbox import until_done
from pcfx.agents.records import dead_letter_of
from pcfx.connectors.partners import Directory
from pcfx.connectors.webhook_targets import AllowList, TargetRefused, check_target
from pcfx.metrics import Outcome
from pcfx.schemas.models import CarbonLabel
from pcfx.schemas.subscriptions import KEY_SEPARATOR, Partner, WebhookAttempt
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model
from pcfx.streams.delivery import Outbox, Pending, due, enqueue, record_attempt

log = logging.getLogger(__name__)

WEBHOOK_HEADER = "pcfx-webhook-url"
TICK_S = 0.25  # how often due deliveries are looked for, in seconds
POST_TIMEOUT_S = 10.0  # longest one POST may take, in seconds
RESCAN_S = 30.0  # how often the queues are looked up in the table again, as a safety net, in seconds
CLOUDEVENTS_JSON = "application/cloudevents+json"
EMPTY_QUEUE = b'"queue":[]'  # how an outbox with nothing to send reads in its JSON text


def now_ms() -> int:
    return int(time.time() * 1000)


def event_source(settings: Settings) -> str:
    """The CloudEvent ``source``: the base URL of this exchange's PACT API."""
    from pcfx.connectors.pact_api.host import public_base  # noqa: PLC0415  (starlette only where needed)

    return public_base(settings)


def authorization(directory: Directory, key: bytes, url: str) -> tuple[dict[str, str], Partner | None]:
    """The ``Authorization`` header for a POST of the label ``key`` (``<buyer>|<product>``) to ``url``, and the
    partner it came from; none when the buyer is no partner or ``url`` is not on its host (blocking: it may
    read the directory and fetch a token). A token that cannot be got raises (the attempt fails, and is retried)."""
    buyer = key.decode("utf-8", "replace").partition(KEY_SEPARATOR)[0]
    partner = directory.find(buyer)
    if partner is None:
        return {}, None
    if not partner.covers(url):
        log.warning("webhook %s is not on partner %s's host %s: POSTed without its token", url, buyer, partner.base_url)
        return {}, None
    return {"authorization": f"Bearer {directory.client(partner).token()}"}, partner


async def post(client: httpx.AsyncClient, pending: Pending, headers: dict[str, str] | None = None,
               allow: AllowList = AllowList()) -> bool:
    """One attempt: True if the receiver answered 2xx. The target's addresses are checked again first
    (:mod:`pcfx.connectors.webhook_targets`): a refused one counts as a failed attempt."""
    body = json.dumps(pending.event, ensure_ascii=False).encode()
    try:
        await asyncio.get_running_loop().run_in_executor(None, check_target, pending.url, allow)
    except TargetRefused as error:
        log.warning("webhook event %s (v%d) not sent: %s", pending.event["id"], pending.version, error)
        return False
    try:
        response = await client.post(pending.url, content=body, headers={"content-type": CLOUDEVENTS_JSON, **(headers or {})})
    except httpx.HTTPError as error:
        log.warning("webhook %s, event %s (v%d): %r", pending.url, pending.event["id"], pending.version, error)
        return False
    if not response.is_success:
        log.warning("webhook %s, event %s (v%d): HTTP %d", pending.url, pending.event["id"], pending.version,
                    response.status_code)
    return response.is_success


def register(wiring: Wiring) -> None:
    """Declare the two delivery agents and the timer that POSTs."""
    app, settings, metrics = wiring.app, wiring.settings, wiring.metrics
    attempts_topic = wiring.topics["webhook-attempts"]
    outboxes = bytes_table(app, "label_to_outbox", key_type=bytes)
    wiring.tables["label_to_outbox"] = outboxes
    waiting: set[bytes] = set()  # keys with queued versions on this worker
    in_flight: dict[bytes, int] = {}  # key -> version POSTed whose outcome is not booked yet
    scanned: dict[str, Any] = {}  # the labels partitions owned when ``waiting`` was last rebuilt, and when
    source = event_source(settings)
    directory = Directory(settings)
    allow = AllowList.parse(settings.webhook_allow)

    def load(key: bytes) -> Outbox | None:
        raw = outboxes.get(key)
        return None if raw is None else Outbox.model_validate_json(raw)

    def save(key: bytes, outbox: Outbox) -> None:
        outboxes[key] = outbox.model_dump_json().encode()
        if outbox.queue:
            waiting.add(key)
        else:
            waiting.discard(key)

    def read_label(message: Any) -> CarbonLabel | None:
        """The label a ``labels`` record carries, if it is one to deliver (a URL and not a withdrawal)."""
        if message.value is None or WEBHOOK_HEADER not in dict(message.headers or ()):
            return None
        return decode_model(CarbonLabel, message.value)

    def queue(message: Any, label: CarbonLabel | None) -> None:
        outbox = load(message.key)
        if message.value is None:  # access withdrawn: nothing more goes to this buyer
            if outbox is not None and outbox.queue:
                save(message.key, outbox.model_copy(update={"queue": []}))
            return
        if label is None:
            return
        url = bytes(dict(message.headers)[WEBHOOK_HEADER]).decode()
        outbox = outbox or Outbox(partition=message.partition)
        if enqueue(outbox, label, url, source, now_ms()):
            save(message.key, outbox)

    def read_attempt(message: Any) -> WebhookAttempt:
        return decode_model(WebhookAttempt, message.value)

    def book(message: Any, attempt: WebhookAttempt) -> None:
        key = message.key
        in_flight.pop(key, None)
        outbox = load(key)
        if outbox is None or not outbox.queue or outbox.queue[0].version != attempt.version:
            return  # booked before (a replay), or the queue was dropped meanwhile
        at_ms = int(attempt.attempted_at.timestamp() * 1000)
        pending = outbox.queue[0]
        outcome, number = record_attempt(outbox, attempt.delivered, at_ms, settings.webhook_max_age_s)
        save(key, outbox)
        metrics.observe_delivery(outcome, number)
        if outcome is Outcome.ABANDONED:
            log.error("webhook %s: event %s abandoned after %d attempts", pending.url, pending.event["id"], number)

    async def handle(read: Callable[[Any], Any], step: Callable[[Any, Any], None], event: faust.types.EventT,
                     name: str) -> None:
        """Read the record, then apply it to the table. A record that cannot be read goes to ``dlq.<name>``
        (trying it again would hold the partition for good); a table write that fails is tried again (a
        changelog topic not yet in the metadata at start-up made Faust raise, and the crashed agent skipped
        the record) instead of losing it."""
        message = event.message
        try:
            record = read(message)
        except ValueError as error:
            metrics.dead_letter(name, error)
            await wiring.topics[f"dlq.{name}"].send(key=message.key, value=dead_letter_of(event, error, f"webhooks:{name}"))
            return

        async def action() -> None:
            step(message, record)

        await until_done(action, f"webhooks: {message.topic}[{message.partition}]@{message.offset}")

    @app.agent(wiring.topics["labels"], name="queue_webhooks")
    async def queue_webhooks(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle(read_label, queue, event, "labels")

    @app.agent(attempts_topic, name="book_webhook_attempts")
    async def book_webhook_attempts(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle(read_attempt, book, event, "webhook-attempts")

    async def attempt(client: httpx.AsyncClient, key: bytes, pending: Pending) -> None:
        """POST one version and publish the outcome; until it is booked, the label has a POST in flight."""
        in_flight[key] = pending.version
        loop = asyncio.get_running_loop()
        try:
            headers, partner = await loop.run_in_executor(None, authorization, directory, key, pending.url)
        except Exception as error:  # token endpoint or Kafka away: a failed attempt, retried after the backoff
            log.warning("webhook %s, event %s: no token: %r", pending.url, pending.event["id"], error)
            delivered = False
        else:
            delivered = await post(client, pending, headers, allow)
            if not delivered and partner is not None:
                directory.client(partner).forget_token()  # it may have been refused: get a fresh one next time
        outcome = WebhookAttempt(version=pending.version, delivered=delivered, attempted_at=datetime.now(timezone.utc))
        try:
            await attempts_topic.send(key=key, value=encode_model(outcome))
        except Exception:  # Kafka away: the version stays queued and is POSTed again (same event id)
            in_flight.pop(key, None)
            log.exception("webhook outcome for event %s not recorded; it will be sent again", pending.event["id"])

    def owned() -> frozenset[int]:
        topic = settings.topic("labels")
        return frozenset(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)

    def rescan(partitions: frozenset[int]) -> None:
        """Rebuild ``waiting`` from the table (cheap: an empty queue is a fixed piece of text)."""
        waiting.clear()
        waiting.update(key for key, raw in outboxes.items() if raw and EMPTY_QUEUE not in raw)
        scanned.update(partitions=partitions, at=time.monotonic())

    def due_now(partitions: frozenset[int]) -> list[tuple[bytes, Pending]]:
        found, now = [], now_ms()
        for key in list(waiting):
            outbox = load(key)
            pending = None if outbox is None or outbox.partition not in partitions else due(outbox, now)
            if pending is not None and key not in in_flight:
                found.append((key, pending))
        return found

    @app.timer(TICK_S, name="retry_webhooks")
    async def retry_webhooks() -> None:
        if app.rebalancing or app.in_recovery:  # the table is being restored: its queues are not final
            return
        partitions = owned()
        if scanned.get("partitions") != partitions or time.monotonic() - scanned["at"] > RESCAN_S:
            rescan(partitions)
        work = due_now(partitions)
        if work:
            async with httpx.AsyncClient(timeout=POST_TIMEOUT_S) as client:
                await asyncio.gather(*(attempt(client, key, pending) for key, pending in work))
