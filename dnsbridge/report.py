"""What a run tells people and scripts: a text summary, or one JSON document on stdout.

Both are built from DomainResults only. Every string that leaves the process passes `Redactor`,
a last line of defence: no code path should put a secret into a message, and this one makes sure
that even a mistaken one can't reach a terminal or a CI log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dnsbridge import names
from dnsbridge.errors import InvalidDomain, redact
from dnsbridge.onboard import DomainResult
from dnsbridge.plan import Action, Change

SECRET_VARIABLES = (
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
    "DNSPOD_SECRET_ID",
    "DNSPOD_SECRET_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
)
SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.UNCHANGED: "=",
    Action.KEPT: "=",
    Action.SKIPPED: "!",
}


class Redactor:
    def __init__(self, env: Mapping[str, str], extra: Iterable[str] = ()) -> None:
        self.secrets = sorted({env.get(v, "") for v in SECRET_VARIABLES} | set(extra), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return redact(text, self.secrets)


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, fmt: str) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


def exit_code(results: Sequence[DomainResult]) -> int:
    """The worst code wins: 2 (bad input) > 1 (failed) > 3 (not verified yet) > 0."""
    order = {0: 0, 3: 1, 1: 2, 2: 3}
    return max((r.exit_code for r in results), key=lambda c: order.get(c, 2), default=0)


def _ses_status(result: DomainResult, change: Change) -> bool | None:
    if result.identity is None:
        return None
    for attr in result.identity.attributes:
        if attr.type.upper() == change.record.type and _same_name(attr.send_domain, change.record.name):
            return attr.status
    return None


def _same_name(raw: str, name: str) -> bool:
    # SES may send a name in U-labels (an IDN domain) where the plan holds A-labels.
    try:
        return names.normalise(raw) == name
    except InvalidDomain:  # a run that stopped on SES's unusable SendDomain still gets its report
        return False


def as_json(results: Sequence[DomainResult]) -> dict[str, Any]:
    domains = []
    for r in results:
        changes = r.plan.changes if r.plan else ()
        domains.append(
            {
                "domain": r.domain,
                "verified": r.verified,
                "provider": r.provider,
                "zone": r.zone,
                "records": [
                    {
                        "name": c.record.name,
                        "type": c.record.type,
                        "value": c.record.value,
                        "priority": c.record.priority,
                        "previous": c.existing.value if c.action is Action.UPDATE and c.existing else None,
                        "action": c.action.value,
                        "reason": c.reason,
                        "seen_by_ses": _ses_status(r, c),
                    }
                    for c in changes
                ],
                "notes": r.notes,
                "seconds": round(r.seconds, 3),
                "error": {"code": r.error.code, "message": str(r.error)} if r.error else None,
            }
        )
    return {"domains": domains}


def render_json(results: Sequence[DomainResult]) -> str:
    return json.dumps(as_json(results), indent=2, ensure_ascii=False)


def _short(value: str, width: int = 60) -> str:
    return value if len(value) <= width else value[: width - 12] + "…" + value[-11:]


def render_text(results: Sequence[DomainResult], dry_run: bool = False) -> str:
    lines: list[str] = []
    for r in results:
        where = f"{r.provider} zone {r.zone}" if r.zone else r.provider
        lines.append(f"{r.domain} ({where})")
        for c in r.plan.changes if r.plan else ():
            head = f"  {SYMBOL[c.action]} {c.action.value:<9} {c.record.type:<5} {c.record.name}"
            if c.action is Action.UPDATE and c.existing is not None:
                # A diff, one value per line: an SPF merge changes the middle of a long value,
                # which a one-line "old → new" would cut away.
                lines.append(head)
                lines.append(f"      - {_short(c.existing.display_value(), 100)}")
                lines.append(f"      + {_short(c.record.display_value(), 100)}")
            else:
                lines.append(f"{head}  {_short(c.record.display_value())}")
            lines.append(f"      {c.reason}")
        for note in r.notes:
            lines.append(f"  note: {note}")
        lines.append("  " + _outcome(r, dry_run))
        lines.append("")
    if len(results) > 1:
        lines += summary_table(results)
    return "\n".join(lines).rstrip("\n")


def summary_table(results: Sequence[DomainResult]) -> list[str]:
    """One row per domain, for runs over many: what changed, whether verified, how long."""
    rows = [("domain", "provider", "changed", "verified", "time", "outcome")]
    for r in results:
        changed = len(r.plan.writes) if r.plan else 0
        outcome = r.error.code if r.error else "ok"
        rows.append((r.domain, r.provider, str(changed), "yes" if r.verified else "no", f"{r.seconds:.1f}s", outcome))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    verified = sum(1 for r in results if r.verified)
    failed = sum(1 for r in results if r.error)
    return [*out, "", f"{len(results)} domains: {verified} verified, {failed} with errors"]


def _outcome(r: DomainResult, dry_run: bool) -> str:
    if r.error:
        return f"error [{r.error.code}]: {r.error}"
    if r.verified:
        return f"verified ({r.seconds:.1f}s)"
    if dry_run:
        n = len(r.plan.writes) if r.plan else 0
        return f"dry run: {n} change(s) would be made; nothing was changed"
    return "records written; not waiting for verification (--no-wait)"
