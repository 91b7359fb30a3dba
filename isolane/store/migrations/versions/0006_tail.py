"""Live tail across instances: when and by which server each record was stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invocations") as batch:
        batch.add_column(sa.Column("stored_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("instance", sa.String(32), nullable=True))
    op.create_index("ix_invocations_tail", "invocations", ["namespace", "script", "stored_at"])


def downgrade() -> None:
    op.drop_index("ix_invocations_tail", table_name="invocations")
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("instance")
        batch.drop_column("stored_at")
