"""kube.read_secret against a real kube-apiserver: the password of passwordSecretRef is read from
the upgrade's own namespace, and a missing Secret or key is a SecretUnavailable that names it
and holds no value."""

from __future__ import annotations

import subprocess

import pykube
import pytest

from aurora_upgrade.database import SecretUnavailable
from aurora_upgrade.kube import read_secret
from aurora_upgrade_dev.controlplane import ControlPlane

PASSWORD = "s3cret-from-the-secret"


def test_a_password_secret_is_read_and_what_is_missing_is_named(control_plane: ControlPlane) -> None:
    def kubectl(*args: str) -> None:
        command = [str(control_plane.kubectl), "--kubeconfig", str(control_plane.kubeconfig), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    kubectl("create", "namespace", "databases")
    kubectl(
        "-n", "databases", "create", "secret", "generic", "aurora-upgrade-db", f"--from-literal=password={PASSWORD}"
    )

    def config() -> pykube.KubeConfig:
        return pykube.KubeConfig.from_file(str(control_plane.kubeconfig))

    assert read_secret("databases", "aurora-upgrade-db", "password", config) == PASSWORD
    with pytest.raises(SecretUnavailable, match="has no key 'pw'") as no_key:
        read_secret("databases", "aurora-upgrade-db", "pw", config)
    with pytest.raises(SecretUnavailable, match=r"Secret default/aurora-upgrade-db .* does not exist") as elsewhere:
        read_secret("default", "aurora-upgrade-db", "password", config)
    assert PASSWORD not in str(no_key.value) + str(elsewhere.value)
