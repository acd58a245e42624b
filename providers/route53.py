"""Amazon Route 53, through boto3 (imported when the provider is built, never at module import).

What this relies on (API-FACTS.md; botocore 1.43's route53 service model and its docstrings; the
Route 53 Developer Guide pages named below):
- Credentials and endpoint come from boto3's own chain. botocore reads AWS_ENDPOINT_URL_ROUTE_53,
  then AWS_ENDPOINT_URL (configprovider.ConfiguredEndpointProvider; the client name "route53"
  maps to the service id "route-53", so the variable is ..._ROUTE_53). boto3 reads os.environ;
  values present in `settings.env` (keys, AWS_PROFILE, the endpoint variables) are handed to
  boto3 explicitly so both mappings agree.
- botocore's retries are off (standard mode, max_attempts=1): dnsbridge.retry is the one retry
  policy, bounded by the run's deadline, so attempts never multiply (3 × 8).
- ListHostedZonesByName pages with IsTruncated / NextDNSName / NextHostedZoneId (no botocore
  paginator). moto 5.2 ignores MaxItems there, answers every zone at once and omits IsTruncated;
  absent means "last page".
- ListResourceRecordSets starts at StartRecordName; it is not a filter, so a name's sets end at
  the first set with another name (sets are sorted by name with labels reversed, then type).
  Names come back with a trailing dot and octal escapes (`\\052` for `*`: "DNS domain name
  format"); moto returns them unescaped. Pages continue with NextRecordName / NextRecordType /
  NextRecordIdentifier; moto never sends the identifier.
- TXT values are written and read in Route 53's form ("Supported DNS record types", TXT record
  type): double-quoted strings of at most 255 octets, `"` and `\\` escaped with `\\`, other octets
  as `\\` + three OCTAL digits. dnsbridge.txt decodes `\\DDD` as decimal (RFC 1035 §5.1), which
  would misread Route 53's escapes, so this module has its own codec.
- A record set is one unit, so every write sends the whole set: the values already there plus the
  plan's change. Writes are compare-and-swap: a set that was read is replaced by DELETE (with
  exactly the TTL and values read; Route 53 refuses a DELETE that doesn't match the current set,
  "Tried to delete resource record set [...] but the values provided do not match the current
  values", or that finds none, "... but it was not found") followed by CREATE in the same batch;
  a set that wasn't there is CREATEd, which Route 53 refuses if one has appeared since ("Tried to
  create resource record set [...] but it already exists"). So a value someone else wrote
  between our read and our write is never overwritten: the batch fails whole, nothing changes,
  and ZoneChanged sends the flow back to read and plan again. (UPSERT has no precondition.) When
  a call whose reply was lost is repeated and refused this way, the sets are read back: if they
  hold what was sent, the first attempt went through.
- ChangeResourceRecordSets is all-or-nothing. One call per zone holds every write, split only when
  a request would pass Route 53's quotas (1,000 values, 32,000 characters; the DELETE and the
  CREATE of a set both count, as UPSERT counts twice); each part is then atomic on its own, and a
  set's DELETE and CREATE always travel together.
- With many domains in one zone, the zone is listed once and later reads are answered from that
  listing plus the sets this run wrote since (5 requests/s for the whole account would otherwise
  go on listing a zone that grows by four sets a domain). The compare-and-swap above is what
  makes that safe: a set changed by someone else since the listing fails its write, and the
  names of a refused write are read afresh.
- GetChange answers PENDING, then INSYNC "generally within 60 seconds"; moto is always INSYNC.
- Alias sets, routing-policy sets (SetIdentifier: weighted, latency, failover, geolocation,
  multivalue) and traffic-policy sets are read, so the planner sees them (MX hosts, CNAMEs), but
  are never written: a plan that would touch one, or add a simple set beside them, is a conflict.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dnsbridge import names
from dnsbridge.errors import (
    ApiError,
    AuthError,
    ConflictError,
    DnsbridgeError,
    InvalidDomain,
    MissingCredentials,
    ThrottledError,
    TransientError,
    UnexpectedAnswer,
    UsageError,
    ZoneChanged,
    ZoneNotFound,
    redact,
)
from dnsbridge.plan import Action, Change, Plan
from dnsbridge.provider import (
    NAMES_PER_DOMAIN,
    Provider,
    ProviderSettings,
    Zone,
    list_whole_zone,
    longest_suffix,
    zone_not_found,
)
from dnsbridge.records import Record
from dnsbridge.retry import Backoff, Deadline
from providers.route53_rules import (
    MAX_REQUEST_CHARS,
    MAX_REQUEST_VALUES,
    MAX_STRING_OCTETS,
    TXT_TYPES,
    check_change_batch,
    check_value,
)

log = logging.getLogger(__name__)

SERVICE = "route53"
DEFAULT_TTL = 300
ZONE_PAGE = 100  # ListHostedZonesByName: MaxItems at most 100
RECORD_PAGE = 300  # ListResourceRecordSets: MaxItems at most 300
HOST_TYPES = ("CNAME", "NS", "PTR")
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded"})
TRANSIENT_CODES = frozenset({"ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout"})
AUTH_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
CREDENTIAL_VARIABLES = "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE"
_ZONE_ID = re.compile(r"^[A-Z0-9]{8,32}$")  # Route 53: "Z1D633PJN98FT9"; moto: 22 of [A-Z0-9]
_PREFIX = "/hostedzone/"
SIMPLE = "simple"
# InvalidChangeBatch messages that mean "the zone isn't what the batch was made from" (a
# compare-and-swap that lost), as opposed to a batch Route 53 would never take.
_ZONE_CHANGED = re.compile(
    r"but it already exists|but it was not found|values provided do not match the current values"
    r"|because a conflicting RRSet",
)


class Route53Provider(Provider):
    name = "route53"
    batch_writes = True  # one ChangeResourceRecordSets holds every change of a zone
    nameserver_hints = ("awsdns",)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        import boto3.session
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        env = settings.env
        key_id = env.get("AWS_ACCESS_KEY_ID", "").strip()
        secret = env.get("AWS_SECRET_ACCESS_KEY", "").strip()
        profile = env.get("AWS_PROFILE", "").strip()
        session_args: dict[str, Any] = {}
        if key_id and secret:  # the environment provider comes first in boto3's chain too
            session_args = {
                "aws_access_key_id": key_id,
                "aws_secret_access_key": secret,
                "aws_session_token": env.get("AWS_SESSION_TOKEN", "").strip() or None,
            }
        elif profile:
            session_args = {"profile_name": profile}
        try:
            session = boto3.session.Session(**session_args)
            credentials = session.get_credentials()
        except BotoCoreError as exc:  # ProfileNotFound, a broken config file, an expired SSO token
            raise MissingCredentials(
                f"AWS credentials could not be loaded ({type(exc).__name__})",
                hint=f"check {CREDENTIAL_VARIABLES} and ~/.aws/config",
            ) from None
        if credentials is None:
            raise MissingCredentials(
                f"no AWS credentials found: set {CREDENTIAL_VARIABLES}",
                hint="boto3's standard chain is used: environment, shared files, SSO, container and instance roles",
            )
        self._credentials = credentials
        self._credential_source = str(getattr(credentials, "method", "") or "unknown")
        endpoint = None
        if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() != "true":
            endpoint = env.get("AWS_ENDPOINT_URL_ROUTE_53", "").strip() or env.get("AWS_ENDPOINT_URL", "").strip()
        config = Config(
            # Fix (issue #7): botocore's `max_attempts` counts *retries* (1 = one retry after the
            # first try), so every throttled or dropped call was sent twice before our policy saw
            # it. `total_max_attempts` counts the first try: 1 means botocore never retries.
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            # One connection per concurrent domain (botocore's default pool is 10).
            max_pool_connections=64,
        )
        try:
            # The boto3 Route 53 client; public so tests can hook its events.
            # Fix (issue #7): with an endpoint URL and no region configured, botocore can't pick a
            # signing region and every call raised NoRegionError, which escaped as a traceback.
            # Route 53 is global and signs with us-east-1; a configured region still wins.
            region = session.region_name or ("us-east-1" if endpoint else None)
            self.client: Any = session.client(
                "route53", config=config, endpoint_url=endpoint or None, region_name=region
            )
        except ValueError:  # botocore refuses an endpoint that is not a URL
            raise UsageError(
                f"the Route 53 endpoint {endpoint!r} is not a URL",
                hint="check AWS_ENDPOINT_URL_ROUTE_53 / AWS_ENDPOINT_URL",
            ) from None
        except BotoCoreError as exc:
            raise MissingCredentials(f"the AWS configuration could not be loaded ({type(exc).__name__})") from None
        self._zones: list[HostedZone] | None = None
        self._zones_lock = threading.Lock()
        self._raw: dict[tuple[str, str, str, int | None], str] = {}  # logical value → the Value Route 53 holds
        self._changes: dict[str, list[str]] = {}  # zone id → ChangeInfo.Id of applied batches
        self._insync: set[str] = set()
        self._sync_lock = threading.Lock()
        # zone id → name → records: a whole-zone listing, kept up to date with this run's own
        # writes (see the module's docstring), and the names to read afresh before using it.
        self._snapshots: dict[str, dict[str, list[Record]]] = {}
        self._stale: dict[str, set[str]] = {}
        self._snapshot_lock = threading.Lock()
        self._zone_locks: dict[str, threading.Lock] = {}

    def secrets(self) -> tuple[str, ...]:
        try:
            frozen = self._credentials.get_frozen_credentials()
        except Exception:  # a refresh that fails here fails again, with its own error, on the first call
            return ()
        return tuple(s for s in (frozen.access_key, frozen.secret_key, frozen.token) if s)

    # calls -------------------------------------------------------------------------------
    def _call(self, action: str, deadline: Deadline | None = None, **params: Any) -> dict[str, Any]:
        from botocore import xform_name
        from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        method = getattr(self.client, xform_name(action))

        def once() -> dict[str, Any]:
            with self.settings.limits.slot(SERVICE):  # 5 requests/s for the whole account
                try:
                    reply: dict[str, Any] = method(**params)
                except ClientError as exc:
                    raise self._error(action, exc) from None
                except NoCredentialsError:
                    raise MissingCredentials(f"no AWS credentials found: set {CREDENTIAL_VARIABLES}") from None
                except (BotoConnectionError, HTTPClientError) as exc:  # refused, reset, timed out
                    raise TransientError(
                        f"could not reach Route 53 ({type(exc).__name__})",
                        service=SERVICE,
                        action=action,
                        code="ClientNetworkError",
                    ) from None
            return reply

        return self.settings.retry.call(once, deadline)

    def _error(self, action: str, exc: Any) -> DnsbridgeError:
        response: Mapping[str, Any] = getattr(exc, "response", None) or {}
        error: Mapping[str, Any] = response.get("Error") or {}
        meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "Unknown")
        status = int(meta.get("HTTPStatusCode") or 0)
        message = redact(str(error.get("Message") or code), self.secrets())[:500]
        kwargs: dict[str, Any] = {
            "service": SERVICE,
            "action": action,
            "code": code,
            "request_id": meta.get("RequestId"),
        }
        if code in THROTTLING_CODES:
            return ThrottledError(message, **kwargs)
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(message, **kwargs)
        if code in AUTH_CODES:
            return AuthError(
                message,
                hint=f"check {CREDENTIAL_VARIABLES} (credentials came from: {self._credential_source}) and that "
                "they allow route53 actions",
                **kwargs,
            )
        if code == "NoSuchHostedZone":
            return ZoneNotFound(f"Route 53 {action}: {message}", hint="check --zone, or the credentials' account")
        return ApiError(message, **kwargs)

    # zones -------------------------------------------------------------------------------
    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        if zone is not None:
            zone_id = _zone_id(zone)
            if zone_id is not None:
                return self._zone_by_id(domain, zone_id)
            wanted = names.normalise(zone)
            public = [z for z in self.hosted_zones() if z.name == wanted and not z.private]
            if not public:
                raise ZoneNotFound(
                    f"no public Route 53 hosted zone named {wanted} is visible to these credentials",
                    hint="a private hosted zone is used only when --zone names its id",
                )
            chosen = self._one(wanted, public)
            _check_within(domain, chosen.name)
            return chosen.zone()
        public = [z for z in self.hosted_zones() if not z.private]
        match = longest_suffix(domain, {z.name for z in public})
        if match is None:
            raise zone_not_found(domain, self.name, len(public))
        return self._one(match, [z for z in public if z.name == match]).zone()

    def hosted_zones(self) -> list[HostedZone]:
        """Every hosted zone the credentials see, public and private; listed once per instance (run)."""
        with self._zones_lock:  # many domains' threads ask at once; one of them lists
            return self._list_zones()

    def _list_zones(self) -> list[HostedZone]:
        if self._zones is None:
            found: list[HostedZone] = []
            params: dict[str, Any] = {"MaxItems": str(ZONE_PAGE)}
            while True:
                reply = self._call("ListHostedZonesByName", **params)
                for item in reply.get("HostedZones") or []:
                    hosted = HostedZone.from_api(item)
                    if hosted is not None:
                        found.append(hosted)
                if not reply.get("IsTruncated"):
                    break
                after = {
                    "DNSName": reply.get("NextDNSName"),
                    "HostedZoneId": reply.get("NextHostedZoneId"),
                    "MaxItems": str(ZONE_PAGE),
                }
                if not after["DNSName"] or not after["HostedZoneId"] or after == params:
                    raise UnexpectedAnswer("Route 53 said the zone list goes on but gave no new position to go on from")
                params = after
            self._zones = found
        return self._zones

    def _one(self, name: str, zones: Sequence[HostedZone]) -> HostedZone:
        if len(zones) > 1:
            ids = ", ".join(z.id for z in zones)
            raise UsageError(
                f"{len(zones)} public Route 53 hosted zones are named {name} ({ids}); dnsbridge won't guess",
                hint="pass --zone ID with the id of the zone the domain is delegated to",
            )
        return zones[0]

    def _zone_by_id(self, domain: str, zone_id: str) -> Zone:
        # One GetHostedZone call, made only when --zone names an id: it also carries the
        # delegation set, so the zone's nameservers come for free here.
        reply = self._call("GetHostedZone", Id=zone_id)
        hosted = HostedZone.from_api(reply.get("HostedZone") or {})
        if hosted is None:
            raise UnexpectedAnswer(f"Route 53 returned hosted zone {zone_id} without a usable name")
        _check_within(domain, hosted.name)
        if hosted.private:
            log.warning(
                "%s: writing to PRIVATE hosted zone %s (%s); SES checks public DNS, so these records can't verify it",
                domain,
                hosted.name,
                hosted.id,
            )
        servers = tuple(
            str(s).rstrip(".").lower() for s in ((reply.get("DelegationSet") or {}).get("NameServers") or [])
        )
        return Zone(name=hosted.name, id=hosted.id, nameservers=servers, size=hosted.sets)

    # records -----------------------------------------------------------------------------
    def read(self, zone: Zone, names_: Sequence[str]) -> list[Record]:
        with self._snapshot_lock:
            snapshot = self._snapshots.get(zone.id)
            stale = self._stale.setdefault(zone.id, set())
            if snapshot is not None:
                fresh = [n for n in names_ if n in stale]
                out = [r for n in names_ if n not in stale for r in snapshot.get(n, ())]
        if snapshot is not None:
            for name in fresh:
                records = self._read_name(zone, name)
                self._remember(zone, {name: records})
                out.extend(records)
            return out
        # The listing is kept for the rest of the run, so it is weighed against the names of
        # every domain of the run, not only those of this round.
        if list_whole_zone(max(len(names_), NAMES_PER_DOMAIN * self.settings.domains), zone.size, RECORD_PAGE):
            # Many names (many domains of one run): one listing of the zone, 300 sets a page, is
            # fewer calls than one per name.
            listed = self._list_sets(zone, None, start=None)
            by_name: dict[str, list[Record]] = {}
            for record in listed:
                by_name.setdefault(record.name, []).append(record)
            with self._snapshot_lock:
                self._snapshots[zone.id] = by_name
                stale.clear()
            wanted = set(names_)
            return [r for r in listed if r.name in wanted]
        out = []
        for name in names_:
            out.extend(self._read_name(zone, name))
        return out

    def _read_name(self, zone: Zone, name: str) -> list[Record]:
        return self._list_sets(zone, {name}, start=name)

    def _remember(self, zone: Zone, sets: Mapping[str, list[Record]], rtype: str | None = None) -> None:
        """Put what was read or written at these names into the zone's listing, if it has one."""
        with self._snapshot_lock:
            snapshot = self._snapshots.get(zone.id)
            if snapshot is None:
                return
            for name, records in sets.items():
                kept = [r for r in snapshot.get(name, ()) if rtype is not None and r.type != rtype]
                snapshot[name] = kept + list(records)
                self._stale.setdefault(zone.id, set()).discard(name)

    def _list_sets(self, zone: Zone, names_: set[str] | None, start: str | None) -> list[Record]:
        """The record sets at `names_` (None: every name), listed from `start` (a position, not a
        filter: the list runs on in name order, so a listing from one name stops at the first
        other name)."""
        params: dict[str, Any] = {"HostedZoneId": zone.id, "MaxItems": str(RECORD_PAGE)}
        if start is not None:
            params["StartRecordName"] = start + "."
        found: list[Record] = []
        while True:
            reply = self._call("ListResourceRecordSets", **params)
            for rrset in reply.get("ResourceRecordSets") or []:
                name = decode_name(str(rrset.get("Name", "")))
                if name is not None and (names_ is None or name in names_):
                    found.extend(self._records(name, rrset))
                elif start is not None:
                    return found  # sorted by name: the sets at `start` are behind us
            next_name = decode_name(str(reply.get("NextRecordName", "")))
            if not reply.get("IsTruncated") or (start is not None and next_name != start):
                return found
            after = {
                "HostedZoneId": zone.id,
                "StartRecordName": reply["NextRecordName"],
                "StartRecordType": reply.get("NextRecordType"),
                "MaxItems": str(RECORD_PAGE),
            }
            if reply.get("NextRecordIdentifier"):
                after["StartRecordIdentifier"] = reply["NextRecordIdentifier"]
            if after == params:
                # moto pages without NextRecordIdentifier, so routing-policy sets of one name and
                # type that straddle a page would come back forever.
                raise UnexpectedAnswer(f"Route 53 listed zone {zone.name} from the same position twice")
            params = after

    def _records(self, name: str, rrset: Mapping[str, Any]) -> list[Record]:
        rtype = str(rrset.get("Type", "")).upper()
        identifier = str(rrset.get("SetIdentifier") or "")
        if rrset.get("AliasTarget"):
            kind = "alias"
        elif rrset.get("TrafficPolicyInstanceId"):
            kind = "traffic-policy"
        elif identifier:
            kind = "routing-policy"
        else:
            kind = SIMPLE
        ref = _ref(name, rtype, kind, identifier)
        if kind == "alias":
            target = _host(str(rrset["AliasTarget"].get("DNSName", "")))
            return [Record(name=name, type=rtype, value=target, ref=ref)]
        ttl = rrset.get("TTL")
        out = []
        for rr in rrset.get("ResourceRecords") or []:
            raw = str(rr.get("Value", ""))
            record = _record(name, rtype, raw, ttl, ref)
            if kind == SIMPLE:
                self._raw[(name, rtype, record.value, record.priority)] = raw
            out.append(record)
        return out

    # writes ------------------------------------------------------------------------------
    def apply(self, zone: Zone, plan: Plan) -> None:
        swaps = self._swaps(plan)
        if not swaps:
            return
        batches = _batches(swaps, f"dnsbridge: SES records for {plan.domain}")
        problems = [p for batch in batches for p in check_change_batch(batch, apex=zone.name)]
        if problems:  # found before any call, so nothing has changed
            raise ConflictError(
                f"Route 53 would reject the change to {zone.name}: {'; '.join(problems[:5])}",
                hint="nothing was changed",
            )
        if len(batches) > 1:
            log.info("%s: the change is larger than one Route 53 request; sending %d", zone.name, len(batches))
        for batch in batches:
            self._change(zone, batch)

    def _change(self, zone: Zone, batch: dict[str, Any]) -> None:
        written = [c["ResourceRecordSet"] for c in batch["Changes"] if c["Action"] != "DELETE"]
        try:
            reply = self._call("ChangeResourceRecordSets", HostedZoneId=zone.id, ChangeBatch=batch)
        except ApiError as exc:
            if exc.code != "InvalidChangeBatch" or not _ZONE_CHANGED.search(str(exc)):
                raise
            if self._holds(zone, written):
                # Refused because it is already done: an earlier attempt whose reply was lost.
                log.info("%s: the change was already in (an earlier attempt's reply was lost)", zone.name)
                return
            raise ZoneChanged(
                f"{zone.name} changed after it was read ({exc}); nothing was written",
                hint="run again: dnsbridge reads the zone afresh",
            ) from None
        change_id = str((reply.get("ChangeInfo") or {}).get("Id") or "")
        if change_id:
            with self._sync_lock:
                self._changes.setdefault(zone.id, []).append(change_id)
        for rrset in written:
            name = decode_name(str(rrset["Name"])) or ""
            self._remember(zone, {name: self._records(name, rrset)}, rtype=str(rrset["Type"]))

    def _holds(self, zone: Zone, written: Sequence[Mapping[str, Any]]) -> bool:
        """Whether the zone holds exactly these sets now (read afresh; the listing is updated)."""
        names_ = {decode_name(str(r["Name"])) or "" for r in written}
        with self._snapshot_lock:
            self._stale.setdefault(zone.id, set()).update(names_)
        current = {n: self._read_name(zone, n) for n in sorted(names_)}
        self._remember(zone, current)
        for rrset in written:
            name, rtype = decode_name(str(rrset["Name"])) or "", str(rrset["Type"])
            want = {(r.value, r.priority, r.ttl) for r in self._records(name, rrset)}
            simple = _ref(name, rtype)
            have = {(r.value, r.priority, r.ttl) for r in current[name] if r.type == rtype and r.ref == simple}
            if want != have:
                return False
        return True

    def _swaps(self, plan: Plan) -> list[_Swap]:
        """One compare-and-swap for each (name, type) the plan writes: what was read goes, the
        same plus the plan's change comes."""
        touched: dict[tuple[str, str], list[Change]] = {}
        for change in plan.writes:
            touched.setdefault((change.record.name, change.record.type), []).append(change)
        swaps = []
        for (name, rtype), changes in touched.items():
            here = [r for r in plan.current if r.name == name and r.type == rtype]
            foreign = sorted({_set_kind(r.ref) for r in here} - {SIMPLE})
            if foreign:
                raise ConflictError(
                    f"{name} has {rtype} records in {' and '.join(foreign)} record sets; dnsbridge writes only simple "
                    "record sets and never changes those (Route 53 can't hold a simple set beside them)",
                    hint="add the record by hand, or turn the set into a simple record set first",
                )
            values = list(here)
            for change in changes:
                at = None
                if change.action is Action.UPDATE and change.existing is not None:
                    at = next((i for i, r in enumerate(values) if r.same_data(change.existing)), None)
                if at is not None:
                    values[at] = change.record
                elif not any(r.same_data(change.record) for r in values):
                    values.append(change.record)
            ttl = (
                next((c.record.ttl for c in changes if c.record.ttl), None)
                or next((r.ttl for r in here if r.ttl), None)
                or self.settings.ttl
                or DEFAULT_TTL
            )
            encoded: list[str] = []
            for record in values:
                value = self._value(record)
                if value not in encoded:  # Route 53 refuses a set that holds a value twice
                    encoded.append(value)
            new = _rrset(name, rtype, int(ttl), encoded)
            old = self._as_read(name, rtype, here)
            swaps.append(_Swap(old=old, new=new, blind=bool(here) and old is None))
        return swaps

    def _as_read(self, name: str, rtype: str, here: Sequence[Record]) -> dict[str, Any] | None:
        """The set exactly as Route 53 holds it (its TTL and raw values), for a DELETE to match."""
        if not here:
            return None
        ttl = here[0].ttl
        raws = [self._raw.get((r.name, r.type, r.value, r.priority)) for r in here]
        if ttl is None or any(raw is None for raw in raws):
            return None  # not read from Route 53, which always gives a simple set's TTL and values
        return _rrset(name, rtype, ttl, [raw for raw in raws if raw is not None])

    def _value(self, record: Record) -> str:
        # A value read from the zone goes back exactly as Route 53 holds it (string boundaries
        # and escapes included), unless it would not pass Route 53's own rules.
        raw = self._raw.get((record.name, record.type, record.value, record.priority))
        if raw is not None and not check_value(record.type, raw):
            return raw
        return encode_value(record)

    def wait_synced(self, zone: Zone, deadline: Deadline) -> None:
        backoff = Backoff(base=1.0, cap=10.0, floor=0.5)
        # One thread polls a zone's changes while the others (domains whose records went out in
        # the same batch) wait for it; a change seen INSYNC is never asked about again.
        with self._sync_lock:
            lock = self._zone_locks.setdefault(zone.id, threading.Lock())
        with lock:
            self._wait_changes(zone, deadline, backoff)

    def _wait_changes(self, zone: Zone, deadline: Deadline, backoff: Backoff) -> None:
        for change_id in [c for c in self._changes.get(zone.id, []) if c not in self._insync]:
            attempt = 0
            while True:
                reply = self._call("GetChange", deadline, Id=change_id)
                status = str((reply.get("ChangeInfo") or {}).get("Status") or "")
                if status == "INSYNC":
                    log.debug("%s: change %s is INSYNC", zone.name, change_id)
                    self._insync.add(change_id)
                    break
                if deadline.expired():
                    log.info(
                        "%s: Route 53 change %s still %s at the deadline; the propagation check and SES decide",
                        zone.name,
                        change_id,
                        status or "unknown",
                    )
                    return
                self.settings.retry.sleep(min(backoff.delay(attempt), deadline.remaining()))
                attempt += 1


@dataclass(frozen=True)
class HostedZone:
    """One entry of ListHostedZonesByName (or GetHostedZone's HostedZone)."""

    id: str  # without the "/hostedzone/" prefix
    name: str  # normalised
    private: bool
    sets: int | None = None  # ResourceRecordSetCount

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> HostedZone | None:
        name = decode_name(str(item.get("Name", "")))
        if name is None:  # a wildcard-like or escaped name can't hold a sender domain
            return None
        zone_id = str(item.get("Id", ""))
        zone_id = zone_id[len(_PREFIX) :] if zone_id.startswith(_PREFIX) else zone_id
        count = item.get("ResourceRecordSetCount")
        sets = int(count) if isinstance(count, int | str) and str(count).isdigit() else None
        return cls(zone_id, name, bool((item.get("Config") or {}).get("PrivateZone")), sets)

    def zone(self) -> Zone:
        # Nameservers are left empty: ListHostedZonesByName doesn't carry them and a GetHostedZone
        # per domain would spend a call (of 5/s) on what the core resolves over DNS anyway.
        return Zone(name=self.name, id=self.id, size=self.sets)


# Route 53's presentation forms ---------------------------------------------------------------
def encode_txt(value: str) -> str:
    """A logical TXT value as Route 53 takes it: `"…" "…"`, ≤ 255 octets a string, octal escapes."""
    data = value.encode("utf-8", errors="surrogateescape")
    return " ".join(f'"{_escape(piece)}"' for piece in _chunks(data))


def decode_txt(value: str) -> str:
    """The logical value of Route 53 TXT data: strings unquoted, `\\X` and `\\ooo` (octal) decoded, joined.

    Unquoted words are taken as strings too (moto stores whatever it was sent).
    """
    return "".join(s.decode("utf-8", errors="surrogateescape") for s in _strings(value))


def decode_name(raw: str) -> str | None:
    """A record or zone name from Route 53 (`_dmarc.example.com.`, `\\052.example.com.`), normalised.

    None when it is no host name dnsbridge could have asked for (a wildcard, an escaped dot).
    """
    labels: list[bytes] = []
    label = bytearray()
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "\\" and i + 1 < n:
            digits = raw[i + 1 : i + 4]
            if len(digits) == 3 and all(c in "01234567" for c in digits):
                octet = int(digits, 8)
                if octet == 0x2E:  # a dot inside a label
                    return None
                label.append(octet)
                i += 4
                continue
            label.extend(raw[i + 1].encode("utf-8"))
            i += 2
            continue
        if ch == ".":
            labels.append(bytes(label))
            label = bytearray()
        else:
            label.extend(ch.encode("utf-8"))
        i += 1
    if label:
        labels.append(bytes(label))
    try:
        return names.normalise(".".join(lb.decode("utf-8") for lb in labels))
    except (InvalidDomain, UnicodeDecodeError):
        return None


def encode_value(record: Record) -> str:
    if record.type in TXT_TYPES:
        return encode_txt(record.value)
    if record.type == "MX":
        return f"{record.priority if record.priority is not None else 0} {record.value}."
    if record.type in HOST_TYPES:
        return record.value + "."
    return record.value


def _escape(data: bytes) -> str:
    out = []
    for byte in data:
        if byte in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _chunks(data: bytes, size: int = MAX_STRING_OCTETS) -> list[bytes]:
    """Pieces of at most `size` octets, never cut inside a UTF-8 sequence."""
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        back = end
        while back > start and back < len(data) and (data[back] & 0xC0) == 0x80:
            back -= 1
        end = back if back > start else end
        pieces.append(data[start:end])
        start = end
    return pieces or [b""]


def _strings(value: str) -> list[bytes]:
    strings: list[bytes] = []
    i, n = 0, len(value)
    while i < n:
        if value[i].isspace():
            i += 1
            continue
        quoted = value[i] == '"'
        i += 1 if quoted else 0
        buf = bytearray()
        while i < n:
            ch = value[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and ch.isspace():
                break
            if ch == "\\" and i + 1 < n:
                digits = value[i + 1 : i + 4]
                if len(digits) == 3 and all(c in "01234567" for c in digits):
                    buf.append(int(digits, 8) & 0xFF)
                    i += 4
                else:
                    buf.extend(value[i + 1].encode("utf-8"))
                    i += 2
                continue
            buf.extend(ch.encode("utf-8", errors="surrogateescape"))
            i += 1
        strings.append(bytes(buf))
    return strings


def _record(name: str, rtype: str, raw: str, ttl: Any, ref: str) -> Record:
    value, priority = raw, None
    if rtype in TXT_TYPES:
        value = decode_txt(raw)
    elif rtype == "MX":
        parts = raw.split()
        if len(parts) == 2 and parts[0].isdigit():
            priority, value = int(parts[0]), _host(parts[1])
    elif rtype in HOST_TYPES:
        value = _host(raw)
    return Record(name=name, type=rtype, value=value, priority=priority, ttl=int(ttl) if ttl else None, ref=ref)


def _host(raw: str) -> str:
    return decode_name(raw) or raw.strip().rstrip(".").lower()


def _set_kind(ref: str | None) -> str:
    parts = (ref or "").split("|")
    return parts[2] if len(parts) >= 4 else SIMPLE


def _zone_id(zone: str) -> str | None:
    text = zone.strip()
    if text.startswith(_PREFIX):
        return text[len(_PREFIX) :]
    return text if _ZONE_ID.match(text) else None


def _check_within(domain: str, zone: str) -> None:
    if not names.is_within(domain, zone):
        raise UsageError(f"{domain} is not in the zone {zone} given with --zone", hint="pass the zone that holds it")


@dataclass(frozen=True)
class _Swap:
    """One record set's write: DELETE `old` exactly as read and CREATE `new` (compare-and-swap),
    or CREATE `new` alone when nothing was there. `blind`: a set is there but wasn't read from
    Route 53 (no TTL or raw values to match), so it is replaced without a precondition."""

    old: dict[str, Any] | None
    new: dict[str, Any]
    blind: bool = False

    def changes(self) -> list[dict[str, Any]]:
        if self.blind:
            return [{"Action": "UPSERT", "ResourceRecordSet": self.new}]
        first = [{"Action": "DELETE", "ResourceRecordSet": self.old}] if self.old else []
        return [*first, {"Action": "CREATE", "ResourceRecordSet": self.new}]


def _rrset(name: str, rtype: str, ttl: int, values: Sequence[str]) -> dict[str, Any]:
    return {"Name": name + ".", "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}


def _ref(name: str, rtype: str, kind: str = SIMPLE, identifier: str = "") -> str:
    return "|".join((name, rtype, kind, identifier))


def _batches(swaps: Sequence[_Swap], comment: str) -> list[dict[str, Any]]:
    """The swaps packed into as few requests as Route 53's quotas allow; a set's DELETE and CREATE
    stay in one request, so each swap is atomic."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    values = chars = 0
    for swap in swaps:
        changes = swap.changes()
        weights = [(2 if c["Action"] == "UPSERT" else 1, c["ResourceRecordSet"]["ResourceRecords"]) for c in changes]
        size = sum(w * len(rrs) for w, rrs in weights)
        length = sum(w * len(rr["Value"]) for w, rrs in weights for rr in rrs)
        if size > MAX_REQUEST_VALUES or length > MAX_REQUEST_CHARS:
            rrset = swap.new
            raise ConflictError(
                f"the {rrset['Type']} set at {rrset['Name']} would hold {len(rrset['ResourceRecords'])} values of "
                f"{sum(len(rr['Value']) for rr in rrset['ResourceRecords'])} characters, more than one Route 53 "
                "request can carry (with the set it replaces)",
                hint="nothing was changed; trim the set by hand",
            )
        if current and (values + size > MAX_REQUEST_VALUES or chars + length > MAX_REQUEST_CHARS):
            batches.append(current)
            current, values, chars = [], 0, 0
        current.extend(changes)
        values += size
        chars += length
    if current:
        batches.append(current)
    return [{"Comment": comment[:256], "Changes": changes} for changes in batches]
