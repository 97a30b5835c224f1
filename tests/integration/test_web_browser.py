"""The web app in a real headless Chromium, against the real broker, a real ``pcfx worker`` and the PACT host
(with its Kafka followers) served over TLS in a thread.

The chain is the one of test_labels_e2e: ore (2, later 3 kgCO2e/kg) -> steel (0.5 own + 1.5 kg ore: 3.5, then
5) -> Wuxi Frames' frame. Wuxi Frames, the buyer, follows the steel; a company outside the chain must not
open the steel's page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pact_host import running
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from test_labels_e2e import FRAMES_CO, ORE, ORE_CO, STEEL, footprint, pcfx, publish_chain, running_worker, wait_for
from pcfx.bench.browser import chromium

import httpx
from kafka import KafkaProducer

from pcfx.connectors.kafka_io import confirm, settle
from pcfx.connectors.label_api import labels_of
from pcfx.connectors.pact_api.api_cli import tls_server
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.web.supplier import refused_of
from pcfx.schemas.models import ProductFootprint
from pcfx.settings import Settings
from pcfx.streams.codec import codec_for

OTHER_CO = "urn:pact:other.example:company-id:9"
BUYER_ID, BUYER_SECRET = "frames-web", "frames-secret-1"
OTHER_ID, OTHER_SECRET = "other-web", "other-secret-1"
ORE_ID, ORE_SECRET = "ore-web", "ore-secret-1"
PAGE_WAIT_S = 60.0


def page_wait(browser: WebDriver) -> WebDriverWait:
    """Waits on the open page. The pages redraw parts live (a new label replaces ``#label``, a board row is
    drawn again), so an element found in one poll may be gone when it is read: that poll counts as "not yet"."""
    return WebDriverWait(browser, PAGE_WAIT_S, ignored_exceptions=(StaleElementReferenceException,))


@contextmanager
def web_host(settings: Settings) -> Iterator[tuple[Host, str]]:
    """The PACT host with its web app over TLS, following the topics; yields it and the web base URL."""
    host = Host.open(settings)
    host.clients.add(BUYER_ID, FRAMES_CO, BUYER_SECRET)
    host.clients.add(OTHER_ID, OTHER_CO, OTHER_SECRET)
    host.clients.add(ORE_ID, ORE_CO, ORE_SECRET)
    with running(tls_server(settings, create_app(settings, host=host), log_level="warning")):
        yield host, f"https://127.0.0.1:{settings.api_port}"


def sign_in(browser: WebDriver, base: str, client_id: str, secret: str) -> None:
    """Type the credentials and press Enter (the form works from the keyboard)."""
    browser.get(f"{base}/web/")
    browser.find_element(By.ID, "client_id").send_keys(client_id)
    browser.find_element(By.ID, "client_secret").send_keys(secret + Keys.ENTER)
    page_wait(browser).until(lambda b: b.find_elements(By.ID, "board"))


def board_value(browser: WebDriver, product: str) -> str | None:
    rows = [row for row in browser.find_elements(By.CSS_SELECTOR, "#board tr[data-product]")
            if row.get_attribute("data-product") == product]
    return rows[0].find_element(By.CSS_SELECTOR, "td.value").text if rows else None


def decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def send_refused_footprint(settings: Settings) -> None:
    """What a supplier system that skips pcfx's checks might send: valid Avro whose temporalDQR (7) breaks
    the PACT 1..3 range; the worker dead-letters it."""
    record = ProductFootprint.from_json(footprint(ORE, "2", created="2025-03-01T00:00:00Z")).to_avro()
    record["pcf"]["dqi"] = {"technologicalDQR": "1", "geographicalDQR": "1", "temporalDQR": "7"}
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    confirm(producer, [producer.send(settings.topic("footprints"), key=b"ore-bad", value=codec_for("ProductFootprint").encode(record))])
    producer.close()


def screenshot(browser: WebDriver, path: Path) -> None:
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 0, f"empty screenshot {path}"


def test_a_buyer_sees_its_label_change_live_a_stranger_gets_403_a_supplier_sees_its_refused_record(settings: Settings, tmp_path: Path) -> None:
    with running_worker(settings, tmp_path / "worker.log"), web_host(settings) as (host, base):
        ore_v1 = publish_chain(settings)
        send_refused_footprint(settings)
        settle(settings)
        answer = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", "steel-1")
        assert answer.exit_code == 0, answer.output
        wait_for(lambda: any(l["value"] == "3.5" for l in labels_of(host.store.conn, FRAMES_CO)), "steel label v1 on the host")

        with chromium(tmp_path / "chromium") as browser:
            browser.get(f"{base}/web/board")
            assert "/web/login" in browser.current_url, "the board must ask for sign-in first"
            screenshot(browser, tmp_path / "sign-in.png")
            browser.find_element(By.ID, "client_id").send_keys(BUYER_ID)
            browser.find_element(By.ID, "client_secret").send_keys("not-the-secret")
            browser.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
            alert = page_wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "[role=alert]"))
            assert alert[0].text == "Wrong client id or secret."
            sign_in(browser, base, BUYER_ID, BUYER_SECRET)
            assert decimal(page_wait(browser).until(lambda b: board_value(b, STEEL))) == Decimal("3.5")
            screenshot(browser, tmp_path / "board-v1.png")
            browser.execute_script("window.pcfxSamePage = true;")  # gone if the page reloads

            update = tmp_path / "ore-v2.json"
            ore_v2 = footprint(ORE, "3", created="2025-02-10T00:00:00Z", preceding=ore_v1)
            update.write_text(json.dumps(ore_v2))
            published = pcfx(settings, "publish", str(update))
            assert published.exit_code == 0, published.output

            wait_for(lambda: any(l["version"] == 2 for l in labels_of(host.store.conn, FRAMES_CO)), "steel label v2 on the host")
            page_wait(browser).until(lambda b: decimal(board_value(b, STEEL)) == 5,
                                     message=f"the open board did not change by itself: {browser.get_log('browser')}")
            assert browser.execute_script("return window.pcfxSamePage === true;"), "the board reloaded instead of updating"
            row = browser.find_element(By.CSS_SELECTOR, "#board tr[data-product]")
            assert "(+42.9 %)" in row.text  # (5 - 3.5) / 3.5
            screenshot(browser, tmp_path / "board-v2.png")

            row.find_element(By.TAG_NAME, "a").click()
            page_wait(browser).until(lambda b: b.find_elements(By.ID, "history-chart"))
            history = [Decimal(cell.text) for cell in browser.find_elements(By.CSS_SELECTOR, "#history tbody td:nth-child(2)")]
            assert history == [Decimal("3.5"), Decimal("5")]
            assert browser.find_element(By.CSS_SELECTOR, "#label svg").get_attribute("aria-label").startswith("碳足迹")
            assert browser.find_element(By.CSS_SELECTOR, "#qr svg title").get_attribute("textContent")
            parts = {row.get_attribute("data-part"): Decimal(row.find_element(By.CSS_SELECTOR, "td.contribution").text)
                     for row in browser.find_elements(By.CSS_SELECTOR, "#explanation tbody tr")}
            assert parts == {ORE: Decimal("4.5"), "own": Decimal("0.5")}  # 1.5 kg x 3, and steel's own 0.5
            assert browser.find_element(By.ID, "moved").text.startswith("The total moved by +1.5 kgCO₂e")
            assert [item.get_attribute("data-part") for item in browser.find_elements(By.CSS_SELECTOR, "#changes li")] == [ORE], \
                browser.find_element(By.ID, "why").find_element(By.XPATH, "..").text
            screenshot(browser, tmp_path / "product.png")

            browser.execute_script("window.pcfxSamePage = true;")
            update.write_text(json.dumps(footprint(ORE, "4", created="2025-03-10T00:00:00Z", preceding=ore_v2["id"])))
            published = pcfx(settings, "publish", str(update))
            assert published.exit_code == 0, published.output
            page_wait(browser).until(
                lambda b: b.find_element(By.ID, "label").get_attribute("data-version") == "3",
                message="the open product page did not change by itself")
            assert browser.execute_script("return window.pcfxSamePage === true;"), "the product page reloaded"
            assert browser.find_element(By.ID, "moved").text.startswith("The total moved by +1.5 kgCO₂e (from 5.0 to 6.5)")

            browser.get(f"{base}/web/board?lang=zh")
            assert "贵公司的碳标识" in browser.find_element(By.TAG_NAME, "h1").text
            browser.find_element(By.CSS_SELECTOR, "header form button").click()
            page_wait(browser).until(lambda b: b.find_elements(By.ID, "client_id"))

            sign_in(browser, base, OTHER_ID, OTHER_SECRET)
            assert board_value(browser, STEEL) is None
            browser.get(f"{base}/web/products/{STEEL}")
            assert browser.find_element(By.TAG_NAME, "h1").text.startswith("403")
            screenshot(browser, tmp_path / "forbidden.png")

            browser.find_element(By.CSS_SELECTOR, "header form button").click()
            page_wait(browser).until(lambda b: b.find_elements(By.ID, "client_id"))
            wait_for(lambda: refused_of(host.store.conn, ORE_CO), "the refused ore record on the host")
            sign_in(browser, base, ORE_ID, ORE_SECRET)
            browser.find_element(By.LINK_TEXT, "Published").click()
            page_wait(browser).until(lambda b: b.find_elements(By.ID, "published"))
            published = [row.get_attribute("data-pf") for row in browser.find_elements(By.CSS_SELECTOR, "#published tbody tr")]
            assert published and published[0] != ore_v1  # the newest first: ore v3, which replaces v2
            first_row = browser.find_element(By.CSS_SELECTOR, "#published tbody tr")
            assert first_row.find_element(By.CSS_SELECTOR, "td.num").text == "3" and ore_v2["id"] in first_row.text
            refused = browser.find_element(By.CSS_SELECTOR, "#refused tr.refused")
            assert refused.get_attribute("data-key") == "ore-bad"
            assert refused.find_element(By.CSS_SELECTOR, ".reason").text == "breaks a PACT rule"
            assert refused.find_element(By.CSS_SELECTOR, ".fields").text == "pcf.dqi.temporalDQR"
            screenshot(browser, tmp_path / "supplier.png")


def test_pcfx_web_prints_its_address_and_serves_the_sign_in_page_there(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **settings.to_env()}
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "pcfx.cli", "web"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = wait_for(lambda: re.search(r"pcfx web: (https://\S+/web/)", log.read_text()), "pcfx web's address").group(1)

        def sign_in_page() -> httpx.Response | None:
            try:
                return httpx.get(url, verify=False, follow_redirects=True, timeout=5)  # the self-signed certificate
            except httpx.TransportError:
                return None

        page = wait_for(sign_in_page, "the sign-in page")
        assert page.status_code == 200 and 'id="client_secret"' in page.text
    finally:
        process.terminate()
        process.wait(30)
