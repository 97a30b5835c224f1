"""The topic catalogue: every Kafka topic pcfx uses, with its key, value schema, partitions and cleanup policy.

``pcfx topics`` creates them and ``pcfx topics --list`` prints this catalogue as the README's table. Topics
that hold the latest state per key are compacted, so a restarted worker or a new buyer can rebuild that
state from the topic alone; event streams are deleted after their retention. Every input topic has a
dead-letter topic ``dlq.<name>`` where records that fail validation go, with the reason; so has every
internal topic an agent reads, for a record it cannot decode: retrying that one would hold its partition
for good.

Names here are logical; the full name carries ``PCFX_TOPIC_PREFIX`` (:meth:`Settings.topic`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pcfx.settings import Settings

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

FROM_SETTINGS = "settings.partitions"
DAY_MS = 24 * 60 * 60 * 1000
BUYER_TOPIC_PREFIX = "labels.buyer."
SUPPLIER_TOPIC_PREFIX = "requests.supplier."
MAX_TOPIC_NAME = 249  # Kafka's limit, in characters


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the catalogue. ``partitions`` is a number or ``"settings.partitions"`` (PCFX_PARTITIONS)."""

    name: str
    key: str
    value: str
    partitions: int | Literal["settings.partitions"]
    cleanup: Literal["compact", "delete"]
    retention_days: int | None  # delete topics only; compacted topics keep the latest record per key for good
    why: str

    def partition_count(self, settings: Settings) -> int:
        return settings.partitions if self.partitions == FROM_SETTINGS else int(self.partitions)

    def configs(self) -> dict[str, str]:
        """Topic configs passed to Kafka on creation."""
        configs = {"cleanup.policy": self.cleanup}
        if self.retention_days is not None:
            configs["retention.ms"] = str(self.retention_days * DAY_MS)
        return configs


def dead_letter(spec: TopicSpec, failure: str = "failed validation") -> TopicSpec:
    """The dead-letter topic of an input topic: same key, a DeadLetter value that names record, field and reason."""
    return TopicSpec(
        name=f"dlq.{spec.name}",
        key="original key",
        value="DeadLetter",
        partitions=1,
        cleanup="delete",
        retention_days=30,
        why=f"Records from `{spec.name}` that {failure}, with the reason; kept 30 days for a person to fix.",
    )


FOOTPRINTS = TopicSpec(
    "footprints", "publisher id + product id (partitioned by product id)", "ProductFootprint", FROM_SETTINGS, "compact", None,
    "Supplier PCFs in; the latest of each product's owner is the input of every roll-up.",
)
RECIPES = TopicSpec(
    "recipes", "product id", "ProductRecipe", FROM_SETTINGS, "compact", None,
    "Bills of materials; the latest recipe per product defines its components.",
)
GRAPH_UPDATES = TopicSpec(
    "graph-updates", "leaf:<product id> or recipe:<product id>", "ProductFootprint or ProductRecipe (as admitted)", 1, "delete", 7,
    "Validated inputs of the engine, in the order the router plans them into steps (one partition: one order).",
)
RECOMPUTE_STEPS = TopicSpec(
    "recompute-steps", "step number (records go to the shard's partition)", "plan, handover or boundary (header pcfx-shard)",
    FROM_SETTINGS, "delete", 7,
    "Internal: the recompute's shards, one per partition. The router writes each shard its plan of a step; shards write "
    "each other the results their products use and the records of products that move (docs/engine.md, Shards).",
)
LABEL_SOURCES = TopicSpec(
    "label-sources", "recipe:<product id>", "recipe outline (JSON)", 1, "delete", 7,
    "Internal: what the label router needs of the recipes of `graph-updates` (ids, buyers, time, input URNs, "
    "certification), as JSON. One agent per topic: Faust's rebalance "
    "waits forever for a record that one of two agents on a topic took and the other had not yet.",
)
DERIVED = TopicSpec(
    "derived", "pf id", "ProductFootprint", FROM_SETTINGS, "compact", None,
    "Derived PCFs: Active ones and the Deprecated ones they replace, re-published with their new status.",
)
PRODUCT_STATUS = TopicSpec(
    "product-status", "product id", "ProductStatus", FROM_SETTINGS, "compact", None,
    "The engine's latest word per recipe product: complete (with its pf id), incomplete (coverage, missing), error.",
)
LABELS = TopicSpec(
    "labels", "buyer id + product id", "CarbonLabel", FROM_SETTINGS, "compact", None,
    "The current carbon label of each product for each subscribed buyer.",
)
SUBSCRIPTIONS = TopicSpec(
    "subscriptions", "buyer id + product id", "Subscription", FROM_SETTINGS, "compact", None,
    "Which buyer follows which product; a tombstone unsubscribes.",
)
ENTITLEMENTS = TopicSpec(
    "entitlements", "supplier id + buyer id + product id", "Entitlement", FROM_SETTINGS, "compact", None,
    "Suppliers' grants: which buyer may see the labels of which of their products (beyond what it buys).",
)
SUBSCRIPTION_STATUS = TopicSpec(
    "subscription-status", "buyer id + product id", "SubscriptionStatus", FROM_SETTINGS, "compact", None,
    "The answer to each subscription: active, pending, rejected (with the reason) or cancelled.",
)
WEBHOOK_ATTEMPTS = TopicSpec(
    "webhook-attempts", "buyer id + product id", "WebhookAttempt", FROM_SETTINGS, "delete", 7,
    "Internal: outcomes of webhook POSTs, booked into the delivery table by the worker that owns the label.",
)
LABEL_INPUTS = TopicSpec(
    "label-inputs", "product URN", "ProductFootprint, ProductRecipe, Subscription or Entitlement (header pcfx-label-input)",
    FROM_SETTINGS, "delete", 7,
    "Internal: everything that changes a product's labels, re-keyed by product so one worker owns each product.",
)
REQUESTS = TopicSpec(
    "requests", "request id", "FootprintRequest", FROM_SETTINGS, "delete", 7,
    "PACT footprint requests; kept beyond the 72 h the PACT retry window lasts.",
)
OUTBOUND_REQUESTS = TopicSpec(
    "outbound-requests", "request id", "FootprintRequest", FROM_SETTINGS, "delete", 30,
    "Requests pcfx makes for inputs it lacks (a product held as incomplete); pcfx api delivers each to the supplier the recipe line names.",
)
RESPONSES = TopicSpec(
    "responses", "request id", "FootprintResponse", FROM_SETTINGS, "delete", 7,
    "Answers to footprint requests (fulfilled or rejected).",
)
INBOUND_EVENTS = TopicSpec(
    "inbound-events", "event source", "CloudEvent (JSON, structured mode)", FROM_SETTINGS, "delete", 7,
    "PACT events partners POST to `pcfx api` (PublishedEvent, answers to our requests) for the pull connector.",
)
INPUTS = (FOOTPRINTS, RECIPES, REQUESTS, SUBSCRIPTIONS, ENTITLEMENTS)
PARTNERS = TopicSpec(
    "partners", "company id", "Partner", 1, "compact", None,
    "Partners' PACT hosts and our credentials there (pcfx partners): requests for their products and authenticated webhooks go there.",
)
INTERNAL = (LABEL_SOURCES, LABEL_INPUTS, LABELS, WEBHOOK_ATTEMPTS)  # written by pcfx, read by its agents
UNREADABLE = "its agent could not read (written by another program or pcfx version; the partition went on)"
CATALOGUE: tuple[TopicSpec, ...] = (
    FOOTPRINTS, RECIPES, GRAPH_UPDATES, RECOMPUTE_STEPS, LABEL_SOURCES, DERIVED, PRODUCT_STATUS, LABELS, SUBSCRIPTIONS, REQUESTS, OUTBOUND_REQUESTS, RESPONSES, INBOUND_EVENTS,
    ENTITLEMENTS, SUBSCRIPTION_STATUS, LABEL_INPUTS, WEBHOOK_ATTEMPTS, PARTNERS,
    *(dead_letter(spec) for spec in INPUTS),
    dead_letter(GRAPH_UPDATES, "the recompute step failed on (a bug: the others of their batch went on)"),
    *(dead_letter(spec, UNREADABLE) for spec in INTERNAL),
)
BUYER_LABELS = TopicSpec(
    f"{BUYER_TOPIC_PREFIX}<buyer id>", "product id", "CarbonLabel", 1, "compact", None,
    "One buyer's labels only, created on demand; one partition keeps them in order.",
)
SUPPLIER_REQUESTS = TopicSpec(
    f"{SUPPLIER_TOPIC_PREFIX}<supplier id>", "request id", "FootprintRequest", 1, "delete", 30,
    "Requests for one supplier's missing footprints when it has no PACT host registered (pcfx partners); created on demand.",
)


def spec(name: str) -> TopicSpec:
    """The catalogue entry for a logical name; a name not in the catalogue is an error that names it."""
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    raise KeyError(f"{name!r} is not in the topic catalogue (known: {', '.join(t.name for t in CATALOGUE)})")


def buyer_topic_name(buyer_id: str) -> str:
    """Logical name of a buyer's label topic: ``labels.buyer.<buyer id>``.

    Kafka allows only ``[A-Za-z0-9._-]`` and treats ``.`` and ``_`` alike in metric names, so every other
    character, and ``.`` and ``_`` themselves, become ``_`` plus two hex digits per UTF-8 byte. That keeps
    distinct buyers on distinct topics: ``acme/eu`` -> ``acme_2feu``, ``acme_eu`` -> ``acme_5feu``.
    """
    if not buyer_id:
        raise ValueError("buyer id is empty")
    return BUYER_TOPIC_PREFIX + _escaped(buyer_id)


def supplier_topic_name(supplier_id: str) -> str:
    """Logical name of a supplier's request topic: ``requests.supplier.<supplier id>``, escaped like a buyer's."""
    if not supplier_id:
        raise ValueError("supplier id is empty")
    return SUPPLIER_TOPIC_PREFIX + _escaped(supplier_id)


def _escaped(company_id: str) -> str:
    return "".join(
        char if re.fullmatch(r"[A-Za-z0-9-]", char) else "".join(f"_{byte:02x}" for byte in char.encode())
        for char in company_id
    )


def create_topics(settings: Settings, names: Iterable[str] | None = None) -> list[str]:
    """Create the catalogue's topics (or only ``names``) that do not exist yet; return the full names created.

    Idempotent: existing topics are left as they are, and a topic another process creates at the same
    moment counts as existing. Returns once every created topic has a leader for each partition.
    """
    specs = CATALOGUE if names is None else [spec(name) for name in names]
    return _ensure(settings, {settings.topic(entry.name): entry for entry in specs})


def ensure_buyer_topic(settings: Settings, buyer_id: str) -> str:
    """Create the buyer's label topic if missing; return its full name."""
    full_name = settings.topic(buyer_topic_name(buyer_id))
    if len(full_name) > MAX_TOPIC_NAME:
        raise ValueError(f"buyer id {buyer_id!r} makes a topic name longer than {MAX_TOPIC_NAME} characters")
    _ensure(settings, {full_name: BUYER_LABELS})
    return full_name


def ensure_supplier_topic(settings: Settings, supplier_id: str) -> str:
    """Create the supplier's request topic if missing; return its logical name."""
    name = supplier_topic_name(supplier_id)
    if len(settings.topic(name)) > MAX_TOPIC_NAME:
        raise ValueError(f"supplier id {supplier_id!r} makes a topic name longer than {MAX_TOPIC_NAME} characters")
    _ensure(settings, {settings.topic(name): SUPPLIER_REQUESTS})
    return name


@dataclass(frozen=True)
class TopicState:
    """What the broker says about an existing topic."""

    name: str
    partitions: int
    configs: dict[str, str]  # only the keys the catalogue sets


def describe_topics(settings: Settings, full_names: list[str]) -> list[TopicState]:
    """Partitions and catalogue-relevant configs of existing topics, in the order asked."""
    from kafka.admin import ConfigResource, ConfigResourceType  # noqa: PLC0415

    keys = ["cleanup.policy", "retention.ms"]
    with admin_client(settings) as admin:
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(full_names)}
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, keys) for name in full_names]
        configs = admin.describe_configs(resources, config_filter="all")["topic"]
    return [
        TopicState(name, partitions[name], {key: configs[name][key]["value"] for key in keys if key in configs[name]})
        for name in full_names
    ]


def differences(entry: TopicSpec, state: TopicState, settings: Settings) -> list[str]:
    """How an existing topic differs from its catalogue entry, one phrase per difference (empty: it matches)."""
    found = []
    if state.partitions != entry.partition_count(settings):
        found.append(f"{state.partitions} partitions, catalogue says {entry.partition_count(settings)}")
    for key, wanted in entry.configs().items():
        actual = state.configs.get(key)
        if actual != wanted:
            found.append(f"{key}={actual}, catalogue says {wanted}")
    return found


def admin_client(settings: Settings) -> KafkaAdminClient:
    """A kafka-python admin client for the settings' brokers; use it as a context manager."""
    from kafka import KafkaAdminClient  # noqa: PLC0415  (import cost only where Kafka is talked to)

    from pcfx.ops.kafka import require_broker  # noqa: PLC0415

    require_broker(settings.bootstrap_servers)
    return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id=f"{settings.app_id}-admin")


def _ensure(settings: Settings, wanted: dict[str, TopicSpec]) -> list[str]:
    from kafka.errors import TopicAlreadyExistsError, for_code  # noqa: PLC0415

    with admin_client(settings) as admin:
        existing = set(admin.list_topics())
        missing = {name: entry for name, entry in wanted.items() if name not in existing}
        if not missing:
            return []
        request = {
            name: {
                "num_partitions": entry.partition_count(settings),
                "replication_factor": settings.replication_factor,
                "configs": entry.configs(),
            }
            for name, entry in missing.items()
        }
        created = []
        for outcome in admin.create_topics(request, raise_errors=False)["topics"]:
            error = for_code(outcome["error_code"])
            if outcome["error_code"] == 0:
                created.append(outcome["name"])
            elif error is not TopicAlreadyExistsError:
                raise error(f"cannot create topic {outcome['name']}: {outcome.get('error_message') or error.__name__}")
        admin.wait_for_topics(created)
    return created
