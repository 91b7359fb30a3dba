"""The abuse suite: each test attacks a real server as a hostile tenant (a namespace-scoped
token and its own scripts) or as an anonymous client, states the outcome it expects, and
measures another tenant's requests during the attack in the same run.

`victim` keeps a second tenant busy: a background thread that invokes its script over and
over and records what each request got. A test wraps its attack in `victim.during()` and
asserts that the other tenant was not hurt: every request answered as usual, and none
slower than a bound far above the usual (the machine is shared and noisy; the bound catches
freezes of seconds, not jitter).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN

VICTIM_NAMESPACE = "victim"
VICTIM_SCRIPT = "export default { fetch(request) { return new Response('victim ok'); } };\n"


@dataclass
class Measured:
    """What the other tenant's requests got while an attack ran."""

    statuses: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # transport failures and wrong answers

    @property
    def count(self) -> int:
        return len(self.statuses) + len(self.errors)

    @property
    def failures(self) -> int:
        return len(self.errors) + sum(1 for status in self.statuses if status != 200)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]

    def summary(self) -> str:
        median = statistics.median(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"{self.count} requests, {self.failures} failed, p50 {median:.1f} ms, p99 {self.percentile(0.99):.1f} ms,"
            f" max {max(self.latencies_ms, default=0.0):.1f} ms; errors: {self.errors[:3]}"
        )

    def assert_unharmed(self, max_latency_ms: float = 2000.0, at_least: int = 5) -> None:
        assert self.count >= at_least, f"the other tenant was barely measured: {self.summary()}"
        assert self.failures == 0, f"the other tenant's requests failed: {self.summary()}"
        worst = max(self.latencies_ms, default=0.0)
        assert worst < max_latency_ms, f"the other tenant waited {worst:.0f} ms: {self.summary()}"


class Victim:
    """Another tenant whose requests are measured while an attack runs: by default a script
    that answers at once; `code` gives it other work (whose answer must be `victim ok`)."""

    def __init__(self, server: Server, interval: float = 0.02, script: str = "steady", code: str = VICTIM_SCRIPT) -> None:
        self.server = server
        self.interval = interval
        self.script = script
        self.code = code
        self.url = f"{server.url}/v1/namespaces/{VICTIM_NAMESPACE}/scripts/{script}/invoke/"

    def deploy(self) -> Victim:
        with self.server.admin() as admin:
            admin.put(f"/v1/namespaces/{VICTIM_NAMESPACE}")
            response = admin.put(
                f"/v1/namespaces/{VICTIM_NAMESPACE}/scripts/{self.script}",
                content=self.code,
                headers={"content-type": "application/javascript+module"},
            )
            assert response.status_code in (200, 201), response.text
        return self

    @contextmanager
    def during(self) -> Iterator[Measured]:
        """Invoke the victim's script until the block ends; yields what it measured."""
        measured = Measured()
        stop = threading.Event()

        def run() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        response = client.get(self.url)
                    except httpx.HTTPError as exc:
                        measured.errors.append(f"{type(exc).__name__}: {exc}")
                    else:
                        if response.status_code != 200 or response.text != "victim ok":
                            measured.errors.append(f"{response.status_code} {response.text[:200]!r}")
                        else:
                            measured.statuses.append(response.status_code)
                            measured.latencies_ms.append((time.monotonic() - started) * 1000)
                    stop.wait(self.interval)

        thread = threading.Thread(target=run, name="victim", daemon=True)
        thread.start()
        time.sleep(0.2)  # the victim is warm and measured before the attack starts
        try:
            yield measured
        finally:
            stop.set()
            thread.join(timeout=60)
            print(f"[the other tenant during the attack] {measured.summary()}")  # shown with pytest -s


@dataclass
class Tenant:
    """A hostile tenant: its own namespace and a token scoped to it."""

    server: Server
    namespace: str
    token: str

    def client(self) -> httpx.Client:
        return self.server.client(self.token)

    def deploy(self, name: str, code: str, content_type: str = "application/javascript+module") -> httpx.Response:
        with self.client() as client:
            return client.put(f"/v1/namespaces/{self.namespace}/scripts/{name}", content=code.encode(), headers={"content-type": content_type})

    def invoke(self, name: str, path: str = "/", method: str = "GET", timeout: float = 30, **kwargs) -> httpx.Response:
        return httpx.request(method, self.url(name, path), timeout=timeout, **kwargs)

    def url(self, name: str, path: str = "/") -> str:
        return f"{self.server.url}/v1/namespaces/{self.namespace}/scripts/{name}/invoke{path}"


def metric(server: Server, name: str, labels: str = "") -> float:
    """The value of one Prometheus sample of the server's /metrics (0 when absent)."""
    with server.admin() as admin:
        text = admin.get("/metrics").text
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def make_tenant(server: Server, namespace: str) -> Tenant:
    with server.admin() as admin:
        assert admin.put(f"/v1/namespaces/{namespace}").status_code in (200, 201)
        created = admin.post("/v1/tokens", json={"name": f"{namespace} tenant", "scope": f"namespace:{namespace}"})
        assert created.status_code == 201, created.text
        return Tenant(server, namespace, created.json()["token"])


# The defaults of `isolane serve`, but for a wall-clock limit short enough for the suite.
ABUSE_SERVER_ARGS = ("--wall-ms", "5000")


@pytest.fixture(scope="module")
def abuse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module, with default limits (attacks may leave it scarred)."""
    instance = Server(tmp_path_factory.mktemp("abuse") / "data", *ABUSE_SERVER_ARGS, admin_token=ADMIN_TOKEN).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def victim(abuse_server: Server) -> Victim:
    return Victim(abuse_server).deploy()


@pytest.fixture(scope="module")
def tenant(abuse_server: Server) -> Tenant:
    return make_tenant(abuse_server, "mallory")


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers of the test's own (for attacks that need other options); stopped after it."""
    started: list[Server] = []

    def make(*args: str) -> Server:
        instance = Server(tmp_path / f"data{len(started)}", *args, admin_token=ADMIN_TOKEN).start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()
