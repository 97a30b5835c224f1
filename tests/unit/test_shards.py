"""Shards without Kafka: the router's plans, engines that wait for each other, and records delivered in any order
end where one engine alone ends, with each product solved once per step.

The harness below plays Kafka: every record a router or shard sends goes into a mailbox per partition, and the
shards take them in a random order (a shard reads its own partition in order, but the order between
partitions is anything). Each shard follows the protocol of ``agents/recompute.py`` at the engine level.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest

from pcfx.streams.engine import Engine
from pcfx.streams.rollup import Input, Leaf, Recipe, RemoveLeaf, RemoveRecipe, UpsertLeaf, UpsertRecipe
from pcfx.streams.shards import Boundary, Incoming, Plan, Shape, StepProgress, home_of, plan_of, plan_records

EXCL = "pcfExcludingBiogenicUptake"


def leaf(product: str, value: float, pf: str = "") -> UpsertLeaf:
    return UpsertLeaf(Leaf(product, pf or f"pf-{product}-{value}", "kilogram", 1.0, None, {EXCL: value}, pds=50.0))


def recipe(product: str, own: float, lines: list[tuple[str, float]]) -> UpsertRecipe:
    return UpsertRecipe(Recipe(product, "kilogram", 1.0, None, {EXCL: own}, own_pds=80.0,
                               inputs=tuple(Input(i, q) for i, q in lines)))


class Registry:
    """Stands in for Avro: an update's bytes name the engine event they carry."""

    def __init__(self) -> None:
        self.events: dict[bytes, object] = {}
        self.count = 0

    def incoming(self, event: object) -> Incoming:
        self.count += 1
        raw = repr((self.count, event)).encode()
        self.events[raw] = event
        if isinstance(event, UpsertRecipe):
            r = event.recipe
            return Incoming(f"recipe:{r.product_id}", raw, 0, ("graph-updates", 0, self.count, 0),
                            tuple(i.product_id for i in r.inputs), self.count)
        return Incoming(f"leaf:{event.product_id}", raw, 0, ("graph-updates", 0, self.count, 0))


@dataclass
class Shard:
    partition: int
    registry: Registry
    engine: Engine = field(default_factory=Engine)
    records: dict[str, dict[str, object]] = field(default_factory=dict)  # own product -> kind -> event
    plans: list[Plan] = field(default_factory=list)
    handovers: list[tuple[int, str, dict]] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    progress: StepProgress | None = None
    solved: int = 0

    def step_events(self, p: StepProgress) -> list:
        events: list = []
        for product in sorted(p.plan.gives):
            held = self.records.pop(product, {})
            events += [RemoveLeaf(product)] + ([RemoveRecipe(product)] if "recipe" in held else [])
        for product in sorted(p.plan.takes):
            events.append(RemoveLeaf(product))  # its result as an input from another shard, if it was one
            records = next(r for s, prod, r in self.handovers if s == p.plan.step and prod == product)
            self.records[product] = dict(records)
            events += [records[k] for k in ("leaf", "recipe") if k in records]
        for update in p.plan.updates:
            event = self.registry.events[update.raw]
            self.records.setdefault(update.product_id, {})[update.kind] = event
            events.append(event)
        return events

    def run(self, out: list[tuple[int, object]]) -> None:
        """Do what can be done now; records to send go to ``out`` as (partition, record)."""
        while True:
            if self.progress is None:
                if not self.plans:
                    return
                self.progress = StepProgress(self.plans.pop(0))
            p = self.progress
            step = p.plan.step
            if not p.started:
                for product, target in sorted(p.plan.gives.items()):
                    out.append((target, ("handover", step, product, dict(self.records.get(product, {})))))
                p.taken = {prod for s, prod, _ in self.handovers if s == step}
                if p.missing_handovers():
                    return
                events = self.step_events(p)
                p.started = True
            else:
                events = []
            arrived = [b for b in self.boundaries if b.step == step and b.product_id not in p.received]
            for b in arrived:
                p.received.add(b.product_id)
                events.append(UpsertLeaf(b.leaf) if b.leaf is not None else RemoveLeaf(b.product_id))
            before = self.engine.stats.recipes_solved
            self.engine.apply(events, wait=p.waiting())
            self.solved += self.engine.stats.recipes_solved - before
            for product in p.to_send(self.engine.downstream_of(p.waiting())):
                p.sent.add(product)
                made = self.engine.as_leaf(product)
                for target in p.plan.sends[product]:
                    out.append((target, Boundary(step, product, None if made is None else
                                                 Leaf(**{**made.__dict__, "pf_id": f"{product}@{step}"}), None, None)))
            if not p.done(self.engine.deferred):
                return
            self.progress = None

    def take(self, record: object) -> None:
        if isinstance(record, Plan):
            self.plans.append(record)
        elif isinstance(record, Boundary):
            self.boundaries.append(record)
        else:
            _, step, product, records = record
            self.handovers.append((step, product, records))


def run_sharded(steps: list[list[object]], partitions: int, rng: random.Random) -> tuple[dict[str, Shard], Shape, dict[int, Shard]]:
    registry = Registry()
    shape = Shape(partitions)
    shards = {n: Shard(n, registry) for n in range(partitions)}
    mail: dict[int, list[object]] = {n: [] for n in range(partitions)}
    for number, events in enumerate(steps, start=1):
        plans, _ = shape.plan(number, [registry.incoming(e) for e in events])
        for partition, plan in plans.items():
            mail[partition].append(plan_of(plan_records(plan)))  # through its records, as on Kafka
        # deliver in a random interleaving of the partitions, each partition in order
        while any(mail.values()):
            partition = rng.choice([n for n in mail if mail[n]])
            shards[partition].take(mail[partition].pop(0))
            out: list[tuple[int, object]] = []
            shards[partition].run(out)
            for target, record in out:
                mail[target].append(record)
        for shard in shards.values():
            assert shard.progress is None and not shard.plans, "a shard still waits after its mail ran out"
    owners = {}
    for product in shape.entries:
        owners[product] = shards[shape.owner(product)]
    return owners, shape, shards


def run_alone(steps: list[list[object]]) -> Engine:
    engine = Engine()
    for events in steps:
        engine.apply(events)
    return engine


def assert_same(alone: Engine, owners: dict[str, Shard]) -> None:
    for product in alone.product_ids:
        want = alone.derived(product)
        if want is None:
            continue
        got = owners[product].engine.derived(product)
        assert got is not None, product
        assert got.complete == want.complete and got.coverage == want.coverage, product
        assert (got.error is None) == (want.error is None), product
        assert set(got.values) == set(want.values), product
        for name, value in want.values.items():
            assert math.isclose(got.values[name], value, rel_tol=1e-9, abs_tol=1e-12), (product, name)
        assert math.isclose(got.pds, want.pds, rel_tol=1e-9, abs_tol=1e-12), product


def test_a_chain_across_shards_adds_up_like_one_engine() -> None:
    steps = [[leaf("ore", 10.0), recipe("steel", 1.0, [("ore", 2.0)]), recipe("frame", 0.5, [("steel", 4.0)])],
             [leaf("ore", 12.0)]]
    owners, _, _ = run_sharded(steps, 3, random.Random(1))
    frame = owners["frame"].engine.derived("frame")
    assert frame.values[EXCL] == pytest.approx(0.5 + 4 * (1.0 + 2 * 12.0))


def test_a_cycle_is_owned_by_one_shard_and_a_merge_moves_the_minority() -> None:
    shape = Shape(4)
    registry = Registry()
    plans, _ = shape.plan(1, [registry.incoming(e) for e in (
        recipe("a", 1, [("b", 0.5)]), recipe("b", 1, [("a", 0.2)]), recipe("c", 1, [("x", 1.0)]))])
    assert shape.owner("a") == shape.owner("b")
    before_ab, before_c = shape.owner("a"), shape.owner("c")
    # c joins the cycle: a, b (two members) keep their owner, c moves there with its records
    plans, _ = shape.plan(2, [registry.incoming(recipe("c", 1, [("a", 0.1)])), registry.incoming(recipe("a", 1, [("b", 0.5), ("c", 0.3)]))])
    assert shape.owner("a") == shape.owner("b") == shape.owner("c") == before_ab
    if before_c != before_ab:
        assert plans[before_c].gives == {"c": before_ab} and plans[before_ab].takes == {"c": before_c}


def test_an_identical_record_makes_no_step() -> None:
    shape, registry = Shape(3), Registry()
    event = recipe("p", 1, [("q", 1.0)])
    first = registry.incoming(event)
    assert shape.plan(1, [first])[0]
    assert shape.plan(2, [first])[0] == {}


def random_steps(rng: random.Random, products: int, steps: int) -> list[list[object]]:
    names = [f"p{k:03d}" for k in range(products)]
    leaves = names[: products // 3]
    made = names[products // 3 :]

    def a_recipe(product: str) -> UpsertRecipe:
        lines = []
        for _ in range(rng.randint(1, 4)):
            source = rng.choice(names)
            lines.append((source, rng.uniform(-0.1, 0.2) if source in made else rng.uniform(0.1, 3.0)))
        return recipe(product, rng.uniform(0.1, 2.0), lines)

    first = [leaf(p, rng.uniform(1, 10)) for p in leaves] + [a_recipe(p) for p in made]
    rest = []
    for _ in range(steps):
        step: list[object] = []
        for _ in range(rng.randint(1, 5)):
            choice = rng.random()
            if choice < 0.5:
                step.append(leaf(rng.choice(leaves), rng.uniform(1, 10)))
            elif choice < 0.6:
                step.append(RemoveLeaf(rng.choice(leaves)))
            else:
                step.append(a_recipe(rng.choice(made)))  # often rewires: components merge and split
        rest.append(step)
    return [first, *rest]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("partitions", [2, 3, 5])
def test_random_graphs_end_like_one_engine_in_any_delivery_order(seed: int, partitions: int) -> None:
    rng = random.Random(seed * 31 + partitions)
    steps = random_steps(rng, 40, 12)
    owners, shape, shards = run_sharded(steps, partitions, rng)
    assert_same(run_alone(steps), owners)


def test_each_product_is_solved_once_per_step() -> None:
    """A chain that crosses shards back and forth: the last product waits for all its inputs and is solved once."""
    rng = random.Random(7)
    names = [f"n{k}" for k in range(30)]
    steps = [[leaf("root", 1.0)] + [recipe(n, 0.1, [("root" if k == 0 else names[k - 1], 0.9)] + ([("root", 0.01)] if k % 3 == 0 else []))
                                     for k, n in enumerate(names)], [leaf("root", 2.0)]]
    alone = run_alone(steps)
    owners, _, shards = run_sharded(steps, 4, rng)
    assert_same(alone, owners)
    assert sum(s.solved for s in shards.values()) == alone.stats.recipes_solved == 2 * len(names)
    assert {home_of(n, 4) for n in names} == {0, 1, 2, 3}  # the chain really crosses every shard


def test_a_router_that_plans_a_step_again_from_its_table_writes_the_same_plans() -> None:
    """What lets a restarted router re-send a step it may have half sent: same shape, same records, same bytes."""
    from pcfx.streams.shards import ShapeEntry  # noqa: PLC0415

    registry, first = Registry(), Shape(4)
    steps = random_steps(random.Random(3), 30, 3)
    for number, events in enumerate(steps[:-1], start=1):
        first.plan(number, [registry.incoming(e) for e in events])
    saved = {product: entry.to_bytes() for product, entry in first.entries.items()}
    again = Shape(4)
    for product, raw in saved.items():
        again.load(product, ShapeEntry.from_bytes(raw))
    last = [registry.incoming(e) for e in steps[-1]]
    plans, _ = first.plan(len(steps), last)
    replanned, _ = again.plan(len(steps), last)
    assert {p: plan_records(plan) for p, plan in plans.items()} == {p: plan_records(plan) for p, plan in replanned.items()}


def test_boundaries_and_handovers_cross_as_they_were_sent() -> None:
    from datetime import datetime, timezone  # noqa: PLC0415

    from pcfx.streams.derive import Published  # noqa: PLC0415
    from pcfx.streams.shards import Handover, boundaries_of, boundary_record  # noqa: PLC0415

    result = Leaf("steel", "steel@4", "kilogram", 1.0, 0.5, {EXCL: 0.1 + 0.2}, pds=12.5, dqr=(1.5, 2.0, 3.25),
                  ipcc=(6,), incomplete=True)
    cited = Published("pf-1", {EXCL: 0.30000000000000004}, 12.5, (1.5, 2.0, 3.25), (("ecoinvent", "3.9"),), ("AR6",), 2.0,
                      datetime(2027, 1, 1, tzinfo=timezone.utc))
    sent = [Boundary(4, "steel", result, cited, None, ("pf-ore",), 1_700_000_000_000), Boundary(4, "scrap", None, None, None)]
    assert boundaries_of(boundary_record(sent)) == sent  # floats exact: JSON writes repr
    handover = Handover(7, "steel", 2, {"leaf": None, "recipe": b"\x00\x01avro", "published": b"", "requested": None})
    assert Handover.from_bytes(handover.to_bytes()) == handover


def test_many_boundaries_are_cut_into_records_kafka_takes() -> None:
    from pcfx.streams.shards import boundaries_of, boundary_records  # noqa: PLC0415

    many = [Boundary(1, f"p{k}", Leaf(f"p{k}", f"p{k}@1", "kilogram", 1.0, None, {EXCL: float(k)}), None, None)
            for k in range(5000)]
    records = boundary_records(many, limit=50_000)
    assert len(records) > 1 and all(len(r) <= 50_000 for r in records)
    assert [b for r in records for b in boundaries_of(r)] == many


def test_a_large_plan_is_cut_into_parts_and_put_together_again() -> None:
    import pcfx.streams.shards as shards  # noqa: PLC0415

    plan = Plan(9, 1, sends={f"p{k:05d}": (0, 2) for k in range(40_000)}, expects={f"q{k:05d}": 3 for k in range(40_000)},
                gives={"a": 2}, takes={"b": 0})
    records = plan_records(plan)
    assert len(records) > 1 and all(len(r) < 1_000_000 for r in records)
    again = plan_of(list(reversed(records)))
    assert (again.sends, again.expects, again.gives, again.takes) == (plan.sends, plan.expects, plan.gives, plan.takes)
    assert shards.plan_part(records[0]).parts == len(records)


def test_a_plan_hands_its_updates_on_whole_with_a_recipes_content_and_time() -> None:
    recipe = Incoming("recipe:frame", b"frame bytes", 5, ("pcfx.graph-updates", 0, 7, 5), ("steel",), 1_700_000_000_123,
                      content=2**127 + 1)
    leaf = Incoming("leaf:steel", b"steel bytes", 6, ("pcfx.graph-updates", 0, 8, 6), content=99)
    again = plan_of(plan_records(Plan(3, 0, updates=[recipe, leaf]))).updates
    assert [(u.key, u.raw, u.published_ms, u.origin, u.content, u.updated) for u in again] == [
        ("recipe:frame", b"frame bytes", 5, ("pcfx.graph-updates", 0, 7, 5), 2**127 + 1, 1_700_000_000_123),
        ("leaf:steel", b"steel bytes", 6, ("pcfx.graph-updates", 0, 8, 6), 99, None)]


def test_a_recipes_content_digest_ignores_its_time_and_nothing_else() -> None:
    from datetime import datetime, timezone  # noqa: PLC0415

    from pcfx.schemas.models import ProductRecipe  # noqa: PLC0415
    from pcfx.schemas.samples import RECIPE  # noqa: PLC0415
    from pcfx.streams.codec import encode_model  # noqa: PLC0415
    from pcfx.streams.shards import content_of, stamp_of  # noqa: PLC0415

    def raw(**changes: object) -> bytes:
        return encode_model(ProductRecipe.from_json({**RECIPE, **changes}))

    assert content_of(raw(updated="2031-01-01T00:00:00Z")) == content_of(raw())  # the same files imported again
    lines = [{**line, "quantity": "4.6"} if n == 0 else line for n, line in enumerate(RECIPE["inputs"])]
    assert content_of(raw(inputs=lines)) != content_of(raw())
    assert content_of(raw(companyName="Other")) != content_of(raw())
    later = datetime(2031, 1, 1, 0, 0, 0, 250_000, tzinfo=timezone.utc)
    assert stamp_of(raw(updated="2031-01-01T00:00:00.250Z"))[1] == int(later.timestamp() * 1000)