"""The pages in a real browser, on the suite's database: what a person sees, and an audit."""

import re

import pytest
import requests

from tests import browser
from tests.support import running_server
from tests.web_world import AS_OF, make_web_world

REASON = browser.missing()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(REASON is not None, reason=f"browser tests skipped: {REASON}"),
]


@pytest.fixture
def site(app, client, auth, database_url, tmp_path):
    """The web world served by ``friendsgroup serve``, and a browser."""
    world = make_web_world(client, auth)
    with running_server(database_url, tmp_path, workers=1) as server:
        driver = browser.chrome()
        try:
            yield server.url, driver, world
        finally:
            driver.quit()


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_pages_in_a_browser(site, tmp_path):
    base, driver, world = site
    from selenium.webdriver.common.by import By

    report = requests.get(
        f"{base}/api/v1/groups/friends/members", params={"as_of": AS_OF}, timeout=10
    ).json()
    driver.get(f"{base}/groups/friends?as_of={AS_OF}")
    figures = {
        e.get_attribute("data-figure"): int(e.text)
        for e in driver.find_elements(By.CSS_SELECTOR, ".headline [data-figure]")
    }
    assert figures == {
        "count": report["count"],
        "possibly_members": report["possibly_members"],
        "announced": report["announced"]["count"],
    }
    shown = [
        row.get_attribute("data-code")
        for row in driver.find_elements(By.CSS_SELECTOR, "table.members tbody tr")
    ]
    assert sorted(shown) == sorted(m["code"] for m in report["members"])
    line = driver.find_element(By.CSS_SELECTOR, "svg.chart path.counted")
    assert line.size["width"] > 100 and line.is_displayed()
    browser.full_page_screenshot(driver, tmp_path / "group.png")
    assert (tmp_path / "group.png").stat().st_size > 10_000
    assert browser.accessibility_violations(driver) == []

    # The language switch: the same page in Japanese, with Japanese country names.
    driver.find_element(By.CSS_SELECTOR, 'a[hreflang="ja"]').click()
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.members tbody th a")]
    assert "日本" in names and "Japan" not in names
    assert "as_of=" + AS_OF in driver.current_url
    assert browser.accessibility_violations(driver) == []

    for path in [
        "/",
        "/participants/BRA",
        "/instruments/code",
        f"/events/{world.correction_id}",
        "/participants?q=jap",
    ]:
        driver.get(base + path)
        assert driver.find_element(By.TAG_NAME, "h1").text, path
        assert browser.accessibility_violations(driver) == [], path
        browser.full_page_screenshot(driver, tmp_path / (re.sub(r"\W+", "_", path) + ".png"))
    assert console_errors(driver) == []


def test_narrow_screens_and_the_api_docs(site, tmp_path):
    base, driver, _world = site
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(360, 800)
    driver.get(f"{base}/groups/friends")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360 + 1, "the page scrolls sideways at 360 px"
    driver.get(f"{base}/api/v1/docs")
    WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock"))
    )
    operations = driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    assert any("/api/v1/groups/{slug}/members" in o.text for o in operations)
    # Swagger UI ran under the strict CSP: nothing was refused.
    assert [m for m in console_errors(driver) if "Content Security Policy" in m] == []
