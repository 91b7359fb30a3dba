"""URL and URLSearchParams (runtime/prelude/30-url.js), run inside real isolates.

The conformance tests replay every case of the Web Platform Tests data in
tests/runtime/wpt-url/ (from ../shared/conformance) in one script per file and require a pass rate; run
with -s to see the rate and the failing inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN, run_js

WPT_DIR = Path(__file__).parent / "wpt-url"  # a copy of ../shared/conformance/wpt-url (BSD-3, see its README)
REQUIRED_PASS_RATE = 0.95

# Each runner gets the WPT data as `cases` and completes with {passed, total, failures}.
URLTESTDATA_RUNNER = """
const FIELDS = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
let passed = 0, total = 0;
const failures = [];
for (const test of cases) {
  if (typeof test === "string") continue; // a comment
  total++;
  let problem = null;
  try {
    const url = test.base === null ? new URL(test.input) : new URL(test.input, test.base);
    if (test.failure) problem = `parsed as ${url.href}, expected failure`;
    else for (const field of FIELDS) {
      if (field in test && url[field] !== test[field]) {
        problem = `${field} is ${JSON.stringify(url[field])}, expected ${JSON.stringify(test[field])}`;
        break;
      }
    }
    if (!problem && URL.canParse(test.input, test.base ?? undefined) !== !test.failure) problem = "URL.canParse disagrees";
  } catch (err) {
    if (!test.failure) problem = `threw ${err}`;
    else if (!(err instanceof TypeError)) problem = `threw ${err.name}, expected TypeError`;
  }
  if (problem) failures.push({ input: test.input, base: test.base, problem });
  else passed++;
}
({ passed, total, failures });
"""

SETTERS_RUNNER = """
let passed = 0, total = 0;
const failures = [];
for (const [attribute, tests] of Object.entries(cases)) {
  if (attribute === "comment") continue;
  for (const test of tests) {
    total++;
    let problem = null;
    try {
      const url = new URL(test.href);
      url[attribute] = test.new_value;
      for (const [field, expected] of Object.entries(test.expected)) {
        if (url[field] !== expected) {
          problem = `${field} is ${JSON.stringify(url[field])}, expected ${JSON.stringify(expected)}`;
          break;
        }
      }
    } catch (err) {
      problem = `threw ${err}`;
    }
    if (problem) failures.push({ input: `${test.href} .${attribute} = ${JSON.stringify(test.new_value)}`, problem });
    else passed++;
  }
}
({ passed, total, failures });
"""

# As WPT's toascii.window.js: the host through the parser and through both host setters.
TOASCII_RUNNER = """
let passed = 0, total = 0;
const failures = [];
for (const test of cases) {
  if (typeof test === "string") continue;
  total++;
  let problem = null;
  try {
    if (test.output === null) {
      if (URL.canParse(`https://${test.input}/x`)) problem = "parsed, expected failure";
    } else if (new URL(`https://${test.input}/x`).host !== test.output) {
      problem = `host is ${new URL(`https://${test.input}/x`).host}, expected ${test.output}`;
    }
    for (const setter of ["host", "hostname"]) {
      const url = new URL("https://x/x");
      url[setter] = test.input;
      const expected = test.output ?? "x";
      if (!problem && url.host !== expected) problem = `${setter} setter gave ${url.host}, expected ${expected}`;
    }
  } catch (err) {
    problem = `threw ${err}`;
  }
  if (problem) failures.push({ input: test.input, problem });
  else passed++;
}
({ passed, total, failures });
"""


@pytest.fixture(scope="module")
def conformance_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server for the conformance runs, with room for the embedded data."""
    args = ("--max-script-bytes", "4000000", "--cpu-ms", "5000", "--wall-ms", "30000")
    server = Server(tmp_path_factory.mktemp("wpt-url") / "data", *args, admin_token=ADMIN_TOKEN).start()
    try:
        with server.admin() as client:
            yield client
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("data_file", "runner"),
    [("urltestdata.json", URLTESTDATA_RUNNER), ("setters_tests.json", SETTERS_RUNNER), ("toascii.json", TOASCII_RUNNER)],
)
def test_wpt_conformance(conformance_client: httpx.Client, data_file: str, runner: str) -> None:
    data = (WPT_DIR / data_file).read_text(encoding="utf-8")
    body = run_js(conformance_client, f"const cases = {data};\n{runner}")
    assert body["error"] is None, body["error"]
    summary = body["result"]
    rate = summary["passed"] / summary["total"]
    print(f"\n{data_file}: {summary['passed']}/{summary['total']} passed ({rate:.1%})")
    for failure in summary["failures"]:
        print("  FAIL", json.dumps(failure, ensure_ascii=False))
    assert rate >= REQUIRED_PASS_RATE


# ---- Typical use -------------------------------------------------------------------------


def js(client: httpx.Client, code: str) -> object:
    body = run_js(client, code)
    assert body["error"] is None, body["error"]
    return body["result"]


def test_relative_resolution(admin: httpx.Client) -> None:
    result = js(admin, """
    const base = "https://example.com/docs/guide/intro.html?x=1#top";
    ["setup.html", "../api/", "/root", "?page=2", "#faq", "//cdn.example.net/lib.js", "./a/./b/../c"]
      .map((ref) => new URL(ref, base).href)
    """)
    assert result == [
        "https://example.com/docs/guide/setup.html",
        "https://example.com/docs/api/",
        "https://example.com/root",
        "https://example.com/docs/guide/intro.html?page=2",
        "https://example.com/docs/guide/intro.html?x=1#faq",
        "https://cdn.example.net/lib.js",
        "https://example.com/docs/guide/a/c",
    ]


def test_parts_and_normalisation(admin: httpx.Client) -> None:
    result = js(admin, """
    const url = new URL("HTTPS://User:Pa%20ss@EXAMPLE.com:443/a b/%7e?q=a b#frag ment");
    ({ href: url.href, origin: url.origin, host: url.host, port: url.port, pathname: url.pathname,
       search: url.search, hash: url.hash, username: url.username, password: url.password,
       json: JSON.stringify({ url }), ipv4: new URL("http://0x7f.1/").hostname,
       ipv6: new URL("http://[0:0::1]:8080/").host, idn: new URL("https://Bücher.de/").hostname })
    """)
    assert result == {
        "href": "https://User:Pa%20ss@example.com/a%20b/%7e?q=a%20b#frag%20ment",
        "origin": "https://example.com",
        "host": "example.com",
        "port": "",
        "pathname": "/a%20b/%7e",
        "search": "?q=a%20b",
        "hash": "#frag%20ment",
        "username": "User",
        "password": "Pa%20ss",
        "json": '{"url":"https://User:Pa%20ss@example.com/a%20b/%7e?q=a%20b#frag%20ment"}',
        "ipv4": "127.0.0.1",
        "ipv6": "[::1]:8080",
        "idn": "xn--bcher-kva.de",
    }


def test_setters(admin: httpx.Client) -> None:
    result = js(admin, """
    const url = new URL("http://example.com/path");
    url.protocol = "https";
    url.hostname = "api.example.org";
    url.port = "8443";
    url.pathname = "/v1/items";
    url.search = "limit=10";
    url.hash = "results";
    url.username = "me";
    const afterAll = url.href;
    url.port = "443";        // the default port disappears
    url.protocol = "mailto"; // special to non-special: ignored
    url.host = "bad host";   // invalid: ignored
    [afterAll, url.href]
    """)
    assert result == [
        "https://me@api.example.org:8443/v1/items?limit=10#results",
        "https://me@api.example.org/v1/items?limit=10#results",
    ]


def test_search_params_round_trip(admin: httpx.Client) -> None:
    result = js(admin, """
    const url = new URL("https://example.com/search?q=caf%C3%A9&tag=a&tag=b");
    const params = url.searchParams;
    const read = [params.get("q"), params.getAll("tag"), params.has("tag", "b"), params.size];
    params.append("text", "a b&c=d é");
    params.set("tag", "z");
    params.delete("q");
    const written = url.href;
    url.search = "?b=2&a=1&a=0";
    params.sort();
    ({ read, written, sorted: [...params], entries: Object.fromEntries(params), href: url.href,
       fromRecord: new URLSearchParams({ x: "1", y: "two words" }).toString(),
       fromPairs: new URLSearchParams([["k", "v"], ["k", "w"]]).getAll("k"),
       fromString: [...new URLSearchParams("?a=1&&b=%zz+c&=e")] })
    """)
    assert result == {
        "read": ["café", ["a", "b"], True, 3],
        "written": "https://example.com/search?tag=z&text=a+b%26c%3Dd+%C3%A9",
        "sorted": [["a", "1"], ["a", "0"], ["b", "2"]],
        "entries": {"a": "0", "b": "2"},
        "href": "https://example.com/search?a=1&a=0&b=2",
        "fromRecord": "x=1&y=two+words",
        "fromPairs": ["v", "w"],
        "fromString": [["a", "1"], ["b", "%zz c"], ["", "e"]],
    }


def test_errors_are_type_errors(admin: httpx.Client) -> None:
    result = js(admin, """
    const attempts = [
      () => new URL("foo"),
      () => new URL("/path", "not a base"),
      () => new URL("http://exa mple.com/"),
      () => new URL("https://[::1/"),
      () => new URL("http://300.0.0.1/"),
      () => { new URL("https://example.com/").href = "nope"; },
      () => new URLSearchParams([["only-a-name"]]),
      () => new URL(),
    ];
    attempts.map((attempt) => { try { attempt(); return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } })
    """)
    assert all(message.startswith("TypeError: ") for message in result), result
    assert result[0] == 'TypeError: Invalid URL: "foo"'
    assert result[1] == 'TypeError: Invalid base URL: "not a base"'


def test_can_parse_and_parse(admin: httpx.Client) -> None:
    result = js(admin, """
    [URL.canParse("https://example.com"), URL.canParse("relative"), URL.canParse("relative", "https://example.com/"),
     URL.parse("x", "https://example.com/a/b")?.href, URL.parse("::"),
     URL.parse("https://example.com") instanceof URL]
    """)
    assert result == [True, False, True, "https://example.com/a/x", None, True]


def test_web_idl_shape(admin: httpx.Client) -> None:
    result = js(admin, """
    const params = new URLSearchParams("a=1");
    [Object.prototype.toString.call(new URL("http://x/")), Object.prototype.toString.call(params),
     Object.prototype.toString.call(params.keys()), params[Symbol.iterator] === params.entries,
     Object.keys(globalThis).includes("URL"), Object.keys(URL.prototype).includes("href"),
     typeof params.keys().map]
    """)
    assert result == ["[object URL]", "[object URLSearchParams]", "[object URLSearchParams Iterator]", True, False, True, "function"]
