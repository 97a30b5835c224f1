"""``pcfx subscribe`` (a buyer follows products' labels) and ``pcfx entitle`` (a supplier grants a buyer access).

Bad input (an empty buyer, a malformed URN or URL) is refused before anything is published: one line on
stderr, exit 2. ``pcfx subscribe`` then waits for the exchange's answer to each product and prints it:
active, pending (entitled, no footprint yet), rejected (with the reason: not entitled, unknown product),
or cancelled; exit 1 if any was rejected or got no answer.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from pcfx.connectors.buyer import BuyerClient, RequestError, entitlement_for, product_owners, subscriptions_for


def refuse(command: str, error: Exception) -> NoReturn:
    click.echo(f"pcfx {command}: {error}", err=True)
    sys.exit(2)


@click.command()
@click.option("--buyer", required=True, metavar="URN", help="The buyer's company URN (its buyer id).")
@click.option("--product", "products", multiple=True, required=True, metavar="URN",
              help="A product URN, or a pcfx product id such as 0042 (repeatable).")
@click.option("--webhook", default=None, metavar="URL",
              help="Also POST each label version here (PACT v3 PublishedEvent).")
@click.option("--cancel", is_flag=True, help="Unsubscribe from the products instead.")
@click.option("--wait", "wait_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the exchange's answer; 0 publishes without waiting.")
def subscribe(buyer: str, products: tuple[str, ...], webhook: str | None, cancel: bool, wait_s: float) -> None:
    """Subscribe BUYER to the carbon labels of products; labels arrive on its own topic and webhook."""
    try:
        subscriptions = subscriptions_for(buyer, products, webhook, active=not cancel)
    except RequestError as error:
        refuse("subscribe", error)
    with BuyerClient() as client:
        if webhook and not cancel:
            from pcfx.connectors.webhook_targets import AllowList, TargetRefused, check_target  # noqa: PLC0415
            try:
                check_target(webhook, AllowList.parse(client.settings.webhook_allow))
            except TargetRefused as error:
                refuse("subscribe", error)
        since = client.status_offsets() if wait_s > 0 else {}
        if wait_s > 0 and not since:
            missing = client.settings.topic("subscription-status")
            raise click.ClickException(f"topic {missing} does not exist: run `pcfx topics`")
        client.subscribe(subscriptions)
        if wait_s <= 0:
            click.echo(f"published {len(subscriptions)} subscription(s) to {client.settings.topic('subscriptions')}")
            return
        answers = client.answers(subscriptions, since, wait_s)
    failed = False
    for subscription in subscriptions:
        status = answers.get(subscription.key)
        if status is None:
            click.echo(f"no answer {subscription.product_id}: none within {wait_s:g} s; is `pcfx worker` running?")
            failed = True
            continue
        click.echo(f"{status.state:<9} {subscription.product_id}: {status.reason}")
        failed = failed or status.state == "rejected"
    sys.exit(1 if failed else 0)


@click.command()
@click.option("--supplier", required=True, metavar="URN", help="The supplier's company URN; must own the product.")
@click.option("--buyer", required=True, metavar="URN", help="The buyer's company URN.")
@click.option("--product", required=True, metavar="URN", help="A product URN, or a pcfx product id such as 0042.")
@click.option("--revoke", is_flag=True, help="Withhold the product, even from a buyer whose recipe lists it.")
def entitle(supplier: str, buyer: str, product: str, revoke: bool) -> None:
    """Let BUYER see the labels of one of SUPPLIER's products (by default a buyer sees what it buys)."""
    try:
        grant = entitlement_for(supplier, buyer, product, granted=not revoke)
    except RequestError as error:
        refuse("entitle", error)
    with BuyerClient() as client:
        owners = product_owners(client.settings, grant.product_id)
        if owners is not None and grant.supplier_company_id.lower() not in owners:
            click.echo(f"pcfx entitle: {grant.product_id} is owned by {', '.join(owners)}, not "
                       f"{grant.supplier_company_id}: only its owner's grant has an effect; nothing published", err=True)
            sys.exit(1)
        client.entitle(grant)
    verb = "withheld" if revoke else "granted"
    click.echo(f"{verb} {grant.product_id} to {grant.buyer_id} (as {grant.supplier_company_id})")
