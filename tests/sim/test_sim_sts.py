"""The simulator's STS, run as `aurora-upgrade sim` in its own process: roles it is told not to
trust, or to trust only with an ExternalId, are refused as AWS refuses them (HTTP 403,
AccessDenied), and every AssumeRole is in the call record with the access key that signed it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from aurora_upgrade.sim.scenarios import RUNBOOK_ACCOUNT_ID, RUNBOOK_REGION

UNTRUSTED = f"arn:aws:iam::{RUNBOOK_ACCOUNT_ID}:role/untrusted"
WANTS_ID = f"arn:aws:iam::{RUNBOOK_ACCOUNT_ID}:role/wants-an-external-id"
OPEN = f"arn:aws:iam::{RUNBOOK_ACCOUNT_ID}:role/anyone"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    command = [sys.executable, "-m", "aurora_upgrade.cli", "sim", "--port", "0"]
    command += ["--refuse-assume-role", UNTRUSTED, "--require-external-id", f"{WANTS_ID}=ext-42"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as sim:
        assert sim.stdout is not None
        found = re.search(r"AWS_ENDPOINT_URL_RDS=(\S+)", sim.stdout.readline())
        assert found, "the simulator did not name its endpoint"
        try:
            yield found.group(1)
        finally:
            sim.terminate()
            assert sim.wait(timeout=20) == 0


def sts(endpoint: str) -> Any:
    return boto3.client(
        "sts",
        region_name=RUNBOOK_REGION,
        endpoint_url=endpoint,
        aws_access_key_id="operator-key",
        aws_secret_access_key="testing",
    )


def calls(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/_sim/calls", timeout=10) as answer:
        result: list[dict[str, Any]] = json.load(answer)
    return result


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        pytest.param(UNTRUSTED, {"ExternalId": "ext-42"}, id="refused-role"),
        pytest.param(WANTS_ID, {}, id="external-id-missing"),
        pytest.param(WANTS_ID, {"ExternalId": "ext-41"}, id="external-id-wrong"),
    ],
)
def test_refused_assume_role_is_access_denied(endpoint: str, role: str, extra: dict[str, str]) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        sts(endpoint).assume_role(RoleArn=role, RoleSessionName="a-test", **extra)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Message"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {role}")
    last = calls(endpoint)[-1]
    assert (last["operation"], last["params"]["RoleArn"], last["outcome"]) == ("AssumeRole", role, "AccessDenied")


@pytest.mark.parametrize(
    ("role", "extra"),
    [pytest.param(WANTS_ID, {"ExternalId": "ext-42"}, id="right-external-id"), pytest.param(OPEN, {}, id="open")],
)
def test_trusted_assume_role_is_recorded_with_the_signing_key(endpoint: str, role: str, extra: dict[str, str]) -> None:
    credentials = sts(endpoint).assume_role(RoleArn=role, RoleSessionName="a-test", **extra)["Credentials"]
    last = calls(endpoint)[-1]
    assert (last["operation"], last["outcome"], last["access_key_id"]) == ("AssumeRole", "ok", "operator-key")
    assert last["params"] == {"RoleArn": role, "RoleSessionName": "a-test", **extra}
    assert credentials["SecretAccessKey"] not in json.dumps(calls(endpoint)), "the record never holds a secret"


def test_a_malformed_external_id_option_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aurora_upgrade.cli", "sim", "--require-external-id", WANTS_ID],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--require-external-id wants ROLE_ARN=EXTERNAL_ID" in result.stderr
