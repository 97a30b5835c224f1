"""The PACT v3 filter criteria, shared by ListFootprints and the RequestCreatedEvent.

Values of one criterion are ORed, criteria are ANDed, matching is case-insensitive (PACT 3.0.3
ListFootprints "Filtering"). A value that matches nothing is not an error: the answer is an empty list.
Only malformed input is refused: an unparseable date-time, an unknown criterion. An empty query value
(``geography=``) sets no condition: the conformance tool sends one when its sample footprint lacks
that field, and expects the unfiltered list.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

from pcfx.connectors.pact_api.errors import bad_request

LIST_CRITERIA = ("productId", "companyId", "geography", "classification", "status")
TIME_CRITERIA = ("validOn", "validAfter", "validBefore")
CRITERIA = LIST_CRITERIA + TIME_CRITERIA
MAX_VALUES = 500  # values per criterion: keeps one query within SQLite's bound-parameter limit
VALIDITY_YEARS = 3  # PACT v3 "Validity Period": without one, a footprint is valid 3 years from referencePeriodEnd


@dataclass(frozen=True)
class Criteria:
    """What a query asks for, values as the client wrote them; an empty tuple or None sets no condition."""

    productId: tuple[str, ...] = ()
    companyId: tuple[str, ...] = ()
    geography: tuple[str, ...] = ()
    classification: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    validOn: str | None = None
    validAfter: str | None = None
    validBefore: str | None = None

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def to_params(self) -> list[tuple[str, str]]:
        """Query parameters that ask for the same thing again (for pagination links)."""
        params: list[tuple[str, str]] = []
        for name in CRITERIA:
            value = getattr(self, name)
            values = value if isinstance(value, tuple) else (() if value is None else (value,))
            params.extend((name, v) for v in values)
        return params

    def describe(self) -> str:
        """One line for messages, e.g. ``productId=urn:a|urn:b status=Active``."""
        parts = {}
        for name, value in self.to_params():
            parts[name] = f"{parts[name]}|{value}" if name in parts else value
        return " ".join(f"{k}={v}" for k, v in parts.items()) or "(no criteria)"


def criteria_from_query(items: list[tuple[str, str]]) -> Criteria:
    """Criteria from query parameters; names are matched case-insensitively (the spec's own example
    writes ``productid``), a repeated list criterion ORs its values."""
    canonical = {name.lower(): name for name in CRITERIA}
    lists: dict[str, list[str]] = {name: [] for name in LIST_CRITERIA}
    times: dict[str, str] = {}
    for raw_name, value in items:
        name = canonical.get(raw_name.lower())
        if name is None:
            raise bad_request(f"unknown query parameter {raw_name!r}; ListFootprints accepts {', '.join(CRITERIA)}, limit")
        if not value.strip():
            continue
        if name in lists:
            lists[name].append(value)
        elif name in times:
            raise bad_request(f"{name} given more than once; it takes a single date-time")
        else:
            times[name] = _date_time(name, value)
    return _bounded(Criteria(**{k: tuple(v) for k, v in lists.items()}, **times))


def criteria_from_event(data: dict[str, Any]) -> Criteria:
    """Criteria from the ``data`` of a RequestCreatedEvent: list criteria are JSON arrays of strings
    (``status`` may also be one string, as the spec writes it), date-times are strings."""
    lists: dict[str, tuple[str, ...]] = {}
    times: dict[str, str] = {}
    for name, value in data.items():
        if name == "comment":
            if not isinstance(value, str):
                raise bad_request(f"data.comment must be a string, not {type(value).__name__}")
        elif name in LIST_CRITERIA:
            lists[name] = _string_list(name, [value] if name == "status" and isinstance(value, str) else value)
        elif name in TIME_CRITERIA:
            if not isinstance(value, str):
                raise bad_request(f"data.{name} must be a date-time string, not {value!r}")
            times[name] = _date_time(f"data.{name}", value)
        else:
            raise bad_request(f"data.{name} is not a PACT v3 request criterion; use {', '.join(CRITERIA)}, comment")
    return _bounded(Criteria(**lists, **times))


def utc_text(value: str) -> str:
    """A date-time as sortable UTC text (``0001-01-01T00:00:00.000000``); no offset means UTC.

    Raises ValueError naming the value if it is not ISO 8601."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{value!r} lies outside years 1..9999 in UTC") from None
    return moment.isoformat(timespec="microseconds")


def validity_window(footprint: dict[str, Any]) -> tuple[str, str]:
    """(start, end) of a footprint's validity as :func:`utc_text`.

    A missing start is ``referencePeriodEnd``, a missing end is ``referencePeriodEnd`` + 3 years, the same
    fallback the conformance tool uses when it checks validOn/validAfter/validBefore."""
    reference_end = footprint["pcf"]["referencePeriodEnd"]
    start = footprint.get("validityPeriodStart") or reference_end
    end = footprint.get("validityPeriodEnd")
    return utc_text(start), utc_text(end) if end else _plus_years(utc_text(reference_end), VALIDITY_YEARS)


def _plus_years(text: str, years: int) -> str:
    moment = datetime.fromisoformat(text)
    try:
        later = moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year, or past year 9999
        later = moment.replace(year=moment.year + years, day=28) if moment.year + years <= 9999 else datetime.max
    return later.isoformat(timespec="microseconds")


def _bounded(criteria: Criteria) -> Criteria:
    for name in LIST_CRITERIA:
        if len(getattr(criteria, name)) > MAX_VALUES:
            raise bad_request(f"{name} has more than {MAX_VALUES} values; split the query")
    return criteria


def _string_list(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise bad_request(f"data.{name} must be a non-empty array of non-empty strings, not {value!r}")
    return tuple(value)


def _date_time(name: str, value: str) -> str:
    try:
        utc_text(value)
    except ValueError:
        raise bad_request(f"{name}={value!r} is not an ISO 8601 date-time such as 2025-01-01T00:00:00Z") from None
    return value
