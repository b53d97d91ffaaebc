"""AWS behaviour moto lacks, as subclasses of moto's RDS backend, models and responses.

docs/simulator.md lists every gap filled ("Gaps in moto filled") and how this package is
built on moto ("How it is built"). This is the only place that reaches into moto's RDS
internals, one module per area:

    simulation  the running simulation (delays, faults, call record, lock) and its clock
    base        what every area shares: the timeline, existence checks, events, DescribeEvents
    instances   clusters and instances, renames, reboots, parameter apply status
    deletions   cluster snapshots, deletions of instances and clusters
    bluegreen   blue/green deployments: create, describe, switch over, delete
    eventbridge the Region's RDS events into EventBridge and a rule's SQS queue (--event-queue)
    backend     SimRDSBackend assembled from the areas; install() into moto's registry
    errors      errors moto lacks or codes botocore does not know
    calls       one answered request into the call record (with the signing access key id)
    answers     the HTTP side: lock, advance, record, and the handlers moto lacks
    sts         AssumeRole checked against the roles' trust (RoleTrust), for spec.aws.roleArn
"""

from .answers import create_backend_app
from .backend import SimRDSBackend, advance_all, backend_for, install, sim_backends, uninstall
from .eventbridge import EventBridgeDelivery
from .instances import SimDBInstance
from .simulation import AwsFaults, Faults, RoleTrust, Simulation

__all__ = [
    "AwsFaults",
    "EventBridgeDelivery",
    "Faults",
    "RoleTrust",
    "SimDBInstance",
    "SimRDSBackend",
    "Simulation",
    "advance_all",
    "backend_for",
    "create_backend_app",
    "install",
    "sim_backends",
    "uninstall",
]
