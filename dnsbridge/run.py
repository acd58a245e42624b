"""Many domains in one run: concurrently, sharing clients, zone lists and rate limits.

Each domain's outcome is independent — one failure doesn't stop the others — and at most
`concurrency` domains are in flight at once, so memory stays flat however many domains a run
is given.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from dnsbridge import provider as registry
from dnsbridge.coalesce import ZoneBatching
from dnsbridge.errors import DnsbridgeError
from dnsbridge.onboard import DomainResult, Options, onboard
from dnsbridge.provider import Provider, ProviderSettings, ZoneAccess
from dnsbridge.ses import Ses

# Enough domains in flight to keep SES's 20 requests/s busy while each domain waits on reads,
# writes and DNS; a thread each, so memory is bounded by this, not by the number of domains.
DEFAULT_CONCURRENCY = 32


class Providers:
    """One adapter instance per provider for the whole run (so zone lists are fetched once)."""

    def __init__(self, name: str, settings: ProviderSettings, *, batching: bool = False) -> None:
        self.name = name
        self.settings = settings
        self.batching = batching
        self._instances: dict[str, Provider] = {}
        self._batched: dict[str, ZoneBatching] = {}
        self._lock = threading.Lock()
        if name != "auto":  # a named provider without credentials fails now, before any domain
            self.get(name)

    def get(self, name: str) -> Provider:
        with self._lock:
            if name not in self._instances:
                self._instances[name] = registry.load(name)(self.settings)
            return self._instances[name]

    def for_domain(self, domain: str) -> ZoneAccess:
        if self.name != "auto":
            name = self.name
        else:
            from dnsbridge.detect import detect

            name = detect(domain, self.settings.env)
        adapter = self.get(name)
        if not self.batching:
            return adapter
        with self._lock:
            if name not in self._batched:
                self._batched[name] = ZoneBatching(adapter)
            return self._batched[name]

    def secrets(self) -> list[str]:
        with self._lock:
            return [s for p in self._instances.values() for s in p.secrets()]


def run_all(
    domains: Sequence[str],
    ses: Ses,
    providers: Providers,
    options: Options,
    env: Mapping[str, str],
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[DomainResult]:
    """Every domain's result, in the order the domains were given."""

    def one(domain: str) -> DomainResult:
        try:
            dns_provider = providers.for_domain(domain)
        except DnsbridgeError as exc:
            return DomainResult(domain=domain, provider=providers.name, error=exc)
        return onboard(domain, ses, dns_provider, options, env)

    if concurrency <= 1 or len(domains) <= 1:
        return [one(d) for d in domains]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(domains)), thread_name_prefix="domain") as pool:
        return list(pool.map(one, domains))
