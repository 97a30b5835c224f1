"""Shards: the recompute split over partitions, each strongly connected component of the supply graph on one.

The router (one process, on the single ``graph-updates`` partition) keeps the *shape* of the graph: which
products each recipe uses, never a number. From it, it knows each product's owner, the partition that
solves it, and for every step (one micro-batch of ``graph-updates``, bulk changes whole) it writes one
:class:`Plan` per partition concerned. A plan says what the shard must take in, and what it must tell the
others: the products whose results other shards use (``sends``) and those it must wait for (``expects``).
Shards then pass results to each other directly, as :class:`Boundary` records, so a change crosses to the
owners of downstream components, and only there. docs/engine.md ("Shards") has the picture and the proof
that each product is solved once per step and no shard waits forever.

Ownership: a component's owner is kept while its members stay together. When recipes merge components,
the merged one keeps the owner most of its members had; when one splits, each part keeps its owner. So the
only products that move are those of a minority joining a larger component, and each move is a
:class:`Handover` of the product's records from the old owner to the new one in the same step.

Pure: no Kafka, no Faust; the router and the shards hand in bytes and send the records returned here.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from pcfx.schemas.models import ProductRecipe
from pcfx.streams.codec import codec_for, read_long_at
from pcfx.streams.derive import Published
from pcfx.streams.graph import downstream
from pcfx.streams.keys import RECIPE, split_key
from pcfx.streams.rollup import Leaf

#: Most bytes of updates one plan record carries; a larger plan is cut into parts (Kafka's default record
#: limit is 1 MiB).
PART_BYTES = 700_000
PLAN, HANDOVER, BOUNDARY = "plan", "handover", "boundary"  # kinds of recompute-steps records (header pcfx-shard)


def home_of(product_id: str, partitions: int) -> int:
    """The partition of a product that is in no component with others: a stable hash of its id (crc32, the
    same in every process, unlike Python's ``hash``)."""
    return zlib.crc32(product_id.encode()) % partitions


# -- what the router reads of a graph-updates record ---------------------------------------------------------

def content_of(raw: bytes) -> int:
    """The digest of a recipe's bytes but its ``updated`` time: what tells a re-imported recipe from the one in
    force (an import stamps every recipe with its own time, and the same files imported again change nothing).
    See :func:`stamp_of`."""
    return stamp_of(raw)[0]


def stamp_of(raw: bytes) -> tuple[int, int]:
    """A recipe's content digest (:func:`content_of`) and its ``updated`` time in ms, read from its Avro
    bytes without decoding them (:meth:`~pcfx.streams.codec.Codec.field_span`); raises ``DecodeError`` for
    bytes that are no recipe.

    The digest is 128 bits of BLAKE2b: ``validate_recipes`` accepts a recipe whose digest it has accepted
    before without validating it again (:class:`~pcfx.streams.intake.AcceptedRecipes`), so finding two
    contents with one digest must be out of reach, not merely unlikely."""
    stamp = stamp_at(raw, updated_start(raw))
    return stamp.content, stamp.updated_ms


@dataclass(frozen=True)
class Stamp:
    """:func:`stamp_of`'s two figures, where ``updated`` starts in the bytes, and the digest of the bytes before
    it (what tells that another record reads the same up to there)."""

    content: int
    updated_ms: int
    start: int
    before: bytes


def updated_start(raw: bytes) -> int:
    """Where a recipe's ``updated`` starts in its bytes: found by skipping every field before it, input lines
    included (:meth:`~pcfx.streams.codec.Codec.field_span`)."""
    return codec_for(ProductRecipe.avro_name).field_span(raw, "updated")[0]


def stamp_at(raw: bytes, start: int) -> Stamp:
    """The stamp of a recipe whose ``updated`` starts at ``start``; only the caller knows that it does
    (:func:`updated_start`, or a record whose bytes up to there are those of one where it did: reading a record
    is the same up to any byte for the same bytes before)."""
    updated_ms, end = read_long_at(raw, start)
    view = memoryview(raw)
    content = hashlib.blake2b(view[:start], digest_size=16)  # 128 bits, as stamp_of says; one pass over the lines
    before = content.digest()
    content.update(view[end:])
    return Stamp(int.from_bytes(content.digest(), "big"), updated_ms, start, before)


def updated_of(raw: bytes) -> int:
    """A recipe's ``updated`` time in ms, read as :func:`stamp_of` reads it, without the digest."""
    return read_long_at(raw, updated_start(raw))[0]


@dataclass(frozen=True)
class Incoming:
    """One ``graph-updates`` record as the router sees it: its key, its bytes, and for a recipe the products
    it uses and its ``updated`` time (the later recipe wins, as in the engine step)."""

    key: str
    raw: bytes
    published_ms: int
    origin: tuple[str, int, int, int]  # topic, partition, offset, timestamp: to dead-letter it downstream
    inputs: tuple[str, ...] | None = None  # a recipe's input product ids
    updated: int | None = None  # a recipe's updated time, ms
    replay: bool = False  # sent again by an expiry timer: route it even though its bytes are in force
    content: int | None = None  # digest of what counts in it (None: all its bytes), see :attr:`digest`

    @property
    def kind(self) -> str:
        return split_key(self.key)[0]

    @property
    def product_id(self) -> str:
        return split_key(self.key)[1]

    @property
    def digest(self) -> int:
        """What tells this record from the one in force: crc32 of its bytes, or for a recipe its
        :func:`content_of`."""
        return zlib.crc32(self.raw) if self.content is None else self.content


@dataclass
class Plan:
    """One step of one shard: the updates of its products, products moving in or out, and the boundary
    results it sends or waits for."""

    step: int
    partition: int
    updates: list[Incoming] = field(default_factory=list)
    gives: dict[str, int] = field(default_factory=dict)  # own product -> its new partition
    takes: dict[str, int] = field(default_factory=dict)  # product moving in -> the partition it comes from
    sends: dict[str, tuple[int, ...]] = field(default_factory=dict)  # own product -> shards that use it
    expects: dict[str, int] = field(default_factory=dict)  # product of another shard -> its partition

    def pending(self, received: Iterable[str]) -> set[str]:
        """What the shard still waits for, given the products whose boundary of this step it has."""
        return set(self.expects) - set(received)


@dataclass(frozen=True)
class ShapeEntry:
    """What the router keeps per product (table ``product_to_shape``)."""

    inputs: tuple[str, ...] | None = None  # the recipe in force's input products; None: no recipe
    updated: int | None = None
    owner: int | None = None  # set for recipe products; others live at home_of
    digests: tuple[tuple[str, int], ...] = ()  # (kind, digest of the record in force: Incoming.digest)

    def to_bytes(self) -> bytes:
        return json.dumps({"inputs": self.inputs, "updated": self.updated, "owner": self.owner,
                           "digests": self.digests}, separators=(",", ":")).encode()

    @staticmethod
    def from_bytes(raw: bytes) -> ShapeEntry:
        data = json.loads(raw)
        inputs = data.get("inputs")
        return ShapeEntry(None if inputs is None else tuple(inputs), data.get("updated"), data.get("owner"),
                          tuple((k, d) for k, d in data.get("digests", ())))


class Shape:
    """The router's graph: products, who uses whom, components and owners; see the module docstring."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.entries: dict[str, ShapeEntry] = {}
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._consumers = sp.csr_matrix((0, 0))
        self._labels = np.zeros(0, dtype=np.int64)
        self._mark = np.zeros(0, dtype=bool)
        self._stale = True

    def load(self, product_id: str, entry: ShapeEntry) -> None:
        self.entries[product_id] = entry
        self._stale = True

    def in_force(self, kind: str, product_id: str, digest: int) -> bool:
        """Whether the record of ``kind`` in force for the product has this digest (a re-import of it)."""
        entry = self.entries.get(product_id)
        return entry is not None and dict(entry.digests).get(kind) == digest

    def owner(self, product_id: str) -> int:
        entry = self.entries.get(product_id)
        if entry is not None and entry.owner is not None:
            return entry.owner
        return home_of(product_id, self.partitions)

    # -- a step --------------------------------------------------------------------------------------

    def plan(self, step: int, incoming: Sequence[Incoming]) -> tuple[dict[int, Plan], dict[str, ShapeEntry]]:
        """The plans of one step, by partition, and the entries it changes (to write once they are sent).
        A record identical to the one in force (same bytes) and an older recipe change nothing, so they are
        not routed: re-importing the same files makes no step at all."""
        changed: dict[str, ShapeEntry] = {}
        routed: list[Incoming] = []
        rewired: set[str] = set()
        for item in incoming:
            product = item.product_id
            entry = changed.get(product) or self.entries.get(product) or ShapeEntry()
            digests = dict(entry.digests)
            if digests.get(item.kind) == item.digest and not item.replay:
                continue
            if item.kind == RECIPE:
                if entry.updated is not None and item.updated is not None and item.updated < entry.updated:
                    continue
                if entry.inputs is None or set(entry.inputs) != set(item.inputs or ()):
                    rewired.add(product)
                entry = ShapeEntry(tuple(sorted(set(item.inputs or ()))), item.updated, entry.owner, entry.digests)
            digests[item.kind] = item.digest
            changed[product] = ShapeEntry(entry.inputs, entry.updated, entry.owner, tuple(sorted(digests.items())))
            routed.append(item)
        if not routed:
            return {}, {}
        before = {product: self.owner(product) for product in changed}
        held = {product for product in changed if product in self.entries and self.entries[product].digests}
        self.entries.update(changed)
        moves: dict[str, tuple[int, int]] = {}
        if rewired or self._stale:
            moves = self._assign_owners(before, held)
            changed.update({product: self.entries[product] for product in moves})
        plans: dict[int, Plan] = {}

        def plan_of(partition: int) -> Plan:
            return plans.setdefault(partition, Plan(step, partition))

        for item in routed:
            plan_of(self.owner(item.product_id)).updates.append(item)
        for product, (old, new) in sorted(moves.items()):
            plan_of(old).gives[product] = new
            plan_of(new).takes[product] = old
        seeds = sorted({item.product_id for item in routed} | set(moves))
        sends: dict[str, set[int]] = {}
        for product in self._cone(seeds):
            owner = self.owner(product)
            for user in self._users(product):
                if self.owner(user) != owner:
                    sends.setdefault(product, set()).add(self.owner(user))
        fresh = sorted(rewired | set(moves))  # recipes that use inputs their shard may never have been sent
        for product in fresh:
            owner = self.owner(product)
            for used in self.entries[product].inputs or ():
                if self.owner(used) != owner:
                    sends.setdefault(used, set()).add(owner)
        for product, targets in sorted(sends.items()):
            source = self.owner(product)
            plan_of(source).sends[product] = tuple(sorted(targets))
            for target in sorted(targets):
                plan_of(target).expects[product] = source
        return dict(sorted(plans.items())), changed

    # -- the graph -----------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Index every product and build who-uses-whom (a row per product, its users) and the components."""
        products = set(self.entries)
        for entry in self.entries.values():
            products.update(entry.inputs or ())
        self._ids = sorted(products)
        self._index = {product: n for n, product in enumerate(self._ids)}
        users, used = [], []
        for product, entry in self.entries.items():
            for source in entry.inputs or ():
                users.append(self._index[product])
                used.append(self._index[source])
        n = len(self._ids)
        ones = np.ones(len(users), dtype=np.int8)
        self._consumers = sp.csr_matrix((ones, (np.array(used, dtype=np.int64), np.array(users, dtype=np.int64))), shape=(n, n))
        _, self._labels = connected_components(self._consumers, directed=True, connection="strong")
        self._mark = np.zeros(n, dtype=bool)
        self._stale = False

    def _assign_owners(self, before: Mapping[str, int], held: set[str]) -> dict[str, tuple[int, int]]:
        """Rebuild, then give each component with a recipe its owner; return the products that move,
        ``product -> (old partition, new partition)``: those whose old owner held records of them (``before``
        and ``held`` say that of the products this step changed; any other product's records are where its
        entry says)."""
        self._rebuild()
        members: dict[int, list[str]] = {}
        for product, entry in self.entries.items():
            if entry.inputs is not None:
                members.setdefault(int(self._labels[self._index[product]]), []).append(product)
        moves: dict[str, tuple[int, int]] = {}
        for label in sorted(members):
            group = sorted(members[label])
            had = Counter(self.entries[p].owner for p in group if self.entries[p].owner is not None)
            if had:
                owner = min(had, key=lambda partition: (-had[partition], partition))
            else:
                owner = home_of(group[0], self.partitions)
            for product in group:
                entry = self.entries[product]
                old = before.get(product, entry.owner if entry.owner is not None else home_of(product, self.partitions))
                if entry.owner != owner:
                    self.entries[product] = ShapeEntry(entry.inputs, entry.updated, owner, entry.digests)
                had_records = product in held if product in before else bool(entry.digests)
                if old != owner and had_records:
                    moves[product] = (old, owner)
        return moves

    def _users(self, product: str) -> list[str]:
        n = self._index.get(product)
        if n is None:
            return []
        row = self._consumers.indices[self._consumers.indptr[n] : self._consumers.indptr[n + 1]]
        return [self._ids[user] for user in row]

    def _cone(self, seeds: Sequence[str]) -> list[str]:
        """The seeds and every product that uses them, directly or not."""
        if self._stale:
            self._rebuild()
        known = np.array([self._index[s] for s in seeds if s in self._index], dtype=np.int64)
        # graph.downstream reads indptr/indices as each product's users: a CSR with a row per product is that
        found = downstream(self._consumers, known, self._mark, len(self._ids)) if known.size else known
        return sorted({self._ids[n] for n in found} | {s for s in seeds if s not in self._index})


# -- records between the router and the shards, and between shards -----------------------------------------

def _frame(meta: dict, blobs: Sequence[bytes]) -> bytes:
    meta = {**meta, "sizes": [len(b) for b in blobs]}
    return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + b"".join(blobs)


def _unframe(raw: bytes) -> tuple[dict, list[bytes]]:
    line, _, rest = raw.partition(b"\n")
    meta = json.loads(line)
    blobs, at = [], 0
    for size in meta.pop("sizes"):
        blobs.append(rest[at : at + size])
        at += size
    return meta, blobs


def plan_records(plan: Plan) -> list[bytes]:
    """A plan as one or more records (parts) of about :data:`PART_BYTES` at most: its updates and the entries
    of its lists spread over them in order (a shock of a large graph lists tens of thousands of products)."""
    parts: list[dict] = []
    size = PART_BYTES

    def part_for(weight: int) -> dict:
        nonlocal size
        if not parts or size + weight > PART_BYTES:
            parts.append({"updates": [], "gives": {}, "takes": {}, "sends": {}, "expects": {}})
            size = 0
        size += weight
        return parts[-1]

    for item in plan.updates:
        part_for(len(item.raw) + len(item.key) + 64)["updates"].append(item)
    for name in ("gives", "takes", "sends", "expects"):
        for product, value in getattr(plan, name).items():
            part_for(len(product) + 32)[name][product] = value
    if not parts:
        part_for(0)
    records = []
    for number, part in enumerate(parts):
        meta: dict = {"step": plan.step, "partition": plan.partition, "part": number, "parts": len(parts),
                      "updates": [[u.key, u.published_ms, list(u.origin), u.content, u.updated] for u in part["updates"]],
                      **{name: part[name] for name in ("gives", "takes", "sends", "expects")}}
        records.append(_frame(meta, [u.raw for u in part["updates"]]))
    return records


def _incoming(entry: list, raw: bytes) -> Incoming:
    """An update of a plan part: key, publish time, origin, content digest and ``updated`` (the last two let a
    shard take a recipe its process validated without decoding it; plans written before them lack them)."""
    key, published, origin, content, updated = (*entry, None, None)[:5]
    return Incoming(key, raw, published, tuple(origin), updated=updated, content=content)


@dataclass(frozen=True)
class PlanPart:
    step: int
    part: int
    parts: int
    raw: bytes


def plan_part(raw: bytes) -> PlanPart:
    meta, _ = _unframe(raw)
    return PlanPart(meta["step"], meta["part"], meta["parts"], raw)


def plan_of(parts: Sequence[bytes]) -> Plan:
    """The plan its parts make (every part present, in any order)."""
    plan: Plan | None = None
    updates: dict[int, list[Incoming]] = {}
    for raw in sorted(parts, key=lambda r: plan_part(r).part):
        meta, blobs = _unframe(raw)
        if plan is None:
            plan = Plan(meta["step"], meta["partition"])
        plan.gives.update({k: int(v) for k, v in meta["gives"].items()})
        plan.takes.update({k: int(v) for k, v in meta["takes"].items()})
        plan.sends.update({k: tuple(v) for k, v in meta["sends"].items()})
        plan.expects.update({k: int(v) for k, v in meta["expects"].items()})
        updates[meta["part"]] = [_incoming(entry, blob) for entry, blob in zip(meta["updates"], blobs)]
    assert plan is not None
    plan.updates = [u for part in sorted(updates) for u in updates[part]]
    return plan


@dataclass(frozen=True)
class Boundary:
    """A product as another shard's users need it after a step: its result as a leaf (None: it has no
    footprint, its users count it missing), the footprint its users' recipe lines cite, its supplier
    footprint in force (to say an input expired), and what changed upstream of it (for the users' comments
    and latency figures)."""

    step: int
    product_id: str
    leaf: Leaf | None
    footprint: Published | None  # its Active derived footprint, else its supplier footprint
    supplier: Published | None  # its supplier footprint in force, if any
    drivers: tuple[str, ...] = ()
    published_ms: int | None = None

    @property
    def token(self) -> str:
        """The pf id the users' engine knows this result by: one per product and step."""
        return f"{self.product_id}@{self.step}"


def boundary_record(boundaries: Sequence[Boundary]) -> bytes:
    return json.dumps([_boundary_json(b) for b in boundaries], separators=(",", ":")).encode()


def boundary_records(boundaries: Sequence[Boundary], limit: int = PART_BYTES) -> list[bytes]:
    """The boundaries as records of at most about ``limit`` bytes each (a round of a large step may send
    thousands to one shard; Kafka takes 1 MiB per record by default)."""
    records, part, size = [], [], 2
    for boundary in boundaries:
        text = json.dumps(_boundary_json(boundary), separators=(",", ":"))
        if part and size + len(text) + 1 > limit:
            records.append(("[" + ",".join(part) + "]").encode())
            part, size = [], 2
        part.append(text)
        size += len(text) + 1
    if part:
        records.append(("[" + ",".join(part) + "]").encode())
    return records


def boundaries_of(raw: bytes) -> list[Boundary]:
    return [_boundary_from(item) for item in json.loads(raw)]


def _boundary_json(b: Boundary) -> dict:
    leaf = None if b.leaf is None else {
        "unit": b.leaf.declared_unit, "amount": b.leaf.declared_amount, "mass": b.leaf.mass_per_unit,
        "values": dict(b.leaf.values), "pds": b.leaf.pds, "dqr": b.leaf.dqr, "ipcc": b.leaf.ipcc,
        "incomplete": b.leaf.incomplete, "error": b.leaf.error,
    }
    return {"step": b.step, "product": b.product_id, "leaf": leaf, "footprint": published_json(b.footprint),
            "supplier": published_json(b.supplier), "drivers": list(b.drivers), "published": b.published_ms}


def _boundary_from(item: dict) -> Boundary:
    step, product, leaf = item["step"], item["product"], item["leaf"]
    made = None if leaf is None else Leaf(
        product_id=product, pf_id=f"{product}@{step}", declared_unit=leaf["unit"], declared_amount=leaf["amount"],
        mass_per_unit=leaf["mass"], values=leaf["values"], pds=leaf["pds"],
        dqr=None if leaf["dqr"] is None else tuple(leaf["dqr"]), ipcc=tuple(leaf["ipcc"]),
        incomplete=leaf["incomplete"], error=leaf["error"],
    )
    return Boundary(step, product, made, published_from(item["footprint"]), published_from(item["supplier"]),
                    tuple(item["drivers"]), item["published"])


def published_json(p: Published | None) -> dict | None:
    if p is None:
        return None
    return {"pf_id": p.pf_id, "figures": p.figures, "pds": p.pds, "dqr": p.dqr, "sources": p.sources, "ipcc": p.ipcc,
            "exempted": p.exempted, "valid_until": None if p.valid_until is None else p.valid_until.isoformat()}


def published_from(data: dict | None) -> Published | None:
    if data is None:
        return None
    until = data["valid_until"]
    return Published(
        pf_id=data["pf_id"], figures=dict(data["figures"]), pds=data["pds"],
        dqr=None if data["dqr"] is None else tuple(data["dqr"]),
        sources=tuple(tuple(s) for s in data["sources"]), ipcc=tuple(data["ipcc"]), exempted=data["exempted"],
        valid_until=None if until is None else datetime.fromisoformat(until),
    )


@dataclass(frozen=True)
class Handover:
    """A product moving between shards: the records the old owner held for it (table values, None where it
    held nothing), sent in the step that moves it."""

    step: int
    product_id: str
    source: int
    records: dict[str, bytes | None]  # "leaf", "recipe", "published", "requested" -> table value

    def to_bytes(self) -> bytes:
        names = sorted(self.records)
        meta = {"step": self.step, "product": self.product_id, "source": self.source, "names": names,
                "absent": [n for n in names if self.records[n] is None]}
        return _frame(meta, [self.records[n] or b"" for n in names])

    @staticmethod
    def from_bytes(raw: bytes) -> Handover:
        meta, blobs = _unframe(raw)
        records = {name: (None if name in meta["absent"] else blob) for name, blob in zip(meta["names"], blobs)}
        return Handover(meta["step"], meta["product"], meta["source"], records)


@dataclass
class StepProgress:
    """Where a shard is in one step: what arrived of what its plan expects, and what it has sent."""

    plan: Plan
    received: set[str] = field(default_factory=set)  # expected products whose boundary of this step arrived
    taken: set[str] = field(default_factory=set)  # products moving in whose handover arrived
    sent: set[str] = field(default_factory=set)  # own products whose boundary went out
    started: bool = False  # the plan's updates, gives and takes are in the engine

    def waiting(self) -> set[str]:
        """Products of other shards whose result of this step has not arrived: what they feed must wait."""
        return set(self.plan.expects) - self.received

    def missing_handovers(self) -> set[str]:
        return set(self.plan.takes) - self.taken

    def to_send(self, held: set[str]) -> list[str]:
        """Own products other shards wait for that are final for this step: not sent yet and not downstream
        of anything still on its way (``held``)."""
        return [p for p in sorted(self.plan.sends) if p not in self.sent and p not in held]

    def done(self, deferred: int) -> bool:
        return (self.started and not self.waiting() and not self.missing_handovers() and deferred == 0
                and self.sent >= set(self.plan.sends))
