"""The database probe (gateway/database.py, gateway/webhook.py) against two real PostgreSQL
servers, blue and green (support/postgres.py: Debian's package, TLS from a test CA): each guardrail
is produced on the server and found, the clean case passes, the user's SQL and webhook checks
pass, fail and time out, verify-full holds, and no password or token shows anywhere.

What cannot run here: Aurora itself. The local servers cannot verify an IAM token (no rds_iam,
no AWS behind them), so token generation is tested against botocore's real signer with static
test credentials, and an IAM login against the local server fails as it would without GRANT rds_iam.
INCOMPATIBLE_EXTENSIONS is produced with pg_partman and pg_cron (Debian's packages); not with
pgactive (no Debian package) nor pglogical (it must be preloaded, and preloaded it hangs DROP
DATABASE: support/postgres.py)."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from aurora_upgrade.database import Endpoint, Finding, Guardrail, GuardrailAnswer
from aurora_upgrade.gateway.database import PostgresProbe, TokenCache, iam_token_source
from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus
from aurora_upgrade.upgrade import Upgrade
from support.postgres import (
    GHOST,
    PROBE_PASSWORD,
    PROBE_USER,
    UNNAMED_ADDRESS,
    Server,
    Servers,
    start_servers,
    wait_for_update_statistics,
)

CLUSTER = "aurora-bg-aurora-cluster"
GREEN_CLUSTER = "aurora-bg-aurora-cluster-green-abc123"


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    yield from start_servers(preload=("pg_cron",))


def admin(server: Server, dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(server.conninfo(dbname), autocommit=True)


@pytest.fixture
def db(servers: Servers) -> Iterator[str]:
    """A database of this test's own on blue and green; afterwards what a test may leave
    cluster-wide (slots, prepared transactions, role settings) is removed with it, because the
    probe looks at every database and the whole cluster."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    for server in (servers.blue, servers.green):
        with admin(server) as conn:
            conn.execute(f"create database {name}")
    yield name
    for server in (servers.blue, servers.green):
        with admin(server) as conn:
            for gid, database in conn.execute("select gid, database from pg_prepared_xacts").fetchall():
                with admin(server, database) as other:
                    other.execute(f"rollback prepared '{gid}'")
            conn.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots")
            conn.execute(f"alter role {PROBE_USER} reset all")
            conn.execute(f"drop database {name} with (force)")


def spec(**validation: Any) -> dict[str, Any]:
    database = {"user": PROBE_USER, "passwordSecretRef": {"name": "db", "key": "password"}, "sslMode": "verify-full"}
    database.update(validation.pop("database", {}))
    return {
        "region": "ap-northeast-1",
        "clusterIdentifier": CLUSTER,
        "targetEngineVersion": "15.10",
        "validation": {"database": database, **validation},
    }


def upgrade_of(manifest: dict[str, Any], source: str = "15.6") -> Upgrade:
    return Upgrade(
        "runbook",
        "databases",
        "0b5c9a1e-7d0f-4c44-9a57-1f4f2d0c8e11",
        1,
        AuroraUpgradeSpec.model_validate(manifest),
        AuroraUpgradeStatus(source_engine_version=source),
    )


def make_probe(
    servers: Servers,
    manifest: dict[str, Any] | None = None,
    password: str | None = PROBE_PASSWORD,
    tokens: TokenCache | None = None,
    ca_bundle: str | None = None,
    source: str = "15.6",
) -> PostgresProbe:
    return PostgresProbe(
        upgrade_of(manifest or spec(), source),
        password,
        tokens,
        ca_bundle or str(servers.ca_bundle),
        long_transaction=timedelta(0),  # any transaction with a write counts: no test waits a minute
    )


def blue_of(servers: Servers, host: str = "localhost", iam: bool | None = None) -> Endpoint:
    return Endpoint("blue", host, servers.blue.port, CLUSTER, iam_auth_enabled=iam)


def green_of(servers: Servers) -> Endpoint:
    return Endpoint("green", "localhost", servers.green.port, GREEN_CLUSTER)


def only(answer: GuardrailAnswer, guardrail: Guardrail) -> Finding:
    found = [f for f in answer.findings if f.guardrail == guardrail]
    assert len(found) == 1, answer.findings
    return found[0]


def guardrails(answer: GuardrailAnswer) -> list[Guardrail]:
    return sorted(f.guardrail for f in answer.findings)


# The clean case and the fingerprint --------------------------------------------------------


def test_a_clean_database_passes_every_guardrail_over_verify_full(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table orders (id int primary key, note text)")
        conn.execute("insert into orders values (1, 'a')")
        conn.execute("update orders set note = 'b'")
    probe = make_probe(servers)
    created = probe.before_create(blue_of(servers))
    assert created.findings == ()
    assert created.fingerprint is not None and created.fingerprint.startswith("sha256:")
    with admin(servers.blue, db) as conn:  # DML changes no definition
        conn.execute("insert into orders values (2, 'c')")
    before = probe.before_switchover(blue_of(servers), green_of(servers), created.fingerprint)
    assert before.findings == ()
    assert before.fingerprint == created.fingerprint


@pytest.mark.parametrize(
    "change",
    ["create table later (id int primary key)", f"grant select on orders to {PROBE_USER}", "create role newcomer"],
)
def test_ddl_or_dcl_on_blue_after_creation_is_found_and_cannot_be_waited_out(
    servers: Servers, db: str, change: str
) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table orders (id int primary key)")
    probe = make_probe(servers)
    created = probe.before_create(blue_of(servers))
    with admin(servers.blue, db) as conn:
        conn.execute(change)
    try:
        answer = probe.before_switchover(blue_of(servers), green_of(servers), created.fingerprint)
    finally:
        with admin(servers.blue) as conn:
            conn.execute("drop role if exists newcomer")
    finding = only(answer, Guardrail.DDL_SINCE_CREATION)
    assert (finding.blocking, finding.transient, finding.side) == (True, False, "blue")
    assert "recreate the deployment" in finding.message
    assert answer.fingerprint != created.fingerprint


# Before CreateBlueGreenDeployment, on blue --------------------------------------------------


def test_only_a_table_without_primary_key_that_got_updates_is_found(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table nopk (i int)")
        conn.execute("create table nopk_inserts_only (i int)")
        conn.execute("create table nopk_full (i int)")
        conn.execute("alter table nopk_full replica identity full")
        conn.execute("create table withpk (i int primary key)")
        for table in ("nopk", "nopk_inserts_only", "nopk_full", "withpk"):
            conn.execute(f"insert into {table} values (1)")
        for table in ("nopk", "nopk_full", "withpk"):
            conn.execute(f"update {table} set i = 2")
    wait_for_update_statistics(servers.blue, db, "nopk")
    answer = make_probe(servers).before_create(blue_of(servers))
    assert guardrails(answer) == [Guardrail.TABLES_WITHOUT_PRIMARY_KEY]
    message = only(answer, Guardrail.TABLES_WITHOUT_PRIMARY_KEY).message
    assert f"{db}: public.nopk;" in message
    assert "nopk_full" not in message and "inserts_only" not in message and "withpk" not in message
    assert "REPLICA IDENTITY FULL" in message


@pytest.mark.parametrize(
    ("setup", "guardrail", "named"),
    [
        (["create unlogged table scratch (i int)"], Guardrail.UNLOGGED_TABLES, "public.scratch"),
        (["select lo_create(0)", "select lo_create(0)"], Guardrail.LARGE_OBJECTS, "2 large objects"),
        (
            ["create table t (i int primary key)", "create materialized view totals as select count(*) from t"],
            Guardrail.MATERIALIZED_VIEWS,
            "public.totals",
        ),
        (["create table t (i int primary key)", "create publication mine for all tables"], None, "publication mine"),
    ],
)
def test_what_logical_replication_cannot_carry_is_found_on_blue(
    servers: Servers, db: str, setup: list[str], guardrail: Guardrail | None, named: str
) -> None:
    with admin(servers.blue, db) as conn:
        for statement in setup:
            conn.execute(statement)
    answer = make_probe(servers).before_create(blue_of(servers))
    expected = guardrail or Guardrail.SELF_MANAGED_REPLICATION
    assert guardrails(answer) == [expected]
    finding = only(answer, expected)
    assert finding.blocking and not finding.transient
    assert f"{db}: {named}" in finding.message


@contextlib.contextmanager
def extension(server: Server, dbname: str, create: list[str], name: str) -> Iterator[None]:
    """An extension installed for one test and dropped after it: pg_cron lives in `postgres`,
    which outlives the test's database, and every test's probe looks at every database."""
    with admin(server, dbname) as conn:
        for statement in create:
            conn.execute(statement)
    try:
        yield
    finally:
        with admin(server, dbname) as conn:
            conn.execute(f"drop extension if exists {name} cascade")


@pytest.mark.parametrize(
    ("create", "name", "in_postgres"),
    [
        pytest.param(
            ["create schema partman", "create extension pg_partman schema partman"],
            "pg_partman",
            False,
            id="pg_partman",
        ),
        # On blue too: green starts as blue's copy, so pg_cron there would run on green.
        pytest.param(["create extension pg_cron"], "pg_cron", True, id="pg_cron"),
    ],
)
def test_an_extension_aws_lists_as_incompatible_is_found_on_blue_before_creation(
    servers: Servers, db: str, create: list[str], name: str, in_postgres: bool
) -> None:
    where = "postgres" if in_postgres else db
    with extension(servers.blue, where, create, name):
        answer = make_probe(servers).before_create(blue_of(servers))
    assert guardrails(answer) == [Guardrail.INCOMPATIBLE_EXTENSIONS]
    finding = only(answer, Guardrail.INCOMPATIBLE_EXTENSIONS)
    assert (finding.side, finding.blocking, finding.transient) == ("blue", True, False)
    assert f"{where}: {name};" in finding.message
    assert "disable them for the upgrade" in finding.message


def test_pg_cron_created_on_green_is_found_before_the_switchover_and_not_on_blue(servers: Servers, db: str) -> None:
    probe = make_probe(servers)
    created = probe.before_create(blue_of(servers))
    assert created.findings == ()
    with extension(servers.green, "postgres", ["create extension pg_cron"], "pg_cron"):
        answer = probe.before_switchover(blue_of(servers), green_of(servers), created.fingerprint)
        # Blue is unchanged: only green's check can see it.
        assert probe.before_create(blue_of(servers)).findings == ()
    assert guardrails(answer) == [Guardrail.INCOMPATIBLE_EXTENSIONS]
    finding = only(answer, Guardrail.INCOMPATIBLE_EXTENSIONS)
    assert (finding.side, finding.blocking, finding.transient) == ("green", True, False)
    assert "postgres: pg_cron;" in finding.message and "DROP EXTENSION" in finding.message
    after = probe.before_switchover(blue_of(servers), green_of(servers), created.fingerprint)
    assert after.findings == ()  # dropped: the next look passes


def test_a_self_managed_slot_blocks_creation_and_shows_as_lag_before_switchover(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("select pg_create_logical_replication_slot('mine', 'pgoutput')")
    probe = make_probe(servers)
    created = probe.before_create(blue_of(servers))
    assert guardrails(created) == [Guardrail.SELF_MANAGED_REPLICATION]
    assert "replication slot mine (logical" in created.findings[0].message
    lag = only(probe.before_switchover(blue_of(servers), green_of(servers), None), Guardrail.REPLICATION_LAG)
    assert lag.transient and "mine" in lag.message and "no receiver" in lag.message


def test_more_databases_than_free_replication_slots_is_found(servers: Servers, db: str) -> None:
    with admin(servers.blue) as conn:
        for n in range(9):  # max_replication_slots = 10; postgres and the test's database need 2
            conn.execute(f"select pg_create_physical_replication_slot('held_{n}')")
    answer = make_probe(servers).before_create(blue_of(servers))
    finding = only(answer, Guardrail.TOO_MANY_DATABASES)
    assert "2 databases" in finding.message and "max_replication_slots = 10 with 9 in use" in finding.message


def test_many_sequences_are_reported_and_hold_only_past_the_switchover_timeout(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("do $$ begin for i in 1..3100 loop execute format('create sequence s%s', i); end loop; end $$")
    roomy = only(make_probe(servers).before_create(blue_of(servers)), Guardrail.MANY_SEQUENCES)
    assert not roomy.blocking
    assert "3100 sequences" in roomy.message and "timeoutSeconds = 300" in roomy.message
    short = spec()
    short["switchover"] = {"timeoutSeconds": 30}
    tight = only(make_probe(servers, short).before_create(blue_of(servers)), Guardrail.MANY_SEQUENCES)
    assert tight.blocking and "raise spec.switchover.timeoutSeconds" in tight.message


# Before the switchover call -----------------------------------------------------------------


def test_an_open_transaction_holding_a_write_is_found_and_ours_and_readers_are_not(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table t (i int primary key)")
    created = make_probe(servers).before_create(blue_of(servers))  # the fingerprint DDL since is compared with
    writer = admin(servers.blue, db)
    reader = admin(servers.blue, db)
    try:
        writer.execute("begin")
        writer.execute("insert into t values (1)")
        reader.execute("begin")
        reader.execute("select * from t")
        answer = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), created.fingerprint)
        writer_pid, reader_pid = writer.info.backend_pid, reader.info.backend_pid
    finally:
        writer.close()
        reader.close()
    assert guardrails(answer) == [Guardrail.LONG_RUNNING_TRANSACTIONS]
    finding = answer.findings[0]
    assert finding.transient and finding.blocking
    assert f"pid {writer_pid} " in finding.message and f"pid {reader_pid} " not in finding.message


def test_a_write_in_a_thread_sleeping_in_its_transaction_is_found(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table t (i int primary key)")
    sleeper = admin(servers.blue, db)
    started = threading.Event()

    def hold() -> None:
        with sleeper.transaction():
            sleeper.execute("insert into t values (1)")
            started.set()
            with contextlib.suppress(psycopg.errors.QueryCanceled):  # the test cancels it once done
                sleeper.execute("select pg_sleep(60)")

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert started.wait(10)
        answer = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), None)
    finally:
        with admin(servers.blue) as conn:
            conn.execute("select pg_cancel_backend(%s)", (sleeper.info.backend_pid,))
        thread.join(10)
        sleeper.close()
    finding = only(answer, Guardrail.LONG_RUNNING_TRANSACTIONS)
    assert "active" in finding.message


def test_ddl_holding_its_lock_and_a_prepared_transaction_are_found(servers: Servers, db: str) -> None:
    with admin(servers.blue, db) as conn:
        conn.execute("create table t (i int primary key)")
        conn.execute("create table other (i int primary key)")
        conn.execute("begin")
        conn.execute("insert into other values (1)")  # not t: its locks would hold the DDL below
        conn.execute("prepare transaction 'half-done'")
    ddl = admin(servers.blue, db)
    try:
        ddl.execute("begin")
        ddl.execute("alter table t add column note text")
        ddl_pid = ddl.info.backend_pid
        answer = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), None)
    finally:
        ddl.close()
    in_flight = only(answer, Guardrail.DDL_IN_FLIGHT)
    assert answer.fingerprint is None  # not read behind the DDL's lock: the next look compares
    assert f"pid {ddl_pid} (admin on {db} holds ACCESS EXCLUSIVE locks" in in_flight.message
    prepared = only(answer, Guardrail.PREPARED_TRANSACTIONS)
    assert prepared.transient and f"half-done (admin on {db})" in prepared.message


def test_green_opened_to_writes_by_a_role_setting_is_found(servers: Servers, db: str) -> None:
    with admin(servers.green) as conn:
        conn.execute(f"alter role {PROBE_USER} set default_transaction_read_only = off")
    answer = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), None)
    finding = only(answer, Guardrail.GREEN_WRITABLE)
    assert finding.side == "green" and finding.blocking
    assert f"default_transaction_read_only=off for {PROBE_USER} in every database" in finding.message


def test_outdated_extensions_and_missing_statistics_on_green_are_reported_not_blocking(
    servers: Servers, db: str
) -> None:
    with admin(servers.green, db) as conn:
        conn.execute("create extension citext version '1.4'")
        conn.execute("create table never_analyzed (i int primary key)")
    minor = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), None)
    outdated = only(minor, Guardrail.EXTENSIONS_OUTDATED)
    assert not outdated.blocking and outdated.side == "green"
    assert f'{db}: ALTER EXTENSION "citext" UPDATE; -- 1.4 -> 1.6' in outdated.message
    assert Guardrail.ANALYZE_NEEDED not in guardrails(minor)  # 15.6 -> 15.10 keeps statistics
    major = make_probe(servers, source="14.9").before_switchover(blue_of(servers), green_of(servers), None)
    analyze = only(major, Guardrail.ANALYZE_NEEDED)
    assert not analyze.blocking and f"{db}: public.never_analyzed" in analyze.message


# Connecting --------------------------------------------------------------------------------


def test_verify_full_refuses_another_ca_and_a_host_the_certificate_does_not_name(servers: Servers, db: str) -> None:
    wrong_ca = make_probe(servers, ca_bundle=str(servers.other_ca)).before_create(blue_of(servers))
    finding = only(wrong_ca, Guardrail.DATABASE_UNREACHABLE)
    assert "certificate verify failed" in finding.message and wrong_ca.fingerprint is None
    wrong_host = make_probe(servers).before_create(blue_of(servers, host=UNNAMED_ADDRESS))
    assert "does not match host name" in only(wrong_host, Guardrail.DATABASE_UNREACHABLE).message


def test_a_user_missing_on_blue_and_a_refused_login_are_said_so(servers: Servers, db: str) -> None:
    ghost = spec(database={"user": GHOST})
    missing = make_probe(servers, ghost).before_create(blue_of(servers))
    assert guardrails(missing) == [Guardrail.DATABASE_USER_MISSING]
    assert "create it on blue before the deployment" in missing.findings[0].message
    refused = make_probe(servers, password="not-the-password").before_create(blue_of(servers))
    finding = only(refused, Guardrail.DATABASE_UNREACHABLE)
    assert "password authentication failed" in finding.message and "passwordSecretRef" in finding.message


def iam_spec() -> dict[str, Any]:
    manifest = spec()
    del manifest["validation"]["database"]["passwordSecretRef"]
    return manifest


def test_iam_authentication_off_on_the_cluster_is_found_without_a_login(servers: Servers) -> None:
    def never(host: str, port: int, user: str) -> str:
        raise AssertionError("no token is needed to know IAM authentication is off")

    answer = make_probe(servers, iam_spec(), password=None, tokens=TokenCache(never)).before_create(
        blue_of(servers, iam=False)
    )
    assert guardrails(answer) == [Guardrail.IAM_AUTH_DISABLED]
    assert "enable-iam-database-authentication" in answer.findings[0].message


def test_an_iam_token_is_signed_by_botocore_for_the_host_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's real signer with static test credentials (no AWS call is made: the token is a
    presigned URL). Only RDS can verify it; the local server cannot."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clock = [1000.0]
    signer = iam_token_source("ap-northeast-1", None, None)
    signed: list[str] = []

    def counted(host: str, port: int, user: str) -> str:
        signed.append(host)
        return signer(host, port, user)

    cache = TokenCache(counted, now=lambda: clock[0])
    host = "aurora-bg-aurora-cluster.cluster-abc.ap-northeast-1.rds.amazonaws.com"
    token = cache.token(host, 5432, PROBE_USER)
    where, _, query = token.partition("/?")
    assert where == f"{host}:5432"
    params = dict(urllib.parse.parse_qsl(query))
    assert params["Action"] == "connect" and params["DBUser"] == PROBE_USER
    assert params["X-Amz-Expires"] == "900"  # AWS: a token is valid for 15 minutes
    assert params["X-Amz-Credential"].startswith("AKIDTESTTESTTESTTEST/")
    assert params["X-Amz-Credential"].endswith("/ap-northeast-1/rds-db/aws4_request")
    assert "X-Amz-Signature" in params
    clock[0] += 9 * 60
    assert cache.token(host, 5432, PROBE_USER) == token
    assert signed == [host]
    assert cache.token("green." + host, 5432, PROBE_USER).startswith(f"green.{host}:5432/?")  # one per host
    clock[0] += 2 * 60  # past the 10 minutes a token is reused for
    cache.token(host, 5432, PROBE_USER)
    assert signed == [host, "green." + host, host]


# The user's checks --------------------------------------------------------------------------


def sql_checks(*checks: tuple[str, str, int]) -> dict[str, Any]:
    return spec(checks=[{"name": name, "sql": sql, "timeoutSeconds": timeout} for name, sql, timeout in checks])


def test_sql_checks_pass_on_one_true_and_fail_or_err_on_anything_else(servers: Servers, db: str) -> None:
    with admin(servers.green) as conn:
        conn.execute("create table if not exists orders_seen (i int)")
        conn.execute(f"grant all on orders_seen to {PROBE_USER}")  # only READ ONLY refuses the write
    try:
        probe = make_probe(
            servers,
            sql_checks(
                ("readable", "select count(*) = 0 from orders_seen", 30),
                ("false", "select false", 30),
                ("two-rows", "select true from generate_series(1, 2)", 30),
                ("two-columns", "select true, true", 30),
                ("not-boolean", "select 1", 30),
                ("slow", "select pg_sleep(30) is not null", 1),
                ("writes", "insert into orders_seen values (1) returning true", 30),
                ("broken", "select true from no_such_table", 30),
            ),
        )
        results = {name: probe.run_check(name, green_of(servers)) for name in probe._checks}
    finally:
        with admin(servers.green) as conn:
            [(rows,)] = conn.execute("select count(*) from orders_seen").fetchall()
            conn.execute("drop table orders_seen")
    assert rows == 0  # the write was refused
    summary = {name: (r.result, r.message) for name, r in results.items()}
    assert summary["readable"] == ("Passed", "returned true")
    assert summary["false"] == ("Failed", "returned False, not true")
    assert summary["two-rows"][0] == "Failed" and "returned 2 rows" in summary["two-rows"][1]
    assert summary["two-columns"][0] == "Failed" and "returned 2 columns" in summary["two-columns"][1]
    assert summary["not-boolean"] == ("Failed", "returned 1, not true")
    assert summary["slow"] == ("Error", "no answer within 1s (statement_timeout)")
    assert summary["writes"][0] == "Failed" and "READ ONLY" in summary["writes"][1]
    assert summary["broken"][0] == "Failed" and "no_such_table" in summary["broken"][1]
    assert {r.side for r in results.values()} == {"green"}


def test_a_check_that_cannot_connect_is_an_error(servers: Servers) -> None:
    probe = make_probe(servers, sql_checks(("readable", "select true", 30)), password="not-the-password")
    result = probe.run_check("readable", green_of(servers))
    assert result.result == "Error" and "could not connect to green" in result.message


class _Hook(http.server.BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.bodies.append(body)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/slow":
            time.sleep(3)
        self.send_response({"/ok": 204, "/fail": 500, "/slow": 200, "/moved": 302}[path])
        if path == "/moved":
            self.send_header("Location", "/ok")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.bodies.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_webhooks_pass_on_2xx_fail_on_other_answers_and_err_without_one(servers: Servers, hook_server: str) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/ok"
    manifest = spec(
        checks=[
            {"name": "ok", "webhook": {"url": f"{hook_server}/ok?token=query-secret"}},
            {"name": "fail", "webhook": {"url": f"{hook_server}/fail"}},
            {"name": "moved", "webhook": {"url": f"{hook_server}/moved"}},
            {"name": "slow", "webhook": {"url": f"{hook_server}/slow"}, "timeoutSeconds": 1},
            {"name": "refused", "webhook": {"url": closed}},
        ]
    )
    probe = make_probe(servers, manifest)
    results = {name: probe.run_check(name, green_of(servers)) for name in ("ok", "fail", "moved", "slow", "refused")}
    assert results["ok"].result == "Passed" and "HTTP 204" in results["ok"].message
    assert "query-secret" not in results["ok"].message
    assert results["fail"].result == "Failed" and "HTTP 500" in results["fail"].message
    assert results["moved"].result == "Failed" and "HTTP 302" in results["moved"].message
    assert results["slow"].result == "Error" and "did not answer within 1s" in results["slow"].message
    assert results["refused"].result == "Error" and "could not reach" in results["refused"].message
    assert len(_Hook.bodies) == 4  # the redirect was not followed
    assert _Hook.bodies[0] == {
        "upgrade": "databases/runbook",
        "cluster": CLUSTER,
        "check": "ok",
        "greenCluster": GREEN_CLUSTER,
        "greenEndpoint": "localhost",
        "greenPort": servers.green.port,
    }
    assert all(PROBE_PASSWORD not in json.dumps(body) for body in _Hook.bodies)


# Secrets ------------------------------------------------------------------------------------


def test_no_password_or_token_shows_in_a_message_or_a_log(
    servers: Servers, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "aurora.example:5432/?Action=connect&DBUser=aurora_upgrade&X-Amz-Signature=deadbeef-token"
    # The user's SQL echoing the password into an error, and a wrong password, with a password...
    leaky = make_probe(servers, sql_checks(("echo", f"select '{PROBE_PASSWORD}'::int = 1", 30)))
    messages = [leaky.run_check("echo", green_of(servers)).message]
    wrong = make_probe(servers, sql_checks(("echo", "select true", 30)), password=PROBE_PASSWORD + "-wrong")
    messages += [f.message for f in wrong.before_create(blue_of(servers)).findings]
    messages.append(wrong.run_check("echo", green_of(servers)).message)
    # ...and with an IAM token the local server refuses (it cannot verify one).
    iam = make_probe(servers, iam_spec(), password=None, tokens=TokenCache(lambda host, port, user: token))
    refused = iam.before_switchover(blue_of(servers, iam=True), green_of(servers), None)
    assert guardrails(refused) == [Guardrail.DATABASE_UNREACHABLE, Guardrail.DATABASE_UNREACHABLE]
    assert "GRANT rds_iam" in refused.findings[0].message
    messages += [f.message for f in refused.findings]
    assert "***" in messages[0]  # the echo was there, and scrubbed
    shown = "\n".join(messages + [record.getMessage() for record in caplog.records])
    assert PROBE_PASSWORD not in shown and token not in shown and "deadbeef" not in shown


# The review's findings ------------------------------------------------------------------------


def test_user_sql_cannot_leave_read_only_with_a_second_statement(servers: Servers, db: str) -> None:
    """The simple query protocol runs every statement of a string, so "select true; commit; insert
    ..." would commit the READ ONLY transaction and write to green. The check runs over the
    extended protocol: one statement only, refused by the server."""
    with admin(servers.green) as conn:
        conn.execute("create table if not exists escaped (i int)")
        conn.execute(f"grant all on escaped to {PROBE_USER}")
    try:
        probe = make_probe(
            servers,
            sql_checks(
                ("escape", "select true; commit; insert into escaped values (1)", 30),
                ("escape-set", "select true; set transaction read write; insert into escaped values (1)", 30),
                ("percent", "select 'a%' like 'a%%' or true", 30),
            ),
        )
        results = {name: probe.run_check(name, green_of(servers)) for name in probe._checks}
    finally:
        with admin(servers.green) as conn:
            [(rows,)] = conn.execute("select count(*) from escaped").fetchall()
            conn.execute("drop table escaped")
    assert rows == 0, "nothing was written to green"
    assert results["escape"].result == "Failed" and "multiple commands" in results["escape"].message
    assert results["escape-set"].result == "Failed"
    assert results["percent"].result == "Passed", "the user's text is sent as given: no placeholders"


def test_the_probe_s_sessions_are_read_only_and_end_on_a_silent_peer(servers: Servers, db: str) -> None:
    """libpq's keepalives and tcp_user_timeout end a connection whose peer went silent (a network
    partition: statement_timeout needs a server that answers); every session is read-only by
    default, not only the checks' transactions."""
    probe = make_probe(servers)
    with probe._connection(green_of(servers), db) as conn:
        params = conn.info.get_parameters()
        [(read_only,)] = conn.execute("show default_transaction_read_only").fetchall()
        [(user_timeout,)] = conn.execute("show tcp_user_timeout").fetchall()
    assert read_only == "on"
    assert (params["keepalives"], params["keepalives_idle"]) == ("1", "10")
    assert (params["keepalives_interval"], params["keepalives_count"]) == ("5", "3")
    assert int(params["tcp_user_timeout"]) > 0 and user_timeout == "0"  # libpq's, on our side of the socket


def test_a_connection_that_fails_is_looked_at_again_a_missing_user_is_not(servers: Servers, db: str) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = Endpoint("blue", "127.0.0.1", unused.getsockname()[1], CLUSTER)
    refused = only(
        make_probe(servers).before_switchover(closed, green_of(servers), "sha256:x"), Guardrail.DATABASE_UNREACHABLE
    )
    assert refused.transient and refused.blocking
    wrong_password = make_probe(servers, password="not-the-password").before_create(blue_of(servers))
    assert only(wrong_password, Guardrail.DATABASE_UNREACHABLE).transient
    ghost = make_probe(servers, spec(database={"user": GHOST})).before_create(blue_of(servers))
    assert not only(ghost, Guardrail.DATABASE_USER_MISSING).transient, "waiting cannot create the user"


def test_without_a_fingerprint_ddl_since_creation_is_said_not_checked(servers: Servers, db: str) -> None:
    answer = make_probe(servers).before_switchover(blue_of(servers), green_of(servers), None)
    unchecked = only(answer, Guardrail.DDL_SINCE_CREATION)
    assert not unchecked.blocking and "could not be checked" in unchecked.message


class _Drip(http.server.BaseHTTPRequestHandler):
    """Answers 200 one header byte at a time, each within the per-read timeout, for longer than
    the check's timeoutSeconds."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with contextlib.suppress(OSError):  # the probe hangs up at its deadline
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Slow: " + b"a" * 12 + b"\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.25)
            self.wfile.write(b"Content-Length: 0\r\n\r\n")

    def log_message(self, *args: Any) -> None:
        pass


def test_a_webhook_answering_a_byte_at_a_time_does_not_pass_past_its_timeout(servers: Servers) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifest = spec(
            checks=[
                {
                    "name": "drip",
                    "webhook": {"url": f"http://127.0.0.1:{server.server_address[1]}/"},
                    "timeoutSeconds": 1,
                }
            ]
        )
        result = make_probe(servers, manifest).run_check("drip", green_of(servers))
    finally:
        server.shutdown()
        server.server_close()
    assert (result.result, result.message.endswith("did not answer within 1s")) == ("Error", True), result
