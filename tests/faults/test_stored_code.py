"""Stored code is checked against its digest when read (issue 17, 3): a blob replaced with
other valid JavaScript, truncated, removed or made non-UTF-8 on disk is never run; the
invocation answers `500 stored_code_damaged` (JSON) and leaves a record saying why. And
temporary blob files a killed writer left behind are removed at the next start (11)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import deploy, invoke

MARKER = "stored-code-marker"
WORKER = f'export default {{ fetch() {{ return new Response("{MARKER}") }} }};'


def blobs_holding(data_dir: Path, marker: str) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_text('export default { fetch() { return new Response("evil") } };'), id="replaced"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="truncated"),
        pytest.param(lambda p: p.unlink(), id="missing"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe" + p.read_bytes()), id="not-utf8"),
    ],
)
def test_damaged_stored_code_is_never_run(make_server, tmp_path: Path, damage) -> None:
    data = tmp_path / "data"
    first = make_server("--executors", "1", data_dir=data)
    with first.admin() as admin:
        deploy(admin, "kept", WORKER)
    first.stop()
    held = blobs_holding(data, MARKER)
    assert held, "the script's code is not among the blobs"
    for blob in held:
        damage(blob)
    server = make_server("--executors", "1", data_dir=data)  # nothing of the script is warm
    answer = invoke(server, "default", "kept")
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["code"] == "stored_code_damaged" and "deploy the script again" in error["message"]
    assert "evil" not in answer.text
    with server.admin() as admin:
        deadline = time.monotonic() + 10
        while not (records := admin.get("/v1/namespaces/default/scripts/kept/invocations").json()["items"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    [record] = records
    assert record["outcome"] == "canceled" and "stored code" in record["error"]["message"]


def test_temporary_blob_files_of_a_killed_writer_are_removed_at_start(make_server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = make_server("--executors", "1", data_dir=data)
    with first.admin() as admin:
        deploy(admin, "kept", WORKER)
    first.process.kill()  # as a SIGKILL mid-write would leave it
    first.process.wait()
    directory = next(p for p in (data / "blobs" / "sha256").iterdir() if p.is_dir())
    stale, fresh = directory / ".incoming-stale", directory / ".incoming-fresh"
    stale.write_bytes(b"half a blob")
    fresh.write_bytes(b"another instance's write, going on")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    second = make_server("--executors", "1", data_dir=data)
    assert not stale.exists() and fresh.exists()
    assert "removed 1 temporary blob files" in second.log()
    assert invoke(second, "default", "kept").text == MARKER
