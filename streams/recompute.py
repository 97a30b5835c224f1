"""The recompute step, bytewax style: ``(state, micro-batch) -> outputs``, with no I/O of its own.

The agent owns the tables and Kafka; it hands this step the decoded ``graph-updates`` of one micro-batch
and a read-only view of its tables, then writes the table changes and sends the records returned here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import FootprintRequest, ProductFootprint, ProductRecipe
from pcfx.schemas.status import ProductStatus
from pcfx.schemas.validity import VALIDITY_YEARS, add_years
from pcfx.streams.derive import (
    DEFAULT_API_BASE,
    Deprecation,
    DirectInput,
    Published,
    RecipeCard,
    _dqi_json,
    _pds_text,
    card_of,
    derived_footprint,
    derived_validity,
    inputs_schema_url,
    is_expired,
    leaf_of,
    not_published_reason,
    pact_unit_of,
    product_urn,
    published_of,
    recipe_of,
    same_figures,
    secondary_sources,
    status_of,
    valid_until,
    value_text,
)
from pcfx.streams.engine import Engine
from pcfx.streams.labels import Offer
from pcfx.streams.keys import LEAF, RECIPE, key_of, split_key
from pcfx.streams.rollup import Derived, Event, Leaf, Recipe, RemoveLeaf, RemoveRecipe, UpsertLeaf, UpsertRecipe
from pcfx.streams.shards import Boundary

REQUESTER = "pcfx-engine"  # requester_client_id of the engine's own requests for missing inputs
REQUEST_NAMESPACE = uuid.UUID("0b8f5a7e-3c1d-4e2f-8a6b-9d4c2e1f7a35")
EXPIRED_KEY = "expired:"  # requests table key prefix of the request for a fresh footprint, by the expired pf id

Model = ProductFootprint | ProductRecipe
Summary = RecipeCard | Published  # what a recompute reads of an input: a recipe's card, a supplier footprint's summary


@dataclass(frozen=True)
class Update:
    """One ``graph-updates`` message: ``key`` is ``leaf:<product id>`` or ``recipe:<product id>``."""

    key: str
    model: Model
    published_ms: int  # the supplier's publish time, ms since the epoch
    raw: bytes | None = None  # the record's Avro bytes: the step writes them to the table as they came
    item: Leaf | Recipe | None = None  # the engine's form of ``model``, if the caller made it already

    @property
    def kind(self) -> str:
        return split_key(self.key)[0]

    @property
    def product_id(self) -> str:
        return split_key(self.key)[1]


def summary_of(model: Model) -> Summary:
    return card_of(model) if isinstance(model, ProductRecipe) else published_of(model)


class InputSummaries:
    """The summary of each record of the inputs table (:func:`summary_of`), made once per record in force,
    so that a recompute decodes no recipe and no supplier footprint. ``input`` reads the table; after each
    batch, :meth:`written` takes the summaries of what the batch wrote (the step made them: reading the
    records back from the table would decode every recipe of a dense block again on its next change)."""

    def __init__(self, input: Callable[[str], Model | None]) -> None:
        self._input = input
        self._made: dict[str, Summary | None] = {}

    def get(self, key: str) -> Summary | None:
        """The summary of ``input(key)``, None if the table holds nothing there."""
        if key not in self._made:
            model = self._input(key)
            self._made[key] = None if model is None else summary_of(model)
        return self._made[key]

    def written(self, summaries: Mapping[str, Summary | None]) -> None:
        """The summaries of what a batch wrote to the table under each key (None: deleted)."""
        self._made.update(summaries)

    def forget(self, keys: Iterable[str]) -> None:
        """Keys no longer read here (their product moved to another shard)."""
        for key in keys:
            self._made.pop(key, None)


@dataclass(frozen=True)
class TableView:
    """Read access to the agent's tables (current values, before this batch)."""

    input: Callable[[str], Model | None]  # "leaf:<id>" / "recipe:<id>" -> the record in force
    summary: Callable[[str], Summary | None]  # the same keys -> its summary (InputSummaries.get)
    published: Callable[[str], Published | None]  # product id -> what its Active derived footprint says
    requested: Callable[[str], bool]  # product id -> a request for it was already sent
    #: Where the PACT host serves the direct-inputs extension's schema (the extension's ``dataSchema``).
    inputs_schema_url: str = inputs_schema_url(DEFAULT_API_BASE)


@dataclass
class StepOutput:
    """What one micro-batch changes: table writes (None deletes) and records to send, in order."""

    inputs: dict[str, Model | None] = field(default_factory=dict)
    #: The same inputs as the view gives them (:func:`summary_of`), made once when the step writes them:
    #: the step reads them and the agent keeps them for the next step (:meth:`InputSummaries.written`).
    input_summaries: dict[str, Summary | None] = field(default_factory=dict)
    input_bytes: dict[str, bytes] = field(default_factory=dict)  # inputs whose Avro bytes came with their update
    published: dict[str, ProductFootprint] = field(default_factory=dict)
    summaries: dict[str, Published] = field(default_factory=dict)  # the same footprints, as the view gives them
    requested: dict[str, FootprintRequest] = field(default_factory=dict)
    footprints: list[ProductFootprint | Deprecation] = field(default_factory=list)  # new Active, then the one it replaces
    statuses: list[ProductStatus] = field(default_factory=list)
    upstream_ms: dict[str, int] = field(default_factory=dict)  # new Active footprint id -> the supplier publish behind it
    #: Products whose Active footprint is deprecated without a successor: their declared unit lost its PACT
    #: equivalent. The agent deletes their entry of the published table.
    withdrawn: list[str] = field(default_factory=list)
    #: Label offers of products without a PACT footprint (their unit has no PACT equivalent), by product id:
    #: their labels come from the result itself (docs/units.md).
    offers: dict[str, Offer] = field(default_factory=dict)
    #: The footprint each input product stands for in this step (:func:`_footprint_of`), found once per product:
    #: a dense block asks it for every line of every recipe it publishes. Kept true as the step publishes.
    in_use: dict[str, Published | None] = field(default_factory=dict)
    #: The validity bound of each cycle of recipes settled in this step (:func:`_cycle_bound`).
    cycle_bounds: dict[tuple[str, ...], list[Published | None]] = field(default_factory=dict)
    #: Per product settled: the supplier footprints whose change it reflects, and the latest publish time among
    #: them (what a shard tells the shards that use the product, :class:`~pcfx.streams.shards.Boundary`).
    drivers: dict[str, frozenset[str]] = field(default_factory=dict)
    upstream_of: dict[str, int] = field(default_factory=dict)


def fold_updates(updates: Sequence[Update], view: TableView, out: StepOutput, now: datetime | None = None) -> list[Event]:
    """Engine events for a batch; stale or irrelevant records change nothing (PACT v3 §7 lifecycle).

    With ``now``, a supplier footprint past its validity end leaves the engine (:func:`_unless_expired`)."""
    events: list[Event] = []
    for update in updates:
        current = out.inputs[update.key] if update.key in out.inputs else view.input(update.key)
        if update.kind == LEAF:
            event = _leaf_event(update, current)
        else:
            event = _recipe_event(update, current)
        if event is None:
            continue
        written = None if isinstance(event, RemoveLeaf) else update.model
        out.inputs[update.key] = written
        out.input_summaries[update.key] = None if written is None else summary_of(written)
        if written is not None and update.raw is not None:
            out.input_bytes[update.key] = update.raw
        else:
            out.input_bytes.pop(update.key, None)
        events.append(event if now is None else _unless_expired(event, update, now))
    return events


def _unless_expired(event: Event, update: Update, now: datetime) -> Event:
    """An expired supplier footprint ("not valid for use anymore", PACT v3 validity period) is withdrawn from
    the engine but stays the record in force, so that its users say why they are incomplete and a newer
    footprint replaces it as usual. The worker's expiry timer replays the record when its time comes."""
    if isinstance(event, UpsertLeaf) and valid_until(update.model) <= now:  # type: ignore[arg-type]
        return RemoveLeaf(update.product_id)
    return event


def _leaf_event(update: Update, current: Model | None) -> Event | None:
    footprint = update.model
    assert isinstance(footprint, ProductFootprint)
    if footprint.status == "Deprecated":
        # Only the deprecation of the footprint in force withdraws it; an old one's is history.
        return RemoveLeaf(update.product_id) if current is not None and current.id == footprint.id else None
    if isinstance(current, ProductFootprint) and footprint.created < current.created:
        return None  # an older version arriving late
    return UpsertLeaf(update.item if isinstance(update.item, Leaf) else leaf_of(footprint, update.product_id))


def _recipe_event(update: Update, current: Model | None) -> Event | None:
    recipe = update.model
    assert isinstance(recipe, ProductRecipe)
    if isinstance(current, ProductRecipe) and recipe.updated < current.updated:
        return None
    return UpsertRecipe(update.item if isinstance(update.item, Recipe) else recipe_of(recipe, update.product_id))


def recompute(
    engine: Engine,
    updates: Sequence[Update],
    view: TableView,
    now: datetime,
    expire: bool = True,
    *,
    outside: Sequence[Boundary] = (),
    earlier: Iterable[Boundary] = (),
    wait: Iterable[str] = (),
    leaving: Iterable[str] = (),
    arriving: Iterable[str] = (),
) -> StepOutput:
    """Fold ``updates`` into ``engine`` and return what must be written and published; ``expire`` withdraws
    supplier footprints past their validity end (a restore leaves that to the expiry timer's replay).

    On a shard (docs/engine.md, "Shards"): ``outside`` are results of other shards' products this one uses,
    ``wait`` the products of other shards whose result of this step has not arrived (what they feed is solved
    later), ``earlier`` this step's results of other shards applied in earlier rounds (the engine carries a
    deferred product's changed leaves from round to round, so their tokens can still be among the drivers of
    what is solved now: each is told by the supplier footprints behind it, as ``outside``'s are, or drivers
    would pile up raw tokens round after round and travel on in every boundary), and ``leaving`` the products
    that move to another shard: the engine drops them, nothing is
    published or deprecated for them here (their footprints go with them); ``arriving`` the products that move
    here, whose result this shard held as another shard's until now (their records come among ``updates``)."""
    out = StepOutput()
    leaving = set(leaving)
    events: list[Event] = [RemoveLeaf(p) for p in sorted(leaving | set(arriving))]
    events += [RemoveRecipe(p) for p in sorted(leaving)]
    events += fold_updates(updates, view, out, now if expire else None)
    events += [UpsertLeaf(b.leaf) if b.leaf is not None else RemoveLeaf(b.product_id) for b in outside]
    results = engine.apply(events, wait=wait)
    publish_ms = _publish_times(updates)
    tokens = {b.token: b for b in (*earlier, *outside)}
    expanded: dict[frozenset[str], frozenset[str]] = {}
    latest: dict[frozenset[str], int | None] = {}  # per drivers' set: their latest publish time
    for b in tokens.values():
        if b.published_ms is not None:
            publish_ms[b.token] = b.published_ms
    batch_ms = max((u.published_ms for u in updates if u.published_ms > 0), default=None)  # 0: not known
    for update in updates:  # a supplier footprint's own publish time, for the shards that use its product
        if update.published_ms > 0:
            out.upstream_of[update.product_id] = update.published_ms
    for derived in results:  # upstream products first, so a recipe line cites its input's new footprint
        if derived.product_id in leaving:
            continue
        # past EXACT_DRIVERS every result of the batch shares one set of all its changed leaves (a rebuilt shard:
        # every other shard's product it uses), so each set is read once, not once per result
        if derived.drivers not in latest:
            latest[derived.drivers] = max((publish_ms[d] for d in derived.drivers if d in publish_ms), default=batch_ms)
        upstream = latest[derived.drivers]
        if tokens:  # results share their drivers' set when a batch has many (the engine's EXACT_DRIVERS): once each
            through = expanded.get(derived.drivers)
            if through is None:
                through = expanded[derived.drivers] = _through(derived.drivers, tokens)
            derived = replace(derived, drivers=through)
        out.drivers[derived.product_id] = derived.drivers
        if upstream is not None:
            out.upstream_of[derived.product_id] = upstream
        _settle(derived, view, out, upstream, now, engine.cycle_of(derived.product_id))
    return out


def _through(drivers: frozenset[str], tokens: Mapping[str, Boundary]) -> frozenset[str]:
    """Drivers with each other shard's result replaced by the supplier footprints behind it."""
    found: set[str] = set()
    for driver in drivers:
        boundary = tokens.get(driver)
        found.update(boundary.drivers if boundary is not None else (driver,))
    return frozenset(found)


def restore(
    engine: Engine, inputs: Sequence[Update], view: TableView, now: datetime, *, outside: Sequence[Boundary] = (),
    wait: Iterable[str] = (),
) -> StepOutput:
    """Rebuild a new ``engine`` from the inputs table and settle it against the published table.

    The agent sends a step's records before it writes the step's table entries, so a crash between the
    two leaves footprints that were published but not recorded: those come out again here, under the
    same ids (:func:`pcfx.streams.derive.derived_id`). Everything else was both sent and recorded, so it
    emits nothing: the inputs are not written back and only republished products get a status.

    ``inputs`` are what the table holds, so the step takes them as its view of the table too: each record is
    decoded once, not again for the comparison with the one in force. Their summaries stay in the output for
    the agent's :class:`InputSummaries`, so the first step after a restart or a rebalance decodes none of them
    a third time.
    """
    given = {update.key: update.model for update in inputs}
    table = view.input
    view = replace(view, input=lambda key: given[key] if key in given else table(key))
    out = recompute(engine, inputs, view, now, expire=False, outside=outside, wait=wait)  # expiries come as replays
    out.inputs.clear()
    out.statuses = [status for status in out.statuses if status.product_id in out.published]
    out.upstream_ms.clear()  # the table keeps no publish times; latency metrics skip a restore
    out.offers.clear()  # sent with their batch, whose inputs the table holds only once it was sent
    return out


def _publish_times(updates: Sequence[Update]) -> dict[str, int]:
    return {u.model.id: u.published_ms for u in updates if isinstance(u.model, ProductFootprint)}


def _settle(
    derived: Derived,
    view: TableView,
    out: StepOutput,
    upstream_ms: int | None,
    now: datetime,
    cycle: tuple[str, ...] = (),
) -> None:
    product_id = derived.product_id
    previous = _published(product_id, view, out)
    pf_id = previous.pf_id if previous is not None else None
    if derived.removed:
        if previous is not None:
            out.footprints.append(Deprecation(product_id, previous.pf_id))
        pf_id = None
    elif derived.error is None and derived.complete:
        if previous is None or not same_figures(previous, derived) or _validity_moved(derived, previous, view, out, now, cycle):
            pf_id, derived = _publish(derived, previous, view, out, upstream_ms, now, cycle)
    else:
        derived = _note_expired(derived, view, out, now)
        _request_missing(derived, view, out, now)
    status = status_of(product_id, derived, pf_id, upstream_ms, now)
    out.statuses.append(status)


def _publish(
    derived: Derived,
    previous: Published | None,
    view: TableView,
    out: StepOutput,
    upstream_ms: int | None,
    now: datetime,
    cycle: tuple[str, ...] = (),
) -> tuple[str | None, Derived]:
    """Publish the new footprint; a result that breaks the contract comes back as an error instead."""
    recipe = summary_in(RECIPE, derived.product_id, view, out)
    assert isinstance(recipe, RecipeCard)
    if pact_unit_of(recipe) is None:  # totals and status only: PACT has no unit to state them in
        if previous is not None:  # re-declared from a PACT unit: its footprint in force is no longer true
            out.footprints.append(Deprecation(derived.product_id, previous.pf_id))
            out.withdrawn.append(derived.product_id)
            out.in_use.pop(derived.product_id, None)
        out.offers[derived.product_id] = result_offer(recipe, derived, now, upstream_ms)
        return None, replace(derived, reasons=(*derived.reasons, not_published_reason(recipe)))
    used = [_footprint_of(product, view, out) for product, _, _ in recipe.lines]
    inputs = [DirectInput(pf.pf_id if pf else None, quantity, unit) for pf, (_, quantity, unit) in zip(used, recipe.lines)]
    sources = secondary_sources(pf for pf in used if pf is not None)
    try:
        footprint = derived_footprint(
            recipe, derived.product_id, derived, previous, inputs, derived.drivers, now, sources, view.inputs_schema_url,
            derived_validity(recipe, _bounding(recipe, derived.product_id, cycle, view, out), now))
    except ContractError as error:
        return None, replace(derived, error=f"result breaks the PACT contract, not published: {error}")
    out.published[derived.product_id] = footprint
    out.summaries[derived.product_id] = out.in_use[derived.product_id] = published_of(footprint)
    out.footprints.append(footprint)
    if previous is not None:
        out.footprints.append(Deprecation(derived.product_id, previous.pf_id))
    if upstream_ms is not None:
        out.upstream_ms[footprint.id] = upstream_ms
    return footprint.id, derived


#: Namespace of result ids: the ``pfId`` of a label made from a result that has no PACT footprint.
RESULT_ID_NAMESPACE = uuid.UUID("3f7c9e21-6a4b-4c8d-9e0f-1a2b3c4d5e6f")


def result_offer(recipe: RecipeCard, derived: Derived, now: datetime, upstream_ms: int | None) -> Offer:
    """The label offer of a complete product whose unit PACT lacks, made from its result and its recipe:
    value per the recipe's own declared unit, validity PACT's default (3 years from the reference period's
    end). Its ``pf_id`` is a result id (uuid5 of the product and the figures, so a replay gives the same
    one and a change a new one); no PACT footprint has it."""
    texts = value_text(derived)
    pds, dqi = _pds_text(derived), _dqi_json(derived)
    figures = (derived.product_id, recipe.declared_unit, recipe.declared_amount, sorted(texts.items()), pds, sorted(dqi.items()))
    start, end = recipe.period
    return Offer(
        pf_id=str(uuid.uuid5(RESULT_ID_NAMESPACE, repr(figures))),
        status="Active",
        created=now,
        company_name=recipe.company_name,
        company_ids=list(recipe.company_ids),
        product_name=recipe.product_name,
        value=texts["pcfExcludingBiogenicUptake"],
        declared_unit_of_measurement=recipe.declared_unit,
        declared_unit_amount=recipe.declared_amount,
        primary_data_share=pds,
        dqi=dqi,
        reference_period_start=start,
        reference_period_end=end,
        validity_period_start=end,
        validity_period_end=add_years(end, VALIDITY_YEARS),
        verified=False,
        published_ms=int(now.timestamp() * 1000) if upstream_ms is None else upstream_ms,
    )


def summary_in(kind: str, product_id: str, view: TableView, out: StepOutput) -> Summary | None:
    """The summary of the product's recipe or supplier footprint in force: written by this batch, else before."""
    key = key_of(kind, product_id)
    return out.input_summaries[key] if key in out.input_summaries else view.summary(key)


def _published(product_id: str, view: TableView, out: StepOutput) -> Published | None:
    """The product's Active derived footprint: published earlier in this batch, else before it."""
    made = out.summaries.get(product_id)
    if made is None and product_id in out.withdrawn:
        return None
    return made if made is not None else view.published(product_id)


def _footprint_of(product_id: str, view: TableView, out: StepOutput) -> Published | None:
    """The footprint a recipe line uses now: the input's derived footprint, else its supplier footprint."""
    if product_id in out.in_use:
        return out.in_use[product_id]
    found = _published(product_id, view, out)
    if found is None:
        found = summary_in(LEAF, product_id, view, out)
        assert found is None or isinstance(found, Published)
    out.in_use[product_id] = found
    return found


def _validity_moved(derived: Derived, previous: Published, view: TableView, out: StepOutput, now: datetime,
                    cycle: tuple[str, ...] = ()) -> bool:
    """True if the product's validity end is not what its footprint out already says, though its figures are:
    e.g. on the rebuild after an upgrade, or when a coverage change re-emits it. (An input replaced by one with
    the same figures and another validity re-emits nothing in the engine; docs/contract.md, known limits.)"""
    recipe = summary_in(RECIPE, derived.product_id, view, out)
    assert isinstance(recipe, RecipeCard)
    return derived_validity(recipe, _bounding(recipe, derived.product_id, cycle, view, out), now)[1] != previous.valid_until


def _bounding(recipe: RecipeCard, product_id: str, cycle: tuple[str, ...], view: TableView, out: StepOutput) -> list[Published | None]:
    """The footprints whose validity bounds the product's: those its lines use; in a cycle of recipes, those
    any member uses from outside the cycle, and the members' own 3-year bounds (summaries with only
    ``valid_until``), since each member uses the others. Members' own footprints are left out, so the bound
    is exact whatever order the members are settled in, and a bound that was lifted upstream lifts here too.

    That bound is the same for every member (a member's own 3-year bound changes nothing: its validity is
    capped by it anyway), so a step works it out once per cycle (:func:`_cycle_bound`): per member it would
    read every line of every member, members squared times lines for a dense block."""
    if len(cycle) <= 1:
        return [_footprint_of(line, view, out) for line, _, _ in recipe.lines]
    bound = out.cycle_bounds.get(cycle)
    if bound is None:
        bound = out.cycle_bounds[cycle] = _cycle_bound(cycle, view, out)
    return bound


def _cycle_bound(cycle: tuple[str, ...], view: TableView, out: StepOutput) -> list[Published | None]:
    """The earliest validity end of what a cycle's members use from outside it, and of their own 3-year
    bounds, as one summary (empty: nothing bounds it). Asked when the cycle is settled, after everything
    upstream of it in the same step."""
    members = set(cycle)
    ends = []
    for member in cycle:
        card = summary_in(RECIPE, member, view, out)
        if not isinstance(card, RecipeCard):
            continue
        ends.append(add_years(card.period[1], VALIDITY_YEARS))
        for line, _, _ in card.lines:
            if line not in members:
                used = _footprint_of(line, view, out)
                if used is not None and used.valid_until:
                    ends.append(used.valid_until)
    return [Published("", {}, None, None, valid_until=min(ends))] if ends else []


def _expired_inputs(derived: Derived, view: TableView, out: StepOutput, now: datetime) -> dict[str, Published]:
    """The missing inputs whose supplier footprint in force is past its validity end, with that footprint."""
    found = {}
    for missing in derived.missing:
        leaf = summary_in(LEAF, missing, view, out)
        if isinstance(leaf, Published) and is_expired(leaf, now):
            found[missing] = leaf
    return found


def _note_expired(derived: Derived, view: TableView, out: StepOutput, now: datetime) -> Derived:
    """Say which inputs are missing because their footprint expired, and ask their owners for a fresh one:
    one request per expired footprint (table key ``expired:<pf id>``), beside the usual request per product."""
    expired = _expired_inputs(derived, view, out, now)
    if not expired:
        return derived
    reasons = list(derived.reasons)
    for product, leaf in expired.items():
        said = f"input {product!r} has no footprint"
        why = f"input {product!r}: its footprint {leaf.pf_id} expired at {_utc(leaf.valid_until)} (validityPeriodEnd)"
        reasons = [why if reason == said else reason for reason in reasons]
        key = EXPIRED_KEY + leaf.pf_id
        if key in out.requested or view.requested(key):
            continue
        out.requested[key] = FootprintRequest(
            request_id=str(uuid.uuid5(REQUEST_NAMESPACE, f"{product}|expired|{leaf.pf_id}")),
            requester_client_id=REQUESTER,
            product_id=[product_urn(product)],
            comment=f"The footprint {leaf.pf_id} of {product!r} expired at {_utc(leaf.valid_until)}; pcfx holds "
                    f"{derived.product_id!r} as incomplete until a footprint valid now arrives.",
            created_at=now,
        )
    return replace(derived, reasons=tuple(reasons))


def _utc(moment: datetime | None) -> str:
    return "?" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _request_missing(derived: Derived, view: TableView, out: StepOutput, now: datetime) -> None:
    """Ask once, through the PACT request flow, for every missing input of an incomplete product (an expired
    one was asked for by :func:`_note_expired`); a recipe line that names the input's supplier makes the request
    ask that company (``companyId``), and the API's request delivery sends it there
    (:mod:`pcfx.connectors.pact_api.outbound`)."""
    key = key_of(RECIPE, derived.product_id)
    recipe = out.inputs[key] if key in out.inputs else view.input(key)
    suppliers = {line.product_id: line.supplier_company_id for line in recipe.inputs} if isinstance(recipe, ProductRecipe) else {}
    for missing in derived.missing:
        if missing in out.requested or view.requested(missing):
            continue
        if is_expired(summary_in(LEAF, missing, view, out), now):  # type: ignore[arg-type]
            continue
        supplier = suppliers.get(missing)  # the recipe line's supplier: whom the request goes to
        out.requested[missing] = FootprintRequest(
            request_id=str(uuid.uuid5(REQUEST_NAMESPACE, missing)),
            requester_client_id=REQUESTER,
            product_id=[product_urn(missing)],
            company_id=[supplier] if supplier else [],
            comment=f"pcfx holds {derived.product_id!r} as incomplete until a footprint for {missing!r} arrives.",
            created_at=now,
        )
