"""InstantSearch.js on Hermes, checked by its consumer: the example page (examples/instantsearch) with
InstantSearch.js and algoliasearch/lite as npm installs them, in real chromium, against the search function
running as a process over the library demo loaded by the full load. The page is served from another origin,
as a team's site would be: CORS as deployed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from hermes.search.keys import mint
from tests.integration.search.test_declared_fields import BOOKS, SCHEMA
from tests.support.browser import chromium, npm_installed, static_site
from tests.support.site import search_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "instantsearch"
SECRET = "instantsearch-page-secret-of-32-bytes"


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The example page and its npm packages, served on a loopback port of its own."""
    npm_installed(EXAMPLE)
    with static_site(EXAMPLE) as url:
        yield url


@pytest.fixture(scope="module")
def hermes(es_url: str, page_origin: str) -> Iterator[tuple[str, str]]:
    """The search function over the books, keys required, CORS open to the page's origin; (URL, alias)."""
    from hermes.settings import Settings

    alias = f"isp{uuid.uuid4().hex[:8]}"
    conf = Settings(  # type: ignore[call-arg]
        ES_URL=es_url,
        ES_INDEX=alias,
        DATA_SOURCE_URL=BOOKS,
        HERMES_SCHEMA=SCHEMA,
        HERMES_CORS_ORIGINS=page_origin,
        HERMES_SEARCH_KEY_SECRET=SECRET,
    )
    with search_site(conf) as url:
        yield url, alias


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def _open(browser: WebDriver, page_origin: str, hermes: tuple[str, str], key: str) -> None:
    url, alias = hermes
    browser.get_log("browser")  # the module's browser: what an earlier test's page logged stays that test's
    browser.get(f"{page_origin}/index.html?{urlencode({'hermes': url, 'index': alias, 'key': key})}")


def _wait(driver: WebDriver, until: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException]).until(until, message=what)


def _nb_hits(driver: WebDriver) -> int:
    found = driver.find_elements(By.CSS_SELECTOR, "#stats [data-nb-hits]")
    return int(found[0].get_attribute("data-nb-hits") or -1) if found else -1


def _hits(driver: WebDriver) -> list[dict[str, str]]:
    return [
        {
            "id": a.get_attribute("data-id") or "",
            "pages": a.get_attribute("data-pages") or "",
            "language": a.get_attribute("data-language") or "",
        }
        for a in driver.find_elements(By.CSS_SELECTOR, "#hits article.hit")
    ]


def _language(driver: WebDriver, value: str) -> Any:
    for item in driver.find_elements(By.CSS_SELECTOR, "#language .ais-RefinementList-item"):
        if item.find_element(By.CSS_SELECTOR, ".ais-RefinementList-labelText").text == value:
            return item
    return None


def _count(driver: WebDriver, value: str) -> int:
    item = _language(driver, value)
    return int(item.find_element(By.CSS_SELECTOR, ".ais-RefinementList-count").text) if item else -1


def _severe(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_instantsearch_widgets_work_against_hermes(browser: WebDriver, page_origin: str, hermes: Any) -> None:
    _open(browser, page_origin, hermes, mint(SECRET, sub="instantsearch-page"))
    _wait(browser, lambda d: _nb_hits(d) == 28 and len(_hits(d)) == 8, "every book, 8 a page")

    # pagination: 28 books, 8 a page, 4 pages; the second page shows other books
    first = {h["id"] for h in _hits(browser)}
    pages = browser.find_elements(By.CSS_SELECTOR, "#pagination .ais-Pagination-item--page")
    assert [p.text for p in pages] == ["1", "2", "3", "4"]
    pages[1].find_element(By.TAG_NAME, "a").click()
    _wait(browser, lambda d: _hits(d) and not {h["id"] for h in _hits(d)} & first, "the second page")
    selected = browser.find_element(By.CSS_SELECTOR, "#pagination .ais-Pagination-item--selected")
    assert selected.text == "2"

    # searchBox and highlights: the words found are marked by the Highlight component, the rest escaped text
    box = browser.find_element(By.CSS_SELECTOR, "#searchbox input")
    box.send_keys("white whale")
    _wait(browser, lambda d: _hits(d) and _hits(d)[0]["id"] == "moby-dick", "Moby-Dick first")
    moby = browser.find_element(By.CSS_SELECTOR, '#hits article[data-id="moby-dick"]')
    marked = [m.text for m in moby.find_elements(By.CSS_SELECTOR, "p mark.ais-Highlight-highlighted")]
    assert marked == ["white", "whale"]
    assert "__ais-highlight__" not in moby.text
    browser.find_element(By.CSS_SELECTOR, "#searchbox button.ais-SearchBox-reset").click()
    _wait(browser, lambda d: _nb_hits(d) == 28, "every book again")

    # refinementList on the declared facet: disjunctive, so the other languages keep their counts
    assert _count(browser, "en") == 15
    _language(browser, "ru").find_element(By.TAG_NAME, "input").click()
    _wait(browser, lambda d: _nb_hits(d) == 4, "the Russian books")
    assert {h["language"] for h in _hits(browser)} == {"ru"}
    assert _count(browser, "en") == 15
    _language(browser, "fr").find_element(By.TAG_NAME, "input").click()
    _wait(browser, lambda d: _nb_hits(d) == 8, "Russian or French")

    # rangeInput on the declared number field: its bounds come from facets_stats, those of the books shown
    low, high = browser.find_elements(By.CSS_SELECTOR, "#pages input.ais-RangeInput-input")
    assert (low.get_attribute("placeholder"), high.get_attribute("placeholder")) == ("96", "1463")
    low.send_keys("500")
    high.send_keys("900")
    browser.find_element(By.CSS_SELECTOR, "#pages button.ais-RangeInput-submit").click()
    _wait(browser, lambda d: _nb_hits(d) == 3, "Russian or French books of 500 to 900 pages")
    assert all(500 <= int(h["pages"]) <= 900 for h in _hits(browser))
    assert not _severe(browser)


def test_a_bad_key_shows_in_the_page_as_hermes_says_it(browser: WebDriver, page_origin: str, hermes: Any) -> None:
    _open(browser, page_origin, hermes, "not-a-search-key")
    error = _wait(
        browser,
        lambda d: d.find_element(By.ID, "error").text,
        "InstantSearch reports the error",
    )
    assert "search key is malformed" in error
