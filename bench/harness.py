"""What every benchmark shares: the simulator and the operator as processes, the operator's own
/proc figures, AuroraUpgrades created and watched through the API server, the machine it ran on.

The operator runs exactly as `aurora-upgrade operator` runs in a deployment (tools' start_operator),
from an environment with only the operator's runtime dependencies installed, as its image has
(`make bench` makes it: OPERATOR_PYTHON), so its RSS and CPU are the product's own; the simulator
is another process.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from prometheus_client.parser import text_string_to_metric_families

from aurora_upgrade.models import GROUP, PLURAL, VERSION
from aurora_upgrade_dev.processes import stop_process
from aurora_upgrade_dev.stack import start_operator, stop_operator
from support.runbook import runbook_manifest

CLK_TCK = os.sysconf("SC_CLK_TCK")
# The interpreter the operator runs with (`python -m bench --operator-python`).
OPERATOR_PYTHON = sys.executable
# Top-level modules of the development environment that the operator's own must not load: the
# simulator's moto, the tools, the tests' support, and the kubernetes client (which kopf imports
# whenever it is installed, and the operator's image does not install).
FOREIGN = ("moto", "aurora_upgrade_dev", "support", "kubernetes")


def machine() -> dict[str, str]:
    """What the figures depend on, without naming the machine."""
    with open("/proc/meminfo") as meminfo:
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read()).group(1))  # type: ignore[union-attr]
    load = os.getloadavg()
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release().split('-')[0]}",
        "load at start (1/5/15 min)": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
    }


def operator_imports_only_the_product() -> list[str]:
    """Modules of the development environment (FOREIGN, the simulator) that importing the
    operator's code (what `aurora-upgrade operator` hands kopf) loads: none, so RSS is the
    product's own."""
    probe = (
        "import sys, aurora_upgrade.cli, aurora_upgrade.controller; "
        f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] in {FOREIGN!r} "
        "or m.startswith('aurora_upgrade.sim')))"
    )
    found = subprocess.run([OPERATOR_PYTHON, "-c", probe], capture_output=True, text=True, check=True).stdout
    return found.split()


class Sim:
    """`aurora-upgrade sim` as a process of its own; its call record and transitions over HTTP."""

    event_queue_url: str | None

    def __init__(self, log_path: Path, args: Sequence[str]) -> None:
        command = [sys.executable, "-m", "aurora_upgrade.cli", "sim", "--port", "0", *args]
        self.log_path = log_path
        self._log = log_path.open("ab")
        # moto refuses CreateDBClusterSnapshot once it holds 1,000 cluster snapshots, counting the
        # automated one it makes for every cluster; AWS's quota counts manual snapshots only, so a
        # fleet of 500 (1,000 clusters with green) must not hit it.
        env = dict(os.environ, MOTO_RDS_SNAPSHOT_LIMIT="100000")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            found = re.search(r"AWS_ENDPOINT_URL_RDS=(\S+)", text)
            if found:
                self.endpoint_url = found.group(1)
                # With --event-queue the same first line names the queue's URL.
                queue = re.search(r"AURORA_UPGRADE_EVENT_QUEUE_URL=(\S+)", text)
                self.event_queue_url = queue.group(1) if queue else None
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the simulator did not start: {log_path.read_text(errors='replace')[-2000:]}")

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoint_url + path, timeout=120) as response:
            return json.loads(response.read())

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/_sim/calls")
        return result

    def transitions(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self._get("/_sim/transitions")
        return result

    def cpu_seconds(self) -> float:
        return proc_sample(self.process.pid).cpu_seconds

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self._log.close()


@dataclass
class ProcSample:
    at: float
    rss_mib: float
    cpu_seconds: float


def proc_sample(pid: int) -> ProcSample:
    with open(f"/proc/{pid}/status") as status:
        rss_kib = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))  # type: ignore[union-attr]
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
        fields = stat.read().rsplit(")", 1)[1].split()
    return ProcSample(time.time(), rss_kib / 1024, (int(fields[11]) + int(fields[12])) / CLK_TCK)


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU time the machine spent busy and in all, over every CPU, since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / CLK_TCK, sum(ticks) / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    """The kernel's high-water mark of the process's resident set (VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1)) / 1024  # type: ignore[union-attr]


class Operator:
    """`aurora-upgrade operator` watching one namespace, sampled from /proc every `every` s."""

    def __init__(
        self,
        kubeconfig: Path,
        endpoint_url: str,
        log_path: Path,
        poll_seconds: float,
        namespace: str,
        env: dict[str, str] | None = None,
    ) -> None:
        """`env`: settings beyond what tools' operator_env gives (which starts from this
        process's environment), e.g. the SQS event source's."""
        self.log_path = log_path
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            self.started = time.time()
            self.process = start_operator(
                kubeconfig, endpoint_url, log_path, poll_seconds, namespace=namespace, python=OPERATOR_PYTHON
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.samples: list[ProcSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.samples.append(proc_sample(self.process.pid))
            except (OSError, AttributeError):
                return

    def now(self) -> ProcSample:
        return proc_sample(self.process.pid)

    def peak_rss_mib(self) -> float:
        return peak_rss_mib(self.process.pid)

    def reconciles(self) -> int:
        """Looks at an upgrade so far: the operator's aurora_upgrade_reconciles_total."""
        found = re.search(r"Serving Prometheus metrics on (http://[\d.]+:\d+/metrics)", self.log_path.read_text())
        if found is None:
            raise RuntimeError(f"the operator logged no metrics address in {self.log_path}")
        with urllib.request.urlopen(found.group(1), timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "aurora_upgrade_reconciles":
                return int(sum(sample.value for sample in family.samples if sample.name.endswith("_total")))
        raise RuntimeError("the operator serves no aurora_upgrade_reconciles_total")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        stop_operator(self.process)


def kube(kubeconfig: Path) -> kubernetes.client.CustomObjectsApi:
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    return kubernetes.client.CustomObjectsApi(api)


def apiserver_metrics(kubeconfig: Path) -> str:
    """The API server's own /metrics (apiserver_request_total: what the operator asked of it)."""
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    response = api.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)
    return str(response[0].data.decode())


class Profiler:
    """py-spy sampling a process into a flame graph (SVG), where py-spy is installed and may
    attach (it needs ptrace); `note` says why not otherwise."""

    def __init__(self, pid: int, output: Path, log_path: Path) -> None:
        self.output = output
        self.note = ""
        self.process: subprocess.Popen[bytes] | None = None
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            self.note = "py-spy is not installed (`pip install -e '.[bench]'` installs it)"
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        # --nonblocking: the operator is never paused to be read, so it runs as it would unprofiled.
        command = [py_spy, "record", "--pid", str(pid), "--output", str(output), "--format", "flamegraph",
                   "--rate", "50", "--nonblocking"]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        """Before the operator stops: py-spy writes its file on SIGINT."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
        self._log.close()
        if not self.output.exists():
            self.note = f"py-spy wrote no profile (exit {self.process.returncode})"
        self.process = None


def create_namespace(kubeconfig: Path, name: str) -> None:
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(kubeconfig)))
    api.create_namespace({"metadata": {"name": name}})


def upgrade_manifest(name: str, namespace: str, cluster: str) -> dict[str, Any]:
    """The runbook's AuroraUpgrade (examples/aurora-bg-upgrade-15-10.yaml) for `cluster`."""
    return runbook_manifest(namespace, name, clusterIdentifier=cluster)


@dataclass
class PhaseWatch:
    """Every phase each AuroraUpgrade of a namespace shows, with the time the watch saw it."""

    kubeconfig: Path
    namespace: str
    seen: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)  # each event's status

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        api = kube(self.kubeconfig)
        version = ""
        while not self._stop.is_set():
            watch = kubernetes.watch.Watch()
            try:
                for event in watch.stream(
                    api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    resource_version=version or None,
                    timeout_seconds=5,  # short, so stop() returns soon
                ):
                    at = time.time()
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    name = obj["metadata"]["name"]
                    status = obj.get("status") or {}
                    # Until the operator's first write the API server shows the CRD's status
                    # default (Pending, observedGeneration 0): not a phase the operator reported.
                    phase = status.get("phase") if status.get("observedGeneration") else None
                    with self._lock:
                        self.objects[name] = obj
                        self.statuses.setdefault(name, []).append(obj.get("status"))
                        phases = self.seen.setdefault(name, [])
                        if phase and (not phases or phases[-1][0] != phase):
                            phases.append((phase, at))
                    if self._stop.is_set():
                        break
            except kubernetes.client.ApiException as error:
                if error.status == 410:  # too old a resourceVersion: start over from now
                    version = ""
                else:
                    raise
            finally:
                watch.stop()

    def phases(self) -> dict[str, int]:
        """How many upgrades are in each phase now."""
        with self._lock:
            return dict(Counter(phases[-1][0] for phases in self.seen.values() if phases))

    def count(self, phase: str) -> int:
        with self._lock:
            return sum(1 for phases in self.seen.values() if phases and phases[-1][0] == phase)

    def first_seen(self) -> float | None:
        with self._lock:
            times = [phases[0][1] for phases in self.seen.values() if phases]
        return min(times) if times else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
