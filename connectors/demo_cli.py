"""``pcfx demo [--check]``: see connectors/demo.py."""

from __future__ import annotations

import sys
import time

import click


@click.command()
@click.option("--check", is_flag=True, help="Exit 0 only if the buyer received the updated label with the right value.")
@click.option("--keep", is_flag=True, help="Keep the worker and the web app running after the scenario, until Ctrl-C.")
@click.option("--keep-topics", is_flag=True, help="Keep this run's topics (pcfx.demo.<run>.*) to look at; by default they are deleted at the end.")
def demo(check: bool, keep: bool, keep_topics: bool) -> None:
    """Run the e-bike supply-chain scenario end to end on this machine (SAMPLE data)."""
    from pcfx.connectors.demo import run  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    def wait_for_interrupt() -> None:
        click.echo("pcfx demo: the worker and the web app keep running; Ctrl-C stops them")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    result = run(Settings.from_env(), lambda line: click.echo(f"pcfx demo: {line}"), keep=wait_for_interrupt if keep else None,
                 keep_topics=keep_topics)
    verdict = "right" if result.correct else "WRONG"
    click.echo(
        f"pcfx demo: buyer saw {result.before.value} -> {result.after.value} kgCO2e per piece; "
        f"independent solve says {result.expected_before!r} -> {result.expected_after!r}: {verdict}"
    )
    if check and not result.correct:
        sys.exit(1)
