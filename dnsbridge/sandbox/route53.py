"""Route 53 for the sandbox and the tests: moto's server, mirrored into the shared ZoneStore.

moto (ThreadedMotoServer) speaks Route 53's real wire protocol, so boto3 runs against it
unchanged. What moto stores, though, only moto sees; the local DNS server and the SES emulator
read the ZoneStore. `Route53Mirror` copies moto's public zones into the store every few tens of
milliseconds — which also makes new records take a moment to "propagate", as on the real
service. Records that didn't change keep their timestamps, so the SES emulator's verify delay
counts from when a value really appeared.

moto's server runs in this process, so its backend (moto.route53.models.route53_backends) is
read directly; that is moto's internal API (moto 5.x), used only here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
import uuid
from collections import deque
from types import TracebackType
from typing import Any, Self

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
_ZONE_PATH = re.compile(r"/hostedzone/[^/]+")
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
    def __init__(self, store: ZoneStore, *, interval: float = 0.05, rate_limit: int | None = None) -> None:
        self.store = store
        self.interval = interval
        self.server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
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
            if fault is None:
                return app(environ, start_response)
            if fault.kind is Kind.SLOW:
                time.sleep(fault.delay)
                return app(environ, start_response)
            if fault.kind is Kind.LOST_REPLY:
                # Let moto do the work (consume the whole answer), then drop the connection.
                for _ in app(environ, lambda *args, **kwargs: lambda data: None):
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
    request_id = str(uuid.uuid4())
    if fault.kind is Kind.THROTTLE:
        status, body = "400 Bad Request", THROTTLING_XML.format(request_id=request_id)
    elif fault.kind is Kind.DENY:
        credential = str(environ.get("HTTP_AUTHORIZATION") or "")
        status, body = "403 Forbidden", DENIED_XML.format(request_id=request_id, credential=credential)
    else:
        status, body = "503 Service Unavailable", UNAVAILABLE_XML.format(request_id=request_id)
    data = body.encode()
    start_response(
        status,
        [("Content-Type", "text/xml"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id)],
    )
    return [data]


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
