"""ListFootprints pagination: RFC 8288 ``Link: <...>; rel="next"`` headers that never expire.

A link carries the criteria, the ``limit``, the sequence number of the last footprint already returned
(``x-pcfx-after``) and the newest sequence number when the listing began (``x-pcfx-upto``). Footprints
arriving later are left for a new listing, so calling a link again returns the same footprints (only a
status change, e.g. to Deprecated, shows through); links stay valid far longer than the 180 s PACT asks.
The parameter names carry the ``x-<id>-`` prefix PACT reserves for host-specific parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from pcfx.connectors.pact_api.errors import bad_request
from pcfx.connectors.pact_api.filters import Criteria

AFTER = "x-pcfx-after"
UPTO = "x-pcfx-upto"
MAX_LIMIT = 1000  # most footprints in one response; a larger limit is served in pages of this size


@dataclass(frozen=True)
class Page:
    """Which slice of a listing to serve: ``limit`` None means the client set none."""

    limit: int | None = None
    after: int = 0
    upto: int | None = None

    @property
    def size(self) -> int:
        return min(self.limit or MAX_LIMIT, MAX_LIMIT)


def split_page(items: list[tuple[str, str]]) -> tuple[Page, list[tuple[str, str]]]:
    """The pagination parameters of a query, and the rest (the filter criteria)."""
    values: dict[str, int] = {}
    rest = []
    for name, value in items:
        key = name.lower()
        if key not in ("limit", AFTER, UPTO):
            rest.append((name, value))
        elif key in values:
            raise bad_request(f"{name} given more than once")
        else:
            values[key] = _whole_number(name, value, minimum=1 if key == "limit" else 0)
    after, upto = values.get(AFTER), values.get(UPTO)
    if (after is None) != (upto is None) or (after is not None and upto is not None and after > upto):
        raise bad_request(f"malformed pagination link: {AFTER} and {UPTO} go together, after <= upto; start again without them")
    return Page(values.get("limit"), after or 0, upto), rest


def next_link(base_url: str, criteria: Criteria, page: Page, last_seq: int, upto: int) -> str:
    """Absolute URL of the page after the one that ended at ``last_seq``."""
    params = criteria.to_params()
    if page.limit is not None:
        params.append(("limit", str(page.limit)))
    params += [(AFTER, str(last_seq)), (UPTO, str(upto))]
    return f"{base_url}/3/footprints?{urlencode(params)}"


def link_header(url: str) -> str:
    return f'<{url}>; rel="next"'


def _whole_number(name: str, value: str, minimum: int) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < minimum or len(value) > 18:
        raise bad_request(f"{name}={value!r} must be a whole number of at least {minimum}")
    return int(value)
