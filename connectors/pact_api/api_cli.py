"""``pcfx api``: serve the PACT v3 host over HTTPS (TLS only) until interrupted."""

from __future__ import annotations

import click
import uvicorn
from starlette.applications import Starlette

from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host, public_base
from pcfx.connectors.pact_api.tls import certificate_files
from pcfx.metrics import start_metrics_server
from pcfx.settings import Settings


def tls_server(settings: Settings, app: Starlette, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``api_host:api_port`` speaking TLS only: plain HTTP on that port
    fails in the handshake and is never answered."""
    cert, key = certificate_files(settings)
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, ssl_certfile=str(cert),
                            ssl_keyfile=str(key), log_level=log_level, proxy_headers=False, server_header=False)
    return uvicorn.Server(config)


@click.command()
@click.option("--rebuild", is_flag=True, help="Drop the read model and replay the footprints and derived topics.")
def api(rebuild: bool) -> None:
    """Serve the PACT v3 API (Authenticate, ListFootprints, GetFootprint, Events) over HTTPS."""
    settings = Settings.from_env()
    host = Host.open(settings)
    if rebuild:
        host.rebuild()
        click.echo("pcfx api: read model cleared; replaying footprints and derived from the beginning")
    serve(settings, host, f"pcfx api: {public_base(settings)} (OpenAPI at /openapi.yaml)")


def serve(settings: Settings, host: Host, banner: str) -> None:
    """Serve the host's app over HTTPS and its /metrics on the plain-HTTP metrics port, after saying ``banner``
    (and where the metrics are); shared by ``pcfx api`` and ``pcfx web``, which serve the same app."""
    try:
        start_metrics_server(settings.api_metrics_port, addr=settings.bind_host)
    except OSError as error:
        raise click.ClickException(f"port {settings.api_metrics_port} for /metrics is taken ({error}); "
                                   "set PCFX_API_METRICS_PORT") from error
    server = tls_server(settings, create_app(settings, host=host))
    click.echo(f"{banner}, metrics at http://{settings.bind_host}:{settings.api_metrics_port}/metrics")
    server.run()
