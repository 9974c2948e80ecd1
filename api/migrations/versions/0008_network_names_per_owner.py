"""trust network names unique per owner organisation, not across the platform

A global unique name let any admin learn, through a 409, that another organisation's network
(invisible to it) has a given name.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust_networks") as batch:
        batch.drop_constraint("uq_trust_networks_name", type_="unique")
        batch.create_unique_constraint("uq_trust_networks_owner_name", ["owner_org_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("trust_networks") as batch:
        batch.drop_constraint("uq_trust_networks_owner_name", type_="unique")
        batch.create_unique_constraint("uq_trust_networks_name", ["name"])
