"""`aurora-upgrade demo`: the runbook's upgrade, end to end, on this machine.

A real kube-apiserver + etcd (controlplane.py), the simulated RDS with the runbook's
account (AWS delays shortened to seconds, in the runbook's proportions), the CRD, the
operator as a real process, and the runbook's manifest applied with kubectl. Progress is
shown live until the upgrade completes; then what the runbook's steps 7.1/7.2 print.

With --validate, runbook step 5 too: two local PostgreSQL servers (postgres.py; Debian's
`postgresql` package, `make postgresql`) answer blue's and green's endpoints, and the manifest
gains spec.validation: the guardrails on blue and one SQL check on green, over verify-full with
the password from a Secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import yaml

from aurora_upgrade import config
from aurora_upgrade.phases import TERMINAL
from aurora_upgrade_dev import controlplane, postgres
from aurora_upgrade_dev.stack import EXAMPLE, install_crd, start_operator, stop_operator


def _say(message: str) -> None:
    print(message, flush=True)


def table(title: str, rows: list[list[str]]) -> str:
    """A table shaped like the AWS CLI's `--output table`, as the runbook shows it."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else [len(title)]
    inner = max(sum(w + 4 for w in widths) - 1, len(title) + 4)
    lines = ["-" * (inner + 2), f"|{title.center(inner)}|", "+" + "-" * inner + "+"]
    for row in rows:
        cells = "|".join(f"  {c.ljust(w)} " for c, w in zip(row, widths, strict=True))
        lines.append(f"|{cells.ljust(inner)}|")
    lines.append("+" + "-" * inner + "+")
    return "\n".join(lines)


def show_final_state(endpoint: str, region: str, cluster_id: str) -> None:
    from aurora_upgrade.sim import rds_client

    rds = rds_client(endpoint, region)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    _say("\n# runbook 7.1: aws rds describe-db-clusters --db-cluster-identifier " + cluster_id)
    _say(
        table("DescribeDBClusters", [[cluster["DBClusterIdentifier"]], [cluster["EngineVersion"]], [cluster["Status"]]])
    )
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])["DBInstances"]
    _say("\n# runbook 7.2: aws rds describe-db-instances --filters Name=db-cluster-id,Values=" + cluster_id)
    rows = [[i["DBInstanceIdentifier"], i["EngineVersion"], i["DBInstanceStatus"]] for i in instances]
    _say(table("DescribeDBInstances", sorted(rows)))


def watch(kubectl: Path, env: dict[str, str], name: str, timeout: float) -> dict[str, Any]:
    """Print phase and message whenever they change; return the final object. A phase that
    came and went between two looks is printed from status.history, so none is missed."""
    started = time.monotonic()
    last: tuple[str, str] | None = None  # the phase and message printed last
    seen = 0  # history entries already accounted for
    obj: dict[str, Any] = {}

    def show(phase: str, message: str) -> None:
        elapsed = int(time.monotonic() - started)
        _say(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {phase:<20} {message}")

    while time.monotonic() - started < timeout:
        got = subprocess.run(
            [str(kubectl), "get", "aup", name, "-n", "default", "-o", "json"], env=env, capture_output=True, text=True
        )
        if got.returncode == 0:
            obj = json.loads(got.stdout)
            status = obj.get("status", {})
            history = status.get("history", [])
            for entry in history[seen:-1]:
                missed = (entry.get("phase", ""), entry.get("message", ""))
                if last is None or missed[0] != last[0]:
                    show(*missed)
                    last = missed
            seen = max(seen, len(history) - 1)
            now = (status.get("phase", "Pending"), status.get("message", ""))
            if now != last:
                show(*now)
                last = now
            if now[0] in TERMINAL:
                return obj
        time.sleep(0.5)
    raise TimeoutError(f"the upgrade did not finish within {timeout:.0f}s")


SECRET = "orders-db"
CHECK = {"name": "orders-readable", "sql": "select count(*) > 0 from orders"}


@contextlib.contextmanager
def validation_servers() -> Iterator[postgres.Servers]:
    """The PostgreSQL pair, green holding the `orders` table the demo's check reads."""
    with contextlib.contextmanager(postgres.start_servers)() as pair:
        with psycopg.connect(pair.green.conninfo(), autocommit=True) as conn:
            conn.execute("create table orders (id int primary key)")
            conn.execute("insert into orders values (1)")
            conn.execute(f"grant select on orders to {postgres.PROBE_USER}")
        yield pair


def with_validation(example: dict[str, Any]) -> dict[str, Any]:
    spec = dict(example["spec"])
    spec["validation"] = {
        "database": {"user": postgres.PROBE_USER, "passwordSecretRef": {"name": SECRET, "key": "password"}},
        "checks": [CHECK],
    }
    return {**example, "spec": spec}


def show_validation(status: dict[str, Any]) -> None:
    _say("\n$ kubectl get aup -o jsonpath='{.status.validation}'  # runbook step 5")
    rows = [[v["name"], v["on"], v["result"], v.get("message", "")] for v in status.get("validation", [])]
    _say(table("Validation", rows))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aurora-upgrade demo", description=__doc__)
    parser.add_argument("--poll", type=float, default=1.0, help="operator poll interval in seconds")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="leave the work directory for inspection")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="check the databases too (runbook step 5), on two local PostgreSQL servers (`make postgresql`)",
    )
    args = parser.parse_args(argv)
    if args.validate and postgres.postgres_bin() is None:
        _say("aurora-upgrade demo --validate needs PostgreSQL's server binaries: run `make postgresql`")
        return 2
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(validation_servers()) if args.validate else None
        return run(args, servers)


def run(args: argparse.Namespace, servers: postgres.Servers | None) -> int:
    from aurora_upgrade.sim import SimConfig, SimServer
    from aurora_upgrade.sim.config import DatabaseEndpoint, DatabaseEndpoints

    root = controlplane.repo_root()
    manifest = root / EXAMPLE
    example = yaml.safe_load(manifest.read_text())
    databases = DatabaseEndpoints()
    if servers is not None:
        databases = DatabaseEndpoints(
            blue=DatabaseEndpoint("127.0.0.1", servers.blue.port),
            green=DatabaseEndpoint("127.0.0.1", servers.green.port),
        )
        example = with_validation(example)
        # What the chart's validation.caBundle sets: the CA that signed the servers' certificates.
        os.environ[config.DB_CA_BUNDLE_ENV] = str(servers.ca_bundle)
        _say(f"[setup] PostgreSQL blue on port {servers.blue.port}, green on port {servers.green.port} (TLS)")
    binaries = controlplane.ensure_binaries(log=lambda m: _say(f"[setup] {m}"))
    workdir = Path(tempfile.mkdtemp(prefix="aurora-upgrade-demo-"))
    _say(f"[setup] work directory {workdir}")
    plane = controlplane.start(workdir / "controlplane", binaries, log=lambda m: _say(f"[setup] {m}"))
    sim = SimServer(config=SimConfig.demo_timing(), scenario="runbook", port=0, databases=databases)
    operator = None
    try:
        sim.start()
        _say(f"[setup] simulated RDS (runbook account) at {sim.endpoint_url}")
        install_crd(plane.kubectl, plane.kubeconfig)
        _say("[setup] CRD auroraupgrades.dbupgrade.dev installed")
        operator = start_operator(plane.kubeconfig, sim.endpoint_url, workdir / "operator.log", args.poll)
        _say(f"[setup] operator running (pid {operator.pid}, log {workdir / 'operator.log'})")
        env = dict(os.environ, KUBECONFIG=str(plane.kubeconfig))
        if servers is not None:
            _say(f"\n$ kubectl create secret generic {SECRET} --from-literal=password=...")
            secret = [str(plane.kubectl), "-n", "default", "create", "secret", "generic", SECRET]
            subprocess.run([*secret, f"--from-literal=password={postgres.PROBE_PASSWORD}"], env=env, check=True)
            _say(f"\n$ kubectl apply -f {EXAMPLE}  # with spec.validation: {json.dumps(example['spec']['validation'])}")
            subprocess.run(
                [str(plane.kubectl), "apply", "-f", "-"], input=json.dumps(example), text=True, env=env, check=True
            )
        else:
            _say(f"\n$ kubectl apply -f {EXAMPLE}")
            subprocess.run([str(plane.kubectl), "apply", "-f", str(manifest)], env=env, check=True)
        final = watch(plane.kubectl, env, example["metadata"]["name"], args.timeout)
        _say("\n$ kubectl get aup -o wide")
        subprocess.run([str(plane.kubectl), "get", "aup", "-n", "default", "-o", "wide"], env=env, check=False)
        if servers is not None:
            show_validation(final["status"])
        if final["status"]["phase"] != "Completed":
            _say(f"\nThe upgrade ended {final['status']['phase']}: {final['status'].get('message')}")
            return 1
        show_final_state(sim.endpoint_url, example["spec"]["region"], example["spec"]["clusterIdentifier"])
        _say("\nDemo complete: the upgrade is Completed.")
        return 0
    finally:
        if operator is not None:
            stop_operator(operator)
        sim.stop()
        plane.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
