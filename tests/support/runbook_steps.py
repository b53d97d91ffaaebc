"""The runbook's own commands (aurora-bg-upgrade-procedure.ja.md, steps 1.1 to 9.2) as bash
scripts, and a shell that runs them with the AWS CLI against the simulator at a chosen speed.

They are copied as written, with two changes: `aws-vault exec mizzy --` is dropped (the simulator
accepts any credentials), and step 6.1's waiter `db-cluster-snapshot-completed`, which does not
exist in botocore (run literally, the wait errors out and the script still claims the snapshot
completed), is replaced by the real `db-cluster-snapshot-available`. Step 8 (Terraform) has no
AWS call and is not here.

Time is scaled, not rewritten: `RunbookShell(..., time_factor=f)` runs the polling loops'
`sleep 30` as `sleep 30*f`, and gives the AWS CLI botocore's RDS waiters with their 30 s delay
times f (botocore reads model overrides from AWS_DATA_PATH), so the wait commands run unchanged.
The fidelity test and the benchmark (bench/) share them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import botocore.session

VENV_BIN = Path(sys.executable).parent
RUNBOOK_SLEEP_SECONDS = 30

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

  sleep 30
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

  sleep 30
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


# ------------------------------------------------------------------------------ the shell


def scaled_waiters(data_path: Path, factor: float) -> Path:
    """botocore's RDS waiters with their delay times `factor` and as many more attempts, so each
    waiter gives up after the same wall time as before; a directory for AWS_DATA_PATH."""
    loader = botocore.session.get_session().get_component("data_loader")
    waiters = loader.load_service_model("rds", "waiters-2")
    for waiter in waiters["waiters"].values():
        waiter["maxAttempts"] = int(waiter["maxAttempts"] / factor)
        waiter["delay"] = waiter["delay"] * factor
    target = data_path / "rds" / "2014-10-31" / "waiters-2.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(waiters))
    return data_path


class RunbookShell:
    """Runs runbook steps with bash and the AWS CLI against `endpoint_url`, carrying the
    variables the steps share (`variables`), time scaled by `time_factor`."""

    def __init__(self, endpoint_url: str, home: Path, time_factor: float) -> None:
        self.variables: dict[str, str] = {}
        self.sleep_seconds = RUNBOOK_SLEEP_SECONDS * time_factor
        # No AWS settings of the machine running them leak in.
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        self.env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            AWS_ENDPOINT_URL_RDS=endpoint_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_CONFIG_FILE=str(home / "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
            AWS_DATA_PATH=str(scaled_waiters(home / "botocore-data", time_factor)),
            HOME=str(home),
        )

    def run(self, script: str, timeout: float = 600) -> list[str]:
        """The step's stdout lines; a step that exits non-zero raises with its output."""
        script = script.replace(f"sleep {RUNBOOK_SLEEP_SECONDS}\n", f"sleep {self.sleep_seconds:g}\n")
        result = subprocess.run(
            ["bash", "-c", script],
            env={**self.env, **self.variables},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"runbook step exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result.stdout.splitlines()

    def output(self, script: str) -> str:
        return "\n".join(self.run(script))
