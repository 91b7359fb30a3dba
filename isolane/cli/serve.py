"""`isolane serve` and `isolane version`: the server side of the command."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from isolane import __version__
from isolane.config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_DISPATCH_DOMAIN,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_FIELDS,
    DEFAULT_MAX_INFLIGHT,
    DEFAULT_MAX_INFLIGHT_PER_NAMESPACE,
    DEFAULT_MAX_QUEUE_WAIT_MS,
    DEFAULT_MAX_QUEUED,
    DEFAULT_LINK_MEMORY_MB,
    DEFAULT_LINK_TIMEOUT_SECONDS,
    DEFAULT_LINK_WORKERS,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_SCRIPT_BYTES,
    DEFAULT_MAX_FETCH_BYTES,
    DEFAULT_MAX_SUBREQUESTS,
    DEFAULT_RECORDS_MAX_AGE_DAYS,
    DEFAULT_RECORDS_MAX_PER_SCRIPT,
    DEFAULT_RECORDS_SWEEP_SECONDS,
    Settings,
)
from isolane.sandbox.confinement.layers import SandboxMode
from isolane.sandbox.limits import Limits
from isolane.sandbox.supervisor import default_executor_count
from isolane.store.permissions import PRIVATE_UMASK
from isolane.store.sealing import KEY_FILE, parse_key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def serve(
    host: Annotated[str, typer.Option(envvar="ISOLANE_HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ISOLANE_PORT", help="Port to listen on.")] = 8787,
    data_dir: Annotated[
        Path, typer.Option(envvar="ISOLANE_DATA_DIR", help="Where the database (SQLite) and code blobs live.")
    ] = Path(".isolane"),
    database_url: Annotated[
        str | None,
        typer.Option(envvar="ISOLANE_DATABASE_URL", help="SQLAlchemy URL of the metadata database.", show_default="SQLite in the data dir"),
    ] = None,
    max_script_bytes: Annotated[
        int, typer.Option(envvar="ISOLANE_MAX_SCRIPT_BYTES", min=1, help="Largest script accepted, in bytes (413 above).")
    ] = DEFAULT_MAX_SCRIPT_BYTES,
    cpu_ms: Annotated[int, typer.Option(envvar="ISOLANE_CPU_MS", min=1, help="CPU time limit per invocation, ms.")] = 50,
    wall_ms: Annotated[int, typer.Option(envvar="ISOLANE_WALL_MS", min=1, help="Wall-clock limit per invocation, ms.")] = 30_000,
    memory_mb: Annotated[int, typer.Option(envvar="ISOLANE_MEMORY_MB", min=1, help="JavaScript heap limit per isolate, MB.")] = 128,
    executors: Annotated[
        int | None, typer.Option(envvar="ISOLANE_EXECUTORS", min=1, help="Executor processes [default: one per core].")
    ] = None,
    isolate_cache_size: Annotated[
        int, typer.Option(envvar="ISOLANE_ISOLATE_CACHE_SIZE", min=0, help="Idle isolates kept warm per executor.")
    ] = 256,
    spare_isolates: Annotated[
        int, typer.Option(envvar="ISOLANE_SPARE_ISOLATES", min=0, help="Blank isolates kept ready per executor for cold starts.")
    ] = 2,
    executor_memory_mb: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_EXECUTOR_MEMORY_MB",
            min=64,
            help="Resident memory ceiling per executor process, MB; past it the allocating invocation ends exceededMemory.",
        ),
    ] = 2048,
    sandbox: Annotated[
        SandboxMode,
        typer.Option(
            envvar="ISOLANE_SANDBOX",
            case_sensitive=False,
            help="How executors are confined: strict refuses to start without every layer, auto uses every layer "
            "this host gives and logs the missing ones, off runs them unconfined (debugging only).",
        ),
    ] = SandboxMode.AUTO,
    cordon: Annotated[
        list[str] | None,
        typer.Option(
            envvar="ISOLANE_CORDONS",
            help="NAME=NS[,NS...]: these namespaces run on executors of their own, apart from the shared ones and "
            "from other cordons (repeat for more cordons; the variable takes them space-separated).",
        ),
    ] = None,
    cordon_executors: Annotated[
        int, typer.Option(envvar="ISOLANE_CORDON_EXECUTORS", min=1, help="Executor processes per cordon.")
    ] = 1,
    dispatch_domain: Annotated[
        str,
        typer.Option(
            envvar="ISOLANE_DISPATCH_DOMAIN",
            help="Scripts answer on Host {name}.{namespace}.{domain}; the URL they see uses it too.",
        ),
    ] = DEFAULT_DISPATCH_DOMAIN,
    max_request_bytes: Annotated[
        int, typer.Option(envvar="ISOLANE_MAX_REQUEST_BYTES", min=0, help="Largest request body passed to a script, in bytes (413 above).")
    ] = DEFAULT_MAX_REQUEST_BYTES,
    egress_allow: Annotated[
        str,
        typer.Option(
            envvar="ISOLANE_EGRESS_ALLOW",
            help="Comma-separated host:port destinations scripts may fetch() although the egress policy"
            " denies them (loopback, private, link-local, metadata addresses); matched by name or resolved address.",
        ),
    ] = "",
    subrequests: Annotated[
        int, typer.Option(envvar="ISOLANE_SUBREQUESTS", min=0, help="Subrequests allowed per invocation: fetch, KV and other binding calls together.")
    ] = DEFAULT_MAX_SUBREQUESTS,
    max_fetch_bytes: Annotated[
        int,
        typer.Option(envvar="ISOLANE_MAX_FETCH_BYTES", min=0, help="Response bytes of all fetch() calls of one invocation."),
    ] = DEFAULT_MAX_FETCH_BYTES,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(envvar="ISOLANE_INSECURE_NO_AUTH", help="Accept requests without tokens (local experiments; loopback only)."),
    ] = False,
    secrets_key: Annotated[
        str | None,
        typer.Option(
            envvar="ISOLANE_SECRETS_KEY",
            help="Base64 of the 32-byte key that encrypts script secrets at rest (prefer the environment variable"
            f" to the command line). Without it, one is generated into DATA_DIR/{KEY_FILE} on the first start and reused."
            " Servers sharing a database must share this key.",
            show_default=f"DATA_DIR/{KEY_FILE}",
        ),
    ] = None,
    records_max_age_days: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_RECORDS_MAX_AGE_DAYS", min=0, help="Invocation records older than this many days are deleted (0: kept)."
        ),
    ] = DEFAULT_RECORDS_MAX_AGE_DAYS,
    records_max_per_script: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_RECORDS_MAX_PER_SCRIPT",
            min=0,
            help="Invocation records kept per script, the newest (0: no limit).",
        ),
    ] = DEFAULT_RECORDS_MAX_PER_SCRIPT,
    records_sweep_seconds: Annotated[
        float,
        typer.Option(
            envvar="ISOLANE_RECORDS_SWEEP_SECONDS",
            min=0.1,
            help="How often record retention runs, in seconds (tests shorten it).",
        ),
    ] = DEFAULT_RECORDS_SWEEP_SECONDS,
    max_inflight: Annotated[
        int,
        typer.Option(envvar="ISOLANE_MAX_INFLIGHT", min=1, help="Invocations running at once on this server; more wait for a slot."),
    ] = DEFAULT_MAX_INFLIGHT,
    max_inflight_per_namespace: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_MAX_INFLIGHT_PER_NAMESPACE",
            min=1,
            help="Invocations of one namespace running at once on this server; more wait (at most as many again).",
        ),
    ] = DEFAULT_MAX_INFLIGHT_PER_NAMESPACE,
    max_queued: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_MAX_QUEUED", min=0, help="Invocations waiting for a slot on this server; past it, 503 overloaded."
        ),
    ] = DEFAULT_MAX_QUEUED,
    max_queue_wait_ms: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_MAX_QUEUE_WAIT_MS", min=0, help="How long an invocation waits for a slot before 503 overloaded, ms."
        ),
    ] = DEFAULT_MAX_QUEUE_WAIT_MS,
    max_header_bytes: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_MAX_HEADER_BYTES", min=1024, help="Largest request head (request line and headers), in bytes (431 above)."
        ),
    ] = DEFAULT_MAX_HEADER_BYTES,
    max_header_fields: Annotated[
        int, typer.Option(envvar="ISOLANE_MAX_HEADER_FIELDS", min=1, help="Most header fields in a request (431 above).")
    ] = DEFAULT_MAX_HEADER_FIELDS,
    header_timeout: Annotated[
        float,
        typer.Option(
            envvar="ISOLANE_HEADER_TIMEOUT",
            min=0.1,
            help="Seconds a client has to send a whole request head, from the connection's start"
            " or the next request's first byte; then the connection is closed (408 if part of a head came).",
        ),
    ] = DEFAULT_HEADER_TIMEOUT,
    body_timeout: Annotated[
        float,
        typer.Option(
            envvar="ISOLANE_BODY_TIMEOUT",
            min=0.1,
            help="Seconds the server waits for the next bytes of a request body it is reading; then the request ends (408).",
        ),
    ] = DEFAULT_BODY_TIMEOUT,
    keep_alive_timeout: Annotated[
        int,
        typer.Option(envvar="ISOLANE_KEEP_ALIVE_TIMEOUT", min=1, help="Seconds an idle connection is kept open between requests."),
    ] = DEFAULT_KEEP_ALIVE_TIMEOUT,
    link_workers: Annotated[
        int,
        typer.Option(
            envvar="ISOLANE_LINK_WORKERS",
            min=1,
            help="Processes that link uploads (ES modules) at once; one namespace may use all but one of them.",
        ),
    ] = DEFAULT_LINK_WORKERS,
    link_timeout_seconds: Annotated[
        float,
        typer.Option(
            envvar="ISOLANE_LINK_TIMEOUT_SECONDS",
            min=1.0,
            help="Time bound of one upload's link step, and of its wait for a link worker (400 script_link_timeout, 503 link_busy).",
        ),
    ] = DEFAULT_LINK_TIMEOUT_SECONDS,
    link_memory_mb: Annotated[
        int,
        typer.Option(envvar="ISOLANE_LINK_MEMORY_MB", min=256, help="Address-space ceiling per link worker, MB (400 link_failed above)."),
    ] = DEFAULT_LINK_MEMORY_MB,
    log_level: Annotated[str, typer.Option(envvar="ISOLANE_LOG_LEVEL", help="debug, info, warning or error.")] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="ISOLANE_LOG_FORMAT",
            help="Server logs: json (one object per line), text (readable), or auto (text on a terminal, else json).",
        ),
    ] = "auto",
) -> None:
    """Start the server on the embedded default: SQLite and files under --data-dir.

    The admin token comes from ISOLANE_ADMIN_TOKEN; without it, one is generated on the
    first start and printed once.

    Script secrets are encrypted with the secrets key (--secrets-key / ISOLANE_SECRETS_KEY,
    else DATA_DIR/secrets.key, generated on the first start). Several servers sharing a
    database must all be given the same key.
    """
    from isolane.observability.logs import FORMATS
    from isolane.platform.egress import parse_allow_list
    from isolane.server.serving import run

    if log_format not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--log-format")
    try:
        parse_allow_list(egress_allow)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--egress-allow") from exc
    if insecure_no_auth and not _is_loopback(host):
        raise typer.BadParameter("--insecure-no-auth is refused unless --host is a loopback address", param_hint="--insecure-no-auth")
    if secrets_key:
        try:
            parse_key(secrets_key)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--secrets-key / ISOLANE_SECRETS_KEY") from None
    # Everything the server writes is its own: the data dir (database, blobs, secrets key)
    # is created owner-only explicitly, and this covers whatever else a library writes.
    # Executors create no files.
    os.umask(PRIVATE_UMASK)
    settings = Settings(
        data_dir=data_dir,
        host=host,
        port=port,
        database_url=database_url,
        max_script_bytes=max_script_bytes,
        limits=Limits(cpu_ms=cpu_ms, wall_ms=wall_ms, memory_mb=memory_mb),
        executors=executors or default_executor_count(),
        isolate_cache_size=isolate_cache_size,
        spare_isolates=spare_isolates,
        executor_memory_mb=executor_memory_mb,
        sandbox=sandbox,
        cordons=_cordons(cordon or []),
        cordon_executors=cordon_executors,
        dispatch_domain=dispatch_domain.strip(".").lower(),
        max_request_bytes=max_request_bytes,
        egress_allow=egress_allow,
        max_subrequests=subrequests,
        max_fetch_bytes=max_fetch_bytes,
        admin_token=os.environ.get("ISOLANE_ADMIN_TOKEN") or None,
        insecure_no_auth=insecure_no_auth,
        secrets_key=secrets_key or None,
        records_max_age_days=records_max_age_days,
        records_max_per_script=records_max_per_script,
        records_sweep_seconds=records_sweep_seconds,
        max_inflight=max_inflight,
        max_inflight_per_namespace=max_inflight_per_namespace,
        max_queued=max_queued,
        max_queue_wait_ms=max_queue_wait_ms,
        max_header_bytes=max_header_bytes,
        max_header_fields=max_header_fields,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        keep_alive_timeout=keep_alive_timeout,
        link_workers=link_workers,
        link_timeout_seconds=link_timeout_seconds,
        link_memory_mb=link_memory_mb,
    )
    if sandbox is SandboxMode.STRICT:  # refuse here, with a plain message, not from the app's start-up
        from isolane.sandbox.confinement.jail import Jail
        from isolane.sandbox.confinement.layers import SandboxUnavailable

        try:
            Jail.probe(SandboxMode.STRICT, private=settings.private_dirs)
        except SandboxUnavailable as exc:
            typer.echo(f"isolane: {exc}", err=True)
            raise typer.Exit(1) from None
    run(settings, log_level=log_level, log_format=log_format)


def _cordons(specs: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`NAME=NS,NS` options as (name, namespaces) pairs; a namespace in one cordon at most."""
    from isolane.platform.names import DNS_LABEL

    cordons: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for spec in specs:
        name, _, listed = spec.partition("=")
        namespaces = tuple(ns.strip() for ns in listed.split(",") if ns.strip())
        if not DNS_LABEL.fullmatch(name) or not namespaces or name in cordons:
            raise typer.BadParameter(f"{spec!r}: use NAME=NS[,NS...] with a new lowercase name", param_hint="--cordon")
        for namespace in namespaces:
            if not DNS_LABEL.fullmatch(namespace):
                raise typer.BadParameter(f"{namespace!r} is not a namespace name", param_hint="--cordon")
            if namespace in seen:
                raise typer.BadParameter(f"namespace {namespace!r} is in cordons {seen[namespace]!r} and {name!r}", param_hint="--cordon")
            seen[namespace] = name
        cordons[name] = namespaces
    return tuple(cordons.items())


def version() -> None:
    """Print the version."""
    typer.echo(__version__)
