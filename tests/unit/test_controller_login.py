"""The API session the operator hands kopf (controller.login): kopf's own credentials from
pykube-ng's configuration, over a bounded connection pool. kopf's built-in session has no
limit, so an operator started beside hundreds of upgrades it had not seen opened one TLS connection
per upgrade at once (docs/benchmarks.md, B3). No API server is needed to build the session."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import kopf
import pytest
import yaml

from aurora_upgrade import controller


def use_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}
                ],
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}}],
                "current-context": "x",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_kopfs_api_session_has_a_bounded_connection_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_kubeconfig(tmp_path, monkeypatch)

    async def login() -> tuple[str, int, str]:
        context = await controller.login(logger=logging.getLogger("test"), settings=kopf.OperatorSettings())
        assert isinstance(context, kopf.AiohttpSession)
        try:
            session = context.aiohttp_session
            return context.server, session.connector.limit, session.headers["Authorization"]
        finally:
            await context.aiohttp_session.close()

    assert asyncio.run(login()) == ("https://127.0.0.1:6443", controller.KUBE_CONNECTIONS, "Bearer t0ken")


def test_every_reconcile_thread_has_a_pooled_connection_to_kubernetes_and_to_rds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib3 discards a connection when more threads call than its pool holds ("Connection pool
    is full"), and the next call opens a new one (a TLS handshake with RDS): the pools of the
    reconciles' API client (kube.py) and of both RDS clients hold one for each reconcile thread
    and the feed."""
    from aurora_upgrade.gateway.clients import default_client_factory

    use_kubeconfig(tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    api = controller.custom_api()
    reads, writes = default_client_factory("ap-northeast-1", None, None)

    adapter = api._client.session.get_adapter("https://127.0.0.1:6443")
    assert adapter.poolmanager.connection_pool_kw["maxsize"] >= controller.RECONCILE_THREADS
    for client in (reads, writes):
        assert client.meta.config.max_pool_connections > controller.RECONCILE_THREADS
