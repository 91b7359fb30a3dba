"""Invocation records listed per script, newest first (by their time-sortable id).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invocations_script_id", "invocations", ["namespace", "script", "id"])


def downgrade() -> None:
    op.drop_index("ix_invocations_script_id", table_name="invocations")
