"""Create the rooms table.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from pairview.server.db import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host_token_hash", sa.String(64), nullable=False),
        sa.Column("invite_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("invite_expires_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("rooms")
