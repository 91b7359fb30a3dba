"""Everything a request handler may use, built once per server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from isolane.config import Settings
from isolane.observability.records import RecordStore, RecordSweeper
from isolane.observability.tail import TailHub
from isolane.platform.fetcher import Fetcher
from isolane.platform.kv import KVService
from isolane.platform.logouts import LogoutService
from isolane.platform.namespaces import NamespaceService
from isolane.platform.rates import RateLimiter
from isolane.platform.runner import Runner
from isolane.platform.schedules import Scheduler, ScheduleService
from isolane.platform.scripts import ScriptService
from isolane.platform.secrets import SecretService
from isolane.platform.seed import SeedService
from isolane.platform.tokens import TokenService
from isolane.sandbox.supervisor import Supervisor
from isolane.server.throttle import GuessThrottle
from isolane.store.blobs import BlobStore
from isolane.store.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    blobs: BlobStore
    tokens: TokenService
    namespaces: NamespaceService
    seeds: SeedService
    records: RecordStore
    supervisor: Supervisor
    runner: Runner
    scripts: ScriptService
    fetcher: Fetcher
    secrets: SecretService
    kv: KVService
    rates: RateLimiter  # namespaces' request-rate quotas
    schedules: ScheduleService  # cron triggers
    scheduler: Scheduler  # this server's background task that runs due cron ticks
    sweeper: RecordSweeper  # retention of invocation records, in the background
    tail: TailHub  # live tail subscriptions
    logouts: LogoutService  # dashboard sessions ended by logging out
    session_key: bytes = field(repr=False)  # signs dashboard sessions (derived from the secrets key)
    # Failed token checks and dashboard logins per client address (this process's own).
    guesses: GuessThrottle = field(default_factory=GuessThrottle)
    # Invocations still running after their response was sent (ctx.waitUntil).
    background: set[asyncio.Task[Any]] = field(default_factory=set)
