"""`--provider auto`: which installed provider hosts a domain's zone.

First DNS: the NS records of the domain's closest enclosing zone name each provider's
nameservers in a recognisable way (Route 53's `awsdns-NN`, `*.ns.cloudflare.com`, DNSPod's
`dnspod.net` / `dnsv*.com`). DNS needs no credentials and can't be wrong about who serves the
zone today. A plugin claims its zones with `Provider.claims(nameservers)` (by default: any
host containing one of its `nameserver_hints`).

When DNS can't tell (no answer, vanity nameservers, or several claimants), the providers that
have credentials here are asked whether they hold the zone; exactly one holder is an answer.
Anything else exits 2 with the candidates and how to choose: guessing could write records into
a zone that isn't served, which would look like success and never verify.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from dnsbridge import propagation
from dnsbridge import provider as registry
from dnsbridge.errors import DnsbridgeError, UsageError
from dnsbridge.names import suffixes
from dnsbridge.provider import Provider, ProviderSettings

log = logging.getLogger(__name__)
LIFETIME = 5.0


def nameservers_of(domain: str, env: Mapping[str, str]) -> list[str]:
    """The NS host names of the closest enclosing zone of `domain`, lower case; [] if unknown.

    DNSBRIDGE_RESOLVER=host[:port] sends the queries to that server, without recursion (RD
    clear): an authoritative server (a zone's own, or the sandbox's) answers for its zones, and
    a recursive resolver answers from its cache or with a referral, which is read as well.
    """
    raw = env.get("DNSBRIDGE_RESOLVER", "").strip()
    servers = propagation.servers_from_env({"DNSBRIDGE_NAMESERVERS": raw}) if raw else None
    for name in suffixes(domain)[:-1]:
        try:
            hosts = _ask(servers, name) if servers else _resolve(name)
        except dns.exception.DNSException as exc:
            log.debug("NS lookup of %s failed: %s", name, exc)
            return []
        if hosts is None:
            return []
        if hosts:
            return hosts
    return []


def _resolve(name: str) -> list[str]:
    try:
        answer = dns.resolver.resolve(name, "NS", lifetime=LIFETIME)
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
        return []
    return sorted(str(r.target).rstrip(".").lower() for r in answer)


def _ask(servers: Sequence[propagation.Server], name: str) -> list[str] | None:
    """The NS hosts of `name` from the first server that answers; None when none does."""
    query = dns.message.make_query(name, "NS")
    query.flags &= ~dns.flags.RD
    for address, port in servers:
        try:
            response, _ = dns.query.udp_with_fallback(query, address, timeout=LIFETIME, port=port)
        except (dns.exception.DNSException, OSError) as exc:
            log.debug("NS query for %s at %s:%d failed: %s", name, address, port, exc)
            continue
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            continue  # REFUSED: not this server's zone, ask about the parent
        owner = dns.name.from_text(name)
        # The answer (the zone's own server) or a referral's authority section (a parent's).
        for section in (response.answer, response.authority):
            for rrset in section:
                if rrset.rdtype == dns.rdatatype.NS and rrset.name == owner:
                    return sorted(str(r.target).rstrip(".").lower() for r in rrset)
        return []
    return None


def claims(cls: type[Provider], nameservers: Sequence[str]) -> bool:
    """Whether `cls` says a zone served by `nameservers` is its own."""
    hook = getattr(cls, "claims", None)
    if callable(hook):  # Provider.claims, where provider.py has it (and plugins' overrides)
        return bool(hook(nameservers))
    return any(hint in host for host in nameservers for hint in cls.nameserver_hints)


def detect(domain: str, env: Mapping[str, str], settings: ProviderSettings | None = None) -> str:
    """The name of the installed provider hosting `domain`'s zone; UsageError (exit 2) if unsure."""
    settings = settings or ProviderSettings(env=env)
    classes = _loadable(sorted(registry.available()))
    hosts = nameservers_of(domain, env)
    by_dns = [name for name, cls in classes.items() if claims(cls, hosts)]
    if len(by_dns) == 1:
        log.info("%s: nameservers %s → provider %s", domain, ", ".join(hosts), by_dns[0])
        return by_dns[0]
    candidates = by_dns or list(classes)
    with_credentials, holders = [], []
    for name in candidates:
        try:
            adapter = classes[name](settings)
        except DnsbridgeError:  # MissingCredentials, mostly: not a candidate here
            continue
        except Exception as exc:  # a plugin that can't start must not stop detection among the others
            log.debug("provider %s failed to start: %s", name, type(exc).__name__)
            continue
        with_credentials.append(name)
        try:
            adapter.find_zone(domain)
        except DnsbridgeError as exc:  # ZoneNotFound, or credentials this account refuses
            log.debug("provider %s does not hold %s: %s", name, domain, exc.code)
            continue
        holders.append(name)
    if len(holders) == 1:
        log.info("%s: only %s holds a zone for it → provider %s", domain, holders[0], holders[0])
        return holders[0]
    seen = f"nameservers {', '.join(hosts)}" if hosts else "no nameservers found"
    if holders:
        why = f"zones for it at {', '.join(holders)}"
    elif len(with_credentials) == 1:
        why = f"no zone for it at {with_credentials[0]}, the only provider with credentials here"
    elif with_credentials:
        why = f"no zone for it at {', '.join(with_credentials)}, the providers with credentials here"
    else:
        why = "no provider has credentials here"
    choices = holders or by_dns or list(classes)
    raise UsageError(
        f"can't tell which provider hosts {domain}: {seen}; {why}; candidates: {', '.join(choices)}",
        hint="pass --provider NAME or set DNSBRIDGE_PROVIDER",
    )


def _loadable(names: Sequence[str]) -> dict[str, type[Provider]]:
    out: dict[str, type[Provider]] = {}
    for name in names:
        try:
            out[name] = registry.load(name)
        except Exception as exc:  # a broken plugin must not stop detection among the others
            log.debug("provider %s failed to load: %s", name, type(exc).__name__)
    return out
