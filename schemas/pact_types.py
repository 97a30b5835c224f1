"""Field types of the PACT v3 data model, each with the rule it enforces.

PACT writes every number as a JSON *string* so that no value is rounded on the way (PACT 3.0.3 OpenAPI,
`Decimal`). We keep that text as it is (``"0.50"`` stays ``"0.50"``) and compare values as
:class:`decimal.Decimal`. Date-times are held as aware UTC :class:`datetime.datetime`.
Every rule function raises ``ValueError`` whose text says why and cites the PACT section; the model
layer adds the field path and the offending value (see :mod:`pcfx.schemas.errors`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer, StringConstraints

# --- decimals -----------------------------------------------------------------------------------------

# The PACT pattern is ^[+-]?\d+(\.\d+)?$. Python's \d also matches non-ASCII digits and its $ matches
# before a trailing newline, so we spell the digits out and use fullmatch. Models check the same pattern in
# pydantic-core (Rust's regex: its $ is the end of the text), see PactDecimal below.
DECIMAL_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?$"
DECIMAL_TEXT = re.compile(DECIMAL_PATTERN[1:-1])


MAX_DECIMAL_LENGTH = 100  # pcfx's limit, in characters: far beyond any measurement, well inside a double's range (1e308)


def pact_decimal(text: str) -> str:
    """PACT 3.0.3 OpenAPI `Decimal`: a plain decimal string, pattern ``^[+-]?\\d+(\\.\\d+)?$``.

    Exponents (``"1.2e+6"``) are refused although the 3.0 prose shows one: the schema rejects them. So is
    a value longer than :data:`MAX_DECIMAL_LENGTH` characters (PACT sets no bound; the roll-up computes in
    doubles, and a 400-digit value would be refused only later, at recompute).
    """
    if not DECIMAL_TEXT.fullmatch(text):
        raise ValueError(
            "not a PACT decimal string: digits with an optional sign and fraction, no exponent (PACT 3.0.3 Decimal)"
        )
    if len(text) > MAX_DECIMAL_LENGTH:
        raise ValueError(f"{len(text)} characters: pcfx takes decimals of at most {MAX_DECIMAL_LENGTH} characters")
    return text


def to_decimal(text: str) -> Decimal:
    """The exact value of a PACT decimal string, for arithmetic and comparisons."""
    return Decimal(pact_decimal(text))


def format_decimal(x: float | int | Decimal) -> str:
    """PACT decimal text for a computed value: the shortest digits that give back ``x`` exactly.

    Floats are written with their ``repr`` digits but never in exponent form, which PACT rejects:
    ``1e-7 -> "0.0000001"``, ``1.5e20 -> "150000000000000000000"``. Zero is written without a sign so
    that it passes the PositiveOrZero rule. Decimals keep their scale (``Decimal("0.50") -> "0.50"``).
    """
    if type(x) is float and math.isfinite(x):  # the roll-up's case, 10 per derived footprint: skip Decimal
        digits = repr(x)
        if "e" not in digits:
            return "0.0" if digits == "-0.0" else digits
    value = x if isinstance(x, Decimal) else Decimal(repr(x))
    if not value.is_finite():
        raise ValueError(f"{x!r} has no PACT decimal form (PACT 3.0.3 Decimal)")
    if value.is_zero():
        value = abs(value)
    return format(value, "f")


def positive_or_zero(text: str) -> str:
    """PACT 3.0.3 OpenAPI `PositiveOrZeroDecimal` (``^[+]?\\d+(\\.\\d+)?$``): >= 0, no minus sign."""
    if text.startswith("-"):
        raise ValueError("negative: must be >= 0 (PACT 3.0.3 PositiveOrZeroDecimal)")
    return text


def negative_or_zero(text: str) -> str:
    """PACT 3.0.3 OpenAPI `NegativeOrZeroDecimal`: removals and uptakes are <= 0."""
    if Decimal(text) > 0:
        raise ValueError("positive: must be <= 0 (PACT 3.0.3 NegativeOrZeroDecimal, removals are negative)")
    return text


def positive_non_zero(text: str) -> str:
    """PACT 3.0.3 OpenAPI `PositiveNonZeroDecimal`, used by ``declaredUnitAmount``: strictly > 0."""
    if Decimal(text) <= 0:
        raise ValueError("must be > 0 (PACT 3.0.3 PositiveNonZeroDecimal, CarbonFootprint.declaredUnitAmount)")
    return text


def dqr_between_1_and_5(text: str) -> str:
    """PACT v3 methodology 4.2.3: a data quality rating runs from 1 (best) to 5 (worst)."""
    if not Decimal(1) <= Decimal(text) <= Decimal(5):
        raise ValueError("outside 1..5 (PACT v3 methodology 4.2.3: a DQR runs from 1 best to 5 worst)")
    return text


def pds_is_percent(text: str) -> str:
    """PACT v3 methodology 4.2.2: the primary data share is a percent from 0 to 100."""
    value = Decimal(text)
    if value < 0:
        raise ValueError("below 0 (PACT v3 methodology 4.2.2: PDS is a percent 0..100)")
    if value > 100:
        raise ValueError("above 100 (PACT v3 methodology 4.2.2: PDS is a percent 0..100)")
    return text


#: :func:`pact_decimal` as pydantic-core constraints: a dense recipe has hundreds of quantities, and a Python
#: validator per value was most of the cost of validating one. A value they refuse gets
#: :func:`pact_decimal`'s reason (:func:`pcfx.schemas.errors.problems_of`).
PactDecimal = Annotated[str, StringConstraints(pattern=DECIMAL_PATTERN, max_length=MAX_DECIMAL_LENGTH)]
PositiveOrZero = Annotated[PactDecimal, AfterValidator(positive_or_zero)]
NegativeOrZero = Annotated[PactDecimal, AfterValidator(negative_or_zero)]
PositiveNonZero = Annotated[PactDecimal, AfterValidator(positive_non_zero)]
Dqr = Annotated[PactDecimal, AfterValidator(dqr_between_1_and_5)]
PrimaryDataShare = Annotated[PactDecimal, AfterValidator(pds_is_percent)]

# --- identifiers and text ------------------------------------------------------------------------------

UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
URN_PREFIX = re.compile(r"[uU][rR][nN]:")
IPCC_REPORT = re.compile(r"AR[0-9]+")
COUNTRY = re.compile(r"[A-Z]{2}")
SUBDIVISION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
SPEC_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9]{8})?")
ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 controls and DEL


def uuid_text(text: str) -> str:
    """PACT v3 `PfId`: a UUID in its 8-4-4-4-12 hex text form (OpenAPI ``format: uuid``)."""
    if not UUID_TEXT.fullmatch(text):
        raise ValueError("not a UUID (PACT v3 PfId, 8-4-4-4-12 hex digits)")
    return text


def urn(text: str) -> str:
    """PACT 3.0.3 OpenAPI `Urn`: company ids, product ids and classifications start with ``urn:``."""
    if not URN_PREFIX.match(text):
        raise ValueError("not a URN: must start with 'urn:' (PACT 3.0.3 Urn, RFC 8141)")
    return printable_id(text)


KNOWN_IDS_MAX = 100_000  # ids remembered as checked: 12.5 MiB for 100k ids of 40 characters
_known_ids: set[str] = set()


def printable_id(text: str) -> str:
    """An identifier holds no control, format or separator characters (NUL, BEL, newline, U+202E, ...):
    RFC 8141 allows none in a URN, and such a character makes an id print as another one in logs, CSV and
    the terminal. Spaces are kept (pcfx product ids are opaque).

    An ASCII text (almost every id) is checked by one regular expression: in ASCII, the only characters of
    those categories are the C0 controls and DEL (category Cc). Ids recur (a dense table names each
    input in hundreds of recipes), so the ids found good are remembered, up to :data:`KNOWN_IDS_MAX`."""
    if text in _known_ids:
        return text
    if text.isascii() and not ASCII_CONTROL.search(text):
        if len(_known_ids) >= KNOWN_IDS_MAX:
            _known_ids.clear()
        _known_ids.add(text)
        return text
    for index, char in enumerate(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            raise ValueError(f"character U+{ord(char):04X} at position {index}: identifiers hold no control "
                             "or formatting characters (RFC 8141)")
    return text


def ipcc_report(text: str) -> str:
    """PACT 3.0.3 `ipccCharacterizationFactors` items: ``AR`` and the report number, e.g. ``AR6``."""
    if not IPCC_REPORT.fullmatch(text):
        raise ValueError("not an IPCC assessment report name like 'AR6' (PACT 3.0.3 ipccCharacterizationFactors)")
    return text


def country_code(text: str) -> str:
    """PACT 3.0.3 `geographyCountry`: an ISO 3166-1 alpha-2 code such as ``CN``."""
    if not COUNTRY.fullmatch(text):
        raise ValueError("not an ISO 3166-1 alpha-2 country code (PACT 3.0.3 geographyCountry)")
    return text


def subdivision_code(text: str) -> str:
    """PACT 3.0.3 `geographyCountrySubdivision`: an ISO 3166-2 code such as ``CN-JS``."""
    if not SUBDIVISION.fullmatch(text):
        raise ValueError("not an ISO 3166-2 subdivision code like 'CN-JS' (PACT 3.0.3 geographyCountrySubdivision)")
    return text


def spec_version(text: str) -> str:
    """PACT 3.0.3 `specVersion`: ``major.minor.patch``, e.g. ``3.0.0``."""
    if not SPEC_VERSION.fullmatch(text):
        raise ValueError("not a version major.minor.patch (PACT 3.0.3 specVersion)")
    return text


T = TypeVar("T")


def unique_items(values: list[T]) -> list[T]:
    """PACT 3.0.3 OpenAPI ``uniqueItems``: id sets and rule lists hold no duplicates."""
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"duplicate item {value!r} (PACT 3.0.3 uniqueItems)")
    return values


def non_empty_unique(item: Any) -> Any:
    """A PACT array of ``item`` that, when present, is non-empty and without duplicates
    (OpenAPI ``minItems: 1`` and ``uniqueItems: true``)."""
    return Annotated[list[item], Field(min_length=1), AfterValidator(unique_items)]


MAX_UNIT_NAME = 120  # characters; an input-output table's currency note fits easily


def unit_name(text: str) -> str:
    """A unit of a pcfx recipe (its declared unit or a line's quantity unit): any name a tool exports
    (``kilogram``, ``pcs``, ``吨``, ``USD (2013, producer price)``), but not blank, not longer than
    :data:`MAX_UNIT_NAME` and without control characters. Not a PACT rule: a recipe is pcfx's own record;
    docs/units.md says how names map to PACT declared units."""
    if not text.strip():
        raise ValueError("is empty (a unit name needs a non-blank text)")
    if len(text) > MAX_UNIT_NAME:
        raise ValueError(f"is longer than {MAX_UNIT_NAME} characters")
    if ASCII_CONTROL.search(text):
        raise ValueError("contains a control character")
    return text


NonEmptyString = Annotated[str, Field(min_length=1)]
UnitName = Annotated[str, AfterValidator(unit_name)]
Uuid = Annotated[str, AfterValidator(uuid_text)]
Urn = Annotated[str, AfterValidator(urn)]
UrnSet = non_empty_unique(Urn)
IpccReport = Annotated[str, AfterValidator(ipcc_report)]
CountryCode = Annotated[str, AfterValidator(country_code)]
SubdivisionCode = Annotated[str, AfterValidator(subdivision_code)]
SpecVersion = Annotated[str, AfterValidator(spec_version)]
# Product ids inside the exchange (recipes, labels) are opaque: "0042" is never read as a number.
OpaqueId = Annotated[str, Field(min_length=1), AfterValidator(printable_id)]


# --- date-times ----------------------------------------------------------------------------------------


def to_utc(value: datetime) -> datetime:
    """PACT v3 DateTime is ISO 8601 in UTC; other offsets are converted so equal instants compare equal.

    An instant whose UTC date falls outside years 1..9999 (``0001-01-01T00:00:00+01:00``) cannot be held by a
    datetime: it is refused as a ValueError, which the models report against the field, never an OverflowError."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("lies outside years 1..9999 once converted to UTC") from None


def to_utc_millis(value: datetime) -> datetime:
    """Event times (Kafka resolution) are kept to whole milliseconds so Avro ``timestamp-millis`` is exact."""
    value = to_utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_datetime(value: datetime) -> str:
    """ISO 8601 UTC text as pcfx writes it, with the shortest exact fraction of a second:
    ``2025-04-30T00:00:00Z``, ``2025-04-30T00:00:00.250Z``, ``2025-04-30T00:00:00.000001Z``."""
    value = value.astimezone(UTC)
    if value.microsecond == 0:
        timespec = "seconds"
    elif value.microsecond % 1000 == 0:
        timespec = "milliseconds"
    else:
        timespec = "microseconds"
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


def iso_text_or_datetime(value: Any) -> Any:
    """PACT v3 DateTime is an ISO 8601 *string*; refuse the Unix-time numbers pydantic would accept."""
    if not isinstance(value, (str, datetime)):
        raise ValueError("not an ISO 8601 date-time string (PACT v3 DateTime)")
    return value


_AS_TEXT = PlainSerializer(format_datetime, return_type=str, when_used="json")
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(iso_text_or_datetime), AfterValidator(to_utc), _AS_TEXT]
UtcMillis = Annotated[AwareDatetime, BeforeValidator(iso_text_or_datetime), AfterValidator(to_utc_millis), _AS_TEXT]

# --- enumerations of the 3.0.3 OpenAPI -----------------------------------------------------------------

DeclaredUnit = Literal[
    "liter",
    "kilogram",
    "cubic meter",
    "kilowatt hour",
    "megajoule",
    "ton kilometer",
    "square meter",
    "piece",
    "hour",
    "megabit second",
]
FootprintStatus = Literal["Active", "Deprecated"]
RegionOrSubregion = Literal[
    "Africa",
    "Americas",
    "Asia",
    "Europe",
    "Oceania",
    "Australia and New Zealand",
    "Central Asia",
    "Eastern Asia",
    "Eastern Europe",
    "Latin America and the Caribbean",
    "Melanesia",
    "Micronesia",
    "Northern Africa",
    "Northern America",
    "Northern Europe",
    "Polynesia",
    "South-eastern Asia",
    "Southern Asia",
    "Southern Europe",
    "Sub-Saharan Africa",
    "Western Asia",
    "Western Europe",
]
CcuApproach = Literal["Cut-off", "Credit"]
RuleOperator = Literal["PEF", "EPD International", "Other"]
VerificationCoverage = Literal["PCF calculation model", "PCF program", "product level"]
ErrorCode = Literal["BadRequest", "AccessDenied", "TokenExpired", "NotFound", "InternalError", "NotImplemented"]
