"""The runbook's own commands, run with bash and the AWS CLI against the simulator, print
what the runbook says they print.

Steps 1.1 to 9.2 of aurora-bg-upgrade-procedure.ja.md are copied as written, with three
changes: `aws-vault exec mizzy --` is dropped (the simulator accepts any credentials),
`sleep 30` in the polling loops becomes `sleep 1` (and the AWS CLI's waiters, which poll
every 30 s, poll every half second: see `fast_waiters`), and step 6.1's waiter
`db-cluster-snapshot-completed`, which does not exist in botocore (run literally, the wait
errors out and the script still claims the snapshot completed), is replaced by the real
`db-cluster-snapshot-available`. Step 8 (Terraform) has no AWS call and is not run.

The AWS CLI (awscli from PyPI, in the virtualenv) reaches the simulator through
AWS_ENDPOINT_URL_RDS, as the operator does. Tables are compared by content (title, values,
order), not by box widths: the runbook's samples are hand-drawn and the CLI sizes columns
to their contents. Random parts (bgd-..., -green-xxxxxx, timestamps) are matched by pattern.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ClientError

from aurora_upgrade.sim import SimConfig, SimServer
from support.runbook import CLUSTER, OLD_CLUSTER_DELETION_CALLS, RUNBOOK_CALLS

VENV_BIN = Path(sys.executable).parent
CLUSTER_ARN = "arn:aws:rds:ap-northeast-1:123456789012:cluster:aurora-bg-aurora-cluster"
INSTANCES = ["aurora-bg-aurora-instance-1", "aurora-bg-aurora-instance-2"]

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
WAITER_POLL_SECONDS = 0.5

# ------------------------------------------------------------------ the runbook's steps

STEP_1_1 = """
aws rds describe-db-clusters \\
  --db-cluster-identifier aurora-bg-aurora-cluster \\
  --region ap-northeast-1 \\
  --query 'DBClusters[0].[DBClusterIdentifier,EngineVersion,Status]' \\
  --output table
"""

STEP_1_2 = """
aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values=aurora-bg-aurora-cluster" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].[DBInstanceIdentifier,EngineVersion,DBInstanceStatus]' \\
  --output table
"""

STEP_1_3 = """
aws rds describe-db-engine-versions \\
  --engine aurora-postgresql \\
  --engine-version 15.10 \\
  --region ap-northeast-1 \\
  --query 'DBEngineVersions[0].[Engine,EngineVersion,DBParameterGroupFamily]' \\
  --output table
"""

REBOOT_AND_WAIT = """
aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values={cluster}" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].DBInstanceIdentifier' \\
  --output text | tr '\\t' '\\n' | while read instance_id; do
  aws rds reboot-db-instance \\
    --db-instance-identifier "$instance_id" \\
    --region ap-northeast-1 >/dev/null
  echo "$instance_id を再起動中..."
done

aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values={cluster}" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].DBInstanceIdentifier' \\
  --output text | tr '\\t' '\\n' | while read instance_id; do
  echo "$instance_id の再起動完了を待機中..."
  aws rds wait db-instance-available \\
    --db-instance-identifier "$instance_id" \\
    --region ap-northeast-1
  echo "$instance_id の再起動が完了しました"
done

echo "{done}"
"""

STEP_2_1 = REBOOT_AND_WAIT.format(cluster="aurora-bg-aurora-cluster", done="全インスタンスの再起動が完了しました")

STEP_3_1 = """
CLUSTER_ARN=$(aws rds describe-db-clusters \\
  --db-cluster-identifier aurora-bg-aurora-cluster \\
  --region ap-northeast-1 \\
  --query 'DBClusters[0].DBClusterArn' \\
  --output text)
echo $CLUSTER_ARN
"""

STEP_3_2 = """
BG_DEPLOYMENT_ID=$(aws rds create-blue-green-deployment \\
  --blue-green-deployment-name aurora-bg-upgrade-15-10 \\
  --source $CLUSTER_ARN \\
  --target-engine-version 15.10 \\
  --target-db-cluster-parameter-group-name aurora-bg-aurora-pg15-cluster-params \\
  --target-db-parameter-group-name aurora-bg-aurora-pg15-params \\
  --region ap-northeast-1 \\
  --query 'BlueGreenDeployment.BlueGreenDeploymentIdentifier' \\
  --output text)
echo $BG_DEPLOYMENT_ID
"""

STEP_3_3 = """
aws rds describe-blue-green-deployments \\
  --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
  --region ap-northeast-1 \\
  --query 'BlueGreenDeployments[0].[BlueGreenDeploymentIdentifier,Status,StatusDetails]' \\
  --output table
"""

STEP_3_4 = """
while true; do
  STATUS=$(aws rds describe-blue-green-deployments \\
    --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
    --region ap-northeast-1 \\
    --query 'BlueGreenDeployments[0].Status' \\
    --output text)

  echo "$(date): ステータス = $STATUS"

  if [ "$STATUS" = "AVAILABLE" ]; then
    echo "ブルー/グリーン デプロイメントが利用可能になりました"
    break
  elif [ "$STATUS" = "PROVISIONING_FAILED" ] || [ "$STATUS" = "INVALID_CONFIGURATION" ]; then
    echo "ブルー/グリーン デプロイメントの作成に失敗しました"
    exit 1
  fi

  sleep 1
done
"""

STEP_4_1 = """
GREEN_CLUSTER_ARN=$(aws rds describe-blue-green-deployments \\
  --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
  --region ap-northeast-1 \\
  --query 'BlueGreenDeployments[0].Target' \\
  --output text)

GREEN_CLUSTER_ID=$(echo $GREEN_CLUSTER_ARN | awk -F: '{print $NF}')
echo $GREEN_CLUSTER_ID
"""

STEP_4_2 = REBOOT_AND_WAIT.format(
    cluster="$GREEN_CLUSTER_ID", done="グリーン環境の全インスタンスの再起動が完了しました"
)

STEP_5 = """
GREEN_ENDPOINT=$(aws rds describe-db-clusters \\
  --db-cluster-identifier $GREEN_CLUSTER_ID \\
  --region ap-northeast-1 \\
  --query 'DBClusters[0].Endpoint' \\
  --output text)
echo $GREEN_ENDPOINT
"""

# The runbook waits with `db-cluster-snapshot-completed`, which botocore does not have.
STEP_6_1 = """
SNAPSHOT_ID="aurora-bg-aurora-cluster-before-switchover-$(date +%Y%m%d-%H%M%S)"

aws rds create-db-cluster-snapshot \\
  --db-cluster-snapshot-identifier $SNAPSHOT_ID \\
  --db-cluster-identifier aurora-bg-aurora-cluster \\
  --region ap-northeast-1 >/dev/null

echo "スナップショット $SNAPSHOT_ID を作成中..."

aws rds wait db-cluster-snapshot-available \\
  --db-cluster-snapshot-identifier $SNAPSHOT_ID \\
  --region ap-northeast-1

echo "スナップショットの作成が完了しました"
"""

STEP_6_2 = """
aws rds describe-blue-green-deployments \\
  --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
  --region ap-northeast-1 \\
  --query 'BlueGreenDeployments[0].[Status,StatusDetails]' \\
  --output table
"""

STEP_6_3 = """
aws rds switchover-blue-green-deployment \\
  --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
  --region ap-northeast-1 >/dev/null

echo "スイッチオーバーを開始しました"

while true; do
  STATUS=$(aws rds describe-blue-green-deployments \\
    --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
    --region ap-northeast-1 \\
    --query 'BlueGreenDeployments[0].Status' \\
    --output text)

  echo "$(date): ステータス = $STATUS"

  if [ "$STATUS" = "SWITCHOVER_COMPLETED" ]; then
    echo "スイッチオーバーが完了しました"
    break
  elif [ "$STATUS" = "SWITCHOVER_FAILED" ]; then
    echo "スイッチオーバーに失敗しました"
    exit 1
  fi

  sleep 1
done
"""

STEP_7_1 = STEP_1_1

STEP_7_2 = STEP_1_2

STEP_7_3 = STEP_2_1

STEP_7_4 = """
aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values=aurora-bg-aurora-cluster" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].[DBInstanceIdentifier,DBInstanceStatus,EngineVersion]' \\
  --output table
"""

STEP_9_1 = """
aws rds delete-blue-green-deployment \\
  --blue-green-deployment-identifier $BG_DEPLOYMENT_ID \\
  --region ap-northeast-1 >/dev/null
"""

STEP_9_2 = """
aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values=aurora-bg-aurora-cluster-old1" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].DBInstanceIdentifier' \\
  --output text | tr '\\t' '\\n' | while read instance_id; do
  aws rds delete-db-instance \\
    --db-instance-identifier "$instance_id" \\
    --skip-final-snapshot \\
    --region ap-northeast-1 >/dev/null
  echo "$instance_id を削除中..."
done

aws rds describe-db-instances \\
  --filters "Name=db-cluster-id,Values=aurora-bg-aurora-cluster-old1" \\
  --region ap-northeast-1 \\
  --query 'DBInstances[*].DBInstanceIdentifier' \\
  --output text | tr '\\t' '\\n' | while read instance_id; do
  echo "$instance_id の削除完了を待機中..."
  aws rds wait db-instance-deleted \\
    --db-instance-identifier "$instance_id" \\
    --region ap-northeast-1
  echo "$instance_id の削除が完了しました"
done

aws rds delete-db-cluster \\
  --db-cluster-identifier aurora-bg-aurora-cluster-old1 \\
  --skip-final-snapshot \\
  --region ap-northeast-1 >/dev/null
echo "aurora-bg-aurora-cluster-old1 を削除中..."

echo "クラスターの削除完了を待機中..."
aws rds wait db-cluster-deleted \\
  --db-cluster-identifier aurora-bg-aurora-cluster-old1 \\
  --region ap-northeast-1
echo "aurora-bg-aurora-cluster-old1 の削除が完了しました"
"""

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


def reboot_lines(instances: list[str], done: str) -> list[str]:
    return (
        [f"{name} を再起動中..." for name in instances]
        + [line for name in instances for line in (f"{name} の再起動完了を待機中...", f"{name} の再起動が完了しました")]
        + [done]
    )


# ------------------------------------------------------------------------------ helpers


def fast_waiters(data_path: Path) -> Path:
    """botocore's RDS waiters with a short polling interval, for AWS_DATA_PATH.

    `aws rds wait` polls every 30 s; botocore reads model overrides from AWS_DATA_PATH, so
    the runbook's wait commands run unchanged and merely poll faster.
    """
    loader = botocore.session.get_session().get_component("data_loader")
    waiters = loader.load_service_model("rds", "waiters-2")
    for waiter in waiters["waiters"].values():
        waiter["maxAttempts"] = int(waiter["maxAttempts"] * waiter["delay"] / WAITER_POLL_SECONDS)
        waiter["delay"] = WAITER_POLL_SECONDS
    target = data_path / "rds" / "2014-10-31" / "waiters-2.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(waiters))
    return data_path


def table(text: str) -> tuple[str, list[list[str]]]:
    """(title, rows of cell values) of an AWS CLI table, ignoring column widths."""
    lines = [line.strip() for line in text.strip().splitlines()]
    assert lines[0].startswith("-") and lines[2].startswith("+") and lines[-1].startswith("+"), text
    title = lines[1].strip("|").strip()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[3:-1]]
    return title, rows


class Runbook:
    """Runs runbook steps with bash, carrying the variables the runbook's steps share."""

    def __init__(self, server: SimServer, home: Path) -> None:
        self.variables: dict[str, str] = {}
        # No AWS settings of the machine running the tests leak in.
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        self.env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            AWS_ENDPOINT_URL_RDS=server.endpoint_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_CONFIG_FILE=str(home / "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
            AWS_DATA_PATH=str(fast_waiters(home / "botocore-data")),
            HOME=str(home),
        )

    def run(self, script: str) -> list[str]:
        result = subprocess.run(
            ["bash", "-c", script],
            env={**self.env, **self.variables},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.splitlines()

    def output(self, script: str) -> str:
        return "\n".join(self.run(script))


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
        book = Runbook(server, tmp_path)

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
        book = Runbook(server, tmp_path)
        # Step 9.2's delete loop and the listing its wait loop starts with, as written, aimed at the
        # runbook's cluster (the -old1 cluster exists only after a switchover, minutes away here).
        delete_loop, wait_loop = STEP_9_2.split("\n\n")[:2]
        to_blue = {"aurora-bg-aurora-cluster-old1": CLUSTER}
        assert book.run(_renamed(delete_loop, to_blue)) == [f"{name} を削除中..." for name in INSTANCES]
        listing = _renamed(wait_loop, to_blue).split(" | while read")[0]
        assert book.run(listing) == INSTANCES


def _renamed(script: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        script = script.replace(old, new)
    return script
