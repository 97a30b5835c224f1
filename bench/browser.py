"""A real headless Chromium for the web app's browser tests and its latency bench, driven by Selenium
through Debian's chromedriver (``apt-get install chromium chromium-driver``; selenium is a test extra).

The flags keep Chromium from reaching for the network (the test machine may have none) and give it a
fresh profile; the host's certificate is the self-signed one ``pcfx api`` makes, hence
``--ignore-certificate-errors``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--ignore-certificate-errors", "--window-size=1200,900")


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with an empty profile in ``profile``; quit when the block ends."""
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver_path, "install Chromium: apt-get install -y chromium chromium-driver (see the README)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile.mkdir(parents=True, exist_ok=True)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
