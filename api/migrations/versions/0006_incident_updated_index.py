"""index incidents.updated_at (the risk store's cheap change fingerprint)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_updated_at", "incidents", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incidents_updated_at", table_name="incidents")
