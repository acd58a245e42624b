"""DNSPod (Tencent Cloud DNS, API 2021-03-23).

What this relies on (API-FACTS.md; the SDK's dnspod/v20210323/models.py docstrings):
- DescribeRecordList's `Subdomain` returns only the records of that host, all types, so one call
  per name reads everything the planner needs; an empty result is the *error*
  `ResourceNotFound.NoDataOfRecord`, which means "nothing here", not failure;
- record names are relative to the zone, "@" at the apex; TXT values are bare (no quotes);
  MX and CNAME targets come back absolute, with a trailing dot;
- writes go to the default line ("默认"); an update keeps the line the record is on;
- CreateRecord answers `InvalidParameter.DomainRecordExist` for an exact duplicate, which after
  a retried call whose first reply was lost means "already done".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from dnsbridge import names
from dnsbridge.errors import ApiError, InvalidDomain, UnexpectedAnswer
from dnsbridge.plan import Action, Change, Plan
from dnsbridge.provider import Provider, ProviderSettings, Zone, list_whole_zone, longest_suffix, zone_not_found
from dnsbridge.records import HOST_TYPES, Record, stored_value
from dnsbridge.tencent import Endpoint, TencentApi, credentials_from, endpoint_from

VERSION = "2021-03-23"
DEFAULT_HOST = "dnspod.tencentcloudapi.com"
DEFAULT_LINE = "默认"
DEFAULT_TTL = 600  # the lowest TTL of DNSPod's free plan (lower: LimitExceeded.RecordTtlLimit)
PAGE = 3000  # DescribeDomainList / DescribeRecordList: Limit at most 3000


class DnspodProvider(Provider):
    name = "dnspod"
    nameserver_hints = ("dnspod.net", "dnspod.com", "dnsv1.com", "dnsv2.com", "dnsv3.com", "dnsv4.com", "dnsv5.com")

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        env = settings.env
        self._credentials = credentials_from(env, "DNSPOD", fallback="TENCENTCLOUD")
        override = env.get("DNSBRIDGE_DNSPOD_ENDPOINT", "").strip()
        endpoint = endpoint_from(override, "DNSBRIDGE_DNSPOD_ENDPOINT") if override else Endpoint(DEFAULT_HOST, "https")
        self._api = TencentApi(
            "dnspod", VERSION, self._credentials, endpoint, "", timeout=settings.timeout, limits=settings.limits
        )
        self._zones: dict[str, Zone] | None = None
        self._zones_lock = threading.Lock()
        self._lines: dict[str, str] = {}  # RecordId → line, so an update stays on its line

    def secrets(self) -> tuple[str, ...]:
        return self._credentials.secrets()

    def _call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.settings.retry.call(lambda: self._api.call(action, params))

    # zones -------------------------------------------------------------------------------
    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        if zone is not None:
            try:
                info = self._call("DescribeDomain", {"Domain": zone})["DomainInfo"]
            except ApiError as exc:
                if exc.code in ("InvalidParameterValue.DomainNotExists", "InvalidParameter.DomainInvalid"):
                    raise zone_not_found(domain, self.name, 1) from None
                raise
            return self._zone(info)
        zones = self.zones()
        match = longest_suffix(domain, zones)
        if match is None:
            raise zone_not_found(domain, self.name, len(zones))
        return zones[match]

    def zones(self) -> dict[str, Zone]:
        """Every zone of the account, fetched once per provider instance (once per run)."""
        with self._zones_lock:  # several domains' threads ask at once; list the zones once
            return self._list_zones()

    def _list_zones(self) -> dict[str, Zone]:
        if self._zones is None:
            found: dict[str, Zone] = {}
            offset = 0
            while True:
                try:
                    reply = self._call("DescribeDomainList", {"Type": "ALL", "Offset": offset, "Limit": PAGE})
                except ApiError as exc:
                    if exc.code != "ResourceNotFound.NoDataOfDomain":  # an account with no zones
                        raise
                    break
                page = reply.get("DomainList") or []
                for item in page:
                    zone = self._zone(item)
                    found[zone.name] = zone
                offset += len(page)
                total = (reply.get("DomainCountInfo") or {}).get("AllTotal", offset)
                if not page or offset >= total:
                    break
            self._zones = found
        return self._zones

    def _zone(self, item: Mapping[str, Any]) -> Zone:
        raw = item.get("Punycode") or item.get("Name") or ""
        try:
            name = names.normalise(str(raw))
        except InvalidDomain:
            raise UnexpectedAnswer(f"DNSPod listed a zone with an invalid name {raw!r}") from None
        servers = item.get("EffectiveDNS") or item.get("DnspodNsList") or []
        count = item.get("RecordCount")
        return Zone(
            name=name,
            id=str(item.get("DomainId", name)),
            nameservers=tuple(str(s).rstrip(".") for s in servers),
            size=count if isinstance(count, int) else None,
        )

    # records -----------------------------------------------------------------------------
    def read(self, zone: Zone, names_: Sequence[str]) -> list[Record]:
        if list_whole_zone(len(names_), zone.size, PAGE):
            # Many domains of one run: the whole zone, 3,000 records a call, instead of a call
            # per name.
            subs = {names.relative(n, zone.name) for n in names_}
            return self._list(zone, {"Domain": zone.name}, subs)
        out: list[Record] = []
        for name in names_:
            sub = names.relative(name, zone.name)
            out.extend(self._list(zone, {"Domain": zone.name, "Subdomain": sub}, {sub}))
        return out

    def _list(self, zone: Zone, query: Mapping[str, Any], subs: set[str]) -> list[Record]:
        out: list[Record] = []
        offset = 0
        while True:
            params = {**query, "Offset": offset, "Limit": PAGE}
            try:
                reply = self._call("DescribeRecordList", params)
            except ApiError as exc:
                if exc.code == "ResourceNotFound.NoDataOfRecord":
                    return out
                raise
            page = reply.get("RecordList") or []
            # `Subdomain` is documented as an exact filter; check anyway, since acting on a
            # record at another name would break the promise to touch nothing foreign.
            out.extend(self._record(zone, item) for item in page if str(item.get("Name")).lower() in subs)
            offset += len(page)
            total = (reply.get("RecordCountInfo") or {}).get("TotalCount", offset)
            if not page or offset >= total:
                return out

    def _record(self, zone: Zone, item: Mapping[str, Any]) -> Record:
        rtype = str(item.get("Type", "")).upper()
        rel = str(item.get("Name", "@"))
        name = zone.name if rel == "@" else f"{rel.lower()}.{zone.name}"
        value = stored_value(rtype, str(item.get("Value", "")))
        priority = int(item.get("MX") or 0) if rtype == "MX" else None
        ref = str(item.get("RecordId"))
        self._lines[ref] = str(item.get("Line") or DEFAULT_LINE)
        return Record(name=name, type=rtype, value=value, priority=priority, ttl=item.get("TTL"), ref=ref)

    def apply(self, zone: Zone, plan: Plan) -> None:
        # DNSPod has batch APIs, but they are asynchronous jobs limited to 20/s; plain
        # Create/ModifyRecord (500/s) is both faster and immediately consistent for four records.
        for change in plan.writes:
            if change.action is Action.CREATE:
                self._create(zone, change)
            else:
                self._modify(zone, change)

    def _params(self, zone: Zone, change: Change) -> dict[str, Any]:
        record = change.record
        value = record.value + "." if record.type in HOST_TYPES else record.value
        params: dict[str, Any] = {
            "Domain": zone.name,
            "SubDomain": names.relative(record.name, zone.name),
            "RecordType": record.type,
            "Value": value,
            "TTL": record.ttl or self.settings.ttl or DEFAULT_TTL,
        }
        if record.type == "MX":
            params["MX"] = record.priority
        return params

    def _create(self, zone: Zone, change: Change) -> None:
        try:
            self._call("CreateRecord", {**self._params(zone, change), "RecordLine": DEFAULT_LINE})
        except ApiError as exc:
            if exc.code != "InvalidParameter.DomainRecordExist":
                raise

    def _modify(self, zone: Zone, change: Change) -> None:
        ref = change.record.ref or ""
        line = self._lines.get(ref, DEFAULT_LINE)
        self._call("ModifyRecord", {**self._params(zone, change), "RecordId": int(ref), "RecordLine": line})
