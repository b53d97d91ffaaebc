"""kube.CustomObjects, the reconciles' reads and status writes. The real API server serves them in
the integration and e2e tiers (every status the operator writes goes through here); what it
cannot be made to do on cue is refuse a token that was rotated, so this file stands a loopback
HTTP server in its place that answers as the API server does (a Status object with its code)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pykube
import pytest

from aurora_upgrade.kube import CustomObjects, KubeError


class FakeApiServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.valid_token = "t1"
        self.requests: list[dict[str, Any]] = []
        self.conflict = False


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "token": self.headers.get("Authorization"),
                "type": self.headers.get("Content-Type"),
                "body": body,
            }
        )
        if self.headers.get("Authorization") != f"Bearer {self.server.valid_token}":
            self._answer(401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
        elif self.command == "PATCH" and self.server.conflict:
            message = "the object has been modified; please apply your changes to the latest version and try again"
            self._answer(409, {"kind": "Status", "code": 409, "reason": "Conflict", "message": message})
        else:
            self._answer(200, {"metadata": {"name": "orders", "resourceVersion": "8"}, "status": body or {}})

    do_GET = do_PATCH = _handle


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    httpd = FakeApiServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def config_source(server: FakeApiServer, tokens: list[str]) -> Any:
    """Credentials read anew on every call, as from a token file the kubelet replaces."""

    def read() -> pykube.KubeConfig:
        return pykube.KubeConfig(
            {
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "u", "user": {"token": tokens[0]}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )

    return read


def test_reads_one_object_and_merge_patches_its_status_subresource(server: FakeApiServer) -> None:
    objects = CustomObjects("dbupgrade.dev", "v1alpha1", "auroraupgrades", pool=4, config=config_source(server, ["t1"]))

    objects.get("team-a", "orders")
    saved = objects.patch_status("team-a", "orders", {"status": {"phase": "Prechecking"}})

    assert [(r["method"], r["path"]) for r in server.requests] == [
        ("GET", "/apis/dbupgrade.dev/v1alpha1/namespaces/team-a/auroraupgrades/orders"),
        ("PATCH", "/apis/dbupgrade.dev/v1alpha1/namespaces/team-a/auroraupgrades/orders/status"),
    ]
    assert server.requests[1]["type"] == "application/merge-patch+json"
    assert server.requests[1]["body"] == {"status": {"phase": "Prechecking"}}
    assert saved["metadata"]["resourceVersion"] == "8"


def test_a_refused_token_is_read_again_and_the_call_retried_once(server: FakeApiServer) -> None:
    tokens = ["t1"]
    objects = CustomObjects("dbupgrade.dev", "v1alpha1", "auroraupgrades", pool=4, config=config_source(server, tokens))
    objects.get("team-a", "orders")

    # The kubelet replaced the token file; the API server no longer takes the old token.
    tokens[0] = server.valid_token = "t2"
    objects.get("team-a", "orders")

    assert [r["token"] for r in server.requests] == ["Bearer t1", "Bearer t1", "Bearer t2"]

    # Refused with the new credentials too: an error, after one retry, not a loop.
    server.valid_token = "t3"
    with pytest.raises(KubeError) as refused:
        objects.get("team-a", "orders")
    assert refused.value.status == 401
    assert len(server.requests) == 5


def test_a_conflict_is_an_error_with_the_api_servers_status_and_message(server: FakeApiServer) -> None:
    objects = CustomObjects("dbupgrade.dev", "v1alpha1", "auroraupgrades", pool=4, config=config_source(server, ["t1"]))
    server.conflict = True

    with pytest.raises(KubeError) as conflict:
        objects.patch_status("team-a", "orders", {"metadata": {"resourceVersion": "7"}, "status": {}})

    assert conflict.value.status == 409
    assert "the object has been modified" in str(conflict.value)
    assert len(server.requests) == 1  # a conflict is not retried here: the caller reads again and decides again
