"""``pcfx worker``: run the Faust agents (validate, recompute, labels) against the configured Kafka."""

from __future__ import annotations

import click


@click.command()
@click.option("--web-port", type=int, default=None, help="Port of this worker's /metrics page (default PCFX_WORKER_WEB_PORT).")
@click.option("--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"]), show_default=True)
def worker(web_port: int | None, loglevel: str) -> None:
    """Run the stream agents until interrupted; start more workers to share the partitions."""
    from pcfx.agents.app import create_app  # noqa: PLC0415
    from pcfx.agents.topics import create_topics  # noqa: PLC0415
    from pcfx.agents.worker import PcfxWorker  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()
    create_topics(settings)
    wiring = create_app(settings, web_port=web_port)
    worker = PcfxWorker(wiring.app, loglevel=loglevel, quiet=True, stop_timeout_s=settings.worker_stop_timeout_s)
    worker.execute_from_commandline()
