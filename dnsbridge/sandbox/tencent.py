"""An HTTP emulator of Tencent Cloud SES (2020-10-02) and DNSPod (2021-03-23).

The real SDK clients talk to it unchanged (HttpProfile(protocol="http", endpoint="127.0.0.1:PORT")),
so a test exercises the SDK's signing, error parsing and retry behaviour too. Each service gets its
own port (`ses_endpoint`, `dnspod_endpoint`); a request whose credential scope names the other
service fails its signature check, as it would at the real gateway.

What the services document is reproduced as documented (API-FACTS.md, the SDK's errorcodes.py and
models.py docstrings). Where the real behaviour is unconfirmed, the emulator takes the reading that
is stricter on the client, and each such place says so in a comment marked "Unconfirmed".

Wire rules every reply follows (API-FACTS, "wire protocol"): HTTP 200, `Content-Type:
application/json` exactly (the SDK only raises for that exact type), body `{"Response": {...,
"RequestId"}}`, errors as `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`.
"""

from __future__ import annotations

import base64
import bisect
import collections
import contextlib
import hashlib
import ipaddress
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

from dnsbridge.sandbox.faults import Chaos, Kind, Request, body_key
from dnsbridge.sandbox.faults import Fault as WireFault
from dnsbridge.sandbox.tc3 import Credentials, TC3Error, TC3Verifier
from dnsbridge.sandbox.zones import Clock, StoredRecord, StoredZone, ZoneStore

SES = "ses"
DNSPOD = "dnspod"
VERSIONS = {SES: "2020-10-02", DNSPOD: "2021-03-23"}
# The provider name under which DNSPod-hosted zones are kept in the shared ZoneStore.
DNSPOD_PROVIDER = "dnspod"

# API-FACTS: ap-singapore (international site), ap-guangzhou and ap-hongkong.
DEFAULT_REGIONS = frozenset({"ap-singapore", "ap-guangzhou", "ap-hongkong"})
# API-FACTS / console docs: 10 sender domains per account.
MAX_IDENTITIES = 10

SES_MX_HOST = "mxbiz1.qq.com"
SES_SPF_VALUE = "v=spf1 include:qcloudmail.com ~all"
SES_SPF_INCLUDE = "include:qcloudmail.com"
SES_DMARC_VALUE = "v=DMARC1; p=none"
# API-FACTS lists selectors seen on the console (qcloud, qcloudgz1024, qcloudgz2048, ...); which one
# the API picks per region and key size is unconfirmed, so one per key size is used everywhere.
DKIM_SELECTORS = {0: "qcloud", 1: "qcloudgz2048"}
DKIM_BITS = {0: 1024, 1: 2048}

# API-FACTS: "20 requests/s per action" (SES); DNSPod: Create/Modify/DeleteRecord 500/s,
# DescribeRecordList 100/s, the others 20/s.
DEFAULT_RATE = 20.0
DEFAULT_RATE_LIMITS: dict[str, float] = {
    "CreateRecord": 500.0,
    "ModifyRecord": 500.0,
    "DeleteRecord": 500.0,
    "DescribeRecordList": 100.0,
}
# API-FACTS: SES answers RequestLimitExceeded, DNSPod RequestLimitExceeded.RequestLimitExceeded.
RATE_LIMIT_CODES = {SES: "RequestLimitExceeded", DNSPOD: "RequestLimitExceeded.RequestLimitExceeded"}
# Calls that change something: what the fault tests count as writes.
WRITE_ACTIONS = frozenset(
    {"CreateRecord", "ModifyRecord", "DeleteRecord", "CreateEmailIdentity", "DeleteEmailIdentity"}
)
# A hook that rewrites the Attributes SES answers (tests of unexpected answers): (identity, attributes) → attributes.
AttributeTamper = Callable[["Identity", list[dict[str, Any]]], list[dict[str, Any]]]

# Unconfirmed: DNSPod's maximum TXT value length. API-FACTS' 512 is not established; 2048 is a
# guess chosen so that a 2048-bit DKIM key (~410 characters) is accepted.
TXT_MAX_LENGTH = 2048
# The free plan's minimum TTL is 600 (LimitExceeded.RecordTtlLimit below it); the SDK documents a
# maximum of 604800.
TTL_MIN, TTL_MAX, TTL_DEFAULT = 600, 604800, 600
# models.py (CreateRecordRequest.MX): "范围0-65535", required for MX records.
MX_MIN, MX_MAX = 0, 65535
DEFAULT_LINE, DEFAULT_LINE_ID = "默认", "0"
RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "NS", "CAA", "SRV"})
# Unconfirmed: the SDK lists no code for a CNAME sharing a name with other data. The legacy
# DNSPod API answered code 31 "存在冲突的记录(A记录、CNAME记录、URL记录不能共存)". The generic
# documented `FailedOperation` is used, never DomainRecordExist, so a client that treats "already
# exists" as success can't mistake a conflict for one.
CNAME_CONFLICT_CODE = "FailedOperation"
DNSPOD_DEFAULT_NS = ("f1g1ns1.dnspod.net", "f1g1ns2.dnspod.net")
_BEIJING = timezone(timedelta(hours=8))

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SUB_LABEL = re.compile(r"^(\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")


class ApiError(Exception):
    """An error the service reports in `Response.Error`."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code


class Call(NamedTuple):
    service: str
    action: str
    params: dict[str, Any]


# A fault hook sees every authenticated call and may answer it with an error instead.
Fault = Callable[[str, str, dict[str, Any]], ApiError | None]


@dataclass
class InjectedFault:
    """Answer the next `times` calls of `action` (optionally of one service) with `code`."""

    action: str
    code: str
    times: int = 1
    message: str = ""
    service: str | None = None

    def __call__(self, service: str, action: str, params: dict[str, Any]) -> ApiError | None:
        if self.times <= 0 or action != self.action or (self.service and service != self.service):
            return None
        self.times -= 1
        return ApiError(self.code, self.message or f"Injected fault {self.code}.")


@dataclass
class Identity:
    domain: str
    account: str
    dkim_option: int
    tags: list[dict[str, str]] = field(default_factory=list)
    verified: bool = False

    @property
    def dkim_name(self) -> str:
        return f"{DKIM_SELECTORS[self.dkim_option]}._domainkey.{self.domain}"

    @property
    def dkim_value(self) -> str:
        return f"v=DKIM1; k=rsa; p={fake_rsa_public_key(self.account + '/' + self.domain, DKIM_BITS[self.dkim_option])}"


# --- helpers shared with the DNS side --------------------------------------------------------


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def fake_rsa_public_key(seed: str, bits: int) -> str:
    """Base64 of a well-formed RSA SubjectPublicKeyInfo whose modulus is derived from `seed`.

    Not a usable key: what matters is that the value has the real size (216 base64 characters
    for 1024 bits, 392 for 2048, so a 2048-bit DKIM record needs two TXT character-strings) and
    is stable per identity.
    """
    stream = b""
    counter = 0
    while len(stream) < bits // 8:
        stream += hashlib.sha256(f"{seed}:{bits}:{counter}".encode()).digest()
        counter += 1
    modulus = bytearray(stream[: bits // 8])
    modulus[0] |= 0x80
    modulus[-1] |= 0x01
    rsa_key = _der(0x30, _der(0x02, b"\x00" + bytes(modulus)) + _der(0x02, (65537).to_bytes(3, "big")))
    algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    spki = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_key))
    return base64.b64encode(spki).decode("ascii")


def txt_to_presentation(value: str) -> str:
    """A bare TXT value as zone-file character-strings: quoted, ≤ 255 octets each (RFC 1035 3.3.14).

    `"` and `\\` are escaped; bytes outside printable ASCII become `\\DDD`, so the result parses
    with dnspython whatever the value holds.
    """
    data = value.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        text = "".join(
            "\\" + chr(b) if chr(b) in '"\\' else chr(b) if 0x20 <= b < 0x7F else f"\\{b:03d}" for b in chunk
        )
        out.append(f'"{text}"')
    return " ".join(out)


def txt_from_presentation(value: str) -> str:
    """Join a presentation-form TXT value's character-strings back into the bare value.

    Deliberately not dnsbridge.txt's codec: an emulator that shared the client's parser would
    agree with the client's bugs instead of catching them.
    """
    strings: list[bytes] = []
    i, n = 0, len(value)
    while i < n:
        if value[i].isspace():
            i += 1
            continue
        quoted = value[i] == '"'
        if quoted:
            i += 1
        buf = bytearray()
        while i < n:
            ch = value[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and ch.isspace():
                break
            if ch == "\\" and i + 1 < n:
                if re.fullmatch(r"[0-9]{3}", value[i + 1 : i + 4]):  # ASCII digits only
                    buf.append(int(value[i + 1 : i + 4]) & 0xFF)
                    i += 4
                    continue
                buf.extend(value[i + 1].encode("utf-8"))
                i += 2
                continue
            buf.extend(ch.encode("utf-8"))
            i += 1
        strings.append(bytes(buf))
    return b"".join(strings).decode("utf-8", errors="replace")


def _host(value: str) -> str:
    return value.strip().lower().rstrip(".")


def _valid_domain(name: str) -> bool:
    if not name or len(name) > 253 or not name.isascii():
        return False
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return False
    tld = labels[-1]
    return tld.isalpha() or tld.startswith("xn--")


# --- the emulator ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: TencentEmulator, service: str) -> None:
        self.emulator = emulator
        self.service = service
        super().__init__((emulator.host, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Without this, header and body go out as two segments and Nagle plus the client's
        # delayed ACK add ~40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        # A service counts a request against its rate limit when it arrives at its edge, not
        # after this process got round to it: a busy emulator must not invent throttling.
        self.server.emulator.arrival.at = self.server.emulator.clock()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        emulator, service = self.server.emulator, self.server.service
        action = self.headers.get("X-TC-Action") or ""
        fault = emulator.chaos.decide(
            Request(
                service,
                action,
                write=action in WRITE_ACTIONS,
                key=body_key(self.command, action, body),
                body=body,
                credential=self.headers.get("Authorization") or "",
            )
        )
        if fault is not None and fault.kind is not Kind.SLOW and fault.kind is not Kind.LOST_REPLY:
            self._fault(fault, service)
            return
        if fault is not None and fault.kind is Kind.SLOW:
            time.sleep(fault.delay)
        payload = emulator.handle(
            service,
            method=self.command,
            path=url.path or "/",
            query=url.query,
            headers=self.headers,
            body=body,
        )
        if fault is not None and fault.kind is Kind.LOST_REPLY:
            self._drop(fault)
            return
        self._reply(200, payload)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        # Exactly this value: the SDK's _check_error ignores errors under any other Content-Type.
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self, fault: WireFault) -> None:
        if fault.then is not None:
            fault.then()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _fault(self, fault: WireFault, service: str) -> None:
        def error(code: str, message: str) -> dict[str, Any]:
            return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}

        if fault.kind is Kind.DROP:
            self._drop(fault)
        elif fault.kind is Kind.THROTTLE:
            self._reply(200, error(RATE_LIMIT_CODES[service], "Your request frequency exceeds the limit."))
        elif fault.kind is Kind.SERVER:
            self._reply(503, {"message": "Service Unavailable"})
        elif fault.kind is Kind.DENY:
            credential = self.headers.get("Authorization") or ""
            self._reply(200, error("AuthFailure.SecretIdNotFound", f"The SecretId is not found ({credential})."))

    do_POST = _handle
    do_GET = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: test output should show failures, not one line per request."""


class TencentEmulator:
    """SES and DNSPod on 127.0.0.1, sharing DNS data with the other emulators through a ZoneStore.

    `accounts` maps SecretId to a SecretKey (an key of the account "default", the ZoneStore's
    default owner) or to a `Credentials` naming the account and an optional session token.
    `clock` (default: the store's clock) decides DNS visibility for SES verification and the
    rate-limit windows; `auth_clock` (default: wall time) is what signatures' timestamps are
    checked against, kept separate so a test can move `clock` freely without expiring signatures.
    `rate_limits` overrides requests/s per action name; a value of None disables that limit.
    """

    def __init__(
        self,
        store: ZoneStore,
        accounts: Mapping[str, str | Credentials],
        *,
        verify_delay: float = 0.0,
        rate_limits: Mapping[str, float | None] | None = None,
        clock: Clock | None = None,
        auth_clock: Clock = time.time,
        regions: Iterable[str] = DEFAULT_REGIONS,
        max_identities: int = MAX_IDENTITIES,
        txt_max_length: int = TXT_MAX_LENGTH,
        host: str = "127.0.0.1",
    ) -> None:
        self.store = store
        self.verifier = TC3Verifier(accounts, clock=auth_clock)
        self.verify_delay = verify_delay
        self.rate_limits: dict[str, float | None] = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.clock: Clock = clock or store.clock
        self.regions = frozenset(regions)
        self.max_identities = max_identities
        self.txt_max_length = txt_max_length
        self.host = host
        self.identities: dict[str, Identity] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        # Wire-level faults (dnsbridge.sandbox.faults): throttling, 5xx, drops, slow and lost replies.
        self.chaos = Chaos()
        self.throttled = 0
        self.arrival = threading.local()  # per request thread: when the request arrived
        self.tamper_attributes: AttributeTamper | None = None
        self._windows: dict[tuple[str, str, str], collections.deque[float]] = {}
        self._lock = threading.RLock()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        if self._servers:
            return self
        for service in (SES, DNSPOD):
            server = _Server(self, service)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"tencent-{service}", daemon=True
            )
            thread.start()
            self._servers[service] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _endpoint(self, service: str) -> str:
        if service not in self._servers:
            raise RuntimeError("TencentEmulator is not started")
        host, port = self._servers[service].server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ses_endpoint(self) -> str:
        return self._endpoint(SES)

    @property
    def dnspod_endpoint(self) -> str:
        return self._endpoint(DNSPOD)

    # test helpers ------------------------------------------------------------------------
    def count(self, service: str | None = None, action: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if (service is None or c.service == service) and (action is None or c.action == action)
            )

    def clear_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def inject(
        self, action: str, code: str, times: int = 1, *, message: str = "", service: str | None = None
    ) -> InjectedFault:
        fault = InjectedFault(action=action, code=code, times=times, message=message, service=service)
        with self._lock:
            self.faults.append(fault)
        return fault

    # dispatch ----------------------------------------------------------------------------
    def handle(
        self,
        service: str,
        *,
        method: str,
        path: str,
        query: str,
        headers: Any,
        body: bytes,
    ) -> dict[str, Any]:
        """One request → the `{"Response": ...}` document; never raises."""
        request_id = str(uuid.uuid4())
        try:
            result = self._dispatch(service, method, path, query, headers, body)
        except (ApiError, TC3Error) as exc:
            return {"Response": {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}}
        # An emulator bug must still reach the client the way the service's InternalError would.
        except Exception as exc:
            return {
                "Response": {
                    "Error": {"Code": "InternalError", "Message": f"emulator: {exc!r}"},
                    "RequestId": request_id,
                }
            }
        return {"Response": {**result, "RequestId": request_id}}

    def _dispatch(self, service: str, method: str, path: str, query: str, headers: Any, body: bytes) -> dict[str, Any]:
        auth = self.verifier.verify(method=method, path=path, query=query, headers=headers, body=body, service=service)
        params = self._params(method, query, body)
        action = headers.get("X-TC-Action") or ""
        with self._lock:
            self.calls.append(Call(service, action, params))
        if not action:
            raise ApiError("MissingParameter", "The request is missing a required parameter `Action`.")
        version = headers.get("X-TC-Version") or ""
        if not version:
            raise ApiError("MissingParameter", "The request is missing a required parameter `Version`.")
        # Documented common codes: NoSuchVersion for a version the product doesn't have,
        # InvalidAction for an action it doesn't have; the version is checked first.
        if version != VERSIONS[service]:
            raise ApiError("NoSuchVersion", f"The API version `{version}` does not exist.")
        handler = self._handlers(service).get(action)
        if handler is None:
            raise ApiError("InvalidAction", f"The action `{action}` does not exist.")
        if service == SES:
            region = headers.get("X-TC-Region") or ""
            if not region:
                raise ApiError("MissingParameter", "The request is missing a required parameter `Region`.")
            if region not in self.regions:
                raise ApiError("UnsupportedRegion", f"The region `{region}` is not supported by this API.")
        with self._lock:
            for fault in list(self.faults):
                error = fault(service, action, params)
                if isinstance(fault, InjectedFault) and fault.times <= 0:
                    self.faults.remove(fault)
                if error is not None:
                    raise error
        self._rate_limit(auth.account, service, action)
        with self._lock:
            return handler(auth.account, params)

    @staticmethod
    def _params(method: str, query: str, body: bytes) -> dict[str, Any]:
        if method == "GET":
            # The SDK flattens nested parameters for GET ("TagList.0.TagKey"); they stay flat here.
            return dict(parse_qsl(query, keep_blank_values=True))
        if not body:
            return {}
        try:
            params = json.loads(body)
        except ValueError:
            raise ApiError("InvalidParameter", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise ApiError("InvalidParameter", "The request body must be a JSON object.")
        return params

    def _rate_limit(self, account: str, service: str, action: str) -> None:
        """A sliding one-second window per (account, action), on the emulator's clock."""
        limit = self.rate_limits.get(action, DEFAULT_RATE)
        if limit is None:
            return
        now = getattr(self.arrival, "at", None) or self.clock()
        with self._lock:
            window = self._windows.setdefault((account, service, action), collections.deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= limit:
                self.throttled += 1  # rate-limit answers sent (benchmarks assert there are none)
                raise ApiError(RATE_LIMIT_CODES[service], "Your request frequency exceeds the limit.")
            bisect.insort(window, now)  # threads may get here out of arrival order

    def _handlers(self, service: str) -> dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]]:
        if service == SES:
            return {
                "CreateEmailIdentity": self._create_identity,
                "GetEmailIdentity": self._get_identity,
                "UpdateEmailIdentity": self._update_identity,
                "ListEmailIdentities": self._list_identities,
                "DeleteEmailIdentity": self._delete_identity,
            }
        return {
            "DescribeDomainList": self._describe_domain_list,
            "DescribeDomain": self._describe_domain,
            "DescribeRecordList": self._describe_record_list,
            "CreateRecord": self._create_record,
            "ModifyRecord": self._modify_record,
            "DeleteRecord": self._delete_record,
        }

    # SES ---------------------------------------------------------------------------------
    def _own_identity(self, account: str, params: dict[str, Any]) -> Identity:
        name = _str(params, "EmailIdentity", required=True).lower()
        identity = self.identities.get(name)
        # Unconfirmed: whether another account's domain reads as "not exist"; it can't be read,
        # so it is treated as such.
        if identity is None or identity.account != account:
            raise ApiError(
                "InvalidParameterValue.NotExistDomain", "This sender domain does not exist. Create it first."
            )
        return identity

    def _create_identity(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        raw = _str(params, "EmailIdentity", required=True)
        name = raw.lower()
        # Unconfirmed: how SES treats a trailing dot or a Unicode name. Both are rejected, so a
        # client has to normalise (IDNA, no trailing dot) before it calls.
        if not _valid_domain(name):
            raise ApiError("InvalidParameterValue.InvalidEmailIdentity", f"Invalid domain value `{raw}`.")
        option = _int(params, "DKIMOption", default=0)
        if option not in DKIM_SELECTORS:
            raise ApiError("InvalidParameterValue", "DKIMOption must be 0 (1024) or 1 (2048).")
        tags = params.get("TagList") or []
        if not isinstance(tags, list):
            raise ApiError("InvalidParameter", "TagList must be an array.")
        existing = self.identities.get(name)
        if existing is not None:
            if existing.account != account:
                raise ApiError(
                    "InvalidParameterValue.CreatedByOther",
                    "This sender domain has been created by another Tencent Cloud account.",
                )
            raise ApiError(
                "InvalidParameterValue.RepeatCreation", "This sender domain already exists. Do not create it again."
            )
        if sum(1 for i in self.identities.values() if i.account == account) >= self.max_identities:
            raise ApiError("OperationDenied.ExceedDomainLimit", "The number of sender domains exceeds the upper limit.")
        identity = Identity(domain=name, account=account, dkim_option=option, tags=list(tags))
        self.identities[name] = identity
        # The documented example answers a fresh identity unverified, with empty CurrentValues;
        # Create doesn't look at DNS.
        return self._identity_reply(identity, self._attributes(identity, check=False), tags=False)

    def _get_identity(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._own_identity(account, params)
        return self._identity_reply(identity, self._attributes(identity, check=True), tags=True)

    def _update_identity(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._own_identity(account, params)
        attributes = self._attributes(identity, check=True)
        status = {(a["Type"], a["SendDomain"]): a["Status"] for a in attributes}
        # Required for sending: SPF and DKIM. MX (receiving bounces) and DMARC (policy) are not
        # required. Unconfirmed: SES's real rule; this is the documented minimum for sending.
        if status[("TXT", identity.domain)] and status[("TXT", identity.dkim_name)]:
            identity.verified = True
        return self._identity_reply(identity, attributes, tags=False)

    def _list_identities(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        offset = _int(params, "Offset", default=0)
        limit = _int(params, "Limit", default=100)
        owned = sorted((i for i in self.identities.values() if i.account == account), key=lambda i: i.domain)
        page = owned[offset : offset + limit] if limit > 0 else owned[offset:]
        return {
            "EmailIdentities": [
                {
                    "IdentityName": i.domain,
                    "IdentityType": "DOMAIN",
                    "SendingEnabled": i.verified,
                    "CurrentReputationLevel": 0,
                    "DailyQuota": 0,
                    "SendIp": [],
                    "TagList": i.tags,
                    "DKIMOption": i.dkim_option,
                }
                for i in page
            ],
            "MaxReputationLevel": 0,
            "MaxDailyQuota": 0,
            "Total": len(owned),
        }

    def _delete_identity(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        identity = self._own_identity(account, params)
        del self.identities[identity.domain]
        return {}

    @staticmethod
    def _identity_reply(identity: Identity, attributes: list[dict[str, Any]], *, tags: bool) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "IdentityType": "DOMAIN",
            "VerifiedForSendingStatus": identity.verified,
            "Attributes": attributes,
            "DKIMOption": identity.dkim_option,
        }
        if tags:
            reply["TagList"] = identity.tags
        return reply

    def _visible(self, name: str, rtype: str) -> list[StoredRecord]:
        """What a resolver would see now: records old enough, CNAMEs followed (at most 8 hops)."""
        now = self.clock()
        for _ in range(8):
            seen = [r for r in self.store.lookup(name) if now - r.updated_at >= self.verify_delay]
            wanted = [r for r in seen if r.type == rtype]
            cname = next((r for r in seen if r.type == "CNAME"), None)
            if wanted or cname is None or rtype == "CNAME":
                return wanted
            name = cname.value
        return []

    def _attributes(self, identity: Identity, *, check: bool) -> list[dict[str, Any]]:
        """The four records SES asks for, with what DNS shows now.

        Rules (unconfirmed, the safe reading): SPF passes when exactly one TXT at the domain
        starts with "v=spf1" and has the term include:qcloudmail.com (RFC 7208 4.5: two SPF
        records are a permerror); DKIM when a TXT at the DKIM name equals the expected value after
        its character-strings are joined; DMARC when a TXT at _dmarc starts with "v=DMARC1"; MX
        when an MX at the domain points to mxbiz1.qq.com. CurrentValue is the record considered
        (the first one when several), "" when none.
        """
        d = identity.domain
        dmarc_name = f"_dmarc.{d}"

        def txts(name: str) -> list[str]:
            return [txt_from_presentation(r.value) for r in self._visible(name, "TXT")] if check else []

        spf = [t for t in txts(d) if re.match(r"(?i)^v=spf1(\s|$)", t)]
        spf_ok = len(spf) == 1 and any(term.lower().lstrip("+") == SES_SPF_INCLUDE for term in spf[0].split())
        dkim = txts(identity.dkim_name)
        dkim_match = next((t for t in dkim if t == identity.dkim_value), None)
        dmarc = [t for t in txts(dmarc_name) if t.startswith("v=DMARC1")] or txts(dmarc_name)
        mx_hosts = [_host(r.value) for r in self._visible(d, "MX")] if check else []

        def attr(rtype: str, name: str, expected: str, current: str, ok: bool) -> dict[str, Any]:
            return {"Type": rtype, "SendDomain": name, "ExpectedValue": expected, "CurrentValue": current, "Status": ok}

        # Deliberately not the console's order (MX, SPF, DKIM, DMARC): clients must match by
        # Type and SendDomain (DESIGN.md, "Record policy").
        dmarc_ok = bool(dmarc) and dmarc[0].startswith("v=DMARC1")
        mx_current = SES_MX_HOST if SES_MX_HOST in mx_hosts else (mx_hosts[0] if mx_hosts else "")
        dkim_current = dkim_match or (dkim[0] if dkim else "")
        attributes = [
            attr("TXT", dmarc_name, SES_DMARC_VALUE, dmarc[0] if dmarc else "", dmarc_ok),
            attr("TXT", identity.dkim_name, identity.dkim_value, dkim_current, dkim_match is not None),
            attr("MX", d, SES_MX_HOST, mx_current, SES_MX_HOST in mx_hosts),
            attr("TXT", d, SES_SPF_VALUE, spf[0] if spf else "", spf_ok),
        ]
        if self.tamper_attributes is not None:  # tests of answers a client must refuse to act on
            attributes = self.tamper_attributes(identity, attributes)
        return attributes

    # DNSPod ------------------------------------------------------------------------------
    def _zones(self, account: str) -> list[StoredZone]:
        return sorted(self.store.zones(provider=DNSPOD_PROVIDER, account=account), key=lambda z: z.name)

    def _zone(self, account: str, params: dict[str, Any]) -> StoredZone:
        zones = self._zones(account)
        if params.get("DomainId") not in (None, "", 0):
            # models.py: "DomainId 优先级比参数 Domain 高" (DomainId wins over Domain).
            domain_id = _int(params, "DomainId")
            for zone in zones:
                if _domain_id(zone) == domain_id:
                    return zone
            raise ApiError("InvalidParameterValue.DomainNotExists", "The domain does not exist.")
        name = _str(params, "Domain", required=True).lower().rstrip(".")
        for zone in zones:
            if zone.name == name:
                return zone
        if any(name.endswith("." + zone.name) for zone in zones):
            raise ApiError("InvalidParameter.DomainInvalid", "Enter the apex domain, e.g. dnspod.cn.")
        raise ApiError("InvalidParameterValue.DomainNotExists", "The domain does not exist.")

    def _domain_item(self, zone: StoredZone) -> dict[str, Any]:
        records = self.store.records(zone.name)
        created = _timestamp(min((r.updated_at for r in records), default=self.clock()))
        updated = _timestamp(max((r.updated_at for r in records), default=self.clock()))
        try:
            unicode_name = zone.name.encode("ascii").decode("idna")
        except UnicodeError:
            unicode_name = zone.name
        return {
            "DomainId": _domain_id(zone),
            "Name": unicode_name,
            "Status": "ENABLE",
            "TTL": TTL_DEFAULT,
            "CNAMESpeedup": "DISABLE",
            "DNSStatus": "",
            "Grade": "DP_FREE",
            "GroupId": 1,
            "SearchEnginePush": "NO",
            "Remark": "",
            "Punycode": zone.name,
            "EffectiveDNS": _nameservers(zone),
            "GradeLevel": 0,
            "GradeTitle": "免费版",
            "IsVip": "NO",
            "VipStartAt": "0000-00-00 00:00:00",
            "VipEndAt": "0000-00-00 00:00:00",
            "VipAutoRenew": "DEFAULT",
            "RecordCount": len(records),
            "CreatedOn": created,
            "UpdatedOn": updated,
            "Owner": f"{zone.account}@qcloud.com",
            "TagList": [],
        }

    def _describe_domain_list(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        offset = _int(params, "Offset", default=0)
        limit = _int(params, "Limit", default=3000)
        if limit < 1 or limit > 3000:
            raise ApiError("InvalidParameterValue.LimitInvalid", "Limit must be between 1 and 3000.")
        kind = _str(params, "Type", default="ALL").upper()
        keyword = _str(params, "Keyword", default="").lower()
        zones = self._zones(account)
        # Every emulated zone is the account's own, enabled, free-plan domain.
        matching = [z for z in zones if kind in ("ALL", "MINE", "FREE") and keyword in z.name]
        page = matching[offset : offset + limit]
        if not page:
            # errorcodes.py: ResourceNotFound.NoDataOfDomain "域名列表为空". Unconfirmed that an
            # empty list answers it, but it's the same pattern as DescribeRecordList's.
            raise ApiError("ResourceNotFound.NoDataOfDomain", "The domain list is empty.")
        total = len(zones)
        return {
            "DomainCountInfo": {
                "DomainTotal": len(matching),
                "AllTotal": total,
                "MineTotal": total,
                "ShareTotal": 0,
                "VipTotal": 0,
                "PauseTotal": 0,
                "ErrorTotal": 0,
                "LockTotal": 0,
                "SpamTotal": 0,
                "VipExpire": 0,
                "ShareOutTotal": 0,
                "GroupTotal": len(matching),
            },
            "DomainList": [self._domain_item(z) for z in page],
        }

    def _describe_domain(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(account, params)
        item = self._domain_item(zone)
        return {
            "DomainInfo": {
                "DomainId": item["DomainId"],
                "Status": "ENABLE",
                "Grade": "DP_FREE",
                "GroupId": 1,
                "IsMark": "no",
                "TTL": TTL_DEFAULT,
                "CnameSpeedup": "DISABLE",
                "Remark": "",
                "Punycode": zone.name,
                "DnsStatus": "",
                "DnspodNsList": _nameservers(zone),
                "Domain": item["Name"],
                "GradeLevel": 0,
                "UserId": 0,
                "IsVip": "NO",
                "Owner": item["Owner"],
                "GradeTitle": "免费版",
                "CreatedOn": item["CreatedOn"],
                "UpdatedOn": item["UpdatedOn"],
                "Uin": zone.account,
                "ActualNsList": _nameservers(zone),
                "RecordCount": item["RecordCount"],
                "OwnerNick": zone.account,
                "IsSubDomain": False,
                "TagList": [],
            }
        }

    def _describe_record_list(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(account, params)
        # models.py documents both Subdomain and the newer SubDomain; SubDomain wins when both.
        sub = params.get("SubDomain") or params.get("Subdomain") or ""
        rtype = _str(params, "RecordType", default="").upper()
        line_id = _str(params, "RecordLineId", default="")
        line = _str(params, "RecordLine", default="")
        keyword = _str(params, "Keyword", default="").lower()
        offset = _int(params, "Offset", default=0)
        limit = _int(params, "Limit", default=100)
        if limit < 1 or limit > 3000:
            raise ApiError("InvalidParameterValue.LimitInvalid", "Limit must be between 1 and 3000.")
        name = _absolute(str(sub), zone) if sub else None
        records = [
            r
            for r in self.store.records(zone.name, name)
            if (not rtype or r.type == rtype)
            and (not line_id or line_id == DEFAULT_LINE_ID)
            and (not line or line == r.line)
            and (not keyword or keyword in _relative(r.name, zone).lower() or keyword in r.value.lower())
        ]
        page = records[offset : offset + limit]
        if not page and _str(params, "ErrorOnEmpty", default="yes").lower() != "no":
            # API-FACTS: "No match: error ResourceNotFound.NoDataOfRecord".
            raise ApiError("ResourceNotFound.NoDataOfRecord", "The record list is empty.")
        return {
            "RecordCountInfo": {"SubdomainCount": len(records), "ListCount": len(page), "TotalCount": len(records)},
            "RecordList": [self._record_item(r, zone) for r in page],
        }

    @staticmethod
    def _record_item(record: StoredRecord, zone: StoredZone) -> dict[str, Any]:
        return {
            "RecordId": record.id,
            "Value": _to_dnspod_value(record),
            "Status": "ENABLE",
            "UpdatedOn": _timestamp(record.updated_at),
            "Name": _relative(record.name, zone),
            "Line": record.line,
            "LineId": DEFAULT_LINE_ID,
            "Type": record.type,
            "Weight": None,
            "MonitorStatus": "",
            "Remark": "",
            "TTL": record.ttl,
            "MX": record.priority or 0,
            "DefaultNS": False,
        }

    def _record_from_params(self, zone: StoredZone, params: dict[str, Any]) -> StoredRecord:
        sub = _str(params, "SubDomain", default="@") or "@"
        name = _absolute(sub, zone)
        rtype = _str(params, "RecordType", required=True).upper()
        if rtype not in RECORD_TYPES:
            raise ApiError("InvalidParameter.RecordTypeInvalid", f"Record type `{rtype}` is not supported.")
        line_id = _str(params, "RecordLineId", default="")
        line = _str(params, "RecordLine", default="")
        if not line_id and not line:
            raise ApiError("MissingParameter", "The request is missing a required parameter `RecordLine`.")
        # models.py: "RecordLineId 优先级高于 RecordLine". Only the default line exists here.
        if (line_id and line_id != DEFAULT_LINE_ID) or (not line_id and line != DEFAULT_LINE):
            raise ApiError("InvalidParameter.RecordLineInvalid", "The record line is invalid.")
        value = _str(params, "Value", required=True)
        ttl = _int(params, "TTL", default=TTL_DEFAULT)
        if not TTL_MIN <= ttl <= TTL_MAX:
            raise ApiError("LimitExceeded.RecordTtlLimit", f"TTL must be between {TTL_MIN} and {TTL_MAX}.")
        priority: int | None = None
        if rtype == "MX":
            if params.get("MX") is None:
                raise ApiError("InvalidParameter.MxInvalid", "MX priority is required for MX records.")
            priority = _int(params, "MX")
            if not MX_MIN <= priority <= MX_MAX:
                raise ApiError("InvalidParameter.MxInvalid", f"MX priority must be {MX_MIN}-{MX_MAX}.")
        stored_value = self._stored_value(rtype, value)
        return StoredRecord(
            id=0, name=name, type=rtype, value=stored_value, ttl=ttl, priority=priority, line=DEFAULT_LINE
        )

    def _stored_value(self, rtype: str, value: str) -> str:
        bad = ApiError("InvalidParameter.RecordValueInvalid", f"The record value `{value}` is invalid.")
        if rtype == "TXT":
            # DNSPod takes and returns the bare value (DESIGN.md); quotes are kept as data.
            if not value:
                raise bad
            if len(value) > self.txt_max_length:
                raise ApiError("InvalidParameter.RecordValueLengthInvalid", "The record value is too long.")
            return txt_to_presentation(value)
        if rtype in ("A", "AAAA"):
            try:
                address = ipaddress.ip_address(value.strip())
            except ValueError:
                raise bad from None
            if address.version != (4 if rtype == "A" else 6):
                raise bad
            return str(address)
        if rtype in ("CNAME", "MX", "NS"):
            # models.py writes these with a trailing dot ("mail.dnspod.com."); both forms are taken.
            host = _host(value)
            if not _valid_domain(host.replace("_", "a")):
                raise bad
            return host
        return value.strip()

    def _check_conflicts(self, zone: StoredZone, record: StoredRecord, exclude: int | None = None) -> None:
        others = [r for r in self.store.records(zone.name, record.name) if r.id != exclude]
        for other in others:
            if other.type == record.type and other.line == record.line and _same_value(other, record):
                raise ApiError("InvalidParameter.DomainRecordExist", "The record already exists.")
        # RFC 1034 3.6.2: a CNAME can't share its name with other data (nor with another CNAME).
        if any((record.type == "CNAME") != (o.type == "CNAME") or (record.type == o.type == "CNAME") for o in others):
            raise ApiError(CNAME_CONFLICT_CODE, "Conflicting records: a CNAME can't coexist with other records.")

    def _create_record(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(account, params)
        record = self._record_from_params(zone, params)
        self._check_conflicts(zone, record)
        stored = self.store.add(zone.name, record)
        return {"RecordId": stored.id}

    def _modify_record(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(account, params)
        record_id = _int(params, "RecordId", required=True)
        if record_id not in zone.records:
            raise ApiError("InvalidParameter.RecordIdInvalid", "The record ID is invalid.")
        # models.py: SubDomain defaults to "@" on ModifyRecord too, so a modify without it moves
        # the record to the apex, as the real API does.
        record = replace(self._record_from_params(zone, params), id=record_id)
        self._check_conflicts(zone, record, exclude=record_id)
        self.store.modify(zone.name, record)
        return {"RecordId": record_id}

    def _delete_record(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(account, params)
        record_id = _int(params, "RecordId", required=True)
        if record_id not in zone.records:
            raise ApiError("InvalidParameter.RecordIdInvalid", "The record ID is invalid.")
        self.store.delete(zone.name, record_id)
        return {}


# --- parameter and formatting helpers -------------------------------------------------------


def _str(params: Mapping[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    value = params.get(key)
    if value is None:
        if required:
            raise ApiError("MissingParameter", f"The request is missing a required parameter `{key}`.")
        return default
    if not isinstance(value, str):
        raise ApiError("InvalidParameter", f"The parameter `{key}` must be a string.")
    if required and not value:
        raise ApiError("MissingParameter", f"The request is missing a required parameter `{key}`.")
    return value


def _int(params: Mapping[str, Any], key: str, *, required: bool = False, default: int = 0) -> int:
    value = params.get(key)
    if value is None:
        if required:
            raise ApiError("MissingParameter", f"The request is missing a required parameter `{key}`.")
        return default
    if isinstance(value, bool):
        raise ApiError("InvalidParameter", f"The parameter `{key}` must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise ApiError("InvalidParameter", f"The parameter `{key}` must be an integer.")


def _domain_id(zone: StoredZone) -> int:
    if zone.id.isdigit():
        return int(zone.id)
    return int.from_bytes(hashlib.sha256(zone.id.encode()).digest()[:4], "big")


def _nameservers(zone: StoredZone) -> list[str]:
    # DNSPod lists nameservers without a trailing dot; a zone without any gets DNSPod's usual pair.
    return [ns.rstrip(".") for ns in zone.nameservers] or list(DNSPOD_DEFAULT_NS)


def _absolute(sub: str, zone: StoredZone) -> str:
    sub = sub.strip().lower().rstrip(".")
    if sub in ("@", ""):
        return zone.name
    if not all(_SUB_LABEL.match(label) for label in sub.split(".")):
        raise ApiError("InvalidParameter.SubdomainInvalid", f"The subdomain `{sub}` is invalid.")
    return f"{sub}.{zone.name}"


def _relative(name: str, zone: StoredZone) -> str:
    return "@" if name == zone.name else name[: -len(zone.name) - 1]


def _to_dnspod_value(record: StoredRecord) -> str:
    if record.type == "TXT":
        return txt_from_presentation(record.value)
    if record.type in ("CNAME", "MX", "NS"):
        # models.py examples: "CNAME : cname.dnspod.com.， MX : mail.dnspod.com." (trailing dot).
        return record.value.rstrip(".") + "."
    return record.value


def _same_value(a: StoredRecord, b: StoredRecord) -> bool:
    if a.type == "TXT":
        return txt_from_presentation(a.value) == txt_from_presentation(b.value)
    if a.type in ("CNAME", "MX", "NS"):
        return _host(a.value) == _host(b.value) and (a.priority or 0) == (b.priority or 0)
    return a.value == b.value


def _timestamp(ts: float) -> str:
    # DNSPod reports times as "YYYY-MM-DD HH:MM:SS" in Beijing time.
    return datetime.fromtimestamp(ts, _BEIJING).strftime("%Y-%m-%d %H:%M:%S")
