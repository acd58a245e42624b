"""Worlds for the provider contract (dnsbridge.testing): one per provider, each on real servers."""

from __future__ import annotations

from typing import Any

from dnsbridge.sandbox.tencent import DNSPOD_DEFAULT_NS
from dnsbridge.sandbox.world import Sandbox
from dnsbridge.sandbox.zones import StoredRecord
from dnsbridge.txt import quote, unquote


class StoreWorld:
    """A world whose zones live in the sandbox's ZoneStore (DNSPod emulator, memory plugin)."""

    provider = "dnspod"

    def __init__(self) -> None:
        self.box = Sandbox(verify_delay=0.3, seed=False)

    def __enter__(self) -> StoreWorld:
        self.box.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.box.stop()

    def env(self) -> dict[str, str]:
        return {**self.box.env(), "DNSBRIDGE_PROVIDER": self.provider}

    def add_zone(self, name: str) -> None:
        self.box.store.add_zone(name, self.provider, nameservers=DNSPOD_DEFAULT_NS)

    def add(self, name: str, rtype: str, value: str, priority: int | None = None) -> None:
        zone = self.box.store.zone_for(name)
        assert zone is not None
        stored = quote(value) if rtype == "TXT" else value
        self.box.store.add(zone.name, StoredRecord(0, name, rtype, stored, priority=priority))

    def values(self, name: str, rtype: str) -> list[str]:
        out = []
        for r in self.box.store.lookup(name, rtype):
            value = unquote(r.value) if rtype == "TXT" else r.value.rstrip(".")
            out.append(f"{r.priority} {value}" if rtype == "MX" else value)
        return sorted(out)

    def snapshot(self) -> Any:
        return sorted(
            (z.name, r.name, r.type, r.value, r.ttl, r.priority) for z in self.box.store for r in z.records.values()
        )

    def writes(self) -> int:
        return sum(self.box.tencent.count("dnspod", a) for a in ("CreateRecord", "ModifyRecord", "DeleteRecord"))

    def ses_calls(self, action: str | None = None) -> int:
        return self.box.tencent.count("ses", action)

    def set_verify_delay(self, seconds: float) -> None:
        self.box.tencent.verify_delay = seconds


class MemoryWorld(StoreWorld):
    """The built-in test double run as a third-party plugin: found only through its entry point."""

    provider = "memory"

    def __enter__(self) -> MemoryWorld:
        from dnsbridge.sandbox.memory import MemoryProvider

        super().__enter__()
        MemoryProvider.bind(self.box.store)
        return self

    def writes(self) -> int:
        from dnsbridge.sandbox.memory import MemoryProvider

        return MemoryProvider.writes
