"""The Aurora PostgreSQL engine versions the simulator knows (moto has no DescribeDBEngineVersions).

Only aurora-postgresql 15.x and 16.x, the versions the runbook and a 15 -> 16 major upgrade
need. Upgrade targets follow AWS's rule for Aurora PostgreSQL: any later minor version of
the same major, and any 16.x released together with or after the 15.x source (AWS pairs
15.5/16.1, 15.6/16.2, 15.7/16.3, 15.8/16.4, 15.10/16.6). So 15.6 can go to 15.7, 15.8,
15.10, 16.2, 16.3, 16.4 and 16.6; 15.10 only to 16.6.

Some versions are `deprecated` (15.3, 15.4, 15.5, 16.1 here, as AWS deprecates old minors): clusters
still run them, but DescribeDBEngineVersions lists them only with `IncludeAll=true` (then
with `Status: deprecated`), and they are never offered as upgrade targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENGINE = "aurora-postgresql"
DEFAULT_VERSION = "16.6"


@dataclass(frozen=True)
class EngineVersion:
    version: str
    # The first version of the next major that may be a major-upgrade target (None: none).
    major_targets_from: str | None = None
    status: str = "available"  # or "deprecated"

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def family(self) -> str:
        return f"{ENGINE}{self.major}"

    def key(self) -> tuple[int, ...]:
        return _version_key(self.version)


CATALOG: tuple[EngineVersion, ...] = (
    EngineVersion("15.3", major_targets_from="16.1", status="deprecated"),
    EngineVersion("15.4", major_targets_from="16.1", status="deprecated"),
    EngineVersion("15.5", major_targets_from="16.1", status="deprecated"),
    EngineVersion("15.6", major_targets_from="16.2"),
    EngineVersion("15.7", major_targets_from="16.3"),
    EngineVersion("15.8", major_targets_from="16.4"),
    EngineVersion("15.10", major_targets_from="16.6"),
    EngineVersion("16.1", status="deprecated"),
    EngineVersion("16.2"),
    EngineVersion("16.3"),
    EngineVersion("16.4"),
    EngineVersion("16.6"),
)


# AWS's minimum Aurora PostgreSQL version per major for blue/green deployments ("Supported Regions
# and Aurora DB engines for Blue/Green Deployments", the same in every Region).
BLUE_GREEN_MINIMUMS = {
    "11": "11.21",
    "12": "12.16",
    "13": "13.12",
    "14": "14.9",
    "15": "15.4",
    "16": "16.1",
    "17": "17.4",
}


def blue_green_minimum(version: str) -> str:
    return BLUE_GREEN_MINIMUMS.get(version.split(".")[0], BLUE_GREEN_MINIMUMS["11"])


def supports_blue_green(version: str) -> bool:
    major = int(version.split(".")[0])
    return major > max(int(m) for m in BLUE_GREEN_MINIMUMS) or _version_key(version) >= _version_key(
        blue_green_minimum(version)
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def find(version: str) -> EngineVersion | None:
    return next((entry for entry in CATALOG if entry.version == version), None)


def family_of(version: str) -> str | None:
    """The DB parameter group family of a known version (e.g. aurora-postgresql15)."""
    entry = find(version)
    return entry.family if entry else None


def upgrade_targets(version: str) -> list[tuple[EngineVersion, bool]]:
    """Valid upgrade targets of `version`, each with IsMajorVersionUpgrade."""
    source = find(version)
    if source is None:
        return []
    targets: list[tuple[EngineVersion, bool]] = []
    for entry in CATALOG:
        if entry.status != "available":
            continue
        if entry.major == source.major and entry.key() > source.key():
            targets.append((entry, False))
        elif (
            source.major_targets_from is not None
            and int(entry.major) == int(source.major) + 1
            and entry.key() >= _version_key(source.major_targets_from)
        ):
            targets.append((entry, True))
    return targets


def is_valid_upgrade(source: str, target: str) -> bool | None:
    """True/False for a minor/major upgrade that AWS allows; None when it does not."""
    for entry, is_major in upgrade_targets(source):
        if entry.version == target:
            return is_major
    return None


def describe(
    engine: str | None = None,
    engine_version: str | None = None,
    family: str | None = None,
    default_only: bool = False,
    include_all: bool = False,
) -> list[dict[str, Any]]:
    """DescribeDBEngineVersions' DBEngineVersions list for the given request filters; without
    `include_all` (IncludeAll) only `available` versions, as AWS answers."""
    if engine not in (None, ENGINE):
        return []
    entries = [
        entry
        for entry in CATALOG
        if (engine_version is None or entry.version == engine_version)
        and (family is None or entry.family == family)
        and (include_all or entry.status == "available")
    ]
    if default_only and engine_version is None:
        entries = [entry for entry in entries if entry.version == DEFAULT_VERSION]
    return [_engine_version_shape(entry) for entry in entries]


def _description(version: str) -> str:
    return f"Aurora PostgreSQL (Compatible with PostgreSQL {version})"


def _engine_version_shape(entry: EngineVersion) -> dict[str, Any]:
    return {
        "Engine": ENGINE,
        "MajorEngineVersion": entry.major,
        "EngineVersion": entry.version,
        "DBParameterGroupFamily": entry.family,
        "DBEngineDescription": "Aurora (PostgreSQL)",
        "DBEngineVersionDescription": _description(entry.version),
        "ValidUpgradeTarget": [
            {
                "Engine": ENGINE,
                "EngineVersion": target.version,
                "Description": _description(target.version),
                "AutoUpgrade": False,
                "IsMajorVersionUpgrade": is_major,
                "SupportedEngineModes": ["provisioned"],
                "SupportsParallelQuery": False,
                "SupportsGlobalDatabases": True,
                "SupportsBabelfish": True,
            }
            for target, is_major in upgrade_targets(entry.version)
        ],
        "ExportableLogTypes": ["postgresql"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": False,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": ["Lambda", "s3Export", "s3Import"],
        "Status": entry.status,
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": True,
        "SupportsBabelfish": True,
        "SupportsLocalWriteForwarding": True,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportsIntegrations": False,
    }
