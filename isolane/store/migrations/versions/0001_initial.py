"""Initial schema: namespaces, tokens, scripts, versions, invocation records.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespaces",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("settings", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "scripts",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("current_version", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["namespace"], ["namespaces.name"], ondelete="CASCADE"),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("script", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_versions_script", "versions", ["namespace", "script", "created_at"])
    op.create_table(
        "invocations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("script", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("cpu_ms", sa.Float, nullable=False),
        sa.Column("wall_ms", sa.Float, nullable=False),
        sa.Column("logs", sa.Text, nullable=False, server_default="[]"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_invocations_script", "invocations", ["namespace", "script", "started_at"])


def downgrade() -> None:
    op.drop_table("invocations")
    op.drop_table("versions")
    op.drop_table("scripts")
    op.drop_table("tokens")
    op.drop_table("namespaces")
