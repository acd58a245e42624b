"""Domain names as dnsbridge compares them: IDNA A-labels, lower case, no trailing dot.

Every name that enters the core (from the command line, from SES, from a provider) goes through
`normalise`, so two spellings of one name can never become two records.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from dnsbridge.errors import InvalidDomain

MAX_NAME_OCTETS = 253  # RFC 1035 §2.3.4: 255 on the wire, 253 in text without the trailing dot
MAX_LABEL_OCTETS = 63
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LDH = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")  # underscores: _dmarc, _domainkey


def normalise(name: str) -> str:
    """The canonical text of a DNS owner name; raises InvalidDomain when it isn't one."""
    # IDNA (RFC 3490 §3.1, UTS #46) treats the ideographic and full-width full stops as dots;
    # a name typed with a Chinese IME often holds them.
    text = name.strip().translate(_DOTS)
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidDomain(f"empty domain name {name!r}")
    labels = text.split(".")
    out = []
    for label in labels:
        if not label:
            raise InvalidDomain(f"{name!r} has an empty label")
        out.append(_a_label(label, name))
    result = ".".join(out)
    if len(result) > MAX_NAME_OCTETS:
        raise InvalidDomain(f"{name!r} is {len(result)} octets long; a domain name has at most {MAX_NAME_OCTETS}")
    return result


def _a_label(label: str, whole: str) -> str:
    if label.isascii():
        ascii_label = label.lower()
    else:
        try:
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidDomain(f"{whole!r}: label {label!r} is not a valid internationalised name ({exc})") from None
    if len(ascii_label) > MAX_LABEL_OCTETS:
        raise InvalidDomain(
            f"{whole!r}: label {label[:20]!r}… is {len(ascii_label)} octets; a label has at most {MAX_LABEL_OCTETS}"
        )
    if not _LDH.match(ascii_label):
        raise InvalidDomain(f"{whole!r}: label {label!r} may hold only letters, digits and hyphens")
    return ascii_label


def sender_domain(name: str) -> str:
    """A name SES can register: a hostname of at least two labels, not an address or wildcard."""
    if "*" in name:
        raise InvalidDomain(f"{name!r}: wildcards can't be sender domains")
    try:
        ipaddress.ip_address(name.strip().strip("[]"))
    except ValueError:
        pass
    else:
        raise InvalidDomain(f"{name!r} is an IP address, not a domain name")
    result = normalise(name)
    labels = result.split(".")
    if len(labels) < 2:
        raise InvalidDomain(f"{name!r} is not a registrable domain (it needs at least two labels)")
    if any("_" in label for label in labels):
        raise InvalidDomain(f"{name!r}: a sender domain is a hostname; its labels can't hold '_'")
    if labels[-1].isdigit():
        raise InvalidDomain(f"{name!r}: the top-level label can't be all digits")
    return result


def is_within(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or lies below it (label-wise, so `badexample.com` is not in `example.com`)."""
    return name == zone or name.endswith("." + zone)


def relative(name: str, zone: str) -> str:
    """The name relative to its zone, "@" at the apex (DNSPod's SubDomain form)."""
    if name == zone:
        return "@"
    if not is_within(name, zone):
        raise ValueError(f"{name} is not in zone {zone}")
    return name[: -len(zone) - 1]


def suffixes(name: str) -> list[str]:
    """`a.b.c` → [`a.b.c`, `b.c`, `c`]: the candidates, longest first, for the zone of a name."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]
