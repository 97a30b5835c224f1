"""Contract errors that name the record, the field path and the offending value.

A bad record must never vanish silently: the message of a :class:`ContractError` is what lands in the
dead-letter topic, so a person can find the record and the field without the original bytes, e.g.
``footprint 3f…: pcf.primaryDataShare = '150': above 100 (PACT v3 methodology 4.2.2: PDS is a percent 0..100)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pcfx.schemas.pact_types import DECIMAL_PATTERN, MAX_DECIMAL_LENGTH, pact_decimal

MAX_VALUE_TEXT = 80  # characters of an offending value quoted in a message
MISSING = object()  # the value of a Problem about a field that is not there


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (``pcf.dqi.technologicalDQR``), the value found, and why it is wrong."""

    path: str
    value: Any
    reason: str

    def __str__(self) -> str:
        if self.value is MISSING:
            return f"{self.path}: {self.reason}"
        text = repr(self.value)
        if len(text) > MAX_VALUE_TEXT:
            text = text[: MAX_VALUE_TEXT - 3] + "..."
        return f"{self.path} = {text}: {self.reason}"


class ContractError(ValueError):
    """A record breaks the pcfx data contract; ``problems`` lists every broken rule."""

    def __init__(self, record: str, problems: list[Problem]) -> None:
        self.record = record
        self.problems = problems
        super().__init__(f"{record}: " + "; ".join(str(p) for p in problems))


class RuleViolation(ValueError):
    """Raised by a cross-field rule so that the error names the field it blames and that field's value."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(reason)


def problems_of(error: ValidationError) -> list[Problem]:
    """Turn pydantic's error list into :class:`Problem` items with PACT-style paths (``a.b[0].c``)."""
    return [_problem(detail) for detail in error.errors()]


def _problem(detail: dict[str, Any]) -> Problem:
    loc = list(detail["loc"])
    cause = (detail.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolation):
        return Problem(_path([*loc, cause.field]), cause.value, str(cause))
    if detail["type"] == "missing":
        return Problem(_path(loc), MISSING, "missing (a required field)")
    if detail["type"] == "unexpected_keyword_argument":  # a validated dataclass's word for a model's extra_forbidden
        return Problem(_path(loc), detail.get("input"), "Extra inputs are not permitted")
    if _is_decimal_constraint(detail):
        try:
            pact_decimal(detail["input"])
        except ValueError as why:
            return Problem(_path(loc), detail["input"], str(why))
    reason = detail["msg"].removeprefix("Value error, ")
    return Problem(_path(loc), detail.get("input"), reason)


def _is_decimal_constraint(detail: dict[str, Any]) -> bool:
    """A PACT decimal refused by the constraints pydantic-core checks for :data:`~pcfx.schemas.pact_types.PactDecimal`."""
    ctx = detail.get("ctx") or {}
    return ((detail["type"] == "string_pattern_mismatch" and ctx.get("pattern") == DECIMAL_PATTERN)
            or (detail["type"] == "string_too_long" and ctx.get("max_length") == MAX_DECIMAL_LENGTH))


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _is_type_tag(part):
            text += f".{part}" if text else str(part)
    return text or "(record)"


def _is_type_tag(part: str) -> bool:
    """Pydantic adds validator tags such as ``function-after[...]`` to some locations; they are no field."""
    return "[" in part and part.endswith("]")
