"""A user's webhook check (spec.validation.checks[].webhook): one POST of a small JSON body about
the upgrade and green (never a credential); a 2xx answer within timeoutSeconds passes. The
standard library's urllib: one request needs no client library of its own."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from aurora_upgrade.database import Result


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: following it would re-send the body (or turn the
    POST into a GET) to a place the user did not name."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Deadline:
    """The call's overall deadline. A socket timeout bounds each read only, so a server sending a
    byte at a time would hold the thread for ever; at the deadline the connection's socket is shut
    down, which ends a read blocked on it."""

    def __init__(self) -> None:
        self.passed = False
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []

    def connection(self, kind: type[http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
        def made(host: str, **options: Any) -> http.client.HTTPConnection:
            with self._lock:
                if self.passed:
                    raise TimeoutError("the deadline passed")
                connection = kind(host, **options)
                self._connections.append(connection)
                return connection

        return made

    def expire(self) -> None:
        with self._lock:
            self.passed = True
            for connection in self._connections:
                if connection.sock is not None:
                    # The plain socket's shutdown (also under TLS): it wakes the reading thread.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(deadline.connection(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(
                deadline.connection(http.client.HTTPSConnection), req, context=ssl.create_default_context()
            )

    return urllib.request.build_opener(_NoRedirects(), Http(), Https())


def shown_url(url: str) -> str:
    """The URL as messages show it: no user info and no query (either may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def call(url: str, body: Mapping[str, Any], timeout: float) -> tuple[Result, str]:
    """POST `body` to `url`: Passed on 2xx, Failed with the status otherwise, Error when no
    answer came (refused, unresolvable, timed out). `timeout` bounds the whole call."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "aurora-upgrade-operator"},
        method="POST",
    )
    where = shown_url(url)
    deadline = _Deadline()
    timer = threading.Timer(timeout, deadline.expire)
    timer.daemon = True
    timer.start()
    try:
        with _opener(deadline).open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        if deadline.passed:
            return "Error", f"webhook {where} did not answer within {timeout:g}s"
        return "Failed", f"webhook {where} answered HTTP {error.code}; a check passes only on 2xx"
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        if deadline.passed:
            return "Error", f"webhook {where} did not answer within {timeout:g}s"
        return _no_answer(where, timeout, error)
    finally:
        timer.cancel()
    if deadline.passed:
        return "Error", f"webhook {where} did not answer within {timeout:g}s"
    if 200 <= status < 300:
        return "Passed", f"webhook {where} answered HTTP {status}"
    return "Failed", f"webhook {where} answered HTTP {status}; a check passes only on 2xx"


def _no_answer(where: str, timeout: float, error: Exception) -> tuple[Result, str]:
    """Error: no answer came (refused, unresolvable, timed out, cut off)."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return "Error", f"webhook {where} did not answer within {timeout:g}s"
    return "Error", f"could not reach webhook {where}: {reason}"
