"""``pcfx kafka start|stop|status``: the local single-node broker, one line of output per command."""

from __future__ import annotations

from typing import NoReturn

import click

from pcfx.ops.kafka import LauncherError, broker_status, ensure_broker, stop_broker
from pcfx.settings import Settings

NOT_RUNNING_EXIT = 3  # the LSB init-script code for "program is not running"


@click.group()
def kafka() -> None:
    """Run Apache Kafka 4 (KRaft, one node) on 127.0.0.1 with its data in PCFX_DATA_DIR; no Docker needed."""


@kafka.command()
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for the broker to answer.")
def start(timeout: float) -> None:
    """Start the broker unless one already answers at PCFX_BOOTSTRAP_SERVERS; wait until it answers."""
    try:
        broker = ensure_broker(Settings.from_env(), timeout_s=timeout, progress=_note)
    except LauncherError as err:
        _fail(err)
    if broker.started:
        click.echo(f"kafka: started at {broker.bootstrap_servers} (pid {broker.pid}, log {broker.log_file})")
    elif broker.pid is not None:
        click.echo(f"kafka: already running at {broker.bootstrap_servers} (pid {broker.pid})")
    else:
        click.echo(f"kafka: a broker not started from this PCFX_DATA_DIR already answers at {broker.bootstrap_servers}")


@kafka.command()
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait after SIGTERM before SIGKILL.")
def stop(timeout: float) -> None:
    """Stop the broker started from this data dir (a no-op when none runs)."""
    try:
        pid = stop_broker(Settings.from_env(), timeout_s=timeout, progress=_note)
    except OSError as err:  # e.g. the pid belongs to another user
        _fail(err)
    click.echo(f"kafka: stopped (pid {pid})" if pid is not None else "kafka: not running (nothing to stop)")


@kafka.command()
def status() -> None:
    """Print one line; exit 0 when a broker answers, 3 when none does."""
    state = broker_status(Settings.from_env())
    click.echo(state.line)
    if not state.running:
        raise SystemExit(NOT_RUNNING_EXIT)


def _note(line: str) -> None:
    click.echo(line, err=True)


def _fail(err: Exception) -> NoReturn:
    click.echo(f"pcfx: {err}", err=True)
    raise SystemExit(1)
