"""What every area of the simulated backend shares: the clock, the delays, events, existence."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.rds import urls as moto_rds_urls
from moto.rds.models import DBCluster, DBInstance, DBInstanceClustered, Event, RDSBackend, RDSBaseModel

from ..config import Happening, SimConfig
from .simulation import Timeline, active


class SimEvent(Event):
    """An RDS event the simulator emits itself (moto's Event only knows a fixed table)."""

    def __init__(
        self,
        source_identifier: str,
        source_type: str,
        source_arn: str,
        message: str,
        categories: list[str],
        date: datetime,
    ) -> None:
        self.source_identifier = source_identifier
        self.source_type = source_type
        self.source_arn = source_arn
        self.message = message
        self.event_categories = categories
        self.date = date


class SimBackendBase(RDSBackend):
    """moto's RDS backend with the simulator's timeline, and DescribeEvents as AWS filters it."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.timeline = Timeline(self)
        self._events_fated = 0  # how many of self.events have had their fate drawn
        # (dropped, seconds late) by id() of the event: moto never removes an event.
        self._event_fates: dict[int, tuple[bool, float]] = {}
        # A cluster's instances by cluster identifier while a read is answered (see reading()).
        self.members_index: dict[str, list[DBInstanceClustered]] | None = None

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Answer a read with each cluster's members grouped once.

        moto finds a cluster's instances by scanning every instance of the Region, several
        times per cluster it serializes, so a DescribeDBClusters of a fleet costs N^2. A read
        changes no membership, so one grouping serves the whole answer.
        """
        self.members_index = self.group_members()
        try:
            yield
        finally:
            self.members_index = None

    def group_members(self) -> dict[str, list[DBInstanceClustered]]:
        """The Region's Aurora instances by (lower-case) cluster identifier, in one pass."""
        index: dict[str, list[DBInstanceClustered]] = {}
        for instance in self.databases.values():
            if isinstance(instance, DBInstanceClustered) and instance.db_cluster_identifier:
                index.setdefault(instance.db_cluster_identifier.lower(), []).append(instance)
        return index

    @property
    def _url_module(self) -> Any:
        # moto looks for the URL table next to the backend class's module; it is moto's own.
        return moto_rds_urls

    @property
    def config(self) -> SimConfig:
        return active().config

    def holds(self, resource: RDSBaseModel) -> bool:
        """Whether `resource` still exists here (under whatever name it has now)."""
        if isinstance(resource, DBCluster):
            return self.clusters.get(resource.db_cluster_identifier) is resource
        if isinstance(resource, DBInstance):
            return self.databases.get(resource.db_instance_identifier) is resource
        return False

    def add_sim_event(
        self, resource_id: str, source_type: str, arn: str, message: str, categories: list[str], at: datetime
    ) -> None:
        self.events.append(SimEvent(resource_id, source_type, arn, message, categories, at))

    def describe_events(
        self,
        source_identifier: str | None = None,
        source_type: str | None = None,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        duration: int | None = None,
        event_categories: list[str] | None = None,
        **_: Any,
    ) -> list[Event]:
        self.fate_new_events()
        aws_now = active().aws.now()
        events = [
            event
            for event in super().describe_events(source_identifier=source_identifier, source_type=source_type)
            if self._listed(event, aws_now)
        ]
        now = aws_now
        start = _parse_time(start_time)
        end = _parse_time(end_time)
        if start is not None and end is None and duration is not None:
            end = start + timedelta(minutes=int(duration))
        if start is None:
            start = (end or now) - timedelta(minutes=int(duration) if duration is not None else 60)
        end = end or now
        selected = [
            event
            for event in events
            if start <= _as_utc(event.date) <= end
            and (not event_categories or set(event.event_categories) & set(event_categories))
        ]
        return sorted(selected, key=lambda event: _as_utc(event.date))

    def fate_new_events(self) -> None:
        """Put the events recorded since the last read on AWS's clock and draw their fate
        (FaultConfig's event_drops and late_events), in the order they were recorded."""
        aws = active().aws
        for event in self.events[self._events_fated :]:
            if aws.offset:
                event.date += aws.offset
            self._event_fates[id(event)] = aws.event_fate(event.source_type, list(event.event_categories))
        self._events_fated = len(self.events)

    def fate_of(self, event: Event) -> tuple[bool, float]:
        """(dropped, seconds late) of an event whose fate has been drawn (fate_new_events)."""
        return self._event_fates.get(id(event), (False, 0.0))

    def _listed(self, event: Event, aws_now: datetime) -> bool:
        """Whether DescribeEvents lists `event` now: not dropped, and not still to come late."""
        dropped, late = self.fate_of(event)
        return not dropped and (not late or aws_now >= _as_utc(event.date) + timedelta(seconds=late))

    def schedule_happening(self, happening: Happening, since: float | None = None) -> None:
        """Make `happening` happen `happening.delay` seconds after `since` (a time.monotonic() of
        its moment; default now), see happen()."""
        label = f"{happening.kind} at {happening.moment}#{happening.nth}"
        self.timeline.after(happening.delay, label, lambda at: self.happen(happening, at), since=since)

    def happen(self, happening: Happening, at: datetime) -> None:
        """What someone else does; the areas that know how override this."""
        raise NotImplementedError(happening.kind)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
