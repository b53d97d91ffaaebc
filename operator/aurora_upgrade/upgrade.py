"""One AuroraUpgrade as the engine sees it: its identity, the names it gives what it creates
in AWS, and the tags that mark those resources as its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aurora_upgrade.models import AuroraUpgradeSpec, AuroraUpgradeStatus

UID_TAG = "dbupgrade.dev/uid"  # the AuroraUpgrade's uid: what makes a deployment or snapshot ours
NAME_TAG = "dbupgrade.dev/name"  # namespace/name, for people looking at the console


@dataclass(frozen=True)
class Upgrade:
    """Identity, desired spec, status. `stored` is what the store holds when `status` has
    changes not written yet (a call's result, progress: folded into the next write,
    docs/events.md); None when `status` is what it holds."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: AuroraUpgradeSpec
    status: AuroraUpgradeStatus
    stored: AuroraUpgradeStatus | None = field(default=None, compare=False, repr=False)

    @property
    def cluster(self) -> str:
        """The blue cluster's identifier as AWS stores it: lower-case (AWS matches cluster,
        instance and snapshot identifiers case-insensitively), so comparisons with AWS's
        answers hold however the manifest spells it."""
        return self.spec.cluster_identifier.lower()

    @property
    def deployment_name(self) -> str:
        return self.spec.blue_green_deployment_name or deployment_name_for(self.name)

    @property
    def snapshot_identifier(self) -> str:
        return f"{self.cluster}-before-switchover-{self.uid[:8]}"

    @property
    def tags(self) -> dict[str, str]:
        return {UID_TAG: self.uid, NAME_TAG: f"{self.namespace}/{self.name}"}

    def owns(self, tags: Mapping[str, str]) -> bool:
        return tags.get(UID_TAG) == self.uid

    @property
    def held(self) -> AuroraUpgradeStatus:
        """The status its store holds."""
        return self.status if self.stored is None else self.stored

    def with_status(self, status: AuroraUpgradeStatus) -> Upgrade:
        """`status` not written yet (what the store holds stays as it was)."""
        stored = None if status == self.held else self.held
        return Upgrade(self.name, self.namespace, self.uid, self.generation, self.spec, status, stored)

    def written(self, status: AuroraUpgradeStatus) -> Upgrade:
        """`status`, as its store now holds it."""
        return Upgrade(self.name, self.namespace, self.uid, self.generation, self.spec, status)


def deployment_name_for(resource_name: str) -> str:
    """A valid blue/green deployment name from a Kubernetes name (DNS-1123, maybe with dots)."""
    parts = [p for p in resource_name.replace(".", "-").split("-") if p]
    name = "-".join(parts)
    if not name or not name[0].isalpha():
        name = f"aup-{name}".rstrip("-")
    return name[:60].rstrip("-")
