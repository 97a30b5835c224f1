"""``pcfx web``: the PACT host with its web pages, over HTTPS, printing the address a person opens."""

from __future__ import annotations

import click

from pcfx.connectors.pact_api.api_cli import tls_server
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host, public_base
from pcfx.metrics import start_metrics_server
from pcfx.settings import Settings


def web_url(settings: Settings) -> str:
    """Where the web app's sign-in page is: ``/web/`` on the PACT host's public base."""
    return f"{public_base(settings)}/web/"


@click.command()
def web() -> None:
    """Serve the web app (buyer board, product and supplier pages) with the PACT API, over HTTPS."""
    settings = Settings.from_env()
    host = Host.open(settings)
    try:
        start_metrics_server(settings.api_metrics_port, addr=settings.bind_host)
    except OSError as error:
        raise click.ClickException(f"port {settings.api_metrics_port} for /metrics is taken ({error}); "
                                   "set PCFX_API_METRICS_PORT") from error
    server = tls_server(settings, create_app(settings, host=host))
    click.echo(f"pcfx web: {web_url(settings)} (sign in with a company's API client id and secret: pcfx clients add); "
               f"the PACT API at {public_base(settings)}, metrics at http://127.0.0.1:{settings.api_metrics_port}/metrics")
    server.run()
