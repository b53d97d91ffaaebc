"""What validation knows of the databases behind blue and green: plain values and the protocol
the engine asks through. No psycopg, no boto3 (gateway/database.py and gateway/webhook.py
implement `DatabaseProbe`; decisions/validate.py and the prechecks read the answers).

Runbook step 5 ("validate the application against green") becomes the Validating phase: the
user's checks (spec.validation.checks, SQL run read-only against green, or a webhook) and the
operator's own guardrails, the conditions AWS's Aurora User Guide says break replication or
make it refuse a switchover (docs/validation.md cites each). A probe's calls block for at most
their timeout; the engine never makes them in a look: validation_jobs.py runs them on threads
of their own and a later look picks the answer up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from aurora_upgrade.models import ValidationSpec


class Guardrail(StrEnum):
    """The operator's own database checks. Each value is also the status reason an `Enforce`
    finding holds (or, before anything is created, fails) the upgrade with, and is in
    reasons.TABLE."""

    # Before CreateBlueGreenDeployment, on blue.
    DATABASE_UNREACHABLE = "DatabaseUnreachable"  # could not connect: a guardrail not run has not passed
    IAM_AUTH_DISABLED = "IamDatabaseAuthenticationDisabled"
    DATABASE_USER_MISSING = "DatabaseUserMissing"  # DCL is not replicated: the user must exist on blue first
    TABLES_WITHOUT_PRIMARY_KEY = "TablesWithoutPrimaryKey"  # no PK nor REPLICA IDENTITY FULL, receiving UPDATE/DELETE
    UNLOGGED_TABLES = "UnloggedTables"  # without rds.logically_replicate_unlogged_tables
    LARGE_OBJECTS = "LargeObjects"
    MATERIALIZED_VIEWS = "MaterializedViews"
    SELF_MANAGED_REPLICATION = "SelfManagedReplication"  # publications, subscriptions, replication slots
    INCOMPATIBLE_EXTENSIONS = "IncompatibleExtensions"  # pg_partman, pglogical, pgactive on blue; pg_cron on green
    TOO_MANY_DATABASES = "TooManyDatabases"  # one replication slot per database
    MANY_SEQUENCES = "ManySequences"  # sequences are synced at switchover: it lengthens it
    # Right before the switchover call, inside the open gate.
    LONG_RUNNING_TRANSACTIONS = "LongRunningTransactions"  # on blue (transient)
    DDL_IN_FLIGHT = "DdlInFlight"  # on blue (transient)
    PREPARED_TRANSACTIONS = "PreparedTransactions"  # on blue (transient)
    REPLICATION_LAG = "ReplicationLag"  # the blue/green slots (transient)
    GREEN_WRITABLE = "GreenWritable"  # default_transaction_read_only overridden on green
    DDL_SINCE_CREATION = "DdlSinceCreation"  # blue's catalog changed since the deployment was made: recreate
    # Reported, never blocking.
    EXTENSIONS_OUTDATED = "ExtensionsOutdated"  # installed version differs from the default on green
    ANALYZE_NEEDED = "AnalyzeNeeded"  # a major upgrade: statistics need ANALYZE on green


Side = Literal["blue", "green"]
Asked = Literal["before_create", "validate", "before_switchover"]  # which probe calls a job makes
Result = Literal["Passed", "Failed", "Error"]


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: a cluster's writer endpoint (DescribeDBClusters' Endpoint and Port)."""

    side: Side
    host: str
    port: int
    cluster: str  # the cluster identifier, for messages
    resource_id: str = ""  # DbClusterResourceId: what rds-db:connect policies name
    # DescribeDBClusters' IAMDatabaseAuthenticationEnabled (Cluster.iam_database_authentication);
    # None where not known. With IAM authentication and False, before_create finds
    # IAM_AUTH_DISABLED without trying to log in.
    iam_auth_enabled: bool | None = None


@dataclass(frozen=True)
class Finding:
    """One guardrail's answer. `blocking` is False for what is only reported (a Warning, never a
    hold); `transient` says waiting may clear it (a long transaction, lag), so it is looked at
    again until its reason's deadline; otherwise a person must act (the message says what)."""

    guardrail: Guardrail
    side: Side
    message: str
    blocking: bool = True
    transient: bool = False


@dataclass(frozen=True)
class CheckResult:
    """One user check's (or, with name = a guardrail's value, one guardrail's) latest result, as
    status.validation records it. The message never holds a password or token."""

    name: str
    side: Side
    result: Result
    message: str
    checked_at: str  # RFC 3339


@dataclass(frozen=True)
class GuardrailAnswer:
    """A set of guardrails run against one or both sides: every finding (empty: all passed)."""

    findings: tuple[Finding, ...]
    checked_at: str
    fingerprint: str | None = None  # blue's catalog fingerprint, where this run took one


class SecretUnavailable(Exception):
    """spec.validation.database.passwordSecretRef names a Secret or key that cannot be read
    (kube.read_secret raises it; its message says which and why, and holds no secret value).
    The engine makes it a DATABASE_UNREACHABLE finding rather than probing without a password."""


class DatabaseProbe(Protocol):
    """Blocking calls, each bounded by its timeout. An error connecting is a DATABASE_UNREACHABLE
    finding, never an exception; the probe raises only for a programming error."""

    def before_create(self, blue: Endpoint) -> GuardrailAnswer:
        """Guardrails of the first group on blue, and blue's catalog fingerprint (DDL/DCL since
        creation is judged against it)."""
        ...

    def before_switchover(self, blue: Endpoint, green: Endpoint, fingerprint: str | None) -> GuardrailAnswer:
        """Guardrails of the second group, and the reported ones on green."""
        ...

    def run_check(self, check_name: str, green: Endpoint) -> CheckResult:
        """One of spec.validation.checks by name: SQL in a READ ONLY transaction against green
        (one row with one true passes) or the webhook (2xx within timeoutSeconds passes)."""
        ...


@dataclass(frozen=True)
class DatabaseRequest:
    """What a decision asks of the databases in one look: a value, so that the same question
    asked again finds the job already running or done (validation_jobs.py keys its jobs by it).
    `not_before`: an answer finished earlier is too old for this question (a guardrail right
    before the switchover wants a fresh one); it is no part of the question's identity."""

    what: Asked
    uid: str
    generation: int
    blue: Endpoint | None = None
    green: Endpoint | None = None
    fingerprint: str | None = None
    checks: tuple[str, ...] = ()  # spec.validation.checks to run, in order
    guardrails: bool = False  # run the guardrails of `what` too
    timeouts: int = 0  # the checks' timeoutSeconds, summed: how long the job may take beyond the guardrails
    not_before: str = field(default="", compare=False)


@dataclass(frozen=True)
class DatabaseAnswer:
    """A job's result: the checks run (in order, up to the first that did not pass) and the
    guardrails' answer, if they were asked for."""

    request: DatabaseRequest
    checks: tuple[CheckResult, ...]
    guardrails: GuardrailAnswer | None
    finished_at: str  # RFC 3339


def validation_digest(validation: ValidationSpec | None) -> str:
    """What the checks' verdict was given for: a digest of spec.validation (its checks, their SQL
    or URL, the database, the guardrails' mode). A verdict counts only while spec.validation is
    the same: an approval or another spec edit does not change it, a check added or edited does."""
    shown = validation.model_dump_json(by_alias=True) if validation is not None else "null"
    return "sha256:" + hashlib.sha256(shown.encode()).hexdigest()
