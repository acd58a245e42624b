"""The record policy, as a pure function from (desired, current) to a Plan.

No I/O happens here, so every rule of DESIGN.md's policy table is tested as plain data, and
`plan` can print exactly what `onboard` will then do. Conflicts are raised before a Plan exists,
so no change is ever made on the way to discovering one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dnsbridge import spf
from dnsbridge.errors import ConflictError
from dnsbridge.records import DesiredRecord, Kind, Record


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    KEPT = "kept"
    SKIPPED = "skipped"


WRITES = (Action.CREATE, Action.UPDATE)


@dataclass(frozen=True)
class Change:
    """What happens to one of SES's records.

    `record` is the data the zone holds afterwards for this entry: for `kept`, the owner's
    record that stays; for `skipped`, SES's record that was *not* written (the reason says
    why). `existing` is the record an update replaces, or the one found in place.
    """

    action: Action
    kind: Kind
    record: Record
    reason: str
    existing: Record | None = None


@dataclass(frozen=True)
class Plan:
    domain: str
    zone: str
    changes: tuple[Change, ...]
    current: tuple[Record, ...]
    warnings: tuple[str, ...] = ()

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action in WRITES]


def diff(
    domain: str,
    zone: str,
    desired: Sequence[DesiredRecord],
    current: Sequence[Record],
    *,
    replace_mx: bool = False,
) -> Plan:
    """Decide, for each desired record, whether to create, update, keep, skip or leave it."""
    _check_cname_conflicts(desired, current)
    changes: list[Change] = []
    warnings: list[str] = []
    for want in desired:
        here = [r for r in current if r.name == want.record.name]
        change = _RULES[want.kind](want, here, replace_mx)
        changes.append(change)
        if want.kind is Kind.SPF and change.action in (*WRITES, Action.UNCHANGED):
            lookups = spf.lookup_count(change.record.value)
            if lookups > spf.MAX_DNS_LOOKUPS:
                warnings.append(
                    f"the SPF record at {want.record.name} needs {lookups} DNS lookups, more than the "
                    f"{spf.MAX_DNS_LOOKUPS} receivers allow (RFC 7208 §4.6.4): SPF checks will fail with permerror"
                )
    return Plan(domain, zone, tuple(changes), tuple(current), tuple(warnings))


def _check_cname_conflicts(desired: Sequence[DesiredRecord], current: Sequence[Record]) -> None:
    # RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner holds no other data.
    for want in desired:
        here = [r for r in current if r.name == want.record.name]
        if want.record.type == "CNAME":
            others = sorted({r.type for r in here if r.type != "CNAME"})
            if others:
                raise ConflictError(
                    f"SES wants a CNAME at {want.record.name}, but the name already holds {', '.join(others)} "
                    "records; a CNAME can't share its name",
                    hint="move those records or choose another sender domain",
                )
        elif any(r.type == "CNAME" for r in here):
            target = next(r.value for r in here if r.type == "CNAME")
            raise ConflictError(
                f"{want.record.name} is a CNAME to {target}, so it can't also hold the {want.record.type} "
                "record SES wants",
                hint="remove the CNAME, or onboard a name that isn't an alias",
            )


def _same_type(want: DesiredRecord, here: Sequence[Record]) -> list[Record]:
    return [r for r in here if r.type == want.record.type]


def _create(want: DesiredRecord, reason: str) -> Change:
    return Change(Action.CREATE, want.kind, want.record, reason)


def _update(want: DesiredRecord, existing: Record, reason: str) -> Change:
    new = replace(want.record, ref=existing.ref, ttl=want.record.ttl or existing.ttl)
    return Change(Action.UPDATE, want.kind, new, reason, existing=existing)


def _unchanged(want: DesiredRecord, existing: Record, reason: str = "already in place") -> Change:
    return Change(Action.UNCHANGED, want.kind, existing, reason, existing=existing)


def _spf(want: DesiredRecord, here: Sequence[Record], replace_mx: bool) -> Change:
    existing = [r for r in _same_type(want, here) if spf.is_spf(r.value)]
    if not existing:
        return _create(want, "no SPF record at this name")
    if len(existing) > 1:
        raise ConflictError(
            f"{want.record.name} already has {len(existing)} SPF records, which makes SPF fail for every "
            "sender (RFC 7208 §4.5)",
            hint="merge them into one by hand, then run again",
        )
    merged = spf.merge(existing[0].value, want.record.value)
    if not merged.changed:
        return _unchanged(want, existing[0], "the SPF record already has SES's include")
    added = " ".join(t for t in spf.terms(merged.value) if t not in spf.terms(existing[0].value))
    return _update(
        DesiredRecord(want.kind, replace(want.record, value=merged.value)),
        existing[0],
        f"merged {added} into the existing SPF record (other terms and the 'all' qualifier kept)",
    )


def _exact(want: DesiredRecord, here: Sequence[Record], replace_mx: bool) -> Change:
    """DKIM, CNAME and A names belong to SES: the value is exactly SES's."""
    same = _same_type(want, here)
    match = next((r for r in same if r.same_data(want.record)), None)
    if match:
        return _unchanged(want, match)
    if not same:
        return _create(want, "no record at this name")
    if len(same) > 1:
        raise ConflictError(
            f"{want.record.name} holds {len(same)} {want.record.type} records and none is SES's; dnsbridge "
            "replaces one value but never deletes records",
            hint="remove the stale values by hand, then run again",
        )
    return _update(want, same[0], f"the name belongs to SES; replacing {same[0].display_value()!r}")


def _txt(want: DesiredRecord, here: Sequence[Record], replace_mx: bool) -> Change:
    if any(r.same_data(want.record) for r in _same_type(want, here)):
        return _unchanged(want, next(r for r in here if r.same_data(want.record)))
    return _create(want, "added beside the other TXT values at this name, which are kept")


def _dmarc(want: DesiredRecord, here: Sequence[Record], replace_mx: bool) -> Change:
    policies = [r for r in _same_type(want, here) if r.value.strip().upper().startswith("V=DMARC1")]
    if not policies:
        return _create(want, "no DMARC policy at this name")
    if any(r.same_data(want.record) for r in policies):
        return _unchanged(want, next(r for r in policies if r.same_data(want.record)))
    return Change(Action.KEPT, want.kind, policies[0], "a DMARC policy exists; the owner's policy wins", policies[0])


def _mx(want: DesiredRecord, here: Sequence[Record], replace_mx: bool) -> Change:
    hosts = _same_type(want, here)
    match = next((r for r in hosts if r.value == want.record.value), None)
    if match:
        return _unchanged(want, match, "SES's mail host is already an MX here")
    if not hosts:
        return _create(want, "no MX at this name")
    listed = ", ".join(r.value for r in hosts)
    if not replace_mx:
        return Change(
            Action.SKIPPED,
            want.kind,
            want.record,
            f"the domain receives mail at {listed}; not replaced (use --replace-mx to replace it)",
        )
    if len(hosts) > 1:
        raise ConflictError(
            f"--replace-mx: {want.record.name} has {len(hosts)} MX records ({listed}); dnsbridge replaces one "
            "record and never deletes",
            hint="remove the extra MX records by hand, or run without --replace-mx",
        )
    return _update(want, hosts[0], f"--replace-mx: replacing the MX {hosts[0].value}")


_RULES = {
    Kind.SPF: _spf,
    Kind.DKIM: _exact,
    Kind.CNAME: _exact,
    Kind.A: _exact,
    Kind.TXT: _txt,
    Kind.DMARC: _dmarc,
    Kind.MX: _mx,
}
