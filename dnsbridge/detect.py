"""`--provider auto`: which installed provider hosts a domain's zone.

First DNS: the NS records of the domain's closest enclosing zone name each provider's
nameservers in a recognisable way (Provider.nameserver_hints). DNS needs no credentials and
can't be wrong about who serves the zone today. When it can't tell, the providers whose
credentials are present are the candidates; exactly one is an answer, anything else exits 2.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import dns.exception
import dns.resolver

from dnsbridge import provider as registry
from dnsbridge.errors import MissingCredentials, UsageError
from dnsbridge.names import suffixes
from dnsbridge.provider import ProviderSettings

log = logging.getLogger(__name__)


def nameservers_of(domain: str, env: Mapping[str, str]) -> list[str]:
    resolver = dns.resolver.Resolver()
    servers = env.get("DNSBRIDGE_RESOLVER", "").strip()
    if servers:  # host:port of a recursive resolver, for tests and split-horizon setups
        host, _, port = servers.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = 5.0
    for name in suffixes(domain)[:-1]:
        try:
            answer = resolver.resolve(name, "NS")
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as exc:
            log.debug("NS lookup of %s failed: %s", name, exc)
            return []
        return [str(r.target).rstrip(".").lower() for r in answer]
    return []


def detect(domain: str, env: Mapping[str, str]) -> str:
    available = registry.available()
    hosts = nameservers_of(domain, env)
    by_dns = []
    for name in sorted(available):
        try:
            cls = registry.load(name)
        except Exception as exc:  # a broken plugin must not stop detection among the others
            log.debug("provider %s failed to load: %s", name, type(exc).__name__)
            continue
        if any(hint in host for host in hosts for hint in cls.nameserver_hints):
            by_dns.append(name)
    if len(by_dns) == 1:
        log.info("%s: nameservers %s → provider %s", domain, ", ".join(hosts), by_dns[0])
        return by_dns[0]
    with_credentials = []
    for name in sorted(available):
        try:
            registry.load(name)(ProviderSettings(env=env))
        except MissingCredentials:
            continue
        except Exception:  # noqa: S112 - a plugin that can't start is not a candidate
            continue
        with_credentials.append(name)
    if len(with_credentials) == 1 and not by_dns:
        log.info("%s: only %s has credentials here → provider %s", domain, with_credentials[0], with_credentials[0])
        return with_credentials[0]
    candidates = by_dns or with_credentials or sorted(available)
    raise UsageError(
        f"can't tell which provider hosts {domain} (nameservers: {', '.join(hosts) or 'none found'}; "
        f"candidates: {', '.join(candidates)})",
        hint="pass --provider NAME or set DNSBRIDGE_PROVIDER",
    )
