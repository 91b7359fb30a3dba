"""Tests talk HTTP to a real `isolane serve` process with real executor processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from isolane.testing import Server

ADMIN_TOKEN = "isl_test_admin_token_0123456789"


# Limits small enough that the limit tests finish quickly.
TEST_SERVER_ARGS = ("--wall-ms", "2000", "--cpu-ms", "50", "--memory-mb", "64", "--max-script-bytes", "262144")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = Server(tmp_path_factory.mktemp("server") / "data", *TEST_SERVER_ARGS, admin_token=ADMIN_TOKEN).start()
    yield instance
    instance.stop()


@pytest.fixture()
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.admin() as client:
        yield client


@pytest.fixture()
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start extra servers (own data dir unless given); all are stopped after the test."""
    started: list[Server] = []

    def make(*args: str, data_dir: Path | None = None, admin_token: str | None = ADMIN_TOKEN) -> Server:
        instance = Server(data_dir or tmp_path / f"data{len(started)}", *args, admin_token=admin_token)
        started.append(instance)
        return instance.start()

    yield make
    for instance in started:
        instance.stop()


def upload(client: httpx.Client, code: str) -> str:
    response = client.post("/upload", content=code.encode(), headers={"content-type": "text/plain"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def execute(client: httpx.Client, script_id: str) -> dict:
    response = client.post("/execute", content=script_id)
    assert response.status_code == 200, response.text
    return response.json()


def run_js(client: httpx.Client, code: str) -> dict:
    return execute(client, upload(client, code))


MODULE = "application/javascript+module"


def deploy(client: httpx.Client, name: str, code: str, content_type: str = MODULE, ns: str = "default") -> dict:
    """Upload a one-module script (raw body) and return the upload's answer."""
    response = client.put(f"/v1/namespaces/{ns}/scripts/{name}", content=code.encode(), headers={"content-type": content_type})
    assert response.status_code in (200, 201), response.text
    return response.json()


def multipart_upload(modules: dict[str, tuple[str | bytes, str]], metadata: dict) -> dict:
    """httpx `files=` for a Workers multipart upload: {name: (content, content type)}."""
    import json

    files = {"metadata": (None, json.dumps(metadata), "application/json")}
    for name, (content, content_type) in modules.items():
        files[name] = (name, content.encode() if isinstance(content, str) else content, content_type)
    return files


def invoke(server: Server, ns: str, name: str, path: str = "", method: str = "GET", **kwargs) -> httpx.Response:
    """Call a script's fetch handler by path, without a token."""
    return httpx.request(method, f"{server.url}/v1/namespaces/{ns}/scripts/{name}/invoke{path}", timeout=30, **kwargs)


def pytest_report_header() -> str:
    """Which sandbox layers the executors of this run's servers get (CI's log shows it)."""
    from isolane.sandbox.confinement.jail import Jail
    from isolane.sandbox.confinement.layers import SandboxMode

    return Jail.probe(SandboxMode.AUTO).layers.summary()
