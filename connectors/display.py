"""Numbers as people read them on a terminal. Files and messages for programs (CSV, JSON, Avro) keep every digit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def for_people(text: str | float | Decimal, significant: int = 4, decimals: int | None = None) -> str:
    """A value rounded for reading (the labels keep every digit): ``significant`` digits but every integer
    digit (``84.35100000000001`` -> ``84.35``, ``123456.7`` -> ``123457``), or a fixed number of ``decimals``
    (ratings: ``4.999999999999999`` -> ``5``); trailing zeros dropped."""
    value = Decimal(text) if isinstance(text, str) else Decimal(repr(text)) if isinstance(text, float) else text
    if not value.is_finite() or value == 0:
        return "0" if value == 0 else str(value)
    if decimals is None:
        decimals = max(0, significant - (value.adjusted() + 1))
    rounded = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
