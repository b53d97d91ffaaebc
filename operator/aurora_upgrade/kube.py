"""The operator's own calls to the API server, made from the reconcile threads: read one
AuroraUpgrade, and merge-patch its status subresource. kopf's watch, finalizers and Events go
through kopf's session (controller.login); both take their credentials from pykube-ng's reading of
the in-cluster service account, else the kubeconfig (KUBECONFIG, else ~/.kube/config).

pykube-ng, not the kubernetes client: importing the kubernetes client loads its generated models
(about a thousand modules, 35 MB of RSS, a third of the idle operator's), and kopf imports it
whenever it is installed. Two calls do not need it, so the operator's image does not carry it
(docs/benchmarks.md, B3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pykube
import pykube.http

TIMEOUT = 30.0  # seconds for one call; a reconcile that times out raises and is retried later


class KubeError(Exception):
    """The API server answered with an error (`status` is its HTTP status: 409 a conflict)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class CustomObjects:
    """One namespaced kind of custom object, read and status-patched over a pooled connection for
    each calling thread (`pool`): requests discards a connection when more threads call than
    its pool holds, and the next call opens a new one. `config` reads the credentials: by default
    the service account's in a pod, else the kubeconfig's current context."""

    def __init__(
        self,
        group: str,
        version: str,
        plural: str,
        pool: int,
        config: Callable[[], pykube.KubeConfig] = pykube.KubeConfig.from_env,
    ) -> None:
        self.api_version = f"{group}/{version}"
        self.plural = plural
        self.pool = pool
        self._config = config
        self._lock = threading.Lock()
        self._client = self._connect()

    def _connect(self) -> pykube.HTTPClient:
        config = self._config()
        adapter = pykube.http.KubernetesHTTPAdapter(config, pool_maxsize=self.pool)
        return pykube.HTTPClient(config, timeout=TIMEOUT, http_adapter=adapter)

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call("GET", namespace, name)

    def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the status subresource (with metadata.resourceVersion in the
        patch, the API server refuses it with 409 if the object changed since that version)."""
        return self._call(
            "PATCH", namespace, f"{name}/status", json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )

    def _call(self, method: str, namespace: str, path: str, **kwargs: Any) -> dict[str, Any]:
        client = self._client
        response = self._send(client, method, namespace, path, **kwargs)
        if response.status_code == 401:
            # A projected service-account token is replaced on disk before it expires: read the
            # credentials again (once for all the threads that saw the refusal) and retry once.
            with self._lock:
                if self._client is client:
                    self._client = self._connect()
                client = self._client
            response = self._send(client, method, namespace, path, **kwargs)
        if not response.ok:
            raise KubeError(response.status_code, _message(response))
        answer: dict[str, Any] = response.json()
        return answer

    def _send(self, client: pykube.HTTPClient, method: str, namespace: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.plural}/{path}"
        return client.request(method, version=self.api_version, namespace=namespace, url=url, **kwargs)


def read_secret(
    namespace: str, name: str, key: str, config: Callable[[], pykube.KubeConfig] = pykube.KubeConfig.from_env
) -> str:
    """One key of a Secret in the upgrade's own namespace (spec.validation.database
    .passwordSecretRef), read when a probe needs it and never kept. SecretUnavailable says which
    Secret or key and why, never a value; the chart grants `get` on Secrets only when asked."""
    import base64

    from aurora_upgrade.database import SecretUnavailable

    config_ = config()
    client = pykube.HTTPClient(config_, timeout=TIMEOUT)
    try:
        response = client.get(version="v1", namespace=namespace, url=f"secrets/{name}")
    except Exception as error:  # requests' connection errors: the API server did not answer
        raise SecretUnavailable(f"could not read Secret {namespace}/{name}: {type(error).__name__}") from None
    if response.status_code == 404:
        raise SecretUnavailable(f"Secret {namespace}/{name} (passwordSecretRef) does not exist")
    if response.status_code == 403:
        raise SecretUnavailable(
            f"the operator may not read Secret {namespace}/{name}: turn on the chart's Secret access for this namespace"
        )
    if not response.ok:
        raise SecretUnavailable(
            f"could not read Secret {namespace}/{name}: {response.status_code} {_message(response)}"
        )
    data = response.json().get("data") or {}
    if key not in data:
        raise SecretUnavailable(f"Secret {namespace}/{name} has no key {key!r} (passwordSecretRef.key)")
    try:
        return base64.b64decode(data[key]).decode()
    except ValueError:
        raise SecretUnavailable(f"key {key!r} of Secret {namespace}/{name} is not UTF-8 text") from None


def _message(response: Any) -> str:
    """The message of the API server's Status object, else the response's reason."""
    try:
        body = response.json()
    except ValueError:
        return str(response.reason)
    return str(body.get("message") or response.reason) if isinstance(body, dict) else str(response.reason)
