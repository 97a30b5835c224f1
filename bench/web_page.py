"""``pcfx bench web``: how long from a supplier's publish until the buyer's open board shows the new label.

A real worker, the PACT host with its web app over TLS (its Kafka followers included), and a real headless
Chromium signed in as the buyer on ``/web/board``. A MutationObserver in the page stamps every change of the
row with ``Date.now()``; the bench stamps the publish with the same wall clock just before
``SupplierClient.publish`` and waits for the row to show the expected value before the next update. The
figure includes everything a person would wait for: validation, recompute, the label agent, the host's
follower (0.2 s polls), the event stream's 0.1 s polls, and the page's DOM update.

Chain: ore (a supplier footprint) -> steel (0.5 own + 1.5 kg ore) -> the buyer's frame; the buyer follows
the steel. Update i sets ore to 3 + i, so the steel reads 0.5 + 1.5 x (3 + i).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from pcfx.bench.common import Run, percentile, median, report, scratch, wait_until, worker
from pcfx.connectors.buyer import BuyerClient, subscriptions_for
from pcfx.connectors.label_api import labels_of
from pcfx.connectors.pact_api.api_cli import tls_server
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.supplier import SupplierClient
from pcfx.ops.kafka import free_port
from pcfx.schemas.samples import one_input_recipe, supplier_footprint
from pcfx.settings import Settings

ORE_CO, STEEL_CO, BUYER = ("urn:pact:ore.example:company-id:3", "urn:pact:steel.example:company-id:2",
                           "urn:pact:frames.example:company-id:1")
ORE, STEEL = "urn:pact:ore.example:product-id:ore-1", "urn:pcfx:product:steel-1"
CLIENT, SECRET = "bench-buyer", "bench-buyer-secret"
READY_TIMEOUT_S = 180.0  # a cold worker joins its group and issues the first label
UPDATE_TIMEOUT_S = 60.0
OBSERVER = """
window.pcfxChanges = [];
new MutationObserver(function () {
  var cell = document.querySelector('#board tr[data-product="%s"] td.value');
  if (cell) { window.pcfxChanges.push([cell.textContent, Date.now()]); }
}).observe(document.querySelector('#board tbody'), {childList: true, subtree: true, characterData: true});
"""


def ore(value: str, preceding: str | None) -> dict[str, Any]:
    return supplier_footprint(ORE, value, company=ORE_CO, company_name="Anhui Ore", preceding=preceding)


@contextmanager
def served(settings: Settings) -> Iterator[Host]:
    """The host with its web app over TLS in a thread, following the topics, until the block ends."""
    host = Host.open(settings)
    host.clients.add(CLIENT, BUYER, SECRET)
    server = tls_server(settings, create_app(settings, host=host), log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the web app to start", 60)
    try:
        yield host
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def measure(run: Run, settings: Settings, updates: int) -> list[float]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415 (a test extra)
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    from pcfx.bench.browser import chromium  # noqa: PLC0415

    latencies = []
    with worker(settings), served(settings) as host:
        first = ore("2", None)
        with SupplierClient(settings) as supplier:
            supplier.publish(first)
            supplier.publish_recipes([one_input_recipe("steel-1", STEEL_CO, "Jiangsu Steel", "0.5", ORE, "1.5"),
                                      one_input_recipe("frame-1", BUYER, "Wuxi Frames", "1", "steel-1", "4")])
        with BuyerClient(settings) as buyer:
            buyer.subscribe(subscriptions_for(BUYER, [STEEL]))
        wait_until(lambda: labels_of(host.store.conn, BUYER), "the first label on the host", READY_TIMEOUT_S, 0.3)
        base = f"https://127.0.0.1:{settings.api_port}"
        with chromium(settings.data_dir / "chromium") as browser:
            browser.get(f"{base}/web/login")
            browser.find_element(By.ID, "client_id").send_keys(CLIENT)
            browser.find_element(By.ID, "client_secret").send_keys(SECRET)
            browser.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
            WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#board tr[data-product]"))
            time.sleep(1.0)  # the event stream opens after the page loads
            browser.execute_script(OBSERVER % STEEL)
            previous = first["id"]
            for index in range(updates):
                value = Decimal(3 + index)
                expected = Decimal("0.5") + Decimal("1.5") * value
                update = ore(str(value), previous)
                started_ms = time.time() * 1000
                with SupplierClient(settings) as supplier:
                    supplier.publish(update)
                previous = update["id"]

                def shown() -> float | None:
                    for text, at in browser.execute_script("return window.pcfxChanges;"):
                        if text and Decimal(text) == expected:
                            return float(at)
                    return None

                at_ms = WebDriverWait(browser, UPDATE_TIMEOUT_S, poll_frequency=0.05).until(lambda _b: shown())
                latencies.append(at_ms - started_ms)
    return latencies


def main(run: Run) -> dict:
    updates = run.size(5, 40)
    with scratch(run, "web", api_port=free_port(), api_metrics_port=free_port()) as settings:
        latencies = measure(run, settings, updates)
    figures = {"updates": len(latencies), "p50_ms": median(latencies), "p99_ms": percentile(latencies, 0.99),
               "max_ms": max(latencies), "min_ms": min(latencies)}
    summary = (f"supplier publish -> label changed in the open board: p50 {figures['p50_ms']:.0f} ms, "
               f"p99 {figures['p99_ms']:.0f} ms over {len(latencies)} updates")
    return report("web", run, {"figures": figures, "latencies_ms": latencies}, summary)


if __name__ == "__main__":
    main(Run(Settings.from_env(), quick="--quick" in sys.argv[1:]))
