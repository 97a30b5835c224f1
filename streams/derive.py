"""Between the contract and the engine: PACT records become engine events, engine results become PACT
footprints (PACT v3 §7 lifecycle: every change is a new footprint, the previous one is re-published as
Deprecated). Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

from pcfx.schemas.models import (
    CarbonFootprint,
    DataQualityIndicators,
    ProductFootprint,
    ProductRecipe,
    format_decimal,
    to_decimal,
)
from pcfx.schemas.status import ProductStatus
from pcfx.schemas.validity import VALIDITY_YEARS, add_years
from pcfx.streams.engine import EXACT_DRIVERS, RELATIVE_EPSILON
from pcfx.streams.rollup import ADDITIVE_FIELDS, EXEMPTED_FIELD, WEIGHT_FIELD, Derived, Input, InvalidFootprint, Leaf, Recipe
from pcfx.streams.units import pact_declared_unit

SPEC_VERSION = "3.0.3"
PRODUCT_URN_PREFIX = "urn:pcfx:product:"
#: Namespace of derived footprint ids: uuid5(namespace, product | previous id) makes a replayed recompute
#: publish the very same id, so at-least-once delivery can never count a footprint twice.
DERIVED_ID_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4d7b-9a0e-2c5b7e4f1a90")
#: Path, under the PACT host's base URL, where ``pcfx api`` serves the JSON schema of the direct-inputs extension.
INPUTS_EXTENSION_PATH = "/extensions/direct-inputs/1.0.0/schema.json"
INPUTS_SCHEMA_FILE = "extensions/direct-inputs-1.0.0.schema.json"  # in the pcfx.schemas package
INPUTS_EXTENSION_DOC = "https://pcfx.dev/docs/engine#direct-inputs"
#: The PACT host of a default configuration (PCFX_API_HOST, PCFX_API_PORT), for a caller that names none.
DEFAULT_API_BASE = "https://127.0.0.1:8443"
DEFAULT_IPCC = ("AR6",)  # a product with nothing upstream: the latest report, as the PACT methodology asks
DEFAULT_STANDARDS = ("ISO14067", "PACT-3.0")  # a recipe that names no crossSectoralStandards
RULE_OPERATOR = "Other"  # PACT ProductOrSectorSpecificRule.operator of a recipe's categoryRuleId
_URN = re.compile(r"^[uU][rR][nN]:")
_DQR_BEST, _DQR_WORST = 1.0, 5.0  # PACT methodology 4.2.3
#: PACT name -> attribute of every additive CarbonFootprint field, and the DQR attributes (for same_figures).
_ADDITIVE_ATTRIBUTES = {field.alias: name for name, field in CarbonFootprint.model_fields.items() if field.alias in ADDITIVE_FIELDS}
_DQR_ATTRIBUTES = ("technological_dqr", "geographical_dqr", "temporal_dqr")
#: PACT-required CarbonFootprint fields; a derived product none of whose contributors reported one says 0.
_REQUIRED_VALUES = ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions", "fossilCarbonContent")


@functools.lru_cache(maxsize=1 << 16)
def product_urn(product_id: str) -> str:
    """A PACT product id (a URN) for an opaque pcfx product id; URNs pass through unchanged.

    Cached: the label router and the recompute agent ask it for every input line of every recipe, of a few
    thousand distinct ids, and percent-encoding is slow (a dense table: half a million calls per import)."""
    return product_id if _URN.match(product_id) else PRODUCT_URN_PREFIX + quote(product_id, safe="")


def _number(text: str | None) -> float | None:
    return None if text is None else float(to_decimal(text))


def _dqr(dqi: DataQualityIndicators | None) -> tuple[float, float, float] | None:
    if dqi is None:
        return None
    return (float(to_decimal(dqi.technological_dqr)), float(to_decimal(dqi.geographical_dqr)), float(to_decimal(dqi.temporal_dqr)))


def _values(breakdown: object) -> dict[str, float]:
    """The additive fields a PACT breakdown reports, as floats per declared unit."""
    dumped = breakdown.model_dump(by_alias=True, exclude_none=True)  # type: ignore[attr-defined]
    return {name: float(to_decimal(dumped[name])) for name in ADDITIVE_FIELDS if name in dumped}


def leaf_of(footprint: ProductFootprint, product_id: str) -> Leaf:
    """The engine's view of a supplier footprint for one of its product ids."""
    pcf = footprint.pcf
    values = _values(pcf)
    exempted = exempted_amount(values.get(WEIGHT_FIELD), float(to_decimal(pcf.exempted_emissions_percent)), product_id)
    if exempted:
        values[EXEMPTED_FIELD] = exempted
    return Leaf(
        product_id=product_id,
        pf_id=footprint.id,
        declared_unit=pcf.declared_unit_of_measurement,
        declared_amount=float(to_decimal(pcf.declared_unit_amount)),
        mass_per_unit=_number(pcf.product_mass_per_declared_unit),
        values=values,
        pds=_number(pcf.primary_data_share),
        dqr=_dqr(pcf.dqi),
        ipcc=tuple(int(report[2:]) for report in pcf.ipcc_characterization_factors),
    )


def exempted_amount(total: float | None, percent: float, product_id: str) -> float:
    """The emissions a footprint left out, kgCO2e per declared unit, from its exemptedEmissionsPercent.

    PACT: the percent is the share of the emissions excluded from the PCF, i.e. of everything, included
    (``total``, its pcfExcludingBiogenicUptake) plus excluded: ``x = total * percent / (100 - percent)``
    (2 kgCO2e reported with 20 % exempted: 0.5 kg left out, and 0.5 / 2.5 is 20 %)."""
    if not percent or not total:
        return 0.0
    if not 0 < percent < 100:
        raise InvalidFootprint(product_id, "exemptedEmissionsPercent", f"must be within 0..100 (below 100), got {percent!r}")
    return total * percent / (100 - percent)


def exempted_percent(derived: Derived) -> float:
    """A derived product's exemptedEmissionsPercent: the exempted amount rolled up through the same linear
    system as the totals, over everything (included + exempted); 0 without a positive whole."""
    exempted = derived.values.get(EXEMPTED_FIELD, 0.0)
    whole = derived.values.get(WEIGHT_FIELD, 0.0) + exempted
    if not exempted or whole <= 0:
        return 0.0
    return _clamp(100 * exempted / whole, 0.0, 100.0)


def recipe_of(recipe: ProductRecipe, product_id: str) -> Recipe:
    """The engine's view of a recipe for one of its product ids."""
    return Recipe(
        product_id=product_id,
        declared_unit=recipe.declared_unit_of_measurement,
        declared_amount=float(to_decimal(recipe.declared_unit_amount)),
        mass_per_unit=_number(recipe.product_mass_per_declared_unit),
        own=_values(recipe.own_emissions),
        own_pds=_number(recipe.primary_data_share),
        own_dqr=_dqr(recipe.dqi),
        # float() of a validated PACT decimal's text rounds as float(Decimal(text)) does, at a quarter of the cost
        inputs=tuple(Input(line.product_id, float(line.quantity), line.unit) for line in recipe.inputs),
    )


class DirectInput(NamedTuple):
    """One line of the direct-inputs extension: which footprint was used, how much, in what unit. A tuple:
    a dense product's footprint has hundreds of lines, made again on every recompute."""

    pf_id: str | None  # None while the input has no footprint (the product is then incomplete)
    quantity: str
    unit: str | None


def value_text(derived: Derived) -> dict[str, str]:
    """The derived values as PACT decimal text, required fields included: what a footprint would carry."""
    texts = {name: format_decimal(value) for name, value in derived.values.items() if name != EXEMPTED_FIELD}
    for name in _REQUIRED_VALUES:
        texts.setdefault(name, "0")
    return texts


def derived_id(product_id: str, previous_id: str | None) -> str:
    """Deterministic footprint id: the successor of ``previous_id`` (None: the first footprint) of a product.

    The figures are left out on purpose: a replay after a crash recomputes the successor of the same
    predecessor, possibly in other micro-batches whose float sums differ in the last bits, and it must
    republish it under the same id, or the first one would stay Active beside it. A product has one
    successor per predecessor, because the step records it as the new predecessor at once.
    """
    digest = hashlib.sha256(repr((product_id, previous_id)).encode()).hexdigest()
    return str(v4_shaped(uuid.uuid5(DERIVED_ID_NAMESPACE, digest)))


def v4_shaped(name_based: uuid.UUID) -> uuid.UUID:
    """The same 122 hash bits with the version and variant bits of a UUID v4 (RFC 9562 §5.4).

    PACT v3 requires a PfId to be a UUID v4. A v4 is random bits under those six fixed ones, and a hash
    is as good as random for that purpose, so the id stays deterministic (a replay gives the same id) and
    is a well-formed v4."""
    return uuid.UUID(bytes=name_based.bytes, version=4)


def is_inputs_extension(data_schema: object) -> bool:
    """Is ``data_schema`` the direct-inputs extension's? Its URL names the host that derived the footprint, so
    only the path is pcfx's own."""
    return isinstance(data_schema, str) and data_schema.endswith(INPUTS_EXTENSION_PATH)


def inputs_schema_url(base_url: str) -> str:
    """Where the JSON schema of the direct-inputs extension is served, for a PACT host at ``base_url``."""
    return base_url.rstrip("/") + INPUTS_EXTENSION_PATH


@dataclass(frozen=True)
class Published:
    """What the step needs of a footprint that is out already: its id (the successor's predecessor, a
    recipe line's pfId), its figures (did a recompute change anything?) and its secondary databases (carried
    to the products that use it). A few hundred bytes, so the agent can keep one per product in memory
    instead of decoding a whole footprint from its table on every recompute."""

    pf_id: str
    figures: dict[str, float]  # PACT name -> value per declared unit, for every additive field it carries
    pds: float | None  # primaryDataShare, percent
    dqr: tuple[float, float, float] | None  # technological, geographical, temporal
    sources: tuple[tuple[str, str], ...] = ()  # (name, version) of its secondaryEmissionFactorSources
    ipcc: tuple[str, ...] = ()  # its ipccCharacterizationFactors, as published
    exempted: float = 0.0  # its exemptedEmissionsPercent
    valid_until: datetime | None = None  # its validity end (validityPeriodEnd, else PACT's 3-year default)


def published_of(footprint: ProductFootprint) -> Published:
    """The :class:`Published` summary of a footprint (a derived one, or a supplier's that a recipe uses)."""
    pcf = footprint.pcf
    texts = {name: getattr(pcf, attribute) for name, attribute in _ADDITIVE_ATTRIBUTES.items()}
    return Published(
        pf_id=footprint.id,
        figures={name: float(text) for name, text in texts.items() if text is not None},
        pds=None if pcf.primary_data_share is None else float(pcf.primary_data_share),
        dqr=None if pcf.dqi is None else tuple(float(getattr(pcf.dqi, name)) for name in _DQR_ATTRIBUTES),
        sources=tuple((source.name, source.version) for source in pcf.secondary_emission_factor_sources or ()),
        ipcc=tuple(pcf.ipcc_characterization_factors),
        exempted=float(pcf.exempted_emissions_percent),
        valid_until=valid_until(footprint),
    )


def valid_until(footprint: ProductFootprint) -> datetime:
    """When a footprint stops being valid for use: its validityPeriodEnd, else (PACT v3 validity period)
    3 years after its reference period ends."""
    return footprint.validity_period_end or add_years(footprint.pcf.reference_period_end, VALIDITY_YEARS)


def is_expired(summary: Published | None, now: datetime) -> bool:
    """True if ``summary`` is of a footprint past its validity end ("not valid for use anymore")."""
    return summary is not None and summary.valid_until is not None and summary.valid_until <= now


def derived_validity(recipe: RecipeCard, used: Iterable[Published | None], now: datetime) -> tuple[datetime, datetime]:
    """(validityPeriodStart, validityPeriodEnd) of a derived footprint: never valid beyond any input it uses,
    nor beyond PACT's 3 years after its own reference period. The start is the reference period's end, or the
    creation time if that end is not before the validity end (a period still running)."""
    end = min([add_years(recipe.period[1], VALIDITY_YEARS)] + [pf.valid_until for pf in used if pf is not None and pf.valid_until])
    start = recipe.period[1] if recipe.period[1] < end else min(now, end)
    return start, end


def same_figures(published: Published, derived: Derived) -> bool:
    """True if the footprint out already carries what ``derived`` would publish, each figure to within
    :data:`RELATIVE_EPSILON` (a rebuilt engine solves in another order and may move the last bits).

    Compared as floats, never through text: a shock asks this once per product it reaches. The rolled-up
    declarations (IPCC reports, exempted share) count as figures: a change there is a new footprint too."""
    if published.figures.keys() != set(derived.values) - {EXEMPTED_FIELD} | set(_REQUIRED_VALUES) or published.pds is None or published.dqr is None:
        return False
    if published.ipcc != ipcc_reports(derived) or not _close(published.exempted, exempted_percent(derived)):
        return False
    pairs = [(value, derived.values.get(name, 0.0)) for name, value in published.figures.items()]
    pairs.append((published.pds, _clamp(derived.pds, 0.0, 100.0)))
    pairs.extend((value, _clamp(rolled_up, _DQR_BEST, _DQR_WORST)) for value, rolled_up in zip(published.dqr, derived.dqr))
    return all(_close(a, b) for a, b in pairs)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE_EPSILON * max(abs(a), abs(b))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _pds_text(derived: Derived) -> str:
    """PDS in percent. A weighted mean of shares in 0..100, clamped: rounding in the solve can leave the range."""
    return format_decimal(_clamp(derived.pds, 0.0, 100.0))


def _dqi_json(derived: Derived) -> dict[str, str]:
    """The DQRs, weighted means of ratings in 1..5; clamped, because rounding in a cycle's solve can give
    5.000000000000001, which PACT rejects."""
    technological, geographical, temporal = (format_decimal(_clamp(x, _DQR_BEST, _DQR_WORST)) for x in derived.dqr)
    return {"technologicalDQR": technological, "geographicalDQR": geographical, "temporalDQR": temporal}


@dataclass(frozen=True, slots=True)
class RecipeCard:
    """What a derived footprint copies from its product's recipe: names, unit, period, geography, the maker's
    outbound logistics, and the input lines (product id, quantity text, unit). The agent keeps one per product
    between batches; a decoded ``ProductRecipe`` took 7.7 KB of memory and 130 us to decode from its table."""

    company_name: str
    company_ids: tuple[str, ...]
    product_name: str
    product_description: str | None
    declared_unit: str
    declared_amount: str
    mass_per_unit: str | None  # kg per declared unit
    period: tuple[datetime, datetime]  # reference period start, end
    geography: tuple[tuple[str, str], ...]  # PACT name -> value of the geography fields the recipe gives
    #: kgCO2e per declared unit, the maker's own only: PACT v3 reports outbound logistics beside the
    #: cradle-to-gate figure, by the party that pays for it, so it is never rolled up.
    outbound_logistics: str | None
    lines: tuple[tuple[str, str, str | None], ...]  # (input product id, quantity per declared unit, its unit)
    standards: tuple[str, ...] = DEFAULT_STANDARDS  # crossSectoralStandards
    category_rule: tuple[str, str] | None = None  # (operator name, rule name): the recipe's categoryRuleId


def card_of(recipe: ProductRecipe) -> RecipeCard:
    """The :class:`RecipeCard` of a (validated) recipe."""
    return RecipeCard(
        company_name=recipe.company_name,
        company_ids=tuple(recipe.company_ids),
        product_name=recipe.product_name_company,
        product_description=recipe.product_description,
        declared_unit=recipe.declared_unit_of_measurement,
        declared_amount=recipe.declared_unit_amount,
        mass_per_unit=recipe.product_mass_per_declared_unit,
        period=(recipe.reference_period_start, recipe.reference_period_end),
        geography=tuple(_geography(recipe).items()),
        outbound_logistics=recipe.own_emissions.outbound_logistics_ghg_emissions,
        lines=tuple((line.product_id, line.quantity, line.unit) for line in recipe.inputs),
        standards=tuple(recipe.cross_sectoral_standards or DEFAULT_STANDARDS),
        category_rule=None if recipe.category_rule_id is None else (
            recipe.certification_scheme or recipe.company_name, recipe.category_rule_id),
    )


def pact_unit_of(recipe: RecipeCard) -> tuple[str, str] | None:
    """The PACT ``(declaredUnitOfMeasurement, declaredUnitAmount)`` of a recipe's declared unit, exactly
    (``2 吨`` is ``2000 kilogram``); None when the unit has no PACT equivalent, and then no PACT footprint
    is published for the product (docs/contract.md, "Declared units without a PACT equivalent")."""
    found = pact_declared_unit(recipe.declared_unit, to_decimal(recipe.declared_amount))
    if found is None:
        return None
    unit, amount = found
    if unit == recipe.declared_unit:
        return unit, recipe.declared_amount  # a PACT unit already: the recipe's text, as given
    return unit, format(amount.normalize(), "f")


def not_published_reason(recipe: RecipeCard) -> str:
    """The status reason of a complete product that gets no PACT footprint."""
    return (f"not published as a PACT footprint: declared unit {recipe.declared_unit!r} has no PACT "
            "declaredUnitOfMeasurement (the total above is per that unit)")


def ipcc_reports(derived: Derived) -> tuple[str, ...]:
    """ipccCharacterizationFactors of a derived footprint: the union of the reports used upstream (the engine
    carries it as bits through every edge, cycles included); nothing upstream: the latest, AR6."""
    return _report_names(derived.ipcc)


@functools.cache
def _report_names(versions: tuple[int, ...]) -> tuple[str, ...]:  # asked once per product a shock reaches
    return tuple(f"AR{version}" for version in versions) or DEFAULT_IPCC


def declarations(recipe: RecipeCard, derived: Derived) -> dict[str, object]:
    """The PACT fields a derived footprint declares rather than sums: IPCC reports, standards, the category
    rule, the exempted share (docs/contract.md, "Derived footprints")."""
    exempted = exempted_percent(derived)
    fields: dict[str, object] = {
        "ipccCharacterizationFactors": list(ipcc_reports(derived)),
        "crossSectoralStandards": list(recipe.standards),
        "exemptedEmissionsPercent": format_decimal(exempted) if exempted else "0",
    }
    if exempted:
        fields["exemptedEmissionsDescription"] = "Rolled up by pcfx from the exempted emissions its inputs declare."
    if recipe.category_rule is not None:
        operator, rule = recipe.category_rule
        fields["productOrSectorSpecificRules"] = [{"operator": RULE_OPERATOR, "ruleNames": [rule], "otherOperatorName": operator}]
    return fields


def derived_footprint(
    recipe: RecipeCard,
    product_id: str,
    derived: Derived,
    previous: Published | None,
    inputs: Sequence[DirectInput],
    drivers: Collection[str],
    now: datetime,
    sources: Sequence[dict[str, str]] = (),
    schema_url: str = "",
    validity: tuple[datetime, datetime] | None = None,
) -> ProductFootprint:
    """The new Active footprint of a recipe product (validated: a result that breaks a PACT sign rule raises
    ``ContractError`` naming the field, and the caller holds the product in error instead of publishing)."""
    texts = value_text(derived)
    dqi = _dqi_json(derived)
    pds = _pds_text(derived)
    previous_id = previous.pf_id if previous is not None else None
    declared = pact_unit_of(recipe)
    if declared is None:
        raise ValueError(not_published_reason(recipe))
    pcf = {
        "declaredUnitOfMeasurement": declared[0],
        "declaredUnitAmount": declared[1],
        "productMassPerDeclaredUnit": recipe.mass_per_unit,
        "referencePeriodStart": _utc_text(recipe.period[0]),
        "referencePeriodEnd": _utc_text(recipe.period[1]),
        **dict(recipe.geography),
        **texts,
        **({} if recipe.outbound_logistics is None else {"outboundLogisticsGhgEmissions": recipe.outbound_logistics}),
        **declarations(recipe, derived),
        "primaryDataShare": pds,
        "dqi": dqi,
    }
    if sources:
        pcf["secondaryEmissionFactorSources"] = list(sources)
    document = {
        "id": derived_id(product_id, previous_id),
        "specVersion": SPEC_VERSION,
        "created": _utc_text(now),
        "status": "Active",
        "companyName": recipe.company_name,
        "companyIds": list(recipe.company_ids),
        "productDescription": recipe.product_description or recipe.product_name,
        "productIds": [product_urn(product_id)],
        "productNameCompany": recipe.product_name,
        "comment": _change_comment(drivers, previous_id),
        "pcf": pcf,
        "extensions": [_inputs_extension(inputs, schema_url or inputs_schema_url(DEFAULT_API_BASE))],
    }
    if previous_id is not None:
        document["precedingPfIds"] = [previous_id]
    if validity is not None:
        document["validityPeriodStart"], document["validityPeriodEnd"] = (_utc_text(moment) for moment in validity)
    return ProductFootprint.from_json(document)


def secondary_sources(inputs: Iterable[Published]) -> list[dict[str, str]]:
    """The secondary emission-factor databases behind a product: the union of its direct inputs' lists.

    Each input's own list already names everything upstream of it, so one hop gives the whole chain.
    """
    found = {source for footprint in inputs for source in footprint.sources}
    return [{"name": name, "version": version} for name, version in sorted(found)]


@dataclass(frozen=True)
class Deprecation:
    """A product's footprint ``pf_id`` goes out again with status Deprecated (PACT v3 §7: the one transition
    allowed after creation). The step names it; the agent re-publishes the bytes it holds, status changed."""

    product_id: str
    pf_id: str


def deprecated(footprint: ProductFootprint) -> ProductFootprint:
    """The same footprint with status Deprecated: the one transition PACT v3 §7 allows after creation."""
    return footprint.model_copy(update={"status": "Deprecated"})


def status_of(product_id: str, derived: Derived, pf_id: str | None, upstream_ms: int | None, now: datetime) -> ProductStatus:
    """The status record published beside (or instead of) a derived footprint."""
    if derived.removed:
        state = "removed"
    elif derived.error is not None:
        state = "error"
    else:
        state = "complete" if derived.complete else "incomplete"
    value = derived.values.get("pcfExcludingBiogenicUptake")
    return ProductStatus(
        product_id=product_id,
        state=state,
        pf_id=pf_id if state == "complete" else None,
        pcf_excluding_biogenic_uptake=None if value is None or state == "error" else format_decimal(value),
        coverage=format_decimal(derived.coverage),
        missing=list(derived.missing),
        reasons=[derived.error] if derived.error else list(derived.reasons),
        upstream_changed_at=datetime.fromtimestamp(upstream_ms / 1000, tz=now.tzinfo) if upstream_ms else None,
        updated_at=now,
    )


def _geography(recipe: ProductRecipe) -> dict[str, str]:
    dumped = recipe.model_dump(by_alias=True, exclude_none=True, include={
        "geography_region_or_subregion", "geography_country", "geography_country_subdivision"})
    return dumped


def _utc_text(moment: datetime) -> str:
    """A date-time as PACT JSON writes it (``from_json`` reads PACT JSON)."""
    return moment.isoformat().replace("+00:00", "Z")


def _change_comment(drivers: Collection[str], previous_id: str | None) -> str:
    if previous_id is None:
        return "Computed by pcfx from the recipe and the current footprints of its direct inputs."
    if len(drivers) > EXACT_DRIVERS:  # the engine then lists every leaf changed in the batch, not only upstream
        return f"Recomputed by pcfx: {len(drivers)} supplier footprints changed at once, too many to name the upstream ones."
    if drivers:
        return "Recomputed by pcfx: upstream footprint(s) changed: " + ", ".join(sorted(drivers)) + "."
    return "Recomputed by pcfx: the recipe or the availability of its inputs changed."


def _inputs_extension(inputs: Sequence[DirectInput], schema_url: str) -> dict[str, object]:
    lines = [
        {"pfId": pf_id, "quantity": quantity, "unit": unit} if unit else {"pfId": pf_id, "quantity": quantity}
        for pf_id, quantity, unit in inputs
    ]
    return {
        "specVersion": "2.0.0",
        "dataSchema": schema_url,
        "documentation": INPUTS_EXTENSION_DOC,
        "data": {"directInputs": lines},
    }
