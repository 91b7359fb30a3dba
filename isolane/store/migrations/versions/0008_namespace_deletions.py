"""Namespaces being deleted: their history is purged in batches, and the name is not
created again until it is gone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespace_deletions",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("deleted_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("namespace_deletions")
