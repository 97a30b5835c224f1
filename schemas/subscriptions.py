"""Who receives which carbon labels: buyers' subscriptions, suppliers' entitlements, and the answer to each.

A buyer is identified by its company URN (``buyerId`` is that URN), so the exchange can tell from a
recipe's ``companyIds`` which products a buyer buys. Product ids are URNs; a recipe product's opaque id
``0042`` is ``urn:pcfx:product:0042`` (:func:`pcfx.streams.derive.product_urn`).

Ids here become Kafka keys (``<buyerId>|<productId>``) and topic names, so they must be URNs as RFC 8141
writes them: no spaces, no ``|``. Statuses are strings, not Avro enums, so a new state never breaks an
old reader.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StrictInt

from pcfx.schemas.base import ContractModel
from pcfx.schemas.pact_types import NonEmptyString, UtcMillis

KEY_SEPARATOR = "|"
# RFC 8141: "urn:" NID ":" NSS; the NID is 2..32 letters, digits or hyphens; the NSS is URI path characters.
URN_SYNTAX = re.compile(r"[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#&~]+")


def rfc8141_urn(text: str) -> str:
    """A URN as RFC 8141 writes it: ``urn:<namespace>:<specific string>``, no spaces and no ``|``."""
    if not URN_SYNTAX.fullmatch(text):
        raise ValueError("not a URN: write urn:<namespace>:<specific string> without spaces or '|' (RFC 8141)")
    return text


def web_url(text: str) -> str:
    """An absolute http(s) URL with a host: where webhook events are POSTed."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http:// or https:// URL with a host")
    return text


StrictUrn = Annotated[str, AfterValidator(rfc8141_urn)]
WebUrl = Annotated[str, AfterValidator(web_url)]
SubscriptionState = Literal["active", "pending", "rejected", "cancelled"]


def subscription_key(buyer_id: str, product_id: str) -> str:
    """Kafka key of a subscription, its status and its labels: ``<buyer URN>|<product URN>``."""
    return f"{buyer_id}{KEY_SEPARATOR}{product_id}"


class Subscription(ContractModel):
    """Buyer ``buyerId`` wants the labels of ``productId``; ``active: false`` (or a tombstone) unsubscribes.

    ``supplierCompanyId`` is informative (whom the buyer thinks it buys from); what the buyer may see is
    decided by the supplier side (see :class:`Entitlement`). With ``webhookUrl``, every label version is
    also POSTed there as a PACT v3 PublishedEvent.
    """

    record_kind: ClassVar[str] = "subscription"
    label_keys: ClassVar[tuple[str, ...]] = ("buyerId", "productId")
    avro_name: ClassVar[str] = "Subscription"

    buyer_id: StrictUrn
    product_id: StrictUrn
    supplier_company_id: StrictUrn | None = None
    webhook_url: WebUrl | None = None
    active: StrictBool = True
    created_at: UtcMillis

    @property
    def key(self) -> str:
        return subscription_key(self.buyer_id, self.product_id)


class Entitlement(ContractModel):
    """The supplier's word: may ``buyerId`` see the labels of ``productId``?

    It counts only when ``supplierCompanyId`` is one of the product's owners (the ``companyIds`` of its
    footprint). ``granted: false`` withholds a product even from a buyer whose recipe lists it.
    """

    record_kind: ClassVar[str] = "entitlement"
    label_keys: ClassVar[tuple[str, ...]] = ("supplierCompanyId", "buyerId", "productId")
    avro_name: ClassVar[str] = "Entitlement"

    supplier_company_id: StrictUrn
    buyer_id: StrictUrn
    product_id: StrictUrn
    granted: StrictBool = True
    created_at: UtcMillis

    @property
    def key(self) -> str:
        return KEY_SEPARATOR.join((self.supplier_company_id, self.buyer_id, self.product_id))


class SubscriptionStatus(ContractModel):
    """The exchange's answer to a subscription, re-published whenever it changes.

    ``active``: labels flow. ``pending``: the buyer is entitled but no footprint of the product has arrived.
    ``rejected``: not entitled or unknown product, ``reason`` says which. ``cancelled``: unsubscribed.
    """

    record_kind: ClassVar[str] = "subscription status"
    label_keys: ClassVar[tuple[str, ...]] = ("buyerId", "productId")
    avro_name: ClassVar[str] = "SubscriptionStatus"

    buyer_id: NonEmptyString
    product_id: NonEmptyString
    state: SubscriptionState
    reason: NonEmptyString
    updated_at: UtcMillis


class WebhookAttempt(ContractModel):
    """How one POST of label ``version`` to its webhook went; the agent that owns the outbox books it."""

    record_kind: ClassVar[str] = "webhook attempt"
    label_keys: ClassVar[tuple[str, ...]] = ("version",)
    avro_name: ClassVar[str] = "WebhookAttempt"

    version: StrictInt = Field(ge=1)
    delivered: StrictBool
    attempted_at: UtcMillis


class Partner(ContractModel):
    """A partner's PACT v3 host: where requests for its products go (``RequestCreatedEvent``) and where its
    webhooks authenticate (PACT: the notifier gets a token at the receiver's token endpoint)."""

    record_kind: ClassVar[str] = "partner"
    label_keys: ClassVar[tuple[str, ...]] = ("companyId",)
    avro_name: ClassVar[str] = "Partner"

    company_id: StrictUrn
    base_url: WebUrl
    auth_base_url: WebUrl | None = None
    client_id: NonEmptyString
    client_secret: NonEmptyString
    verify_tls: StrictBool = True
    updated_at: UtcMillis

    @property
    def key(self) -> str:
        return self.company_id

    def covers(self, url: str) -> bool:
        """Does ``url`` lie on this partner's host (same scheme and host, under its base path)? Its token is
        only ever sent there."""
        base, target = urlsplit(self.base_url), urlsplit(url)
        same_origin = (base.scheme.lower(), base.netloc.lower()) == (target.scheme.lower(), target.netloc.lower())
        root = base.path.rstrip("/")
        return same_origin and (target.path == root or target.path.startswith(root + "/"))
