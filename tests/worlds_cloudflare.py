"""The Cloudflare world for the provider contract: SES and DNS from the sandbox, zones behind the
Cloudflare v4 emulator, all on one ZoneStore so the DNS server serves what the API wrote."""

from __future__ import annotations

from dnsbridge.sandbox.cloudflare import (
    DEFAULT_NAMESERVERS,
    DNS_EDIT,
    RECORDS_PER_PAGE,
    ZONE_READ,
    CloudflareEmulator,
    TokenSpec,
)
from tests.worlds import StoreWorld

TOKEN = "cf-test-token-7d1e9a0b5c"
# Scoped the way the provider's docs ask: Zone:Read and DNS:Edit, nothing else.
TOKEN_SPEC = TokenSpec(permissions=frozenset({ZONE_READ, DNS_EDIT}))


class CloudflareWorld(StoreWorld):
    provider = "cloudflare"

    def __init__(self, *, records_per_page: tuple[int, int, int] = RECORDS_PER_PAGE) -> None:
        super().__init__()
        self.cloudflare = CloudflareEmulator(self.box.store, {TOKEN: TOKEN_SPEC}, records_per_page=records_per_page)

    def __enter__(self) -> CloudflareWorld:
        super().__enter__()
        self.cloudflare.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cloudflare.stop()
        super().__exit__(*exc)

    def env(self) -> dict[str, str]:
        return {
            **self.box.env(),
            "CLOUDFLARE_API_TOKEN": TOKEN,
            "CLOUDFLARE_BASE_URL": self.cloudflare.base_url,
            "DNSBRIDGE_PROVIDER": self.provider,
        }

    def add_zone(self, name: str) -> None:
        self.cloudflare.add_zone(name, nameservers=DEFAULT_NAMESERVERS)

    def writes(self) -> int:
        return sum(
            1
            for call in self.cloudflare.calls
            if call.method in ("POST", "PATCH", "PUT", "DELETE") and "/dns_records" in call.path
        )

    def calls_by_endpoint(self) -> dict[str, int]:
        """`METHOD /zones/{id}/dns_records/...` → count, ids folded, query filters shown by key."""
        out: dict[str, int] = {}
        for call in self.cloudflare.calls:
            parts = ["{id}" if len(p) == 32 else p for p in call.path.split("/")]
            keys = ",".join(sorted(k for k in call.query if k != "page"))
            endpoint = f"{call.method} {'/'.join(parts)}" + (f"?{keys}" if keys else "")
            out[endpoint] = out.get(endpoint, 0) + 1
        return out
