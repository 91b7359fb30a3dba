"""The app factory: wires the store, the supervisor and the routes together."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from isolane import __version__
from isolane.config import Settings
from isolane.linker.pool import LinkPool
from isolane.dashboard import SESSION_KEY_PURPOSE
from isolane.dashboard import router as dashboard_router
from isolane.observability.records import RecordStore, RecordSweeper
from isolane.observability.tail import TailHub
from isolane.platform.admission import Admission
from isolane.platform.egress import EgressPolicy, parse_allow_list
from isolane.platform.fetcher import Fetcher  # also registers the fetch operation
from isolane.platform import dispatch, kv_calls  # noqa: F401 - register the dispatch.* and kv.* server operations
from isolane.platform.kv import KVService
from isolane.platform.logouts import LogoutService
from isolane.platform.namespaces import DEFAULT_NAMESPACE, NamespaceService
from isolane.platform.rates import RateLimiter
from isolane.platform.runner import Runner
from isolane.platform.schedules import Scheduler, ScheduleService
from isolane.platform.scripts import ScriptService
from isolane.platform.secrets import SecretService, check_stored_keys
from isolane.platform.seed import SeedService
from isolane.platform.tokens import TokenService
from isolane.sandbox.confinement.jail import Jail
from isolane.sandbox.supervisor import Supervisor
from isolane.server.access import authorize
from isolane.server.errors import install_error_handlers
from isolane.server.responses import JSONResponse
from isolane.server.gateway import InvocationGateway
from isolane.server.openapi import complete_document
from isolane.server.routes import health, home, invocations, kv, namespaces, scripts, seed, system, tail, tokens, usage, versions
from isolane.server.routes import docs as api_docs
from isolane.server.routes import schedules as schedules_routes
from isolane.server.routes import secrets as secrets_routes
from isolane.server.services import Services
from isolane.store.blobs import FileBlobStore
from isolane.store.database import Database
from isolane.store.permissions import secure_data_dir
from isolane.store.sealing import Sealer, derive_key, load_key

log = logging.getLogger("isolane")


def settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight: full
    collections then only walk what requests allocate (they were visible as latency spikes)."""
    gc.collect()
    gc.freeze()


async def start_services(settings: Settings) -> Services:
    # Owner-only (0700/0600): created so, or corrected when an older version left it open.
    await asyncio.to_thread(secure_data_dir, settings.data_dir)
    db = Database(settings.resolved_database_url)
    await db.migrate()
    secrets_key = await _secrets_key(settings, db)
    sealer = Sealer(secrets_key)
    blobs = FileBlobStore(settings.data_dir)
    token_service = TokenService(db, settings.token_cache_seconds)
    namespace_service = NamespaceService(db)
    await namespace_service.ensure(DEFAULT_NAMESPACE)
    generated = await token_service.bootstrap_admin(settings.admin_token)
    if generated:
        # Shown once: only its hash is stored.
        print(f"\nIsolane admin token (shown once, store it now):\n\n    {generated}\n", file=sys.stderr, flush=True)
    records = RecordStore(db)
    records.start()
    supervisor = Supervisor(
        executors=settings.executors,
        cache_size=settings.isolate_cache_size,
        spares=settings.spare_isolates,
        executor_memory_mb=settings.executor_memory_mb,
        max_wall_ms=settings.limits.wall_ms,
        sandbox=await asyncio.to_thread(Jail.probe, settings.sandbox, private=settings.private_dirs),
        cordons={name: list(namespaces) for name, namespaces in settings.cordons},
        cordon_executors=settings.cordon_executors,
    )
    await supervisor.start()
    settle_heap()
    linker = LinkPool(settings.link_workers, settings.link_timeout_seconds, settings.link_memory_mb)
    await linker.start()
    script_service = ScriptService(
        db,
        blobs,
        supervisor,
        namespace_service,
        limits=settings.limits,
        max_script_bytes=settings.max_script_bytes,
        sealer=sealer,
        max_subrequests=settings.max_subrequests,
        linker=linker,
    )
    admission = Admission(
        settings.max_inflight, settings.max_inflight_per_namespace, settings.max_queued, settings.max_queue_wait_ms / 1000
    )
    runner = Runner(supervisor, records, admission=admission)
    services: Services | None = None
    schedule_service = ScheduleService(db, script_service, runner, lambda: services)
    services = Services(
        settings=settings,
        db=db,
        blobs=blobs,
        tokens=token_service,
        namespaces=namespace_service,
        seeds=SeedService(db, blobs),
        records=records,
        supervisor=supervisor,
        runner=runner,
        scripts=script_service,
        secrets=SecretService(db, sealer, script_service),
        fetcher=Fetcher(EgressPolicy(parse_allow_list(settings.egress_allow))),
        kv=KVService(db),
        rates=RateLimiter(db, namespace_service),
        schedules=schedule_service,
        scheduler=Scheduler(schedule_service),
        sweeper=RecordSweeper(
            db,
            max_age_days=settings.records_max_age_days,
            max_per_script=settings.records_max_per_script,
            period_seconds=settings.records_sweep_seconds,
            also=(namespace_service.finish_deletions,),
        ),
        tail=TailHub(db, records),
        logouts=LogoutService(db),
        session_key=derive_key(secrets_key, SESSION_KEY_PURPOSE),
    )
    services.scheduler.start()
    services.sweeper.start()
    return services


async def _secrets_key(settings: Settings, db: Database) -> bytes:
    """The secrets key (configured, or the data dir's), checked against what is stored."""
    try:
        key = load_key(settings.secrets_key, settings.data_dir)
        await check_stored_keys(db, Sealer(key))
    except ValueError as exc:
        log.error("cannot start: %s", exc)
        await db.close()
        raise SystemExit(f"isolane: {exc}") from None
    return key


async def stop_services(services: Services) -> None:
    services.tail.close()
    await services.scheduler.stop()  # no new cron ticks; started ones finish
    await services.sweeper.stop()
    if services.background:  # let waitUntil work finish (each is bounded by its wall clock)
        await asyncio.gather(*services.background, return_exceptions=True)
    await services.supervisor.stop()
    await services.scripts.close()  # the link workers
    await services.fetcher.close()
    await services.records.stop()
    await services.db.close()


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await start_services(settings)
        try:
            yield
        finally:
            await stop_services(app.state.services)

    app = FastAPI(
        title="Isolane",
        version=__version__,
        description="Self-hosted functions for platforms: tenant JavaScript in supervised V8 isolates.",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        default_response_class=JSONResponse,
        docs_url=None,  # served by routes/docs.py, without a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    api_docs.install(app)
    for module in (home, health, tokens, namespaces, scripts, versions, secrets_routes, schedules_routes, seed, invocations, tail, system, kv, usage):
        app.include_router(module.router)
    app.include_router(invocations.script_router)
    app.include_router(dashboard_router)
    complete_document(app)
    return app


def create_server_app(settings: Settings) -> InvocationGateway:
    """What `isolane serve` runs: the invocation gateway in front of the API app, outermost,
    so that invocations skip the API's middleware (they produce their own JSON errors)."""
    app = create_app(settings)
    return InvocationGateway(app, services=lambda: app.state.services)
