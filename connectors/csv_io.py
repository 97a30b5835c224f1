"""products.csv / bom.csv in, totals.csv out: the offline edge of the roll-up engine.

``products.csv``: ``product_id,name,declared_unit,direct_kgco2e_per_unit`` and optionally
``declared_amount`` (default 1), ``mass_per_unit`` (kg per declared unit), ``pds`` (percent),
``dqr_technological``, ``dqr_geographical``, ``dqr_temporal`` (1..5); the roll-up ignores other columns
(``pcfx import`` reads ``name`` and ``company``, the product's owner: see the README's CSV formats). ``bom.csv``: ``product_id,input_product_id,quantity_per_unit`` (one declared unit of
``product_id`` uses that many declared units of the input) and optionally ``unit`` (the quantity's unit
when it is not the input's declared unit, e.g. ``kilogram``).

A product with bom rows is a recipe and its direct value is its own gate-to-gate emission; a product
without bom rows is a leaf and its direct value *is* its footprint. Product ids are kept verbatim as
strings. Values are ``pcfExcludingBiogenicUptake``, kgCO2e per declared unit.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pcfx.collector import collector_paused
from pcfx.schemas.pact_types import DECIMAL_TEXT
from pcfx.streams.rollup import (
    WEIGHT_FIELD,
    Derived,
    Event,
    Input,
    InvalidFootprint,
    Leaf,
    Recipe,
    UpsertLeaf,
    UpsertRecipe,
)

PRODUCT_COLUMNS = ("product_id", "name", "declared_unit", "direct_kgco2e_per_unit")
BOM_COLUMNS = ("product_id", "input_product_id", "quantity_per_unit")
TOTALS_COLUMNS = (
    "product_id",
    "total_kgco2e_per_unit",
    "complete",
    "coverage",
    "pds",
    "dqr_technological",
    "dqr_geographical",
    "dqr_temporal",
    "problems",
)
_DQR_COLUMNS = ("dqr_technological", "dqr_geographical", "dqr_temporal")


class CsvError(ValueError):
    """A CSV cell the roll-up cannot use, named by file, line and column."""


@dataclass(frozen=True)
class CsvRow:
    """One CSV row with its place in the file, so that every error names file, line and column."""

    path: Path
    line: int
    cells: dict[str, str]

    def fail(self, column: str, problem: str) -> CsvError:
        return CsvError(f"{self.path} line {self.line}: column {column!r}: {problem}")

    def number(self, column: str, default: float | None = None) -> float | None:
        text = (self.cells.get(column) or "").strip()
        if not text:
            if default is None and column in PRODUCT_COLUMNS + BOM_COLUMNS:
                raise self.fail(column, "is empty")
            return default
        try:
            value = float(text)
        except ValueError:
            raise self.fail(column, f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise self.fail(column, f"{text!r} is not a finite number")
        return value


def _rows(path: Path, required: tuple[str, ...]) -> list[CsvRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle, utf8_only(path):
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise CsvError(f"{path}: missing column(s) {', '.join(missing)}; the header must have {', '.join(required)}")
        return [CsvRow(path, reader.line_num, row) for row in reader]


@contextmanager
def utf8_only(path: Path) -> Iterator[None]:
    """Turn a decoding failure while reading ``path`` into a CsvError that says where and what to do (a
    spreadsheet export in GBK or Latin-1 is common)."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise CsvError(f"{path}: not UTF-8 text (unexpected byte 0x{error.object[error.start]:02x}); "
                       "save the file as UTF-8 CSV") from None


#: One bom.csv line as written: input product id, quantity as PACT decimal text, unit (None: the input's own).
BomLine = tuple[str, str, str | None]


@collector_paused()  # a dense table is about a million objects that all survive the read (pcfx/collector.py)
def read_tables(products_path: Path, bom_path: Path) -> tuple[list[CsvRow], dict[str, list[BomLine]]]:
    """The rows of products.csv (each product id once) and bom.csv's lines by product, in file order, every
    quantity a finite number; a problem is a :class:`CsvError` naming file, line and column."""
    products = _rows(products_path, PRODUCT_COLUMNS)
    seen: set[str] = set()
    for row in products:
        product = row.cells["product_id"]
        if product in seen:
            raise row.fail("product_id", f"{product!r} appears twice")
        seen.add(product)
    return products, _bom_lines(bom_path, seen, products_path)


def _bom_lines(path: Path, known: set[str], products_path: Path) -> dict[str, list[BomLine]]:
    """bom.csv read with a plain reader: a dense table has tens of thousands of lines, and a dict and a
    :class:`CsvRow` per line cost more than the rest of the read. Blank lines are skipped and missing cells
    read as empty, as ``csv.DictReader`` (which reads products.csv) does."""
    with path.open(newline="", encoding="utf-8-sig") as handle, utf8_only(path):
        reader = csv.reader(handle)
        header = next(reader, [])
        missing = [c for c in BOM_COLUMNS if c not in header]
        if missing:
            raise CsvError(f"{path}: missing column(s) {', '.join(missing)}; the header must have {', '.join(BOM_COLUMNS)}")
        product_at, input_at, quantity_at = (header.index(c) for c in BOM_COLUMNS)
        unit_at = header.index("unit") if "unit" in header else None
        width = len(header)
        lines: dict[str, list[BomLine]] = {}
        for cells in reader:
            if not cells:
                continue
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            product, input_id = cells[product_at], cells[input_at]
            if product not in known:
                raise _fail(path, reader.line_num, "product_id", f"{product!r} is not in {products_path}")
            if not input_id:
                raise _fail(path, reader.line_num, "input_product_id", "is empty")
            quantity = decimal_text(cells[quantity_at], path, reader.line_num, "quantity_per_unit")
            unit = (cells[unit_at] or None) if unit_at is not None else None
            lines.setdefault(product, []).append((input_id, quantity, unit))
    return lines


def decimal_text(cell: str, path: Path, line: int, column: str) -> str:
    """A number cell as PACT decimal text: the cell's own digits when they are one already, so that a value
    travels exactly as the file wrote it; otherwise (``1e-3``, ``.5``) the same value written out exactly."""
    text = cell.strip()
    if DECIMAL_TEXT.fullmatch(text):
        return text
    if not text:
        raise _fail(path, line, column, "is empty")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _fail(path, line, column, f"{text!r} is not a number") from None
    if not value.is_finite():
        raise _fail(path, line, column, f"{text!r} is not a finite number")
    return format(value, "f")


def _fail(path: Path, line: int, column: str, problem: str) -> CsvError:
    return CsvRow(path, line, {}).fail(column, problem)


@collector_paused()  # and the engine objects made of them
def read_graph(products_path: Path, bom_path: Path) -> tuple[list[Event], dict[str, Leaf]]:
    """Engine events for the two files, and the leaves by product id (their totals are their inputs)."""
    products, lines = read_tables(products_path, bom_path)
    events: list[Event] = []
    leaves: dict[str, Leaf] = {}
    for row in products:
        product = row.cells["product_id"]
        own = lines.get(product)
        event = product_event(row, None if own is None else [Input(i, float(q), u) for i, q, u in own])
        if isinstance(event, UpsertLeaf):
            leaves[product] = event.leaf
        events.append(event)
    return events, leaves


def product_event(row: CsvRow, lines: list[Input] | None) -> Event:
    """The engine event of one products.csv row: a leaf without bom lines (None), else a recipe of ``lines``;
    a value the engine refuses is a :class:`CsvError` naming the row and the field."""
    try:
        return _event(row, lines)
    except InvalidFootprint as exc:
        raise row.fail(exc.field_name, str(exc)) from None


def _event(row: CsvRow, lines: list[Input] | None) -> Event:
    cells = row.cells
    dqr_cells = [row.number(c) if (cells.get(c) or "").strip() else None for c in _DQR_COLUMNS]
    dqr = None if all(v is None for v in dqr_cells) else tuple(5.0 if v is None else v for v in dqr_cells)
    common = dict(
        product_id=cells["product_id"],
        declared_unit=cells["declared_unit"].strip(),
        declared_amount=row.number("declared_amount", 1.0),
        mass_per_unit=row.number("mass_per_unit"),
    )
    direct = {WEIGHT_FIELD: row.number("direct_kgco2e_per_unit")}
    pds = row.number("pds")
    if lines is None:
        return UpsertLeaf(Leaf(pf_id=f"csv:{row.path.name}:{row.line}", values=direct, pds=pds, dqr=dqr, **common))
    return UpsertRecipe(Recipe(own=direct, own_pds=pds, own_dqr=dqr, inputs=tuple(lines), **common))


def write_totals(path: Path, order: list[str], results: dict[str, Derived], leaves: dict[str, Leaf]) -> None:
    """One row per product in ``order``; floats as ``repr`` so that they read back exactly."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TOTALS_COLUMNS)
        for product in order:
            writer.writerow(_leaf_row(leaves[product]) if product in leaves else _derived_row(results[product]))


def _leaf_row(leaf: Leaf) -> list[str]:
    dqr = leaf.dqr or (5.0, 5.0, 5.0)
    pds = 0.0 if leaf.pds is None else leaf.pds
    return [leaf.product_id, repr(float(leaf.values[WEIGHT_FIELD])), "true", "1.0", repr(float(pds)),
            *(repr(float(d)) for d in dqr), ""]


def _derived_row(result: Derived) -> list[str]:
    total = result.values.get(WEIGHT_FIELD)
    problems = result.error or "; ".join(result.reasons)
    return [result.product_id, "" if result.error else repr(total or 0.0), str(result.complete).lower(),
            repr(result.coverage), repr(result.pds), *(repr(d) for d in result.dqr), problems]
