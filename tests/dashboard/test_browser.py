"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Log in with a token, open a script, invoke it through the form, see the invocation in the
recent invocations and in the live tail view. Chromium must be installed (`.ci/run` installs
it): a missing browser fails this test rather than skipping it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, deploy
from tests.dashboard.conftest import chromium

NS = "dash-browser"
GREETER = """
export default {
  async fetch(request) {
    const name = new URL(request.url).pathname.slice(1) || "nobody";
    console.log("greeting " + name);
    return new Response("<b>hello " + name + "</b>", { headers: { "content-type": "text/html" } });
  },
};
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture()
def page(browser: Browser, server: Server) -> Iterator[Page]:
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{NS}").status_code in (200, 201)
        deploy(admin, "greeter", GREETER, ns=NS)
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page) -> None:
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def test_log_in_open_a_script_invoke_it_and_see_the_invocation(page: Page, server: Server) -> None:
    log_in(page)
    page.click(f"a[href='/dashboard/namespaces/{NS}']")
    page.click(f"a[href='/dashboard/namespaces/{NS}/scripts/greeter']")
    expect(page.locator("h1")).to_have_text("Script greeter")

    page.fill("input[name=path]", "/ada")
    page.click("#invoke button[type=submit]")
    expect(page.locator("#result-status")).to_have_text("200")
    # The tenant's HTML is shown as text, not rendered.
    expect(page.locator("#result-body")).to_have_text("<b>hello ada</b>")
    record_id = page.locator("#result-record").get_attribute("href").rsplit("/", 1)[1]

    # The record is written in the background: reload until it is listed.
    script_url = f"/dashboard/namespaces/{NS}/scripts/greeter"
    for _ in range(50):
        page.goto(script_url)
        if page.locator(f"#recent-invocations tr[data-id='{record_id}']").count():
            break
        page.wait_for_timeout(200)
    row = page.locator(f"#recent-invocations tr[data-id='{record_id}']")
    expect(row).to_contain_text("ok")
    row.locator("a").click()
    expect(page.locator("#record-outcome")).to_have_text("ok")
    expect(page.locator("table.logs")).to_contain_text("greeting ada")


def test_the_live_tail_shows_invocations_as_they_happen(page: Page, server: Server) -> None:
    log_in(page)
    page.goto(f"/dashboard/namespaces/{NS}/scripts/greeter/tail")
    expect(page.locator("#tail")).to_have_attribute("data-state", "connected")
    response = httpx.get(f"{server.url}/v1/namespaces/{NS}/scripts/greeter/invoke/grace", timeout=30)
    assert response.status_code == 200
    record_id = response.headers["x-isolane-invocation"]
    row = page.locator(f"#tail-rows tr[data-id='{record_id}']")
    expect(row).to_contain_text("greeting grace")
    expect(row).to_contain_text("ok")
