"""``pcfx footprints``: print the exchange's current derived totals, read from the ``product-status`` topic."""

from __future__ import annotations

import csv
import json
import sys

import click

from pcfx.schemas.status import ProductStatus

CSV_COLUMNS = ("product_id", "total_kgco2e_per_unit", "state", "coverage", "pf_id")


def current_statuses(settings: object) -> dict[str, ProductStatus]:
    """The latest status per product (the topic is compacted; later records win)."""
    from pcfx.connectors.kafka_io import read_to_end  # noqa: PLC0415
    from pcfx.streams.codec import decode_model  # noqa: PLC0415

    latest: dict[str, ProductStatus] = {}
    for status in read_to_end(settings, settings.topic("product-status"), lambda _k, v: decode_model(ProductStatus, v)):  # type: ignore[attr-defined]
        latest[status.product_id] = status
    return latest


def show_progress(progress: object) -> None:
    """Rewrite the terminal's last line with where settling stands."""
    sys.stderr.write("\r\033[K" + progress.line())  # type: ignore[attr-defined]
    sys.stderr.flush()


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--settle", is_flag=True, help="First wait until everything published before this call has propagated "
              "(on a terminal, shows the records behind per stage).")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds --settle waits without progress before giving up (no limit while the workers move).")
def footprints(fmt: str, settle: bool, timeout: float) -> None:
    """Print every recipe product's current total (kgCO2e per declared unit) and state.

    ``--settle`` waits as long as the workers make progress: a large import may take minutes.

    CSV columns: product_id, total_kgco2e_per_unit (exact PACT decimal), state (complete, incomplete,
    error, removed), coverage (usable share of direct inputs, 0..1), pf_id (the Active derived footprint).
    """
    from pcfx.connectors.kafka_io import settle as wait_settled  # noqa: PLC0415
    from pcfx.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()
    if settle:
        terminal = sys.stderr.isatty()
        try:
            wait_settled(settings, timeout, progress=show_progress if terminal else None)
        except TimeoutError as error:
            raise click.ClickException(str(error)) from None
        finally:
            if terminal:
                sys.stderr.write("\n")
    statuses = sorted(current_statuses(settings).values(), key=lambda s: s.product_id)
    if fmt == "json":
        json.dump([s.to_json() for s in statuses], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in statuses:
        writer.writerow([s.product_id, s.pcf_excluding_biogenic_uptake or "", s.state, s.coverage, s.pf_id or ""])
