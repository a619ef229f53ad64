"""The search playground (``GET /``), checked by its consumer: a real browser.

Debian's ``chromium`` through its ``chromedriver``, driven by Selenium, against the search
function running as a process over a corpus loaded by the real full-load pipeline. Selenium
is pointed at both binaries and told to stay offline: selenium-manager never downloads.

``HERMES_SCREENSHOT=<path>`` saves a screenshot of the results page there (docs/playground.png).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium
from tests.support.corpus import corpus, stamp, write_ndjson
from tests.support.site import search_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMG_TITLE = "<img src=x onerror=alert(1)>"
TYPED = "lighthouse kepers"  # "keepers", misspelt
DASH = "\N{EN DASH}"  # the page writes ranges as "11<en dash>20"
# Read at collection: the autouse isolate_environment fixture removes every HERMES_* variable.
SCREENSHOT = os.environ.get("HERMES_SCREENSHOT")

# (title, tags, content): 14 tagged "sea" (15 with the corpus' title-hit), so a filtered search still has a second page.
_LIGHTHOUSES = [
    ("Lighthouse keepers of the North Sea", ["sea", "keepers"], "Shifts, rations and letters home."),
    ("The lighthouse at Cap Fréhel", ["sea", "fr"], "A granite tower above pink cliffs."),
    ("A winter at Longships lighthouse", ["sea", "uk"], "Four keepers, one radio and the Atlantic on every side."),
    ("Lighthouse lenses: how Fresnel bent the light", ["sea", "engineering"], "Prisms that sent a beam 20 miles."),
    ("Keepers' logbooks from Eddystone lighthouse", ["sea", "keepers", "uk"], "Weather, ships sighted, oil burnt."),
    ("The last lighthouse keeper of Ar-Men", ["sea", "keepers", "fr"], "The hell of hells, as its keepers called it."),
    ("Storm season at Bell Rock lighthouse", ["sea", "uk"], "Waves over the lantern, and the keepers inside."),
    ("Painting the lighthouse stripes", ["sea", "craft"], "Why some towers wear bands, spirals or checks."),
    ("Lighthouse cats and other keepers", ["sea", "keepers"], "The animals that kept the stations company."),
    ("Automating the lighthouse, 1960 to 1990", ["sea", "engineering"], "The last keepers hand over to machines."),
    ("Fog signals beside the lighthouse", ["sea", "engineering"], "Horns, bells and guns for days without light."),
    ("Hook Head, the oldest working lighthouse", ["sea", "history"], "Eight hundred years of light."),
    ("Walking to the lighthouse at low tide", ["sea", "walks"], "A causeway that disappears twice a day."),
    ("Lighthouse tenders and supply boats", ["sea", "history"], "Relief crews, coal and the mail for the keepers."),
    ("Lake Superior lighthouse keepers", ["lake", "keepers", "us"], "Ice, isolation and the November gales."),
    ("Split Rock lighthouse", ["lake", "us"], "Built after one storm wrecked 29 ships."),
    ("River lighthouses of the Hudson", ["river", "us"], "Small beacons for the barges of the valley."),
    ("The Saugerties lighthouse inn", ["river", "us"], "Sleep where the keepers slept."),
]


def records() -> list[dict[str, Any]]:
    """The shared fixture corpus, lighthouses (tagged), a title that is an HTML injection, and 1000 more."""
    extra = [
        {"id": f"light-{i:02d}", "title": title, "content": content, "tags": tags, "updated_at": stamp(50 + i)}
        for i, (title, tags, content) in enumerate(_LIGHTHOUSES)
    ]
    extra.append(
        {
            "id": "img-xss",
            "title": f"{IMG_TITLE} Lighthouse lamp",
            "tags": ["web"],
            "updated_at": stamp(70),
            "content": "<script>window.pwned = true</script> alert",
        }
    )
    extra += [
        {"id": f"bulk-{i:04d}", "title": f"Bulk record {i}", "tags": ["bulk"], "updated_at": stamp(0)}
        for i in range(1000)
    ]
    return corpus() + extra


@pytest.fixture(scope="module")
def site(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The search function as a process over the corpus; its base URL."""
    from hermes.settings import Settings

    alias = f"play{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("playground") / "c.ndjson"
    conf = Settings(ES_URL=es_url, ES_INDEX=alias, DATA_SOURCE_URL=write_ndjson(path, records()))  # type: ignore[call-arg]
    with search_site(conf) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless chromium; skipped without it, except on CI, which must run it."""
    with chromium() as driver:
        yield driver


def _wait(driver: WebDriver, until: Callable[[WebDriver], Any], what: str) -> Any:
    # A check that read an element the page re-rendered meanwhile (hits after a search) reads it again.
    return WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,)).until(until, message=what)


def _args(driver: WebDriver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


def _total(driver: WebDriver) -> int:
    return int(driver.find_element(By.ID, "total").get_attribute("data-total") or -1)


def _hits(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#results .hit")


def _facet(driver: WebDriver, value: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#facets button.facet[data-value="{value}"]')


def _lighthouse_suggestions(driver: WebDriver) -> list[str] | bool:
    """The suggestions shown, once every one is about lighthouses; False while absent or being replaced."""
    try:
        if not driver.find_element(By.ID, "suggestions").is_displayed():
            return False
        texts = [li.text.lower() for li in driver.find_elements(By.CSS_SELECTOR, "#suggestions li")]
    except StaleElementReferenceException:
        return False
    return texts if texts and all("lighthouse" in t for t in texts) else False


def _csp_violations(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_the_page_is_served_with_a_strict_policy(site: str) -> None:
    page = requests.get(f"{site}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "script-src 'sha256-" in csp  # the inline script by hash: no 'unsafe-inline'
    assert "unsafe" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "public, max-age=300"
    assert 'id="results"' in page.text
    head = requests.head(f"{site}/", timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'hermes_http_requests_total{route="/",status="200"}' in requests.get(f"{site}/metrics", timeout=10).text


def test_search_flow_in_a_browser(site: str, browser: WebDriver) -> None:
    driver = browser
    driver.get(f"{site}/")
    _wait(driver, lambda d: _total(d) > 30, "the empty query lists every document")
    assert _args(driver) == {}

    # As-you-type suggestions, one keystroke at a time, then the keyboard.
    box = driver.find_element(By.ID, "q")
    for char in TYPED:
        box.send_keys(char)
    # Each keystroke's answer replaces the list (a slow machine shows several): read it whole, or again.
    _wait(driver, _lighthouse_suggestions, "suggestions of lighthouses appear")
    box.send_keys(Keys.ARROW_DOWN)
    first = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions li"), "the list")[0]
    assert first.get_attribute("aria-selected") == "true"
    box.send_keys(Keys.ARROW_UP)  # back to the typed text
    assert not driver.find_elements(By.CSS_SELECTOR, '#suggestions li[aria-selected="true"]')
    box.send_keys(Keys.ENTER)

    # Results of the misspelt query, highlighted; the suggestions close.
    _wait(driver, lambda d: _args(d).get("q") == [TYPED], "the query is in the URL")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hit mark"), "highlighted results")
    in_titles = {m.text.lower() for m in driver.find_elements(By.CSS_SELECTOR, "#results .hit h3 mark")}
    assert {"lighthouse", "keepers"} <= in_titles
    assert driver.find_elements(By.CSS_SELECTOR, "#results .hit .snippet mark")
    assert not driver.find_element(By.ID, "suggestions").is_displayed()
    assert "ms" in driver.find_element(By.ID, "total").text
    everything = _total(driver)
    assert everything > 20

    # A facet narrows the results and shows as active; clicking it again would remove it.
    _facet(driver, "sea").click()
    _wait(driver, lambda d: _args(d).get("tag") == ["sea"], "the tag is in the URL")
    _wait(driver, lambda d: "active" in (_facet(d, "sea").get_attribute("class") or ""), "the chip is active")
    sea = _total(driver)
    assert 10 < sea < everything
    assert _facet(driver, "sea").get_attribute("aria-pressed") == "true"
    assert driver.find_element(By.CSS_SELECTOR, '#filters button[data-value="sea"]').is_displayed()
    if SCREENSHOT:
        assert driver.save_screenshot(SCREENSHOT)

    # Pagination, and Back returns to the first page.
    first_page = [h.text for h in _hits(driver)]
    assert len(first_page) == 10
    driver.find_element(By.ID, "next").click()
    _wait(driver, lambda d: _args(d).get("from") == ["10"], "from advances in the URL")
    _wait(driver, lambda d: d.find_element(By.ID, "total").text.startswith(f"11{DASH}"), "the second page shows")
    assert len(_hits(driver)) == sea - 10
    assert not {h.text for h in _hits(driver)} & set(first_page)
    assert driver.find_element(By.ID, "next").get_attribute("disabled")
    driver.back()
    _wait(driver, lambda d: d.find_element(By.ID, "total").text.startswith(f"1{DASH}10 "), "Back shows page one")
    assert "from" not in _args(driver)
    assert not driver.find_element(By.ID, "error").is_displayed()
    assert _csp_violations(driver) == []


def test_choosing_a_suggestion_searches_for_it(site: str, browser: WebDriver) -> None:
    browser.get(f"{site}/?tag=sea")
    _wait(browser, lambda d: _total(d) == 15, "the sea documents")
    box = browser.find_element(By.ID, "q")
    for char in "storm se":
        box.send_keys(char)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions li"), "suggestions for 'storm se'")
    box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    title = "Storm season at Bell Rock lighthouse"
    _wait(browser, lambda d: _args(d) == {"q": [title], "tag": ["sea"]}, "the suggestion is searched, the tag kept")
    assert browser.find_element(By.ID, "q").get_attribute("value") == title
    _wait(browser, lambda d: _hits(d) and _hits(d)[0].find_element(By.TAG_NAME, "h3").text == title, "it is first")


def test_api_refusals_are_shown(site: str, browser: WebDriver) -> None:
    long_query = "x" * 257
    refusal = requests.get(f"{site}/search", params={"q": long_query}, timeout=10)
    assert refusal.status_code == 400
    browser.get(f"{site}/?q={long_query}")
    error = _wait(
        browser,
        lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"),
        "the error box shows",
    )
    assert error.text == refusal.json()["error"]["message"]
    assert _hits(browser) == []
    browser.get(f"{site}/?q=lighthouse&size=101")
    _wait(browser, lambda d: d.find_element(By.ID, "error").text.startswith("size:"), "size is refused")


def test_paging_stops_at_the_window_the_api_allows(site: str, browser: WebDriver) -> None:
    browser.get(f"{site}/?q=*&tag=bulk&from=980")
    _wait(browser, lambda d: d.find_element(By.ID, "total").text.startswith(f"981{DASH}990 of 1,000 "), "page 99")
    browser.find_element(By.ID, "next").click()
    _wait(browser, lambda d: _args(d).get("from") == ["990"], "page 100")
    _wait(browser, lambda d: d.find_element(By.ID, "total").text.startswith(f"991{DASH}1,000 "), "page 100 shows")
    assert browser.find_element(By.ID, "next").get_attribute("disabled")  # from=1000 would be refused
    browser.get(f"{site}/?q=*&from=990")  # more than 1000 match: the window ends before the results do
    _wait(browser, lambda d: _total(d) > 1000, "everything")
    assert browser.find_element(By.ID, "next").get_attribute("disabled")
    assert browser.find_element(By.ID, "page").text == "Page 100 of 100"


def test_markup_in_documents_is_shown_as_text(site: str, browser: WebDriver) -> None:
    browser.get(f"{site}/?q=alert")  # the title of img-xss and the content of xss, both markup
    _wait(browser, lambda d: len(_hits(d)) == 2, "both documents are found")
    results = browser.find_element(By.ID, "results")
    assert results.find_elements(By.CSS_SELECTOR, "mark")  # highlighting survived the escaping
    assert results.find_elements(By.CSS_SELECTOR, "img, script, b") == []
    assert IMG_TITLE in results.text
    assert "<script>alert(1)</script>" in results.text
    assert browser.execute_script("return window.pwned === undefined")
    browser.get(f"{site}/?q=*&tag=web")  # unhighlighted: the stored fields themselves
    _wait(browser, lambda d: len(_hits(d)) == 2, "both documents are listed")
    results = browser.find_element(By.ID, "results")
    assert results.find_elements(By.CSS_SELECTOR, "img, script, b") == []
    assert IMG_TITLE in results.text
    assert _csp_violations(browser) == []


def test_a_correction_is_offered_as_a_link(site: str, browser: WebDriver) -> None:
    browser.get(f"{site}/?q=bqllz")  # two edits from "bells" (fog signals): no hits, a correction
    link = _wait(browser, lambda d: d.find_element(By.ID, "did-you-mean"), "a correction is offered")
    assert link.text == "bells"
    link.click()
    _wait(browser, lambda d: _args(d).get("q") == ["bells"] and _total(d) >= 1, "the corrected search runs")
    assert not browser.find_elements(By.ID, "did-you-mean")


@pytest.fixture(scope="module")
def library_site(es_url: str) -> Iterator[str]:
    """The search function over the library demo (examples/library: declared facet fields)."""
    from hermes.settings import Settings
    from tests.integration.search.test_declared_fields import BOOKS, SCHEMA

    alias = f"lib{uuid.uuid4().hex[:8]}"
    conf = Settings(ES_URL=es_url, ES_INDEX=alias, DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA)  # type: ignore[call-arg]
    with search_site(conf) as url:
        yield url


def _field_value(driver: WebDriver, field: str, value: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#fields [data-field="{field}"] button[data-value="{value}"]')


def test_declared_facets_filter_disjunctively(library_site: str, browser: WebDriver) -> None:
    browser.get(f"{library_site}/?q=*")
    _wait(browser, lambda d: _total(d) == 28, "all 28 books")
    _field_value(browser, "language", "ru").click()
    _wait(browser, lambda d: _args(d).get("filter.language") == ["ru"] and _total(d) == 4, "the Russian books")
    assert _field_value(browser, "language", "ru").get_attribute("aria-pressed") == "true"
    # The language facet keeps every language (its own filter does not narrow it); the others narrow.
    assert _field_value(browser, "language", "en").find_element(By.TAG_NAME, "span").text == "15"
    assert {
        b.get_attribute("data-value")
        for b in browser.find_elements(By.CSS_SELECTOR, '#fields [data-field="authors"] button')
    } == {"Leo Tolstoy", "Fyodor Dostoevsky"}
    pages = browser.find_element(By.CSS_SELECTOR, '#fields [data-field="pages"] .range').text
    assert pages == f"551 {DASH} 1,225"
    _field_value(browser, "language", "fr").click()  # values of one field: any
    _wait(browser, lambda d: _args(d).get("filter.language") == ["ru", "fr"] and _total(d) == 8, "ru or fr")
    chip = browser.find_element(By.CSS_SELECTOR, '#filters button.filter[data-value="ru"]')
    assert chip.text == "language: ru \N{MULTIPLICATION SIGN}"
    chip.click()
    _wait(browser, lambda d: _args(d).get("filter.language") == ["fr"] and _total(d) == 4, "the chip removes ru")
    assert not _csp_violations(browser)


KEY_SECRET = "playground-test-secret-32-bytes-long!"


@pytest.fixture(scope="module")
def keyed_site(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The search function over the shared corpus with search keys required."""
    from hermes.settings import Settings

    path = tmp_path_factory.mktemp("keyed") / "c.ndjson"
    conf = Settings(  # type: ignore[call-arg]
        ES_URL=es_url,
        ES_INDEX=f"keyed{uuid.uuid4().hex[:8]}",
        DATA_SOURCE_URL=write_ndjson(path, corpus()),
        HERMES_SEARCH_KEY_SECRET=KEY_SECRET,
    )
    with search_site(conf) as url:
        yield url


def test_a_search_key_typed_in_the_page_is_sent(keyed_site: str, browser: WebDriver) -> None:
    from hermes.search.keys import mint

    browser.get(f"{keyed_site}/?q=lighthouse")
    error = _wait(
        browser,
        lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"),
        "the missing key is reported",
    )
    assert "search key is required" in error.text
    field = browser.find_element(By.ID, "key")
    field.send_keys(mint(KEY_SECRET, sub="browser"))
    field.send_keys(Keys.TAB)  # "change" fires: the search runs again, with the key
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hit"), "results with the key")
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert "browser" not in browser.current_url and "Bearer" not in browser.current_url  # never in the URL
