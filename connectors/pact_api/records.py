"""The one place where the host meets the data contract: Kafka bytes <-> PACT JSON and request records.

Topics carry Avro single-object-encoded records (``pcfx.streams.codec``); the host serves and receives PACT
v3 JSON. Everything that converts between the two goes through these functions, and every failure is a
ValueError (the codec's DecodeError, the models' ContractError) whose message names the record and field.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pcfx.connectors.pact_api.filters import LIST_CRITERIA, TIME_CRITERIA, Criteria, utc_text
from pcfx.schemas.models import FootprintRequest, ProductFootprint
from pcfx.schemas.pact_types import format_datetime
from pcfx.streams.codec import decode_model, encode_model

STATUSES = {"active": "Active", "deprecated": "Deprecated"}


def footprint_from_value(value: bytes) -> dict[str, Any]:
    """PACT JSON of a ProductFootprint record."""
    return decode_model(ProductFootprint, value).to_json()


def footprint_to_value(footprint: dict[str, Any]) -> bytes:
    """Avro bytes of a PACT JSON footprint (validated first); seeds topics in tests and tools."""
    return encode_model(ProductFootprint.from_json(footprint))


def check_footprint(footprint: Any) -> None:
    """Raise ValueError naming the field if ``footprint`` is not a valid PACT v3 ProductFootprint."""
    if not isinstance(footprint, dict):
        raise ValueError(f"a ProductFootprint is a JSON object, not {type(footprint).__name__}")
    ProductFootprint.from_json(footprint)


def request_to_value(event_id: str, criteria: Criteria, comment: str | None, client_id: str, target: str) -> bytes:
    """A FootprintRequest record for the ``requests`` topic: what was asked, by which client, where the
    answer goes. Raises ValueError if the criteria do not fit the contract (e.g. a product id that is
    not a URN, a status other than Active or Deprecated)."""
    record: dict[str, Any] = {name: list(getattr(criteria, name)) for name in LIST_CRITERIA if name != "status"}
    record.update({name: utc_text(getattr(criteria, name)) + "Z" for name in TIME_CRITERIA if getattr(criteria, name)})
    record.update(requestId=event_id, requesterClientId=client_id, callbackUrl=target,
                  createdAt=format_datetime(datetime.now(timezone.utc)))
    unknown = [s for s in criteria.status if s.lower() not in STATUSES]
    if unknown:
        raise ValueError(f"status {unknown[0]!r}: a request asks for Active or Deprecated footprints")
    statuses = {STATUSES[s.lower()] for s in criteria.status}
    if len(statuses) == 1:
        record["status"] = statuses.pop()  # both statuses together ask for everything: no condition
    if comment is not None:
        record["comment"] = comment
    return encode_model(FootprintRequest.from_json(record))


def request_from_value(value: bytes) -> tuple[FootprintRequest, Criteria]:
    """A FootprintRequest record and the criteria it asks for."""
    request = decode_model(FootprintRequest, value)
    data = request.to_json()
    lists = {name: tuple(data.get(name, ())) for name in LIST_CRITERIA if name != "status"}
    times = {name: data[name] for name in TIME_CRITERIA if name in data}
    status = (data["status"],) if "status" in data else ()
    return request, Criteria(**lists, **times, status=status)
