"""The questions a look asks the Region's shared describes, declared once per stage.

Each stage module has a `questions(upgrade)` function: what a look of it may ask the shared
describes (docs/events.md, "Shared reads"), as a NamedTuple of `Question`s. Each question is about
one resource, named from what the upgrade knows before it looks (status and spec); it is about
nothing (None) where the phase or the spec does not read it. The stage's `observe` asks these
questions and no others, choosing from the answers which of them to ask (the deployment's status
decides whether green is read); `engine.reads_of` turns the same questions into the `Reads` the
Region's call in the look's read cycle carries. So what a look reads and what the shared
describes are asked for come from one declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from aurora_upgrade.resources import BlueGreen, Cluster, Instance, RdsReads, Reads, Snapshot

T = TypeVar("T")


@dataclass(frozen=True)
class Question(Generic[T]):
    """One question to a shared describe about one resource of the upgrade."""

    describe: str  # the field of `Reads` (the shared describe and its filter) that carries it
    about: str | None  # the resource as the upgrade knows it before the look; None: not asked
    answer: Callable[[RdsReads, str], T]  # the gateway's method that answers it
    nothing: T  # the answer to a question about nothing

    def ask(self, aws: RdsReads, spelled: str | None = None) -> T:
        """The answer about `about`; `spelled` is the resource as an earlier answer of the look
        names it, where the call needs that form (a cluster's ARN) or the upgrade cannot know
        the name before the look (green, which the deployment names)."""
        name = spelled or self.about
        return self.answer(aws, name) if name else self.nothing

    @property
    def reads(self) -> Reads:
        """What the shared describes are asked for, for this question."""
        return Reads(**{self.describe: (self.about,)}) if self.about else Reads()


def describe_cluster(identifier: str | None) -> Question[Cluster | None]:
    return Question("clusters", identifier, lambda aws, name: aws.describe_cluster(name), None)


def describe_cluster_instances(cluster: str | None) -> Question[Sequence[Instance]]:
    return Question("instances_of", cluster, lambda aws, name: aws.describe_cluster_instances(name), ())


def find_cluster_by_resource_id(resource_id: str | None) -> Question[Cluster | None]:
    return Question("cluster_resource_ids", resource_id, lambda aws, rid: aws.find_cluster_by_resource_id(rid), None)


def find_blue_green_by_name(name: str | None) -> Question[Sequence[BlueGreen]]:
    return Question("deployment_names", name, lambda aws, n: aws.find_blue_green(name=n), ())


def find_blue_green_by_source(cluster: str | None) -> Question[Sequence[BlueGreen]]:
    """The deployments made from `cluster`, asked with its ARN (`ask(aws, cluster.arn)`): AWS's
    `source` filter takes ARNs, and the look learns it from its answer about the cluster."""
    return Question("sources", cluster, lambda aws, arn: aws.find_blue_green(source=arn), ())


def describe_blue_green(identifier: str | None) -> Question[BlueGreen | None]:
    return Question("deployments", identifier, lambda aws, ident: aws.describe_blue_green(ident), None)


def describe_cluster_snapshot(identifier: str | None) -> Question[Snapshot | None]:
    return Question("snapshots", identifier, lambda aws, ident: aws.describe_cluster_snapshot(ident), None)
