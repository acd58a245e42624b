"""One domain through the whole flow: identity → desired records → plan → apply → wait → verify.

Each step hands data to the next and never reaches back. Whatever happens, the caller gets a
DomainResult (never an exception) so that, with many domains, one failure doesn't stop the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from dnsbridge import progress, propagation, records, retry
from dnsbridge.errors import ApiError, DnsbridgeError, VerificationTimeout, ZoneChanged
from dnsbridge.plan import Action, Plan, diff
from dnsbridge.provider import Zone, ZoneAccess
from dnsbridge.records import Attribute
from dnsbridge.retry import Deadline
from dnsbridge.ses import DKIM_OPTIONS, Identity, Ses
from dnsbridge.verify import not_seen, wait_verified

log = logging.getLogger("dnsbridge")
DKIM_BITS = {option: bits for bits, option in DKIM_OPTIONS.items()}
# A provider whose writes are conditional refuses one made from a zone that changed since it
# was read (ZoneChanged); read and plan once more, and fail if it changes again.
PLAN_ATTEMPTS = 2

# What a fresh identity will ask for, known before SES is asked to create it (API-FACTS.md:
# the console's four records). Used only by `plan` on an unregistered domain, which must not
# register it; the DKIM record's name and key are chosen by SES at creation, so it can't be
# predicted and the plan says so.
PREDICTED = (
    ("MX", "", "mxbiz1.qq.com"),
    ("TXT", "", "v=spf1 include:qcloudmail.com ~all"),
    ("TXT", "_dmarc.", "v=DMARC1; p=none"),
)


@dataclass(frozen=True)
class Options:
    provider: str = "dnspod"
    zone: str | None = None
    region: str = "ap-singapore"
    dkim_bits: int = 2048
    timeout: float = 900.0
    wait: bool = True
    dry_run: bool = False
    replace_mx: bool = False
    propagation_check: bool = True
    ttl: int | None = None


@dataclass
class DomainResult:
    domain: str
    provider: str
    zone: str | None = None
    verified: bool = False
    identity: Identity | None = None
    plan: Plan | None = None
    notes: list[str] = field(default_factory=list)
    error: DnsbridgeError | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error else 0


def onboard(
    domain: str,
    ses: Ses,
    provider: ZoneAccess,
    options: Options,
    env: Mapping[str, str],
) -> DomainResult:
    started = time.monotonic()
    result = DomainResult(domain=domain, provider=provider.name)
    progress.observer().started(domain)
    try:
        deadline = Deadline(options.timeout)
        with retry.bounded_by(deadline):
            _run(result, ses, provider, options, env, deadline)
    except DnsbridgeError as exc:
        result.error = exc
        log.error("%s: %s", domain, exc)
    result.seconds = time.monotonic() - started
    progress.observer().finished(result)
    return result


def _run(
    result: DomainResult,
    ses: Ses,
    provider: ZoneAccess,
    options: Options,
    env: Mapping[str, str],
    deadline: Deadline,
) -> None:
    domain = result.domain
    # The zone first: a domain that no zone of these credentials holds is bad input, and must
    # fail before SES registers anything.
    zone = provider.find_zone(domain, options.zone)
    result.zone = zone.name
    identity = _identity(result, ses, options, deadline)
    result.identity = identity
    wanted = records.desired(domain, identity.attributes if identity else _predicted(domain), options.ttl)
    for attempt in range(1, PLAN_ATTEMPTS + 1):
        current = provider.read(zone, records.wanted_names(wanted))
        plan = diff(domain, zone.name, wanted, current, replace_mx=options.replace_mx)
        _note_plan(result, plan)
        if options.dry_run:
            return
        try:
            _apply(result, provider, zone, plan)
            break
        except ZoneChanged as exc:
            if attempt == PLAN_ATTEMPTS:
                raise
            log.warning("%s: %s; reading it again", domain, exc)
    progress.observer().written(domain, plan)
    if identity and identity.verified and not plan.writes:
        result.verified = True
        log.info("%s: verified", domain)
        return
    if not options.wait:
        return
    provider.wait_synced(zone, deadline)
    if options.propagation_check:
        _wait_propagated(result, plan, zone.nameservers, env, deadline)
    log.info("%s: asking SES to verify (deadline in %.0fs)", domain, deadline.remaining())
    progress.observer().waiting(domain, "ses", deadline)
    final = wait_verified(ses, domain, deadline, on_change=lambda i: _log_ses_view(domain, i))
    result.identity = final
    result.verified = final.verified
    if not final.verified:
        missing = "; ".join(
            f"{a.type} {a.send_domain} (SES sees {a.current_value or 'nothing'!r})" for a in not_seen(final)
        )
        raise VerificationTimeout(
            f"SES did not verify {domain} within {options.timeout:g}s; "
            f"not yet seen: {missing or 'no attribute reported'}",
            hint="DNS can take from 5 minutes to 2 hours to reach SES; run again later, nothing is written twice",
        )
    log.info("%s: verified", domain)


def _apply(result: DomainResult, provider: ZoneAccess, zone: Zone, plan: Plan) -> None:
    if plan.writes:
        log.info("%s: writing %d record(s) to %s zone %s", result.domain, len(plan.writes), provider.name, zone.name)
        provider.apply(zone, plan)
    else:
        log.info("%s: every record is already in place in %s", result.domain, zone.name)


def _note_plan(result: DomainResult, plan: Plan) -> None:
    if result.plan is not None:  # planned again: the earlier plan's warnings no longer hold
        result.notes = [n for n in result.notes if n not in result.plan.warnings]
    result.plan = plan
    progress.observer().planned(result.domain, plan)
    for warning in plan.warnings:
        log.warning("%s: %s", result.domain, warning)
        result.notes.append(warning)


def _identity(result: DomainResult, ses: Ses, options: Options, deadline: Deadline) -> Identity | None:
    if not options.dry_run:
        identity = ses.ensure_identity(result.domain, options.dkim_bits, deadline)
        log.info("%s: SES identity %s", result.domain, "created" if identity.created else "exists")
        _note_dkim_mismatch(result, identity, options.dkim_bits)
        return identity
    try:
        identity = ses.get(result.domain, deadline)
        _note_dkim_mismatch(result, identity, options.dkim_bits)
        return identity
    except ApiError as exc:
        if exc.code != "InvalidParameterValue.NotExistDomain":
            raise
    result.notes.append(
        "SES has no identity for this domain yet: onboard will create it; its DKIM record's name and key "
        "are chosen by SES then, so they are not in this plan"
    )
    return None


def _note_dkim_mismatch(result: DomainResult, identity: Identity, bits: int) -> None:
    # DKIMOption is chosen when an identity is created; SES has no call to change it later.
    if identity.created or identity.dkim_option not in DKIM_BITS or DKIM_BITS[identity.dkim_option] == bits:
        return
    note = (
        f"the SES identity already exists with a {DKIM_BITS[identity.dkim_option]}-bit DKIM key; "
        f"--dkim-bits {bits} applies only to new identities"
    )
    result.notes.append(note)
    log.warning("%s: %s", result.domain, note)


def _predicted(domain: str) -> list[Attribute]:
    return [Attribute(rtype, prefix + domain, value) for rtype, prefix, value in PREDICTED]


def _wait_propagated(
    result: DomainResult, plan: Plan, nameservers: tuple[str, ...], env: Mapping[str, str], deadline: Deadline
) -> None:
    servers = propagation.servers_from_env(env)
    if servers is None:
        servers = propagation.zone_servers(plan.zone, nameservers)
    served = [c.record for c in plan.changes if c.action is not Action.SKIPPED]
    progress.observer().waiting(result.domain, "nameservers", deadline, servers)

    def on_progress(done: int, total: int) -> None:
        log.info("%s: %d/%d records answer at the zone's nameservers", result.domain, done, total)
        progress.observer().visible(result.domain, done, total)

    state = propagation.wait_visible(served, servers, deadline, on_progress=on_progress)
    if not state.checked or not state.visible:
        result.notes.append(state.note)
        log.warning("%s: %s", result.domain, state.note)


def _log_ses_view(domain: str, identity: Identity) -> None:
    progress.observer().ses_view(domain, identity)
    seen = sum(1 for a in identity.attributes if a.status)
    log.info(
        "%s: SES sees %d/%d records%s",
        domain,
        seen,
        len(identity.attributes),
        " — verified" if identity.verified else "",
    )
