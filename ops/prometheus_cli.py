"""``pcfx ops``: operator tools. ``pcfx ops prometheus`` runs a real Prometheus on the pcfx processes."""

from __future__ import annotations

import os

import click

from pcfx.ops import prometheus as prom
from pcfx.settings import Settings


@click.group()
def ops() -> None:
    """Operator tools for a local run."""


@ops.command()
@click.option(
    "--workers", default=1, show_default=True, help="Worker processes to scrape: ports PCFX_WORKER_WEB_PORT + 0..N-1."
)
@click.option("--background", is_flag=True, help="Detach, write a pid file in the data dir, return when ready.")
@click.option("--stop", "stop_", is_flag=True, help="Stop the background Prometheus of this data dir.")
@click.option(
    "--print-config",
    type=click.Choice(["local", "docker"]),
    help="Print the scrape configuration (for ops/prometheus/*.yml) instead of running Prometheus.",
)
def prometheus(workers: int, background: bool, stop_: bool, print_config: str | None) -> None:
    """Run Prometheus (Debian's package, installed when missing) on 127.0.0.1:PCFX_PROMETHEUS_PORT."""
    settings = Settings.from_env()
    try:
        if print_config:
            if print_config == "docker":
                click.echo(prom.render(prom.docker_config(settings), "--print-config docker"), nl=False)
            else:
                options = f"--print-config local --workers {workers}"
                click.echo(prom.render(prom.local_config(settings, workers), options), nl=False)
        elif stop_:
            pid = prom.stop(settings)
            click.echo(f"prometheus stopped (pid {pid})" if pid else "prometheus was not running")
        elif background:
            pid = prom.start_background(settings, workers)
            click.echo(f"prometheus running (pid {pid}) at http://127.0.0.1:{settings.prometheus_port}")
        else:
            argv = prom.command(settings, workers)
            os.execv(argv[0], argv)  # foreground: Prometheus takes over this process and its Ctrl-C
    except prom.PrometheusError as exc:
        raise click.ClickException(str(exc)) from exc
