"""Workers KV (namespaces and values) and script secrets (encrypted at rest).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kv_namespaces",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["namespace"], ["namespaces.name"], ondelete="CASCADE"),
        sa.UniqueConstraint("namespace", "title", name="uq_kv_namespaces_title"),
    )
    op.create_table(
        "kv_values",
        sa.Column("kv_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("expiration", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["kv_id"], ["kv_namespaces.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_kv_values_expiration", "kv_values", ["kv_id", "expiration"])
    op.create_table(
        "secrets",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("script", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["namespace", "script"], ["scripts.namespace", "scripts.name"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
    op.drop_index("ix_kv_values_expiration", table_name="kv_values")
    op.drop_table("kv_values")
    op.drop_table("kv_namespaces")
