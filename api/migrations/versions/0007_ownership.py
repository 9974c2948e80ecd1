"""ownership: trust networks have an owner and invitations, zones an owner organisation

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust_networks") as batch:
        batch.add_column(sa.Column("owner_org_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "fk_trust_networks_owner_org_id_organisations",
            "organisations",
            ["owner_org_id"],
            ["id"],
        )
        batch.create_index("ix_trust_networks_owner_org_id", ["owner_org_id"], unique=False)
    op.create_table(
        "trust_network_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("decided_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["trust_networks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_trust_network_invitations_network_id", "trust_network_invitations", ["network_id"]
    )
    op.create_index("ix_trust_network_invitations_org_id", "trust_network_invitations", ["org_id"])
    # Zones drawn before ownership existed stay platform zones (NULL): the safe side, since only
    # the operator may then change them.
    with op.batch_alter_table("zones") as batch:
        batch.add_column(sa.Column("owner_org_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "fk_zones_owner_org_id_organisations",
            "organisations",
            ["owner_org_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_zones_owner_org_id", ["owner_org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("zones") as batch:
        batch.drop_index("ix_zones_owner_org_id")
        batch.drop_constraint("fk_zones_owner_org_id_organisations", type_="foreignkey")
        batch.drop_column("owner_org_id")
    op.drop_index("ix_trust_network_invitations_org_id", table_name="trust_network_invitations")
    op.drop_index("ix_trust_network_invitations_network_id", table_name="trust_network_invitations")
    op.drop_table("trust_network_invitations")
    with op.batch_alter_table("trust_networks") as batch:
        batch.drop_index("ix_trust_networks_owner_org_id")
        batch.drop_constraint("fk_trust_networks_owner_org_id_organisations", type_="foreignkey")
        batch.drop_column("owner_org_id")
