"""Fixtures the unit tests share."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from aurora_upgrade.gateway.rds import RdsGateway


@pytest.fixture
def stubbed() -> tuple[RdsGateway, Stubber]:
    """A gateway over a real botocore RDS client whose HTTP answers come from botocore's Stubber,
    which also checks each request against the RDS model (activated)."""
    client = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="ap-northeast-1"
    ).client("rds")
    stubber = Stubber(client)
    stubber.activate()
    return RdsGateway(client), stubber
