"""What GitOps tools make of a live AuroraUpgrade, judged by the libraries they run: kstatus
(sigs.k8s.io/cli-utils, which Flux's health checks read) and Argo CD's health.lua in gopher-lua,
both through tools/gitops. Every version of the object the API server stores is watched, so the
verdicts are checked at each phase of the runbook case, at a Manual gate, while the maintenance
window is closed, right after a spec change the operator has not acted on yet, on a spec it
refuses mid-upgrade (Stalled, not terminal), on a failed switchover and on an aborted upgrade.

These objects are also Argo CD's test data for the health check
(docs/argocd/resource_customizations/dbupgrade.dev/AuroraUpgrade/testdata/, run by `go test`
from tests/static/test_gitops_tools.py). With AURORA_UPGRADE_CAPTURE_TESTDATA=1 each test
writes the objects it saw there, and their health_test.yaml entries: the status this file
expects and the message gopher-lua returned. Otherwise each test checks that the committed
object still has the shape of what the operator writes now (phase, reason, conditions, status
fields, generation observed or not).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
import yaml
from operator_fixtures import REPO, Stack, manifest

from aurora_upgrade_dev.controlplane import ControlPlane
from aurora_upgrade_dev.processes import stop_process
from support.runbook import RUNBOOK_PHASES, runbook_manifest

CUSTOMIZATION = REPO / "docs" / "argocd" / "resource_customizations" / "dbupgrade.dev" / "AuroraUpgrade"
HEALTH_LUA = CUSTOMIZATION / "health.lua"
HEALTH_TEST = CUSTOMIZATION / "health_test.yaml"
CAPTURE = os.environ.get("AURORA_UPGRADE_CAPTURE_TESTDATA") == "1"
RESOURCES = "/apis/dbupgrade.dev/v1alpha1/namespaces/{namespace}/auroraupgrades"


class Verdict(NamedTuple):
    argocd: str
    kstatus: str


def phase_case(phase: str) -> str:
    return f"{'healthy' if phase == 'Completed' else 'progressing'}_{phase[0].lower()}{phase[1:]}"


WORKING = Verdict("Progressing", "InProgress")
# Each test-data file (testdata/<name>.yaml) and what Argo CD and kstatus must say of it.
CASES: dict[str, Verdict] = {
    # Created, before the operator's first write: the API server shows the CRD's status default,
    # observedGeneration 0 below generation 1, so kstatus reads it as InProgress, not Current.
    "progressing_unobserved": WORKING,
    **{phase_case(p): WORKING for p in RUNBOOK_PHASES if p != "Completed"},
    "healthy_completed": Verdict("Healthy", "Current"),
    "progressing_rebootingSource": WORKING,
    "suspended_awaitingApproval": Verdict("Suspended", "InProgress"),
    "suspended_outsideMaintenanceWindow": Verdict("Suspended", "InProgress"),
    # Waits on a person judged from written test data (no live run of this file reaches them).
    "suspended_switchoverNotCarriedOut": Verdict("Suspended", "InProgress"),
    "suspended_clusterBusy": Verdict("Suspended", "InProgress"),
    "suspended_retainingOldCluster": Verdict("Suspended", "InProgress"),
    # A user's check failed in Validating (captured by hand: no test here runs PostgreSQL).
    "suspended_validationFailed": Verdict("Suspended", "InProgress"),
    "progressing_newGeneration": WORKING,
    "degraded_failed": Verdict("Degraded", "Failed"),
    # Stalled in the middle of an upgrade (a time zone nobody knows edited into the window while
    # green waits for it): not terminal, but nothing happens until a person fixes the spec.
    "degraded_stalledInvalidSpec": Verdict("Degraded", "Failed"),
    # The finalizer records Aborted on an object being deleted: kstatus says Terminating.
    "degraded_aborted": Verdict("Degraded", "Terminating"),
}

Judge = Callable[[dict[str, Any]], dict[str, dict[str, str]]]


@pytest.fixture(scope="session")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Judge:
    """tools/gitops built once: an object in, kstatus's and Argo CD's verdicts out."""
    binary = tmp_path_factory.mktemp("gitops") / "gitops-status"
    built = subprocess.run(
        ["go", "build", "-o", str(binary), "."], cwd=REPO / "tools" / "gitops", capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr

    def run(obj: dict[str, Any]) -> dict[str, dict[str, str]]:
        result = subprocess.run(
            [str(binary), "-health-lua", str(HEALTH_LUA)], input=json.dumps(obj), capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, f"gitops-status failed: {result.stderr}\n{json.dumps(obj, indent=1)}"
        verdicts: dict[str, dict[str, str]] = json.loads(result.stdout)
        return verdicts

    return run


class Watch:
    """Every version of the namespace's AuroraUpgrades, in order, from the API server's watch
    (`kubectl get --raw ...?watch=true`, started at the list's resourceVersion so that no
    version written after the list is missed, however fast the operator is)."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        path = RESOURCES.format(namespace=namespace)
        command = [str(plane.kubectl), "--kubeconfig", str(plane.kubeconfig), "get", "--raw"]
        listed = subprocess.run([*command, path], capture_output=True, text=True, check=True, env=plane.env())
        version = json.loads(listed.stdout)["metadata"]["resourceVersion"]
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [*command, f"{path}?watch=true&resourceVersion={version}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=plane.env(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip():
                with self._lock:
                    self.events.append(json.loads(line))

    def versions(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e["object"]
                for e in self.events
                if e["type"] in ("ADDED", "MODIFIED") and e["object"]["metadata"]["name"] == name
            ]

    def first(
        self, stack: Stack, name: str, what: str, matches: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        """The first version of `name` that `matches`, waiting for it."""
        return stack.wait_for(what, lambda: next((o for o in self.versions(name) if matches(o)), None), timeout)

    def stop(self) -> None:
        stop_process(self._process, timeout=10)


@pytest.fixture
def watch(stack: Stack) -> Iterator[Watch]:
    started = Watch(stack.plane, stack.namespace)
    try:
        yield started
    finally:
        started.stop()


def in_phase(phase: str) -> Callable[[dict[str, Any]], bool]:
    """A version the operator wrote in `phase` (before its first write, the CRD's status default
    shows Pending too, with observedGeneration 0)."""
    return lambda obj: obj.get("status", {}).get("phase") == phase and bool(obj["status"].get("observedGeneration"))


def with_reason(reason: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: obj.get("status", {}).get("reason") == reason


def shape(obj: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same between a committed test object and what the operator writes now."""
    status, meta = obj.get("status") or {}, obj["metadata"]
    return {
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "conditions": {c["type"]: c["status"] for c in status.get("conditions", [])},
        "status fields": sorted(status),
        "generation observed": status.get("observedGeneration") == meta.get("generation"),
        "being deleted": "deletionTimestamp" in meta,
    }


def health_tests() -> list[dict[str, Any]]:
    if not HEALTH_TEST.exists():
        return []
    tests: list[dict[str, Any]] = yaml.safe_load(HEALTH_TEST.read_text())["tests"]
    return tests


def write_case(case: str, obj: dict[str, Any], judge: Judge) -> None:
    """Capture mode: the object as test data, and its health_test.yaml entry (CASES order)."""
    obj = json.loads(json.dumps(obj))
    obj["metadata"].pop("managedFields", None)  # server-side bookkeeping, noise in test data
    path = CUSTOMIZATION / "testdata" / f"{case}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(obj, sort_keys=False, width=100))
    message = judge(yaml.safe_load(path.read_text()))["argocd"].get("message", "")
    entries = {t["inputPath"]: t for t in health_tests()}
    entries[f"testdata/{case}.yaml"] = {
        "healthStatus": {"status": CASES[case].argocd, "message": message},
        "inputPath": f"testdata/{case}.yaml",
    }
    ordered = [entries[f"testdata/{c}.yaml"] for c in CASES if f"testdata/{c}.yaml" in entries]
    HEALTH_TEST.write_text(yaml.safe_dump({"tests": ordered}, sort_keys=False, width=120))


def check_case(case: str, obj: dict[str, Any], judge: Judge) -> None:
    """The live object gets the verdicts CASES names; the committed test data matches it."""
    verdicts = judge(obj)
    assert (verdicts["argocd"]["status"], verdicts["kstatus"]["status"]) == CASES[case], (case, verdicts, obj)
    if CAPTURE:
        write_case(case, obj, judge)
        return
    committed = CUSTOMIZATION / "testdata" / f"{case}.yaml"
    assert committed.exists(), f"{committed} is missing: run this test with AURORA_UPGRADE_CAPTURE_TESTDATA=1"
    assert shape(yaml.safe_load(committed.read_text())) == shape(obj), (
        f"{committed.name} no longer looks like what the operator writes: "
        "run this test with AURORA_UPGRADE_CAPTURE_TESTDATA=1 and review the diff"
    )
    entry = next((t for t in health_tests() if t["inputPath"] == f"testdata/{case}.yaml"), None)
    assert entry is not None and entry["healthStatus"]["status"] == CASES[case].argocd, (case, entry)


# Phases a look may pass through into the next without waiting, when AWS's answers allow it:
# Prechecking (every precheck answered at once) and Verifying (versions right at the first look).
# Status is written when it means something, so such a phase is in history but need not be a
# version of its own; every phase the upgrade waits or calls AWS in is one.
PASSED_THROUGH = frozenset({"Prechecking", "Verifying"})


def test_runbook_case_phase_by_phase(stack: Stack, watch: Watch, judge: Judge) -> None:
    stack.start()
    example = runbook_manifest(stack.namespace)
    stack.apply(json.dumps(example))
    name = example["metadata"]["name"]
    done = stack.wait_phase(name, "Completed", timeout=120)
    assert [h["phase"] for h in done["history"]] == RUNBOOK_PHASES, done["history"]

    check_case("progressing_unobserved", watch.versions(name)[0], judge)
    for phase in RUNBOOK_PHASES:
        if phase in PASSED_THROUGH:
            # Written only where the look that entered it stopped there (docs/events.md, "When
            # status is written"); its committed test data was captured where it was.
            seen = next((o for o in watch.versions(name) if in_phase(phase)(o)), None)
            if seen is not None:
                check_case(phase_case(phase), seen, judge)
            continue
        check_case(phase_case(phase), watch.first(stack, name, f"{name} in {phase}", in_phase(phase)), judge)

    # Not only the first: every version the operator wrote on the way is working, none failed.
    versions = [o for o in watch.versions(name) if o.get("status")]
    assert len(versions) > len(RUNBOOK_PHASES), versions
    for obj in versions:
        verdicts = judge(obj)
        done_yet = obj["status"]["phase"] == "Completed"
        expected = CASES["healthy_completed"] if done_yet else WORKING
        assert (verdicts["argocd"]["status"], verdicts["kstatus"]["status"]) == expected, (verdicts, obj["status"])
        if obj["metadata"]["generation"] == obj["status"]["observedGeneration"]:
            assert verdicts["argocd"]["message"] == obj["status"]["message"], verdicts


def test_applied_while_no_operator_runs_it_is_in_progress_then_accepted(stack: Stack, judge: Judge) -> None:
    """A Flux Kustomization that waits on a new upgrade (or dependsOn one) must not go ahead before
    the operator has even seen it: kstatus reads it as InProgress from the moment it is applied.
    The operator, started later, still takes it for new: its first status and the Accepted Event."""
    stack.apply(manifest("fresh", stack.namespace))
    created = stack.get("fresh")
    assert created["status"] == {"observedGeneration": 0, "phase": "Pending"}, created
    verdicts = judge(created)
    assert verdicts["kstatus"] == {
        "status": "InProgress",
        "message": "AuroraUpgrade generation is 1, but latest observed generation is 0",
    }, verdicts
    assert verdicts["argocd"]["status"] == "Progressing", verdicts

    stack.start()
    done = stack.wait_phase("fresh", "Completed", timeout=120)
    assert [h["phase"] for h in done["history"]] == RUNBOOK_PHASES, done["history"]
    assert done["observedGeneration"] == 1 and done["startedAt"] == done["history"][0]["startedAt"], done
    events = stack.events("fresh")
    accepted = [e for e in events if e["reason"] == "Accepted"]
    assert len(accepted) == 1, events
    assert accepted[0]["message"] == "Upgrade of aurora-bg-aurora-cluster to 15.10 accepted", accepted
    assert judge(stack.get("fresh"))["kstatus"]["status"] == "Current"


def closed_window(now: datetime) -> dict[str, Any]:
    """A daily window that opens in two hours: closed for as long as the test runs."""
    opens = now + timedelta(hours=2)
    return {"start": opens.strftime("%H:%M"), "end": (opens + timedelta(hours=1)).strftime("%H:%M"), "timeZone": "UTC"}


def test_window_wait_then_a_spec_change_not_yet_observed(stack: Stack, watch: Watch, judge: Judge) -> None:
    # Blue has parameters pending a reboot (runbook step 2), so RebootingSource runs too.
    stack.start(sim_args=["--scenario", "runbook-pending-reboot"])
    spec = {"rebootSourceForPendingParameters": True, "switchover": {"window": closed_window(datetime.now(UTC))}}
    stack.apply(manifest("window", stack.namespace, **spec))

    rebooting = watch.first(stack, "window", "RebootingSource", in_phase("RebootingSource"))
    check_case("progressing_rebootingSource", rebooting, judge)
    waiting = watch.first(stack, "window", "the window wait", with_reason("OutsideMaintenanceWindow"))
    assert waiting["status"]["phase"] == "AwaitingSwitchover", waiting["status"]
    check_case("suspended_outsideMaintenanceWindow", waiting, judge)
    assert "SwitchoverBlueGreenDeployment" not in stack.rds_sim.mutating_calls()

    remove_window = json.dumps([{"op": "remove", "path": "/spec/switchover/window"}])
    stack.k("patch", "aup", "window", "--type", "json", "-p", remove_window, check=True)
    changed = watch.first(
        stack, "window", "the spec change", lambda o: o["metadata"]["generation"] == 2 and "status" in o
    )
    assert changed["status"]["observedGeneration"] == 1, changed["status"]
    check_case("progressing_newGeneration", changed, judge)

    done = stack.wait_phase("window", "Completed", timeout=90)
    assert done["observedGeneration"] == 2, done


def test_invalid_time_zone_mid_upgrade_stalls_until_fixed(stack: Stack, watch: Watch, judge: Judge) -> None:
    stack.start()
    stack.apply(manifest("zone", stack.namespace, switchover={"window": closed_window(datetime.now(UTC))}))
    watch.first(stack, "zone", "the window wait", with_reason("OutsideMaintenanceWindow"))

    # The schema cannot refuse a time zone; the operator can, and green already exists.
    mars = json.dumps([{"op": "replace", "path": "/spec/switchover/window/timeZone", "value": "Mars/Olympus"}])
    stack.k("patch", "aup", "zone", "--type", "json", "-p", mars, check=True)
    stalled = watch.first(stack, "zone", "the InvalidSpec stall", with_reason("InvalidSpec"))
    status = stalled["status"]
    assert status["phase"] == "AwaitingSwitchover" and status["observedGeneration"] == 2, status
    assert {c["type"]: c["status"] for c in status["conditions"]}["Stalled"] == "True", status
    check_case("degraded_stalledInvalidSpec", stalled, judge)
    assert "SwitchoverBlueGreenDeployment" not in stack.rds_sim.mutating_calls()

    # Fixing the spec resumes it.
    remove_window = json.dumps([{"op": "remove", "path": "/spec/switchover/window"}])
    stack.k("patch", "aup", "zone", "--type", "json", "-p", remove_window, check=True)
    done = stack.wait_phase("zone", "Completed", timeout=90)
    assert done["observedGeneration"] == 3, done


def test_manual_gate_then_deletion(stack: Stack, watch: Watch, judge: Judge) -> None:
    stack.start()
    stack.apply(manifest("manual", stack.namespace, switchover={"mode": "Manual"}))
    gate = watch.first(stack, "manual", "the approval gate", with_reason("AwaitingApproval"))
    check_case("suspended_awaitingApproval", gate, judge)

    # Deleting it before switchover aborts: deletionPolicy Abort removes the deployment and green.
    stack.k("delete", "aup", "manual", "--wait=false", check=True)
    aborted = watch.first(stack, "manual", "Aborted", in_phase("Aborted"))
    assert aborted["status"]["reason"] == "Aborted", aborted["status"]
    check_case("degraded_aborted", aborted, judge)


def test_failed_switchover(stack: Stack, watch: Watch, judge: Judge) -> None:
    stack.start(sim_args=["--scenario", "runbook-switchover-fails"])
    stack.apply(manifest("fails", stack.namespace))
    failed = watch.first(stack, "fails", "Failed", in_phase("Failed"))
    assert failed["status"]["reason"] == "BlueGreenSwitchoverFailed", failed["status"]
    check_case("degraded_failed", failed, judge)


def test_every_case_has_committed_test_data() -> None:
    """health_test.yaml covers exactly the cases above, with the statuses they expect."""
    if CAPTURE:
        pytest.skip("capturing: the files are being written")
    tests = {t["inputPath"]: t["healthStatus"]["status"] for t in health_tests()}
    assert tests == {f"testdata/{case}.yaml": verdict.argocd for case, verdict in CASES.items()}
    present = {p.name for p in (CUSTOMIZATION / "testdata").glob("*.yaml")}
    assert present == {f"{case}.yaml" for case in CASES}, present
