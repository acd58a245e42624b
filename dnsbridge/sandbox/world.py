"""The sandbox: every emulator and the local DNS server, started together, seeded, wired.

`Sandbox.env()` is the environment a dnsbridge run needs to use them: endpoints, fake
credentials and the nameserver override. Tests build on the same object, so what a newcomer sees
in `dnsbridge sandbox onboard …` is what the test suite checks.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from dnsbridge.sandbox.dns import AuthoritativeServer
from dnsbridge.sandbox.tencent import DNSPOD_DEFAULT_NS, TencentEmulator
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

# Obviously fake key pairs, accepted only by the emulators.
SANDBOX_SECRET_ID = "AKIDsandbox0000000000000000000000000"  # noqa: S105 - emulator only
SANDBOX_SECRET_KEY = "sandbox-secret-key-not-a-real-one"  # noqa: S105 - accepted only by the emulator
DEMO_ZONE = "example.com"
DEMO_DOMAIN = "mail.example.com"


class Sandbox:
    def __init__(self, *, verify_delay: float = 3.0, seed: bool = True) -> None:
        self.store = ZoneStore()
        self.tencent = TencentEmulator(self.store, {SANDBOX_SECRET_ID: SANDBOX_SECRET_KEY}, verify_delay=verify_delay)
        self.dns = AuthoritativeServer(self.store)
        if seed:
            self.seed_demo_zone()

    def seed_demo_zone(self) -> None:
        """example.com on DNSPod, holding what a real zone often holds before onboarding."""
        zone = self.store.add_zone(DEMO_ZONE, "dnspod", nameservers=DNSPOD_DEFAULT_NS)
        for name, rtype, value in (
            (DEMO_ZONE, "A", "192.0.2.10"),
            (DEMO_DOMAIN, "TXT", '"google-site-verification=sandbox-demo"'),
            (DEMO_DOMAIN, "TXT", '"v=spf1 include:_spf.example.net -all"'),
            ("www." + DEMO_ZONE, "CNAME", DEMO_ZONE),
        ):
            self.store.add(zone.name, StoredRecord(id=0, name=name, type=rtype, value=value))

    def start(self) -> Self:
        self.tencent.start()
        self.dns.start()
        return self

    def stop(self) -> None:
        self.dns.stop()
        self.tencent.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        host, port = self.dns.address
        return {
            "TENCENTCLOUD_SECRET_ID": SANDBOX_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": SANDBOX_SECRET_KEY,
            "DNSBRIDGE_SES_ENDPOINT": self.tencent.ses_endpoint,
            "DNSBRIDGE_DNSPOD_ENDPOINT": self.tencent.dnspod_endpoint,
            "DNSBRIDGE_NAMESERVERS": f"{host}:{port}",
            "DNSBRIDGE_PROVIDER": "dnspod",
        }
