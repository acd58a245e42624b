"""`dnsbridge status`: SES's view, the DNS view and the provider's view, side by side.

Read-only. When the three disagree, the difference says where a problem is: the provider has
the record but DNS doesn't serve it (propagation), DNS serves it but SES doesn't see it yet
(SES's own delay), or nobody has it (run onboard).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnsbridge import names, propagation, records
from dnsbridge.errors import DnsbridgeError
from dnsbridge.provider import ZoneAccess
from dnsbridge.ses import Ses


@dataclass
class RecordView:
    name: str
    type: str
    expected: str
    ses_status: bool
    ses_current: str
    provider: list[str]
    dns: list[str] | None  # None: no nameserver answered

    def difference(self) -> str:
        want = self.expected
        in_provider = any(want == v or want in v for v in self.provider)
        in_dns = self.dns is not None and any(want == v or want in v for v in self.dns)
        if self.ses_status:
            return "ok"
        if not in_provider:
            return "missing at the provider: run `dnsbridge onboard`"
        if self.dns is None:
            return "at the provider; nameservers not checked"
        if not in_dns:
            return "at the provider, not yet served by the nameservers"
        return "served by DNS; SES hasn't seen it yet"


@dataclass
class StatusReport:
    domain: str
    verified: bool = False
    zone: str | None = None
    rows: list[RecordView] = field(default_factory=list)
    error: DnsbridgeError | None = None

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "verified": self.verified,
            "zone": self.zone,
            "records": [{**vars(r), "difference": r.difference()} for r in self.rows],
            "error": {"code": self.error.code, "message": str(self.error)} if self.error else None,
        }

    def render(self) -> str:
        if self.error:
            return f"{self.domain}: error [{self.error.code}]: {self.error}"
        lines = [f"{self.domain}: {'verified' if self.verified else 'NOT verified'} (zone {self.zone})"]
        for r in self.rows:
            dns = "no answer" if r.dns is None else (", ".join(_short(v) for v in r.dns) or "nothing")
            lines += [
                f"  {r.type:<5} {r.name}",
                f"      SES:      {'seen' if r.ses_status else 'not seen'} ({_short(r.ses_current) or 'nothing'})",
                f"      DNS:      {dns}",
                f"      provider: {', '.join(_short(v) for v in r.provider) or 'nothing'}",
                f"      → {r.difference()}",
            ]
        return "\n".join(lines)


def _short(value: str, width: int = 50) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def status(domain: str, ses: Ses, provider: ZoneAccess, zone_name: str | None, env: Mapping[str, str]) -> StatusReport:
    report = StatusReport(domain)
    try:
        identity = ses.get(domain)
        report.verified = identity.verified
        wanted = records.desired(domain, identity.attributes)
        zone = provider.find_zone(domain, zone_name)
        report.zone = zone.name
        held = provider.read(zone, records.wanted_names(wanted))
        servers = propagation.servers_from_env(env)
        if servers is None:
            servers = propagation.zone_servers(zone.name, zone.nameservers)
        by_key = {(a.type.upper(), names.normalise(a.send_domain)): a for a in identity.attributes}
        for want in wanted:
            r = want.record
            attr = by_key[(r.type, r.name)]
            served = [propagation.answers(s, r.name, r.type) for s in servers]
            answered = [a for a in served if a is not None]
            report.rows.append(
                RecordView(
                    name=r.name,
                    type=r.type,
                    expected=r.value,
                    ses_status=attr.status,
                    ses_current=attr.current_value,
                    provider=[h.value for h in held if h.name == r.name and h.type == r.type],
                    dns=sorted({x.value for a in answered for x in a}) if answered else None,
                )
            )
    except DnsbridgeError as exc:
        report.error = exc
    return report
