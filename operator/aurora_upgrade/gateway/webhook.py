"""A user's webhook check (spec.validation.checks[].webhook): one POST of a small JSON body about
the upgrade and green (never a credential); a 2xx answer within timeoutSeconds passes. The
standard library's urllib: one request needs no client library of its own."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from aurora_upgrade.database import Result


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: following it would re-send the body (or turn the
    POST into a GET) to a place the user did not name."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def shown_url(url: str) -> str:
    """The URL as messages show it: no user info and no query (either may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def call(url: str, body: Mapping[str, Any], timeout: float) -> tuple[Result, str]:
    """POST `body` to `url`: Passed on 2xx, Failed with the status otherwise, Error when no
    answer came (refused, unresolvable, timed out). `timeout` bounds connecting and each read."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "aurora-upgrade-operator"},
        method="POST",
    )
    where = shown_url(url)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return "Failed", f"webhook {where} answered HTTP {error.code}; a check passes only on 2xx"
    except TimeoutError:
        return "Error", f"webhook {where} did not answer within {timeout:g}s"
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            return "Error", f"webhook {where} did not answer within {timeout:g}s"
        return "Error", f"could not reach webhook {where}: {error.reason}"
    except OSError as error:
        return "Error", f"could not reach webhook {where}: {error}"
    if 200 <= status < 300:
        return "Passed", f"webhook {where} answered HTTP {status}"
    return "Failed", f"webhook {where} answered HTTP {status}; a check passes only on 2xx"
