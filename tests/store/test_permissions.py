"""The data dir is the server's alone: 0700 directories and 0600 files from the first start
(the database and its -wal/-shm files, the secrets key, blobs), and a data dir left open
by an older version is corrected at start, with a warning."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from isolane.store.blobs import FileBlobStore
from isolane.store.database import Database
from isolane.store.permissions import secure_data_dir
from isolane.store.sealing import load_key
from tests.conftest import deploy, invoke, run_js

WORKER = """
export default {
  async fetch(request, env) {
    await env.STORE.put("k", "tenant value " + env.TOKEN);
    console.log("tenant log line");
    return new Response(await env.STORE.get("k"));
  },
};
"""


def modes(data_dir: Path) -> dict[str, int]:
    """Every entry under the data dir (and the dir itself) by relative path: its mode bits."""
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(data_dir: Path) -> dict[str, int]:
    found = modes(data_dir)
    wrong = {
        path: f"{mode:04o}"
        for path, mode in found.items()
        if mode != (0o700 if (data_dir / path).is_dir() else 0o600)
    }
    assert not wrong, wrong
    return found


def use_everything(server) -> None:
    """Uploads (blobs), a secret (the key), KV writes and invocations (records, WAL)."""
    with server.admin() as admin:
        admin.put("/v1/namespaces/private")
        kv = admin.post("/v1/kv/namespaces", json={"title": "store", "namespace": "private"}).json()["id"]
        files = {
            "metadata": (None, f'{{"main_module": "main.js", "bindings": [{{"type": "kv_namespace", "name": "STORE", "namespace_id": "{kv}"}}]}}', "application/json"),
            "main.js": ("main.js", WORKER.encode(), "application/javascript+module"),
        }
        uploaded = admin.put("/v1/namespaces/private/scripts/app", files=files)
        assert uploaded.status_code in (200, 201), uploaded.text
        secret = admin.put("/v1/namespaces/private/scripts/app/secrets", json={"name": "TOKEN", "text": "s3cret", "type": "secret_text"})
        assert secret.status_code in (200, 201), secret.text
        for _ in range(3):
            response = invoke(server, "private", "app")
            assert response.status_code == 200 and response.text == "tenant value s3cret", response.text
        assert run_js(admin, "console.log('seed'); 1 + 1")["result"] == 2
        deploy(admin, "second", "export default { fetch() { return new Response('two') } }", ns="private")


def test_a_fresh_start_makes_everything_owner_only(make_server, tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    server = make_server(data_dir=data)
    use_everything(server)
    running = assert_private(data)  # while it runs: the WAL and shared-memory files too
    assert {"isolane.db", "isolane.db-wal", "isolane.db-shm", "secrets.key", "blobs/sha256"} <= set(running)
    assert sum(1 for path in running if path.startswith("blobs/sha256/") and path.count("/") == 3) >= 3  # blob files
    server.stop()
    assert_private(data)
    assert "open to other users" not in server.log()


def test_the_store_creates_owner_only_files_whatever_the_umask(tmp_path: Path) -> None:
    """Not only because `isolane serve` sets the umask: the store asks for 0600/0700 itself."""
    data = tmp_path / "embedded"

    async def scenario() -> None:
        previous = os.umask(0o022)
        try:
            blobs = FileBlobStore(data)
            await blobs.put(b"export default {}")
            load_key(None, data)
            db = Database(f"sqlite+aiosqlite:///{data / 'isolane.db'}")
            await db.migrate()
            async with db.transaction() as conn:
                await conn.exec_driver_sql("INSERT INTO dashboard_logouts (nonce, expires_at) VALUES ('n', 1)")
            found = assert_private(data)
            assert {"isolane.db", "isolane.db-wal", "isolane.db-shm", "isolane.migrate.lock", "secrets.key"} <= set(found)
            await db.close()
        finally:
            os.umask(previous)

    asyncio.run(scenario())


def test_an_open_data_dir_is_corrected_at_start(make_server, tmp_path: Path) -> None:
    data = tmp_path / "older"
    first = make_server(data_dir=data)
    use_everything(first)
    first.stop()
    for path in [data, *data.rglob("*")]:  # as an older version (umask 022) left it
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert modes(data)["isolane.db"] == 0o644

    second = make_server(data_dir=data)
    assert_private(data)
    assert "open to other users" in second.log() and "isolane.db (0644 -> 0600)" in second.log()
    response = invoke(second, "private", "app")  # and nothing was lost
    assert response.status_code == 200 and response.text == "tenant value s3cret"


def test_the_walk_changes_only_what_is_open_and_follows_no_link(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    (data / "blobs" / "sha256" / "ab").mkdir(parents=True)
    blob = data / "blobs" / "sha256" / "ab" / ("ab" * 32)
    blob.write_bytes(b"code")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not the data dir's")
    (data / "link").symlink_to(outside)
    for path, mode in ((data, 0o755), (data / "blobs", 0o700), (data / "blobs" / "sha256", 0o750), (blob, 0o640), (outside, 0o644)):
        path.chmod(mode)
    (data / "blobs" / "sha256" / "ab").chmod(0o700)

    with caplog.at_level("WARNING"):
        found = secure_data_dir(data)
    assert sorted((Path(path).relative_to(data).as_posix(), f"{before:o}", f"{after:o}") for path, before, after in found.corrected) == [
        (".", "755", "700"),
        ("blobs/sha256", "750", "700"),
        (f"blobs/sha256/ab/{'ab' * 32}", "640", "600"),
    ]
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link's target is not the data dir's
    assert any("open to other users" in record.message for record in caplog.records)
    caplog.clear()
    again = secure_data_dir(data)
    assert again.corrected == [] and again.checked == 5  # the link is not checked
    assert not caplog.records  # nothing to say when nothing was wrong
