"""The service's own PostgreSQL database: engine, sessions and the declarative base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from sqlalchemy import BindParameter, MetaData, bindparam, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from chassis.settings import ServiceSettings

# Stable constraint names, so Alembic migrations are deterministic across machines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class ServiceBase(DeclarativeBase):
    """Base for a service's declarative models; each service subclasses it with its own metadata."""

    __abstract__ = True


def create_engine(settings: ServiceSettings, *, instrument: bool | None = None) -> AsyncEngine:
    """The service's engine; statements get spans when traces are exported (``instrument``).

    A span per statement is a sizeable share of a busy service's CPU, so without an
    exporter to receive them they are not made at all.
    """
    connect_args: dict[str, object] = {
        "timeout": 5,
        "server_settings": {
            "application_name": type(settings).service_name,
            "statement_timeout": str(settings.db_statement_timeout_ms),
        },
    }
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        # No pre-ping: it costs a round trip per transaction. A connection found dead
        # fails its transaction as a disconnect, which invalidates the pool; consumers
        # retry transient failures and readiness reports the outage meanwhile.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if instrument if instrument is not None else bool(settings.otlp_endpoint):
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back when it raises.

    Code inside never commits; it flushes when it needs a row visible earlier.
    """
    async with sessions() as session, session.begin():
        yield session


def bound(*columns: str) -> dict[str, BindParameter[Any]]:
    """``column=bindparam(column)`` for each column: the values of a statement that is
    built once and run with parameters (building a statement per call costs more CPU than
    PostgreSQL spends running it)."""
    return {column: bindparam(column) for column in columns}


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def mirror_newer(
    session: AsyncSession, model: type[DeclarativeBase], values: dict[str, Any]
) -> None:
    """Write the one-row mirror ``model`` (``id`` 1) of a compacted catalog topic with
    ``values``, unless it holds that ``catalog_version`` or a newer one: the topic is read
    from the start, and a replayed older catalog must not win."""
    table = model.__table__
    statement = insert(model).values(id=1, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_=values,
            where=table.c.catalog_version < statement.excluded.catalog_version,
        )
    )
