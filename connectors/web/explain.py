"""Why a derived footprint's number is what it is: one hop of its bill of materials, from the read model.

A derived footprint names the exact footprints it used in its direct-inputs extension (``pfId``,
``quantity``, ``unit``; :mod:`streams.derive`). Each input contributes ``quantity`` (converted to the
input's declared units, as the engine does) times that input footprint's ``pcfExcludingBiogenicUptake``;
what remains of the total is the product's own emissions. This holds for products in a cycle too, because
the inputs' values are the solved ones. Only direct inputs are shown, never the suppliers behind them.

Pure: footprints in (PACT JSON dicts, looked up by id through ``lookup``), an :class:`Explanation` out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pcfx.schemas.models import to_decimal
from pcfx.streams.derive import is_inputs_extension
from pcfx.streams.units import to_declared_units

Lookup = Callable[[str], dict[str, Any] | None]
SHOWN_PLACES = Decimal("0.000001")  # contributions are shown to 6 decimal places (the total stays exact)
VALUE = "pcfExcludingBiogenicUptake"


@dataclass(frozen=True)
class Part:
    """One line of an explanation: a direct input (or the product's own emissions) and its kgCO2e."""

    key: str  # the input's product id, or "" for the product's own emissions
    name: str
    company: str
    quantity: str
    unit: str
    contribution: Decimal | None  # None: the input's footprint is not in the read model, or not convertible
    pf_id: str | None


@dataclass(frozen=True)
class Explanation:
    total: Decimal
    parts: tuple[Part, ...]  # inputs first, in the recipe's order, then the own emissions

    def part(self, key: str) -> Part | None:
        return next((p for p in self.parts if p.key == key), None)


@dataclass(frozen=True)
class Change:
    """How one part moved between two versions (None where a version lacks it)."""

    key: str
    name: str
    before: Decimal | None
    after: Decimal | None

    @property
    def delta(self) -> Decimal | None:
        return None if self.before is None or self.after is None else self.after - self.before


def direct_inputs(footprint: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The lines of the footprint's direct-inputs extension, or None for a supplier's own footprint."""
    for extension in footprint.get("extensions") or []:
        if is_inputs_extension(extension.get("dataSchema")):
            return list((extension.get("data") or {}).get("directInputs") or [])
    return None


def contribution(line: dict[str, Any], used: dict[str, Any]) -> Decimal | None:
    """kgCO2e a direct-input line adds: its quantity in the input's declared units times the input's value."""
    pcf = used["pcf"]
    try:
        mass = pcf.get("productMassPerDeclaredUnit")
        factor = to_declared_units(1.0, line.get("unit"), pcf["declaredUnitOfMeasurement"],
                                   float(to_decimal(pcf["declaredUnitAmount"])), float(to_decimal(mass)) if mass else None)
    except ValueError:
        return None
    exact = Decimal(1) / to_decimal(pcf["declaredUnitAmount"]) if not line.get("unit") or line.get("unit") == pcf[
        "declaredUnitOfMeasurement"] else Decimal(repr(factor))
    return to_decimal(line["quantity"]) * exact * to_decimal(pcf[VALUE])


def explain(footprint: dict[str, Any], lookup: Lookup) -> Explanation | None:
    """The footprint's total split into its direct inputs and its own emissions; None if it is not derived."""
    lines = direct_inputs(footprint)
    if lines is None:
        return None
    total = to_decimal(footprint["pcf"][VALUE])
    parts: list[Part] = []
    for line in lines:
        used = lookup(line["pfId"]) if line.get("pfId") else None
        if used is None:
            parts.append(Part(line.get("pfId") or "?", line.get("pfId") or "?", "", line["quantity"], line.get("unit") or "",
                              None, line.get("pfId")))
            continue
        parts.append(Part((used.get("productIds") or ["?"])[0], used.get("productNameCompany", ""), used.get("companyName", ""),
                          line["quantity"], line.get("unit") or used["pcf"]["declaredUnitOfMeasurement"],
                          contribution(line, used), line["pfId"]))
    known = [p.contribution for p in parts if p.contribution is not None]
    own = total - sum(known, Decimal(0)) if len(known) == len(parts) else None
    parts.append(Part("", footprint.get("productNameCompany", ""), footprint.get("companyName", ""), "", "", own, None))
    return Explanation(total, tuple(parts))


def changes(before: Explanation, after: Explanation) -> list[Change]:
    """The parts whose contribution moved between two versions (inputs matched by product id), own last."""
    keys = [p.key for p in after.parts] + [p.key for p in before.parts if after.part(p.key) is None]
    found = []
    for key in keys:
        old, new = before.part(key), after.part(key)
        old_value = None if old is None else old.contribution
        new_value = None if new is None else new.contribution
        if old_value != new_value and not (old_value is not None and new_value is not None
                                           and shown(old_value) == shown(new_value)):
            found.append(Change(key, (new or old).name, old_value, new_value))  # type: ignore[union-attr]
    return found


def shown(value: Decimal) -> Decimal:
    """A contribution as shown: 6 decimal places, trailing zeros dropped."""
    rounded = value.quantize(SHOWN_PLACES).normalize()
    return rounded if rounded != 0 else Decimal(0)
