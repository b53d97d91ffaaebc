"""A simulated Amazon RDS API for tests and the demo, built on moto.

It answers the calls of the runbook being automated (and of the operator) the way AWS
documents them: blue/green deployments that take time to provision and switch over, green
resources named and renamed as AWS does, reboots, snapshots and deletions that take time,
eventual consistency right after creation, and the failure states a real account can show.
docs/simulator.md tells the whole story, including each gap filled over moto (the `behaviour`
package, one module per area).

The product never imports this package: the operator reaches the simulator only through
boto3's standard `AWS_ENDPOINT_URL_RDS=http://127.0.0.1:PORT` (and `AWS_ENDPOINT_URL_STS`, the
same port, for `spec.aws.roleArn`).

    from aurora_upgrade.sim import SimServer, SimConfig

    with SimServer(config=SimConfig(provisioning_seconds=1), scenario="runbook") as server:
        os.environ["AWS_ENDPOINT_URL_RDS"] = server.endpoint_url
        ...
        assert server.mutating_calls().count("CreateBlueGreenDeployment") == 1
"""

from .behaviour import RoleTrust
from .config import SimConfig
from .server import SimServer, rds_client

__all__ = ["RoleTrust", "SimConfig", "SimServer", "rds_client"]
