"""A full disk (issue 17, 5), for real: the data dir on a small tmpfs, filled up. Writes
answer `507 insufficient_storage` (JSON), never a generic 500; invocations still run, and
the records that could not be stored are counted in `isolane_records_dropped_total`;
once space is freed, the same writes succeed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import deploy, invoke

SIZE_MB = 24


@pytest.fixture()
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem to the last byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (65536, 1):
            try:
                while handle.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return filler


def dropped(server) -> float:
    with server.admin() as admin:
        for line in admin.get("/metrics").text.splitlines():
            if line.startswith("isolane_records_dropped_total "):
                return float(line.split()[-1])
    return 0.0


def test_a_full_disk_answers_507_and_counts_lost_records(make_server, small_disk: Path) -> None:
    server = make_server("--executors", "1", data_dir=small_disk / "data")
    with server.admin() as admin:
        deploy(admin, "hello", 'export default { fetch() { return new Response("hello") } };')
        assert admin.put("/v1/namespaces/spare").status_code == 201
        filler = fill(small_disk)
        try:
            upload = admin.put(
                "/v1/namespaces/default/scripts/another",
                content=b'export default { fetch() { return new Response("x".repeat(100000)) } };\n// ' + os.urandom(8).hex().encode(),
                headers={"content-type": "application/javascript+module"},
            )
            assert upload.status_code == 507, upload.text
            assert upload.json()["error"]["code"] == "insufficient_storage"
            namespace = admin.put("/v1/namespaces/full-disk-ns")
            assert namespace.status_code == 507, namespace.text
            # Invocations still run (their code is warm); their records cannot be stored.
            before = dropped(server)
            for _ in range(5):
                assert invoke(server, "default", "hello").text == "hello"
            deadline = time.monotonic() + 10
            while dropped(server) < before + 5:
                assert time.monotonic() < deadline, dropped(server)
                time.sleep(0.1)
            assert admin.get("/readyz").status_code == 200
        finally:
            filler.unlink()
        # Space again: the same writes succeed.
        assert admin.put("/v1/namespaces/full-disk-ns").status_code == 201
        assert invoke(server, "default", "hello").text == "hello"
