"""``pcfx settings``: print the effective configuration, one PCFX_* variable a line."""

from __future__ import annotations

import click

from pcfx.settings import ENV_PREFIX, Settings


@click.command()
@click.option("--markdown", is_flag=True, help="Print the README table of every variable instead.")
def settings(markdown: bool) -> None:
    """Show the PCFX_* settings in force (environment over defaults)."""
    current = Settings.from_env()
    if markdown:
        click.echo("| variable | default | meaning |\n| --- | --- | --- |")
        for var, default, text in current.env_table():
            click.echo(f"| `{var}` | `{default}` | {text} |")
        return
    for name in type(current).model_fields:
        click.echo(f"{ENV_PREFIX}{name.upper()}={getattr(current, name)}")
