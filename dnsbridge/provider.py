"""The pluggable part: what a DNS provider adapter must do, and how adapters are found.

A provider writes three hooks — `find_zone`, `read`, `apply` — and may override `wait_synced`
and `nameservers`. The core owns everything else (policy, planning, waiting), so an adapter only
knows its API and its quirks. Adapters are found through the `dnsbridge.providers` entry-point
group, so a third-party package can add one without touching this repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import ClassVar, Protocol

from dnsbridge.errors import UnknownProvider, ZoneNotFound
from dnsbridge.names import is_within
from dnsbridge.plan import Plan
from dnsbridge.ratelimit import Limits
from dnsbridge.records import Record
from dnsbridge.retry import Deadline, RetryPolicy

ENTRY_POINT_GROUP = "dnsbridge.providers"
# A domain needs three names read: its own, _dmarc and the DKIM selector's.
NAMES_PER_DOMAIN = 3
# Up to this many names at once (a domain's own reads), a call per name; above it (when a run
# merges the reads of its domains per zone), the whole zone is listed if that takes fewer calls.
ZONE_READ_NAMES = 8
# Above this many domains in a run, listing every zone once beats a zone lookup per domain.
ZONE_LIST_DOMAINS = 3

# Used only when the package's metadata isn't installed (running from a source checkout).
BUILTIN = {
    "dnspod": "providers.dnspod:DnspodProvider",
    "cloudflare": "providers.cloudflare:CloudflareProvider",
    "route53": "providers.route53:Route53Provider",
}


@dataclass(frozen=True)
class Zone:
    name: str  # normalised
    id: str  # the provider's handle
    nameservers: tuple[str, ...] = ()
    # How many records (Route 53: record sets) the zone held when it was listed, where the API
    # says: listing a zone of 100,000 records to read nine names would be 34 calls, not one.
    # A snapshot, not part of which zone this is.
    size: int | None = field(default=None, compare=False)


def list_whole_zone(names: int, size: int | None, page: int) -> bool:
    """Whether reading `names` names is cheaper as one listing of the whole zone (`size / page`
    calls; one call when the size is unknown) than as a call per name. Never for a single
    domain's few names: those are read where they are, whatever the zone."""
    if names <= ZONE_READ_NAMES:
        return False
    return size is None or -(-size // page) < names


@dataclass(frozen=True)
class ProviderSettings:
    env: Mapping[str, str]
    timeout: float = 15.0  # for each API call
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ttl: int | None = None
    # Shared by every domain of a run: adapters acquire their quota's window before each call.
    limits: Limits = field(default_factory=Limits)
    domains: int = 1  # how many domains the run holds: adapters may list all zones once when many


class Provider:
    """Base class of every DNS provider adapter."""

    name: ClassVar[str] = ""
    # Substrings of nameserver host names that identify this provider's zones (auto-detection).
    nameserver_hints: ClassVar[tuple[str, ...]] = ()
    # True when `apply` sends all of a plan's writes in one API call (a batch endpoint), so plans
    # of several domains in one zone are worth merging into one call.
    batch_writes: ClassVar[bool] = False
    # How long a run with many domains holds a zone's first read or write for others to join
    # (dnsbridge.coalesce). Only the first of a round waits this long: while a call is in
    # flight, the next batch fills by itself, so a slow or rate-limited API gets fuller batches
    # without a longer linger.
    coalesce_linger: ClassVar[float] = 0.05

    def __init__(self, settings: ProviderSettings) -> None:
        """Read credentials from settings.env; raise MissingCredentials when they're absent."""
        self.settings = settings

    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        """The zone that holds `domain`'s records: `zone` when given, else the longest suffix
        among the zones the credentials see. Raises ZoneNotFound."""
        raise NotImplementedError

    def read(self, zone: Zone, names: Sequence[str]) -> list[Record]:
        """Every record at exactly these names (all types), normalised for comparison."""
        raise NotImplementedError

    def apply(self, zone: Zone, plan: Plan) -> None:
        """Make exactly `plan.writes`; never delete, never touch a record the plan doesn't name."""
        raise NotImplementedError

    def wait_synced(self, zone: Zone, deadline: Deadline) -> None:
        """Block until the provider says the last apply reached its nameservers (if it can say)."""

    def secrets(self) -> tuple[str, ...]:
        """Credential values this adapter holds, so reports can make sure none is ever shown."""
        return ()

    @classmethod
    def claims(cls, nameservers: Sequence[str]) -> bool:
        """Whether a zone served by `nameservers` is this provider's (`--provider auto`): by
        default, a host contains one of `nameserver_hints`. Override for vanity nameservers."""
        return any(hint in host for host in nameservers for hint in cls.nameserver_hints)


class ZoneAccess(Protocol):
    """What the flow needs of a provider: a Provider, or one seen through dnsbridge.coalesce."""

    @property
    def name(self) -> str: ...
    def find_zone(self, domain: str, zone: str | None = None) -> Zone: ...
    def read(self, zone: Zone, names: Sequence[str]) -> list[Record]: ...
    def apply(self, zone: Zone, plan: Plan) -> None: ...
    def wait_synced(self, zone: Zone, deadline: Deadline) -> None: ...


def longest_suffix(domain: str, zones: Iterable[str]) -> str | None:
    """The longest zone name that `domain` is in (label-wise), or None."""
    inside = [z for z in zones if is_within(domain, z)]
    return max(inside, key=len) if inside else None


def zone_not_found(domain: str, provider: str, seen: int) -> ZoneNotFound:
    return ZoneNotFound(
        f"no {provider} zone that these credentials can see holds {domain} ({seen} zones checked)",
        hint="check the credentials' account, or pass --zone",
    )


def available() -> dict[str, str]:
    """Installed provider names → where their class lives."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**BUILTIN, **found}


def load(name: str) -> type[Provider]:
    providers = available()
    if name not in providers:
        raise UnknownProvider(
            f"unknown provider {name!r}; installed: {', '.join(sorted(providers))}",
            hint="`dnsbridge providers` lists them",
        )
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            break
    else:
        module, _, attr = providers[name].partition(":")
        cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise UnknownProvider(f"the plugin {name!r} ({providers[name]}) is not a dnsbridge Provider")
    return cls
