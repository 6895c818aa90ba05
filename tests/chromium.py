"""Headless Debian Chromium for the browser tests, driven by Selenium through Debian's chromedriver.

Without them the browser tests are skipped, except on CI (CI=true), where they must run and so fail.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL_HINT = "chromium/chromedriver missing: install with `bash tests/browser/install-chromium.sh` as root"
# Where the tests leave their screenshots for a person to look at (git-ignored).
ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts"


def chromium_missing() -> bool:
    return not (shutil.which("chromium") and shutil.which("chromedriver"))


def require_chromium() -> None:
    if chromium_missing():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests. {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)


@contextmanager
def chromium(width: int = 1400, height: int = 1800):
    """A headless Chromium that records the page's console messages (driver.get_log("browser"))."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, name: str) -> Path:
    """The whole page, as a PNG under test-artefacts/."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / name
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, driver.execute_script("return document.documentElement.scrollHeight") + 100)
    driver.save_screenshot(str(path))
    return path
