"""MemoryProvider: a DNS provider adapter with no API at all, writing straight into a ZoneStore.

It is the built-in test double (as httpx ships MockTransport): planner and flow tests use it
without a network, and the contract suite runs it as a third-party plugin would be run, to
prove the suite needs nothing provider-specific. Bind it to a store with `MemoryProvider.bind`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from dnsbridge import names
from dnsbridge.plan import Action, Plan
from dnsbridge.provider import Provider, ProviderSettings, Zone, longest_suffix, zone_not_found
from dnsbridge.records import Record
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore
from dnsbridge.txt import quote, unquote


class MemoryProvider(Provider):
    name = "memory"
    store: ClassVar[ZoneStore | None] = None
    writes: ClassVar[int] = 0

    @classmethod
    def bind(cls, store: ZoneStore) -> None:
        cls.store, cls.writes = store, 0

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        if type(self).store is None:
            raise RuntimeError("MemoryProvider.bind(store) first")
        self._store: ZoneStore = type(self).store  # type: ignore[assignment]

    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        zones = {z.name: z for z in self._store.zones(self.name)}
        match = zone if zone in zones else longest_suffix(domain, zones) if zone is None else None
        if match is None:
            raise zone_not_found(domain, self.name, len(zones))
        return Zone(match, zones[match].id, zones[match].nameservers)

    def read(self, zone: Zone, names_: Sequence[str]) -> list[Record]:
        return [
            Record(
                r.name,
                r.type,
                unquote(r.value) if r.type == "TXT" else r.value,
                priority=r.priority,
                ttl=r.ttl,
                ref=str(r.id),
            )
            for name in names_
            for r in self._store.records(zone.name, names.normalise(name))
        ]

    def apply(self, zone: Zone, plan: Plan) -> None:
        for change in plan.writes:
            r = change.record
            stored = StoredRecord(
                id=int(r.ref) if r.ref else 0,
                name=r.name,
                type=r.type,
                value=quote(r.value) if r.type == "TXT" else r.value,
                ttl=r.ttl or self.settings.ttl or 300,
                priority=r.priority,
            )
            if change.action is Action.CREATE:
                self._store.add(zone.name, stored)
            else:
                self._store.modify(zone.name, stored)
            type(self).writes += 1
