"""Two writers never both act: status writes are conditional on the resourceVersion read, so two
`aurora-upgrade operator` processes on one cluster without peering (or a local one next to the
in-cluster one) make each mutating AWS call once."""

from __future__ import annotations

from operator_fixtures import POLL_SECONDS, RUNBOOK_CALLS, Stack, manifest

from aurora_upgrade_dev.stack import start_operator, stop_operator


def test_two_writers_never_both_act(stack: Stack) -> None:
    stack.start()
    assert stack.sim is not None
    second_log = stack.workdir / "operator-2.log"
    second = start_operator(
        stack.plane.kubeconfig, stack.sim.endpoint_url, second_log, POLL_SECONDS, namespace=stack.namespace
    )
    try:
        stack.apply(manifest("twice", stack.namespace))
        status = stack.wait_phase("twice", "Completed", timeout=180)
    finally:
        stop_operator(second)

    assert status["reason"] == "Completed", stack.diagnose()
    assert stack.rds_sim.mutating_calls() == RUNBOOK_CALLS, stack.diagnose() + second_log.read_text()
    # They really raced (a write refused because the other wrote first), and nothing crashed.
    logs = stack.operator_log.read_text() + second_log.read_text()
    assert logs.count("changed since it was read; reading it again") >= 1, logs[-4000:]
    assert "Traceback" not in logs, logs[-4000:]
