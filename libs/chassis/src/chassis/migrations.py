"""Alembic, run per service against its own database.

Each service keeps its migrations inside its package (``<service>/migrations``) so they
ship with it; ``env.py`` there calls :func:`run_env`.
"""

from __future__ import annotations

import asyncio
import logging

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

log = logging.getLogger(__name__)


def alembic_config(script_location: str, database_url: str) -> Config:
    """``script_location`` is ``package:migrations``, e.g. ``billing:migrations``."""
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    # ConfigParser interpolation would eat a '%' inside a password.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_to_head(script_location: str, database_url: str) -> None:
    command.upgrade(alembic_config(script_location, database_url), "head")


async def upgrade_to_head_async(script_location: str, database_url: str) -> None:
    # Alembic drives its async env with asyncio.run, which needs a thread of its own.
    await asyncio.to_thread(upgrade_to_head, script_location, database_url)


def _run(connection: Connection, metadata: MetaData) -> None:
    # Replicas starting together take turns; the second finds nothing left to do.
    connection.execute(text("SELECT pg_advisory_lock(hashtext('alembic-migrations'))"))
    try:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(hashtext('alembic-migrations'))"))
        connection.commit()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run, metadata)
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set for migrations")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))


def create_outbox_notify_trigger() -> list[str]:
    """DDL of the trigger that wakes the relay when a transaction adds outbox rows.

    A statement-level trigger costs no extra round trip, and PostgreSQL folds identical
    notifications of one transaction into one, delivered at commit.
    """
    return [
        """
        CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox_ready', '');
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
        """,
    ]


def drop_outbox_notify_trigger() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
        "DROP FUNCTION IF EXISTS outbox_notify()",
    ]


def create_messaging_schema_v1() -> None:
    """Create the outbox and inbox (version 1) inside a service's migration.

    Versioned so that a service's first migration keeps meaning the same thing when
    the chassis grows a later version; a change comes as ``..._v2`` with an upgrade.
    """
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL")
    )
    op.create_index(
        "ix_outbox_sent_at", "outbox", ["sent_at"], postgresql_where=sa.text("sent_at IS NOT NULL")
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    for statement in create_outbox_notify_trigger():
        op.execute(statement)


def drop_messaging_schema_v1() -> None:
    from alembic import op

    for statement in drop_outbox_notify_trigger():
        op.execute(statement)
    op.drop_table("inbox")
    op.drop_table("outbox")


def create_timers_schema_v1() -> None:
    """Create the ``timers`` table of ``chassis.timers`` (version 1) inside a service's
    migration; it matches ``chassis.timers.timer_table``."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "timers",
        sa.Column("timer_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("timer_id", name="pk_timers"),
    )
    op.create_index(
        "ix_timers_due", "timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL")
    )


def drop_timers_schema_v1() -> None:
    from alembic import op

    op.drop_table("timers")


async def create_schema_without_migrations(database_url: str, metadata: MetaData) -> None:
    """Every table of ``metadata`` plus the outbox trigger, straight from the models.

    For benchmarks and the chassis's own tests, whose throw-away services have no Alembic
    history; real services always migrate.
    """
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            for statement in create_outbox_notify_trigger():
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
