"""The PostgreSQL pair of aurora_upgrade_dev.postgres for the test tiers: a session fixture, and
helpers that set a condition up on a server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aurora_upgrade_dev.postgres import (
    ADMIN,
    ADMIN_PASSWORD,
    GHOST,
    PROBE_PASSWORD,
    PROBE_USER,
    UNNAMED_ADDRESS,
    Server,
    Servers,
    postgres_bin,
    start_servers,
)

__all__ = [
    "ADMIN",
    "ADMIN_PASSWORD",
    "GHOST",
    "PROBE_PASSWORD",
    "PROBE_USER",
    "UNNAMED_ADDRESS",
    "Server",
    "Servers",
    "admin",
    "postgres_bin",
    "postgres_servers",
    "start_servers",
    "updated_table_without_primary_key",
    "wait_for_update_statistics",
]


@pytest.fixture(scope="session")
def postgres_servers() -> Iterator[Servers]:
    """The pair for a whole test session (the e2e and run tests share it): each test that changes
    a server undoes it, since the probe looks at every database."""
    # pg_cron loaded at start: the IncompatibleExtensions tests create it (CREATE EXTENSION needs it).
    yield from start_servers(preload=("pg_cron",))


def admin(server: Server, dbname: str = "postgres") -> psycopg.Connection[Any]:
    """A superuser connection, autocommit, for setting a condition up."""
    return psycopg.connect(server.conninfo(dbname), autocommit=True)


def wait_for_update_statistics(server: Server, dbname: str, table: str) -> None:
    """Statistics reach pg_stat_user_tables when the writing backend reports them (at the
    latest when it exits): wait for the count, not for a time."""
    with admin(server, dbname) as conn:
        for _ in range(100):
            conn.execute("select pg_stat_clear_snapshot()")
            [(count,)] = conn.execute(
                "select coalesce(sum(n_tup_upd + n_tup_del), 0) from pg_stat_user_tables where relname = %s", (table,)
            ).fetchall()
            if count:
                return
            time.sleep(0.1)
    raise AssertionError(f"no UPDATE/DELETE of {table} in pg_stat_user_tables")


@pytest.fixture
def updated_table_without_primary_key(postgres_servers: Servers) -> Iterator[str]:
    """A database of its own on blue with a table without a primary key that got an UPDATE (what
    logical replication cannot replicate); dropped afterwards, as the probe reads every database."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    with admin(postgres_servers.blue) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    with admin(postgres_servers.blue, name) as connection:
        connection.execute("CREATE TABLE ledger (account int, amount int)")
        connection.execute("INSERT INTO ledger VALUES (1, 10)")
        connection.execute("UPDATE ledger SET amount = 20")
    wait_for_update_statistics(postgres_servers.blue, name, "ledger")
    yield name
    with admin(postgres_servers.blue) as connection:
        connection.execute(f"DROP DATABASE {name} WITH (force)")
