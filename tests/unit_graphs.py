"""Supply graphs declared in the units real tools export, with their totals from an independent dense solve.

Three made-up graphs (no third-party table is copied):

- ``io_table``: an input-output-shaped table, 40 sectors in ``USD (2013, producer price)`` with dense
  coefficients (every sector buys from every other: one 40-sector cycle), spectral radius 0.6, some lines
  spelling the unit differently (case, spaces), plus 6 sectors in ``Mill USD`` declared per 2 Mill USD;
- ``brightway_chain``: an LCA-database-like chain in ``unit``, ``kilometer``, ``kilogram``,
  ``kilowatt hour``, with lines in ``km``, ``m``, ``MJ``, ``g`` and a steel/electricity loop;
- ``chinese_bom``: a Chinese bill of materials in ``件``, ``吨``, ``千瓦时``, ``台``, ``个``, ``米``, with lines in
  ``千克``, ``kWh``, ``pcs``, ``厘米``.

Each line carries the factor written by hand here (declared units of the input per unit of the line), so
the expected totals, ``x = (I - Q)^-1 d`` by numpy, never go through pcfx's unit table.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Graph:
    products: list[tuple[str, str, str, float, float]] = field(default_factory=list)  # id, name, unit, amount, direct
    lines: list[tuple[str, str, float, str, float]] = field(default_factory=list)  # product, input, qty, unit, factor

    def product(self, pid: str, unit: str, direct: float, amount: float = 1.0, name: str | None = None) -> None:
        self.products.append((pid, name or pid, unit, amount, direct))

    def line(self, product: str, input_id: str, quantity: float, unit: str = "", factor: float = 1.0) -> None:
        """``factor``: declared units of the input in one ``unit`` of the line (hand-written)."""
        self.lines.append((product, input_id, quantity, unit, factor))

    def expected(self) -> dict[str, float]:
        """Every product's total per declared unit, by a dense linear solve."""
        ids = [p[0] for p in self.products]
        index = {pid: k for k, pid in enumerate(ids)}
        q = np.zeros((len(ids), len(ids)))
        for product, input_id, quantity, _, factor in self.lines:
            q[index[product], index[input_id]] += quantity * factor
        direct = np.array([p[4] for p in self.products])
        totals = np.linalg.solve(np.eye(len(ids)) - q, direct)
        return dict(zip(ids, totals.tolist()))

    def write(self, directory: Path) -> tuple[Path, Path]:
        products, bom = directory / "products.csv", directory / "bom.csv"
        with products.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["product_id", "name", "declared_unit", "declared_amount", "direct_kgco2e_per_unit"])
            for pid, name, unit, amount, direct in self.products:
                writer.writerow([pid, name, unit, repr(amount), repr(direct)])
        with bom.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["product_id", "input_product_id", "quantity_per_unit", "unit"])
            for product, input_id, quantity, unit, _ in self.lines:
                writer.writerow([product, input_id, repr(quantity), unit])
        return products, bom


IO_UNIT = "USD (2013, producer price)"


def io_table(sectors: int = 40, seed: int = 14) -> Graph:
    """A dense input-output table in USD: a[i, j] USD of sector j per USD of sector i, spectral radius 0.6."""
    rng = np.random.default_rng(seed)
    a = rng.random((sectors, sectors)) * (rng.random((sectors, sectors)) < 0.8)
    a *= 0.6 / max(abs(np.linalg.eigvals(a)))
    g = Graph()
    spellings = ("", IO_UNIT, "usd (2013,  producer price)", " USD (2013, PRODUCER PRICE) ")
    for i in range(sectors):
        g.product(f"S{i:02d}", IO_UNIT, float(rng.uniform(0.05, 2.0)), name=f"sector {i}")
    for i in range(sectors):
        for j in range(sectors):
            if a[i, j]:
                g.line(f"S{i:02d}", f"S{j:02d}", float(a[i, j]), spellings[(i + j) % 4])
    # A second table in Mill USD, declared per 2 Mill USD. Two currencies never convert, so it buys from the
    # USD table only in the USD sectors' own declared unit (a line without a unit).
    for k in range(6):
        g.product(f"M{k}", "Mill USD", 100.0 + k, amount=2.0)
    for k in range(6):
        g.line(f"M{k}", f"M{(k + 1) % 6}", 0.2, "mill usd", 0.5)  # 0.2 Mill USD = 0.1 declared units
        g.line(f"M{k}", f"S{k:02d}", 1000.0)  # the input's own declared unit (1 USD)
    return g


def brightway_chain() -> Graph:
    """An LCA-database-like chain: unit, kilometer, kilogram, kilowatt hour."""
    g = Graph()
    g.product("steel", "kilogram", 1.9, name="steel, low-alloyed")
    g.product("electricity", "kilowatt hour", 0.45, name="market for electricity, medium voltage")
    g.product("lorry", "unit", 2500.0, name="lorry, 16 metric ton")
    g.product("transport", "kilometer", 0.12, name="transport, freight, lorry 16-32 metric ton")
    g.product("part", "unit", 3.0, name="gear box")
    g.product("delivered", "Unit", 0.5, name="gear box, delivered")
    g.line("steel", "electricity", 2.1)  # kWh per kg, the input's own unit
    g.line("electricity", "steel", 18.0, "g", 0.001)  # 18 g of steel per kWh: a loop through steel
    g.line("lorry", "steel", 4.2, "t", 1000.0)  # tonnes into a kilogram-declared input
    g.line("transport", "lorry", 1.0 / 540000.0, "unit")
    g.line("transport", "electricity", 0.36, "MJ", 1.0 / 3.6)
    g.line("part", "steel", 12.5, "kilogram")
    g.line("part", "electricity", 7.0, "kWh")
    g.line("delivered", "part", 1.0, "pcs")
    g.line("delivered", "transport", 350.0, "km")
    g.line("delivered", "transport", 800.0, "m", 0.001)  # the last 800 m, a second line to the same input
    return g


def chinese_bom() -> Graph:
    """A Chinese bill of materials: 件, 吨, 千瓦时, 台, 个, 米."""
    g = Graph()
    g.product("钢材", "吨", 1850.0, name="热轧钢板")
    g.product("电力", "千瓦时", 0.58, name="电网电力")
    g.product("铜缆", "米", 0.9, amount=100.0, name="铜电缆 (每 100 米)")
    g.product("螺钉", "个", 0.02, amount=1000.0, name="螺钉 (每千个)")
    g.product("电机", "台", 12.0, name="电机")
    g.product("外壳", "件", 0.8, name="外壳")
    g.product("空调", "台", 25.0, name="空调")
    g.line("钢材", "电力", 450.0)
    g.line("铜缆", "电力", 30.0, "kWh")
    g.line("电机", "钢材", 8.5, "千克", 0.001)
    g.line("电机", "铜缆", 350.0, "厘米", 0.01 / 100.0)  # 3.5 m of a cable declared per 100 m
    g.line("电机", "螺钉", 16.0, "pcs", 1.0 / 1000.0)
    g.line("外壳", "钢材", 0.004, "t", 1.0)
    g.line("外壳", "螺钉", 8.0, "个", 1.0 / 1000.0)
    g.line("空调", "电机", 2.0, "台")
    g.line("空调", "外壳", 1.0)
    g.line("空调", "铜缆", 12.0, "米", 1.0 / 100.0)
    g.line("空调", "电力", 15.0, "千瓦时")
    return g


def all_graphs() -> Graph:
    """The three graphs as one file pair (their product ids do not overlap)."""
    merged = Graph()
    for make in (io_table, brightway_chain, chinese_bom):
        g = make()
        merged.products += g.products
        merged.lines += g.lines
    return merged


GRAPHS = {"io_table": io_table, "brightway_chain": brightway_chain, "chinese_bom": chinese_bom}
