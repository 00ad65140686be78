"""The web page at ``/`` in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

One page load and one upload: the reading the service gives for the photo must appear in the
page, with its confidence, a copy button and the photo drawn on a canvas. Chromium and
chromedriver come from Debian (``make test`` installs them); without them the test is skipped,
except in CI, where it fails.
"""

from __future__ import annotations

import os

import pytest
from conftest import API_KEY

pytest.importorskip("fastapi", reason="pip install -r requirements-serve.txt")
pytest.importorskip("selenium", reason="pip install -r requirements-serve.txt")

from plateocr.devtools import browser_missing, chromium  # noqa: E402
from test_serve import heic_copy, read_photo  # noqa: E402


@pytest.fixture
def browser(tmp_path):
    missing = browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    driver = chromium(profile=tmp_path / "profile")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def upload(browser, url: str, photo) -> object:
    """Open the page, give the key, pick ``photo``; the result card once the service's answer is shown,
    checked to hold no error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/")
    assert "plateocr" in browser.title
    browser.find_element(By.ID, "key").send_keys(API_KEY)
    browser.find_element(By.ID, "files").send_keys(str(photo))
    card = WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".result[data-reading], .result[data-error]")
    )
    assert card.get_attribute("data-error") is None, card.get_attribute("data-error")
    return card


def test_an_uploaded_photo_shows_its_reading(plate_service, scene_photos, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = scene_photos[0]
    expected = read_photo(plate_service.url, photo.read_bytes(), name=photo.name).json()["results"][0]
    card = upload(browser, plate_service.url, photo)
    assert card.get_attribute("data-reading") == expected["reading"]
    shown = card.find_element(By.CLASS_NAME, "reading").text
    assert shown == (expected["reading"] or "no reading")
    assert photo.name in card.text
    if expected["reading"]:
        assert f"confidence {expected['confidence']:.2f}" in card.text
        copy = card.find_element(By.CLASS_NAME, "copy")
        copy.click()
        WebDriverWait(browser, 10).until(lambda d: copy.text == "Copied")
    # The photo was drawn on the canvas at its own size (the box and caption are drawn over it).
    size = browser.execute_script("const c = arguments[0].querySelector('canvas'); return [c.width, c.height];", card)
    assert size == [416, 416]
    assert browser.find_element(By.ID, "problem").text == ""
    console = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"] if hasattr(browser, "get_log") else []
    assert not console, console


def test_a_heic_photo_is_read_even_where_the_browser_cannot_show_it(plate_service, scene_photos, browser, tmp_path):
    """Phones save HEIC, which Chromium cannot draw: the page still sends it and shows the service's reading."""
    from selenium.webdriver.common.by import By

    photo = heic_copy(scene_photos[0], tmp_path)
    expected = read_photo(plate_service.url, photo.read_bytes(), name=photo.name).json()["results"][0]
    assert expected["error"] is None
    card = upload(browser, plate_service.url, photo)
    assert ".heic" in browser.find_element(By.ID, "files").get_attribute("accept")
    assert card.get_attribute("data-reading") == expected["reading"]
    assert photo.name in card.text
