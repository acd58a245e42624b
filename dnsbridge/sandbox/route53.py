"""Route 53 for the sandbox and the tests: moto's server, mirrored into the shared ZoneStore.

moto (ThreadedMotoServer) speaks Route 53's real wire protocol, so boto3 runs against it
unchanged. What moto stores, though, only moto sees; the local DNS server and the SES emulator
read the ZoneStore. `Route53Mirror` copies moto's public zones into the store as soon as a
change request has been answered (moto calls every change INSYNC at once, so the nameservers
serve it by then), and every half second for changes made behind the API's back. Records that
didn't change keep their timestamps, so the SES emulator's verify delay counts from when a value
really appeared. (It used to copy every 50 ms: with a few thousand record sets that alone kept a
core busy.)

moto's server runs in this process, so its backend (moto.route53.models.route53_backends) is
read directly; that is moto's internal API (moto 5.x), used only here.

ChangeResourceRecordSets is checked here, before moto sees it, as Route 53 checks it (API
reference, ChangeResourceRecordSets; the error texts as Route 53 sends them, e.g. external-dns
issue #732, boto issue #2887, and the same fixes in the floci (PR #3565) and ministack (PR #1308)
emulators). The batch is validated change by change, in order, against a working copy of the
zone's record sets, and is all-or-nothing: a DELETE then a CREATE of one set in one batch is a
compare-and-swap; a second DELETE of the same set fails. Sets are keyed by name (compared without
case or trailing dot), type and SetIdentifier. A refused batch is answered HTTP 400
InvalidChangeBatch and moto never sees it:
- CREATE of a set that exists: "Tried to create resource record set [name='www.example.com.',
  type='TXT'] but it already exists";
- DELETE of a set that doesn't: "... but it was not found";
- DELETE whose TTL or values (a set: any order) differ from the set's: "... but the values
  provided do not match the current values" (an alias set: its target's zone and DNS name);
- a name outside the zone: "RRSet with DNS name x. is not permitted in zone example.com."
  (moto checks that only while applying, after the changes before it are applied);
with ", set-identifier='...'" inside the brackets for a routing-policy set. UPSERT has no
precondition.

moto 5.2 alone gets this wrong: its checks look at the zone's change journal
(FakeZone.rr_changes), not at the sets. A CREATE of a set that exists is refused only if the
very same change was made before, and then also when the set is gone but any set sorts after it
(so CREATE a, DELETE a + CREATE b, DELETE b + CREATE a is refused); otherwise it adds a duplicate
set. A DELETE passes if any CREATE or UPSERT ever sent the same TTL and values in the same order,
and removes every set of that name and type whatever its values. What we do about it: one lock
(`_changes_lock`) is held from the check through moto applying the batch, so two concurrent
batches never pass against the same state; a batch that passes is handed to moto with the zone's
journal replaced by `_NoJournal`, which passes both of moto's checks (ours have been made
against the sets themselves), so moto applies exactly the batch we checked: no false "already
exists", no order-sensitive DELETE refused as InvalidInput, and a journal that no longer grows
with every change. moto matches names literally (case, octal escapes) when it deletes or
replaces, so a DELETE or UPSERT of an existing set is rewritten to name the set exactly as moto
stores it. Left as moto does it: a DELETE with a SetIdentifier removes every set in the zone with
that identifier, whatever its name; an unknown Action fails only when moto reaches it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import secrets
import socket
import string
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape

from dnsbridge.sandbox.faults import Chaos, Fault, Kind, Request, body_key
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

log = logging.getLogger(__name__)
MOTO_ACCOUNT = "123456789012"  # moto's default account id
_OCTAL = re.compile(r"\\([0-7]{3})")  # Route 53 shows '*' and other octets in names as \ooo


# Route 53's own answers, as its REST-XML API sends them (botocore parses Code from <Error>).
THROTTLING_XML = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
UNAVAILABLE_XML = (
    "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service unavailable"
    "</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
)
DENIED_XML = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token "
    "included in the request is invalid ({credential}).</Message></Error><RequestId>{request_id}</RequestId>"
    "</ErrorResponse>"
)
INVALID_CHANGE_BATCH_XML = (
    '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error>'
    "<Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>{message}</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
_ZONE_PATH = re.compile(r"/hostedzone/[^/]+")
_RRSET_PATH = re.compile(r".*/hostedzone/([^/]+)/rrset/?")
_CHANGE_PATH = re.compile(r"/change/[^/]+")


def route53_action(method: str, path: str) -> tuple[str, bool]:
    """(the API action a request is, whether it writes), from its method and path."""
    tail = path.rstrip("/").split("/2013-04-01", 1)[-1]
    if tail.startswith("/hostedzone/") and tail.endswith("/rrset"):
        return ("ChangeResourceRecordSets", True) if method == "POST" else ("ListResourceRecordSets", False)
    if tail == "/hostedzonesbyname":
        return "ListHostedZonesByName", False
    if tail == "/hostedzone":
        return ("CreateHostedZone", True) if method == "POST" else ("ListHostedZones", False)
    if tail.startswith("/change/"):
        return "GetChange", False
    if _ZONE_PATH.fullmatch(tail):
        return "GetHostedZone", False
    return f"{method} {_CHANGE_PATH.sub('/change/{id}', _ZONE_PATH.sub('/hostedzone/{id}', tail))}", method != "GET"


def _name(raw: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), raw).rstrip(".").lower()


class Route53Mirror:
    def __init__(self, store: ZoneStore, *, interval: float = 0.5, rate_limit: int | None = None) -> None:
        self.store = store
        self.interval = interval
        self.server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Held from checking a ChangeResourceRecordSets batch until moto has applied it.
        self._changes_lock = threading.Lock()
        self.rate_limit = rate_limit
        self.throttled = 0  # Throttling answers sent for the rate limit (benchmarks assert none)
        self._window: deque[float] = deque()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request
        # Wire-level faults (dnsbridge.sandbox.faults), decided in the middleware in front of moto.
        self.chaos = Chaos()

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        # moto's own ThreadedMotoServer, rebuilt around a WSGI middleware that logs each
        # request: the tests count API calls by what reached the server, whichever process or
        # boto3 session sent them.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
        app = DomainDispatcherApplication(create_backend_app)

        def logged(environ: dict[str, Any], start_response: Any) -> Any:
            method, path = str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO"))
            with self._lock:
                self.requests.append((method, path))
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action, write = route53_action(method, path)
            if not self._admit():
                return _error_answer(Fault(Kind.THROTTLE), environ, start_response)
            query = str(environ.get("QUERY_STRING") or "")
            fault = self.chaos.decide(
                Request(
                    "route53",
                    action,
                    write=write,
                    key=body_key(method, f"{path}?{query}", body),
                    body=body,
                    credential=str(environ.get("HTTP_AUTHORIZATION") or ""),
                )
            )
            if fault is not None and fault.kind is Kind.SLOW:
                time.sleep(fault.delay)
                fault = None
            if fault is None:
                answer = self._to_moto(app, environ, start_response, action, path, body)
                if write:  # what GetChange then calls INSYNC is what the nameservers serve
                    self.sync()
                return answer
            if fault.kind is Kind.LOST_REPLY:
                # Let moto do the work (consume the whole answer), then drop the connection. The
                # work is Route 53's: a batch it would refuse changes nothing, and the refusal is lost.
                for _ in self._to_moto(app, environ, lambda *args, **kwargs: lambda data: None, action, path, body):
                    pass
                _drop(environ, fault)
            if fault.kind is Kind.DROP:
                _drop(environ, fault)
            return _error_answer(fault, environ, start_response)

        self.server = make_server("127.0.0.1", 0, logged, threaded=True)
        threading.Thread(target=self.server.serve_forever, name="moto-route53", daemon=True).start()
        self._thread = threading.Thread(target=self._run, name="route53-mirror", daemon=True)
        self._thread.start()
        return self

    def _to_moto(
        self, app: Any, environ: dict[str, Any], start_response: Any, action: str, path: str, body: bytes
    ) -> Any:
        """Hand a request to moto; a ChangeResourceRecordSets batch only if Route 53 would take it."""
        if action != "ChangeResourceRecordSets":
            return app(environ, start_response)
        with self._changes_lock:  # moto applies the batch (inside `app`) before another is checked
            refusal, sent = self._check_changes(path, body)
            if refusal is not None:
                return _xml_answer(start_response, "400 Bad Request", INVALID_CHANGE_BATCH_XML, message=escape(refusal))
            if sent != body:
                environ["wsgi.input"] = io.BytesIO(sent)
                environ["CONTENT_LENGTH"] = str(len(sent))
            return _own_change_id(app(environ, start_response))

    def _check_changes(self, path: str, body: bytes) -> tuple[str | None, bytes]:
        """(Route 53's refusal of the batch, or None; the body to hand to moto). A body that isn't
        a batch of a zone moto holds is left to moto to answer."""
        from moto.route53.models import route53_backends

        match = _RRSET_PATH.fullmatch(path)
        batch = None if match is None else _parse_batch(body)
        if match is None or batch is None:
            return None, body
        zone: Any = route53_backends[MOTO_ACCOUNT]["aws"].zones.get(match.group(1))
        if zone is None:
            return None, body
        refusal = _check_batch(zone, batch)
        if refusal is not None:
            return refusal, body
        if not isinstance(zone.rr_changes, _NoJournal):
            zone.rr_changes = _NoJournal()
        return None, batch.serialize() if batch.renamed else body

    def _admit(self) -> bool:
        """Route 53's documented limit, 5 requests/s per account, when `rate_limit` is set."""
        if self.rate_limit is None:
            return True
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                self.throttled += 1
                return False
            self._window.append(now)
            return True

    def count(self, method: str | None = None, path_suffix: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m, p in self.requests
                if (method is None or m == method) and (path_suffix is None or p.rstrip("/").endswith(path_suffix))
            )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.reset()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @staticmethod
    def reset() -> None:
        """Forget every zone moto holds (its backends are process-wide)."""
        from moto.route53.models import route53_backends

        route53_backends[MOTO_ACCOUNT]["aws"].reset()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception:  # keep mirroring: one odd record set must not stop the sandbox's DNS
                log.exception("route53 mirror: sync failed")

    def sync(self) -> None:
        """Make the store's route53 zones equal moto's public zones, now."""
        from moto.route53.models import route53_backends

        with self._lock:
            backend = route53_backends[MOTO_ACCOUNT]["aws"]
            for fake in list(backend.zones.values()):
                if fake.private_zone:
                    continue
                name = _name(fake.name)
                zone = self.store.zone(name)
                if zone is None:
                    servers = tuple(getattr(fake.delegation_set, "name_servers", ()) or ())
                    zone = self.store.add_zone(name, "route53", nameservers=servers, zone_id=fake.id)
                want = {key: ttl for rrset in list(fake.rrsets) for key, ttl in _records(rrset)}
                have = {(r.name, r.type, r.value, r.priority): r for r in zone.records.values()}
                for key, record in have.items():
                    if key not in want:
                        self.store.delete(zone.name, record.id)
                for key, ttl in want.items():
                    if key not in have:
                        rname, rtype, value, priority = key
                        self.store.add(zone.name, StoredRecord(0, rname, rtype, value, ttl=ttl, priority=priority))


def _drop(environ: dict[str, Any], fault: Fault) -> None:
    """Close the client's connection without a reply; werkzeug treats the error as a dropped client."""
    if fault.then is not None:
        fault.then()
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("fault injected: connection dropped")


def _error_answer(fault: Fault, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if fault.kind is Kind.THROTTLE:
        return _xml_answer(start_response, "400 Bad Request", THROTTLING_XML)
    if fault.kind is Kind.DENY:
        credential = str(environ.get("HTTP_AUTHORIZATION") or "")
        return _xml_answer(start_response, "403 Forbidden", DENIED_XML, credential=credential)
    return _xml_answer(start_response, "503 Service Unavailable", UNAVAILABLE_XML)


# moto 5 answers every ChangeResourceRecordSets with this one ChangeInfo Id (and every GetChange
# with INSYNC); Route 53 gives each change its own, which a client then polls once per change.
MOTO_CHANGE_ID = b"/change/C2682N5HXP0BZ4"
_CHANGE_ID_CHARS = string.ascii_uppercase + string.digits


def _own_change_id(answer: Any) -> list[bytes]:
    """The answer with a change id of its own (as long as moto's, so Content-Length holds)."""
    try:
        data = b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()
    if MOTO_CHANGE_ID in data:
        unique = "C" + "".join(secrets.choice(_CHANGE_ID_CHARS) for _ in range(len(MOTO_CHANGE_ID) - len("/change/C")))
        data = data.replace(MOTO_CHANGE_ID, b"/change/" + unique.encode())
    return [data]


def _xml_answer(start_response: Any, status: str, template: str, **fields: str) -> list[bytes]:
    """Route 53's error answer: `template` filled with `fields` and a fresh request id."""
    request_id = str(uuid.uuid4())
    data = template.format(request_id=request_id, **fields).encode()
    start_response(
        status,
        [("Content-Type", "text/xml"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id)],
    )
    return [data]


# ChangeResourceRecordSets, checked as Route 53 checks it (see the module docstring) -------------
@dataclass(frozen=True)
class _Set:
    """A record set's state, as far as a DELETE must match it."""

    name: str  # exactly as moto stores it (trailing dot), to name it to moto
    ttl: int | None
    values: frozenset[str]
    alias: tuple[str, str] | None  # an alias target's (HostedZoneId, DNS name)

    def matches(self, other: _Set) -> bool:
        if self.alias is not None or other.alias is not None:
            return self.alias == other.alias
        return self.ttl == other.ttl and self.values == other.values


@dataclass(frozen=True)
class _Change:
    action: str  # CREATE, DELETE or UPSERT
    key: tuple[str, str, str | None]  # (name as _name has it, type, SetIdentifier)
    state: _Set
    name_element: ET.Element

    def label(self) -> str:
        name, rtype, identifier = self.key
        extra = "" if identifier is None else f", set-identifier='{identifier}'"
        return f"[name='{name}.', type='{rtype}'{extra}]"


@dataclass
class _Batch:
    root: ET.Element
    namespace: str
    changes: list[_Change]
    renamed: bool = False  # a Name was rewritten to moto's stored form

    def serialize(self) -> bytes:
        namespace = self.namespace or None
        return bytes(ET.tostring(self.root, encoding="utf-8", xml_declaration=True, default_namespace=namespace))


def _parse_batch(body: bytes) -> _Batch | None:
    """The changes of a ChangeResourceRecordSetsRequest, or None if it isn't one we can read."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - a request to this process's own emulator, from a test or the sandbox
    except ET.ParseError:
        return None
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""

    def path(*tags: str) -> str:
        return "/".join(f"{{{namespace}}}{tag}" if namespace else tag for tag in tags)

    changes = []
    for change in root.iterfind(path("ChangeBatch", "Changes", "Change")):
        action = change.findtext(path("Action"))
        rrset = change.find(path("ResourceRecordSet"))
        if action not in ("CREATE", "DELETE", "UPSERT") or rrset is None:
            return None
        name_element, rtype = rrset.find(path("Name")), rrset.findtext(path("Type"))
        if name_element is None or not name_element.text or not rtype:
            return None
        ttl = rrset.findtext(path("TTL"))
        if ttl is not None and not ttl.strip().isdigit():
            return None
        target = rrset.find(path("AliasTarget"))
        alias = None
        if target is not None:
            alias = (target.findtext(path("HostedZoneId")) or "", _name(target.findtext(path("DNSName")) or ""))
        values = frozenset(v.text or "" for v in rrset.iterfind(path("ResourceRecords", "ResourceRecord", "Value")))
        name = name_element.text
        moto_name = name if name.endswith(".") else f"{name}."  # moto adds the trailing dot
        state = _Set(moto_name, None if ttl is None else int(ttl), values, alias)
        key = (_name(name), rtype, rrset.findtext(path("SetIdentifier")))
        changes.append(_Change(action, key, state, name_element))
    return _Batch(root, namespace, changes)


def _stored(rrset: Any) -> _Set:
    """A set as moto holds it (moto.route53.models.RecordSet). `records` holds value strings, but
    the SOA moto makes with a zone holds {"Value": ...}; an alias set has ttl 0 and no records."""
    values = frozenset(str(r["Value"]) if isinstance(r, dict) else str(r) for r in rrset.records or [])
    target = rrset.alias_target
    alias = None
    if target:
        alias = (str(target.get("HostedZoneId") or ""), _name(str(target.get("DNSName") or "")))
    ttl = None if rrset.ttl is None or str(rrset.ttl) == "" else int(rrset.ttl)
    return _Set(str(rrset.name), ttl, values, alias)


def _check_batch(zone: Any, batch: _Batch) -> str | None:
    """Route 53's refusal of the batch, or None. Changes are checked in order against a working
    copy of the zone's sets; a DELETE or UPSERT of an existing set is renamed to moto's name."""
    apex = _name(zone.name)
    sets = {(_name(r.name), str(r.type), r.set_identifier): _stored(r) for r in list(zone.rrsets)}
    for change in batch.changes:
        name = change.key[0]
        if name != apex and not name.endswith("." + apex):
            return f"RRSet with DNS name {name}. is not permitted in zone {apex}."
        current = sets.get(change.key)
        if change.action == "CREATE":
            if current is not None:
                return f"Tried to create resource record set {change.label()} but it already exists"
            sets[change.key] = change.state
            continue
        if change.action == "DELETE":
            if current is None:
                return f"Tried to delete resource record set {change.label()} but it was not found"
            if not change.state.matches(current):
                return (
                    f"Tried to delete resource record set {change.label()} "
                    "but the values provided do not match the current values"
                )
            del sets[change.key]
        else:
            sets[change.key] = replace(change.state, name=current.name) if current else change.state
        # moto deletes and replaces a set by its stored name, compared literally
        if current is not None and change.state.name != current.name:
            change.name_element.text = current.name
            batch.renamed = True
    return None


class _NoJournal:
    """Stands in for a moto zone's change journal (FakeZone.rr_changes, a list moto 5.2 appends
    every change to) once this middleware checks the zone's batches: moto's two checks against it
    (`change in journal` for a CREATE, `has_insert_or_update` for a DELETE) then always pass, and
    nothing is kept."""

    def append(self, change: Any) -> None:
        pass

    def __contains__(self, change: object) -> bool:
        return False

    def has_insert_or_update(self, rrset: Any) -> bool:
        return True


def _records(rrset: Any) -> list[tuple[tuple[str, str, str, int | None], int]]:
    rtype = str(rrset.type_ if hasattr(rrset, "type_") else rrset.type)
    if rtype in ("SOA", "NS") or getattr(rrset, "alias_target", None):
        return []
    out = []
    ttl = int(rrset.ttl or 300)
    for raw in rrset.records or []:
        value, priority = str(raw), None
        if rtype == "MX":
            pref, _, host = value.partition(" ")
            priority, value = int(pref), host.rstrip(".").lower()
        elif rtype == "CNAME":
            value = value.rstrip(".").lower()
        elif rtype in ("TXT", "SPF"):
            value = _decimal_escapes(value)
        out.append(((_name(rrset.name), rtype, value, priority), ttl))
    return out


_ESCAPE = re.compile(r'\\(\\|"|[0-7]{3})')


def _decimal_escapes(value: str) -> str:
    """Route 53 writes other octets in TXT as \\ooo (octal, its docs' "TXT record type"); a zone
    file and dnspython read \\DDD as decimal (RFC 1035 §5.1). Escapes are read left to right, so
    an escaped backslash before digits stays what it is."""
    return _ESCAPE.sub(lambda m: f"\\{int(m.group(1), 8):03d}" if m.group(1).isdigit() else m.group(0), value)
