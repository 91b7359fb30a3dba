"""The metadata schema. Times are integer epoch milliseconds (exact, portable, sortable).

Alembic migrations under `migrations/` create and evolve these tables; keep both in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

namespaces = Table(
    "namespaces",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("settings", Text, nullable=False, server_default="{}"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(100), nullable=False),  # "admin" or "namespace:{ns}"
    Column("read_only", Boolean, nullable=False, default=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

scripts = Table(
    "scripts",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("current_version", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deployment_id", String(32), nullable=True),  # the current deployment, when there is one
    ForeignKeyConstraint(["namespace"], ["namespaces.name"], ondelete="CASCADE"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("namespace", String(63), nullable=False),
    Column("script", String(63), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("blob", String(64), nullable=False),  # sha256 of the code, the blob store's key
    Column("size", Integer, nullable=False),
    Column("metadata", Text, nullable=False, server_default="{}"),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    Index("ix_versions_script", "namespace", "script", "created_at"),
)

invocations = Table(
    "invocations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("namespace", String(63), nullable=False),
    Column("script", String(63), nullable=False),
    Column("version", String(64), nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("status", Integer, nullable=True),
    Column("cpu_ms", Float, nullable=False),
    Column("wall_ms", Float, nullable=False),
    Column("logs", Text, nullable=False, server_default="[]"),
    Column("error", Text, nullable=True),
    Column("subrequests", Integer, nullable=False, server_default="0"),
    # When (epoch ms) and by which server the record was written: the live tail of other
    # servers finds records by these (ids sort by start, not by completion).
    Column("stored_at", BigInteger, nullable=True),
    Column("instance", String(32), nullable=True),
    Index("ix_invocations_script", "namespace", "script", "started_at"),
    Index("ix_invocations_script_id", "namespace", "script", "id"),
    Index("ix_invocations_tail", "namespace", "script", "stored_at"),
)

kv_namespaces = Table(
    "kv_namespaces",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("namespace", String(63), nullable=False),  # the tenant namespace that owns it
    Column("title", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["namespace"], ["namespaces.name"], ondelete="CASCADE"),
    UniqueConstraint("namespace", "title", name="uq_kv_namespaces_title"),
)

kv_values = Table(
    "kv_values",
    metadata,
    Column("kv_id", String(32), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("metadata", Text, nullable=True),  # JSON
    Column("expiration", BigInteger, nullable=True),  # epoch seconds, as in Workers KV
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["kv_id"], ["kv_namespaces.id"], ondelete="CASCADE"),
    Index("ix_kv_values_expiration", "kv_id", "expiration"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("script", String(63), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),  # encrypted with the server's secrets key
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("namespace", String(63), nullable=False),
    Column("script", String(63), nullable=False),
    Column("versions", Text, nullable=False),  # JSON [{"version_id", "percentage"}]
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    Index("ix_deployments_script", "namespace", "script", "created_at"),
)

script_tags = Table(
    "script_tags",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("script", String(63), primary_key=True),
    Column("tag", String(64), primary_key=True),
    ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    Index("ix_script_tags_tag", "namespace", "tag"),
)

usage_hourly = Table(
    "usage_hourly",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("script", String(63), primary_key=True),
    Column("hour", BigInteger, primary_key=True),  # epoch ms at the start of the hour
    Column("invocations", BigInteger, nullable=False, server_default="0"),
    Column("exception", BigInteger, nullable=False, server_default="0"),
    Column("exceeded_cpu", BigInteger, nullable=False, server_default="0"),
    Column("exceeded_memory", BigInteger, nullable=False, server_default="0"),
    Column("exceeded_wall_time", BigInteger, nullable=False, server_default="0"),
    Column("canceled", BigInteger, nullable=False, server_default="0"),
    Column("cpu_ms", Float, nullable=False, server_default="0"),
    Column("wall_ms", Float, nullable=False, server_default="0"),
    Column("subrequests", BigInteger, nullable=False, server_default="0"),
    Index("ix_usage_hourly_hour", "namespace", "hour"),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", BigInteger, nullable=False),  # epoch ms of the last refill
)

schedules = Table(
    "schedules",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("script", String(63), primary_key=True),
    Column("cron", String(100), primary_key=True),  # normalized (single spaces)
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
)

# One row per cron tick run: the server whose INSERT wins runs the tick, the others skip it.
cron_leases = Table(
    "cron_leases",
    metadata,
    Column("namespace", String(63), primary_key=True),
    Column("script", String(63), primary_key=True),
    Column("cron", String(100), primary_key=True),
    Column("tick", BigInteger, primary_key=True),  # epoch ms of the scheduled time
    Column("claimed_at", BigInteger, nullable=False),
    Column("invocation_id", String(32), nullable=True),
    Index("ix_cron_leases_tick", "tick"),
)

# Dashboard sessions ended by logging out (their nonces), kept until they would have expired.
dashboard_logouts = Table(
    "dashboard_logouts",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),  # epoch seconds
)

# A namespace deleted whose history (invocation records, usage, cron leases: rows by name,
# deleted in batches after the namespace itself) may not all be gone yet, or whose name
# other servers may still know from their caches: the name is not created again until the
# row is gone (platform/deletion.py).
namespace_deletions = Table(
    "namespace_deletions",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("deleted_at", BigInteger, nullable=False),  # epoch ms
)
