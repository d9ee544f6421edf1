"""The web console in a real browser (issue 16, section 2): Debian's headless Chromium driven by
Playwright (its own browser download is never used: executable_path is the Debian binary).

A prepayment meter with no credit: the page's keypad takes a vended STS token (our vending tool,
host_tools/sts), its button closes the relay, a load set in the page shows up as power and in the
energy register, a power cut in the page turns the meter off and a restore brings it back. The
page must raise no script error and load nothing from elsewhere (the server's CSP would block it
and Chromium reports that as an error). The time rate is changed in the page too. A screenshot goes to build/test-artifacts/console.png."""
import os
import shutil
import time

import pytest

from conftest import ROOT
from host_tools.console import Console
from host_tools.rig import Rig
from host_tools.sts.tokens import Vendor
from test_rig_sts import KEY1, config as sts_config

pytestmark = pytest.mark.rig
ARTEFACTS = os.path.join(ROOT, "build", "test-artifacts")


def chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def page():
    path = chromium()
    if path is None:
        pytest.skip("no Chromium found (Debian package `chromium`, installed by `make setup`; or CHROMIUM=/path)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (`make setup`)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1500})
            pg.errors = []
            pg.on("pageerror", lambda e: pg.errors.append(str(e)))
            pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
            yield pg
        finally:
            browser.close()


def number(page, selector):
    try:
        return float(page.inner_text(selector))
    except ValueError:
        return None


def wait_until(fn, what, timeout=15.0):
    end = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < end, what
        time.sleep(0.2)


def test_console_drives_the_meter_in_chromium(page):
    with Rig(time_rate=60, config=sts_config()) as rig, Console(rig, period_s=0.5) as con:
        page.goto(con.url + "#token=" + con.token)
        # live values: the clock moves, registers listed with units
        page.wait_for_selector('#registers tr[data-obis="1-0:1.8.0"]')
        assert page.inner_text('#registers tr[data-obis="1-0:1.8.0"] td:last-child') == "kWh"
        t0 = page.inner_text("#clock-local")
        wait_until(lambda: page.inner_text("#clock-local") != t0, "the clock never moved")
        assert page.inner_text("#powered") == "ON" and page.inner_text("#relay") == "open"
        assert "NO CREDIT" in page.inner_text("#display")

        # a vended 10 kWh token typed on the page's keypad
        tok = Vendor(KEY1, ea=7, base_year=1993).credit(100, tid=2000)
        for key in tok.digits + "#":
            page.click("#keypad button:text-is('%s')" % key)
        assert page.input_value("#keys") == tok.digits + "#"
        page.click("#keypad-form button[type=submit]")
        wait_until(lambda: "10000" in page.inner_text("#credit"), "credit never arrived")
        assert rig.query("credit")["token"] == 10000

        # the customer's button closes the relay
        page.click("#button")
        wait_until(lambda: page.inner_text("#relay") == "closed", "the relay never closed")

        # a load set in the page: power follows, energy grows
        row = "#load-1 "
        page.fill(row + "input[name=volts]", "230")
        page.fill(row + "input[name=amps]", "10")
        page.fill(row + "input[name=pf]", "0.8")
        page.click(row + "button.set")
        wait_until(lambda: number(page, "#p-L1") is not None and abs(number(page, "#p-L1") - 1.84) < 0.01,
                   "power never followed the load")
        e0 = float(page.inner_text('#registers tr[data-obis="1-0:1.8.0"] td.v'))
        wait_until(lambda: float(page.inner_text('#registers tr[data-obis="1-0:1.8.0"] td.v')) > e0,
                   "energy did not grow")
        wait_until(lambda: page.locator('#plot polyline[data-series="P"]').count() == 1, "no power plot")
        assert page.inner_text("#manual-1") == "manual"

        # the time rate, live
        assert page.input_value("#rate-form input[name=rate]") == "60"
        page.fill("#rate-form input[name=rate]", "120")
        page.click("#rate-form button[type=submit]")
        wait_until(lambda: page.inner_text("#rate") == "120", "the rate never changed")
        assert rig.time_rate == 120

        # cut the power in the page, then bring the meter back
        page.click("#cut")
        wait_until(lambda: page.inner_text("#powered") == "OFF", "power never went off")
        assert not rig.powered and page.inner_text("#display") == "(no power)"
        page.click("#restore")
        wait_until(lambda: page.inner_text("#powered") == "ON", "the meter never came back", timeout=30)
        wait_until(lambda: number(page, "#p-L1") is not None and abs(number(page, "#p-L1") - 1.84) < 0.01,
                   "power did not come back")
        assert page.inner_text("#relay") == "closed"  # the latching relay kept its contact
        os.makedirs(ARTEFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTEFACTS, "console.png"), full_page=True)
    assert page.errors == []
