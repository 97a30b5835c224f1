"""``pcfx pull``: follow a supplier's PACT v3 host and publish its footprints into this exchange."""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pcfx.settings import Settings

if TYPE_CHECKING:
    from pcfx.connectors.pact_pull import Summary
    from pcfx.connectors.puller import Puller


@click.command()
@click.option("--url", required=True, help="The supplier's PACT v3 base URL (the part before /3/footprints).")
@click.option("--client-id", required=True, help="Our client id at the supplier's host.")
@click.option("--client-secret", required=True, help="Our client secret at the supplier's host.")
@click.option("--auth-url", default=None, help="The supplier's auth base URL, if not the base URL.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM file of the CA (or self-signed certificate) to trust for the supplier's HTTPS.")
@click.option("--once", is_flag=True, help="One full sync, then exit (retrying up to --attempts times).")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(min=1.0),
              help="Seconds between full syncs; PublishedEvents are acted on as they come.")
@click.option("--attempts", default=8, show_default=True, type=click.IntRange(min=1),
              help="With --once: tries before giving up (waits 1, 2, 4, ... s between them).")
@click.option("--events-from", default=None, metavar="CLIENT_ID",
              help="Only act on PublishedEvents this client POSTed to our `pcfx api` (default: all).")
@click.option("--supplier", "supplier_company", default=None, metavar="URN",
              help="The supplier's company URN: its footprints are published as this company (pcfx-publisher header), "
                   "so a host that names another company in companyIds, or another company's product, is refused "
                   "by the worker (docs/operations.md, threat model). Default: each footprint's first companyId.")
def pull(url: str, client_id: str, client_secret: str, auth_url: str | None, ca_file: Path | None, once: bool,
         interval: float, attempts: int, events_from: str | None, supplier_company: str | None) -> None:
    """Pull footprints from a supplier's PACT v3 host into Kafka, each footprint version exactly once.

    Authenticates with OAuth2 client credentials (token endpoint from /.well-known/openid-configuration,
    else /auth/token), pages through ListFootprints and publishes what is new or changed (PACT v2
    footprints converted); then repeats every --interval seconds and re-fetches the footprints named by
    PublishedEvents our `pcfx api` receives. What was published is remembered in
    <data dir>/pull/<host>.sqlite, so a restart publishes nothing twice.
    """
    from pcfx.connectors.pact_client import PactClient  # noqa: PLC0415
    from pcfx.connectors.puller import TRANSIENT, Puller, retrying  # noqa: PLC0415
    from pcfx.connectors.supplier import SupplierClient  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO lines drown the connector's own
    settings = Settings.from_env()
    verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    with PactClient(url, client_id, client_secret, auth_base_url=auth_url, verify=verify) as client, \
            SupplierClient(settings, publisher=supplier_company) as supplier:
        puller = Puller(settings, client, supplier.publish_footprints, events_from=events_from)
        try:
            if once:
                report(retrying(puller.sync, threading.Event(), attempts))
            else:
                follow(settings, puller, interval)
        except TRANSIENT as error:  # the supplier (or Kafka) stayed away for every attempt
            raise click.ClickException(f"{url}: gave up: {error}") from None
        finally:
            puller.close()


def follow(settings: Settings, puller: Puller, interval: float) -> None:
    """Run until SIGTERM or Ctrl-C, serving /metrics on ``PCFX_METRICS_PORT``."""
    from pcfx.metrics import start_metrics_server  # noqa: PLC0415

    try:
        start_metrics_server(settings.metrics_port, addr=settings.bind_host)
    except OSError as error:
        raise click.ClickException(f"port {settings.metrics_port} for /metrics is taken ({error}); "
                                   "set PCFX_METRICS_PORT") from error
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"pcfx pull: {puller.client.base_url} every {interval:g} s, "
               f"metrics at http://127.0.0.1:{settings.metrics_port}/metrics")
    try:
        puller.run(stop, interval, report)
    except KeyboardInterrupt:
        stop.set()


def report(summary: Summary) -> None:
    """One line per round; each rejected footprint on its own line naming the field."""
    for reason in summary.rejected:
        click.echo(f"pcfx pull: rejected {reason}", err=True)
    click.echo(f"pcfx pull: {summary}")
