"""A local emulator of the Cloudflare v4 REST API, for the official `cloudflare` SDK.

Why it exists: dnsbridge's Cloudflare provider is tested through the real SDK against a server on
127.0.0.1 that speaks the real wire protocol (DESIGN.md, "Testing against real protocols"), and
the same server backs the sandbox. It writes into the shared :class:`ZoneStore`, so the local
authoritative DNS server answers with exactly what the provider wrote.

Point the SDK at it with ``Cloudflare(api_token=..., base_url=emu.base_url)``: the SDK appends
each path (``/zones/...``) to its base URL, so ``base_url`` ends in ``/client/v4`` like the real
``https://api.cloudflare.com/client/v4``.

Behaviour relied on, and where it comes from:

* Envelope ``{"success", "errors": [{"code", "message"}], "messages", "result", "result_info"}``
  with real HTTP statuses; the SDK raises by status (``BadRequestError`` for 400, ...) and exposes
  ``exc.errors[i].code`` (cloudflare/_exceptions.py). A 200 with ``success: false`` raises nothing,
  so every failure here has a 4xx/5xx status.
* Pagination (``SyncV4PagePaginationArray`` in cloudflare/pagination.py) asks for page+1 until a
  page comes back with no items; a page past the end is therefore a 200 with ``result: []``.
* 429 carries ``retry-after`` in seconds (the SDK sleeps for it when 0 < value <= 60,
  cloudflare/_base_client.py ``_calculate_retry_timeout``) and code 971.
* Error codes: 81058 identical record, 81053/81054 CNAME conflicts, 81044 unknown record,
  7003 unknown object identifier, 7000 no route, 10000 authentication error, 9207 invalid body,
  9005/9006/9007 invalid A/AAAA/CNAME content, 9004 not proxiable, 1004 "DNS Validation Error"
  (with an ``error_chain`` of 9021 for a bad TTL, as Cloudflare answers), 81061 combined TXT
  length over 8,192. Over-long single TXT content (> 2,048 characters, Cloudflare's documented
  per-record limit) has no publicly documented code: it is answered with 400 and code 1004 (the
  generic "DNS Validation Error"), so callers must key on the status, not on that code.
* TXT: Cloudflare stores the content it is sent. Quoted content is returned as sent, except that
  a character-string longer than 255 octets comes back split into 255-octet strings
  (terraform-provider-cloudflare#6238). Unquoted content is returned as sent (Cloudflare splits it
  only when serving DNS, dnscontrol#1543). Either way the ZoneStore gets presentation form:
  quoted strings of at most 255 octets.
* Batch (``POST /dns_records/batch``): deletes, patches, puts, posts, in that order, in one
  transaction: if any operation fails nothing is applied (SDK docstring of ``records.batch``).

Emulator choices (not Cloudflare facts): records are identical (81058) when type, name, DNS value
(and MX priority) are equal, which treats ``"a"`` and ``a`` as the same TXT record since DNS
would serve them identically; ``per_page`` outside the documented range is clamped, not refused;
validation failures that have no known code use 1004; only TXT, MX, CNAME, A, AAAA and NS are
accepted; proxying changes nothing in DNS.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from dnsbridge.sandbox.faults import Chaos, Fault, Kind, Request, body_key
from dnsbridge.sandbox.zones import StoredRecord, StoredZone, ZoneStore

__all__ = [
    "ALL_PERMISSIONS",
    "DNS_EDIT",
    "DNS_READ",
    "PROVIDER",
    "ZONE_READ",
    "Call",
    "CloudflareEmulator",
    "TokenSpec",
]

PROVIDER = "cloudflare"
API_PREFIX = "/client/v4"

ZONE_READ = "zone:read"
DNS_READ = "dns:read"
DNS_EDIT = "dns:edit"
ALL_PERMISSIONS: frozenset[str] = frozenset({ZONE_READ, DNS_READ, DNS_EDIT})

SUPPORTED_TYPES = frozenset({"A", "AAAA", "CNAME", "MX", "NS", "TXT"})
PROXIABLE_TYPES = frozenset({"A", "AAAA", "CNAME"})

# Documented limits: zones per_page 5..50 (default 20); DNS records per_page up to 5,000,000
# (default 100); TXT content <= 2,048 characters per record and <= 8,192 per name; batch <= 200
# operations on the Free plan; 1,200 requests per 5 minutes per user.
ZONES_PER_PAGE = (20, 5, 50)
RECORDS_PER_PAGE = (100, 1, 5_000_000)
TXT_MAX_CHARS = 2048
TXT_MAX_COMBINED_CHARS = 8192
DEFAULT_BATCH_LIMIT = 200
DEFAULT_RATE_LIMIT = (1200, 300.0)
# ttl=1 means "automatic", which Cloudflare serves as 300 seconds.
AUTOMATIC_TTL_SECONDS = 300
DEFAULT_NAMESERVERS = ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com")

_MESSAGES: dict[int, str] = {
    971: "Please wait and consider throttling your request speed",
    1004: "DNS Validation Error",
    6003: "Invalid request headers",
    7000: "No route for that URI",
    7001: "Method not allowed for this endpoint",
    9004: "This record type cannot be proxied.",
    9005: "Content for A record is invalid. Must be a valid IPv4 address",
    9006: "Content for AAAA record is invalid. Must be a valid IPv6 address",
    9007: "Content for CNAME record is invalid.",
    9207: "Request body is invalid.",
    10000: "Authentication error",
    81044: "Record does not exist.",
    81053: "An A, AAAA, or CNAME record with that host already exists.",
    81054: "A CNAME record with that host already exists.",
    81058: "An identical record already exists.",
    81061: "Combined content length of records with this name and type must not exceed 8192 characters.",
}

Clock = Callable[[], float]
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class TokenSpec:
    """What an API token may do: its permissions and which zones it was scoped to.

    `zones` holds zone names (None: every zone of `account`, or of every account when `account`
    is None). `dns:edit` implies `dns:read`. A zone is visible to a token that can see it at all,
    as Cloudflare lists the zones a token has any permission on.
    """

    permissions: frozenset[str] = ALL_PERMISSIONS
    zones: frozenset[str] | None = None
    account: str | None = None


class Call(NamedTuple):
    """One request as received: path without the `/client/v4` prefix, query, parsed JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class _Fault:
    status: int
    code: int
    message: str
    remaining: int
    retry_after: float | None
    method: str | None
    path_suffix: str | None


class ApiError(Exception):
    """A failure answered with Cloudflare's error envelope and a real HTTP status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        error_chain: list[JsonObject] | None = None,
        pointer: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message if message is not None else _MESSAGES.get(code, "Error")
        self.headers = dict(headers or {})
        self.error_chain = error_chain
        self.pointer = pointer
        super().__init__(f"{status} {code} {self.message}")

    def envelope(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.error_chain:
            error["error_chain"] = self.error_chain
        if self.pointer:
            error["source"] = {"pointer": self.pointer}
        return {"success": False, "errors": [error], "messages": [], "result": None}


def _validation(detail: str) -> ApiError:
    return ApiError(400, 1004, f"DNS Validation Error: {detail}")


@dataclass
class _Rec:
    """A record as the API sees it; `value` is its presentation form in the ZoneStore."""

    cf_id: str
    store_id: int | None
    name: str
    type: str
    content: str
    value: str
    ttl: int
    priority: int | None
    proxied: bool = False
    comment: str | None = None
    tags: list[str] = field(default_factory=list)
    settings: JsonObject = field(default_factory=dict)
    created_on: float = 0.0
    modified_on: float = 0.0
    comment_modified_on: float | None = None
    tags_modified_on: float | None = None

    def copy(self) -> _Rec:
        return replace(self, tags=list(self.tags), settings=dict(self.settings))

    def dns_key(self) -> tuple[str, str, str, int | None]:
        return (self.name, self.type, self.value, self.priority if self.type == "MX" else None)


# TXT presentation form ------------------------------------------------------------------------
_DDD = re.compile(r"[0-9]{3}")


def _parse_character_strings(content: str) -> list[bytes] | None:
    """`"a" "b"` → [b"a", b"b"]; None unless the whole content is quoted character-strings."""
    strings: list[bytes] = []
    i, n = 0, len(content)
    while True:
        while i < n and content[i] in " \t":
            i += 1
        if i >= n:
            return strings or None
        if content[i] != '"':
            return None
        i += 1
        buf = bytearray()
        while True:
            if i >= n:
                return None
            char = content[i]
            if char == '"':
                i += 1
                break
            if char == "\\":
                digits = content[i + 1 : i + 4]
                if _DDD.fullmatch(digits) and int(digits) <= 255:
                    buf.append(int(digits))
                    i += 4
                    continue
                if i + 1 >= n:
                    return None
                buf += content[i + 1].encode("utf-8")
                i += 2
                continue
            buf += char.encode("utf-8")
            i += 1
        strings.append(bytes(buf))


def _split_octets(data: bytes) -> list[bytes]:
    """RFC 1035 §3.3: a character-string is at most 255 octets, so longer data becomes several."""
    if not data:
        return [b""]
    return [data[i : i + 255] for i in range(0, len(data), 255)]


def _quote(data: bytes) -> str:
    """One character-string in zone-file presentation form (RFC 1035 §5.1 escapes)."""
    out = []
    for byte in data:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _txt_forms(content: str) -> tuple[str, str]:
    """(content the API returns, presentation value for the ZoneStore) for TXT content as sent."""
    strings = _parse_character_strings(content)
    if strings is None:
        # Unquoted: stored and returned as sent; DNS serves it as 255-octet strings.
        return content, " ".join(_quote(chunk) for chunk in _split_octets(content.encode("utf-8")))
    chunks = [chunk for s in strings for chunk in _split_octets(s)]
    value = " ".join(_quote(chunk) for chunk in chunks)
    if all(len(s) <= 255 for s in strings):
        return content, value
    return value, value


# Small helpers ----------------------------------------------------------------------------------
def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_id(*parts: object) -> str:
    return hashlib.md5(":".join(str(p) for p in parts).encode("utf-8"), usedforsecurity=False).hexdigest()


def _as_int(value: object, what: str) -> int:
    # The SDK types numbers as float (TTL, priority), so 300.0 must be read as 300.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _validation(f"{what} must be a number")
    if isinstance(value, float) and not value.is_integer():
        raise _validation(f"{what} must be an integer")
    return int(value)


def _query_int(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise _validation(f"{key} must be a number") from None
    if not number.is_integer():
        raise _validation(f"{key} must be an integer")
    return int(number)


def _paginate(
    items: list[JsonObject], query: Mapping[str, str], limits: tuple[int, int, int]
) -> tuple[list[JsonObject], JsonObject]:
    default, lowest, highest = limits
    page = max(1, _query_int(query, "page", 1))
    per_page = min(max(_query_int(query, "per_page", default), lowest), highest)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": math.ceil(len(items) / per_page),
    }
    return chunk, info


def _text_match(actual: str, op: str, wanted: str) -> bool:
    if op in ("exact", "equal"):
        return actual == wanted
    if op == "not_equal":
        return actual != wanted
    if op == "contains":
        return wanted in actual
    if op in ("startswith", "starts_with"):
        return actual.startswith(wanted)
    if op in ("endswith", "ends_with"):
        return actual.endswith(wanted)
    raise _validation(f"unknown filter operator {op!r}")


def _field_filter(attr: str, op: str, wanted: str) -> Callable[[_Rec], bool]:
    """`name.<op>=` / `content.<op>=` filters; names compare case-insensitively, like DNS."""
    if attr == "name":
        name = wanted.lower().rstrip(".")
        return lambda rec: _text_match(rec.name, op, name)
    return lambda rec: _text_match(rec.content, op, wanted)


class CloudflareEmulator:
    """Serves the Cloudflare v4 API for the ZoneStore's zones whose provider is "cloudflare".

    `tokens` maps each valid API token to a :class:`TokenSpec` or a bare set of permissions.
    `rate_limit` is (requests, window seconds) per token, None to disable; past it every request
    is answered 429 until a whole window has passed, as Cloudflare documents.
    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        store: ZoneStore,
        tokens: Mapping[str, TokenSpec | Iterable[str]],
        *,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        zones_per_page: tuple[int, int, int] = ZONES_PER_PAGE,
        records_per_page: tuple[int, int, int] = RECORDS_PER_PAGE,
        batch_limit: int = DEFAULT_BATCH_LIMIT,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.tokens: dict[str, TokenSpec] = {
            token: spec if isinstance(spec, TokenSpec) else TokenSpec(permissions=frozenset(spec))
            for token, spec in tokens.items()
        }
        self.rate_limit = rate_limit
        self.zones_per_page = zones_per_page
        self.records_per_page = records_per_page
        self.batch_limit = batch_limit
        self.clock: Clock = clock or store.clock
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        # Wire-level faults (dnsbridge.sandbox.faults): throttling, 5xx, drops, slow and lost replies.
        self.chaos = Chaos()
        self.throttled = 0
        self._hits: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._meta: dict[str, dict[int, _Rec]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._born = self.clock()

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> CloudflareEmulator:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="cloudflare-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Keep-alive connections would otherwise go on being served after stop().
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CloudflareEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What `Cloudflare(base_url=...)` / `CLOUDFLARE_BASE_URL` needs."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # test helpers ------------------------------------------------------------------------------
    def add_zone(
        self,
        name: str,
        *,
        account: str = "default",
        nameservers: tuple[str, ...] = DEFAULT_NAMESERVERS,
        zone_id: str | None = None,
    ) -> StoredZone:
        """Add a Cloudflare zone to the store with a 32-hex id, as Cloudflare's ids are."""
        return self.store.add_zone(
            name, PROVIDER, account=account, nameservers=nameservers, zone_id=zone_id or uuid.uuid4().hex
        )

    def count(self, method: str | None = None, path_suffix: str | None = None) -> int:
        """How many requests matched `method` and ended with `path_suffix` (None: any)."""
        with self._lock:
            return sum(
                1
                for call in self.calls
                if (method is None or call.method == method.upper())
                and (path_suffix is None or call.path.endswith(path_suffix))
            )

    def inject(
        self,
        status: int,
        code: int,
        message: str | None = None,
        *,
        times: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path_suffix: str | None = None,
    ) -> None:
        """Make the next `times` matching requests fail with `status` / `code`, before any check.

        `retry_after` (seconds) is sent as the `retry-after` header, as Cloudflare does on 429.
        """
        with self._lock:
            self._faults.append(
                _Fault(
                    status=status,
                    code=code,
                    message=message if message is not None else _MESSAGES.get(code, "Injected failure"),
                    remaining=times,
                    retry_after=retry_after,
                    method=method.upper() if method else None,
                    path_suffix=path_suffix,
                )
            )

    def record_id(self, zone_name: str, store_id: int) -> str:
        """The Cloudflare id the API shows for a ZoneStore record."""
        zone = self._zone_by_name(zone_name)
        with self._lock:
            for rec in self._load(zone).values():
                if rec.store_id == store_id:
                    return rec.cf_id
        raise KeyError(store_id)

    # request handling --------------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], JsonObject]:
        """Answer one HTTP request: (status, extra headers, JSON envelope). `headers` lower-case."""
        with self._lock:
            url = urlsplit(target)
            path = url.path
            relative = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            parsed: Any = None
            body_ok = True
            if body.strip():
                try:
                    parsed = json.loads(body)
                except ValueError:
                    body_ok = False
                    parsed = body.decode("utf-8", "replace")
            self.calls.append(Call(method.upper(), relative, query, parsed))
            try:
                self._take_fault(method.upper(), relative)
                if not path.startswith(API_PREFIX + "/"):
                    raise ApiError(404, 7000)
                token = self._authenticate(headers)
                self._count_request(token)
                if not body_ok:
                    raise ApiError(400, 9207)
                result, info = self._route(method.upper(), relative, query, parsed, self.tokens[token])
            except ApiError as err:
                return err.status, err.headers, err.envelope()
            envelope: JsonObject = {"success": True, "errors": [], "messages": [], "result": result}
            if info is not None:
                envelope["result_info"] = info
            return 200, {}, envelope

    def _take_fault(self, method: str, path: str) -> None:
        for fault in self._faults:
            if (fault.method is None or fault.method == method) and (
                fault.path_suffix is None or path.endswith(fault.path_suffix)
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = f"{fault.retry_after:g}"
                raise ApiError(fault.status, fault.code, fault.message, headers=headers)

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        authorization = headers.get("authorization")
        if authorization is None and ("x-auth-key" in headers or "x-auth-email" in headers):
            # The SDK sends email + key instead of the token when CLOUDFLARE_EMAIL is set; a token
            # is not a global API key, which Cloudflare rejects as a malformed header.
            raise ApiError(
                400,
                6003,
                error_chain=[{"code": 6103, "message": "Invalid format for X-Auth-Key header"}],
            )
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, 10000)
        token = authorization[len("Bearer ") :].strip()
        if token not in self.tokens:
            raise ApiError(401, 10000)
        return token

    def _count_request(self, token: str) -> None:
        if self.rate_limit is None:
            return
        limit, window = self.rate_limit
        now = self.clock()
        blocked = self._blocked_until.get(token)
        if blocked is not None and now < blocked:
            raise self._throttled(blocked - now)
        hits = self._hits.setdefault(token, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            # Cloudflare: past the limit, every call is blocked for the next window.
            self._blocked_until[token] = now + window
            hits.clear()
            raise self._throttled(window)
        hits.append(now)

    def _throttled(self, wait: float) -> ApiError:
        self.throttled += 1  # rate-limit answers sent (benchmarks assert there are none)
        return ApiError(429, 971, headers={"retry-after": str(max(1, math.ceil(wait)))})

    def _route(
        self, method: str, path: str, query: Mapping[str, str], body: Any, spec: TokenSpec
    ) -> tuple[Any, JsonObject | None]:
        parts = [p for p in path.split("/") if p]
        if parts == ["zones"]:
            self._allow(method, "GET")
            return self._list_zones(query, spec)
        if len(parts) >= 2 and parts[0] == "zones":
            if len(parts) == 2:
                self._allow(method, "GET")
                return self._zone_json(self._zone(parts[1], spec, None)), None
            if parts[2] == "dns_records" and len(parts) == 3:
                self._allow(method, "GET", "POST")
                if method == "GET":
                    zone = self._zone(parts[1], spec, DNS_READ)
                    return self._list_records(zone, query)
                zone = self._zone(parts[1], spec, DNS_EDIT)
                return self._write(zone, lambda ws: self._post(zone, ws, self._body(body))), None
            if parts[2] == "dns_records" and len(parts) == 4 and parts[3] == "batch":
                self._allow(method, "POST")
                zone = self._zone(parts[1], spec, DNS_EDIT)
                return self._batch(zone, self._body(body)), None
            if parts[2] == "dns_records" and len(parts) == 4:
                self._allow(method, "GET", "PATCH", "PUT", "DELETE")
                return self._record_route(method, parts[1], parts[3], body, spec), None
        raise ApiError(404, 7000)

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, 7001)

    @staticmethod
    def _body(body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise ApiError(400, 9207)
        return body

    def _record_route(self, method: str, zone_id: str, rid: str, body: Any, spec: TokenSpec) -> JsonObject:
        if method == "GET":
            zone = self._zone(zone_id, spec, DNS_READ)
            ws = self._load(zone)
            return self._record_json(zone, self._find(ws, rid, zone_id))
        zone = self._zone(zone_id, spec, DNS_EDIT)
        if method == "DELETE":
            return self._write(zone, lambda ws: {"id": self._delete(ws, rid, zone_id).cf_id})
        fields = self._body(body)
        if method == "PATCH":
            return self._write(zone, lambda ws: self._replace(zone, ws, rid, fields, merge=True))
        return self._write(zone, lambda ws: self._replace(zone, ws, rid, fields, merge=False))

    # zones -------------------------------------------------------------------------------------
    def _visible(self, spec: TokenSpec, zone: StoredZone) -> bool:
        return (
            zone.provider == PROVIDER
            and (spec.account is None or zone.account == spec.account)
            and (spec.zones is None or zone.name in spec.zones)
        )

    def _zone(self, zone_id: str, spec: TokenSpec, permission: str | None) -> StoredZone:
        zone = self.store.zone_by_id(zone_id)
        if zone is None or zone.provider != PROVIDER:
            raise ApiError(
                404, 7003, f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
            )
        if not self._visible(spec, zone):
            raise ApiError(403, 10000)
        granted = set(spec.permissions)
        if DNS_EDIT in granted:
            granted.add(DNS_READ)
        if permission is not None and permission not in granted:
            raise ApiError(403, 10000)
        return zone

    def _zone_by_name(self, name: str) -> StoredZone:
        zone = self.store.zone(name)
        if zone is None or zone.provider != PROVIDER:
            raise KeyError(name)
        return zone

    def _list_zones(self, query: Mapping[str, str], spec: TokenSpec) -> tuple[list[JsonObject], JsonObject]:
        zones = [z for z in self.store.zones(provider=PROVIDER) if self._visible(spec, z)]
        if "name" in query:
            # `name` is an exact match unless it starts with an operator ("contains:foo").
            op, sep, wanted = query["name"].partition(":")
            if not sep or op not in ("equal", "not_equal", "starts_with", "ends_with", "contains"):
                op, wanted = "equal", query["name"]
            zones = [z for z in zones if _text_match(z.name, op, wanted.lower().rstrip("."))]
        if "status" in query and query["status"] != "active":
            zones = []
        if "account.id" in query:
            zones = [z for z in zones if _hex_id("account", z.account) == query["account.id"]]
        if "account.name" in query:
            zones = [z for z in zones if z.account == query["account.name"]]
        zones.sort(key=lambda z: z.name, reverse=query.get("direction") == "desc")
        return _paginate([self._zone_json(z) for z in zones], query, self.zones_per_page)

    def _zone_json(self, zone: StoredZone) -> JsonObject:
        born = _timestamp(self._born)
        return {
            "id": zone.id,
            "name": zone.name,
            "status": "active",
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": list(zone.nameservers or DEFAULT_NAMESERVERS),
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "vanity_name_servers": [],
            "account": {"id": _hex_id("account", zone.account), "name": zone.account},
            "owner": {"id": None, "type": "user", "name": None},
            "plan": {
                "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                "name": "Free Website",
                "price": 0,
                "currency": "USD",
                "frequency": "",
                "is_subscribed": False,
                "can_subscribe": False,
                "legacy_id": "free",
                "legacy_discount": False,
                "externally_managed": False,
            },
            "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": False},
            "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
            "created_on": born,
            "modified_on": born,
            "activated_on": born,
        }

    # records: state ----------------------------------------------------------------------------
    def _load(self, zone: StoredZone) -> dict[str, _Rec]:
        """The zone's records as the API sees them (copies), synced with the store.

        Records put into the store by someone else (seeding, other tools) get an id and API
        fields on first sight, so the store stays the single source of truth.
        """
        meta = self._meta.setdefault(zone.name, {})
        seen: dict[int, _Rec] = {}
        for stored in self.store.records(zone.name):
            rec = meta.get(stored.id)
            if rec is None or rec.dns_key() != (stored.name, stored.type, stored.value, self._priority(stored)):
                rec = self._from_store(zone, stored, rec)
            seen[stored.id] = rec
        meta.clear()
        meta.update(seen)
        return {rec.cf_id: rec.copy() for rec in seen.values()}

    @staticmethod
    def _priority(stored: StoredRecord) -> int | None:
        return stored.priority if stored.type == "MX" else None

    def _from_store(self, zone: StoredZone, stored: StoredRecord, old: _Rec | None) -> _Rec:
        return _Rec(
            cf_id=old.cf_id if old else _hex_id(zone.id, stored.id),
            store_id=stored.id,
            name=stored.name,
            type=stored.type,
            content=stored.value,
            value=stored.value,
            ttl=stored.ttl,
            priority=self._priority(stored),
            created_on=old.created_on if old else stored.updated_at,
            modified_on=stored.updated_at,
        )

    def _write(self, zone: StoredZone, operation: Callable[[dict[str, _Rec]], JsonObject]) -> JsonObject:
        """Run `operation` on a working copy; commit to the store only if it raised nothing."""
        before = self._load(zone)
        working = {cf_id: rec.copy() for cf_id, rec in before.items()}
        result = operation(working)
        self._commit(zone, before, working)
        return result

    def _commit(self, zone: StoredZone, before: dict[str, _Rec], after: dict[str, _Rec]) -> None:
        meta = self._meta.setdefault(zone.name, {})
        for cf_id, rec in before.items():
            if cf_id not in after and rec.store_id is not None:
                self.store.delete(zone.name, rec.store_id)
                meta.pop(rec.store_id, None)
        for cf_id, rec in after.items():
            ttl = AUTOMATIC_TTL_SECONDS if rec.ttl == 1 else rec.ttl
            candidate = StoredRecord(
                id=rec.store_id or 0, name=rec.name, type=rec.type, value=rec.value, ttl=ttl, priority=rec.priority
            )
            if rec.store_id is None:
                rec.store_id = self.store.add(zone.name, candidate).id
            elif before.get(cf_id) != rec:
                self.store.modify(zone.name, candidate)
            meta[rec.store_id] = rec.copy()

    def _find(self, ws: dict[str, _Rec], rid: str, zone_id: str) -> _Rec:
        if not re.fullmatch(r"[0-9a-f]{32}", rid):
            raise ApiError(
                404,
                7003,
                f"Could not route to /zones/{zone_id}/dns_records/{rid}, perhaps your object identifier is invalid?",
            )
        rec = ws.get(rid)
        if rec is None:
            raise ApiError(404, 81044)
        return rec

    # records: operations -----------------------------------------------------------------------
    def _post(self, zone: StoredZone, ws: dict[str, _Rec], fields: JsonObject) -> JsonObject:
        now = self.clock()
        rec = self._build(zone, fields, None, now)
        self._check_conflicts(ws, rec)
        ws[rec.cf_id] = rec
        return self._record_json(zone, rec)

    def _replace(
        self, zone: StoredZone, ws: dict[str, _Rec], rid: str, fields: JsonObject, *, merge: bool
    ) -> JsonObject:
        """PATCH (`merge`: absent fields keep their values) or PUT (the record is overwritten)."""
        old = self._find(ws, rid, zone.id)
        rec = self._build(zone, fields, old, self.clock(), merge=merge)
        self._check_conflicts(ws, rec)
        ws[rid] = rec
        return self._record_json(zone, rec)

    def _delete(self, ws: dict[str, _Rec], rid: str, zone_id: str) -> _Rec:
        rec = self._find(ws, rid, zone_id)
        del ws[rid]
        return rec

    def _batch(self, zone: StoredZone, body: JsonObject) -> JsonObject:
        ops: dict[str, list[JsonObject]] = {}
        for key in ("deletes", "patches", "puts", "posts"):
            items = body.get(key) or []
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise ApiError(400, 9207)
            ops[key] = items
        if sum(len(items) for items in ops.values()) > self.batch_limit:
            raise _validation(f"a batch may hold at most {self.batch_limit} operations")

        def run(ws: dict[str, _Rec]) -> JsonObject:
            result: JsonObject = {key: [] for key in ops}
            for key, items in ops.items():
                for index, item in enumerate(items):
                    try:
                        result[key].append(self._batch_op(zone, ws, key, item))
                    except ApiError as err:
                        err.pointer = f"/{key}/{index}"
                        raise
            return result

        # _write commits only when every operation succeeded: all or nothing.
        return self._write(zone, run)

    def _batch_op(self, zone: StoredZone, ws: dict[str, _Rec], key: str, item: JsonObject) -> JsonObject:
        if key == "posts":
            return self._post(zone, ws, item)
        rid = item.get("id")
        if not isinstance(rid, str):
            raise _validation(f"{key} entries need an id")
        if key == "deletes":
            return self._record_json(zone, self._delete(ws, rid, zone.id))
        fields = {k: v for k, v in item.items() if k != "id"}
        return self._replace(zone, ws, rid, fields, merge=key == "patches")

    def _build(
        self, zone: StoredZone, fields: JsonObject, old: _Rec | None, now: float, *, merge: bool = False
    ) -> _Rec:
        """Validate `fields` (merged over `old` for PATCH) into a record; raises ApiError."""
        base: JsonObject = {}
        if old is not None and merge:
            base = {
                "name": old.name,
                "type": old.type,
                "content": old.content,
                "ttl": old.ttl,
                "priority": old.priority,
                "proxied": old.proxied,
                "comment": old.comment,
                "tags": old.tags,
                "settings": old.settings,
            }
        data = {**base, **{k: v for k, v in fields.items() if v is not None or k == "comment"}}

        rtype = data.get("type")
        if not isinstance(rtype, str) or not rtype:
            raise _validation("type is required")
        rtype = rtype.upper()
        if rtype not in SUPPORTED_TYPES:
            raise _validation(f"record type {rtype} is not supported by this emulator")
        name = self._fqdn(zone, data.get("name"))
        content = data.get("content")
        if not isinstance(content, str) or content == "":
            raise _validation("content is required")
        ttl = _as_int(data.get("ttl", 1), "ttl")
        if ttl != 1 and not 60 <= ttl <= 86400:
            raise ApiError(
                400,
                1004,
                error_chain=[
                    {
                        "code": 9021,
                        "message": "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for automatic.",
                    }
                ],
            )
        proxied = data.get("proxied", False)
        if not isinstance(proxied, bool):
            raise _validation("proxied must be a boolean")
        if proxied and rtype not in PROXIABLE_TYPES:
            raise ApiError(400, 9004)
        priority: int | None = None
        if rtype == "MX":
            if data.get("priority") is None:
                raise _validation("priority is required for MX records")
            priority = _as_int(data["priority"], "priority")
            if not 0 <= priority <= 65535:
                raise _validation("priority must be between 0 and 65535")
        api_content, value = self._content(rtype, content)
        comment = data.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise _validation("comment must be a string")
        tags = data.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _validation("tags must be a list of strings")
        settings = data.get("settings", {})
        if not isinstance(settings, dict):
            raise _validation("settings must be an object")
        return _Rec(
            cf_id=old.cf_id if old else uuid.uuid4().hex,
            store_id=old.store_id if old else None,
            name=name,
            type=rtype,
            content=api_content,
            value=value,
            ttl=ttl,
            priority=priority,
            proxied=proxied,
            comment=comment or None,
            tags=list(tags),
            settings=dict(settings),
            created_on=old.created_on if old else now,
            modified_on=now,
            comment_modified_on=now
            if comment and (old is None or old.comment != comment)
            else (old.comment_modified_on if old else None),
            tags_modified_on=now
            if tags and (old is None or old.tags != tags)
            else (old.tags_modified_on if old else None),
        )

    @staticmethod
    def _fqdn(zone: StoredZone, raw: object) -> str:
        """Cloudflare takes "@", a name relative to the zone, or the full name; returns the full one."""
        if not isinstance(raw, str) or not raw.strip():
            raise _validation("name is required")
        name = raw.strip().rstrip(".").lower()
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            raise _validation(f"name {raw!r} is not a valid host name") from None
        if name == "@":
            name = zone.name
        elif name != zone.name and not name.endswith("." + zone.name):
            name = f"{name}.{zone.name}"
        labels = name.split(".")
        if len(name) > 253 or any(not re.fullmatch(r"[a-z0-9_*]([a-z0-9_-]{0,61}[a-z0-9_])?", lb) for lb in labels):
            raise _validation(f"name {raw!r} is not a valid host name")
        return name

    @staticmethod
    def _content(rtype: str, content: str) -> tuple[str, str]:
        """(content the API returns, ZoneStore presentation value), validated per type."""
        if rtype == "TXT":
            if len(content) > TXT_MAX_CHARS:
                raise _validation(f"content for TXT record must be {TXT_MAX_CHARS:,} characters or less")
            return _txt_forms(content)
        if rtype == "A":
            try:
                address = str(ipaddress.IPv4Address(content.strip()))
            except ValueError:
                raise ApiError(400, 9005) from None
            return address, address
        if rtype == "AAAA":
            try:
                address = str(ipaddress.IPv6Address(content.strip()))
            except ValueError:
                raise ApiError(400, 9006) from None
            return address, address
        host = content.strip().rstrip(".").lower()
        if not re.fullmatch(r"[a-z0-9_*-]+(\.[a-z0-9_-]+)*", host) or len(host) > 253:
            if rtype == "CNAME":
                raise ApiError(400, 9007)
            raise _validation(f"content for {rtype} record must be a host name")
        return host, host

    def _check_conflicts(self, ws: dict[str, _Rec], rec: _Rec) -> None:
        others = [r for r in ws.values() if r.cf_id != rec.cf_id and r.name == rec.name]
        if rec.type == "CNAME" and others:
            raise ApiError(400, 81053)
        if rec.type != "CNAME" and any(r.type == "CNAME" for r in others):
            raise ApiError(400, 81054)
        if any(r.dns_key() == rec.dns_key() for r in others):
            raise ApiError(400, 81058)
        if rec.type == "TXT":
            combined = len(rec.content) + sum(len(r.content) for r in others if r.type == "TXT")
            if combined > TXT_MAX_COMBINED_CHARS:
                raise ApiError(400, 81061)

    def _list_records(self, zone: StoredZone, query: Mapping[str, str]) -> tuple[list[JsonObject], JsonObject]:
        records = list(self._load(zone).values())
        records.sort(key=lambda r: r.store_id or 0)
        checks: list[Callable[[_Rec], bool]] = []
        if "type" in query:
            wanted_type = query["type"].upper()
            checks.append(lambda r: r.type == wanted_type)
        if "proxied" in query:
            wanted_proxied = query["proxied"].lower() == "true"
            checks.append(lambda r: r.proxied == wanted_proxied)
        for key, value in query.items():
            attr, _, op = key.partition(".")
            if attr not in ("name", "content"):
                continue
            op = op or "exact"
            checks.append(_field_filter(attr, op, value))
        if query.get("match") == "any" and checks:
            records = [r for r in records if any(check(r) for check in checks)]
        else:
            records = [r for r in records if all(check(r) for check in checks)]
        order = query.get("order")
        if order in ("type", "name", "content", "ttl", "proxied"):
            records.sort(key=lambda r: getattr(r, order), reverse=query.get("direction") == "desc")
        return _paginate([self._record_json(zone, r) for r in records], query, self.records_per_page)

    def _record_json(self, zone: StoredZone, rec: _Rec) -> JsonObject:
        out: JsonObject = {
            "id": rec.cf_id,
            "zone_id": zone.id,
            "zone_name": zone.name,
            "name": rec.name,
            "type": rec.type,
            "content": rec.content,
            "proxiable": rec.type in PROXIABLE_TYPES,
            "proxied": rec.proxied,
            "ttl": rec.ttl,
            "settings": dict(rec.settings),
            "meta": {},
            "comment": rec.comment,
            "tags": list(rec.tags),
            "created_on": _timestamp(rec.created_on),
            "modified_on": _timestamp(rec.modified_on),
        }
        if rec.type == "MX":
            out["priority"] = rec.priority
        if rec.comment_modified_on is not None:
            out["comment_modified_on"] = _timestamp(rec.comment_modified_on)
        if rec.tags_modified_on is not None:
            out["tags_modified_on"] = _timestamp(rec.tags_modified_on)
        return out


# HTTP plumbing ------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections must not make server_close() wait; stop() closes them instead.
    block_on_close = False


def _handler_for(emulator: CloudflareEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 so the SDK's httpx client can keep its connection alive between requests.
        protocol_version = "HTTP/1.1"
        server_version = "cloudflare"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
            # and delayed ACKs add ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with emulator._lock:
                emulator._connections.add(self.connection)

        def finish(self) -> None:
            with emulator._lock:
                emulator._connections.discard(self.connection)
            super().finish()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            path = urlsplit(self.path).path
            folded = "/".join("{id}" if len(p) == 32 else p for p in path.split("/"))
            fault = emulator.chaos.decide(
                Request(
                    PROVIDER,
                    f"{self.command} {folded}",
                    write=self.command != "GET" and "/dns_records" in path,
                    key=body_key(self.command, self.path, body),
                    body=body,
                    credential=headers.get("authorization", ""),
                )
            )
            if fault is not None and fault.kind not in (Kind.SLOW, Kind.LOST_REPLY):
                self._fault(fault)
                return
            if fault is not None and fault.kind is Kind.SLOW:
                time.sleep(fault.delay)
            status, extra, payload = emulator.handle(self.command, self.path, headers, body)
            if fault is not None and fault.kind is Kind.LOST_REPLY:
                self._drop(fault)
                return
            self._send(status, extra, payload)

        def _drop(self, fault: Fault) -> None:
            if fault.then is not None:
                fault.then()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _fault(self, fault: Fault) -> None:
            if fault.kind is Kind.DROP:
                self._drop(fault)
            elif fault.kind is Kind.THROTTLE:
                error = ApiError(429, 971, headers={"retry-after": f"{fault.retry_after:g}"})
                self._send(error.status, error.headers, error.envelope())
            elif fault.kind is Kind.SERVER:
                self._send(503, {}, ApiError(503, 10001, "Service unavailable").envelope())
            elif fault.kind is Kind.DENY:
                credential = self.headers.get("Authorization") or ""
                self._send(403, {}, ApiError(403, 10000, f"Authentication error ({credential})").envelope())

        def _send(self, status: int, extra: Mapping[str, str], payload: JsonObject) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler
