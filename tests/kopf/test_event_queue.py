"""The operator with the EventBridge queue configured (AURORA_UPGRADE_EVENT_QUEUE_URL, the
simulator's `--event-queue` reached with AWS_ENDPOINT_URL_SQS): an upgrade waiting on AWS is woken
by the queue's message and looks at once, and the DescribeEvents feed drops to the safety interval.

Counts, not seconds: the look that saw green provisioned came right after the one ReceiveMessage
that carried the deployment's event, with no provisioning poll in between (the provisioning pace,
4 polls = 12 s here, against 1.8 s of simulated provisioning), and DescribeEvents was read no more
often than once per safety interval (30 s here) instead of once per event interval (1 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from kopf.testing import KopfRunner
from kopf_tier import POLL_SECONDS, Sim, Upgrades, fleet_cluster, kopf_runner, standard_streams

from aurora_upgrade.config import Timing
from support.runbook import REGION

MANUAL = {"switchover": {"mode": "Manual", "timeoutSeconds": 300}}
TIMING = Timing(poll=POLL_SECONDS, scale=POLL_SECONDS / 30, event_queue=True)


@pytest.fixture(scope="module")
def operator(operator_env: None, upgrades: Upgrades, sim: Sim) -> Iterator[KopfRunner]:
    sqs = boto3.client(
        "sqs", region_name=REGION, endpoint_url=sim.endpoint_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    sqs.purge_queue(QueueUrl=sim.event_queue_url)  # the earlier modules' events: no news to this one
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AURORA_UPGRADE_EVENT_QUEUE_URL", sim.event_queue_url)
        env.setenv("AWS_ENDPOINT_URL_SQS", sim.endpoint_url)
        with standard_streams(), kopf_runner(upgrades.namespace, "--standalone") as runner:
            yield runner
    assert runner.exit_code == 0, runner.output


def carried(call: dict[str, Any], source: str) -> bool:
    return any(message["source"] == source for message in call.get("received", []))


def test_a_queued_event_wakes_the_waiting_upgrade_within_one_receive(
    operator: KopfRunner, upgrades: Upgrades, sim: Sim
) -> None:
    start, started = len(sim.calls()), time.monotonic()
    upgrades.apply("queued", fleet_cluster(6), **MANUAL)

    ready = upgrades.wait_reason("queued", "AwaitingApproval", timeout=60)

    elapsed = time.monotonic() - started
    deployment = ready["blueGreenDeploymentIdentifier"]
    calls = sim.calls()[start:]
    operations = [call["operation"] for call in calls]
    create = operations.index("CreateBlueGreenDeployment")
    receives = [
        n for n, call in enumerate(calls) if call["operation"] == "ReceiveMessage" and carried(call, deployment)
    ]
    # Provisioning's end came in one receive, and the next look of the deployment followed it.
    assert len(receives) == 1, [calls[n] for n in receives]
    woken = receives[0]
    assert any("completed" in m["message"] for m in calls[woken]["received"] if m["source"] == deployment)
    looks_while_provisioning = operations[create + 1 : woken].count("DescribeBlueGreenDeployments")
    assert looks_while_provisioning <= 2, "the look after the create (and its consistency retry), no poll"
    assert "DescribeBlueGreenDeployments" in operations[woken:], operations[woken:]
    # With the queue, the Region's feed (DescribeEvents of every source, not one resource's
    # reboot evidence) reads at the safety interval: at most its first read here, where the
    # event interval would have read every second. A read's later pages (Marker: the session's
    # earlier modules left more than a page of events in the overlap) are the same read.
    feed_reads = sum(
        1
        for c in calls
        if c["operation"] == "DescribeEvents" and "SourceIdentifier" not in c["params"] and "Marker" not in c["params"]
    )
    assert feed_reads <= 1 + elapsed / (0.9 * TIMING.safety), (feed_reads, elapsed)
    assert elapsed / TIMING.events >= 3, "long enough that the event interval's reads would show"
