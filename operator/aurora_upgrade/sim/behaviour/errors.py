"""Errors the simulator raises where moto has none, or one whose code botocore does not know."""

from __future__ import annotations

from moto.rds.exceptions import InvalidParameterCombination, RDSClientError


def invalid_instance_state(message: str) -> RDSClientError:
    # moto's InvalidDBInstanceStateFault uses a code botocore does not know.
    return RDSClientError("InvalidDBInstanceState", message)


def invalid_bg_state(message: str) -> RDSClientError:
    # moto's InvalidBlueGreenDeploymentStateFault always blames an invalid configuration.
    return RDSClientError("InvalidBlueGreenDeploymentStateFault", message)


def cluster_already_exists(identifier: str) -> RDSClientError:
    return RDSClientError("DBClusterAlreadyExistsFault", f"DB Cluster {identifier} already exists")


def deletion_protected(what: str) -> InvalidParameterCombination:
    """`what` names the resource as the message does: "DB Instance", "Cluster", "Cluster <identifier>"."""
    return InvalidParameterCombination(
        f"Cannot delete protected {what}, please disable deletion protection and try again."
    )


def cluster_quota_exceeded(quota: int) -> RDSClientError:
    """Green is a DB cluster of its own: a create past the Region's quota of clusters (botocore's
    model: DBClusterQuotaExceededFault, HTTP 403)."""
    return RDSClientError(
        "DBClusterQuotaExceededFault",
        f"The user has exceeded the allowed number of DB clusters ({quota}) in this Region.",
    )
