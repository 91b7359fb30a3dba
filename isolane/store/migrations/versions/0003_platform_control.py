"""Platform control: deployments (traffic splits), script tags, hourly usage, request-rate
buckets, and the subrequest count of each invocation record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("script", sa.String(63), nullable=False),
        sa.Column("versions", sa.Text, nullable=False),  # JSON [{"version_id", "percentage"}]
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    )
    op.create_index("ix_deployments_script", "deployments", ["namespace", "script", "created_at"])
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("deployment_id", sa.String(32), nullable=True))
    op.create_table(
        "script_tags",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("script", sa.String(63), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    )
    op.create_index("ix_script_tags_tag", "script_tags", ["namespace", "tag"])
    op.create_table(
        "usage_hourly",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("script", sa.String(63), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),  # epoch ms at the start of the hour
        sa.Column("invocations", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("exception", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("exceeded_cpu", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("exceeded_memory", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("exceeded_wall_time", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("canceled", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cpu_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("wall_ms", sa.Float, nullable=False, server_default="0"),
        sa.Column("subrequests", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_usage_hourly_hour", "usage_hourly", ["namespace", "hour"])
    op.create_table(
        "rate_buckets",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),  # epoch ms of the last refill
    )
    with op.batch_alter_table("invocations") as batch:
        batch.add_column(sa.Column("subrequests", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("subrequests")
    op.drop_table("rate_buckets")
    op.drop_index("ix_usage_hourly_hour", table_name="usage_hourly")
    op.drop_table("usage_hourly")
    op.drop_index("ix_script_tags_tag", table_name="script_tags")
    op.drop_table("script_tags")
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("deployment_id")
    op.drop_index("ix_deployments_script", table_name="deployments")
    op.drop_table("deployments")
