"""The incremental roll-up engine: fold micro-batches of leaf/recipe events, re-solve only what they touch.

Use it bytewax-style from a stream agent: keep one ``Engine`` as the worker's state, call
:meth:`Engine.apply` with each micro-batch and publish the ``Derived`` it returns. It has no I/O.

How a batch is handled (docs/engine.md has the details and the reasons):

1. Events are folded per product: the latest leaf event and the latest recipe event win, and one equal
   to the current state changes nothing. If a product has both, the recipe defines it.
2. Recipes added, removed or rewired rebuild the edge structure (one vectorised pass over all lines);
   any other change only rewrites the coefficients of the rows concerned.
3. The changed products and everything downstream of them (the cone) are solved together, exactly,
   as one sparse block-triangular system. A cone larger than ``full_recompute_share`` of the graph
   switches to the same solve over the whole graph, which is then cheaper than walking the cone.
4. Only recipe products whose totals, quality, completeness or coverage changed are returned;
   values count as changed beyond a relative difference of :data:`RELATIVE_EPSILON`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from pcfx.streams.cone import ERROR, INCOMPLETE, Cone, evaluate_cone, field_bit
from pcfx.streams.graph import (
    EMPTY,
    Structure,
    build_structure,
    downstream,
    gather_ranges,
    local_consumers,
    merge_duplicates,
    row_entries,
    spread,
)
from pcfx.streams.nodes import EdgeStore, NodeTable
from pcfx.streams.quality import quality_row
from pcfx.streams.rollup import (
    ENGINE_FIELDS,
    WEIGHT_FIELD,
    Derived,
    EngineStats,
    Event,
    Leaf,
    Recipe,
    RemoveLeaf,
    RemoveRecipe,
    UpsertLeaf,
    UpsertRecipe,
    ipcc_bits,
    ipcc_of,
)
from pcfx.streams.solve import DENSE_LIMIT, block_is_singular, loop_is_singular, spectral_radius
from pcfx.streams.units import conversion_problem, declared_unit_code, declared_units_per_quantity, quantity_unit_code, unit_name

#: Values closer than this (relative) to the published ones count as unchanged and are not re-emitted:
#: a different solve order may move the last bits of a float without any real change.
RELATIVE_EPSILON = 1e-12
#: Most changed leaves per batch for which ``Derived.drivers`` is exact; above, it lists all of them.
EXACT_DRIVERS = 64


@dataclass
class _Batch:
    """What one micro-batch changed."""

    touched: set[int] = field(default_factory=set)
    declared_before: dict[int, tuple | None] = field(default_factory=dict)
    rewired: bool = False
    recipes: set[int] = field(default_factory=set)
    drivers: dict[int, str] = field(default_factory=dict)  # changed leaf -> its pf_id
    withdrawn: list[int] = field(default_factory=list)


class Engine:
    """Roll-up state of one worker: products interned to numbers, graph and values in arrays."""

    def __init__(self, full_recompute_share: float = 0.25) -> None:
        self.full_recompute_share = full_recompute_share
        self.stats = EngineStats()
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._pf_ids: dict[int, str] = {}
        self._fields: list[str] = [WEIGHT_FIELD]  # value column -> field name
        self._table = NodeTable()
        self._edges = EdgeStore()
        self._structure = build_structure(0, EMPTY, EMPTY, np.zeros(0))
        self._cycles: tuple[Structure | None, dict[int, tuple[str, ...]]] = (None, {})  # cycle_of's names
        self._singular = np.zeros(0, dtype=bool)  # per block
        self._mark = np.zeros(0, dtype=bool)
        self._local = np.zeros(0, dtype=np.int64)
        # products held back by ``wait``, to solve once it is lifted -> the changed leaves (pf_ids) behind each
        self._deferred: dict[int, frozenset[str]] = {}

    # -- public -------------------------------------------------------------------------------------

    def apply(self, events: Iterable[Event], wait: Iterable[str] = ()) -> list[Derived]:
        """Fold a micro-batch of events and return the Derived results that changed (tombstones too).

        ``wait`` names inputs whose new values are still on their way (a shard waits for the products other
        shards solve, docs/engine.md "Shards"): nothing downstream of them is solved now. What that holds
        back is remembered and solved by a later call whose ``wait`` no longer covers it, so each product
        is solved once per change however its inputs arrive."""
        leaf_events: dict[str, Event] = {}
        recipe_events: dict[str, Event] = {}
        for event in events:
            self.stats.events += 1
            if isinstance(event, (UpsertLeaf, RemoveLeaf)):
                leaf_events[event.product_id] = event
            elif isinstance(event, (UpsertRecipe, RemoveRecipe)):
                recipe_events[event.product_id] = event
            else:
                raise TypeError(f"not an engine event: {event!r}")
        batch = _Batch()
        for event in leaf_events.values():
            self._fold_leaf(event, batch)
        for event in recipe_events.values():
            self._fold_recipe(event, batch)
        self.stats.batches += 1
        waiting = [p for p in (self._index.get(product) for product in wait) if p is not None]
        if not batch.touched and not self._deferred:
            return []
        if batch.touched:
            self._update_structure(batch)
        return self._recompute(batch, np.array(waiting, dtype=np.int64))

    def downstream_of(self, product_ids: Iterable[str]) -> set[str]:
        """The products that use any of ``product_ids``, directly or not, and those products themselves."""
        product_ids = list(product_ids)
        if self._mark.size < self._structure.n:
            self._mark = np.zeros(self._table.capacity, dtype=bool)
        known = np.array([p for p in (self._index.get(i) for i in product_ids) if p is not None and p < self._structure.n],
                         dtype=np.int64)
        if not known.size:
            return set(product_ids)
        found = downstream(self._structure.consumers, known, self._mark, self._structure.n)
        return {self._ids[int(p)] for p in found} | set(product_ids)

    @property
    def deferred(self) -> int:
        """How many products a ``wait`` holds back (0: everything this engine was given is solved)."""
        return len(self._deferred)

    def as_leaf(self, product_id: str) -> Leaf | None:
        """The product as its users see it, for a shard that solves them and not it: its result (or its
        supplier footprint) per declared unit, with its quality, IPCC reports and whether it is incomplete
        or has no meaningful footprint. None when it has no footprint at all (its users count it missing)."""
        p, t = self._index.get(product_id), self._table
        if p is None or not (t.has_recipe[p] or t.has_leaf[p]):
            return None
        unit, amount, mass, _ = (column[0] for column in t.declared(np.array([p])))
        if t.has_recipe[p]:
            bits, row, quality = int(t.bits[p]), t.total[p].tolist(), t.quality[p].tolist()
        else:
            bits, row, quality = int(t.leaf_bits[p]), t.leaf_values[p].tolist(), t.leaf_quality[p].tolist()
        error = bool(bits & int(ERROR))
        values = {} if error else {
            name: row[column] for column, name in enumerate(self._fields) if bits >> ENGINE_FIELDS.index(name) & 1
        }
        return Leaf(
            product_id=product_id, pf_id=self._pf_ids.get(p, ""), declared_unit=unit_name(int(unit)),
            declared_amount=float(amount), mass_per_unit=_none(float(mass)), values=values,
            # a weighted average of ratings within 1..5 may come out a rounding error beyond them
            pds=min(max(quality[0], 0.0), 100.0), dqr=tuple(min(max(r, 1.0), 5.0) for r in quality[1:]), ipcc=ipcc_of(bits), incomplete=bool(bits & int(INCOMPLETE)),
            error=error,
        )

    def derived(self, product_id: str) -> Derived | None:
        """The current result for a recipe product; None for leaves and unknown ids."""
        p = self._index.get(product_id)
        if p is None or not self._table.has_recipe[p]:
            return None
        return self._derived(p, frozenset())

    def cycle_of(self, product_id: str) -> tuple[str, ...]:
        """The products of the strongly connected block (a cycle of recipes) that holds ``product_id``; the
        product alone when it is in no cycle. Every member reaches every other, so what any of them uses
        counts for all (the validity of a derived footprint is bounded over the whole block)."""
        p, s = self._index.get(product_id), self._structure
        if p is None or p >= s.n or s.sizes[s.labels[p]] == 1:
            return (product_id,)
        if self._cycles[0] is not s:  # named once per block and structure: every member of a block asks
            self._cycles = (s, {})
        block, named = int(s.labels[p]), self._cycles[1]
        if block not in named:
            named[block] = tuple(self._ids[m] for m in s.members(block))
        return named[block]

    def solve_all(self) -> dict[str, Derived]:
        """Solve the whole graph from scratch and return every recipe product's result."""
        self.stats.full_recomputes += 1
        cone = self._evaluate(self._structure.order)
        self._store(cone)
        recipes = np.flatnonzero(self._table.has_recipe[: len(self._ids)])
        return {self._ids[p]: self._derived(p, frozenset()) for p in recipes}

    @property
    def product_ids(self) -> list[str]:
        """Every product id seen, in interning order."""
        return list(self._ids)

    # -- folding events -----------------------------------------------------------------------------

    def _intern(self, product_id: str) -> int:
        p = self._index.get(product_id)
        if p is None:
            p = len(self._ids)
            self._index[product_id] = p
            self._ids.append(product_id)
            self._table.grow(p + 1)
        return p

    def _values(self, values: dict[str, float]) -> tuple[np.ndarray, np.uint64]:
        """A value row over the active columns (adding columns for new fields) and its presence bits."""
        for name in values:
            if name not in self._fields:
                self._fields.append(name)
                self._table.add_field()
        row = np.zeros(len(self._fields))
        bits = np.uint64(0)
        for name, value in values.items():
            row[self._fields.index(name)] = value
            bits |= field_bit(ENGINE_FIELDS.index(name))
        return row, bits

    def _declared_state(self, p: int) -> tuple | None:
        unit, amount, mass, available = (column[0] for column in self._table.declared(np.array([p])))
        return (int(unit), float(amount), None if math.isnan(mass) else float(mass)) if available else None

    def _touch(self, p: int, batch: _Batch) -> None:
        if p not in batch.touched:
            batch.touched.add(p)
            batch.declared_before[p] = self._declared_state(p)

    def _fold_leaf(self, event: Event, batch: _Batch) -> None:
        t = self._table
        p = self._intern(event.product_id)
        if isinstance(event, RemoveLeaf):
            if t.has_leaf[p]:
                self._touch(p, batch)
                batch.drivers[p] = self._pf_ids.pop(p)
                t.has_leaf[p] = False
            return
        leaf: Leaf = event.leaf
        values, bits = self._values(dict(leaf.values))
        bits |= np.uint64(ipcc_bits(leaf.ipcc))
        if leaf.incomplete:
            bits |= INCOMPLETE
        if leaf.error:
            bits |= ERROR
        quality = quality_row(leaf.pds, leaf.dqr)
        unit, mass = declared_unit_code(leaf.declared_unit), _mass(leaf.mass_per_unit)
        same = (
            t.has_leaf[p]
            and _same_declared(t.leaf_unit[p], t.leaf_amount[p], t.leaf_mass[p], unit, leaf.declared_amount, mass)
            and t.leaf_bits[p] == bits
            and np.array_equal(t.leaf_values[p], values)
            and np.array_equal(t.leaf_quality[p], quality)
        )
        self._pf_ids[p] = leaf.pf_id
        if same:
            return
        self._touch(p, batch)
        batch.drivers[p] = leaf.pf_id
        t.has_leaf[p] = True
        t.leaf_unit[p], t.leaf_amount[p], t.leaf_mass[p] = unit, leaf.declared_amount, mass
        t.leaf_values[p], t.leaf_bits[p], t.leaf_quality[p] = values, bits, quality

    def _fold_recipe(self, event: Event, batch: _Batch) -> None:
        t = self._table
        p = self._intern(event.product_id)
        if isinstance(event, RemoveRecipe):
            if t.has_recipe[p]:
                self._touch(p, batch)
                batch.rewired |= bool(t.recipe_length[p])
                batch.withdrawn.append(p)
                self._edges.release(int(t.recipe_length[p]))
                t.has_recipe[p], t.recipe_length[p] = False, 0
            return
        recipe: Recipe = event.recipe
        values, bits = self._values(dict(recipe.own))
        quality = quality_row(recipe.own_pds, recipe.own_dqr)
        unit, mass = declared_unit_code(recipe.declared_unit), _mass(recipe.mass_per_unit)
        sources, quantities, units = self._lines(recipe)
        start, length = int(t.recipe_start[p]), int(t.recipe_length[p])
        old = slice(start, start + length)
        same_lines = (
            length == sources.size
            and np.array_equal(self._edges.source[old], sources)
            and np.array_equal(self._edges.quantity[old], quantities)
            and np.array_equal(self._edges.unit[old], units)
        )
        if (
            t.has_recipe[p]
            and same_lines
            and _same_declared(t.recipe_unit[p], t.recipe_amount[p], t.recipe_mass[p], unit, recipe.declared_amount, mass)
            and t.recipe_bits[p] == bits
            and np.array_equal(t.recipe_values[p], values)
            and np.array_equal(t.recipe_quality[p], quality)
        ):
            return
        self._touch(p, batch)
        old_inputs = np.unique(self._edges.source[old]) if t.has_recipe[p] else EMPTY
        batch.rewired |= not np.array_equal(old_inputs, np.unique(sources))
        batch.recipes.add(p)
        if t.has_recipe[p]:
            self._edges.release(length)
        t.recipe_start[p], t.recipe_length[p] = self._edges.add(sources, quantities, units), sources.size
        t.has_recipe[p] = True
        t.recipe_unit[p], t.recipe_amount[p], t.recipe_mass[p] = unit, recipe.declared_amount, mass
        t.recipe_values[p], t.recipe_bits[p], t.recipe_quality[p] = values, bits, quality

    def _lines(self, recipe: Recipe) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The recipe's lines as arrays, sorted by input number (stable), as the edge store keeps them."""
        sources = np.array([self._intern(line.product_id) for line in recipe.inputs], dtype=np.int32)
        quantities = np.array([line.quantity for line in recipe.inputs], dtype=np.float64)
        units = np.array([quantity_unit_code(line.unit) for line in recipe.inputs], dtype=np.int16)
        order = np.argsort(sources, kind="stable")
        return sources[order], quantities[order], units[order]

    # -- structure ----------------------------------------------------------------------------------

    def _update_structure(self, batch: _Batch) -> None:
        """Rebuild the edge structure if recipes were rewired, else rewrite only the rows that changed."""
        n = len(self._ids)
        redeclared = np.array(
            [p for p in batch.touched if self._declared_state(p) != batch.declared_before[p]], dtype=np.int64
        )
        if batch.rewired:
            self._rebuild(n)
            return
        self._structure = self._structure.grown(n)
        self._singular = np.concatenate([self._singular, np.zeros(self._structure.sizes.size - self._singular.size, bool)])
        consumers = self._structure.consumers
        rows = consumers.indices[row_entries(consumers.indptr, redeclared)[0]]
        rows = np.union1d(rows, np.fromiter(batch.recipes, dtype=np.int64, count=len(batch.recipes)))
        self._refresh(rows)

    def _coefficients(self, recipes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (recipe, input) entries with summed coefficients, and whether each is unusable."""
        t, edges = self._table, self._edges
        lengths = t.recipe_length[recipes]
        positions = gather_ranges(t.recipe_start[recipes], lengths)
        owners = np.repeat(recipes.astype(np.int32), lengths)
        sources = edges.source[positions]
        unit, amount, mass, available = t.declared(sources)
        factor = declared_units_per_quantity(edges.unit[positions].astype(np.int64), unit, amount, mass)
        del unit, amount, mass
        usable = available & np.isfinite(factor)
        coef = np.where(usable, edges.quantity[positions] * np.where(usable, factor, 0.0), 0.0)
        return merge_duplicates(owners, sources, coef, usable)

    def _rebuild(self, n: int) -> None:
        t = self._table
        recipes = np.flatnonzero(t.has_recipe[:n])
        if self._edges.needs_compaction():
            t.recipe_start[recipes] = self._edges.compact(t.recipe_start[recipes], t.recipe_length[recipes])
        rows, cols, coef, unusable = self._coefficients(recipes)
        self._structure = build_structure(n, rows, cols, coef)
        t.unusable[:n] = np.bincount(rows[unusable], minlength=n)
        self._singular = np.zeros(self._structure.sizes.size, dtype=bool)
        self._check_blocks(np.arange(self._structure.sizes.size))
        self.stats.rebuilds += 1

    def _refresh(self, rows: np.ndarray) -> None:
        """Rewrite the coefficients of ``rows`` in place; their input sets are unchanged."""
        if rows.size == 0:
            return
        entry_rows, _, coef, unusable = self._coefficients(rows)
        positions, _ = row_entries(self._structure.q.indptr, rows)
        self._structure.q.data[positions] = coef
        self._table.unusable[rows] = 0
        np.add.at(self._table.unusable, entry_rows[unusable], 1)
        self._check_blocks(np.unique(self._structure.labels[rows]))

    def _check_blocks(self, blocks: np.ndarray) -> None:
        """Re-test the given blocks for "no meaningful footprint" (spectral radius >= 1, or singular) after their
        coefficients changed."""
        s = self._structure
        single = blocks[s.sizes[blocks] == 1]
        nodes = s.order[s.first[single]]
        positions, owner = row_entries(s.q.indptr, nodes)
        loops = s.q.indices[positions] == nodes[owner]
        gain = np.bincount(owner[loops], s.q.data[positions][loops], minlength=nodes.size)
        self._singular[single] = loop_is_singular(gain)
        for block in blocks[s.sizes[blocks] > 1]:
            members = s.members(block)
            self._singular[block] = block_is_singular(s.q[members][:, members])

    # -- recompute ----------------------------------------------------------------------------------

    def _cone(self, seeds: np.ndarray, whole_allowed: bool = True) -> np.ndarray:
        """The products to solve, inputs-first: the seeds' downstream cone, or everything if that is large."""
        s = self._structure
        limit = int(self.full_recompute_share * s.n) if whole_allowed else s.n
        if self._mark.size < s.n:
            self._mark = np.zeros(self._table.capacity, dtype=bool)
        nodes = downstream(s.consumers, seeds, self._mark, limit) if seeds.size <= limit else None
        if nodes is None:
            self.stats.full_recomputes += 1
            return s.order
        return nodes[np.lexsort((nodes, s.labels[nodes]))]

    def _evaluate(self, nodes: np.ndarray) -> Cone:
        if self._local.size < self._structure.n:
            self._local = np.full(self._table.capacity, -1, dtype=np.int64)
        self.stats.recomputed += nodes.size
        self.stats.recipes_solved += int(self._table.has_recipe[nodes].sum())
        return evaluate_cone(self._structure, self._table, self._singular, nodes, self._local)

    def _recompute(self, batch: _Batch, waiting: np.ndarray) -> list[Derived]:
        carried, self._deferred = self._deferred, {}
        touched = batch.touched | carried.keys()
        seeds = np.fromiter(touched, dtype=np.int64, count=len(touched))
        # Solving the whole graph instead of a large cone is cheaper once, not on every arrival of a shard's step
        nodes = self._cone(seeds, whole_allowed=not waiting.size and not carried)
        later = np.zeros(nodes.size, dtype=bool)
        if waiting.size:
            later = np.isin(nodes, downstream(self._structure.consumers, waiting, self._mark, self._structure.n))
        held = np.flatnonzero(later)
        cone = self._evaluate(nodes[~later] if held.size else nodes)
        changed, positions = self._store(cone)
        # drivers over the whole cone (its graph then built anew), so that a held-back product keeps this round's
        wanted = np.concatenate([np.flatnonzero(~later)[positions], held]) if held.size else positions
        drivers = self._drivers(nodes, None if held.size else cone.graph, batch.drivers, carried, wanted)
        self._deferred = dict(zip(nodes[held].tolist(), drivers[positions.size:]))
        results = [self._derived(int(p), d) for p, d in zip(changed, drivers[: positions.size])]
        results += [self._tombstone(p) for p in batch.withdrawn if self._table.shown[p] and not self._table.has_recipe[p]]
        self.stats.emitted += len(results)
        return results

    def _store(self, cone: Cone) -> tuple[np.ndarray, np.ndarray]:
        """Keep the cone's new state where it changed; return the changed recipe products and positions."""
        t, nodes = self._table, cone.nodes
        moved = ~(_close(t.total[nodes], cone.totals).all(axis=1) & _close(t.quality[nodes], cone.quality).all(axis=1))
        differs = moved | (t.bits[nodes] != cone.bits) | (t.coverage[nodes] != cone.coverage)
        recipe = t.has_recipe[nodes]
        emit = np.flatnonzero(recipe & (differs | ~t.shown[nodes]))
        update = np.flatnonzero(differs)
        target = nodes[update]
        t.total[target], t.quality[target] = cone.totals[update], cone.quality[update]
        t.bits[target], t.coverage[target] = cone.bits[update], cone.coverage[update]
        t.shown[nodes[emit]] = True
        return nodes[emit], emit

    def _drivers(
        self,
        nodes: np.ndarray,
        graph: tuple[np.ndarray, np.ndarray] | None,
        leaves: dict[int, str],
        carried: dict[int, frozenset[str]],
        wanted: np.ndarray,
    ) -> list[frozenset[str]]:
        """pf_ids of the changed leaves upstream of ``nodes[wanted]``: the leaves of this batch and those a
        held-back product carries from the rounds it waited through (all of them past EXACT_DRIVERS).
        ``graph`` is the consumer CSR local to ``nodes``, built here when None."""
        names = set(leaves.values()).union(*{id(held): held for held in carried.values()}.values())
        if len(names) > EXACT_DRIVERS:
            everything = frozenset(names)
            return [everything] * wanted.size
        if not names:
            return [frozenset()] * wanted.size
        ordered = sorted(names)
        number = {pf: k for k, pf in enumerate(ordered)}
        self._local[nodes] = np.arange(nodes.size)
        try:
            if graph is None:
                graph = local_consumers(self._structure.consumers, nodes, self._local)
            bits = np.zeros(nodes.size, dtype=np.uint64)
            for p, pf in leaves.items():
                if self._local[p] >= 0:
                    bits[self._local[p]] |= np.uint64(1 << number[pf])
            for p, held in carried.items():
                bits[self._local[p]] |= np.uint64(sum(1 << number[pf] for pf in held))
        finally:
            self._local[nodes] = -1
        spread(graph[0], graph[1], bits)
        masks, which = np.unique(bits[wanted], return_inverse=True)  # one set per distinct combination of leaves
        sets = [frozenset(pf for k, pf in enumerate(ordered) if int(mask) >> k & 1) for mask in masks]
        return [sets[i] for i in which.tolist()]

    # -- results ------------------------------------------------------------------------------------

    def _derived(self, p: int, drivers: frozenset[str]) -> Derived:
        t = self._table
        bits = int(t.bits[p])
        error = self._error_text(p) if bits & int(ERROR) else None
        row = t.total[p].tolist()
        values = {} if error else {
            name: row[column] for column, name in enumerate(self._fields) if bits >> ENGINE_FIELDS.index(name) & 1
        }
        missing, reasons = self._problems(p) if bits & int(INCOMPLETE) else ((), ())
        pds, technological, geographical, temporal = t.quality[p].tolist()
        return Derived(
            product_id=self._ids[p],
            values=values,
            pds=pds,
            dqr=(technological, geographical, temporal),
            complete=not bits & int(ERROR | INCOMPLETE),
            coverage=float(t.coverage[p]),
            missing=missing,
            error=error,
            drivers=drivers,
            reasons=reasons,
            ipcc=ipcc_of(bits),
        )

    def _tombstone(self, p: int) -> Derived:
        self._table.shown[p] = False
        return Derived(self._ids[p], {}, 0.0, (5.0, 5.0, 5.0), complete=False, coverage=0.0, removed=True)

    def _problems(self, p: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Direct inputs that cannot be used, and one reason per problem (incomplete inputs included)."""
        t, edges = self._table, self._edges
        lines = slice(int(t.recipe_start[p]), int(t.recipe_start[p] + t.recipe_length[p]))
        sources = edges.source[lines].astype(np.int64)
        unit, amount, mass, available = t.declared(sources)
        factor = declared_units_per_quantity(edges.unit[lines].astype(np.int64), unit, amount, mass)
        missing: list[str] = []
        reasons: list[str] = []
        for k, source in enumerate(sources):
            name = self._ids[source]
            if name in missing:
                continue
            if not available[k]:
                missing.append(name)
                reasons.append(f"input {name!r} has no footprint")
            elif np.isnan(factor[k]):
                missing.append(name)
                quantity_unit = unit_name(int(edges.unit[lines][k])) if edges.unit[lines][k] >= 0 else None
                reasons.append(f"input {name!r}: " + conversion_problem(quantity_unit, unit_name(int(unit[k])), _none(mass[k])))
            elif source != p and t.bits[source] & INCOMPLETE and f"input {name!r} is incomplete" not in reasons:
                reasons.append(f"input {name!r} is incomplete")
        return tuple(missing), tuple(reasons)

    def _error_text(self, p: int) -> str:
        s = self._structure
        block = s.labels[p]
        if self._singular[block] and s.sizes[block] == 1:
            gain = float(s.q[p, p])
            return (f"no meaningful footprint: {self._ids[p]!r} uses {gain:.4g} of itself per declared unit; "
                    "a self-use of magnitude 1 or more amplifies itself")
        if self._singular[block]:
            members = s.members(block)
            names = sorted(self._ids[m] for m in members)  # a stable text, whatever order the products arrived in
            listed = ", ".join(repr(m) for m in names[:5]) + (", ..." if len(names) > 5 else "")
            radius = spectral_radius(s.q[members][:, members]) if members.size <= DENSE_LIMIT else math.inf
            gain = f" (loop gain: spectral radius {radius:.4g} >= 1)" if math.isfinite(radius) and radius >= 1 else ""
            return f"no meaningful footprint: the cycle through {listed} ({len(names)} products) amplifies itself{gain}"
        row = s.q.indices[s.q.indptr[p] : s.q.indptr[p + 1]]
        culprit = next(i for i in row if self._table.bits[i] & ERROR)
        return f"no meaningful footprint: input {self._ids[culprit]!r} has none (a cycle upstream amplifies itself)"


def _mass(mass: float | None) -> float:
    return math.nan if mass is None else mass


def _none(mass: float) -> float | None:
    return None if math.isnan(mass) else float(mass)


def _same_declared(unit: int, amount: float, mass: float, new_unit: int, new_amount: float, new_mass: float) -> bool:
    return unit == new_unit and amount == new_amount and (mass == new_mass or (math.isnan(mass) and math.isnan(new_mass)))


def _close(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    return np.abs(old - new) <= RELATIVE_EPSILON * np.maximum(np.abs(old), np.abs(new))
