"""From SES's attributes to the records the zone should hold.

This is the first step of the one-way flow (attributes → desired records → plan → apply): it
validates what SES answered and classifies each record, so the planner can apply the record
policy of DESIGN.md by kind.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dnsbridge import names, spf
from dnsbridge.errors import InvalidDomain, UnexpectedAnswer
from dnsbridge.txt import unquote

SUPPORTED_TYPES = ("TXT", "MX", "CNAME", "A")
# SES's MX attribute carries no preference. Tencent's own mail hosts are documented with
# preference 5 for mxbiz1.qq.com (Tencent Exmail setup pages); unconfirmed for SES, so a value of
# the form "N host" is honoured when SES sends one.
DEFAULT_MX_PRIORITY = 5


class Kind(enum.Enum):
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    MX = "mx"
    TXT = "txt"  # a TXT SES wants that is none of the above: exact value, beside other values
    CNAME = "cname"
    A = "a"


@dataclass(frozen=True)
class Attribute:
    """One of SES's DNSAttributes, as SES sent it (names not yet normalised)."""

    type: str
    send_domain: str
    expected_value: str
    current_value: str = ""
    status: bool = False


@dataclass(frozen=True)
class Record:
    """One resource record value, in the form the core compares.

    `name` is normalised (names.normalise); `value` is logical: TXT unquoted and joined, MX,
    CNAME targets normalised. `ref` is the provider's handle on an existing record (a record
    id), opaque to the core.
    """

    name: str
    type: str
    value: str
    priority: int | None = None
    ttl: int | None = None
    ref: str | None = None

    def same_data(self, other: Record) -> bool:
        return (self.name, self.type, self.value, self.priority) == (
            other.name,
            other.type,
            other.value,
            other.priority,
        )

    def display_value(self) -> str:
        return f"{self.priority} {self.value}" if self.type == "MX" else self.value


@dataclass(frozen=True)
class DesiredRecord:
    kind: Kind
    record: Record


def kind_of(record: Record) -> Kind:
    if record.type == "TXT":
        first = record.name.split(".", 1)[0]
        if spf.is_spf(record.value):
            return Kind.SPF
        if "._domainkey." in f".{record.name}" or first == "_domainkey":
            return Kind.DKIM
        if first == "_dmarc":
            return Kind.DMARC
        return Kind.TXT
    return Kind(record.type.lower())


def desired(domain: str, attributes: Sequence[Attribute], ttl: int | None = None) -> list[DesiredRecord]:
    """One desired record per attribute, validated before anything is changed.

    Attributes are matched by Type and SendDomain, never by position (SES's order is not
    documented). Anything we would not knowingly write — an unknown type, an empty value, a name
    outside the domain — stops the run here, naming the offending value.
    """
    out: list[DesiredRecord] = []
    seen: set[tuple[str, str, str]] = set()
    for attr in attributes:
        record = _record_for(domain, attr, ttl)
        key = (record.name, record.type, record.value)
        if key in seen:
            continue
        seen.add(key)
        out.append(DesiredRecord(kind_of(record), record))
    kinds = [d.kind for d in out]
    for unique in (Kind.SPF, Kind.DMARC, Kind.CNAME):
        names_ = [d.record.name for d in out if d.kind is unique]
        if len(names_) != len(set(names_)):
            raise UnexpectedAnswer(f"SES asked for two different {unique.value.upper()} records at one name: {names_}")
    if not kinds:
        raise UnexpectedAnswer(f"SES returned no DNS attributes for {domain}")
    return out


def _record_for(domain: str, attr: Attribute, ttl: int | None) -> Record:
    rtype = attr.type.upper()
    if rtype not in SUPPORTED_TYPES:
        raise UnexpectedAnswer(f"SES asked for a record of unknown type {attr.type!r} at {attr.send_domain!r}")
    try:
        name = names.normalise(attr.send_domain)
    except InvalidDomain as exc:
        raise UnexpectedAnswer(f"SES sent an invalid record name {attr.send_domain!r}: {exc.message}") from None
    if not names.is_within(name, domain):
        raise UnexpectedAnswer(f"SES asked for a record at {attr.send_domain!r}, outside {domain}")
    value = attr.expected_value.strip()
    if not value:
        raise UnexpectedAnswer(f"SES sent an empty value for the {rtype} record at {name}")
    priority = None
    if rtype == "TXT":
        value = unquote(value)
        if not value.strip():
            raise UnexpectedAnswer(f"SES sent an empty value for the TXT record at {name}: {attr.expected_value!r}")
    elif rtype == "MX":
        parts = value.split()
        if len(parts) == 2 and parts[0].isdigit():
            priority, value = int(parts[0]), parts[1]
        else:
            priority = DEFAULT_MX_PRIORITY
        value = _host(value, rtype, name)
    elif rtype == "CNAME":
        value = _host(value, rtype, name)
    elif rtype == "A":
        try:
            value = str(ipaddress.IPv4Address(value))
        except ValueError:
            raise UnexpectedAnswer(f"SES sent {value!r} as the A record at {name}: not an IPv4 address") from None
    return Record(name=name, type=rtype, value=value, priority=priority, ttl=ttl)


def _host(value: str, rtype: str, name: str) -> str:
    try:
        return names.normalise(value)
    except InvalidDomain:
        raise UnexpectedAnswer(f"SES sent {value!r} as the {rtype} target at {name}: not a host name") from None


# Types whose value is a host name: stored with or without the trailing dot, in any case.
HOST_TYPES = ("MX", "CNAME", "NS")


def stored_value(rtype: str, content: str) -> str:
    """A value as a zone's API holds it (TXT in presentation form, quoted and escaped; a host
    perhaps with a trailing dot and capitals), in the form the core compares."""
    if rtype == "TXT":
        return unquote(content)
    if rtype in HOST_TYPES:
        return content.rstrip(".").lower()
    return content


def wanted_names(records: Iterable[DesiredRecord]) -> list[str]:
    """The names a provider must read, all types at each: SES's names and nothing else.

    All types, because the planner must see a CNAME that would conflict (RFC 1034 §3.6.2) and
    the MX hosts already at the domain.
    """
    return sorted({d.record.name for d in records})
