"""The partner directory: each partner company's PACT v3 host and the credentials this exchange uses there.

It lives on the compacted ``partners`` topic (key: company URN, a tombstone removes), so every process
reads the same directory: the worker authenticates label webhooks with it and delivers requests for
missing inputs to the supplier's host. ``pcfx partners add|list|remove`` writes and reads it.

:class:`Directory` keeps a copy read from the topic and reads it again once it is older than
``REFRESH_S``; a partner added while a worker runs is used from the next refresh on.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import click

from pcfx.connectors.kafka_io import producer, read_to_end, send_all
from pcfx.connectors.pact_client import PactClient
from pcfx.schemas.errors import ContractError
from pcfx.schemas.subscriptions import Partner
from pcfx.settings import Settings
from pcfx.streams.codec import decode_model, encode_model

REFRESH_S = 15.0  # how old the worker's copy of the directory may get, in seconds


def read_partners(settings: Settings) -> dict[str, Partner]:
    """The directory as the topic holds it now: company URN (lower case) -> partner."""
    found: dict[str, Partner] = {}
    for key, value in read_to_end(settings, settings.topic("partners"), lambda k, v: (k, v)):
        company = (key or b"").decode("utf-8", "replace").lower()
        if value is None:
            found.pop(company, None)
            continue
        try:
            found[company] = decode_model(Partner, value)
        except ValueError:  # a record another program wrote: that partner stays unknown
            found.pop(company, None)
    return found


class Directory:
    """A refreshed copy of the directory, and one PACT client (with its token cache) per partner."""

    def __init__(self, settings: Settings, refresh_s: float = REFRESH_S) -> None:
        self.settings = settings
        self.refresh_s = refresh_s
        self._partners: dict[str, Partner] = {}
        self._read_at = float("-inf")
        self._clients: dict[str, PactClient] = {}  # registration (as JSON) -> client
        self._lock = threading.Lock()

    def find(self, company: str) -> Partner | None:
        """The partner registered for ``company``, reading the topic again when the copy is stale (blocking)."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_s:
                self._partners = read_partners(self.settings)
                self._read_at = time.monotonic()
            return self._partners.get(company.lower())

    def client(self, partner: Partner) -> PactClient:
        """The PACT client for ``partner`` (a changed registration gets a new one)."""
        with self._lock:
            registration = partner.model_dump_json()
            client = self._clients.get(registration)
            if client is None:
                client = PactClient(partner.base_url, partner.client_id, partner.client_secret,
                                    auth_base_url=partner.auth_base_url, verify=partner.verify_tls)
                self._clients[registration] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


@click.group()
def partners() -> None:
    """Partners' PACT hosts: where requests for their products go and how webhooks to them authenticate."""


@partners.command()
@click.argument("company")
@click.option("--url", required=True, help="Base URL of the partner's PACT v3 host.")
@click.option("--auth-url", default=None, help="Base URL of its token endpoint, if not --url.")
@click.option("--client-id", required=True, help="The client id the partner issued to this exchange.")
@click.option("--client-secret", required=True, help="Its secret (stored on the partners topic).")
@click.option("--insecure-tls", is_flag=True, help="Do not verify the partner's certificate (tests only).")
def add(company: str, url: str, auth_url: str | None, client_id: str, client_secret: str, insecure_tls: bool) -> None:
    """Register (or replace) COMPANY's PACT host."""
    try:
        fields = {"companyId": company, "baseUrl": url.rstrip("/"), "clientId": client_id, "clientSecret": client_secret,
                  "verifyTls": not insecure_tls, "updatedAt": datetime.now(timezone.utc)}
        partner = Partner.from_json(fields | ({"authBaseUrl": auth_url.rstrip("/")} if auth_url else {}))
    except ContractError as error:
        raise click.UsageError(str(error)) from error
    _send(partner.key, encode_model(partner))
    click.echo(f"partner {company}: {partner.base_url}")


@partners.command(name="list")
def list_partners() -> None:
    """One line per partner: company, host, client id (never the secret)."""
    for company, partner in sorted(read_partners(Settings.from_env()).items()):
        tls = "" if partner.verify_tls else "\tinsecure-tls"
        click.echo(f"{partner.company_id}\t{partner.base_url}\tclient_id={partner.client_id}{tls}")


@partners.command()
@click.argument("company")
def remove(company: str) -> None:
    """Forget COMPANY's PACT host."""
    settings = Settings.from_env()
    found = read_partners(settings).get(company.lower())
    if found is None:
        raise click.ClickException(f"no partner {company!r}")
    _send(found.key, None)
    click.echo(f"removed {company}")


def _send(key: str, value: bytes | None) -> None:
    settings = Settings.from_env()
    kafka = producer(settings)
    try:
        send_all(kafka, settings.topic("partners"), [(key.encode(), value)])
    finally:
        kafka.close()
