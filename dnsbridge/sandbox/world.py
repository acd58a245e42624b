"""The sandbox: every emulator and the local DNS server, started together, seeded, wired.

`Sandbox.env()` is the environment a dnsbridge run needs to use them: endpoints, fake
credentials and the nameserver override. Tests build on the same object, so what a newcomer sees
in `dnsbridge sandbox onboard …` is what the test suite checks.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from dnsbridge.sandbox.cloudflare import DEFAULT_NAMESERVERS as CLOUDFLARE_NS
from dnsbridge.sandbox.cloudflare import DNS_EDIT, ZONE_READ, CloudflareEmulator, TokenSpec
from dnsbridge.sandbox.dns import AuthoritativeServer
from dnsbridge.sandbox.tencent import DNSPOD_DEFAULT_NS, TencentEmulator
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

if TYPE_CHECKING:
    from dnsbridge.sandbox.route53 import Route53Mirror

# Obviously fake credentials, accepted only by the emulators.
SANDBOX_SECRET_ID = "AKIDsandbox0000000000000000000000000"  # noqa: S105 - emulator only
SANDBOX_SECRET_KEY = "sandbox-secret-key-not-a-real-one"  # noqa: S105 - emulator only
SANDBOX_CLOUDFLARE_TOKEN = "sandbox-cloudflare-token"  # noqa: S105 - emulator only
SANDBOX_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIASANDBOX000000000",
    "AWS_SECRET_ACCESS_KEY": "sandbox-aws-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
DEMO_ZONE = "example.com"
DEMO_DOMAIN = "mail.example.com"
# What a real zone often holds before onboarding: a site, a site verification, an SPF record of
# another sender at the mail domain (so the demo shows the SPF merge).
DEMO_RECORDS = (
    (DEMO_ZONE, "A", "192.0.2.10"),
    (DEMO_DOMAIN, "TXT", "google-site-verification=sandbox-demo"),
    (DEMO_DOMAIN, "TXT", "v=spf1 include:_spf.example.net -all"),
    ("www." + DEMO_ZONE, "CNAME", DEMO_ZONE),
)
PROVIDERS = ("dnspod", "cloudflare", "route53")


class Sandbox:
    """SES, a DNS provider's API and authoritative DNS, all on 127.0.0.1.

    `provider` chooses which API hosts the demo zone; Route 53 needs moto (`pip install
    'dnsbridge[sandbox]'`), the others nothing beyond dnsbridge.
    """

    def __init__(self, *, verify_delay: float = 3.0, seed: bool = True, provider: str = "dnspod") -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"the sandbox emulates {', '.join(PROVIDERS)}, not {provider!r}")
        self.provider = provider
        self.store = ZoneStore()
        self.tencent = TencentEmulator(self.store, {SANDBOX_SECRET_ID: SANDBOX_SECRET_KEY}, verify_delay=verify_delay)
        self.dns = AuthoritativeServer(self.store)
        self.cloudflare: CloudflareEmulator | None = None
        self.route53: Route53Mirror | None = None
        if provider == "cloudflare":
            spec = TokenSpec(permissions=frozenset({ZONE_READ, DNS_EDIT}))
            self.cloudflare = CloudflareEmulator(self.store, {SANDBOX_CLOUDFLARE_TOKEN: spec})
        self._seed = seed

    def add_zone(self, name: str) -> None:
        """An empty zone (only Route 53's NS and SOA) behind the sandbox's provider API."""
        if self.provider == "route53":
            self._route53_client().create_hosted_zone(Name=name, CallerReference=f"sandbox-{name}")
            self._mirror().sync()
        elif self.cloudflare is not None:
            self.cloudflare.add_zone(name, nameservers=CLOUDFLARE_NS)
        else:
            self.store.add_zone(name, "dnspod", nameservers=DNSPOD_DEFAULT_NS)

    def seed_demo_zone(self) -> None:
        if self.provider == "route53":
            self._seed_route53()
            return
        self.add_zone(DEMO_ZONE)
        zone = self.store.zone(DEMO_ZONE)
        assert zone is not None
        for name, rtype, value in DEMO_RECORDS:
            stored = f'"{value}"' if rtype == "TXT" else value
            self.store.add(zone.name, StoredRecord(id=0, name=name, type=rtype, value=stored))

    def _mirror(self) -> Route53Mirror:
        from dnsbridge.sandbox.route53 import Route53Mirror

        assert isinstance(self.route53, Route53Mirror)
        return self.route53

    def _route53_client(self) -> Any:
        import boto3

        return boto3.client(
            "route53",
            endpoint_url=self._mirror().endpoint,
            aws_access_key_id=SANDBOX_AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=SANDBOX_AWS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def _seed_route53(self) -> None:
        client = self._route53_client()
        zone_id = client.create_hosted_zone(Name=DEMO_ZONE, CallerReference="sandbox")["HostedZone"]["Id"]
        sets: dict[tuple[str, str], list[str]] = {}
        for name, rtype, value in DEMO_RECORDS:
            sets.setdefault((name, rtype), []).append(f'"{value}"' if rtype == "TXT" else value)
        changes = [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": rtype,
                    "TTL": 300,
                    "ResourceRecords": [{"Value": v} for v in values],
                },
            }
            for (name, rtype), values in sets.items()
        ]
        client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
        self._mirror().sync()

    def start(self) -> Self:
        self.tencent.start()
        self.dns.start()
        if self.cloudflare is not None:
            self.cloudflare.start()
        if self.provider == "route53":
            from dnsbridge.sandbox.route53 import Route53Mirror

            # Route 53's documented limit, 5 requests/s per account, answered with Throttling.
            self.route53 = Route53Mirror(self.store, rate_limit=5).start()
        if self._seed:
            self.seed_demo_zone()
        return self

    def stop(self) -> None:
        from dnsbridge.sandbox.route53 import Route53Mirror

        if isinstance(self.route53, Route53Mirror):
            self.route53.stop()
        if self.cloudflare is not None:
            self.cloudflare.stop()
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
        env = {
            "TENCENTCLOUD_SECRET_ID": SANDBOX_SECRET_ID,
            "TENCENTCLOUD_SECRET_KEY": SANDBOX_SECRET_KEY,
            "DNSBRIDGE_SES_ENDPOINT": self.tencent.ses_endpoint,
            "DNSBRIDGE_DNSPOD_ENDPOINT": self.tencent.dnspod_endpoint,
            "DNSBRIDGE_NAMESERVERS": f"{host}:{port}",
            "DNSBRIDGE_PROVIDER": self.provider,
        }
        if self.cloudflare is not None:
            env |= {"CLOUDFLARE_API_TOKEN": SANDBOX_CLOUDFLARE_TOKEN, "CLOUDFLARE_BASE_URL": self.cloudflare.base_url}
        from dnsbridge.sandbox.route53 import Route53Mirror

        if isinstance(self.route53, Route53Mirror):
            env |= SANDBOX_AWS | {"AWS_ENDPOINT_URL_ROUTE_53": self.route53.endpoint}
        return env
