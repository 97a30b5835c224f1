"""Carbon labels for buyers as one pure step per product: ``issue(state, event, now) -> (state, output)``.

Everything that decides the labels of one product lives in one :class:`ProductLabels` (the agent keeps it
in a table keyed by product URN): the footprint in force (its :class:`Offer`), the product's own recipe
(certification fields), the buyers whose recipes list the product as an input (who buys it; counted by
the label router, :func:`recipe_notes`), suppliers' grants, subscriptions, and what was last sent to
each buyer. After each event every buyer is settled again: a
label goes out when its content changed, a status when the answer to the subscription changed.

Entitlement (:func:`entitlement`): a buyer (a company URN) sees a product it owns, a product an owner
granted it (the latest grant or withholding of an owner wins), and by default a product its own recipe
lists as an input. Nothing else: one-hop visibility. A label carries the product's own company and
figures only, never the ids, names or values of deeper tiers.

Values are PACT decimal text in kgCO2e per declared unit, compared as :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, model_validator

from pcfx.schemas.models import CarbonLabel, ProductFootprint, ProductRecipe, to_decimal
from pcfx.schemas.subscriptions import (
    Entitlement,
    Subscription,
    SubscriptionState,
    SubscriptionStatus,
    subscription_key,
)
from pcfx.schemas.validity import VALIDITY_YEARS, add_years
from pcfx.streams.access import Decision, may_see
from pcfx.streams.codec import MARKER, DecodeError, codec_for
from pcfx.streams.derive import product_urn

#: Namespace of label ids: uuid5(namespace, "<buyer>|<product>"), the same id on every worker and replay.
LABEL_NAMESPACE = uuid.UUID("c8a1e3f4-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
REVERIFY_SHARE = Decimal("0.10")  # PACT methodology: a change of 10 % or more calls for re-verification
#: A recipe's fields its own products' labels carry (:func:`_apply_recipe`).
CERTIFICATION_FIELDS = ("category_rule_id", "certification_scheme", "certification_body", "certificate_number")
UNCHANGED = {"version", "previous_value", "issued_at"}  # fields that do not make a label a new version


class Offer(BaseModel):
    """What the product's footprint in force says, as a label needs it (validity already defaulted)."""

    pf_id: str
    status: Literal["Active", "Deprecated"]
    created: datetime
    company_name: str
    company_ids: list[str]
    product_name: str
    value: str  # pcfExcludingBiogenicUptake, kgCO2e per declared unit
    declared_unit_of_measurement: str
    declared_unit_amount: str
    primary_data_share: str | None = None
    dqi: dict[str, str] | None = None
    reference_period_start: datetime
    reference_period_end: datetime
    validity_period_start: datetime
    validity_period_end: datetime
    verified: bool  # the footprint carries a PACT `verification`
    certification: dict[str, str] = {}  # label certification fields found in the footprint
    published_ms: int  # the supplier publish time behind this footprint


class Grant(BaseModel):
    buyer: str
    supplier: str
    granted: bool
    at: datetime


class Follower(BaseModel):
    """A subscription as the product sees it."""

    active: bool
    webhook_url: str | None = None
    created_at: datetime


class Sent(BaseModel):
    """What one buyer last received; ``version`` is never reset, so (label id, version) stays unique."""

    label: CarbonLabel | None = None
    version: int = 0
    first_value: str | None = None
    state: SubscriptionState | None = None
    reason: str | None = None


class ProductLabels(BaseModel):
    """The whole label state of one product (a table value)."""

    product_id: str
    offer: Offer | None = None
    verified_value: str | None = None  # value of the last footprint that carried `verification`
    certification: dict[str, str] = {}  # from the product's own recipe
    recipe_updated: datetime | None = None
    listed_by: list[str] = []  # the buyers one of whose recipes lists the product as an input, sorted
    grants: dict[str, Grant] = {}  # "<buyer>|<supplier>" -> grant
    followers: dict[str, Follower] = {}  # buyer -> subscription
    sent: dict[str, Sent] = {}  # buyer -> last label and status

    @model_validator(mode="before")
    @classmethod
    def listed_from_counts(cls, data: Any) -> Any:
        """A state written by an older pcfx holds each buyer's count of recipes (``recipes_of``), never 0."""
        return _listed_from_counts(data, lambda counts: sorted(buyer for buyer, count in counts.items() if count > 0))


@dataclass(frozen=True)
class FootprintSeen:
    """A supplier footprint or a derived footprint naming this product, as its :class:`Offer` (made by
    :func:`offer_of` where the footprint was at hand anyway, so the label stage never decodes one)."""

    offer: Offer


class RecipeNote(BaseModel):
    """What the label router tells one product about the recipes that concern it (:func:`recipe_notes`):
    the buyers that started or stopped listing it, and its own recipe's certification when that changed.
    Whether a buyer lists the product is said absolutely, not as a difference, so a note sent twice (a retried
    router batch) changes nothing the second time."""

    listed_by: dict[str, bool] = {}  # buyer -> whether one of its recipes lists the product now
    certification: dict[str, str] | None = None  # the product's own recipe's certification fields (PACT names)
    updated: datetime | None = None  # that recipe's `updated`, when certification is set

    @model_validator(mode="before")
    @classmethod
    def listed_from_counts(cls, data: Any) -> Any:
        """A note of an older pcfx gives each buyer's count of recipes (``recipes_of``; 0: none any more)."""
        return _listed_from_counts(data, lambda counts: {buyer: count > 0 for buyer, count in counts.items()})


def _listed_from_counts(data: Any, listed: Callable[[dict[str, int]], Any]) -> Any:
    """``data`` with the ``recipes_of`` counts an older pcfx wrote replaced by ``listed_by``, made by ``listed``."""
    if isinstance(data, dict) and "recipes_of" in data:
        data = dict(data)
        data.setdefault("listed_by", listed(data.pop("recipes_of") or {}))
    return data


@dataclass(frozen=True)
class RecipeOutline:
    """What the label router needs of a recipe: its ids, buyers and time, the URNs of its own products and
    of its inputs, and its certification fields (PACT names, the ones set). ``validate_recipes``, which holds
    the validated model, sends the router this outline as JSON (:func:`outline_bytes`) on ``label-sources``:
    a dense table's recipe has hundreds of lines, and the router would otherwise decode its Avro record
    again only to learn what the model said."""

    product_ids: list[str]
    company_ids: list[str]
    updated: datetime
    own: frozenset[str]
    inputs: frozenset[str]
    certification: dict[str, str]


#: Each certification field's PACT name, as a recipe's Avro record and ``model_dump(by_alias=True)`` spell it.
CERTIFICATION_NAMES = tuple(ProductRecipe.model_fields[name].alias or name for name in CERTIFICATION_FIELDS)


def outline_of(recipe: ProductRecipe | RecipeOutline) -> RecipeOutline:
    """The outline of a recipe model (an outline is its own)."""
    if isinstance(recipe, RecipeOutline):
        return recipe
    return RecipeOutline(
        product_ids=list(recipe.product_ids), company_ids=list(recipe.company_ids), updated=recipe.updated,
        own=frozenset(product_urn(p) for p in recipe.product_ids),
        inputs=frozenset(product_urn(line.product_id) for line in recipe.inputs),
        certification=recipe.model_dump(by_alias=True, exclude_none=True, include=set(CERTIFICATION_FIELDS)),
    )


def outline_bytes(recipe: ProductRecipe | RecipeOutline) -> bytes:
    """The outline of a recipe as ``label-sources`` carries it: JSON, its URN sets sorted."""
    outline = outline_of(recipe)
    return stamped(outline_stem(outline), outline.updated)


def outline_stem(recipe: ProductRecipe | RecipeOutline) -> bytes:
    """The outline's JSON up to its last member, ``updated``, whose value :func:`stamped` writes: a recipe sent
    again unchanged but for that time gets its outline without its model (:class:`~pcfx.streams.intake.AcceptedRecipes`)."""
    outline = outline_of(recipe)
    text = json.dumps({
        "productIds": outline.product_ids, "companyIds": outline.company_ids,
        "own": sorted(outline.own), "inputs": sorted(outline.inputs), "certification": outline.certification,
    }, ensure_ascii=False)
    return text[:-1].encode() + b', "updated": '


def stamped(stem: bytes, updated: datetime) -> bytes:
    """The outline JSON of ``stem`` (:func:`outline_stem`) with its ``updated`` time."""
    return stem + b'"' + updated.isoformat().encode() + b'"}'


def recipe_outline(raw: bytes | None) -> RecipeOutline:
    """The outline in a ``label-sources`` record: its JSON (:func:`outline_bytes`), or a recipe's Avro bytes
    as an older pcfx sent them; :class:`DecodeError` for anything else."""
    if raw is None:
        raise DecodeError("empty value (a tombstone): a recipe outline was expected")
    if raw.startswith(MARKER):
        return _avro_outline(raw)
    try:
        document = json.loads(raw)
        outline = RecipeOutline(
            product_ids=_texts(document["productIds"]), company_ids=_texts(document["companyIds"]),
            updated=datetime.fromisoformat(document["updated"]), own=frozenset(_texts(document["own"])),
            inputs=frozenset(_texts(document["inputs"])),
            certification={name: text for name, text in document["certification"].items() if name in CERTIFICATION_NAMES},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DecodeError(f"not a recipe outline ({type(error).__name__}: {error})") from None
    if outline.updated.tzinfo is None or not outline.product_ids:
        raise DecodeError("not a recipe outline: its time has no zone or it names no product")
    return outline


def _texts(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("a list of strings was expected")
    return values


def _avro_outline(raw: bytes) -> RecipeOutline:
    return outline_of_record(codec_for(ProductRecipe.avro_name).decode(raw))


def outline_of_record(record: dict[str, Any]) -> RecipeOutline:
    """The outline of a recipe decoded from Avro but not validated into a model (it was validated upstream)."""
    return RecipeOutline(
        product_ids=list(record["productIds"]), company_ids=list(record["companyIds"]), updated=record["updated"],
        own=frozenset(product_urn(p) for p in record["productIds"]),
        inputs=frozenset(product_urn(line["productId"]) for line in record["inputs"]),
        certification={name: record[name] for name in CERTIFICATION_NAMES if record.get(name) is not None},
    )


@dataclass(frozen=True)
class RecipeSeen:
    """What changed in the recipes that name this product (as their own product or as an input)."""

    note: RecipeNote


@dataclass(frozen=True)
class ExpiryCheck:
    """Sent by the expiry timer: nothing changed but the clock."""


LabelEvent = FootprintSeen | RecipeSeen | Subscription | Entitlement | ExpiryCheck


@dataclass(frozen=True)
class LabelSent:
    label: CarbonLabel
    webhook_url: str | None


@dataclass
class LabelOutput:
    """What one event makes the agent send: labels, withdrawals (tombstones) per buyer, statuses."""

    labels: list[LabelSent] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    statuses: list[SubscriptionStatus] = field(default_factory=list)


def label_id(buyer_id: str, product_id: str) -> str:
    """The deterministic id of the label of ``product_id`` for ``buyer_id``."""
    return str(uuid.uuid5(LABEL_NAMESPACE, subscription_key(buyer_id, product_id)))


def issue(
    state: ProductLabels | None, product_id: str, event: LabelEvent, now: datetime
) -> tuple[ProductLabels, LabelOutput]:
    """Fold one event into the product's state and settle every buyer; ``now`` decides expiry and times.

    ``state`` is updated in place and returned (bytewax's ``stateful_map`` contract): the agent parses a
    fresh one from its table for every event, so a copy here would only cost (a deep copy was 9 % of a
    worker's CPU in a shock).
    """
    state = ProductLabels(product_id=product_id) if state is None else state
    out = LabelOutput()
    asked = _apply(state, event, out)
    for buyer in sorted(set(state.followers) | set(state.sent)):
        _settle(state, buyer, now, out, answer=buyer == asked)
    return state, out


def entitlement(state: ProductLabels, buyer: str) -> tuple[bool, str]:
    """May ``buyer`` see this product's labels, and why (one sentence either way)? The one rule of
    :mod:`pcfx.streams.access`, on what this product's state knows."""
    product = state.product_id
    owners = state.offer.company_ids if state.offer else []
    decisions = [Decision(g.supplier, g.granted, g.at) for g in state.grants.values() if g.buyer == buyer]
    if state.offer is None and not state.listed_by and not decisions:
        return False, f"unknown product {product}: no footprint of it has reached the exchange and no recipe lists it"
    return may_see(buyer, product, owners, decisions, listed=buyer in state.listed_by)


def expiry_due(state: ProductLabels, now: datetime) -> bool:
    """True if a label sent for this product has passed its validity end but is not marked Expired yet."""
    return any(
        s.label is not None and s.label.status != "Expired" and s.label.validity_period_end <= now
        for s in state.sent.values()
    )


@dataclass
class RoutedRecipes:
    """What the label router does with a micro-batch of recipes (:func:`recipe_notes`)."""

    notes: dict[str, RecipeNote] = field(default_factory=dict)  # product URN -> what changed for its labels
    remembered: dict[str, dict[str, Any]] = field(default_factory=dict)  # recipe key -> its latest version, as routed
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # product URN -> buyer -> recipes listing it


def recipe_notes(
    recipes: Iterable[tuple[str, ProductRecipe | RecipeOutline]],
    remembered_of: Callable[[str], dict[str, Any] | None],
    counts_of: Callable[[str], dict[str, int]],
) -> RoutedRecipes:
    """Route recipe versions (``(key, recipe)`` in arrival order) to the products whose labels they change.

    The router remembers of each recipe (under its key; ``remembered_of``) the inputs, buyers (companyIds) and
    certification it last routed, and counts per product how many recipes of each buyer list it as an input
    (``counts_of``). A new version changes the count of each input it adds or drops, of every input when its
    buyers changed, and the certification of its own products when that changed. A product gets a note when
    the batch leaves a buyer's count at 0 that it found above, or the other way round (the buyer stopped or
    started buying it), or its certification changed. A version identical in these tells nobody, and an older
    version arriving late changes nothing. Counting here, where every recipe passes in order, spares the label
    stage a table entry per (input, recipe) pair: a dense table has hundreds of thousands. Telling the label
    stage only whether, not how many, spares it a note per micro-batch of an import for every input the
    batch's recipes share (a dense table's first import made some 5,000 notes for 388 products).

    The result holds at most one note per product for the whole batch, what to remember per recipe and the
    new counts of the products whose counts changed (a product no recipe lists any more maps to ``{}``).
    """
    routed = RoutedRecipes()
    found: dict[str, dict[str, int]] = {}  # product -> its counts as the batch found them
    changed: dict[str, set[str]] = {}  # product -> the buyers whose count changed
    certified: dict[str, tuple[dict[str, str], datetime]] = {}  # own product -> certification, recipe time
    for key, recipe in recipes:
        outline = outline_of(recipe)
        previous = routed.remembered[key] if key in routed.remembered else remembered_of(key)
        updated_ms = int(outline.updated.timestamp() * 1000)
        if previous is not None and updated_ms < previous["updated"]:
            continue
        buyers, inputs = set(outline.company_ids), outline.inputs
        old_buyers, old_inputs = set(), set()
        if previous is not None and "inputs" in previous:  # an entry without inputs was routed by an older pcfx
            old_buyers, old_inputs = set(previous["buyers"]), set(previous["inputs"])
        moved = old_inputs ^ inputs if buyers == old_buyers else old_inputs | inputs  # the others keep their buyers
        for product in moved:
            before = old_buyers if product in old_inputs else set()
            after = buyers if product in inputs else set()
            if before == after:
                continue
            count = routed.counts.get(product)
            if count is None:
                found[product] = counts_of(product)
                count = routed.counts[product] = dict(found[product])
            for buyer in after - before:
                count[buyer] = count.get(buyer, 0) + 1
            for buyer in before - after:
                if count.get(buyer, 0) <= 1:
                    count.pop(buyer, None)
                else:
                    count[buyer] -= 1
            changed.setdefault(product, set()).update(before ^ after)
        if outline.certification != (previous.get("certification", {}) if previous else {}):
            for product in outline.own:
                certified[product] = (outline.certification, outline.updated)
        routed.remembered[key] = {"updated": updated_ms, "inputs": sorted(inputs), "buyers": sorted(buyers),
                                  "certification": outline.certification}
    for product in sorted(changed.keys() | certified.keys()):
        before, after = found.get(product, {}), routed.counts.get(product, {})
        listed_by = {b: b in after for b in sorted(changed.get(product, ())) if (b in before) != (b in after)}
        certification, updated = certified.get(product, (None, None))
        if listed_by or certification is not None:
            routed.notes[product] = RecipeNote(listed_by=listed_by, certification=certification, updated=updated)
    return routed


def recipe_counts(remembered: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per product, how many recipes of each buyer list it as an input, from what the router remembers of
    each recipe: the counts :func:`recipe_notes` reads and moves. Held in memory and made again from the
    remembered recipes on a restart or rebalance, so that they cost no changelog record each time they move
    (a dense import moves them in every micro-batch). An entry an older pcfx remembered without its inputs
    counts for nothing, as :func:`recipe_notes` takes it."""
    counts: dict[str, dict[str, int]] = {}
    for entry in remembered:
        for product in entry.get("inputs", ()):
            count = counts.setdefault(product, {})
            for buyer in entry["buyers"]:
                count[buyer] = count.get(buyer, 0) + 1
    return counts


def reverification_due(value: str, last_verified: str) -> bool:
    """|value - last verified| >= 10 % of |last verified|; from a verified 0, any other value is due."""
    current, verified = to_decimal(value), to_decimal(last_verified)
    if verified == 0:
        return current != 0
    return abs(current - verified) >= REVERIFY_SHARE * abs(verified)


def _default_end(reference_end: datetime) -> datetime:
    """PACT's default validity end; the last representable instant when that lies past year 9999."""
    return add_years(reference_end, VALIDITY_YEARS) or datetime.max.replace(tzinfo=reference_end.tzinfo)


def offer_of(footprint: ProductFootprint, published_ms: int) -> Offer:
    """The label-relevant part of a footprint. A validity period the footprint leaves open defaults to PACT's
    3 years from the reference period's end; one that would end before it starts falls back to that default."""
    pcf = footprint.pcf
    start = footprint.validity_period_start or pcf.reference_period_end
    end = footprint.validity_period_end or _default_end(pcf.reference_period_end)
    if end <= start:
        start, end = pcf.reference_period_end, _default_end(pcf.reference_period_end)
    return Offer(
        pf_id=footprint.id,
        status=footprint.status,
        created=footprint.created,
        company_name=footprint.company_name,
        company_ids=list(footprint.company_ids),
        product_name=footprint.product_name_company,
        value=pcf.pcf_excluding_biogenic_uptake,
        declared_unit_of_measurement=pcf.declared_unit_of_measurement,
        declared_unit_amount=pcf.declared_unit_amount,
        primary_data_share=pcf.primary_data_share,
        dqi=pcf.dqi.to_json() if pcf.dqi else None,
        reference_period_start=pcf.reference_period_start,
        reference_period_end=pcf.reference_period_end,
        validity_period_start=start,
        validity_period_end=end,
        verified=pcf.verification is not None,
        certification=_footprint_certification(footprint),
        published_ms=published_ms,
    )


def _footprint_certification(footprint: ProductFootprint) -> dict[str, str]:
    """A category rule from ``productOrSectorSpecificRules``, scheme and body from ``verification``."""
    pcf, found = footprint.pcf, {}
    if pcf.product_or_sector_specific_rules:
        found["categoryRuleId"] = pcf.product_or_sector_specific_rules[0].rule_names[0]
    if pcf.verification is not None:
        for name, value in (("certificationScheme", pcf.verification.standard_name),
                            ("certificationBody", pcf.verification.provider_name)):
            if value:
                found[name] = value
    return found


def _apply(state: ProductLabels, event: LabelEvent, out: LabelOutput) -> str | None:
    """Change ``state`` by one event; returns the buyer whose subscription asked for an answer."""
    if isinstance(event, FootprintSeen):
        _apply_footprint(state, event)
    elif isinstance(event, RecipeSeen):
        _apply_recipe(state, event.note)
    elif isinstance(event, Subscription):
        known = state.followers.get(event.buyer_id)
        if known is None or event.created_at >= known.created_at:
            state.followers[event.buyer_id] = Follower(
                active=event.active, webhook_url=event.webhook_url, created_at=event.created_at
            )
        return event.buyer_id
    elif isinstance(event, Entitlement):
        key = subscription_key(event.buyer_id, event.supplier_company_id)
        known_grant = state.grants.get(key)
        if known_grant is None or event.created_at >= known_grant.at:
            state.grants[key] = Grant(
                buyer=event.buyer_id, supplier=event.supplier_company_id, granted=event.granted, at=event.created_at
            )
    return None


def _apply_footprint(state: ProductLabels, event: FootprintSeen) -> None:
    """PACT v3 lifecycle: the newest Active footprint is in force; deprecating it withdraws the product."""
    seen, offer = event.offer, state.offer
    if seen.status == "Deprecated":
        if offer is not None and offer.pf_id == seen.pf_id:
            offer.status = "Deprecated"
        return
    if offer is not None and (seen.pf_id == offer.pf_id or seen.created < offer.created):
        return  # a replay, or an older footprint arriving late
    state.offer = seen.model_copy()  # the state changes in place (a later deprecation); the event must not
    if seen.verified:
        state.verified_value = state.offer.value


def _apply_recipe(state: ProductLabels, note: RecipeNote) -> None:
    """Take the buyers that started or stopped listing the product, and the certification of the product's
    own recipe unless an older recipe's note arrives after a newer one's."""
    if note.listed_by:
        listed = set(state.listed_by)
        listed |= {buyer for buyer, lists in note.listed_by.items() if lists}
        listed -= {buyer for buyer, lists in note.listed_by.items() if not lists}
        state.listed_by = sorted(listed)
    if note.certification is not None and note.updated is not None:
        if state.recipe_updated is None or note.updated >= state.recipe_updated:
            state.certification = dict(note.certification)
            state.recipe_updated = note.updated


def _decide(state: ProductLabels, buyer: str) -> tuple[SubscriptionState, str]:
    follower = state.followers.get(buyer)
    if follower is None or not follower.active:
        return "cancelled", f"{buyer} unsubscribed from {state.product_id}"
    entitled, why = entitlement(state, buyer)
    if not entitled:
        return "rejected", why
    if state.offer is None:
        return "pending", f"{why}; no footprint of it has reached the exchange yet, the label follows when one does"
    return "active", why


def _settle(state: ProductLabels, buyer: str, now: datetime, out: LabelOutput, *, answer: bool) -> None:
    """Send ``buyer`` a new label version if its content changed, a withdrawal if access ended, a status if the
    answer changed (or the buyer just asked)."""
    sent = state.sent.get(buyer) or Sent()
    decision, reason = _decide(state, buyer)
    if decision == "active":
        label = _label(state, buyer, sent, now)
        if sent.label is None or _content(sent.label) != _content(label):
            label = label.model_copy(update={
                "version": sent.version + 1,
                "previous_value": sent.label.value if sent.label else None,
            })
            sent.label, sent.version = label, label.version
            sent.first_value = sent.first_value or label.value
            follower = state.followers[buyer]
            out.labels.append(LabelSent(label, follower.webhook_url))
    elif sent.label is not None:
        sent.label = None
        out.withdrawn.append(buyer)
    if answer or (decision, reason) != (sent.state, sent.reason):
        sent.state, sent.reason = decision, reason
        out.statuses.append(SubscriptionStatus(
            buyer_id=buyer, product_id=state.product_id, state=decision, reason=reason, updated_at=now,
        ))
    state.sent[buyer] = sent


def _label(state: ProductLabels, buyer: str, sent: Sent, now: datetime) -> CarbonLabel:
    """The label ``buyer`` should hold now (its version and previous value are set by the caller)."""
    offer = state.offer
    assert offer is not None
    last_verified = state.verified_value or sent.first_value or offer.value
    expired = offer.validity_period_end <= now
    fields: dict[str, Any] = {
        **offer.certification,
        **state.certification,
        "labelId": label_id(buyer, state.product_id),
        "version": max(sent.version, 1),
        "productId": state.product_id,
        "companyName": offer.company_name,
        "companyIds": offer.company_ids,
        "productName": offer.product_name,
        "value": offer.value,
        "declaredUnitOfMeasurement": offer.declared_unit_of_measurement,
        "declaredUnitAmount": offer.declared_unit_amount,
        "primaryDataShare": offer.primary_data_share,
        "dqi": offer.dqi,
        "referencePeriodStart": offer.reference_period_start,
        "referencePeriodEnd": offer.reference_period_end,
        "validityPeriodStart": offer.validity_period_start,
        "validityPeriodEnd": offer.validity_period_end,
        "status": "Expired" if expired else offer.status,
        "pfId": offer.pf_id,
        "lastVerifiedValue": last_verified,
        "reverificationDue": reverification_due(offer.value, last_verified),
        "buyerId": buyer,
        "upstreamChangedAt": datetime.fromtimestamp(offer.published_ms / 1000, tz=now.tzinfo),
        "issuedAt": now,
    }
    return CarbonLabel.model_validate(fields)


def _content(label: CarbonLabel) -> dict[str, Any]:
    return label.model_dump(exclude=UNCHANGED)
