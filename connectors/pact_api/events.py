"""PACT v3 events as CloudEvents 1.0 in structured JSON mode: checking what arrives, building what leaves.

Every check names the attribute and the offending value, so a 400 tells the sender what to fix.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pcfx.connectors.pact_api.errors import bad_request
from pcfx.connectors.pact_api.filters import Criteria, criteria_from_event, utc_text
from pcfx.connectors.pact_api.records import check_footprint

PREFIX = "org.wbcsd.pact.ProductFootprint."
PUBLISHED = PREFIX + "PublishedEvent.3"
REQUEST_CREATED = PREFIX + "RequestCreatedEvent.3"
REQUEST_FULFILLED = PREFIX + "RequestFulfilledEvent.3"
REQUEST_REJECTED = PREFIX + "RequestRejectedEvent.3"
TYPES = (PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED)
MEDIA_TYPES = ("application/cloudevents+json", "application/json")
NULL_PRODUCT = "urn:pact:null"  # the conformance tool's product id that must always be rejected


@dataclass(frozen=True)
class Event:
    """An accepted inbound event; ``raw`` is the CloudEvent exactly as it arrived."""

    type: str
    id: str
    source: str
    data: dict[str, Any]
    raw: dict[str, Any]

    def criteria(self) -> Criteria:
        """The filter criteria of a RequestCreatedEvent (already checked by :func:`parse_event`)."""
        return criteria_from_event(self.data)


def parse_event(body: bytes, content_type: str | None) -> Event:
    """Check an Action Events body; raises ApiError (400) naming what is wrong."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise bad_request(f"Content-Type {content_type!r}: send the event as application/cloudevents+json (structured mode)")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"the body is not JSON: {error}") from None
    except RecursionError:
        raise bad_request("the body nests JSON too deeply") from None
    if not isinstance(event, dict):
        raise bad_request("the body must be one CloudEvent JSON object")
    _check_envelope(event)
    CHECKS[event["type"]](event["data"])
    return Event(event["type"], event["id"], event["source"], event["data"], event)


def _check_envelope(event: dict[str, Any]) -> None:
    if event.get("specversion") != "1.0":
        raise bad_request(f"specversion must be \"1.0\" (CloudEvents 1.0), not {event.get('specversion')!r}")
    for name in ("id", "source", "type", "time"):
        value = event.get(name)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"CloudEvent attribute {name!r} must be a non-empty string, not {value!r}")
    if event["type"] not in TYPES:
        hint = " (a PACT v2 event: this host speaks v3)" if "pathfinder" in event["type"] else ""
        raise bad_request(f"type {event['type']!r} is not a PACT v3 event type{hint}; expected one of {', '.join(TYPES)}")
    try:
        utc_text(event["time"])
    except ValueError:
        raise bad_request(f"time {event['time']!r} is not an RFC 3339 date-time") from None
    if not isinstance(event.get("data"), dict):
        raise bad_request(f"data must be a JSON object, not {event.get('data')!r}")


def _check_published(data: dict[str, Any]) -> None:
    pf_ids = data.get("pfIds")
    if not isinstance(pf_ids, list) or not pf_ids:
        raise bad_request(f"data.pfIds must be a non-empty array of footprint ids (UUIDs), not {pf_ids!r}")
    for pf_id in pf_ids:
        if not is_uuid(pf_id):
            raise bad_request(f"data.pfIds contains {pf_id!r}, which is not a footprint id: PACT footprint ids are UUIDs")


def _check_request(data: dict[str, Any]) -> None:
    if criteria_from_event(data).is_empty():
        raise bad_request("a RequestCreatedEvent needs at least one criterion in data (productId, companyId, ...)")


def _check_fulfilled(data: dict[str, Any]) -> None:
    _check_request_event_id(data)
    pfs = data.get("pfs")
    if not isinstance(pfs, list) or not pfs:
        raise bad_request(f"data.pfs must be a non-empty array of ProductFootprints, not {pfs!r}")
    for index, footprint in enumerate(pfs):
        try:
            check_footprint(footprint)
        except ValueError as error:
            raise bad_request(f"data.pfs[{index}]: {error}") from None


def _check_rejected(data: dict[str, Any]) -> None:
    _check_request_event_id(data)
    error = data.get("error")
    if not isinstance(error, dict) or not all(isinstance(error.get(k), str) for k in ("code", "message")):
        raise bad_request(f"data.error must be an object with string code and message, not {error!r}")


def _check_request_event_id(data: dict[str, Any]) -> None:
    if not isinstance(data.get("requestEventId"), str) or not data["requestEventId"]:
        raise bad_request(f"data.requestEventId must be the id of the request event, not {data.get('requestEventId')!r}")


CHECKS = {
    PUBLISHED: _check_published,
    REQUEST_CREATED: _check_request,
    REQUEST_FULFILLED: _check_fulfilled,
    REQUEST_REJECTED: _check_rejected,
}


def is_uuid(value: Any) -> bool:
    """True for a UUID written in the canonical 8-4-4-4-12 hex form."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def answer_event(event_type: str, event_id: str, source: str, data: dict[str, Any]) -> dict[str, Any]:
    """An outgoing CloudEvent (a RequestFulfilledEvent or RequestRejectedEvent) stamped with the time now."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"type": event_type, "specversion": "1.0", "id": event_id, "source": source, "time": now, "data": data}
