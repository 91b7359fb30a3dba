"""`GET /`: a browser lands on links to the dashboard and the docs; a program gets them as JSON."""

from __future__ import annotations

import httpx

from isolane.testing import Server


def test_a_browser_lands_on_links_to_the_dashboard_and_the_docs(server: Server) -> None:
    page = httpx.get(server.url + "/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/dashboard"' in page.text and 'href="/docs"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for link in ("/dashboard", "/docs"):
        assert httpx.get(server.url + link, follow_redirects=True).status_code == 200


def test_a_program_gets_the_links_as_json(server: Server) -> None:
    body = httpx.get(server.url + "/").json()
    assert body["name"] == "isolane" and body["dashboard"] == "/dashboard" and body["docs"] == "/docs"
