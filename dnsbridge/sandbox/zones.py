"""The DNS data every emulator shares.

One store holds every emulated zone, whichever provider's API "hosts" it, so the local
authoritative DNS server and the SES emulator's verification both see exactly what the DNS
provider emulators wrote. Values are kept in zone-file presentation form (TXT as quoted
character-strings), which is what an authoritative server would serve.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

Clock = Callable[[], float]


@dataclass(frozen=True)
class StoredRecord:
    """One resource record as an authoritative server holds it.

    `name` is absolute, lower case, without the trailing dot. `value` is presentation form
    without the owner: for TXT one or more quoted character-strings (`"v=spf1 ..." "more"`),
    for MX/CNAME the target host without trailing dot (the priority is separate), for A the
    address.
    """

    id: int
    name: str
    type: str
    value: str
    ttl: int = 600
    priority: int | None = None
    line: str = "默认"
    updated_at: float = 0.0


@dataclass
class StoredZone:
    name: str
    id: str
    provider: str
    account: str = "default"
    nameservers: tuple[str, ...] = ()
    records: dict[int, StoredRecord] = field(default_factory=dict)


class ZoneStore:
    """Thread-safe zones; every emulator thread and the DNS server read and write through it."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._lock = threading.RLock()
        self._zones: dict[str, StoredZone] = {}
        self._ids = itertools.count(1000)
        self.clock: Clock = clock or time.time

    # zones -------------------------------------------------------------------------------
    def add_zone(
        self,
        name: str,
        provider: str,
        *,
        account: str = "default",
        nameservers: tuple[str, ...] = (),
        zone_id: str | None = None,
    ) -> StoredZone:
        with self._lock:
            zone = StoredZone(
                name=name.lower().rstrip("."),
                id=zone_id or str(next(self._ids)),
                provider=provider,
                account=account,
                nameservers=nameservers,
            )
            self._zones[zone.name] = zone
            return zone

    def zones(self, provider: str | None = None, account: str | None = None) -> list[StoredZone]:
        with self._lock:
            return [
                z
                for z in self._zones.values()
                if (provider is None or z.provider == provider) and (account is None or z.account == account)
            ]

    def zone(self, name: str) -> StoredZone | None:
        with self._lock:
            return self._zones.get(name.lower().rstrip("."))

    def zone_by_id(self, zone_id: str) -> StoredZone | None:
        with self._lock:
            return next((z for z in self._zones.values() if z.id == zone_id), None)

    def zone_for(self, name: str) -> StoredZone | None:
        """The zone that is authoritative for `name`: the longest zone name that is a suffix."""
        labels = name.lower().rstrip(".").split(".")
        with self._lock:
            for i in range(len(labels)):
                zone = self._zones.get(".".join(labels[i:]))
                if zone is not None:
                    return zone
        return None

    # records -----------------------------------------------------------------------------
    def records(self, zone_name: str, name: str | None = None, rtype: str | None = None) -> list[StoredRecord]:
        with self._lock:
            zone = self._zones[zone_name]
            return sorted(
                (
                    r
                    for r in zone.records.values()
                    if (name is None or r.name == name.lower().rstrip(".")) and (rtype is None or r.type == rtype)
                ),
                key=lambda r: r.id,
            )

    def lookup(self, name: str, rtype: str | None = None) -> list[StoredRecord]:
        """Every record at `name` in whichever zone holds it (what DNS would answer)."""
        zone = self.zone_for(name)
        if zone is None:
            return []
        return self.records(zone.name, name, rtype)

    def add(self, zone_name: str, record: StoredRecord) -> StoredRecord:
        with self._lock:
            stored = replace(record, id=next(self._ids), name=record.name.lower().rstrip("."), updated_at=self.clock())
            self._zones[zone_name].records[stored.id] = stored
            return stored

    def modify(self, zone_name: str, record: StoredRecord) -> StoredRecord:
        with self._lock:
            zone = self._zones[zone_name]
            if record.id not in zone.records:
                raise KeyError(record.id)
            stored = replace(record, name=record.name.lower().rstrip("."), updated_at=self.clock())
            zone.records[record.id] = stored
            return stored

    def delete(self, zone_name: str, record_id: int) -> None:
        with self._lock:
            del self._zones[zone_name].records[record_id]

    def __iter__(self) -> Iterator[StoredZone]:
        with self._lock:
            return iter(list(self._zones.values()))
