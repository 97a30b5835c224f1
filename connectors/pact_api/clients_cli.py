"""``pcfx clients add|list|remove|grant|revoke``: who may call the PACT API, and what their company sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from pcfx.connectors.buyer import BuyerClient, RequestError, as_product_urn, entitlement_for
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.auth import Callback
from pcfx.settings import Settings


@contextmanager
def opened_host() -> Iterator[Host]:
    host = Host.open(Settings.from_env())
    try:
        yield host
    finally:
        host.store.close()


@click.group()
def clients() -> None:
    """Manage API clients (OAuth2 client credentials), each bound to a company."""


@clients.command()
@click.argument("client_id")
@click.option("--company", required=True, help="Company id (URN) the client acts for, e.g. urn:pact:acme.com:company-id:1.")
@click.option("--secret", help="Use this secret instead of a generated one (it may end up in shell history).")
@click.option("--callback-url", help="Base URL of the client's own PACT host: answers to its requests go there.")
@click.option("--callback-client-id", default="", help="Client id this host uses at the callback host.")
@click.option("--callback-secret", default="", help="Secret this host uses at the callback host.")
@click.option("--insecure-callback-tls", is_flag=True, help="Do not verify the callback host's certificate (tests only).")
def add(client_id: str, company: str, secret: str | None, callback_url: str | None, callback_client_id: str,
        callback_secret: str, insecure_callback_tls: bool) -> None:
    """Create CLIENT_ID and print its secret (shown only now; it is stored hashed)."""
    callback = None
    if callback_url:
        callback = Callback(callback_url, callback_client_id, callback_secret, not insecure_callback_tls)
    with opened_host() as host:
        try:
            created = host.clients.add(client_id, company, secret, callback)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"client_id={client_id}\nclient_secret={created}")


@clients.command(name="list")
def list_clients() -> None:
    """One line per client: id, company, callback URL, and the company's operator grants (--owner)."""
    with opened_host() as host:
        for client in host.clients.all():
            grants = ",".join(f"{kind}:{value}" for kind, value in host.readmodel.grants(client.company)) or "-"
            callback = client.callback.url if client.callback else "-"
            click.echo(f"{client.client_id}\tcompany={client.company}\tcallback={callback}\tgrants={grants}")


@clients.command()
@click.argument("client_id")
def remove(client_id: str) -> None:
    """Delete CLIENT_ID; its tokens stop working at once."""
    with opened_host() as host:
        if not host.clients.remove(client_id):
            raise click.ClickException(f"no client {client_id!r}")
    click.echo(f"removed {client_id}")


@clients.command()
@click.argument("company")
@click.option("--product", help="Product id (URN) whose footprints and labels COMPANY may see (an owner's grant).")
@click.option("--supplier", help="The owner granting --product; default: the owner of its newest footprint held.")
@click.option("--owner", help="Company id (URN) all of whose footprints COMPANY may read over the API (operator grant).")
def grant(company: str, product: str | None, supplier: str | None, owner: str | None) -> None:
    """Let COMPANY see a product (the same Entitlement record as ``pcfx entitle``), or read every footprint
    of an owner company over the API."""
    change_grant(company, product, supplier, owner, granting=True)
    click.echo(f"granted {company}: {product or owner}")


@clients.command()
@click.argument("company")
@click.option("--product", help="Product id (URN): withhold it from COMPANY (an Entitlement with granted false).")
@click.option("--supplier", help="The owner withholding --product; default: the owner of its newest footprint held.")
@click.option("--owner", help="Owner company id (URN) granted before with --owner.")
def revoke(company: str, product: str | None, supplier: str | None, owner: str | None) -> None:
    """Withdraw a grant: withhold a product, or end an operator grant made with ``grant --owner``."""
    if not change_grant(company, product, supplier, owner, granting=False):
        raise click.ClickException(f"{company} had no such grant")
    click.echo(f"revoked {company}: {product or owner}")


def change_grant(company: str, product: str | None, supplier: str | None, owner: str | None, granting: bool) -> bool:
    """Grant or revoke; False when a revoked operator grant did not exist. A product grant is published to
    ``entitlements``: one record type for labels and the API (:mod:`pcfx.streams.access`)."""
    if (product is None) == (owner is None):
        raise click.UsageError("grant either --product or --owner, not both or neither")
    with opened_host() as host:
        if owner is not None:
            change = host.readmodel.grant if granting else host.readmodel.revoke
            return change(company, owner_company=owner) is not False
        supplier = supplier or host.readmodel.owner_of(as_product_urn(product))  # type: ignore[arg-type]
    if supplier is None:
        raise click.UsageError(f"no footprint of {product} is held, so its owner is unknown: name it with --supplier")
    try:
        entitlement = entitlement_for(supplier, company, product, granted=granting)  # type: ignore[arg-type]
    except RequestError as error:
        raise click.UsageError(str(error)) from error
    with BuyerClient(Settings.from_env()) as client:
        client.entitle(entitlement)
    return True
