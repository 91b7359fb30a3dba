"""Cron triggers: each script's schedules, and the leases that make a tick run once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("script", sa.String(63), primary_key=True),
        sa.Column("cron", sa.String(100), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    )
    op.create_table(
        "cron_leases",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("script", sa.String(63), primary_key=True),
        sa.Column("cron", sa.String(100), primary_key=True),
        sa.Column("tick", sa.BigInteger, primary_key=True),
        sa.Column("claimed_at", sa.BigInteger, nullable=False),
        sa.Column("invocation_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_cron_leases_tick", "cron_leases", ["tick"])


def downgrade() -> None:
    op.drop_index("ix_cron_leases_tick", table_name="cron_leases")
    op.drop_table("cron_leases")
    op.drop_table("schedules")
