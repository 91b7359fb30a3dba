"""The server's configuration, as the CLI (or a test) builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from isolane.sandbox.confinement.layers import SandboxMode
from isolane.sandbox.limits import Limits

DEFAULT_MAX_SCRIPT_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SUBREQUESTS = 1000  # fetch, KV and other binding calls of one invocation together
DEFAULT_MAX_FETCH_BYTES = 128 * 1024 * 1024
# `*.localhost` resolves to the loopback address in curl and browsers: handy for trying it.
DEFAULT_DISPATCH_DOMAIN = "localhost"
# Invocation records: kept this many days, and at most this many per script (newest kept).
DEFAULT_RECORDS_MAX_AGE_DAYS = 7
DEFAULT_RECORDS_MAX_PER_SCRIPT = 10_000
DEFAULT_RECORDS_SWEEP_SECONDS = 60.0
# Admission (platform/admission.py): invocations running at once, and waiting for a slot.
DEFAULT_MAX_INFLIGHT = 256
DEFAULT_MAX_INFLIGHT_PER_NAMESPACE = 64
DEFAULT_MAX_QUEUED = 256
DEFAULT_MAX_QUEUE_WAIT_MS = 5000
# HTTP connections (server/http_limits.py). 32 KiB of request head is Cloudflare's own limit.
DEFAULT_MAX_HEADER_BYTES = 32 * 1024
DEFAULT_MAX_HEADER_FIELDS = 100
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5  # uvicorn's default
# The link step of uploads (linker/pool.py): worker processes, and each job's bounds.
DEFAULT_LINK_WORKERS = 2
DEFAULT_LINK_TIMEOUT_SECONDS = 30.0
DEFAULT_LINK_MEMORY_MB = 2048


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".isolane")
    host: str = "127.0.0.1"
    port: int = 8787
    database_url: str | None = None  # default: SQLite in the data dir
    max_script_bytes: int = DEFAULT_MAX_SCRIPT_BYTES
    limits: Limits = field(default_factory=Limits)
    executors: int = 2
    isolate_cache_size: int = 256
    spare_isolates: int = 2
    executor_memory_mb: int = 2048
    sandbox: SandboxMode = SandboxMode.AUTO  # how executors are confined (sandbox/confinement/)
    # Namespaces that run on executors of their own: (cordon name, its namespaces).
    cordons: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cordon_executors: int = 1
    dispatch_domain: str = DEFAULT_DISPATCH_DOMAIN
    egress_allow: str = ""  # "host:port,host:port": destinations allowed despite the policy
    max_subrequests: int = DEFAULT_MAX_SUBREQUESTS
    max_fetch_bytes: int = DEFAULT_MAX_FETCH_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    admin_token: str | None = None
    insecure_no_auth: bool = False
    token_cache_seconds: float = 2.0
    records_max_age_days: int = DEFAULT_RECORDS_MAX_AGE_DAYS
    records_max_per_script: int = DEFAULT_RECORDS_MAX_PER_SCRIPT
    records_sweep_seconds: float = DEFAULT_RECORDS_SWEEP_SECONDS
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    max_inflight_per_namespace: int = DEFAULT_MAX_INFLIGHT_PER_NAMESPACE
    max_queued: int = DEFAULT_MAX_QUEUED
    max_queue_wait_ms: int = DEFAULT_MAX_QUEUE_WAIT_MS
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_fields: int = DEFAULT_MAX_HEADER_FIELDS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT  # seconds
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # seconds
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT  # seconds
    link_workers: int = DEFAULT_LINK_WORKERS
    link_timeout_seconds: float = DEFAULT_LINK_TIMEOUT_SECONDS
    link_memory_mb: int = DEFAULT_LINK_MEMORY_MB
    # base64 of 32 bytes; None: DATA_DIR/secrets.key, generated on the first start
    secrets_key: str | None = field(default=None, repr=False)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'isolane.db').resolve()}"

    @property
    def private_dirs(self) -> list[Path]:
        """Directories no executor may ever see: the data dir, and a SQLite database's own."""
        dirs = [self.data_dir]
        url = self.resolved_database_url
        if url.startswith("sqlite") and ":///" in url:
            dirs.append(Path(url.split(":///", 1)[1].split("?", 1)[0]).parent)
        return dirs
