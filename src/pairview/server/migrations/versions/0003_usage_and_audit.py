"""Add usage event categories, daily usage counts and the append-only audit log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from pairview.server.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

USAGE_COLUMNS = [
    ("room_ref", sa.String(32)),
    ("participant_ref", sa.String(32)),
    ("role", sa.String(8)),
    ("detail", sa.String(16)),
    ("client", sa.String(48)),
    ("os", sa.String(48)),
]

# A DELETE passes only for rows older than a cut-off that the retention
# job's own transaction declared in audit_purge_permits.
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE rejected');
    END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    WHEN NOT EXISTS (
        SELECT 1 FROM audit_purge_permits WHERE OLD.occurred_at < purge_before
    )
    BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only: DELETE rejected');
    END
    """,
]

POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION pairview_audit_log_row_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF EXISTS (
                SELECT 1 FROM audit_purge_permits WHERE OLD.occurred_at < purge_before
            ) THEN
                RETURN OLD;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE FUNCTION pairview_audit_log_truncate_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: TRUNCATE rejected'
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION pairview_audit_log_row_guard()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pairview_audit_log_truncate_guard()
    """,
]


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        for name, column_type in USAGE_COLUMNS:
            batch.add_column(sa.Column(name, column_type, nullable=True))
        batch.create_index("ix_usage_events_occurred_at", ["occurred_at"])
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(48), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("actor_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
    )
    op.create_table(
        "audit_purge_permits",
        sa.Column("purge_before", UtcDateTime(), primary_key=True),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = POSTGRESQL_TRIGGERS
    else:
        # NOTE: other databases get an audit log without the append-only triggers.
        statements = []
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS pairview_audit_log_truncate_guard()")
        op.execute("DROP FUNCTION IF EXISTS pairview_audit_log_row_guard()")
    op.drop_table("audit_purge_permits")
    op.drop_table("audit_log")
    op.drop_table("usage_daily")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index("ix_usage_events_occurred_at")
        for name, _ in reversed(USAGE_COLUMNS):
            batch.drop_column(name)
