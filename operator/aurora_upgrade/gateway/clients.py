"""boto3 sessions and clients: the default credential chain or an assumed role, and the RDS
clients' configuration (retries, timeouts, connection pools)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

# Connections per RDS client (botocore's default is 10); see default_client_factory.
POOL_CONNECTIONS = 32

# (region, role ARN, external id) -> the reading and the writing RDS client.
ClientFactory = Callable[[str, str | None, str | None], tuple[Any, Any]]


def _session(region: str, role_arn: str | None, external_id: str | None) -> boto3.session.Session:
    """The default credential chain (IRSA, Pod Identity, ...), or a role assumed from it whose
    credentials botocore refreshes before they expire."""
    import boto3  # on first use: an operator with no upgrade yet does not carry boto3 (~24 MB)
    import botocore.credentials
    import botocore.session

    base = boto3.session.Session(region_name=region)
    if not role_arn:
        return base
    extra: dict[str, Any] = {"RoleSessionName": "aurora-upgrade-operator"}
    if external_id:
        extra["ExternalId"] = external_id
    fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args=extra,
    )
    assumed = botocore.session.get_session()
    assumed._credentials = botocore.credentials.DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.session.Session(botocore_session=assumed, region_name=region)


def default_client_factory(region: str, role_arn: str | None, external_id: str | None) -> tuple[Any, Any]:
    """Two RDS clients (AWS_ENDPOINT_URL_RDS is honoured by boto3): reads retry with botocore's
    adaptive mode; writes are sent once, because a retried CreateBlueGreenDeployment or
    SwitchoverBlueGreenDeployment after a timeout could act twice. The engine retries writes
    itself, after checking in AWS whether the first attempt took effect."""
    import botocore.config

    session = _session(region, role_arn, external_id)
    common: dict[str, Any] = {
        "connect_timeout": 10,
        "read_timeout": 30,
        "user_agent_extra": "aurora-upgrade-operator",
        # One pool per client, shared by every thread that calls: more connections than the
        # operator's reconcile threads and its event feed, or urllib3 discards one per call
        # ("Connection pool is full") and the next call opens a new TLS connection to RDS.
        "max_pool_connections": POOL_CONNECTIONS,
    }
    reads = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 8}, **common)
    writes = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": 1}, **common)
    return session.client("rds", config=reads), session.client("rds", config=writes)
