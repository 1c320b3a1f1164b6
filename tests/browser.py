"""Headless Chromium from the distribution's packages, driven by Selenium, with axe-core."""

import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and not shutil.which(path.name):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


def chrome(width: int = 1200, height: int = 900):
    """A headless Chromium; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--lang=en",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(str(driver_path)), options=options)


def full_page_screenshot(driver, path: Path, width: int = 1200, limit: int = 4000) -> None:
    """A screenshot of the whole page (up to ``limit`` pixels high)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height, limit))
    driver.save_screenshot(str(path))


def accessibility_violations(driver, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the loaded page at the given impacts."""
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [v for v in results["violations"] if v.get("impact") in impacts]
