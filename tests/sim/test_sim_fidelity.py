"""The runbook's own commands, run with bash and the AWS CLI against the simulator, print
what the runbook says they print.

The steps are support.runbook_steps' (the runbook's commands as written, `aws-vault exec mizzy --`
dropped, step 6.1's nonexistent waiter replaced), run 30 times faster: `sleep 30` in the polling
loops sleeps 1 s and the AWS CLI's waiters poll every second instead of every 30 s.

The AWS CLI (awscli from PyPI, in the virtualenv) reaches the simulator through
AWS_ENDPOINT_URL_RDS, as the operator does. Tables are compared by content (title, values,
order), not by box widths: the runbook's samples are hand-drawn and the CLI sizes columns
to their contents. Random parts (bgd-..., -green-xxxxxx, timestamps) are matched by pattern.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ClientError

from aurora_upgrade.sim import SimConfig, SimServer
from aurora_upgrade.sim.scenarios import RUNBOOK_ACCOUNT_ID
from support.runbook import CLUSTER, INSTANCES, OLD_CLUSTER_DELETION_CALLS, REGION, RUNBOOK_CALLS
from support.runbook_steps import (
    STEP_1_1,
    STEP_1_2,
    STEP_1_3,
    STEP_2_1,
    STEP_3_1,
    STEP_3_2,
    STEP_3_3,
    STEP_3_4,
    STEP_4_1,
    STEP_4_2,
    STEP_5,
    STEP_6_1,
    STEP_6_2,
    STEP_6_3,
    STEP_7_1,
    STEP_7_2,
    STEP_7_3,
    STEP_7_4,
    STEP_9_1,
    STEP_9_2,
    RunbookShell,
)

CLUSTER_ARN = f"arn:aws:rds:{REGION}:{RUNBOOK_ACCOUNT_ID}:cluster:{CLUSTER}"

# Each delay outlasts the CLI calls the runbook makes while it runs (an AWS CLI call takes
# about half a second, a few times that on a busy machine), so every state the runbook
# expects to see is there to be seen: PROVISIONING at 3.3, the -old1 instances still listed
# when 9.2 starts waiting for them.
# The describe-after-create window is off: the runbook's 3.3 takes that chance on AWS too.
FIDELITY_TIMING = SimConfig(
    provisioning_seconds=10.0,
    switchover_seconds=6.0,
    reboot_seconds=1.0,
    snapshot_seconds=1.0,
    delete_seconds=8.0,
    not_found_after_create_seconds=0.0,
)
# `sleep 30` becomes `sleep 1`, the waiters' 30 s delay 1 s.
TIME_FACTOR = 1 / 30

# ------------------------------------------------------- the runbook's expected output
# Tables as the runbook draws them. Steps 1.1-1.3 show none; theirs are the 7.x ones with
# the pre-upgrade values, drawn the same way.

EXPECTED_1_1 = """
---------------------------------------------
|           DescribeDBClusters              |
+-------------------------------------------+
|  aurora-bg-aurora-cluster                 |
|  15.6                                     |
|  available                                |
+-------------------------------------------+
"""

EXPECTED_1_2 = """
-------------------------------------------------------
|              DescribeDBInstances                    |
+------------------------------+---------+------------+
|  aurora-bg-aurora-instance-1 |  15.6   |  available |
|  aurora-bg-aurora-instance-2 |  15.6   |  available |
+------------------------------+---------+------------+
"""

EXPECTED_1_3 = """
--------------------------
|DescribeDBEngineVersions|
+------------------------+
|  aurora-postgresql     |
|  15.10                 |
|  aurora-postgresql15   |
+------------------------+
"""

EXPECTED_3_3 = """
-----------------------------------------------
|       DescribeBlueGreenDeployments         |
+---------------------------------------------+
|  bgd-xxxxxxxxxxxxxxx                       |
|  PROVISIONING                               |
|  None                                       |
+---------------------------------------------+
"""

EXPECTED_6_2 = """
------------------------------
|DescribeBlueGreenDeployments|
+----------------------------+
|  AVAILABLE                 |
|  None                      |
+----------------------------+
"""

EXPECTED_7_1 = """
---------------------------------------------
|           DescribeDBClusters              |
+-------------------------------------------+
|  aurora-bg-aurora-cluster                 |
|  15.10                                    |
|  available                                |
+-------------------------------------------+
"""

EXPECTED_7_2 = """
-------------------------------------------------------
|              DescribeDBInstances                    |
+------------------------------+---------+------------+
|  aurora-bg-aurora-instance-1 |  15.10  |  available |
|  aurora-bg-aurora-instance-2 |  15.10  |  available |
+------------------------------+---------+------------+
"""

EXPECTED_7_4 = """
-------------------------------------------------------
|              DescribeDBInstances                    |
+------------------------------+------------+---------+
|  aurora-bg-aurora-instance-1 |  available |  15.10  |
|  aurora-bg-aurora-instance-2 |  available |  15.10  |
+------------------------------+------------+---------+
"""


def reboot_lines(instances: Sequence[str], done: str) -> list[str]:
    return (
        [f"{name} を再起動中..." for name in instances]
        + [line for name in instances for line in (f"{name} の再起動完了を待機中...", f"{name} の再起動が完了しました")]
        + [done]
    )


# ------------------------------------------------------------------------------ helpers


def table(text: str) -> tuple[str, list[list[str]]]:
    """(title, rows of cell values) of an AWS CLI table, ignoring column widths."""
    lines = [line.strip() for line in text.strip().splitlines()]
    assert lines[0].startswith("-") and lines[2].startswith("+") and lines[-1].startswith("+"), text
    title = lines[1].strip("|").strip()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[3:-1]]
    return title, rows


def status_loop(lines: list[str], waiting: str, final: str, closing: str) -> None:
    statuses = [re.fullmatch(r".+: ステータス = (\S+)", line) for line in lines[:-1]]
    assert all(statuses), lines
    seen = [match.group(1) for match in statuses if match]
    assert seen[-1] == final and set(seen[:-1]) <= {waiting} and len(seen) >= 2, seen
    assert lines[-1] == closing


# -------------------------------------------------------------------------------- test


def deployment_gone(rds: Any, bg_id: str) -> bool:
    try:
        rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=bg_id)
    except ClientError as error:
        return bool(error.response["Error"]["Code"] == "BlueGreenDeploymentNotFoundFault")
    return False


def test_runbook_steps_print_what_the_runbook_says(tmp_path: Path, client_for: Callable[[SimServer], Any]) -> None:
    with SimServer(config=FIDELITY_TIMING, scenario="runbook", port=0) as server:
        book = RunbookShell(server.endpoint_url, tmp_path, TIME_FACTOR)

        # 1. prechecks
        assert table(book.output(STEP_1_1)) == table(EXPECTED_1_1)
        assert table(book.output(STEP_1_2)) == table(EXPECTED_1_2)
        assert table(book.output(STEP_1_3)) == table(EXPECTED_1_3)

        # 2.1 reboot every instance and wait (the runbook's sample lists only the
        # completion lines of the wait loop; the script also prints the waiting lines)
        assert book.run(STEP_2_1) == reboot_lines(INSTANCES, "全インスタンスの再起動が完了しました")

        # 3. create the blue/green deployment and wait for it
        assert book.run(STEP_3_1) == [CLUSTER_ARN]
        book.variables["CLUSTER_ARN"] = CLUSTER_ARN
        (bg_id,) = book.run(STEP_3_2)
        assert re.fullmatch(r"bgd-[a-z0-9]+", bg_id)
        book.variables["BG_DEPLOYMENT_ID"] = bg_id
        assert table(book.output(STEP_3_3)) == table(EXPECTED_3_3.replace("bgd-xxxxxxxxxxxxxxx", bg_id))
        status_loop(
            book.run(STEP_3_4), "PROVISIONING", "AVAILABLE", "ブルー/グリーン デプロイメントが利用可能になりました"
        )

        # 4. reboot green (the runbook's sample names green instances
        # `<cluster>-green-xxxxxx-instance-N`; AWS, and so the simulator, appends the
        # suffix to each instance's own name: `<instance>-green-xxxxxx`)
        (green_id,) = book.run(STEP_4_1)
        suffix = re.fullmatch(r"aurora-bg-aurora-cluster-green-([a-z0-9]{6})", green_id)
        assert suffix, green_id
        book.variables["GREEN_CLUSTER_ID"] = green_id
        green_instances = [f"{name}-green-{suffix.group(1)}" for name in INSTANCES]
        assert book.run(STEP_4_2) == reboot_lines(green_instances, "グリーン環境の全インスタンスの再起動が完了しました")

        # 5. the green endpoint to validate against
        (endpoint,) = book.run(STEP_5)
        assert re.fullmatch(rf"{green_id}\.cluster-[a-z0-9]+\.ap-northeast-1\.rds\.amazonaws\.com", endpoint)

        # 6. snapshot, last check, switchover
        snapshot_lines = book.run(STEP_6_1)
        assert len(snapshot_lines) == 2
        snapshot = re.fullmatch(
            r"スナップショット (aurora-bg-aurora-cluster-before-switchover-\d{8}-\d{6}) を作成中\.\.\.",
            snapshot_lines[0],
        )
        assert snapshot, snapshot_lines
        assert snapshot_lines[1] == "スナップショットの作成が完了しました"
        rds = client_for(server)
        described = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot.group(1))
        assert described["DBClusterSnapshots"][0]["Status"] == "available"
        assert table(book.output(STEP_6_2)) == table(EXPECTED_6_2)
        switchover = book.run(STEP_6_3)
        assert switchover[0] == "スイッチオーバーを開始しました"
        status_loop(switchover[1:], "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED", "スイッチオーバーが完了しました")

        # 7. production runs 15.10 under the original names
        assert table(book.output(STEP_7_1)) == table(EXPECTED_7_1)
        assert table(book.output(STEP_7_2)) == table(EXPECTED_7_2)
        assert book.run(STEP_7_3) == reboot_lines(INSTANCES, "全インスタンスの再起動が完了しました")
        assert table(book.output(STEP_7_4)) == table(EXPECTED_7_4)

        # 9. clean up: the deployment (prints nothing), then the -old1 cluster
        assert book.run(STEP_9_1) == []
        deadline = time.monotonic() + 30
        while not deployment_gone(rds, bg_id):
            assert time.monotonic() < deadline, "the deleted deployment never disappeared"
            time.sleep(0.05)
        old_instances = [f"{name}-old1" for name in INSTANCES]
        assert book.run(STEP_9_2) == (
            [f"{name} を削除中..." for name in old_instances]
            + [
                line
                for name in old_instances
                for line in (f"{name} の削除完了を待機中...", f"{name} の削除が完了しました")
            ]
            + [
                "aurora-bg-aurora-cluster-old1 を削除中...",
                "クラスターの削除完了を待機中...",
                "aurora-bg-aurora-cluster-old1 の削除が完了しました",
            ]
        )

        assert [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"].endswith("-old1")] == []
        # The deletion took time: the waiter saw the instance `deleting` before it was gone.
        polls = [
            c["outcome"]
            for c in server.calls()
            if c["operation"] == "DescribeDBInstances" and c["params"].get("DBInstanceIdentifier") == old_instances[0]
        ]
        assert polls[0] == "ok" and polls[-1] == "DBInstanceNotFound", polls
        # Step 2.1's reboots, then what the operator calls too, then step 9.2's deletions.
        assert server.mutating_calls() == [
            "RebootDBInstance",
            "RebootDBInstance",
            *RUNBOOK_CALLS,
            *OLD_CLUSTER_DELETION_CALLS,
        ]
        assert {c["outcome"] for c in server.calls() if c["operation"] in server.mutating_calls()} == {"ok"}


# ------------------------------------------------ the simulator's defaults, the runbook's loops


def runbook_poll_seconds() -> int:
    """How often the runbook's status loops (3.4, 6.3) look: their `sleep`, as the runbook writes it."""
    sleeps = {int(n) for n in re.findall(r"^\s*sleep (\d+)$", STEP_3_4 + STEP_6_3, re.MULTILINE)}
    assert len(sleeps) == 1, sleeps
    return sleeps.pop()


def test_the_simulators_defaults_are_in_the_runbooks_proportions(tmp_path: Path) -> None:
    """A plain `aurora-upgrade sim` (SimConfig's defaults) keeps the runbook's proportions at a
    scale its own loops run as written: provisioning far the longest, then switchover, snapshot,
    reboots; deletions take minutes. Against it, step 9.2's wait loop finds the instances it
    deletes (with 0.5 s deletions it found none and printed nothing)."""
    defaults = SimConfig()
    poll = runbook_poll_seconds()
    waiter = botocore.session.get_session().get_waiter_model("rds").get_waiter("DBInstanceDeleted")
    assert defaults.provisioning_seconds >= 5 * defaults.switchover_seconds
    assert defaults.switchover_seconds > defaults.snapshot_seconds > defaults.reboot_seconds > 0
    assert defaults.delete_seconds >= 60, "AWS's instances and clusters show deleting for minutes"
    # Step 3.4 prints PROVISIONING many times over, 6.3 SWITCHOVER_IN_PROGRESS more than once (its
    # sample shows four), and an instance outlasts the first poll of `aws rds wait db-instance-deleted`.
    assert defaults.provisioning_seconds >= 10 * poll
    assert defaults.switchover_seconds >= 2 * poll
    assert defaults.delete_seconds > waiter.delay

    with SimServer(scenario="runbook", port=0) as server:  # the defaults, as `aurora-upgrade sim` has them
        assert server.config == defaults
        book = RunbookShell(server.endpoint_url, tmp_path, TIME_FACTOR)
        # Step 9.2's delete loop and the listing its wait loop starts with, as written, aimed at the
        # runbook's cluster (the -old1 cluster exists only after a switchover, minutes away here).
        delete_loop, wait_loop = STEP_9_2.split("\n\n")[:2]
        to_blue = {"aurora-bg-aurora-cluster-old1": CLUSTER}
        assert book.run(_renamed(delete_loop, to_blue)) == [f"{name} を削除中..." for name in INSTANCES]
        listing = _renamed(wait_loop, to_blue).split(" | while read")[0]
        assert book.run(listing) == list(INSTANCES)


def _renamed(script: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        script = script.replace(old, new)
    return script
