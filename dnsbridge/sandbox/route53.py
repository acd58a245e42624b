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

import logging
import re
import threading
from types import TracebackType
from typing import Any, Self

from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

log = logging.getLogger(__name__)
MOTO_ACCOUNT = "123456789012"  # moto's default account id
_OCTAL = re.compile(r"\\([0-7]{3})")  # Route 53 shows '*' and other octets in names as \ooo


def _name(raw: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), raw).rstrip(".").lower()


class Route53Mirror:
    def __init__(self, store: ZoneStore, *, interval: float = 0.05) -> None:
        self.store = store
        self.interval = interval
        self.server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request

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
            with self._lock:
                self.requests.append((str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO"))))
            return app(environ, start_response)

        self.server = make_server("127.0.0.1", 0, logged, threaded=True)
        threading.Thread(target=self.server.serve_forever, name="moto-route53", daemon=True).start()
        self._thread = threading.Thread(target=self._run, name="route53-mirror", daemon=True)
        self._thread.start()
        return self

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
        out.append(((_name(rrset.name), rtype, value, priority), ttl))
    return out
