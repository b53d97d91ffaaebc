"""The `DatabaseProbe` of aurora_upgrade.database over psycopg 3: connecting to blue's and
green's writer endpoints, the guardrail queries, and the user's checks. The only module that
imports psycopg (late, as boto3 is: an operator with no validation never loads it).

Connecting: host and port from the Endpoint; database, user and sslmode from
spec.validation.database; the CA bundle from AURORA_UPGRADE_DB_CA_BUNDLE (config.py; the chart
mounts AWS's RDS bundle there), else the system's trust store. With passwordSecretRef the
password given (None: libpq's own PGPASSWORD or ~/.pgpass, as `aurora-upgrade run` does); without
it an IAM authentication token (generate_db_auth_token with the RDS gateway's credentials), one
per host, reused while it has minutes left. A password or token never appears in a message:
libpq's errors are scrubbed of both.

The guardrails are the conditions AWS's Aurora User Guide ("Limitations and considerations for
Aurora blue/green deployments", "Switching a blue/green deployment") says stop logical
replication or make it refuse a switchover; docs/validation.md cites each. Each query is a
function of its own below, with the reason it exists."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aurora_upgrade import clock, config
from aurora_upgrade.database import (
    CheckResult,
    Endpoint,
    Finding,
    Guardrail,
    GuardrailAnswer,
    Side,
)
from aurora_upgrade.gateway import webhook
from aurora_upgrade.models import SslMode, ValidationCheck
from aurora_upgrade.upgrade import Upgrade

if TYPE_CHECKING:
    import psycopg

APPLICATION_NAME = "aurora-upgrade-operator"  # how our sessions show in pg_stat_activity
CONNECT_TIMEOUT = 10  # seconds; libpq's connect_timeout (its minimum is 2)
GUARDRAIL_STATEMENT_TIMEOUT = timedelta(seconds=30)  # each catalog query
# libpq's TCP keepalives (seconds): a peer silent for idle + interval x count is gone.
KEEPALIVE_IDLE = 10
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3
# Catalog reads wait for a lock only behind DDL, which DDL_IN_FLIGHT reports: never queue there.
GUARDRAIL_LOCK_TIMEOUT = timedelta(seconds=2)
# AWS: an IAM authentication token is valid for 15 minutes; one is reused for 10.
TOKEN_LIFETIME = timedelta(minutes=10)
# Transactions with writes open longer than this on blue are what AWS's switchover guardrail
# refuses ("long-running active writes"); the switchover waits for them to end anyway.
LONG_TRANSACTION = timedelta(minutes=1)
# Logical replication behind blue's current WAL by more than this is lag worth waiting for.
LAG_LIMIT_BYTES = 64 * 1024 * 1024
# AWS: "thousands of sequences" lengthen the switchover (they are synced during it). How many a
# second it syncs is not documented: this generous estimate only holds an upgrade whose
# sequences would clearly not fit the switchover timeout; from REPORT_SEQUENCES on it is said.
SEQUENCES_PER_SECOND = 100
REPORT_SEQUENCES = 1000
# AWS's own administration database on RDS and Aurora: no user connects to it.
RDS_ADMIN_DATABASE = "rdsadmin"
INCOMPATIBLE_ON_BLUE = ("pg_partman", "pglogical", "pgactive")  # AWS: must be off on blue
INCOMPATIBLE_ON_GREEN = ("pg_cron",)  # AWS: must be off on green
FALSE_SETTINGS = ("off", "false", "no", "0", "f", "n", "of")  # PostgreSQL's spellings of false

TokenSource = Callable[[str, int, str], str]  # (host, port, user) -> an IAM authentication token


class _Unreachable(Exception):
    """Could not connect or log in; the message is scrubbed of the password or token."""


def iam_token_source(region: str, role_arn: str | None, external_id: str | None) -> TokenSource:
    """Tokens signed with the RDS gateway's credentials (the default chain or the assumed role):
    boto3's generate_db_auth_token presigns rds-db:connect locally; no AWS call is made."""
    from aurora_upgrade.gateway.clients import _session

    client: list[Any] = []

    def token(host: str, port: int, user: str) -> str:
        if not client:
            client.append(_session(region, role_arn, external_id).client("rds", region_name=region))
        answer: str = client[0].generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
        return answer

    return token


class TokenCache:
    """One token per (host, port, user), reused until TOKEN_LIFETIME has passed."""

    def __init__(self, source: TokenSource, now: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._now = now
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, int, str], tuple[str, float]] = {}

    def token(self, host: str, port: int, user: str) -> str:
        key = (host, port, user)
        with self._lock:
            cached = self._tokens.get(key)
            if cached and self._now() < cached[1]:
                return cached[0]
            token = self._source(host, port, user)
            self._tokens[key] = (token, self._now() + TOKEN_LIFETIME.total_seconds())
            return token

    def issued(self) -> tuple[str, ...]:
        """Every token handed out, for scrubbing messages."""
        with self._lock:
            return tuple(token for token, _ in self._tokens.values())


@dataclass(frozen=True)
class _Table:
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}: {self.name}"


class PostgresProbe:
    """`DatabaseProbe` for one upgrade. Every call opens its own connections and closes them."""

    def __init__(
        self,
        upgrade: Upgrade,
        password: str | None,
        tokens: TokenCache | None,
        ca_bundle: str | None,
        long_transaction: timedelta = LONG_TRANSACTION,
    ) -> None:
        validation = upgrade.spec.validation
        if validation is None or validation.database is None:
            raise ValueError("the probe needs spec.validation.database")
        self._upgrade = upgrade
        self._database = validation.database
        self._checks = {check.name: check for check in validation.checks}
        self._password = password
        self._tokens = tokens
        self._ca_bundle = ca_bundle
        self._long_transaction = long_transaction

    @property
    def _iam(self) -> bool:
        return self._database.password_secret_ref is None

    # The protocol -------------------------------------------------------------------------

    def before_create(self, blue: Endpoint) -> GuardrailAnswer:
        import psycopg

        if self._iam and blue.iam_auth_enabled is False:
            return self._answer(
                [
                    Finding(
                        Guardrail.IAM_AUTH_DISABLED,
                        "blue",
                        f"IAM database authentication is off on {blue.cluster}, and spec.validation.database has no "
                        "passwordSecretRef: enable it (ModifyDBCluster --enable-iam-database-authentication) or "
                        "name a password Secret",
                    )
                ]
            )
        findings: list[Finding] = []
        try:
            with self._connection(blue, self._database.name) as conn:
                findings += _login_role(conn, self._iam, self._database.user)
                findings += _replication_outside_blue_green(conn)
                databases = _databases(conn)
                findings += _databases_against_slots(conn, databases)
                unlogged_replicated = _unlogged_tables_replicated(conn)
                fingerprint_lines = _cluster_definitions(conn)
                sequences = 0
                per_database: dict[str, list[_Table]] = {}
                for name in databases:
                    with self._connection(blue, name) as db:
                        for guardrail, tables in _database_findings(db, name, unlogged_replicated).items():
                            per_database.setdefault(guardrail, []).extend(tables)
                        sequences += _sequences(db)
                        fingerprint_lines += [f"{name}|{line}" for line in _definitions(db)]
        except _Unreachable as error:
            return self._answer([self._unreachable("blue", blue, str(error))])
        except psycopg.Error as error:
            return self._answer([*findings, self._query_failed("blue", error)])
        findings += [_tables_finding(Guardrail(g), tables) for g, tables in per_database.items()]
        findings += _sequence_findings(sequences, self._upgrade.spec.switchover.timeout_seconds)
        return self._answer(findings, fingerprint=_digest(fingerprint_lines))

    def before_switchover(self, blue: Endpoint, green: Endpoint, fingerprint: str | None) -> GuardrailAnswer:
        import psycopg

        findings: list[Finding] = []
        now_fingerprint: str | None = None
        try:
            with self._connection(blue, self._database.name) as conn:
                findings += _long_transactions(conn, self._long_transaction)
                findings += _ddl_in_flight(conn)
                findings += _prepared_transactions(conn)
                findings += _replication_lag(conn)
                # Reading definitions would queue behind DDL in flight: the next look compares.
                if not any(f.guardrail == Guardrail.DDL_IN_FLIGHT for f in findings):
                    lines = _cluster_definitions(conn)
                    for name in _databases(conn):
                        with self._connection(blue, name) as db:
                            lines += [f"{name}|{line}" for line in _definitions(db)]
                    now_fingerprint = _digest(lines)
        except _Unreachable as error:
            findings.append(self._unreachable("blue", blue, str(error)))
        except psycopg.Error as error:
            findings.append(self._query_failed("blue", error))
        if not fingerprint and now_fingerprint is not None:  # blue answered: only the comparison is missing
            findings.append(
                Finding(
                    Guardrail.DDL_SINCE_CREATION,
                    "blue",
                    "DDL or DCL on blue since the deployment was created could not be checked: no catalog fingerprint "
                    "was taken at Prechecking (spec.validation was added later, or its guardrails were Off then); "
                    "make sure no DDL ran on blue since, or AWS will report replication degraded",
                    blocking=False,
                )
            )
        elif now_fingerprint and now_fingerprint != fingerprint:
            findings.append(
                Finding(
                    Guardrail.DDL_SINCE_CREATION,
                    "blue",
                    "blue's schema, roles or privileges changed (DDL or DCL) since the blue/green deployment was "
                    "created: logical replication does not carry them, and AWS says to delete and recreate the "
                    "deployment; waiting cannot fix this",
                )
            )
        try:
            with self._connection(green, self._database.name) as conn:
                findings += _green_writable(conn)
                incompatible: list[str] = []
                outdated: list[str] = []
                unanalyzed: list[str] = []
                for name in _databases(conn):
                    with self._connection(green, name) as db:
                        incompatible += _incompatible_on_green(db, name)
                        outdated += _outdated_extensions(db, name)
                        if self._major_upgrade:
                            unanalyzed += _tables_without_statistics(db, name)
                if incompatible:
                    findings.append(
                        Finding(
                            Guardrail.INCOMPATIBLE_EXTENSIONS,
                            "green",
                            "extensions AWS says must be disabled on green are installed there: "
                            f"{_listed(incompatible)}; drop them on green (DROP EXTENSION) and create them again "
                            "on the new production after the switchover",
                        )
                    )
                if outdated:
                    findings.append(
                        Finding(
                            Guardrail.EXTENSIONS_OUTDATED,
                            "green",
                            "extensions on green are not at their default version (AWS does not update them); "
                            "after the switchover run: " + " ".join(outdated),
                            blocking=False,
                        )
                    )
                if unanalyzed:
                    findings.append(
                        Finding(
                            Guardrail.ANALYZE_NEEDED,
                            "green",
                            f"a major upgrade does not carry optimizer statistics: {len(unanalyzed)} tables on green "
                            f"were never analyzed ({_listed(unanalyzed)}); run ANALYZE in each database "
                            "(vacuumdb --all --analyze-in-stages) before or right after the switchover",
                            blocking=False,
                        )
                    )
        except _Unreachable as error:
            findings.append(self._unreachable("green", green, str(error)))
        except psycopg.Error as error:
            findings.append(self._query_failed("green", error))
        return self._answer(findings, fingerprint=now_fingerprint)

    def run_check(self, check_name: str, green: Endpoint) -> CheckResult:
        check = self._checks[check_name]  # a name not in the spec is the caller's error
        if check.webhook is not None:
            body = {
                "upgrade": f"{self._upgrade.namespace}/{self._upgrade.name}",
                "cluster": self._upgrade.cluster,
                "check": check.name,
                "greenCluster": green.cluster,
                "greenEndpoint": green.host,
                "greenPort": green.port,
            }
            result, message = webhook.call(check.webhook.url, body, check.timeout_seconds)
            return CheckResult(check.name, "green", result, message, clock.rfc3339(clock.utcnow()))
        return self._sql_check(check, green)

    # Internals ----------------------------------------------------------------------------

    @property
    def _major_upgrade(self) -> bool:
        source = self._upgrade.status.source_engine_version or self._upgrade.spec.expected_source_engine_version
        target = self._upgrade.spec.target_engine_version
        return source is not None and source.split(".")[0] != target.split(".")[0]

    def _answer(self, findings: list[Finding], fingerprint: str | None = None) -> GuardrailAnswer:
        return GuardrailAnswer(tuple(findings), clock.rfc3339(clock.utcnow()), fingerprint)

    def _sql_check(self, check: ValidationCheck, green: Endpoint) -> CheckResult:
        import psycopg

        def result(outcome: Any, message: str) -> CheckResult:
            return CheckResult(check.name, "green", outcome, message, clock.rfc3339(clock.utcnow()))

        sql = check.sql or ""
        try:
            with self._connection(green, self._database.name, check.timeout_seconds) as conn:
                try:
                    # READ ONLY: a check must not write to green (AWS's switchover guardrail wants
                    # no writes there, and they would not be in production after it).
                    with conn.transaction(), conn.cursor() as cur:
                        # The extended query protocol (binary=True) runs one statement only: with
                        # the simple one, "select true; commit; insert ..." would leave READ ONLY.
                        cur.execute(sql.encode(), binary=True)
                        rows = cur.fetchall() if cur.description is not None else None
                except psycopg.errors.QueryCanceled:
                    return result("Error", f"no answer within {check.timeout_seconds}s (statement_timeout)")
                except psycopg.errors.ReadOnlySqlTransaction as error:
                    return result("Failed", f"tried to write, and checks run READ ONLY: {self._scrub(error)}")
                except psycopg.OperationalError as error:  # the connection broke: the check did not run
                    return result("Error", f"lost the connection to green: {self._scrub(error)}")
                except psycopg.Error as error:
                    return result("Failed", f"the query failed on green: {self._scrub(error)}")
        except _Unreachable as error:
            return result("Error", f"could not connect to green ({green.cluster}): {error}")
        if rows is None:
            return result("Failed", "the statement returned no result set; a check returns one row with one true")
        if len(rows) != 1:
            return result("Failed", f"returned {len(rows)} rows; a check returns exactly one row with one true")
        if len(rows[0]) != 1:
            return result("Failed", f"returned {len(rows[0])} columns; a check returns one column that is true")
        value = rows[0][0]
        if value is not True:
            return result("Failed", f"returned {_short(repr(value))}, not true")
        return result("Passed", "returned true")

    def _unreachable(self, side: Side, endpoint: Endpoint, error: str) -> Finding:
        if f'role "{self._database.user}" does not exist' in error:
            return Finding(
                Guardrail.DATABASE_USER_MISSING,
                side,
                f"the database user {self._database.user} does not exist on {side} ({endpoint.cluster}); create it on "
                "blue before the deployment is made (DCL is not replicated to green)",
            )
        how = (
            "with an IAM token: the user needs GRANT rds_iam and the operator's role rds-db:connect for it"
            if self._iam
            else "with the password of passwordSecretRef"
        )
        # A blip (DNS, a restart, a token signer's hiccup) clears by itself: looked at again until
        # the reason's deadline, which ends a lasting one.
        return Finding(
            Guardrail.DATABASE_UNREACHABLE,
            side,
            f"could not connect to {side} ({endpoint.cluster}, {endpoint.host}:{endpoint.port}) as "
            f"{self._database.user} {how}: {error}",
            transient=True,
        )

    def _query_failed(self, side: Side, error: Exception) -> Finding:
        """A guardrail query that failed (a lock or statement timeout, a privilege) has not passed:
        looked at again until its deadline."""
        return Finding(
            Guardrail.DATABASE_UNREACHABLE,
            side,
            f"a guardrail query on {side} failed: {self._scrub(error)}; the user needs pg_monitor",
            transient=True,
        )

    def _secret(self, endpoint: Endpoint) -> str | None:
        if not self._iam:
            return self._password
        if self._tokens is None:
            raise ValueError("IAM authentication needs a token source")
        try:
            return self._tokens.token(endpoint.host, endpoint.port, self._database.user)
        except Exception as error:  # botocore's credential errors, whatever their class
            raise _Unreachable(f"could not make an IAM authentication token: {error}") from None

    def _scrub(self, error: object) -> str:
        text = str(error).strip()
        secrets = [self._password or "", *(self._tokens.issued() if self._tokens else ())]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    @contextmanager
    def _connection(
        self, endpoint: Endpoint, dbname: str, statement_timeout: float | None = None
    ) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        timeout = statement_timeout or GUARDRAIL_STATEMENT_TIMEOUT.total_seconds()
        # A user's check may wait for locks for all its time; a guardrail never queues behind DDL.
        lock_timeout_ms = (
            int(timeout * 1000) if statement_timeout else int(GUARDRAIL_LOCK_TIMEOUT.total_seconds() * 1000)
        )
        sslmode = self._database.ssl_mode
        # "system": libpq's own trust store (libpq 16+), where no bundle is configured.
        rootcert = self._ca_bundle or "system" if sslmode in (SslMode.VERIFY_CA, SslMode.VERIFY_FULL) else None
        password = self._secret(endpoint)
        try:
            conn = psycopg.connect(
                host=endpoint.host,
                port=endpoint.port,
                dbname=dbname,
                user=self._database.user,
                password=password,
                connect_timeout=min(CONNECT_TIMEOUT, max(2, int(timeout))),
                application_name=APPLICATION_NAME,
                options=(
                    f"-c statement_timeout={int(timeout * 1000)} -c lock_timeout={lock_timeout_ms} "
                    "-c default_transaction_read_only=on"
                ),
                # statement_timeout needs a server that answers: a silent peer (a network partition,
                # a host gone) is found by TCP keepalives, and unacknowledged sends end by
                # tcp_user_timeout, so no thread waits on it for longer than the job's bound.
                keepalives=1,
                keepalives_idle=KEEPALIVE_IDLE,
                keepalives_interval=KEEPALIVE_INTERVAL,
                keepalives_count=KEEPALIVE_COUNT,
                tcp_user_timeout=int(timeout * 1000) + KEEPALIVE_IDLE * 1000,
                autocommit=True,
                sslmode=sslmode.value,
                sslrootcert=rootcert,
            )
        except psycopg.Error as error:
            message = self._scrub(error)
            if "certificate" in message and not self._ca_bundle:
                message += f" (set {config.DB_CA_BUNDLE_ENV} to AWS's RDS certificate bundle)"
            raise _Unreachable(message) from None
        conn.read_only = True
        with conn:
            yield conn


def probe_for(upgrade: Upgrade, password: str | None) -> PostgresProbe:
    """The probe of one upgrade with spec.validation.database: `password` is the Secret's value
    (kube.read_secret) when the spec names one; otherwise IAM tokens with the upgrade's AWS
    credentials."""
    spec = upgrade.spec
    database = spec.validation.database if spec.validation else None
    tokens = None
    if database is not None and database.password_secret_ref is None:
        role = spec.aws.role_arn if spec.aws else None
        external_id = spec.aws.external_id if spec.aws else None
        tokens = TokenCache(iam_token_source(spec.region, role, external_id))
    return PostgresProbe(upgrade, password, tokens, config.db_ca_bundle())


# The guardrail queries. Each takes an open connection (read-only, autocommit, so each runs in a
# transaction of its own) and returns its findings; `name` is the connection's database.


def _rows(conn: psycopg.Connection[Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.transaction():
        return conn.execute(sql.encode(), params).fetchall()


def _login_role(conn: psycopg.Connection[Any], iam: bool, user: str) -> list[Finding]:
    """AWS: IAM database authentication needs the user to have rds_iam. The user exists (we are
    logged in as it) on blue, so green, a copy, has it too: DCL made later is not replicated."""
    if not iam:
        return []
    [(granted,)] = _rows(
        conn, "select pg_has_role(current_user, oid, 'member') from pg_roles where rolname = 'rds_iam'"
    )
    if granted:
        return []
    return [Finding(Guardrail.DATABASE_USER_MISSING, "blue", f"the database user {user} lacks GRANT rds_iam")]


def _replication_outside_blue_green(conn: psycopg.Connection[Any]) -> list[Finding]:
    """AWS: blue must not be a logical replication publisher or subscriber of its own (no
    external replication). Before the deployment exists every slot and subscription is
    self-managed; publications are per database (_database_findings)."""
    found = [
        f"replication slot {name} ({kind}, {db or 'physical'})"
        for name, kind, db in _rows(conn, "select slot_name, slot_type, database from pg_replication_slots")
    ]
    import psycopg

    try:
        found += [f"subscription {name}" for (name,) in _rows(conn, "select subname from pg_subscription")]
    except psycopg.errors.InsufficientPrivilege as error:
        found.append(f"subscriptions not readable by this user ({error}): check pg_subscription by hand")
    if not found:
        return []
    return [
        Finding(
            Guardrail.SELF_MANAGED_REPLICATION,
            "blue",
            "blue has replication of its own, which blue/green deployments do not support: "
            + _listed(found)
            + "; drop it (pg_drop_replication_slot, DROP SUBSCRIPTION) before the deployment is made",
        )
    ]


def _databases(conn: psycopg.Connection[Any]) -> list[str]:
    """Every database blue/green replicates (one slot each): not the templates, nor rdsadmin."""
    return [
        name
        for (name,) in _rows(
            conn,
            "select datname from pg_database where datallowconn and not datistemplate and datname <> %s "
            "order by datname",
            RDS_ADMIN_DATABASE,
        )
    ]


def _databases_against_slots(conn: psycopg.Connection[Any], databases: list[str]) -> list[Finding]:
    """AWS: blue/green uses one logical replication slot per database."""
    [(limit, used)] = _rows(
        conn, "select current_setting('max_replication_slots')::int, (select count(*) from pg_replication_slots)"
    )
    if len(databases) <= limit - used:
        return []
    return [
        Finding(
            Guardrail.TOO_MANY_DATABASES,
            "blue",
            f"{len(databases)} databases need one replication slot each, and max_replication_slots = {limit} with "
            f"{used} in use: raise max_replication_slots in the cluster parameter group (and reboot the writer)",
        )
    ]


def _unlogged_tables_replicated(conn: psycopg.Connection[Any]) -> bool:
    """rds.logically_replicate_unlogged_tables exists on Aurora only: absent means off."""
    [(value,)] = _rows(conn, "select current_setting('rds.logically_replicate_unlogged_tables', true)")
    return value is not None and value.lower() not in FALSE_SETTINGS


def _database_findings(conn: psycopg.Connection[Any], name: str, unlogged_replicated: bool) -> dict[str, list[_Table]]:
    """The per-database limitations, by guardrail: what each finds, as tables or objects."""
    found: dict[str, list[_Table]] = {}

    def add(guardrail: Guardrail, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            found.setdefault(guardrail.value, []).extend(_Table(name, str(row[0])) for row in rows)

    user_schema = (
        "n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%%' "
        "and n.nspname not like 'pg\\_temp\\_%%'"
    )
    # AWS: UPDATE and DELETE on a table without a primary key (or REPLICA IDENTITY FULL or
    # USING INDEX) break logical replication; only tables that received them are at risk.
    add(
        Guardrail.TABLES_WITHOUT_PRIMARY_KEY,
        _rows(
            conn,
            "select format('%%I.%%I', n.nspname, c.relname) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace join pg_stat_user_tables s on s.relid = c.oid "
            "where c.relkind in ('r', 'p') and c.relreplident not in ('f', 'i') "
            "and not exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p') "
            "and s.n_tup_upd + s.n_tup_del > 0 and " + user_schema + " order by 1",
        ),
    )
    # AWS: unlogged tables are not replicated unless rds.logically_replicate_unlogged_tables.
    if not unlogged_replicated:
        add(
            Guardrail.UNLOGGED_TABLES,
            _rows(
                conn,
                "select format('%%I.%%I', n.nspname, c.relname) from pg_class c join pg_namespace n on "
                "n.oid = c.relnamespace where c.relkind in ('r', 'p') and c.relpersistence = 'u' and "
                + user_schema
                + " order by 1",
            ),
        )
    # AWS: large objects are not replicated, and writing them degrades replication.
    [(large_objects,)] = _rows(conn, "select count(*) from pg_largeobject_metadata")
    if large_objects:
        add(Guardrail.LARGE_OBJECTS, [(f"{large_objects} large objects",)])
    # AWS: refreshing a materialized view on blue breaks replication.
    add(
        Guardrail.MATERIALIZED_VIEWS,
        _rows(
            conn,
            "select format('%%I.%%I', n.nspname, c.relname) from pg_class c join pg_namespace n on "
            "n.oid = c.relnamespace where c.relkind = 'm' and " + user_schema + " order by 1",
        ),
    )
    # AWS: no self-managed logical replication on blue (publications live per database).
    add(
        Guardrail.SELF_MANAGED_REPLICATION,
        [(f"publication {pub}",) for (pub,) in _rows(conn, "select pubname from pg_publication order by 1")],
    )
    # AWS: pg_partman, pglogical and pgactive must be off on blue; pg_cron must not run on green,
    # which starts as a copy of blue's extensions.
    add(
        Guardrail.INCOMPATIBLE_EXTENSIONS,
        _rows(
            conn,
            "select extname from pg_extension where extname = any(%s) order by 1",
            list(INCOMPATIBLE_ON_BLUE + INCOMPATIBLE_ON_GREEN),
        ),
    )
    return found


def _tables_finding(guardrail: Guardrail, tables: list[_Table]) -> Finding:
    what = {
        Guardrail.TABLES_WITHOUT_PRIMARY_KEY: (
            "tables without a primary key or replica identity received UPDATE or DELETE, which logical "
            "replication cannot apply",
            "add a primary key or ALTER TABLE ... REPLICA IDENTITY FULL",
        ),
        Guardrail.UNLOGGED_TABLES: (
            "unlogged tables are not replicated to green",
            "set rds.logically_replicate_unlogged_tables = 1, or make them logged",
        ),
        Guardrail.LARGE_OBJECTS: (
            "large objects are not replicated to green, and writing one degrades replication",
            "move them into bytea columns",
        ),
        Guardrail.MATERIALIZED_VIEWS: (
            "refreshing a materialized view on blue breaks replication",
            "do not REFRESH them until after the switchover, then refresh them on the new production",
        ),
        Guardrail.SELF_MANAGED_REPLICATION: (
            "blue has logical replication of its own, which blue/green deployments do not support",
            "drop it before the deployment is made",
        ),
        Guardrail.INCOMPATIBLE_EXTENSIONS: (
            "extensions AWS lists as incompatible with blue/green are installed (pg_partman, pglogical, pgactive "
            "must be off on blue; pg_cron must not run on green)",
            "disable them for the upgrade",
        ),
    }[guardrail]
    return Finding(guardrail, "blue", f"{what[0]}: {_listed([str(t) for t in tables])}; {what[1]}")


def _sequences(conn: psycopg.Connection[Any]) -> int:
    [(count,)] = _rows(conn, "select count(*) from pg_class where relkind = 'S'")
    return int(count)


def _sequence_findings(sequences: int, timeout_seconds: int) -> list[Finding]:
    """AWS: sequences are synced during the switchover; thousands of them lengthen it."""
    if sequences < REPORT_SEQUENCES:
        return []
    estimate = sequences / SEQUENCES_PER_SECOND
    blocking = estimate > timeout_seconds
    verdict = (
        "more than the switchover timeout allows: raise spec.switchover.timeoutSeconds (up to 3600)"
        if blocking
        else "within the switchover timeout"
    )
    return [
        Finding(
            Guardrail.MANY_SEQUENCES,
            "blue",
            f"{sequences} sequences are synced during the switchover (about {estimate:.0f}s at an assumed "
            f"{SEQUENCES_PER_SECOND} a second, against spec.switchover.timeoutSeconds = {timeout_seconds}): {verdict}",
            blocking=blocking,
        )
    ]


def _long_transactions(conn: psycopg.Connection[Any], older_than: timedelta) -> list[Finding]:
    """AWS's switchover guardrail: no long-running active writes on blue (they delay the stop of
    writes and may make the switchover time out). Needs pg_monitor to see other users' sessions."""
    rows = _rows(
        conn,
        "select pid, usename, datname, state, extract(epoch from now() - xact_start)::int from pg_stat_activity "
        "where backend_type = 'client backend' and pid <> pg_backend_pid() and xact_start < now() - %s "
        "and (backend_xid is not null or state = 'active') order by xact_start",
        older_than,
    )
    if not rows:
        return []
    sessions = [f"pid {pid} ({user} on {db}, {state}, {age}s)" for pid, user, db, state, age in rows]
    return [
        Finding(
            Guardrail.LONG_RUNNING_TRANSACTIONS,
            "blue",
            f"transactions open on blue for longer than {older_than.total_seconds():g}s: {_listed(sessions)}; "
            "AWS refuses to switch over until they end",
            transient=True,
        )
    ]


def _ddl_in_flight(conn: psycopg.Connection[Any]) -> list[Finding]:
    """AWS's switchover guardrail: no DDL running on blue. DDL takes an ACCESS EXCLUSIVE lock,
    held or waited for."""
    rows = _rows(
        conn,
        "select l.pid, a.usename, a.datname, l.granted, count(*) from pg_locks l join pg_stat_activity a "
        "on a.pid = l.pid where l.mode = 'AccessExclusiveLock' and l.locktype = 'relation' "
        "and a.backend_type = 'client backend' and l.pid <> pg_backend_pid() group by 1, 2, 3, 4 order by 1",
    )
    if not rows:
        return []
    locks = [
        f"pid {pid} ({user} on {db} {'holds' if granted else 'waits for'} ACCESS EXCLUSIVE locks on {n} relations)"
        for pid, user, db, granted, n in rows
    ]
    return [
        Finding(
            Guardrail.DDL_IN_FLIGHT,
            "blue",
            f"DDL in progress on blue: {_listed(locks)}; AWS refuses to switch over during DDL",
            transient=True,
        )
    ]


def _prepared_transactions(conn: psycopg.Connection[Any]) -> list[Finding]:
    """A prepared transaction holds its locks and writes until someone commits it: AWS's
    guardrail sees an open write on blue."""
    rows = _rows(conn, "select gid, database, owner from pg_prepared_xacts order by prepared")
    if not rows:
        return []
    return [
        Finding(
            Guardrail.PREPARED_TRANSACTIONS,
            "blue",
            "prepared transactions on blue: "
            + _listed([f"{gid} ({owner} on {db})" for gid, db, owner in rows])
            + "; COMMIT PREPARED or ROLLBACK PREPARED them",
            transient=True,
        )
    ]


def _replication_lag(conn: psycopg.Connection[Any]) -> list[Finding]:
    """AWS's switchover guardrail: replica lag small enough for the timeout. AWS does not document
    its slots' names; a self-managed slot already failed before_create (SELF_MANAGED_REPLICATION),
    so every logical slot now is the deployment's: behind by more than LAG_LIMIT_BYTES, or with
    no receiver, it lags."""
    rows = _rows(
        conn,
        "select slot_name, database, active, "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint "
        "from pg_replication_slots where slot_type = 'logical' order by 1",
    )
    behind = [
        f"{slot} ({db}: {lag // 1024} KiB behind{'' if active else ', no receiver'})"
        for slot, db, active, lag in rows
        if lag > LAG_LIMIT_BYTES or not active
    ]
    if not behind:
        return []
    return [
        Finding(
            Guardrail.REPLICATION_LAG,
            "blue",
            f"replication to green lags: {_listed(behind)}; AWS refuses a switchover whose lag does not fit "
            "the timeout",
            transient=True,
        )
    ]


def _green_writable(conn: psycopg.Connection[Any]) -> list[Finding]:
    """AWS: keep green read-only; its switchover guardrail wants no writes on green, and a write
    there is not in production after it. ALTER ROLE/DATABASE ... SET default_transaction_read_only
    = off opens green to writes."""
    [(current,)] = _rows(conn, "select current_setting('default_transaction_read_only')")
    rows = _rows(
        conn,
        "select coalesce(d.datname, 'every database'), coalesce(r.rolname, 'every role'), setting "
        "from pg_db_role_setting s left join pg_database d on d.oid = s.setdatabase "
        "left join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) setting "
        "where lower(split_part(setting, '=', 1)) = 'default_transaction_read_only' "
        "and lower(split_part(setting, '=', 2)) = any(%s) order by 1, 2",
        list(FALSE_SETTINGS),
    )
    if not rows:
        return []
    overrides = [f"{setting} for {role} in {db}" for db, role, setting in rows]
    return [
        Finding(
            Guardrail.GREEN_WRITABLE,
            "green",
            f"green is open to writes: {_listed(overrides)} (this session sees default_transaction_read_only = "
            f"{current}); ALTER ROLE/DATABASE ... RESET default_transaction_read_only",
        )
    ]


def _incompatible_on_green(conn: psycopg.Connection[Any], name: str) -> list[str]:
    """AWS: pg_cron must be off on green. before_create finds it on blue, which green starts as a
    copy of; this finds it created on green since (DDL on green is not replicated back)."""
    return [
        f"{name}: {ext}"
        for (ext,) in _rows(
            conn,
            "select extname from pg_extension where extname = any(%s) order by 1",
            list(INCOMPATIBLE_ON_GREEN),
        )
    ]


def _outdated_extensions(conn: psycopg.Connection[Any], name: str) -> list[str]:
    """AWS does not update extensions in an engine upgrade: the ALTER EXTENSION lines to run."""
    return [
        f'{name}: ALTER EXTENSION "{ext}" UPDATE; -- {installed} -> {default}'
        for ext, installed, default in _rows(
            conn,
            "select name, installed_version, default_version from pg_available_extensions "
            "where installed_version is not null and installed_version is distinct from default_version order by 1",
        )
    ]


def _tables_without_statistics(conn: psycopg.Connection[Any], name: str) -> list[str]:
    """A major upgrade does not carry the optimizer's statistics: queries plan badly until ANALYZE."""
    return [
        f"{name}: {table}"
        for (table,) in _rows(
            conn,
            "select format('%%I.%%I', schemaname, relname) from pg_stat_user_tables "
            "where last_analyze is null and last_autoanalyze is null order by 1",
        )
    ]


def _cluster_definitions(conn: psycopg.Connection[Any]) -> list[str]:
    """What DCL changes cluster-wide, by name: roles, their attributes and memberships, their
    per-database settings, and the databases."""
    return [
        line
        for (line,) in _rows(
            conn,
            "select 'role ' || r.rolname || ' ' || concat_ws(',', r.rolsuper, r.rolinherit, r.rolcreaterole, "
            "r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolvaliduntil) || ' in ' || "
            "coalesce((select string_agg(g.rolname, ',' order by g.rolname) from pg_auth_members m "
            "join pg_roles g on g.oid = m.roleid where m.member = r.oid), '') from pg_roles r "
            "union all select 'setting ' || coalesce(d.datname, '') || ' ' || coalesce(r.rolname, '') || ' ' || "
            "array_to_string(s.setconfig, ',') from pg_db_role_setting s "
            "left join pg_database d on d.oid = s.setdatabase left join pg_roles r on r.oid = s.setrole "
            "union all select 'database ' || datname || ' ' || pg_get_userbyid(datdba) || ' ' || "
            "coalesce(datacl::text, '') from pg_database",
        )
    ]


def _definitions(conn: psycopg.Connection[Any]) -> list[str]:
    """What DDL and DCL change in one database, by name (OIDs differ between blue and green and
    after a dump): schemas, relations, columns, constraints, indexes, triggers, functions, types,
    extensions, with owners and ACLs."""
    user = (
        "n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%%' "
        "and n.nspname not like 'pg\\_temp\\_%%'"
    )
    relation = "join pg_class c on c.oid = {0} join pg_namespace n on n.oid = c.relnamespace"
    sql = " union all ".join(
        [
            "select 'schema ' || n.nspname || ' ' || pg_get_userbyid(n.nspowner) || ' ' || coalesce(n.nspacl::text, '')"
            f" from pg_namespace n where {user}",
            "select 'relation ' || n.nspname || '.' || c.relname || ' ' || concat(c.relkind, c.relpersistence, "
            "c.relreplident) || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '') || ' ' || "
            "coalesce(array_to_string(c.reloptions, ','), '') || ' ' || "
            "case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) else '' end "
            f"from pg_class c join pg_namespace n on n.oid = c.relnamespace where {user}",
            "select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || a.attnum || ' ' || "
            "format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' || "
            "coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(a.attacl::text, '') "
            f"from pg_attribute a {relation.format('a.attrelid')} "
            "left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
            f"where a.attnum > 0 and not a.attisdropped and {user}",
            "select 'constraint ' || n.nspname || '.' || coalesce(c.relname, '') || '.' || k.conname || ' ' || "
            "pg_get_constraintdef(k.oid) from pg_constraint k join pg_namespace n on n.oid = k.connamespace "
            f"left join pg_class c on c.oid = k.conrelid where {user}",
            f"select 'index ' || pg_get_indexdef(i.indexrelid) from pg_index i {relation.format('i.indrelid')} "
            f"where {user}",
            "select 'trigger ' || pg_get_triggerdef(t.oid) from pg_trigger t "
            f"{relation.format('t.tgrelid')} where not t.tgisinternal and {user}",
            "select 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) "
            "|| ') ' || p.prokind::text || ' ' || format_type(p.prorettype, null) || ' ' || "
            "pg_get_userbyid(p.proowner) || ' ' || coalesce(p.proacl::text, '') || ' ' || md5(coalesce(p.prosrc, '')) "
            f"from pg_proc p join pg_namespace n on n.oid = p.pronamespace where {user}",
            "select 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text || ' ' || "
            "pg_get_userbyid(t.typowner) || ' ' || coalesce(t.typacl::text, '') "
            f"from pg_type t join pg_namespace n on n.oid = t.typnamespace where {user}",
            "select 'extension ' || extname || ' ' || extversion from pg_extension",
        ]
    )
    return [line for (line,) in _rows(conn, sql)]


def _digest(lines: list[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _listed(items: list[str], at_most: int = 10) -> str:
    shown = ", ".join(items[:at_most])
    return shown + (f" and {len(items) - at_most} more" if len(items) > at_most else "")


def _short(text: str, at_most: int = 80) -> str:
    return text if len(text) <= at_most else text[: at_most - 3] + "..."
