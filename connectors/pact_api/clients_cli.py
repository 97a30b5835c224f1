"""``pcfx clients add|list|remove|grant|revoke``: who may call the PACT API, and what their company sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

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
    """One line per client: id, company, callback URL, and the company's grants."""
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
@click.option("--product", help="Product id (URN) whose footprints COMPANY may see.")
@click.option("--owner", help="Company id (URN) all of whose footprints COMPANY may see.")
def grant(company: str, product: str | None, owner: str | None) -> None:
    """Let COMPANY see the footprints of a product, or of an owner company."""
    change_grant(company, product, owner, granting=True)
    click.echo(f"granted {company}: {product or owner}")


@clients.command()
@click.argument("company")
@click.option("--product", help="Product id (URN) granted before.")
@click.option("--owner", help="Owner company id (URN) granted before.")
def revoke(company: str, product: str | None, owner: str | None) -> None:
    """Withdraw a grant made with ``grant``."""
    if not change_grant(company, product, owner, granting=False):
        raise click.ClickException(f"{company} had no such grant")
    click.echo(f"revoked {company}: {product or owner}")


def change_grant(company: str, product: str | None, owner: str | None, granting: bool) -> bool:
    """Grant or revoke; False when a revoked grant did not exist."""
    with opened_host() as host:
        change = host.readmodel.grant if granting else host.readmodel.revoke
        try:
            return change(company, product, owner_company=owner) is not False
        except ValueError as error:
            raise click.UsageError(str(error)) from error
