"""First come, first served for GPU quota: tickets of the training runs waiting for it.

A run that finds no free quota writes a ticket, an S3 object under the queue prefix named by its
arrival time, listing the capacities (instance type and market) it waits for and the instances a
job takes; it refreshes the ticket at every check. A run may take free quota only beyond what the
older live tickets wanting that capacity need, so waiting runs get quota in arrival order. A ticket
not refreshed for a while (its execution was stopped) or past its run's deadline is dead: it is
ignored and deleted by whoever reads it. A run removes its own ticket when it starts a job or gives
up, and keeps its arrival time, so a start that fails (quota taken after all) queues again in its
old place.

The queue belongs to the account's quota, not to one state machine: every state machine that shares
the quota must be given the same bucket and prefix (QUEUE_BUCKET, QUEUE_PREFIX).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from .clients import Client
from .quotas import Capacity

logger = logging.getLogger(__name__)

__all__ = [
    "OBJECT_ACTIONS",
    "Ticket",
    "TicketQueue",
    "format_time",
    "parse_time",
    "reserved_instances",
    "runs_ahead",
    "ticket_key",
]

# Bucket permissions the queue's users need on the queue prefix (s3:ListBucket besides, limited
# to the prefix): the stack grants exactly these.
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_time(text: str) -> datetime:
    """`2026-11-21T12:00:00Z` or with microseconds, as UTC."""
    for pattern in (_TIME, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"not a UTC timestamp: {text!r}")


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME)


def ticket_key(prefix: str, arrival: datetime, run_id: str) -> str:
    """Keys sort in arrival order (the run id breaks ties)."""
    return f"{prefix}{arrival.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{run_id}.json"


@dataclass(frozen=True)
class Ticket:
    key: str
    run_id: str
    expires: datetime
    wants: tuple[Capacity, ...]
    instance_count: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "runId": self.run_id,
                "expires": format_time(self.expires),
                "wants": [{"instanceType": c.instance_type, "spot": c.spot} for c in self.wants],
                "instanceCount": self.instance_count,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, key: str, text: bytes) -> Ticket:
        body = json.loads(text)
        return cls(
            key=key,
            run_id=str(body["runId"]),
            expires=parse_time(body["expires"]),
            wants=tuple(Capacity(w["instanceType"], bool(w["spot"])) for w in body["wants"]),
            instance_count=int(body["instanceCount"]),
        )


class TicketQueue:
    def __init__(self, s3: Client, bucket: str, prefix: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def live_tickets(self, now: datetime) -> list[Ticket]:
        """Every live ticket, oldest first; dead ones are deleted on the way."""
        tickets = []
        for key in self._keys():
            ticket = self._read(key)
            if ticket is None:
                continue
            if ticket.expires <= now:
                logger.info("Removing the expired queue ticket %s", key)
                self.remove(key)
                continue
            tickets.append(ticket)
        return tickets

    def put(self, ticket: Ticket) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=ticket.key,
            Body=ticket.to_json().encode(),
            ContentType="application/json",
        )

    def remove(self, key: str) -> None:
        # Deleting a key that is gone already succeeds: removal is idempotent.
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def _keys(self) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        keys = [
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)
            for item in page.get("Contents", [])
            if item["Key"].endswith(".json")
        ]
        return sorted(keys)

    def _read(self, key: str) -> Ticket | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None  # removed between the listing and the read
            raise
        try:
            return Ticket.from_json(key, body)
        except (ValueError, KeyError, TypeError) as error:
            # Not ours to judge: skip it rather than stop every run of the account.
            logger.warning("Ignoring the unreadable queue ticket %s: %s", key, error)
            return None


def reserved_instances(tickets: Iterable[Ticket], capacity: Capacity, own_key: str | None) -> int:
    """Instances of `capacity` that the tickets older than `own_key` wait for (all tickets when
    the run has none yet: every waiting run arrived before it)."""
    return sum(
        ticket.instance_count
        for ticket in tickets
        if (own_key is None or ticket.key < own_key)
        and ticket.key != own_key
        and capacity in ticket.wants
    )


def runs_ahead(tickets: Sequence[Ticket], wants: Sequence[Capacity], own_key: str | None) -> int:
    """Older live tickets that wait for any capacity this run could take."""
    return sum(
        1
        for ticket in tickets
        if (own_key is None or ticket.key < own_key) and set(ticket.wants) & set(wants)
    )
