"""What an AWS error means: AWS's error code, classified into an `ErrorKind`
(aurora_upgrade.resources) here and nowhere else.

The table is the sets below, read in `classify`'s order: the first that names the code decides
its kind; a 5xx answer is RETRYABLE, and any other code is TERMINAL. Codes are the wire codes AWS
sends (the `Code` of an error answer): each error shape's `error.code` in botocore's RDS service
model, which for some faults differs from the shape's name (InvalidDBInstanceStateFault arrives as
`InvalidDBInstanceState`, DBInstanceNotFoundFault as `DBInstanceNotFound`). The shape's name is
kept beside its wire code, for senders that use it (moto, on which the simulator is built, does
for some). tests/unit/test_gateway_errors.py walks every RDS code named here against the model.
"""

from __future__ import annotations

import botocore.exceptions

from aurora_upgrade.resources import ErrorKind, Quota, RdsError

# RDS's faults: the wire code first, then the shape's name where it differs.
NOT_FOUND = {
    "BlueGreenDeploymentNotFoundFault",
    "DBClusterNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBClusterParameterGroupNotFound",
    "DBClusterParameterGroupNotFoundFault",
    "DBParameterGroupNotFound",
    "DBParameterGroupNotFoundFault",
    "GlobalClusterNotFoundFault",
}
INVALID_STATE = {
    "InvalidBlueGreenDeploymentStateFault",
    "InvalidDBClusterStateFault",
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidDBClusterSnapshotStateFault",
}
ALREADY_EXISTS_SUFFIXES = ("AlreadyExistsFault", "AlreadyExists")
# The per-Region quotas a create reaches (CreateBlueGreenDeployment's and CreateDBClusterSnapshot's
# errors in AWS's API reference; DeleteDBCluster's final snapshot counts as a manual one).
QUOTAS = {
    "DBClusterQuotaExceededFault": Quota.DB_CLUSTERS,
    "InstanceQuotaExceeded": Quota.DB_INSTANCES,
    "InstanceQuotaExceededFault": Quota.DB_INSTANCES,
    "StorageQuotaExceeded": Quota.STORAGE,
    "StorageQuotaExceededFault": Quota.STORAGE,
    "SnapshotQuotaExceeded": Quota.MANUAL_CLUSTER_SNAPSHOTS,
    "SnapshotQuotaExceededFault": Quota.MANUAL_CLUSTER_SNAPSHOTS,
}
# AWS's common errors: answers about our permissions and credentials, not AWS's availability.
PERMISSION = {"AccessDenied", "AccessDeniedException", "NotAuthorized", "UnauthorizedOperation"}
CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
}
RETRYABLE = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
}
# botocore finds no usable credentials before any request is sent.
NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)


def kind_of(code: str, status: int) -> ErrorKind:
    """The kind of an error answer with AWS's error `code` and HTTP `status`."""
    if code in NOT_FOUND:
        return ErrorKind.NOT_FOUND
    if code in INVALID_STATE:
        return ErrorKind.INVALID_STATE
    if code.endswith(ALREADY_EXISTS_SUFFIXES):
        return ErrorKind.ALREADY_EXISTS
    if code in QUOTAS:
        return ErrorKind.QUOTA
    if code in PERMISSION:
        return ErrorKind.PERMISSION
    if code in CREDENTIALS:
        return ErrorKind.CREDENTIALS
    if code in RETRYABLE or status >= 500:
        return ErrorKind.RETRYABLE
    return ErrorKind.TERMINAL


def classify(operation: str, error: Exception) -> RdsError:
    """`error`, raised by a boto3 call of `operation` (or by creating its client), as an RdsError."""
    if isinstance(error, botocore.exceptions.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "Unknown"))
        message = str(info.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        # An assumed role's credentials are fetched inside the RDS call: name STS's operation.
        operation = "AssumeRole" if getattr(error, "operation_name", None) == "AssumeRole" else operation
        # A 5xx answer does not tell whether the request took effect.
        return RdsError(kind_of(code, status), code, message, operation, answered=status < 500, quota=QUOTAS.get(code))
    if isinstance(error, NO_CREDENTIALS):
        return RdsError(ErrorKind.CREDENTIALS, type(error).__name__, str(error), operation)
    # Connection problems, timeouts and the like: the next poll may succeed.
    return RdsError(ErrorKind.RETRYABLE, type(error).__name__, str(error), operation, answered=False)
