"""The PACT v3 validity period of a footprint (ProductFootprint.validityPeriodStart / End).

If given, the period has both ends, the end is strictly after the start, the start is not before the
reference period ends, and the end is at most 3 years after it. Without one, a footprint is valid for
3 years from ``pcf.referencePeriodEnd``.
"""

from __future__ import annotations

from datetime import datetime

from pcfx.schemas.errors import RuleViolation
from pcfx.schemas.pact_types import format_datetime

VALIDITY_YEARS = 3  # PACT v3: a footprint is valid at most 3 years after its reference period ends


def check_validity_ordered(start: datetime, end: datetime) -> None:
    """Raise unless ``validityPeriodEnd`` is strictly after ``validityPeriodStart`` (PACT v3 validity period)."""
    if end <= start:
        raise RuleViolation(
            "validityPeriodEnd",
            format_datetime(end),
            f"not after validityPeriodStart {format_datetime(start)!r} (PACT v3 ProductFootprint validity period)",
        )


def validity_window_findings(start: datetime | None, end: datetime | None, reference_end: datetime) -> list[str]:
    """Where a given validity period leaves the window PACT v3 allows; each text names field and value."""
    found = []
    if start is not None and start < reference_end:
        found.append(
            f"validityPeriodStart = {format_datetime(start)!r}: before pcf.referencePeriodEnd "
            f"{format_datetime(reference_end)!r} "
            "(PACT v3 ProductFootprint validity period: start >= referencePeriodEnd)"
        )
    if end is None:
        return found
    latest = add_years(reference_end, VALIDITY_YEARS)
    if latest is not None and end > latest:
        found.append(
            f"validityPeriodEnd = {format_datetime(end)!r}: later than pcf.referencePeriodEnd + {VALIDITY_YEARS} years "
            f"{format_datetime(latest)!r} (PACT v3 ProductFootprint validity period)"
        )
    return found


def add_years(moment: datetime, years: int) -> datetime | None:
    """The same calendar date ``years`` later; 29 February becomes 28 February in a common year. None past year
    9999, where no datetime can be later, so no end can break the window."""
    if moment.year + years > 9999:
        return None
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
