"""``pcfx demo [--check]``: see connectors/demo.py."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--check", is_flag=True, help="Exit 0 only if the buyer received the updated label with the right value.")
@click.option("--keep-topics", is_flag=True, help="Keep this run's topics (pcfx.demo.<run>.*) to look at; by default they are deleted at the end.")
def demo(check: bool, keep_topics: bool) -> None:
    """Run the e-bike supply-chain scenario end to end on this machine (SAMPLE data)."""
    from pcfx.connectors.demo import run  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    result = run(Settings.from_env(), lambda line: click.echo(f"pcfx demo: {line}"), keep_topics=keep_topics)
    verdict = "right" if result.correct else "WRONG"
    click.echo(
        f"pcfx demo: buyer saw {result.before.value} -> {result.after.value} kgCO2e per piece; "
        f"independent solve says {result.expected_before!r} -> {result.expected_after!r}: {verdict}"
    )
    if check and not result.correct:
        sys.exit(1)
