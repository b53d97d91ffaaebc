"""The classification of AWS's errors (gateway.errors): every ErrorKind is reached from AWS's
codes, and the kinds are the enum's, listed nowhere else."""

from __future__ import annotations

import botocore.exceptions
import botocore.session
import pytest

from aurora_upgrade.gateway import errors
from aurora_upgrade.gateway.errors import classify
from aurora_upgrade.resources import ErrorKind, Quota


def answer(code: str, status: int = 400, operation: str = "DescribeDBClusters") -> Exception:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("DBClusterNotFoundFault", 404, ErrorKind.NOT_FOUND),
        ("InvalidDBClusterStateFault", 400, ErrorKind.INVALID_STATE),
        ("BlueGreenDeploymentAlreadyExistsFault", 400, ErrorKind.ALREADY_EXISTS),
        ("DBClusterSnapshotAlreadyExistsFault", 400, ErrorKind.ALREADY_EXISTS),
        ("AccessDenied", 403, ErrorKind.PERMISSION),
        ("ExpiredToken", 403, ErrorKind.CREDENTIALS),
        ("Throttling", 400, ErrorKind.RETRYABLE),
        ("SomethingNew", 503, ErrorKind.RETRYABLE),
        ("InvalidParameterCombination", 400, ErrorKind.TERMINAL),
        ("DBClusterQuotaExceededFault", 400, ErrorKind.QUOTA),
        ("SnapshotQuotaExceeded", 400, ErrorKind.QUOTA),
    ],
)
def test_a_code_has_one_kind(code: str, status: int, kind: ErrorKind) -> None:
    error = classify("DescribeDBClusters", answer(code, status))
    assert (error.kind, error.code, error.operation, error.answered) == (kind, code, "DescribeDBClusters", status < 500)


def test_every_kind_is_reached_from_the_table() -> None:
    """The enum is the list of kinds; the classification table reaches each of them."""
    examples = [
        *errors.NOT_FOUND,
        *errors.INVALID_STATE,
        *(f"Thing{suffix}" for suffix in errors.ALREADY_EXISTS_SUFFIXES),
        *errors.PERMISSION,
        *errors.CREDENTIALS,
        *errors.RETRYABLE,
        *errors.QUOTAS,
        "AnythingElse",
    ]
    assert {errors.kind_of(code, 400) for code in examples} == set(ErrorKind)


def test_no_credentials_and_lost_connections() -> None:
    missing = classify("DescribeDBClusters", botocore.exceptions.NoCredentialsError())
    assert (missing.kind, missing.code, missing.answered) == (ErrorKind.CREDENTIALS, "NoCredentialsError", True)
    lost = classify("RebootDBInstance", botocore.exceptions.EndpointConnectionError(endpoint_url="https://rds"))
    assert (lost.kind, lost.answered) == (ErrorKind.RETRYABLE, False)


def test_an_assumed_roles_refusal_names_sts() -> None:
    refused = classify("DescribeDBClusters", answer("AccessDenied", 403, operation="AssumeRole"))
    assert (refused.kind, refused.operation) == (ErrorKind.PERMISSION, "AssumeRole")


def _wire_codes() -> dict[str, str]:
    """Each RDS error shape's wire code (`error.code` in botocore's service model, else its
    name), by shape name: what AWS sends as the `Code` of an error answer."""
    model = botocore.session.get_session().get_service_model("rds")
    return {shape.name: shape.metadata.get("error", {}).get("code", shape.name) for shape in model.error_shapes}


def test_a_busy_instance_refusing_a_reboot_as_aws_sends_it_is_looked_at_again() -> None:
    """AWS sends InvalidDBInstanceStateFault as `InvalidDBInstanceState` (e.g. a green instance
    backing up for a moment): a transient state, not a request to give up on."""
    refused = classify("RebootDBInstance", answer("InvalidDBInstanceState"))
    assert (refused.kind, refused.retryable) == (ErrorKind.INVALID_STATE, True)


@pytest.mark.parametrize("kind", ["NOT_FOUND", "INVALID_STATE", "QUOTAS"])
def test_every_code_the_gateway_names_is_one_aws_sends(kind: str) -> None:
    """Every RDS fault the gateway names is a wire code of the RDS model, or the name of a
    shape whose wire code it names too (kept for senders that use the name); and every fault
    it names by shape name, it recognises by the code AWS sends."""
    codes, named = _wire_codes(), getattr(errors, kind)
    for code in sorted(named):
        assert code in codes.values() or code in codes, f"{code} is no error of the RDS model"
        if code in codes:
            assert codes[code] in named, f"{code} arrives as {codes[code]}, which {kind} does not name"


@pytest.mark.parametrize(
    ("operation", "quota"),
    [
        ("CreateBlueGreenDeployment", Quota.DB_CLUSTERS),
        ("CreateBlueGreenDeployment", Quota.DB_INSTANCES),
        ("CreateBlueGreenDeployment", Quota.STORAGE),
        ("CreateDBClusterSnapshot", Quota.MANUAL_CLUSTER_SNAPSHOTS),
        ("DeleteDBCluster", Quota.MANUAL_CLUSTER_SNAPSHOTS),
    ],
)
def test_the_quota_faults_of_our_creates_name_their_quota(operation: str, quota: Quota) -> None:
    """Every quota fault botocore's model lists for a create of ours, as AWS sends it (its wire
    code), is a QUOTA naming the quota reached (DeleteDBCluster's final snapshot is a manual one)."""
    model = botocore.session.get_session().get_service_model("rds")
    sent = {
        shape.metadata.get("error", {}).get("code", shape.name): shape.name
        for shape in model.operation_model(operation).error_shapes
        if "QuotaExceeded" in shape.name and "Automated" not in shape.name and "Tenant" not in shape.name
    }
    named = {errors.QUOTAS[code] for code in sent}
    assert quota in named
    for code in sent:
        refused = classify(operation, answer(code, 400, operation))
        assert (refused.kind, refused.answered, refused.retryable) == (ErrorKind.QUOTA, True, False)
        assert refused.quota == errors.QUOTAS[code]
