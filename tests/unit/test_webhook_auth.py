"""Which webhook POSTs carry a token: only those to a registered partner's own host (PACT notification rules)."""

from __future__ import annotations

from pcfx.agents.webhooks import authorization
from pcfx.schemas.subscriptions import Partner

FRAMES = "urn:pact:frames.example:company-id:1"
PARTNER = Partner.from_json({"companyId": FRAMES, "baseUrl": "https://pact.frames.example/pact", "clientId": "pcfx",
                             "clientSecret": "s", "updatedAt": "2026-01-01T00:00:00Z"})


class Tokens:
    """A directory with one partner, whose token endpoint issues 'tok-<n>'."""

    def __init__(self) -> None:
        self.issued = 0

    def find(self, company: str) -> Partner | None:
        return PARTNER if company.lower() == FRAMES else None

    def client(self, partner: Partner) -> "Tokens":
        return self

    def token(self) -> str:
        self.issued += 1
        return f"tok-{self.issued}"


def test_a_partner_webhook_on_its_host_carries_a_bearer_token():
    headers, partner = authorization(Tokens(), f"{FRAMES}|urn:pcfx:product:steel-1".encode(),
                                     "https://pact.frames.example/pact/3/events")
    assert headers == {"authorization": "Bearer tok-1"} and partner == PARTNER


def test_no_token_leaves_for_another_host_or_for_a_buyer_that_is_no_partner():
    directory = Tokens()
    off_host = authorization(directory, f"{FRAMES}|p".encode(), "https://collector.example/pact/3/events")
    stranger = authorization(directory, b"urn:pact:other.example:company-id:2|p", "https://pact.frames.example/pact/3/events")
    assert off_host == ({}, None) and stranger == ({}, None) and directory.issued == 0
