"""What is stored survives a restart; the admin token is generated once when none is given."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.conftest import execute, upload


def test_scripts_tokens_and_records_survive_a_restart(make_server, tmp_path) -> None:
    data = tmp_path / "kept"
    first = make_server(data_dir=data)
    with first.admin() as admin:
        script_id = upload(admin, "console.log('persisted'); 'still here'")
        token = admin.post("/v1/tokens", json={"name": "kept", "scope": "admin"}).json()["token"]
        admin.put("/v1/namespaces/kept-ns")
        invocation = admin.post("/execute", content=script_id).headers["x-isolane-invocation"]
    first.stop()  # flushes pending invocation records

    second = make_server(data_dir=data)
    with second.client(token) as client:
        assert execute(client, script_id)["result"] == "still here"
        assert client.get("/v1/namespaces/kept-ns").status_code == 200
        record = client.get(f"/v1/invocations/{invocation}")
        assert record.status_code == 200
        assert record.json()["logs"][0]["message"] == "persisted"


def test_admin_token_is_generated_once_and_printed(make_server, tmp_path) -> None:
    data = tmp_path / "fresh"
    first = make_server(data_dir=data, admin_token=None)
    printed = re.findall(r"isl_[A-Za-z0-9_-]{20,}", first.log())
    assert len(printed) == 1
    with first.client(printed[0]) as client:
        assert client.get("/v1/tokens").status_code == 200
    first.stop()
    second = make_server(data_dir=data, admin_token=None)
    assert not re.findall(r"isl_[A-Za-z0-9_-]{20,}", second.log().replace(first.log(), ""))
    with second.client(printed[0]) as client:
        assert client.get("/v1/tokens").status_code == 200


def test_insecure_mode_is_refused_off_loopback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "isolane", "serve", "--insecure-no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "loopback" in result.stderr


def test_insecure_mode_on_loopback_needs_no_token(make_server) -> None:
    server = make_server("--insecure-no-auth", admin_token=None)
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/upload", content=b"'open'")
        assert response.status_code == 201
        assert client.post("/execute", content=response.json()["id"]).json()["result"] == "open"
