"""``pcfx watch --buyer URN``: a buyer's carbon labels as a table that redraws in place as labels change.

It reads the buyer's own topic ``labels.buyer.<id>`` (compacted: the latest label per product), so a new
terminal starts with every current label. Columns: product, value in kgCO2e per declared unit, change since
the previous version (absolute and %), primary data share, DQRs, status, whether re-verification is due
(a change of 10 % or more since the last verified value), and the time since the upstream change.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal

import click

from pcfx.connectors.display import for_people
from pcfx.schemas.models import CarbonLabel, to_decimal
from pcfx.schemas.subscriptions import rfc8141_urn

CLEAR = "\x1b[H\x1b[2J"  # ANSI: cursor home, clear screen
HEADERS = ("PRODUCT", "ID", "VALUE kgCO2e", "PER", "CHANGE", "PDS %", "DQR t/g/t", "STATUS", "RE-VERIFY", "UPSTREAM")
REDRAW_S = 1.0  # the age column moves even when no label does, in seconds


def change_text(label: CarbonLabel) -> str:
    """``+0.5 (+4.5 %)`` against the previous version's value; ``new`` for a first version."""
    if label.previous_value is None:
        return "new"
    value, previous = to_decimal(label.value), to_decimal(label.previous_value)
    delta = value - previous
    sign = "+" if delta >= 0 else ""
    if previous == 0:
        return f"{sign}{for_people(delta)}"
    percent = (delta / abs(previous) * 100).quantize(Decimal("0.1"))
    return f"{sign}{for_people(delta)} ({sign}{percent} %)"


def age_text(since: datetime | None, now: datetime) -> str:
    """Time since ``since`` in the largest whole unit: ``42 s``, ``5 min``, ``3 h``, ``2 d``."""
    if since is None:
        return "-"
    seconds = max(0, int((now - since).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def row(label: CarbonLabel, now: datetime) -> tuple[str, ...]:
    dqi = label.dqi
    ratings = (dqi.technological_dqr, dqi.geographical_dqr, dqi.temporal_dqr) if dqi else ()
    dqr = "/".join(for_people(r, decimals=2) for r in ratings) or "-"
    return (
        label.product_name,
        label.product_id,
        for_people(label.value),
        f"{for_people(label.declared_unit_amount)} {label.declared_unit_of_measurement}",
        change_text(label),
        for_people(label.primary_data_share, decimals=1) if label.primary_data_share else "-",
        dqr,
        label.status,
        "due" if label.reverification_due else "no",
        age_text(label.upstream_changed_at, now),
    )


def render_table(labels: Mapping[str, CarbonLabel], now: datetime) -> str:
    """The labels as an aligned text table, one row per product, sorted by product name then id."""
    ordered = sorted(labels.values(), key=lambda label: (label.product_name, label.product_id))
    rows = [HEADERS] + [row(label, now) for label in ordered]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]
    if not labels:
        lines.append("(no labels)")
    return "\n".join(lines) + "\n"


def fold(labels: dict[str, CarbonLabel], key: bytes | None, value: bytes | None) -> None:
    """Apply one record of a buyer topic: a label replaces the product's, a tombstone removes it."""
    from pcfx.streams.codec import decode_model  # noqa: PLC0415

    product = (key or b"").decode("utf-8", "replace")
    if value is None:
        labels.pop(product, None)
    else:
        labels[product] = decode_model(CarbonLabel, value)


@click.command()
@click.option("--buyer", required=True, metavar="URN", help="The buyer's company URN.")
@click.option("--once", is_flag=True, help="Print the current table and exit.")
def watch(buyer: str, once: bool) -> None:
    """Show BUYER's carbon labels live: value, change since last, data quality, age of the upstream change."""
    from pcfx.agents.topics import admin_client, buyer_topic_name  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    try:
        rfc8141_urn(buyer.strip())
    except ValueError as error:
        click.echo(f"pcfx watch: --buyer {buyer!r}: {error}", err=True)
        sys.exit(2)
    settings = Settings.from_env()
    topic = settings.topic(buyer_topic_name(buyer.strip()))
    with admin_client(settings) as admin:
        known = topic in admin.list_topics()
    if not known:
        raise click.ClickException(
            f"unknown buyer {buyer}: the exchange has issued it no label (no topic {topic}); "
            f"subscribe first: pcfx subscribe --buyer {buyer} --product URN"
        )
    labels: dict[str, CarbonLabel] = {}
    if once:
        from pcfx.connectors.kafka_io import read_to_end  # noqa: PLC0415

        for key, value in read_to_end(settings, topic, lambda k, v: (k, v)):
            fold(labels, key, value)
        click.echo(render_table(labels, datetime.now(timezone.utc)), nl=False)
        return
    follow(settings.bootstrap_servers, topic, labels)


def follow(bootstrap_servers: str, topic: str, labels: dict[str, CarbonLabel]) -> None:
    """Redraw the table whenever a label arrives, and every second for the age column, until Ctrl-C."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    from pcfx.ops.kafka import require_broker  # noqa: PLC0415

    require_broker(bootstrap_servers)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    drawn_at = 0.0
    try:
        while True:
            records = consumer.poll(timeout_ms=int(REDRAW_S * 1000)).get(partition, [])
            for record in records:
                fold(labels, record.key, record.value)
            if records or time.monotonic() - drawn_at >= REDRAW_S:
                click.echo(CLEAR + render_table(labels, datetime.now(timezone.utc)), nl=False)
                drawn_at = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
