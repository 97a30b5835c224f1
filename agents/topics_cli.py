"""``pcfx topics``: create every topic of the catalogue, or print the catalogue with ``--list``."""

from __future__ import annotations

import click
from kafka.errors import KafkaError

from pcfx.agents.topics import (
    BUYER_LABELS,
    CATALOGUE,
    DAY_MS,
    FROM_SETTINGS,
    TopicSpec,
    create_topics,
    describe_topics,
    differences,
)
from pcfx.settings import Settings


@click.command()
@click.option("--list", "as_list", is_flag=True, help="Print the catalogue as a Markdown table; touch no broker.")
def topics(as_list: bool) -> None:
    """Create the topics pcfx uses (idempotent) and print each with its partitions and cleanup policy.

    Exits 1 when an existing topic differs from the catalogue, e.g. a state topic that is not compacted.
    """
    if as_list:
        _print_catalogue()
        return
    settings = Settings.from_env()
    try:
        created = set(create_topics(settings))
        states = describe_topics(settings, [settings.topic(entry.name) for entry in CATALOGUE])
    except KafkaError as err:
        click.echo(f"pcfx: cannot create topics at {settings.bootstrap_servers} ({err}); is a broker running?", err=True)
        raise SystemExit(1) from None
    mismatched = 0
    for entry, state in zip(CATALOGUE, states, strict=True):
        verb = "created" if state.name in created else "found"
        problems = differences(entry, state, settings)
        mismatched += bool(problems)
        note = f"  DIFFERS: {'; '.join(problems)}" if problems else ""
        click.echo(f"{verb:<8}{state.name:<40}partitions={state.partitions:<4}{_policy(state.configs)}{note}")
    if mismatched:
        click.echo(f"pcfx: {mismatched} existing topic(s) differ from the catalogue; fix or recreate them", err=True)
        raise SystemExit(1)


def _policy(configs: dict[str, str]) -> str:
    policy = configs.get("cleanup.policy", "?")
    if policy == "delete" and "retention.ms" in configs:
        return f"cleanup=delete retention={int(configs['retention.ms']) / DAY_MS:g} d"
    return f"cleanup={policy}"


def _print_catalogue() -> None:
    click.echo("Full names start with PCFX_TOPIC_PREFIX (default `pcfx.`).\n")
    click.echo("| topic | key | value | partitions | cleanup | why |\n| --- | --- | --- | --- | --- | --- |")
    for entry in (*CATALOGUE, BUYER_LABELS):
        cells = (f"`{entry.name}`", entry.key, entry.value, _partitions(entry), _cleanup(entry), entry.why)
        click.echo("| " + " | ".join(cells) + " |")


def _partitions(entry: TopicSpec) -> str:
    return "PCFX_PARTITIONS" if entry.partitions == FROM_SETTINGS else str(entry.partitions)


def _cleanup(entry: TopicSpec) -> str:
    return entry.cleanup if entry.retention_days is None else f"{entry.cleanup}, {entry.retention_days} d"
