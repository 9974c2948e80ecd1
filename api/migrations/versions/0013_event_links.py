"""event links: reports of one event point at its canonical incident (incidents.event_id), so
that risk and alerts count the event once; external ids are indexed across organisations to
find the reports of one event at write time

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
    op.create_index("ix_incidents_event_id", "incidents", ["event_id"], unique=False)
    op.create_index("ix_incidents_external_id", "incidents", ["external_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incidents_external_id", table_name="incidents")
    op.drop_index("ix_incidents_event_id", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("event_id")
