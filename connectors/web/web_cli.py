"""``pcfx web``: the PACT host with its web pages, over HTTPS, printing the address a person opens."""

from __future__ import annotations

import click

from pcfx.connectors.pact_api.api_cli import serve
from pcfx.connectors.pact_api.host import Host, public_base
from pcfx.settings import Settings


def web_url(settings: Settings) -> str:
    """Where the web app's sign-in page is: ``/web/`` on the PACT host's public base."""
    return f"{public_base(settings)}/web/"


@click.command()
def web() -> None:
    """Serve the web app (buyer board, product and supplier pages) with the PACT API, over HTTPS."""
    settings = Settings.from_env()
    host = Host.open(settings)
    serve(settings, host, f"pcfx web: {web_url(settings)} (sign in with a company's API client id and secret: "
                          f"pcfx clients add); the PACT API at {public_base(settings)}")
