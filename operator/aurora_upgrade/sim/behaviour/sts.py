"""STS for `spec.aws.roleArn`: moto's AssumeRole, recorded, with the trust policies moto lacks.

moto lets anybody assume any role. AWS evaluates the role's trust policy: a principal it does
not trust, or a missing or different `sts:ExternalId` where the policy requires one, gets
AccessDenied with the same message either way (AWS does not say which condition failed).
`RoleTrust` (in simulation) models just that, per role ARN.
"""

from __future__ import annotations

from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import AccessDeniedError
from moto.core.responses import ActionResult
from moto.sts.responses import TokenResponse

from .calls import record_call
from .simulation import active


class SimTokenResponse(TokenResponse):
    """moto's STS responses, recorded like RDS's, with AssumeRole checked against RoleTrust."""

    def call_action(self) -> TYPE_RESPONSE:
        with active().lock:
            return record_call(self, super().call_action)

    def assume_role(self) -> ActionResult:
        role_arn = self._get_param("RoleArn")
        if not active().roles.allows(role_arn, self._get_param("ExternalId")):
            _, caller, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
            # AWS's answer: HTTP 403, AccessDenied, "User: <caller> is not authorized to perform:
            # sts:AssumeRole on resource: <role>" (moto's error has the first part and the status).
            raise AccessDeniedError(caller, f"sts:AssumeRole on resource: {role_arn}")
        return super().assume_role()
