"""Cloudflare (v4 REST API, through the official `cloudflare` SDK 5.x).

What this relies on (API-FACTS.md; the SDK's _client.py, _exceptions.py, pagination.py and the
docstrings of resources/zones/zones.py and resources/dns/records.py):
- `zones.list(name=…)` filters by exact name ("equal" is the default operator), so walking a
  domain's suffixes longest first finds its zone in a few calls, however many zones the account
  has;
- `dns.records.list(name={"exact": …})` returns every type at that name (name filters are
  case-insensitive); names come back absolute, MX/CNAME targets without trailing dot;
- list pages are `V4PagePaginationArray`: the SDK asks for page+1 until a page comes back empty;
- `dns.records.batch` runs deletes, patches, puts, posts in that order in one transaction: if an
  operation fails, nothing is applied, so a retried or repeated batch never half-applies;
- a duplicate is 81058 ("an identical record already exists", 81057 for an older form of it),
  which after a retried call whose first reply was lost means "already done";
- TXT content is stored as sent and may come back split into 255-octet strings; quoted content
  of strings already ≤ 255 octets comes back unchanged;
- errors follow the HTTP status (401/403 auth, 404, 429 with `retry-after`, 5xx), each with
  `errors[].code`; a 200 with `success: false` raises nothing.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dnsbridge import names
from dnsbridge.errors import (
    ApiError,
    AuthError,
    DnsbridgeError,
    InvalidDomain,
    MissingCredentials,
    ThrottledError,
    TransientError,
    UnexpectedAnswer,
    ZoneNotFound,
)
from dnsbridge.plan import Action, Change, Plan
from dnsbridge.provider import (
    ZONE_LIST_DOMAINS,
    Provider,
    ProviderSettings,
    Zone,
    list_whole_zone,
    longest_suffix,
    zone_not_found,
)
from dnsbridge.records import Record, stored_value
from dnsbridge.txt import quote

if TYPE_CHECKING:
    import cloudflare
    from cloudflare import Cloudflare

T = TypeVar("T")
# Under "dnsbridge", whose handler the CLI sets up (-v shows info, -q hides it).
log = logging.getLogger("dnsbridge.providers.cloudflare")

SERVICE = "cloudflare"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - a variable name, not a secret
EMAIL_VARIABLE = "CLOUDFLARE_EMAIL"
KEY_VARIABLE = "CLOUDFLARE_API_KEY"
BATCH_LIMIT = 200  # operations per dns.records.batch on the Free plan (3,500 on paid plans)
ZONE_PAGE = 5000  # dns_records: per_page up to 5,000,000; pages of 5,000 keep replies small
ZONES_PAGE = 50  # zones: per_page at most 50
AUTOMATIC_TTL = 1  # Cloudflare's "automatic" TTL (served as 300 s)
ZONE_ID = re.compile(r"[0-9a-f]{32}")
# The SDK's own retries are off. Our RetryPolicy already retries 429 (honouring `retry-after`),
# 5xx and connection errors with backoff; SDK retries underneath would multiply the attempts
# (3 × 8), sleep up to 60 s per `retry-after` outside our accounting, and also retry 408/409.
# One retry layer keeps the request count against the 1,200-per-5-minutes budget predictable.
SDK_MAX_RETRIES = 0
DUPLICATE_CODES = frozenset({81057, 81058})
# Codes Cloudflare answers for credentials it doesn't accept, whatever the status (10000
# "Authentication error"; 6003/6103/6111 malformed auth headers; 9103/9109 unknown or invalid
# key). 401 and 403 are auth errors regardless of code.
AUTH_CODES = frozenset({6003, 6103, 6111, 9103, 9109, 10000})
PERMISSIONS = "Zone:Read and DNS:Edit on the zone"
# Our words for the codes a run can meet, so a message never has to quote Cloudflare's text.
CODE_MEANINGS = {
    971: "rate limited",
    1004: "DNS validation error",
    7000: "no such API route",
    7003: "unknown object identifier",
    9207: "request body invalid",
    81044: "the record no longer exists",
    81053: "a record at that name conflicts with a CNAME",
    81054: "a CNAME at that name conflicts with other records",
    81061: "the TXT values at that name exceed 8,192 characters together",
}


class CloudflareProvider(Provider):
    name = "cloudflare"
    batch_writes = True  # dns.records.batch: every change of a zone in one transaction
    nameserver_hints = ("ns.cloudflare.com",)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        env = settings.env
        token = env.get(TOKEN_VARIABLE, "").strip()
        email = env.get(EMAIL_VARIABLE, "").strip()
        key = env.get(KEY_VARIABLE, "").strip()
        if token:
            self._variables: tuple[str, ...] = (TOKEN_VARIABLE,)
            self._secret = token
            log.info("cloudflare: authenticating with the API token in $%s", TOKEN_VARIABLE)
            ignored = [f"${v}" for v, value in ((EMAIL_VARIABLE, email), (KEY_VARIABLE, key)) if value]
            if ignored:
                log.info("cloudflare: %s ignored: the token wins", " and ".join(ignored))
        elif email and key:
            self._variables = (EMAIL_VARIABLE, KEY_VARIABLE)
            self._secret = key
            log.info("cloudflare: authenticating with the global API key in $%s and $%s", EMAIL_VARIABLE, KEY_VARIABLE)
        else:
            raise MissingCredentials(
                f"{TOKEN_VARIABLE} is not set",
                hint=f"create an API token with {PERMISSIONS} (dash.cloudflare.com > My Profile > API Tokens)",
            )

        from cloudflare import Cloudflare  # lazily: `dnsbridge --help` must not import the SDK

        base_url = env.get("CLOUDFLARE_BASE_URL", "").strip() or DEFAULT_BASE_URL
        self._sdk: Cloudflare = Cloudflare(
            api_token=token or None,
            api_key=None if token else key,
            api_email=None if token else email,
            base_url=base_url,
            max_retries=SDK_MAX_RETRIES,
            timeout=settings.timeout,
        )
        # The SDK fills every credential left None from os.environ, and its `auth_headers` sends
        # X-Auth-Email (+ X-Auth-Key) *instead of* the bearer token whenever an email is set
        # (_client.py: `if self._api_email: return self._api_email`). Passing None can't stop
        # that, so reset the attributes it reads per request: exactly one credential is sent.
        self._sdk.api_token = token or None
        self._sdk.api_email = None if token else email
        self._sdk.api_key = None if token else key
        self._sdk.user_service_key = None
        self._every_zone: dict[str, Zone] | None = None
        self._zones_lock = threading.Lock()
        self._zones: dict[str, Zone | None] = {}  # zone name (or id) → zone; None: looked up, absent
        self._sizes: dict[str, int] = {}  # zone id → records, from its last whole listing

    def secrets(self) -> tuple[str, ...]:
        return (self._secret,)

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            import cloudflare

            # One window for the token's 1,200 requests per 5 minutes (each page of a list is
            # a call of its own).
            with self.settings.limits.slot(SERVICE):
                try:
                    return fn()
                except cloudflare.APIStatusError as exc:
                    raise self._error(action, exc) from None
                except cloudflare.APIConnectionError as exc:  # APITimeoutError is a subclass
                    timed_out = isinstance(exc, cloudflare.APITimeoutError)
                    raise TransientError(
                        f"{'no answer in time from' if timed_out else 'could not reach'} {self._sdk.base_url}",
                        service=SERVICE,
                        action=action,
                        code="Timeout" if timed_out else "ConnectionError",
                    ) from None

        return self.settings.retry.call(attempt)

    def _error(self, action: str, exc: cloudflare.APIStatusError) -> DnsbridgeError:
        # Built from the status and codes only: the SDK's own message quotes the response body.
        status = exc.status_code
        codes = [int(e.code) for e in exc.errors if e.code is not None]
        code = ",".join(str(c) for c in codes) or f"HTTP{status}"
        meaning = "; ".join(CODE_MEANINGS[c] for c in codes if c in CODE_MEANINGS)
        detail = f"HTTP {status}" + (f": {meaning}" if meaning else "")
        request_id = exc.response.headers.get("cf-ray")
        common: dict[str, Any] = {"service": SERVICE, "action": action, "code": code, "request_id": request_id}
        if status in (401, 403) or AUTH_CODES.intersection(codes):
            variables = " and ".join(f"${v}" for v in self._variables)
            return AuthError(
                f"Cloudflare refused the credentials ({detail})",
                hint=f"check {variables}: it needs {PERMISSIONS}",
                **common,
            )
        if status == 429:
            return ThrottledError(
                f"rate limited ({detail}); Cloudflare allows 1,200 requests per 5 minutes",
                retry_after=_seconds(exc.response.headers.get("retry-after")),
                **common,
            )
        if status >= 500:
            return TransientError(f"Cloudflare failed to answer ({detail})", **common)
        if status == 404 and not {81044, 7000}.intersection(codes):
            # A 404 on a zone path: the zone id is unknown, or the zone was deleted meanwhile.
            return ZoneNotFound(
                f"Cloudflare has no such zone ({detail})", hint="check --zone, or that the zone still exists"
            )
        return ApiError(f"Cloudflare refused the request ({detail})", **common)

    # zones -------------------------------------------------------------------------------
    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        if zone is not None:
            found = self._zone_named(zone)
            if found is None:
                raise zone_not_found(domain, self.name, 1)
            if not names.is_within(domain, found.name):
                raise ZoneNotFound(f"the Cloudflare zone {found.name} does not hold {domain}", hint="check --zone")
            return found
        if self.settings.domains > ZONE_LIST_DOMAINS:
            # Many domains: every zone the token sees, listed once, beats a lookup per domain.
            zones = self._all_zones()
            match = longest_suffix(domain, zones)
            if match is None:
                raise zone_not_found(domain, self.name, len(zones))
            return zones[match]
        # Every suffix but the last label: Cloudflare doesn't host top-level domains.
        candidates = names.suffixes(domain)[:-1]
        for suffix in candidates:
            found = self._zone_named(suffix)
            if found is not None:
                return found
        raise zone_not_found(domain, self.name, len(candidates))

    def _all_zones(self) -> dict[str, Zone]:
        with self._zones_lock:
            if self._every_zone is None:
                found: dict[str, Zone] = {}
                page = self._call("zones.list", lambda: self._sdk.zones.list(per_page=ZONES_PAGE))
                while True:
                    items = list(page.result or [])
                    # An active zone wins over a pending one of the same name (see _fetch_zone).
                    for item in sorted(items, key=lambda z: z.status == "active"):
                        zone = self._zone(item)
                        if zone is not None:
                            found[zone.name] = zone
                    if not items or not page.has_next_page():
                        break
                    page = self._call("zones.list", page.get_next_page)
                self._every_zone = found
            return self._every_zone

    def _zone_named(self, name_or_id: str) -> Zone | None:
        """The zone with this exact name (or 32-hex id), fetched once per provider instance."""
        if name_or_id not in self._zones:
            self._zones[name_or_id] = self._fetch_zone(name_or_id)
        return self._zones[name_or_id]

    def _fetch_zone(self, name_or_id: str) -> Zone | None:
        if ZONE_ID.fullmatch(name_or_id):
            try:
                return self._zone(self._call("zones.get", lambda: self._sdk.zones.get(zone_id=name_or_id)))
            except ZoneNotFound:
                return None
        page = self._call("zones.list", lambda: self._sdk.zones.list(name=name_or_id))
        # One exact name can be in several accounts the token sees, but only one can be active
        # (a zone is active where its nameservers point); prefer that one.
        matches = sorted(page.result or [], key=lambda z: z.status != "active")
        return self._zone(matches[0]) if matches else None

    def _zone(self, item: Any) -> Zone | None:
        if item is None:
            return None
        try:
            zone_name = names.normalise(str(item.name))
        except InvalidDomain:
            return None
        servers = tuple(str(s).rstrip(".").lower() for s in (item.name_servers or ()))
        return Zone(name=zone_name, id=str(item.id), nameservers=servers)

    # records -----------------------------------------------------------------------------
    def read(self, zone: Zone, names_: Sequence[str]) -> list[Record]:
        # Cloudflare's zone objects don't say how many records a zone holds; a listing does.
        if list_whole_zone(len(names_), self._sizes.get(zone.id), ZONE_PAGE):
            # Many domains of one run: the whole zone, 5,000 records a page, in a call or two,
            # where one call per name would spend the token's 1,200 requests per 5 minutes.
            return self._list(zone, set(names_), {"per_page": ZONE_PAGE})
        return [record for name in names_ for record in self._read_name(zone, name)]

    def _read_name(self, zone: Zone, name: str) -> list[Record]:
        return self._list(zone, {name}, {"name": {"exact": name}})

    def _list(self, zone: Zone, wanted: set[str], query: Mapping[str, Any]) -> list[Record]:
        """The records at `wanted` among those `query` lists, page by page.

        Read as plain JSON (`with_raw_response`), not as the SDK's models: building a model per
        record costs ~0.15 ms of CPU, half a second for a listing of 4,000 records, and a
        many-domain run lists the zone once per round."""
        out: list[Record] = []
        page = 1
        while True:
            reply = self._call("dns.records.list", functools.partial(self._page, zone, page, query))
            items = reply.get("result") if isinstance(reply, dict) else None
            if not isinstance(items, list):
                raise UnexpectedAnswer(f"Cloudflare listed the records of {zone.name} without a result list")
            # `name.exact` is documented as an exact filter; check anyway, since acting on a record
            # at another name would break the promise to touch nothing foreign.
            out.extend(r for r in (self._record(item) for item in items) if r is not None and r.name in wanted)
            # The last page is the one that is empty, shorter than the page size the server
            # reports, or numbered total_pages; stopping at a short page saves one request.
            info = reply.get("result_info") or {}
            per_page, pages = info.get("per_page"), info.get("total_pages")
            if "name" not in query and isinstance(info.get("total_count"), int):
                self._sizes[zone.id] = info["total_count"]
            if not items or (per_page and len(items) < per_page) or (pages and page >= pages):
                return out
            page += 1

    def _page(self, zone: Zone, page: int, query: Mapping[str, Any]) -> Any:
        return self._sdk.dns.records.with_raw_response.list(zone_id=zone.id, page=page, **query).json()

    def _record(self, item: Any) -> Record | None:
        if not isinstance(item, Mapping):
            return None
        rtype = str(item.get("type") or "").upper()
        raw_name = str(item.get("name") or "")
        try:
            name = names.normalise(raw_name)
        except InvalidDomain:
            return None  # a wildcard or other name we never write
        value = stored_value(rtype, str(item.get("content") or ""))
        priority = int(item.get("priority") or 0) if rtype == "MX" else None
        ttl = item.get("ttl")
        return Record(
            name=name,
            type=rtype,
            value=value,
            priority=priority,
            ttl=int(ttl) if ttl is not None else None,
            ref=str(item.get("id") or ""),
        )

    def apply(self, zone: Zone, plan: Plan) -> None:
        # One batch per zone: one request against the rate limit, and all-or-nothing. One domain
        # writes a handful of records; the plans of many domains merged (dnsbridge.coalesce) can
        # pass the batch limit (200 operations on the Free plan), so they go in chunks of it.
        writes = plan.writes
        for start in range(0, len(writes), BATCH_LIMIT):
            self._apply_chunk(zone, writes[start : start + BATCH_LIMIT])

    def _apply_chunk(self, zone: Zone, writes: list[Change]) -> None:
        for _ in range(3):
            if not writes:
                return
            try:
                self._batch(zone, writes)
                return
            except ApiError as exc:
                if not DUPLICATE_CODES.intersection(_codes(exc)):
                    raise
            # Some record already exists (a lost reply to a batch that did commit, or another
            # writer): the batch was rolled back, so write only what the zone still lacks.
            log.info("cloudflare: some records already exist in %s; writing only the missing ones", zone.name)
            writes = self._missing(zone, writes)
        if writes:
            raise ApiError(
                f"the records at {', '.join(sorted({c.record.name for c in writes}))} kept changing while dnsbridge "
                "wrote them",
                service=SERVICE,
                action="dns.records.batch",
                code="81058",
                hint="another tool is writing the same names; run again",
            )

    def _missing(self, zone: Zone, writes: Sequence[Change]) -> list[Change]:
        current = self.read(zone, sorted({c.record.name for c in writes}))
        return [c for c in writes if not any(r.same_data(c.record) for r in current)]

    def _batch(self, zone: Zone, writes: Sequence[Change]) -> None:
        posts = [self._fields(c.record) for c in writes if c.action is Action.CREATE]
        patches = [{"id": c.record.ref, **self._fields(c.record)} for c in writes if c.action is Action.UPDATE]
        kwargs: dict[str, Any] = {"zone_id": zone.id}
        if posts:
            kwargs["posts"] = posts
        if patches:
            kwargs["patches"] = patches
        self._call("dns.records.batch", lambda: self._sdk.dns.records.batch(**kwargs))

    def _fields(self, record: Record) -> dict[str, Any]:
        # TXT goes quoted, in strings of at most 255 octets: Cloudflare returns such content as
        # sent, so the next read unquotes to exactly the value written and a rerun writes nothing.
        content = quote(record.value) if record.type == "TXT" else record.value
        fields: dict[str, Any] = {
            "name": record.name,
            "type": record.type,
            "content": content,
            "ttl": record.ttl or self.settings.ttl or AUTOMATIC_TTL,
        }
        if record.type == "MX":
            fields["priority"] = record.priority
        return fields


def _codes(exc: ApiError) -> set[int]:
    return {int(c) for c in exc.code.split(",") if c.isdigit()}


def _seconds(header: str | None) -> float | None:
    """`retry-after` in seconds (Cloudflare sends seconds; an HTTP date is not used there)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None
